//! A warning for `dropped_iterations` thresholds that can never see a drop. Iterations are only
//! dropped by an arrival-rate (open) model, when every user of its pool is busy; under a closed
//! model (`users`, `stages` of users, `waves`) the value is always 0, so the threshold always
//! passes (or, with a `min` above 0, always fails): almost certainly a mistake, but the file
//! still runs.

use crate::decoder::{Ctx, item};
use crate::diagnostic::{Diagnostic, Severity};
use crate::plan::{CompareOp, Load, Plan, Scenario, Threshold, ThresholdMetric};
use crate::yaml::Node;

/// Warns about each `dropped_iterations` threshold whose scope runs no arrival-rate load: the
/// whole run when no scenario does, or the one scenario it names. `nodes` are the items of the
/// `thresholds` list, `top` the plan's top-level load (the load of scenarios without their own).
pub(crate) fn warn_never_dropped(
    ctx: &mut Ctx,
    thresholds: &[Threshold],
    nodes: &[Node],
    top: &Load,
    scenarios: &[Scenario],
) {
    for (i, (t, node)) in thresholds.iter().zip(nodes).enumerate() {
        if let Some((message, hint)) = never_dropped(t, top, scenarios) {
            ctx.warning(Some(node), &item("thresholds", i), message, Some(hint));
        }
    }
}

/// Warnings for `--threshold` values (already parsed against `plan`) that are
/// `dropped_iterations` thresholds no scenario in their scope can make non-zero.
pub fn threshold_flag_warnings(plan: &Plan, thresholds: &[Threshold]) -> Vec<Diagnostic> {
    thresholds
        .iter()
        .filter_map(|t| never_dropped(t, &plan.load, &plan.scenarios))
        .map(|(message, hint)| Diagnostic {
            severity: Severity::Warning,
            line: None,
            column: None,
            path: "--threshold".to_owned(),
            message,
            hint: Some(hint),
            file: None,
        })
        .collect()
}

/// The warning and hint for `t` when it is a `dropped_iterations` threshold that can never see a
/// drop.
fn never_dropped(t: &Threshold, top: &Load, scenarios: &[Scenario]) -> Option<(String, String)> {
    if t.metric != ThresholdMetric::DroppedIterations {
        return None;
    }
    let open = |s: &Scenario| s.load.as_ref().unwrap_or(top).arrival.is_some();
    let (closed, hint) = match t.scope.scenario.as_deref() {
        Some(name) => {
            // The name was checked: a scenario of the plan.
            let s = scenarios.iter().find(|s| s.name == name)?;
            if open(s) {
                return None;
            }
            (
                format!("scenario `{name}` runs a closed model with users"),
                format!("give scenario `{name}` an `arrival_rate` load, or remove the threshold"),
            )
        }
        None if scenarios.iter().any(open) => return None,
        None => (
            match scenarios {
                [one] => format!("scenario `{}` runs a closed model with users", one.name),
                _ => "every scenario runs a closed model with users".to_owned(),
            },
            "use an `arrival_rate` load (e.g. `load: { arrival_rate: 20/s, duration: 1m, \
             max_users: 50 }`), or remove the threshold"
                .to_owned(),
        ),
    };
    let outcome = match holds_at_zero(t.op, t.bound) {
        true => "always passes",
        false => "always fails",
    };
    let message = format!(
        "`{}` {outcome}: iterations are only dropped by an arrival-rate (open) model; \
         {closed}, so this is always 0",
        t.name()
    );
    Some((message, hint))
}

/// Whether the threshold holds for a value of 0.
fn holds_at_zero(op: CompareOp, bound: f64) -> bool {
    match op {
        CompareOp::Lt => 0.0 < bound,
        CompareOp::Le => 0.0 <= bound,
        CompareOp::Gt => 0.0 > bound,
        CompareOp::Ge => 0.0 >= bound,
    }
}
