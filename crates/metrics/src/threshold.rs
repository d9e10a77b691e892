//! Thresholds: pass/fail criteria evaluated over the aggregator's state, live (each closed
//! second, to abort a run that has certainly failed) and at the end (into
//! [`RunResult::thresholds`]).
//!
//! The scenario crate validates thresholds as written; the controller translates them into
//! [`ThresholdSpec`]s (row names resolved to row indices), so this crate stays independent of the
//! file format.
//!
//! # Values
//!
//! In the metric's unit: latency in ms (responses only), rates in percent (`error_rate` =
//! transport errors / requests, `failure_rate` = failed checks / requests, `checks.pass_rate` =
//! responses passing their checks / responses), `rps` per second of run time, counts as counts
//! (`dropped_iterations`: open-model iterations that could not start, of the run or of one
//! scenario), custom metrics as plain numbers (see [`crate::threshold_custom`]).
//! **No data is a failure**: a scope with no request (or, for latency and pass rate, no
//! response) has no value and fails with a message saying so. `dropped_iterations` always has a
//! value (0 when nothing was dropped); custom metrics say when they have none.
//!
//! # When a run is aborted
//!
//! A threshold with `abort` stops the run once it has *certainly* failed, and not before its
//! `delay`:
//! * with a window: as soon as one full window violates the bound (that window stays in the
//!   verdict whatever follows);
//! * over the whole run, for a value that can only grow (`requests`, `iterations`,
//!   `dropped_iterations`, `latency.max`, a trend's `max` and `count`, a gauge's `max`, the sum
//!   of a counter whose adds are all `>= 0`) above an upper bound, or only shrink
//!   (`latency.min`, a trend's or gauge's `min`) below a lower bound: as soon as it crosses it;
//!   crossing the other way is never certain before the end, so it never aborts;
//! * over the whole run, for the sum of a counter that may be added a negative value (a
//!   templated value, a script): never, since it can go either way until the end;
//! * over the whole run, for every other value (percentiles, means, rates, rps, a counter's
//!   rate, a gauge's last value, which can still recover): when the bound is violated at an
//!   evaluation after `delay`. `delay` is the warm-up during which such a value is not
//!   trusted.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::aggregate::Aggregator;
use crate::recorder::{StepId, StepStats, new_histogram};
use crate::result::{RunMeta, RunResult, RunStatus, ThresholdResult};
pub use crate::threshold_custom::{CustomSpec, CustomStat};
use crate::threshold_window::WindowTrack;

#[cfg(test)]
mod custom_tests;
#[cfg(test)]
mod tests;

/// What a threshold measures.
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    Latency(LatencyStat),
    ErrorRate,
    FailureRate,
    ChecksPassRate,
    Rps,
    Requests,
    /// Whole run only: iterations are not counted per row.
    Iterations,
    /// Open-model iterations that could not start: of the scenario with this plan index (the
    /// index of [`crate::Snapshot::scenarios`]), or of the whole run. Not per row.
    DroppedIterations {
        scenario: Option<u32>,
    },
    /// A custom metric, run-wide (not per row).
    Custom(CustomSpec),
}

/// How a whole-run value can move as the run goes on: what makes a violation certain (see the
/// module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Course {
    /// Only grows: above an upper bound it has certainly failed.
    Grows,
    /// Only shrinks: below a lower bound it has certainly failed.
    Shrinks,
    /// Settles as data comes in: a violation after `delay` aborts.
    Settles,
    /// Goes either way until the end: never certain.
    Wanders,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LatencyStat {
    /// In `(0, 100]`.
    Percentile(f64),
    Mean,
    Min,
    Max,
}

/// How the value compares with the bound for the threshold to pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Op::Lt => value < bound,
            Op::Le => value <= bound,
            Op::Gt => value > bound,
            Op::Ge => value >= bound,
        }
    }

    /// Whether the bound is an upper one (so larger values are worse).
    pub(crate) fn is_upper(self) -> bool {
        matches!(self, Op::Lt | Op::Le)
    }
}

/// One threshold, ready to evaluate.
#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdSpec {
    /// The threshold in one line, e.g. `latency.p99 <= 800ms [request: checkout]`.
    pub name: String,
    /// e.g. `latency.p99`.
    pub metric_name: String,
    /// `all`, `scenario: NAME`, `request: NAME`.
    pub scope: String,
    /// e.g. `<= 800ms`.
    pub condition: String,
    pub metric: Metric,
    /// The request rows measured; `None` for all of them.
    pub rows: Option<Vec<StepId>>,
    pub op: Op,
    /// In the metric's unit.
    pub bound: f64,
    /// Evaluate in every window of this many seconds instead of over the whole run.
    pub window_s: Option<u32>,
    pub abort: bool,
    /// No abort before this much run time.
    pub delay: Duration,
}

impl ThresholdSpec {
    pub(crate) fn measures(&self, row: usize) -> bool {
        self.rows
            .as_ref()
            .is_none_or(|rows| rows.iter().any(|r| *r as usize == row))
    }
}

/// Counts of one scope over some span (a second, a window, the run).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub requests: u64,
    pub failures: u64,
    pub errors: u64,
    pub iterations: u64,
    /// Dropped iterations of the spec's scope (`dropped_iterations` only).
    pub dropped: u64,
    /// Only for latency metrics.
    pub latency: Option<Histogram<u64>>,
}

impl Tally {
    pub fn new(metric: &Metric) -> Tally {
        Tally {
            latency: matches!(metric, Metric::Latency(_)).then(new_histogram),
            ..Tally::default()
        }
    }

    pub fn add(&mut self, stats: &StepStats) {
        self.requests += stats.requests;
        self.failures += stats.failures;
        self.errors += stats.error_count();
        if let Some(h) = &mut self.latency {
            h.add(&stats.latency).expect("auto-resizing histograms");
        }
    }

    fn responses(&self) -> u64 {
        self.requests.saturating_sub(self.errors)
    }
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Metric {
    /// The value over `tally`, spanning `seconds`; `None` without data. In a window (`window`),
    /// counts and rps are 0 rather than missing when nothing happened. Custom metrics are not
    /// in a tally (see [`CustomSpec::run_value`]): `None`.
    pub(crate) fn value(&self, t: &Tally, seconds: f64, window: bool) -> Option<f64> {
        let count = |n: u64| (n > 0 || window).then_some(n as f64);
        match self {
            Metric::Latency(stat) => {
                let h = t.latency.as_ref().filter(|h| !h.is_empty())?;
                Some(match stat {
                    LatencyStat::Percentile(p) => ms(h.value_at_quantile(p / 100.0)),
                    LatencyStat::Mean => h.mean() / 1000.0,
                    LatencyStat::Min => ms(h.min()),
                    LatencyStat::Max => ms(h.max()),
                })
            }
            Metric::ErrorRate => percent(t.errors, t.requests),
            Metric::FailureRate => percent(t.failures, t.requests),
            Metric::ChecksPassRate => {
                percent(t.responses() - t.failures.min(t.responses()), t.responses())
            }
            Metric::Rps => count(t.requests).map(|n| n / seconds.max(1e-9)),
            Metric::Requests => count(t.requests),
            Metric::Iterations => count(t.iterations),
            Metric::DroppedIterations { .. } => Some(t.dropped as f64),
            Metric::Custom(_) => None,
        }
    }

    /// How the whole-run value can move as a run goes on.
    pub(crate) fn course(&self) -> Course {
        match self {
            Metric::Requests
            | Metric::Iterations
            | Metric::DroppedIterations { .. }
            | Metric::Latency(LatencyStat::Max) => Course::Grows,
            Metric::Latency(LatencyStat::Min) => Course::Shrinks,
            Metric::Custom(c) => c.stat.course(),
            _ => Course::Settles,
        }
    }

    /// A count of the scenario's dropped iterations in a snapshot (`dropped_iterations` only).
    pub(crate) fn dropped_in(&self, snapshot: &crate::Snapshot) -> u64 {
        match self {
            Metric::DroppedIterations { scenario: None } => snapshot.dropped_iterations,
            Metric::DroppedIterations { scenario: Some(i) } => (snapshot.scenarios)
                .get(*i as usize)
                .map_or(0, |c| c.dropped),
            _ => 0,
        }
    }
}

/// The thresholds of a run and what they need between evaluations.
#[derive(Debug, Default)]
pub(crate) struct ThresholdState {
    specs: Vec<ThresholdSpec>,
    /// One per spec, `Some` for windowed ones.
    windows: Vec<Option<WindowTrack>>,
    /// The threshold that stopped the run, and when (run time).
    aborted_by: Option<(usize, Duration)>,
}

impl ThresholdState {
    /// Feeds one closed second (called by the aggregator for every timeline point).
    pub fn observe(&mut self, snapshot: &crate::Snapshot) {
        for track in self.windows.iter_mut().flatten() {
            track.push(snapshot);
        }
    }
}

impl Aggregator {
    /// Sets the thresholds to evaluate. Call it before the first snapshot: windows only see the
    /// seconds closed after it.
    pub fn set_thresholds(&mut self, specs: Vec<ThresholdSpec>) {
        let windows = specs.iter().map(WindowTrack::for_spec).collect();
        self.thresholds = ThresholdState {
            specs,
            windows,
            aborted_by: None,
        };
    }

    /// The whole-run tally of a spec's scope.
    fn tally(&self, spec: &ThresholdSpec) -> Tally {
        let mut t = Tally::new(&spec.metric);
        for (i, stats) in self.totals.iter().enumerate() {
            if spec.measures(i) {
                t.add(stats);
            }
        }
        t.iterations = self.iterations;
        if let Metric::DroppedIterations { scenario } = spec.metric {
            t.dropped = self.iteration_totals.dropped(scenario);
        }
        t
    }

    /// A spec's whole-run value over `seconds`, and why there is none.
    fn run_value(&self, spec: &ThresholdSpec, seconds: f64) -> Result<f64, String> {
        let tally = self.tally(spec);
        match &spec.metric {
            Metric::Custom(c) => {
                let metric = self.custom.run().get(&c.name, c.stat.kind());
                let ran = tally.requests > 0 || self.iterations > 0;
                c.run_value(metric, seconds, ran).ok_or_else(|| c.no_data())
            }
            metric => (metric.value(&tally, seconds, false)).ok_or_else(|| no_data(spec, &tally)),
        }
    }

    /// Called after each closed second with the run time so far: the first threshold with
    /// `abort` that has certainly failed (see the module docs), as a failed result. It is
    /// remembered, so the final result marks it and the run status becomes `aborted`; later
    /// calls return `None`.
    pub fn check_abort(&mut self, elapsed: Duration) -> Option<ThresholdResult> {
        if self.thresholds.aborted_by.is_some() {
            return None;
        }
        let full_seconds = elapsed.as_secs() as u32;
        let state = &self.thresholds;
        let doomed = state.specs.iter().enumerate().find_map(|(i, spec)| {
            if !spec.abort || elapsed < spec.delay {
                return None;
            }
            let value = match &state.windows[i] {
                Some(track) => track.first_violation(full_seconds)?,
                None => {
                    let v = self.run_value(spec, elapsed.as_secs_f64()).ok()?;
                    let certain = match spec.metric.course() {
                        Course::Grows => spec.op.is_upper(),
                        Course::Shrinks => !spec.op.is_upper(),
                        Course::Settles => true,
                        Course::Wanders => false,
                    };
                    (!spec.op.holds(v, spec.bound) && certain).then_some(v)?
                }
            };
            Some((i, value))
        });
        let (i, value) = doomed?;
        self.thresholds.aborted_by = Some((i, elapsed));
        let spec = &self.thresholds.specs[i];
        Some(result(
            spec,
            Some(value),
            false,
            Some(aborted_message(elapsed)),
            true,
        ))
    }

    /// Closes every second, evaluates the thresholds over the run of `duration_s` and builds
    /// the result with them (see [`Aggregator::finish`]). When a threshold aborted the run, the
    /// status is `aborted`.
    pub fn finish_with_thresholds(mut self, meta: RunMeta, duration_s: f64) -> RunResult {
        self.close_through(u32::MAX - 1);
        let thresholds = self.evaluate(duration_s);
        let aborted = self.thresholds.aborted_by.is_some();
        let mut result = self.finish(meta, duration_s);
        result.thresholds = thresholds;
        if aborted {
            result.run.status = RunStatus::Aborted;
        }
        result
    }

    fn evaluate(&self, duration_s: f64) -> Vec<ThresholdResult> {
        // The last second of a run cut short is partial: windows end at the last whole one.
        let full_seconds = (duration_s + 0.01).floor().max(0.0) as u32;
        let state = &self.thresholds;
        (state.specs.iter().enumerate())
            .map(|(i, spec)| {
                let (value, mut message) = match self.run_value(spec, duration_s) {
                    Err(why) => (None, Some(why)),
                    Ok(v) => match &state.windows[i] {
                        None => (Some(v), None),
                        Some(track) => track.verdict(full_seconds, duration_s),
                    },
                };
                let passed = value.is_some_and(|v| spec.op.holds(v, spec.bound));
                match state.aborted_by {
                    Some((a, at)) if a == i => {
                        result(spec, value, false, Some(aborted_message(at)), true)
                    }
                    _ => {
                        if passed {
                            message = None;
                        }
                        result(spec, value, passed, message, false)
                    }
                }
            })
            .collect()
    }
}

fn aborted_message(at: Duration) -> String {
    format!(
        "failed for certain: aborted the run at {:.1}s",
        at.as_secs_f64()
    )
}

fn result(
    spec: &ThresholdSpec,
    value: Option<f64>,
    passed: bool,
    message: Option<String>,
    aborted_run: bool,
) -> ThresholdResult {
    ThresholdResult {
        name: spec.name.clone(),
        metric: spec.metric_name.clone(),
        scope: spec.scope.clone(),
        condition: spec.condition.clone(),
        value: value.map(|v| (v * 1000.0).round() / 1000.0),
        passed,
        aborted_run,
        message,
    }
}

fn no_data(spec: &ThresholdSpec, tally: &Tally) -> String {
    if spec.metric == Metric::Iterations {
        return "no data: no iteration completed".to_owned();
    }
    if tally.requests == 0 {
        return match spec.rows {
            None => "no data: no request was made".to_owned(),
            Some(_) => "no data: no request matched".to_owned(),
        };
    }
    "no data: no response (every request failed without one)".to_owned()
}
