//! Snapshots survive the wire exactly, and hostile wire input is an error, never a panic.

use proptest::prelude::*;
use prost::Message;
use stampede_metrics::{
    CheckFailure, CustomSet, CustomStats, ErrorKind, IntervalRecorder, Outcome, Snapshot,
    StepStats, Timings,
};
use stampede_proto::hdr::HdrCodec;
use stampede_proto::{CheckedSnapshot, merge_batch, pb, snapshot_from_wire, snapshot_to_wire};

/// Small deterministic generator (xorshift64*), so the test needs no RNG crate and is repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A latency-like value: mostly tens of ms, with a long tail up to seconds.
    fn latency_us(&mut self) -> u64 {
        let base = 2_000 + self.below(60_000);
        match self.below(100) {
            0 => base * 50,
            1..=5 => base * 5,
            _ => base,
        }
    }
}

/// One second of `rows` request rows at `per_row` requests each, with realistic outcomes: mostly
/// 200s, some 404/500, failed checks, transport errors, phases on new connections.
fn realistic(second: u32, rows: u32, per_row: u64, seed: u64) -> Snapshot {
    let mut rng = Rng(seed | 1);
    let mut rec = IntervalRecorder::new();
    let failed = CheckFailure {
        check: "status in [200, 201]".into(),
        detail: "got 500".into(),
    };
    for row in 0..rows {
        for _ in 0..per_row {
            let roll = rng.below(1000);
            if roll < 5 {
                let kind = ErrorKind::ALL[rng.below(ErrorKind::COUNT as u64) as usize];
                rec.record(
                    row,
                    &Outcome::Error {
                        kind,
                        bytes_out: 120,
                        message: &format!("{kind} talking to 127.0.0.1"),
                    },
                );
                continue;
            }
            let latency_us = rng.latency_us();
            let (status, failed_check) = match roll {
                5..=14 => (500, Some(&failed)),
                15..=30 => (404, None),
                _ => (200, None),
            };
            rec.record(
                row,
                &Outcome::Response {
                    status,
                    latency_us,
                    service_us: latency_us - latency_us / 10,
                    bytes_in: 300 + rng.below(20_000),
                    bytes_out: 150,
                    failed_check,
                },
            );
            let fresh = rng.below(10) == 0;
            rec.record_timings(
                row,
                &Timings {
                    connect_us: fresh.then_some(300 + rng.below(500)),
                    tls_us: fresh.then_some(1_500 + rng.below(2_000)),
                    ttfb_us: latency_us / 2 + 1,
                },
            );
        }
    }
    for scenario in 0..3 {
        for _ in 0..rng.below(40) {
            rec.record_scenario_iteration(scenario);
        }
    }
    rec.record_dropped(1, 3);
    rec.record_interrupted(2);
    rec.record_pacing_overrun(0);
    rec.record_lag(rng.below(5_000));
    rec.record_lag(0);
    for _ in 0..20 {
        rec.add_counter("carts", (1 + rng.below(3)) as f64);
        rec.record_trend("cart_size", rng.below(50_000) as f64 / 100.0);
        rec.set_gauge_at("queue", rng.below(100) as f64, seed + rng.below(1_000));
    }
    rec.record_trend("cart_size", -1.0); // rejected, and counted
    let mut snapshot = Snapshot::new(second);
    rec.drain_into(&mut snapshot);
    snapshot.users = 1_000;
    snapshot
}

const QUANTILES: [f64; 9] = [0.0, 0.1, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0];

fn same_histogram(a: &hdrhistogram::Histogram<u64>, b: &hdrhistogram::Histogram<u64>, what: &str) {
    assert_eq!(a, b, "{what}");
    assert_eq!(a.len(), b.len(), "{what} count");
    assert_eq!((a.min(), a.max()), (b.min(), b.max()), "{what} min/max");
    assert_eq!(a.mean().to_bits(), b.mean().to_bits(), "{what} mean");
    for q in QUANTILES {
        assert_eq!(
            a.value_at_quantile(q),
            b.value_at_quantile(q),
            "{what} p{q}"
        );
    }
}

fn same_stats(a: &StepStats, b: &StepStats, row: u32) {
    assert_eq!(
        (a.requests, a.failures, a.bytes_in, a.bytes_out),
        (b.requests, b.failures, b.bytes_in, b.bytes_out),
        "row {row} counters"
    );
    assert_eq!(a.errors, b.errors, "row {row} errors");
    assert_eq!(a.error_samples, b.error_samples, "row {row} error samples");
    assert_eq!(a.status, b.status, "row {row} status");
    assert_eq!(a.checks, b.checks, "row {row} checks");
    same_histogram(&a.latency, &b.latency, &format!("row {row} latency"));
    same_histogram(&a.service, &b.service, &format!("row {row} service"));
    match (&a.phases, &b.phases) {
        (None, None) => {}
        (Some(x), Some(y)) => {
            same_histogram(&x.connect, &y.connect, "connect");
            same_histogram(&x.tls, &y.tls, "tls");
            same_histogram(&x.ttfb, &y.ttfb, "ttfb");
        }
        _ => panic!("row {row}: phases present on one side only"),
    }
}

fn same_snapshot(a: &Snapshot, b: &Snapshot) {
    assert_eq!(
        (a.second, a.users, a.iterations),
        (b.second, b.users, b.iterations)
    );
    assert_eq!(
        (a.dropped_iterations, a.interrupted_iterations),
        (b.dropped_iterations, b.interrupted_iterations)
    );
    assert_eq!(a.scenarios, b.scenarios);
    same_histogram(&a.scheduler_lag, &b.scheduler_lag, "scheduler lag");
    assert_eq!(a.steps.len(), b.steps.len(), "row count");
    for ((ia, sa), (ib, sb)) in a.steps.iter().zip(&b.steps) {
        assert_eq!(ia, ib);
        same_stats(sa, sb, *ia);
    }
    same_custom(&a.custom, &b.custom);
}

/// Every custom metric, with every figure and trend bucket, and the dropped names.
fn same_custom(a: &CustomSet, b: &CustomSet) {
    assert_eq!(a.len(), b.len(), "custom metric count");
    assert_eq!(a.dropped(), b.dropped(), "dropped names");
    for m in a.iter() {
        let other = b.get(&m.name, m.kind()).expect("the same metrics");
        let what = format!("custom {} {}", m.kind(), m.name);
        assert_eq!(m.rejected, other.rejected, "{what} rejected");
        match (&m.stats, &other.stats) {
            (CustomStats::Counter(x), CustomStats::Counter(y)) => assert_eq!(x, y, "{what}"),
            (CustomStats::Gauge(x), CustomStats::Gauge(y)) => assert_eq!(x, y, "{what}"),
            (CustomStats::Trend(x), CustomStats::Trend(y)) => {
                assert_eq!(
                    (x.count, x.sum.to_bits(), x.min, x.max),
                    (y.count, y.sum.to_bits(), y.min, y.max),
                    "{what}"
                );
                same_histogram(&x.histogram, &y.histogram, &what);
            }
            _ => panic!("{what}: kinds differ"),
        }
    }
}

/// Through protobuf bytes too, as it really travels.
fn over_the_wire(snapshot: &Snapshot) -> (Snapshot, usize) {
    let wire = snapshot_to_wire("run-1", snapshot).expect("encodes");
    let bytes = wire.encode_to_vec();
    let decoded = pb::IntervalSnapshot::decode(bytes.as_slice()).expect("protobuf decodes");
    assert_eq!(decoded.run_id, "run-1");
    (snapshot_from_wire(&decoded).expect("converts"), bytes.len())
}

#[test]
fn a_snapshot_with_many_rows_round_trips_exactly() {
    let original = realistic(7, 200, 40, 42);
    assert_eq!(original.steps.len(), 200);
    assert_eq!(original.custom.len(), 3, "a counter, a trend and a gauge");
    assert!(original.steps.iter().any(|(_, s)| s.error_count() > 0));
    assert!(original.steps.iter().any(|(_, s)| !s.checks.is_empty()));
    let (back, _) = over_the_wire(&original);
    same_snapshot(&original, &back);
}

#[test]
fn merging_decoded_snapshots_equals_merging_the_originals() {
    let parts: Vec<Snapshot> = (0..4).map(|i| realistic(3, 20, 50, 100 + i)).collect();
    let mut direct = Snapshot::new(3);
    let mut via_wire = Snapshot::new(3);
    // The controller's way: each agent's report checked where it arrives (one codec per session),
    // then its buckets added straight into the second's total.
    let mut via_checked = Snapshot::new(3);
    let mut codec = HdrCodec::new();
    let mut batch = Vec::new();
    for p in &parts {
        direct.merge(p);
        via_wire.merge(&over_the_wire(p).0);
        let wire = snapshot_to_wire("run-1", p).expect("encodes");
        let checked = CheckedSnapshot::check(wire, &mut codec).expect("checks");
        assert_eq!(checked.second(), 3);
        assert_eq!(checked.requests(), p.requests());
        checked.merge_into(&mut via_checked);
        // For the batch below, rows in reverse order in every other snapshot: the merge groups
        // them by id whatever the order.
        let mut wire = snapshot_to_wire("run-1", p).unwrap();
        if batch.len() % 2 == 1 {
            wire.rows.reverse();
        }
        batch.push(CheckedSnapshot::check(wire, &mut codec).expect("checks"));
    }
    same_snapshot(&direct, &via_wire);
    same_snapshot(&direct, &via_checked);
    // Histogram by histogram, in one batch.
    let mut via_batch = Snapshot::new(3);
    merge_batch(&batch, &mut via_batch);
    same_snapshot(&direct, &via_batch);
    // Decoded histograms grow: merging a larger value into a decoded snapshot cannot fail.
    let mut decoded = over_the_wire(&parts[0]).0;
    let mut big = realistic(3, 1, 1, 9);
    big.steps[0].1.latency.record(3_600_000_000).unwrap();
    decoded.merge(&big);
}

#[test]
fn an_empty_snapshot_is_tiny() {
    let empty = Snapshot::new(0);
    let (back, size) = over_the_wire(&empty);
    same_snapshot(&empty, &back);
    assert!(size < 16, "{size} bytes");
}

/// Bandwidth estimate for capacity planning: printed with `--nocapture`.
#[test]
fn size_of_a_realistic_50_row_snapshot() {
    for (per_row, label) in [(20, "1,000 req/s"), (200, "10,000 req/s")] {
        let snapshot = realistic(1, 50, per_row, 7);
        let (back, size) = over_the_wire(&snapshot);
        same_snapshot(&snapshot, &back);
        println!(
            "realistic snapshot, 50 rows, {label}: {size} bytes per agent per second \
             ({:.1} KiB/s)",
            size as f64 / 1024.0
        );
        assert!(size < 256 * 1024, "{size} bytes is unexpectedly large");
    }
}

fn row(n: u32) -> pb::RowStats {
    pb::RowStats {
        row: n,
        requests: 1,
        ..Default::default()
    }
}

#[test]
fn invalid_wire_snapshots_are_errors_naming_the_row() {
    let check = |wire: pb::IntervalSnapshot, expected: &str| {
        let err = snapshot_from_wire(&wire).expect_err(expected).to_string();
        assert!(
            err.contains(expected),
            "{err:?} should contain {expected:?}"
        );
    };
    let good = snapshot_to_wire("r", &realistic(0, 3, 10, 5)).unwrap();

    let mut bad = good.clone();
    bad.rows[1].latency_hdr.truncate(10);
    check(bad, &format!("row {} latency histogram", good.rows[1].row));

    let mut bad = good.clone();
    bad.rows[0].errors_by_kind = vec![1; ErrorKind::COUNT + 1];
    check(bad, "error kinds sent");

    let mut bad = good.clone();
    bad.rows[0].status.insert(70_000, 1);
    check(bad, "status code 70000");

    let mut bad = good.clone();
    bad.rows.push(row(good.rows[0].row));
    check(bad, "appears more than once");

    let mut bad = good.clone();
    bad.rows[0].error_samples.push(pb::ErrorSample {
        kind: 99,
        message: "?".into(),
    });
    check(bad, "unknown kind 99");

    let mut bad = good;
    bad.scheduler_lag_hdr = vec![0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0];
    check(bad, "scheduler lag histogram");
}

#[test]
fn unsorted_rows_are_sorted_on_decode() {
    let wire = pb::IntervalSnapshot {
        rows: vec![row(5), row(1), row(3)],
        ..Default::default()
    };
    let s = snapshot_from_wire(&wire).unwrap();
    let ids: Vec<u32> = s.steps.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [1, 3, 5]);
}

#[test]
fn error_kinds_keep_the_order_the_proto_documents() {
    // agent.proto lists errors_by_kind in this order; reordering ErrorKind breaks the wire.
    let names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "connect_refused",
            "connect_timeout",
            "dns",
            "tls",
            "timeout",
            "reset",
            "bad_response",
            "io",
            "script",
            "unset_variable"
        ]
    );
    let proto = include_str!("../../../proto/stampede/v1/agent.proto");
    assert!(proto.contains(
        "connect_refused, connect_timeout, dns,\n  // tls, timeout, reset, bad_response, io, script, unset_variable"
    ));
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arbitrary bytes never panic the protobuf decoder or the conversion.
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(wire) = pb::IntervalSnapshot::decode(bytes.as_slice()) {
            let _ = snapshot_from_wire(&wire);
        }
    }

    /// Real snapshots with a few bytes overwritten never panic either.
    #[test]
    fn mutated_snapshots_never_panic(
        seed in 1u64..1_000,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = snapshot_to_wire("r", &realistic(0, 4, 30, seed)).unwrap().encode_to_vec();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(wire) = pb::IntervalSnapshot::decode(bytes.as_slice()) {
            let _ = snapshot_from_wire(&wire);
        }
    }
}
