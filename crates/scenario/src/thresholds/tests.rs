use std::time::Duration;

use crate::plan::{CompareOp, LatencyStat, Plan, Threshold, ThresholdMetric};
use crate::{Diagnostic, Overrides, Severity, load_str, parse_threshold_flags};

const HEAD: &str = "\
target: http://localhost:8080
load: { users: 10, duration: 5m }
scenarios:
  - name: buyer
    steps:
      - post: /checkout
        name: checkout
      - get: /products/42
        name: product page
  - name: browser
    steps:
      - get: /search?q=shoes
";

fn load(thresholds: &str) -> Result<(Plan, Vec<Diagnostic>), Vec<Diagnostic>> {
    let source = format!("{HEAD}thresholds:\n{thresholds}");
    match load_str(&source, "t.yaml", &Overrides::default()) {
        Ok(loaded) => Ok((loaded.plan, loaded.warnings)),
        Err(d) => Err(d.items),
    }
}

fn valid(thresholds: &str) -> Vec<Threshold> {
    let (plan, warnings) = load(thresholds).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(warnings.is_empty(), "{warnings:#?}");
    plan.thresholds
}

/// The errors, as (line, column, path, message, hint).
fn errors(thresholds: &str) -> Vec<(usize, usize, String, String, String)> {
    let items = load(thresholds).expect_err("should be invalid");
    (items.into_iter())
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let (line, col) = (d.line.unwrap_or(0), d.column.unwrap_or(0));
            (line, col, d.path, d.message, d.hint.unwrap_or_default())
        })
        .collect()
}

/// Line of the first threshold item in `load()` sources.
const FIRST: usize = 14;

#[test]
fn the_documented_contract_loads() {
    let t = valid(
        "  - metric: latency.p95          # global
    max: 300ms
  - metric: latency.p99
    request: checkout            # one request name (or scenario: buyer)
    max: 800ms
  - metric: error_rate
    max: 1%
  - metric: rps
    min: 200
  - metric: checks.pass_rate
    min: 99.5%
    abort: true
    delay: 30s
",
    );
    assert_eq!(t.len(), 5);
    assert_eq!(
        t[0].metric,
        ThresholdMetric::Latency(LatencyStat::Percentile(95.0))
    );
    assert_eq!((t[0].op, t[0].bound), (CompareOp::Le, 300.0));
    assert!(t[0].scope.is_all());
    assert_eq!(t[1].scope.request.as_deref(), Some("checkout"));
    assert_eq!(t[1].name(), "latency.p99 <= 800ms [request: checkout]");
    assert_eq!(
        (&t[2].metric, t[2].bound),
        (&ThresholdMetric::ErrorRate, 1.0)
    );
    assert_eq!((t[3].op, t[3].bound), (CompareOp::Ge, 200.0));
    assert_eq!(t[3].condition(), ">= 200");
    assert_eq!(t[4].metric, ThresholdMetric::ChecksPassRate);
    assert_eq!(t[4].bound, 99.5);
    assert!(t[4].abort);
    assert_eq!(t[4].delay, Duration::from_secs(30));
    assert_eq!(t[4].window, None);
}

#[test]
fn metrics_units_scopes_and_windows() {
    let t = valid(
        "  - { metric: latency.p999, max: 1.5s, scenario: buyer, window: 1m }
  - { metric: latency.p99.99, max: 2s }
  - { metric: latency.p75, max: 250ms, scenario: buyer, request: checkout }
  - { metric: latency.mean, max: 100ms }
  - { metric: latency.max, max: 1m }
  - { metric: latency.min, min: 1ms }
  - { metric: failure_rate, max: 0.5% }
  - { metric: rps, min: 12000/m }
  - { metric: requests, min: 1000 }
  - { metric: iterations, max: 50 }
",
    );
    let percentile = |i: usize| match &t[i].metric {
        ThresholdMetric::Latency(LatencyStat::Percentile(p)) => *p,
        other => panic!("{other:?}"),
    };
    assert_eq!(percentile(0), 99.9);
    assert_eq!(t[0].metric.name(), "latency.p999");
    assert_eq!(t[0].bound, 1500.0);
    assert_eq!(t[0].window, Some(Duration::from_secs(60)));
    assert_eq!(
        t[0].name(),
        "latency.p999 <= 1.5s [scenario: buyer, window: 1m]"
    );
    assert_eq!(percentile(1), 99.99);
    assert_eq!(t[1].metric.name(), "latency.p99.99");
    assert_eq!(t[2].scope.describe(), "scenario: buyer, request: checkout");
    assert_eq!(t[4].bound, 60_000.0);
    assert_eq!(t[5].bound, 1.0);
    assert_eq!(t[6].bound, 0.5);
    assert_eq!(t[7].bound, 200.0);
    assert_eq!(t[8].bound, 1000.0);
    assert_eq!(t[9].metric, ThresholdMetric::Iterations);
}

#[test]
fn scope_matches_rows_by_name_and_scenario() {
    let source = format!("{HEAD}thresholds: [{{ metric: rps, min: 1, request: checkout }}]\n");
    let plan = load_str(&source, "t.yaml", &Overrides::default())
        .unwrap()
        .plan;
    let t = &plan.thresholds[0];
    let matched: Vec<&str> = (plan.rows.iter())
        .filter(|r| t.scope.matches(r))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(matched, ["checkout"]);
}

#[test]
fn unknown_request_and_scenario_names_are_located_with_a_hint() {
    let e = errors(
        "  - { metric: latency.p95, max: 1s, request: chekout }
  - { metric: latency.p95, max: 1s, scenario: buyers }
  - { metric: latency.p95, max: 1s, scenario: browser, request: checkout }
  - { metric: latency.p95, max: 1s, request: nothing-like-it-at-all }
",
    );
    assert_eq!(e.len(), 4, "{e:#?}");
    assert_eq!(
        (e[0].0, e[0].1, e[0].2.as_str()),
        (FIRST, 46, "thresholds[0].request")
    );
    assert_eq!(e[0].3, "no request named `chekout`");
    assert_eq!(e[0].4, "did you mean `checkout`?");
    assert_eq!(e[1].2, "thresholds[1].scenario");
    assert_eq!(e[1].3, "no scenario named `buyers`");
    assert_eq!(e[1].4, "did you mean `buyer`?");
    assert_eq!(e[2].3, "no request named `checkout` in scenario `browser`");
    assert!(e[2].4.contains("`/search?q=shoes`"), "{}", e[2].4);
    assert!(e[3].4.contains("`checkout`, `product page`"), "{}", e[3].4);
}

#[test]
fn bad_metrics_bounds_and_fields_are_all_reported() {
    let e = errors(
        "  - { metric: latency.p95, max: 300 }
  - { metric: error_rate, max: 0.01 }
  - { metric: latancy.p95, max: 1s }
  - { metric: dropped_iterations, max: 0, request: checkout }
  - { metric: my_custom_counter, max: 3 }
  - { metric: latency.p101, max: 1s }
  - { metric: rps }
  - { metric: rps, min: 1, max: 2 }
  - { metric: iterations, min: 1, scenario: buyer }
  - { metric: requests, min: 1.5 }
  - { metric: error_rate, max: 150% }
  - { metric: rps, min: 1, window: 1.5s }
  - { metric: rps, min: 1, windw: 1m }
  - { max: 1s }
",
    );
    let messages: Vec<(usize, &str, &str)> = (e.iter())
        .map(|(l, _, _, m, h)| (l - FIRST, m.as_str(), h.as_str()))
        .collect();
    let expected = [
        (
            0,
            "duration `300` has no unit",
            "latency bounds are durations: add a unit, e.g. 300ms",
        ),
        (
            1,
            "`0.01` has no `%`",
            "rates are percentages: write e.g. `1%` or `99.5%`",
        ),
        (
            2,
            "unknown metric `latancy.p95`",
            "did you mean `latency.p95`?",
        ),
        (
            3,
            "`dropped_iterations` is counted per scenario, not per request",
            "",
        ),
        (4, "unknown metric `my_custom_counter`", ""),
        (
            5,
            "percentile `latency.p101` must be above 0 and at most 100",
            "",
        ),
        (6, "missing the bound: `max` or `min`", ""),
        (7, "a threshold has one bound, found `max` and `min`", ""),
        (8, "`iterations` is counted for the whole run only", ""),
        (9, "`1.5` is not a whole number", ""),
        (10, "`150%` is above 100%", ""),
        (11, "window 1s500ms is not a whole number of seconds", ""),
        (12, "unknown field `windw`", "did you mean `window`?"),
        (13, "missing field `metric`", ""),
    ];
    assert_eq!(messages.len(), expected.len(), "{messages:#?}");
    for (got, want) in messages.iter().zip(expected) {
        assert_eq!((got.0, got.1), (want.0, want.1), "{got:?}");
        if !want.2.is_empty() {
            assert_eq!(got.2, want.2);
        }
    }
    assert!(
        messages[3].2.contains("remove `request`"),
        "{}",
        messages[3].2
    );
    assert!(
        messages[4].2.contains("or a custom metric: `counter.NAME`"),
        "{}",
        messages[4].2
    );
}

#[test]
fn timing_that_cannot_work_is_warned_about() {
    let (_, warnings) = load(
        "  - { metric: rps, min: 1, window: 10m }
  - { metric: rps, min: 1, abort: true, delay: 5m }
  - { metric: rps, min: 1, delay: 5s }
",
    )
    .unwrap();
    let messages: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(messages[0].contains("window (10m) is longer than the run (5m)"));
    assert!(messages[1].contains("never aborts"));
    assert!(messages[2].contains("`delay` has no effect without `abort: true`"));
}

#[test]
fn thresholds_must_be_a_list_of_mappings() {
    let source = format!("{HEAD}thresholds: {{ metric: rps }}\n");
    let e = load_str(&source, "t.yaml", &Overrides::default()).unwrap_err();
    assert_eq!(e.items[0].message, "expected a list, found a mapping");
    let source = format!("{HEAD}thresholds: []\n");
    let plan = load_str(&source, "t.yaml", &Overrides::default())
        .unwrap()
        .plan;
    assert!(plan.thresholds.is_empty());
}

#[test]
fn names_are_not_checked_when_the_scenarios_are_broken() {
    let source = "target: http://localhost:8080\nload: { users: 1, duration: 1s }\n\
                  scenarios: [{ name: a, steps: [{ got: / }] }]\n\
                  thresholds: [{ metric: rps, min: 1, request: x }]\n";
    let e = load_str(source, "t.yaml", &Overrides::default()).unwrap_err();
    assert!(
        e.items.iter().all(|d| !d.path.starts_with("thresholds")),
        "{e}"
    );
}

fn plan() -> Plan {
    load_str(HEAD, "t.yaml", &Overrides::default())
        .unwrap()
        .plan
}

fn flags(values: &[&str]) -> Result<Vec<Threshold>, Vec<Diagnostic>> {
    let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    parse_threshold_flags(&plan(), &values)
}

#[test]
fn command_line_syntax() {
    let t = flags(&[
        "latency.p95<300ms",
        "error_rate<1%",
        "rps>=200",
        "latency.p99[request=checkout]<800ms",
        " checks.pass_rate [ scenario = buyer , abort, delay=2s , window=10s ] >= 99.5% ",
        "requests>10",
        "latency.max[request=/search?q=shoes,abort=false]<=2s",
    ])
    .unwrap();
    assert_eq!((t[0].op, t[0].bound), (CompareOp::Lt, 300.0));
    assert_eq!(t[0].name(), "latency.p95 < 300ms");
    assert_eq!((t[1].op, t[1].bound), (CompareOp::Lt, 1.0));
    assert_eq!((t[2].op, t[2].bound), (CompareOp::Ge, 200.0));
    assert_eq!(t[3].scope.request.as_deref(), Some("checkout"));
    assert_eq!(t[4].scope.scenario.as_deref(), Some("buyer"));
    assert!(t[4].abort);
    assert_eq!(t[4].delay, Duration::from_secs(2));
    assert_eq!(t[4].window, Some(Duration::from_secs(10)));
    assert_eq!(t[4].condition(), ">= 99.5%");
    assert_eq!(t[5].op, CompareOp::Gt);
    assert_eq!(t[6].scope.request.as_deref(), Some("/search?q=shoes"));
    assert!(!t[6].abort);
}

#[test]
fn command_line_errors_name_the_flag_and_the_problem() {
    let e = flags(&[
        "latency.p95 300ms",
        "latency.p95=<300ms",
        "latency.p95<",
        "latency.p99[request=chekout]<800ms",
        "latency.p99[request=checkout<800ms",
        "latency.p99[requets=checkout]<800ms",
        "latency.p99[window]<800ms",
        "error_rate<0.01",
        "rps>=200",
        "<3",
    ])
    .unwrap_err();
    let got: Vec<(&str, &str)> = (e.iter())
        .map(|d| (d.message.as_str(), d.hint.as_deref().unwrap_or("")))
        .collect();
    assert!(
        e.iter()
            .all(|d| d.path == "--threshold" && d.line.is_none())
    );
    let expected = [
        (
            "invalid --threshold `latency.p95 300ms`: missing a comparison",
            "",
        ),
        (
            "invalid --threshold `latency.p95=<300ms`: unexpected `=`",
            "",
        ),
        (
            "invalid --threshold `latency.p95<`: missing the bound after `<`",
            "",
        ),
        ("no request named `chekout`", "did you mean `checkout`?"),
        ("unclosed `[`", ""),
        ("unknown option `requets`", "did you mean `request`?"),
        ("option `window` needs a value", "e.g. `window=1m`"),
        ("`0.01` has no `%`", ""),
        ("missing the metric", ""),
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (g, w) in got.iter().zip(expected) {
        assert!(g.0.contains(w.0), "{g:?} should contain {w:?}");
        assert!(g.1.contains(w.1), "{g:?} should hint {w:?}");
    }
}
