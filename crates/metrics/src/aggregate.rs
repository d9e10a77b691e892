//! Turns a stream of [`Snapshot`]s into live figures and, at the end, a [`RunResult`].
//!
//! Snapshots of the same second may arrive from several sources (agents) in any order; they are
//! merged by addition and a second is turned into a timeline point when it is closed
//! ([`Aggregator::close_through`]). Totals are merged histograms, never averaged percentiles.

use crate::ErrorKind;
use crate::custom_totals::CustomTotals;
use crate::iterations::IterationTotals;
use crate::recorder::{RequestKey, Snapshot, StepStats, new_histogram};
use crate::result::{
    CheckRow, ErrorRow, LatencyBucket, LatencyMs, RESULT_SCHEMA_VERSION, RequestRow, RunMeta,
    RunResult, Summary, TimelineLatency, TimelinePoint,
};
use hdrhistogram::Histogram;
use std::collections::{BTreeMap, VecDeque};

/// Seconds in the sliding window of the live figures.
const LIVE_WINDOW: usize = 5;

/// Figures for a live progress line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveStats {
    /// Seconds closed so far.
    pub seconds: u32,
    /// Active users at the end of the last closed second.
    pub users: u32,
    pub requests: u64,
    pub failures: u64,
    pub errors: u64,
    /// Requests per second over the last few seconds.
    pub rps: f64,
    /// p95 latency over the last few seconds, in ms (`None` before the first response).
    pub p95_ms: Option<f64>,
}

/// One closed second kept for the live window.
struct WindowSecond {
    requests: u64,
    latency: Histogram<u64>,
}

/// Merges snapshots into run totals and a per-second timeline.
pub struct Aggregator {
    keys: Vec<RequestKey>,
    /// The plan's scenarios, in order (see [`Aggregator::set_scenario_names`]).
    scenario_names: Option<Vec<String>>,
    pub(crate) totals: Vec<StepStats>,
    pub(crate) iterations: u64,
    max_users: u32,
    open: BTreeMap<u32, Snapshot>,
    timeline: Vec<TimelinePoint>,
    window: VecDeque<WindowSecond>,
    /// Thresholds to evaluate, with their sliding windows (see `threshold.rs`).
    pub(crate) thresholds: crate::threshold::ThresholdState,
    /// Dropped and interrupted iterations, scheduler lag, per-scenario counts.
    pub(crate) iteration_totals: IterationTotals,
    /// Custom metrics: run totals and the timeline's counters.
    pub(crate) custom: CustomTotals,
}

impl Aggregator {
    /// Names the plan's scenarios in order: scenario `i` of the snapshots' per-scenario counts is
    /// `names[i]`. Without it they are read off the request rows, which is only right when no row
    /// comes before the scenarios' (`setup` steps do).
    pub fn set_scenario_names(&mut self, names: Vec<String>) {
        self.scenario_names = Some(names);
    }

    /// `keys` is the run's request-row table: a snapshot's `StepId` indexes it.
    pub fn new(keys: Vec<RequestKey>) -> Self {
        let totals = keys.iter().map(|_| StepStats::default()).collect();
        Aggregator {
            keys,
            scenario_names: None,
            totals,
            iterations: 0,
            max_users: 0,
            open: BTreeMap::new(),
            timeline: Vec::new(),
            window: VecDeque::with_capacity(LIVE_WINDOW + 1),
            thresholds: Default::default(),
            iteration_totals: IterationTotals::default(),
            custom: CustomTotals::default(),
        }
    }

    /// Adds one snapshot. Rows with an id outside the key table are a programming error upstream
    /// and are counted under the last row rather than dropped.
    pub fn ingest(&mut self, snapshot: &Snapshot) {
        for (id, stats) in &snapshot.steps {
            let i = (*id as usize).min(self.totals.len().saturating_sub(1));
            if let Some(total) = self.totals.get_mut(i) {
                total.merge(stats);
            }
        }
        self.iterations += snapshot.iterations;
        self.iteration_totals.ingest(snapshot);
        self.custom.ingest(snapshot);
        let closed_through = self.timeline.last().map(|p| p.second);
        match closed_through {
            // A late snapshot for an already closed second still counts in the totals (above);
            // its requests are added to that second's point without re-computing percentiles.
            Some(last) if snapshot.second <= last => {
                if let Some(p) = self
                    .timeline
                    .iter_mut()
                    .rev()
                    .find(|p| p.second == snapshot.second)
                {
                    p.requests += snapshot.requests();
                    p.users += snapshot.users;
                    p.dropped_iterations += snapshot.dropped_iterations;
                    self.custom.add_late(snapshot, &mut p.custom_counters);
                    self.max_users = self.max_users.max(p.users);
                }
            }
            _ => self
                .open
                .entry(snapshot.second)
                .or_insert_with(|| Snapshot::new(snapshot.second))
                .merge(snapshot),
        }
    }

    /// Closes every open second `<= second`, turning each into a timeline point. Seconds with no
    /// snapshot at all in between become points with zero requests and the previous user count, so the
    /// timeline has no holes.
    pub fn close_through(&mut self, second: u32) {
        let later = self.open.split_off(&(second + 1));
        let closing = std::mem::replace(&mut self.open, later);
        for (s, snap) in closing {
            let next = self.timeline.last().map_or(0, |p| p.second + 1);
            let users = self.timeline.last().map_or(0, |p| p.users);
            for gap in next..s {
                self.push_point(&Snapshot {
                    second: gap,
                    users,
                    ..Default::default()
                });
            }
            self.push_point(&snap);
        }
    }

    fn push_point(&mut self, snap: &Snapshot) {
        self.thresholds.observe(snap);
        let mut latency = new_histogram();
        let (mut requests, mut failures, mut errors) = (0, 0, 0);
        let mut by_kind = [0u64; ErrorKind::COUNT];
        for (_, s) in &snap.steps {
            latency.add(&s.latency).expect("auto-resizing histograms");
            requests += s.requests;
            failures += s.failures;
            errors += s.error_count();
            for (total, n) in by_kind.iter_mut().zip(s.errors) {
                *total += n;
            }
        }
        self.max_users = self.max_users.max(snap.users);
        let custom_counters = self.custom.timeline_counters(snap);
        self.timeline.push(TimelinePoint {
            second: snap.second,
            requests,
            failures,
            errors,
            users: snap.users,
            latency_ms: TimelineLatency {
                p50: quantile_ms(&latency, 0.50),
                p95: quantile_ms(&latency, 0.95),
                p99: quantile_ms(&latency, 0.99),
            },
            errors_by_kind: ErrorKind::ALL
                .iter()
                .filter(|k| by_kind[k.index()] > 0)
                .map(|k| (k.as_str().to_owned(), by_kind[k.index()]))
                .collect(),
            dropped_iterations: snap.dropped_iterations,
            custom_counters,
        });
        self.window.push_back(WindowSecond { requests, latency });
        if self.window.len() > LIVE_WINDOW {
            self.window.pop_front();
        }
    }

    /// Figures for the progress line, over closed seconds.
    pub fn live(&self) -> LiveStats {
        let mut latency = new_histogram();
        let mut window_requests = 0;
        for w in &self.window {
            latency.add(&w.latency).expect("auto-resizing histograms");
            window_requests += w.requests;
        }
        let last = self.timeline.last();
        LiveStats {
            seconds: last.map_or(0, |p| p.second + 1),
            users: last.map_or(0, |p| p.users),
            requests: self.totals.iter().map(|s| s.requests).sum(),
            failures: self.totals.iter().map(|s| s.failures).sum(),
            errors: self.totals.iter().map(|s| s.error_count()).sum(),
            rps: if self.window.is_empty() {
                0.0
            } else {
                window_requests as f64 / self.window.len() as f64
            },
            p95_ms: (!latency.is_empty()).then(|| quantile_ms(&latency, 0.95)),
        }
    }

    /// Closes all seconds and builds the result. `duration_s` is the measured run time.
    pub fn finish(mut self, meta: RunMeta, duration_s: f64) -> RunResult {
        self.close_through(u32::MAX - 1);
        let duration = duration_s.max(1e-9);
        let mut all = StepStats::default();
        let mut requests = Vec::with_capacity(self.keys.len());
        let mut errors: Vec<ErrorRow> = Vec::new();
        let mut checks = Vec::new();
        for (key, stats) in self.keys.iter().zip(&self.totals) {
            all.merge(stats);
            let row_name = format!("{} / {}", key.scenario, key.name);
            for kind in ErrorKind::ALL {
                let n = stats.errors[kind.index()];
                if n == 0 {
                    continue;
                }
                match errors.iter_mut().find(|e| e.kind == kind.as_str()) {
                    Some(e) => e.count += n,
                    None => errors.push(ErrorRow {
                        kind: kind.as_str().to_owned(),
                        count: n,
                        sample: stats.error_samples[kind.index()]
                            .clone()
                            .unwrap_or_default(),
                        sample_request: row_name.clone(),
                    }),
                }
            }
            for c in &stats.checks {
                checks.push(CheckRow {
                    scenario: key.scenario.clone(),
                    request: key.name.clone(),
                    check: c.check.clone(),
                    count: c.count,
                    sample: c.sample.clone(),
                });
            }
            requests.push(request_row(key, stats, duration));
        }
        errors.sort_by_key(|e| std::cmp::Reverse(e.count));
        checks.sort_by_key(|c| std::cmp::Reverse(c.count));
        let slowest_request = self
            .keys
            .iter()
            .zip(&self.totals)
            .filter(|(_, s)| !s.latency.is_empty())
            .max_by(|(_, a), (_, b)| a.latency.mean().total_cmp(&b.latency.mean()))
            .map(|(k, _)| format!("{} / {}", k.scenario, k.name));
        let error_count = all.error_count();
        let mut result = RunResult {
            schema_version: RESULT_SCHEMA_VERSION,
            run: meta,
            summary: Summary {
                requests: all.requests,
                successes: all.requests - all.failures - error_count,
                failures: all.failures,
                errors: error_count,
                rps: round3(all.requests as f64 / duration),
                duration_s: round3(duration_s),
                iterations: self.iterations,
                bytes_received: all.bytes_in,
                bytes_sent: all.bytes_out,
                max_users: self.max_users,
                latency_ms: latency_ms(&all.latency),
                slowest_request,
                latency_histogram: latency_histogram(&all.latency),
                dropped_iterations: 0,
                interrupted_iterations: 0,
                scheduler_lag_ms: None,
            },
            requests,
            errors,
            checks,
            timeline: self.timeline,
            thresholds: Vec::new(),
            baseline: None,
            events: Vec::new(),
            scenarios: Vec::new(),
            custom_metrics: Vec::new(),
            warnings: Vec::new(),
        };
        self.iteration_totals
            .fill(&mut result, &self.keys, self.scenario_names.as_deref());
        self.custom.fill(&mut result, duration);
        result
    }
}

fn request_row(key: &RequestKey, stats: &StepStats, duration: f64) -> RequestRow {
    let errors = stats.error_count();
    RequestRow {
        scenario: key.scenario.clone(),
        name: key.name.clone(),
        method: key.method.clone(),
        requests: stats.requests,
        successes: stats.requests - stats.failures - errors,
        failures: stats.failures,
        errors,
        rps: round3(stats.requests as f64 / duration),
        bytes_received: stats.bytes_in,
        bytes_sent: stats.bytes_out,
        latency_ms: latency_ms(&stats.latency),
        service_time_ms: latency_ms(&stats.service),
        status_codes: stats
            .status
            .iter()
            .map(|(code, n)| (code.to_string(), *n))
            .collect(),
        errors_by_kind: ErrorKind::ALL
            .iter()
            .filter(|k| stats.errors[k.index()] > 0)
            .map(|k| (k.as_str().to_owned(), stats.errors[k.index()]))
            .collect(),
        timings_ms: timings_ms(stats),
    }
}

/// The phase figures of a row; all zero when no response carried timings.
fn timings_ms(stats: &StepStats) -> crate::result::RequestTimingsMs {
    match &stats.phases {
        None => Default::default(),
        Some(p) => crate::result::RequestTimingsMs {
            connect: latency_ms(&p.connect),
            tls: latency_ms(&p.tls),
            ttfb: latency_ms(&p.ttfb),
            connections_opened: p.connect.len(),
        },
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        us_to_ms(h.value_at_quantile(q))
    }
}

/// Latency figures of a histogram; all zero when it is empty.
fn latency_ms(h: &Histogram<u64>) -> LatencyMs {
    if h.is_empty() {
        return LatencyMs::default();
    }
    LatencyMs {
        min: us_to_ms(h.min()),
        mean: round3(h.mean() / 1000.0),
        p50: quantile_ms(h, 0.50),
        p90: quantile_ms(h, 0.90),
        p95: quantile_ms(h, 0.95),
        p99: quantile_ms(h, 0.99),
        p999: quantile_ms(h, 0.999),
        max: us_to_ms(h.max()),
    }
}

/// Renard R10 series: 10 log-spaced, readable bucket bounds per decade.
const R10: [f64; 10] = [1.0, 1.25, 1.6, 2.0, 2.5, 3.2, 4.0, 5.0, 6.3, 8.0];

/// Upper bound in ms of log bucket `i`; bucket 0 ends at 1 µs.
fn bucket_le_ms(i: usize) -> f64 {
    let x = R10[i % 10] * 10f64.powi(i as i32 / 10 - 3);
    (x * 1e6).round() / 1e6
}

/// Index of the first log bucket whose upper bound holds `ms`.
fn bucket_index(ms: f64) -> usize {
    let mut i = ((ms.max(1e-3).log10() + 3.0).floor().max(0.0) as usize) * 10;
    // The decade estimate may be one short of the bound because of rounding; walk up.
    while bucket_le_ms(i) < ms * (1.0 - 1e-9) {
        i += 1;
    }
    // …or one past it (a value exactly on a decade bound belongs to the bucket below).
    while i > 0 && bucket_le_ms(i - 1) >= ms * (1.0 - 1e-9) {
        i -= 1;
    }
    i
}

/// The latency distribution in log-spaced buckets, from the first to the last non-empty one (so
/// the chart shows gaps as empty bars). Each HDR bucket (0.1 % wide) is placed by its lowest
/// equivalent value, so a latency of exactly 40 ms counts as `<= 40 ms`; counts add up to the
/// histogram's total exactly.
fn latency_histogram(h: &Histogram<u64>) -> Vec<LatencyBucket> {
    let mut counts: BTreeMap<usize, u64> = BTreeMap::new();
    for v in h.iter_recorded() {
        let ms = us_to_ms(h.lowest_equivalent(v.value_iterated_to()));
        *counts.entry(bucket_index(ms)).or_default() += v.count_at_value();
    }
    let (Some((&first, _)), Some((&last, _))) = (counts.first_key_value(), counts.last_key_value())
    else {
        return Vec::new();
    };
    (first..=last)
        .map(|i| LatencyBucket {
            le_ms: bucket_le_ms(i),
            count: counts.get(&i).copied().unwrap_or(0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::RunStatus;
    use crate::{IntervalRecorder, Outcome};

    fn keys() -> Vec<RequestKey> {
        ["a", "b"]
            .iter()
            .map(|n| RequestKey {
                scenario: "s".into(),
                name: (*n).into(),
                method: "GET".into(),
            })
            .collect()
    }

    fn meta() -> RunMeta {
        RunMeta {
            tool_version: "test".into(),
            scenario_file: "x.yaml".into(),
            target: "http://127.0.0.1:1".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            planned_duration_s: 3.0,
            load: "2 users".into(),
            status: RunStatus::Completed,
        }
    }

    fn snap(second: u32, step: u32, latencies: &[u64], users: u32) -> Snapshot {
        let mut r = IntervalRecorder::new();
        for &l in latencies {
            r.record(
                step,
                &Outcome::Response {
                    status: 200,
                    latency_us: l,
                    service_us: l,
                    bytes_in: 1,
                    bytes_out: 1,
                    failed_check: None,
                },
            );
        }
        let mut s = Snapshot::new(second);
        s.users = users;
        r.drain_into(&mut s);
        s
    }

    #[test]
    fn timeline_has_a_point_per_second_even_without_traffic() {
        let mut a = Aggregator::new(keys());
        a.ingest(&snap(0, 0, &[1000, 2000], 2));
        a.ingest(&snap(3, 1, &[5000], 2));
        let result = a.finish(meta(), 4.0);
        let seconds: Vec<u32> = result.timeline.iter().map(|p| p.second).collect();
        assert_eq!(seconds, vec![0, 1, 2, 3]);
        assert_eq!(result.timeline[1].requests, 0);
        assert_eq!(result.timeline[1].users, 2);
        assert_eq!(result.summary.requests, 3);
        assert_eq!(result.summary.rps, 0.75);
        assert_eq!(result.summary.slowest_request.as_deref(), Some("s / b"));
        assert_eq!(result.requests[0].latency_ms.max, 2.0);
    }

    #[test]
    fn latency_histogram_buckets_are_log_spaced_and_hold_every_response() {
        let mut a = Aggregator::new(keys());
        // 0.5 ms ×3, 1 ms (on a bound), 1.1 ms, 40 ms.
        a.ingest(&snap(0, 0, &[500, 500, 500, 1000, 1100, 40_000], 1));
        let h = a.finish(meta(), 1.0).summary.latency_histogram;
        assert_eq!(h.iter().map(|b| b.count).sum::<u64>(), 6);
        assert_eq!(h.first().map(|b| b.le_ms), Some(0.5));
        assert_eq!(h[0].count, 3);
        let at = |le: f64| h.iter().find(|b| b.le_ms == le).map(|b| b.count);
        assert_eq!(
            at(1.0),
            Some(1),
            "a value on a bound is in the bucket it closes"
        );
        assert_eq!(at(1.25), Some(1));
        assert_eq!(at(40.0), Some(1));
        assert_eq!(h.last().map(|b| b.le_ms), Some(40.0));
        // From 0.5 to 40 ms: 0.5 0.63 0.8 1 … 32 40 — 10 per decade, no holes.
        assert_eq!(h.len(), 20, "{h:?}");
        assert!(h.windows(2).all(|w| w[0].le_ms < w[1].le_ms));
    }

    #[test]
    fn timeline_points_count_errors_by_kind() {
        let mut a = Aggregator::new(keys());
        let mut r = IntervalRecorder::new();
        for kind in [ErrorKind::Timeout, ErrorKind::Timeout, ErrorKind::Reset] {
            r.record(
                1,
                &Outcome::Error {
                    kind,
                    bytes_out: 1,
                    message: &"boom",
                },
            );
        }
        let mut s = Snapshot::new(0);
        s.users = 1;
        r.drain_into(&mut s);
        a.ingest(&s);
        let result = a.finish(meta(), 1.0);
        let kinds = &result.timeline[0].errors_by_kind;
        assert_eq!(kinds.get("timeout"), Some(&2));
        assert_eq!(kinds.get("reset"), Some(&1));
        assert_eq!(kinds.len(), 2);
        assert!(
            result.summary.latency_histogram.is_empty(),
            "errors carry no latency"
        );
    }

    #[test]
    fn snapshots_of_one_second_from_two_sources_merge_before_closing() {
        let mut a = Aggregator::new(keys());
        a.ingest(&snap(0, 0, &[1000; 99], 1));
        a.ingest(&snap(0, 0, &[100_000], 1));
        a.close_through(0);
        let live = a.live();
        assert_eq!(live.users, 2);
        assert_eq!(live.requests, 100);
        assert_eq!(live.p95_ms, Some(1.0));
        let result = a.finish(meta(), 1.0);
        assert_eq!(result.timeline.len(), 1);
        assert_eq!(result.timeline[0].latency_ms.p99, 1.0);
        assert!(
            (result.summary.latency_ms.max - 100.0).abs() < 0.1,
            "3 significant digits"
        );
    }
}
