//! Reports, comparisons and the baseline gate, end to end: real runs against a real target, then
//! `stampede report` and `stampede compare` on the recorded results.

use crate::common::{output, read_result, stampede, temp_dir, text, write};
use stampede_testkit::{TestTarget, closed_port};
use std::path::{Path, PathBuf};

/// A run with every kind of outcome: fast and slow responses, a failed check (500), timeouts and
/// refused connections. `api_delay_ms` sets how slow the `api` row is.
fn scenario(target: &str, api_delay_ms: u32) -> String {
    format!(
        "version: 1
target: {target}
load: {{ users: 4, spawn_rate: 2/s, duration: 4s }}
scenarios:
  - name: shopper
    think_time: 20ms
    steps:
      - get: /items/1
        name: item
      - get: /delay/{api_delay_ms}
        name: api
      - get: /status/500
        name: broken
      - get: /delay/400
        name: slow
        timeout: 100ms
      - get: http://127.0.0.1:{closed}/
        name: down
",
        closed = closed_port()
    )
}

/// `stampede run FILE --quiet …` in `dir`; file names relative to it, as a user would type them.
fn run(dir: &Path, yaml: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = stampede();
    c.current_dir(dir)
        .arg("run")
        .arg(yaml)
        .arg("--quiet")
        .args(extra);
    c
}

/// Where the checked-in sample result lives (also used by the report crate's tests).
pub fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../report/tests/fixtures/result.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_writes_reports_and_report_compare_and_baseline_read_results() {
    let target = TestTarget::start().await;
    let dir = temp_dir("reports");
    write(&dir, "base.yaml", &scenario(&target.url(), 5));
    write(&dir, "slow.yaml", &scenario(&target.url(), 150));
    let (base_yaml, slow_yaml) = (Path::new("base.yaml"), Path::new("slow.yaml"));

    // 1. A run with --out and a report of every kind.
    let out = output(run(
        &dir,
        base_yaml,
        &[
            "--out",
            "base.json",
            "--report",
            "base.html",
            "--report",
            "base.xml",
            "--report",
            "base.md",
            "--report",
            "base.csv",
        ],
    ))
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for f in [
        "base.html",
        "base.xml",
        "base.md",
        "base.csv",
        "base_timeline.csv",
    ] {
        assert!(stderr.contains(&format!("written to {f}")), "{f}: {stderr}");
    }
    let base = read_result(&dir.join("base.json"));
    assert!(base["baseline"].is_null());
    let histogram = base["summary"]["latency_histogram"].as_array().unwrap();
    let answered: u64 = histogram.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    let s = &base["summary"];
    assert_eq!(
        answered,
        s["requests"].as_u64().unwrap() - s["errors"].as_u64().unwrap()
    );
    let kinds: Vec<&str> = base["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"timeout") && kinds.contains(&"connect_refused"),
        "{kinds:?}"
    );

    let html = std::fs::read_to_string(dir.join("base.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.matches("<svg").count() == 5);
    for name in [
        "item",
        "api",
        "broken",
        "slow",
        "down",
        "connect_refused",
        "status &lt; 400",
    ] {
        assert!(html.contains(name), "{name} missing from the HTML");
    }
    let md = std::fs::read_to_string(dir.join("base.md")).unwrap();
    assert!(md.starts_with("## ✓ Stampede: passed"), "{md}");
    let xml = std::fs::read_to_string(dir.join("base.xml")).unwrap();
    assert!(xml.contains("<testcase name=\"run completed\""), "{xml}");
    assert!(
        xml.contains("type=\"check\""),
        "the 500s fail a check: {xml}"
    );
    let csv = std::fs::read_to_string(dir.join("base.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 5 + 1,
        "header, five rows, all: {csv}"
    );

    // 2. `stampede report` renders the same bytes from the saved JSON.
    for (file, again) in [
        ("base.html", "again.html"),
        ("base.xml", "again.xml"),
        ("base.md", "again.md"),
    ] {
        let out = output({
            let mut c = stampede();
            c.current_dir(&dir)
                .args(["report", "base.json", "-o", again]);
            c
        })
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(
            std::fs::read(dir.join(file)).unwrap(),
            std::fs::read(dir.join(again)).unwrap(),
            "{file} differs from `stampede report`"
        );
    }

    // 3. A slower run against the baseline fails (exit 1) and says where. Its thresholds (one
    //    passes, one fails) and baseline outcome are in the JSON and the reports.
    let out = output(run(
        &dir,
        slow_yaml,
        &[
            "--out",
            "slow.json",
            "--baseline",
            "base.json",
            "--max-regression",
            "10%",
            "--report",
            "slow.md",
            "--threshold",
            "latency.p95<500ms",
            "--threshold",
            "failure_rate[request=broken]<1%",
        ],
    ))
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("regressed against the baseline base.json (allowed 10%)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("shopper / GET api: latency.p95"),
        "{stderr}"
    );
    let slow = read_result(&dir.join("slow.json"));
    let b = &slow["baseline"];
    assert_eq!(b["passed"], false, "{b:#}");
    assert_eq!(b["compared_rows"], 5);
    assert!(
        b["regressions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "api" && r["metric"] == "latency.p95"),
        "{b:#}"
    );
    let thresholds: Vec<bool> = slow["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(thresholds, [true, false]);
    let md = std::fs::read_to_string(dir.join("slow.md")).unwrap();
    assert!(md.contains("| ❌ | failure\\_rate"), "{md}");
    assert!(
        md.starts_with("## ✗ Stampede: failed") && md.contains("### Baseline"),
        "{md}"
    );
    // `UPDATE_FIXTURES=1` records this result as the report crate's sample.
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::copy(dir.join("slow.json"), fixture()).expect("update the fixture");
    }

    // 4. A faster `api` passes the gate against the slow run. Only `api` runs here: the other
    //    rows answer in well under a millisecond, where scheduling noise is all there is to see.
    write(
        &dir,
        "fast.yaml",
        &format!(
            "version: 1\ntarget: {}\nload: {{ users: 2, duration: 2s }}\nscenarios:\n  - name: shopper\n    think_time: 20ms\n    steps:\n      - get: /delay/5\n        name: api\n",
            target.url()
        ),
    );
    let out = output(run(
        &dir,
        Path::new("fast.yaml"),
        &["--baseline", "slow.json", "--max-regression", "10%"],
    ))
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Baseline slow.json: no regression beyond 10% in 1 compared row\n"),
        "{stderr}"
    );

    // 5. `stampede compare` is informational: exit 0, with the regression highlighted.
    let out = output({
        let mut c = stampede();
        c.current_dir(&dir)
            .args(["compare", "base.json", "slow.json"]);
        c
    })
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("shopper / GET api") && stdout.contains("WORSE"),
        "{stdout}"
    );
    let verdict = stdout.lines().last().unwrap();
    assert!(
        verdict.starts_with("Verdict: ") && verdict.contains("regression"),
        "{stdout}"
    );
    let out = output({
        let mut c = stampede();
        c.current_dir(&dir)
            .args(["compare", "base.json", "slow.json", "-o", "cmp.html"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cmp = std::fs::read_to_string(dir.join("cmp.html")).unwrap();
    assert!(cmp.contains("class=\"worse\""), "{cmp}");
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_usage_errors_that_name_the_file() {
    let dir = temp_dir("reports-bad");
    let good = fixture();
    let good = good.to_str().unwrap();
    write(
        &dir,
        "truncated.json",
        "{\n  \"schema_version\": 1,\n  \"run\": {",
    );
    write(&dir, "other.json", "{ \"name\": \"package.json\" }");
    write(&dir, "shape.json", "{ \"schema_version\": 1, \"run\": 7 }");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["report", "missing.json", "-o", "x.html"],
            "cannot read the result file missing.json",
        ),
        (
            vec!["report", "truncated.json", "-o", "x.html"],
            "truncated.json: not valid JSON at line 3",
        ),
        (
            vec!["report", "other.json", "-o", "x.html"],
            "other.json: not a Stampede result",
        ),
        (
            vec!["report", "shape.json", "-o", "x.html"],
            "shape.json: at `run` (line 1",
        ),
        (
            vec!["report", good, "-o", "x.pdf"],
            "cannot tell the report format of `x.pdf`",
        ),
        (vec!["report", good], "pass --format"),
        (
            vec!["report", good, "--format", "pdf", "-o", "x"],
            "unknown report format `pdf`",
        ),
        (
            vec!["compare", good, "other.json"],
            "other.json: not a Stampede result",
        ),
        (
            vec!["compare", good, good, "--tolerance", "lots"],
            "`lots` is not a percentage",
        ),
    ];
    for (args, expected) in cases {
        let out = output({
            let mut c = stampede();
            c.current_dir(&dir).args(&args);
            c
        })
        .await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in {stderr}"
        );
    }
    assert!(!dir.join("x.html").exists());

    // Report and baseline options are checked before anything is sent.
    let target = TestTarget::start().await;
    write(&dir, "s.yaml", &scenario(&target.url(), 1));
    let yaml = Path::new("s.yaml");
    for (extra, expected) in [
        (
            vec!["--report", "r.pdf"],
            "--report r.pdf: unknown extension",
        ),
        (
            vec!["--report", "no/such/dir/r.html"],
            "the directory no/such/dir does not exist",
        ),
        (
            vec!["--baseline", "other.json"],
            "--baseline: other.json: not a Stampede result",
        ),
    ] {
        let out = output(run(&dir, yaml, &extra)).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{extra:?}: expected {expected:?} in {stderr}"
        );
    }
    assert_eq!(target.total(), 0, "nothing was sent");
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_prints_markdown_and_writes_both_csv_files() {
    let dir = temp_dir("reports-stdout");
    let out = output({
        let mut c = stampede();
        c.current_dir(&dir)
            .arg("report")
            .arg(fixture())
            .args(["--format", "markdown"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("## "),
        "{}",
        text(&out.stdout)
    );
    let out = output({
        let mut c = stampede();
        c.current_dir(&dir)
            .arg("report")
            .arg(fixture())
            .args(["-o", "stats.csv"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let timeline = std::fs::read_to_string(dir.join("stats_timeline.csv")).unwrap();
    assert!(
        timeline.starts_with("second,requests,failures,errors,users,"),
        "{timeline}"
    );
    assert!(
        std::fs::read_to_string(dir.join("stats.csv"))
            .unwrap()
            .starts_with("scenario,name,method,")
    );
}
