//! `stampede_metrics::Snapshot` ⇄ `pb::IntervalSnapshot`.
//!
//! The conversion is lossless: every count, every histogram bucket (hence every percentile), every
//! sample message, every per-scenario counter and every custom metric (`custom.rs`) survives the
//! trip, so a controller merging wire snapshots gets exactly what one machine would have recorded.
//! Decoding never trusts the peer: out-of-range values, duplicate rows and bad histograms are
//! errors naming the row and field.

use crate::custom::{custom_from_wire, custom_to_wire};
use crate::hdr::{Bucket, HdrCodec, HdrError, add_buckets};
use crate::pb;
use stampede_metrics::{CustomKind, CustomSet, ErrorKind, ScenarioCounts, Snapshot, StepStats};

/// Why a wire snapshot could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{field}: {source}")]
    Histogram {
        field: String,
        #[source]
        source: HdrError,
    },
    #[error("row {row}: {count} error kinds sent, this version knows {known}")]
    TooManyErrorKinds {
        row: u32,
        count: usize,
        known: usize,
    },
    #[error("row {row}: error sample for unknown kind {kind}")]
    UnknownErrorKind { row: u32, kind: u32 },
    #[error("row {row}: status code {code} is out of range")]
    BadStatus { row: u32, code: u32 },
    #[error("row {row} appears more than once")]
    DuplicateRow { row: u32 },
    #[error("custom metric `{name}` has no kind (counter, trend or gauge)")]
    CustomKindMissing { name: String },
    #[error("custom {kind} `{name}` appears more than once")]
    DuplicateCustomMetric { name: String, kind: CustomKind },
    #[error("custom {kind} `{name}`: {reason}")]
    BadCustomMetric {
        name: String,
        kind: CustomKind,
        reason: &'static str,
    },
}

fn field(row: Option<u32>, name: &str) -> String {
    match row {
        Some(row) => format!("row {row} {name} histogram"),
        None => format!("{name} histogram"),
    }
}

/// Encodes `snapshot` of run `run_id` for the wire.
pub fn snapshot_to_wire(
    run_id: &str,
    snapshot: &Snapshot,
) -> Result<pb::IntervalSnapshot, SnapshotError> {
    let mut codec = HdrCodec::new();
    let mut encode = |h, row, name: &str| {
        codec.encode(h).map_err(|source| SnapshotError::Histogram {
            field: field(row, name),
            source,
        })
    };
    let mut rows = Vec::with_capacity(snapshot.steps.len());
    for (id, stats) in &snapshot.steps {
        let row = Some(*id);
        let phases = match &stats.phases {
            Some(p) => Some(pb::Phases {
                connect_hdr: encode(&p.connect, row, "connect")?,
                tls_hdr: encode(&p.tls, row, "tls")?,
                ttfb_hdr: encode(&p.ttfb, row, "ttfb")?,
            }),
            None => None,
        };
        rows.push(pb::RowStats {
            row: *id,
            requests: stats.requests,
            failures: stats.failures,
            errors_by_kind: trim_zeros(&stats.errors),
            error_samples: (stats.error_samples.iter().enumerate())
                .filter_map(|(kind, m)| {
                    m.as_ref().map(|message| pb::ErrorSample {
                        kind: kind as u32,
                        message: message.clone(),
                    })
                })
                .collect(),
            bytes_in: stats.bytes_in,
            bytes_out: stats.bytes_out,
            latency_hdr: encode(&stats.latency, row, "latency")?,
            status: (stats.status.iter())
                .map(|&(code, n)| (u32::from(code), n))
                .collect(),
            checks: (stats.checks.iter())
                .map(|c| pb::CheckCount {
                    check: c.check.clone(),
                    count: c.count,
                    sample: c.sample.clone(),
                })
                .collect(),
            service_hdr: encode(&stats.service, row, "service")?,
            phases,
        });
    }
    let scheduler_lag_hdr = encode(&snapshot.scheduler_lag, None, "scheduler lag")?;
    let (custom_metrics, custom_dropped) = custom_to_wire(&snapshot.custom, &mut codec)?;
    Ok(pb::IntervalSnapshot {
        run_id: run_id.to_owned(),
        second: snapshot.second,
        users: snapshot.users,
        iterations: snapshot.iterations,
        rows,
        dropped_iterations: snapshot.dropped_iterations,
        interrupted_iterations: snapshot.interrupted_iterations,
        scenarios: (snapshot.scenarios.iter())
            .map(|c| pb::ScenarioCounts {
                iterations: c.iterations,
                dropped: c.dropped,
                interrupted: c.interrupted,
                pacing_overruns: c.pacing_overruns,
            })
            .collect(),
        scheduler_lag_hdr,
        custom_metrics,
        custom_dropped,
    })
}

/// The error counters without trailing zeros: most rows have none, so most send nothing.
fn trim_zeros(errors: &[u64]) -> Vec<u64> {
    let len = errors.iter().rposition(|&n| n != 0).map_or(0, |i| i + 1);
    errors[..len].to_vec()
}

/// Decodes a wire snapshot. The run id is the caller's business (it routes the snapshot).
pub fn snapshot_from_wire(wire: &pb::IntervalSnapshot) -> Result<Snapshot, SnapshotError> {
    let checked = CheckedSnapshot::check(wire.clone(), &mut HdrCodec::new())?;
    let mut snapshot = Snapshot::new(checked.second());
    checked.merge_into(&mut snapshot);
    Ok(snapshot)
}

/// A wire snapshot that passed every check, its histograms decoded to their non-empty buckets:
/// what a controller merges. Checking happens where the snapshot arrives (the agent's session), so
/// a bad snapshot is refused whole and blamed on its agent; merging cannot fail, and costs the
/// buckets present rather than a dense histogram per row (see [`crate::hdr`]).
#[derive(Debug)]
pub struct CheckedSnapshot {
    /// The counters, as received; the histogram bytes are taken out once decoded.
    wire: pb::IntervalSnapshot,
    buckets: Vec<Bucket>,
    /// Where each histogram's buckets end in `buckets`, in this order: the scheduler lag, then for
    /// each row its latency, service and, when it has phases, connect, TLS and TTFB.
    ends: Vec<usize>,
    /// Per row (in `wire.rows` order), the index in `ends` of its latency histogram.
    row_spans: Vec<usize>,
    custom: CustomSet,
}

/// Histograms of a row, in the order `CheckedSnapshot::ends` lists them.
const LATENCY: usize = 0;
const SERVICE: usize = 1;
const CONNECT: usize = 2;
const TLS: usize = 3;
const TTFB: usize = 4;

impl CheckedSnapshot {
    /// Checks `wire` and decodes its histograms with `codec` (keep one per peer: it reuses its
    /// buffers).
    pub fn check(
        mut wire: pb::IntervalSnapshot,
        codec: &mut HdrCodec,
    ) -> Result<CheckedSnapshot, SnapshotError> {
        let mut buckets = Vec::new();
        let mut ends = Vec::with_capacity(1 + wire.rows.len() * 3);
        let mut row_spans = Vec::with_capacity(wire.rows.len());
        let mut decode = |bytes: &mut Vec<u8>, row, name: &str, ends: &mut Vec<usize>| {
            codec
                .decode_buckets(bytes, &mut buckets)
                .map_err(|source| SnapshotError::Histogram {
                    field: field(row, name),
                    source,
                })?;
            *bytes = Vec::new();
            ends.push(buckets.len());
            Ok::<(), SnapshotError>(())
        };
        decode(
            &mut wire.scheduler_lag_hdr,
            None,
            "scheduler lag",
            &mut ends,
        )?;
        for r in &mut wire.rows {
            let row = Some(r.row);
            check_row(r)?;
            row_spans.push(ends.len());
            decode(&mut r.latency_hdr, row, "latency", &mut ends)?;
            decode(&mut r.service_hdr, row, "service", &mut ends)?;
            if let Some(p) = &mut r.phases {
                decode(&mut p.connect_hdr, row, "connect", &mut ends)?;
                decode(&mut p.tls_hdr, row, "tls", &mut ends)?;
                decode(&mut p.ttfb_hdr, row, "ttfb", &mut ends)?;
            }
        }
        let mut ids: Vec<u32> = wire.rows.iter().map(|r| r.row).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(SnapshotError::DuplicateRow { row: w[0] });
        }
        let mut custom = CustomSet::new();
        custom_from_wire(&wire, codec, &mut custom)?;
        Ok(CheckedSnapshot {
            wire,
            buckets,
            ends,
            row_spans,
            custom,
        })
    }

    /// The interval this snapshot covers.
    pub fn second(&self) -> u32 {
        self.wire.second
    }

    /// Scenario iterations completed in the interval, and those cut off by a stop.
    pub fn iterations(&self) -> (u64, u64) {
        (self.wire.iterations, self.wire.interrupted_iterations)
    }

    /// Total attempts across rows.
    pub fn requests(&self) -> u64 {
        self.wire.rows.iter().map(|r| r.requests).sum()
    }

    /// Adds this snapshot into `into` (another agent's report of the same interval, or an empty
    /// [`Snapshot::new`]): the same result as merging the decoded snapshot, bucket for bucket.
    pub fn merge_into(&self, into: &mut Snapshot) {
        merge_batch(std::slice::from_ref(self), into);
    }

    /// The buckets of histogram `span` (an index in `ends`).
    fn span(&self, span: usize) -> &[Bucket] {
        let start = match span {
            0 => 0,
            _ => self.ends[span - 1],
        };
        &self.buckets[start..self.ends[span]]
    }

    /// The buckets of histogram `which` (`LATENCY`..`TTFB`) of the row at `index` in wire order.
    fn row_histogram(&self, index: usize, which: usize) -> &[Bucket] {
        self.span(self.row_spans[index] + which)
    }
}

/// How many checked snapshots of one interval a controller holds before merging them with
/// [`merge_batch`]: enough for the cache to pay off (measured: docs/benchmarks.md, "Controller
/// ingest"), few enough to bound memory (a 50-row snapshot's buckets take ~0.6 MB).
pub const MERGE_BATCH: usize = 32;

/// Adds checked snapshots of one interval into `into`: the same result as merging each in turn,
/// but histogram by histogram. A second's total holds a few hundred histograms of ~10,000
/// counters (megabytes); adding one agent's snapshot at a time walks all of them and misses the
/// cache on most buckets. Adding every agent's buckets for one histogram before moving to the next
/// keeps that histogram's counters in cache, and agents' buckets for the same row mostly land on
/// the same counters.
pub fn merge_batch(batch: &[CheckedSnapshot], into: &mut Snapshot) {
    // (row id, snapshot, row index in that snapshot), grouped by row id.
    let mut rows: Vec<(u32, usize, usize)> = Vec::new();
    for (s, checked) in batch.iter().enumerate() {
        let w = &checked.wire;
        into.users += w.users;
        into.iterations += w.iterations;
        into.dropped_iterations += w.dropped_iterations;
        into.interrupted_iterations += w.interrupted_iterations;
        if into.scenarios.len() < w.scenarios.len() {
            into.scenarios
                .resize(w.scenarios.len(), ScenarioCounts::default());
        }
        for (to, c) in into.scenarios.iter_mut().zip(&w.scenarios) {
            to.iterations += c.iterations;
            to.dropped += c.dropped;
            to.interrupted += c.interrupted;
            to.pacing_overruns += c.pacing_overruns;
        }
        add_buckets(&mut into.scheduler_lag, checked.span(0));
        into.custom.merge(&checked.custom);
        rows.extend((w.rows.iter().enumerate()).map(|(i, r)| (r.row, s, i)));
    }
    rows.sort_unstable();
    for group in rows.chunk_by(|a, b| a.0 == b.0) {
        let stats = into.step_mut(group[0].0);
        let wire_row = |&(_, s, i): &(u32, usize, usize)| (&batch[s], &batch[s].wire.rows[i], i);
        for (_, r, _) in group.iter().map(wire_row) {
            add_row_counts(stats, r);
        }
        for (which, histogram) in [(LATENCY, &mut stats.latency), (SERVICE, &mut stats.service)] {
            for (checked, _, i) in group.iter().map(wire_row) {
                add_buckets(histogram, checked.row_histogram(i, which));
            }
        }
        let with_phases = || {
            group
                .iter()
                .map(wire_row)
                .filter(|(_, r, _)| r.phases.is_some())
        };
        if with_phases().next().is_none() {
            continue;
        }
        let p = stats.phases.get_or_insert_with(Default::default);
        for (which, histogram) in [
            (CONNECT, &mut p.connect),
            (TLS, &mut p.tls),
            (TTFB, &mut p.ttfb),
        ] {
            for (checked, _, i) in with_phases() {
                add_buckets(histogram, checked.row_histogram(i, which));
            }
        }
    }
}

/// Checks a row's counters (its histograms are checked as they are decoded).
fn check_row(r: &pb::RowStats) -> Result<(), SnapshotError> {
    if r.errors_by_kind.len() > ErrorKind::COUNT {
        return Err(SnapshotError::TooManyErrorKinds {
            row: r.row,
            count: r.errors_by_kind.len(),
            known: ErrorKind::COUNT,
        });
    }
    if let Some(sample) = (r.error_samples.iter()).find(|s| s.kind as usize >= ErrorKind::COUNT) {
        return Err(SnapshotError::UnknownErrorKind {
            row: r.row,
            kind: sample.kind,
        });
    }
    if let Some(&code) = r.status.keys().find(|&&code| u16::try_from(code).is_err()) {
        return Err(SnapshotError::BadStatus { row: r.row, code });
    }
    Ok(())
}

/// Adds a checked row's counters to `stats` (what [`StepStats::merge`] adds, histograms aside).
fn add_row_counts(stats: &mut StepStats, r: &pb::RowStats) {
    stats.requests += r.requests;
    stats.failures += r.failures;
    stats.bytes_in += r.bytes_in;
    stats.bytes_out += r.bytes_out;
    for (to, n) in stats.errors.iter_mut().zip(&r.errors_by_kind) {
        *to += n;
    }
    for sample in &r.error_samples {
        let slot = &mut stats.error_samples[sample.kind as usize];
        if slot.is_none() {
            *slot = Some(sample.message.clone());
        }
    }
    // A BTreeMap on the wire: codes arrive sorted, as `StepStats::status` keeps them.
    for (&code, &n) in &r.status {
        stats.add_status(code as u16, n);
    }
    for c in &r.checks {
        stats.add_check(&c.check, c.count, || c.sample.clone());
    }
}
