//! The binary limited to one CPU (`taskset -c 0`), where it runs on a current-thread runtime
//! (see `runtime` in `src/main.rs`): local closed- and open-model runs and an agent, each counted
//! exactly against the target.

use crate::common::{
    output, read_result, row, run_quiet_as, stampede, stampede_through, temp_dir, text, write,
};
use crate::distributed::{Procs, assert_exact_split, controller, scenario, spawn_agent, submit};
use stampede_testkit::TestTarget;
use std::process::Command;

/// `stampede` started through `taskset -c 0`: one CPU allowed.
fn pinned() -> Command {
    stampede_through(&["taskset", "-c", "0"])
}

/// Runs `FILE` with the pinned binary, expecting exit 0, and returns its result.
async fn run_pinned(file: &std::path::Path) -> serde_json::Value {
    let (out, out_file) = run_quiet_as(pinned(), file, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    read_result(&out_file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_model_run_on_one_cpu_counts_every_request() {
    let target = TestTarget::start().await;
    let dir = temp_dir("one-cpu-closed");
    let file = write(
        &dir,
        "closed.yaml",
        &format!(
            "target: {}\nload: {{ users: 8, spawn_rate: 100/s, duration: 2s, iterations: {{ per_user: 25 }} }}\n\
             scenarios:\n  - name: browse\n    steps:\n      - get: /items/1\n      - get: /status/500\n",
            target.url()
        ),
    );
    let result = run_pinned(&file).await;
    // 8 users x 25 iterations x 2 steps, all of them seen by the target and reported.
    assert_eq!(target.count("/items/1"), 200, "{:?}", target.counts());
    assert_eq!(target.count("/status/500"), 200);
    assert_eq!(row(&result, "browse", "/items/1")["requests"], 200);
    assert_eq!(row(&result, "browse", "/status/500")["failures"], 200);
    assert_eq!(result["summary"]["requests"].as_u64(), Some(target.total()));
    assert_eq!(result["summary"]["iterations"], 200);
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_model_run_on_one_cpu_starts_every_arrival() {
    let target = TestTarget::start().await;
    let dir = temp_dir("one-cpu-open");
    let file = write(
        &dir,
        "open.yaml",
        &format!(
            "target: {}\nload: {{ arrival_rate: 100/s, duration: 2s, max_users: 20 }}\n\
             scenarios:\n  - name: api\n    steps:\n      - get: /delay/10\n        name: slow\n",
            target.url()
        ),
    );
    let result = run_pinned(&file).await;
    assert_eq!(target.count("/delay/10"), 200);
    assert_eq!(result["summary"]["requests"], 200);
    assert_eq!(result["summary"]["dropped_iterations"], 0);
    let slow = row(&result, "api", "slow");
    assert!(
        slow["service_time_ms"]["p50"].as_f64().unwrap() >= 10.0,
        "{slow:#}"
    );
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_one_cpu_runs_its_exact_share() {
    let target = TestTarget::start().await;
    let dir = temp_dir("one-cpu-agent");
    let mut procs = Procs(Vec::new());
    let (agents_url, api, tokens) = controller(&dir, &mut procs);
    spawn_agent(pinned(), &agents_url, &tokens, "pinned", &[], &mut procs);
    let file = scenario(&dir, &target.url());
    let (submitter, out_file) = submit(stampede(), &file, &api, &tokens, 1);
    let out = output(submitter).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_exact_split(&target, &read_result(&out_file));
}
