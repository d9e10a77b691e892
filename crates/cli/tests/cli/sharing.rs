//! Several runs on one pool of agents: capacity is metered per agent, a run that does not fit
//! waits in the queue with a reason and starts when capacity frees up, and a run can ask for
//! agents by label.

use crate::common::{output, read_result, stampede, temp_dir, text, write};
use crate::distributed::{Procs, agent_with, controller};
use stampede_testkit::TestTarget;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `users` users requesting `path` for `duration` (10 requests/s each).
fn steady_on(
    dir: &Path,
    name: &str,
    target: &str,
    users: u32,
    path: &str,
    duration: &str,
) -> PathBuf {
    let yaml = format!(
        "version: 1\ntarget: {target}\nload: {{ users: {users}, spawn_rate: 100/s, duration: {duration} }}\n\
         scenarios:\n  - name: s\n    think_time: 100ms\n    steps:\n      - get: {path}\n"
    );
    write(dir, name, &yaml)
}

fn submit(file: &Path, api: &str, tokens: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = stampede();
    c.arg("run")
        .arg(file)
        .args(["--controller", api, "--min-agents", "2", "--token-file"])
        .arg(tokens)
        .arg("--out")
        .arg(file.with_extension("json"))
        .args(extra);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_does_not_fit_waits_for_capacity_and_labels_pick_agents() {
    let target = TestTarget::start().await;
    let dir = temp_dir("dist-sharing");
    let mut procs = Procs(Vec::new());
    let (agents_url, api, tokens) = controller(&dir, &mut procs);
    let cap = ["--capacity-users", "5"];
    agent_with(
        &agents_url,
        &tokens,
        "eu-1",
        &[&cap[..], &["--label", "region=eu"]].concat(),
        &mut procs,
    );
    agent_with(
        &agents_url,
        &tokens,
        "us-1",
        &[&cap[..], &["--label", "region=us"]].concat(),
        &mut procs,
    );

    // A takes 8 of the pool's 10 users for 3 s; B needs 5 and must wait for A.
    let a = steady_on(&dir, "a.yaml", &target.url(), 8, "/a", "3s");
    let b = steady_on(&dir, "b.yaml", &target.url(), 5, "/b", "1s");
    let run_a = tokio::spawn(output(submit(&a, &api, &tokens, &[])));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while target.count("/a") < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "run A never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out_b = output(submit(&b, &api, &tokens, &[])).await;
    let out_a = run_a.await.expect("join");
    assert_eq!(out_a.status.code(), Some(0), "{}", text(&out_a.stderr));
    let stderr_b = text(&out_b.stderr);
    assert_eq!(out_b.status.code(), Some(0), "{stderr_b}");
    assert!(
        stderr_b.contains("is queued (position 1)") && stderr_b.contains("needs 5 users"),
        "{stderr_b}"
    );
    // B started only once A was over: its first request after A's last.
    let last_a = *target.arrivals("/a").iter().max().expect("A ran");
    let first_b = *target.arrivals("/b").iter().min().expect("B ran");
    assert!(first_b > last_a, "B started while A was running");
    assert_eq!(
        read_result(&b.with_extension("json"))["summary"]["requests"],
        target.count("/b")
    );

    // A run for region=eu runs on eu-1 only.
    let c = steady_on(&dir, "c.yaml", &target.url(), 2, "/c", "1s");
    let out_c = output(submit(&c, &api, &tokens, &["--agent-label", "region=eu"])).await;
    let stderr_c = text(&out_c.stderr);
    assert_eq!(out_c.status.code(), Some(0), "{stderr_c}");
    assert!(stderr_c.contains("on 1 agent(s): eu-1"), "{stderr_c}");
    assert!(target.count("/c") > 0);
}
