//! Outcome accounting: what the target received equals what the engine reported, row by row, with
//! failures and errors attributed to the right row.

use crate::support::{get, ms, plan, run};
use stampede_metrics::ErrorKind;
use stampede_scenario::{Method, ThinkTime};
use stampede_testkit::{TestTarget, closed_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_counts_match_reported_rows_with_failures_and_errors() {
    let target = TestTarget::start().await;
    let refused = format!("http://127.0.0.1:{}/nowhere", closed_port());
    // The think times put every user inside a pause when the 2 s profile ends, so no request is
    // in flight then and the counts must match exactly. "web" sends at ~0, 0.3, ... 1.8 s (seven
    // requests, two full iterations); "api" sends the slow step at 0 (timing out at 0.2 s), then
    // 0.55, 0.9, 1.25 (one iteration) and the slow step again at 1.6-1.8 s.
    let builder = plan(target.addr())
        .users(4, ms(2000))
        .scenario(
            "web",
            1,
            ThinkTime::Constant(ms(300)),
            vec![
                get("home", "/"),
                get("server-error", "/status/500"),
                get("wrong-status", "/plain").expect(&[201]),
            ],
        )
        .scenario(
            "api",
            1,
            ThinkTime::Constant(ms(350)),
            vec![
                get("slow", "/delay/2000").timeout(ms(200)),
                get("download", "/bytes/1000"),
                get("upload", "/upload")
                    .method(Method::Post)
                    .body("application/json", br#"{"hello":"world"}"#),
                get("refused", &refused),
            ],
        );
    let row = |scenario: &str, name: &str| builder.row(scenario, name);
    let rows = [
        (row("web", "home"), "/"),
        (row("web", "server-error"), "/status/500"),
        (row("web", "wrong-status"), "/plain"),
        (row("api", "download"), "/bytes/1000"),
        (row("api", "upload"), "/upload"),
        (row("api", "slow"), "/delay/2000"),
    ];
    let refused_row = row("api", "refused");
    let out = run(builder.build()).await;

    for (row, path) in rows {
        assert_eq!(out.requests(row), target.count(path), "row {row} ({path})");
        assert!(
            out.requests(row) >= 2,
            "row {row} ({path}) ran for each user"
        );
    }
    assert_eq!(
        target.method_count("POST", "/upload"),
        target.count("/upload")
    );
    assert_eq!(
        out.total_requests() - out.requests(refused_row),
        target.total()
    );
    // Two users per scenario. At the end each user finishes its iteration in flight
    // (`graceful_stop`): three iterations each in "web" (the third began at 1.8 s), two each in
    // "api" (the second began at 1.6 s).
    assert_eq!(out.iterations(), 10);
    assert_eq!(out.requests(row("web", "home")), 6);
    assert_eq!(out.requests(row("api", "slow")), 4);

    let home = out.row(row("web", "home"));
    assert_eq!((home.failures, home.error_count()), (0, 0));
    assert_eq!(home.status, vec![(200, home.requests)]);
    assert_eq!(home.latency.len(), home.requests);

    let server_error = out.row(row("web", "server-error"));
    assert_eq!(server_error.failures, server_error.requests);
    assert_eq!(server_error.status, vec![(500, server_error.requests)]);
    assert_eq!(server_error.checks.len(), 1);
    assert_eq!(server_error.checks[0].check, "status < 400");
    assert_eq!(server_error.checks[0].sample, "got 500");

    let wrong = out.row(row("web", "wrong-status"));
    assert_eq!(wrong.failures, wrong.requests);
    assert_eq!(wrong.checks[0].check, "status in [201]");
    assert_eq!(wrong.checks[0].sample, "got 200");

    let download = out.row(row("api", "download"));
    let n = download.requests;
    assert_eq!(download.failures + download.error_count(), 0);
    // Body bytes plus a reconstructed head (status line and a few headers).
    assert!(download.bytes_in > 1000 * n && download.bytes_in < 1200 * n);
    assert!(download.bytes_out > 40 * n && download.bytes_out < 200 * n);

    let upload = out.row(row("api", "upload"));
    let body_len = br#"{"hello":"world"}"#.len() as u64;
    assert!(upload.bytes_out > (40 + body_len) * upload.requests);

    let refused = out.row(refused_row);
    assert!(refused.requests >= 2);
    assert_eq!(
        refused.errors[ErrorKind::ConnectRefused.index()],
        refused.requests
    );
    assert!(refused.latency.is_empty(), "errors carry no latency");

    let slow = out.row(row("api", "slow"));
    assert_eq!(slow.errors[ErrorKind::Timeout.index()], slow.requests);
    assert_eq!(slow.status, vec![]);
    target.shutdown().await;
}
