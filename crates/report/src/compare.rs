//! Comparing two results row by row: `stampede compare` (informational) and `run --baseline`
//! (a gate). Rows are matched by `(scenario, name, method)`.
//!
//! Changes are relative to the base value, with two floors that keep noise from being judged:
//!
//! * a latency change of less than 1 ms is never better or worse (0.5 ms → 0.9 ms is +80 % but
//!   only scheduling noise on a fast target);
//! * the two rates, named as in thresholds, `error_rate` (requests without a response) and
//!   `failure_rate` (requests that failed a check), in percent of requests: their change is taken
//!   relative to the base rate **but at least 1 %**, so 3 errors against an error-free baseline
//!   are a measurable change (+0.3 % of requests is a change of +30 %), not an infinite one.

use crate::verdict::trim_num;
use stampede_metrics::result::{BaselineResult, LatencyMs, Regression, RequestRow, RunResult};

/// Floor of the base error or failure rate (percent) that changes are measured against.
const RATE_FLOOR_PCT: f64 = 1.0;
/// Latency changes smaller than this (ms) are noise whatever their percentage.
pub const LATENCY_NOISE_MS: f64 = 1.0;

/// A compared figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Rps,
    P50,
    P95,
    P99,
    ErrorRate,
    FailureRate,
}

impl Metric {
    /// In table order.
    pub const ALL: [Metric; 6] = [
        Metric::Rps,
        Metric::P50,
        Metric::P95,
        Metric::P99,
        Metric::ErrorRate,
        Metric::FailureRate,
    ];

    /// Column heading: `req/s`, `p95 ms`, `errors %`.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Rps => "req/s",
            Metric::P50 => "p50 ms",
            Metric::P95 => "p95 ms",
            Metric::P99 => "p99 ms",
            Metric::ErrorRate => "errors %",
            Metric::FailureRate => "failed %",
        }
    }

    /// Name as in thresholds and the JSON: `rps`, `latency.p95`, `error_rate`, `failure_rate`.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Rps => "rps",
            Metric::P50 => "latency.p50",
            Metric::P95 => "latency.p95",
            Metric::P99 => "latency.p99",
            Metric::ErrorRate => "error_rate",
            Metric::FailureRate => "failure_rate",
        }
    }

    /// Fewer requests per second is worse; for the others more is worse.
    fn lower_is_worse(self) -> bool {
        self == Metric::Rps
    }

    /// The value formatted with its unit.
    pub fn format(self, v: f64) -> String {
        match self {
            Metric::Rps => format!("{v:.1}"),
            Metric::ErrorRate | Metric::FailureRate => format!("{v:.2}%"),
            _ => crate::units::format_ms(v),
        }
    }

    /// Error and failure rates, in percent.
    pub fn is_rate(self) -> bool {
        matches!(self, Metric::ErrorRate | Metric::FailureRate)
    }

    fn value(self, f: &Figures<'_>) -> Option<f64> {
        let answered = f.requests > f.errors;
        let latency = |pick: fn(&LatencyMs) -> f64| answered.then(|| pick(f.latency));
        let rate = |n: u64| (f.requests > 0).then(|| n as f64 * 100.0 / f.requests as f64);
        match self {
            Metric::Rps => Some(f.rps),
            Metric::P50 => latency(|l| l.p50),
            Metric::P95 => latency(|l| l.p95),
            Metric::P99 => latency(|l| l.p99),
            Metric::ErrorRate => rate(f.errors),
            Metric::FailureRate => rate(f.failures),
        }
    }
}

/// The figures compared, from a request row or the run totals.
struct Figures<'a> {
    requests: u64,
    failures: u64,
    errors: u64,
    rps: f64,
    latency: &'a LatencyMs,
}

impl<'a> Figures<'a> {
    fn row(r: &'a RequestRow) -> Self {
        Figures {
            requests: r.requests,
            failures: r.failures,
            errors: r.errors,
            rps: r.rps,
            latency: &r.latency_ms,
        }
    }

    fn totals(r: &'a RunResult) -> Self {
        let s = &r.summary;
        Figures {
            requests: s.requests,
            failures: s.failures,
            errors: s.errors,
            rps: s.rps,
            latency: &s.latency_ms,
        }
    }
}

/// How a figure moved, judged against the tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// Within the tolerance: noise.
    Same,
    Better,
    Worse,
    /// One side has no value (no response, no request) or the base is zero.
    NotComparable,
}

/// One figure in both results.
#[derive(Clone, Debug, PartialEq)]
pub struct Delta {
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// Change in percent of the base (see the module docs for the error rate).
    pub change_pct: Option<f64>,
    pub judgement: Judgement,
}

/// One request row present in both results.
#[derive(Clone, Debug, PartialEq)]
pub struct RowComparison {
    pub scenario: String,
    pub name: String,
    pub method: String,
    /// In [`Metric::ALL`] order.
    pub deltas: Vec<(Metric, Delta)>,
}

impl RowComparison {
    /// `scenario / METHOD name`, or `all requests` for the totals.
    pub fn label(&self) -> String {
        if self.scenario.is_empty() {
            self.name.clone()
        } else {
            format!("{} / {} {}", self.scenario, self.method, self.name)
        }
    }

    pub fn delta(&self, metric: Metric) -> Option<&Delta> {
        self.deltas
            .iter()
            .find(|(m, _)| *m == metric)
            .map(|(_, d)| d)
    }
}

/// Everything `stampede compare` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub base_file: String,
    pub new_file: String,
    pub tolerance_pct: f64,
    /// The run totals (`all requests`).
    pub overall: RowComparison,
    /// Rows in both results, in the new result's order.
    pub rows: Vec<RowComparison>,
    /// Labels of rows only in the base result.
    pub only_in_base: Vec<String>,
    /// Labels of rows only in the new result.
    pub only_in_new: Vec<String>,
}

impl Comparison {
    /// Every figure of a compared row (not the totals) that got worse beyond the tolerance.
    pub fn regressions(&self) -> Vec<(&RowComparison, Metric, &Delta)> {
        self.judged(Judgement::Worse)
    }

    /// Every figure of a compared row that got better beyond the tolerance.
    pub fn improvements(&self) -> Vec<(&RowComparison, Metric, &Delta)> {
        self.judged(Judgement::Better)
    }

    fn judged(&self, j: Judgement) -> Vec<(&RowComparison, Metric, &Delta)> {
        self.rows
            .iter()
            .flat_map(|r| r.deltas.iter().map(move |(m, d)| (r, *m, d)))
            .filter(|(_, _, d)| d.judgement == j)
            .collect()
    }

    /// One sentence: how many regressions, where, and the worst three.
    pub fn verdict_line(&self) -> String {
        let regressions = self.regressions();
        let tol = trim_num(self.tolerance_pct);
        let improvements = self.improvements().len();
        let better = if improvements > 0 {
            format!(" ({} improved)", plural(improvements, "figure"))
        } else {
            String::new()
        };
        if regressions.is_empty() {
            return format!(
                "No regression beyond ±{tol}% in {}{better}.",
                plural(self.rows.len(), "compared row")
            );
        }
        let mut worst = regressions.clone();
        worst.sort_by(|a, b| {
            let size = |d: &Delta| d.change_pct.unwrap_or(0.0).abs();
            size(b.2).total_cmp(&size(a.2))
        });
        let mut rows: Vec<String> = worst
            .iter()
            .take(3)
            .map(|(r, m, d)| {
                format!(
                    "{} {} {}",
                    r.label(),
                    m.key(),
                    signed_pct(d.change_pct.unwrap_or(0.0))
                )
            })
            .collect();
        if worst.len() > 3 {
            rows.push(format!("and {} more", worst.len() - 3));
        }
        let regressed_rows = {
            let mut labels: Vec<String> = regressions.iter().map(|(r, _, _)| r.label()).collect();
            labels.dedup();
            labels.len()
        };
        format!(
            "{} regression{} beyond ±{tol}% in {regressed_rows} of {} compared rows{better}: {}.",
            regressions.len(),
            if regressions.len() == 1 { "" } else { "s" },
            self.rows.len(),
            rows.join(", ")
        )
    }
}

/// `1 row`, `2 rows`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `+12.5%`, `-3%`.
pub fn signed_pct(p: f64) -> String {
    if p >= 0.0 {
        format!("+{}%", trim_num(p))
    } else {
        format!("{}%", trim_num(p))
    }
}

fn same_row(a: &RequestRow, b: &RequestRow) -> bool {
    a.scenario == b.scenario && a.name == b.name && a.method == b.method
}

fn delta(metric: Metric, base: Option<f64>, new: Option<f64>, tolerance_pct: f64) -> Delta {
    let change_pct = match (base, new) {
        (Some(b), Some(n)) if metric.is_rate() => Some((n - b) / b.max(RATE_FLOOR_PCT) * 100.0),
        (Some(b), Some(n)) if b > 0.0 => Some((n - b) / b * 100.0),
        (Some(b), Some(n)) if b == n => Some(0.0),
        _ => None,
    };
    let tiny_latency_change = matches!(metric, Metric::P50 | Metric::P95 | Metric::P99)
        && matches!((base, new), (Some(b), Some(n)) if (n - b).abs() < LATENCY_NOISE_MS);
    let judgement = match change_pct {
        None => Judgement::NotComparable,
        Some(_) if tiny_latency_change => Judgement::Same,
        Some(c) => {
            let worse_by = if metric.lower_is_worse() { -c } else { c };
            if worse_by > tolerance_pct {
                Judgement::Worse
            } else if worse_by < -tolerance_pct {
                Judgement::Better
            } else {
                Judgement::Same
            }
        }
    };
    Delta {
        base,
        new,
        change_pct,
        judgement,
    }
}

fn deltas(base: &Figures<'_>, new: &Figures<'_>, tolerance_pct: f64) -> Vec<(Metric, Delta)> {
    Metric::ALL
        .iter()
        .map(|&m| (m, delta(m, m.value(base), m.value(new), tolerance_pct)))
        .collect()
}

fn compare_rows(base: &RequestRow, new: &RequestRow, tolerance_pct: f64) -> RowComparison {
    RowComparison {
        scenario: new.scenario.clone(),
        name: new.name.clone(),
        method: new.method.clone(),
        deltas: deltas(&Figures::row(base), &Figures::row(new), tolerance_pct),
    }
}

/// Compares `new` against `base`. `tolerance_pct` is the noise band: smaller changes are `Same`.
pub fn compare(
    base: &RunResult,
    new: &RunResult,
    base_file: &str,
    new_file: &str,
    tolerance_pct: f64,
) -> Comparison {
    let label = |r: &RequestRow| format!("{} / {} {}", r.scenario, r.method, r.name);
    let rows = new
        .requests
        .iter()
        .filter_map(|n| {
            let b = base.requests.iter().find(|b| same_row(b, n))?;
            Some(compare_rows(b, n, tolerance_pct))
        })
        .collect();
    Comparison {
        base_file: base_file.to_owned(),
        new_file: new_file.to_owned(),
        tolerance_pct,
        overall: RowComparison {
            scenario: String::new(),
            name: "all requests".into(),
            method: String::new(),
            deltas: deltas(&Figures::totals(base), &Figures::totals(new), tolerance_pct),
        },
        rows,
        only_in_base: base
            .requests
            .iter()
            .filter(|b| !new.requests.iter().any(|n| same_row(b, n)))
            .map(label)
            .collect(),
        only_in_new: new
            .requests
            .iter()
            .filter(|n| !base.requests.iter().any(|b| same_row(b, n)))
            .map(label)
            .collect(),
    }
}

/// The `run --baseline` gate: p95, p99, error rate and failure rate of every row in both results
/// may get worse by at most `max_regression_pct`.
pub fn baseline_check(
    base: &RunResult,
    new: &RunResult,
    base_file: &str,
    max_regression_pct: f64,
) -> BaselineResult {
    let c = compare(base, new, base_file, "", max_regression_pct);
    let regressions: Vec<Regression> = c
        .regressions()
        .into_iter()
        .filter(|(_, m, _)| {
            matches!(
                m,
                Metric::P95 | Metric::P99 | Metric::ErrorRate | Metric::FailureRate
            )
        })
        .map(|(r, m, d)| Regression {
            scenario: r.scenario.clone(),
            name: r.name.clone(),
            method: r.method.clone(),
            metric: m.key().to_owned(),
            baseline: d.base.unwrap_or_default(),
            value: d.new.unwrap_or_default(),
            change_pct: (d.change_pct.unwrap_or_default() * 100.0).round() / 100.0,
        })
        .collect();
    BaselineResult {
        file: base_file.to_owned(),
        max_regression_pct,
        passed: regressions.is_empty(),
        compared_rows: u32::try_from(c.rows.len()).unwrap_or(u32::MAX),
        regressions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample;

    fn slower(mut r: RunResult, row: usize, factor: f64) -> RunResult {
        let l = &mut r.requests[row].latency_ms;
        l.p50 *= factor;
        l.p95 *= factor;
        l.p99 *= factor;
        r
    }

    #[test]
    fn a_result_compared_with_itself_has_no_change() {
        let r = sample();
        let c = compare(&r, &r, "a.json", "b.json", 5.0);
        assert_eq!(c.rows.len(), r.requests.len());
        assert!(c.regressions().is_empty() && c.improvements().is_empty());
        assert!(c.only_in_base.is_empty() && c.only_in_new.is_empty());
        assert!(
            c.verdict_line().starts_with("No regression beyond ±5%"),
            "{}",
            c.verdict_line()
        );
    }

    #[test]
    fn slower_rows_regress_beyond_the_tolerance_only() {
        let base = sample();
        let answered = base
            .requests
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.latency_ms.p50.total_cmp(&b.1.latency_ms.p50))
            .map(|(i, _)| i)
            .unwrap();
        let c = compare(&base, &slower(base.clone(), answered, 1.04), "a", "b", 5.0);
        assert!(c.regressions().is_empty(), "4% is noise at ±5%");
        let c = compare(&base, &slower(base.clone(), answered, 1.5), "a", "b", 5.0);
        let metrics: Vec<Metric> = c.regressions().iter().map(|(_, m, _)| *m).collect();
        assert_eq!(metrics, [Metric::P50, Metric::P95, Metric::P99]);
        let (_, _, d) = c.regressions()[1];
        assert!((d.change_pct.unwrap() - 50.0).abs() < 1e-9);
        let line = c.verdict_line();
        assert!(
            line.starts_with("3 regressions beyond ±5% in 1 of"),
            "{line}"
        );
        assert!(line.contains("latency.p95 +50%"), "{line}");
        // Faster is an improvement, not a regression.
        let c = compare(&slower(base.clone(), answered, 1.5), &base, "a", "b", 5.0);
        assert!(c.regressions().is_empty());
        assert_eq!(c.improvements().len(), 3);
    }

    #[test]
    fn fewer_requests_per_second_is_worse_and_errors_use_a_floor() {
        let base = sample();
        let mut new = base.clone();
        new.requests[0].rps = base.requests[0].rps * 0.5;
        let c = compare(&base, &new, "a", "b", 5.0);
        assert_eq!(
            c.rows[0].delta(Metric::Rps).unwrap().judgement,
            Judgement::Worse
        );
        // 0 % → 0.3 % errors is +30 % against the 1 % floor.
        let d = delta(Metric::ErrorRate, Some(0.0), Some(0.3), 10.0);
        assert!((d.change_pct.unwrap() - 30.0).abs() < 1e-9);
        assert_eq!(d.judgement, Judgement::Worse);
        let d = delta(Metric::ErrorRate, Some(0.0), Some(0.05), 10.0);
        assert_eq!(d.judgement, Judgement::Same);
        // Sub-millisecond latency changes are noise, whatever the percentage.
        assert_eq!(
            delta(Metric::P99, Some(0.5), Some(1.4), 5.0).judgement,
            Judgement::Same
        );
        assert_eq!(
            delta(Metric::P99, Some(0.5), Some(1.5), 5.0).judgement,
            Judgement::Worse
        );
        // Latency with no response on one side is not comparable.
        assert_eq!(
            delta(Metric::P95, None, Some(3.0), 5.0).judgement,
            Judgement::NotComparable
        );
    }

    #[test]
    fn rows_in_one_result_only_are_listed() {
        let base = sample();
        let mut new = base.clone();
        let gone = new.requests.remove(0);
        new.requests[0].name = "renamed".into();
        let c = compare(&base, &new, "a", "b", 5.0);
        assert_eq!(c.rows.len(), base.requests.len() - 2);
        assert_eq!(c.only_in_base.len(), 2);
        assert!(c.only_in_base[0].ends_with(&gone.name));
        assert_eq!(c.only_in_new.len(), 1);
        assert!(c.only_in_new[0].ends_with("renamed"));
    }

    #[test]
    fn the_baseline_gate_looks_at_p95_p99_and_the_rates_only() {
        let base = sample();
        let answered = base
            .requests
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.latency_ms.p50.total_cmp(&b.1.latency_ms.p50))
            .map(|(i, _)| i)
            .unwrap();
        let mut new = slower(base.clone(), answered, 1.3);
        new.requests[answered].rps *= 0.1;
        let b = baseline_check(&base, &new, "base.json", 10.0);
        assert!(!b.passed);
        assert_eq!(b.compared_rows as usize, base.requests.len());
        let metrics: Vec<&str> = b.regressions.iter().map(|r| r.metric.as_str()).collect();
        assert_eq!(metrics, ["latency.p95", "latency.p99"]);
        assert_eq!(b.regressions[0].change_pct, 30.0);
        assert!(baseline_check(&base, &new, "base.json", 50.0).passed);
        // Responses that start failing their checks regress the failure rate: 0 % → 25 %.
        let mut new = base.clone();
        let row = &mut new.requests[answered];
        row.failures = row.requests / 4;
        let b = baseline_check(&base, &new, "base.json", 10.0);
        let r = &b.regressions[..];
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(
            (r[0].metric.as_str(), r[0].baseline, r[0].value),
            ("failure_rate", 0.0, 25.0)
        );
        assert_eq!(r[0].change_pct, 2500.0, "relative to the 1 % floor");
    }
}
