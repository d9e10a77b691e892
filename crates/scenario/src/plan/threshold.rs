//! Thresholds as validated: pass/fail criteria on the run's measurements. The metrics crate
//! evaluates them (`stampede_metrics::threshold`); the CLI translates these into its specs.

use std::time::Duration;

use super::{MetricKind, RowKey};

/// A pass/fail criterion on the run's measurements, from `thresholds:` in the file or
/// `--threshold` on the command line. A run whose threshold fails exits with code 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    pub metric: ThresholdMetric,
    /// Which requests are measured.
    pub scope: ThresholdScope,
    pub op: CompareOp,
    /// The bound in the metric's unit ([`MetricUnit`]): ms, percent, per second, a count, or a
    /// plain number for custom metrics.
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

/// What a threshold measures.
#[derive(Clone, Debug, PartialEq)]
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
    /// Open-model iterations that were due but could not start (no free virtual user): the
    /// whole run's, or one scenario's (not per request).
    DroppedIterations,
    /// A custom metric the steps declare (`counter`, `trend`, `gauge`, a group's trend, a
    /// script's `metrics.*`, a feeder's `data.<feeder>.exhausted`), over the whole run.
    Custom {
        /// The metric's name as declared, e.g. `cart_size` or `group.checkout`.
        name: String,
        stat: CustomStat,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LatencyStat {
    /// A percentile in `(0, 100]`, e.g. `95.0` or `99.9`.
    Percentile(f64),
    Mean,
    Min,
    Max,
}

impl LatencyStat {
    /// `p95`, `p999` (the 99.9th, as named in the result JSON), `p99.5`, `mean`, `min`, `max`.
    pub fn suffix(self) -> String {
        match self {
            LatencyStat::Percentile(99.9) => "p999".to_owned(),
            LatencyStat::Percentile(p) => format!("p{p}"),
            LatencyStat::Mean => "mean".to_owned(),
            LatencyStat::Min => "min".to_owned(),
            LatencyStat::Max => "max".to_owned(),
        }
    }
}

/// What a threshold reads of a custom metric; the kind of metric follows from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CustomStat {
    /// `counter.NAME`: the counter's sum.
    CounterSum,
    /// `counter.NAME.rate`: the sum per second of run time (of window in a window).
    CounterRate,
    /// `trend.NAME.p95` (any percentile), `.mean`, `.min`, `.max`.
    Trend(LatencyStat),
    /// `trend.NAME.count`: values recorded.
    TrendCount,
    /// `gauge.NAME`: the last value set.
    GaugeLast,
    /// `gauge.NAME.min`.
    GaugeMin,
    /// `gauge.NAME.max`.
    GaugeMax,
}

impl CustomStat {
    /// The kind of metric it reads.
    pub fn kind(self) -> MetricKind {
        match self {
            CustomStat::CounterSum | CustomStat::CounterRate => MetricKind::Counter,
            CustomStat::Trend(_) | CustomStat::TrendCount => MetricKind::Trend,
            CustomStat::GaugeLast | CustomStat::GaugeMin | CustomStat::GaugeMax => {
                MetricKind::Gauge
            }
        }
    }

    /// What follows the name: `.rate`, `.p95`, `.count`, `.min`, or nothing.
    pub fn suffix(self) -> String {
        match self {
            CustomStat::CounterSum | CustomStat::GaugeLast => String::new(),
            CustomStat::CounterRate => ".rate".to_owned(),
            CustomStat::Trend(stat) => format!(".{}", stat.suffix()),
            CustomStat::TrendCount => ".count".to_owned(),
            CustomStat::GaugeMin => ".min".to_owned(),
            CustomStat::GaugeMax => ".max".to_owned(),
        }
    }
}

impl MetricKind {
    /// `counter`, `trend` or `gauge`: the prefix of its threshold metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Trend => "trend",
            MetricKind::Gauge => "gauge",
        }
    }
}

/// The unit a metric's values and bounds are expressed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricUnit {
    Milliseconds,
    Percent,
    PerSecond,
    Count,
    /// A plain number, possibly negative or fractional: custom metrics have no unit.
    Number,
}

impl ThresholdMetric {
    /// The name as written in files: `latency.p95`, `latency.p999`, `error_rate`,
    /// `trend.cart_size.p95`, ...
    pub fn name(&self) -> String {
        match self {
            ThresholdMetric::Latency(stat) => format!("latency.{}", stat.suffix()),
            ThresholdMetric::ErrorRate => "error_rate".to_owned(),
            ThresholdMetric::FailureRate => "failure_rate".to_owned(),
            ThresholdMetric::ChecksPassRate => "checks.pass_rate".to_owned(),
            ThresholdMetric::Rps => "rps".to_owned(),
            ThresholdMetric::Requests => "requests".to_owned(),
            ThresholdMetric::Iterations => "iterations".to_owned(),
            ThresholdMetric::DroppedIterations => "dropped_iterations".to_owned(),
            ThresholdMetric::Custom { name, stat } => {
                format!("{}.{name}{}", stat.kind().as_str(), stat.suffix())
            }
        }
    }

    pub fn unit(&self) -> MetricUnit {
        match self {
            ThresholdMetric::Latency(_) => MetricUnit::Milliseconds,
            ThresholdMetric::ErrorRate
            | ThresholdMetric::FailureRate
            | ThresholdMetric::ChecksPassRate => MetricUnit::Percent,
            ThresholdMetric::Rps => MetricUnit::PerSecond,
            ThresholdMetric::Requests
            | ThresholdMetric::Iterations
            | ThresholdMetric::DroppedIterations
            | ThresholdMetric::Custom {
                stat: CustomStat::TrendCount,
                ..
            } => MetricUnit::Count,
            ThresholdMetric::Custom { .. } => MetricUnit::Number,
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
