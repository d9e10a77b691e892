use crate::common::{output, read_result, row, run_quiet, stampede, temp_dir, text, write};
use stampede_testkit::{TestTarget, closed_port};
use std::time::{Duration, Instant};

fn scenario(target: &str, load: &str, body: &str) -> String {
    format!("version: 1\ntarget: {target}\nload: {load}\nscenarios:\n{body}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_requests_equal_what_the_target_counted() {
    let target = TestTarget::start().await;
    let dir = temp_dir("counts");
    let file = write(
        &dir,
        "counts.yaml",
        &scenario(
            &target.url(),
            "{ users: 6, spawn_rate: 20/s, duration: 3s }",
            "  - name: reader\n    weight: 2\n    think_time: 10ms\n    steps:\n      - get: /items/1\n        name: item\n      - get: /items/2\n        name: item\n      - get: /status/500\n  - name: writer\n    weight: 1\n    think_time: 10ms\n    steps:\n      - post: /cart\n        json: { product: 42 }\n        expect: { status: 201 }\n",
        ),
    );
    let (out, out_file) = run_quiet(&file, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let result = read_result(&out_file);

    let item = row(&result, "reader", "item");
    let status500 = row(&result, "reader", "/status/500");
    let cart = row(&result, "writer", "/cart");
    assert_eq!(
        item["requests"].as_u64().unwrap(),
        target.count("/items/1") + target.count("/items/2"),
        "two steps with one name are one row"
    );
    assert_eq!(
        status500["requests"].as_u64().unwrap(),
        target.count("/status/500")
    );
    assert_eq!(cart["requests"].as_u64().unwrap(), target.count("/cart"));
    assert!(item["requests"].as_u64().unwrap() > 10, "{item:#}");
    assert_eq!(
        result["summary"]["requests"].as_u64().unwrap(),
        target.total()
    );
    // 500 without `expect` is a failure; 200 where 201 is expected is a failure with that check named.
    assert_eq!(status500["failures"], status500["requests"]);
    assert_eq!(cart["failures"], cart["requests"]);
    assert_eq!(item["failures"], 0);
    let checks = result["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["request"] == "/cart" && c["check"] == "status in [201]"),
        "{checks:#?}"
    );
    assert_eq!(result["summary"]["max_users"], 6);
    assert_eq!(result["run"]["status"], "completed");
    let timeline = result["timeline"].as_array().unwrap();
    assert!(timeline.len() >= 3, "{timeline:#?}");
    // The summary printed to the terminal carries the same totals.
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Latency (ms)") && stdout.contains("reader"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line_overrides_replace_the_load_and_target() {
    let target = TestTarget::start().await;
    let dir = temp_dir("overrides");
    let file = write(
        &dir,
        "o.yaml",
        &scenario(
            "http://127.0.0.1:9",
            "{ users: 50, duration: 1h }",
            "  - name: s\n    think_time: 50ms\n    steps:\n      - get: /\n",
        ),
    );
    let out_file = dir.join("result.json");
    let out = output({
        let mut c = stampede();
        c.arg("run").arg(&file).args([
            "--users",
            "3",
            "--spawn-rate",
            "100/s",
            "--duration",
            "2s",
            "--quiet",
        ]);
        c.arg("--target")
            .arg(target.url())
            .arg("--out")
            .arg(&out_file);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let result = read_result(&out_file);
    assert_eq!(result["summary"]["max_users"], 3);
    assert_eq!(result["run"]["planned_duration_s"], 2.0);
    assert_eq!(result["run"]["target"], target.url());
    assert!(target.count("/") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_exits_with_3() {
    let port = closed_port();
    let dir = temp_dir("unreachable");
    let file = write(
        &dir,
        "u.yaml",
        &scenario(
            &format!("http://127.0.0.1:{port}"),
            "{ users: 2, duration: 1s }",
            "  - name: s\n    think_time: 100ms\n    steps:\n      - get: /\n",
        ),
    );
    let out_file = dir.join("result.json");
    let out = output({
        let mut c = stampede();
        c.arg("run")
            .arg(&file)
            .arg("--quiet")
            .arg("--out")
            .arg(&out_file);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let result = read_result(&out_file);
    assert_eq!(result["errors"][0]["kind"], "connect_refused");
    assert!(result["summary"]["errors"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_promptly_and_still_prints_and_saves_the_summary() {
    let target = TestTarget::start().await;
    let dir = temp_dir("interrupt");
    let file = write(
        &dir,
        "long.yaml",
        &scenario(
            &target.url(),
            "{ users: 5, duration: 5m }",
            "  - name: s\n    think_time: 20ms\n    steps:\n      - get: /\n",
        ),
    );
    let out_file = dir.join("result.json");
    let mut cmd = stampede();
    cmd.arg("run").arg(&file).arg("--out").arg(&out_file);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let (code, stdout, elapsed) = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(2500));
        let sent = Instant::now();
        let kill = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(kill.success());
        let out = child.wait_with_output().expect("wait");
        (out.status.code(), text(&out.stdout), sent.elapsed())
    })
    .await
    .unwrap();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?} to stop");
    assert_eq!(code, Some(130));
    assert!(stdout.contains("interrupted"), "{stdout}");
    let result = read_result(&out_file);
    assert_eq!(result["run"]["status"], "interrupted");
    let reported = result["summary"]["requests"].as_u64().unwrap();
    assert!(reported > 20, "{reported}");
    // Requests in flight at the interrupt are dropped: at most one per user.
    let counted = target.count("/");
    assert!(
        counted >= reported && counted - reported <= 5,
        "{counted} vs {reported}"
    );
    // Load really stopped.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(target.count("/"), counted);
}

/// mimalloc asks for transparent huge pages, which made a soak's memory step up at random
/// moments (see `disable_transparent_huge_pages` in main.rs): the process turns them off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_keeps_its_memory_out_of_transparent_huge_pages() {
    if !std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s.contains("THP_enabled:")) {
        eprintln!("skipped: this kernel does not report THP_enabled in /proc/PID/status");
        return;
    }
    let target = TestTarget::start().await;
    let dir = temp_dir("thp");
    let file = write(
        &dir,
        "thp.yaml",
        &scenario(
            &target.url(),
            "{ users: 1, duration: 20s }",
            "  - name: s\n    think_time: 50ms\n    steps:\n      - get: /\n",
        ),
    );
    let mut cmd = stampede();
    cmd.arg("run").arg(&file).arg("--quiet");
    cmd.arg("--out").arg(dir.join("result.json"));
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawn");
    let status = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while Instant::now() < deadline {
        // Once the run is under way (it has sent requests), its setup is done.
        if target.count("/") > 0 {
            seen = std::fs::read_to_string(&status).unwrap_or_default();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let thp = seen
        .lines()
        .find(|l| l.starts_with("THP_enabled:"))
        .map(|l| l.split_whitespace().nth(1).unwrap_or_default().to_owned());
    assert!(target.count("/") > 0, "the run never sent a request");
    assert_eq!(thp.as_deref(), Some("0"), "{seen}");
}
