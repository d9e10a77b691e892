//! Snapshots of the rendered diagnostics for broken files (in `tests/broken/`).

use std::path::Path;

use stampede_scenario::{Diagnostics, Overrides, Severity, load_str};

fn broken(name: &str) -> Diagnostics {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/broken")
        .join(name);
    let source = std::fs::read_to_string(&path).unwrap();
    match load_str(&source, name, &Overrides::default()) {
        Ok(_) => panic!("{name} should not load"),
        Err(diags) => diags,
    }
}

/// Every item has a line, a column and (except syntax errors) a field path.
fn assert_located(diags: &Diagnostics) {
    for d in &diags.items {
        assert!(d.line.is_some() && d.column.is_some(), "{d:?}");
    }
}

#[test]
fn many_errors_at_once() {
    let diags = broken("many_errors.yaml");
    assert_located(&diags);
    assert!(diags.items.iter().all(|d| !d.path.is_empty()));
    assert_eq!(diags.error_count(), 5);
    insta::assert_snapshot!(diags.render(false));
}

#[test]
fn yaml_syntax_error() {
    let diags = broken("syntax.yaml");
    assert_located(&diags);
    assert_eq!(diags.error_count(), 1);
    insta::assert_snapshot!(diags.render(false));
}

#[test]
fn step_errors() {
    let diags = broken("steps.yaml");
    assert_located(&diags);
    assert!(diags.error_count() >= 10, "{}", diags.error_count());
    insta::assert_snapshot!(diags.render(false));
}

#[test]
fn section_errors() {
    let diags = broken("sections.yaml");
    assert_located(&diags);
    insta::assert_snapshot!(diags.render(false));
}

#[test]
fn json_output() {
    let diags = broken("many_errors.yaml");
    insta::assert_snapshot!(serde_json::to_string_pretty(&diags.to_json()).unwrap());
}

#[test]
fn overrides_and_warnings() {
    let source = "target: http://localhost\nload: { users: 2, duration: 5s, spawn_rate: 0.1/s }\n\
                  scenarios:\n  - name: a\n    weight: 0\n    steps: [{ get: / }]\n  - name: b\n    steps: [{ get: / }]\n";
    let loaded = load_str(source, "warn.yaml", &Overrides::default()).unwrap();
    let warnings = Diagnostics {
        file: "warn.yaml".into(),
        source: source.into(),
        items: loaded.warnings,
        included: Vec::new(),
    };
    assert_eq!(warnings.error_count(), 0);
    insta::assert_snapshot!("warnings", warnings.render(false));

    let o = Overrides {
        users: Some(0),
        spawn_rate: Some(-1.0),
        target: Some("http://[::1".into()),
        ..Overrides::default()
    };
    let diags = load_str(source, "warn.yaml", &o).unwrap_err();
    assert!(diags.items.iter().all(|d| d.line.is_none()));
    insta::assert_snapshot!("overrides", diags.render(false));
}

#[test]
fn dropped_iterations_that_are_always_zero() {
    // `checkout` runs an arrival rate, `browse` the closed top-level load.
    let source = "target: http://localhost\nload: { users: 2, duration: 1m }\nscenarios:\n\
                  \x20 - name: checkout\n    load: { arrival_rate: 5/s, duration: 1m, max_users: 5 }\n\
                  \x20   steps: [{ get: /pay }]\n  - name: browse\n    steps: [{ get: / }]\n\
                  thresholds:\n  - { metric: dropped_iterations, scenario: checkout, max: 0 }\n\
                  \x20 - { metric: dropped_iterations, scenario: browse, max: 0 }\n";
    let loaded = load_str(source, "dropped.yaml", &Overrides::default()).unwrap();
    assert_eq!(loaded.plan.thresholds.len(), 2, "the file still runs both");
    let warnings = Diagnostics {
        file: "dropped.yaml".into(),
        source: source.into(),
        items: loaded.warnings,
        included: Vec::new(),
    };
    assert_eq!((warnings.error_count(), warnings.warning_count()), (0, 1));
    let json = warnings.to_json();
    let item = &json["diagnostics"][0];
    assert_eq!(
        (&item["severity"], &item["line"], &item["path"]),
        (&"warning".into(), &11.into(), &"thresholds[1]".into())
    );
    insta::assert_snapshot!("dropped_iterations", warnings.render(false));
}

#[test]
fn colours_only_when_asked() {
    let diags = broken("many_errors.yaml");
    assert!(!diags.render(false).contains('\x1b'));
    let coloured = diags.render(true);
    assert!(coloured.contains("\x1b[1;31merror\x1b[0m"));
    let plain: String = strip_ansi(&coloured);
    assert_eq!(plain, diags.render(false));
    assert_eq!(diags.to_string(), diags.render(false));
    assert!(diags.items.iter().all(|d| d.severity == Severity::Error));
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
