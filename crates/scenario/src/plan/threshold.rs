//! Thresholds as validated: pass/fail criteria on the run's measurements. The metrics crate
//! evaluates them (`stampede_metrics::threshold`); the CLI translates these into its specs.

use std::time::Duration;

use super::RowKey;

/// A pass/fail criterion on the run's measurements, from `thresholds:` in the file or
/// `--threshold` on the command line. A run whose threshold fails exits with code 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    pub metric: ThresholdMetric,
    /// Which requests are measured.
    pub scope: ThresholdScope,
    pub op: CompareOp,
    /// The bound in the metric's unit ([`MetricUnit`]): ms, percent, per second or a count.
    pub bound: f64,
    /// The bound as written (`300ms`, `1%`, `200`), so reports show what the user wrote.
    pub bound_text: String,
    /// `Some(w)`: the bound must hold in every window of `w` (whole seconds) of the run, and the
    /// worst window is reported; `None`: over the whole run.
    pub window: Option<Duration>,
    /// Stop the run as soon as the threshold has certainly failed.
    pub abort: bool,
    /// No abort before this much run time.
    pub delay: Duration,
}

impl Threshold {
    /// `<= 300ms`.
    pub fn condition(&self) -> String {
        format!("{} {}", self.op.symbol(), self.bound_text)
    }

    /// The threshold in one line: `latency.p99 <= 800ms [request: checkout, window: 1m]`.
    pub fn name(&self) -> String {
        let mut extras = Vec::new();
        if !self.scope.is_all() {
            extras.push(self.scope.describe());
        }
        if let Some(w) = self.window {
            extras.push(format!("window: {}", crate::units::format_duration(w)));
        }
        let mut name = format!("{} {}", self.metric.name(), self.condition());
        if !extras.is_empty() {
            name.push_str(&format!(" [{}]", extras.join(", ")));
        }
        name
    }
}

/// What a threshold measures. Metrics that arrive later (`dropped_iterations` with the open load
/// model, custom metrics) become new variants; the parser already names them and rejects them as
/// not available yet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThresholdMetric {
    /// Response latency (responses only: transport errors have none).
    Latency(LatencyStat),
    /// Transport errors (no response) / requests, in percent.
    ErrorRate,
    /// Failed checks / requests, in percent.
    FailureRate,
    /// Responses passing every check / responses, in percent.
    ChecksPassRate,
    /// Requests per second of run time.
    Rps,
    /// Number of requests.
    Requests,
    /// Completed scenario iterations (whole run only).
    Iterations,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LatencyStat {
    /// A percentile in `(0, 100]`, e.g. `95.0` or `99.9`.
    Percentile(f64),
    Mean,
    Min,
    Max,
}

/// The unit a metric's values and bounds are expressed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricUnit {
    Milliseconds,
    Percent,
    PerSecond,
    Count,
}

impl ThresholdMetric {
    /// The name as written in files: `latency.p95`, `latency.p999`, `error_rate`, ...
    pub fn name(&self) -> String {
        match self {
            ThresholdMetric::Latency(stat) => match stat {
                // `p999` is the name of the 99.9th percentile in the result JSON too.
                LatencyStat::Percentile(p) if *p == 99.9 => "latency.p999".to_owned(),
                LatencyStat::Percentile(p) => format!("latency.p{p}"),
                LatencyStat::Mean => "latency.mean".to_owned(),
                LatencyStat::Min => "latency.min".to_owned(),
                LatencyStat::Max => "latency.max".to_owned(),
            },
            ThresholdMetric::ErrorRate => "error_rate".to_owned(),
            ThresholdMetric::FailureRate => "failure_rate".to_owned(),
            ThresholdMetric::ChecksPassRate => "checks.pass_rate".to_owned(),
            ThresholdMetric::Rps => "rps".to_owned(),
            ThresholdMetric::Requests => "requests".to_owned(),
            ThresholdMetric::Iterations => "iterations".to_owned(),
        }
    }

    pub fn unit(&self) -> MetricUnit {
        match self {
            ThresholdMetric::Latency(_) => MetricUnit::Milliseconds,
            ThresholdMetric::ErrorRate
            | ThresholdMetric::FailureRate
            | ThresholdMetric::ChecksPassRate => MetricUnit::Percent,
            ThresholdMetric::Rps => MetricUnit::PerSecond,
            ThresholdMetric::Requests | ThresholdMetric::Iterations => MetricUnit::Count,
        }
    }
}

/// The requests a threshold measures: all of them, one scenario's, or the rows with one request
/// name (optionally within one scenario). Validated against the file: the names exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThresholdScope {
    pub scenario: Option<String>,
    /// A request row name (the step's `name`, else its path as written).
    pub request: Option<String>,
}

impl ThresholdScope {
    pub fn is_all(&self) -> bool {
        self.scenario.is_none() && self.request.is_none()
    }

    /// Whether the row is measured (every method of a matching name is).
    pub fn matches(&self, row: &RowKey) -> bool {
        let scenario = self.scenario.as_ref().is_none_or(|s| *s == row.scenario);
        let request = self.request.as_ref().is_none_or(|r| *r == row.name);
        scenario && request
    }

    /// `all`, `scenario: buyer`, `request: checkout` or `scenario: buyer, request: checkout`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.scenario {
            parts.push(format!("scenario: {s}"));
        }
        if let Some(r) = &self.request {
            parts.push(format!("request: {r}"));
        }
        if parts.is_empty() {
            "all".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// How a measured value is compared with a threshold's bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    /// `max:` in a file.
    Le,
    Gt,
    /// `min:` in a file.
    Ge,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}
