//! Putting the loads of a file together: the top-level `load` (optional when every scenario has
//! its own), the scenarios' own loads with their `start` offsets, and the checks across them.

use std::time::Duration;

use crate::Overrides;
use crate::decoder::Ctx;
use crate::load::{LoadSection, Shape};
use crate::plan::{Load, Scenario};
use crate::profile;
use crate::units::format_duration;
use crate::yaml::Node;

/// The plan's top-level load, from the file's `load` section (with its node) if there is one,
/// and the command line. Applies `--duration` to the scenarios' own loads, checks that every
/// scenario has a load to run under and that `pacing` is only used in the closed model, and
/// describes the whole run. `None` after reporting an error.
pub(crate) fn top_level(
    ctx: &mut Ctx,
    section: Option<(&LoadSection, &Node)>,
    scenarios: &mut [Scenario],
    nodes: &[Node],
    o: &Overrides,
) -> Option<Load> {
    let before = ctx.error_count();
    let top = match section {
        Some((section, node)) => profile::build(ctx, section, o, node),
        None => {
            let mut load = Load::default();
            load.limits.iterations = o.iterations;
            load.limits.max_requests = o.max_requests;
            load
        }
    };
    let has_level = section.is_some_and(|(s, _)| s.shape != Shape::Unset);
    if !has_level {
        for (set, flag) in [
            (o.users.is_some(), "--users"),
            (o.spawn_rate.is_some(), "--spawn-rate"),
        ] {
            if set {
                let message = "changes the top-level `load`, which sets no level here".to_owned();
                let hint = "edit the scenarios' own `load` sections instead".to_owned();
                ctx.error(None, flag, message, Some(hint));
            }
        }
    }
    for (i, scenario) in scenarios.iter_mut().enumerate() {
        let at = nodes.get(i);
        let path = format!("scenarios[{i}]");
        if let (Some(load), Some(limit)) = (&mut scenario.load, o.duration) {
            profile::cut_load(load, limit.saturating_sub(scenario.start));
            if load.duration().is_zero() {
                let message = format!(
                    "scenario `{}` starts at {}, when the run (--duration {}) is over",
                    scenario.name,
                    format_duration(scenario.start),
                    format_duration(limit)
                );
                ctx.warning(at, &path, message, None);
            }
        }
        let effective = scenario.load.as_ref().unwrap_or(&top);
        if scenario.load.is_none() && !has_level {
            let message = format!(
                "scenario `{}` has no `load`, and the top-level `load` sets no level",
                scenario.name
            );
            let hint = "give this scenario its own `load`, or set a level in the top-level \
                        `load` (e.g. `users: 10` and `duration: 30s`)";
            ctx.error(at, &path, message, Some(hint.into()));
        } else if scenario.pacing.is_some() && effective.arrival.is_some() {
            let message = "`pacing` applies to the closed model; this scenario runs at an \
                           arrival rate, which already sets when iterations start"
                .to_owned();
            ctx.error(at, &format!("{path}.pacing"), message, None);
        }
    }
    if ctx.error_count() > before {
        return None;
    }
    let mut top = top;
    top.description = describe(&top, has_level, scenarios);
    Some(top)
}

/// The planned length of the run (see [`Plan::duration`](crate::plan::Plan::duration)).
pub(crate) fn run_duration(top: &Load, scenarios: &[Scenario]) -> Duration {
    let shared = scenarios.iter().any(|s| s.load.is_none());
    let base = if shared {
        top.duration()
    } else {
        Duration::ZERO
    };
    scenarios
        .iter()
        .filter_map(|s| s.load.as_ref().map(|l| s.start + l.duration()))
        .fold(base, Duration::max)
}

/// The top-level description, followed by each scenario's own load, e.g.
/// `50 users, 30s; checkout: 10/s arrivals, 30s, max 20 users (from 10s)`.
fn describe(top: &Load, has_level: bool, scenarios: &[Scenario]) -> String {
    let mut parts = Vec::new();
    if has_level && scenarios.iter().any(|s| s.load.is_none()) {
        parts.push(top.description.clone());
    }
    for s in scenarios {
        if let Some(load) = &s.load {
            let from = match s.start.is_zero() {
                true => String::new(),
                false => format!(" (from {})", format_duration(s.start)),
            };
            parts.push(format!("{}: {}{from}", s.name, load.description));
        }
    }
    parts.join("; ")
}
