//! Thresholds on `dropped_iterations` and custom metrics: the forms accepted, the names checked
//! against what the file declares, and every error with its location.

use std::path::Path;

use crate::plan::{
    CompareOp, CustomStat, LatencyStat, Plan, Threshold, ThresholdMetric, ThresholdScope,
};
use crate::{Diagnostic, Overrides, Severity, load_str_in, parse_threshold_flags};

/// Declares, in order: counters `carts` (adds 1), `refunds` (adds -1), `a.rate` (adds 2),
/// `script_adds` (a script); trend `cart_size`, the group trend `group.pay`, the script trend
/// `orders`; gauge `queue`; the feeder counter `data.accounts.exhausted` (`spare` has none).
const HEAD: &str = r#"target: http://localhost:8080
load: { users: 10, duration: 5m }
data:
  accounts: { file: data/users.csv, strategy: sequential, on_exhausted: fail }
  spare: { file: data/users.csv }
scenarios:
  - name: buyer
    steps:
      - post: /checkout/{{ accounts.username }}/{{ spare.username }}
        name: checkout
      - counter: carts
      - counter: { name: refunds, value: "-1" }
      - counter: { name: a.rate, value: 2 }
      - trend: { name: cart_size, value: 3 }
      - gauge: { name: queue, value: 4 }
      - group: pay
        steps:
          - get: /pay
      - script: |
          metrics.trend("orders", 1)
          metrics.counter("script_adds")
  - name: browser
    steps:
      - get: /search
"#;

/// Line of the first threshold item.
const FIRST: usize = 26;

fn load(head: &str, thresholds: &str) -> Result<(Plan, Vec<Diagnostic>), Vec<Diagnostic>> {
    let source = format!("{head}thresholds:\n{thresholds}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    match load_str_in(&source, "t.yaml", &dir, &Overrides::default()) {
        Ok(loaded) => Ok((loaded.plan, loaded.warnings)),
        Err(d) => Err(d.items),
    }
}

/// [`HEAD`] with an arrival-rate load (same lines), where iterations can be dropped.
fn open_head() -> String {
    let open = "load: { arrival_rate: 10/s, duration: 5m, max_users: 10 }";
    HEAD.replace("load: { users: 10, duration: 5m }", open)
}

fn valid(head: &str, thresholds: &str) -> Vec<Threshold> {
    let (plan, warnings) = load(head, thresholds).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(warnings.is_empty(), "{warnings:#?}");
    plan.thresholds
}

/// The errors, as (line, column, path, message, hint).
fn errors(head: &str, thresholds: &str) -> Vec<(usize, usize, String, String, String)> {
    let items = load(head, thresholds).expect_err("should be invalid");
    (items.into_iter())
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let (line, col) = (d.line.unwrap_or(0), d.column.unwrap_or(0));
            (line, col, d.path, d.message, d.hint.unwrap_or_default())
        })
        .collect()
}

fn custom(name: &str, stat: CustomStat) -> ThresholdMetric {
    ThresholdMetric::Custom {
        name: name.to_owned(),
        stat,
    }
}

#[test]
fn the_head_declares_what_its_comment_says() {
    let (plan, _) = load(HEAD, "  []\n").unwrap_or_else(|e| panic!("{e:#?}"));
    let line = HEAD.lines().count() + 1;
    assert_eq!(line, FIRST - 1, "`thresholds:` is on the line before FIRST");
    assert!(plan.thresholds.is_empty());
}

#[test]
fn dropped_iterations_and_custom_metrics_load() {
    let t = valid(
        &open_head(),
        "  - { metric: dropped_iterations, max: 0 }
  - { metric: dropped_iterations, scenario: buyer, max: 5, window: 10s, abort: true }
  - { metric: counter.carts, min: 1 }
  - { metric: counter.carts.rate, min: 0.5 }
  - { metric: counter.a.rate, max: 3 }
  - { metric: counter.data.accounts.exhausted, max: 0 }
  - { metric: counter.refunds, min: -10 }
  - { metric: trend.cart_size.p95, max: 50 }
  - { metric: trend.cart_size.p99.9, max: 50.5 }
  - { metric: trend.cart_size.count, min: 1 }
  - { metric: trend.group.pay.mean, max: 500 }
  - { metric: trend.orders.max, max: 1e3 }
  - { metric: gauge.queue, max: 10 }
  - { metric: gauge.queue.min, min: -5 }
  - { metric: counter.script_adds, max: 100, window: 1m }
",
    );
    assert_eq!(t.len(), 15);
    assert_eq!(t[0].metric, ThresholdMetric::DroppedIterations);
    assert_eq!((t[0].op, t[0].bound), (CompareOp::Le, 0.0));
    assert!(t[0].scope.is_all());
    assert_eq!(t[1].scope.scenario.as_deref(), Some("buyer"));
    assert_eq!(
        t[1].name(),
        "dropped_iterations <= 5 [scenario: buyer, window: 10s]"
    );
    assert_eq!(t[2].metric, custom("carts", CustomStat::CounterSum));
    assert_eq!(t[3].metric, custom("carts", CustomStat::CounterRate));
    assert_eq!(t[3].bound, 0.5);
    // No counter `a`, but a counter `a.rate`: its sum.
    assert_eq!(t[4].metric, custom("a.rate", CustomStat::CounterSum));
    assert_eq!(
        t[5].metric,
        custom("data.accounts.exhausted", CustomStat::CounterSum)
    );
    assert_eq!((t[6].op, t[6].bound), (CompareOp::Ge, -10.0));
    let p = |q| CustomStat::Trend(LatencyStat::Percentile(q));
    assert_eq!(t[7].metric, custom("cart_size", p(95.0)));
    assert_eq!(t[8].metric, custom("cart_size", p(99.9)));
    assert_eq!(t[8].name(), "trend.cart_size.p999 <= 50.5");
    assert_eq!(t[8].bound, 50.5);
    assert_eq!(t[9].metric, custom("cart_size", CustomStat::TrendCount));
    assert_eq!(
        t[10].metric,
        custom("group.pay", CustomStat::Trend(LatencyStat::Mean))
    );
    assert_eq!(
        t[11].metric,
        custom("orders", CustomStat::Trend(LatencyStat::Max))
    );
    assert_eq!(t[11].bound, 1000.0);
    assert_eq!(t[12].metric, custom("queue", CustomStat::GaugeLast));
    assert_eq!(t[13].metric, custom("queue", CustomStat::GaugeMin));
    assert_eq!(t[13].bound, -5.0);
    assert_eq!(t[14].metric.name(), "counter.script_adds");
}

#[test]
fn counters_only_grow_when_every_add_is_a_fixed_non_negative_value() {
    let (plan, _) = load(HEAD, "  []\n").unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(plan.counter_only_grows("carts"));
    assert!(plan.counter_only_grows("a.rate"));
    assert!(plan.counter_only_grows("data.accounts.exhausted"));
    assert!(!plan.counter_only_grows("refunds"), "adds -1");
    assert!(!plan.counter_only_grows("script_adds"), "a script adds it");
    assert!(!plan.counter_only_grows("nothing"));
    let templated = HEAD.replace(
        "- counter: carts",
        "- counter: carts\n      - counter: { name: carts, value: \"{{ n }}\" }",
    );
    let templated = templated.replace("load: {", "variables: { n: 2 }\nload: {");
    let (plan, _) = load(&templated, "  []\n").unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(
        !plan.counter_only_grows("carts"),
        "a templated add may be negative"
    );
}

#[test]
fn custom_and_dropped_errors_are_located_with_a_hint() {
    let e = errors(
        HEAD,
        "  - { metric: counter.crats, min: 1 }
  - { metric: trend.carts.p95, max: 1 }
  - { metric: trend.cart_size, max: 1 }
  - { metric: counter.carts, max: 5% }
  - { metric: trend.group.pay.p95, max: 500ms }
  - { metric: counter.carts, max: 1, scenario: buyer }
  - { metric: dropped_iterations, max: 0, request: checkout }
  - { metric: dropped_iterations, max: 1.5 }
  - { metric: gauge.nothing, max: 1 }
  - { metric: counter.data.spare.exhausted, max: 0 }
  - { metric: trend.cart_size.p0, max: 1 }
  - { metric: trend.cart_size.count, min: -1 }
  - { metric: gauge.queue.max, request: checkout, max: 1 }
",
    );
    let got: Vec<(usize, &str, &str, &str)> = (e.iter())
        .map(|(l, _, p, m, h)| (l - FIRST, p.as_str(), m.as_str(), h.as_str()))
        .collect();
    let custom_scope =
        "custom metrics are counted for the whole run only, not per scenario or request";
    let expected = [
        (
            0,
            "thresholds[0].metric",
            "no counter named `crats`",
            "did you mean `counter.carts`?",
        ),
        (
            1,
            "thresholds[1].metric",
            "`carts` is a counter, not a trend",
            "a counter is read as `counter.carts` (its sum) or `counter.carts.rate`",
        ),
        (
            2,
            "thresholds[2].metric",
            "`trend.cart_size` needs a statistic after the trend's name",
            "write e.g. `trend.cart_size.p95`",
        ),
        (
            3,
            "thresholds[3].max",
            "`5%` is a percentage, but custom metrics have no unit",
            "write a plain number, e.g. `50` (group trends are in ms)",
        ),
        (
            4,
            "thresholds[4].max",
            "`500ms` has a unit, but custom metrics have none",
            "write a plain number",
        ),
        (
            5,
            "thresholds[5]",
            custom_scope,
            "remove `scenario` and `request` from this threshold",
        ),
        (
            6,
            "thresholds[6]",
            "`dropped_iterations` is counted per scenario, not per request",
            "remove `request` (keep `scenario` to count one scenario's)",
        ),
        (
            7,
            "thresholds[7].max",
            "`1.5` is not a whole number",
            "write a count",
        ),
        (
            8,
            "thresholds[8].metric",
            "no gauge named `nothing`",
            "the file's gauges are `queue`",
        ),
        (
            9,
            "thresholds[9].metric",
            "no counter named `data.spare.exhausted`",
            "feeder `spare` counts `data.spare.exhausted` only with `on_exhausted: fail`",
        ),
        (
            10,
            "thresholds[10].metric",
            "percentile `trend.cart_size.p0` must be above 0 and at most 100",
            "e.g. `trend.cart_size.p95`",
        ),
        (11, "thresholds[11].min", "`-1` is not a whole number", ""),
        (12, "thresholds[12]", custom_scope, ""),
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (g, w) in got.iter().zip(expected) {
        assert_eq!((g.0, g.1), (w.0, w.1), "{g:?}");
        assert!(g.2.starts_with(w.2), "{g:?} should say {w:?}");
        assert!(g.3.contains(w.3), "{g:?} should hint {w:?}");
    }
    // The metric's own node: the column of its value.
    assert_eq!(e[0].1, 15, "{:?}", e[0]);
}

#[test]
fn names_without_a_declaration_list_what_there_is() {
    let plain = "target: http://localhost:8080
load: { users: 1, duration: 1m }
scenarios:
  - name: a
    steps:
      - get: /
";
    let e = errors(plain, "  - { metric: counter.carts, max: 1 }\n");
    assert_eq!(e[0].3, "no counter named `carts`");
    assert_eq!(
        e[0].4,
        "no step declares a counter: add one, e.g. `- counter: carts`"
    );
}

#[test]
fn names_a_script_computes_are_accepted_unchecked() {
    let computed = HEAD.replace(
        "metrics.counter(\"script_adds\")",
        "metrics.counter(vars.kind .. \"_adds\")",
    );
    let (plan, _) = load(&computed, "  - { metric: counter.anything, max: 1 }\n")
        .unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(
        plan.thresholds[0].metric,
        custom("anything", CustomStat::CounterSum)
    );
    assert!(
        !plan.counter_only_grows("carts"),
        "the script may add to any counter"
    );
    // Trends are still checked: the script names its trend.
    let e = errors(&computed, "  - { metric: trend.anything.p95, max: 1 }\n");
    assert_eq!(e[0].3, "no trend named `anything`");

    let aliased = HEAD.replace("metrics.counter(\"script_adds\")", "local m = metrics");
    let (plan, _) = load(&aliased, "  - { metric: gauge.whatever.max, max: 1 }\n")
        .unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(
        plan.thresholds[0].metric,
        custom("whatever", CustomStat::GaugeMax)
    );
}

#[test]
fn custom_names_are_not_checked_when_the_steps_are_broken() {
    let broken = HEAD.replace("- counter: carts", "- counter: carts\n      - got: /x");
    let e = errors(&broken, "  - { metric: counter.nothing, max: 1 }\n");
    assert!(e.iter().all(|d| !d.2.starts_with("thresholds")), "{e:#?}");
}

fn head_plan() -> Plan {
    load(HEAD, "  []\n").unwrap_or_else(|e| panic!("{e:#?}")).0
}

fn flags(values: &[&str]) -> Result<Vec<Threshold>, Vec<Diagnostic>> {
    let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    parse_threshold_flags(&head_plan(), &values)
}

#[test]
fn command_line_syntax_takes_the_new_metrics() {
    let t = flags(&[
        "trend.cart_size.p95<50",
        "dropped_iterations[scenario=buyer]<=0",
        "counter.carts.rate>=0.5",
        "gauge.queue[window=10s,abort]<=-1.5",
        "dropped_iterations>=0",
    ])
    .unwrap_or_else(|e| panic!("{e:#?}"));
    let p95 = CustomStat::Trend(LatencyStat::Percentile(95.0));
    assert_eq!(t[0].metric, custom("cart_size", p95));
    assert_eq!((t[0].op, t[0].bound), (CompareOp::Lt, 50.0));
    assert_eq!(t[0].name(), "trend.cart_size.p95 < 50");
    assert_eq!(t[1].metric, ThresholdMetric::DroppedIterations);
    assert_eq!(
        t[1].scope,
        ThresholdScope {
            scenario: Some("buyer".into()),
            request: None
        }
    );
    assert_eq!(t[2].metric, custom("carts", CustomStat::CounterRate));
    assert_eq!(t[3].bound, -1.5);
    assert!(t[3].abort);
    assert_eq!(t[4].op, CompareOp::Ge);
}

#[test]
fn command_line_errors_for_the_new_metrics() {
    let e = flags(&[
        "counter.carts[request=checkout]<5",
        "trend.cart_sise.p95<50",
        "trend.cart_size.p95<50ms",
        "dropped_iterations[request=checkout]<1",
        "dropped_iterations[scenario=buyr]<1",
        "gauge.carts<1",
    ])
    .unwrap_err();
    let got: Vec<(&str, &str)> = (e.iter())
        .map(|d| (d.message.as_str(), d.hint.as_deref().unwrap_or("")))
        .collect();
    let expected = [
        (
            "custom metrics are counted for the whole run only",
            "remove `scenario` and `request`",
        ),
        (
            "no trend named `cart_sise`",
            "did you mean `trend.cart_size.p95`?",
        ),
        (
            "`50ms` has a unit, but custom metrics have none",
            "plain number",
        ),
        (
            "`dropped_iterations` is counted per scenario, not per request",
            "remove `request`",
        ),
        ("no scenario named `buyr`", "did you mean `buyer`?"),
        ("`carts` is a counter, not a gauge", "`counter.carts`"),
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (g, w) in got.iter().zip(expected) {
        assert!(g.0.contains(w.0), "{g:?} should contain {w:?}");
        assert!(g.1.contains(w.1), "{g:?} should hint {w:?}");
        assert!(g.0.starts_with("invalid --threshold `"), "{g:?}");
    }
}

/// The warnings of a valid file, as (line, path, message, hint).
fn warnings(head: &str, thresholds: &str) -> Vec<(usize, String, String, String)> {
    let (plan, items) = load(head, thresholds).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(
        !plan.thresholds.is_empty(),
        "warned thresholds stay in the plan"
    );
    (items.into_iter())
        .map(|d| {
            assert_eq!(d.severity, Severity::Warning, "{d:?}");
            let line = d.line.unwrap_or(0);
            (line, d.path, d.message, d.hint.unwrap_or_default())
        })
        .collect()
}

/// [`HEAD`] with an own load for `buyer` (the line after its name), so the thresholds start a
/// line later.
fn buyer_load(head: &str, load: &str) -> String {
    head.replace(
        "  - name: buyer\n",
        &format!("  - name: buyer\n    load: {load}\n"),
    )
}

const BUYER_OPEN: &str = "{ arrival_rate: 5/s, duration: 1m, max_users: 5 }";

#[test]
fn dropped_iterations_under_a_closed_model_warn() {
    let w = warnings(
        HEAD,
        "  - { metric: dropped_iterations, max: 0 }
  - { metric: dropped_iterations, scenario: browser, min: 1, window: 10s }
  - { metric: counter.carts, min: 1 }
",
    );
    let expected = [
        (
            FIRST,
            "thresholds[0]",
            "`dropped_iterations <= 0` always passes: iterations are only dropped by an \
             arrival-rate (open) model; every scenario runs a closed model with users, so this \
             is always 0",
            "use an `arrival_rate` load (e.g. `load: { arrival_rate: 20/s, duration: 1m, \
             max_users: 50 }`), or remove the threshold",
        ),
        (
            FIRST + 1,
            "thresholds[1]",
            "`dropped_iterations >= 1 [scenario: browser, window: 10s]` always fails: \
             iterations are only dropped by an arrival-rate (open) model; scenario `browser` \
             runs a closed model with users, so this is always 0",
            "give scenario `browser` an `arrival_rate` load, or remove the threshold",
        ),
    ];
    let got: Vec<(usize, &str, &str, &str)> = (w.iter())
        .map(|(l, p, m, h)| (*l, p.as_str(), m.as_str(), h.as_str()))
        .collect();
    assert_eq!(got, expected);

    let one = "target: http://localhost:8080
load: { users: 1, duration: 1m }
scenarios:
  - name: only
    steps:
      - get: /
";
    let w = warnings(one, "  - { metric: dropped_iterations, max: 0 }\n");
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].2.contains("; scenario `only` runs a closed model"),
        "{w:?}"
    );
}

#[test]
fn per_scenario_dropped_iterations_warn_only_for_a_closed_scenario() {
    // `buyer` runs its own arrival rate, `browser` the closed top-level load.
    let mixed = buyer_load(HEAD, BUYER_OPEN);
    let w = warnings(
        &mixed,
        "  - { metric: dropped_iterations, max: 0 }
  - { metric: dropped_iterations, scenario: buyer, max: 0 }
  - { metric: dropped_iterations, scenario: browser, max: 0, abort: true }
",
    );
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!((w[0].0, w[0].1.as_str()), (FIRST + 1 + 2, "thresholds[2]"));
    assert!(
        w[0].2
            .starts_with("`dropped_iterations <= 0 [scenario: browser]` always passes"),
        "{w:?}"
    );
    assert!(
        w[0].2
            .contains("scenario `browser` runs a closed model with users"),
        "{w:?}"
    );
    assert!(
        w[0].3
            .contains("give scenario `browser` an `arrival_rate` load")
    );
}

#[test]
fn dropped_iterations_under_an_open_model_do_not_warn() {
    let thresholds = "  - { metric: dropped_iterations, max: 0 }
  - { metric: dropped_iterations, scenario: browser, min: 1 }
";
    assert_eq!(valid(&open_head(), thresholds).len(), 2);
    // A closed top-level load and one open scenario: the run can drop iterations.
    let mixed = buyer_load(HEAD, BUYER_OPEN);
    assert_eq!(
        valid(&mixed, "  - { metric: dropped_iterations, max: 0 }\n").len(),
        1
    );
    // An open top-level load that only `browser` runs: `buyer` has its own closed one.
    let top_open = buyer_load(&open_head(), "{ users: 2, duration: 1m }");
    assert_eq!(valid(&top_open, thresholds).len(), 2);
    let w = warnings(
        &top_open,
        "  - { metric: dropped_iterations, scenario: buyer, max: 0 }\n",
    );
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].2.contains("scenario `buyer` runs a closed model"),
        "{w:?}"
    );
}
