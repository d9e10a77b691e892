//! The controller's agent pool shared by concurrent runs: the capacity meter of
//! [`stampede_controller::placement`] kept in step with the connected agents, and the runs waiting
//! in its queue (each wakes when capacity frees up).
//!
//! Lock order: the pool, then the waiters; placements made while the pool is locked are handed
//! to their waiters before it is unlocked, so no placement is ever lost.

use super::manager::{UpdateTx, update};
use stampede_controller::grpc::AgentInfo;
use stampede_controller::liveness::AgentState;
use stampede_controller::placement::{Placed, Placement, Pool, RunRequest, Selector};
use stampede_controller::split::AgentCapacity;
use stampede_proto::pb::{self, run_update::Kind as Update};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::oneshot;
use tonic::Status;

/// The pool and the runs waiting for it.
#[derive(Debug, Default)]
pub struct SharedPool {
    pool: Mutex<Pool>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Placement>>>,
}

impl SharedPool {
    fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands new placements to the runs waiting for them (the pool is locked by the caller).
    fn wake(&self, placed: Vec<Placement>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        for p in placed {
            if let Some(tx) = waiting.remove(&p.run_id) {
                let _ = tx.send(p);
            }
        }
    }

    /// Brings the pool in line with the controller's agents: alive ones are in it with their
    /// capacity and labels, others are not. Queued runs that now fit are woken.
    pub fn sync<C>(&self, agents: &[(AgentInfo, AgentState, C)]) {
        let mut pool = self.pool();
        let alive: BTreeSet<&str> = (agents.iter())
            .filter(|(_, s, _)| *s == AgentState::Alive)
            .map(|(i, _, _)| i.agent_id.as_str())
            .collect();
        for id in pool.agent_ids() {
            if !alive.contains(id.as_str()) {
                pool.remove_agent(&id);
            }
        }
        let mut placed = Vec::new();
        for (info, state, _) in agents {
            if *state == AgentState::Alive {
                placed.extend(pool.add_agent(
                    &info.agent_id,
                    info.capacity_users,
                    info.labels.clone(),
                ));
            }
        }
        self.wake(placed);
    }

    /// An agent is gone: it leaves the pool (the runs on it handle the loss themselves).
    pub fn remove_agent(&self, id: &str) {
        self.pool().remove_agent(id);
    }

    /// Reserves `users` for `run_id` on agents matching `selector`: at once when they are free,
    /// else after queueing (the submitter is told why it waits, and where it is in the queue).
    /// A submitter that goes away while queued withdraws the run.
    pub async fn place(
        &self,
        run_id: &str,
        users: u32,
        selector: Selector,
        updates: &UpdateTx,
    ) -> Result<Placement, Status> {
        let request = RunRequest {
            run_id: run_id.to_owned(),
            users,
            selector,
        };
        let rx = {
            let mut pool = self.pool();
            match pool.request(request) {
                Ok(Placed::Now(p)) => return Ok(p),
                Ok(Placed::Queued { position, reason }) => {
                    let (tx, rx) = oneshot::channel();
                    (self.waiting.lock().unwrap_or_else(|e| e.into_inner()))
                        .insert(run_id.to_owned(), tx);
                    let message = format!(
                        "Run {run_id} is queued (position {}): {reason}. It starts when \
                         capacity frees up.",
                        position + 1
                    );
                    let note = update(Update::Note(pb::RunNote { message }));
                    let _ = updates.try_send(Ok(note));
                    rx
                }
                Err(e) => return Err(Status::invalid_argument(e.to_string())),
            }
        };
        tokio::select! {
            placed = rx => placed.map_err(|_| Status::aborted("the run was withdrawn from the queue")),
            _ = updates.closed() => {
                self.release(run_id);
                Err(Status::cancelled("the submitter went away while the run was queued"))
            }
        }
    }

    /// A run ended (or was withdrawn): its capacity goes back to the pool, which may start
    /// queued runs.
    pub fn release(&self, run_id: &str) {
        let mut pool = self.pool();
        (self.waiting.lock().unwrap_or_else(|e| e.into_inner())).remove(run_id);
        let placed = pool.release(run_id);
        self.wake(placed);
    }

    /// What `run_id` may use on each of `agents` for a rebalance: its own reservation there plus
    /// what no run has reserved.
    pub fn room_for(&self, run_id: &str, agents: &[String]) -> Vec<AgentCapacity> {
        let pool = self.pool();
        let reserved = |a: &str| {
            (pool.placement(run_id).into_iter())
                .flat_map(|p| &p.agents)
                .find(|c| c.agent_id == a)
                .map_or(0, |c| c.users)
        };
        (agents.iter())
            .map(|a| AgentCapacity {
                agent_id: a.clone(),
                users: reserved(a) + pool.free_on_agent(a),
            })
            .collect()
    }

    /// Records that a rebalance moved `extra` more of `run_id`'s users onto `agent`.
    pub fn reserve_more(&self, run_id: &str, agent: &str, extra: u32) -> bool {
        self.pool().reserve_more(run_id, agent, extra)
    }
}
