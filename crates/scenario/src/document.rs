//! The top level of a scenario file: `version`, `target`, `http`, `load`, `scenarios`,
//! `thresholds`, and the assembly of the [`Plan`].

use crate::Overrides;
use crate::decoder::{self, Ctx};
use crate::load::Scope;
use crate::plan::{HttpOptions, Plan, Target};
use crate::rows::Rows;
use crate::step::StepEnv;
use crate::target::parse_target;
use crate::yaml::{Node, Value};
use crate::{assemble, http, load, profile, scenario, thresholds};

const FIELDS: &[&str] = &[
    "version",
    "target",
    "http",
    "load",
    "scenarios",
    "thresholds",
];
const VERSIONS: &[i64] = &[1];

/// Decodes the whole file; `None` when any error was reported.
pub(crate) fn decode(ctx: &mut Ctx, root: &Node, overrides: &Overrides) -> Option<Plan> {
    let overrides_ok = profile::check_overrides(ctx, overrides);
    let f = decoder::fields(ctx, root, "", FIELDS)?;
    if let Some(n) = f.get("version") {
        check_version(ctx, n);
    }
    let target = target(ctx, f.get("target"), f.node, overrides);
    let http = match f.get("http") {
        Some(n) => http::decode(ctx, n, "http"),
        None => Some(HttpOptions::default()),
    };
    let load_hint = "e.g. `load: { users: 10, duration: 30s }`".to_owned();
    // With scenarios that have their own `load`, the top-level one is optional.
    let level_optional = f.get("scenarios").is_some_and(scenario::any_own_load);
    let load_node = match level_optional {
        true => f.get("load"),
        false => f.required(ctx, "load", Some(load_hint)),
    };
    let scope = Scope::TopLevel { level_optional };
    let load = load_node.and_then(|n| load::decode(ctx, n, "load", scope));
    let env = StepEnv {
        base_path: target.as_ref().map_or("", |t| &t.base_path),
        default_headers: http.as_ref().map_or(&[], |h| &h.headers),
    };
    let mut rows = Rows::default();
    let scenarios_hint = "add a list of `scenarios`, each with a `name` and `steps`".to_owned();
    let scenarios_node = f.required(ctx, "scenarios", Some(scenarios_hint));
    let scenarios =
        scenarios_node.and_then(|n| scenario::decode_all(ctx, n, "scenarios", &env, &mut rows));
    let rows = rows.into_keys();
    let names = (scenarios.as_deref()).map(|s| thresholds::Names::new(s, &rows));
    let thresholds = match f.get("thresholds") {
        Some(n) => thresholds::decode(ctx, n, "thresholds", names.as_ref()),
        None => Some(Vec::new()),
    };
    if ctx.error_count() > 0 || !overrides_ok {
        return None;
    }
    let (scenarios_node, mut scenarios) = (scenarios_node?, scenarios?);
    let nodes: &[Node] = match &scenarios_node.value {
        Value::Seq(nodes) => nodes,
        _ => &[],
    };
    let section = load.as_ref().zip(load_node);
    let load = assemble::top_level(ctx, section, &mut scenarios, nodes, overrides)?;
    scenario::warn_idle(ctx, &scenarios, nodes, load.max_users());
    let thresholds = thresholds?;
    if let Some(Value::Seq(nodes)) = f.get("thresholds").map(|n| &n.value) {
        let planned = assemble::run_duration(&load, &scenarios);
        thresholds::warn_timing(ctx, &thresholds, nodes, planned);
    }
    Some(Plan {
        target: target?,
        load,
        scenarios,
        http: http?,
        rows,
        thresholds,
    })
}

fn check_version(ctx: &mut Ctx, node: &Node) {
    let Some(version) = decoder::integer(ctx, node, "version", "`version`", (0, i64::MAX)) else {
        return;
    };
    if !VERSIONS.contains(&version) {
        let supported: Vec<String> = VERSIONS.iter().map(i64::to_string).collect();
        let message = format!("unsupported version {version}");
        let hint = format!("this stampede supports version {}", supported.join(", "));
        ctx.error(Some(node), "version", message, Some(hint));
    }
}

/// The target: from `--target` when given (errors reported as `--target`), else from the file.
/// The file's value is checked even when overridden.
fn target(ctx: &mut Ctx, node: Option<&Node>, root: &Node, o: &Overrides) -> Option<Target> {
    let from_file = node.and_then(|n| {
        let text = decoder::string(ctx, n, "target")?;
        match parse_target(&text) {
            Ok(t) => Some(t),
            Err(e) => {
                ctx.error(Some(n), "target", e.message, e.hint);
                None
            }
        }
    });
    match (&o.target, node) {
        (Some(text), _) => match parse_target(text) {
            Ok(t) => Some(t),
            Err(e) => {
                ctx.error(None, "--target", e.message, e.hint);
                None
            }
        },
        (None, Some(_)) => from_file,
        (None, None) => {
            let message = "missing field `target`".to_owned();
            let hint = "add `target: http://host:port` or pass --target".to_owned();
            ctx.error(Some(root), "target", message, Some(hint));
            None
        }
    }
}
