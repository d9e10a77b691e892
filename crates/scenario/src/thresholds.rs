//! Decoding the `thresholds` section: pass/fail criteria on the run's measurements, checked live
//! (to abort a doomed run) and at the end (exit code 1 when one fails).
//!
//! ```yaml
//! thresholds:
//!   - metric: latency.p99
//!     request: checkout
//!     max: 800ms
//! ```
//!
//! Thresholds given on the command line (`--threshold`) are parsed in [`flag`].

mod custom;
#[cfg(test)]
mod custom_tests;
mod declared;
mod dropped;
mod flag;
mod metric;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::decoder::{self, Ctx, Fields, item};
use crate::plan::{Action, CompareOp, DataSet, Plan, RowKey, Scenario, Threshold, ThresholdScope};
use crate::step::non_empty_string;
use crate::units::{UnitError, format_duration};
use crate::yaml::Node;

pub use dropped::threshold_flag_warnings;
pub(crate) use dropped::warn_never_dropped;
pub use flag::parse_threshold_flags;
pub(crate) use metric::Names;

const FIELDS: &[&str] = &[
    "metric", "max", "min", "scenario", "request", "window", "abort", "delay",
];
const BOUNDS: &[&str] = &["max", "min"];

impl<'a> Names<'a> {
    /// The names of a file's parts. `others` are `setup`, `teardown` and the feeders, `None`
    /// when one of them had errors (custom metric names are then not checked).
    pub(crate) fn new(
        scenarios: &'a [Scenario],
        rows: &'a [RowKey],
        others: Option<(&[Action], &[Action], &[DataSet])>,
    ) -> Self {
        Names {
            scenarios: scenarios.iter().map(|s| s.name.as_str()).collect(),
            rows,
            metrics: others.map(|(setup, teardown, data)| {
                declared::Declared::collect(scenarios, setup, teardown, data)
            }),
        }
    }

    /// The names of a valid plan.
    pub(crate) fn of_plan(plan: &'a Plan) -> Self {
        let others = (&plan.setup[..], &plan.teardown[..], &plan.data[..]);
        Names::new(&plan.scenarios, &plan.rows, Some(others))
    }
}

/// Decodes the list. `names` is `None` when the scenarios had errors: the names thresholds refer
/// to are then not checked (they could be wrongly reported as unknown).
pub(crate) fn decode(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    names: Option<&Names<'_>>,
) -> Option<Vec<Threshold>> {
    let items = decoder::list(ctx, node, path)?;
    let decoded: Vec<Option<Threshold>> = (items.iter().enumerate())
        .map(|(i, t)| decode_one(ctx, t, &item(path, i), names))
        .collect();
    decoded.into_iter().collect()
}

fn decode_one(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    names: Option<&Names<'_>>,
) -> Option<Threshold> {
    let f = decoder::fields(ctx, node, path, FIELDS)?;
    let before = ctx.error_count();
    let hint = "e.g. `metric: latency.p95` (see docs/scenario.md, Thresholds)".to_owned();
    let metric = f.required(ctx, "metric", Some(hint)).and_then(|n| {
        let text = decoder::string(ctx, n, &f.path("metric"))?;
        let parsed = metric::parse_metric(&text).and_then(|m| match names {
            Some(names) => names.check_metric(m),
            None => Ok(m),
        });
        located(ctx, n, &f.path("metric"), parsed)
    });
    let bound = bound(ctx, &f);
    let scope = scope(ctx, &f, names);
    let window = f.get("window").and_then(|n| {
        let d = decoder::duration(ctx, n, &f.path("window"))?;
        located(ctx, n, &f.path("window"), metric::check_window(d))
    });
    let abort = match f.get("abort") {
        Some(n) => decoder::boolean(ctx, n, &f.path("abort")),
        None => Some(false),
    };
    let delay = match f.get("delay") {
        Some(n) => decoder::duration(ctx, n, &f.path("delay")),
        None => Some(Duration::ZERO),
    };
    if let (Some(entry), Some(false)) = (f.entry("delay"), abort) {
        let message = "`delay` has no effect without `abort: true`".to_owned();
        ctx.warning(Some(entry.key_node), &f.path("delay"), message, None);
    }
    let (metric, scope) = (metric?, scope?);
    let fits = metric::check_scope_fits(&metric, &scope);
    located(ctx, node, path, fits)?;
    let (op, text, value_node) = bound?;
    let value = located(
        ctx,
        value_node,
        &f.path(op_key(op)),
        metric::parse_bound(&metric, &text),
    );
    if ctx.error_count() > before {
        return None;
    }
    Some(Threshold {
        metric,
        scope,
        op,
        bound: value?,
        bound_text: text.trim().to_owned(),
        window,
        abort: abort?,
        delay: delay?,
    })
}

fn op_key(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Lt | CompareOp::Le => "max",
        CompareOp::Gt | CompareOp::Ge => "min",
    }
}

/// Exactly one of `max` (the value must stay at or below it) and `min`: the operator, the bound
/// as written and its node.
fn bound<'a>(ctx: &mut Ctx, f: &Fields<'a>) -> Option<(CompareOp, String, &'a Node)> {
    match f.present(BOUNDS).as_slice() {
        [] => {
            if !f.had_unknown {
                let message = "missing the bound: `max` or `min`".to_owned();
                let hint = "e.g. `max: 300ms` (at most) or `min: 200` (at least)".to_owned();
                ctx.error(Some(f.node), &f.path, message, Some(hint));
            }
            None
        }
        [one] => {
            let op = if one.key == "max" {
                CompareOp::Le
            } else {
                CompareOp::Ge
            };
            let text = decoder::string(ctx, one.value, &f.path(one.key))?;
            Some((op, text, one.value))
        }
        [_, second, ..] => {
            let message = "a threshold has one bound, found `max` and `min`".to_owned();
            let hint = "write two thresholds, one with `max` and one with `min`".to_owned();
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

/// `scenario` and `request`, checked against the file's names when known.
fn scope(ctx: &mut Ctx, f: &Fields<'_>, names: Option<&Names<'_>>) -> Option<ThresholdScope> {
    let before = ctx.error_count();
    let read = |ctx: &mut Ctx, key: &str| {
        let n = f.get(key)?;
        Some((non_empty_string(ctx, n, &f.path(key)), n))
    };
    let scenario = read(ctx, "scenario");
    let request = read(ctx, "request");
    if let Some(names) = names {
        if let Some((Some(s), n)) = &scenario {
            located(ctx, n, &f.path("scenario"), names.check_scenario(s));
        }
        let scenario_ok = ctx.error_count() == before;
        if let (Some((Some(r), n)), true) = (&request, scenario_ok) {
            let within = scenario.as_ref().and_then(|(s, _)| s.as_deref());
            located(ctx, n, &f.path("request"), names.check_request(within, r));
        }
    }
    if ctx.error_count() > before {
        return None;
    }
    Some(ThresholdScope {
        scenario: scenario.and_then(|(s, _)| s),
        request: request.and_then(|(r, _)| r),
    })
}

/// `Some(value)`, or the problem reported at `node`.
fn located<T>(ctx: &mut Ctx, node: &Node, path: &str, r: Result<T, UnitError>) -> Option<T> {
    r.map_err(|e| ctx.error(Some(node), path, e.message, e.hint))
        .ok()
}

/// Warns about thresholds that cannot work with the run's planned duration: a window longer
/// than the run (no full window: the threshold fails with "no data"), or an abort delay that
/// is never reached. `nodes` are the items of the `thresholds` list.
pub(crate) fn warn_timing(ctx: &mut Ctx, thresholds: &[Threshold], nodes: &[Node], run: Duration) {
    for (i, (t, node)) in thresholds.iter().zip(nodes).enumerate() {
        let path = item("thresholds", i);
        let (run_text, name) = (format_duration(run), t.name());
        if let Some(w) = t.window.filter(|w| *w > run) {
            let message = format!(
                "`{name}`: the window ({}) is longer than the run ({run_text}), so it has no data and fails",
                format_duration(w)
            );
            let hint = "shorten `window` or lengthen the run".to_owned();
            ctx.warning(Some(node), &path, message, Some(hint));
        }
        if t.abort && t.delay >= run {
            let message = format!(
                "`{name}`: the abort delay ({}) is not shorter than the run ({run_text}), so it never aborts",
                format_duration(t.delay)
            );
            ctx.warning(Some(node), &path, message, None);
        }
    }
}
