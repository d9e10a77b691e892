//! A virtual user: runs its scenario's `on_start` steps once, then iterations of its steps,
//! recording every outcome into its recorder shard.
//!
//! * **Closed model**: iterations follow each other, separated by the think time after the last
//!   step (or the rest of the `pacing` interval) until the user is stopped.
//! * **Open model**: the user waits for a job (an iteration's scheduled start) from the arrival
//!   scheduler, runs it, and reports itself free again.
//!
//! A stop is graceful first ([`Stop::graceful`]: finish the iteration in flight, start no other)
//! then firm ([`Stop::hard`], once `graceful_stop` ran out: send no new request, let the one in
//! flight complete). An iteration that does not complete is counted as interrupted, also when
//! the scheduler aborts the task (Ctrl-C), through [`IterationGuard`]'s `Drop`.

use crate::client::{self, Client, StepResult};
use crate::limits::RunLimits;
use crate::pace;
use crate::prepare::{PreparedPlan, PreparedScenario, PreparedStep};
use crate::record::{self, Shards};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use stampede_metrics::{CheckFailure, IntervalRecorder, Outcome};
use stampede_scenario::ThinkTime;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What every virtual user of a run shares.
pub(crate) struct VuContext {
    pub prepared: PreparedPlan,
    pub client: Arc<client::Shared>,
    pub shards: Arc<Shards>,
    pub seed: u64,
    pub limits: Arc<RunLimits>,
    /// Open model: the arrival phase of this generator ([`crate::Assignment::arrival_phase`]).
    pub arrival_phase: f64,
}

/// How a user is told to stop.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stop {
    /// Finish the iteration in flight, then exit.
    pub graceful: CancellationToken,
    /// `graceful_stop` ran out: send no new request, exit once the one in flight completed.
    pub hard: CancellationToken,
}

impl Stop {
    /// Stops gracefully now, and firmly `after` that (from a small timer task).
    pub fn stop_within(&self, after: Duration) {
        self.graceful.cancel();
        if after.is_zero() {
            self.hard.cancel();
            return;
        }
        let hard = self.hard.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = hard.cancelled() => {}
                _ = tokio::time::sleep(after) => hard.cancel(),
            }
        });
    }
}

/// Where a user's iterations come from.
pub(crate) enum Mode {
    /// Back to back; `jitter` delays the first by a random part of the think time.
    Closed { jitter: bool },
    /// One per job (the iteration's scheduled start); `free` gets `slot` back after each.
    Open {
        jobs: mpsc::Receiver<Instant>,
        free: mpsc::UnboundedSender<usize>,
        slot: usize,
    },
}

/// Runs virtual user `id` of `scenario` until stopped (see the module documentation). Nothing
/// shared is polled per wake-up.
pub(crate) async fn run(ctx: Arc<VuContext>, scenario: usize, id: u64, stop: Stop, mode: Mode) {
    let mut user = User::new(&ctx, scenario, id, &stop);
    match mode {
        Mode::Closed { jitter } => user.closed(jitter).await,
        Mode::Open { jobs, free, slot } => user.open(jobs, free, slot).await,
    }
}

struct User<'a> {
    ctx: &'a VuContext,
    scenario: &'a PreparedScenario,
    /// Index of the scenario in the plan (for per-scenario counts).
    scenario_index: u32,
    shard: &'a Mutex<IntervalRecorder>,
    stop: &'a Stop,
    rng: SmallRng,
    /// This user's `pace_factor` draw (1 without one).
    factor: f64,
    client: Client,
    /// Last check failure per step id, reused while the status repeats (no formatting per
    /// failed request).
    failures: Vec<Option<(u16, CheckFailure)>>,
}

/// Counts an iteration as interrupted when it sent a request but was not marked done, however
/// it ends (early return or the task being aborted). One that could not send anything (a limit
/// was reached first) never started.
struct IterationGuard<'a> {
    shard: &'a Mutex<IntervalRecorder>,
    scenario: u32,
    sent: bool,
    done: bool,
}

impl Drop for IterationGuard<'_> {
    fn drop(&mut self) {
        if self.sent && !self.done {
            record::lock(self.shard).record_interrupted(self.scenario);
        }
    }
}

impl<'a> User<'a> {
    fn new(ctx: &'a VuContext, scenario: usize, id: u64, stop: &'a Stop) -> User<'a> {
        let prepared = &ctx.prepared.scenarios[scenario];
        let mut rng = SmallRng::seed_from_u64(user_seed(ctx.seed, id));
        let factor = prepared
            .pace_factor
            .map_or(1.0, |d| pace::sample(&mut rng, &d));
        User {
            ctx,
            scenario: prepared,
            scenario_index: u32::try_from(scenario).unwrap_or(u32::MAX),
            shard: ctx.shards.of(id),
            stop,
            rng,
            factor,
            client: Client::new(ctx.client.clone(), ctx.prepared.step_count),
            failures: Vec::new(),
        }
    }

    async fn closed(&mut self, jitter: bool) {
        if jitter {
            let spread = ThinkTime::Uniform {
                min: Duration::ZERO,
                max: self.scenario.think_time.max(),
            };
            let offset = pace::think(&mut self.rng, spread, 1.0);
            if !self.pause(offset, &self.stop.graceful).await {
                return;
            }
        }
        if !self.on_start().await {
            return;
        }
        let limits = &self.ctx.limits;
        let mut done = 0u64;
        loop {
            if self.stop.graceful.is_cancelled()
                || limits.per_user.is_some_and(|n| done >= n)
                || !limits.try_iteration()
            {
                return;
            }
            let began = Instant::now();
            let Some(last_think) = self.iteration(None).await else {
                return;
            };
            done += 1;
            let wait = match self.scenario.pacing {
                Some(interval) => {
                    let next = began + interval;
                    let now = Instant::now();
                    if now > next {
                        record::lock(self.shard).record_pacing_overrun(self.scenario_index);
                    }
                    next.saturating_duration_since(now)
                }
                None => last_think,
            };
            if !self.pause(wait, &self.stop.graceful).await {
                return;
            }
        }
    }

    async fn open(
        &mut self,
        mut jobs: mpsc::Receiver<Instant>,
        free: mpsc::UnboundedSender<usize>,
        slot: usize,
    ) {
        if !self.on_start().await {
            return;
        }
        loop {
            let scheduled = tokio::select! {
                biased;
                job = jobs.recv() => match job {
                    Some(at) => at,
                    None => return,
                },
                _ = self.stop.graceful.cancelled() => return,
            };
            let lag = Instant::now().saturating_duration_since(scheduled);
            record::lock(self.shard).record_lag(micros(lag));
            if self.iteration(Some(scheduled)).await.is_none() || free.send(slot).is_err() {
                return;
            }
        }
    }

    /// The `on_start` steps, each followed by its think time. False when the user must exit.
    async fn on_start(&mut self) -> bool {
        let scenario: &'a PreparedScenario = self.scenario;
        let steps = &scenario.on_start;
        for step in steps {
            if self.stop.graceful.is_cancelled() || !self.ctx.limits.try_request() {
                return false;
            }
            tokio::task::consume_budget().await;
            let result = self.client.execute(step).await;
            self.record(step, &result, None);
            let pause = pace::think(&mut self.rng, step.think_time, self.factor);
            if !self.pause(pause, &self.stop.graceful).await {
                return false;
            }
        }
        true
    }

    /// Runs one iteration (think times between its steps included). In the open model
    /// `scheduled` is when it should have started: the first request's latency is measured
    /// from there. Returns the think time due after the last step, or `None` when the
    /// iteration was cut off (counted as interrupted).
    async fn iteration(&mut self, scheduled: Option<Instant>) -> Option<Duration> {
        let scenario: &'a PreparedScenario = self.scenario;
        let steps = &scenario.steps;
        let mut guard = IterationGuard {
            shard: self.shard,
            scenario: self.scenario_index,
            sent: false,
            done: false,
        };
        let mut ready = scheduled;
        for (i, step) in steps.iter().enumerate() {
            let limits = &self.ctx.limits;
            if self.stop.hard.is_cancelled() || !limits.try_request() {
                return None;
            }
            // Cheap insurance against a user that never yields (instant errors, no think time).
            tokio::task::consume_budget().await;
            let due = match (scheduled, ready.take()) {
                (None, _) => None,
                (Some(_), Some(at)) => Some(at),
                (Some(_), None) => Some(Instant::now()),
            };
            guard.sent = true;
            let result = self.client.execute(step).await;
            let last = i + 1 == steps.len();
            self.record(step, &result, due);
            let pause = pace::think(&mut self.rng, step.think_time, self.factor);
            if last {
                guard.done = true;
                record::lock(self.shard).record_scenario_iteration(self.scenario_index);
                // With `connections: per_iteration` the next iteration opens new connections.
                self.client.end_iteration();
                return Some(pause);
            }
            // Inside an iteration only a firm stop (or the end of requests) cuts the pause.
            let exhausted = &limits.requests_exhausted;
            if !self.pause_either(pause, &self.stop.hard, exhausted).await {
                return None;
            }
        }
        // A scenario always has steps; nothing ran.
        guard.done = true;
        Some(Duration::ZERO)
    }

    /// Records one request. `due` (open model) is when it should have been sent: its latency
    /// then runs from there to now, and the client's own figure is the service time.
    fn record(&mut self, step: &PreparedStep, result: &StepResult, due: Option<Instant>) {
        match *result {
            StepResult::Response {
                status,
                latency_us,
                bytes_in,
                bytes_out,
            } => {
                let failed_check = if step.check.passes(status) {
                    None
                } else {
                    Some(failure(&mut self.failures, step, status))
                };
                let response_us = due.map_or(latency_us, |at| micros(at.elapsed()));
                let outcome = Outcome::Response {
                    status,
                    latency_us: response_us.max(latency_us),
                    service_us: latency_us,
                    bytes_in,
                    bytes_out,
                    failed_check,
                };
                let timings = self.client.timings();
                let mut shard = record::lock(self.shard);
                shard.record(step.row, &outcome);
                // Connect, TLS and time to first byte, when the client measured them.
                if let Some(timings) = &timings {
                    shard.record_timings(step.row, timings);
                }
            }
            StepResult::Error {
                kind,
                bytes_out,
                ref message,
            } => {
                let outcome = Outcome::Error {
                    kind,
                    bytes_out,
                    message,
                };
                record::lock(self.shard).record(step.row, &outcome);
            }
        }
    }

    /// Sleeps, unless `stop` fires first. False when stopped.
    async fn pause(&self, duration: Duration, stop: &CancellationToken) -> bool {
        if duration.is_zero() {
            return !stop.is_cancelled();
        }
        tokio::select! {
            biased;
            _ = stop.cancelled() => false,
            _ = tokio::time::sleep(duration) => true,
        }
    }

    /// Sleeps, unless `a` or `b` fires first. False when stopped.
    async fn pause_either(
        &self,
        duration: Duration,
        a: &CancellationToken,
        b: &CancellationToken,
    ) -> bool {
        if duration.is_zero() {
            return !(a.is_cancelled() || b.is_cancelled());
        }
        tokio::select! {
            biased;
            _ = a.cancelled() => false,
            _ = b.cancelled() => false,
            _ = tokio::time::sleep(duration) => true,
        }
    }
}

/// The check failure for `status` on `step`, reused from `cache` while the status repeats.
fn failure<'c>(
    cache: &'c mut Vec<Option<(u16, CheckFailure)>>,
    step: &PreparedStep,
    status: u16,
) -> &'c CheckFailure {
    if cache.len() <= step.id {
        cache.resize_with(step.id + 1, || None);
    }
    let slot = &mut cache[step.id];
    if !matches!(slot, Some((s, _)) if *s == status) {
        *slot = Some((
            status,
            CheckFailure {
                check: step.check.name.clone(),
                detail: format!("got {status}"),
            },
        ));
    }
    &slot.as_ref().expect("just set").1
}

pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A well-mixed per-user seed (SplitMix64 of the run seed and the user id), so users of one run
/// draw independent sequences and a run is reproducible from its seed.
pub(crate) fn user_seed(seed: u64, id: u64) -> u64 {
    let mut z = seed.wrapping_add(id.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
