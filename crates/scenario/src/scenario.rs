//! Decoding the `scenarios` list: names, weights, think times and step lists.

use std::collections::HashMap;

use crate::decoder::{self, Ctx, item};
use crate::flow::{self, FlowEnv};
use crate::load::{self, Scope};
use crate::plan::{Action, Scenario, ThinkTime, split_by_weight};
use crate::rows::Rows;
use crate::step::{self, non_empty_string};
use crate::yaml::{Node, Value};
use crate::{Overrides, pause, profile};

const FIELDS: &[&str] = &[
    "name",
    "weight",
    "think_time",
    "on_start",
    "steps",
    "on_stop",
    "load",
    "start",
    "pacing",
    "pace_factor",
];

/// True when some scenario of the `scenarios` list has its own `load` (then the top-level
/// `load` may omit the level). Looks at keys only; values are checked when decoded.
pub(crate) fn any_own_load(node: &Node) -> bool {
    let Value::Seq(items) = &node.value else {
        return false;
    };
    items.iter().any(|item| match &item.value {
        Value::Map(pairs) => pairs
            .iter()
            .any(|(k, _)| matches!(&k.value, Value::Scalar(_, t) if t == "load")),
        _ => false,
    })
}

/// Decodes every scenario; `None` if any is invalid (all problems reported). All weights being
/// zero is an error even when other fields of the scenarios are wrong.
pub(crate) fn decode_all(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
) -> Option<Vec<Scenario>> {
    let items = decoder::list(ctx, node, path)?;
    if items.is_empty() {
        let hint = "add a scenario with a `name` and `steps`".to_owned();
        ctx.error(Some(node), path, "`scenarios` is empty".into(), Some(hint));
        return None;
    }
    let before = ctx.error_count();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut scenarios = Vec::with_capacity(items.len());
    let mut weights = Vec::with_capacity(items.len());
    for (i, scenario) in items.iter().enumerate() {
        let path = item(path, i);
        let (decoded, weight) = decode_one(ctx, scenario, &path, env, rows, &mut names);
        scenarios.extend(decoded);
        weights.push(weight);
    }
    if weights.iter().all(|w| *w == Some(0)) && !any_own_load(node) {
        let message = "every scenario has weight 0, so no user would run".to_owned();
        let hint = "give at least one scenario a weight above 0".to_owned();
        ctx.error(Some(node), path, message, Some(hint));
    }
    (ctx.error_count() == before).then_some(scenarios)
}

fn decode_one(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
    names: &mut HashMap<String, usize>,
) -> (Option<Scenario>, Option<u32>) {
    let Some(f) = decoder::fields(ctx, node, path, FIELDS) else {
        return (None, None);
    };
    let before = ctx.error_count();
    let name_node = f.required(ctx, "name", Some("e.g. `name: browse`".into()));
    let name = name_node.and_then(|n| non_empty_string(ctx, n, &f.path("name")));
    if let (Some(name), Some(at)) = (&name, name_node) {
        match names.get(name) {
            Some(line) => {
                let message = format!("duplicate scenario name `{name}`");
                let hint = format!("first used on line {line}; names must be unique");
                ctx.error(Some(at), &f.path("name"), message, Some(hint));
            }
            None => {
                names.insert(name.clone(), at.line);
            }
        }
    }
    let weight = match f.get("weight") {
        Some(n) => decoder::count(ctx, n, &f.path("weight"), "`weight`", 0),
        None => Some(1),
    };
    let think_time = match f.get("think_time") {
        Some(n) => step::think_time(ctx, n, &f.path("think_time")),
        None => Some(ThinkTime::None),
    };
    let own_load = f.get("load").and_then(|n| {
        let section = load::decode(ctx, n, &f.path("load"), Scope::Scenario)?;
        Some(profile::build(ctx, &section, &Overrides::default(), n))
    });
    let start = match f.get("start") {
        Some(n) if f.get("load").is_none() => {
            let message = "`start` applies to a scenario with its own `load`".to_owned();
            let hint = "add a `load` to this scenario, or remove `start`".to_owned();
            ctx.error(Some(n), &f.path("start"), message, Some(hint));
            None
        }
        Some(n) => decoder::duration(ctx, n, &f.path("start")),
        None => Some(std::time::Duration::ZERO),
    };
    let pacing = f
        .get("pacing")
        .map(|n| decoder::positive_duration(ctx, n, &f.path("pacing")));
    let pace_factor = f
        .get("pace_factor")
        .map(|n| pause::pace_factor(ctx, n, &f.path("pace_factor")));
    // Rows are keyed by name; a missing name is already an error, so "" never reaches a plan.
    let row_name = name.as_deref().unwrap_or_default();
    let env = FlowEnv {
        scenario: row_name,
        ..*env
    };
    let on_start = match f.get("on_start") {
        Some(n) => steps(ctx, n, &f.path("on_start"), &env, rows, false),
        None => Some(Vec::new()),
    };
    let main = f
        .required(
            ctx,
            "steps",
            Some("add a list of requests, e.g. `- get: /`".into()),
        )
        .and_then(|n| steps(ctx, n, &f.path("steps"), &env, rows, true));
    let on_stop = match f.get("on_stop") {
        Some(n) => steps(ctx, n, &f.path("on_stop"), &env, rows, false),
        None => Some(Vec::new()),
    };
    if ctx.error_count() > before {
        return (None, weight);
    }
    let scenario = match (name, weight, think_time, on_start, main, on_stop) {
        (
            Some(name),
            Some(weight),
            Some(think_time),
            Some(on_start),
            Some(steps),
            Some(on_stop),
        ) => Some(Scenario {
            name,
            weight,
            think_time,
            on_start,
            steps,
            on_stop,
            load: own_load,
            start: start.unwrap_or_default(),
            pacing: pacing.flatten(),
            pace_factor: pace_factor.flatten(),
        }),
        _ => None,
    };
    (scenario, weight)
}

fn steps(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    env: &FlowEnv<'_>,
    rows: &mut Rows,
    required: bool,
) -> Option<Vec<Action>> {
    let items = decoder::list(ctx, node, path)?;
    if required && items.is_empty() {
        let hint = "add at least one request, e.g. `- get: /`".to_owned();
        ctx.error(Some(node), path, "`steps` is empty".into(), Some(hint));
        return None;
    }
    flow::decode_list(ctx, node, path, env, rows)
}

/// Warns about scenarios that never get a user: weight 0, or a share that rounds to zero at the
/// highest user count. `nodes` are the scenario nodes, in order.
///
/// Scenarios with their own `load` are not part of the split and are skipped.
pub(crate) fn warn_idle(ctx: &mut Ctx, scenarios: &[Scenario], nodes: &[Node], max_users: u32) {
    let weights: Vec<u32> = scenarios
        .iter()
        .map(|s| if s.load.is_some() { 0 } else { s.weight })
        .collect();
    let shares = split_by_weight(max_users, &weights);
    for (i, (scenario, share)) in scenarios.iter().zip(shares).enumerate() {
        if scenario.load.is_some() {
            continue;
        }
        let path = format!("scenarios[{i}]");
        let at = nodes.get(i);
        if scenario.weight == 0 {
            let message = format!(
                "scenario `{}` has weight 0 and gets no users",
                scenario.name
            );
            ctx.warning(at, &path, message, None);
        } else if share == 0 && max_users > 0 {
            let message = format!(
                "scenario `{}` gets no users: its weight's share of {max_users} users rounds to 0",
                scenario.name
            );
            let hint = "raise `users` or this scenario's `weight`".to_owned();
            ctx.warning(at, &path, message, Some(hint));
        }
    }
}
