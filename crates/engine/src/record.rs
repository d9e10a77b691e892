//! Sharded interval recorders and the once-per-second rotation into [`Snapshot`]s.
//!
//! Virtual user `id` always records into shard `id % n`, so with several shards per worker thread
//! a shard's lock is practically uncontended; recording a success allocates nothing. The rotation
//! task drains every shard at each whole second after the start.

use crate::EngineEvent;
use stampede_metrics::{IntervalRecorder, Snapshot};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc::Sender;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Scheduler lag (p99 over one second) above which the generator counts as saturated.
const SATURATED_LAG_US: u64 = 10_000;

/// Why the load generator itself (not the target) was the bottleneck in `snapshot`, if it was:
/// iterations dropped for want of a free virtual user, or iterations starting late.
pub(crate) fn saturation(snapshot: &Snapshot) -> Option<String> {
    let second = snapshot.second;
    if snapshot.dropped_iterations > 0 {
        return Some(format!(
            "load generator saturated: {} iteration(s) dropped in second {second} because every \
             virtual user was busy and the pool was at `max_users`; raise `max_users` (dropped \
             iterations are counted, not delayed)",
            snapshot.dropped_iterations
        ));
    }
    let lag = &snapshot.scheduler_lag;
    if !lag.is_empty() && lag.value_at_quantile(0.99) > SATURATED_LAG_US {
        return Some(format!(
            "load generator overloaded: in second {second} iterations started up to {:.1} ms \
             late (p99 {:.1} ms); latencies include that delay, so part of them is the \
             injector's, not the target's (see scheduler lag in the summary)",
            lag.max() as f64 / 1000.0,
            lag.value_at_quantile(0.99) as f64 / 1000.0
        ));
    }
    None
}

/// Sends the saturation warning for `snapshot`, once per run (`warned`).
pub(crate) async fn warn_if_saturated(
    snapshot: &Snapshot,
    warned: &AtomicBool,
    events: &Sender<EngineEvent>,
) {
    if warned.load(Ordering::Relaxed) {
        return;
    }
    if let Some(message) = saturation(snapshot) {
        warned.store(true, Ordering::Relaxed);
        let _ = events.send(EngineEvent::Warning(message)).await;
    }
}

/// Shards per available CPU.
const SHARDS_PER_CPU: usize = 4;

/// `SHARDS_PER_CPU` × the available parallelism.
pub(crate) fn default_shard_count() -> usize {
    SHARDS_PER_CPU * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A fixed set of recorders.
#[derive(Debug)]
pub(crate) struct Shards {
    shards: Box<[Mutex<IntervalRecorder>]>,
}

impl Shards {
    pub fn new(count: usize) -> Shards {
        Shards {
            shards: (0..count.max(1))
                .map(|_| Mutex::new(IntervalRecorder::new()))
                .collect(),
        }
    }

    /// The shard of virtual user `vu`.
    pub fn of(&self, vu: u64) -> &Mutex<IntervalRecorder> {
        &self.shards[(vu % self.shards.len() as u64) as usize]
    }

    /// Moves everything recorded so far into `snapshot`.
    pub fn drain_into(&self, snapshot: &mut Snapshot) {
        for shard in self.shards.iter() {
            lock(shard).drain_into(snapshot);
        }
    }
}

/// Locks a recorder, ignoring poisoning (a recorder is always in a consistent state).
pub(crate) fn lock(shard: &Mutex<IntervalRecorder>) -> MutexGuard<'_, IntervalRecorder> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long after a whole second past the planned end the rotation waits before emitting it.
const AFTER_END_TICK_DELAY: Duration = Duration::from_millis(200);

/// The task that emits one snapshot per whole second.
#[derive(Debug)]
pub(crate) struct Rotation {
    stop: CancellationToken,
    task: JoinHandle<u32>,
}

impl Rotation {
    /// Starts the task. It wakes at `start + n s` for every `n` (from `first + 1`) until stopped — also after the
    /// planned end, while users finish their iterations within the graceful stop, so the timeline
    /// shows that period second by second instead of folding it into the final snapshot — drains
    /// the shards into `Snapshot::new(n - 1)`, stamps `users` and sends it.
    pub fn spawn(
        shards: Arc<Shards>,
        start: Instant,
        first: u32,
        profile: Duration,
        users: Arc<AtomicU32>,
        events: Sender<EngineEvent>,
        warned: Arc<AtomicBool>,
    ) -> Rotation {
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let mut second = first;
            loop {
                let mut boundary = Duration::from_secs(u64::from(second) + 1);
                if boundary >= profile {
                    // After the planned end, users only finish what they started; most runs stop
                    // within milliseconds. A short delay keeps a run that ends on a whole second
                    // from emitting an almost empty extra second before its final snapshot.
                    boundary += AFTER_END_TICK_DELAY;
                }
                tokio::select! {
                    biased;
                    _ = token.cancelled() => return second,
                    _ = tokio::time::sleep_until(start + boundary) => {}
                }
                let mut snapshot = Snapshot::new(second);
                shards.drain_into(&mut snapshot);
                snapshot.users = users.load(Ordering::Relaxed);
                warn_if_saturated(&snapshot, &warned, &events).await;
                let _ = events.send(EngineEvent::Snapshot(snapshot)).await;
                second += 1;
            }
        });
        Rotation { stop, task }
    }

    /// Stops the task and returns the index of the first second it did not emit: the one the
    /// final snapshot belongs to.
    pub async fn finish(self) -> u32 {
        self.stop.cancel();
        match self.task.await {
            Ok(second) => second,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => 0,
        }
    }
}
