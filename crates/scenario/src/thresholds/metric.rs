//! The pieces of a threshold shared by the file and the `--threshold` syntax: metric names,
//! bounds in the metric's unit, windows, and the scenario and request names a threshold may name.
//! Each returns the problem as a message and a hint, for the caller to locate.

use std::time::Duration;

use super::custom;
use super::declared::Declared;
use crate::plan::{LatencyStat, MetricUnit, RowKey, ThresholdMetric, ThresholdScope};
use crate::suggest::{did_you_mean, one_of};
use crate::units::{self, UnitError};

/// Every metric name that can be written, percentiles aside (`latency.pNN.N` takes any).
pub(crate) const METRIC_NAMES: &[&str] = &[
    "latency.p50",
    "latency.p90",
    "latency.p95",
    "latency.p99",
    "latency.p999",
    "latency.mean",
    "latency.min",
    "latency.max",
    "error_rate",
    "failure_rate",
    "checks.pass_rate",
    "rps",
    "requests",
    "iterations",
    "dropped_iterations",
];

/// How custom metrics are named, for hints.
const CUSTOM_FORMS: &str = "`counter.NAME`, `counter.NAME.rate`, `trend.NAME.p95` (or `.mean`, \
                            `.min`, `.max`, `.count`), `gauge.NAME` (or `.min`, `.max`)";

fn problem(message: String, hint: Option<String>) -> UnitError {
    UnitError { message, hint }
}

pub(crate) fn parse_metric(text: &str) -> Result<ThresholdMetric, UnitError> {
    let name = text.trim();
    let metric = match name {
        "error_rate" => ThresholdMetric::ErrorRate,
        "failure_rate" => ThresholdMetric::FailureRate,
        "checks.pass_rate" => ThresholdMetric::ChecksPassRate,
        "rps" => ThresholdMetric::Rps,
        "requests" => ThresholdMetric::Requests,
        "iterations" => ThresholdMetric::Iterations,
        "dropped_iterations" => ThresholdMetric::DroppedIterations,
        "latency.mean" => ThresholdMetric::Latency(LatencyStat::Mean),
        "latency.min" => ThresholdMetric::Latency(LatencyStat::Min),
        "latency.max" => ThresholdMetric::Latency(LatencyStat::Max),
        _ => match name.strip_prefix("latency.p") {
            Some(p) => {
                ThresholdMetric::Latency(LatencyStat::Percentile(percentile(name, p, "latency")?))
            }
            None => match custom::parse(name) {
                Some(parsed) => parsed?,
                None => return Err(unknown_metric(name)),
            },
        },
    };
    Ok(metric)
}

fn unknown_metric(name: &str) -> UnitError {
    let hint = match did_you_mean(name, METRIC_NAMES) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!(
            "expected {}, or a custom metric: {CUSTOM_FORMS}",
            metric_list()
        ),
    };
    problem(format!("unknown metric `{name}`"), Some(hint))
}

fn metric_list() -> String {
    let names: Vec<&str> = METRIC_NAMES
        .iter()
        .copied()
        .filter(|n| !n.contains(".p"))
        .collect();
    format!("`latency.pNN` (any percentile), {}", one_of(&names))
}

/// `95`, `99.9`, or `999` (the 99.9th, as named in the result JSON), of the metric `name`
/// written `prefix.pNN` (`latency`, `trend.cart_size`).
pub(crate) fn percentile(name: &str, digits: &str, prefix: &str) -> Result<f64, UnitError> {
    let hint = || {
        Some(format!(
            "write a percentile between 0 and 100, e.g. `{prefix}.p95` or `{prefix}.p99.9`"
        ))
    };
    if digits == "999" {
        return Ok(99.9);
    }
    let value =
        decimal(digits).ok_or_else(|| problem(format!("unknown metric `{name}`"), hint()))?;
    if value <= 0.0 || value > 100.0 {
        let message = format!("percentile `{name}` must be above 0 and at most 100");
        return Err(problem(message, hint()));
    }
    Ok(value)
}

/// A plain non-negative decimal: digits with at most one `.` (no sign, exponent or `inf`).
fn decimal(text: &str) -> Option<f64> {
    let valid = !text.is_empty()
        && text != "."
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.chars().filter(|&c| c == '.').count() <= 1;
    valid.then(|| text.parse().ok()).flatten()
}

/// The bound in the metric's unit: a duration for latency (in ms), a percentage for rates, a
/// rate (`200`, `200/s`, `12000/m`) for rps, a whole number for counts, a plain number for
/// custom metrics.
pub(crate) fn parse_bound(metric: &ThresholdMetric, text: &str) -> Result<f64, UnitError> {
    let text = text.trim();
    match metric.unit() {
        MetricUnit::Milliseconds => match units::duration(text) {
            Ok(d) => Ok(d.as_secs_f64() * 1000.0),
            Err(e) if decimal(text).is_some() => Err(problem(
                e.message,
                Some("latency bounds are durations: add a unit, e.g. 300ms".into()),
            )),
            Err(e) => Err(e),
        },
        MetricUnit::Percent => percent(text),
        MetricUnit::PerSecond => units::rate(text).map_err(|e| {
            let hint = "write requests per second, e.g. `200` or `200/s`".to_owned();
            problem(e.message, Some(hint))
        }),
        MetricUnit::Count => match text.parse::<u64>() {
            Ok(n) if text.chars().all(|c| c.is_ascii_digit()) => Ok(n as f64),
            _ => Err(problem(
                format!("`{text}` is not a whole number"),
                Some("write a count, e.g. 1000".into()),
            )),
        },
        MetricUnit::Number => custom::number(text),
    }
}

fn percent(text: &str) -> Result<f64, UnitError> {
    let hint = || Some("rates are percentages: write e.g. `1%` or `99.5%`".to_owned());
    let Some(number) = text.strip_suffix('%') else {
        let message = match decimal(text) {
            Some(_) => format!("`{text}` has no `%`"),
            None => format!("`{text}` is not a percentage"),
        };
        return Err(problem(message, hint()));
    };
    match decimal(number.trim()) {
        Some(v) if v <= 100.0 => Ok(v),
        Some(_) => Err(problem(format!("`{text}` is above 100%"), hint())),
        None => Err(problem(format!("`{text}` is not a percentage"), hint())),
    }
}

/// A window: whole seconds, longer than zero.
pub(crate) fn check_window(d: Duration) -> Result<Duration, UnitError> {
    let hint = Some("windows are whole seconds, e.g. 30s or 1m".to_owned());
    if d.is_zero() {
        return Err(problem("a window must be longer than 0s".into(), hint));
    }
    if d.subsec_nanos() != 0 {
        let message = format!(
            "window {} is not a whole number of seconds",
            units::format_duration(d)
        );
        return Err(problem(message, hint));
    }
    Ok(d)
}

/// Metrics that are only counted for the whole run (`iterations`, custom metrics), or per
/// scenario but not per request (`dropped_iterations`).
pub(crate) fn check_scope_fits(
    metric: &ThresholdMetric,
    scope: &ThresholdScope,
) -> Result<(), UnitError> {
    let whole_run_hint = || Some("remove `scenario` and `request` from this threshold".to_owned());
    match metric {
        ThresholdMetric::Iterations if !scope.is_all() => Err(problem(
            "`iterations` is counted for the whole run only".to_owned(),
            whole_run_hint(),
        )),
        ThresholdMetric::Custom { .. } if !scope.is_all() => Err(problem(
            format!(
                "custom metrics are counted for the whole run only, not per scenario or request (`{}`)",
                metric.name()
            ),
            whole_run_hint(),
        )),
        ThresholdMetric::DroppedIterations if scope.request.is_some() => Err(problem(
            "`dropped_iterations` is counted per scenario, not per request".to_owned(),
            Some("remove `request` (keep `scenario` to count one scenario's)".to_owned()),
        )),
        _ => Ok(()),
    }
}

/// The scenario, request and custom metric names of the file, to check the ones thresholds
/// name.
pub(crate) struct Names<'a> {
    pub scenarios: Vec<&'a str>,
    pub rows: &'a [RowKey],
    /// `None` when part of the file had errors: custom metric names are then not checked.
    pub metrics: Option<Declared>,
}

impl Names<'_> {
    /// The metric with the reading of its name the file declares (see [`custom::resolve`]).
    pub fn check_metric(&self, metric: ThresholdMetric) -> Result<ThresholdMetric, UnitError> {
        match &self.metrics {
            Some(declared) => custom::resolve(declared, metric),
            None => Ok(metric),
        }
    }

    pub fn check_scenario(&self, name: &str) -> Result<(), UnitError> {
        if self.scenarios.contains(&name) {
            return Ok(());
        }
        let hint = match did_you_mean(name, &self.scenarios) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("the scenarios are {}", one_of(&self.scenarios)),
        };
        Err(problem(format!("no scenario named `{name}`"), Some(hint)))
    }

    /// A request row name, within `scenario` when given (which is assumed to exist).
    pub fn check_request(&self, scenario: Option<&str>, name: &str) -> Result<(), UnitError> {
        let mut names: Vec<&str> = Vec::new();
        let in_scope = self
            .rows
            .iter()
            .filter(|r| scenario.is_none_or(|s| s == r.scenario));
        for row in in_scope {
            if !names.contains(&row.name.as_str()) {
                names.push(&row.name);
            }
        }
        if names.contains(&name) {
            return Ok(());
        }
        let message = match scenario {
            Some(s) => format!("no request named `{name}` in scenario `{s}`"),
            None => format!("no request named `{name}`"),
        };
        let hint = match did_you_mean(name, &names) {
            Some(s) => format!("did you mean `{s}`?"),
            None if names.len() <= 8 => format!(
                "request names are the steps' `name` (else their path as written): {}",
                one_of(&names)
            ),
            None => "request names are the steps' `name` (else their path as written)".to_owned(),
        };
        Err(problem(message, Some(hint)))
    }
}
