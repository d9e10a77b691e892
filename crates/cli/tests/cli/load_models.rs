//! Load models through the binary: an open-model run, per-scenario loads without a top-level
//! one, and the run-wide limits from the command line.

use crate::common::{output, read_result, row, run_quiet, stampede, temp_dir, text, write};
use stampede_testkit::TestTarget;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_model_run_reports_arrivals_lag_and_service_time() {
    let target = TestTarget::start().await;
    let dir = temp_dir("open");
    let file = write(
        &dir,
        "open.yaml",
        &format!(
            "target: {}\nload: {{ arrival_rate: 50/s, duration: 2s, max_users: 20 }}\n\
             scenarios:\n  - name: api\n    steps:\n      - get: /delay/20\n        name: slow\n",
            target.url()
        ),
    );
    let (out, out_file) = run_quiet(&file, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let result = read_result(&out_file);
    // 50/s for 2 s: exactly 100 iterations, each started (none dropped) and seen by the target.
    assert_eq!(target.count("/delay/20"), 100);
    assert_eq!(result["summary"]["requests"], 100);
    assert_eq!(result["summary"]["dropped_iterations"], 0);
    assert_eq!(result["scenarios"][0]["name"], "api");
    assert_eq!(result["scenarios"][0]["iterations"], 100);
    let lag = &result["summary"]["scheduler_lag_ms"];
    assert!(lag["p99"].as_f64().is_some(), "{:#}", result["summary"]);
    let slow = row(&result, "api", "slow");
    let service = slow["service_time_ms"]["p50"].as_f64().unwrap();
    let latency = slow["latency_ms"]["p50"].as_f64().unwrap();
    assert!(service >= 20.0 && latency >= service, "{slow:#}");
    assert_eq!(result["run"]["load"], "50/s arrivals, 2s, max 20 users");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Sched. lag:"), "{stdout}");
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_with_their_own_loads_need_no_top_level_load() {
    let target = TestTarget::start().await;
    let dir = temp_dir("mixed");
    let file = write(
        &dir,
        "mixed.yaml",
        &format!(
            "target: {}\nscenarios:\n  - name: browse\n    load: {{ users: 2, duration: 1500ms }}\n\
             \x20   think_time: 100ms\n    steps:\n      - get: /browse\n\
             \x20 - name: buy\n    load: {{ arrival_rate: 10/s, duration: 1s, max_users: 5 }}\n\
             \x20   start: 500ms\n    steps:\n      - get: /buy\n",
            target.url()
        ),
    );
    let (out, out_file) = run_quiet(&file, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let result = read_result(&out_file);
    assert_eq!(target.count("/buy"), 10);
    assert_eq!(
        row(&result, "browse", "/browse")["requests"].as_u64(),
        Some(target.count("/browse"))
    );
    assert_eq!(result["scenarios"][1]["iterations"], 10);
    assert_eq!(result["run"]["planned_duration_s"], 1.5);
    let load = result["run"]["load"].as_str().unwrap();
    assert!(
        load.starts_with("browse: 2 users, 1s500ms; buy: 10/s"),
        "{load}"
    );
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_requests_and_iterations_from_the_command_line_end_the_run() {
    let target = TestTarget::start().await;
    let dir = temp_dir("limits");
    let file = write(
        &dir,
        "limits.yaml",
        &format!(
            "target: {}\nload: {{ users: 3, duration: 30s }}\nscenarios:\n  - name: s\n\
             \x20   steps:\n      - get: /a\n      - get: /b\n",
            target.url()
        ),
    );
    let started = Instant::now();
    let out = output({
        let mut c = stampede();
        c.arg("run")
            .arg(&file)
            .args(["--max-requests", "40", "--quiet"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(target.total(), 40);
    assert!(started.elapsed() < Duration::from_secs(10));

    let out_file = dir.join("result.json");
    let out = output({
        let mut c = stampede();
        c.arg("run")
            .arg(&file)
            .args(["--iterations", "7", "--quiet", "--out"]);
        c.arg(&out_file);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let result = read_result(&out_file);
    assert_eq!(result["summary"]["iterations"], 7);
    assert_eq!(target.total(), 40 + 14);

    let out = output({
        let mut c = stampede();
        c.arg("run").arg(&file).args(["--iterations", "0"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--iterations"),
        "{}",
        text(&out.stderr)
    );
    target.shutdown().await;
}
