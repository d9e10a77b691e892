//! Decoding one step (an HTTP request), its `expect` checks and think times.

use crate::body::{self, BODY_FIELDS};
use crate::decoder::{self, Ctx, item};
use crate::http;
use crate::plan::{Expect, Method, Step};
use crate::rows::Rows;
use crate::suggest::one_of;
use crate::target::resolve_step;
use crate::yaml::{Node, Value};

/// What steps need from the rest of the file.
pub(crate) struct StepEnv<'a> {
    /// The target's base path, prepended to step paths.
    pub base_path: &'a str,
    /// `http.headers`, to know whether a `Content-Type` was given.
    pub default_headers: &'a [(String, String)],
}

const METHODS: [(&str, Method); 7] = [
    ("get", Method::Get),
    ("post", Method::Post),
    ("put", Method::Put),
    ("patch", Method::Patch),
    ("delete", Method::Delete),
    ("head", Method::Head),
    ("options", Method::Options),
];
const METHOD_NAMES: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];

const FIELDS: &[&str] = &[
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "options",
    "name",
    "headers",
    "json",
    "body",
    "form",
    "expect",
    "timeout",
    "think_time",
];

/// Decodes a step and gives it its row in `rows` (keyed by `scenario`, the step name and method).
pub(crate) fn decode(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &StepEnv<'_>,
    scenario: &str,
    rows: &mut Rows,
) -> Option<Step> {
    let f = decoder::fields(ctx, node, path, FIELDS)?;
    let before = ctx.error_count();
    let request = match f.present(METHOD_NAMES).as_slice() {
        [] => {
            if !f.had_unknown {
                let message = "the step has no request method".to_owned();
                let hint = format!(
                    "add one of {} with a path, e.g. `get: /`",
                    one_of(METHOD_NAMES)
                );
                ctx.error(Some(node), path, message, Some(hint));
            }
            None
        }
        [one] => Some(*one),
        [first, second, ..] => {
            let message = format!(
                "a step has exactly one method, found `{}` and `{}`",
                first.key, second.key
            );
            let hint = "split it into separate steps".to_owned();
            ctx.error(
                Some(second.key_node),
                &f.path(second.key),
                message,
                Some(hint),
            );
            None
        }
    };
    let mut method_and_url = None;
    let mut written = None;
    if let Some(entry) = request {
        let method_path = f.path(entry.key);
        let method = METHODS
            .iter()
            .find(|(k, _)| *k == entry.key)
            .map(|(_, m)| *m);
        if let Some(text) = decoder::string(ctx, entry.value, &method_path) {
            match resolve_step(env.base_path, &text) {
                Ok(url) => method_and_url = method.map(|m| (m, url)),
                Err(e) => ctx.error(Some(entry.value), &method_path, e.message, e.hint),
            }
            written = Some(text);
        }
    }
    let name = match f.get("name") {
        Some(n) => non_empty_string(ctx, n, &f.path("name")),
        None => written,
    };
    let headers = match f.get("headers") {
        Some(n) => http::headers(ctx, n, &f.path("headers")).unwrap_or_default(),
        None => Vec::new(),
    };
    let bodies = f.present(BODY_FIELDS);
    if let [first, second, ..] = bodies.as_slice() {
        let message = format!(
            "a step has at most one body, found `{}` and `{}`",
            first.key, second.key
        );
        let hint = format!("keep one of {}", one_of(BODY_FIELDS));
        ctx.error(
            Some(second.key_node),
            &f.path(second.key),
            message,
            Some(hint),
        );
    }
    let body = bodies.first().and_then(|b| {
        let sources = [headers.as_slice(), env.default_headers];
        body::encode(ctx, b.key, b.value, &f.path(b.key), &sources)
    });
    let expect = match f.get("expect") {
        Some(n) => decode_expect(ctx, n, &f.path("expect")),
        None => Some(Expect::default()),
    };
    let timeout = f
        .get("timeout")
        .map(|n| decoder::positive_duration(ctx, n, &f.path("timeout")));
    let think_time = f
        .get("think_time")
        .map(|n| think_time(ctx, n, &f.path("think_time")));
    if ctx.error_count() > before {
        return None;
    }
    let (method, url) = method_and_url?;
    let name = name?;
    Some(Step {
        row: rows.intern(scenario, &name, method),
        method,
        url,
        headers,
        body,
        expect: expect?,
        timeout: timeout.flatten(),
        think_time: think_time.flatten(),
    })
}

pub(crate) fn non_empty_string(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let text = decoder::string(ctx, node, path)?;
    if text.trim().is_empty() {
        ctx.error(Some(node), path, "must not be empty".into(), None);
        return None;
    }
    Some(text)
}

fn decode_expect(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Expect> {
    let f = decoder::fields(ctx, node, path, &["status"])?;
    let Some(status) = f.get("status") else {
        return Some(Expect::default());
    };
    let path = f.path("status");
    let codes = match &status.value {
        Value::Seq(items) if items.is_empty() => {
            let hint = "e.g. `status: [200, 201]`".to_owned();
            ctx.error(
                Some(status),
                &path,
                "the list of status codes is empty".into(),
                Some(hint),
            );
            return None;
        }
        Value::Seq(items) => {
            let codes: Vec<Option<u16>> = (items.iter().enumerate())
                .map(|(i, code)| status_code(ctx, code, &item(&path, i)))
                .collect();
            codes.into_iter().collect::<Option<Vec<u16>>>()?
        }
        _ => vec![status_code(ctx, status, &path)?],
    };
    Some(Expect {
        status: Some(codes),
    })
}

fn status_code(ctx: &mut Ctx, node: &Node, path: &str) -> Option<u16> {
    let code = decoder::integer(ctx, node, path, "a status code", (100, 599))?;
    u16::try_from(code).ok()
}

/// Think times are decoded with the other pauses.
pub(crate) use crate::pause::think_time;
