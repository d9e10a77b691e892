//! A virtual user: runs its scenario's `on_start` steps once, then iterations of its steps until
//! stopped, pausing for the think time after each step and recording every outcome into its
//! recorder shard.

use crate::client::{self, Client, StepResult};
use crate::prepare::{PreparedPlan, PreparedStep};
use crate::record::{self, Shards};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use stampede_metrics::{CheckFailure, IntervalRecorder, Outcome};
use stampede_scenario::ThinkTime;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What every virtual user of a run shares.
pub(crate) struct VuContext {
    pub prepared: PreparedPlan,
    pub client: Arc<client::Shared>,
    pub shards: Arc<Shards>,
    pub seed: u64,
    pub jitter_start: bool,
}

/// Runs virtual user `id` of `scenario` until `graceful` fires (it then finishes the request in
/// flight and exits). A hard stop is the scheduler aborting the task: the request in flight is
/// dropped unrecorded and its connection closed. Nothing shared is polled per wake-up.
pub(crate) async fn run(
    ctx: Arc<VuContext>,
    scenario: usize,
    id: u64,
    graceful: CancellationToken,
) {
    User::new(&ctx, id, &graceful).run(scenario).await;
}

struct User<'a> {
    ctx: &'a VuContext,
    shard: &'a Mutex<IntervalRecorder>,
    stop: &'a CancellationToken,
    rng: SmallRng,
    client: Client,
    /// Last check failure per step id, reused while the status repeats (no formatting per
    /// failed request).
    failures: Vec<Option<(u16, CheckFailure)>>,
}

impl<'a> User<'a> {
    fn new(ctx: &'a VuContext, id: u64, stop: &'a CancellationToken) -> User<'a> {
        User {
            ctx,
            shard: ctx.shards.of(id),
            stop,
            rng: SmallRng::seed_from_u64(user_seed(ctx.seed, id)),
            client: Client::new(ctx.client.clone(), ctx.prepared.step_count),
            failures: Vec::new(),
        }
    }

    async fn run(mut self, scenario: usize) {
        let ctx = self.ctx;
        let scenario = &ctx.prepared.scenarios[scenario];
        if ctx.jitter_start {
            let offset = sample(&mut self.rng, uniform_to(scenario.think_time.max()));
            if !self.pause(offset).await {
                return;
            }
        }
        for step in &scenario.on_start {
            if !self.step(step, false).await {
                return;
            }
        }
        let Some((last, steps)) = scenario.steps.split_last() else {
            self.stop.cancelled().await;
            return;
        };
        loop {
            for step in steps {
                if !self.step(step, false).await {
                    return;
                }
            }
            if !self.step(last, true).await {
                return;
            }
        }
    }

    /// Sends one step and records it (and the iteration it `ends`, which completes with its last
    /// request, before the think time), then thinks. False when the user must exit.
    async fn step(&mut self, step: &PreparedStep, ends: bool) -> bool {
        if self.stop.is_cancelled() {
            return false;
        }
        // Cheap insurance against a user that never yields (e.g. instant errors, no think time).
        tokio::task::consume_budget().await;
        let result = self.client.execute(step).await;
        self.record(step, &result, ends);
        if self.stop.is_cancelled() {
            return false;
        }
        let pause = sample(&mut self.rng, step.think_time);
        pause.is_zero() || self.pause(pause).await
    }

    fn record(&mut self, step: &PreparedStep, result: &StepResult, ends_iteration: bool) {
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
                let outcome = Outcome::Response {
                    status,
                    latency_us,
                    bytes_in,
                    bytes_out,
                    failed_check,
                };
                let mut shard = record::lock(self.shard);
                shard.record(step.row, &outcome);
                if ends_iteration {
                    shard.record_iteration();
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
                let mut shard = record::lock(self.shard);
                shard.record(step.row, &outcome);
                if ends_iteration {
                    shard.record_iteration();
                }
            }
        }
    }

    /// Sleeps, unless asked to stop first. False when stopped.
    async fn pause(&self, duration: Duration) -> bool {
        if duration.is_zero() {
            return !self.stop.is_cancelled();
        }
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => false,
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

fn uniform_to(max: Duration) -> ThinkTime {
    ThinkTime::Uniform {
        min: Duration::ZERO,
        max,
    }
}

/// Draws a pause.
fn sample(rng: &mut SmallRng, think_time: ThinkTime) -> Duration {
    match think_time {
        ThinkTime::None => Duration::ZERO,
        ThinkTime::Constant(d) => d,
        ThinkTime::Uniform { min, max } => {
            let (lo, hi) = (nanos(min), nanos(max));
            if hi <= lo {
                return min;
            }
            Duration::from_nanos(rng.random_range(lo..=hi))
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A well-mixed per-user seed (SplitMix64 of the run seed and the user id), so users of one run
/// draw independent sequences and a run is reproducible from its seed.
fn user_seed(seed: u64, id: u64) -> u64 {
    let mut z = seed.wrapping_add(id.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_think_time_stays_in_bounds_and_is_reproducible() {
        let think = ThinkTime::Uniform {
            min: Duration::from_millis(200),
            max: Duration::from_millis(400),
        };
        let mut a = SmallRng::seed_from_u64(user_seed(7, 3));
        let mut b = SmallRng::seed_from_u64(user_seed(7, 3));
        let mut c = SmallRng::seed_from_u64(user_seed(7, 4));
        let (mut lo, mut hi) = (Duration::MAX, Duration::ZERO);
        let mut differs = false;
        for _ in 0..1000 {
            let x = sample(&mut a, think);
            assert_eq!(x, sample(&mut b, think));
            differs |= x != sample(&mut c, think);
            lo = lo.min(x);
            hi = hi.max(x);
        }
        assert!(differs, "different users draw different pauses");
        assert!(lo >= Duration::from_millis(200) && hi <= Duration::from_millis(400));
        assert!(lo < Duration::from_millis(210) && hi > Duration::from_millis(390));
        assert_eq!(sample(&mut a, ThinkTime::None), Duration::ZERO);
    }
}
