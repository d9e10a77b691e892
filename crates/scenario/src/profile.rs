//! Normalising one `load` section (closed flat, stages or waves; open rate or rate stages; plus
//! command-line overrides) into a [`Load`].

use std::time::Duration;

use crate::Overrides;
use crate::decoder::Ctx;
use crate::load::{LoadSection, Pool, Shape};
use crate::plan::{Arrival, Load, RateStage, Stage};
use crate::units::{format_duration, format_rate};
use crate::yaml::Node;

/// Reports invalid `--users`, `--spawn-rate`, `--duration`, `--iterations` and `--max-requests`
/// values; true when all are valid.
pub(crate) fn check_overrides(ctx: &mut Ctx, o: &Overrides) -> bool {
    let before = ctx.error_count();
    if o.users == Some(0) {
        ctx.error(None, "--users", "must be at least 1".into(), None);
    }
    if let Some(rate) = o.spawn_rate
        && !(rate > 0.0 && rate.is_finite())
    {
        let message = format!("must be greater than 0, found {rate}");
        ctx.error(
            None,
            "--spawn-rate",
            message,
            Some("e.g. --spawn-rate 10/s".into()),
        );
    }
    if o.duration.is_some_and(|d| d.is_zero()) {
        ctx.error(None, "--duration", "must be longer than 0s".into(), None);
    }
    if o.iterations == Some(0) {
        ctx.error(None, "--iterations", "must be at least 1".into(), None);
    }
    if o.max_requests == Some(0) {
        ctx.error(None, "--max-requests", "must be at least 1".into(), None);
    }
    ctx.error_count() == before
}

/// The effective load of a section, changed by the overrides (assumed valid). Pass
/// `Overrides::default()` for a scenario's own load (the command line changes only the top-level
/// load; `--duration` is applied to scenario loads by `assemble`).
///
/// `--users` or `--spawn-rate` make a closed load flat (missing values taken from the file: for
/// stages, their highest user count and total duration); on an open-model load they are an
/// error. `--duration` alone cuts stages at that time (or holds the last level longer). Warns
/// (at `at`) when the ramp-up cannot finish.
pub(crate) fn build(ctx: &mut Ctx, section: &LoadSection, o: &Overrides, at: &Node) -> Load {
    let mut limits = section.limits;
    if let Some(n) = o.iterations {
        limits.iterations = Some(n);
        limits.iterations_per_user = None;
    }
    if o.max_requests.is_some() {
        limits.max_requests = o.max_requests;
    }
    let base = Load {
        jitter_start: section.jitter_start.unwrap_or(true),
        graceful_stop: section.graceful_stop,
        limits,
        ..Load::default()
    };
    if section.shape.is_open() {
        for (set, flag) in [
            (o.users.is_some(), "--users"),
            (o.spawn_rate.is_some(), "--spawn-rate"),
        ] {
            if set {
                let message = "sets a number of users, but this load is an arrival rate \
                               (the open model)"
                    .to_owned();
                let hint = "change `arrival_rate` in the file, or use --duration".to_owned();
                ctx.error(None, flag, message, Some(hint));
            }
        }
        return open(section, o, base);
    }
    let shape = apply_overrides(&section.shape, o);
    let (stages, description, jitter_start) = match shape {
        Shape::Flat {
            users,
            spawn_rate,
            duration,
        } => {
            let stages = flat(users, spawn_rate, duration);
            let reached = stages.last().map_or(0, |s| s.users);
            if let (Some(rate), true) = (spawn_rate, reached < users) {
                let ramp = Duration::try_from_secs_f64(f64::from(users) / rate)
                    .map_or_else(|_| "forever".to_owned(), format_duration);
                let message = format!(
                    "only {reached} of {users} users start: ramping up at {} takes {ramp}, \
                     longer than the {} duration",
                    format_rate(rate),
                    format_duration(duration)
                );
                let hint = "raise `spawn_rate` or `duration`, or lower `users`";
                ctx.warning(Some(at), "load", message, Some(hint.into()));
            }
            let description = describe_flat(users, spawn_rate, duration);
            (stages, description, base.jitter_start)
        }
        Shape::Stages(stages) => {
            let description = describe_stages(&stages);
            (stages, description, base.jitter_start)
        }
        Shape::Waves {
            users: n,
            every,
            count,
            duration,
        } => {
            let total = duration.unwrap_or(every * count);
            let stages = cut(&waves(n, every, count), total);
            let description = format!(
                "{count} waves of {} every {}, {}",
                users(n),
                format_duration(every),
                format_duration(total)
            );
            // Lock-step: a wave's users start together.
            (stages, description, false)
        }
        Shape::Rate { .. } | Shape::RateStages(_) | Shape::Unset => {
            (Vec::new(), String::new(), true)
        }
    };
    Load {
        stages,
        jitter_start,
        description,
        ..base
    }
}

/// The open model: rate stages, cut by `--duration`, with the pool's defaults filled in.
fn open(section: &LoadSection, o: &Overrides, base: Load) -> Load {
    let mut stages = match &section.shape {
        Shape::Rate { rate, duration } => vec![
            RateStage {
                duration: Duration::ZERO,
                rate: *rate,
            },
            RateStage {
                duration: *duration,
                rate: *rate,
            },
        ],
        Shape::RateStages(stages) => stages.clone(),
        _ => Vec::new(),
    };
    if let Some(limit) = o.duration {
        stages = cut_rates(&stages, limit);
    }
    let pool = section.pool.clone().unwrap_or(Pool {
        max_users: 1,
        pre_allocated_users: None,
        arrivals: Default::default(),
    });
    let mut arrival = Arrival {
        stages,
        pre_allocated_users: 0,
        max_users: pool.max_users,
        arrivals: pool.arrivals,
    };
    let one_second = arrival.peak_rate().ceil().max(1.0);
    arrival.pre_allocated_users = pool
        .pre_allocated_users
        .unwrap_or_else(|| (one_second.min(f64::from(pool.max_users))) as u32);
    let duration = format_duration(arrival.duration());
    let description = match &section.shape {
        Shape::Rate { rate, .. } => format!(
            "{} arrivals, {duration}, max {}",
            format_rate(*rate),
            users(pool.max_users)
        ),
        _ => format!(
            "{} rate stages, peak {}, {duration}, max {}",
            arrival.stages.len(),
            format_rate(arrival.peak_rate()),
            users(pool.max_users)
        ),
    };
    Load {
        arrival: Some(arrival),
        description,
        jitter_start: false,
        ..base
    }
}

/// `count` waves of `n` users, one every `every`, each a step (a `0s` stage) then a hold.
pub(crate) fn waves(n: u32, every: Duration, count: u32) -> Vec<Stage> {
    (1..=count)
        .flat_map(|i| {
            let level = n.saturating_mul(i);
            [
                Stage {
                    duration: Duration::ZERO,
                    users: level,
                },
                Stage {
                    duration: every,
                    users: level,
                },
            ]
        })
        .collect()
}

/// Cuts rate stages at `limit` (interpolating the stage in progress), or holds the last rate
/// until `limit`.
pub(crate) fn cut_rates(stages: &[RateStage], limit: Duration) -> Vec<RateStage> {
    let mut out = Vec::with_capacity(stages.len() + 1);
    let mut left = limit;
    let mut level = 0.0;
    for stage in stages {
        if stage.duration <= left {
            out.push(*stage);
            left -= stage.duration;
            level = stage.rate;
            continue;
        }
        if !left.is_zero() {
            let frac = left.as_secs_f64() / stage.duration.as_secs_f64();
            out.push(RateStage {
                duration: left,
                rate: level + (stage.rate - level) * frac,
            });
        }
        return out;
    }
    if !left.is_zero() {
        out.push(RateStage {
            duration: left,
            rate: level,
        });
    }
    out
}

/// Cuts a whole load (closed or open) at `limit`, for `--duration` on a scenario's own load.
pub(crate) fn cut_load(load: &mut Load, limit: Duration) {
    match &mut load.arrival {
        Some(arrival) => arrival.stages = cut_rates(&arrival.stages, limit),
        None => load.stages = cut(&load.stages, limit),
    }
}

fn apply_overrides(shape: &Shape, o: &Overrides) -> Shape {
    let (file_users, file_rate, file_duration) = match shape {
        Shape::Flat {
            users,
            spawn_rate,
            duration,
        } => (*users, *spawn_rate, *duration),
        Shape::Stages(stages) => {
            let max = stages.iter().map(|s| s.users).max().unwrap_or(0);
            (max, None, stages.iter().map(|s| s.duration).sum())
        }
        Shape::Waves {
            users,
            every,
            count,
            duration,
        } => (
            users.saturating_mul(*count),
            None,
            duration.unwrap_or(*every * *count),
        ),
        // Not changed here: open loads are built by `open`, and a load without a level has no
        // users to override (reported by `assemble`).
        Shape::Rate { .. } | Shape::RateStages(_) | Shape::Unset => return shape.clone(),
    };
    if o.users.is_some() || o.spawn_rate.is_some() {
        return Shape::Flat {
            users: o.users.unwrap_or(file_users),
            spawn_rate: o.spawn_rate.or(file_rate),
            duration: o.duration.unwrap_or(file_duration),
        };
    }
    match (shape, o.duration) {
        (Shape::Flat { .. }, Some(duration)) => Shape::Flat {
            users: file_users,
            spawn_rate: file_rate,
            duration,
        },
        (Shape::Stages(stages), Some(duration)) => Shape::Stages(cut(stages, duration)),
        (
            Shape::Waves {
                users,
                every,
                count,
                ..
            },
            Some(duration),
        ) => Shape::Waves {
            users: *users,
            every: *every,
            count: *count,
            duration: Some(duration),
        },
        (shape, _) => shape.clone(),
    }
}

/// Stages of a flat load. Without a spawn rate: a zero-length stage (all users at once), then a
/// hold for `duration`. With one: a ramp of `users / rate` seconds, then a hold for the rest; if
/// the ramp would not end before `duration`, a single ramp stage of `duration` reaching
/// `floor(rate * duration)` users.
pub(crate) fn flat(users: u32, spawn_rate: Option<f64>, duration: Duration) -> Vec<Stage> {
    let Some(rate) = spawn_rate else {
        return vec![
            Stage {
                duration: Duration::ZERO,
                users,
            },
            Stage { duration, users },
        ];
    };
    let ramp_secs = f64::from(users) / rate;
    match Duration::try_from_secs_f64(ramp_secs) {
        Ok(ramp) if ramp < duration => vec![
            Stage {
                duration: ramp,
                users,
            },
            Stage {
                duration: duration - ramp,
                users,
            },
        ],
        _ => {
            // A tiny epsilon so that e.g. 0.1/s over 30s reaches 3, not 2.999.. users.
            let reached = (rate * duration.as_secs_f64() + 1e-9).floor();
            let reached = reached.clamp(0.0, f64::from(users)) as u32;
            vec![Stage {
                duration,
                users: reached,
            }]
        }
    }
}

/// Cuts the profile at `limit` (interpolating the stage in progress), or holds the last level
/// until `limit` if the stages end earlier.
pub(crate) fn cut(stages: &[Stage], limit: Duration) -> Vec<Stage> {
    let mut out = Vec::with_capacity(stages.len() + 1);
    let mut left = limit;
    let mut level = 0u32;
    for stage in stages {
        if stage.duration <= left {
            out.push(*stage);
            left -= stage.duration;
            level = stage.users;
            continue;
        }
        if !left.is_zero() {
            let frac = left.as_secs_f64() / stage.duration.as_secs_f64();
            let from = f64::from(level);
            let users = (from + (f64::from(stage.users) - from) * frac).floor();
            out.push(Stage {
                duration: left,
                users: users.max(0.0) as u32,
            });
        }
        return out;
    }
    if !left.is_zero() {
        out.push(Stage {
            duration: left,
            users: level,
        });
    }
    out
}

fn users(n: u32) -> String {
    if n == 1 {
        "1 user".into()
    } else {
        format!("{n} users")
    }
}

fn describe_flat(n: u32, spawn_rate: Option<f64>, duration: Duration) -> String {
    match spawn_rate {
        Some(rate) => format!(
            "{}, spawn {}, {}",
            users(n),
            format_rate(rate),
            format_duration(duration)
        ),
        None => format!("{}, {}", users(n), format_duration(duration)),
    }
}

fn describe_stages(stages: &[Stage]) -> String {
    let max = stages.iter().map(|s| s.users).max().unwrap_or(0);
    let total: Duration = stages.iter().map(|s| s.duration).sum();
    let count = match stages.len() {
        1 => "1 stage".to_owned(),
        n => format!("{n} stages"),
    };
    format!("{count}, max {}, {}", users(max), format_duration(total))
}

#[cfg(test)]
mod tests;
