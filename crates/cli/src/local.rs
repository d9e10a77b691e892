//! Local mode: the controller logic and one in-process engine joined by a channel.
//!
//! The engine streams [`EngineEvent`]s; this side merges snapshots with the same [`Aggregator`] a
//! distributed controller uses, drives the progress line and handles Ctrl-C. Distributed mode swaps
//! the channel for a gRPC stream; nothing here depends on the engine being in-process.

use crate::progress::Progress;
use anyhow::Context;
use stampede_engine::{Assignment, EndReason, EngineEvent};
use stampede_metrics::RunResult;
use stampede_metrics::result::{RunMeta, RunStatus};
use stampede_scenario::Plan;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Everything a local run needs.
pub struct RunSetup {
    pub plan: Arc<Plan>,
    pub scenario_file: String,
    pub seed: u64,
    pub progress: bool,
}

/// Runs the plan to its end (or Ctrl-C) and returns the merged result.
pub async fn run_local(setup: RunSetup) -> anyhow::Result<RunResult> {
    let plan = setup.plan;
    let mut aggregator = crate::aggregate::for_plan(&plan);
    aggregator.set_thresholds(crate::thresholds::specs(&plan));
    let planned = plan.duration();
    let mut progress = Progress::new(setup.progress, planned);
    let started_at = SystemTime::now();

    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let assignment = Assignment {
        plan: plan.clone(),
        seed: setup.seed,
        arrival_phase: 0.0,
        once: stampede_engine::Once::Here,
        join_at: std::time::Duration::ZERO,
    };
    let engine = tokio::spawn(stampede_engine::run(assignment, tx, cancel.clone()));

    let mut start = Instant::now();
    let mut end = None;
    let mut reason = EndReason::Completed;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(EngineEvent::Started { at }) => start = at,
                Some(EngineEvent::Snapshot(snapshot)) => {
                    aggregator.ingest(&snapshot);
                    aggregator.close_through(snapshot.second);
                    progress.update(&aggregator.live());
                    if crate::thresholds::abort_now(&mut aggregator, start.elapsed(), planned, &progress) {
                        cancel.cancel();
                    }
                }
                Some(EngineEvent::Warning(message)) => progress.println(&format!("warning: {message}")),
                Some(EngineEvent::Finished { reason: r }) => {
                    reason = r;
                    end = Some(Instant::now());
                }
                None => break,
            },
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                progress.println("Stopping: waiting for the engine to drain (Ctrl-C again to quit at once)...");
                cancel.cancel();
                // A second Ctrl-C exits at once, without a summary.
                tokio::spawn(async {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        std::process::exit(i32::from(crate::exit::INTERRUPTED));
                    }
                });
            }
        }
    }
    progress.finish();
    engine
        .await
        .context("the engine task panicked")?
        .context("the engine could not run")?;
    let duration = end.unwrap_or_else(Instant::now).duration_since(start);
    let status = if reason == EndReason::Cancelled || interrupted {
        RunStatus::Interrupted
    } else {
        RunStatus::Completed
    };
    let meta = RunMeta {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        scenario_file: setup.scenario_file,
        target: plan.target.to_string(),
        started_at: humantime::format_rfc3339_seconds(started_at).to_string(),
        planned_duration_s: planned.as_secs_f64(),
        load: plan.load.description.clone(),
        status,
    };
    // Marks the run `aborted` when a threshold stopped it.
    Ok(aggregator.finish_with_thresholds(meta, duration.as_secs_f64()))
}
