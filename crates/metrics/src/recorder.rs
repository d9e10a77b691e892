//! Interval recorders and the snapshots they produce.
//!
//! A recorder holds one [`StepStats`] per request row for the current interval (one second). At the
//! end of the interval its contents are merged into a [`Snapshot`] and the recorder is reset in place
//! (keeping its allocations). Snapshots merge by addition, in any order, so the statistics of a
//! distributed run are exactly those of one machine that saw every request.

use crate::custom::{CustomSet, now_ns};
use crate::outcome::{ErrorKind, Outcome};
use crate::phases::{PhaseStats, Timings};
use hdrhistogram::Histogram;

/// Index of a request row (a distinct `(scenario, name, method)`) in the run's key table.
pub type StepId = u32;

/// Identity of one request row: stats are grouped by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestKey {
    pub scenario: String,
    pub name: String,
    pub method: String,
}

/// Largest latency the histograms track before clamping: one hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds with 3 significant digits. It grows with the largest value
/// seen, so a histogram of fast requests stays small.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant digits is a valid precision")
}

/// How many distinct failed-check names and error samples a row keeps per interval; further distinct
/// names are still counted in `failures`, under the last slot's name.
const MAX_CHECK_NAMES: usize = 32;

/// Counts for one failed check on one request row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckCount {
    pub check: String,
    pub count: u64,
    /// What was received the first time this check failed in the interval.
    pub sample: String,
}

/// Everything recorded for one request row over some span of time.
#[derive(Clone, Debug)]
pub struct StepStats {
    /// Every attempt: responses plus transport errors.
    pub requests: u64,
    /// Responses that failed an `expect` check.
    pub failures: u64,
    /// Attempts that got no response, by [`ErrorKind::index`].
    pub errors: [u64; ErrorKind::COUNT],
    /// First message seen for each error kind.
    pub error_samples: [Option<String>; ErrorKind::COUNT],
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Response latency in microseconds (responses only, successes and failed checks alike). In
    /// the open model it is measured from when the request should have been sent (see
    /// [`Outcome::Response`]).
    pub latency: Histogram<u64>,
    /// Service time in microseconds: from the actual send to the end of the response.
    pub service: Histogram<u64>,
    /// Responses by status code, sorted by code.
    pub status: Vec<(u16, u64)>,
    /// Failed checks by name.
    pub checks: Vec<CheckCount>,
    /// Connect, TLS and time-to-first-byte histograms (responses only); `None` until a response
    /// with timings is recorded.
    pub phases: Option<Box<PhaseStats>>,
}

impl Default for StepStats {
    fn default() -> Self {
        StepStats {
            requests: 0,
            failures: 0,
            errors: [0; ErrorKind::COUNT],
            error_samples: Default::default(),
            bytes_in: 0,
            bytes_out: 0,
            latency: new_histogram(),
            service: new_histogram(),
            status: Vec::new(),
            checks: Vec::new(),
            phases: None,
        }
    }
}

impl StepStats {
    /// Total transport errors.
    pub fn error_count(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.requests == 0
    }

    /// Records one outcome.
    pub fn record(&mut self, outcome: &Outcome<'_>) {
        self.record_with(outcome, true);
    }

    /// Records one outcome, its service time only when `service` is set (see [`Row`]).
    fn record_with(&mut self, outcome: &Outcome<'_>, service: bool) {
        self.requests += 1;
        match *outcome {
            Outcome::Response {
                status,
                latency_us,
                service_us,
                bytes_in,
                bytes_out,
                failed_check,
            } => {
                self.bytes_in += bytes_in;
                self.bytes_out += bytes_out;
                record_clamped(&mut self.latency, latency_us);
                if service {
                    record_clamped(&mut self.service, service_us);
                }
                self.add_status(status, 1);
                if let Some(failure) = failed_check {
                    self.failures += 1;
                    self.add_check(&failure.check, 1, || failure.detail.clone());
                }
            }
            Outcome::Failed { failed_check } => {
                self.failures += 1;
                self.add_check(&failed_check.check, 1, || failed_check.detail.clone());
            }
            Outcome::Error {
                kind,
                bytes_out,
                message,
            } => {
                self.bytes_out += bytes_out;
                self.errors[kind.index()] += 1;
                let sample = &mut self.error_samples[kind.index()];
                if sample.is_none() {
                    *sample = Some(message.to_string());
                }
            }
        }
    }

    /// Adds `count` failures of the check `name`; `sample` is taken when the name is new to the
    /// row. Past 32 distinct names, further ones are counted under the last.
    pub fn add_check(&mut self, name: &str, count: u64, sample: impl FnOnce() -> String) {
        if let Some(c) = self.checks.iter_mut().find(|c| c.check == name) {
            c.count += count;
        } else if self.checks.len() < MAX_CHECK_NAMES {
            self.checks.push(CheckCount {
                check: name.to_owned(),
                count,
                sample: sample(),
            });
        } else if let Some(last) = self.checks.last_mut() {
            last.count += count;
        }
    }

    /// Adds `n` responses with status `code` (the list stays sorted by code).
    pub fn add_status(&mut self, code: u16, n: u64) {
        match self.status.binary_search_by_key(&code, |&(c, _)| c) {
            Ok(i) => self.status[i].1 += n,
            Err(i) => self.status.insert(i, (code, n)),
        }
    }

    /// Adds `other` into `self`. Exact: histograms are added bucket by bucket.
    pub fn merge(&mut self, other: &StepStats) {
        self.requests += other.requests;
        self.failures += other.failures;
        for (i, n) in other.errors.iter().enumerate() {
            self.errors[i] += n;
            if self.error_samples[i].is_none() {
                self.error_samples[i].clone_from(&other.error_samples[i]);
            }
        }
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.latency
            .add(&other.latency)
            .expect("auto-resizing histograms always accept each other");
        self.service
            .add(&other.service)
            .expect("auto-resizing histograms always accept each other");
        for &(code, n) in &other.status {
            self.add_status(code, n);
        }
        for c in &other.checks {
            self.add_check(&c.check, c.count, || c.sample.clone());
        }
        if let Some(phases) = &other.phases {
            self.phases
                .get_or_insert_with(Default::default)
                .merge(phases);
        }
    }

    /// Clears all counts, keeping allocations.
    pub fn reset(&mut self) {
        self.requests = 0;
        self.failures = 0;
        self.errors = [0; ErrorKind::COUNT];
        self.error_samples = Default::default();
        self.bytes_in = 0;
        self.bytes_out = 0;
        self.latency.reset();
        self.service.reset();
        self.status.clear();
        self.checks.clear();
        if let Some(phases) = &mut self.phases {
            phases.reset();
        }
    }

    /// Records the phase timings of one response.
    pub fn record_timings(&mut self, timings: &Timings) {
        self.phases
            .get_or_insert_with(Default::default)
            .record(timings);
    }
}

/// Records a microsecond value, clamped to `[1, MAX_LATENCY_US]`.
fn record_clamped(h: &mut Histogram<u64>, us: u64) {
    h.record(us.clamp(1, MAX_LATENCY_US))
        .expect("auto-resizing histograms accept any clamped value");
}

/// Iteration counts of one scenario (by its index in the plan) over some span of time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScenarioCounts {
    /// Iterations completed.
    pub iterations: u64,
    /// Open model: scheduled iterations that never started because no virtual user was free
    /// and the pool was at `max_users`.
    pub dropped: u64,
    /// Iterations started but cut off by a stop (a ramp-down or the end whose `graceful_stop`
    /// ran out, a limit, or Ctrl-C).
    pub interrupted: u64,
    /// Iterations that took longer than the scenario's `pacing` interval.
    pub pacing_overruns: u64,
}

impl ScenarioCounts {
    fn add(&mut self, other: &ScenarioCounts) {
        self.iterations += other.iterations;
        self.dropped += other.dropped;
        self.interrupted += other.interrupted;
        self.pacing_overruns += other.pacing_overruns;
    }
}

/// Adds `from` into `into`, index by index, growing `into` as needed.
pub(crate) fn add_scenario_counts(into: &mut Vec<ScenarioCounts>, from: &[ScenarioCounts]) {
    if into.len() < from.len() {
        into.resize(from.len(), ScenarioCounts::default());
    }
    for (a, b) in into.iter_mut().zip(from) {
        a.add(b);
    }
}

/// One request row of an [`IntervalRecorder`].
///
/// In the closed model a response's service time is its latency, so recording both histograms
/// would record every value twice (~100 instructions per request). While every service time of
/// the interval equals its latency, only the latency is recorded, and the latencies stand for
/// the service times when the row is drained; the first service time that differs (the open
/// model) copies the latencies so far into the service histogram, and from then on both are
/// recorded.
#[derive(Debug, Default)]
struct Row {
    stats: StepStats,
    /// A service time of this interval differed from its latency: `stats.service` is complete.
    service_apart: bool,
}

impl Row {
    fn record(&mut self, outcome: &Outcome<'_>) {
        if let Outcome::Response {
            latency_us,
            service_us,
            ..
        } = *outcome
            && !self.service_apart
            && latency_us != service_us
        {
            self.stats
                .service
                .add(&self.stats.latency)
                .expect("auto-resizing histograms always accept each other");
            self.service_apart = true;
        }
        self.stats.record_with(outcome, self.service_apart);
    }

    /// Adds the row into `into` and resets it.
    fn drain_into(&mut self, into: &mut StepStats) {
        into.merge(&self.stats);
        if !self.service_apart {
            into.service
                .add(&self.stats.latency)
                .expect("auto-resizing histograms always accept each other");
        }
        self.stats.reset();
        self.service_apart = false;
    }
}

/// Per-interval recorder: one [`StepStats`] per request row, created on first use, plus
/// iteration counts per scenario, the scheduler lag and the custom metrics.
#[derive(Debug)]
pub struct IntervalRecorder {
    steps: Vec<Option<Box<Row>>>,
    iterations: u64,
    scenarios: Vec<ScenarioCounts>,
    /// How late open-model iterations started, in microseconds.
    lag: Histogram<u64>,
    /// Counters, trends and gauges named by the scenario (see [`crate::custom`]).
    custom: CustomSet,
}

impl Default for IntervalRecorder {
    fn default() -> Self {
        IntervalRecorder {
            steps: Vec::new(),
            iterations: 0,
            scenarios: Vec::new(),
            lag: new_histogram(),
            custom: CustomSet::new(),
        }
    }
}

impl IntervalRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    fn scenario(&mut self, scenario: u32) -> &mut ScenarioCounts {
        let i = scenario as usize;
        if self.scenarios.len() <= i {
            self.scenarios.resize(i + 1, ScenarioCounts::default());
        }
        &mut self.scenarios[i]
    }

    /// Counts one completed iteration of `scenario` (also in the run's total).
    pub fn record_scenario_iteration(&mut self, scenario: u32) {
        self.iterations += 1;
        self.scenario(scenario).iterations += 1;
    }

    /// Counts `n` open-model iterations of `scenario` that were due but could not start.
    pub fn record_dropped(&mut self, scenario: u32, n: u64) {
        self.scenario(scenario).dropped += n;
    }

    /// Counts one iteration of `scenario` cut off by a stop.
    pub fn record_interrupted(&mut self, scenario: u32) {
        self.scenario(scenario).interrupted += 1;
    }

    /// Counts one iteration of `scenario` that overran its pacing interval.
    pub fn record_pacing_overrun(&mut self, scenario: u32) {
        self.scenario(scenario).pacing_overruns += 1;
    }

    /// Records how late an open-model iteration started (scheduled → actually started).
    pub fn record_lag(&mut self, lag_us: u64) {
        // 0 is a valid lag; the histogram's lowest bucket holds it.
        self.lag
            .record(lag_us.min(MAX_LATENCY_US))
            .expect("auto-resizing histograms accept any clamped value");
    }

    /// Records one request outcome for row `step`.
    pub fn record(&mut self, step: StepId, outcome: &Outcome<'_>) {
        let i = step as usize;
        if self.steps.len() <= i {
            self.steps.resize_with(i + 1, || None);
        }
        self.steps[i]
            .get_or_insert_with(Default::default)
            .record(outcome);
    }

    /// Records the phase timings of a response already recorded for row `step`.
    pub fn record_timings(&mut self, step: StepId, timings: &Timings) {
        let i = step as usize;
        if self.steps.len() <= i {
            self.steps.resize_with(i + 1, || None);
        }
        (self.steps[i].get_or_insert_with(Default::default).stats).record_timings(timings);
    }

    /// Counts one completed scenario iteration.
    pub fn record_iteration(&mut self) {
        self.iterations += 1;
    }

    /// Adds `delta` to the custom counter `name` (created on first use). A delta that is not
    /// finite is rejected and counted. See [`crate::custom`] for the name limit.
    pub fn add_counter(&mut self, name: &str, delta: f64) {
        self.custom.add_counter(name, delta);
    }

    /// Records `value` in the custom trend `name` (a distribution: count, min, max, mean,
    /// percentiles). Values must be finite and `>= 0`; others are rejected and counted.
    pub fn record_trend(&mut self, name: &str, value: f64) {
        self.custom.record_trend(name, value);
    }

    /// Sets the custom gauge `name` to `value` (finite, else rejected and counted), stamped with
    /// the wall clock so that merges across shards and agents keep the latest value.
    pub fn set_gauge(&mut self, name: &str, value: f64) {
        self.custom.set_gauge_at(name, value, now_ns());
    }

    /// [`set_gauge`](Self::set_gauge) with the caller's stamp (Unix ns, or any clock shared by
    /// every recorder of the run) instead of a clock read.
    pub fn set_gauge_at(&mut self, name: &str, value: f64, stamp_ns: u64) {
        self.custom.set_gauge_at(name, value, stamp_ns);
    }

    /// Merges everything recorded into `snapshot` and resets this recorder (keeping allocations).
    pub fn drain_into(&mut self, snapshot: &mut Snapshot) {
        for (i, slot) in self.steps.iter_mut().enumerate() {
            if let Some(row) = slot.as_deref_mut().filter(|r| !r.stats.is_empty()) {
                row.drain_into(snapshot.step_mut(i as StepId));
            }
        }
        snapshot.iterations += self.iterations;
        self.iterations = 0;
        for c in &self.scenarios {
            snapshot.dropped_iterations += c.dropped;
            snapshot.interrupted_iterations += c.interrupted;
        }
        add_scenario_counts(&mut snapshot.scenarios, &self.scenarios);
        self.scenarios.fill(ScenarioCounts::default());
        if !self.lag.is_empty() {
            snapshot
                .scheduler_lag
                .add(&self.lag)
                .expect("auto-resizing histograms always accept each other");
            self.lag.reset();
        }
        self.custom
            .drain_into(&mut snapshot.custom, snapshot.second);
    }
}

/// What happened during one interval (one second) of a run, as sent from an agent (or the in-process
/// engine) to the controller. Mergeable: two snapshots of the same second add up exactly.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Interval index: second `n` covers `[n, n+1)` seconds after the run's start.
    pub second: u32,
    /// Virtual users active at the end of the interval.
    pub users: u32,
    /// Scenario iterations completed in the interval.
    pub iterations: u64,
    /// Open-model iterations due in the interval that never started (no free virtual user).
    pub dropped_iterations: u64,
    /// Iterations cut off by a stop in the interval.
    pub interrupted_iterations: u64,
    /// Per scenario (by plan index; may be shorter than the plan when trailing ones are empty).
    pub scenarios: Vec<ScenarioCounts>,
    /// How late open-model iterations started, in microseconds (empty in the closed model).
    pub scheduler_lag: Histogram<u64>,
    /// Non-empty rows only, sorted by id.
    pub steps: Vec<(StepId, StepStats)>,
    /// Custom metrics updated in the interval (and names dropped past the limit).
    pub custom: CustomSet,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            second: 0,
            users: 0,
            iterations: 0,
            dropped_iterations: 0,
            interrupted_iterations: 0,
            scenarios: Vec::new(),
            scheduler_lag: new_histogram(),
            steps: Vec::new(),
            custom: CustomSet::new(),
        }
    }
}

impl Snapshot {
    pub fn new(second: u32) -> Self {
        Snapshot {
            second,
            ..Default::default()
        }
    }

    /// The stats of row `id`, inserted (empty) when absent.
    pub fn step_mut(&mut self, id: StepId) -> &mut StepStats {
        let i = match self.steps.binary_search_by_key(&id, |(k, _)| *k) {
            Ok(i) => i,
            Err(i) => {
                self.steps.insert(i, (id, StepStats::default()));
                i
            }
        };
        &mut self.steps[i].1
    }

    /// Adds another snapshot of the same interval (e.g. from another agent).
    pub fn merge(&mut self, other: &Snapshot) {
        self.users += other.users;
        self.iterations += other.iterations;
        self.dropped_iterations += other.dropped_iterations;
        self.interrupted_iterations += other.interrupted_iterations;
        add_scenario_counts(&mut self.scenarios, &other.scenarios);
        self.scheduler_lag
            .add(&other.scheduler_lag)
            .expect("auto-resizing histograms always accept each other");
        for (id, stats) in &other.steps {
            self.step_mut(*id).merge(stats);
        }
        self.custom.merge(&other.custom);
    }

    /// Total attempts across rows.
    pub fn requests(&self) -> u64 {
        self.steps.iter().map(|(_, s)| s.requests).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CheckFailure;

    fn response(latency_us: u64) -> Outcome<'static> {
        Outcome::Response {
            status: 200,
            latency_us,
            service_us: latency_us,
            bytes_in: 100,
            bytes_out: 10,
            failed_check: None,
        }
    }

    #[test]
    fn merged_snapshots_equal_one_recorder_that_saw_everything() {
        let mut all = IntervalRecorder::new();
        let mut parts = [
            IntervalRecorder::new(),
            IntervalRecorder::new(),
            IntervalRecorder::new(),
        ];
        for i in 0..3000u64 {
            let latency = (i * 7919) % 250_000 + 1;
            let step = (i % 4) as StepId;
            all.record(step, &response(latency));
            parts[(i % 3) as usize].record(step, &response(latency));
        }
        let mut expected = Snapshot::new(0);
        all.drain_into(&mut expected);
        let mut merged = Snapshot::new(0);
        for p in &mut parts {
            let mut s = Snapshot::new(0);
            p.drain_into(&mut s);
            merged.merge(&s);
        }
        assert_eq!(merged.steps.len(), 4);
        for ((ida, a), (idb, b)) in expected.steps.iter().zip(&merged.steps) {
            assert_eq!(ida, idb);
            assert_eq!(a.requests, b.requests);
            assert_eq!(a.bytes_in, b.bytes_in);
            for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
                assert_eq!(
                    a.latency.value_at_quantile(q),
                    b.latency.value_at_quantile(q)
                );
            }
        }
    }

    #[test]
    fn errors_and_failed_checks_are_counted_apart_with_samples() {
        let mut r = IntervalRecorder::new();
        let failure = CheckFailure {
            check: "status in [200]".into(),
            detail: "got 500".into(),
        };
        r.record(
            0,
            &Outcome::Response {
                status: 500,
                latency_us: 1000,
                service_us: 900,
                bytes_in: 5,
                bytes_out: 5,
                failed_check: Some(&failure),
            },
        );
        r.record(
            0,
            &Outcome::Error {
                kind: ErrorKind::ConnectRefused,
                bytes_out: 0,
                message: &"connection refused",
            },
        );
        r.record(
            0,
            &Outcome::Error {
                kind: ErrorKind::ConnectRefused,
                bytes_out: 0,
                message: &"second message is not kept",
            },
        );
        let mut s = Snapshot::new(0);
        r.drain_into(&mut s);
        let stats = &s.steps[0].1;
        assert_eq!(stats.requests, 3);
        assert_eq!(stats.failures, 1);
        assert_eq!(stats.error_count(), 2);
        assert_eq!(stats.errors[ErrorKind::ConnectRefused.index()], 2);
        assert_eq!(
            stats.error_samples[ErrorKind::ConnectRefused.index()].as_deref(),
            Some("connection refused")
        );
        assert_eq!(stats.checks[0].count, 1);
        assert_eq!(stats.checks[0].sample, "got 500");
        assert_eq!(stats.status, vec![(500, 1)]);
        assert_eq!(stats.latency.len(), 1, "errors carry no latency");
    }

    #[test]
    fn drain_resets_the_recorder() {
        let mut r = IntervalRecorder::new();
        r.record(2, &response(10));
        r.record_iteration();
        let mut s = Snapshot::new(0);
        r.drain_into(&mut s);
        assert_eq!(s.iterations, 1);
        let mut s2 = Snapshot::new(1);
        r.drain_into(&mut s2);
        assert!(s2.steps.is_empty());
        assert_eq!(s2.iterations, 0);
    }

    /// Service times equal to their latencies are not recorded twice, yet every drained
    /// interval has the service histogram a plain [`StepStats`] would have: equal all along,
    /// differing from the first response on, differing midway, and again after a drain.
    #[test]
    fn service_times_drain_as_recorded_whether_or_not_they_equal_the_latencies() {
        let open = |latency_us, service_us| Outcome::Response {
            status: 200,
            latency_us,
            service_us,
            bytes_in: 1,
            bytes_out: 1,
            failed_check: None,
        };
        let intervals: [Vec<(u64, u64)>; 4] = [
            (1..=500).map(|i| (i * 37, i * 37)).collect(),
            (1..=500).map(|i| (i * 37 + 900, i * 37)).collect(),
            (1..=500)
                .map(|i| (i * 37 + if i > 250 { 5_000 } else { 0 }, i * 37))
                .collect(),
            (1..=500).map(|i| (i * 11, i * 11)).collect(),
        ];
        let mut recorder = IntervalRecorder::new();
        for (second, values) in intervals.iter().enumerate() {
            let mut plain = StepStats::default();
            for &(latency, service) in values {
                recorder.record(3, &open(latency, service));
                plain.record(&open(latency, service));
            }
            let mut snapshot = Snapshot::new(second as u32);
            recorder.drain_into(&mut snapshot);
            let row = &snapshot.steps[0].1;
            assert_eq!(row.service, plain.service, "second {second}: service");
            assert_eq!(row.latency, plain.latency, "second {second}: latency");
            assert_eq!(row.service.len(), 500, "second {second}");
        }
    }
}
