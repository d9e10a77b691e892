//! Realistic interval snapshots, recorded with the engine's own [`IntervalRecorder`] and encoded
//! with [`stampede_proto::snapshot_to_wire`] (HDR V2; the session gzips whole messages), exactly as a real agent does.
//!
//! Each row gets a few hundred responses per second with a log-normal latency around a per-row
//! median (2–80 ms), mostly `200` with some `404` and `500` (the `500`s fail a status check),
//! nested phase timings (a few requests open a connection), request and response sizes, and now
//! and then a transport error with its sample message. Encoding is the expensive part of a real
//! agent's report, so a pool of distinct snapshots is built once at start-up and each simulated
//! agent sends one of them per second with its own run id and second number: the controller
//! decodes and merges full-size, varied histograms while the simulator stays cheap.

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use prost::Message as _;
use stampede_metrics::{CheckFailure, ErrorKind, IntervalRecorder, Outcome, Snapshot, Timings};
use stampede_proto::pb;
use std::io::Write;

/// What one pre-built snapshot looks like.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Request rows (r00, r01, ...).
    pub rows: u32,
    /// Mean responses per row per second (each row varies ±30 % around it).
    pub samples: u32,
    /// Virtual users the agent reports.
    pub users: u32,
}

/// A pre-encoded snapshot and the requests it carries (summed over its rows).
#[derive(Clone, Debug)]
pub struct Prepared {
    pub wire: pb::IntervalSnapshot,
    pub requests: u64,
    /// Its size gzipped as the session sends it (run id and second aside).
    pub gzip_len: usize,
}

/// The size of `message` gzipped as tonic does (level 6), i.e. what it weighs on the wire.
pub fn gzip_len(message: &[u8]) -> usize {
    let mut gz = GzEncoder::new(Vec::new(), Compression::new(6));
    gz.write_all(message).expect("writing to memory");
    gz.finish().expect("writing to memory").len()
}

/// A small, fast, deterministic generator (xorshift64*); statistical quality is ample here.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Why a connection-level error happened, as the engine would word it.
struct Message(&'static str);

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Records one second of traffic of one agent into a [`Snapshot`] (second 0; the sender renumbers).
pub fn record(shape: Shape, seed: u64) -> Snapshot {
    let mut rng = Rng::new(seed);
    let mut recorder = IntervalRecorder::new();
    let check = CheckFailure {
        check: "status in [200, 404]".to_owned(),
        detail: "got 500".to_owned(),
    };
    let timeout = Message("request timed out after 30s");
    let mut iterations = 0u64;
    for row in 0..shape.rows {
        // A stable per-row median, 2..80 ms, and a per-snapshot volume of ±30 %.
        let median_us = 2_000.0 * 40f64.powf(f64::from(row % 17) / 16.0);
        let volume = f64::from(shape.samples) * (0.7 + 0.6 * rng.unit());
        let n = volume.round() as u64;
        for _ in 0..n {
            let latency_us = (median_us * (0.45 * rng.normal()).exp()).max(50.0) as u64;
            let roll = rng.unit();
            if roll < 0.0005 {
                recorder.record(
                    row,
                    &Outcome::Error {
                        kind: ErrorKind::Timeout,
                        bytes_out: 180,
                        message: &timeout,
                    },
                );
                continue;
            }
            let status = match roll {
                r if r < 0.01 => 500,
                r if r < 0.015 => 404,
                _ => 200,
            };
            recorder.record(
                row,
                &Outcome::Response {
                    status,
                    latency_us,
                    service_us: latency_us,
                    bytes_in: 400 + (rng.next_u64() % 1_600),
                    bytes_out: 120 + (rng.next_u64() % 200),
                    failed_check: (status == 500).then_some(&check),
                },
            );
            let opened = rng.unit() < 0.02;
            let timings = Timings {
                connect_us: opened.then(|| 80 + rng.next_u64() % 400),
                tls_us: None,
                ttfb_us: latency_us * 9 / 10,
            };
            recorder.record_timings(row, &timings);
            iterations += 1;
        }
    }
    for _ in 0..iterations / u64::from(shape.rows.max(1)) {
        recorder.record_scenario_iteration(0);
    }
    let mut snapshot = Snapshot::new(0);
    recorder.drain_into(&mut snapshot);
    snapshot.users = shape.users;
    snapshot
}

/// Builds `count` distinct snapshots of `shape`, encoded for the wire.
pub fn prepare(shape: Shape, count: usize) -> anyhow::Result<Vec<Prepared>> {
    (0..count)
        .map(|i| {
            let snapshot = record(shape, i as u64 + 1);
            let requests = snapshot.requests();
            let wire = stampede_proto::snapshot_to_wire("", &snapshot)
                .context("encoding a simulated snapshot")?;
            let gzip_len = gzip_len(&wire.encode_to_vec());
            Ok(Prepared {
                wire,
                requests,
                gzip_len,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_round_trip_with_every_row() {
        let shape = Shape {
            rows: 50,
            samples: 300,
            users: 1,
        };
        let pool = prepare(shape, 2).unwrap();
        assert_eq!(pool.len(), 2);
        for p in &pool {
            assert_eq!(p.wire.rows.len(), 50);
            let back = stampede_proto::snapshot_from_wire(&p.wire).unwrap();
            assert_eq!(back.requests(), p.requests);
            // 50 rows × 300 ± 30 % samples.
            assert!(
                (50 * 210..=50 * 390).contains(&p.requests),
                "{}",
                p.requests
            );
            let statuses: u64 = (back.steps.iter())
                .flat_map(|(_, s)| s.status.iter().map(|&(_, n)| n))
                .sum();
            assert!(statuses > 0 && statuses <= p.requests);
        }
        assert_ne!(pool[0].wire, pool[1].wire, "the pool's snapshots differ");
    }
}
