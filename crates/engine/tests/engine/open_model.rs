//! The open model's bookkeeping, in real time against real servers on loopback: dropped
//! iterations when the pool is too small, and what a multi-step iteration records. The
//! accuracy measurements (rate, latency, coordinated omission) are in `tests/accuracy.rs`, a
//! test binary of its own so nothing else runs beside them.

use crate::support::{get, ms, plan, run};
use hdrhistogram::Histogram;
use stampede_metrics::new_histogram;
use stampede_scenario::ThinkTime;
use stampede_testkit::TestTarget;
use std::time::Duration;

/// A slow target and a pool too small for the rate: every scheduled iteration either started
/// (the target saw its request) or was counted as dropped, and the generator warned once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drops_are_counted_exactly_when_the_pool_is_full() {
    let target = TestTarget::start().await;
    // 100/s for 2 s = 200 scheduled; 10 users each busy 500 ms serve about 20/s.
    let builder = plan(target.addr())
        .arrival_rate(100.0, Duration::from_secs(2), 10)
        .scenario("slow", 1, ThinkTime::None, vec![get("s", "/delay/500")]);
    let out = run(builder.build()).await;
    let dropped: u64 = out.snapshots.iter().map(|s| s.dropped_iterations).sum();
    let started = target.count("/delay/500");
    let per_scenario: u64 = out
        .snapshots
        .iter()
        .filter_map(|s| s.scenarios.first().map(|c| c.dropped))
        .sum();
    eprintln!("drops: {started} started, {dropped} dropped of 200 scheduled");
    assert!(dropped > 0);
    assert_eq!(dropped + started, 200, "scheduled = started + dropped");
    assert_eq!(per_scenario, dropped);
    assert_eq!(
        out.iterations(),
        started,
        "every started iteration completed"
    );
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("dropped"), "{:?}", out.warnings);
    assert!(out.snapshots.iter().all(|s| s.users <= 10));
    target.shutdown().await;
}

/// An open-model iteration's later requests are measured from when they were ready, its first
/// from the schedule, and the scheduler lag stays small when the generator keeps up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_step_open_iteration_records_service_and_lag() {
    let target = TestTarget::start().await;
    let builder = plan(target.addr())
        .arrival_rate(20.0, Duration::from_secs(1), 20)
        .scenario(
            "two",
            1,
            ThinkTime::Constant(ms(20)),
            vec![get("a", "/delay/30"), get("b", "/delay/10")],
        );
    let (a, b) = (builder.row("two", "a"), builder.row("two", "b"));
    let out = run(builder.build()).await;
    assert_eq!(target.count("/delay/30"), 20);
    assert_eq!(target.count("/delay/10"), 20);
    assert_eq!(out.iterations(), 20);
    for (row, floor) in [(a, 30_000), (b, 10_000)] {
        let stats = out.row(row);
        assert!(stats.service.min() >= floor, "row {row}");
        assert!(stats.latency.min() >= stats.service.min(), "row {row}");
        // No think time (20 ms) or other request is inside a request's latency (medians, so a
        // hiccup of a busy machine does not matter).
        let p50 = stats.latency.value_at_quantile(0.5);
        assert!(p50 < floor + 15_000, "row {row}: p50 {p50} µs");
    }
    let lag = merged_lag(&out.snapshots);
    assert_eq!(lag.len(), 20, "one lag sample per iteration");
    assert!(
        lag.value_at_quantile(0.5) < 20_000,
        "p50 lag {} µs",
        lag.value_at_quantile(0.5)
    );
    target.shutdown().await;
}

fn merged_lag(snapshots: &[stampede_metrics::Snapshot]) -> Histogram<u64> {
    let mut lag = new_histogram();
    for s in snapshots {
        lag.add(&s.scheduler_lag).expect("histograms merge");
    }
    lag
}

/// A run that joins its profile late (a share re-assigned from a lost agent): arrivals due
/// before `join_at` are skipped, not sent in a burst, and snapshots are numbered from the
/// profile's start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_joining_late_skips_the_arrivals_already_past() {
    use stampede_engine::{Assignment, EngineEvent, Once};
    let target = TestTarget::start().await;
    let builder = plan(target.addr())
        .arrival_rate(100.0, Duration::from_secs(3), 20)
        .scenario("late", 1, ThinkTime::None, vec![get("l", "/late")]);
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let started = std::time::Instant::now();
    let assignment = Assignment {
        plan: builder.build(),
        seed: 1,
        arrival_phase: 0.0,
        once: Once::Here,
        join_at: Duration::from_secs(2),
    };
    let engine = tokio::spawn(stampede_engine::run(
        assignment,
        tx,
        tokio_util::sync::CancellationToken::new(),
    ));
    let mut seconds = Vec::new();
    while let Some(event) = rx.recv().await {
        if let EngineEvent::Snapshot(s) = event {
            seconds.push(s.second);
        }
    }
    engine.await.expect("join").expect("run");
    let elapsed = started.elapsed();
    let sent = target.count("/late");
    eprintln!("joined at 2 s: {sent} requests in {elapsed:?}, seconds {seconds:?}");
    assert!(
        (99..=101).contains(&sent),
        "only the last second's 100 arrivals: {sent}"
    );
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
    assert_eq!(seconds.first(), Some(&2), "{seconds:?}");
    target.shutdown().await;
}
