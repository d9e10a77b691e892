//! Evaluator tests. Snapshots are built field by field (not through `Outcome`s) so they only
//! depend on the counts thresholds read.

use super::*;
use crate::ErrorKind;
use crate::recorder::{RequestKey, Snapshot};

pub(super) fn keys() -> Vec<RequestKey> {
    ["checkout", "browse"]
        .iter()
        .map(|n| RequestKey {
            scenario: "s".into(),
            name: (*n).into(),
            method: "GET".into(),
        })
        .collect()
}

pub(super) fn meta() -> RunMeta {
    RunMeta {
        tool_version: "test".into(),
        scenario_file: "x.yaml".into(),
        target: "http://127.0.0.1:1".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        planned_duration_s: 10.0,
        load: "1 user".into(),
        status: RunStatus::Completed,
    }
}

/// Row `row` of second `second` gets responses of these latencies (ms), of which `failed` failed
/// a check, plus `errors` transport errors.
#[derive(Clone, Copy)]
struct Row<'a> {
    row: StepId,
    latencies_ms: &'a [u64],
    failed: u64,
    errors: u64,
}

fn ok(row: StepId, latencies_ms: &[u64]) -> Row<'_> {
    Row {
        row,
        latencies_ms,
        failed: 0,
        errors: 0,
    }
}

fn snap(second: u32, rows: &[Row<'_>], iterations: u64) -> Snapshot {
    let mut s = Snapshot::new(second);
    s.iterations = iterations;
    for r in rows {
        let stats = s.step_mut(r.row);
        for &ms in r.latencies_ms {
            stats.latency.record(ms * 1000).unwrap();
        }
        stats.requests += r.latencies_ms.len() as u64 + r.errors;
        stats.failures += r.failed;
        stats.errors[ErrorKind::Timeout.index()] += r.errors;
    }
    s
}

fn spec(metric: Metric, op: Op, bound: f64) -> ThresholdSpec {
    ThresholdSpec {
        name: format!("{metric:?}"),
        metric_name: match metric {
            Metric::Latency(_) => "latency.p95".into(),
            Metric::ErrorRate => "error_rate".into(),
            Metric::Rps => "rps".into(),
            _ => "requests".into(),
        },
        scope: "all".into(),
        condition: format!("{op:?} {bound}"),
        metric,
        rows: None,
        op,
        bound,
        window_s: None,
        abort: false,
        delay: Duration::ZERO,
    }
}

/// HDR histograms report a bucket's highest value: within 0.1 % of the recorded one.
fn approx(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() <= want * 0.001)
}

fn p(q: f64) -> Metric {
    Metric::Latency(LatencyStat::Percentile(q))
}

fn scoped(mut s: ThresholdSpec, rows: &[StepId]) -> ThresholdSpec {
    s.rows = Some(rows.to_vec());
    s
}

pub(super) fn windowed(mut s: ThresholdSpec, window_s: u32) -> ThresholdSpec {
    s.window_s = Some(window_s);
    s
}

pub(super) fn aborting(mut s: ThresholdSpec, delay_s: u64) -> ThresholdSpec {
    s.abort = true;
    s.delay = Duration::from_secs(delay_s);
    s
}

pub(super) fn run(specs: Vec<ThresholdSpec>, seconds: &[Snapshot], duration_s: f64) -> RunResult {
    let mut a = Aggregator::new(keys());
    a.set_thresholds(specs);
    for s in seconds {
        a.ingest(s);
        a.close_through(s.second);
    }
    a.finish_with_thresholds(meta(), duration_s)
}

#[test]
fn whole_run_values_in_their_units() {
    // 100 responses on row 0 (1..=100 ms, 5 failed checks), 5 transport errors; row 1 idle.
    let latencies: Vec<u64> = (1..=100).collect();
    let first = Row {
        row: 0,
        latencies_ms: &latencies,
        failed: 5,
        errors: 5,
    };
    let specs = vec![
        spec(p(95.0), Op::Lt, 100.0),
        spec(p(50.0), Op::Le, 40.0),
        spec(Metric::Latency(LatencyStat::Mean), Op::Le, 51.0),
        spec(Metric::Latency(LatencyStat::Max), Op::Le, 100.0),
        spec(Metric::ErrorRate, Op::Le, 5.0),
        spec(Metric::FailureRate, Op::Lt, 4.0),
        spec(Metric::ChecksPassRate, Op::Ge, 95.0),
        spec(Metric::Rps, Op::Ge, 50.0),
        spec(Metric::Requests, Op::Gt, 105.0),
        spec(Metric::Iterations, Op::Ge, 3.0),
    ];
    let r = run(specs, &[snap(0, &[first], 3)], 2.0);
    let values: Vec<(Option<f64>, bool)> =
        r.thresholds.iter().map(|t| (t.value, t.passed)).collect();
    let close = |i: usize, v: f64| {
        let got = values[i].0.unwrap();
        assert!((got - v).abs() <= v * 0.001, "{i}: {got} vs {v}");
    };
    close(0, 95.0);
    assert!(values[0].1);
    close(1, 50.0);
    assert!(!values[1].1, "p50 of 50 ms is above 40 ms");
    close(2, 50.5);
    close(3, 100.0);
    assert_eq!(values[4], (Some(4.762), true));
    assert_eq!(values[5], (Some(4.762), false));
    // 95 of 100 responses passed their checks.
    assert_eq!(values[6], (Some(95.0), true));
    assert_eq!(values[7], (Some(52.5), true));
    assert_eq!(values[8], (Some(105.0), false));
    assert_eq!(values[9], (Some(3.0), true));
    assert!(
        r.thresholds
            .iter()
            .filter(|t| t.passed)
            .all(|t| t.message.is_none())
    );
    assert_eq!(r.run.status, RunStatus::Completed);
}

#[test]
fn an_empty_metric_fails_with_no_data() {
    let errors_only = Row {
        row: 0,
        latencies_ms: &[],
        failed: 0,
        errors: 3,
    };
    let specs = vec![
        scoped(spec(Metric::Rps, Op::Ge, 0.0), &[1]),
        scoped(spec(p(99.0), Op::Le, 1000.0), &[0]),
        spec(Metric::ChecksPassRate, Op::Ge, 0.0),
        spec(Metric::Iterations, Op::Ge, 0.0),
        scoped(spec(Metric::ErrorRate, Op::Le, 100.0), &[0]),
        scoped(spec(Metric::Requests, Op::Le, 100.0), &[]),
    ];
    let r = run(specs, &[snap(0, &[errors_only], 0)], 1.0);
    let got: Vec<(Option<f64>, bool, Option<&str>)> = (r.thresholds.iter())
        .map(|t| (t.value, t.passed, t.message.as_deref()))
        .collect();
    assert_eq!(got[0], (None, false, Some("no data: no request matched")));
    let no_response = Some("no data: no response (every request failed without one)");
    assert_eq!(got[1], (None, false, no_response));
    assert_eq!(got[2], (None, false, no_response));
    assert_eq!(
        got[3],
        (None, false, Some("no data: no iteration completed"))
    );
    assert_eq!(got[4], (Some(100.0), true, None));
    assert_eq!(got[5], (None, false, Some("no data: no request matched")));
}

#[test]
fn scopes_measure_only_their_rows() {
    let seconds = [snap(0, &[ok(0, &[500; 10]), ok(1, &[5; 90])], 0)];
    let specs = vec![
        spec(p(95.0), Op::Le, 100.0),
        scoped(spec(p(95.0), Op::Le, 100.0), &[1]),
        scoped(spec(Metric::Requests, Op::Ge, 10.0), &[0]),
    ];
    let r = run(specs, &seconds, 1.0);
    assert!(approx(r.thresholds[0].value, 500.0));
    assert!(!r.thresholds[0].passed);
    assert!(approx(r.thresholds[1].value, 5.0));
    assert!(r.thresholds[1].passed);
    assert_eq!(r.thresholds[2].value, Some(10.0));
}

/// Ten seconds of 10 fast responses, except second 4 with slow ones.
fn one_slow_second() -> Vec<Snapshot> {
    (0..10)
        .map(|s| {
            let ms: &[u64] = if s == 4 { &[900; 10] } else { &[10; 10] };
            snap(s, &[ok(0, ms)], 1)
        })
        .collect()
}

#[test]
fn the_worst_window_is_reported() {
    let specs = vec![
        windowed(spec(p(99.0), Op::Le, 500.0), 3),
        spec(p(99.0), Op::Le, 1000.0),
        windowed(spec(Metric::Rps, Op::Ge, 10.0), 2),
        windowed(spec(p(50.0), Op::Le, 500.0), 3),
    ];
    let r = run(specs, &one_slow_second(), 10.0);
    let t = &r.thresholds;
    assert!(approx(t[0].value, 900.0));
    assert!(!t[0].passed);
    // The first window that holds second 4 is [2, 5).
    assert_eq!(
        t[0].message.as_deref(),
        Some("worst 3s window: from 2s to 5s of the run")
    );
    assert!(t[1].passed, "over the whole run the p99 is fine");
    assert_eq!((t[2].value, t[2].passed), (Some(10.0), true));
    // A third of [2, 5) is slow, so the median stays fast in every window.
    assert!(approx(t[3].value, 10.0) && t[3].passed);
}

#[test]
fn windows_slide_exactly() {
    // Each second has its own latencies; every window's p90 must equal that of a histogram
    // built from its seconds directly.
    let seconds: Vec<Vec<u64>> = (0..40u64)
        .map(|s| {
            (0..25)
                .map(|i| 1 + (s * 7919 + i * 104_729) % 3000)
                .collect()
        })
        .collect();
    let snaps: Vec<Snapshot> = (seconds.iter().enumerate())
        .map(|(s, ms)| snap(s as u32, &[ok(0, ms)], 0))
        .collect();
    let mut a = Aggregator::new(keys());
    a.set_thresholds(vec![windowed(spec(p(90.0), Op::Le, 1e9), 7)]);
    for s in &snaps {
        a.ingest(s);
        a.close_through(s.second);
    }
    let track = a.thresholds.windows[0].as_ref().unwrap();
    assert_eq!(track.values_for_test().len(), 40 - 6);
    for &(end, value) in track.values_for_test() {
        let mut h = new_histogram();
        for ms in seconds[end as usize - 6..=end as usize].iter().flatten() {
            h.record(ms * 1000).unwrap();
        }
        assert_eq!(
            value,
            Some(h.value_at_quantile(0.9) as f64 / 1000.0),
            "{end}"
        );
    }
}

#[test]
fn windows_need_whole_seconds() {
    // Second 3 is a partial last second (the run lasted 3.4 s): its slow responses are in the
    // whole-run figures but end no window.
    let mut seconds: Vec<Snapshot> = (0..3).map(|s| snap(s, &[ok(0, &[10])], 0)).collect();
    seconds.push(snap(3, &[ok(0, &[900])], 0));
    let specs = vec![
        windowed(spec(p(99.0), Op::Le, 500.0), 2),
        windowed(spec(p(99.0), Op::Le, 500.0), 5),
        spec(Metric::Latency(LatencyStat::Max), Op::Le, 500.0),
    ];
    let r = run(specs, &seconds, 3.4);
    assert!(approx(r.thresholds[0].value, 10.0) && r.thresholds[0].passed);
    assert_eq!(r.thresholds[1].value, None);
    assert_eq!(
        r.thresholds[1].message.as_deref(),
        Some("no data: no full 5s window (the run lasted 3.4s)")
    );
    assert!(!r.thresholds[2].passed);
}

fn live(specs: Vec<ThresholdSpec>, seconds: &[Snapshot]) -> (Aggregator, Vec<Option<String>>) {
    let mut a = Aggregator::new(keys());
    a.set_thresholds(specs);
    let mut verdicts = Vec::new();
    for s in seconds {
        a.ingest(s);
        a.close_through(s.second);
        let elapsed = Duration::from_secs(u64::from(s.second) + 1);
        verdicts.push(a.check_abort(elapsed).map(|t| t.name));
    }
    (a, verdicts)
}

#[test]
fn abort_waits_for_the_delay_then_stops_a_violated_run() {
    let failing = |s| {
        Row {
            row: 0,
            latencies_ms: &[10; 10],
            failed: 10,
            errors: 0,
        }
        .with_second(s)
    };
    let seconds: Vec<Snapshot> = (0..6).map(failing).collect();
    let mut s = aborting(spec(Metric::ChecksPassRate, Op::Ge, 99.0), 3);
    s.name = "pass".into();
    let (a, verdicts) = live(
        vec![s, aborting(spec(Metric::Requests, Op::Ge, 1e6), 0)],
        &seconds,
    );
    // Second 2 ends at 3 s: the first evaluation at or after the delay.
    let expected = [None, None, Some("pass".to_owned()), None, None, None];
    assert_eq!(verdicts, expected, "then never again");
    let r = a.finish_with_thresholds(meta(), 6.0);
    assert_eq!(r.run.status, RunStatus::Aborted);
    let t = &r.thresholds[0];
    assert!(t.aborted_run && !t.passed);
    assert_eq!(t.value, Some(0.0));
    assert_eq!(
        t.message.as_deref(),
        Some("failed for certain: aborted the run at 3.0s")
    );
    assert!(
        !r.thresholds[1].aborted_run,
        "a count below its minimum can still grow"
    );
}

impl Row<'_> {
    fn with_second(self, second: u32) -> Snapshot {
        snap(second, &[self], 0)
    }
}

#[test]
fn certainty_depends_on_how_the_value_can_move() {
    let seconds = one_slow_second();
    let cases = [
        // Max only grows: above an upper bound is final.
        (
            aborting(spec(Metric::Latency(LatencyStat::Max), Op::Le, 500.0), 0),
            Some(4),
        ),
        // ...but below a lower bound it may still rise.
        (
            aborting(spec(Metric::Latency(LatencyStat::Max), Op::Ge, 5000.0), 0),
            None,
        ),
        // Min only shrinks: below a lower bound is final.
        (
            aborting(spec(Metric::Latency(LatencyStat::Min), Op::Ge, 20.0), 0),
            Some(0),
        ),
        (aborting(spec(Metric::Requests, Op::Le, 25.0), 0), Some(2)),
        // A whole-run percentile that is violated now aborts (after the delay).
        (aborting(spec(p(95.0), Op::Le, 500.0), 0), Some(4)),
        (aborting(spec(p(95.0), Op::Le, 500.0), 6), Some(5)),
        // A window fails for good once one full window violates.
        (
            aborting(windowed(spec(p(99.0), Op::Le, 500.0), 3), 0),
            Some(4),
        ),
        (
            aborting(windowed(spec(p(99.0), Op::Le, 500.0), 3), 9),
            Some(8),
        ),
        (windowed(spec(p(99.0), Op::Le, 500.0), 3), None),
    ];
    for (i, (s, expected)) in cases.into_iter().enumerate() {
        let (_, verdicts) = live(vec![s], &seconds);
        let at = verdicts.iter().position(Option::is_some);
        assert_eq!(at, expected, "case {i}: {verdicts:?}");
    }
}
