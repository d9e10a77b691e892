//! Decoding one step (an HTTP request), its `expect` checks and think times.

use crate::body::{self, BODY_FIELDS};
use crate::decoder::{self, Ctx};
use crate::expect;
use crate::http;
use crate::plan::{Expect, Method, Part, Resources, Step, Template};
use crate::rows::Rows;
use crate::suggest::one_of;
use crate::target::resolve_step;
use crate::template;
use crate::yaml::{Node, Value};

/// What steps need from the rest of the file.
#[derive(Clone, Copy)]
pub(crate) struct StepEnv<'a> {
    /// The target's base path, prepended to step paths.
    pub base_path: &'a str,
    /// `http.headers`, to know whether a `Content-Type` was given.
    pub default_headers: &'a [(String, Template)],
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
    "extract",
    "resources",
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
        if let Some(text) = decoder::string(ctx, entry.value, &method_path)
            && let Some(url) = url(ctx, entry.value, &method_path, env.base_path, &text)
        {
            method_and_url = method.map(|m| (m, url));
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
        Some(n) => expect::decode_expect(ctx, n, &f.path("expect")),
        None => Some(Expect::default()),
    };
    let extract = match f.get("extract") {
        Some(n) => expect::decode_extract(ctx, n, &f.path("extract")),
        None => Some(Vec::new()),
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
    let row = rows.intern(scenario, &name, method);
    let resources = match f.get("resources") {
        Some(n) => resources(ctx, n, &f.path("resources"), scenario, &name, rows)?,
        None => None,
    };
    Some(Step {
        row,
        method,
        url,
        headers,
        body,
        expect: expect?,
        extract: extract?,
        timeout: timeout.flatten(),
        think_time: think_time.flatten(),
        resources,
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

/// The request target: a path (joined with the target's base path) or an absolute URL, with
/// placeholders. A URL that starts with a placeholder (e.g. a `next` link taken from a response)
/// is checked when it is rendered.
fn url(ctx: &mut Ctx, node: &Node, path: &str, base_path: &str, text: &str) -> Option<Template> {
    let mut t = template::parse(ctx, node, path, text)?;
    if matches!(t.parts.first(), Some(Part::Expr(_))) {
        return Some(t);
    }
    // Checked with every placeholder standing for a plain word.
    let probe: String = (t.parts.iter())
        .map(|p| match p {
            Part::Text(text) => text.as_str(),
            Part::Expr(_) => "x",
        })
        .collect();
    match resolve_step(base_path, &probe) {
        Ok(_) => {
            if let Some(Part::Text(first)) = t.parts.first_mut()
                && first.starts_with('/')
            {
                first.insert_str(0, base_path);
            }
            Some(t)
        }
        Err(e) => {
            ctx.error(Some(node), path, e.message, e.hint);
            None
        }
    }
}

/// `resources: true` or `resources: { concurrency: N }`: fetch the page's embedded resources,
/// recorded under the row `<step name> resources`.
fn resources(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    scenario: &str,
    name: &str,
    rows: &mut Rows,
) -> Option<Option<Resources>> {
    let concurrency = match &node.value {
        Value::Map(_) => {
            let f = decoder::fields(ctx, node, path, &["concurrency"])?;
            match f.get("concurrency") {
                Some(n) => decoder::count(ctx, n, &f.path("concurrency"), "`concurrency`", 1)?,
                None => DEFAULT_RESOURCE_CONCURRENCY,
            }
        }
        _ => match decoder::boolean(ctx, node, path)? {
            true => DEFAULT_RESOURCE_CONCURRENCY,
            false => return Some(None),
        },
    };
    let row = rows.intern(scenario, &format!("{name} resources"), Method::Get);
    Some(Some(Resources { concurrency, row }))
}

/// Resource requests in flight at once per page, like a browser's connections per host.
const DEFAULT_RESOURCE_CONCURRENCY: u32 = 6;

/// Think times are decoded with the other pauses.
pub(crate) use crate::pause::think_time;
