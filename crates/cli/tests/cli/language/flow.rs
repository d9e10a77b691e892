//! Flow control (`repeat`, `for_each`, `if`, `group`), checks, extraction failures, custom metrics
//! and Lua scripts.

use super::{check, custom, f, line_of, metric, requests, run_expecting, run_ok, scenario_file, u};
use crate::common::{row, temp_dir, write};
use stampede_testkit::ShopApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_listing_feeds_a_for_each_over_every_product() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-pages");
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 2, duration: 20s, iterations: { per_user: 1 } }
variables:
  next: /products?page=1
scenarios:
  - name: browse
    steps:
      - repeat: 3
        steps:
          - get: "{{ next }}"
            name: listing
            expect: { json_exists: "$.items[0].id" }
            extract:
              ids: { json: "$.items[*].id", all: true }
              next: { json: $.next, on_failure: continue }
          - for_each: ids
            as: id
            steps:
              - get: /products/{{ id }}
                name: product
                expect: { status: 200, json_exists: $.price }
      - if: { var: next, equals: "null" }
        steps:
          - counter: reached_the_last_page
"#,
    );
    let result = run_ok(&file, &[]).await;
    let seen = app.seen();

    let mut pages = seen.product_pages.clone();
    pages.sort_unstable();
    assert_eq!(pages, [1, 1, 2, 2, 3, 3]);
    let mut views = seen.product_views.clone();
    views.sort_unstable();
    let expected: Vec<u64> = (101..=115).flat_map(|id| [id, id]).collect();
    assert_eq!(
        views, expected,
        "every product of every page, once per user"
    );
    let product = row(&result, "browse", "product");
    assert_eq!(
        (u(&product["requests"]), u(&product["successes"])),
        (30, 30)
    );
    let listing = row(&result, "browse", "listing");
    assert_eq!(u(&listing["requests"]), 6);
    assert_eq!(
        f(&custom(&result, "counter", "reached_the_last_page")["total"]),
        2.0
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_checks_are_counted_per_check_with_a_sample_and_steer_if_last_check() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-checks");
    let yaml = r#"version: 1
target: TARGET
load: { users: 2, duration: 20s, iterations: { per_user: 2 } }
scenarios:
  - name: s
    steps:
      - get: /products/101
        name: all pass
        expect:
          status: [200, 201]
          max_duration: 10s
          body_contains: [Product 101, price]
          body_not_contains: error
          body_matches: '"id":\s*101'
          json: { $.id: 101, $.price: 1.5 }
          json_exists: $.name
          headers: { content-type: application/json }
          header_matches: { content-type: ^application/ }
          header_exists: content-length
      - if: { last_check: passed }
        steps:
          - counter: passed_after_all_pass
      - get: /products/102
        name: wrong word
        expect: { body_contains: nope }
      - if: { last_check: failed }
        steps:
          - counter: failed_after_wrong_word
        else:
          - counter: passed_after_wrong_word
      - get: /products/103
        name: named
        expect:
          checks:
            - name: has a price
              json_exists: $.price
            - name: is cheap
              json: { $.price: 1 }
      - get: /products/104
        name: html
        expect: { headers: { content-type: text/html } }
      - get: /products/999
        name: missing
        expect: { status: 200 }
"#;
    let file = scenario_file(&dir, &app, yaml);
    let result = run_ok(&file, &[]).await;

    // Failed checks do not stop an iteration: every step ran 4 times.
    assert_eq!(
        app.seen().product_views.len(),
        20,
        "{:?}",
        app.seen().product_views
    );
    let ok = row(&result, "s", "all pass");
    assert_eq!((u(&ok["successes"]), u(&ok["failures"])), (4, 0), "{ok:#}");
    for (request, name, sample) in [
        ("wrong word", "body contains \"nope\"", "body ("),
        ("named", "is cheap", "$.price is 4.5"),
        (
            "html",
            "header content-type == \"text/html\"",
            "application/json",
        ),
        ("missing", "status in [200]", "got 404"),
    ] {
        let r = row(&result, "s", request);
        assert_eq!((u(&r["requests"]), u(&r["failures"])), (4, 4), "{r:#}");
        let c = check(&result, "s", request, name);
        assert_eq!(u(&c["count"]), 4, "{c:#}");
        let got = c["sample"].as_str().unwrap();
        assert!(
            got.contains(sample),
            "{request}: sample {got:?} lacks {sample:?}"
        );
    }
    assert_eq!(
        result["checks"].as_array().unwrap().len(),
        4,
        "{:#}",
        result["checks"]
    );
    assert_eq!(u(&result["summary"]["failures"]), 16);
    assert_eq!(
        f(&custom(&result, "counter", "passed_after_all_pass")["total"]),
        4.0
    );
    assert_eq!(
        f(&custom(&result, "counter", "failed_after_wrong_word")["total"]),
        4.0
    );
    assert!(metric(&result, "counter", "passed_after_wrong_word").is_none());

    // The same file with a threshold on the checks: the failures now fail the run (exit 1).
    let with_threshold = format!(
        "{}thresholds:\n  - metric: checks.pass_rate\n    min: 99%\n",
        yaml.replace("TARGET", &app.url())
    );
    let file = write(&dir, "lang.yaml", &with_threshold);
    let (_, result) = run_expecting(&file, &[], 1).await;
    assert_eq!(
        result["thresholds"][0]["passed"], false,
        "{:#}",
        result["thresholds"]
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_extraction_ends_the_iteration_unless_it_may_continue() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-extract");
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 2, duration: 20s, iterations: { per_user: 3 } }
scenarios:
  - name: strict
    steps:
      - get: /products/101
        name: strict product
        extract:
          missing: $.nope
      - get: /products/102
        name: strict next
        headers: { X-Missing: "{{ missing }}" }
  - name: lenient
    steps:
      - get: /products/103
        name: lenient product
        extract:
          maybe: { json: $.nope, on_failure: continue }
          fallback: { json: $.nope, default: dflt }
      - get: /products/104
        name: lenient next
        headers: { X-Fallback: "{{ fallback }}" }
      - if: { var: maybe, exists: false }
        steps:
          - counter: maybe_unset
      - if: { var: fallback, not_equals: dflt }
        steps:
          - counter: fallback_replaced
        else:
          - counter: fallback_used
      - get: /products/{{ maybe }}
        name: uses maybe
      - get: /products/105
        name: never reached
"#,
    );
    let result = run_ok(&file, &[]).await;
    let seen = app.seen();

    let views = |id: u64| seen.product_views.iter().filter(|v| **v == id).count();
    // One user per scenario, 3 iterations each.
    assert_eq!(views(101), 3);
    assert_eq!(views(102), 0, "on_failure: fail must end the iteration");
    assert_eq!(views(103), 3);
    assert_eq!(views(104), 3, "on_failure: continue goes on");
    assert_eq!(views(105), 0, "an unset variable ends the iteration");
    assert_eq!(seen.product_views.len(), 9, "{:?}", seen.product_views);
    for r in requests(&seen, "GET", "/products/104") {
        assert_eq!(r.header("x-fallback"), Some("dflt"));
    }

    let strict = row(&result, "strict", "strict product");
    assert_eq!(
        (u(&strict["requests"]), u(&strict["failures"])),
        (3, 3),
        "{strict:#}"
    );
    let c = check(&result, "strict", "strict product", "extract missing");
    assert_eq!(u(&c["count"]), 3);
    assert!(
        c["sample"].as_str().unwrap().contains("$.nope: no match"),
        "{c:#}"
    );
    assert_eq!(u(&row(&result, "strict", "strict next")["requests"]), 0);
    let lenient = row(&result, "lenient", "lenient product");
    assert_eq!((u(&lenient["successes"]), u(&lenient["failures"])), (3, 0));
    let unset = row(&result, "lenient", "uses maybe");
    assert_eq!(u(&unset["errors"]), 3, "{unset:#}");
    assert_eq!(
        u(&unset["errors_by_kind"]["unset_variable"]),
        3,
        "{unset:#}"
    );
    let error = result["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "unset_variable")
        .expect("an unset_variable error row");
    assert!(
        error["sample"].as_str().unwrap().contains("`maybe`"),
        "{error:#}"
    );
    assert_eq!(u(&row(&result, "lenient", "never reached")["requests"]), 0);
    assert_eq!(f(&custom(&result, "counter", "maybe_unset")["total"]), 3.0);
    assert_eq!(
        f(&custom(&result, "counter", "fallback_used")["total"]),
        3.0
    );
    assert!(metric(&result, "counter", "fallback_replaced").is_none());
    // Ended iterations still count as done.
    let iterations: Vec<u64> = (result["scenarios"].as_array().unwrap().iter())
        .map(|s| u(&s["iterations"]))
        .collect();
    assert_eq!(iterations, [3, 3], "{:#}", result["scenarios"]);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeat_group_and_custom_metrics_add_up_exactly() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-metrics");
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 2, duration: 20s, iterations: { per_user: 3 } }
scenarios:
  - name: s
    steps:
      - group: browse
        steps:
          - repeat: 4
            steps:
              - get: /products/{{ random_int(101, 115) }}
                name: product
          - counter: views
      - counter: { name: items, value: 5 }
      - counter: { name: by_vu, value: "{{ vu }}" }
      - trend: { name: vu_number, value: "{{ vu }}" }
      - gauge: { name: iteration_gauge, value: "{{ iteration }}" }
      - counter: { name: not_a_number, value: "{{ vu }}x" }
"#,
    );
    let result = run_ok(&file, &[]).await;
    let seen = app.seen();

    assert_eq!(seen.product_views.len(), 24);
    assert!(
        seen.product_views.iter().all(|v| (101..=115).contains(v)),
        "{:?}",
        seen.product_views
    );
    assert_eq!(u(&row(&result, "s", "product")["requests"]), 24);
    let group = custom(&result, "trend", "group.browse");
    assert_eq!(u(&group["count"]), 6, "{group:#}");
    assert!(f(&group["min"]) > 0.0 && f(&group["max"]) >= f(&group["min"]));
    let views = custom(&result, "counter", "views");
    assert_eq!((f(&views["total"]), u(&views["adds"])), (6.0, 6));
    let items = custom(&result, "counter", "items");
    assert_eq!((f(&items["total"]), u(&items["adds"])), (30.0, 6));
    // Users 1 and 2, three iterations each.
    assert_eq!(f(&custom(&result, "counter", "by_vu")["total"]), 9.0);
    let vu = custom(&result, "trend", "vu_number");
    assert_eq!(u(&vu["count"]), 6);
    assert_eq!(
        (f(&vu["min"]), f(&vu["max"]), f(&vu["mean"])),
        (1.0, 2.0, 1.5)
    );
    let gauge = custom(&result, "gauge", "iteration_gauge");
    assert_eq!(u(&gauge["sets"]), 6);
    assert_eq!(
        (f(&gauge["min"]), f(&gauge["max"]), f(&gauge["last"])),
        (1.0, 3.0, 3.0)
    );
    assert!(metric(&result, "counter", "not_a_number").is_none());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lua_scripts_read_and_set_variables_fail_and_count() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-script");
    let yaml = r#"version: 1
target: TARGET
load: { users: 1, duration: 20s, iterations: { per_user: 3 } }
variables:
  base: "100"
scenarios:
  - name: s
    steps:
      - script: |
          calls = (calls or 0) + 1
          vars.pid = tostring(tonumber(vars.base) + calls)
          metrics.counter("script_runs")
          if calls == 3 then
            local missing = nil
            vars.pid = missing.id -- BOOM
          end
        sets: [pid]
      - get: /products/{{ pid }}
        name: product
      - script: |
          local p = response:json()
          metrics.trend("price", p.price)
          -- Headers from the head as received (this step reads none itself).
          if response:header("Content-Type") == "application/json"
            and response:header("content-length") == tostring(#response.body)
            and response:header("x-missing") == nil then
            metrics.counter("json_headers")
          end
          if p.id == 102 then
            return fail("product " .. vars.pid .. " is not wanted")
          end
        name: judge
      - if: { last_check: failed }
        steps:
          - counter: judged_bad
"#;
    let file = scenario_file(&dir, &app, yaml);
    let result = run_ok(&file, &[]).await;

    // The script ran on; `pid` was set before the error of the third run.
    assert_eq!(app.seen().product_views, [101, 102, 103]);
    assert_eq!(f(&custom(&result, "counter", "script_runs")["total"]), 3.0);
    let price = custom(&result, "trend", "price");
    assert_eq!(u(&price["count"]), 3);
    assert_eq!((f(&price["min"]), f(&price["max"])), (1.5, 4.5));
    assert_eq!(f(&custom(&result, "counter", "judged_bad")["total"]), 1.0);
    assert_eq!(f(&custom(&result, "counter", "json_headers")["total"]), 3.0);

    let first_line = line_of(yaml, "calls = (calls or 0) + 1");
    let boom = line_of(yaml, "-- BOOM");
    let pick_name = format!("script {}:{first_line}", file.display());
    let pick = row(&result, "s", &pick_name);
    assert_eq!(pick["method"], "SCRIPT");
    assert_eq!(u(&pick["errors_by_kind"]["script"]), 1, "{pick:#}");
    // `fail(...)` is a failed check named by its message, on the script's row: not an error.
    let judge = row(&result, "s", "judge");
    assert_eq!(u(&judge["failures"]), 1, "{judge:#}");
    assert!(judge["errors_by_kind"].get("script").is_none(), "{judge:#}");
    let failed = check(&result, "s", "judge", "product 102 is not wanted");
    assert_eq!(u(&failed["count"]), 1, "{failed:#}");
    assert_eq!(failed["sample"], format!("fail(...) in {}", file.display()));
    let errors = result["errors"].as_array().unwrap();
    let script = errors
        .iter()
        .find(|e| e["kind"] == "script")
        .unwrap_or_else(|| panic!("no script errors in {errors:#?}"));
    assert_eq!(u(&script["count"]), 1, "{script:#}");
    // The first row's sample: the runtime error, at its line of the scenario file.
    let sample = script["sample"].as_str().unwrap();
    assert!(
        sample.contains(&format!("lang.yaml:{boom}:")) && sample.contains("nil"),
        "sample {sample:?} should point at lang.yaml:{boom}"
    );
    assert_eq!(script["sample_request"], format!("s / {pick_name}"));
    app.shutdown().await;
}

/// A user's interpreter keeps the variable values its scripts read; a value the engine changes
/// between two runs (here an extraction, on every iteration) is read afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_read_values_extracted_between_their_runs() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-script-vars");
    let yaml = r#"version: 1
target: TARGET
load: { users: 1, duration: 20s, iterations: { per_user: 4 } }
variables:
  n: "100"
scenarios:
  - name: s
    steps:
      - script: |
          vars.n = tostring(tonumber(vars.n) + 1)
        sets: [n]
      - get: /products/{{ n }}
        name: product
        extract:
          pid: $.id
      - script: |
          local before = vars.pid
          metrics.counter("pid_sum", tonumber(vars.pid))
          if vars.pid ~= before or vars.pid ~= tostring(100 + tonumber(vars.n) - 100) then
            fail("stale pid " .. vars.pid .. " for n " .. vars.n)
          end
        name: read pid
"#;
    let file = scenario_file(&dir, &app, yaml);
    let result = run_ok(&file, &[]).await;
    assert_eq!(app.seen().product_views, [101, 102, 103, 104]);
    assert_eq!(
        f(&custom(&result, "counter", "pid_sum")["total"]),
        (101 + 102 + 103 + 104) as f64
    );
    let read = row(&result, "s", "read pid");
    assert_eq!(u(&read["failures"]), 0, "{read:#}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_file_error_points_at_the_script_file_line() {
    let app = ShopApp::start().await;
    let dir = temp_dir("lang-script-file");
    write(
        &dir,
        "judge.lua",
        "local p = response:json()\nif p.id == 101 then\n  error(\"refused \" .. vars.pid)\nend\nvars.seen = \"yes\"\n",
    );
    let file = scenario_file(
        &dir,
        &app,
        r#"version: 1
target: TARGET
load: { users: 1, duration: 20s, iterations: { per_user: 2 } }
variables:
  pid: "101"
scenarios:
  - name: s
    steps:
      - get: /products/{{ pid }}
        name: product
      - script: { file: judge.lua }
        sets: [seen]
        name: judge
      - if: seen
        steps:
          - counter: seen_set
      - script: |
          vars.pid = "102"
"#,
    );
    let result = run_ok(&file, &[]).await;

    assert_eq!(app.seen().product_views, [101, 102]);
    let judge = row(&result, "s", "judge");
    assert_eq!(u(&judge["errors_by_kind"]["script"]), 1, "{judge:#}");
    let script = (result["errors"].as_array().unwrap().iter())
        .find(|e| e["kind"] == "script")
        .expect("a script error row");
    let sample = script["sample"].as_str().unwrap();
    assert!(
        sample.starts_with("judge.lua:3:") && sample.contains("refused 101"),
        "{sample:?}"
    );
    assert_eq!(f(&custom(&result, "counter", "seen_set")["total"]), 1.0);
    app.shutdown().await;
}
