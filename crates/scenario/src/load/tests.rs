use super::*;
use crate::yaml;

fn run_in(src: &str, scope: Scope) -> (Option<LoadSection>, Vec<String>) {
    let node = yaml::parse(src).unwrap().unwrap();
    let mut ctx = Ctx::default();
    let section = decode(&mut ctx, &node, "load", scope);
    let messages = ctx.into_items().into_iter().map(|d| d.message).collect();
    (section, messages)
}

fn run(src: &str) -> (Option<LoadSection>, Vec<String>) {
    run_in(
        src,
        Scope::TopLevel {
            level_optional: false,
        },
    )
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn flat_and_stages() {
    let (section, errors) = run("{ users: 5, duration: 1m, spawn_rate: 600/m }");
    assert_eq!(errors, Vec::<String>::new());
    let section = section.unwrap();
    assert_eq!(section.jitter_start, None);
    assert_eq!(section.graceful_stop, secs(30));
    let expected = Shape::Flat {
        users: 5,
        spawn_rate: Some(10.0),
        duration: secs(60),
    };
    assert_eq!(section.shape, expected);

    let (section, _) = run("{ jitter_start: false, stages: [{duration: 10s, users: 3}] }");
    let section = section.unwrap();
    assert_eq!(section.jitter_start, Some(false));
    let stage = Stage {
        duration: secs(10),
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

#[test]
fn open_model_constant_and_stages() {
    let (section, errors) =
        run("{ arrival_rate: 500/s, duration: 2m, max_users: 2000, arrivals: poisson }");
    assert_eq!(errors, Vec::<String>::new());
    let section = section.unwrap();
    assert_eq!(
        section.shape,
        Shape::Rate {
            rate: 500.0,
            duration: secs(120)
        }
    );
    let pool = section.pool.unwrap();
    assert_eq!(pool.max_users, 2000);
    assert_eq!(pool.pre_allocated_users, None);
    assert_eq!(pool.arrivals, Arrivals::Poisson);

    let src = "{ stages: [{duration: 1m, rate: 600/m}, {duration: 10s, rate: 0}], \
               max_users: 5, pre_allocated_users: 2 }";
    let (section, errors) = run(src);
    assert_eq!(errors, Vec::<String>::new());
    let section = section.unwrap();
    let expected = vec![
        RateStage {
            duration: secs(60),
            rate: 10.0,
        },
        RateStage {
            duration: secs(10),
            rate: 0.0,
        },
    ];
    assert_eq!(section.shape, Shape::RateStages(expected));
    assert_eq!(section.pool.unwrap().pre_allocated_users, Some(2));
}

#[test]
fn open_model_mistakes() {
    let (_, errors) = run("{ arrival_rate: 10/s, duration: 1m }");
    assert_eq!(errors, ["missing field `max_users`"]);
    let (_, errors) = run("{ arrival_rate: 10/s, max_users: 3 }");
    assert_eq!(errors, ["missing field `duration`"]);
    let (_, errors) = run("{ users: 3, arrival_rate: 10/s, duration: 1m, max_users: 3 }");
    assert_eq!(errors, ["`users` cannot be combined with `arrival_rate`"]);
    let (_, errors) = run("{ users: 3, duration: 1m, max_users: 3 }");
    assert_eq!(
        errors,
        ["`max_users` applies to the open model only (`arrival_rate`, or `stages` with `rate`)"]
    );
    let src = "{ stages: [{duration: 1m, rate: 5/s}, {duration: 1m, users: 5}], max_users: 5 }";
    let (_, errors) = run(src);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("mixed stages"), "{errors:?}");
    let (_, errors) = run("stages: [{duration: 1m, rate: 5/s, users: 3}]");
    assert_eq!(errors, ["a stage has `users` or `rate`, not both"]);
    let (_, errors) =
        run("{ arrival_rate: 1/s, duration: 1m, max_users: 2, pre_allocated_users: 3 }");
    assert_eq!(
        errors,
        ["`pre_allocated_users` (3) is greater than `max_users` (2)"]
    );
    let (_, errors) = run("{ arrival_rate: 1/s, duration: 1m, max_users: 2, arrivals: random }");
    assert_eq!(errors, ["unknown arrivals `random`"]);
    let (_, errors) = run(
        "{ arrival_rate: 1/s, duration: 1m, max_users: 2, waves: {users: 1, every: 1s, count: 1} }",
    );
    assert_eq!(errors, ["`waves` cannot be combined with `arrival_rate`"]);
    let (_, errors) =
        run("{ arrival_rate: 1/s, duration: 1m, max_users: 2, iterations: { per_user: 3 } }");
    assert_eq!(
        errors,
        ["`per_user` iterations apply to the closed model only"]
    );
}

#[test]
fn waves_options_and_limits() {
    let src = "{ waves: { users: 10, every: 30s, count: 5 }, graceful_stop: 5s, \
               iterations: { per_user: 3 }, max_requests: 1000 }";
    let (section, errors) = run(src);
    assert_eq!(errors, Vec::<String>::new());
    let section = section.unwrap();
    assert_eq!(
        section.shape,
        Shape::Waves {
            users: 10,
            every: secs(30),
            count: 5,
            duration: None
        }
    );
    assert_eq!(section.graceful_stop, secs(5));
    assert_eq!(section.limits.iterations_per_user, Some(3));
    assert_eq!(section.limits.max_requests, Some(1000));

    let (_, errors) = run("{ waves: { users: 1, every: 1s, count: 2 }, jitter_start: true }");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("waves start each wave's users at the same instant"));
    let (_, errors) = run("{ waves: { users: 1, count: 2 } }");
    assert_eq!(errors, ["missing field `every`"]);
    let (_, errors) = run("{ users: 1, duration: 1s, iterations: 0 }");
    assert_eq!(errors, ["`iterations` must be at least 1, found 0"]);
}

#[test]
fn scenario_loads_have_no_run_wide_limits_and_top_level_level_may_be_optional() {
    let (_, errors) = run_in(
        "{ users: 1, duration: 1s, max_requests: 5 }",
        Scope::Scenario,
    );
    assert_eq!(
        errors,
        ["`max_requests` is run-wide: set it in the top-level `load`"]
    );
    let (_, errors) = run_in("{ graceful_stop: 1s }", Scope::Scenario);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("missing the load level"));
    let optional = Scope::TopLevel {
        level_optional: true,
    };
    let (section, errors) = run_in("{ max_requests: 5 }", optional);
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(section.unwrap().shape, Shape::Unset);
}
