//! Normalising the load (flat or stages, plus command-line overrides) into [`Load::stages`].

use std::time::Duration;

use crate::Overrides;
use crate::decoder::Ctx;
use crate::load::{LoadSection, Shape};
use crate::plan::{Load, Stage};
use crate::units::{format_duration, format_rate};
use crate::yaml::Node;

/// Reports invalid `--users`, `--spawn-rate` and `--duration` values; true when all are valid.
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
    ctx.error_count() == before
}

/// The effective load: the file's, changed by the overrides (assumed valid).
///
/// `--users` or `--spawn-rate` make the load flat (missing values taken from the file: for
/// stages, their highest user count and total duration); `--duration` alone cuts stages at that
/// time (or holds the last level longer). Warns (at `at`) when the ramp-up cannot finish.
pub(crate) fn build(ctx: &mut Ctx, section: &LoadSection, o: &Overrides, at: &Node) -> Load {
    let shape = apply_overrides(&section.shape, o);
    let (stages, description) = match shape {
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
            (stages, describe_flat(users, spawn_rate, duration))
        }
        Shape::Stages(stages) => {
            let description = describe_stages(&stages);
            (stages, description)
        }
    };
    Load {
        stages,
        jitter_start: section.jitter_start,
        description,
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
        (shape, None) => shape.clone(),
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
mod tests {
    use super::*;
    use crate::yaml::{Scalar, Value};

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn stage(s: u64, users: u32) -> Stage {
        Stage {
            duration: secs(s),
            users,
        }
    }

    fn load(shape: Shape, o: &Overrides) -> (Load, usize) {
        let at = Node {
            value: Value::Scalar(Scalar::Null, String::new()),
            line: 1,
            col: 1,
        };
        let mut ctx = Ctx::default();
        let section = LoadSection {
            shape,
            jitter_start: true,
        };
        let load = build(&mut ctx, &section, o, &at);
        (load, ctx.into_items().len())
    }

    fn flat_shape(users: u32, spawn_rate: Option<f64>, duration: u64) -> Shape {
        Shape::Flat {
            users,
            spawn_rate,
            duration: secs(duration),
        }
    }

    #[test]
    fn flat_with_spawn_rate_ramps_then_holds() {
        let (l, warnings) = load(flat_shape(50, Some(10.0), 30), &Overrides::default());
        assert_eq!(l.stages, [stage(5, 50), stage(25, 50)]);
        assert_eq!(l.description, "50 users, spawn 10/s, 30s");
        assert_eq!(warnings, 0);
        assert_eq!(l.users_at(Duration::from_millis(2500)), 25);
        assert_eq!(l.users_at(secs(5)), 50);
        assert_eq!(l.duration(), secs(30));
    }

    #[test]
    fn flat_ramp_longer_than_duration_is_truncated() {
        let (l, warnings) = load(flat_shape(500, Some(10.0), 30), &Overrides::default());
        assert_eq!(l.stages, [stage(30, 300)]);
        assert_eq!(warnings, 1);
        assert_eq!(flat(3, Some(0.1), secs(30)), [stage(30, 3)]);
        assert_eq!(flat(10, Some(1.0), secs(10)), [stage(10, 10)]);
        assert_eq!(flat(10, Some(1e-300), secs(10)), [stage(10, 0)]);
    }

    #[test]
    fn flat_without_spawn_rate_starts_everyone_at_once() {
        let (l, _) = load(flat_shape(50, None, 30), &Overrides::default());
        assert_eq!(l.stages, [stage(0, 50), stage(30, 50)]);
        assert_eq!(l.description, "50 users, 30s");
        assert_eq!(l.users_at(Duration::ZERO), 50);
        assert_eq!(l.users_at(secs(29)), 50);
        assert_eq!(l.duration(), secs(30));
    }

    #[test]
    fn stages_are_kept_and_described() {
        let stages = vec![stage(30, 100), stage(60, 100), stage(10, 0)];
        let (l, _) = load(Shape::Stages(stages.clone()), &Overrides::default());
        assert_eq!(l.stages, stages);
        assert_eq!(l.description, "3 stages, max 100 users, 1m40s");
    }

    #[test]
    fn users_or_spawn_rate_override_makes_the_load_flat() {
        let stages = Shape::Stages(vec![stage(30, 100), stage(60, 100), stage(10, 0)]);
        let o = Overrides {
            users: Some(20),
            ..Overrides::default()
        };
        let (l, _) = load(stages.clone(), &o);
        assert_eq!(l.stages, [stage(0, 20), stage(100, 20)]);
        let o = Overrides {
            spawn_rate: Some(10.0),
            duration: Some(secs(20)),
            ..Overrides::default()
        };
        let (l, _) = load(stages, &o);
        assert_eq!(l.stages, [stage(10, 100), stage(10, 100)]);
        assert_eq!(l.description, "100 users, spawn 10/s, 20s");

        let o = Overrides {
            users: Some(10),
            ..Overrides::default()
        };
        let (l, _) = load(flat_shape(50, Some(5.0), 30), &o);
        assert_eq!(l.stages, [stage(2, 10), stage(28, 10)]);
    }

    #[test]
    fn duration_override_cuts_or_extends_stages() {
        let stages = vec![stage(30, 100), stage(60, 100), stage(10, 0)];
        let o = |s| Overrides {
            duration: Some(secs(s)),
            ..Overrides::default()
        };
        let (l, _) = load(Shape::Stages(stages.clone()), &o(15));
        assert_eq!(l.stages, [stage(15, 50)]);
        let (l, _) = load(Shape::Stages(stages.clone()), &o(95));
        assert_eq!(l.stages, [stage(30, 100), stage(60, 100), stage(5, 50)]);
        let (l, _) = load(Shape::Stages(stages.clone()), &o(90));
        assert_eq!(l.stages, [stage(30, 100), stage(60, 100)]);
        let (l, _) = load(Shape::Stages(vec![stage(10, 5)]), &o(25));
        assert_eq!(l.stages, [stage(10, 5), stage(15, 5)]);
        assert_eq!(l.description, "2 stages, max 5 users, 25s");
        let (l, _) = load(flat_shape(5, None, 30), &o(60));
        assert_eq!(l.stages, [stage(0, 5), stage(60, 5)]);
    }

    #[test]
    fn invalid_overrides_are_reported_by_option_name() {
        let mut ctx = Ctx::default();
        let o = Overrides {
            users: Some(0),
            spawn_rate: Some(f64::NAN),
            duration: Some(Duration::ZERO),
            target: None,
        };
        assert!(!check_overrides(&mut ctx, &o));
        let paths: Vec<String> = ctx.into_items().into_iter().map(|d| d.path).collect();
        assert_eq!(paths, ["--users", "--spawn-rate", "--duration"]);
        assert!(check_overrides(&mut Ctx::default(), &Overrides::default()));
    }
}
