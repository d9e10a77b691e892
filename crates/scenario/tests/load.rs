//! Loading whole files into plans: the public contract of the file format.

use std::path::Path;
use std::time::Duration;

use stampede_scenario::{
    Action, Body, Content, Expect, Method, Overrides, Plan, RowKey, Scheme, Severity, Stage, Step,
    Template, ThinkTime, load_file, load_str,
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"))
}

fn load(source: &str) -> Plan {
    match load_str(source, "test.yaml", &Overrides::default()) {
        Ok(loaded) => loaded.plan,
        Err(d) => panic!("{}", d.render(false)),
    }
}

/// The messages of a file that must fail.
fn errors(source: &str, overrides: &Overrides) -> Vec<String> {
    let diags = load_str(source, "test.yaml", overrides).expect_err("should fail");
    diags.items.iter().map(|d| d.message.clone()).collect()
}

const MINIMAL: &str = "target: http://localhost:8080/api\nload: { users: 4, duration: 10s }\n";

fn with_scenarios(scenarios: &str) -> String {
    format!("{MINIMAL}scenarios:\n{scenarios}")
}

/// The requests of a flow, depth first.
fn reqs(actions: &[Action]) -> Vec<&Step> {
    actions.iter().flat_map(Action::requests).collect()
}

/// A static URL as sent (base path joined).
fn url(step: &Step) -> String {
    step.url.static_text().expect("a static URL")
}

#[test]
fn shop_example_loads_exactly() {
    let loaded = load_file(&examples().join("shop.yaml"), &Overrides::default()).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let plan = loaded.plan;
    assert_eq!(plan.target.scheme, Scheme::Http);
    assert_eq!(plan.target.origin(), "http://127.0.0.1:8080");
    assert_eq!(plan.target.base_path, "");
    assert_eq!(plan.load.stages, [stage(5, 50), stage(25, 50)]);
    assert_eq!(plan.load.description, "50 users, spawn 10/s, 30s");
    assert!(plan.load.jitter_start);
    assert_eq!(plan.http, Default::default());

    let names: Vec<(&str, u32)> = (plan.scenarios.iter())
        .map(|s| (s.name.as_str(), s.weight))
        .collect();
    assert_eq!(names, [("buyer", 20), ("browser", 50), ("bouncer", 30)]);
    let buyer = &plan.scenarios[0];
    let uniform = ThinkTime::Uniform {
        min: secs(1),
        max: secs(3),
    };
    assert_eq!(buyer.think_time, uniform);
    assert_eq!(plan.scenarios[1].think_time, ThinkTime::Constant(secs(2)));
    assert_eq!(plan.scenarios[2].think_time, ThinkTime::None);

    let login = reqs(&buyer.on_start)[0];
    assert_eq!(
        (login.method, url(login).as_str()),
        (Method::Post, "/login")
    );
    let json = Body {
        content_type: "application/json".into(),
        content: Content::Static(br#"{"user":"alice","password":"secret"}"#.to_vec()),
    };
    assert_eq!(login.body, Some(json));
    assert_eq!(login.expect.status, Some(vec![200]));
    assert_eq!(reqs(&buyer.steps)[2].expect.status, Some(vec![200, 201]));
    assert_eq!(reqs(&buyer.steps)[0].expect, Expect::default());
    assert_eq!(reqs(&buyer.steps)[0].body, None);
    assert_eq!(url(reqs(&plan.scenarios[1].steps)[1]), "/search?q=shoes");

    let rows: Vec<(&str, &str, &str)> = (plan.rows.iter())
        .map(|r| (r.scenario.as_str(), r.name.as_str(), r.method.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("buyer", "/login", "POST"),
            ("buyer", "product page", "GET"),
            ("buyer", "/cart", "POST"),
            ("buyer", "/checkout", "POST"),
            ("browser", "/products", "GET"),
            ("browser", "/search?q=shoes", "GET"),
            ("bouncer", "/", "GET"),
        ]
    );
    let step_rows: Vec<u32> = (plan.scenarios.iter())
        .flat_map(|s| reqs(&s.on_start).into_iter().chain(reqs(&s.steps)))
        .map(|s| s.row)
        .collect();
    assert_eq!(step_rows, [0, 1, 2, 3, 4, 5, 6]);
}

fn stage(s: u64, users: u32) -> Stage {
    Stage {
        duration: secs(s),
        users,
    }
}

#[test]
fn stages_example_loads() {
    let plan = load_file(&examples().join("stages.yaml"), &Overrides::default())
        .unwrap()
        .plan;
    assert_eq!(
        plan.load.stages,
        [stage(30, 100), stage(60, 100), stage(10, 0)]
    );
    assert_eq!(plan.load.description, "3 stages, max 100 users, 1m40s");
    assert_eq!(plan.load.users_at(secs(15)), 50);
}

#[test]
fn rows_are_shared_by_steps_with_the_same_name_and_method() {
    let plan = load(&with_scenarios(
        "  - name: a\n    steps:\n      - get: /item/1\n        name: item\n      - get: /item/2\n        name: item\n      - post: /item/3\n        name: item\n  - name: b\n    steps:\n      - get: /item/1\n        name: item\n",
    ));
    let rows: Vec<u32> = plan
        .scenarios
        .iter()
        .flat_map(|s| reqs(&s.steps))
        .map(|s| s.row)
        .collect();
    assert_eq!(rows, [0, 0, 1, 2]);
    let expected = RowKey {
        scenario: "b".into(),
        name: "item".into(),
        method: "GET".into(),
    };
    assert_eq!(plan.rows.len(), 3);
    assert_eq!(plan.rows[2], expected);
}

#[test]
fn steps_are_resolved_against_the_base_path() {
    let plan = load(&with_scenarios(
        "  - name: a\n    steps:\n      - get: /users?page=2\n      - delete: https://other.example/x\n        headers: { Authorization: Bearer t }\n        timeout: 2s\n        think_time: { min: 0s, max: 0s }\n      - put: /form\n        form: { q: a b }\n      - patch: /text\n        body: hi\n      - head: /\n      - options: /\n",
    ));
    let steps = reqs(&plan.scenarios[0].steps);
    let urls: Vec<(Method, String)> = steps.iter().map(|s| (s.method, url(s))).collect();
    let urls: Vec<(Method, &str)> = urls.iter().map(|(m, u)| (*m, u.as_str())).collect();
    assert_eq!(
        urls,
        [
            (Method::Get, "/api/users?page=2"),
            (Method::Delete, "https://other.example/x"),
            (Method::Put, "/api/form"),
            (Method::Patch, "/api/text"),
            (Method::Head, "/api/"),
            (Method::Options, "/api/"),
        ]
    );
    assert_eq!(steps[0].timeout, None);
    assert_eq!(steps[1].timeout, Some(secs(2)));
    assert_eq!(steps[1].think_time, Some(ThinkTime::None));
    assert_eq!(
        steps[1].headers,
        [("Authorization".into(), Template::text("Bearer t"))]
    );
    assert_eq!(plan.rows[0].name, "/users?page=2");
    let form = steps[2].body.as_ref().unwrap();
    assert_eq!(form.content.static_bytes().unwrap(), b"q=a+b");
    assert_eq!(steps[3].body.as_ref().unwrap().content_type, "text/plain");
}

#[test]
fn default_content_type_header_wins() {
    let source = "target: http://h\nhttp: { headers: { content-type: text/csv } }\n\
                  load: { users: 1, duration: 1s }\nscenarios:\n  - name: a\n    steps:\n      - post: /\n        body: a,b\n";
    let plan = load(source);
    let body = reqs(&plan.scenarios[0].steps)[0].body.as_ref().unwrap();
    assert_eq!(body.content_type, "text/csv");
    // Default headers stay in `http.headers`; steps only carry their own.
    assert!(reqs(&plan.scenarios[0].steps)[0].headers.is_empty());
    assert_eq!(plan.http.headers.len(), 1);
}

#[test]
fn overrides_replace_target_and_load() {
    let source = std::fs::read_to_string(examples().join("stages.yaml")).unwrap();
    let o = Overrides {
        users: Some(7),
        spawn_rate: None,
        duration: Some(secs(20)),
        target: Some("https://[::1]:8443/v2/".into()),
        ..Overrides::default()
    };
    let plan = load_str(&source, "stages.yaml", &o).unwrap().plan;
    assert_eq!(plan.target.origin(), "https://[::1]:8443");
    assert_eq!(plan.target.base_path, "/v2");
    assert_eq!(url(reqs(&plan.scenarios[0].steps)[0]), "/v2/products");
    assert_eq!(plan.load.stages, [stage(0, 7), stage(20, 7)]);
    assert_eq!(plan.load.description, "7 users, 20s");

    let no_target =
        "load: { users: 1, duration: 1s }\nscenarios: [{ name: a, steps: [{ get: / }] }]";
    assert!(load_str(no_target, "t.yaml", &Overrides::default()).is_err());
    let o = Overrides {
        target: Some("http://localhost:1".into()),
        ..Overrides::default()
    };
    assert_eq!(
        load_str(no_target, "t.yaml", &o).unwrap().plan.target.port,
        1
    );
}

#[test]
fn bad_overrides_are_reported_without_a_line() {
    let o = Overrides {
        users: Some(0),
        target: Some("localhost".into()),
        ..Overrides::default()
    };
    let source = std::fs::read_to_string(examples().join("shop.yaml")).unwrap();
    let diags = load_str(&source, "shop.yaml", &o).unwrap_err();
    let items: Vec<(&str, Option<usize>)> = (diags.items.iter())
        .map(|d| (d.path.as_str(), d.line))
        .collect();
    assert_eq!(items, [("--users", None), ("--target", None)]);
}

#[test]
fn warnings_do_not_fail_the_load() {
    let plan = load_str(
        &with_scenarios("  - name: a\n    steps: [{ get: / }]\n  - name: b\n    weight: 0\n    steps: [{ get: / }]\n  - name: c\n    weight: 100\n    steps: [{ get: / }]\n"),
        "t.yaml",
        &Overrides::default(),
    )
    .unwrap();
    let warnings: Vec<&str> = plan.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        warnings,
        [
            "scenario `a` gets no users: its weight's share of 4 users rounds to 0",
            "scenario `b` has weight 0 and gets no users",
        ]
    );
    assert!(
        plan.warnings
            .iter()
            .all(|w| w.severity == Severity::Warning)
    );
}

#[test]
fn every_mistake_is_reported() {
    let errors = errors(
        "target: localhost\nversion: 2\nload: { users: -1, duration: 5 }\nscenarios:\n  - name: a\n    stepz: []\n  - name: a\n    steps: [{ get: x }]\n",
        &Overrides::default(),
    );
    assert_eq!(
        errors,
        [
            "`localhost` is not an http(s) URL",
            "unsupported version 2",
            "`users` must be at least 1, found -1",
            "duration `5` has no unit",
            "unknown field `stepz`",
            "duplicate scenario name `a`",
            "`x` is neither a path nor an http(s) URL",
        ]
    );
}

#[test]
fn files_that_are_not_scenarios() {
    let none = Overrides::default();
    assert_eq!(errors("", &none), ["the file is empty"]);
    assert_eq!(errors("# just a comment\n", &none), ["the file is empty"]);
    assert_eq!(
        errors("- a\n- b\n", &none),
        ["expected a mapping, found a list"]
    );
    assert_eq!(
        errors("hello", &none),
        ["expected a mapping, found a string"]
    );
    let two = errors("target: http://h\n---\ntarget: http://h\n", &none);
    assert_eq!(two, ["a scenario file holds a single YAML document"]);
    let tagged = errors("target: !env TARGET\n", &none);
    assert_eq!(tagged, ["YAML tags like `!env` are not supported"]);
    let missing = load_file(Path::new("/nonexistent/stampede.yaml"), &none).unwrap_err();
    assert_eq!(missing.error_count(), 1);
    assert_eq!(missing.items[0].line, None);
    assert!(missing.items[0].message.starts_with("cannot read the file"));
}

#[test]
fn anchors_and_aliases_are_expanded() {
    let plan = load(&with_scenarios(
        "  - name: a\n    think_time: &pause { min: 1s, max: 2s }\n    steps: [{ get: / }]\n  - name: b\n    think_time: *pause\n    steps: [{ get: / }]\n",
    ));
    assert_eq!(plan.scenarios[0].think_time, plan.scenarios[1].think_time);
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
    let errors = errors(bomb, &Overrides::default());
    assert_eq!(errors, ["too many nodes created by aliases"]);
}

#[test]
fn never_panics_on_odd_input() {
    let inputs = [
        "{",
        "[[[[",
        "target: [",
        "\t- x",
        ": :",
        "? [a]\n: b\n",
        "{ [1]: 2 }",
        "load: { stages: [~, 1, [], {}] }",
        "scenarios: [~, 1, [], {}, { steps: [~, 1, [], {}, {get: ~}, {get: /, json: {[1]: 2}}] }]",
        "target: \"http://h\"\nload: { users: 4294967296, duration: 99999999999999999999h }",
        "\u{feff}target: http://h",
        "load: { users: 1, spawn_rate: 0.0000000001/s, duration: 1s }",
    ];
    let deep = "- ".repeat(50_000) + "x";
    assert_eq!(
        errors(&deep, &Overrides::default()),
        ["the YAML is nested too deeply"]
    );
    for input in inputs {
        let _ = load_str(input, "odd.yaml", &Overrides::default()).map_err(|d| d.render(true));
    }
}
