//! One distributed run being followed by the controller: merging the agents' snapshots second by
//! second, losing agents (by its [`LossPolicy`]), `teardown`, and the final [`RunResult`].
//!
//! **Merging.** A second is closed (ingested by the [`Aggregator`] and sent to the submitter) once
//! every agent still running the run has reported it, or [`GRACE`] after its first snapshot
//! arrived; a later snapshot for a closed second still counts in the totals.
//!
//! **Losing an agent** is recorded in the result's `events` (kind `agent_lost`, with when and how
//! many users it carried), then: `rebalance` (the default) sends the survivors extensions of their
//! shares that join the profile where it is (see [`super::loss`]); `continue` goes on short;
//! `abort` stops the run on every agent. The data the agent reported before it died is kept.
//!
//! [`RunResult`]: stampede_metrics::RunResult

use super::bundle;
use super::loss::{Done, LossPolicy, Reassigner};
use super::manager::{GRACE, Manager, START_DELAY, UpdateTx, update, write_atomic};
use crate::thresholds;
use stampede_controller::grpc::ControllerEvent;
use stampede_controller::liveness::LivenessEvent;
use stampede_controller::split::AgentShare;
use stampede_engine::{SetupVariable, run_teardown};
use stampede_metrics::result::{RunEvent, RunMeta, RunStatus};
use stampede_metrics::{Aggregator, Snapshot};
use stampede_proto::pb::controller_message::Kind as ToAgent;
use stampede_proto::pb::{self, run_update::Kind as Update};
use stampede_proto::{CheckedSnapshot, MERGE_BATCH, merge_batch, snapshot_to_wire};
use stampede_scenario::Plan;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A second still waiting for some agents.
pub(super) struct Pending {
    pub snapshot: Snapshot,
    /// Agents' reports not merged into `snapshot` yet (see [`merge_batch`]).
    batch: Vec<CheckedSnapshot>,
    from: BTreeSet<String>,
    since: Instant,
}

impl Pending {
    /// Adds an agent's report, merging the batch once it is full.
    fn add(&mut self, report: CheckedSnapshot) {
        self.batch.push(report);
        if self.batch.len() >= MERGE_BATCH {
            self.merge();
        }
    }

    fn merge(&mut self) {
        merge_batch(&self.batch, &mut self.snapshot);
        self.batch.clear();
    }
}

/// One run being followed.
pub(super) struct RunTask {
    pub id: String,
    pub plan: Arc<Plan>,
    file_name: String,
    started_at: SystemTime,
    start: Instant,
    last_end: Option<Instant>,
    shares: BTreeMap<String, AgentShare>,
    /// (agent, run id on the wire) of every assignment still running: the run's own, and the
    /// extensions of a rebalance (`<run id>~<n>`).
    running: BTreeSet<(String, String)>,
    pending: BTreeMap<u32, Pending>,
    closed_through: Option<u32>,
    aggregator: Aggregator,
    events: Vec<RunEvent>,
    updates: UpdateTx,
    stopping: bool,
    interrupted: bool,
    /// What `setup` extracted (for `teardown`), and the run's shipped files.
    pub once: Option<Once>,
    pub policy: LossPolicy,
    /// Builds the extensions of a rebalance.
    pub reassigner: Option<Reassigner>,
    /// What each agent had done, from its snapshots.
    done: BTreeMap<String, Done>,
    /// Stopped because an agent was lost under policy `abort`.
    aborted: bool,
}

/// What `teardown` needs at the end of a run.
pub(super) struct Once {
    pub vars: Vec<SetupVariable>,
    pub seed: u64,
    /// Kept (not read) so the shipped files stay on disk until the run ends.
    pub _files: Option<bundle::Unpacked>,
}

impl RunTask {
    pub fn new(
        id: String,
        plan: Arc<Plan>,
        file_name: String,
        start: Instant,
        shares: BTreeMap<String, AgentShare>,
        updates: UpdateTx,
    ) -> Self {
        let mut aggregator = crate::aggregate::for_plan(&plan);
        aggregator.set_thresholds(thresholds::specs(&plan));
        let run_id = id.clone();
        RunTask {
            id,
            plan,
            file_name,
            started_at: SystemTime::now() + START_DELAY,
            start,
            last_end: None,
            running: (shares.keys())
                .map(|a| (a.clone(), run_id.clone()))
                .collect(),
            shares,
            pending: BTreeMap::new(),
            closed_through: None,
            aggregator,
            events: Vec::new(),
            updates,
            stopping: false,
            interrupted: false,
            once: None,
            policy: LossPolicy::default(),
            reassigner: None,
            done: BTreeMap::new(),
            aborted: false,
        }
    }

    pub async fn follow(
        mut self,
        manager: &Manager,
        mut rx: mpsc::Receiver<ControllerEvent>,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        while !self.running.is_empty() {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(e) => self.on_event(manager, e).await,
                    None => break,
                },
                _ = tick.tick() => self.close_ready(false).await,
                _ = stop.cancelled(), if !self.stopping => {
                    self.interrupted = true;
                    self.stop_agents(manager, "stopped by the user").await;
                }
                _ = self.updates.closed(), if !self.stopping => {
                    self.interrupted = true;
                    self.stop_agents(manager, "the submitter went away").await;
                }
            }
            if !self.stopping && self.aborted() {
                self.stop_agents(manager, "a threshold failed").await;
            }
        }
        self.close_ready(true).await;
        self.teardown().await;
        let (id, updates) = (self.id.clone(), self.updates.clone());
        let result = self.finish();
        let json = serde_json::to_string_pretty(&result).unwrap_or_default();
        if let Err(e) = write_atomic(&manager.data_dir.join(format!("{id}.json")), &json) {
            tracing::warn!(error = %e, "cannot write the run's result to the data directory");
        }
        let _ = updates.send(Ok(update(Update::ResultJson(json)))).await;
    }

    /// `teardown`, once for the whole cluster after every agent finished (not after a stop).
    async fn teardown(&mut self) {
        let Some(once) = &self.once else { return };
        if self.plan.teardown.is_empty() || self.interrupted {
            return;
        }
        let second = self.closed_through.map_or(0, |c| c + 1);
        let cancel = CancellationToken::new();
        match run_teardown(self.plan.clone(), once.seed, &once.vars, second, &cancel).await {
            Ok(snapshot) => {
                self.closed_through = Some(second);
                self.ingest(&snapshot).await;
            }
            Err(e) => {
                self.event("teardown_failed", format!("teardown could not run: {e}"))
                    .await
            }
        }
    }

    /// The pending second `second`, opened if new: agents' reports (and setup's requests, before
    /// any agent reports) are merged into it until it closes.
    pub(super) fn pending(&mut self, second: u32) -> &mut Pending {
        self.pending.entry(second).or_insert_with(|| Pending {
            snapshot: Snapshot::new(second),
            batch: Vec::new(),
            from: BTreeSet::new(),
            since: Instant::now(),
        })
    }

    fn elapsed_s(&self) -> f64 {
        Instant::now()
            .saturating_duration_since(self.start)
            .as_secs_f64()
    }

    async fn note(&self, message: String) {
        let _ = self
            .updates
            .send(Ok(update(Update::Note(pb::RunNote { message }))))
            .await;
    }

    async fn stop_agents(&mut self, manager: &Manager, reason: &str) {
        self.stopping = true;
        for (agent, run_id) in &self.running {
            let stop = pb::Stop {
                run_id: run_id.clone(),
                reason: reason.to_owned(),
            };
            let _ = manager.controller.send(agent, ToAgent::Stop(stop)).await;
        }
    }

    /// Checks the abort thresholds against the closed seconds; true when the run must stop.
    fn aborted(&mut self) -> bool {
        let Some(last) = self.closed_through else {
            return false;
        };
        let elapsed = Duration::from_secs(u64::from(last) + 1);
        elapsed < self.plan.duration() && self.aggregator.check_abort(elapsed).is_some()
    }

    async fn on_event(&mut self, manager: &Manager, event: ControllerEvent) {
        match event {
            ControllerEvent::Snapshot {
                agent_id, snapshot, ..
            } => {
                let done = self.done.entry(agent_id.clone()).or_default();
                let (completed, interrupted) = snapshot.iterations();
                done.iterations += completed + interrupted;
                done.requests += snapshot.requests();
                let second = snapshot.second();
                if self.closed_through.is_some_and(|c| second <= c) {
                    let mut late = Snapshot::new(second);
                    snapshot.merge_into(&mut late);
                    self.ingest(&late).await; // late: still counted in the totals
                    return;
                }
                let pending = self.pending(second);
                pending.add(*snapshot);
                pending.from.insert(agent_id);
                self.close_ready(false).await;
            }
            ControllerEvent::BadSnapshot {
                agent_id, error, ..
            } => {
                self.note(format!(
                    "warning: a snapshot from agent {agent_id} was dropped: {error}"
                ))
                .await;
            }
            ControllerEvent::RunFinished {
                agent_id,
                run_id,
                reason,
                message,
            } => {
                if self.running.remove(&(agent_id.clone(), run_id)) {
                    self.last_end = Some(Instant::now());
                    if reason == pb::FinishReason::Failed {
                        let m = format!("agent {agent_id} could not run its share: {message}");
                        self.event("agent_failed", m).await;
                    }
                }
                self.close_ready(false).await;
            }
            ControllerEvent::Liveness(LivenessEvent::Gone {
                agent: agent_id, ..
            })
            | ControllerEvent::Disconnected { agent_id, .. } => {
                let before = self.running.len();
                self.running.retain(|(a, _)| *a != agent_id);
                if self.running.len() < before {
                    self.lost(manager, &agent_id).await;
                    self.close_ready(false).await;
                }
            }
            _ => {}
        }
    }

    /// Applies the run's policy to the loss of `agent`.
    async fn lost(&mut self, manager: &Manager, agent: &str) {
        let at = self.elapsed_s();
        let users = self.shares.get(agent).map_or(0, AgentShare::users);
        let lost = format!("agent {agent} was lost {at:.1} s into the run, with {users} user(s)");
        match self.policy {
            LossPolicy::Continue => {
                let m = format!("{lost}; the run continued short (policy: continue)");
                self.event("agent_lost", m).await;
            }
            LossPolicy::Abort => {
                let m = format!("{lost}; the run was stopped (policy: abort)");
                self.event("agent_lost", m).await;
                let m = format!("agent {agent} was lost and the run's policy is abort");
                self.event("run_aborted", m).await;
                if !self.stopping {
                    self.aborted = true;
                    self.stop_agents(manager, "an agent was lost (policy: abort)")
                        .await;
                }
            }
            LossPolicy::Rebalance if self.stopping => {
                let m = format!("{lost}; the run was already stopping");
                self.event("agent_lost", m).await;
            }
            LossPolicy::Rebalance => self.rebalance(manager, agent, lost).await,
        }
    }

    /// Re-assigns `agent`'s share to the survivors (policy `rebalance`).
    async fn rebalance(&mut self, manager: &Manager, agent: &str, lost: String) {
        let alive: BTreeSet<&String> = self.running.iter().map(|(a, _)| a).collect();
        let shares: BTreeMap<String, AgentShare> = (self.shares.iter())
            .filter(|(a, _)| alive.contains(a) || a.as_str() == agent)
            .map(|(a, s)| (a.clone(), s.clone()))
            .collect();
        let started = self.done.get(agent).copied().unwrap_or_default();
        let elapsed = Instant::now().saturating_duration_since(self.start);
        let Some(reassigner) = self.reassigner.as_mut() else {
            return;
        };
        // Room on each survivor: this run's reservation there plus what no run has reserved.
        let ids: Vec<String> = shares.keys().cloned().collect();
        reassigner.capacities = manager.pool.room_for(&self.id, &ids);
        let out = match reassigner.reassign(&self.plan, &shares, agent, started, elapsed) {
            Ok(out) => out,
            Err(e) => {
                let m = format!(
                    "{lost}; its share could not be re-assigned ({e}): the run continued short"
                );
                self.event("agent_lost", m).await;
                return;
            }
        };
        let mut to = Vec::new();
        for (survivor, assign) in out.assigns {
            let run_id = assign.run_id.clone();
            let gained: u32 = (assign.share.as_ref()).map_or(0, |s| s.scenario_users.iter().sum());
            manager.add_route(&self.id, &run_id);
            manager.pool.reserve_more(&self.id, &survivor, gained);
            if manager
                .controller
                .send(&survivor, ToAgent::Assign(assign))
                .await
                .is_ok()
            {
                self.running.insert((survivor.clone(), run_id));
                to.push(format!("{survivor} (+{gained})"));
            }
        }
        self.shares.remove(agent);
        self.shares.extend(out.shares);
        let m = if to.is_empty() {
            format!("{lost}; no survivor could take its share: the run continued short")
        } else {
            format!(
                "{lost}; its share was re-assigned to {} (policy: rebalance)",
                to.join(", ")
            )
        };
        self.event("agent_lost", m).await;
    }

    async fn event(&mut self, kind: &str, message: String) {
        self.note(format!("warning: {message}")).await;
        self.events.push(RunEvent {
            second: self.elapsed_s().max(0.0),
            kind: kind.to_owned(),
            message,
        });
    }

    /// Closes the oldest pending seconds that every running agent has reported, or that waited
    /// [`GRACE`]; every pending second when `all`.
    async fn close_ready(&mut self, all: bool) {
        let now = Instant::now();
        while let Some(entry) = self.pending.first_entry() {
            let p = entry.get();
            let complete = self.running.iter().all(|(a, _)| p.from.contains(a));
            if !(all || complete || now.duration_since(p.since) >= GRACE) {
                break;
            }
            let mut p = entry.remove();
            p.merge();
            self.closed_through = Some(p.snapshot.second);
            self.ingest(&p.snapshot).await;
        }
    }

    async fn ingest(&mut self, snapshot: &Snapshot) {
        self.aggregator.ingest(snapshot);
        if let Some(c) = self.closed_through {
            self.aggregator.close_through(c);
        }
        match snapshot_to_wire(&self.id, snapshot) {
            Ok(wire) => {
                let _ = self.updates.send(Ok(update(Update::Snapshot(wire)))).await;
            }
            Err(e) => tracing::warn!(error = %e, "cannot encode a merged snapshot"),
        }
    }

    fn finish(self) -> stampede_metrics::RunResult {
        let end = self.last_end.unwrap_or_else(Instant::now);
        let duration = end.saturating_duration_since(self.start);
        let meta = RunMeta {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            scenario_file: self.file_name,
            target: self.plan.target.to_string(),
            started_at: humantime::format_rfc3339_seconds(self.started_at).to_string(),
            planned_duration_s: self.plan.duration().as_secs_f64(),
            load: self.plan.load.description.clone(),
            status: if self.aborted {
                RunStatus::Aborted
            } else if self.interrupted {
                RunStatus::Interrupted
            } else {
                RunStatus::Completed
            },
        };
        let mut result = self
            .aggregator
            .finish_with_thresholds(meta, duration.as_secs_f64());
        result.events.extend(self.events);
        result.events.sort_by(|a, b| a.second.total_cmp(&b.second));
        result
    }
}
