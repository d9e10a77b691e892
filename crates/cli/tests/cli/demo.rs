use crate::common::{output, read_result, stampede, temp_dir, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_a_mixed_scenario_against_the_built_in_shop() {
    let dir = temp_dir("demo");
    let out_file = dir.join("demo.json");
    let out = output({
        let mut c = stampede();
        c.args(["demo", "--duration", "5s", "--seed", "7", "--out"])
            .arg(&out_file);
        c
    })
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Sample shop listening on http://127.0.0.1:"),
        "{stderr}"
    );
    let result = read_result(&out_file);
    let scenarios: std::collections::BTreeSet<&str> = result["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["requests"].as_u64().unwrap() > 0)
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        scenarios.len(),
        3,
        "every flow of the mix ran: {scenarios:?}"
    );
    let summary = &result["summary"];
    assert!(summary["requests"].as_u64().unwrap() > 20, "{summary:#}");
    assert_eq!(summary["errors"], 0, "{summary:#}");
    assert!(summary["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Requests:") && stdout.contains("p99.9"),
        "{stdout}"
    );
}
