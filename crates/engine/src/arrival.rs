//! The open-model scheduler of one group: starts iterations on schedule, whatever the target's
//! latency, each run by a free virtual user of a pool.
//!
//! * **Schedule**: the `n`-th arrival is at `Arrival::time_of(n)` after the group's start
//!   (evenly spaced), or at `time_of(E₁ + … + Eₙ)` with `Eᵢ ~ Exp(1)` from the run's seed
//!   (Poisson: a non-homogeneous Poisson process by time change). Each instant is computed from
//!   the start, never by accumulating sleeps, so there is no drift. A small clock thread sleeps
//!   until each instant with the OS timer (sub-millisecond, unlike Tokio's) and hands it to the
//!   dispatching task; a late wake-up delays nothing after it, and every iteration carries its
//!   own scheduled instant. (Being real time, the open model does not follow Tokio's paused
//!   clock.)
//! * **Pool**: `pre_allocated_users` are spawned up front and count as free at once (a job waits
//!   in a user's one-slot queue while it runs `on_start`); the pool grows by one user whenever
//!   an arrival finds none free, up to `max_users`.
//! * **Drops**: an arrival with no free user and a full pool is counted as a dropped iteration
//!   of its scenario, never delayed.
//! * **Measurement**: the user records how late it picked the job up (scheduler lag) and measures
//!   the iteration's first request from the scheduled instant (see `vu`).

use crate::EndReason;
use crate::groups::{Group, finish_tasks};
use crate::pace::standard_exponential;
use crate::record;
use crate::vu::{self, Mode, Stop, VuContext, user_seed};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use stampede_scenario::{Arrival, Arrivals};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The arrival instants of a profile, from its start.
pub(crate) struct Schedule<'a> {
    arrival: &'a Arrival,
    /// Poisson: the generator of the gaps (in expected-count units).
    rng: Option<SmallRng>,
    /// The expected count at which the next arrival happens.
    next: f64,
    index: u64,
    /// Added to every arrival's expected count (see [`Schedule::with_phase`]).
    phase: f64,
}

impl<'a> Schedule<'a> {
    pub fn new(arrival: &'a Arrival, seed: u64) -> Schedule<'a> {
        let mut rng =
            (arrival.arrivals == Arrivals::Poisson).then(|| SmallRng::seed_from_u64(seed));
        let next = rng.as_mut().map_or(0.0, standard_exponential);
        Schedule {
            arrival,
            rng,
            next,
            index: 0,
            phase: 0.0,
        }
    }

    /// Delays the schedule by `phase` arrivals (in `[0, 1)`): the `n`-th arrival is due when the
    /// expected count reaches `n + phase`. A distributed run gives each agent its own phase, so
    /// the cluster's arrivals stay evenly spaced instead of coming in bursts of one per agent.
    pub fn with_phase(mut self, phase: f64) -> Schedule<'a> {
        let phase = if phase.is_finite() {
            phase.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.phase = phase;
        self.next += phase;
        self
    }
}

impl Iterator for Schedule<'_> {
    type Item = Duration;

    /// The next arrival's offset from the start; `None` once past the profile.
    fn next(&mut self) -> Option<Duration> {
        let at = self.arrival.time_of(self.next)?;
        self.index += 1;
        self.next = match &mut self.rng {
            Some(rng) => self.next + standard_exponential(rng),
            // From the index, not by adding 1.0 repeatedly: exact for any count.
            None => self.index as f64 + self.phase,
        };
        Some(at)
    }
}

/// Longest single sleep of the clock thread, so it notices a closed channel soon.
const CLOCK_NAP: Duration = Duration::from_millis(50);

/// Sends each arrival's offset from `start` when it is due, from a thread of its own that sleeps
/// with the operating system's timer: Tokio's timer rounds every wake-up up to the next
/// millisecond, which would make each iteration start ~0.5 ms late on average. The thread ends
/// after the last arrival (closing the channel) or once the receiver is dropped. Arrivals due
/// before `skip` (a run that joined its profile late) are left out.
fn clock(
    arrival: Arrival,
    seed: u64,
    phase: f64,
    start: Instant,
    skip: Duration,
) -> mpsc::UnboundedReceiver<Duration> {
    let (tx, rx) = mpsc::unbounded_channel();
    let start = start.into_std();
    let spawned = std::thread::Builder::new()
        .name("stampede-arrivals".into())
        .spawn(move || {
            let schedule = Schedule::new(&arrival, seed).with_phase(phase);
            for offset in schedule.skip_while(|offset| *offset < skip) {
                let at = start + offset;
                loop {
                    let now = std::time::Instant::now();
                    if now >= at {
                        break;
                    }
                    if tx.is_closed() {
                        return;
                    }
                    std::thread::sleep((at - now).min(CLOCK_NAP));
                }
                if tx.send(offset).is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        // Without a thread there is no schedule: the group runs no iteration, visibly.
        tracing::error!("cannot start the arrival clock thread: {e}");
    }
    rx
}

/// Runs the open-model `group` from `start`; returns once every one of its users has stopped,
/// with the size of its pool, which it added to `users` (the caller takes it away).
pub(crate) async fn run(
    ctx: Arc<VuContext>,
    group: &Group,
    start: Instant,
    users: &AtomicU32,
    cancel: &CancellationToken,
    request_grace: Duration,
) -> (EndReason, u32) {
    let load = &group.load;
    let Some(arrival) = &load.arrival else {
        return (EndReason::Completed, 0);
    };
    let scenario = group.scenarios.first().map_or(0, |&(s, _)| s);
    let mut pool = Pool {
        ctx: ctx.clone(),
        scenario,
        stop: Stop::default(),
        tasks: JoinSet::new(),
        queues: Vec::new(),
        free: mpsc::unbounded_channel(),
        first_id: group.first_user_id,
        users,
    };
    for _ in 0..arrival.pre_allocated_users.min(arrival.max_users) {
        pool.grow(None);
    }
    let reached = ctx.limits.reached.clone();
    let seed = user_seed(ctx.seed, group.first_user_id ^ 0x5EED);
    let skip = ctx.join_at.saturating_sub(group.start);
    let mut due = clock(arrival.clone(), seed, ctx.arrival_phase, start, skip);
    let reason = loop {
        let offset = tokio::select! {
            biased;
            _ = cancel.cancelled() => break EndReason::Cancelled,
            _ = reached.cancelled() => break EndReason::Completed,
            offset = due.recv() => match offset {
                Some(offset) => offset,
                None => break EndReason::Completed,
            },
        };
        if !pool.dispatch(start + offset, arrival.max_users) {
            break EndReason::Completed;
        }
        while let Some(joined) = pool.tasks.try_join_next() {
            crate::scheduler::propagate_panic(joined);
        }
    };
    // Closing the channel stops the clock thread.
    drop(due);
    let size = pool.queues.len() as u32;
    drop(pool.queues);
    let stops = [pool.stop];
    finish_tasks(
        pool.tasks,
        &stops,
        reason,
        load.graceful_stop,
        request_grace,
        cancel,
    )
    .await;
    (reason, size)
}

/// The virtual users of one open-model group.
struct Pool<'a> {
    ctx: Arc<VuContext>,
    scenario: usize,
    /// One stop for the whole pool: at the end every user stops.
    stop: Stop,
    tasks: JoinSet<()>,
    /// Each user's one-slot job queue, by slot.
    queues: Vec<mpsc::Sender<Instant>>,
    /// Slots of the users waiting for a job.
    free: (mpsc::UnboundedSender<usize>, mpsc::UnboundedReceiver<usize>),
    first_id: u64,
    users: &'a AtomicU32,
}

impl Pool<'_> {
    /// Adds a user (free, or starting with `job`).
    fn grow(&mut self, job: Option<Instant>) {
        let slot = self.queues.len();
        let (tx, rx) = mpsc::channel(1);
        match job {
            // A new channel has room for one.
            Some(at) => {
                let _ = tx.try_send(at);
            }
            None => {
                let _ = self.free.0.send(slot);
            }
        }
        self.queues.push(tx);
        let mode = Mode::Open {
            jobs: rx,
            free: self.free.0.clone(),
            slot,
        };
        let id = self.first_id + slot as u64;
        let user = vu::run(self.ctx.clone(), self.scenario, id, self.stop.clone(), mode);
        self.tasks.spawn(user);
        self.users.fetch_add(1, Ordering::Relaxed);
    }

    /// Hands the iteration scheduled `at` to a free user, growing the pool if needed and allowed,
    /// else counts it as dropped. False when the run's iteration limit is reached.
    fn dispatch(&mut self, at: Instant, max_users: u32) -> bool {
        let free = self.free.1.try_recv().ok();
        if free.is_none() && self.queues.len() >= max_users as usize {
            let mut shard = record::lock(self.ctx.shards.of(self.first_id));
            shard.record_dropped(self.scenario as u32, 1);
            return true;
        }
        if !self.ctx.limits.try_iteration() {
            return false;
        }
        match free {
            Some(slot) => {
                if self.queues[slot].try_send(at).is_err() {
                    // The user is gone (it only exits when stopped): the iteration cannot run.
                    let mut shard = record::lock(self.ctx.shards.of(self.first_id));
                    shard.record_dropped(self.scenario as u32, 1);
                }
            }
            None => self.grow(Some(at)),
        }
        true
    }
}

#[cfg(test)]
mod tests;
