//! Custom metrics on the wire: agents' counters, trends and gauges reach the controller exactly,
//! and a peer's mistakes are errors naming the metric.

use prost::Message;
use stampede_metrics::custom::MAX_CUSTOM_METRICS;
use stampede_metrics::result::{CustomMetricRow, RunMeta, RunStatus};
use stampede_metrics::{
    Aggregator, CustomKind, CustomStats, IntervalRecorder, RequestKey, RunResult, Snapshot,
};
use stampede_proto::{pb, snapshot_from_wire, snapshot_to_wire};

fn drain(r: &mut IntervalRecorder, second: u32) -> Snapshot {
    let mut s = Snapshot::new(second);
    r.drain_into(&mut s);
    s
}

fn over_the_wire(s: &Snapshot) -> Snapshot {
    let bytes = snapshot_to_wire("run", s).expect("encodes").encode_to_vec();
    let wire = pb::IntervalSnapshot::decode(bytes.as_slice()).expect("protobuf decodes");
    snapshot_from_wire(&wire).expect("converts")
}

fn result_of(snapshots: &[Snapshot]) -> RunResult {
    let mut a = Aggregator::new(vec![RequestKey {
        scenario: "s".into(),
        name: "/".into(),
        method: "GET".into(),
    }]);
    for s in snapshots {
        a.ingest(s);
    }
    let meta = RunMeta {
        tool_version: "t".into(),
        scenario_file: "s.yaml".into(),
        target: "http://127.0.0.1:1".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        planned_duration_s: 3.0,
        load: "3 agents".into(),
        status: RunStatus::Completed,
    };
    a.finish(meta, 3.0)
}

/// What agent `agent` records in `second`: the same names on every agent, different values.
fn agent_second(agent: u64, second: u32) -> Snapshot {
    let mut r = IntervalRecorder::new();
    for i in 0..500u64 {
        let x = agent * 1_000 + u64::from(second) * 10 + i;
        r.add_counter("orders", (x % 4) as f64);
        r.record_trend("order_value", ((x * 7_919) % 100_000) as f64 / 4.0);
        r.set_gauge_at(
            "basket",
            (x % 13) as f64,
            u64::from(second) * 1_000 + (x % 977),
        );
    }
    r.record_trend("order_value", f64::NAN);
    drain(&mut r, second)
}

#[test]
fn the_controller_merges_agents_custom_metrics_exactly() {
    let mut direct = Vec::new();
    let mut via_wire = Vec::new();
    let mut single_snapshots = Vec::new();
    for second in 0..3 {
        for agent in 0..3 {
            let s = agent_second(agent, second);
            via_wire.push(over_the_wire(&s));
            direct.push(s);
        }
        // One snapshot holding every agent's updates of the second.
        let mut merged = Snapshot::new(second);
        for s in &direct[direct.len() - 3..] {
            merged.merge(s);
        }
        single_snapshots.push(merged);
    }
    let (a, b, c) = (
        result_of(&direct),
        result_of(&via_wire),
        result_of(&single_snapshots),
    );
    assert_eq!(a.custom_metrics.len(), 3);
    assert_eq!(
        a.custom_metrics, b.custom_metrics,
        "the wire changes nothing"
    );
    assert_eq!(a.custom_metrics, c.custom_metrics);
    assert_eq!(a.warnings, b.warnings);
    assert!(
        a.warnings
            .iter()
            .any(|w| w.contains("`order_value`: 9 values rejected")),
        "{:?}",
        a.warnings
    );
    let timeline = |r: &RunResult| -> Vec<_> {
        r.timeline
            .iter()
            .map(|p| p.custom_counters.clone())
            .collect()
    };
    assert_eq!(timeline(&a), timeline(&b));
    match &b.custom_metrics[0] {
        CustomMetricRow::Gauge { name, sets, .. } => {
            assert_eq!((name.as_str(), *sets), ("basket", 4_500));
        }
        other => panic!("gauges sort first by name: {other:?}"),
    }
}

#[test]
fn dropped_names_and_rejections_travel_too() {
    let mut r = IntervalRecorder::new();
    for i in 0..MAX_CUSTOM_METRICS {
        r.add_counter(&format!("c{i}"), 1.0);
    }
    r.add_counter("order_1", 1.0);
    r.add_counter("order_2", 1.0);
    r.set_gauge("c0", f64::NAN);
    let s = drain(&mut r, 0);
    let back = over_the_wire(&s);
    assert_eq!(back.custom.dropped(), s.custom.dropped());
    // The gauge `c0` is a metric past the limit too (the counter `c0` is another metric).
    assert_eq!(back.custom.dropped().names(), 3);
    assert_eq!(back.custom.dropped().updates, 3);
    assert_eq!(back.custom.dropped().example(), Some("c0"));
    // On another agent the same name is dropped too: one name, not two.
    let mut other = IntervalRecorder::new();
    for i in 0..MAX_CUSTOM_METRICS {
        other.add_counter(&format!("c{i}"), 1.0);
    }
    other.add_counter("order_1", 5.0);
    let result = result_of(&[back, over_the_wire(&drain(&mut other, 0))]);
    assert!(
        result.warnings[0].starts_with("3 custom metric names dropped (limit 1000)"),
        "{:?}",
        result.warnings
    );
}

#[test]
fn an_older_agent_without_custom_metrics_is_understood() {
    let wire = pb::IntervalSnapshot {
        second: 4,
        ..Default::default()
    };
    let s = snapshot_from_wire(&wire).unwrap();
    assert!(s.custom.is_empty());
    // And a snapshot without custom metrics sends none.
    let wire = snapshot_to_wire("r", &Snapshot::new(1)).unwrap();
    assert!(wire.custom_metrics.is_empty() && wire.custom_dropped.is_none());
}

#[test]
fn gauges_take_the_snapshots_second_so_later_seconds_win() {
    let mut r = IntervalRecorder::new();
    r.set_gauge_at("g", 1.0, 9_000);
    let early = over_the_wire(&drain(&mut r, 0));
    r.set_gauge_at("g", 2.0, 1); // a skewed clock, but a later second
    let late = over_the_wire(&drain(&mut r, 1));
    match &late.custom.get("g", CustomKind::Gauge).unwrap().stats {
        CustomStats::Gauge(g) => assert_eq!((g.second, g.stamp_ns), (1, 1)),
        other => panic!("{other:?}"),
    }
    let result = result_of(&[late, early]);
    assert!(matches!(
        &result.custom_metrics[0],
        CustomMetricRow::Gauge { last, .. } if *last == 2.0
    ));
}

#[test]
fn invalid_custom_metrics_are_errors_naming_the_metric() {
    let mut r = IntervalRecorder::new();
    r.add_counter("c", 1.0);
    r.record_trend("t", 5.0);
    r.record_trend("t", 7.0);
    r.set_gauge_at("g", 3.0, 1);
    let good = snapshot_to_wire("r", &drain(&mut r, 0)).unwrap();
    let index = |kind: &str| {
        good.custom_metrics
            .iter()
            .position(|m| m.name == kind)
            .unwrap()
    };
    let (c, t, g) = (index("c"), index("t"), index("g"));
    let check = |wire: pb::IntervalSnapshot, expected: &str| {
        let err = snapshot_from_wire(&wire).expect_err(expected).to_string();
        assert!(
            err.contains(expected),
            "{err:?} should contain {expected:?}"
        );
    };
    use pb::custom_metric::Kind;

    let mut bad = good.clone();
    bad.custom_metrics[c].kind = None;
    check(bad, "custom metric `c` has no kind");

    let mut bad = good.clone();
    bad.custom_metrics.push(good.custom_metrics[t].clone());
    check(bad, "custom trend `t` appears more than once");

    let mut bad = good.clone();
    if let Some(Kind::Counter(x)) = &mut bad.custom_metrics[c].kind {
        x.sum = f64::NAN;
    }
    check(bad, "custom counter `c`: its sum is not finite");

    let mut bad = good.clone();
    if let Some(Kind::Trend(x)) = &mut bad.custom_metrics[t].kind {
        x.count = 3;
    }
    check(
        bad,
        "custom trend `t`: its histogram does not hold `count` values",
    );

    let mut bad = good.clone();
    if let Some(Kind::Trend(x)) = &mut bad.custom_metrics[t].kind {
        x.min = -1.0;
    }
    check(bad, "custom trend `t`: min and max");

    let mut bad = good.clone();
    if let Some(Kind::Trend(x)) = &mut bad.custom_metrics[t].kind {
        x.hdr.truncate(9);
    }
    check(bad, "custom trend `t` histogram");

    let mut bad = good.clone();
    if let Some(Kind::Gauge(x)) = &mut bad.custom_metrics[g].kind {
        x.last = 99.0;
    }
    check(bad, "custom gauge `g`: last is outside [min, max]");

    // The same name as two kinds is two metrics, not a duplicate.
    let mut fine = good.clone();
    let mut as_gauge = good.custom_metrics[g].clone();
    as_gauge.name = "c".into();
    fine.custom_metrics.push(as_gauge);
    assert_eq!(snapshot_from_wire(&fine).unwrap().custom.len(), 4);
}
