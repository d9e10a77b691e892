//! Decoding a step's `expect` (response checks) and `extract` (values taken from the response
//! into variables). Every regular expression, JSONPath and CSS selector is compiled here, so a
//! broken one is a validation error with its position, never a surprise at run time.

use crate::decoder::{self, Ctx, item};
use crate::plan::{CheckSpec, Expect, ExtractSource, Extraction, NamedCheck, OnFailure};
use crate::template::{self, BUILTINS, DefKind};
use crate::yaml::{Node, Scalar, Value};
use stampede_extract::{Check, CompileError, Extractor};

/// Check kinds of `expect` (and of each item of `expect.checks`), with `status`,
/// `max_duration` and `checks` handled apart.
const CHECK_FIELDS: &[&str] = &[
    "body_contains",
    "body_not_contains",
    "body_matches",
    "json",
    "json_exists",
    "headers",
    "header_matches",
    "header_exists",
];

const EXPECT_FIELDS: &[&str] = &[
    "status",
    "max_duration",
    "checks",
    "body_contains",
    "body_not_contains",
    "body_matches",
    "json",
    "json_exists",
    "headers",
    "header_matches",
    "header_exists",
];

/// Decodes `expect`.
pub(crate) fn decode_expect(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Expect> {
    let f = decoder::fields(ctx, node, path, EXPECT_FIELDS)?;
    let before = ctx.error_count();
    let mut expect = Expect::default();
    if let Some(status) = f.get("status") {
        expect.status = status_codes(ctx, status, &f.path("status"));
    }
    if let Some(n) = f.get("max_duration") {
        expect.max_duration = decoder::positive_duration(ctx, n, &f.path("max_duration"));
    }
    for key in CHECK_FIELDS {
        if let Some(n) = f.get(key) {
            expect
                .checks
                .extend(checks(ctx, key, n, &f.path(key), None));
        }
    }
    if let Some(n) = f.get("checks") {
        let path = f.path("checks");
        for (i, entry) in decoder::list(ctx, n, &path)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            named_check(ctx, entry, &item(&path, i), &mut expect.checks);
        }
    }
    (ctx.error_count() == before).then_some(expect)
}

/// One item of `expect.checks`: `{ name: ..., <one check> }`.
fn named_check(ctx: &mut Ctx, node: &Node, path: &str, out: &mut Vec<NamedCheck>) {
    let mut allowed = vec!["name"];
    allowed.extend_from_slice(CHECK_FIELDS);
    let Some(f) = decoder::fields(ctx, node, path, &allowed) else {
        return;
    };
    let name = f
        .required(ctx, "name", Some("e.g. `name: lists products`".into()))
        .and_then(|n| decoder::string(ctx, n, &f.path("name")));
    let present = f.present(CHECK_FIELDS);
    match present.as_slice() {
        [one] => {
            let key = one.key;
            out.extend(checks(ctx, key, one.value, &f.path(key), name));
        }
        [] => {
            let hint = format!("add one of {}", crate::suggest::one_of(CHECK_FIELDS));
            ctx.error(
                Some(node),
                path,
                "the check has no condition".into(),
                Some(hint),
            );
        }
        [_, second, ..] => {
            let message = "a named check has exactly one condition".to_owned();
            let hint = "split it into two named checks".to_owned();
            ctx.error(
                Some(second.key_node),
                &f.path(second.key),
                message,
                Some(hint),
            );
        }
    }
}

/// The checks of one `expect` field (a string or a list of strings, or a map).
fn checks(
    ctx: &mut Ctx,
    key: &str,
    node: &Node,
    path: &str,
    name: Option<String>,
) -> Vec<NamedCheck> {
    let mut specs: Vec<(CheckSpec, &Node, String)> = Vec::new();
    match key {
        "json" | "headers" | "header_matches" => {
            for entry in decoder::entries(ctx, node, path).unwrap_or_default() {
                let p = decoder::child(path, entry.key);
                let spec = match key {
                    "json" => CheckSpec::JsonEquals(entry.key.to_owned(), json_value(entry.value)),
                    _ => {
                        let Some(value) = decoder::string(ctx, entry.value, &p) else {
                            continue;
                        };
                        match key {
                            "headers" => CheckSpec::HeaderEquals(entry.key.to_owned(), value),
                            _ => CheckSpec::HeaderMatches(entry.key.to_owned(), value),
                        }
                    }
                };
                specs.push((spec, entry.value, p));
            }
        }
        _ => {
            for (text, at, p) in strings(ctx, node, path) {
                let spec = match key {
                    "body_contains" => CheckSpec::BodyContains(text),
                    "body_not_contains" => CheckSpec::BodyNotContains(text),
                    "body_matches" => CheckSpec::BodyMatches(text),
                    "json_exists" => CheckSpec::JsonExists(text),
                    _ => CheckSpec::HeaderExists(text),
                };
                specs.push((spec, at, p));
            }
        }
    }
    let mut out = Vec::new();
    for (spec, at, p) in specs {
        match Check::compile(&spec) {
            Ok(_) => out.push(NamedCheck {
                name: name.clone(),
                spec,
            }),
            Err(e) => compile_error(ctx, at, &p, e),
        }
    }
    out
}

/// A string, or a list of strings, each with its node and path.
fn strings<'a>(ctx: &mut Ctx, node: &'a Node, path: &str) -> Vec<(String, &'a Node, String)> {
    match &node.value {
        Value::Seq(items) => (items.iter().enumerate())
            .filter_map(|(i, n)| {
                let p = item(path, i);
                decoder::string(ctx, n, &p).map(|s| (s, n, p))
            })
            .collect(),
        _ => decoder::string(ctx, node, path)
            .map(|s| (s, node, path.to_owned()))
            .into_iter()
            .collect(),
    }
}

/// A YAML value as JSON (for `json:` equality checks).
fn json_value(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Scalar(Scalar::Null, _) => serde_json::Value::Null,
        Value::Scalar(Scalar::Bool(b), _) => (*b).into(),
        Value::Scalar(Scalar::Int(i), _) => (*i).into(),
        Value::Scalar(Scalar::Float(f), _) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Scalar(Scalar::Str, text) => text.clone().into(),
        Value::Seq(items) => items.iter().map(json_value).collect(),
        Value::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| {
                let key = match &k.value {
                    Value::Scalar(_, text) => text.clone(),
                    _ => String::new(),
                };
                (key, json_value(v))
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

fn status_codes(ctx: &mut Ctx, status: &Node, path: &str) -> Option<Vec<u16>> {
    match &status.value {
        Value::Seq(items) if items.is_empty() => {
            let hint = "e.g. `status: [200, 201]`".to_owned();
            let message = "the list of status codes is empty".into();
            ctx.error(Some(status), path, message, Some(hint));
            None
        }
        Value::Seq(items) => {
            let codes: Vec<Option<u16>> = (items.iter().enumerate())
                .map(|(i, code)| status_code(ctx, code, &item(path, i)))
                .collect();
            codes.into_iter().collect()
        }
        _ => Some(vec![status_code(ctx, status, path)?]),
    }
}

fn status_code(ctx: &mut Ctx, node: &Node, path: &str) -> Option<u16> {
    let code = decoder::integer(ctx, node, path, "a status code", (100, 599))?;
    u16::try_from(code).ok()
}

const SOURCES: &[&str] = &["json", "regex", "header", "cookie", "html", "form_field"];
const EXTRACT_FIELDS: &[&str] = &[
    "json",
    "regex",
    "header",
    "cookie",
    "html",
    "form_field",
    "group",
    "attribute",
    "all",
    "on_failure",
    "default",
];

/// Decodes `extract`: a map from variable name to a source. A plain string is a JSONPath.
pub(crate) fn decode_extract(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<Extraction>> {
    let before = ctx.error_count();
    let mut out = Vec::new();
    for entry in decoder::entries(ctx, node, path)? {
        let p = decoder::child(path, entry.key);
        if !template::is_identifier(entry.key) || BUILTINS.contains(&entry.key) {
            let message = format!("`{}` cannot be a variable name", entry.key);
            let hint = if BUILTINS.contains(&entry.key) {
                "it is a built-in; choose another name".to_owned()
            } else {
                "names are letters, digits and `_`, not starting with a digit".to_owned()
            };
            ctx.error(Some(entry.key_node), &p, message, Some(hint));
            continue;
        }
        if let Some(extraction) = extraction(ctx, entry.key, entry.value, &p) {
            ctx.define_var(entry.key, entry.key_node, &p, DefKind::Extracted);
            out.push(extraction);
        }
    }
    (ctx.error_count() == before).then_some(out)
}

fn extraction(ctx: &mut Ctx, var: &str, node: &Node, path: &str) -> Option<Extraction> {
    if let Value::Scalar(Scalar::Str, text) = &node.value {
        let source = ExtractSource::Json(text.clone());
        compile(ctx, &source, node, path)?;
        return Some(Extraction {
            var: var.to_owned(),
            source,
            all: false,
            on_failure: OnFailure::Fail,
            default: None,
        });
    }
    let f = decoder::fields(ctx, node, path, EXTRACT_FIELDS)?;
    let before = ctx.error_count();
    let present = f.present(SOURCES);
    let source_entry = match present.as_slice() {
        [one] => *one,
        [] => {
            let hint = format!("add one of {}", crate::suggest::one_of(SOURCES));
            let message = "the extraction has no source".into();
            ctx.error(Some(node), path, message, Some(hint));
            return None;
        }
        [_, second, ..] => {
            let message = "an extraction has exactly one source".into();
            ctx.error(Some(second.key_node), &f.path(second.key), message, None);
            return None;
        }
    };
    let sp = f.path(source_entry.key);
    let text = decoder::string(ctx, source_entry.value, &sp)?;
    let group = match f.get("group") {
        Some(n) if source_entry.key == "regex" => {
            let g = decoder::integer(ctx, n, &f.path("group"), "a capture group", (0, 99))?;
            usize::try_from(g).ok()?
        }
        Some(n) => {
            let message = "`group` applies to `regex`".into();
            ctx.error(Some(n), &f.path("group"), message, None);
            return None;
        }
        None => 1,
    };
    let attribute = match f.get("attribute") {
        Some(n) if source_entry.key == "html" => decoder::string(ctx, n, &f.path("attribute")),
        Some(n) => {
            let message = "`attribute` applies to `html`".into();
            ctx.error(Some(n), &f.path("attribute"), message, None);
            return None;
        }
        None => None,
    };
    let source = match source_entry.key {
        "json" => ExtractSource::Json(text),
        "regex" => ExtractSource::Regex {
            pattern: text,
            group,
        },
        "header" => ExtractSource::Header(text),
        "cookie" => ExtractSource::Cookie(text),
        "html" => ExtractSource::Html {
            selector: text,
            attribute,
        },
        _ => ExtractSource::FormField(text),
    };
    compile(ctx, &source, source_entry.value, &sp);
    let all = match f.get("all") {
        Some(n) => decoder::boolean(ctx, n, &f.path("all")).unwrap_or(false),
        None => false,
    };
    let on_failure = match f.get("on_failure") {
        Some(n) => on_failure(ctx, n, &f.path("on_failure")).unwrap_or_default(),
        None => OnFailure::Fail,
    };
    let default = f
        .get("default")
        .and_then(|n| decoder::string(ctx, n, &f.path("default")));
    (ctx.error_count() == before).then(|| Extraction {
        var: var.to_owned(),
        source,
        all,
        on_failure,
        default,
    })
}

fn on_failure(ctx: &mut Ctx, node: &Node, path: &str) -> Option<OnFailure> {
    match decoder::string(ctx, node, path)?.as_str() {
        "fail" => Some(OnFailure::Fail),
        "continue" => Some(OnFailure::Continue),
        other => {
            let message = format!("unknown `on_failure` `{other}`");
            let hint = "expected `fail` (the request fails and the iteration stops) or \
                        `continue` (the variable stays unset)";
            ctx.error(Some(node), path, message, Some(hint.into()));
            None
        }
    }
}

fn compile(ctx: &mut Ctx, source: &ExtractSource, node: &Node, path: &str) -> Option<()> {
    match Extractor::compile(source) {
        Ok(_) => Some(()),
        Err(e) => {
            compile_error(ctx, node, path, e);
            None
        }
    }
}

fn compile_error(ctx: &mut Ctx, node: &Node, path: &str, e: CompileError) {
    ctx.error(Some(node), path, e.message, e.hint);
}
