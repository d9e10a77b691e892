//! The scenario JSON Schema (`stampede schema scenario`, `schemas/scenario.schema.json`):
//! the checked-in file matches the code, every example the decoder accepts validates against it,
//! and every field the decoder knows is in it.
//!
//! Regenerate the file with `UPDATE_SCHEMAS=1 cargo test -p stampede-scenario --test schema`.

use std::path::{Path, PathBuf};

use saphyr::{Scalar, Yaml, YamlLoader};
use serde_json::Value;
use stampede_scenario::{Overrides, load_file, load_str, scenario_schema};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema_path() -> PathBuf {
    root().join("schemas/scenario.schema.json")
}

fn generated() -> String {
    let mut text = serde_json::to_string_pretty(&scenario_schema()).expect("schema serializes");
    text.push('\n');
    text
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&scenario_schema()).expect("the scenario schema compiles")
}

#[test]
fn checked_in_scenario_schema_has_not_drifted() {
    let generated = generated();
    let path = schema_path();
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "schemas/scenario.schema.json is out of date: run `UPDATE_SCHEMAS=1 cargo test -p stampede-scenario --test schema` and commit it"
    );
}

#[test]
fn schema_is_valid_draft_2020_12() {
    let schema = scenario_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("not a valid JSON Schema: {e} at {}", e.instance_path());
    }
    validator();
}

/// A YAML document as JSON, with scalars resolved as the decoder resolves them (YAML 1.2 core
/// schema) and mapping keys kept as written.
fn yaml_to_json(source: &str) -> Result<Value, String> {
    let mut loader: YamlLoader<'_, Yaml<'_>> = YamlLoader::default();
    loader.early_parse(false);
    let mut parser = saphyr_parser::Parser::new_from_str(source);
    parser.load(&mut loader, true).map_err(|e| e.to_string())?;
    if let Some(e) = loader.error() {
        return Err(e.to_string());
    }
    let docs = loader.into_documents();
    match docs.as_slice() {
        [doc] => convert(doc),
        _ => Err(format!("{} documents", docs.len())),
    }
}

fn convert(node: &Yaml<'_>) -> Result<Value, String> {
    Ok(match node {
        Yaml::Representation(text, style, tag) => {
            match Scalar::parse_from_cow_and_metadata(text.clone(), *style, tag.as_ref()) {
                Some(Scalar::Null) => Value::Null,
                Some(Scalar::Boolean(b)) => Value::Bool(b),
                Some(Scalar::Integer(i)) => Value::from(i),
                Some(Scalar::FloatingPoint(f)) => {
                    serde_json::Number::from_f64(f.0).map_or(Value::Null, Value::Number)
                }
                Some(Scalar::String(s)) => Value::String(s.into_owned()),
                None => return Err(format!("bad scalar `{text}`")),
            }
        }
        Yaml::Value(_) => return Err("unexpected resolved scalar".into()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(convert).collect::<Result<_, _>>()?),
        Yaml::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (key, value) in map {
                let Yaml::Representation(key, ..) = key else {
                    return Err("complex mapping key".into());
                };
                out.insert(key.to_string(), convert(value)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_, inner) => convert(inner)?,
        Yaml::Alias(_) | Yaml::BadValue => return Err("unresolved alias or bad value".into()),
    })
}

/// Every problem the schema finds in `source`, as `path: message`.
fn schema_errors(validator: &jsonschema::Validator, source: &str) -> Vec<String> {
    let instance = match yaml_to_json(source) {
        Ok(v) => v,
        Err(e) => return vec![format!("cannot convert the YAML: {e}")],
    };
    validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

// The docs-block handling below follows `tests/docs_examples.rs` (`# fragment`, `# steps` and
// `# invalid:` markers; fragments completed from a minimal file).

const BASE: [(&str, &str); 3] = [
    ("target", "target: http://localhost:8080\n"),
    ("load", "load: { users: 10, duration: 10s }\n"),
    (
        "scenarios",
        "scenarios:\n  - name: docs\n    steps:\n      - get: /\n",
    ),
];

fn yaml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match (&mut current, line.trim_end()) {
            (None, "```yaml") => current = Some((i + 1, String::new())),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[derive(Default)]
struct Markers {
    fragment: bool,
    steps: bool,
    invalid: bool,
}

fn markers(text: &str) -> Markers {
    let mut m = Markers::default();
    for line in text.lines() {
        match line.trim_end() {
            "# fragment" => m.fragment = true,
            "# steps" => m.steps = true,
            other if other.starts_with("# invalid: ") => m.invalid = true,
            _ => break,
        }
    }
    m
}

fn complete(text: &str, m: &Markers) -> String {
    if m.steps {
        let indented: String = text.lines().map(|l| format!("      {l}\n")).collect();
        let head = BASE[2].1.trim_end_matches("      - get: /\n");
        return format!("{}{}{head}{indented}", BASE[0].1, BASE[1].1);
    }
    if !m.fragment {
        return text.to_owned();
    }
    let mut file = text.to_owned();
    for (key, section) in BASE {
        if !text.lines().any(|l| l.starts_with(&format!("{key}:"))) {
            file.push_str(section);
        }
    }
    file
}

/// A scenario to check, and whether the decoder accepts it.
struct Example {
    name: String,
    source: String,
    accepted: bool,
}

fn files(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && recursive {
            files(&path, true, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

fn file_examples() -> Vec<Example> {
    let root = root();
    let mut paths = Vec::new();
    files(&root.join("examples"), true, &mut paths);
    files(&root.join("crates/demo/src"), false, &mut paths);
    files(&root.join("bench"), false, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| Example {
            name: path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string(),
            source: std::fs::read_to_string(&path).unwrap(),
            accepted: load_file(&path, &Overrides::default()).is_ok(),
        })
        .collect()
}

/// The `yaml` blocks of a Markdown file not marked `# invalid`, completed as files. An unmarked
/// block that is not a whole file (the README's) is tried as a fragment.
fn markdown_examples(file: &str) -> Vec<Example> {
    let markdown = std::fs::read_to_string(root().join(file)).unwrap();
    let mut out = Vec::new();
    for (line, text) in yaml_blocks(&markdown) {
        let m = markers(&text);
        if m.invalid {
            continue;
        }
        let name = format!("{file}:{line}");
        let accepts = |source: &str| load_str(source, &name, &Overrides::default()).is_ok();
        let mut source = complete(&text, &m);
        let mut accepted = accepts(&source);
        if !accepted && !m.fragment && !m.steps {
            let fragment = Markers {
                fragment: true,
                ..Markers::default()
            };
            let completed = complete(&text, &fragment);
            if accepts(&completed) {
                (source, accepted) = (completed, true);
            }
        }
        out.push(Example {
            name,
            source,
            accepted,
        });
    }
    out
}

#[test]
fn every_example_the_decoder_accepts_validates() {
    let validator = validator();
    let files = file_examples();
    let docs = markdown_examples("docs/scenario.md");
    let readme = markdown_examples("README.md");
    let count = |list: &[Example]| list.iter().filter(|e| e.accepted).count();
    assert!(
        count(&files) >= 4,
        "only {} example files load",
        count(&files)
    );
    assert!(
        count(&docs) >= 25,
        "only {} docs examples load",
        count(&docs)
    );
    assert!(
        count(&readme) >= 3,
        "only {} README examples load",
        count(&readme)
    );
    let mut problems = Vec::new();
    for example in files.iter().chain(&docs).chain(&readme) {
        if !example.accepted {
            continue;
        }
        let errors = schema_errors(&validator, &example.source);
        if !errors.is_empty() {
            problems.push(format!(
                "{} is accepted by the decoder but not by the schema:\n  {}\n{}",
                example.name,
                errors.join("\n  "),
                example.source
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Files using the fields the docs do not show yet (flows, data, extraction...), accepted by
/// both.
#[test]
fn newer_fields_validate() {
    let source = r#"
version: 1
target: http://127.0.0.1:8080/api
http: { http_version: 1.1, connections: shared, pool_size: 4, max_body: 1 MiB }
variables: { api_version: 2, region: eu }
environments:
  staging: { target: "https://staging.example:8443", headers: { X-Env: staging }, variables: { region: us } }
load: { users: 2, duration: 10s, iterations: { per_user: 3 }, graceful_stop: 1s }
flows:
  browse:
    - get: /products
      extract: { first: "$.items[0].id", ids: { json: "$.items[*].id", all: true } }
    - for_each: ids
      as: id
      steps:
        - get: "/products/{{ id }}"
          name: product
setup:
  - get: /health
scenarios:
  - name: shopper
    think_time: { exponential: { mean: 1s } }
    pace_factor: 1.5
    pacing: 5s
    steps:
      - flow: browse
      - group: checkout
        think_time: 0s
        steps:
          - post: /cart
            json: { product: "{{ first }}", n: 1 }
            expect:
              status: [200, 201]
              max_duration: 2s
              body_contains: [ok]
              json: { "$.ok": true }
              checks:
                - { name: has total, json_exists: "$.total" }
            extract:
              token: { regex: "token=(\\w+)", group: 1, on_failure: continue, default: none }
      - if: { var: token, not_equals: none }
        steps:
          - get: "/orders?t={{ token }}"
            resources: { concurrency: 2 }
        else:
          - counter: missing_token
      - repeat: 2
        steps:
          - get: /ping
            timeout: 1s
      - trend: { name: cart_size, value: 3 }
      - gauge: { name: queue, value: "{{ api_version }}" }
      - if: { last_check: failed }
        steps:
          - delete: /cart
thresholds:
  - { metric: latency.p99.9, max: 1s, window: 5s }
  - { metric: failure_rate, max: 5%, abort: true, delay: 2s }
"#;
    if let Err(d) = load_str(source, "newer.yaml", &Overrides::default()) {
        panic!("the decoder rejects it:\n{}", d.render(false));
    }
    let errors = schema_errors(&validator(), source);
    assert!(errors.is_empty(), "{errors:#?}");
}

/// Mistakes that both the decoder and the schema reject (so validation can fail).
#[test]
fn mistakes_are_rejected_by_both() {
    let validator = validator();
    let head = "target: http://127.0.0.1:8080\nload: { users: 1, duration: 10s }\n";
    let cases = [
        "thinktime: 2s\nscenarios: [{ name: a, steps: [{ get: / }] }]",
        "scenarios: [{ name: a, steps: [{ get: /, pots: /x }] }]",
        "scenarios: [{ name: a, steps: [{ get: /a, post: /b }] }]",
        "scenarios: [{ name: a, steps: [{ get: /, think_time: 2 }] }]",
        "scenarios: [{ name: a, steps: [{ get: /, json: {}, body: x }] }]",
        "scenarios: [{ name: a, steps: [{ get: products }] }]",
        "scenarios: [{ name: a, steps: [{ get: /, extract: { t: { json: $.a, regex: a } } }] }]",
        "scenarios: [{ name: a, steps: [{ get: /, expect: { status: 700 } }] }]",
        "scenarios: [{ name: a, steps: [] }]",
        "scenarios: [{ name: a, steps: [{ repeat: 0, steps: [{ get: / }] }] }]",
        "http: { pool_size: 3 }\nscenarios: [{ name: a, steps: [{ get: / }] }]",
        "thresholds: [{ metric: rps, min: 1, max: 2 }]\nscenarios: [{ name: a, steps: [{ get: / }] }]",
    ];
    for case in cases {
        let source = format!("{head}{case}\n");
        assert!(
            load_str(&source, "bad.yaml", &Overrides::default()).is_err(),
            "the decoder accepts {case}"
        );
        assert!(
            !schema_errors(&validator, &source).is_empty(),
            "the schema accepts {case}"
        );
    }
    let bad_load = "target: http://h\nload: { users: 1, stages: [{ duration: 1s, users: 1 }] }\n\
                    scenarios: [{ name: a, steps: [{ get: / }] }]\n";
    assert!(!schema_errors(&validator, bad_load).is_empty());
}

/// The field lists of the decoder: every `*FIELDS` constant, `KINDS`, the fields of
/// distributions and every literal list passed to `fields(...)`, as (file, list name, keys).
fn decoder_field_lists() -> Vec<(String, String, Vec<String>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths.sort();
    let mut lists = Vec::new();
    for path in paths {
        let file = path.strip_prefix(&src).unwrap().display().to_string();
        if file == "schema.rs" || file.starts_with("schema/") || file.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests are not the decoder.
        let code = text
            .split("#[cfg(test)]\nmod tests {")
            .next()
            .unwrap_or_default();
        for (name, body) in lists_in(code) {
            lists.push((file.clone(), name, quoted(body)));
        }
    }
    lists
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `const NAME...FIELDS: &[&str] = &[...]`, `const KINDS`, `fn fields_of` and
/// `fields(ctx, .., &[...])` in `code`, as (name, text holding the quoted keys).
fn lists_in(code: &str) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("const ") {
        rest = &rest[at + 6..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if (name.ends_with("FIELDS") || name == "KINDS")
            && rest[name.len()..].starts_with(": &[&str]")
        {
            let end = rest.find("];").unwrap_or(rest.len());
            out.push((name, &rest[..end]));
        }
    }
    if let Some(at) = code.find("fn fields_of(") {
        let body = &code[at..];
        let end = body.find("\n}").unwrap_or(body.len());
        out.push(("fields_of".to_owned(), &body[..end]));
    }
    let mut rest = code;
    while let Some(at) = rest.find("fields(ctx,") {
        rest = &rest[at..];
        let end = closing_paren(rest);
        let call = &rest[..end];
        if call.contains("&[\"") {
            out.push(("fields(..)".to_owned(), call));
        }
        rest = &rest[end..];
    }
    out
}

/// Where the call that `text` starts with ends (its parentheses balanced).
fn closing_paren(text: &str) -> usize {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 1 => return i,
            ')' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

fn quoted(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Every property name anywhere in the schema.
fn property_names(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                out.extend(props.keys().cloned());
            }
            map.values().for_each(|v| property_names(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| property_names(v, out)),
        _ => {}
    }
}

#[test]
fn every_decoder_field_is_in_the_schema() {
    let schema = scenario_schema();
    let mut names = Vec::new();
    property_names(&schema, &mut names);
    let lists = decoder_field_lists();
    let count = |file: &str| lists.iter().filter(|(f, _, _)| f == file).count();
    for file in [
        "document.rs",
        "http.rs",
        "load.rs",
        "step.rs",
        "expect.rs",
        "flow.rs",
        "pause.rs",
    ] {
        assert!(
            count(file) > 0,
            "no field list found in {file}: the scan is broken"
        );
    }
    let mut missing = Vec::new();
    for (file, list, keys) in &lists {
        for key in keys {
            if !names.contains(key) {
                missing.push(format!("`{key}` (src/{file}, {list})"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fields the decoder accepts but crates/scenario/src/schema.rs does not describe: {}",
        missing.join(", ")
    );
    // The main lists are where they belong, not merely somewhere.
    let at = |pointer: &str| -> Vec<String> {
        let props = schema.pointer(pointer).and_then(Value::as_object);
        props
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    };
    for (file, list, pointer) in [
        ("document.rs", "FIELDS", "/properties"),
        ("http.rs", "FIELDS", "/$defs/http/properties"),
        ("load.rs", "FIELDS", "/$defs/load/properties"),
        ("scenario.rs", "FIELDS", "/$defs/scenario/properties"),
        ("step.rs", "FIELDS", "/$defs/request/properties"),
        ("body.rs", "BODY_FIELDS", "/$defs/request/properties"),
        ("expect.rs", "EXPECT_FIELDS", "/$defs/expect/properties"),
        (
            "expect.rs",
            "CHECK_FIELDS",
            "/$defs/expect/properties/checks/items/properties",
        ),
        (
            "expect.rs",
            "EXTRACT_FIELDS",
            "/$defs/extract/additionalProperties/oneOf/1/properties",
        ),
        ("thresholds.rs", "FIELDS", "/$defs/threshold/properties"),
        ("environment.rs", "FIELDS", "/$defs/environment/properties"),
        ("data.rs", "FIELDS", "/$defs/feeder/properties"),
    ] {
        let keys = lists.iter().find(|(f, l, _)| f == file && l == list);
        let Some((_, _, keys)) = keys else {
            panic!("src/{file} has no `{list}` any more: update this test");
        };
        let found = at(pointer);
        for key in keys {
            assert!(
                found.contains(key),
                "`{key}` (src/{file}, {list}) is not in {pointer}"
            );
        }
    }
}

#[test]
fn every_property_has_a_description() {
    let schema = scenario_schema();
    let mut missing = Vec::new();
    described(&schema, &schema, "", &mut missing);
    assert!(
        missing.is_empty(),
        "properties without a description: {missing:#?}"
    );
}

fn described(node: &Value, schema: &Value, at: &str, missing: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            // Closed objects are the fields; other `properties` are conditions.
            let closed = map.get("additionalProperties") == Some(&Value::Bool(false));
            if let (Some(Value::Object(props)), true) = (map.get("properties"), closed) {
                for (key, prop) in props {
                    let target = prop
                        .get("$ref")
                        .and_then(Value::as_str)
                        .and_then(|r| schema.pointer(r.trim_start_matches('#')));
                    let has = |v: &Value| v.get("description").is_some();
                    if !has(prop) && !target.is_some_and(has) {
                        missing.push(format!("{at}/properties/{key}"));
                    }
                }
            }
            for (key, value) in map {
                described(value, schema, &format!("{at}/{key}"), missing);
            }
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                described(value, schema, &format!("{at}/{i}"), missing);
            }
        }
        _ => {}
    }
}
