//! What the simulated agents sent and what the controller merged, second by second, and the
//! figures derived from it (merge delays, completeness, bytes).

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// One second of the run, as seen from both ends.
#[derive(Clone, Debug, Default)]
pub struct Second {
    /// When the first and the last simulated agent handed their snapshot of it to gRPC.
    pub first_send: Option<Instant>,
    pub last_send: Option<Instant>,
    /// Agents that sent it, and the requests they reported in total.
    pub senders: u32,
    pub requests_sent: u64,
    /// When the controller's merged snapshot of it arrived on the `Submit` stream (the first
    /// one: a snapshot that arrives after its second closed is re-sent on its own).
    pub arrival: Option<Instant>,
    /// Requests in the first merged snapshot, and in all of them (late ones included).
    pub requests_merged_first: u64,
    pub requests_merged_total: u64,
    /// Merged snapshots received for this second (1 unless some agents were late).
    pub updates: u32,
}

/// Shared by the simulated agents and the submitter.
#[derive(Debug, Default)]
pub struct Board {
    seconds: Mutex<BTreeMap<u32, Second>>,
    /// The run's start (second 0 begins), in this process's clock; set by the first `Assign`.
    start: OnceLock<Instant>,
    /// Encoded size (+ 5 bytes of gRPC message framing) of every message the agents sent.
    pub snapshot_bytes: AtomicU64,
    pub snapshots: AtomicU64,
    pub other_bytes: AtomicU64,
    pub other_messages: AtomicU64,
}

/// Delay figures in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Delays {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub count: u64,
}

impl Delays {
    fn of(samples: impl Iterator<Item = Duration>) -> Delays {
        let mut h = Histogram::<u64>::new(3).expect("3 significant digits is valid");
        for d in samples {
            // `record` grows the histogram (`saturating_record` would clamp to its initial range).
            let us = u64::try_from(d.as_micros())
                .unwrap_or(u64::MAX)
                .min(3_600_000_000);
            h.record(us)
                .expect("an auto-resizing histogram takes values up to an hour");
        }
        let ms = |us: u64| us as f64 / 1_000.0;
        Delays {
            p50: ms(h.value_at_quantile(0.5)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            count: h.len(),
        }
    }
}

/// The merge figures of a run.
#[derive(Clone, Debug, Default)]
pub struct MergeReport {
    /// Interval end (when the agents sample second `s`) → merged second `s` received, over every
    /// second some agent sent.
    pub from_sample: Delays,
    /// The last agent's snapshot of second `s` sent → merged second `s` received.
    pub from_last_send: Delays,
    /// The spread of the agents' sends of one second (first → last), p50/p99/max.
    pub send_spread: Delays,
    /// Seconds sent by every agent, and those of them whose first merged snapshot held every
    /// agent's requests (closed because all had reported, not by the 2 s grace).
    pub seconds_full: u64,
    pub seconds_complete: u64,
    /// Seconds with a merged snapshot, and requests sent versus merged in all of them.
    pub seconds_merged: u64,
    pub requests_sent: u64,
    pub requests_merged: u64,
}

impl Board {
    /// Records the run's start (the first call wins: every agent gets the same instant).
    pub fn set_start(&self, at: Instant) -> Instant {
        *self.start.get_or_init(|| at)
    }

    pub fn start(&self) -> Option<Instant> {
        self.start.get().copied()
    }

    fn with<R>(&self, second: u32, f: impl FnOnce(&mut Second) -> R) -> R {
        let mut seconds = self.seconds.lock().unwrap_or_else(|e| e.into_inner());
        f(seconds.entry(second).or_default())
    }

    /// An agent handed its snapshot of `second` (with `requests`, `bytes` long) to gRPC at `at`.
    pub fn sent(&self, second: u32, at: Instant, requests: u64, bytes: u64) {
        self.snapshot_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.snapshots.fetch_add(1, Ordering::Relaxed);
        self.with(second, |s| {
            s.first_send = Some(s.first_send.map_or(at, |f| f.min(at)));
            s.last_send = Some(s.last_send.map_or(at, |l| l.max(at)));
            s.senders += 1;
            s.requests_sent += requests;
        });
    }

    /// Any other message an agent sent (register, heartbeat, clock reply, run finished).
    pub fn other(&self, bytes: u64) {
        self.other_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.other_messages.fetch_add(1, Ordering::Relaxed);
    }

    /// The merged snapshot of `second`, holding `requests`, arrived at `at`.
    pub fn merged(&self, second: u32, at: Instant, requests: u64) {
        self.with(second, |s| {
            if s.arrival.is_none() {
                s.arrival = Some(at);
                s.requests_merged_first = requests;
            }
            s.requests_merged_total += requests;
            s.updates += 1;
        });
    }

    /// The merge figures over the seconds sent by all `agents`.
    pub fn report(&self, agents: u32) -> MergeReport {
        let seconds = self.seconds.lock().unwrap_or_else(|e| e.into_inner());
        let start = self.start();
        // Delays cover every second some agent sent (after an agent is lost, the seconds it
        // misses close by the grace: their delays show it).
        let sent: Vec<(u32, &Second)> = (seconds.iter())
            .filter(|(_, s)| s.senders > 0)
            .map(|(&n, s)| (n, s))
            .collect();
        let boundary = |n: u32| start.map(|t| t + Duration::from_secs(u64::from(n) + 1));
        let after = |later: Option<Instant>, earlier: Option<Instant>| {
            Some(later?.saturating_duration_since(earlier?))
        };
        MergeReport {
            from_sample: Delays::of(
                (sent.iter()).filter_map(|(n, s)| after(s.arrival, boundary(*n))),
            ),
            from_last_send: Delays::of(
                (sent.iter()).filter_map(|(_, s)| after(s.arrival, s.last_send)),
            ),
            send_spread: Delays::of(
                (sent.iter()).filter_map(|(_, s)| after(s.last_send, s.first_send)),
            ),
            seconds_full: sent.iter().filter(|(_, s)| s.senders == agents).count() as u64,
            seconds_complete: (sent.iter())
                .filter(|(_, s)| {
                    s.senders == agents
                        && s.arrival.is_some()
                        && s.requests_merged_first == s.requests_sent
                })
                .count() as u64,
            seconds_merged: seconds.values().filter(|s| s.arrival.is_some()).count() as u64,
            requests_sent: seconds.values().map(|s| s.requests_sent).sum(),
            requests_merged: seconds.values().map(|s| s.requests_merged_total).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_and_completeness() {
        let board = Board::default();
        let t0 = Instant::now();
        board.set_start(t0);
        // A later start is ignored.
        board.set_start(t0 + Duration::from_secs(5));
        let s = Duration::from_secs(1);
        let ms = Duration::from_millis(1);
        // Second 0: two agents, merged complete 30 ms after the last send.
        board.sent(0, t0 + s, 10, 100);
        board.sent(0, t0 + s + 5 * ms, 20, 100);
        board.merged(0, t0 + s + 35 * ms, 30);
        // Second 1: closed with one agent only, the late one merged afterwards.
        board.sent(1, t0 + 2 * s, 10, 100);
        board.merged(1, t0 + 4 * s, 10);
        board.sent(1, t0 + 4 * s + ms, 20, 100);
        board.merged(1, t0 + 4 * s + 2 * ms, 20);
        let r = board.report(2);
        assert_eq!(r.seconds_full, 2);
        assert_eq!(r.seconds_complete, 1);
        assert_eq!(r.seconds_merged, 2);
        assert_eq!((r.requests_sent, r.requests_merged), (60, 60));
        assert_eq!(r.from_sample.count, 2);
        assert!(
            (r.from_sample.p50 - 35.0).abs() < 0.1,
            "{:?}",
            r.from_sample
        );
        assert!(
            (r.from_sample.max - 2_000.0).abs() < 2.0,
            "{:?}",
            r.from_sample
        );
        // Second 1 arrived before its late sender sent: 0, not negative.
        assert_eq!(r.from_last_send.p50, 0.0);
        assert!(
            (r.from_last_send.max - 30.0).abs() < 0.1,
            "{:?}",
            r.from_last_send
        );
        assert_eq!(board.snapshots.load(Ordering::Relaxed), 4);
    }
}
