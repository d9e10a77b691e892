//! Evaluator tests for `dropped_iterations` and custom metrics: whole-run values, windows, no
//! data, and when an `abort` fires.

use super::tests::{aborting, keys, meta, run, windowed};
use super::*;
use crate::custom::{CustomKind, CustomSet, CustomStats, TrendStats};
use crate::recorder::{ScenarioCounts, Snapshot};

fn spec(metric: Metric, op: Op, bound: f64) -> ThresholdSpec {
    ThresholdSpec {
        name: format!("{metric:?} {op:?} {bound}"),
        metric_name: "custom".into(),
        scope: "all".into(),
        condition: format!("{op:?} {bound}"),
        metric,
        rows: None,
        op,
        bound,
        window_s: None,
        abort: false,
        delay: Duration::ZERO,
    }
}

fn custom(name: &str, stat: CustomStat) -> Metric {
    Metric::Custom(CustomSpec {
        name: name.into(),
        stat,
    })
}

fn trend(stat: LatencyStat) -> CustomStat {
    CustomStat::Trend(stat)
}

/// Second `s` with one completed iteration (so the run "did something") and the custom updates
/// `f` makes.
fn second(s: u32, f: impl FnOnce(&mut CustomSet)) -> Snapshot {
    let mut snap = Snapshot::new(s);
    snap.iterations = 1;
    f(&mut snap.custom);
    snap
}

/// Second `s` with `dropped` iterations dropped by each scenario.
fn drops(s: u32, dropped: &[u64]) -> Snapshot {
    let mut snap = Snapshot::new(s);
    snap.dropped_iterations = dropped.iter().sum();
    snap.scenarios = (dropped.iter())
        .map(|&d| ScenarioCounts {
            dropped: d,
            ..ScenarioCounts::default()
        })
        .collect();
    snap
}

/// The second at whose end each spec first aborted, if any (one spec per run).
fn abort_at(spec: ThresholdSpec, seconds: &[Snapshot]) -> Option<u32> {
    let mut a = Aggregator::new(keys());
    a.set_thresholds(vec![spec]);
    seconds.iter().find_map(|s| {
        a.ingest(s);
        a.close_through(s.second);
        let elapsed = Duration::from_secs(u64::from(s.second) + 1);
        a.check_abort(elapsed).map(|_| s.second)
    })
}

type Outcome<'a> = (Option<f64>, bool, Option<&'a str>);

fn outcomes(r: &RunResult) -> Vec<Outcome<'_>> {
    (r.thresholds.iter())
        .map(|t| (t.value, t.passed, t.message.as_deref()))
        .collect()
}

#[test]
fn dropped_iterations_over_the_run_per_scenario_and_in_windows() {
    // Scenario 1 drops 3 in second 2 and 1 in second 5; scenario 0 never drops.
    let seconds: Vec<Snapshot> = [0, 0, 3, 0, 0, 1]
        .iter()
        .enumerate()
        .map(|(s, &d)| drops(s as u32, &[0, d]))
        .collect();
    let dropped = |scenario| Metric::DroppedIterations { scenario };
    let specs = vec![
        spec(dropped(None), Op::Le, 0.0),
        spec(dropped(Some(0)), Op::Le, 0.0),
        spec(dropped(Some(1)), Op::Le, 4.0),
        windowed(spec(dropped(None), Op::Le, 2.0), 2),
        windowed(spec(dropped(Some(1)), Op::Le, 3.0), 2),
        // A scenario the snapshots never mention dropped nothing.
        spec(dropped(Some(7)), Op::Le, 0.0),
    ];
    let r = run(specs, &seconds, 6.0);
    let got = outcomes(&r);
    assert_eq!(got[0], (Some(4.0), false, None));
    assert_eq!(got[1], (Some(0.0), true, None), "0 is a value, not no data");
    assert_eq!(got[2], (Some(4.0), true, None));
    let worst = Some("worst 2s window: from 1s to 3s of the run");
    assert_eq!(got[3], (Some(3.0), false, worst));
    assert_eq!(got[4], (Some(3.0), true, None));
    assert_eq!(got[5], (Some(0.0), true, None));
}

#[test]
fn dropped_iterations_abort_once_above_a_max() {
    let seconds: Vec<Snapshot> = (0..6).map(|s| drops(s, &[1])).collect();
    let dropped = Metric::DroppedIterations { scenario: None };
    // 1, 2, 3: above 2 at the end of second 2.
    assert_eq!(
        abort_at(aborting(spec(dropped.clone(), Op::Le, 2.0), 0), &seconds),
        Some(2)
    );
    assert_eq!(
        abort_at(aborting(spec(dropped.clone(), Op::Le, 2.0), 4), &seconds),
        Some(3),
        "not before the delay"
    );
    // Short of a minimum, drops may still come.
    assert_eq!(
        abort_at(aborting(spec(dropped.clone(), Op::Ge, 50.0), 0), &seconds),
        None
    );
    let windows = aborting(windowed(spec(dropped, Op::Lt, 2.0), 2), 0);
    assert_eq!(abort_at(windows, &seconds), Some(1));
}

/// Counter `carts`: 1 + 1 + 1 in second 0, 2 in second 1. Trend `size`: 1..=100 in second 0.
/// Gauge `queue`: 5 then 9 in second 0, -3 in second 1.
fn custom_run() -> Vec<Snapshot> {
    vec![
        second(0, |c| {
            (0..3).for_each(|_| c.add_counter("carts", 1.0));
            (1..=100).for_each(|v| c.record_trend("size", f64::from(v)));
            c.set_gauge_at("queue", 5.0, 1);
            c.set_gauge_at("queue", 9.0, 2);
        }),
        second(1, |c| {
            c.add_counter("carts", 2.0);
            c.set_gauge_at("queue", -3.0, 3);
        }),
    ]
}

#[test]
fn custom_values_over_the_whole_run() {
    let sum = CustomStat::CounterSum { only_grows: true };
    let specs = vec![
        spec(custom("carts", sum), Op::Ge, 5.0),
        spec(custom("carts", CustomStat::CounterRate), Op::Gt, 2.5),
        spec(
            custom("size", trend(LatencyStat::Percentile(95.0))),
            Op::Le,
            95.0,
        ),
        spec(
            custom("size", trend(LatencyStat::Percentile(99.9))),
            Op::Le,
            99.0,
        ),
        spec(custom("size", trend(LatencyStat::Mean)), Op::Le, 50.5),
        spec(custom("size", trend(LatencyStat::Min)), Op::Ge, 1.0),
        spec(custom("size", trend(LatencyStat::Max)), Op::Lt, 100.0),
        spec(custom("size", CustomStat::TrendCount), Op::Ge, 100.0),
        spec(custom("queue", CustomStat::GaugeLast), Op::Le, 0.0),
        spec(custom("queue", CustomStat::GaugeMin), Op::Ge, -3.0),
        spec(custom("queue", CustomStat::GaugeMax), Op::Le, 8.0),
        // The same name of another kind is another metric.
        spec(custom("carts", CustomStat::GaugeLast), Op::Le, 1.0),
    ];
    let r = run(specs, &custom_run(), 2.0);
    let got: Vec<(Option<f64>, bool)> = r.thresholds.iter().map(|t| (t.value, t.passed)).collect();
    assert_eq!(got[0], (Some(5.0), true));
    assert_eq!(
        got[1],
        (Some(2.5), false),
        "2.5 per second is not above 2.5"
    );
    assert_eq!(got[2], (Some(95.0), true));
    assert_eq!(got[3], (Some(100.0), false));
    assert_eq!(got[4], (Some(50.5), true));
    assert_eq!(got[5], (Some(1.0), true));
    assert_eq!(got[6], (Some(100.0), false));
    assert_eq!(got[7], (Some(100.0), true));
    assert_eq!(got[8], (Some(-3.0), true), "the last set wins");
    assert_eq!(got[9], (Some(-3.0), true));
    assert_eq!(got[10], (Some(9.0), false));
    assert_eq!(got[11], (None, false));
    assert_eq!(
        r.thresholds[11].message.as_deref(),
        Some("no data: gauge `carts` was never set")
    );
    // The threshold reads what `custom_metrics` reports.
    let row = serde_json::to_value(&r.custom_metrics).unwrap();
    let size = row
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "size")
        .unwrap();
    assert_eq!(size["p95"], 95.0);
}

#[test]
fn custom_metrics_without_data() {
    let requests_only = {
        let mut s = Snapshot::new(0);
        s.step_mut(0).requests = 3;
        s
    };
    let specs = || {
        vec![
            spec(
                custom("errors", CustomStat::CounterSum { only_grows: true }),
                Op::Le,
                0.0,
            ),
            spec(custom("errors", CustomStat::CounterRate), Op::Le, 0.0),
            spec(custom("size", CustomStat::TrendCount), Op::Le, 0.0),
            spec(
                custom("size", trend(LatencyStat::Percentile(95.0))),
                Op::Le,
                1.0,
            ),
            spec(custom("size", trend(LatencyStat::Mean)), Op::Le, 1.0),
            spec(custom("queue", CustomStat::GaugeMax), Op::Le, 1.0),
        ]
    };
    let r = run(specs(), &[requests_only], 1.0);
    let got = outcomes(&r);
    // A counter never added to is 0 once the run did something.
    assert_eq!(got[0], (Some(0.0), true, None));
    assert_eq!(got[1], (Some(0.0), true, None));
    assert_eq!(got[2], (Some(0.0), true, None));
    let never = Some("no data: trend `size` never recorded a value");
    assert_eq!(got[3], (None, false, never));
    assert_eq!(got[4], (None, false, never));
    assert_eq!(
        got[5],
        (None, false, Some("no data: gauge `queue` was never set"))
    );

    // A run that did nothing has no data even for counters.
    let r = run(specs(), &[Snapshot::new(0)], 1.0);
    let nothing = Some("no data: no request was made and no iteration completed");
    for i in 0..3 {
        assert_eq!(outcomes(&r)[i], (None, false, nothing), "{i}");
    }
}

#[test]
fn custom_windows_sum_rate_and_hold_gauges() {
    // Counter: 1 per second, 5 in second 3. Gauge: set in seconds 0 and 3 only.
    let seconds: Vec<Snapshot> = (0..6)
        .map(|s| {
            second(s, |c| {
                c.add_counter("carts", if s == 3 { 5.0 } else { 1.0 });
                if s == 0 || s == 3 {
                    c.set_gauge_at("queue", f64::from(s) * 10.0, u64::from(s));
                }
            })
        })
        .collect();
    let sum = CustomStat::CounterSum { only_grows: true };
    let specs = vec![
        windowed(spec(custom("carts", sum), Op::Le, 4.0), 2),
        windowed(
            spec(custom("carts", CustomStat::CounterRate), Op::Ge, 1.0),
            2,
        ),
        windowed(
            spec(custom("queue", CustomStat::GaugeLast), Op::Le, 20.0),
            2,
        ),
        windowed(spec(custom("queue", CustomStat::GaugeMin), Op::Ge, 0.0), 3),
        windowed(spec(custom("nothing", sum), Op::Le, 0.0), 2),
    ];
    let r = run(specs, &seconds, 6.0);
    let got = outcomes(&r);
    assert_eq!(
        got[0],
        (
            Some(6.0),
            false,
            Some("worst 2s window: from 2s to 4s of the run")
        )
    );
    assert_eq!(got[1], (Some(1.0), true, None));
    // Windows [1, 3) and [4, 6) have no set: skipped; [3, 5) holds the set of second 3.
    assert_eq!(
        got[2],
        (
            Some(30.0),
            false,
            Some("worst 2s window: from 2s to 4s of the run")
        )
    );
    assert_eq!(got[3], (Some(0.0), true, None));
    // A counter is 0 in every window (the run did something).
    assert_eq!(got[4], (Some(0.0), true, None));
}

#[test]
fn trend_windows_are_exact_merged_histograms() {
    let values = |s: u64| -> Vec<f64> {
        (0..30)
            .map(|i| ((s * 7919 + i * 104_729) % 5000) as f64 / 7.0)
            .collect()
    };
    let seconds: Vec<Snapshot> = (0..30u64)
        .map(|s| {
            second(s as u32, |c| {
                values(s).into_iter().for_each(|v| c.record_trend("t", v))
            })
        })
        .collect();
    for stat in [
        LatencyStat::Percentile(90.0),
        LatencyStat::Percentile(50.0),
        LatencyStat::Mean,
        LatencyStat::Min,
        LatencyStat::Max,
    ] {
        let mut a = Aggregator::new(keys());
        a.set_thresholds(vec![windowed(
            spec(custom("t", trend(stat)), Op::Le, 1e9),
            6,
        )]);
        for s in &seconds {
            a.ingest(s);
            a.close_through(s.second);
        }
        let track = a.thresholds.windows[0].as_ref().unwrap();
        assert_eq!(track.values_for_test().len(), 30 - 5);
        for &(end, value) in track.values_for_test() {
            let mut set = CustomSet::new();
            for s in end as u64 - 5..=end as u64 {
                values(s).into_iter().for_each(|v| set.record_trend("t", v));
            }
            let Some(CustomStats::Trend(t)) = set.get("t", CustomKind::Trend).map(|m| &m.stats)
            else {
                panic!("a trend");
            };
            let t: &TrendStats = t;
            let expected = match stat {
                LatencyStat::Percentile(p) => t.quantile(p / 100.0),
                LatencyStat::Mean => t.mean(),
                LatencyStat::Min => Some(t.min),
                LatencyStat::Max => Some(t.max),
            };
            let (got, want) = (value.unwrap(), expected.unwrap());
            assert!(
                (got - want).abs() <= want.abs() * 1e-12,
                "{stat:?} at {end}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn a_window_without_a_trend_value_has_no_data() {
    // The trend is only recorded in the partial last second (the run lasted 3.4 s).
    let mut seconds: Vec<Snapshot> = (0..3).map(|s| second(s, |_| {})).collect();
    seconds.push(second(3, |c| c.record_trend("t", 1.0)));
    let specs = vec![windowed(
        spec(custom("t", trend(LatencyStat::Max)), Op::Le, 5.0),
        2,
    )];
    let r = run(specs, &seconds, 3.4);
    assert_eq!(
        outcomes(&r)[0],
        (
            None,
            false,
            Some("no data: no full 2s window had a value of trend `t`")
        )
    );
}

#[test]
fn custom_aborts_follow_how_the_value_can_move() {
    // Each second: counter +1, trend value = second * 10, gauge = 5 + second.
    let seconds: Vec<Snapshot> = (0..6)
        .map(|s| {
            second(s, |c| {
                c.add_counter("n", 1.0);
                c.record_trend("t", f64::from(s) * 10.0);
                c.set_gauge_at("g", 5.0 + f64::from(s), u64::from(s));
            })
        })
        .collect();
    let grows = CustomStat::CounterSum { only_grows: true };
    let wanders = CustomStat::CounterSum { only_grows: false };
    let cases = [
        // A sum that only grows: above a max is final (4 > 3 after second 3)...
        (spec(custom("n", grows), Op::Le, 3.0), Some(3)),
        // ...short of a min it may still get there.
        (spec(custom("n", grows), Op::Ge, 100.0), None),
        // A sum negative adds could lower never aborts over the whole run...
        (spec(custom("n", wanders), Op::Le, 3.0), None),
        (spec(custom("n", wanders), Op::Ge, 100.0), None),
        // ...but a full window above the bound fails for good.
        (
            windowed(spec(custom("n", wanders), Op::Le, 1.0), 2),
            Some(1),
        ),
        // A rate settles: violated at a check after the delay.
        (
            spec(custom("n", CustomStat::CounterRate), Op::Ge, 2.0),
            Some(0),
        ),
        // Trend max only grows, min only shrinks, count only grows.
        (
            spec(custom("t", trend(LatencyStat::Max)), Op::Le, 25.0),
            Some(3),
        ),
        (
            spec(custom("t", trend(LatencyStat::Max)), Op::Ge, 100.0),
            None,
        ),
        (
            spec(custom("t", trend(LatencyStat::Min)), Op::Ge, 5.0),
            Some(0),
        ),
        (
            spec(custom("t", CustomStat::TrendCount), Op::Lt, 2.0),
            Some(1),
        ),
        (
            spec(custom("t", trend(LatencyStat::Mean)), Op::Le, 10.0),
            Some(3),
        ),
        // A gauge's last value settles; its max only grows, its min only shrinks.
        (
            spec(custom("g", CustomStat::GaugeLast), Op::Le, 7.0),
            Some(3),
        ),
        (spec(custom("g", CustomStat::GaugeMax), Op::Ge, 50.0), None),
        (spec(custom("g", CustomStat::GaugeMin), Op::Le, 4.0), None),
        (
            spec(custom("g", CustomStat::GaugeMin), Op::Ge, 6.0),
            Some(0),
        ),
    ];
    for (i, (s, expected)) in cases.into_iter().enumerate() {
        assert_eq!(abort_at(aborting(s, 0), &seconds), expected, "case {i}");
    }
    // The delay holds a settling value back, and the aborted result says so.
    let rate = aborting(spec(custom("n", CustomStat::CounterRate), Op::Ge, 2.0), 3);
    assert_eq!(abort_at(rate.clone(), &seconds), Some(2));
    let mut a = Aggregator::new(keys());
    a.set_thresholds(vec![rate]);
    for s in &seconds[..3] {
        a.ingest(s);
        a.close_through(s.second);
    }
    let failed = a.check_abort(Duration::from_secs(3)).expect("aborts");
    assert_eq!((failed.value, failed.aborted_run), (Some(1.0), true));
    let r = a.finish_with_thresholds(meta(), 3.0);
    assert_eq!(r.run.status, RunStatus::Aborted);
}
