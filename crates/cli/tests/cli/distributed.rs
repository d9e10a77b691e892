//! Distributed runs with real processes on loopback: a `stampede controller`, `stampede agent`s
//! and `stampede run --controller`, against a counting target.

use crate::common::{output, read_result, row, run_quiet, stampede, temp_dir, text, write};
use stampede_testkit::TestTarget;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// Child processes killed when the test ends, however it ends.
pub struct Procs(pub Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `stampede controller` on ports chosen by the system; returns the agent and API URLs.
pub fn controller(dir: &Path, procs: &mut Procs) -> (String, String, PathBuf) {
    controller_on(dir, &dir.join("data"), procs)
}

/// Starts `stampede controller` with its data directory at `data`.
pub fn controller_on(dir: &Path, data: &Path, procs: &mut Procs) -> (String, String, PathBuf) {
    spawn_controller(stampede(), "127.0.0.1:0", &[], dir, data, procs)
}

/// Starts the controller `cmd` runs (`stampede`, or a wrapper that ends with it) with agents
/// listening on `listen`, the API on 127.0.0.1 and `extra` flags (TLS, allow-lists). The URLs
/// returned are `https://` when `extra` gives the controller a certificate.
pub fn spawn_controller(
    mut cmd: Command,
    listen: &str,
    extra: &[&OsStr],
    dir: &Path,
    data: &Path,
    procs: &mut Procs,
) -> (String, String, PathBuf) {
    let scheme = match extra.iter().any(|a| *a == "--tls-cert") {
        true => "https",
        false => "http",
    };
    let tokens = write(dir, "ctl.token", &format!("# test\n{TOKEN}\n"));
    let mut child = cmd
        .args(["controller", "--listen", listen, "--api", "127.0.0.1:0"])
        .arg("--token-file")
        .arg(&tokens)
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the controller");
    let stdout = child.stdout.take().expect("stdout");
    procs.0.push(child);
    let (mut agents, mut api) = (None, None);
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("controller output");
        if let Some(a) = line.strip_prefix("agents listening on ") {
            agents = Some(format!("{scheme}://{a}"));
        } else if let Some(a) = line.strip_prefix("api listening on ") {
            api = Some(format!("{scheme}://{a}"));
        }
        if agents.is_some() && api.is_some() {
            break;
        }
    }
    (
        agents.expect("agent port printed"),
        api.expect("API port printed"),
        tokens,
    )
}

fn agent(url: &str, tokens: &Path, id: &str, procs: &mut Procs) {
    agent_with(url, tokens, id, &[], procs);
}

/// Starts `stampede agent` with `extra` flags (capacity, labels).
pub fn agent_with(url: &str, tokens: &Path, id: &str, extra: &[&str], procs: &mut Procs) {
    spawn_agent(stampede(), url, tokens, id, extra, procs);
}

/// Starts the agent `cmd` runs (`stampede`, or a wrapper that ends with it).
pub fn spawn_agent(
    mut cmd: Command,
    url: &str,
    tokens: &Path,
    id: &str,
    extra: &[&str],
    procs: &mut Procs,
) {
    let child = cmd
        .args(["agent", "--controller", url, "--id", id])
        .args(extra)
        .arg("--token-file")
        .arg(tokens)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start an agent");
    procs.0.push(child);
}

/// `CMD run FILE --controller API --min-agents N --quiet --token-file TOKENS --out
/// <FILE's dir>/result.json`, to run or spawn; returned with the result's path.
pub fn submit(
    mut cmd: Command,
    file: &Path,
    api: &str,
    tokens: &Path,
    min_agents: u32,
) -> (Command, PathBuf) {
    let out_file = file.with_file_name("result.json");
    let min_agents = min_agents.to_string();
    cmd.arg("run")
        .arg(file)
        .args(["--controller", api, "--min-agents", &min_agents, "--quiet"])
        .arg("--token-file")
        .arg(tokens)
        .arg("--out")
        .arg(&out_file);
    (cmd, out_file)
}

/// 9 users, weights 1:2 (3 and 6 users), each running exactly 2 iterations.
pub fn scenario(dir: &Path, target: &str) -> PathBuf {
    let yaml = format!(
        "version: 1\ntarget: {target}\nload: {{ users: 9, spawn_rate: 100/s, duration: 20s, iterations: {{ per_user: 2 }} }}\n\
         scenarios:\n  - name: a\n    weight: 1\n    think_time: 100ms\n    steps:\n      - get: /a\n\
         \x20 - name: b\n    weight: 2\n    think_time: 100ms\n    steps:\n      - get: /b\n"
    );
    write(dir, "split.yaml", &yaml)
}

pub fn assert_exact_split(target: &TestTarget, result: &serde_json::Value) {
    // Each user runs exactly 2 iterations: 3 users of `a`, 6 of `b`, cluster-wide.
    assert_eq!(target.count("/a"), 6, "{:?}", target.counts());
    assert_eq!(target.count("/b"), 12, "{:?}", target.counts());
    assert_eq!(row(result, "a", "/a")["requests"].as_u64(), Some(6));
    assert_eq!(row(result, "b", "/b")["requests"].as_u64(), Some(12));
    assert_eq!(result["summary"]["requests"].as_u64(), Some(target.total()));
    assert_eq!(target.connections(), 9, "one connection per virtual user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_split_users_exactly_and_the_merge_matches_the_target() {
    let target = TestTarget::start().await;
    let dir = temp_dir("dist-three");
    let mut procs = Procs(Vec::new());
    let (agents_url, api, tokens) = controller(&dir, &mut procs);
    for i in 1..=3 {
        agent(&agents_url, &tokens, &format!("agent-{i}"), &mut procs);
    }
    let file = scenario(&dir, &target.url());
    let (submitter, out_file) = submit(stampede(), &file, &api, &tokens, 3);
    let out = output(submitter).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("on 3 agent(s)"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("Latency (ms)"),
        "{}",
        text(&out.stdout)
    );
    let result = read_result(&out_file);
    assert_exact_split(&target, &result);
    assert_eq!(result["summary"]["max_users"], 9);
    // The controller kept the same result in its data directory.
    let kept: Vec<_> = std::fs::read_dir(dir.join("data"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let stored = read_result(&kept[0].path());
    assert_eq!(stored["summary"]["requests"], result["summary"]["requests"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_on_both_ports() {
    let dir = temp_dir("dist-token");
    let mut procs = Procs(Vec::new());
    let (agents_url, api, _) = controller(&dir, &mut procs);
    let wrong = write(&dir, "wrong.token", "not-the-right-token-at-all\n");
    let file = write(
        &dir,
        "s.yaml",
        "version: 1\ntarget: http://127.0.0.1:9\nload: { users: 1, duration: 1s }\nscenarios:\n  - name: a\n    steps:\n      - get: /\n",
    );
    let out = output({
        let mut c = stampede();
        c.arg("run")
            .arg(&file)
            .args(["--controller", &api, "--quiet"]);
        c.arg("--token-file").arg(&wrong);
        c
    })
    .await;
    assert_ne!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("refused the token"), "{stderr}");
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        output({
            let mut c = stampede();
            c.args(["agent", "--controller", &agents_url, "--token-file"])
                .arg(&wrong);
            c
        }),
    )
    .await
    .expect("a refused agent exits");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("rejected the agent's token"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_flag_runs_on_local_agent_processes() {
    let target = TestTarget::start().await;
    let dir = temp_dir("dist-local");
    let file = scenario(&dir, &target.url());
    let (out, out_file) = run_quiet(&file, &["--agents", "2"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("on 2 agent(s)"),
        "{}",
        text(&out.stderr)
    );
    assert_exact_split(&target, &read_result(&out_file));
}

/// A steady closed-model load on `agents` agents for `duration`.
fn steady(dir: &Path, target: &str, duration: &str) -> PathBuf {
    let yaml = format!(
        "version: 1\ntarget: {target}\nload: {{ users: 6, spawn_rate: 100/s, duration: {duration} }}\n\
         scenarios:\n  - name: a\n    think_time: 50ms\n    steps:\n      - get: /a\n"
    );
    write(dir, "steady.yaml", &yaml)
}

async fn wait_for_requests(target: &TestTarget, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while target.total() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Requests the target received per second in `[from, from + 1 s)`.
fn rate_at(target: &TestTarget, from: Instant) -> usize {
    let to = from + Duration::from_secs(1);
    (target.arrivals("/a").iter())
        .filter(|t| **t >= from && **t < to)
        .count()
}

/// Starts a controller, 3 agents and `run --controller` (with `extra` flags) on a steady load of
/// `duration`; kills agent-2 once the load is flowing. Returns the run's output, the result, the
/// instant of the kill and the processes (kept alive until the test ends).
async fn kill_an_agent_mid_run(
    name: &str,
    target: &TestTarget,
    duration: &str,
    extra: &[&str],
) -> (std::process::Output, serde_json::Value, Instant, Procs) {
    let dir = temp_dir(name);
    let mut procs = Procs(Vec::new());
    let (agents_url, api, tokens) = controller(&dir, &mut procs);
    for i in 1..=3 {
        agent(&agents_url, &tokens, &format!("agent-{i}"), &mut procs);
    }
    let file = steady(&dir, &target.url(), duration);
    let (mut submitter, out_file) = submit(stampede(), &file, &api, &tokens, 3);
    submitter.args(extra);
    let run = tokio::spawn(output(submitter));
    wait_for_requests(target, 300).await;
    // procs.0[0] is the controller; agent-2 is procs.0[2]. `kill` is SIGKILL on Unix.
    let killed = Instant::now();
    procs.0[2].kill().expect("kill agent-2");
    let out = tokio::time::timeout(Duration::from_secs(40), run)
        .await
        .expect("the run ends")
        .expect("join");
    let result = if out_file.exists() {
        read_result(&out_file)
    } else {
        serde_json::Value::Null
    };
    (out, result, killed, procs)
}

fn lost_events(result: &serde_json::Value) -> Vec<&serde_json::Value> {
    let events = result["events"].as_array().expect("events");
    events
        .iter()
        .filter(|e| e["kind"] == "agent_lost")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agents_share_goes_to_the_survivors_and_the_rate_recovers() {
    let target = TestTarget::start().await;
    let (out, result, killed, _procs) =
        kill_an_agent_mid_run("dist-kill-agent", &target, "10s", &[]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("agent agent-2 was lost"), "{stderr}");
    assert!(stderr.contains("re-assigned to"), "{stderr}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Agent event at") && stdout.contains("agent-2"),
        "{stdout}"
    );
    let lost = lost_events(&result);
    assert_eq!(lost.len(), 1, "{:#?}", result["events"]);
    let message = lost[0]["message"].as_str().unwrap();
    assert!(
        message.contains("agent-2") && message.contains("rebalance"),
        "{message}"
    );
    assert!(lost[0]["second"].as_f64().unwrap() > 0.0);
    // 6 users at ~19 requests/s each: the rate before the kill, and 3 s after it (the loss is
    // noticed when the session breaks, the extensions start at once), within 20 %.
    let before = rate_at(&target, killed - Duration::from_secs(1));
    let after = rate_at(&target, killed + Duration::from_secs(3));
    eprintln!("requests/s before the kill {before}, 3 s after {after}");
    assert!(
        after as f64 >= before as f64 * 0.8,
        "the rate did not recover: {before}/s before, {after}/s after"
    );
    // The cluster ran 6 users again: the last full second of the timeline.
    let users: Vec<u64> = (result["timeline"].as_array().expect("timeline").iter())
        .filter_map(|t| t["users"].as_u64())
        .collect();
    assert!(
        users.iter().rev().skip(1).take(3).all(|&u| u == 6),
        "{users:?}"
    );
    // What every agent reported is counted; the killed agent's last partial second is lost.
    let merged = result["summary"]["requests"].as_u64().unwrap();
    assert!(
        merged > 300 && merged <= target.total(),
        "{merged} vs {}",
        target.total()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_continue_and_abort_are_honoured() {
    let target = TestTarget::start().await;
    let (out, result, _, _procs) = kill_an_agent_mid_run(
        "dist-kill-continue",
        &target,
        "4s",
        &["--on-agent-loss", "continue"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lost = lost_events(&result);
    assert!(
        lost[0]["message"]
            .as_str()
            .unwrap()
            .contains("continued short")
    );

    let target = TestTarget::start().await;
    let started = Instant::now();
    let (out, result, _, _procs) = kill_an_agent_mid_run(
        "dist-kill-abort",
        &target,
        "30s",
        &["--on-agent-loss", "abort"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the run was not stopped"
    );
    assert_eq!(result["run"]["status"], "aborted");
    assert!(text(&out.stdout).contains("aborted: agent agent-2 was lost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_stop_their_load_when_the_controller_dies() {
    let target = TestTarget::start().await;
    let dir = temp_dir("dist-kill-controller");
    let mut procs = Procs(Vec::new());
    let (agents_url, api, tokens) = controller(&dir, &mut procs);
    for i in 1..=2 {
        agent(&agents_url, &tokens, &format!("agent-{i}"), &mut procs);
    }
    let file = steady(&dir, &target.url(), "30s");
    let run = tokio::spawn(output({
        let mut c = stampede();
        c.arg("run")
            .arg(&file)
            .args(["--controller", &api, "--min-agents", "2", "--quiet"]);
        c.arg("--token-file").arg(&tokens);
        c
    }));
    wait_for_requests(&target, 30).await;
    procs.0[0].kill().expect("kill the controller");
    let out = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the submitter notices")
        .expect("join");
    assert_ne!(out.status.code(), Some(0));
    // The dead man's switch cuts the load 5 s after the controller's last message.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = target.total();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        target.total(),
        after,
        "load went on after the controller died"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_rates_are_split_not_multiplied() {
    let target = TestTarget::start().await;
    let dir = temp_dir("dist-open");
    let yaml = format!(
        "version: 1\ntarget: {}\nload: {{ arrival_rate: 60/s, duration: 2s, max_users: 12 }}\n\
         scenarios:\n  - name: o\n    steps:\n      - get: /o\n",
        target.url()
    );
    let file = write(&dir, "open.yaml", &yaml);
    let (out, out_file) = run_quiet(&file, &["--agents", "3"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // 60/s for 2 s cluster-wide: exactly 120 arrivals, not 120 per agent.
    assert_eq!(target.count("/o"), 120);
    assert_eq!(read_result(&out_file)["summary"]["requests"], 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_requests_is_split_not_multiplied() {
    let target = TestTarget::start().await;
    let dir = temp_dir("dist-max-requests");
    let file = steady(&dir, &target.url(), "30s");
    let (out, out_file) = run_quiet(&file, &["--agents", "2", "--max-requests", "50"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        target.count("/a"),
        50,
        "the cluster sends exactly --max-requests"
    );
    assert_eq!(
        read_result(&out_file)["summary"]["requests"].as_u64(),
        Some(50)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_with_their_own_load_are_split_not_multiplied() {
    let target = TestTarget::start().await;
    let dir = temp_dir("dist-own-load");
    let yaml = format!(
        "version: 1\ntarget: {}\nload: {{ users: 4, spawn_rate: 100/s, duration: 2s }}\n\
         scenarios:\n  - name: browse\n    think_time: 100ms\n    steps:\n      - get: /a\n\
         \x20 - name: buy\n    load: {{ arrival_rate: 20/s, duration: 2s, max_users: 10 }}\n    steps:\n      - get: /b\n",
        target.url()
    );
    let file = write(&dir, "own.yaml", &yaml);
    let (out, out_file) = run_quiet(&file, &["--agents", "2"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // 20/s for 2 s on the cluster, not on each agent.
    assert_eq!(target.count("/b"), 40, "{:?}", target.counts());
    // 4 browsing users at ~9 requests/s for 2 s: far below what 8 (multiplied) would send.
    let browse = target.count("/a");
    assert!((40..=90).contains(&browse), "{browse}");
    let result = read_result(&out_file);
    assert_eq!(row(&result, "buy", "/b")["requests"].as_u64(), Some(40));
}

/// Ctrl-C on the submitter stops the load on every agent within 1 s; the result of the stopped
/// run is written to the controller's data directory, and is still there after the controller
/// is killed and started again on the same directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_reaches_every_agent_at_once_and_results_survive_a_controller_restart() {
    let target = TestTarget::start().await;
    let dir = temp_dir("dist-stop-restart");
    let mut procs = Procs(Vec::new());
    let (agents_url, api, tokens) = controller(&dir, &mut procs);
    for i in 1..=2 {
        agent(&agents_url, &tokens, &format!("agent-{i}"), &mut procs);
    }
    let file = steady(&dir, &target.url(), "60s");
    let (mut cmd, out_file) = submit(stampede(), &file, &api, &tokens, 2);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let child = cmd.spawn().expect("spawn the submitter");
    wait_for_requests(&target, 100).await;
    let pid = child.id().to_string();
    let interrupted = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
    assert!(kill.expect("kill").success());
    let code = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join")
        .status
        .code();
    assert_eq!(code, Some(130));
    // Nothing reaches the target 1 s after the interrupt (requests in flight then may land).
    let late = (target.arrivals("/a").iter())
        .filter(|t| **t > interrupted + Duration::from_secs(1))
        .count();
    assert_eq!(late, 0, "load went on after the stop");
    let result = read_result(&out_file);
    assert_eq!(result["run"]["status"], "interrupted");

    // The controller wrote the result to its data directory; kill it, start another on the
    // same directory: the result is still there, as the submitter got it.
    let data = dir.join("data");
    let stored: Vec<PathBuf> = std::fs::read_dir(&data)
        .expect("data dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    procs.0[0].kill().expect("kill the controller");
    let _ = procs.0[0].wait();
    let restarted = dir.join("again");
    std::fs::create_dir_all(&restarted).unwrap();
    let mut more = Procs(Vec::new());
    let _ = controller_on(&restarted, &data, &mut more);
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stored[0]).expect("still there"))
            .expect("valid JSON");
    assert_eq!(again["summary"], result["summary"]);
}
