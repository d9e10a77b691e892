//! HTTP/2 with prior knowledge (h2c) and the connection policies, counted at the server:
//! `per_user` (one connection per user), `per_iteration` (one per iteration), `shared` (at most
//! `pool_size` for the whole generator).

use crate::support::{RunOutput, get, ms, plan, run};
use stampede_scenario::{ConnectionPolicy, HttpVersion, ThinkTime};
use stampede_testkit::TestTarget;

/// Runs `users` users for 1 s against `target`, each doing `/a` then `/b` (with a 20 ms think
/// time), and checks every request got a 200 and was seen by the target.
async fn run_policy(
    target: &TestTarget,
    users: u32,
    version: HttpVersion,
    policy: ConnectionPolicy,
) -> RunOutput {
    let builder = plan(target.addr())
        .users(users, ms(1000))
        .http(|h| {
            h.version = version;
            h.connections = policy;
        })
        .scenario(
            "c",
            1,
            ThinkTime::Constant(ms(20)),
            vec![get("a", "/a"), get("b", "/delay/10")],
        );
    let out = run(builder.build()).await;
    for stats in out.rows.values() {
        assert_eq!(stats.error_count(), 0, "{:?}", stats.error_samples);
        assert_eq!(stats.status, vec![(200, stats.requests)]);
    }
    assert_eq!(
        out.total_requests(),
        target.total(),
        "every request counted"
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_prior_knowledge_uses_one_connection_per_user() {
    let target = TestTarget::start_h2c().await;
    let out = run_policy(&target, 3, HttpVersion::Http2, ConnectionPolicy::PerUser).await;
    assert!(out.total_requests() >= 30, "{}", out.total_requests());
    let versions = target.versions();
    assert_eq!(
        versions.get("HTTP/2.0"),
        Some(&target.total()),
        "{versions:?}"
    );
    assert_eq!(target.connections(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_user_keeps_one_connection_per_user() {
    let target = TestTarget::start().await;
    run_policy(&target, 4, HttpVersion::Auto, ConnectionPolicy::PerUser).await;
    assert_eq!(target.connections(), 4);
    assert_eq!(
        target.versions().len(),
        1,
        "HTTP/1.1 only over http with auto"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_iteration_opens_a_connection_for_every_iteration() {
    for (target, version) in [
        (TestTarget::start().await, HttpVersion::Http1),
        (TestTarget::start_h2c().await, HttpVersion::Http2),
    ] {
        let users = 2;
        let out = run_policy(&target, users, version, ConnectionPolicy::PerIteration).await;
        let iterations = out.iterations();
        let connections = target.connections();
        assert!(iterations >= 10, "{iterations} iterations");
        // Iterations in flight at the end opened a connection but did not complete.
        assert!(
            connections >= iterations && connections <= iterations + u64::from(users),
            "{version:?}: {connections} connections for {iterations} iterations"
        );
        // Both requests of an iteration share its connection.
        assert!(target.total() <= 2 * connections, "{version:?}");
        let phases = out.rows[&0].phases.as_ref().expect("timings");
        assert_eq!(
            phases.connect.len(),
            out.requests(0),
            "every `a` opened one"
        );
        let phases = out.rows[&1].phases.as_ref().expect("timings");
        assert_eq!(
            phases.connect.len(),
            0,
            "`b` reused the iteration's connection"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_pool_never_opens_more_than_its_size() {
    for (target, version) in [
        (TestTarget::start().await, HttpVersion::Http1),
        (TestTarget::start_h2c().await, HttpVersion::Http2),
    ] {
        let policy = ConnectionPolicy::Shared { pool_size: 2 };
        let out = run_policy(&target, 6, version, policy).await;
        assert!(out.total_requests() >= 30, "{}", out.total_requests());
        let connections = target.connections();
        assert!(
            (1..=2).contains(&connections),
            "{version:?}: {connections} connections"
        );
        // Opening is counted once per connection, however many users borrowed it.
        let opened: u64 = out
            .rows
            .values()
            .filter_map(|s| s.phases.as_ref())
            .map(|p| p.connect.len())
            .sum();
        assert_eq!(opened, connections, "{version:?}");
    }
}
