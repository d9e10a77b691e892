//! Load models in whole files: the open model, waves, per-scenario loads with `start`, pauses,
//! limits, and how mistakes across them are reported (with their position).

use std::time::Duration;

use stampede_scenario::{Arrivals, Distribution, Overrides, Plan, ThinkTime, load_str};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn load(source: &str, o: &Overrides) -> Plan {
    match load_str(source, "t.yaml", o) {
        Ok(loaded) => {
            assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
            loaded.plan
        }
        Err(d) => panic!("{}", d.render(false)),
    }
}

/// (line, message) of each error.
fn errors(source: &str, o: &Overrides) -> Vec<(Option<usize>, String)> {
    let diags = load_str(source, "t.yaml", o).expect_err("should fail");
    diags
        .items
        .into_iter()
        .map(|d| (d.line, d.message))
        .collect()
}

const TARGET: &str = "target: http://localhost:8080\n";

#[test]
fn open_model_with_defaults_and_overrides() {
    let src = format!(
        "{TARGET}load: {{ arrival_rate: 600/m, duration: 1m, max_users: 40, arrivals: poisson }}\n\
         scenarios:\n  - name: a\n    steps:\n      - get: /\n"
    );
    let plan = load(&src, &Overrides::default());
    let arrival = plan.load.arrival.as_ref().expect("open model");
    assert_eq!(arrival.max_users, 40);
    assert_eq!(
        arrival.pre_allocated_users, 10,
        "min(max_users, 10/s × 1 s)"
    );
    assert_eq!(arrival.arrivals, Arrivals::Poisson);
    assert!(plan.load.stages.is_empty());
    assert_eq!(plan.duration(), secs(60));
    assert_eq!(plan.load.description, "10/s arrivals, 1m, max 40 users");

    let o = Overrides {
        duration: Some(secs(20)),
        max_requests: Some(99),
        ..Overrides::default()
    };
    let plan = load(&src, &o);
    assert_eq!(plan.duration(), secs(20));
    assert_eq!(plan.load.limits.max_requests, Some(99));
    let o = Overrides {
        users: Some(5),
        ..Overrides::default()
    };
    assert_eq!(
        errors(&src, &o),
        [(
            None,
            "sets a number of users, but this load is an arrival rate (the open model)".into()
        )]
    );
}

#[test]
fn per_scenario_loads_start_offsets_and_pauses() {
    let src = format!(
        "{TARGET}load: {{ users: 4, duration: 30s, iterations: {{ per_user: 2 }} }}\n\
         scenarios:\n\
         \x20 - name: shared\n    think_time: {{ normal: {{ mean: 2s, stddev: 500ms }} }}\n\
         \x20   pace_factor: {{ log_normal: {{ median: 1.0, sigma: 0.3 }} }}\n\
         \x20   pacing: 10s\n    steps:\n      - get: /\n\
         \x20 - name: waves\n    load: {{ waves: {{ users: 3, every: 10s, count: 2 }}, graceful_stop: 1s }}\n\
         \x20   start: 15s\n    steps:\n      - get: /w\n"
    );
    let plan = load(&src, &Overrides::default());
    assert_eq!(plan.load.limits.iterations_per_user, Some(2));
    let shared = &plan.scenarios[0];
    assert_eq!(
        shared.think_time,
        ThinkTime::Normal {
            mean: secs(2),
            stddev: Duration::from_millis(500)
        }
    );
    assert_eq!(
        shared.pace_factor,
        Some(Distribution::LogNormal {
            median: 1.0,
            sigma: 0.3
        })
    );
    assert_eq!(shared.pacing, Some(secs(10)));
    assert!(shared.load.is_none());
    let waves = &plan.scenarios[1];
    let own = waves.load.as_ref().expect("own load");
    assert_eq!(waves.start, secs(15));
    assert_eq!(own.graceful_stop, secs(1));
    assert_eq!(own.users_at(secs(9)), 3);
    assert_eq!(own.users_at(secs(10)), 6);
    assert!(!own.jitter_start);
    // The run lasts until the later of 30 s and 15 s + 20 s.
    assert_eq!(plan.duration(), secs(35));
    assert_eq!(
        plan.load.description,
        "4 users, 30s; waves: 2 waves of 3 users every 10s, 20s (from 15s)"
    );
    // --duration cuts scenario loads after their start.
    let o = Overrides {
        duration: Some(secs(20)),
        ..Overrides::default()
    };
    let plan = load(&src, &o);
    assert_eq!(plan.duration(), secs(20));
    assert_eq!(plan.scenarios[1].load.as_ref().unwrap().duration(), secs(5));
}

#[test]
fn mistakes_across_loads_are_located() {
    let src = format!(
        "{TARGET}load: {{ arrival_rate: 5/s, duration: 1m, max_users: 10 }}\n\
         scenarios:\n  - name: a\n    pacing: 5s\n    steps:\n      - get: /\n\
         \x20 - name: b\n    start: 5s\n    steps:\n      - get: /\n\
         \x20 - name: c\n    load: {{ users: 1, duration: 1m, max_requests: 3 }}\n    steps:\n      - get: /\n"
    );
    let found = errors(&src, &Overrides::default());
    assert_eq!(
        found,
        [
            (
                Some(9),
                "`start` applies to a scenario with its own `load`".to_owned()
            ),
            (
                Some(13),
                "`max_requests` is run-wide: set it in the top-level `load`".to_owned()
            ),
        ]
    );
    // Once those are fixed, `pacing` under an arrival rate is reported at its scenario.
    let src = format!(
        "{TARGET}load: {{ arrival_rate: 5/s, duration: 1m, max_users: 10 }}\n\
         scenarios:\n  - name: a\n    pacing: 5s\n    steps:\n      - get: /\n"
    );
    let found = errors(&src, &Overrides::default());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, Some(4));
    assert!(
        found[0]
            .1
            .starts_with("`pacing` applies to the closed model")
    );

    // Without a top-level level, every scenario needs its own load.
    let src = format!(
        "{TARGET}load: {{ max_requests: 10 }}\nscenarios:\n  - name: a\n    steps:\n      - get: /\n\
         \x20 - name: b\n    load: {{ users: 1, duration: 1s }}\n    steps:\n      - get: /\n"
    );
    let found = errors(&src, &Overrides::default());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, Some(4));
    assert!(found[0].1.starts_with("scenario `a` has no `load`"));
    // And without any load at all, `load` is still required.
    let src = format!("{TARGET}scenarios:\n  - name: a\n    steps:\n      - get: /\n");
    let found = errors(&src, &Overrides::default());
    assert_eq!(found, [(Some(1), "missing field `load`".to_owned())]);
}
