//! The Stampede load engine: runs an [`Assignment`] (a plan, or later a share of one) and streams a
//! [`metrics::Snapshot`](stampede_metrics::Snapshot) every second to whoever drives it.
//!
//! The engine knows nothing about where its events go: locally they cross an in-process channel to
//! the controller logic in the CLI; in distributed mode an agent forwards them over gRPC.
//!
//! # How a run works
//!
//! [`run`] prebuilds every request of the plan, then runs its groups (`groups`: the top-level
//! load and each scenario's own load) concurrently. A closed-model scheduler (`scheduler`)
//! starts and stops virtual users (`vu`) at the instants `Load::users_at` changes, keeping the
//! per-scenario counts exactly at `split_by_weight(users, weights)`; an open-model scheduler
//! (`arrival`) starts iterations at the arrival rate on free users of a pool. Each virtual user owns an
//! HTTP/1.1 and HTTP/2 client (`client`) with one keep-alive connection per origin (or borrows
//! one from a generator-wide pool with `connections: shared`) and, optionally, a cookie jar
//! (`cookies`). Outcomes are recorded into a fixed set of sharded recorders (`record`) that a
//! rotation task drains into one [`Snapshot`] per second.
//!
//! # What is measured
//!
//! * **Latency** runs from the start of the step's first request (just before its connection is
//!   opened when it needs a new one, so connecting and the TLS handshake are included, as a
//!   browser user experiences them; after a shared pool handed over a connection, so waiting for
//!   one is not) to the end of the last response body. With redirects followed, a step is
//!   recorded **once**: latency and status are those of the whole chain (final status), and bytes
//!   are summed over every hop. A retry on a fresh connection after a stale keep-alive connection
//!   failed is part of the same step and is not recorded as an error.
//! * **Phases** of each response, from the same start (so `connect + tls <= ttfb <= latency`):
//!   `connect` (name resolution + TCP) and `tls` (handshake) of the connections the step opened,
//!   only when it opened one; `ttfb` until the final response head arrived.
//! * **`bytes_in`** = response body bytes as delivered (after chunked decoding, so chunk framing is
//!   not counted) + the response head size *reconstructed* from the parsed head
//!   (`HTTP/1.1 <code> <reason>\r\n`, `name: value\r\n` per header, final `\r\n`), which is exact
//!   for a canonically formatted response. Over HTTP/2 the heads are counted the same way (their
//!   HTTP/1.1 size, not the HPACK-compressed one), so figures compare across versions.
//! * **`bytes_out`** = the request head reconstructed the same way (including the `Cookie` header
//!   and the `Content-Length` the engine sets) + body bytes, once per hop.
//! * The **request timeout** (step override, else `HttpOptions::request_timeout`) is one deadline
//!   for the whole step, redirects and reconnects included; each connection attempt is further
//!   bounded by `HttpOptions::connect_timeout` (an expiry there is `ConnectTimeout`, not `Timeout`).
//! * An **iteration** counts when the last request of the scenario's steps completes (before its
//!   think time); `on_start` steps are not an iteration.

mod arrival;
mod client;
mod cookies;
mod feed;
mod flow;
mod groups;
mod limits;
mod once;
mod pace;
mod prepare;
mod record;
mod resources;
mod respond;
mod scheduler;
mod script_host;
mod signal;
mod vars;
mod vu;

pub use once::{Once, SetupVariable, run_setup, run_teardown};
use stampede_metrics::Snapshot;
use stampede_scenario::Plan;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::time::Instant;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

/// What the engine is asked to run.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub plan: Arc<Plan>,
    /// Seed for every random choice (think times, start offsets), so runs are reproducible.
    pub seed: u64,
    /// Open model: this generator's `n`-th arrival is due when the expected count reaches
    /// `n + arrival_phase` (in `[0, 1)`). 0 for a local run; in a distributed run each agent gets
    /// its own, so the cluster's arrivals are evenly spaced.
    pub arrival_phase: f64,
    /// Whether this run runs the plan's `setup` and `teardown` ([`Once::Here`], a local run) or
    /// they ran elsewhere ([`Once::Done`], an agent of a distributed run).
    pub once: Once,
    /// How far into its load profile the run starts: zero for a run of its own; in a
    /// distributed run, a share re-assigned from a lost agent joins the run where it is. The
    /// profile's clock then started `join_at` ago: closed-model levels are those of that point,
    /// open-model arrivals due before it are skipped (never sent in a burst), and snapshots are
    /// numbered from the profile's start.
    pub join_at: std::time::Duration,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The load profile ran to its end.
    Completed,
    /// The cancellation token fired (Ctrl-C, stop request).
    Cancelled,
}

/// What the engine reports, in order: `Started`, then one `Snapshot` per second (the last one
/// possibly partial), then `Finished`.
// A snapshot is sent once per second: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum EngineEvent {
    /// Load generation began at this instant; snapshot seconds count from here.
    Started { at: Instant },
    /// One interval's measurements.
    Snapshot(Snapshot),
    /// A condition worth telling the user about (e.g. generator overloaded), once.
    Warning(String),
    /// No more events follow.
    Finished { reason: EndReason },
}

/// A setup failure: the run could not start. Request failures are never errors; they are data in
/// the snapshots.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid target {target}: {reason}")]
    InvalidTarget { target: String, reason: String },
    #[error("invalid URL {url:?} (request row {row}): {reason}")]
    InvalidUrl {
        row: u32,
        url: String,
        reason: String,
    },
    #[error("invalid header {name:?} (request row {row}): {reason}")]
    InvalidHeader {
        row: u32,
        name: String,
        reason: String,
    },
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("{0}")]
    Script(String),
}

/// Runs `assignment` until its load profile ends or `cancel` fires, streaming [`EngineEvent`]s.
///
/// Events, in order: `Started { at }`; one `Snapshot` per second (second `n` covers `[n, n+1)` s
/// after `at`, with `users` = virtual users active at the end of the interval) for every whole
/// second until every virtual user has stopped (graceful stop included); one final snapshot (possibly partial, possibly empty)
/// drained after every virtual user has stopped, so every recorded outcome is in exactly one
/// snapshot; then `Finished { reason }`. The final snapshot's `users` is the count active just
/// before the stop.
///
/// At the planned end of the profile (or when a run-wide limit is reached), virtual users finish
/// the iteration they are in within the load's `graceful_stop`, then start no new request; the
/// requests in flight complete and are recorded (bounded by the request timeout, at most 30 s),
/// so the target's count equals the reported one, and unfinished iterations are counted as
/// interrupted. On cancel, virtual users are stopped at once: requests in flight are dropped and
/// not recorded. The call returns within a few milliseconds of that, plus the
/// time the event receiver takes to accept the last events: `events` must be drained
/// concurrently (the engine awaits channel capacity; if the receiver is dropped, events are
/// discarded and the run continues).
pub async fn run(
    assignment: Assignment,
    events: Sender<EngineEvent>,
    cancel: CancellationToken,
) -> Result<EndReason, EngineError> {
    let plan = assignment.plan;
    let join_at = assignment.join_at;
    let (ctx, shards) = context(&plan, assignment.seed, assignment.arrival_phase, join_at)?;
    let here = assignment.once == Once::Here;
    if let Once::Done(vars) = &assignment.once {
        let _ = ctx.globals.set(once::from_variables(&ctx, vars));
    }
    // `setup` runs once before the load starts (its requests are recorded in the first
    // snapshot); what it extracts is given to every user.
    if here && let Some(globals) = once::run_until(&ctx, &ctx.prepared.setup, &cancel).await {
        let _ = ctx.globals.set(globals);
    }

    let now = Instant::now();
    let at = now.checked_sub(join_at).unwrap_or(now);
    let start = tokio::time::Instant::from_std(at);
    let _ = events.send(EngineEvent::Started { at }).await;
    let users = Arc::new(AtomicU32::new(0));
    let warned = Arc::new(AtomicBool::new(false));
    let rotation = record::Rotation::spawn(
        shards.clone(),
        start,
        u32::try_from(join_at.as_secs()).unwrap_or(u32::MAX),
        plan.duration(),
        users.clone(),
        events.clone(),
        warned.clone(),
    );
    let reason = groups::run_all(ctx.clone(), &plan, start, users.clone(), &cancel).await;
    // `teardown` runs once after the last user stopped, unless the run was cancelled.
    if here && !cancel.is_cancelled() {
        once::run_until(&ctx, &ctx.prepared.teardown, &cancel).await;
    }

    // Every virtual user has stopped: nothing records any more.
    let second = rotation.finish().await;
    let mut last = Snapshot::new(second);
    shards.drain_into(&mut last);
    last.users = users.load(std::sync::atomic::Ordering::Relaxed);
    record::warn_if_saturated(&last, &warned, &events).await;
    let _ = events.send(EngineEvent::Snapshot(last)).await;
    let _ = events.send(EngineEvent::Finished { reason }).await;
    Ok(reason)
}

/// What every virtual user of a run shares, and the recorders they write to.
fn context(
    plan: &Plan,
    seed: u64,
    arrival_phase: f64,
    join_at: std::time::Duration,
) -> Result<(Arc<vu::VuContext>, Arc<record::Shards>), EngineError> {
    let prepared = prepare::PreparedPlan::new(plan)?;
    let tls = client::tls_connector(&plan.http)?;
    let client = client::Shared::new(&plan.http, &prepared.origins, tls);
    let shards = Arc::new(record::Shards::new(record::default_shard_count()));
    let ctx = Arc::new(vu::VuContext {
        prepared,
        client: Arc::new(client),
        shards: shards.clone(),
        seed,
        limits: Arc::new(limits::RunLimits::new(&plan.load.limits)),
        arrival_phase,
        join_at,
        globals: std::sync::OnceLock::new(),
    });
    Ok((ctx, shards))
}
