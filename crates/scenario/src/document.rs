//! The top level of a scenario file: `version`, `target`, `http`, `load`, `scenarios`,
//! `thresholds`, and the assembly of the [`Plan`].

use crate::Overrides;
use crate::data;
use crate::decoder::{self, Ctx};
use crate::flow::{self, FlowEnv, NamedFlow};
use crate::include;
use crate::load::Scope;
use crate::plan::{
    DataSet, Exhausted, HttpOptions, Load, Plan, Scenario, Strategy, Target, load_table,
    split_by_weight,
};
use crate::rows::Rows;
use crate::step::StepEnv;
use crate::target::parse_target;
use crate::template::DefKind;
use crate::yaml::{Node, Value};
use crate::{
    assemble, environment, http, load, profile, scenario, template, thresholds, variables,
};

const FIELDS: &[&str] = &[
    "version",
    "target",
    "http",
    "load",
    "scenarios",
    "thresholds",
    "variables",
    "environments",
    "flows",
    "setup",
    "teardown",
    "data",
    "include",
];
const VERSIONS: &[i64] = &[1];

/// Decodes the whole file; `None` when any error was reported.
pub(crate) fn decode(
    ctx: &mut Ctx,
    root: &Node,
    overrides: &Overrides,
    src: &Source<'_>,
) -> Option<Plan> {
    let overrides_ok = profile::check_overrides(ctx, overrides);
    let f = decoder::fields(ctx, root, "", FIELDS)?;
    if let Some(n) = f.get("version") {
        check_version(ctx, n);
    }
    let environment = environment::select(ctx, f.get("environments"), overrides.env.as_deref());
    let target = match (&overrides.target, &environment) {
        (None, Some(env)) if env.target.is_some() => {
            // Checked like the file's own target, which stays checked too.
            let _ = target(ctx, f.get("target"), f.node, &Overrides::default());
            env.target.clone()
        }
        _ => target(ctx, f.get("target"), f.node, overrides),
    };
    let mut http = match f.get("http") {
        Some(n) => http::decode(ctx, n, "http"),
        None => Some(HttpOptions::default()),
    };
    if let (Some(http), Some(env)) = (&mut http, &environment) {
        environment::merge_headers(&mut http.headers, &env.headers);
    }
    let variables = variables::decode(ctx, f.get("variables"), environment.as_ref());
    let data = match f.get("data") {
        Some(n) => feeders(ctx, n, src.dir),
        None => Some(Vec::new()),
    };
    let included = match f.get("include") {
        Some(n) => include::read(ctx, n, src.dir),
        None => Vec::new(),
    };
    let mut flows: Vec<NamedFlow<'_>> = match f.get("flows") {
        Some(n) => decoder::entries(ctx, n, "flows")
            .unwrap_or_default()
            .into_iter()
            .map(|e| NamedFlow {
                name: e.key,
                node: e.value,
                file: None,
            })
            .collect(),
        None => Vec::new(),
    };
    include::add_flows(ctx, &included, &mut flows);
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
    let env = FlowEnv {
        step: env,
        scenario: "",
        flows: &flows,
        file: src.file,
        dir: src.dir,
    };
    let mut rows = Rows::default();
    let setup = match f.get("setup") {
        Some(n) => flow::decode_list(
            ctx,
            n,
            "setup",
            &FlowEnv {
                scenario: "setup",
                ..env
            },
            &mut rows,
        ),
        None => Some(Vec::new()),
    };
    let scenarios_hint = "add a list of `scenarios`, each with a `name` and `steps`".to_owned();
    let scenarios_node = f.required(ctx, "scenarios", Some(scenarios_hint));
    let scenarios =
        scenarios_node.and_then(|n| scenario::decode_all(ctx, n, "scenarios", &env, &mut rows));
    let teardown = match f.get("teardown") {
        Some(n) => flow::decode_list(
            ctx,
            n,
            "teardown",
            &FlowEnv {
                scenario: "teardown",
                ..env
            },
            &mut rows,
        ),
        None => Some(Vec::new()),
    };
    template::check_names(ctx);
    let rows = rows.into_keys();
    let others = match (&setup, &teardown, &data) {
        (Some(s), Some(t), Some(d)) => Some((&s[..], &t[..], &d[..])),
        _ => None,
    };
    let names = (scenarios.as_deref()).map(|s| thresholds::Names::new(s, &rows, others));
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
    let data = data?;
    if let Some(n) = f.get("data") {
        warn_small_unique(ctx, &data, n, &scenarios, &load);
    }
    if let Some(Value::Seq(nodes)) = f.get("thresholds").map(|n| &n.value) {
        let planned = assemble::run_duration(&load, &scenarios);
        thresholds::warn_timing(ctx, &thresholds, nodes, planned);
        thresholds::warn_never_dropped(ctx, &thresholds, nodes, &load, &scenarios);
    }
    Some(Plan {
        target: target?,
        load,
        scenarios,
        http: http?,
        rows,
        thresholds,
        variables: variables?,
        setup: setup?,
        teardown: teardown?,
        data,
    })
}

/// Decodes `data` and reads every feeder's file (relative to `dir`), defining `feeder.column`
/// for each column.
fn feeders(ctx: &mut Ctx, node: &Node, dir: &std::path::Path) -> Option<Vec<DataSet>> {
    let feeders = data::decode(ctx, node, "data")?;
    let nodes = decoder::entries(ctx, node, "data").unwrap_or_default();
    let mut out = Vec::with_capacity(feeders.len());
    for mut feeder in feeders {
        let at = nodes.iter().find(|e| e.key == feeder.name);
        let path = format!("data.{}", feeder.name);
        feeder.resolve_paths(dir);
        match load_table(&feeder) {
            Ok(table) => {
                ctx.read_file(&feeder.file);
                if let Some(at) = at {
                    for column in &table.columns {
                        let name = format!("{}.{column}", feeder.name);
                        ctx.define_var(&name, at.key_node, &path, DefKind::Other);
                    }
                }
                out.push(DataSet {
                    feeder,
                    table: std::sync::Arc::new(table),
                });
            }
            Err(e) => {
                // The message names the file when it matters (not found); a line is prefixed.
                let message = match e.line {
                    Some(line) => format!("{}:{line}: {}", e.file.display(), e.message),
                    None => e.message,
                };
                ctx.error(at.map(|e| e.value), &path, message, e.hint);
                ctx.feeder_unread(&feeder.name);
            }
        }
    }
    Some(out)
}

/// A `unique` feeder with fewer rows than the users that draw from it (those of the scenarios
/// that use it): with `on_exhausted: fail` the run would fail, so it is an error; otherwise some
/// users stop (or reuse rows) and it is a warning.
fn warn_small_unique(
    ctx: &mut Ctx,
    data: &[DataSet],
    node: &Node,
    scenarios: &[Scenario],
    load: &Load,
) {
    let weights: Vec<u32> = (scenarios.iter())
        .map(|s| if s.load.is_some() { 0 } else { s.weight })
        .collect();
    let shares = split_by_weight(load.max_users(), &weights);
    let nodes = decoder::entries(ctx, node, "data").unwrap_or_default();
    for set in data {
        let users: u32 = (scenarios.iter().zip(&shares))
            .filter(|(s, _)| s.uses_feeder(&set.feeder.name))
            .map(|(s, share)| s.load.as_ref().map_or(*share, Load::max_users))
            .sum();
        let rows = set.table.rows.len();
        if set.feeder.strategy != Strategy::Unique || rows >= users as usize {
            continue;
        }
        let at = nodes
            .iter()
            .find(|e| e.key == set.feeder.name)
            .map(|e| e.value);
        let path = format!("data.{}", set.feeder.name);
        let message = format!(
            "`{}` has {rows} rows for up to {users} users: each row is used by one user at most",
            set.feeder.name
        );
        match set.feeder.on_exhausted {
            Exhausted::Fail => {
                let hint =
                    "add rows, lower `users`, or choose `on_exhausted: stop_user`".to_owned();
                ctx.error(at, &path, message, Some(hint));
            }
            Exhausted::StopUser => {
                let hint = format!("{} users will stop without a row", users as usize - rows);
                ctx.warning(at, &path, message, Some(hint));
            }
            Exhausted::Recycle => {
                let hint = "rows are reused once every row was handed out".to_owned();
                ctx.warning(at, &path, message, Some(hint));
            }
        }
    }
}

/// Where the file being decoded is: its name (for messages and inline scripts) and directory
/// (for the files it names).
pub(crate) struct Source<'a> {
    pub file: &'a str,
    pub dir: &'a std::path::Path,
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
