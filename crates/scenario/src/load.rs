//! Decoding a `load` section, as written: the closed model (flat, stages or waves), the open
//! model (an arrival rate or rate stages), and the options and limits around them. See `profile`
//! for normalisation.

use std::time::Duration;

use crate::decoder::{self, Ctx, Fields, child, item};
use crate::plan::{Arrivals, DEFAULT_GRACEFUL_STOP, Limits, RateStage, Stage};
use crate::units;
use crate::yaml::{Node, Value};

/// The level of load as written in the file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Shape {
    Flat {
        users: u32,
        /// Users started per second; `None` starts them all at once.
        spawn_rate: Option<f64>,
        duration: Duration,
    },
    Stages(Vec<Stage>),
    /// `count` waves of `users` each, every `every`, each started all at once.
    Waves {
        users: u32,
        every: Duration,
        count: u32,
        duration: Option<Duration>,
    },
    /// Open model at a constant rate (per second).
    Rate {
        rate: f64,
        duration: Duration,
    },
    /// Open model following rate stages.
    RateStages(Vec<RateStage>),
    /// No level: a top-level `load` that only sets limits, when every scenario has its own load.
    Unset,
}

impl Shape {
    pub fn is_open(&self) -> bool {
        matches!(self, Shape::Rate { .. } | Shape::RateStages(_))
    }
}

/// The virtual-user pool of the open model.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pool {
    pub max_users: u32,
    /// `None`: min(max_users, peak rate × 1 s).
    pub pre_allocated_users: Option<u32>,
    pub arrivals: Arrivals,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LoadSection {
    pub shape: Shape,
    /// `None` when not written (the default depends on the shape).
    pub jitter_start: Option<bool>,
    pub graceful_stop: Duration,
    /// Open model only.
    pub pool: Option<Pool>,
    pub limits: Limits,
}

/// Where a `load` section is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The file's `load`; `level_optional` when every scenario has its own load.
    TopLevel { level_optional: bool },
    /// A scenario's own `load`: no run-wide limits.
    Scenario,
}

const FIELDS: &[&str] = &[
    "users",
    "spawn_rate",
    "duration",
    "stages",
    "waves",
    "arrival_rate",
    "max_users",
    "pre_allocated_users",
    "arrivals",
    "jitter_start",
    "graceful_stop",
    "iterations",
    "max_requests",
];
const FLAT: &[&str] = &["users", "spawn_rate", "duration"];
const POOL: &[&str] = &["max_users", "pre_allocated_users", "arrivals"];
const LIMITS: &[&str] = &["iterations", "max_requests"];
const FLAT_HINT: &str = "e.g. `load: { users: 10, duration: 30s }`, `load: { arrival_rate: 50/s, \
                         duration: 1m, max_users: 200 }`, or a list of `stages`";

pub(crate) fn decode(ctx: &mut Ctx, node: &Node, path: &str, scope: Scope) -> Option<LoadSection> {
    let f = decoder::fields(ctx, node, path, FIELDS)?;
    let before = ctx.error_count();
    let jitter_start = f
        .get("jitter_start")
        .map(|n| decoder::boolean(ctx, n, &f.path("jitter_start")));
    let graceful_stop = match f.get("graceful_stop") {
        Some(n) => decoder::duration(ctx, n, &f.path("graceful_stop")),
        None => Some(DEFAULT_GRACEFUL_STOP),
    };
    let limits = decode_limits(ctx, &f, scope);
    let shape = shape(ctx, &f, scope);
    let pool = match &shape {
        Some(s) if s.is_open() => decode_pool(ctx, &f),
        Some(_) => {
            reject(
                ctx,
                &f,
                POOL,
                "applies to the open model only (`arrival_rate`, or `stages` with `rate`)",
            );
            Some(None)
        }
        None => None,
    };
    if let (Some(shape), Some(Some(true))) = (&shape, jitter_start) {
        let why = match shape {
            Shape::Waves { .. } => Some("waves start each wave's users at the same instant"),
            s if s.is_open() => Some("in the open model iterations start on their schedule"),
            _ => None,
        };
        if let (Some(why), Some(entry)) = (why, f.entry("jitter_start")) {
            let message = format!("`jitter_start: true` cannot be used here: {why}");
            let hint = "remove `jitter_start`".to_owned();
            ctx.error(
                Some(entry.key_node),
                &f.path("jitter_start"),
                message,
                Some(hint),
            );
        }
    }
    if let (Some(shape), Some(limits)) = (&shape, &limits)
        && shape.is_open()
        && limits.iterations_per_user.is_some()
        && let Some(n) = f.get("iterations")
    {
        let message = "`per_user` iterations apply to the closed model only".to_owned();
        let hint = "use a shared count, e.g. `iterations: 1000`".to_owned();
        ctx.error(Some(n), &f.path("iterations"), message, Some(hint));
    }
    if ctx.error_count() > before {
        return None;
    }
    Some(LoadSection {
        shape: shape?,
        jitter_start: jitter_start.flatten(),
        graceful_stop: graceful_stop?,
        pool: pool?,
        limits: limits?,
    })
}

/// Reports each of `keys` present with "`key` {why}".
fn reject(ctx: &mut Ctx, f: &Fields<'_>, keys: &[&str], why: &str) {
    for e in f.present(keys) {
        let message = format!("`{}` {why}", e.key);
        ctx.error(Some(e.key_node), &f.path(e.key), message, None);
    }
}

fn shape(ctx: &mut Ctx, f: &Fields<'_>, scope: Scope) -> Option<Shape> {
    let forms = f.present(&["stages", "waves", "arrival_rate"]);
    let flat_keys = f.present(FLAT);
    match forms.as_slice() {
        [] if !flat_keys.is_empty() => flat(ctx, f, true),
        [] => {
            let optional = scope
                == Scope::TopLevel {
                    level_optional: true,
                };
            if !optional && !f.had_unknown {
                let message = "missing the load level: `users` and `duration`, `arrival_rate`, \
                               `waves` or `stages`";
                ctx.error(
                    Some(f.node),
                    &f.path,
                    message.into(),
                    Some(FLAT_HINT.into()),
                );
            }
            optional.then_some(Shape::Unset)
        }
        [form] if form.key == "stages" => {
            if let Some(first) = flat_keys.first() {
                let others: Vec<String> =
                    flat_keys.iter().map(|e| format!("`{}`", e.key)).collect();
                let message = format!("`stages` cannot be combined with {}", others.join(", "));
                let hint = "use either `users` + `duration` (and `spawn_rate`), or `stages`";
                let at = if first.key_node.line > form.key_node.line {
                    first.key_node
                } else {
                    form.key_node
                };
                ctx.error(Some(at), &f.path("stages"), message, Some(hint.into()));
                flat(ctx, f, false);
            }
            let stages = decode_stages(ctx, form.value, &f.path("stages"));
            if flat_keys.is_empty() { stages } else { None }
        }
        [form] => {
            let form = *form;
            reject(
                ctx,
                f,
                &["users", "spawn_rate"],
                &format!("cannot be combined with `{}`", form.key),
            );
            let duration = f
                .get("duration")
                .and_then(|n| decoder::positive_duration(ctx, n, &f.path("duration")));
            if form.key == "waves" {
                return waves(ctx, form.value, &f.path("waves"), duration);
            }
            let hint = "e.g. `duration: 1m`".to_owned();
            let duration = duration.or_else(|| {
                f.required(ctx, "duration", Some(hint));
                None
            });
            let rate = decoder::rate(ctx, form.value, &f.path("arrival_rate"));
            Some(Shape::Rate {
                rate: rate?,
                duration: duration?,
            })
        }
        [first, second, ..] => {
            let message = format!("`{}` cannot be combined with `{}`", second.key, first.key);
            let hint = "one `load` has one level: `users`, `stages`, `waves` or `arrival_rate`; \
                        give each scenario its own `load` to mix models";
            ctx.error(
                Some(second.key_node),
                &f.path(second.key),
                message,
                Some(hint.into()),
            );
            None
        }
    }
}

/// The flat form; `require` reports missing `users` / `duration` (not wanted when the section is
/// already wrong for combining both forms).
fn flat(ctx: &mut Ctx, f: &Fields<'_>, require: bool) -> Option<Shape> {
    let field = |ctx: &mut Ctx, key: &str, hint: &str| match require {
        true => f.required(ctx, key, Some(hint.into())),
        false => f.get(key),
    };
    let users = field(ctx, "users", "e.g. `users: 10`")
        .and_then(|n| decoder::count(ctx, n, &f.path("users"), "`users`", 1));
    let duration = field(ctx, "duration", "e.g. `duration: 30s`")
        .and_then(|n| decoder::positive_duration(ctx, n, &f.path("duration")));
    let spawn_rate = match f.get("spawn_rate") {
        Some(n) => Some(decoder::rate(ctx, n, &f.path("spawn_rate"))?),
        None => None,
    };
    Some(Shape::Flat {
        users: users?,
        spawn_rate,
        duration: duration?,
    })
}

/// Most waves of a `waves` load (each is two stages).
const MAX_WAVES: u32 = 100_000;

fn waves(ctx: &mut Ctx, node: &Node, path: &str, duration: Option<Duration>) -> Option<Shape> {
    let f = decoder::fields(ctx, node, path, &["users", "every", "count"])?;
    let hint = "e.g. `waves: { users: 10, every: 30s, count: 5 }`";
    let users = f
        .required(ctx, "users", Some(hint.into()))
        .and_then(|n| decoder::count(ctx, n, &f.path("users"), "`users`", 1));
    let every = f
        .required(ctx, "every", Some(hint.into()))
        .and_then(|n| decoder::positive_duration(ctx, n, &f.path("every")));
    let count = f
        .required(ctx, "count", Some(hint.into()))
        .and_then(|n| decoder::count(ctx, n, &f.path("count"), "`count`", 1));
    if let (Some(c), Some(n)) = (count, f.get("count"))
        && c > MAX_WAVES
    {
        let message = format!("`count` must be at most {MAX_WAVES}, found {c}");
        ctx.error(Some(n), &f.path("count"), message, None);
        return None;
    }
    Some(Shape::Waves {
        users: users?,
        every: every?,
        count: count?,
        duration,
    })
}

fn decode_pool(ctx: &mut Ctx, f: &Fields<'_>) -> Option<Option<Pool>> {
    let hint = "the most virtual users that may run iterations at once, e.g. `max_users: 200`";
    let max_users = f
        .required(ctx, "max_users", Some(hint.into()))
        .and_then(|n| decoder::count(ctx, n, &f.path("max_users"), "`max_users`", 1));
    let pre_allocated = f.get("pre_allocated_users").map(|n| {
        let path = f.path("pre_allocated_users");
        decoder::count(ctx, n, &path, "`pre_allocated_users`", 0)
    });
    let arrivals = match f.get("arrivals") {
        Some(n) => match decoder::string(ctx, n, &f.path("arrivals")).as_deref() {
            Some("even") => Some(Arrivals::Even),
            Some("poisson") => Some(Arrivals::Poisson),
            Some(other) => {
                let message = format!("unknown arrivals `{other}`");
                let hint = "use `even` (evenly spaced, the default) or `poisson`".to_owned();
                ctx.error(Some(n), &f.path("arrivals"), message, Some(hint));
                None
            }
            None => None,
        },
        None => Some(Arrivals::Even),
    };
    let (max_users, arrivals) = (max_users?, arrivals?);
    let pre_allocated_users = match pre_allocated {
        Some(Some(n)) if n > max_users => {
            let message =
                format!("`pre_allocated_users` ({n}) is greater than `max_users` ({max_users})");
            let at = f.get("pre_allocated_users");
            ctx.error(at, &f.path("pre_allocated_users"), message, None);
            return None;
        }
        Some(n) => Some(n?),
        None => None,
    };
    Some(Some(Pool {
        max_users,
        pre_allocated_users,
        arrivals,
    }))
}

fn decode_limits(ctx: &mut Ctx, f: &Fields<'_>, scope: Scope) -> Option<Limits> {
    if scope == Scope::Scenario {
        let why = "is run-wide: set it in the top-level `load`";
        reject(ctx, f, LIMITS, why);
        return Some(Limits::default());
    }
    let mut limits = Limits::default();
    let mut ok = true;
    if let Some(n) = f.get("iterations") {
        let path = f.path("iterations");
        match &n.value {
            Value::Map(_) => {
                let per_user = decoder::fields(ctx, n, &path, &["per_user"]).and_then(|pf| {
                    let hint = "e.g. `iterations: { per_user: 10 }`".to_owned();
                    let v = pf.required(ctx, "per_user", Some(hint))?;
                    decoder::count(ctx, v, &pf.path("per_user"), "`per_user`", 1)
                });
                limits.iterations_per_user = per_user.map(u64::from);
                ok &= per_user.is_some();
            }
            _ => {
                let v = decoder::count(ctx, n, &path, "`iterations`", 1);
                limits.iterations = v.map(u64::from);
                ok &= v.is_some();
            }
        }
    }
    if let Some(n) = f.get("max_requests") {
        let path = f.path("max_requests");
        let v = decoder::count(ctx, n, &path, "`max_requests`", 1);
        limits.max_requests = v.map(u64::from);
        ok &= v.is_some();
    }
    ok.then_some(limits)
}

/// A list of stages: closed-model (`users`) or arrival-rate (`rate`), never mixed.
fn decode_stages(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Shape> {
    let items = decoder::list(ctx, node, path)?;
    if items.is_empty() {
        let hint = "add at least one stage, e.g. `- { duration: 30s, users: 10 }`";
        let message = "`stages` is empty".to_owned();
        ctx.error(Some(node), path, message, Some(hint.into()));
        return None;
    }
    let mut users: Vec<Stage> = Vec::new();
    let mut rates: Vec<RateStage> = Vec::new();
    let mut kind: Option<(&str, usize)> = None;
    let mut ok = true;
    for (i, stage) in items.iter().enumerate() {
        let path = item(path, i);
        let Some(f) = decoder::fields(ctx, stage, &path, &["duration", "users", "rate"]) else {
            ok = false;
            continue;
        };
        let duration = f
            .required(ctx, "duration", None)
            .and_then(|n| decoder::duration(ctx, n, &child(&path, "duration")));
        let level = match f.present(&["users", "rate"]).as_slice() {
            [] => {
                let hint = "closed-model stages have `users`, arrival-rate stages have `rate`";
                let message = "missing field `users` (or `rate`)".to_owned();
                ctx.error(Some(stage), &path, message, Some(hint.into()));
                None
            }
            [one] => Some(*one),
            [_, second, ..] => {
                let message = "a stage has `users` or `rate`, not both".to_owned();
                ctx.error(Some(second.key_node), &path, message, None);
                None
            }
        };
        let Some(level) = level else {
            ok = false;
            continue;
        };
        match kind {
            None => kind = Some((level.key, i)),
            Some((first, at)) if first != level.key => {
                let message = format!(
                    "stage {i} has `{}` but stage {at} has `{first}`: mixed stages",
                    level.key
                );
                let hint = "a list of stages is either closed-model (`users`) or arrival-rate \
                            (`rate`); give each scenario its own `load` to mix models";
                ctx.error(Some(level.key_node), &path, message, Some(hint.into()));
                ok = false;
                continue;
            }
            Some(_) => {}
        }
        let value_path = child(&path, level.key);
        if level.key == "users" {
            let n = decoder::count(ctx, level.value, &value_path, "`users`", 0);
            if let (Some(duration), Some(users_n)) = (duration, n) {
                users.push(Stage {
                    duration,
                    users: users_n,
                });
                continue;
            }
        } else if let (Some(duration), Some(rate)) =
            (duration, rate_or_zero(ctx, level.value, &value_path))
        {
            rates.push(RateStage { duration, rate });
            continue;
        }
        ok = false;
    }
    if !ok {
        return None;
    }
    let durations: Vec<Duration> = match kind {
        Some(("rate", _)) => rates.iter().map(|s| s.duration).collect(),
        _ => users.iter().map(|s| s.duration).collect(),
    };
    if durations.iter().all(|d| d.is_zero()) {
        let message = "the stages last 0s in total".to_owned();
        let hint = "give a stage a duration".to_owned();
        ctx.error(Some(node), path, message, Some(hint));
        ok = false;
    }
    let idle = match kind {
        Some(("rate", _)) => rates.iter().all(|s| s.rate == 0.0),
        _ => users.iter().all(|s| s.users == 0),
    };
    if idle {
        let (message, hint) = match kind {
            Some(("rate", _)) => ("no stage has any rate", "set `rate` above 0 in a stage"),
            _ => ("no stage has any users", "set `users` above 0 in a stage"),
        };
        ctx.error(Some(node), path, message.into(), Some(hint.into()));
        ok = false;
    }
    match kind {
        _ if !ok => None,
        Some(("rate", _)) => Some(Shape::RateStages(rates)),
        _ => Some(Shape::Stages(users)),
    }
}

/// A rate that may be zero (a stage ramping down to nothing): `0`, `0/s` or any positive rate.
fn rate_or_zero(ctx: &mut Ctx, node: &Node, path: &str) -> Option<f64> {
    if let Value::Scalar(_, text) = &node.value {
        let number = text.split('/').next().unwrap_or("").trim();
        if !number.is_empty() && number.chars().all(|c| c == '0' || c == '.') {
            return match units::rate(&text.replacen(number, "1", 1)) {
                Ok(_) => Some(0.0),
                Err(e) => {
                    ctx.error(Some(node), path, e.message, e.hint);
                    None
                }
            };
        }
    }
    decoder::rate(ctx, node, path)
}

#[cfg(test)]
mod tests;
