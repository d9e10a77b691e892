//! The scenario language: templates, extraction, checks, flows, feeders, environments and their
//! diagnostics, through whole files.

use std::path::Path;

use stampede_scenario::{
    Action, CheckSpec, Condition, Content, Expr, ExtractSource, OnFailure, Overrides, Part, Plan,
    Severity, load_file, load_str,
};

fn dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn plan(src: &str) -> Plan {
    match load_str(src, "t.yaml", &Overrides::default()) {
        Ok(l) => l.plan,
        Err(d) => panic!("{}", d.render(false)),
    }
}

fn errors(src: &str) -> Vec<String> {
    match load_str(src, "t.yaml", &Overrides::default()) {
        Ok(_) => panic!("should not load"),
        Err(d) => d
            .items
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| i.message.clone())
            .collect(),
    }
}

const HEAD: &str = "target: http://127.0.0.1:8080/api\nload: { users: 2, duration: 5s }\n";

#[test]
fn templates_extraction_and_checks_decode() {
    let src = format!(
        "{HEAD}variables: {{ version: v2 }}
scenarios:
  - name: shop
    steps:
      - post: /login
        json: {{ user: 'u{{{{ vu }}}}', n: '{{{{ iteration }}}}' }}
        extract:
          token: $.token
          ids: {{ json: '$.items[*].id', all: true, on_failure: continue }}
          csrf: {{ form_field: csrf, default: none }}
        expect:
          status: [200, 201]
          body_contains: [ok, token]
          json: {{ '$.user.name': alice, '$.count': 2 }}
          header_matches: {{ content-type: json }}
          max_duration: 2s
      - get: /items/{{{{ token }}}}?v={{{{ version }}}}
        headers: {{ Authorization: 'Bearer {{{{ token }}}}' }}
      - for_each: ids
        as: id
        steps:
          - get: /items/{{{{ id }}}}
"
    );
    let p = plan(&src);
    let steps = &p.scenarios[0].steps;
    let Action::Request(login) = &steps[0] else {
        panic!()
    };
    assert_eq!(login.extract.len(), 3);
    assert_eq!(
        login.extract[0].source,
        ExtractSource::Json("$.token".into())
    );
    assert!(login.extract[1].all);
    assert_eq!(login.extract[1].on_failure, OnFailure::Continue);
    assert_eq!(login.extract[2].default.as_deref(), Some("none"));
    let specs: Vec<&CheckSpec> = login.expect.checks.iter().map(|c| &c.spec).collect();
    assert_eq!(specs.len(), 5, "{specs:?}");
    assert_eq!(login.expect.status, Some(vec![200, 201]));
    assert!(matches!(
        login.body.as_ref().unwrap().content,
        Content::Json(_)
    ));
    let Action::Request(item) = &steps[1] else {
        panic!()
    };
    // The base path is joined before the first placeholder.
    assert_eq!(
        item.url.parts[0],
        Part::Text("/api/items/".into()),
        "{:?}",
        item.url
    );
    assert_eq!(item.url.parts[1], Part::Expr(Expr::Var("token".into())));
    assert!(matches!(&steps[2], Action::ForEach { list, var, .. } if list == "ids" && var == "id"));
    assert_eq!(p.variables, [("version".to_owned(), "v2".to_owned())]);
}

#[test]
fn flows_groups_conditions_and_metrics_decode() {
    let src = format!(
        "{HEAD}flows:
  login:
    - post: /login
      extract: {{ token: $.token }}
setup:
  - post: /admin/token
    extract: {{ admin: $.admin_token }}
teardown:
  - post: /admin/reset
    headers: {{ X-Admin: '{{{{ admin }}}}' }}
scenarios:
  - name: a
    on_start: [{{ flow: login }}]
    on_stop: [{{ post: /logout }}]
    steps:
      - group: checkout
        think_time: 1s
        steps:
          - get: /cart
            headers: {{ Authorization: 'Bearer {{{{ token }}}}' }}
          - repeat: 2
            steps: [{{ get: /ping }}]
      - if: {{ last_check: failed }}
        steps: [{{ counter: failures }}]
        else: [{{ trend: {{ name: size, value: '3' }} }}]
      - if: token
        steps: [{{ gauge: {{ name: q, value: '{{{{ vu }}}}' }} }}]
"
    );
    let p = plan(&src);
    assert_eq!(p.setup.len(), 1);
    assert_eq!(p.teardown.len(), 1);
    let s = &p.scenarios[0];
    assert_eq!(s.on_start.len(), 1, "the flow is inlined");
    assert_eq!(s.on_stop.len(), 1);
    let Action::Group {
        name,
        actions,
        think_time,
    } = &s.steps[0]
    else {
        panic!()
    };
    assert_eq!(name, "checkout");
    assert!(think_time.is_some());
    assert!(matches!(&actions[1], Action::Repeat { count: 2, .. }));
    assert!(matches!(
        &s.steps[1],
        Action::If {
            condition: Condition::LastCheck { passed: false },
            ..
        }
    ));
    assert!(matches!(
        &s.steps[2],
        Action::If {
            condition: Condition::Exists { negate: false, .. },
            ..
        }
    ));
    let rows: Vec<&str> = p.rows.iter().map(|r| r.scenario.as_str()).collect();
    assert!(
        rows.contains(&"setup") && rows.contains(&"teardown"),
        "{rows:?}"
    );
}

#[test]
fn unknown_variables_are_errors_with_suggestions() {
    let src = format!(
        "{HEAD}scenarios:
  - name: a
    steps:
      - get: /login
        extract: {{ token: $.token }}
      - get: /x/{{{{ tokn }}}}
"
    );
    let d = load_str(&src, "t.yaml", &Overrides::default()).unwrap_err();
    let e = d
        .items
        .iter()
        .find(|i| i.severity == Severity::Error)
        .unwrap();
    assert_eq!(e.message, "unknown variable `tokn`");
    assert_eq!(e.hint.as_deref(), Some("did you mean `token`?"));
    assert_eq!(e.line, Some(8));
}

#[test]
fn unused_extractions_are_warnings() {
    let src = format!(
        "{HEAD}scenarios:
  - name: a
    steps:
      - get: /login
        extract: {{ token: $.token, used_by_script: $.x }}
      - script: |
          local t = vars.used_by_script
"
    );
    let loaded = load_str(&src, "t.yaml", &Overrides::default()).unwrap();
    let warnings: Vec<&str> = loaded.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(warnings, ["`token` is extracted but never used"]);
}

#[test]
fn environments_override_target_headers_and_variables() {
    let src = format!(
        "{HEAD}variables: {{ tier: local, keep: 1 }}
http: {{ headers: {{ X-Env: local, X-Keep: k }} }}
environments:
  staging:
    target: https://staging.example.test
    headers: {{ X-Env: staging }}
    variables: {{ tier: staging, extra: e }}
scenarios:
  - name: a
    steps: [{{ get: '/{{{{ tier }}}}/{{{{ keep }}}}/{{{{ extra }}}}' }}]
"
    );
    let o = Overrides {
        env: Some("staging".into()),
        ..Overrides::default()
    };
    let p = load_str(&src, "t.yaml", &o).unwrap().plan;
    assert_eq!(p.target.host, "staging.example.test");
    let vars: Vec<(&str, &str)> = p
        .variables
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(vars, [("tier", "staging"), ("keep", "1"), ("extra", "e")]);
    let headers: Vec<(&str, String)> = p
        .http
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.source.clone()))
        .collect();
    assert_eq!(
        headers,
        [("X-Keep", "k".to_owned()), ("X-Env", "staging".to_owned())]
    );
    let bad = Overrides {
        env: Some("stagin".into()),
        ..Overrides::default()
    };
    let d = load_str(&src, "t.yaml", &bad).unwrap_err();
    assert_eq!(d.items[0].message, "unknown environment `stagin`");
    assert_eq!(d.items[0].hint.as_deref(), Some("did you mean `staging`?"));
}

#[test]
fn env_placeholders_read_the_environment_when_loading() {
    // PATH is set in every test environment.
    let path = std::env::var("PATH").unwrap();
    let src = format!(
        "{HEAD}variables: {{ p: '{{{{ env.PATH }}}}' }}
scenarios: [{{ name: a, steps: [{{ get: '/{{{{ p }}}}' }}] }}]
"
    );
    assert_eq!(plan(&src).variables[0].1, path);
    let src = src.replace("env.PATH", "env.STAMPEDE_SURELY_UNSET_VAR");
    assert_eq!(
        errors(&src),
        ["environment variable `STAMPEDE_SURELY_UNSET_VAR` is not set"]
    );
}

#[test]
fn feeders_define_their_columns() {
    let file = dir().join("tests/data/users.csv");
    let src = format!(
        "{HEAD}data:
  users: {{ file: '{}', strategy: unique }}
scenarios:
  - name: a
    steps: [{{ get: '/u/{{{{ users.username }}}}/{{{{ users.pasword }}}}' }}]
",
        file.display()
    );
    let d = load_str(&src, "t.yaml", &Overrides::default()).unwrap_err();
    assert_eq!(d.items[0].message, "unknown variable `users.pasword`");
    assert_eq!(
        d.items[0].hint.as_deref(),
        Some("did you mean `users.password`?")
    );
    let ok = src.replace("pasword", "password");
    let loaded = load_str(&ok, "t.yaml", &Overrides::default()).unwrap();
    assert_eq!(loaded.plan.data[0].table.rows.len(), 2);
    // 2 rows for 2 users: no warning; 5 users would get one.
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let five = ok.replace("users: 2", "users: 5");
    let loaded = load_str(&five, "t.yaml", &Overrides::default()).unwrap();
    assert_eq!(
        loaded.warnings[0].message,
        "`users` has 2 rows for up to 5 users: each row is used by one user at most"
    );
}

#[test]
fn every_language_error_at_once() {
    let path = dir().join("tests/broken/language.yaml");
    let d = load_file(&path, &Overrides::default()).unwrap_err();
    let rendered = d
        .render(false)
        .replace(&dir().display().to_string(), "<dir>");
    insta::assert_snapshot!(rendered);
    for item in &d.items {
        assert!(item.line.is_some(), "{item:?}");
    }
}

#[test]
fn included_flows_are_used_and_their_problems_located_in_their_file() {
    let ok = load_file(
        &dir().join("tests/include/shop.yaml"),
        &Overrides::default(),
    );
    let plan = match ok {
        Ok(l) => l.plan,
        Err(d) => panic!("{}", d.render(false)),
    };
    let Action::Request(login) = &plan.scenarios[0].on_start[0] else {
        panic!()
    };
    assert_eq!(login.url.static_text().as_deref(), Some("/login"));
    let d = load_file(
        &dir().join("tests/include/broken.yaml"),
        &Overrides::default(),
    )
    .unwrap_err();
    let e = d
        .items
        .iter()
        .find(|i| i.severity == Severity::Error)
        .unwrap();
    assert_eq!(e.message, "unknown variable `tokn`");
    assert_eq!(e.file.as_deref(), Some("common.yaml"));
    assert_eq!(e.line, Some(8));
    let rendered = d.render(false);
    assert!(rendered.contains("--> common.yaml:8:12"), "{rendered}");
    assert!(rendered.contains("    - get: /x/{{ tokn }}"), "{rendered}");
    let missing = "target: http://h\nload: { users: 1, duration: 1s }\ninclude: [nope.yaml]\n\
                   scenarios: [{ name: a, steps: [{ flow: login }] }]\n";
    let messages = errors(missing);
    assert!(
        messages[0].starts_with("cannot read `nope.yaml`"),
        "{messages:?}"
    );
}

#[test]
fn loaded_lists_every_file_the_scenario_uses() {
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("files-used");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("tests/scripts")).unwrap();
    std::fs::create_dir_all(root.join("shared")).unwrap();
    std::fs::write(
        root.join("shared/flows.yaml"),
        "flows:\n  hello:\n    - get: /hello\n",
    )
    .unwrap();
    std::fs::write(root.join("tests/scripts/x.lua"), "vars.n = 1\n").unwrap();
    std::fs::write(root.join("tests/users.csv"), "name\nann\n").unwrap();
    let source = "target: http://127.0.0.1:1\nhttp: { ca_file: ca.pem }\n\
                  include: [../shared/flows.yaml]\n\
                  data: { users: { file: users.csv } }\n\
                  load: { users: 1, duration: 1s }\n\
                  scenarios:\n  - name: a\n    steps:\n      - flow: hello\n\
                  \x20     - script: { file: scripts/x.lua }\n        sets: [n]\n\
                  \x20     - get: /u/{{ users.name }}/{{ n }}\n";
    let path = root.join("tests/s.yaml");
    std::fs::write(&path, source).unwrap();
    let loaded = match load_file(&path, &Overrides::default()) {
        Ok(l) => l,
        Err(d) => panic!("{}", d.render(false)),
    };
    let dir = root.join("tests");
    let mut files = loaded.files.clone();
    files.sort();
    let mut expected = vec![
        dir.join("../shared/flows.yaml"),
        dir.join("scripts/x.lua"),
        dir.join("users.csv"),
        dir.join("ca.pem"),
    ];
    expected.sort();
    assert_eq!(files, expected);
}
