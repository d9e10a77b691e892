//! Every YAML example in `docs/scenario.md` and every `examples/*.yaml` must load as documented.
//!
//! Markers on the first lines of a docs block (see the top of `docs/scenario.md`):
//! `# fragment` (top-level sections, completed from a minimal file), `# steps` (a list of steps,
//! placed in a one-scenario file), `# invalid: <text>` (must fail with an error containing
//! `<text>`). Valid blocks must load without errors or warnings.

use std::path::{Path, PathBuf};

use stampede_scenario::{Overrides, load_file, load_str};

const BASE: [(&str, &str); 3] = [
    ("target", "target: http://localhost:8080\n"),
    ("load", "load: { users: 10, duration: 10s }\n"),
    (
        "scenarios",
        "scenarios:\n  - name: docs\n    steps:\n      - get: /\n",
    ),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Block {
    /// 1-based line of the opening fence, for messages.
    line: usize,
    text: String,
}

fn yaml_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        match (&mut current, line.trim_end()) {
            (None, "```yaml") => {
                current = Some(Block {
                    line: i + 1,
                    text: String::new(),
                });
            }
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "unclosed ```yaml block");
    blocks
}

#[derive(Debug, Default)]
struct Markers {
    fragment: bool,
    steps: bool,
    invalid: Option<String>,
}

fn markers(text: &str) -> Markers {
    let mut m = Markers::default();
    for line in text.lines() {
        match line.trim_end() {
            "# fragment" => m.fragment = true,
            "# steps" => m.steps = true,
            other => match other.strip_prefix("# invalid: ") {
                Some(expected) => m.invalid = Some(expected.to_owned()),
                None => break,
            },
        }
    }
    m
}

/// The block as a whole file.
fn complete(text: &str, m: &Markers) -> String {
    if m.steps {
        let indented: String = text.lines().map(|l| format!("      {l}\n")).collect();
        let (_, base_scenarios) = BASE[2];
        let head = base_scenarios.trim_end_matches("      - get: /\n");
        return format!("{}{}{head}{indented}", BASE[0].1, BASE[1].1);
    }
    if !m.fragment {
        return text.to_owned();
    }
    let mut file = text.to_owned();
    for (key, section) in BASE {
        let present = text.lines().any(|l| l.starts_with(&format!("{key}:")));
        if !present {
            file.push_str(section);
        }
    }
    file
}

fn check(name: &str, source: &str, m: &Markers) {
    let result = load_str(source, name, &Overrides::default());
    match (&m.invalid, result) {
        (None, Ok(loaded)) => {
            assert!(
                loaded.warnings.is_empty(),
                "{name}: warnings {:?}",
                loaded.warnings
            )
        }
        (None, Err(d)) => panic!("{name} should load:\n{source}\n{}", d.render(false)),
        (Some(expected), Ok(_)) => panic!("{name} should fail with `{expected}`:\n{source}"),
        (Some(expected), Err(d)) => assert!(
            d.items
                .iter()
                .any(|i| i.message.contains(expected.as_str())),
            "{name}: expected an error containing `{expected}`, got:\n{}",
            d.render(false)
        ),
    }
}

fn docs_blocks() -> Vec<(Block, Markers)> {
    let markdown = std::fs::read_to_string(root().join("docs/scenario.md")).unwrap();
    let blocks = yaml_blocks(&markdown);
    assert!(
        blocks.len() >= 20,
        "only {} yaml blocks found",
        blocks.len()
    );
    blocks
        .into_iter()
        .map(|b| {
            let m = markers(&b.text);
            (b, m)
        })
        .collect()
}

#[test]
fn docs_examples_load_as_documented() {
    for (block, m) in docs_blocks() {
        let name = format!("docs/scenario.md:{}", block.line);
        check(&name, &complete(&block.text, &m), &m);
    }
}

#[test]
fn example_files_load_without_errors_or_warnings() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    for path in files {
        match load_file(&path, &Overrides::default()) {
            Ok(loaded) => assert!(loaded.warnings.is_empty(), "{}", path.display()),
            Err(d) => panic!("{}", d.render(false)),
        }
    }
}

/// Every field of the reference appears in at least one example that loads.
#[test]
fn every_field_has_a_valid_example() {
    const FIELDS: &[&str] = &[
        "version",
        "target",
        "http",
        "connect_timeout",
        "timeout",
        "follow_redirects",
        "max_redirects",
        "cookies",
        "headers",
        "load",
        "users",
        "spawn_rate",
        "duration",
        "stages",
        "jitter_start",
        "scenarios",
        "name",
        "weight",
        "think_time",
        "min",
        "max",
        "on_start",
        "steps",
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "json",
        "body",
        "form",
        "expect",
        "status",
    ];
    let valid: Vec<String> = docs_blocks()
        .into_iter()
        .filter(|(_, m)| m.invalid.is_none())
        .map(|(b, _)| b.text)
        .collect();
    for field in FIELDS {
        let used = valid.iter().any(|text| {
            text.lines().any(|line| {
                let line = line.trim_start().trim_start_matches("- ");
                line.starts_with(&format!("{field}:"))
                    || line.contains(&format!("{{ {field}:"))
                    || line.contains(&format!(", {field}:"))
            })
        });
        assert!(used, "no valid docs example uses `{field}`");
    }
}

#[test]
fn markers_are_parsed() {
    let m = markers("# fragment\n# invalid: oops\nload: {}\n# fragment\n");
    assert!(m.fragment && !m.steps);
    assert_eq!(m.invalid.as_deref(), Some("oops"));
    let m = markers("# just a comment\n# fragment\n");
    assert!(!m.fragment);
    let file = complete("- get: /x\n", &markers("# steps\n"));
    assert!(file.ends_with("    steps:\n      - get: /x\n"), "{file}");
    let file = complete("target: http://h\n", &markers("# fragment\n"));
    assert_eq!(file.matches("target:").count(), 1);
    assert!(file.contains("load:") && file.contains("scenarios:"));
}
