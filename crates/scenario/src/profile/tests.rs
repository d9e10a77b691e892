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
        jitter_start: None,
        graceful_stop: crate::plan::DEFAULT_GRACEFUL_STOP,
        pool: None,
        limits: Default::default(),
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
        iterations: Some(0),
        max_requests: Some(0),
        target: None,
        env: None,
    };
    assert!(!check_overrides(&mut ctx, &o));
    let paths: Vec<String> = ctx.into_items().into_iter().map(|d| d.path).collect();
    assert_eq!(
        paths,
        [
            "--users",
            "--spawn-rate",
            "--duration",
            "--iterations",
            "--max-requests"
        ]
    );
    assert!(check_overrides(&mut Ctx::default(), &Overrides::default()));
}

#[test]
fn waves_step_up_in_lock_step() {
    let shape = Shape::Waves {
        users: 10,
        every: secs(30),
        count: 3,
        duration: None,
    };
    let (l, _) = load(shape.clone(), &Overrides::default());
    assert!(!l.jitter_start, "waves start together");
    assert_eq!(l.duration(), secs(90));
    assert_eq!(l.description, "3 waves of 10 users every 30s, 1m30s");
    for (t, users) in [(0, 10), (29, 10), (30, 20), (59, 20), (60, 30), (89, 30)] {
        assert_eq!(l.users_at(secs(t)), users, "at {t}s");
    }
    let o = Overrides {
        duration: Some(secs(40)),
        ..Overrides::default()
    };
    let (l, _) = load(shape, &o);
    assert_eq!(l.duration(), secs(40));
    assert_eq!(l.users_at(secs(39)), 20);
}

#[test]
fn open_model_fills_the_pool_defaults_and_cuts_rates() {
    let pool = |pre| crate::load::Pool {
        max_users: 50,
        pre_allocated_users: pre,
        arrivals: Default::default(),
    };
    let section = |shape, pre| LoadSection {
        shape,
        jitter_start: None,
        graceful_stop: secs(5),
        pool: Some(pool(pre)),
        limits: Default::default(),
    };
    let at = Node {
        value: Value::Scalar(Scalar::Null, String::new()),
        line: 1,
        col: 1,
    };
    let rate = Shape::Rate {
        rate: 20.0,
        duration: secs(10),
    };
    let mut ctx = Ctx::default();
    let l = build(
        &mut ctx,
        &section(rate.clone(), None),
        &Overrides::default(),
        &at,
    );
    let arrival = l.arrival.clone().expect("open model");
    assert_eq!(arrival.pre_allocated_users, 20, "one second of arrivals");
    assert_eq!(l.duration(), secs(10));
    assert_eq!(l.max_users(), 50);
    assert_eq!(l.graceful_stop, secs(5));
    assert_eq!(l.description, "20/s arrivals, 10s, max 50 users");
    assert!((arrival.expected_by(secs(10)) - 200.0).abs() < 1e-9);

    let o = Overrides {
        duration: Some(secs(4)),
        users: Some(3),
        ..Overrides::default()
    };
    let l = build(&mut ctx, &section(rate, Some(7)), &o, &at);
    assert_eq!(l.duration(), secs(4));
    assert_eq!(l.arrival.unwrap().pre_allocated_users, 7);
    let errors: Vec<String> = ctx.into_items().into_iter().map(|d| d.path).collect();
    assert_eq!(errors, ["--users"]);

    let stages = vec![
        RateStage {
            duration: secs(10),
            rate: 100.0,
        },
        RateStage {
            duration: secs(10),
            rate: 0.0,
        },
    ];
    let cut = cut_rates(&stages, secs(15));
    assert_eq!(cut.len(), 2);
    assert!((cut[1].rate - 50.0).abs() < 1e-9);
    assert_eq!(cut_rates(&stages, secs(25)).len(), 3);
}

#[test]
fn arrival_times_invert_the_expected_count_exactly() {
    use crate::plan::Arrival;
    let arrival = Arrival {
        stages: vec![
            RateStage {
                duration: secs(10),
                rate: 100.0,
            },
            RateStage {
                duration: secs(10),
                rate: 100.0,
            },
            RateStage {
                duration: secs(10),
                rate: 20.0,
            },
            RateStage {
                duration: Duration::ZERO,
                rate: 7.0,
            },
            RateStage {
                duration: secs(5),
                rate: 7.0,
            },
        ],
        pre_allocated_users: 1,
        max_users: 1,
        arrivals: Default::default(),
    };
    // 500 (ramp) + 1000 (hold) + 600 (ramp down) + 35 (step, hold).
    let total = arrival.expected_by(secs(35));
    assert!((total - 2135.0).abs() < 1e-6, "{total}");
    for n in [0.0, 1.0, 10.0, 499.5, 500.0, 1234.0, 2099.0, 2100.0, 2134.9] {
        let t = arrival.time_of(n).expect("within the profile");
        let back = arrival.expected_by(t);
        assert!((back - n).abs() < 1e-6, "n {n} → {t:?} → {back}");
    }
    assert_eq!(arrival.time_of(2135.0), None);
    // Constant rate: the n-th arrival at exactly n / rate.
    assert_eq!(arrival.time_of(1000.0), Some(Duration::from_secs(15)));
}
