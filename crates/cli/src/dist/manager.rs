//! The controller's run manager: validates a submitted run, runs its `setup`, turns it into agent
//! assignments and hands it to a [`RunTask`] that follows it to its result.
//!
//! One router task owns the agent service's event channel and hands each run's events to that
//! run's task (snapshots and completions by run id, extensions of a rebalance included; agent
//! losses to every run), so a run task is a single consumer with no shared state to lock.

use super::bundle;
use super::loss::{LossPolicy, Reassigner};
use super::own_load;
use super::pool::SharedPool;
use super::run_task::{Once, RunTask};
use super::share::{data_rows, demand};
use crate::thresholds;
use stampede_controller::grpc::{Controller, ControllerEvent};
use stampede_controller::liveness::{AgentState, LivenessEvent};
use stampede_controller::placement::Selector;
use stampede_controller::split::split;
use stampede_controller::wire::{agent_seed, share_to_wire};
use stampede_engine::{SetupVariable, run_setup};
use stampede_proto::overrides_to_wire;
use stampede_proto::pb::controller_message::Kind as ToAgent;
use stampede_proto::pb::{self, run_update::Kind as Update};
use stampede_scenario::Overrides;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::Status;

/// How long a second waits for its last agents before it is closed without them.
pub(super) const GRACE: Duration = Duration::from_secs(2);
/// Time between the assignments and the common start, so every agent has them in time.
pub(super) const START_DELAY: Duration = Duration::from_secs(1);

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
    /// What to do when an agent is lost.
    pub on_agent_loss: LossPolicy,
    /// Only agents carrying all these labels run it.
    pub agent_labels: Selector,
}

pub type UpdateTx = mpsc::Sender<Result<pb::RunUpdate, Status>>;
type Routes = Arc<Mutex<HashMap<String, mpsc::Sender<ControllerEvent>>>>;

/// Runs in progress, and where their agents' events go.
pub struct Manager {
    pub(super) controller: Controller,
    routes: Routes,
    /// Capacity reserved by the runs in progress, and the runs waiting for some.
    pub(super) pool: Arc<SharedPool>,
    stops: Mutex<HashMap<String, CancellationToken>>,
    pub(super) data_dir: PathBuf,
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
        let pool = Arc::new(SharedPool::default());
        tokio::spawn(route(
            events,
            routes.clone(),
            controller.clone(),
            pool.clone(),
        ));
        Arc::new(Manager {
            controller,
            routes,
            pool,
            stops: Mutex::default(),
            data_dir,
            next_id: AtomicU64::new(1),
        })
    }

    /// Routes the events of `extension` (a run id of a rebalance's extension) to `run`'s task.
    pub(super) fn add_route(&self, run: &str, extension: &str) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = routes.get(run).cloned() {
            routes.insert(extension.to_owned(), tx);
        }
    }

    /// Stops a run early; false when no such run is in progress.
    pub fn stop(&self, run_id: &str) -> bool {
        let stops = self.stops.lock().unwrap_or_else(|e| e.into_inner());
        stops.get(run_id).inspect(|t| t.cancel()).is_some()
    }

    /// Validates a run, then places it (it may wait in the queue), runs its `setup`, sends the
    /// assignments and follows it, on a task of its own. Validation errors are returned; later
    /// ones (not enough agents, a failed setup) end the submitter's stream.
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
        // Warnings about the flags were printed by the submitter, which checked them first.
        thresholds::add_flags(&mut plan, &spec.thresholds, &spec.file_name)
            .map_err(|d| Status::invalid_argument(d.render(false)))?;
        let demand = demand(&plan).map_err(Status::failed_precondition)?;
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let run_id = format!("run-{}-{n}", unix.as_secs());
        let manager = self.clone();
        tokio::spawn(async move {
            let prepared = Prepared {
                run_id: run_id.clone(),
                plan,
                demand,
                unpacked,
            };
            if let Err(status) = manager.launch(spec, prepared, updates.clone()).await {
                manager.pool.release(&run_id);
                let _ = updates.send(Err(status)).await;
            }
        });
        Ok(())
    }

    /// Places, sets up and launches a validated run (see [`Manager::submit`]).
    async fn launch(
        self: &Arc<Self>,
        spec: RunSpec,
        prepared: Prepared,
        updates: UpdateTx,
    ) -> Result<(), Status> {
        let Prepared {
            run_id,
            plan,
            demand,
            unpacked,
        } = prepared;
        self.wait_for_agents(spec.min_agents.max(1), spec.wait_agents)
            .await?;
        self.pool.sync(&self.controller.agents());
        let users = u32::try_from(demand.users()).unwrap_or(u32::MAX);
        let placement = self
            .pool
            .place(&run_id, users, spec.agent_labels.clone(), &updates)
            .await?;
        // Clock offsets of the agents placed, measured at registration (an agent that joined while
        // the run was queued gets up to 2 s more to be measured).
        let offsets: BTreeMap<String, i64> = (self.wait_for_agents(1, Duration::ZERO).await?)
            .into_iter()
            .map(|(id, _, offset)| (id, offset))
            .collect();
        let capacities = placement.agents;
        let mut shares =
            split(&demand, &capacities).map_err(|e| Status::failed_precondition(e.to_string()))?;
        own_load::refine(&plan, &mut shares);
        let data_rows = data_rows(&plan, &shares);
        let mut scenario_loads = own_load::scenario_loads(&plan, &shares).into_iter();
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
        let (tx, rx) = mpsc::channel(1024);
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run_id.clone(), tx);
        let start = Instant::now() + START_DELAY;
        let start_at_unix_ns = i64::try_from((unix + START_DELAY).as_nanos()).unwrap_or(i64::MAX);
        let mut running = BTreeMap::new();
        let template = pb::Assign {
            run_id: run_id.clone(),
            scenario_source: spec.source.clone(),
            file_name: spec.file_name.clone(),
            files: spec.files.clone(),
            overrides: Some(overrides_to_wire(&spec.overrides)),
            setup_done: true,
            setup_variables,
            scenario_path: spec.scenario_path.clone(),
            seed: spec.seed,
            ..pb::Assign::default()
        };
        let mut reassigner = Reassigner {
            template: template.clone(),
            capacities: capacities.clone(),
            rows: BTreeMap::new(),
            offsets: BTreeMap::new(),
            made: 0,
        };
        for (index, (share, rows)) in shares.iter().zip(data_rows).enumerate() {
            let offset = offsets.get(&share.agent_id).copied().unwrap_or(0);
            reassigner.offsets.insert(share.agent_id.clone(), offset);
            reassigner.rows.insert(share.agent_id.clone(), rows.clone());
            if share.is_idle() {
                continue;
            }
            let mut wire_share = share_to_wire(share);
            wire_share.data_rows = rows;
            wire_share.scenario_loads = scenario_loads.next().unwrap_or_default();
            let assign = pb::Assign {
                share: Some(wire_share),
                start_at_unix_ns,
                clock_offset_ns: offset,
                seed: agent_seed(spec.seed, u32::try_from(index).unwrap_or(u32::MAX)),
                ..template.clone()
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
        run.policy = spec.on_agent_loss;
        run.reassigner = Some(reassigner);
        if !run.plan.setup.is_empty() {
            run.pending(0).snapshot.merge(&setup_snapshot);
        }
        let manager = self.clone();
        tokio::spawn(async move {
            let id = run.id.clone();
            run.follow(&manager, rx, stop).await;
            // The run's own route and those of its extensions (`<id>~<n>`).
            let extension = format!("{id}~");
            manager
                .routes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|r, _| *r != id && !r.starts_with(&extension));
            manager
                .stops
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            manager.pool.release(&id);
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

/// A validated run, before placement.
struct Prepared {
    run_id: String,
    plan: stampede_scenario::Plan,
    demand: stampede_controller::split::Demand,
    unpacked: Option<bundle::Unpacked>,
}

pub(super) fn update(kind: Update) -> pb::RunUpdate {
    pb::RunUpdate { kind: Some(kind) }
}

/// Hands each event to the runs it concerns.
async fn route(
    mut events: mpsc::Receiver<ControllerEvent>,
    routes: Routes,
    controller: Controller,
    pool: Arc<SharedPool>,
) {
    while let Some(event) = events.recv().await {
        // The pool follows the agents: a new one may start queued runs, a lost one leaves it.
        match &event {
            ControllerEvent::Registered(_) => pool.sync(&controller.agents()),
            ControllerEvent::Liveness(LivenessEvent::Gone { agent, .. }) => {
                pool.remove_agent(agent)
            }
            ControllerEvent::Disconnected { agent_id, reason } => {
                // Also how a refused message (oversized, undecodable) shows: in the log.
                tracing::warn!(agent = %agent_id, %reason, "agent session ended");
                pool.remove_agent(agent_id);
            }
            ControllerEvent::BadSnapshot {
                agent_id, error, ..
            } => tracing::warn!(agent = %agent_id, %error, "a snapshot was refused"),
            _ => {}
        }
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
