//! The scenario language on a cluster (`stampede run --agents N`, real agent processes): the files
//! a scenario uses are shipped to the agents, unique feeder rows stay unique cluster-wide, and
//! `setup`/`teardown` run once for the whole test.

use super::{ACCOUNTS, requests, run_ok, u};
use crate::common::{row, temp_dir, write};
use stampede_testkit::ShopApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_gets_the_files_divides_unique_rows_and_runs_setup_once() {
    let app = ShopApp::start().await;
    let root = temp_dir("lang-dist");
    let tests = root.join("tests");
    std::fs::create_dir_all(tests.join("scripts")).unwrap();
    std::fs::create_dir_all(root.join("shared")).unwrap();
    // Only the submitting side has these files: the agents get them with the run.
    write(&tests, "users.csv", ACCOUNTS);
    write(
        &tests,
        "scripts/tag.lua",
        "vars.tag = 'agent-' .. string.upper(vars['accounts.username'])\n",
    );
    write(
        &root.join("shared"),
        "login.yaml",
        r#"flows:
  login:
    - post: /login
      name: login
      json: { username: "{{ accounts.username }}", password: "{{ accounts.password }}" }
      expect: { status: 200 }
      extract: { token: $.token }
"#,
    );
    let yaml = r#"version: 1
target: TARGET
load: { users: 4, spawn_rate: 100/s, duration: 30s, iterations: { per_user: 2 } }
include: [../shared/login.yaml]
data:
  accounts: { file: users.csv, strategy: unique, on_exhausted: fail }
setup:
  - post: /admin/token
    name: admin token
    headers: { X-Admin-Key: admin-secret }
    expect: { status: 200 }
    extract: { admin_token: $.admin_token }
teardown:
  - post: /admin/reset
    name: reset
    headers: { X-Admin-Key: admin-secret }
scenarios:
  - name: member
    on_start:
      - flow: login
      - script: { file: scripts/tag.lua }
        sets: [tag]
    steps:
      - get: /api/me
        name: me
        headers: { Authorization: "Bearer {{ token }}", X-Tag: "{{ tag }}" }
        expect: { status: 200 }
      - get: /admin/stats
        name: stats
        headers: { Authorization: "Bearer {{ admin_token }}" }
        expect: { status: 200 }
"#;
    let file = write(&tests, "shop.yaml", &yaml.replace("TARGET", &app.url()));
    let result = run_ok(&file, &["--agents", "2"]).await;
    let seen = app.seen();

    // 4 users on 2 agents, each agent with its own 2 of the 4 accounts: no account twice.
    let mut logins = seen.logins.clone();
    logins.sort();
    assert_eq!(
        logins,
        ["alice", "bob", "carol", "dave"],
        "{:?}",
        seen.logins
    );
    // The script file ran on the agents, with the row's values.
    let mut tags: Vec<String> = (requests(&seen, "GET", "/api/me").iter())
        .map(|r| r.header("x-tag").unwrap_or_default().to_owned())
        .collect();
    tags.sort();
    tags.dedup();
    assert_eq!(
        tags,
        ["agent-ALICE", "agent-BOB", "agent-CAROL", "agent-DAVE"]
    );
    assert!(
        seen.me_checks.iter().all(|(_, ok)| *ok),
        "{:?}",
        seen.me_checks
    );
    // setup once (on the controller) before any user, teardown once after them all; every agent
    // used setup's token.
    let calls: Vec<(&str, bool)> = (seen.admin_calls.iter())
        .map(|(path, ok)| (path.as_str(), *ok))
        .collect();
    assert_eq!(calls.len(), 10, "{calls:?}");
    assert_eq!(calls[0], ("/admin/token", true), "{calls:?}");
    assert!(
        calls[1..9].iter().all(|c| *c == ("/admin/stats", true)),
        "{calls:?}"
    );
    assert_eq!(calls[9], ("/admin/reset", true), "{calls:?}");
    assert_eq!(seen.resets, 1);

    let token = row(&result, "setup", "admin token");
    assert_eq!((u(&token["requests"]), u(&token["successes"])), (1, 1));
    assert_eq!(u(&row(&result, "teardown", "reset")["requests"]), 1);
    assert_eq!(u(&row(&result, "member", "stats")["successes"]), 8);
    assert_eq!(u(&result["summary"]["requests"]), seen.total());
    app.shutdown().await;
}
