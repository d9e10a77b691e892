//! Measurement for Stampede: what one request produced ([`Outcome`]), per-interval recorders
//! ([`IntervalRecorder`]) whose [`Snapshot`]s merge exactly by adding HDR histograms, the run
//! [`Aggregator`] that turns a stream of snapshots into live figures and a [`RunResult`], and the
//! JSON result contract itself.
//!
//! This crate is pure: no async runtime, no I/O. The engine records into it on the hot path; the
//! controller side merges what the engine (or, later, many agents) sends.

mod aggregate;
pub mod custom;
mod custom_totals;
mod iterations;
mod outcome;
mod phases;
mod recorder;
pub mod result;
pub mod threshold;
mod threshold_custom;
mod threshold_window;

pub use aggregate::{Aggregator, LiveStats};
pub use custom::{CustomKind, CustomMetric, CustomSet, CustomStats, DroppedNames};
pub use outcome::{CheckFailure, ErrorKind, Outcome};
pub use phases::{PhaseStats, Timings};
pub use recorder::{
    IntervalRecorder, RequestKey, ScenarioCounts, Snapshot, StepId, StepStats, new_histogram,
};
pub use result::RunResult;
