//! The load profile: exact scenario mix, ramps followed second by second, think times, cancel.

use crate::support::{get, ms, plan, run, run_cancelled_after};
use stampede_engine::EndReason;
use stampede_scenario::{Load, Stage, ThinkTime};
use stampede_testkit::TestTarget;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mix_holds_exactly() {
    let target = TestTarget::start().await;
    // A 10 s think time: each user sends exactly one request within the 2 s run.
    let think = ThinkTime::Constant(Duration::from_secs(10));
    let builder = plan(target.addr())
        .users(100, ms(2000))
        .scenario("a", 20, think, vec![get("a", "/mix/a")])
        .scenario("b", 50, think, vec![get("b", "/mix/b")])
        .scenario("c", 30, think, vec![get("c", "/mix/c")]);
    let rows = [
        builder.row("a", "a"),
        builder.row("b", "b"),
        builder.row("c", "c"),
    ];
    let out = run(builder.build()).await;

    assert_eq!(out.reason, EndReason::Completed);
    assert_eq!(
        [
            target.count("/mix/a"),
            target.count("/mix/b"),
            target.count("/mix/c")
        ],
        [20, 50, 30]
    );
    assert_eq!(rows.map(|r| out.requests(r)), [20, 50, 30]);
    assert_eq!(target.connections(), 100, "each user owns its connection");
    assert!(out.snapshots.iter().all(|s| s.users == 100));
    assert_eq!(out.snapshots.len(), 2, "second 0, then the final second 1");
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramp_is_followed_each_second() {
    let target = TestTarget::start().await;
    let stages = [(ms(4000), 20), (ms(1000), 20)];
    let builder = plan(target.addr()).stages(&stages).scenario(
        "ramp",
        1,
        ThinkTime::Constant(ms(500)),
        vec![get("home", "/")],
    );
    let out = run(builder.build()).await;

    let load = Load {
        stages: stages
            .iter()
            .map(|&(duration, users)| Stage { duration, users })
            .collect(),
        jitter_start: false,
        ..Load::default()
    };
    let users: Vec<u32> = out.snapshots.iter().map(|s| s.users).collect();
    assert_eq!(users.len(), 5, "{users:?}");
    for (second, &reported) in users.iter().enumerate() {
        let expected = load.users_at(Duration::from_secs(second as u64 + 1));
        assert!(
            reported.abs_diff(expected) <= 1,
            "second {second}: {reported} users, expected {expected} ({users:?})"
        );
    }
    // Twenty users, one connection each; at most one request each was in flight at the end.
    assert_eq!(target.connections(), 20);
    let (reported, received) = (out.total_requests(), target.count("/"));
    assert!(reported >= 100, "{reported} requests");
    assert!(received >= reported && received - reported <= 20);
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uniform_think_time_stays_in_bounds() {
    let target = TestTarget::start().await;
    let think = ThinkTime::Uniform {
        min: ms(200),
        max: ms(400),
    };
    let builder = plan(target.addr()).users(1, ms(2500)).scenario(
        "think",
        1,
        think,
        vec![get("tick", "/tick")],
    );
    run(builder.build()).await;

    let arrivals = target.arrivals("/tick");
    assert!(arrivals.len() >= 6, "{} requests", arrivals.len());
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    for gap in &gaps {
        assert!(
            *gap >= ms(200) && *gap <= ms(400 + 60),
            "gap {gap:?} outside [200, 400] ms (+ slack): {gaps:?}"
        );
    }
    let (lo, hi) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
    assert!(
        *hi - *lo > ms(5),
        "pauses are random, not constant: {gaps:?}"
    );
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_start_spreads_first_requests_over_the_think_time() {
    let target = TestTarget::start().await;
    // One request per user (10 s think time); with jitter each waits U[0, 10 s] first, so within
    // 1.5 s only some users have sent it, at spread-out instants.
    let builder = plan(target.addr())
        .users(40, ms(1500))
        .jitter_start(true)
        .scenario(
            "j",
            1,
            ThinkTime::Constant(Duration::from_secs(10)),
            vec![get("j", "/j")],
        );
    run(builder.build()).await;
    let sent = target.count("/j");
    // Expected 40 × 0.15 = 6; all 40 (no jitter) or none would be wrong.
    assert!(
        (1..=20).contains(&sent),
        "{sent} of 40 users sent their first request"
    );
    let arrivals = target.arrivals("/j");
    if let (Some(first), Some(last)) = (arrivals.first(), arrivals.last())
        && sent >= 3
    {
        assert!(*last - *first > ms(100), "first requests are spread out");
    }
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_promptly_and_drops_requests_in_flight() {
    let target = TestTarget::start().await;
    let users = 10;
    let builder = plan(target.addr())
        .users(users, Duration::from_secs(30))
        .jitter_start(true)
        .scenario(
            "busy",
            1,
            ThinkTime::Constant(ms(50)),
            vec![get("fast", "/"), get("slow", "/delay/300")],
        );
    let out = run_cancelled_after(builder.build(), Some(ms(1000))).await;

    assert_eq!(out.reason, EndReason::Cancelled);
    assert!(out.elapsed < ms(1500), "returned after {:?}", out.elapsed);
    let reported = out.total_requests();
    let received = target.total();
    assert!(reported > 0);
    assert!(
        received >= reported && received - reported <= u64::from(users),
        "target saw {received}, engine reported {reported}"
    );
    assert!(out.rows.values().all(|s| s.error_count() == 0));
    target.shutdown().await;
}
