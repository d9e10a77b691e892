//! The agent's [`Runner`]: builds the assigned plan from the scenario text, keeps only this
//! agent's share, waits for the common start instant and runs the engine, forwarding its
//! snapshots to the controller.
//!
//! The run's cancellation token is the one the agent's dead man's switch and `Stop` messages
//! cancel, and it is handed to the engine as is: when the controller goes silent the engine
//! stops within milliseconds.

use super::bundle;
use super::share::apply_share;
use stampede_agent::{Reports, Runner};
use stampede_engine::{Assignment, EndReason, EngineEvent, Once, SetupVariable};
use stampede_proto::{overrides_from_wire, pb};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Runs shares on the in-process engine.
#[derive(Debug, Default)]
pub struct EngineRunner;

impl Runner for EngineRunner {
    fn start(&self, assign: pb::Assign, cancel: CancellationToken, reports: Reports) {
        tokio::spawn(async move {
            let run_id = assign.run_id.clone();
            let (reason, message) = match run_share(assign, &cancel, &reports).await {
                Ok(EndReason::Completed) => (pb::FinishReason::Completed, String::new()),
                Ok(EndReason::Cancelled) => (pb::FinishReason::Stopped, String::new()),
                Err(message) => {
                    tracing::warn!(%run_id, %message, "the run could not start");
                    (pb::FinishReason::Failed, message)
                }
            };
            let _ = reports.finished(&run_id, reason, message).await;
        });
    }
}

/// The plan this agent runs for `assign`, and the directory of its shipped files (kept until
/// the run ends).
fn plan_for(
    assign: &pb::Assign,
) -> Result<(stampede_scenario::Plan, Option<bundle::Unpacked>), String> {
    let overrides = assign
        .overrides
        .as_ref()
        .map(overrides_from_wire)
        .unwrap_or_default();
    let (loaded, unpacked) = bundle::load(
        &assign.scenario_source,
        &assign.file_name,
        &assign.scenario_path,
        &assign.files,
        &overrides,
    )?;
    let mut plan = loaded.plan;
    let share = assign.share.as_ref().ok_or("the assignment has no share")?;
    apply_share(&mut plan, share)?;
    Ok((plan, unpacked))
}

/// Whether this agent runs `setup`/`teardown` itself (never, when the controller ran them).
fn once_for(assign: &pb::Assign) -> Once {
    if !assign.setup_done {
        return Once::Here;
    }
    Once::Done(
        (assign.setup_variables.iter())
            .map(|v| SetupVariable {
                name: v.name.clone(),
                values: v.values.clone(),
                list: v.list,
            })
            .collect(),
    )
}

async fn run_share(
    assign: pb::Assign,
    cancel: &CancellationToken,
    reports: &Reports,
) -> Result<EndReason, String> {
    let (plan, _files) = plan_for(&assign)?;
    // The controller's start instant, on this agent's clock.
    let start_ns = assign
        .start_at_unix_ns
        .saturating_add(assign.clock_offset_ns);
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let wait = Duration::from_nanos(u64::try_from(start_ns - now_ns).unwrap_or(0));
    tokio::select! {
        _ = cancel.cancelled() => return Ok(EndReason::Cancelled),
        _ = tokio::time::sleep(wait.min(Duration::from_secs(60))) => {}
    }
    let (tx, mut rx) = mpsc::channel(64);
    let assignment = Assignment {
        plan: Arc::new(plan),
        seed: assign.seed,
        arrival_phase: assign.share.as_ref().map_or(0.0, |s| s.phase),
        once: once_for(&assign),
        join_at: Duration::from_nanos(assign.join_at_ns),
    };
    let engine = tokio::spawn(stampede_engine::run(assignment, tx, cancel.clone()));
    while let Some(event) = rx.recv().await {
        match event {
            EngineEvent::Snapshot(s) => {
                if let Err(e) = reports.snapshot(&assign.run_id, &s).await {
                    tracing::warn!(error = %e, "a snapshot could not be forwarded");
                }
            }
            EngineEvent::Warning(w) => tracing::warn!("{w}"),
            EngineEvent::Started { .. } | EngineEvent::Finished { .. } => {}
        }
    }
    match engine.await {
        Ok(Ok(reason)) => Ok(reason),
        Ok(Err(e)) => Err(format!("the engine could not run: {e}")),
        Err(e) => Err(format!("the engine task failed: {e}")),
    }
}
