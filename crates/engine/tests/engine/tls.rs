//! HTTPS against a local TLS server whose certificate a test CA signed, trusted through the plan's
//! `ca_file`: ALPN picks HTTP/2 or falls back to HTTP/1.1, and certificates are verified.

use crate::certs::TestCa;
use crate::support::{PlanBuilder, get, ms, plan, run};
use stampede_engine::{Assignment, EngineError};
use stampede_metrics::ErrorKind;
use stampede_scenario::{HttpVersion, ThinkTime};
use stampede_testkit::TestTarget;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

const H2_AND_H1: &[&[u8]] = &[b"h2", b"http/1.1"];
const H1_ONLY: &[&[u8]] = &[b"http/1.1"];

/// `users` users for 800 ms, each getting `https://target/tls` every 20 ms.
fn https_plan(
    target: &TestTarget,
    users: u32,
    version: HttpVersion,
    ca_file: Option<PathBuf>,
) -> PlanBuilder {
    let url = format!("https://{}/tls", target.addr());
    plan(target.addr())
        .users(users, ms(800))
        .http(|h| {
            h.version = version;
            h.ca_file = ca_file;
        })
        .scenario(
            "tls",
            1,
            ThinkTime::Constant(ms(20)),
            vec![get("tls", &url)],
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_h2_is_used_over_tls_when_the_server_offers_it() {
    let ca = TestCa::new();
    let target = TestTarget::start_tls(ca.server_config(H2_AND_H1)).await;
    let builder = https_plan(&target, 2, HttpVersion::Auto, Some(ca.ca_file.clone()));
    let row = builder.row("tls", "tls");
    let out = run(builder.build()).await;

    let stats = out.row(row);
    assert_eq!(stats.error_count(), 0, "{:?}", stats.error_samples);
    assert!(stats.requests >= 10, "{} requests", stats.requests);
    assert_eq!(stats.status, vec![(200, stats.requests)]);
    let versions = target.versions();
    assert_eq!(
        versions.get("HTTP/2.0"),
        Some(&stats.requests),
        "{versions:?}"
    );
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(target.connections(), 2, "one connection per user");
    // Each user's first request opened a connection, with a TLS handshake.
    let phases = stats.phases.as_ref().expect("timings recorded");
    assert_eq!(phases.connect.len(), 2);
    assert_eq!(phases.tls.len(), 2);
    assert_eq!(phases.ttfb.len(), stats.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_falls_back_to_http1_when_the_server_has_no_h2() {
    let ca = TestCa::new();
    let target = TestTarget::start_tls(ca.server_config(H1_ONLY)).await;
    let builder = https_plan(&target, 2, HttpVersion::Auto, Some(ca.ca_file.clone()));
    let row = builder.row("tls", "tls");
    let out = run(builder.build()).await;

    let stats = out.row(row);
    assert_eq!(stats.error_count(), 0, "{:?}", stats.error_samples);
    assert!(stats.requests >= 10, "{} requests", stats.requests);
    let versions = target.versions();
    assert_eq!(
        versions.get("HTTP/1.1"),
        Some(&stats.requests),
        "{versions:?}"
    );
    assert_eq!(
        target.connections(),
        2,
        "keep-alive: one connection per user"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_required_against_a_server_without_h2_is_a_tls_error() {
    // A server that refuses the handshake (it knows ALPN, not h2), and one that ignores ALPN.
    for alpn in [H1_ONLY, &[]] {
        let ca = TestCa::new();
        let target = TestTarget::start_tls(ca.server_config(alpn)).await;
        let builder = https_plan(&target, 1, HttpVersion::Http2, Some(ca.ca_file.clone()));
        let row = builder.row("tls", "tls");
        let out = run(builder.build()).await;

        let stats = out.row(row);
        assert!(stats.requests >= 2);
        assert_eq!(stats.errors[ErrorKind::Tls.index()], stats.requests);
        let sample = stats.error_samples[ErrorKind::Tls.index()].as_deref();
        let expected = Some("tls: the server does not offer HTTP/2 (ALPN h2)");
        assert_eq!(sample, expected, "server ALPN {alpn:?}");
        assert_eq!(target.total(), 0, "no request was sent over HTTP/1.1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_an_untrusted_ca_is_a_tls_error() {
    let ca = TestCa::new();
    let target = TestTarget::start_tls(ca.server_config(H2_AND_H1)).await;
    let builder = https_plan(&target, 1, HttpVersion::Auto, None);
    let row = builder.row("tls", "tls");
    let out = run(builder.build()).await;

    let stats = out.row(row);
    assert!(stats.requests >= 2);
    assert_eq!(stats.errors[ErrorKind::Tls.index()], stats.requests);
    let sample = stats.error_samples[ErrorKind::Tls.index()].as_deref();
    assert!(
        sample.is_some_and(|s| s.contains("certificate")),
        "{sample:?}"
    );
    assert_eq!(target.total(), 0);
}

#[tokio::test]
async fn a_missing_ca_file_stops_the_run_before_it_starts() {
    let target = TestTarget::start().await;
    let missing = std::env::temp_dir().join("stampede-no-such-ca.pem");
    let builder = https_plan(&target, 1, HttpVersion::Auto, Some(missing));
    let (tx, _rx) = tokio::sync::mpsc::channel(8);
    let assignment = Assignment {
        plan: builder.build(),
        seed: 1,
        arrival_phase: 0.0,
        once: stampede_engine::Once::Here,
        join_at: std::time::Duration::ZERO,
    };
    let result = stampede_engine::run(assignment, tx, CancellationToken::new()).await;
    match result {
        Err(EngineError::Tls(message)) => {
            assert!(message.contains("stampede-no-such-ca.pem"), "{message}");
            assert!(message.contains("cannot read"), "{message}");
        }
        other => panic!("expected a TLS setup error, got {other:?}"),
    }
    assert_eq!(target.total(), 0);
}
