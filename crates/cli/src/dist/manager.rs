//! The controller's run manager: turns a submitted run into agent assignments, merges the agents'
//! snapshots second by second, and produces the run's [`RunResult`].
//!
//! One router task owns the agent service's event channel and hands each run's events to that
//! run's task (snapshots and completions by run id; agent losses to every run), so a run task is a
//! single consumer with no shared state to lock.
//!
//! **Merging.** A second is closed (ingested by the [`Aggregator`] and sent to the submitter) once
//! every agent still running the run has reported it, or [`GRACE`] after its first snapshot
//! arrived; a later snapshot for a closed second still counts in the totals.
//!
//! **Losing an agent.** Policy `continue`: the run goes on with the survivors, short of the lost
//! share, and the loss is recorded in the result's `events` (kind `agent_lost`) with when and how
//! many users it carried. Re-assigning the share to survivors (`rebalance`) is not done yet.

use super::bundle;
use super::share::{data_rows, demand};
use crate::thresholds;
use stampede_controller::grpc::{Controller, ControllerEvent};
use stampede_controller::liveness::{AgentState, LivenessEvent};
use stampede_controller::split::{AgentCapacity, AgentShare, split};
use stampede_controller::wire::{agent_seed, share_to_wire};
use stampede_engine::{SetupVariable, run_setup, run_teardown};
use stampede_metrics::result::{RunEvent, RunMeta, RunStatus};
use stampede_metrics::{Aggregator, RequestKey, Snapshot};
use stampede_proto::pb::controller_message::Kind as ToAgent;
use stampede_proto::pb::{self, run_update::Kind as Update};
use stampede_proto::{overrides_to_wire, snapshot_to_wire};
use stampede_scenario::{Overrides, Plan};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::Status;

/// How long a second waits for its last agents before it is closed without them.
const GRACE: Duration = Duration::from_secs(2);
/// Time between the assignments and the common start, so every agent has them in time.
const START_DELAY: Duration = Duration::from_secs(1);

/// A run as submitted.
pub struct RunSpec {
    pub source: String,
    pub file_name: String,
    pub overrides: Overrides,
    pub thresholds: Vec<String>,
    pub seed: u64,
    pub min_agents: u32,
    pub wait_agents: Duration,
    /// The files the scenario uses, and where the scenario sits among them.
    pub files: Vec<pb::IncludedFile>,
    pub scenario_path: String,
}

pub type UpdateTx = mpsc::Sender<Result<pb::RunUpdate, Status>>;
type Routes = Arc<Mutex<HashMap<String, mpsc::Sender<ControllerEvent>>>>;

/// Runs in progress, and where their agents' events go.
pub struct Manager {
    controller: Controller,
    routes: Routes,
    stops: Mutex<HashMap<String, CancellationToken>>,
    data_dir: PathBuf,
    next_id: AtomicU64,
}

impl Manager {
    /// Starts routing the agent service's events; call within a Tokio runtime.
    pub fn start(
        controller: Controller,
        events: mpsc::Receiver<ControllerEvent>,
        data_dir: PathBuf,
    ) -> Arc<Manager> {
        let routes: Routes = Arc::default();
        tokio::spawn(route(events, routes.clone()));
        Arc::new(Manager {
            controller,
            routes,
            stops: Mutex::default(),
            data_dir,
            next_id: AtomicU64::new(1),
        })
    }

    /// Stops a run early; false when no such run is in progress.
    pub fn stop(&self, run_id: &str) -> bool {
        let stops = self.stops.lock().unwrap_or_else(|e| e.into_inner());
        stops.get(run_id).inspect(|t| t.cancel()).is_some()
    }

    /// Validates and places a run, sends the assignments and spawns the task that follows it.
    /// Errors are for the submitter (invalid scenario, not enough agents).
    pub async fn submit(self: &Arc<Self>, spec: RunSpec, updates: UpdateTx) -> Result<(), Status> {
        let (loaded, unpacked) = bundle::load(
            &spec.source,
            &spec.file_name,
            &spec.scenario_path,
            &spec.files,
            &spec.overrides,
        )
        .map_err(Status::invalid_argument)?;
        let mut plan = loaded.plan;
        thresholds::add_flags(&mut plan, &spec.thresholds, &spec.file_name)
            .map_err(|d| Status::invalid_argument(d.render(false)))?;
        let demand = demand(&plan).map_err(Status::failed_precondition)?;
        let agents = self
            .wait_for_agents(spec.min_agents.max(1), spec.wait_agents)
            .await?;
        let capacities: Vec<AgentCapacity> = (agents.iter())
            .map(|(id, cap, _)| AgentCapacity {
                agent_id: id.clone(),
                users: *cap,
            })
            .collect();
        let shares =
            split(&demand, &capacities).map_err(|e| Status::failed_precondition(e.to_string()))?;
        let data_rows = data_rows(&plan, &shares);
        let plan = Arc::new(plan);
        // `setup` runs here, once for the whole cluster, before any agent starts.
        let (setup_vars, setup_snapshot) =
            run_setup(plan.clone(), spec.seed, &CancellationToken::new())
                .await
                .map_err(|e| Status::failed_precondition(format!("setup could not run: {e}")))?;
        let setup_variables = setup_vars_to_wire(&setup_vars);
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let run_id = format!("run-{}-{n}", unix.as_secs());
        let (tx, rx) = mpsc::channel(1024);
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run_id.clone(), tx);
        let start = Instant::now() + START_DELAY;
        let start_at_unix_ns = i64::try_from((unix + START_DELAY).as_nanos()).unwrap_or(i64::MAX);
        let mut running = BTreeMap::new();
        for (index, ((share, (_, _, offset)), rows)) in
            shares.iter().zip(&agents).zip(data_rows).enumerate()
        {
            if share.is_idle() {
                continue;
            }
            let mut wire_share = share_to_wire(share);
            wire_share.data_rows = rows;
            let assign = pb::Assign {
                run_id: run_id.clone(),
                scenario_source: spec.source.clone(),
                file_name: spec.file_name.clone(),
                files: spec.files.clone(),
                overrides: Some(overrides_to_wire(&spec.overrides)),
                share: Some(wire_share),
                start_at_unix_ns,
                clock_offset_ns: *offset,
                seed: agent_seed(spec.seed, u32::try_from(index).unwrap_or(u32::MAX)),
                setup_done: true,
                setup_variables: setup_variables.clone(),
                scenario_path: spec.scenario_path.clone(),
            };
            let sent = self
                .controller
                .send(&share.agent_id, ToAgent::Assign(assign))
                .await;
            if sent.is_ok() {
                running.insert(share.agent_id.clone(), share.clone());
            }
        }
        if running.is_empty() {
            self.routes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&run_id);
            return Err(Status::unavailable(
                "no agent accepted the run: check the agents' logs",
            ));
        }
        let started = pb::RunStarted {
            run_id: run_id.clone(),
            agents: running.keys().cloned().collect(),
        };
        let _ = updates.send(Ok(update(Update::Started(started)))).await;
        let stop = CancellationToken::new();
        self.stops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run_id.clone(), stop.clone());
        let mut run = RunTask::new(run_id, plan, spec.file_name, start, running, updates);
        run.once = Some(Once {
            vars: setup_vars,
            seed: spec.seed,
            _files: unpacked,
        });
        if !run.plan.setup.is_empty() {
            run.add_to_second(0, &setup_snapshot);
        }
        let manager = self.clone();
        tokio::spawn(async move {
            let id = run.id.clone();
            run.follow(&manager, rx, stop).await;
            manager
                .routes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            manager
                .stops
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        });
        Ok(())
    }

    /// Alive agents (id, user capacity, clock offset), once at least `min` are connected and
    /// have had their clocks measured (the offsets are then waited for at most 2 s more).
    async fn wait_for_agents(
        &self,
        min: u32,
        wait: Duration,
    ) -> Result<Vec<(String, u32, i64)>, Status> {
        let deadline = Instant::now() + wait;
        let mut clocks_deadline = None;
        loop {
            let agents: Vec<_> = (self.controller.agents().into_iter())
                .filter(|(_, state, _)| *state == AgentState::Alive)
                .collect();
            let enough = agents.len() >= min as usize;
            if enough {
                let clocks =
                    *clocks_deadline.get_or_insert(Instant::now() + Duration::from_secs(2));
                if agents.iter().all(|a| a.2.is_some()) || Instant::now() >= clocks {
                    return Ok((agents.into_iter())
                        .map(|(info, _, clock)| {
                            (
                                info.agent_id,
                                info.capacity_users,
                                clock.map_or(0, |c| c.offset_ns),
                            )
                        })
                        .collect());
                }
            } else if Instant::now() >= deadline {
                return Err(Status::failed_precondition(format!(
                    "{} agent(s) connected, the run needs at least {min}: start more agents \
                     (`stampede agent --controller URL --token-file FILE`)",
                    agents.len()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn update(kind: Update) -> pb::RunUpdate {
    pb::RunUpdate { kind: Some(kind) }
}

/// Hands each event to the runs it concerns.
async fn route(mut events: mpsc::Receiver<ControllerEvent>, routes: Routes) {
    while let Some(event) = events.recv().await {
        let targets: Vec<mpsc::Sender<ControllerEvent>> = {
            let routes = routes.lock().unwrap_or_else(|e| e.into_inner());
            match &event {
                ControllerEvent::Snapshot { run_id, .. }
                | ControllerEvent::BadSnapshot { run_id, .. }
                | ControllerEvent::RunFinished { run_id, .. } => {
                    routes.get(run_id).cloned().into_iter().collect()
                }
                ControllerEvent::Liveness(LivenessEvent::Gone { .. })
                | ControllerEvent::Disconnected { .. } => routes.values().cloned().collect(),
                ControllerEvent::Registered(info) => {
                    tracing::info!(agent = %info.agent_id, "agent registered");
                    Vec::new()
                }
                _ => Vec::new(),
            }
        };
        match targets.as_slice() {
            [] => {}
            [one] => {
                let _ = one.send(event).await;
            }
            many => {
                // Losses go to every run; rebuild the event for each (it is not `Clone`).
                for tx in many {
                    let copy = match &event {
                        ControllerEvent::Liveness(LivenessEvent::Gone { agent, silent_for }) => {
                            ControllerEvent::Liveness(LivenessEvent::Gone {
                                agent: agent.clone(),
                                silent_for: *silent_for,
                            })
                        }
                        ControllerEvent::Disconnected { agent_id, reason } => {
                            ControllerEvent::Disconnected {
                                agent_id: agent_id.clone(),
                                reason: reason.clone(),
                            }
                        }
                        _ => continue,
                    };
                    let _ = tx.send(copy).await;
                }
            }
        }
    }
}

/// A second still waiting for some agents.
struct Pending {
    snapshot: Snapshot,
    from: BTreeSet<String>,
    since: Instant,
}

/// One run being followed.
struct RunTask {
    id: String,
    plan: Arc<Plan>,
    file_name: String,
    started_at: SystemTime,
    start: Instant,
    last_end: Option<Instant>,
    shares: BTreeMap<String, AgentShare>,
    running: BTreeSet<String>,
    pending: BTreeMap<u32, Pending>,
    closed_through: Option<u32>,
    aggregator: Aggregator,
    events: Vec<RunEvent>,
    updates: UpdateTx,
    stopping: bool,
    interrupted: bool,
    /// What `setup` extracted (for `teardown`), and the run's shipped files.
    once: Option<Once>,
}

/// What `teardown` needs at the end of a run.
struct Once {
    vars: Vec<SetupVariable>,
    seed: u64,
    _files: Option<bundle::Unpacked>,
}

impl RunTask {
    fn new(
        id: String,
        plan: Arc<Plan>,
        file_name: String,
        start: Instant,
        shares: BTreeMap<String, AgentShare>,
        updates: UpdateTx,
    ) -> Self {
        let keys = (plan.rows.iter())
            .map(|r| RequestKey {
                scenario: r.scenario.clone(),
                name: r.name.clone(),
                method: r.method.clone(),
            })
            .collect();
        let mut aggregator = Aggregator::new(keys);
        aggregator.set_thresholds(thresholds::specs(&plan));
        RunTask {
            id,
            plan,
            file_name,
            started_at: SystemTime::now() + START_DELAY,
            start,
            last_end: None,
            running: shares.keys().cloned().collect(),
            shares,
            pending: BTreeMap::new(),
            closed_through: None,
            aggregator,
            events: Vec::new(),
            updates,
            stopping: false,
            interrupted: false,
            once: None,
        }
    }

    async fn follow(
        mut self,
        manager: &Manager,
        mut rx: mpsc::Receiver<ControllerEvent>,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        while !self.running.is_empty() {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(e) => self.on_event(e).await,
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

    /// Adds `snapshot` to second `second` before the agents report it (setup's requests).
    fn add_to_second(&mut self, second: u32, snapshot: &Snapshot) {
        let p = self.pending.entry(second).or_insert_with(|| Pending {
            snapshot: Snapshot::new(second),
            from: BTreeSet::new(),
            since: Instant::now(),
        });
        p.snapshot.merge(snapshot);
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
        for agent in &self.running {
            let stop = pb::Stop {
                run_id: self.id.clone(),
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

    async fn on_event(&mut self, event: ControllerEvent) {
        match event {
            ControllerEvent::Snapshot {
                agent_id, snapshot, ..
            } => {
                let second = snapshot.second;
                if self.closed_through.is_some_and(|c| second <= c) {
                    self.ingest(&snapshot).await; // late: still counted in the totals
                    return;
                }
                let p = self.pending.entry(second).or_insert_with(|| Pending {
                    snapshot: Snapshot::new(second),
                    from: BTreeSet::new(),
                    since: Instant::now(),
                });
                p.snapshot.merge(&snapshot);
                p.from.insert(agent_id);
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
                reason,
                message,
                ..
            } => {
                if self.running.remove(&agent_id) {
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
            | ControllerEvent::Disconnected { agent_id, .. }
                if self.running.remove(&agent_id) =>
            {
                let users = self.shares.get(&agent_id).map_or(0, AgentShare::users);
                let m = format!(
                    "agent {agent_id} was lost {:.1} s into the run; its {users} user(s) were not \
                     re-assigned: the run continued short (policy: continue)",
                    self.elapsed_s()
                );
                self.event("agent_lost", m).await;
                self.close_ready(false).await;
            }
            _ => {}
        }
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
            let complete = self.running.iter().all(|a| p.from.contains(a));
            if !(all || complete || now.duration_since(p.since) >= GRACE) {
                break;
            }
            let p = entry.remove();
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
            status: if self.interrupted {
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

/// Writes atomically (temporary file + rename), so a crash never leaves a truncated result.
pub fn write_atomic(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

fn setup_vars_to_wire(vars: &[SetupVariable]) -> Vec<pb::SetupVariable> {
    (vars.iter())
        .map(|v| pb::SetupVariable {
            name: v.name.clone(),
            values: v.values.clone(),
            list: v.list,
        })
        .collect()
}
