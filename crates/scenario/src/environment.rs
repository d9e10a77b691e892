//! `environments`: named overrides of the target, default headers and variables, chosen with
//! `--env NAME` (e.g. the same scenario against staging or a local copy).

use crate::decoder::{self, Ctx, child};
use crate::plan::{Target, Template};
use crate::suggest::{did_you_mean, one_of};
use crate::target::parse_target;
use crate::yaml::Node;
use crate::{http, variables};

/// The chosen environment's overrides.
#[derive(Default)]
pub(crate) struct Environment {
    pub target: Option<Target>,
    pub headers: Vec<(String, Template)>,
    pub variables: Vec<(String, String)>,
}

const FIELDS: &[&str] = &["target", "headers", "variables"];

/// Decodes every environment (so a broken one is found even when another is chosen) and returns
/// the one named by `--env`.
pub(crate) fn select(
    ctx: &mut Ctx,
    node: Option<&Node>,
    chosen: Option<&str>,
) -> Option<Environment> {
    let mut names = Vec::new();
    let mut found = None;
    if let Some(node) = node {
        for entry in decoder::entries(ctx, node, "environments").unwrap_or_default() {
            let path = child("environments", entry.key);
            let env = decode_one(ctx, entry.value, &path);
            if chosen == Some(entry.key) {
                found = Some(env.unwrap_or_default());
            }
            names.push(entry.key.to_owned());
        }
    }
    let chosen = chosen?;
    if found.is_none() {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let message = format!("unknown environment `{chosen}`");
        let hint = match did_you_mean(chosen, &refs) {
            Some(s) => format!("did you mean `{s}`?"),
            None if refs.is_empty() => "the file has no `environments` section".into(),
            None => format!("the environments are {}", one_of(&refs)),
        };
        ctx.error(None, "--env", message, Some(hint));
    }
    found
}

fn decode_one(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Environment> {
    let f = decoder::fields(ctx, node, path, FIELDS)?;
    let mut env = Environment::default();
    if let Some(n) = f.get("target") {
        let p = f.path("target");
        let text = decoder::string(ctx, n, &p)?;
        match parse_target(&text) {
            Ok(t) => env.target = Some(t),
            Err(e) => ctx.error(Some(n), &p, e.message, e.hint),
        }
    }
    if let Some(n) = f.get("headers") {
        env.headers = http::headers(ctx, n, &f.path("headers")).unwrap_or_default();
    }
    if let Some(n) = f.get("variables") {
        env.variables = variables::values(ctx, n, &f.path("variables")).unwrap_or_default();
    }
    Some(env)
}

/// Adds the environment's headers to the defaults; a name already there is replaced.
pub(crate) fn merge_headers(headers: &mut Vec<(String, Template)>, extra: &[(String, Template)]) {
    for (name, _) in extra {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
    headers.extend(extra.iter().cloned());
}
