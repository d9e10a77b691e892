//! Where values come from (environments, the process environment, built-ins, feeders), page
//! resources, and what `validate` and `run` refuse.

use super::{custom, f, line_of, metric, requests, run_ok, scenario_file, u};
use crate::common::{output, read_result, row, run_quiet, stampede, temp_dir, text, write};
use serde_json::Value;
use stampede_testkit::ShopApp;
use std::path::{Path, PathBuf};
use std::process::Output;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environments_switch_headers_and_variables_with_env() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-envs");
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 1, duration: 20s, iterations: { per_user: 1 } }
http:
  headers: { X-Env: local }
variables:
  product: "101"
environments:
  staging:
    headers: { x-env: staging }
    variables: { product: "105", extra: yes }
scenarios:
  - name: s
    steps:
      - get: /products/{{ product }}
        name: product
        expect: { status: 200 }
"#,
    );
    run_ok(&file, &[]).await;
    let seen = app.seen();
    assert_eq!(seen.product_views, [101]);
    assert_eq!(seen.requests[0].header("x-env"), Some("local"));

    run_ok(&file, &["--env", "staging"]).await;
    let seen = app.seen();
    assert_eq!(seen.product_views, [101, 105]);
    let staging = &seen.requests[1];
    assert_eq!(staging.header("x-env"), Some("staging"));
    let envs = staging.headers.iter().filter(|(n, _)| n == "x-env").count();
    assert_eq!(
        envs, 1,
        "the environment's header replaces the default: {staging:?}"
    );

    // A misspelt environment is refused before any request, with a suggestion.
    let (out, _) = run_quiet(&file, &["--env", "stagin"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unknown environment `stagin`")
            && stderr.contains("did you mean `staging`?"),
        "{stderr}"
    );
    assert_eq!(app.seen().total(), 2);
    app.shutdown().await;
}

/// Runs `stampede run FILE --quiet --out result.json` with extra environment variables.
async fn run_with_env(file: &Path, vars: &[(&str, &str)]) -> (Output, PathBuf) {
    let out_file = file.with_file_name("result.json");
    let mut cmd = stampede();
    cmd.arg("run")
        .arg(file)
        .arg("--quiet")
        .arg("--out")
        .arg(&out_file);
    for (name, value) in vars {
        cmd.env(name, value);
    }
    (output(cmd).await, out_file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_environment_and_built_ins_fill_templates() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-builtins");
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 2, duration: 20s, iterations: { per_user: 2 } }
http:
  headers: { X-Secret: "{{ env.STAMPEDE_E2E_SECRET }}" }
variables:
  who: "user-{{ env.STAMPEDE_E2E_USER }}"
scenarios:
  - name: s
    steps:
      - post: /echo?vu={{ vu }}
        name: echo
        json:
          vu: "{{ vu }}"
          iteration: "{{ iteration }}"
          id: "{{ uuid }}"
          n: "{{ random_int(5, 7) }}"
          s: "{{ random_string(12) }}"
          ts: "{{ timestamp }}"
          ms: "{{ timestamp_ms }}"
          label: "vu-{{ vu }} {{ who }}"
"#,
    );
    // Without the variables set, the file is refused before any request.
    let (out, _) = run_with_env(&file, &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("environment variable `STAMPEDE_E2E_SECRET` is not set"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(app.seen().total(), 0);

    let secret = "s3cr3t-value-42";
    let vars = [
        ("STAMPEDE_E2E_SECRET", secret),
        ("STAMPEDE_E2E_USER", "zed"),
    ];
    let (out, out_file) = run_with_env(&file, &vars).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    let seen = app.seen();
    let echoes = requests(&seen, "POST", "/echo");
    assert_eq!(echoes.len(), 4);
    let mut ids = Vec::new();
    let mut pairs = Vec::new();
    for r in &echoes {
        assert_eq!(r.header("x-secret"), Some(secret));
        let body: Value = serde_json::from_str(&r.body).expect("JSON body");
        let vu = u(&body["vu"]);
        assert!((1..=2).contains(&vu), "{body}");
        assert_eq!(r.target, format!("/echo?vu={vu}"));
        pairs.push((vu, u(&body["iteration"])));
        assert!((5..=7).contains(&u(&body["n"])), "{body}");
        let s = body["s"].as_str().expect("random_string is a string");
        assert!(
            s.len() == 12 && s.chars().all(|c| c.is_ascii_alphanumeric()),
            "{s}"
        );
        let id = body["id"].as_str().expect("uuid is a string");
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
        assert_eq!(id.as_bytes()[14], b'4', "a version 4 uuid: {id}");
        ids.push(id.to_owned());
        assert!((f(&body["ms"]) - now_ms).abs() < 120_000.0, "{body}");
        assert!((f(&body["ts"]) - now_ms / 1e3).abs() < 120.0, "{body}");
        assert_eq!(body["label"], format!("vu-{vu} user-zed"));
    }
    pairs.sort_unstable();
    assert_eq!(pairs, [(1, 1), (1, 2), (2, 1), (2, 2)]);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "uuids repeat: {ids:?}");
    // The secret never reaches the result file.
    let raw = std::fs::read_to_string(&out_file).unwrap();
    assert!(!raw.contains(secret), "the result file leaks the secret");
    let result = read_result(&out_file);
    assert_eq!(u(&row(&result, "s", "echo")["successes"]), 4);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeders_jsonl_sequential_random_and_exhausted_unique() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-feeders");
    write(
        &dir,
        "ids.jsonl",
        "{\"id\": 111, \"tag\": \"a\"}\n{\"id\": 112, \"tag\": \"b\"}\n{\"id\": 113, \"tag\": \"c\"}\n",
    );
    write(&dir, "two.csv", "id\n114\n115\n");
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 1, duration: 20s, iterations: { per_user: 4 } }
data:
  seq: { file: ids.jsonl }
  pick: { file: ids.jsonl, strategy: random, each: user }
  once: { file: two.csv, strategy: unique, each: iteration, on_exhausted: fail }
scenarios:
  - name: s
    steps:
      - get: /products/{{ seq.id }}?tag={{ seq.tag }}
        name: sequential
      - get: /products/{{ pick.id }}
        name: random
      - get: /products/{{ once.id }}
        name: unique
"#,
    );
    let result = run_ok(&file, &[]).await;
    let seen = app.seen();

    // Iterations 1 and 2 run; the 3rd finds no `once` row left (before any request of it), and
    // the user stops.
    let targets: Vec<&str> = seen.requests.iter().map(|r| r.target.as_str()).collect();
    let sequential: Vec<&str> = targets.iter().step_by(3).copied().collect();
    assert_eq!(
        sequential,
        ["/products/111?tag=a", "/products/112?tag=b"],
        "{targets:?}"
    );
    let random: Vec<&str> = targets.iter().skip(1).step_by(3).copied().collect();
    assert_eq!(random.len(), 2);
    assert_eq!(random[0], random[1], "each: user draws once: {targets:?}");
    assert!(["/products/111", "/products/112", "/products/113"].contains(&random[0]));
    let unique: Vec<&str> = targets.iter().skip(2).step_by(3).copied().collect();
    assert_eq!(unique, ["/products/114", "/products/115"]);
    assert_eq!(targets.len(), 6, "{targets:?}");
    let exhausted = custom(&result, "counter", "data.once.exhausted");
    assert_eq!(f(&exhausted["total"]), 1.0);
    assert_eq!(u(&result["summary"]["iterations"]), 2);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_scenarios_that_use_a_feeder_draw_its_rows() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-feeder-use");
    write(&dir, "two.csv", "id\n114\n115\n");
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 6, spawn_rate: 100/s, duration: 20s, iterations: { per_user: 1 } }
data:
  once: { file: two.csv, strategy: unique, each: user, on_exhausted: fail }
scenarios:
  - name: buyer
    weight: 1
    steps:
      - get: /products/{{ once.id }}
  - name: browser
    weight: 2
    steps:
      - get: /products?page=1
"#,
    );
    let result = run_ok(&file, &[]).await;
    let seen = app.seen();
    // 2 buyers take the 2 rows; the 4 browsers, which never use them, take none.
    let mut views = seen.product_views.clone();
    views.sort_unstable();
    assert_eq!(views, [114, 115], "{:?}", seen.requests);
    assert_eq!(seen.product_pages, [1, 1, 1, 1]);
    assert!(metric(&result, "counter", "data.once.exhausted").is_none());
    assert_eq!(u(&result["summary"]["iterations"]), 6);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_fetch_what_a_browser_would_and_nothing_else() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-resources");
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 1, duration: 20s, iterations: { per_user: 2 } }
scenarios:
  - name: s
    steps:
      - get: /page
        name: home
        resources: true
"#,
    );
    let result = run_ok(&file, &[]).await;
    let seen = app.seen();

    for path in [
        "/static/site.css",
        "/favicon.ico",
        "/static/app.js",
        "/img/a.png",
        "/static/b.png",
        "/frame",
    ] {
        assert_eq!(seen.count(path), 2, "{path}: {:?}", seen.paths);
    }
    for path in [
        "/not-a-resource",
        "/static/commented.png",
        "/page/img/a.png",
    ] {
        assert_eq!(
            seen.count(path),
            0,
            "{path} must not be fetched: {:?}",
            seen.paths
        );
    }
    assert_eq!(seen.count("/page"), 2);
    assert_eq!(seen.total(), 14, "{:?}", seen.paths);
    let home = row(&result, "s", "home");
    assert_eq!(u(&home["requests"]), 2);
    let resources = row(&result, "s", "home resources");
    assert_eq!(resources["method"], "GET");
    assert_eq!(
        (u(&resources["requests"]), u(&resources["successes"])),
        (12, 12),
        "{resources:#}"
    );
    assert_eq!(u(&result["summary"]["requests"]), 14);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resource_lane_sends_the_users_cookies() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-resource-cookies");
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 1, duration: 20s, iterations: { per_user: 1 } }
scenarios:
  - name: s
    steps:
      - post: /login
        json: { username: alice, password: pw-alice }
      - get: /page
        name: home
        resources: { concurrency: 3 }
"#,
    );
    run_ok(&file, &[]).await;
    let seen = app.seen();
    let resources = [
        "/static/site.css",
        "/favicon.ico",
        "/static/app.js",
        "/img/a.png",
        "/static/b.png",
        "/frame",
    ];
    for path in resources {
        assert_eq!(seen.count(path), 1, "{path}: {:?}", seen.paths);
        let sent = seen.cookies.get(path).cloned().unwrap_or_default();
        assert!(
            sent.len() == 1 && sent[0].contains("session="),
            "{path} was fetched without the session cookie: {sent:?}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn validate_reports_every_language_error_with_its_line_as_text_and_json() {
    let dir = temp_dir("lang-validate");
    let yaml = r#"version: 1
target: http://127.0.0.1:9
load: { users: 1, duration: 1s }
flows:
  login:
    - post: /login
      json: { username: a, password: b }
      extract:
        token: $.token
scenarios:
  - name: s
    on_start:
      - flow: login
    steps:
      - flow: logn
      - get: /api/me
        headers: { Authorization: "Bearer {{ tokn }}" }
        extract:
          broken_path: { json: "$.items[" }
          broken_regex: { regex: "(unclosed" }
      - if: { var: token, equals: a, matches: b }
        steps:
          - get: /
      - script: |
          local x = = 1
      - counter: cart size
"#;
    let file = write(&dir, "broken.yaml", yaml);
    let out = output({
        let mut c = stampede();
        c.arg("validate").arg(&file);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    let expected = [
        ("flow: logn", "unknown flow `logn`"),
        ("{{ tokn }}", "unknown variable `tokn`"),
        ("$.items[", "broken_path"),
        ("(unclosed", "broken_regex"),
        ("matches: b", "a condition has one test"),
        ("local x = = 1", "script error"),
        ("cart size", "invalid metric name `cart size`"),
    ];
    for (marker, message) in expected {
        let line = line_of(yaml, marker);
        assert!(
            stderr.contains(&format!("broken.yaml:{line}:")),
            "no diagnostic at line {line} ({message}) in:\n{stderr}"
        );
    }
    for needle in [
        "invalid JSONPath",
        "invalid regex",
        "did you mean `login`?",
        "did you mean `token`?",
        "unknown variable `tokn`",
        "a condition has one test",
        "invalid metric name `cart size`",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }

    let json = output({
        let mut c = stampede();
        c.args(["validate", "--format", "json"]).arg(&file);
        c
    })
    .await;
    assert_eq!(json.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&json.stdout).expect("JSON diagnostics");
    assert_eq!(report["valid"], false);
    assert!(u(&report["errors"]) >= 7, "{report:#}");
    let diagnostics = report["diagnostics"].as_array().unwrap();
    let at = |line: usize| {
        diagnostics
            .iter()
            .filter(|d| d["line"].as_u64() == Some(line as u64) && d["severity"] == "error")
            .count()
    };
    for (marker, message) in expected {
        assert!(at(line_of(yaml, marker)) >= 1, "{message}: {report:#}");
    }
    let tokn = diagnostics
        .iter()
        .find(|d| d["message"] == "unknown variable `tokn`")
        .expect("the unknown variable");
    assert_eq!(tokn["hint"], "did you mean `token`?");
    assert_eq!(tokn["path"], "scenarios[0].steps[1].headers.Authorization");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_an_unknown_variable_with_exit_2_and_sends_nothing() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-unknown");
    let yaml = r#"version: 1
target: TARGET
load: { users: 1, duration: 2s }
scenarios:
  - name: s
    steps:
      - post: /login
        json: { username: alice, password: pw-alice }
        extract: { token: $.token }
      - get: /api/me
        headers: { Authorization: "Bearer {{ tokn }}" }
"#;
    let file = scenario_file(&dir, &app, yaml);
    let (out, out_file) = run_quiet(&file, &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let line = line_of(yaml, "{{ tokn }}");
    for needle in [
        "unknown variable `tokn`".to_owned(),
        "did you mean `token`?".to_owned(),
        format!("lang.yaml:{line}:"),
    ] {
        assert!(stderr.contains(&needle), "missing {needle:?} in:\n{stderr}");
    }
    assert_eq!(app.seen().total(), 0, "nothing may be sent");
    assert!(!out_file.exists(), "no result for a refused file");
    app.shutdown().await;
}
