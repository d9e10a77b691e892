//! The Stampede load engine: runs an [`Assignment`] (a plan, or later a share of one) and streams a
//! [`metrics::Snapshot`](stampede_metrics::Snapshot) every second to whoever drives it.
//!
//! The engine knows nothing about where its events go: locally they cross an in-process channel to
//! the controller logic in the CLI; in distributed mode an agent forwards them over gRPC.

use stampede_metrics::Snapshot;
use stampede_scenario::Plan;
use std::sync::Arc;
use std::time::Instant;

/// What the engine is asked to run.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub plan: Arc<Plan>,
    /// Seed for every random choice (think times, start offsets), so runs are reproducible.
    pub seed: u64,
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
