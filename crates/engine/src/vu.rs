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

use crate::client::{self, Client};
use crate::feed::Draw;
use crate::flow::{Flow, Pass};
use crate::limits::RunLimits;
use crate::pace;
use crate::prepare::{PreparedPlan, PreparedScenario};
use crate::record::{self, Shards};
use crate::signal::Signal;
use crate::vars::{Value, Vars};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use stampede_metrics::IntervalRecorder;
use stampede_scenario::Each;
use stampede_scenario::ThinkTime;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What every virtual user of a run shares.
pub(crate) struct VuContext {
    pub prepared: PreparedPlan,
    pub client: Arc<client::Shared>,
    pub shards: Arc<Shards>,
    pub seed: u64,
    pub limits: Arc<RunLimits>,
    /// Open model: the arrival phase of this generator ([`crate::Assignment::arrival_phase`]).
    pub arrival_phase: f64,
    /// How far into the profile the run joined ([`crate::Assignment::join_at`]).
    pub join_at: std::time::Duration,
    /// Variables extracted by `setup`, given to every user (set before the first user starts).
    pub globals: std::sync::OnceLock<Vec<(usize, Value)>>,
}

impl VuContext {
    /// What a user's variables start as: `variables`, then what `setup` extracted.
    pub fn initial_vars(&self) -> Vars {
        let prepared = &self.prepared;
        let mut vars = Vars::new(prepared.slots.len());
        for (slot, value) in &prepared.initial {
            vars.set(*slot, Some(Value::Text(value.clone())));
        }
        for (slot, value) in self.globals.get().into_iter().flatten() {
            vars.set(*slot, Some(value.clone()));
        }
        vars
    }
}

/// How a user is told to stop: gracefully (finish the iteration in flight, then exit), then
/// firmly (`graceful_stop` ran out: send no new request, exit once the one in flight
/// completed). Clones share the signals.
///
/// One shared allocation keeps a user's task small: 8 more bytes in it crossed one of the
/// allocator's size classes at 10,000 idle users (+0.4 KiB each, `bench/memory.sh`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Stop(Arc<[Signal; 2]>);

impl Stop {
    /// Finish the iteration in flight, then exit.
    pub fn graceful(&self) -> &Signal {
        &self.0[0]
    }

    /// Send no new request, exit once the one in flight completed.
    pub fn hard(&self) -> &Signal {
        &self.0[1]
    }

    /// Stops gracefully now, and firmly `after` that (from a small timer task).
    pub fn stop_within(&self, after: Duration) {
        self.graceful().fire();
        if after.is_zero() {
            self.hard().fire();
            return;
        }
        let stop = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.hard().token().cancelled() => {}
                _ = tokio::time::sleep(after) => stop.hard().fire(),
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
    let started = match mode {
        Mode::Closed { jitter } => user.closed(jitter).await,
        Mode::Open { jobs, free, slot } => user.open(jobs, free, slot).await,
    };
    if started {
        user.on_stop().await;
    }
}

pub(crate) struct User<'a> {
    pub(crate) ctx: &'a VuContext,
    scenario: &'a PreparedScenario,
    /// Index of the scenario in the plan (for per-scenario counts).
    scenario_index: u32,
    pub(crate) shard: &'a Mutex<IntervalRecorder>,
    pub(crate) stop: &'a Stop,
    pub(crate) rng: SmallRng,
    /// This user's `pace_factor` draw (1 without one).
    pub(crate) factor: f64,
    pub(crate) client: Client,
    /// The user's variables.
    pub(crate) vars: Vars,
    /// `{{ vu }}`: the user's number, from 1.
    pub(crate) number: u64,
    /// `{{ iteration }}`: the iteration being run, from 1 (0 in `on_start`).
    pub(crate) iteration: u64,
    /// Whether every check of the last request passed (`if: { last_check: ... }`).
    pub(crate) last_passed: bool,
    /// The script interpreter, created on the first script step.
    pub(crate) vm: Option<stampede_script::Vm>,
    /// Extra clients fetching embedded resources concurrently (created on first use).
    pub(crate) resource_clients: Vec<Client>,
    /// Whether `on_start` drew the first iteration's rows.
    start_draw: bool,
}

/// Counts an iteration as interrupted when it sent a request but was not marked done, however
/// it ends (early return or the task being aborted). One that could not send anything (a limit
/// was reached first) never started.
struct IterationGuard<'a> {
    shard: &'a Mutex<IntervalRecorder>,
    scenario: u32,
    pass: Pass,
    done: bool,
}

impl Drop for IterationGuard<'_> {
    fn drop(&mut self) {
        if self.pass.sent && !self.done {
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
            vars: ctx.initial_vars(),
            number: id + 1,
            iteration: 0,
            last_passed: true,
            vm: None,
            resource_clients: Vec::new(),
            start_draw: false,
        }
    }

    /// Closed-model iterations until stopped. True when the user got past its start (so its
    /// `on_stop` runs).
    async fn closed(&mut self, jitter: bool) -> bool {
        if jitter {
            let spread = ThinkTime::Uniform {
                min: Duration::ZERO,
                max: self.scenario.think_time.max(),
            };
            let offset = pace::think(&mut self.rng, spread, 1.0);
            if !self.pause(offset, self.stop.graceful()).await {
                return false;
            }
        }
        if !self.on_start().await {
            return false;
        }
        let limits = &self.ctx.limits;
        let mut done = 0u64;
        loop {
            if self.stop.graceful().is_fired()
                || limits.per_user.is_some_and(|n| done >= n)
                || !limits.try_iteration()
            {
                return true;
            }
            // Read only for pacing: a clock read less per iteration otherwise.
            let began = self
                .scenario
                .pacing
                .map(|interval| (Instant::now(), interval));
            let Some(last_think) = self.iteration(None).await else {
                return true;
            };
            done += 1;
            let wait = match began {
                Some((began, interval)) => {
                    let next = began + interval;
                    let now = Instant::now();
                    if now > next {
                        record::lock(self.shard).record_pacing_overrun(self.scenario_index);
                    }
                    next.saturating_duration_since(now)
                }
                None => last_think,
            };
            // No wait: the stop is checked at the top of the loop, without a second look here.
            if !wait.is_zero() && !self.pause(wait, self.stop.graceful()).await {
                return true;
            }
        }
    }

    async fn open(
        &mut self,
        mut jobs: mpsc::Receiver<Instant>,
        free: mpsc::UnboundedSender<usize>,
        slot: usize,
    ) -> bool {
        if !self.on_start().await {
            return false;
        }
        loop {
            let scheduled = tokio::select! {
                biased;
                job = jobs.recv() => match job {
                    Some(at) => at,
                    None => return true,
                },
                _ = self.stop.graceful().token().cancelled() => return true,
            };
            let lag = Instant::now().saturating_duration_since(scheduled);
            record::lock(self.shard).record_lag(micros(lag));
            if self.iteration(Some(scheduled)).await.is_none() || free.send(slot).is_err() {
                return true;
            }
        }
    }

    /// Draws this user's rows from the feeders drawn `each` time. False when a feeder ran out
    /// for this user (`stop_user` or `fail`; `fail` is also counted as
    /// `data.<feeder>.exhausted`).
    fn draw(&mut self, each: Each) -> bool {
        let scenario: &'a PreparedScenario = self.scenario;
        for &index in &scenario.feeds {
            let feed = &self.ctx.prepared.feeds[index];
            if feed.each != each || feed.columns.is_empty() {
                continue;
            }
            match feed.feed.next(&mut self.rng) {
                Draw::Row(row) => {
                    let values = feed.feed.row(row);
                    for (column, slot) in &feed.columns {
                        self.vars
                            .set(*slot, Some(Value::Text(values[*column].clone())));
                    }
                }
                Draw::StopUser => return false,
                Draw::Fail => {
                    let name = format!("data.{}.exhausted", feed.name);
                    record::lock(self.shard).add_counter(&name, 1.0);
                    return false;
                }
            }
        }
        true
    }

    /// The `on_start` actions. False when the user must exit.
    async fn on_start(&mut self) -> bool {
        // Rows drawn `each: iteration` are drawn here too when there is an `on_start` (it may
        // log in with them); the first iteration then keeps them.
        let scenario: &'a PreparedScenario = self.scenario;
        self.start_draw = !scenario.on_start.is_empty();
        if !self.draw(Each::User) || (self.start_draw && !self.draw(Each::Iteration)) {
            return false;
        }
        if scenario.on_start.is_empty() {
            return true;
        }
        let mut pass = Pass::new(None);
        let flow = self.actions(&scenario.on_start, &mut pass, false).await;
        flow == Flow::Next && !self.stop.graceful().is_fired()
    }

    /// The `on_stop` actions, run when the user stops gracefully (not after a firm stop).
    async fn on_stop(&mut self) {
        let scenario: &'a PreparedScenario = self.scenario;
        if scenario.on_stop.is_empty() || self.stop.hard().is_fired() {
            return;
        }
        let mut pass = Pass::new(None);
        self.actions(&scenario.on_stop, &mut pass, false).await;
    }

    /// Runs one iteration (think times between its steps included). In the open model
    /// `scheduled` is when it should have started: the first request's latency is measured
    /// from there. Returns the think time due after the last step, or `None` when the
    /// iteration was cut off (counted as interrupted).
    async fn iteration(&mut self, scheduled: Option<Instant>) -> Option<Duration> {
        let scenario: &'a PreparedScenario = self.scenario;
        let mut guard = IterationGuard {
            shard: self.shard,
            scenario: self.scenario_index,
            pass: Pass::new(scheduled),
            done: false,
        };
        self.iteration += 1;
        let kept = self.iteration == 1 && self.start_draw;
        if !kept && !self.draw(Each::Iteration) {
            return None;
        }
        let flow = self.actions(&scenario.steps, &mut guard.pass, true).await;
        if flow == Flow::Stop {
            return None;
        }
        guard.done = true;
        if guard.pass.sent {
            record::lock(self.shard).record_scenario_iteration(self.scenario_index);
        }
        // With `connections: per_iteration` the next iteration opens new connections.
        self.client.end_iteration();
        Some(guard.pass.last_think)
    }

    /// Sleeps, unless `stop` fires first. False when stopped.
    async fn pause(&self, duration: Duration, stop: &Signal) -> bool {
        if duration.is_zero() {
            return !stop.is_fired();
        }
        tokio::select! {
            biased;
            _ = stop.token().cancelled() => false,
            _ = tokio::time::sleep(duration) => true,
        }
    }

    /// Sleeps, unless `a` or `b` fires first. False when stopped.
    pub(crate) async fn pause_either(&self, duration: Duration, a: &Signal, b: &Signal) -> bool {
        if duration.is_zero() {
            return !(a.is_fired() || b.is_fired());
        }
        tokio::select! {
            biased;
            _ = a.token().cancelled() => false,
            _ = b.token().cancelled() => false,
            _ = tokio::time::sleep(duration) => true,
        }
    }
}

pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Runs `actions` once with a user of its own (`setup` and `teardown`), and returns the
/// variables it ended with: what `setup` extracted is given to every user.
pub(crate) async fn run_once(
    ctx: &VuContext,
    actions: &[crate::prepare::PreparedAction],
) -> Vec<(usize, Value)> {
    let stop = Stop::default();
    let mut user = User::new(ctx, 0, u64::MAX - 1, &stop);
    user.number = 0;
    let mut pass = Pass::new(None);
    user.actions(actions, &mut pass, false).await;
    (0..ctx.prepared.slots.len())
        .filter_map(|slot| user.vars.get(slot).map(|v| (slot, v.clone())))
        .collect()
}

/// A well-mixed per-user seed (SplitMix64 of the run seed and the user id), so users of one run
/// draw independent sequences and a run is reproducible from its seed.
pub(crate) fn user_seed(seed: u64, id: u64) -> u64 {
    let mut z = seed.wrapping_add(id.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stops_are_seen_through_every_clone_as_flags_and_tokens() {
        let stop = Stop::default();
        let clone = stop.clone();
        assert!(!clone.graceful().is_fired() && !clone.graceful().token().is_cancelled());
        assert!(!clone.hard().is_fired() && !clone.hard().token().is_cancelled());
        let waiter = tokio::spawn({
            let clone = clone.clone();
            async move { clone.graceful().token().cancelled().await }
        });
        stop.graceful().fire();
        assert!(clone.graceful().is_fired() && clone.graceful().token().is_cancelled());
        assert!(
            !clone.hard().is_fired(),
            "a graceful stop is not a firm one"
        );
        waiter.await.expect("the waiter was woken");
        stop.hard().fire();
        assert!(clone.hard().is_fired() && clone.hard().token().is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_within_a_grace_period_turns_firm_when_it_ends() {
        let stop = Stop::default();
        stop.stop_within(Duration::from_secs(2));
        assert!(stop.graceful().is_fired() && !stop.hard().is_fired());
        tokio::time::sleep(Duration::from_millis(1999)).await;
        assert!(!stop.hard().is_fired());
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert!(stop.hard().is_fired() && stop.hard().token().is_cancelled());
    }
}
