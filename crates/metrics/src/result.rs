//! The JSON result of a run (`--out result.json`): the contract every report is built from.
//!
//! The JSON Schema in `schemas/result.schema.json` is generated from these types
//! (`stampede schema --result`) and checked for drift by a test. Field names carry their unit
//! (`duration_s`, `latency_ms`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of this result format. Bumped on any incompatible change.
pub const RESULT_SCHEMA_VERSION: u32 = 1;

/// A whole run's result.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunResult {
    /// Version of the result format (currently 1).
    pub schema_version: u32,
    pub run: RunMeta,
    pub summary: Summary,
    /// One row per (scenario, request name, method), in scenario-file order.
    pub requests: Vec<RequestRow>,
    /// Transport errors (no HTTP response) by kind, most frequent first.
    pub errors: Vec<ErrorRow>,
    /// Failed `expect` checks by (scenario, request, check), most frequent first.
    pub checks: Vec<CheckRow>,
    /// One point per second of the run.
    pub timeline: Vec<TimelinePoint>,
    /// Pass/fail thresholds and their measured values, in the order they were declared.
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    /// The comparison with a baseline result (`run --baseline`), when one was given.
    #[serde(default)]
    pub baseline: Option<BaselineResult>,
    /// Notable moments of the run (stage changes, aborts, agents joining), in time order. Reports
    /// draw them as markers on the charts; nothing records events yet.
    #[serde(default)]
    pub events: Vec<RunEvent>,
    /// Iteration counts per scenario, in scenario-file order.
    #[serde(default)]
    pub scenarios: Vec<ScenarioRow>,
    /// Custom metrics (counters, trends, gauges) the scenario recorded, by name then kind.
    #[serde(default)]
    pub custom_metrics: Vec<CustomMetricRow>,
    /// Things to know about the measurements that are not failures (e.g. custom metric names
    /// dropped past the limit of 1000), in words.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One custom metric over the whole run; `kind` says which fields it has.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CustomMetricRow {
    /// A sum of increments.
    Counter {
        name: String,
        /// The sum of every increment.
        total: f64,
        /// `total` per second of the measured duration.
        rate: f64,
        /// Increments added.
        adds: u64,
    },
    /// A distribution of values (>= 0). Count, min, max and mean are exact; percentiles come
    /// from an HDR histogram, within 0.1 % (whole numbers up to 2047 exact), never outside
    /// `[min, max]`. All zero when `count` is 0.
    Trend {
        name: String,
        count: u64,
        min: f64,
        max: f64,
        mean: f64,
        p50: f64,
        p90: f64,
        p95: f64,
        p99: f64,
    },
    /// A value that is set: the last one set (by time, across every virtual user and agent),
    /// and the range of all of them.
    Gauge {
        name: String,
        last: f64,
        min: f64,
        max: f64,
        /// Values set.
        sets: u64,
    },
}

impl CustomMetricRow {
    /// The metric's name.
    pub fn name(&self) -> &str {
        match self {
            CustomMetricRow::Counter { name, .. }
            | CustomMetricRow::Trend { name, .. }
            | CustomMetricRow::Gauge { name, .. } => name,
        }
    }

    /// `counter`, `trend` or `gauge`, as in the JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            CustomMetricRow::Counter { .. } => "counter",
            CustomMetricRow::Trend { .. } => "trend",
            CustomMetricRow::Gauge { .. } => "gauge",
        }
    }
}

/// Iterations of one scenario.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRow {
    pub name: String,
    /// Completed iterations.
    pub iterations: u64,
    /// Open model: iterations due that never started because no virtual user was free and the
    /// pool was at `max_users`. Never silently delayed: each is counted here.
    #[serde(default)]
    pub dropped_iterations: u64,
    /// Iterations started but cut off by a stop (ramp-down or end past `graceful_stop`, a limit,
    /// or Ctrl-C).
    #[serde(default)]
    pub interrupted_iterations: u64,
    /// Iterations that took longer than the scenario's `pacing` interval.
    #[serde(default)]
    pub pacing_overruns: u64,
}

/// How late the open-model scheduler started iterations, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LagMs {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// The outcome of `run --baseline FILE --max-regression N%`: which request rows got worse than
/// the baseline by more than the bound. Only rows present in both results are compared.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BaselineResult {
    /// The baseline result file, as given on the command line.
    pub file: String,
    /// The allowed regression, in percent (e.g. `10.0`).
    pub max_regression_pct: f64,
    /// True when no compared row regressed beyond the bound.
    pub passed: bool,
    /// Request rows present in both results (and so compared).
    pub compared_rows: u32,
    /// Every regression beyond the bound; empty when `passed`.
    pub regressions: Vec<Regression>,
}

/// One metric of one request row that regressed beyond the bound.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Regression {
    pub scenario: String,
    pub name: String,
    pub method: String,
    /// `latency.p95`, `latency.p99` or `error_rate`.
    pub metric: String,
    /// The baseline value (ms for latency, percent for the error rate).
    pub baseline: f64,
    /// The value in this run, in the same unit.
    pub value: f64,
    /// How much worse, in percent of the baseline (for the error rate, of the baseline rate but
    /// at least 1 %, so a few errors against an error-free baseline are not an infinite change).
    pub change_pct: f64,
}

impl Regression {
    /// The unit suffix of `baseline` and `value` as printed: `%` for rates, ` ms` for latency.
    pub fn unit(&self) -> &'static str {
        if self.metric.ends_with("_rate") {
            "%"
        } else {
            " ms"
        }
    }
}

/// A notable moment of the run, drawn as a marker on the report's charts.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunEvent {
    /// Seconds since the start.
    pub second: f64,
    /// A short machine-readable kind, e.g. `stage`, `threshold_abort`.
    pub kind: String,
    /// What happened, in words.
    pub message: String,
}

/// One threshold as evaluated at the end of the run (or when it aborted the run).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdResult {
    /// The threshold as written, e.g. `latency.p95 < 300ms` or `error_rate < 1% [request: checkout]`.
    pub name: String,
    /// The metric, e.g. `latency.p95`, `error_rate`, `rps`, `checks.pass_rate`,
    /// `dropped_iterations`, or a custom metric: `counter.carts`, `trend.cart_size.p95`,
    /// `gauge.queue`.
    pub metric: String,
    /// `all`, `scenario: NAME` or `request: NAME`.
    pub scope: String,
    /// The bound, e.g. `< 300ms` or `>= 99.5%`.
    pub condition: String,
    /// The measured value in the metric's unit (ms for latency, percent for rates, per second for
    /// rps and a counter's `.rate`, a count for counts, a plain number for custom metrics); for a
    /// windowed threshold, the worst window. `None` when the metric had no data, which fails the
    /// threshold.
    pub value: Option<f64>,
    pub passed: bool,
    /// True when this threshold stopped the run early (`abort: true`).
    pub aborted_run: bool,
    /// Why it failed, in words (e.g. `no data: no request matched`).
    pub message: Option<String>,
}

/// What ran, where, and how it ended.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunMeta {
    /// Stampede version that produced this result.
    pub tool_version: String,
    /// Path of the scenario file, as given on the command line.
    pub scenario_file: String,
    /// Base URL of the target.
    pub target: String,
    /// Wall-clock start, RFC 3339 (UTC).
    pub started_at: String,
    /// Planned duration from the load profile, in seconds.
    pub planned_duration_s: f64,
    /// Human-readable description of the load profile.
    pub load: String,
    /// How the run ended.
    pub status: RunStatus,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Ran for its planned duration.
    Completed,
    /// Stopped early by the user (Ctrl-C or a stop request).
    Interrupted,
    /// Stopped early because a threshold with `abort: true` had certainly failed.
    Aborted,
}

/// Latency figures in milliseconds (microsecond resolution, 3 significant digits).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LatencyMs {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// Whole-run totals.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Request attempts (responses + transport errors).
    pub requests: u64,
    /// Responses that passed every check.
    pub successes: u64,
    /// Responses that failed an `expect` check (or, without `expect`, had a status >= 400).
    pub failures: u64,
    /// Attempts that got no response (see `errors`).
    pub errors: u64,
    /// Requests per second over the measured duration.
    pub rps: f64,
    /// Measured duration of the run in seconds.
    pub duration_s: f64,
    /// Completed scenario iterations.
    pub iterations: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    /// Highest number of concurrently active virtual users.
    pub max_users: u32,
    /// Latency over all responses.
    pub latency_ms: LatencyMs,
    /// The request row with the highest mean latency, as `scenario / name`.
    pub slowest_request: Option<String>,
    /// Distribution of all response latencies in log-spaced buckets (10 per decade), from the
    /// first to the last non-empty bucket; for the report's histogram chart.
    #[serde(default)]
    pub latency_histogram: Vec<LatencyBucket>,
    /// Open model: iterations due that never started (no free virtual user at `max_users`).
    #[serde(default)]
    pub dropped_iterations: u64,
    /// Iterations cut off by a stop (ramp-down or end past `graceful_stop`, a limit, Ctrl-C).
    #[serde(default)]
    pub interrupted_iterations: u64,
    /// Open model: how late iterations started after their scheduled instant. A large lag means
    /// the load generator itself was overloaded. `None` when no open-model iteration ran.
    #[serde(default)]
    pub scheduler_lag_ms: Option<LagMs>,
}

/// Responses whose latency fell in `(previous bucket's le_ms, le_ms]` (the first bucket also
/// holds everything faster).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LatencyBucket {
    /// Upper bound of the bucket, in milliseconds (inclusive).
    pub le_ms: f64,
    pub count: u64,
}

/// Stats for one request row.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RequestRow {
    pub scenario: String,
    pub name: String,
    pub method: String,
    pub requests: u64,
    pub successes: u64,
    pub failures: u64,
    pub errors: u64,
    pub rps: f64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub latency_ms: LatencyMs,
    /// Service time: from the actual send of each request to the end of its response. Equal to
    /// `latency_ms` in the closed model; in the open model `latency_ms` also counts the time a
    /// request waited past its scheduled send (coordinated omission corrected).
    #[serde(default)]
    pub service_time_ms: LatencyMs,
    /// Responses by HTTP status code.
    pub status_codes: BTreeMap<String, u64>,
    /// Transport errors by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Connect, TLS handshake and time-to-first-byte figures of the responses.
    #[serde(default)]
    pub timings_ms: RequestTimingsMs,
}

/// Phases of the responses of one request row, in milliseconds. They are nested: each runs from
/// the start of the request, like `latency_ms`, so `connect + tls <= ttfb <= latency` for every
/// request. `connect` and `tls` only count requests that opened a connection (all zero when none
/// did, e.g. every request reused a keep-alive connection, or for `tls` over plain HTTP).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RequestTimingsMs {
    /// Name resolution + TCP connect of the connections a request opened.
    #[serde(default)]
    pub connect: LatencyMs,
    /// TLS handshake of the connections a request opened.
    #[serde(default)]
    pub tls: LatencyMs,
    /// Time to first byte: from the start of the request to its (final) response head.
    #[serde(default)]
    pub ttfb: LatencyMs,
    /// How many requests opened a connection (the sample count of `connect`).
    #[serde(default)]
    pub connections_opened: u64,
}

/// Transport errors of one kind.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErrorRow {
    /// `connect_refused`, `connect_timeout`, `dns`, `tls`, `timeout`, `reset`, `bad_response`, `io`,
    /// `script` (a script step failed) or `unset_variable` (a request not sent: a variable is unset).
    pub kind: String,
    pub count: u64,
    /// One message of this kind, as received.
    pub sample: String,
    /// The request row (`scenario / name`) the sample came from.
    pub sample_request: String,
}

/// Failures of one check on one request row.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckRow {
    pub scenario: String,
    pub request: String,
    /// The check, e.g. `status in [200, 201]`.
    pub check: String,
    pub count: u64,
    /// What was received the first time it failed.
    pub sample: String,
}

/// Percentiles of one second, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimelineLatency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// One second of the run.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimelinePoint {
    /// Seconds since the start: this point covers `[second, second + 1)`.
    pub second: u32,
    pub requests: u64,
    pub failures: u64,
    pub errors: u64,
    /// Active virtual users at the end of the second.
    pub users: u32,
    pub latency_ms: TimelineLatency,
    /// Transport errors of this second by kind (kinds with none are left out).
    #[serde(default)]
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Open model: iterations due in this second that never started.
    #[serde(default)]
    pub dropped_iterations: u64,
    /// Increments of custom counters in this second, by name; counters with none are left out,
    /// and so is the field when there are none. Only the first 20 counters of a run (by first
    /// increment) are kept per second; `warnings` says when there were more.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_counters: BTreeMap<String, f64>,
}

impl RunResult {
    /// The JSON Schema of this format, pretty-printed.
    pub fn json_schema() -> String {
        let schema = schemars::schema_for!(RunResult);
        let mut s = serde_json::to_string_pretty(&schema).expect("schema serializes");
        s.push('\n');
        s
    }
}
