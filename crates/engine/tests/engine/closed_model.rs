//! Closed-model shapes and stops: lock-step waves, graceful stop and interrupted iterations,
//! run-wide limits, pacing, and several load models in one run.

use crate::support::{get, ms, plan, run};
use stampede_scenario::{
    Arrival, Arrivals, Distribution, Limits, Load, RateStage, Stage, ThinkTime,
};
use stampede_testkit::TestTarget;
use std::time::{Duration, Instant};

/// Waves of 4 users every 700 ms, 3 times: each user sends one request at its start (then
/// thinks for 10 s), so the target sees three bursts of 4 first requests. Each burst lands
/// within 50 ms, and burst `k` starts 700 ms × k after the first (± 50 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waves_start_their_users_in_lock_step() {
    let target = TestTarget::start().await;
    let every = ms(700);
    let stages: Vec<(Duration, u32)> = (1..=3u32)
        .flat_map(|k| [(Duration::ZERO, 4 * k), (every, 4 * k)])
        .collect();
    let builder = plan(target.addr()).stages(&stages).scenario(
        "wave",
        1,
        ThinkTime::Constant(Duration::from_secs(10)),
        vec![get("first", "/first")],
    );
    let out = run(builder.build()).await;
    let arrivals = target.arrivals("/first");
    assert_eq!(arrivals.len(), 12, "one first request per user");
    let origin = arrivals[0];
    let offsets: Vec<Duration> = arrivals.iter().map(|a| a.duration_since(origin)).collect();
    eprintln!("waves: first-request offsets {offsets:?}");
    for (k, burst) in offsets.chunks(4).enumerate() {
        let spread = burst[3] - burst[0];
        assert!(
            spread <= ms(50),
            "wave {k} spread over {spread:?}: {offsets:?}"
        );
        let ideal = every * k as u32;
        assert!(
            burst[0].abs_diff(ideal) <= ms(50),
            "wave {k} started at {:?}, ideal {ideal:?}",
            burst[0]
        );
    }
    let users: Vec<u32> = out.snapshots.iter().map(|s| s.users).collect();
    assert_eq!(
        users.first(),
        Some(&8),
        "second 0 ends after the second wave: {users:?}"
    );
    target.shutdown().await;
}

fn two_step_plan(target: &TestTarget, graceful_stop: Duration) -> crate::support::PlanBuilder {
    plan(target.addr())
        .users(2, ms(1000))
        .load(|l| l.graceful_stop = graceful_stop)
        .scenario(
            "two",
            1,
            ThinkTime::None,
            vec![get("a", "/delay/400"), get("b", "/delay/401")],
        )
}

/// Iterations take 800 ms; at the 1 s end each user is in its second one (its first request
/// ends at 1.2 s). With a long `graceful_stop` both finish it; with 50 ms the request in flight
/// still completes (the target's count stays equal to the reported one) but no new request is
/// sent, and the iteration counts as interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_finishes_iterations_or_counts_them_interrupted() {
    let target = TestTarget::start().await;
    let out = run(two_step_plan(&target, Duration::from_secs(5)).build()).await;
    let interrupted: u64 = out.snapshots.iter().map(|s| s.interrupted_iterations).sum();
    assert_eq!((out.iterations(), interrupted), (4, 0));
    assert_eq!(target.count("/delay/401"), 4);
    assert!(
        out.elapsed >= ms(1550),
        "waited for the iterations: {:?}",
        out.elapsed
    );
    target.shutdown().await;

    let target = TestTarget::start().await;
    let out = run(two_step_plan(&target, ms(50)).build()).await;
    let interrupted: u64 = out.snapshots.iter().map(|s| s.interrupted_iterations).sum();
    assert_eq!((out.iterations(), interrupted), (2, 2));
    assert_eq!(
        target.count("/delay/400"),
        4,
        "requests in flight completed"
    );
    assert_eq!(out.total_requests(), target.total(), "and were recorded");
    assert_eq!(
        target.count("/delay/401"),
        2,
        "no request after the graceful stop"
    );
    assert!(out.elapsed < ms(1500), "{:?}", out.elapsed);
    target.shutdown().await;
}

/// A ramp-down stops users gracefully: the ones stopped mid-iteration finish it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramp_down_lets_iterations_finish() {
    let target = TestTarget::start().await;
    // 3 users for 500 ms, then 0 at once (and a 1 s hold at 0).
    let builder = plan(target.addr())
        .stages(&[
            (Duration::ZERO, 3),
            (ms(500), 3),
            (Duration::ZERO, 0),
            (ms(1000), 0),
        ])
        .scenario(
            "r",
            1,
            ThinkTime::None,
            vec![get("a", "/delay/300"), get("b", "/b")],
        );
    let out = run(builder.build()).await;
    // Iterations take ~300 ms: at the 500 ms ramp-down each user is in its second one, which
    // it finishes; none starts a third.
    let interrupted: u64 = out.snapshots.iter().map(|s| s.interrupted_iterations).sum();
    assert_eq!((out.iterations(), interrupted), (6, 0));
    assert_eq!(target.count("/b"), 6);
    assert!(out.elapsed < ms(1600), "{:?}", out.elapsed);
    target.shutdown().await;
}

/// `max_requests` ends the run after exactly that many requests; `iterations` after that many
/// iterations; `per_user` after that many per user. Each ends long before the 20 s duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_end_the_run_early_and_exactly() {
    let cases = [
        (
            Limits {
                max_requests: Some(50),
                ..Limits::default()
            },
            "max_requests",
        ),
        (
            Limits {
                iterations: Some(21),
                ..Limits::default()
            },
            "iterations",
        ),
        (
            Limits {
                iterations_per_user: Some(4),
                ..Limits::default()
            },
            "per_user",
        ),
    ];
    for (limits, what) in cases {
        let target = TestTarget::start().await;
        let builder = plan(target.addr())
            .users(3, Duration::from_secs(20))
            .load(|l| l.limits = limits)
            .scenario(
                "l",
                1,
                ThinkTime::Constant(ms(5)),
                vec![get("a", "/a"), get("b", "/b")],
            );
        let started = Instant::now();
        let out = run(builder.build()).await;
        let interrupted: u64 = out.snapshots.iter().map(|s| s.interrupted_iterations).sum();
        eprintln!(
            "{what}: {} requests, {} iterations, {interrupted} interrupted, {:?}",
            target.total(),
            out.iterations(),
            started.elapsed()
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what} ended the run"
        );
        assert_eq!(out.total_requests(), target.total(), "{what}");
        match what {
            "max_requests" => {
                assert_eq!(target.total(), 50);
                // 50 requests = 25 two-step iterations, minus those cut off mid-way.
                assert_eq!(2 * out.iterations() + interrupted, 50);
            }
            "iterations" => {
                assert_eq!((out.iterations(), interrupted), (21, 0));
                assert_eq!(target.total(), 42);
            }
            _ => assert_eq!((out.iterations(), interrupted), (12, 0)),
        }
        target.shutdown().await;
    }
}

/// `pacing` starts iterations at a fixed interval (the last think time replaced by the rest of
/// the interval) and counts the iterations that overran it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_spaces_iterations_and_counts_overruns() {
    let target = TestTarget::start().await;
    let builder = plan(target.addr())
        .users(2, ms(1300))
        .scenario(
            "paced",
            1,
            ThinkTime::Constant(Duration::from_secs(10)),
            vec![get("p", "/delay/50")],
        )
        .edit_scenario(|s| s.pacing = Some(ms(300)))
        .scenario("late", 1, ThinkTime::None, vec![get("l", "/delay/150")])
        .edit_scenario(|s| s.pacing = Some(ms(100)));
    let out = run(builder.build()).await;
    let arrivals = target.arrivals("/delay/50");
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("pacing: gaps {gaps:?}");
    assert!(arrivals.len() >= 4, "{} iterations", arrivals.len());
    for gap in &gaps {
        assert!(gap.abs_diff(ms(300)) <= ms(30), "{gaps:?}");
    }
    let overruns: Vec<u64> = (0..2)
        .map(|i| {
            (out.snapshots.iter())
                .filter_map(|s| s.scenarios.get(i).map(|c| c.pacing_overruns))
                .sum()
        })
        .collect();
    assert_eq!(overruns[0], 0);
    assert!(overruns[1] >= 5, "{overruns:?}");
    // Overran iterations start the next at once: back to back, no pause.
    let late = target.arrivals("/delay/150");
    assert!(late.windows(2).all(|w| w[1] - w[0] < ms(190)));
    target.shutdown().await;
}

/// A `pace_factor` makes some users consistently slower: with a wide spread, users' mean
/// pauses differ by far more than one user's pauses vary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pace_factor_is_drawn_once_per_user() {
    let target = TestTarget::start().await;
    let builder = plan(target.addr())
        .users(2, ms(1500))
        .scenario("a", 1, ThinkTime::Constant(ms(100)), vec![get("a", "/a")])
        .edit_scenario(|s| s.pace_factor = Some(Distribution::Uniform { min: 0.5, max: 3.0 }))
        .scenario("b", 1, ThinkTime::Constant(ms(100)), vec![get("b", "/b")])
        .edit_scenario(|s| s.pace_factor = Some(Distribution::Uniform { min: 0.5, max: 3.0 }));
    run(builder.build()).await;
    let gaps = |path: &str| -> Vec<Duration> {
        let a = target.arrivals(path);
        a.windows(2).map(|w| w[1] - w[0]).collect()
    };
    for path in ["/a", "/b"] {
        let g = gaps(path);
        assert!(g.len() >= 2, "{path}: {g:?}");
        let (lo, hi) = (g.iter().min().unwrap(), g.iter().max().unwrap());
        // Constant think time × a constant factor: the same pause every time.
        assert!(*hi - *lo < ms(25), "{path}: {g:?}");
        assert!(*lo >= ms(50) && *hi <= ms(325), "{path}: {g:?}");
    }
    target.shutdown().await;
}

/// Two load models in one run: a closed-model scenario and an open-model one starting 500 ms in,
/// kept apart in the per-scenario counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_and_an_open_scenario_run_side_by_side() {
    let target = TestTarget::start().await;
    let open = Load {
        arrival: Some(Arrival {
            stages: vec![
                RateStage {
                    duration: Duration::ZERO,
                    rate: 20.0,
                },
                RateStage {
                    duration: ms(1000),
                    rate: 20.0,
                },
            ],
            pre_allocated_users: 2,
            max_users: 1,
            arrivals: Arrivals::Even,
        }),
        ..Load::default()
    };
    let closed = Load {
        stages: vec![
            Stage {
                duration: Duration::ZERO,
                users: 2,
            },
            Stage {
                duration: ms(1500),
                users: 2,
            },
        ],
        jitter_start: false,
        ..Load::default()
    };
    let builder = plan(target.addr())
        .scenario(
            "browse",
            1,
            ThinkTime::Constant(ms(100)),
            vec![get("b", "/browse")],
        )
        .edit_scenario(|s| s.load = Some(closed))
        .scenario("buy", 1, ThinkTime::None, vec![get("c", "/delay/100")])
        .edit_scenario(|s| {
            s.load = Some(open);
            s.start = ms(500);
        });
    let out = run(builder.build()).await;
    let (browse, buy) = (target.arrivals("/browse"), target.arrivals("/delay/100"));
    let delay = buy[0].duration_since(browse[0]);
    assert!(
        delay.abs_diff(ms(500)) <= ms(50),
        "buy started {delay:?} after browse"
    );
    let counts = |i: usize| -> (u64, u64) {
        let c = out
            .snapshots
            .iter()
            .filter_map(|s| s.scenarios.get(i).copied());
        c.fold((0, 0), |(n, d), c| (n + c.iterations, d + c.dropped))
    };
    let (browse_n, browse_dropped) = counts(0);
    let (buy_n, buy_dropped) = counts(1);
    eprintln!("side by side: browse {browse_n} iterations, buy {buy_n} + {buy_dropped} dropped");
    assert_eq!(browse_dropped, 0);
    // One user of the open pool (pre-allocation is capped by `max_users`) serves every other
    // arrival at 20/s of 100 ms requests: 20 scheduled, each started or dropped.
    assert_eq!(buy_n + buy_dropped, 20);
    assert!(buy_dropped >= 5, "{buy_dropped}");
    assert_eq!(browse_n, browse.len() as u64);
    assert!(out.elapsed < ms(2500), "{:?}", out.elapsed);
    target.shutdown().await;
}
