use super::*;
use crate::result::{CustomMetricRow, RunMeta, RunStatus};
use crate::{Aggregator, IntervalRecorder, RequestKey, RunResult, Snapshot};

fn drain(r: &mut IntervalRecorder, second: u32) -> Snapshot {
    let mut s = Snapshot::new(second);
    r.drain_into(&mut s);
    s
}

fn trend(s: &CustomSet, name: &str) -> TrendStats {
    match &s.get(name, CustomKind::Trend).expect("trend present").stats {
        CustomStats::Trend(t) => t.clone(),
        other => panic!("not a trend: {other:?}"),
    }
}

fn counter(s: &CustomSet, name: &str) -> CounterStats {
    match &s
        .get(name, CustomKind::Counter)
        .expect("counter present")
        .stats
    {
        CustomStats::Counter(c) => c.clone(),
        other => panic!("not a counter: {other:?}"),
    }
}

fn gauge(s: &CustomSet, name: &str) -> GaugeStats {
    match &s.get(name, CustomKind::Gauge).expect("gauge present").stats {
        CustomStats::Gauge(g) => g.clone(),
        other => panic!("not a gauge: {other:?}"),
    }
}

fn meta() -> RunMeta {
    RunMeta {
        tool_version: "test".into(),
        scenario_file: "x.yaml".into(),
        target: "http://127.0.0.1:1".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        planned_duration_s: 2.0,
        load: "1 user".into(),
        status: RunStatus::Completed,
    }
}

fn aggregator() -> Aggregator {
    Aggregator::new(vec![RequestKey {
        scenario: "s".into(),
        name: "/".into(),
        method: "GET".into(),
    }])
}

fn finish(snapshots: &[Snapshot], duration_s: f64) -> RunResult {
    let mut a = aggregator();
    for s in snapshots {
        a.ingest(s);
    }
    a.finish(meta(), duration_s)
}

#[test]
fn shards_merge_to_exactly_what_one_recorder_records() {
    let mut all = IntervalRecorder::new();
    let mut shards = [
        IntervalRecorder::new(),
        IntervalRecorder::new(),
        IntervalRecorder::new(),
    ];
    for i in 0..3000u64 {
        // Halves and whole numbers: every f64 sum is exact, so equality is exact too.
        let delta = (i % 7) as f64 * 0.5;
        let value = ((i * 7919) % 250_000) as f64 / 8.0;
        let shard = &mut shards[(i % 3) as usize];
        for r in [&mut all, shard] {
            r.add_counter("carts", delta);
            r.record_trend("cart_size", value);
            r.set_gauge_at("queue", (i % 11) as f64, 1_000 + i);
        }
    }
    let expected = drain(&mut all, 4);
    let mut merged = Snapshot::new(4);
    // Merge in an order unlike the recording order.
    for shard in shards.iter_mut().rev() {
        merged.merge(&drain(shard, 4));
    }
    assert_eq!(merged.custom.len(), 3);
    assert_eq!(
        counter(&merged.custom, "carts"),
        counter(&expected.custom, "carts")
    );
    let (a, b) = (
        trend(&expected.custom, "cart_size"),
        trend(&merged.custom, "cart_size"),
    );
    assert_eq!(
        (a.count, a.sum, a.min, a.max),
        (b.count, b.sum, b.min, b.max)
    );
    assert_eq!(a.histogram, b.histogram, "bucket-by-bucket equal");
    for q in [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
        assert_eq!(a.quantile(q), b.quantile(q), "q={q}");
    }
    assert_eq!(
        gauge(&merged.custom, "queue"),
        gauge(&expected.custom, "queue")
    );
    assert_eq!(gauge(&merged.custom, "queue").last, (2999 % 11) as f64);
}

#[test]
fn percentiles_of_a_known_distribution() {
    let mut r = IntervalRecorder::new();
    for v in 1..=1000 {
        r.record_trend("whole", f64::from(v));
        // 0.001 .. 1.000: below the 1/1024 resolution of a bucket, within a thousandth.
        r.record_trend("small", f64::from(v) / 1000.0);
        // 1e6 .. 1e9: within 0.1 %.
        r.record_trend("large", f64::from(v) * 1e6);
    }
    let s = drain(&mut r, 0);
    let whole = trend(&s.custom, "whole");
    for (q, want) in [(0.5, 500.0), (0.9, 900.0), (0.95, 950.0), (0.99, 990.0)] {
        assert_eq!(
            whole.quantile(q),
            Some(want),
            "whole numbers are exact, q={q}"
        );
    }
    assert_eq!(
        (whole.min, whole.max, whole.mean()),
        (1.0, 1000.0, Some(500.5))
    );
    let small = trend(&s.custom, "small");
    let large = trend(&s.custom, "large");
    for q in [0.5, 0.9, 0.95, 0.99] {
        let p = small.quantile(q).unwrap();
        assert!((p - q).abs() <= 0.001, "small q={q}: {p}");
        let p = large.quantile(q).unwrap();
        let want = q * 1e9;
        assert!((p - want).abs() <= want * 0.001, "large q={q}: {p}");
    }
    assert_eq!(small.min, 0.001, "min and max are the values themselves");
    assert_eq!(large.max, 1e9);
}

#[test]
fn result_rows_carry_every_figure_by_kind() {
    let mut r = IntervalRecorder::new();
    for v in 1..=100 {
        r.record_trend("cart_size", f64::from(v));
    }
    r.add_counter("carts", 3.0);
    r.add_counter("carts", 1.0);
    r.set_gauge_at("queue", 7.0, 10);
    r.set_gauge_at("queue", 2.0, 20);
    let first = drain(&mut r, 0);
    r.add_counter("carts", 6.0);
    r.set_gauge_at("queue", 4.0, 5); // a later second wins even with an earlier stamp
    let second = drain(&mut r, 1);
    let result = finish(&[first, second], 2.0);
    assert_eq!(
        result.custom_metrics,
        [
            CustomMetricRow::Trend {
                name: "cart_size".into(),
                count: 100,
                min: 1.0,
                max: 100.0,
                mean: 50.5,
                p50: 50.0,
                p90: 90.0,
                p95: 95.0,
                p99: 99.0
            },
            CustomMetricRow::Counter {
                name: "carts".into(),
                total: 10.0,
                rate: 5.0,
                adds: 3
            },
            CustomMetricRow::Gauge {
                name: "queue".into(),
                last: 4.0,
                min: 2.0,
                max: 7.0,
                sets: 3
            },
        ],
        "by name (`cart_size` < `carts`), then kind"
    );
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    let counters: Vec<_> = result.timeline.iter().map(|p| &p.custom_counters).collect();
    assert_eq!(counters[0].get("carts"), Some(&4.0));
    assert_eq!(counters[1].get("carts"), Some(&6.0));
    let json = serde_json::to_value(&result).unwrap();
    assert_eq!(json["custom_metrics"][0]["kind"], "trend");
    assert_eq!(json["custom_metrics"][1]["total"], 10.0);
    assert_eq!(json["custom_metrics"][2]["last"], 4.0);
    assert_eq!(json["timeline"][0]["custom_counters"]["carts"], 4.0);
    let back: RunResult = serde_json::from_value(json).unwrap();
    assert_eq!(back, result, "the JSON round-trips");
}

#[test]
fn gauge_last_wins_across_shards_whatever_the_merge_order() {
    let sets = [(5.0, 300), (3.0, 900), (9.0, 600), (1.0, 100)];
    let shards: Vec<Snapshot> = sets
        .iter()
        .map(|&(value, stamp)| {
            let mut r = IntervalRecorder::new();
            r.set_gauge_at("queue", value, stamp);
            drain(&mut r, 2)
        })
        .collect();
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]] {
        let mut merged = Snapshot::new(2);
        for i in order {
            merged.merge(&shards[i]);
        }
        let g = gauge(&merged.custom, "queue");
        assert_eq!(
            (g.last, g.min, g.max, g.sets),
            (3.0, 1.0, 9.0, 4),
            "{order:?}"
        );
    }
    // Equal stamps on two shards: the larger value, in either order.
    let tie = |v: f64| {
        let mut r = IntervalRecorder::new();
        r.set_gauge_at("g", v, 42);
        drain(&mut r, 0)
    };
    for (a, b) in [(tie(1.0), tie(2.0)), (tie(2.0), tie(1.0))] {
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(gauge(&m.custom, "g").last, 2.0);
    }
    // Within one recorder the later call wins, and the wall clock stamps `set_gauge`.
    let mut r = IntervalRecorder::new();
    r.set_gauge("live", 1.0);
    r.set_gauge("live", 0.5);
    let g = gauge(&drain(&mut r, 0).custom, "live");
    assert_eq!((g.last, g.sets), (0.5, 2));
    assert!(g.stamp_ns > 1_600_000_000_000_000_000, "a Unix-ns stamp");
}

#[test]
fn the_same_name_as_two_kinds_is_two_metrics() {
    let mut r = IntervalRecorder::new();
    r.add_counter("x", 1.0);
    r.record_trend("x", 5.0);
    let s = drain(&mut r, 0);
    assert_eq!(s.custom.len(), 2);
    assert_eq!(counter(&s.custom, "x").sum, 1.0);
    assert_eq!(trend(&s.custom, "x").count, 1);
    assert!(s.custom.get("x", CustomKind::Gauge).is_none());
}

#[test]
fn invalid_values_are_rejected_counted_and_reported() {
    let mut r = IntervalRecorder::new();
    r.add_counter("c", f64::NAN);
    r.add_counter("c", 2.0);
    r.record_trend("t", -1.0);
    r.record_trend("t", f64::INFINITY);
    r.record_trend("t", 0.0);
    r.set_gauge("g", f64::NEG_INFINITY);
    let s = drain(&mut r, 0);
    let rejected = |name, kind| s.custom.get(name, kind).unwrap().rejected;
    assert_eq!(rejected("c", CustomKind::Counter), 1);
    assert_eq!(rejected("t", CustomKind::Trend), 2);
    assert_eq!(rejected("g", CustomKind::Gauge), 1);
    assert_eq!(counter(&s.custom, "c").sum, 2.0);
    assert_eq!(trend(&s.custom, "t").count, 1, "0 is a valid trend value");
    let result = finish(&[s], 1.0);
    assert_eq!(
        result.warnings,
        [
            "custom counter `c`: 1 values rejected (not a finite number)",
            "custom gauge `g`: 1 values rejected (not a finite number)",
            "custom trend `t`: 2 values rejected (not a finite number >= 0)",
        ]
    );
    let gauge_row = result.custom_metrics.iter().find(|m| m.name() == "g");
    assert_eq!(
        gauge_row,
        Some(&CustomMetricRow::Gauge {
            name: "g".into(),
            last: 0.0,
            min: 0.0,
            max: 0.0,
            sets: 0
        }),
        "a metric with only rejected values has zeros, not infinities"
    );
}

#[test]
fn names_past_the_limit_are_dropped_counted_and_warned_about() {
    let mut r = IntervalRecorder::new();
    for i in 0..MAX_CUSTOM_METRICS {
        r.add_counter(&format!("c{i:04}"), 1.0);
    }
    for round in 0..2 {
        for name in ["zz_order_17", "zz_order_3", "zz_order_99"] {
            r.record_trend(name, f64::from(round));
        }
    }
    r.add_counter("c0000", 1.0); // known names keep working
    let s = drain(&mut r, 0);
    assert_eq!(s.custom.len(), MAX_CUSTOM_METRICS);
    assert_eq!(counter(&s.custom, "c0000").sum, 2.0);
    let d = s.custom.dropped();
    assert_eq!((d.names(), d.updates), (3, 6));
    assert_eq!(d.example(), Some("zz_order_17"), "the smallest name");

    // Another shard with names the first did not have: the run keeps 1000 in all.
    let mut other = IntervalRecorder::new();
    for i in 0..10 {
        other.add_counter(&format!("other{i}"), 1.0);
    }
    other.record_trend("zz_order_3", 1.0); // already dropped elsewhere: counted once
    let result = finish(&[s, drain(&mut other, 0)], 1.0);
    assert_eq!(result.custom_metrics.len(), MAX_CUSTOM_METRICS);
    assert!(result.custom_metrics.iter().all(|m| m.name() != "other0"));
    let warning = result
        .warnings
        .iter()
        .find(|w| w.contains("dropped"))
        .expect("a warning");
    assert_eq!(
        warning,
        "13 custom metric names dropped (limit 1000) (e.g. `other0`): 17 updates not \
         recorded; use fewer distinct names (do not put ids in them)"
    );
}

#[test]
fn dropped_names_are_counted_up_to_the_tracking_limit_then_saturate() {
    let mut d = DroppedNames::from_parts(0, 0..MAX_DROPPED_NAMES_TRACKED as u64, false, None);
    assert!(!d.saturated());
    d.merge(&DroppedNames::from_parts(1, [1, 2, u64::MAX], false, None));
    assert_eq!(d.names(), MAX_DROPPED_NAMES_TRACKED);
    assert!(d.saturated(), "a new hash past the limit");
    let long = "n".repeat(500);
    let e = DroppedNames::from_parts(1, [], false, Some(long));
    assert_eq!(e.example().map(str::len), Some(100), "examples are cut");
}

#[test]
fn the_recorder_keeps_its_names_and_sends_only_what_changed() {
    let mut r = IntervalRecorder::new();
    r.add_counter("a", 1.0);
    r.record_trend("b", 1.0);
    let first = drain(&mut r, 0);
    assert_eq!(first.custom.len(), 2);
    r.add_counter("a", 1.0);
    let second = drain(&mut r, 1);
    assert_eq!(second.custom.len(), 1, "b had no update in second 1");
    assert!(drain(&mut r, 2).custom.is_empty());
    // The names stay: the limit is per run, not per interval.
    for i in 2..MAX_CUSTOM_METRICS {
        r.add_counter(&format!("n{i}"), 1.0);
    }
    drain(&mut r, 3);
    r.add_counter("one_too_many", 1.0);
    r.record_trend("b", 2.0);
    let last = drain(&mut r, 4);
    assert_eq!(last.custom.dropped().names(), 1);
    assert_eq!(trend(&last.custom, "b").count, 1);
}

#[test]
fn the_timeline_keeps_20_counters_and_says_so() {
    let mut snapshots = Vec::new();
    for second in 0..2 {
        let mut r = IntervalRecorder::new();
        for i in 0..25 {
            r.add_counter(&format!("k{i:02}"), f64::from(second + 1));
        }
        snapshots.push(drain(&mut r, second as u32));
    }
    let mut a = aggregator();
    a.ingest(&snapshots[0]);
    a.close_through(0);
    a.ingest(&snapshots[1]);
    a.close_through(1);
    // A late shard of second 0 adds to its point.
    let mut late = IntervalRecorder::new();
    late.add_counter("k00", 10.0);
    late.add_counter("k24", 10.0);
    a.ingest(&drain(&mut late, 0));
    let result = a.finish(meta(), 2.0);
    let points: Vec<_> = result.timeline.iter().map(|p| &p.custom_counters).collect();
    assert_eq!(points[0].len(), 20);
    assert_eq!(points[0].get("k00"), Some(&11.0));
    assert_eq!(points[0].get("k24"), None, "past the 20 kept");
    assert_eq!(points[1].get("k19"), Some(&2.0));
    let k24 = result.custom_metrics.iter().find(|m| m.name() == "k24");
    assert!(matches!(k24, Some(CustomMetricRow::Counter { total, .. }) if *total == 13.0));
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.contains("20 custom counters only; the other 5")),
        "{:?}",
        result.warnings
    );
}

#[test]
fn results_without_custom_metrics_still_load_and_omit_nothing_else() {
    let result = finish(&[Snapshot::new(0)], 1.0);
    let mut json = serde_json::to_value(&result).unwrap();
    assert!(
        json["timeline"][0].get("custom_counters").is_none(),
        "an empty map is left out"
    );
    let obj = json.as_object_mut().unwrap();
    obj.remove("custom_metrics");
    obj.remove("warnings");
    let old: RunResult = serde_json::from_value(json).expect("an older result loads");
    assert!(old.custom_metrics.is_empty() && old.warnings.is_empty());
}

#[test]
fn trend_values_above_the_maximum_saturate_the_percentiles_only() {
    let mut r = IntervalRecorder::new();
    r.record_trend("huge", 1e15);
    r.record_trend("huge", 1.0);
    let t = trend(&drain(&mut r, 0).custom, "huge");
    assert_eq!(t.max, 1e15);
    assert_eq!(
        t.histogram.max(),
        t.histogram.highest_equivalent(scale(TREND_MAX))
    );
    assert!(t.histogram.max() < 1 << 48, "within what the wire accepts");
    let p99 = t.quantile(0.99).unwrap();
    assert!((p99 - TREND_MAX).abs() <= TREND_MAX * 0.001, "{p99}");
}
