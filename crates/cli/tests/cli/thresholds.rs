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
    let flags = [
        "--threshold",
        "latency.max[request=home]<5s",
        "--threshold",
        "dropped_iterations[scenario=shopper]<1",
    ];
    let (out, out_file) = run_quiet(&file, &flags).await;
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // A closed-model scenario never drops an iteration: the flag is kept, with a warning.
    assert!(
        stderr.contains(
            "warning: --threshold: `dropped_iterations < 1 [scenario: shopper]` always passes: \
             iterations are only dropped by an arrival-rate (open) model; scenario `shopper` runs \
             a closed model with users"
        ),
        "{stderr}"
    );
    let result = read_result(&out_file);
    assert_eq!(result["run"]["status"], "completed");
    let t = thresholds_of(&result);
    assert_eq!(t.len(), 8, "file thresholds, then the flags': {t:#?}");
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
    assert!(stdout.contains("Thresholds: all 8 passed"), "{stdout}");
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

/// One scenario whose iterations add 1 to the counter `carts`, record 3 in the trend
/// `cart_size`, set the gauge `queue` to 7 and time the group `pay` (a ~30 ms request), plus the
/// given `thresholds:` section.
fn custom_scenario(target: &str, thresholds: &str) -> String {
    format!(
        "version: 1
target: {target}
load: {{ users: 2, duration: 2s }}
scenarios:
  - name: shopper
    think_time: 10ms
    steps:
      - get: /ok
        name: home
      - counter: carts
      - trend: {{ name: cart_size, value: 3 }}
      - gauge: {{ name: queue, value: 7 }}
      - group: pay
        steps:
          - get: /delay/30
            name: slow
thresholds:
{thresholds}"
    )
}

/// The `custom_metrics` row of this kind and name.
fn custom_row<'a>(result: &'a serde_json::Value, kind: &str, name: &str) -> &'a serde_json::Value {
    (result["custom_metrics"].as_array().expect("custom_metrics"))
        .iter()
        .find(|m| m["kind"] == kind && m["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}: {:#}", result["custom_metrics"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_metric_thresholds_pass_with_their_values() {
    let target = TestTarget::start().await;
    let dir = temp_dir("thr-custom-pass");
    let file = write(
        &dir,
        "custom.yaml",
        &custom_scenario(
            &target.url(),
            "  - { metric: counter.carts, min: 5 }
  - { metric: counter.carts.rate, min: 1 }
  - { metric: trend.cart_size.p95, max: 5 }
  - { metric: trend.group.pay.p50, min: 25 }
  - { metric: gauge.queue, max: 7 }
",
        ),
    );
    let flags = [
        "--threshold",
        "trend.cart_size.count>=5",
        "--threshold",
        "counter.carts[window=1s]>=1",
        "--threshold",
        "dropped_iterations<=0",
    ];
    let (out, out_file) = run_quiet(&file, &flags).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let result = read_result(&out_file);
    let t = thresholds_of(&result);
    assert_eq!(t.len(), 8, "{t:#?}");
    assert!(t.iter().all(|t| t["passed"] == true), "{t:#?}");
    let carts = custom_row(&result, "counter", "carts");
    assert_eq!(t[0]["metric"], "counter.carts");
    assert_eq!(t[0]["value"], carts["total"], "the counter's sum");
    assert!(t[0]["value"].as_f64().unwrap() >= 5.0, "{:#}", t[0]);
    assert_eq!(t[2]["value"], 3.0);
    assert!(t[3]["value"].as_f64().unwrap() >= 30.0, "{:#}", t[3]);
    assert_eq!(t[4]["value"], 7.0);
    let sizes = custom_row(&result, "trend", "cart_size");
    assert_eq!(t[5]["name"], "trend.cart_size.count >= 5");
    assert_eq!(t[5]["value"].as_f64(), sizes["count"].as_f64());
    assert!(t[5]["value"].as_f64().unwrap() >= 5.0, "{:#}", t[5]);
    assert_eq!(t[7]["value"], 0.0, "a closed model drops nothing");
    assert!(stdout.contains("Thresholds: all 8 passed"), "{stdout}");
    assert!(stdout.contains("  ✓ trend.cart_size.p95 <= 5"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_metric_thresholds_fail_with_exit_1() {
    let target = TestTarget::start().await;
    let dir = temp_dir("thr-custom-fail");
    let file = write(
        &dir,
        "custom.yaml",
        &custom_scenario(
            &target.url(),
            "  - { metric: trend.cart_size.p95, max: 2 }
  - { metric: counter.carts, max: 0 }
  - { metric: counter.carts, min: 1 }
",
        ),
    );
    let (out, out_file) = run_quiet(&file, &["--threshold", "gauge.queue.max<7"]).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let result = read_result(&out_file);
    assert_eq!(result["run"]["status"], "completed");
    let t = thresholds_of(&result);
    let passed: Vec<bool> = t.iter().map(|t| t["passed"] == true).collect();
    assert_eq!(passed, [false, false, true, false], "{t:#?}");
    assert_eq!(t[0]["value"], 3.0);
    assert_eq!(t[0]["message"], serde_json::Value::Null);
    let carts = custom_row(&result, "counter", "carts");
    assert_eq!(t[1]["value"], carts["total"]);
    assert_eq!(t[3]["name"], "gauge.queue.max < 7");
    assert_eq!(t[3]["value"], 7.0);
    assert!(stdout.contains("Thresholds: 3 of 4 failed"), "{stdout}");
    let line = (stdout.lines())
        .find(|l| l.contains("✗ trend.cart_size.p95 <= 2"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.trim_end().ends_with(" 3"),
        "the value, without a unit: {line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_iterations_fail_and_abort_an_overloaded_open_model_run() {
    let target = TestTarget::start().await;
    let dir = temp_dir("thr-dropped");
    // 50 arrivals a second, but 2 users busy 300 ms each serve about 7: most are dropped.
    let file = write(
        &dir,
        "open.yaml",
        &format!(
            "target: {}
load: {{ arrival_rate: 50/s, duration: 20s, max_users: 2 }}
scenarios:
  - name: checkout
    steps:
      - get: /delay/300
        name: slow
thresholds:
  - metric: dropped_iterations
    max: 5
    abort: true
",
            target.url()
        ),
    );
    let started = Instant::now();
    let flags = ["--threshold", "dropped_iterations[scenario=checkout]<=0"];
    let (out, out_file) = run_quiet(&file, &flags).await;
    let wall = started.elapsed();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        wall < Duration::from_secs(8),
        "took {wall:?} of a planned 20 s"
    );
    let result = read_result(&out_file);
    assert_eq!(result["run"]["status"], "aborted");
    let t = thresholds_of(&result);
    assert_eq!(t[0]["aborted_run"], true, "{t:#?}");
    assert_eq!(t[0]["passed"], false);
    assert!(t[0]["value"].as_f64().unwrap() > 5.0, "{:#}", t[0]);
    assert_eq!(t[1]["name"], "dropped_iterations <= 0 [scenario: checkout]");
    assert_eq!(t[1]["passed"], false);
    let dropped = result["summary"]["dropped_iterations"].as_f64().unwrap();
    assert!(dropped > 5.0, "{:#}", result["summary"]);
    assert_eq!(
        t[1]["value"].as_f64(),
        Some(dropped),
        "one scenario: all of them"
    );
    assert_eq!(
        result["scenarios"][0]["dropped_iterations"].as_f64(),
        Some(dropped)
    );
    assert!(
        stdout.contains("  ✗ dropped_iterations <= 0 [scenario: checkout]"),
        "{stdout}"
    );
}
