//! Response bodies are streamed: a huge body is counted without being held in memory, and a body
//! that stops arriving is cut by the request timeout.

use crate::support::{get, ms, plan, run};
use stampede_metrics::ErrorKind;
use stampede_scenario::{HttpVersion, ThinkTime};
use stampede_testkit::TestTarget;
use std::time::Duration;

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_body_is_counted_without_being_buffered() {
    const MB: u64 = 1_000_000;
    for (target, version, size) in [
        (TestTarget::start().await, HttpVersion::Http1, 200 * MB),
        (TestTarget::start_h2c().await, HttpVersion::Http2, 50 * MB),
    ] {
        let rss_before = status_kib("VmRSS");
        // One request: the single user thinks for longer than the profile after it.
        let builder = plan(target.addr())
            .users(1, ms(100))
            .http(|h| h.version = version)
            .scenario(
                "big",
                1,
                ThinkTime::Constant(Duration::from_secs(60)),
                vec![get("big", &format!("/stream/{size}")).timeout(Duration::from_secs(60))],
            );
        let row = builder.row("big", "big");
        let out = run(builder.build()).await;
        let stats = out.row(row);
        assert_eq!(stats.error_count(), 0, "{:?}", stats.error_samples);
        assert_eq!(stats.requests, 1);
        assert!(
            stats.bytes_in > size && stats.bytes_in < size + 1000,
            "{version:?}: {} bytes in",
            stats.bytes_in
        );
        // The peak resident size of the whole test process: holding the body would have added
        // `size` bytes. (Other tests run alongside, hence the loose bound.)
        let growth_mib = status_kib("VmHWM").saturating_sub(rss_before) / 1024;
        assert!(
            growth_mib < 64,
            "{version:?}: peak RSS grew by {growth_mib} MiB"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_is_a_timeout() {
    for (target, version) in [
        (TestTarget::start().await, HttpVersion::Http1),
        (TestTarget::start_h2c().await, HttpVersion::Http2),
    ] {
        let builder = plan(target.addr())
            .users(1, ms(700))
            .http(|h| h.version = version)
            .scenario(
                "stall",
                1,
                ThinkTime::Constant(ms(50)),
                vec![get("stall", "/stall").timeout(ms(200))],
            );
        let row = builder.row("stall", "stall");
        let out = run(builder.build()).await;
        let stats = out.row(row);
        assert!(stats.requests >= 2, "{version:?}: {}", stats.requests);
        assert_eq!(
            stats.errors[ErrorKind::Timeout.index()],
            stats.requests,
            "{version:?}: {:?}",
            stats.error_samples
        );
        assert_eq!(target.count("/stall"), stats.requests, "{version:?}");
    }
}

/// A user's timeout is one timer moved from request to request: a short timeout that fired must
/// not cut the next request, which has a longer one, and must fire again on the next stall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_gets_its_own_timeout_after_a_timed_out_one() {
    let target = TestTarget::start().await;
    let builder = plan(target.addr()).users(1, ms(1500)).scenario(
        "mixed",
        1,
        ThinkTime::Constant(Duration::ZERO),
        vec![
            get("stall", "/stall").timeout(ms(150)),
            get("fast", "/").timeout(Duration::from_secs(5)),
        ],
    );
    let (stall, fast) = (builder.row("mixed", "stall"), builder.row("mixed", "fast"));
    let out = run(builder.build()).await;
    let (stall, fast) = (out.row(stall), out.row(fast));
    assert_eq!(fast.error_count(), 0, "{:?}", fast.error_samples);
    assert_eq!(
        stall.errors[ErrorKind::Timeout.index()],
        stall.requests,
        "{:?}",
        stall.error_samples
    );
    // 150 ms per stalled request in 1.5 s: a timer that fired early would allow hundreds.
    assert!(
        (5..=11).contains(&stall.requests),
        "{} stalled requests",
        stall.requests
    );
    assert!(fast.requests + 1 >= stall.requests, "{}", fast.requests);
}
