//! `stampede_metrics::Snapshot` ⇄ `pb::IntervalSnapshot`.
//!
//! The conversion is lossless: every count, every histogram bucket (hence every percentile), every
//! sample message, every per-scenario counter and every custom metric (`custom.rs`) survives the
//! trip, so a controller merging wire snapshots gets exactly what one machine would have recorded.
//! Decoding never trusts the peer: out-of-range values, duplicate rows and bad histograms are
//! errors naming the row and field.

use crate::custom::{custom_from_wire, custom_to_wire};
use crate::hdr::{HdrCodec, HdrError};
use crate::pb;
use stampede_metrics::{
    CheckFailure, CustomKind, ErrorKind, Outcome, PhaseStats, ScenarioCounts, Snapshot, StepStats,
};

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
    let mut codec = HdrCodec::new();
    let mut decode = |bytes: &[u8], row, name: &str| {
        codec
            .decode(bytes)
            .map_err(|source| SnapshotError::Histogram {
                field: field(row, name),
                source,
            })
    };
    let mut snapshot = Snapshot::new(wire.second);
    snapshot.users = wire.users;
    snapshot.iterations = wire.iterations;
    snapshot.dropped_iterations = wire.dropped_iterations;
    snapshot.interrupted_iterations = wire.interrupted_iterations;
    snapshot.scenarios = (wire.scenarios.iter())
        .map(|c| ScenarioCounts {
            iterations: c.iterations,
            dropped: c.dropped,
            interrupted: c.interrupted,
            pacing_overruns: c.pacing_overruns,
        })
        .collect();
    snapshot.scheduler_lag = decode(&wire.scheduler_lag_hdr, None, "scheduler lag")?;

    let mut steps: Vec<(u32, StepStats)> = Vec::with_capacity(wire.rows.len());
    let mut scratch = StepStats::default();
    for r in &wire.rows {
        let row = Some(r.row);
        let mut stats = StepStats {
            requests: r.requests,
            failures: r.failures,
            bytes_in: r.bytes_in,
            bytes_out: r.bytes_out,
            latency: decode(&r.latency_hdr, row, "latency")?,
            service: decode(&r.service_hdr, row, "service")?,
            ..StepStats::default()
        };
        if r.errors_by_kind.len() > ErrorKind::COUNT {
            return Err(SnapshotError::TooManyErrorKinds {
                row: r.row,
                count: r.errors_by_kind.len(),
                known: ErrorKind::COUNT,
            });
        }
        stats.errors[..r.errors_by_kind.len()].copy_from_slice(&r.errors_by_kind);
        for sample in &r.error_samples {
            let slot = (stats.error_samples.get_mut(sample.kind as usize)).ok_or(
                SnapshotError::UnknownErrorKind {
                    row: r.row,
                    kind: sample.kind,
                },
            )?;
            *slot = Some(sample.message.clone());
        }
        // A BTreeMap on the wire: codes arrive sorted, as `StepStats::status` keeps them.
        for (&code, &n) in &r.status {
            let code =
                u16::try_from(code).map_err(|_| SnapshotError::BadStatus { row: r.row, code })?;
            stats.status.push((code, n));
        }
        for c in &r.checks {
            // `stampede_metrics` does not export its `CheckCount` type (only the field is public),
            // so one is made by recording a failed check into a scratch row and taken from it.
            let failure = CheckFailure {
                check: c.check.clone(),
                detail: c.sample.clone(),
            };
            scratch.record(&Outcome::Response {
                status: 0,
                latency_us: 1,
                service_us: 1,
                bytes_in: 0,
                bytes_out: 0,
                failed_check: Some(&failure),
            });
            if let Some(mut made) = scratch.checks.pop() {
                made.count = c.count;
                stats.checks.push(made);
            }
        }
        if let Some(p) = &r.phases {
            stats.phases = Some(Box::new(PhaseStats {
                connect: decode(&p.connect_hdr, row, "connect")?,
                tls: decode(&p.tls_hdr, row, "tls")?,
                ttfb: decode(&p.ttfb_hdr, row, "ttfb")?,
            }));
        }
        steps.push((r.row, stats));
    }
    steps.sort_by_key(|(id, _)| *id);
    if let Some(w) = steps.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(SnapshotError::DuplicateRow { row: w[0].0 });
    }
    snapshot.steps = steps;
    custom_from_wire(wire, &mut codec, &mut snapshot.custom)?;
    Ok(snapshot)
}
