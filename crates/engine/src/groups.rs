//! A run is one or more *groups*, each driven by its own scheduler from its own start: the
//! top-level load with the scenarios that have none of their own (split by weight), and each
//! scenario with its own `load` (after its `start` offset). A top-level arrival rate shared by
//! several scenarios is split into one open-model group per scenario (rate and pool scaled by
//! weight), so each scenario's users run only its own flow.

use crate::vu::{Stop, VuContext};
use crate::{EndReason, arrival, scheduler};
use stampede_scenario::{Load, Plan, split_by_weight};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest wait for requests in flight once iterations were told to stop.
const MAX_REQUEST_GRACE: Duration = Duration::from_secs(30);

/// User ids of different groups never collide: group `g` numbers its users from `g << 40`.
const IDS_PER_GROUP: u64 = 1 << 40;

/// One scheduler's share of the plan.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub load: Load,
    /// Offset from the start of the run.
    pub start: Duration,
    /// (scenario index in the plan, weight).
    pub scenarios: Vec<(usize, u32)>,
    /// First user id of the group (ids pick recorder shards and seed random draws).
    pub first_user_id: u64,
}

/// The groups of `plan`, in plan order (the top-level group first).
pub(crate) fn groups(plan: &Plan) -> Vec<Group> {
    let mut out = Vec::new();
    let shared: Vec<(usize, u32)> = (plan.scenarios.iter().enumerate())
        .filter(|(_, s)| s.load.is_none() && s.weight > 0)
        .map(|(i, s)| (i, s.weight))
        .collect();
    if !shared.is_empty() && !plan.load.is_idle() {
        match &plan.load.arrival {
            Some(_) if shared.len() > 1 => out.extend(split_open(&plan.load, &shared)),
            _ => out.push(group(plan.load.clone(), Duration::ZERO, shared)),
        }
    }
    for (i, scenario) in plan.scenarios.iter().enumerate() {
        if let Some(load) = &scenario.load {
            out.push(group(load.clone(), scenario.start, vec![(i, 1)]));
        }
    }
    for (g, group) in out.iter_mut().enumerate() {
        group.first_user_id = g as u64 * IDS_PER_GROUP;
    }
    out
}

fn group(load: Load, start: Duration, scenarios: Vec<(usize, u32)>) -> Group {
    Group {
        load,
        start,
        scenarios,
        first_user_id: 0,
    }
}

/// One open-model group per weighted scenario: the rate scaled by its weight, the pool split by
/// weight exactly (a scenario whose share of `max_users` rounds to 0 gets no group; validation
/// warned about it).
fn split_open(load: &Load, shared: &[(usize, u32)]) -> Vec<Group> {
    let Some(arrival) = &load.arrival else {
        return Vec::new();
    };
    let weights: Vec<u32> = shared.iter().map(|&(_, w)| w).collect();
    let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
    let max = split_by_weight(arrival.max_users, &weights);
    let pre = split_by_weight(arrival.pre_allocated_users, &weights);
    (shared.iter().enumerate())
        .filter(|&(k, _)| max[k] > 0)
        .map(|(k, &(scenario, weight))| {
            let mut part = load.clone();
            if let Some(a) = &mut part.arrival {
                let share = f64::from(weight) / total;
                a.stages.iter_mut().for_each(|s| s.rate *= share);
                a.max_users = max[k];
                a.pre_allocated_users = pre[k].min(max[k]);
            }
            group(part, Duration::ZERO, vec![(scenario, 1)])
        })
        .collect()
}

/// Runs every group of `plan` concurrently from `start`; returns once all their users stopped.
pub(crate) async fn run_all(
    ctx: Arc<VuContext>,
    plan: &Plan,
    start: Instant,
    users: Arc<AtomicU32>,
    cancel: &CancellationToken,
) -> EndReason {
    let grace = plan.http.request_timeout.min(MAX_REQUEST_GRACE);
    let mut set = JoinSet::new();
    let groups = groups(plan);
    // A group that ends takes its users out of the count, except the last one: the final
    // snapshot reports the users active just before the end.
    let running = Arc::new(AtomicUsize::new(groups.len()));
    for group in groups {
        let (ctx, users, cancel) = (ctx.clone(), users.clone(), cancel.clone());
        let running = running.clone();
        set.spawn(async move {
            let at = start + group.start;
            let begins = tokio::select! {
                biased;
                _ = cancel.cancelled() => false,
                _ = ctx.limits.reached.cancelled() => false,
                _ = tokio::time::sleep_until(at) => true,
            };
            let (_, counted) = match (begins, group.load.arrival.is_some()) {
                (false, _) => (EndReason::Completed, 0),
                (true, true) => arrival::run(ctx, &group, at, &users, &cancel, grace).await,
                (true, false) => scheduler::run(ctx, &group, at, &users, &cancel, grace).await,
            };
            if running.fetch_sub(1, Ordering::AcqRel) > 1 {
                users.fetch_sub(counted, Ordering::Relaxed);
            }
        });
    }
    while let Some(joined) = set.join_next().await {
        scheduler::propagate_panic(joined);
    }
    match cancel.is_cancelled() {
        true => EndReason::Cancelled,
        false => EndReason::Completed,
    }
}

/// Ends a group's users. After a planned end (or a limit): every user stops gracefully, iterations
/// in flight get `graceful_stop` to finish, then requests in flight get `request_grace` to
/// complete (so the target's count equals the reported one); whatever is left is aborted. On
/// cancel, everything is aborted at once (requests in flight are dropped unrecorded). Aborted
/// iterations count as interrupted. Returns once every task is gone, so nothing records after.
pub(crate) async fn finish_tasks(
    mut tasks: JoinSet<()>,
    stops: &[Stop],
    reason: EndReason,
    graceful_stop: Duration,
    request_grace: Duration,
    cancel: &CancellationToken,
) {
    if reason == EndReason::Completed {
        stops.iter().for_each(|s| s.graceful().fire());
        if !drain(&mut tasks, graceful_stop, cancel).await {
            stops.iter().for_each(|s| s.hard().fire());
            drain(&mut tasks, request_grace, cancel).await;
        }
    }
    while let Some(joined) = tasks.try_join_next() {
        scheduler::propagate_panic(joined);
    }
    tasks.shutdown().await;
}

/// Waits up to `limit` for every task to end; true when they all did.
async fn drain(tasks: &mut JoinSet<()>, limit: Duration, cancel: &CancellationToken) -> bool {
    let all = async {
        while let Some(joined) = tasks.join_next().await {
            scheduler::propagate_panic(joined);
        }
    };
    tokio::select! {
        _ = all => true,
        _ = tokio::time::sleep(limit) => false,
        _ = cancel.cancelled() => false,
    }
}
