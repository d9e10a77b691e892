//! Logins, tokens, cookies, CSRF forms, carts, and the once-per-user and once-per-test flows
//! (`on_start`, `on_stop`, `setup`, `teardown`).

use super::{ACCOUNTS, custom, f, requests, run_ok, scenario_file, u};
use crate::common::{row, temp_dir, write};
use serde_json::Value;
use stampede_testkit::{SeenRequest, ShopApp};
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_from_a_unique_csv_feeder_carries_the_token_and_the_session() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-login");
    write(&dir, "users.csv", ACCOUNTS);
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 3, duration: 20s, iterations: { per_user: 2 } }
data:
  accounts: { file: users.csv, strategy: unique }
flows:
  login:
    - post: /login
      name: login
      json: { username: "{{ accounts.username }}", password: "{{ accounts.password }}" }
      expect: { status: 200, json_exists: $.user.id }
      extract:
        token: $.token
        session: { cookie: session }
        uid: { regex: '"id":(\d+)' }
scenarios:
  - name: member
    on_start:
      - flow: login
    steps:
      - get: /api/me
        name: me
        headers: { Authorization: "Bearer {{ token }}" }
        expect: { status: 200, json_exists: $.name }
      - get: /account
        name: account
        headers: { X-Session: "{{ session }}", X-Uid: "{{ uid }}" }
        expect: { status: 200 }
"#,
    );
    let result = run_ok(&file, &[]).await;
    let seen = app.seen();

    // Each user logged in exactly once, with an account of its own.
    let mut logins = seen.logins.clone();
    logins.sort();
    assert_eq!(logins.len(), 3, "{:?}", seen.logins);
    logins.dedup();
    assert_eq!(
        logins.len(),
        3,
        "a unique row went to two users: {:?}",
        seen.logins
    );
    for name in &logins {
        assert!(ACCOUNTS.contains(&format!("\n{name},")), "{name}");
    }
    assert!(seen.login_failures.is_empty(), "{:?}", seen.login_failures);
    // The body was JSON with the row's values.
    for r in requests(&seen, "POST", "/login") {
        let body: Value = serde_json::from_str(&r.body).expect("JSON login body");
        assert_eq!(
            body["password"],
            format!("pw-{}", body["username"].as_str().unwrap())
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    // Only valid tokens reached /api/me: 3 users x 2 iterations, each with its own login's token.
    assert_eq!(seen.me_checks.len(), 6, "{:?}", seen.me_checks);
    assert!(
        seen.me_checks.iter().all(|(_, ok)| *ok),
        "{:?}",
        seen.me_checks
    );
    let mut per_token: BTreeMap<&str, u32> = BTreeMap::new();
    for (token, _) in &seen.me_checks {
        *per_token.entry(token.as_str()).or_default() += 1;
    }
    assert_eq!(per_token.len(), 3, "{per_token:?}");
    assert!(per_token.values().all(|n| *n == 2), "{per_token:?}");
    for token in per_token.keys() {
        let user = token.split('-').nth(1).unwrap();
        assert!(logins.iter().any(|l| l == user), "{token} was not issued");
    }
    // The cookie jar carried the session; the extracted cookie and regex match what was sent.
    assert_eq!(seen.account_checks.len(), 6);
    assert!(
        seen.account_checks.iter().all(|(_, ok)| *ok),
        "{:?}",
        seen.account_checks
    );
    for r in requests(&seen, "GET", "/account") {
        let cookie = r.header("cookie").expect("session cookie sent");
        let session = r.header("x-session").expect("X-Session");
        assert_eq!(cookie, format!("session={session}"));
        let uid: u64 = r.header("x-uid").unwrap().parse().expect("a numeric uid");
        assert!((1..=3).contains(&uid), "{uid}");
    }

    let login = row(&result, "member", "login");
    assert_eq!(
        (u(&login["requests"]), u(&login["successes"])),
        (3, 3),
        "{login:#}"
    );
    let me = row(&result, "member", "me");
    assert_eq!((u(&me["requests"]), u(&me["successes"])), (6, 6), "{me:#}");
    assert_eq!(u(&result["summary"]["iterations"]), 6);
    assert_eq!(u(&result["summary"]["requests"]), seen.total());
    assert_eq!(
        u(&result["summary"]["failures"]) + u(&result["summary"]["errors"]),
        0
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_tokens_from_a_form_field_and_a_meta_tag_are_accepted() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-csrf");
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 2, duration: 20s, iterations: { per_user: 2 } }
scenarios:
  - name: feedback
    steps:
      - get: /form
        name: form
        expect: { header_matches: { content-type: ^text/html } }
        extract:
          csrf: { form_field: csrf }
          title: { html: title }
      - post: /form
        name: submit
        form: { csrf: "{{ csrf }}", message: "hello from {{ vu }}" }
        expect: { status: 200, body_contains: accepted }
      - get: /form
        name: form (meta)
        extract:
          meta_csrf: { html: "meta[name=csrf-token]", attribute: content }
      - post: /form
        name: submit (meta)
        form: { csrf: "{{ meta_csrf }}" }
        expect: { status: 200 }
      - if: { var: title, equals: Feedback }
        steps:
          - counter: titled
      - if: { var: meta_csrf, matches: "^csrf-[0-9a-f]{16}$" }
        steps:
          - counter: token_shaped
"#,
    );
    let result = run_ok(&file, &[]).await;
    let seen = app.seen();

    assert_eq!(seen.csrf_issued, 8);
    assert_eq!((seen.csrf_accepted, seen.csrf_rejected), (8, 0));
    let posts = requests(&seen, "POST", "/form");
    assert_eq!(posts.len(), 8);
    for post in &posts {
        assert_eq!(
            post.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert!(post.body.starts_with("csrf=csrf-"), "{}", post.body);
    }
    assert!(
        posts
            .iter()
            .any(|p| p.body.ends_with("&message=hello+from+1")
                || p.body.ends_with("&message=hello%20from%201")),
        "{:?}",
        posts.iter().map(|p| &p.body).collect::<Vec<_>>()
    );
    for name in ["submit", "submit (meta)"] {
        let r = row(&result, "feedback", name);
        assert_eq!((u(&r["requests"]), u(&r["successes"])), (4, 4), "{r:#}");
    }
    assert_eq!(f(&custom(&result, "counter", "titled")["total"]), 4.0);
    assert_eq!(f(&custom(&result, "counter", "token_shaped")["total"]), 4.0);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_uses_typed_json_numbers_an_extracted_cart_header_and_checks_out() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-cart");
    write(&dir, "users.csv", ACCOUNTS);
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 2, duration: 20s, iterations: { per_user: 2 } }
data:
  accounts: { file: users.csv, strategy: unique }
scenarios:
  - name: buyer
    on_start:
      - post: /login
        json: { username: "{{ accounts.username }}", password: "{{ accounts.password }}" }
        extract: { token: $.token }
    steps:
      - get: /products?page=2
        name: listing
        extract:
          ids: { json: "$.items[*].id", all: true }
          first: $.items[0].id
      - post: /cart
        name: open cart
        headers: { Authorization: "Bearer {{ token }}" }
        json: { product: "{{ first }}", qty: 2 }
        expect: { status: 201, header_exists: location }
        extract:
          cart_id: $.cart_id
          cart_url: { header: Location }
      - for_each: ids
        as: id
        steps:
          - post: /cart
            name: add to cart
            headers: { Authorization: "Bearer {{ token }}", X-Cart: "{{ cart_id }}" }
            json: { product: "{{ id }}" }
            expect: { status: 201 }
      - get: "{{ cart_url }}"
        name: cart
        expect: { json: { $.total: 78 } }
      - post: /checkout
        name: checkout
        headers: { Authorization: "Bearer {{ token }}" }
        json: { cart_id: "{{ cart_id }}" }
        expect: { status: 200, json_exists: $.order }
        extract: { total: $.total }
      - trend: { name: order_total, value: "{{ total }}" }
"#,
    );
    let result = run_ok(&file, &[]).await;
    let seen = app.seen();

    // Page 2 holds 106..=110: 106 twice (qty 2) then once each, in one cart per iteration.
    // Total: 2 x 9 + 9 + 10.5 + 12 + 13.5 + 15 = 78.
    assert_eq!(seen.cart_adds.len(), 2, "{:?}", seen.cart_adds);
    for (token, adds) in &seen.cart_adds {
        assert_eq!(adds.len(), 12, "{token}: {adds:?}");
        for iteration in adds.chunks(6) {
            let cart = &iteration[0].cart_id;
            assert!(
                iteration.iter().all(|a| &a.cart_id == cart),
                "{iteration:?}"
            );
            let lines: Vec<(u64, u64)> = iteration.iter().map(|a| (a.product, a.qty)).collect();
            assert_eq!(
                lines,
                [(106, 2), (106, 1), (107, 1), (108, 1), (109, 1), (110, 1)]
            );
        }
        assert_ne!(adds[0].cart_id, adds[6].cart_id, "a new cart per iteration");
    }
    let orders: Vec<_> = seen.orders.values().flatten().collect();
    assert_eq!(orders.len(), 4, "{orders:?}");
    assert!(orders.iter().all(|o| o.total == 78.0), "{orders:?}");
    // The wire format: numbers as JSON numbers, the cart id as a string.
    let carts = requests(&seen, "POST", "/cart");
    assert_eq!(carts.len(), 24);
    let (opened, added): (Vec<&SeenRequest>, Vec<&SeenRequest>) = carts
        .into_iter()
        .partition(|r| r.header("x-cart").is_none());
    assert_eq!((opened.len(), added.len()), (4, 20));
    assert!(
        opened
            .iter()
            .all(|r| r.body == r#"{"product":106,"qty":2}"#),
        "{opened:?}"
    );
    assert!(
        added
            .iter()
            .all(|r| r.header("x-cart").unwrap().starts_with("cart-"))
    );
    assert!(
        added.iter().all(|r| r.body.starts_with(r#"{"product":1"#)),
        "{added:?}"
    );
    let checkout = &requests(&seen, "POST", "/checkout")[0];
    assert!(
        checkout.body.starts_with(r#"{"cart_id":"cart-"#),
        "{}",
        checkout.body
    );

    let open = row(&result, "buyer", "open cart");
    assert_eq!(
        open["status_codes"],
        serde_json::json!({"201": 4}),
        "{open:#}"
    );
    let add = row(&result, "buyer", "add to cart");
    assert_eq!(
        (u(&add["requests"]), u(&add["successes"])),
        (20, 20),
        "{add:#}"
    );
    for name in ["cart", "checkout"] {
        let r = row(&result, "buyer", name);
        assert_eq!((u(&r["requests"]), u(&r["successes"])), (4, 4), "{r:#}");
    }
    let total = custom(&result, "trend", "order_total");
    assert_eq!(u(&total["count"]), 4);
    assert_eq!((f(&total["min"]), f(&total["max"])), (78.0, 78.0));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_hands_its_token_to_every_user_and_teardown_and_on_stop_run() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-setup");
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 3, duration: 20s, iterations: { per_user: 2 } }
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
    expect: { json: { $.reset: true } }
scenarios:
  - name: ops
    steps:
      - get: /admin/stats
        name: stats
        headers: { Authorization: "Bearer {{ admin_token }}" }
        expect: { status: 200, json_exists: $.requests }
    on_stop:
      - get: /frame
        name: goodbye
"#,
    );
    let result = run_ok(&file, &[]).await;
    let seen = app.seen();

    let calls: Vec<(&str, bool)> = (seen.admin_calls.iter())
        .map(|(path, ok)| (path.as_str(), *ok))
        .collect();
    assert_eq!(calls.len(), 8, "{calls:?}");
    assert_eq!(calls[0], ("/admin/token", true), "setup runs first");
    assert!(
        calls[1..7].iter().all(|c| *c == ("/admin/stats", true)),
        "{calls:?}"
    );
    assert_eq!(calls[7], ("/admin/reset", true), "teardown runs last");
    assert_eq!(seen.resets, 1);
    assert_eq!(seen.count("/frame"), 3, "on_stop once per user");
    let last = seen.requests.last().unwrap();
    assert_eq!(last.target, "/admin/reset");

    let token = row(&result, "setup", "admin token");
    assert_eq!((u(&token["requests"]), u(&token["successes"])), (1, 1));
    let reset = row(&result, "teardown", "reset");
    assert_eq!((u(&reset["requests"]), u(&reset["successes"])), (1, 1));
    let stats = row(&result, "ops", "stats");
    assert_eq!((u(&stats["requests"]), u(&stats["successes"])), (6, 6));
    assert_eq!(u(&row(&result, "ops", "goodbye")["requests"]), 3);
    // Per-scenario counts belong to the scenarios, not to setup (whose rows come first).
    let scenarios = result["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 1, "{scenarios:?}");
    assert_eq!(
        (
            scenarios[0]["name"].as_str(),
            u(&scenarios[0]["iterations"])
        ),
        (Some("ops"), 6)
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_whose_on_start_fails_stops_without_on_stop() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-on-start");
    write(
        &dir,
        "users.csv",
        "username,password\nalice,pw-alice\nmallory,guess\n",
    );
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 2, duration: 20s, iterations: { per_user: 2 } }
data:
  accounts: { file: users.csv, strategy: unique }
scenarios:
  - name: member
    on_start:
      - post: /login
        name: login
        form: { username: "{{ accounts.username }}", password: "{{ accounts.password }}" }
        extract: { token: $.token }
    steps:
      - get: /api/me
        name: me
        headers: { Authorization: "Bearer {{ token }}" }
    on_stop:
      - get: /frame
        name: goodbye
"#,
    );
    let result = run_ok(&file, &[]).await;
    let seen = app.seen();

    assert_eq!(seen.logins, ["alice"]);
    assert_eq!(seen.login_failures, ["mallory"]);
    // Only alice's user went on: 2 iterations, then its on_stop.
    assert_eq!(seen.me_checks.len(), 2, "{:?}", seen.me_checks);
    assert!(
        seen.me_checks
            .iter()
            .all(|(t, ok)| *ok && t.starts_with("tok-alice-"))
    );
    assert_eq!(
        seen.count("/frame"),
        1,
        "no on_stop after a failed on_start"
    );
    let login = row(&result, "member", "login");
    assert_eq!(
        (u(&login["successes"]), u(&login["failures"])),
        (1, 1),
        "{login:#}"
    );
    assert_eq!(u(&row(&result, "member", "goodbye")["requests"]), 1);
    assert_eq!(u(&result["summary"]["iterations"]), 2);
    app.shutdown().await;
}
