//! `--offline`: the controller's per-snapshot ingest work measured in-process, without gRPC.
//!
//! Every prepared snapshot is encoded to protobuf bytes and gzipped once (tonic's gzip, level 6);
//! then, second by second and agent by agent, the bytes are gunzipped and decoded (as tonic does),
//! checked (as the agent's session does) and merged into that second's total in batches of
//! `MERGE_BATCH` (as the run task does), on one thread. What is left out (HTTP/2
//! framing, Tokio scheduling, the event channel) is what the full benchmark adds on top; the
//! difference between the two is the cost of the transport.

use crate::snapshots::Prepared;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use prost::Message;
use stampede_metrics::Snapshot;
use stampede_proto::hdr::HdrCodec;
use stampede_proto::{CheckedSnapshot, MERGE_BATCH, merge_batch, pb};
use std::io::{Read, Write};
use std::time::Instant;

/// What `--offline` measured.
#[derive(Debug)]
pub struct OfflineReport {
    pub snapshots: u64,
    pub seconds: f64,
    pub requests: u64,
    /// Mean gzipped size of a snapshot message.
    pub gzip_bytes: usize,
    /// Milliseconds to encode and gzip one snapshot message (an agent's cost).
    pub send_ms: f64,
}

impl OfflineReport {
    /// Milliseconds of one core per snapshot.
    pub fn ms_per_snapshot(&self) -> f64 {
        self.seconds * 1e3 / self.snapshots.max(1) as f64
    }
}

/// Merges `agents × seconds` snapshots from `pool` (in turn) and times it.
pub fn measure(pool: &[Prepared], agents: u32, seconds: u32) -> anyhow::Result<OfflineReport> {
    // What each agent's session does per snapshot before sending: protobuf, then gzip.
    let mut encoded = Vec::with_capacity(pool.len());
    let sending = Instant::now();
    for p in pool {
        let mut gz = GzEncoder::new(Vec::new(), Compression::new(6));
        gz.write_all(&p.wire.encode_to_vec())?;
        encoded.push(gz.finish()?);
    }
    let send_ms = sending.elapsed().as_secs_f64() * 1e3 / pool.len().max(1) as f64;
    let gzip_bytes = pool.iter().map(|p| p.gzip_len).sum::<usize>() / pool.len().max(1);
    let mut codec = HdrCodec::new();
    let mut plain = Vec::new();
    let mut requests = 0;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(MERGE_BATCH);
    for second in 0..seconds {
        let mut merged = Snapshot::new(second);
        for agent in 0..agents {
            let bytes = &encoded[(agent as usize + second as usize) % encoded.len()];
            plain.clear();
            GzDecoder::new(bytes.as_slice()).read_to_end(&mut plain)?;
            let wire = pb::IntervalSnapshot::decode(plain.as_slice())?;
            batch.push(CheckedSnapshot::check(wire, &mut codec)?);
            if batch.len() == MERGE_BATCH || agent + 1 == agents {
                merge_batch(&batch, &mut merged);
                batch.clear();
            }
        }
        requests += merged.requests();
    }
    Ok(OfflineReport {
        snapshots: u64::from(agents) * u64::from(seconds),
        seconds: started.elapsed().as_secs_f64(),
        requests,
        gzip_bytes,
        send_ms,
    })
}
