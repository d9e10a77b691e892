//! Decoding flows: lists of actions (requests, `group`, `repeat`, `for_each`, `if`, `script`,
//! `counter`/`trend`/`gauge`, and `flow` references to the file's named `flows`).

use crate::decoder::{self, Ctx, item};
use crate::plan::{Action, Condition, MetricKind, MetricOp, Script, Template};
use crate::rows::Rows;
use crate::step::{self, StepEnv, non_empty_string};
use crate::suggest::{did_you_mean, one_of};
use crate::template::{self, BUILTINS, DefKind};
use crate::yaml::{Node, Scalar, Value};

/// Keys that make a list item something other than a request.
const KINDS: &[&str] = &[
    "group", "repeat", "for_each", "if", "script", "counter", "trend", "gauge", "flow",
];
const REQUEST_KEYS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];
/// Nesting deeper than this is almost certainly a `flow` including itself.
const MAX_DEPTH: usize = 16;

/// What decoding a flow needs besides the node.
#[derive(Clone, Copy)]
pub(crate) struct FlowEnv<'a> {
    pub step: StepEnv<'a>,
    /// The scenario the rows belong to (`""` for `setup`/`teardown`).
    pub scenario: &'a str,
    /// The file's named flows (`flows:`, and those of included files), by name.
    pub flows: &'a [NamedFlow<'a>],
    /// The scenario file's name, for inline script errors.
    pub file: &'a str,
    /// The directory relative paths (script files) are resolved against.
    pub dir: &'a std::path::Path,
}

/// A named flow: its steps' node, and the included file it is in (`None`: the scenario file).
#[derive(Clone, Copy)]
pub(crate) struct NamedFlow<'a> {
    pub name: &'a str,
    pub node: &'a Node,
    pub file: Option<&'a str>,
}

/// Decodes a list of actions. `None` after an error (all reported).
pub(crate) fn decode_list(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
) -> Option<Vec<Action>> {
    decode_nested(ctx, node, path, env, rows, 0)
}

fn decode_nested(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
    depth: usize,
) -> Option<Vec<Action>> {
    let items = decoder::list(ctx, node, path)?;
    let before = ctx.error_count();
    let mut out = Vec::with_capacity(items.len());
    for (i, n) in items.iter().enumerate() {
        let p = item(path, i);
        match action(ctx, n, &p, env, rows, depth) {
            Some(Expanded::One(a)) => out.push(a),
            Some(Expanded::Many(list)) => out.extend(list),
            None => {}
        }
    }
    (ctx.error_count() == before).then_some(out)
}

enum Expanded {
    One(Action),
    /// A `flow` reference, inlined.
    Many(Vec<Action>),
}

fn keys(node: &Node) -> Vec<&str> {
    match &node.value {
        Value::Map(pairs) => pairs
            .iter()
            .filter_map(|(k, _)| match &k.value {
                Value::Scalar(_, t) => Some(t.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn action(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
    depth: usize,
) -> Option<Expanded> {
    if depth > MAX_DEPTH {
        let message = format!("steps are nested more than {MAX_DEPTH} levels deep");
        let hint = "does a `flow` use itself?".to_owned();
        ctx.error(Some(node), path, message, Some(hint));
        return None;
    }
    let keys = keys(node);
    let kind = keys.iter().find(|k| KINDS.contains(k)).copied();
    let is_request = keys.iter().any(|k| REQUEST_KEYS.contains(k));
    let one = |a: Option<Action>| a.map(Expanded::One);
    match kind {
        None => {
            if !is_request && matches!(node.value, Value::Map(_)) {
                return unknown(ctx, node, path, &keys);
            }
            let step = step::decode(ctx, node, path, &env.step, env.scenario, rows)?;
            Some(Expanded::One(Action::Request(Box::new(step))))
        }
        Some(_) if is_request => {
            let message =
                "a request step cannot also be a group, loop, condition or script".to_owned();
            let hint = "nest the request under `steps`".to_owned();
            ctx.error(Some(node), path, message, Some(hint));
            None
        }
        Some("group") => one(group(ctx, node, path, env, rows, depth)),
        Some("repeat") => one(repeat(ctx, node, path, env, rows, depth)),
        Some("for_each") => one(for_each(ctx, node, path, env, rows, depth)),
        Some("if") => one(condition(ctx, node, path, env, rows, depth)),
        Some("script") => one(script(ctx, node, path, env, rows)),
        Some("flow") => flow_ref(ctx, node, path, env, rows, depth).map(Expanded::Many),
        Some(k) => one(metric(ctx, node, path, k)),
    }
}

fn unknown(ctx: &mut Ctx, node: &Node, path: &str, keys: &[&str]) -> Option<Expanded> {
    let mut known: Vec<&str> = REQUEST_KEYS.to_vec();
    known.extend_from_slice(KINDS);
    let suggestion = keys.iter().find_map(|k| did_you_mean(k, &known));
    let message = "the step has no request method".to_owned();
    let hint = match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!(
            "add one of {} with a path (e.g. `get: /`), or use one of {}",
            one_of(REQUEST_KEYS),
            one_of(KINDS)
        ),
    };
    ctx.error(Some(node), path, message, Some(hint));
    None
}

fn body(
    ctx: &mut Ctx,
    f: &decoder::Fields<'_>,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
    depth: usize,
) -> Option<Vec<Action>> {
    let n = f.required(
        ctx,
        "steps",
        Some("add a list of steps, e.g. `- get: /`".into()),
    )?;
    let actions = decode_nested(ctx, n, &f.path("steps"), env, rows, depth + 1)?;
    if actions.is_empty() {
        ctx.error(Some(n), &f.path("steps"), "`steps` is empty".into(), None);
        return None;
    }
    Some(actions)
}

fn group(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
    depth: usize,
) -> Option<Action> {
    let f = decoder::fields(ctx, node, path, &["group", "steps", "think_time"])?;
    let name = non_empty_string(ctx, f.get("group")?, &f.path("group"));
    let think_time = f
        .get("think_time")
        .and_then(|n| step::think_time(ctx, n, &f.path("think_time")));
    let actions = body(ctx, &f, env, rows, depth)?;
    Some(Action::Group {
        name: name?,
        actions,
        think_time,
    })
}

fn repeat(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
    depth: usize,
) -> Option<Action> {
    let f = decoder::fields(ctx, node, path, &["repeat", "steps"])?;
    let count = decoder::count(ctx, f.get("repeat")?, &f.path("repeat"), "`repeat`", 1);
    let actions = body(ctx, &f, env, rows, depth)?;
    Some(Action::Repeat {
        count: count?,
        actions,
    })
}

fn for_each(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
    depth: usize,
) -> Option<Action> {
    let f = decoder::fields(ctx, node, path, &["for_each", "as", "steps"])?;
    let list_node = f.get("for_each")?;
    let list = variable_name(ctx, list_node, &f.path("for_each"));
    if let Some(list) = &list {
        ctx.use_var(list, list_node, &f.path("for_each"));
    }
    let var = match f.get("as") {
        Some(n) => {
            let name = variable_name(ctx, n, &f.path("as"));
            if let Some(name) = &name {
                ctx.define_var(name, n, &f.path("as"), DefKind::Other);
            }
            name
        }
        None => {
            let hint = "name the variable that holds each item, e.g. `as: id`".to_owned();
            ctx.error(Some(node), path, "missing field `as`".into(), Some(hint));
            None
        }
    };
    let actions = body(ctx, &f, env, rows, depth)?;
    Some(Action::ForEach {
        list: list?,
        var: var?,
        actions,
    })
}

/// A variable name: an identifier that is not a built-in.
fn variable_name(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let text = decoder::string(ctx, node, path)?;
    let text = text.trim();
    let text = text
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .map_or(text, str::trim);
    if !template::is_identifier(text) || BUILTINS.contains(&text) {
        let message = format!("`{text}` is not a variable name");
        let hint = "names are letters, digits and `_`, not a built-in such as `vu`".to_owned();
        ctx.error(Some(node), path, message, Some(hint));
        return None;
    }
    Some(text.to_owned())
}

fn condition(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
    depth: usize,
) -> Option<Action> {
    let f = decoder::fields(ctx, node, path, &["if", "steps", "else"])?;
    let cond = if_condition(ctx, f.get("if")?, &f.path("if"));
    let then = body(ctx, &f, env, rows, depth);
    let otherwise = match f.get("else") {
        Some(n) => decode_nested(ctx, n, &f.path("else"), env, rows, depth + 1),
        None => Some(Vec::new()),
    };
    Some(Action::If {
        condition: cond?,
        then: then?,
        otherwise: otherwise?,
    })
}

const CONDITION_FIELDS: &[&str] = &[
    "var",
    "exists",
    "equals",
    "not_equals",
    "matches",
    "last_check",
];

fn if_condition(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Condition> {
    if let Value::Scalar(Scalar::Str, _) = node.value {
        let var = variable_name(ctx, node, path)?;
        ctx.use_var(&var, node, path);
        return Some(Condition::Exists { var, negate: false });
    }
    let f = decoder::fields(ctx, node, path, CONDITION_FIELDS)?;
    if let Some(n) = f.get("last_check") {
        if let Some(other) = f
            .present(&["var", "exists", "equals", "not_equals", "matches"])
            .first()
        {
            let message = "`last_check` stands alone".to_owned();
            ctx.error(Some(other.key_node), &f.path(other.key), message, None);
            return None;
        }
        let p = f.path("last_check");
        return match decoder::string(ctx, n, &p)?.as_str() {
            "passed" => Some(Condition::LastCheck { passed: true }),
            "failed" => Some(Condition::LastCheck { passed: false }),
            other => {
                let message = format!("unknown `last_check` `{other}`");
                let hint = "expected `passed` or `failed`".to_owned();
                ctx.error(Some(n), &p, message, Some(hint));
                None
            }
        };
    }
    let hint = "e.g. `if: { var: status, equals: ok }` or `if: { last_check: failed }`";
    let var_node = f.required(ctx, "var", Some(hint.into()))?;
    let var = variable_name(ctx, var_node, &f.path("var"))?;
    ctx.use_var(&var, var_node, &f.path("var"));
    let tests = f.present(&["exists", "equals", "not_equals", "matches"]);
    match tests.as_slice() {
        [] => Some(Condition::Exists { var, negate: false }),
        [one] => {
            let p = f.path(one.key);
            match one.key {
                "exists" => {
                    let b = decoder::boolean(ctx, one.value, &p)?;
                    Some(Condition::Exists { var, negate: !b })
                }
                "matches" => {
                    let pattern = decoder::string(ctx, one.value, &p)?;
                    if let Err(e) = regex_check(&pattern) {
                        ctx.error(Some(one.value), &p, e, None);
                        return None;
                    }
                    Some(Condition::Matches { var, pattern })
                }
                key => {
                    let text = decoder::string(ctx, one.value, &p)?;
                    let value = template::parse(ctx, one.value, &p, &text)?;
                    Some(Condition::Equals {
                        var,
                        value,
                        negate: key == "not_equals",
                    })
                }
            }
        }
        [_, second, ..] => {
            let message = "a condition has one test".to_owned();
            let hint = "nest a second `if` inside the first".to_owned();
            ctx.error(
                Some(second.key_node),
                &f.path(second.key),
                message,
                Some(hint),
            );
            None
        }
    }
}

/// Compiles a regular expression the way `matches` conditions and checks do.
fn regex_check(pattern: &str) -> Result<(), String> {
    let spec = crate::plan::CheckSpec::BodyMatches(pattern.to_owned());
    stampede_extract::Check::compile(&spec)
        .map(|_| ())
        .map_err(|e| e.message)
}

fn script(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
) -> Option<Action> {
    let f = decoder::fields(ctx, node, path, &["script", "sets", "name"])?;
    let script_node = f.get("script")?;
    let sp = f.path("script");
    let (origin, first_line, code) = match &script_node.value {
        Value::Map(_) => {
            let sf = decoder::fields(ctx, script_node, &sp, &["file"])?;
            let hint = "e.g. `script: { file: scripts/sign.lua }`".to_owned();
            let file_node = sf.required(ctx, "file", Some(hint))?;
            let file = decoder::string(ctx, file_node, &sf.path("file"))?;
            let full = env.dir.join(&file);
            match std::fs::read_to_string(&full) {
                Ok(code) => {
                    ctx.read_file(&full);
                    (file, 1, code)
                }
                Err(e) => {
                    let message = format!("cannot read script `{}`: {e}", full.display());
                    let hint = "paths are relative to the scenario file's directory".to_owned();
                    ctx.error(Some(file_node), &sf.path("file"), message, Some(hint));
                    return None;
                }
            }
        }
        _ => {
            let code = decoder::string(ctx, script_node, &sp)?;
            // A block scalar (`script: |`) starts on the line after the key.
            let block = script_node.line > node.line || code.contains('\n');
            let line = script_node.line + usize::from(block && script_node.line == node.line);
            (
                env.file.to_owned(),
                u32::try_from(line).unwrap_or(u32::MAX),
                code,
            )
        }
    };
    if let Err(e) = stampede_script::Scripts::check(&origin, first_line, &code) {
        ctx.error(Some(script_node), &sp, format!("script error: {e}"), None);
        return None;
    }
    ctx.script_code(&code);
    let mut sets = Vec::new();
    if let Some(n) = f.get("sets") {
        let p = f.path("sets");
        for (i, v) in decoder::list(ctx, n, &p)?.iter().enumerate() {
            let name = variable_name(ctx, v, &item(&p, i))?;
            ctx.define_var(&name, v, &item(&p, i), DefKind::Other);
            sets.push(name);
        }
    }
    let name = match f.get("name") {
        Some(n) => non_empty_string(ctx, n, &f.path("name"))?,
        None => format!("script {origin}:{first_line}"),
    };
    let row = rows.intern_kind(env.scenario, &name, "SCRIPT");
    Some(Action::Script(Box::new(Script {
        row,
        origin,
        first_line,
        code,
        sets,
    })))
}

fn metric(ctx: &mut Ctx, node: &Node, path: &str, key: &str) -> Option<Action> {
    let f = decoder::fields(ctx, node, path, &[key])?;
    let kind = match key {
        "counter" => MetricKind::Counter,
        "trend" => MetricKind::Trend,
        _ => MetricKind::Gauge,
    };
    let n = f.get(key)?;
    let p = f.path(key);
    let (name, value) = match &n.value {
        Value::Map(_) => {
            let mf = decoder::fields(ctx, n, &p, &["name", "value"])?;
            let name_node = mf.required(ctx, "name", Some("e.g. `name: carts`".into()))?;
            let name = metric_name(ctx, name_node, &mf.path("name"))?;
            let value = match mf.get("value") {
                Some(v) => {
                    let vp = mf.path("value");
                    let text = decoder::string(ctx, v, &vp)?;
                    let t = template::parse(ctx, v, &vp, &text)?;
                    if let Some(text) = t.static_text()
                        && text.trim().parse::<f64>().is_err()
                    {
                        let message = format!("`{text}` is not a number");
                        ctx.error(Some(v), &vp, message, None);
                        return None;
                    }
                    t
                }
                None if kind == MetricKind::Counter => Template::text("1"),
                None => {
                    let hint = "e.g. `value: \"{{ items }}\"`".to_owned();
                    ctx.error(Some(n), &p, format!("a {key} needs a `value`"), Some(hint));
                    return None;
                }
            };
            (name, value)
        }
        _ if kind == MetricKind::Counter => (metric_name(ctx, n, &p)?, Template::text("1")),
        _ => {
            let hint = format!("e.g. `{key}: {{ name: cart_size, value: \"{{{{ items }}}}\" }}`");
            let message = format!("a {key} needs a `name` and a `value`");
            ctx.error(Some(n), &p, message, Some(hint));
            return None;
        }
    };
    Some(Action::Metric(MetricOp { kind, name, value }))
}

fn metric_name(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let name = decoder::string(ctx, node, path)?;
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-:".contains(c));
    if !ok {
        let message = format!("invalid metric name `{name}`");
        let hint = "up to 100 letters, digits, `_`, `.`, `-` or `:`".to_owned();
        ctx.error(Some(node), path, message, Some(hint));
        return None;
    }
    Some(name)
}

fn flow_ref(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
    depth: usize,
) -> Option<Vec<Action>> {
    let f = decoder::fields(ctx, node, path, &["flow"])?;
    let n = f.get("flow")?;
    let name = decoder::string(ctx, n, &f.path("flow"))?;
    match env.flows.iter().find(|f| f.name == name) {
        Some(flow) => {
            // Problems inside a flow of an included file are located in that file.
            let inner = flow.file.map(str::to_owned).or_else(|| ctx.file.clone());
            let outer = std::mem::replace(&mut ctx.file, inner);
            let actions = decode_nested(
                ctx,
                flow.node,
                &format!("flows.{name}"),
                env,
                rows,
                depth + 1,
            );
            ctx.file = outer;
            actions
        }
        None => {
            let names: Vec<&str> = env.flows.iter().map(|f| f.name).collect();
            let message = format!("unknown flow `{name}`");
            let hint = match did_you_mean(&name, &names) {
                Some(s) => format!("did you mean `{s}`?"),
                None if names.is_empty() => "define it under `flows:`".into(),
                None => format!("the flows are {}", one_of(&names)),
            };
            ctx.error(Some(n), &f.path("flow"), message, Some(hint));
            None
        }
    }
}
