//! The closed-model scheduler of one group: keeps the number of running virtual users equal to
//! `Load::users_at(t)`, split across the group's scenarios exactly by `split_by_weight`.
//!
//! It sleeps until the next instant the target count changes (computed from the stages, not
//! polled). Users of a wave (a `0s` stage) are spawned in one go, so they start at the same
//! instant. Ramping down stops the most recently started users of the scenarios whose share
//! shrank, gracefully: they stop counting at once, finish their iteration in flight within
//! `graceful_stop`, then send nothing more (see [`Stop`]).

use crate::EndReason;
use crate::groups::{Group, finish_tasks};
use crate::vu::{self, Mode, Stop, VuContext};
use stampede_scenario::{Load, split_by_weight};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

/// Runs the closed-model `group` from `start`; returns once every one of its users has stopped,
/// with how many it still counted in `users` at its end (the caller takes them away).
pub(crate) async fn run(
    ctx: Arc<VuContext>,
    group: &Group,
    start: Instant,
    users: &AtomicU32,
    cancel: &CancellationToken,
    request_grace: Duration,
) -> (EndReason, u32) {
    let load = &group.load;
    let end = start + load.duration();
    let weights: Vec<u32> = group.scenarios.iter().map(|&(_, w)| w).collect();
    let reached = ctx.limits.reached.clone();
    let per_user = ctx.limits.per_user.is_some();
    let mut tasks = JoinSet::new();
    // Stop handles of the active users, per scenario, in start order.
    let mut active: Vec<Vec<Stop>> = vec![Vec::new(); weights.len()];
    let mut counted = 0u32;
    let mut next_id = group.first_user_id;

    let reason = loop {
        let now = Instant::now();
        if cancel.is_cancelled() {
            break EndReason::Cancelled;
        }
        if now >= end || reached.is_cancelled() {
            break EndReason::Completed;
        }
        let elapsed = now - start;
        let target = load.users_at(elapsed);
        let shares = split_by_weight(target, &weights);
        for (slot, &share) in shares.iter().enumerate() {
            while active[slot].len() > share as usize {
                if let Some(user) = active[slot].pop() {
                    user.stop_within(load.graceful_stop);
                }
            }
        }
        for (slot, &share) in shares.iter().enumerate() {
            let scenario = group.scenarios[slot].0;
            while active[slot].len() < share as usize {
                let stop = Stop::default();
                active[slot].push(stop.clone());
                let mode = Mode::Closed {
                    jitter: load.jitter_start,
                };
                tasks.spawn(vu::run(ctx.clone(), scenario, next_id, stop, mode));
                next_id += 1;
            }
        }
        adjust(users, &mut counted, target);
        // Reap users that finished after a stop (or their `per_user` iterations).
        while let Some(joined) = tasks.try_join_next() {
            propagate_panic(joined);
        }

        let next = next_change(load, elapsed)
            .map(|t| start + t)
            .filter(|&t| t < end);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break EndReason::Cancelled,
            _ = reached.cancelled() => break EndReason::Completed,
            _ = sleep_until(end) => break EndReason::Completed,
            _ = sleep_until(next.unwrap_or(end)), if next.is_some() => {}
            // Every user exited on its own (`per_user` iterations done) and none is due.
            _ = all_done(&mut tasks), if next.is_none() && per_user => break EndReason::Completed,
        }
    };
    let stops: Vec<Stop> = active.into_iter().flatten().collect();
    finish_tasks(
        tasks,
        &stops,
        reason,
        load.graceful_stop,
        request_grace,
        cancel,
    )
    .await;
    (reason, counted)
}

/// Resolves once every task of `tasks` has ended.
async fn all_done(tasks: &mut JoinSet<()>) {
    while let Some(joined) = tasks.join_next().await {
        propagate_panic(joined);
    }
}

/// Moves this group's contribution to `users` from `counted` to `target`.
fn adjust(users: &AtomicU32, counted: &mut u32, target: u32) {
    if target > *counted {
        users.fetch_add(target - *counted, Ordering::Relaxed);
    } else {
        users.fetch_sub(*counted - target, Ordering::Relaxed);
    }
    *counted = target;
}

pub(crate) fn propagate_panic(joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined
        && e.is_panic()
    {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The first instant after `t` at which `load.users_at` differs from `load.users_at(t)`, or
/// `None` when the count never changes again.
pub(crate) fn next_change(load: &Load, t: Duration) -> Option<Duration> {
    let current = load.users_at(t);
    let mut from = 0u32;
    let mut start = Duration::ZERO;
    for stage in &load.stages {
        let end = start + stage.duration;
        let to = stage.users;
        if end > t {
            if stage.duration.is_zero() {
                // A step: the count jumps at `start` (> t).
                if to != current {
                    return Some(start);
                }
            } else if to != current {
                // Linear and monotonic within the stage, from `current` (at max(t, start)) to
                // `to`: the floored count changes when the line crosses the next integer.
                let (from_f, to_f, dur) = (f64::from(from), f64::from(to), stage.duration);
                let frac = if to > current {
                    (f64::from(current) + 1.0 - from_f) / (to_f - from_f)
                } else {
                    (from_f - f64::from(current)) / (from_f - to_f)
                };
                let approx = start + dur.mul_f64(frac.clamp(0.0, 1.0));
                return Some(first_change_from(load, current, approx.max(t), end));
            }
        }
        from = to;
        start = end;
    }
    None
}

/// The first instant in `(after, end]` where the count differs from `current`, starting from an
/// analytic estimate: corrects floating-point error by stepping forward in growing increments.
fn first_change_from(load: &Load, current: u32, after: Duration, end: Duration) -> Duration {
    let mut step = Duration::from_nanos(1);
    let mut candidate = after + step;
    while candidate < end {
        if load.users_at(candidate) != current {
            return candidate;
        }
        step *= 2;
        candidate = after + step;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_scenario::Stage;

    fn load(stages: &[(u64, u32)]) -> Load {
        Load {
            stages: stages
                .iter()
                .map(|&(ms, users)| Stage {
                    duration: Duration::from_millis(ms),
                    users,
                })
                .collect(),
            jitter_start: false,
            ..Load::default()
        }
    }

    /// Walks every change and checks it against a fine-grained scan of `users_at`.
    fn changes(load: &Load) -> Vec<(Duration, u32)> {
        let mut t = Duration::ZERO;
        let mut out = vec![(t, load.users_at(t))];
        while let Some(next) = next_change(load, t) {
            assert!(next > t, "no progress at {t:?}");
            assert!(next <= load.duration(), "change past the end");
            t = next;
            out.push((t, load.users_at(t)));
            assert!(out.len() < 10_000);
            if t >= load.duration() {
                break;
            }
        }
        out
    }

    #[test]
    fn ramp_up_changes_at_each_user() {
        let l = load(&[(4000, 20), (2000, 20)]);
        let c = changes(&l);
        assert_eq!(c.len(), 21, "{c:?}");
        for (i, (t, users)) in c.iter().enumerate() {
            assert_eq!(*users, i as u32);
            let ideal = Duration::from_millis(200 * i as u64);
            let diff = t.abs_diff(ideal);
            assert!(diff < Duration::from_micros(10), "{t:?} vs {ideal:?}");
            // Just before the change the count was still the previous one.
            if i > 0 {
                assert_eq!(l.users_at(*t - Duration::from_micros(20)), i as u32 - 1);
            }
        }
    }

    #[test]
    fn ramp_down_and_steps() {
        let l = load(&[(0, 10), (1000, 10), (1000, 0), (0, 5), (500, 5)]);
        let c = changes(&l);
        let counts: Vec<u32> = c.iter().map(|&(_, u)| u).collect();
        let expected: Vec<u32> = std::iter::once(10)
            .chain((0..10).rev())
            .chain(std::iter::once(5))
            .collect();
        assert_eq!(counts, expected, "{c:?}");
        // 10 -> 9 happens just after the ramp-down starts.
        assert!(c[1].0 > Duration::from_millis(1000) && c[1].0 < Duration::from_millis(1001));
        assert_eq!(c.last().unwrap().0, Duration::from_millis(2000));
    }

    #[test]
    fn flat_profile_never_changes() {
        let l = load(&[(0, 100), (2000, 100)]);
        assert_eq!(next_change(&l, Duration::ZERO), None);
        assert_eq!(l.users_at(Duration::ZERO), 100);
    }
}
