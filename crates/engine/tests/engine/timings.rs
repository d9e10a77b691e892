//! Connect, TLS and time-to-first-byte timings: recorded per response, nested inside the latency
//! (`connect <= ttfb <= latency`), and only for requests that opened a connection.

use crate::support::{get, ms, plan, run};
use stampede_metrics::result::{RunMeta, RunStatus};
use stampede_metrics::{Aggregator, RequestKey, StepStats};
use stampede_scenario::{ConnectionPolicy, ThinkTime};
use stampede_testkit::TestTarget;

/// Checks what the histograms of one row can show of the per-request order
/// `connect + tls <= ttfb <= latency`.
fn assert_nested(stats: &StepStats) {
    let phases = stats.phases.as_ref().expect("timings recorded");
    let latency = &stats.latency;
    assert_eq!(
        phases.ttfb.len(),
        latency.len(),
        "a ttfb for every response"
    );
    assert!(phases.ttfb.max() <= latency.max());
    assert!(phases.ttfb.min() <= latency.min());
    if !phases.connect.is_empty() {
        assert!(phases.connect.max() <= phases.ttfb.max());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timings_are_nested_and_connect_counts_only_new_connections() {
    let target = TestTarget::start().await;
    // The server waits 30 ms before answering, so the first byte comes after that.
    let steps = || vec![get("slow", "/delay/30"), get("body", "/bytes/200000")];
    let builder = plan(target.addr())
        .users(2, ms(1000))
        .http(|h| h.connections = ConnectionPolicy::PerIteration)
        .scenario("t", 1, ThinkTime::Constant(ms(10)), steps());
    let (slow, body) = (builder.row("t", "slow"), builder.row("t", "body"));
    let out = run(builder.build()).await;

    let stats = out.row(slow);
    assert_eq!(stats.error_count(), 0, "{:?}", stats.error_samples);
    assert_nested(stats);
    let phases = stats.phases.as_ref().unwrap();
    // Every iteration starts on a new connection: each `slow` opened one, over plain TCP.
    assert_eq!(phases.connect.len(), stats.requests);
    assert!(phases.tls.is_empty());
    assert!(phases.ttfb.min() >= 30_000, "{} us", phases.ttfb.min());
    // With a fresh connection per request, the order also holds for the fastest requests.
    assert!(phases.connect.min() <= phases.ttfb.min());

    let stats = out.row(body);
    assert_nested(stats);
    assert_eq!(stats.phases.as_ref().unwrap().connect.len(), 0, "reused");

    // The result JSON carries them per request row.
    let keys = ["slow", "body"].map(|name| RequestKey {
        scenario: "t".into(),
        name: name.into(),
        method: "GET".into(),
    });
    let mut aggregator = Aggregator::new(keys.to_vec());
    for snapshot in &out.snapshots {
        aggregator.ingest(snapshot);
    }
    let meta = RunMeta {
        tool_version: "test".into(),
        scenario_file: "timings.yaml".into(),
        target: target.url(),
        started_at: "2026-01-01T00:00:00Z".into(),
        planned_duration_s: 1.0,
        load: "2 users".into(),
        status: RunStatus::Completed,
    };
    let result = aggregator.finish(meta, 1.0);
    let slow = &result.requests[slow as usize];
    assert_eq!(slow.timings_ms.connections_opened, slow.requests);
    assert!(slow.timings_ms.connect.max > 0.0);
    assert!(slow.timings_ms.connect.max <= slow.timings_ms.ttfb.max);
    assert!(slow.timings_ms.ttfb.p50 >= 30.0);
    assert!(slow.timings_ms.ttfb.max <= slow.latency_ms.max);
    assert_eq!(slow.timings_ms.tls.max, 0.0);
    let body = &result.requests[body as usize];
    assert_eq!(body.timings_ms.connections_opened, 0);
    assert!(body.timings_ms.ttfb.max > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_requests_record_no_connect_time() {
    let target = TestTarget::start().await;
    let builder = plan(target.addr()).users(3, ms(600)).scenario(
        "k",
        1,
        ThinkTime::Constant(ms(20)),
        vec![get("ping", "/ping")],
    );
    let row = builder.row("k", "ping");
    let out = run(builder.build()).await;
    let stats = out.row(row);
    assert!(stats.requests >= 30, "{}", stats.requests);
    assert_nested(stats);
    let phases = stats.phases.as_ref().unwrap();
    assert_eq!(
        phases.connect.len(),
        3,
        "only each user's first request connected"
    );
    assert_eq!(target.connections(), 3);
}
