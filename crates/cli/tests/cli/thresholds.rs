//! Thresholds end to end: file and `--threshold` thresholds against a real target, exit codes
//! 0 / 1 / 2, the JSON `thresholds` and `run.status`, and an early abort.

use crate::common::{output, read_result, run_quiet, stampede, temp_dir, text, write};
use stampede_testkit::TestTarget;
use std::time::{Duration, Instant};

/// Two scenarios: `shopper` (a fast `home` and a ~30 ms `slow` request) and `idle` (weight 0,
/// so it never runs), plus the given `thresholds:` section.
fn scenario(target: &str, load: &str, thresholds: &str) -> String {
    format!(
        "version: 1
target: {target}
load: {load}
scenarios:
  - name: shopper
    think_time: 10ms
    steps:
      - get: /ok
        name: home
      - get: /delay/30
        name: slow
  - name: idle
    weight: 0
    steps:
      - get: /never
thresholds:
{thresholds}"
    )
}

fn thresholds_of(result: &serde_json::Value) -> Vec<serde_json::Value> {
    result["thresholds"].as_array().expect("thresholds").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_thresholds_exit_0_with_their_values_in_the_json() {
    let target = TestTarget::start().await;
    let dir = temp_dir("thr-pass");
    let file = write(
        &dir,
        "pass.yaml",
        &scenario(
            &target.url(),
            "{ users: 2, duration: 2s }",
            "  - { metric: latency.p95, max: 5s }
  - { metric: latency.p50, request: slow, min: 25ms }
  - { metric: error_rate, max: 1% }
  - { metric: checks.pass_rate, scenario: shopper, min: 99.5% }
  - { metric: requests, min: 10 }
  - { metric: rps, min: 1, window: 1s }
",
        ),
    );
    let (out, out_file) = run_quiet(&file, &["--threshold", "latency.max[request=home]<5s"]).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let result = read_result(&out_file);
    assert_eq!(result["run"]["status"], "completed");
    let t = thresholds_of(&result);
    assert_eq!(t.len(), 7, "file thresholds, then the flag's: {t:#?}");
    assert!(
        t.iter()
            .all(|t| t["passed"] == true && t["value"].is_number()),
        "{t:#?}"
    );
    assert_eq!(t[1]["name"], "latency.p50 >= 25ms [request: slow]");
    assert_eq!(t[1]["scope"], "request: slow");
    assert!(t[1]["value"].as_f64().unwrap() >= 30.0, "{:#}", t[1]);
    assert_eq!(t[2]["value"], 0.0);
    assert_eq!(t[3]["value"], 100.0);
    assert_eq!(
        t[4]["value"].as_f64(),
        Some(target.total() as f64),
        "requests counted as the target saw them"
    );
    assert_eq!(t[6]["name"], "latency.max < 5s [request: home]");
    assert!(stdout.contains("Thresholds: all 7 passed"), "{stdout}");
    assert!(stdout.contains("  ✓ latency.p95 <= 5s"), "{stdout}");
    assert_eq!(target.count("/never"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_empty_threshold_exits_1() {
    let target = TestTarget::start().await;
    let dir = temp_dir("thr-fail");
    let file = write(
        &dir,
        "fail.yaml",
        &scenario(
            &target.url(),
            "{ users: 2, duration: 2s }",
            "  - { metric: latency.p95, max: 5s }
  - { metric: requests, scenario: idle, min: 0 }
",
        ),
    );
    let (out, out_file) = run_quiet(
        &file,
        &[
            "--threshold",
            "latency.p95[request=slow]<5ms",
            "--threshold",
            "failure_rate[window=1s]<=0%",
        ],
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let result = read_result(&out_file);
    assert_eq!(
        result["run"]["status"], "completed",
        "a failed threshold does not stop the run"
    );
    let t = thresholds_of(&result);
    let passed: Vec<bool> = t.iter().map(|t| t["passed"] == true).collect();
    assert_eq!(passed, [true, false, false, true], "{t:#?}");
    assert_eq!(t[1]["value"], serde_json::Value::Null);
    assert_eq!(t[1]["message"], "no data: no request matched");
    assert!(t[2]["value"].as_f64().unwrap() >= 30.0, "{:#}", t[2]);
    assert_eq!(t[3]["name"], "failure_rate <= 0% [window: 1s]");
    assert!(stdout.contains("Thresholds: 2 of 4 failed"), "{stdout}");
    assert!(
        stdout.contains("  ✗ latency.p95 < 5ms [request: slow]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("      no data: no request matched"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_stops_a_doomed_run_soon_after_its_delay() {
    let target = TestTarget::start().await;
    let dir = temp_dir("thr-abort");
    let file = write(
        &dir,
        "abort.yaml",
        &format!(
            "target: {}
load: {{ users: 2, duration: 30s }}
scenarios:
  - name: broken
    think_time: 20ms
    steps:
      - get: /status/500
thresholds:
  - metric: latency.p95
    max: 10s
  - metric: checks.pass_rate
    min: 99.5%
    abort: true
    delay: 2s
",
            target.url()
        ),
    );
    let started = Instant::now();
    let (out, out_file) = run_quiet(&file, &[]).await;
    let wall = started.elapsed();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        wall < Duration::from_secs(6),
        "took {wall:?} of a planned 30 s"
    );
    let result = read_result(&out_file);
    assert_eq!(result["run"]["status"], "aborted");
    let ran = result["summary"]["duration_s"].as_f64().unwrap();
    assert!(
        (2.0..4.0).contains(&ran),
        "stopped {ran} s into the run, delay 2 s"
    );
    let t = thresholds_of(&result);
    assert_eq!(t[0]["passed"], true, "{t:#?}");
    assert_eq!(t[0]["aborted_run"], false);
    assert_eq!(t[1]["passed"], false);
    assert_eq!(t[1]["aborted_run"], true);
    assert_eq!(t[1]["value"], 0.0);
    let message = t[1]["message"].as_str().unwrap();
    assert!(
        message.starts_with("failed for certain: aborted the run at 2."),
        "{message}"
    );
    assert!(stdout.contains("aborted by a threshold"), "{stdout}");
    assert!(
        text(&out.stderr).contains("Aborting"),
        "{}",
        text(&out.stderr)
    );
    // Requests in flight when the run stops are dropped, not recorded.
    let recorded = result["summary"]["requests"].as_u64().unwrap();
    assert!(
        recorded > 0 && recorded <= target.count("/status/500"),
        "{recorded}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_thresholds_exit_2_before_any_request() {
    let target = TestTarget::start().await;
    let dir = temp_dir("thr-invalid");
    let file = write(
        &dir,
        "bad.yaml",
        &scenario(
            &target.url(),
            "{ users: 1, duration: 1s }",
            "  - { metric: latency.p95, request: chekout, max: 300ms }\n",
        ),
    );
    let out = output({
        let mut c = stampede();
        c.arg("validate").arg(&file);
        c
    })
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no request named `chekout`"), "{stderr}");
    assert!(
        stderr.contains("bad.yaml:17:37 (thresholds[0].request)"),
        "{stderr}"
    );

    let good = write(
        &dir,
        "good.yaml",
        &scenario(&target.url(), "{ users: 1, duration: 1s }", "  []\n"),
    );
    let out = output({
        let mut c = stampede();
        c.arg("run").arg(&good).arg("--quiet");
        c.args(["--threshold", "latency.p95 300ms"]);
        c.args(["--threshold", "latency.p99[request=slw]<1s"]);
        c
    })
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid --threshold `latency.p95 300ms`: missing a comparison"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `slow`?"), "{stderr}");
    assert!(stderr.contains("(--threshold)"), "{stderr}");
    assert_eq!(target.total(), 0, "nothing was sent");
}
