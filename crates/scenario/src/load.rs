//! Decoding the `load` section, as written (flat or stages); see `profile` for normalisation.

use std::time::Duration;

use crate::decoder::{self, Ctx, Fields, child, item};
use crate::plan::Stage;
use crate::yaml::Node;

/// The load as written in the file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Shape {
    Flat {
        users: u32,
        /// Users started per second; `None` starts them all at once.
        spawn_rate: Option<f64>,
        duration: Duration,
    },
    Stages(Vec<Stage>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LoadSection {
    pub shape: Shape,
    pub jitter_start: bool,
}

const FIELDS: &[&str] = &["users", "spawn_rate", "duration", "stages", "jitter_start"];
const FLAT: &[&str] = &["users", "spawn_rate", "duration"];
const FLAT_HINT: &str = "e.g. `load: { users: 10, duration: 30s }`, or a list of `stages`";

pub(crate) fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<LoadSection> {
    let f = decoder::fields(ctx, node, path, FIELDS)?;
    let jitter_start = match f.get("jitter_start") {
        Some(n) => decoder::boolean(ctx, n, &f.path("jitter_start")),
        None => Some(true),
    };
    let flat_keys = f.present(FLAT);
    let shape = match f.entry("stages") {
        Some(stages) => {
            if let Some(first) = flat_keys.first() {
                let others: Vec<String> =
                    flat_keys.iter().map(|e| format!("`{}`", e.key)).collect();
                let message = format!("`stages` cannot be combined with {}", others.join(", "));
                let hint = "use either `users` + `duration` (and `spawn_rate`), or `stages`";
                let at = if first.key_node.line > stages.key_node.line {
                    first.key_node
                } else {
                    stages.key_node
                };
                ctx.error(Some(at), &f.path("stages"), message, Some(hint.into()));
                flat(ctx, &f, false);
            }
            let stages = decode_stages(ctx, stages.value, &f.path("stages"));
            match flat_keys.is_empty() {
                true => stages.map(Shape::Stages),
                false => None,
            }
        }
        None if flat_keys.is_empty() && !f.had_unknown => {
            let message = "missing the load level: `users` and `duration`, or `stages`";
            ctx.error(Some(node), path, message.into(), Some(FLAT_HINT.into()));
            None
        }
        None if flat_keys.is_empty() => None,
        None => flat(ctx, &f, true),
    };
    Some(LoadSection {
        shape: shape?,
        jitter_start: jitter_start?,
    })
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

fn decode_stages(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<Stage>> {
    let items = decoder::list(ctx, node, path)?;
    if items.is_empty() {
        let hint = "add at least one stage, e.g. `- { duration: 30s, users: 10 }`";
        ctx.error(
            Some(node),
            path,
            "`stages` is empty".into(),
            Some(hint.into()),
        );
        return None;
    }
    let mut stages = Vec::with_capacity(items.len());
    for (i, stage) in items.iter().enumerate() {
        let path = item(path, i);
        let Some(f) = decoder::fields(ctx, stage, &path, &["duration", "users"]) else {
            continue;
        };
        let duration = f
            .required(ctx, "duration", None)
            .and_then(|n| decoder::duration(ctx, n, &child(&path, "duration")));
        let users = f
            .required(ctx, "users", None)
            .and_then(|n| decoder::count(ctx, n, &child(&path, "users"), "`users`", 0));
        if let (Some(duration), Some(users)) = (duration, users) {
            stages.push(Stage { duration, users });
        }
    }
    if stages.len() != items.len() {
        return None;
    }
    let mut ok = true;
    if stages.iter().all(|s| s.duration.is_zero()) {
        let message = "the stages last 0s in total".to_owned();
        ctx.error(
            Some(node),
            path,
            message,
            Some("give a stage a duration".into()),
        );
        ok = false;
    }
    if stages.iter().all(|s| s.users == 0) {
        let message = "no stage has any users".to_owned();
        ctx.error(
            Some(node),
            path,
            message,
            Some("set `users` above 0 in a stage".into()),
        );
        ok = false;
    }
    ok.then_some(stages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn run(src: &str) -> (Option<LoadSection>, Vec<String>) {
        let node = yaml::parse(src).unwrap().unwrap();
        let mut ctx = Ctx::default();
        let section = decode(&mut ctx, &node, "load");
        let messages = ctx.into_items().into_iter().map(|d| d.message).collect();
        (section, messages)
    }

    #[test]
    fn flat_and_stages() {
        let (section, errors) = run("{ users: 5, duration: 1m, spawn_rate: 600/m }");
        assert_eq!(errors, Vec::<String>::new());
        let section = section.unwrap();
        assert!(section.jitter_start);
        let expected = Shape::Flat {
            users: 5,
            spawn_rate: Some(10.0),
            duration: Duration::from_secs(60),
        };
        assert_eq!(section.shape, expected);

        let (section, _) = run("{ jitter_start: false, stages: [{duration: 10s, users: 3}] }");
        let section = section.unwrap();
        assert!(!section.jitter_start);
        let stage = Stage {
            duration: Duration::from_secs(10),
            users: 3,
        };
        assert_eq!(section.shape, Shape::Stages(vec![stage]));
    }

    #[test]
    fn reports_every_load_mistake() {
        let (section, errors) = run("{ users: 0, stages: [] , spawn_rate: fast }");
        assert_eq!(section, None);
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].contains("cannot be combined with `users`, `spawn_rate`"));
        assert!(
            errors
                .iter()
                .any(|e| e.contains("`users` must be at least 1"))
        );
        assert!(errors.iter().any(|e| e == "invalid rate `fast`"));
        assert!(errors.iter().any(|e| e == "`stages` is empty"));

        let (_, errors) = run("{ jitter_start: yes }");
        assert_eq!(errors.len(), 2, "{errors:?}");
        let (_, errors) = run("stages: [{users: 0, duration: 10s}, {duration: 0s, users: 0}]");
        assert_eq!(errors, ["no stage has any users"]);
        let (_, errors) = run("stages: [{users: 1, duration: 0s}]");
        assert_eq!(errors, ["the stages last 0s in total"]);
        let (_, errors) = run("{ usres: 10, duration: 10s }");
        assert_eq!(errors, ["unknown field `usres`"]);
        let (_, errors) = run("{ usres: 10, duration: 10s, users: 1 }");
        assert_eq!(errors, ["unknown field `usres`"]);
        let (_, errors) = run("{ ramp: 10, duration: 10s }");
        assert_eq!(errors, ["unknown field `ramp`", "missing field `users`"]);
        let (_, errors) = run("{ usres: 10 }");
        assert_eq!(errors, ["unknown field `usres`"]);
    }
}
