//! Capacity metering over a shared pool of agents: several runs can be active at once, each
//! reserving virtual-user capacity on the agents it runs on. A run is placed where capacity is
//! free (optionally only on agents whose labels match), or queued with a reason a person can act
//! on ("needs 5,000 users, 3,200 free on agents matching region=eu"). Ending a run releases its
//! reservation and starts what was waiting.
//!
//! Queueing is first come, first served per set of agents: a run may start ahead of earlier
//! queued runs only if it can use none of the agents they are waiting for. Otherwise small runs
//! would keep slipping into every gap and a large run could wait forever.
//!
//! A placement is a list of `(agent, reserved users)`; the splitter
//! ([`split`](crate::split::split)) then divides the run within those reservations.

use crate::fmt::thousands;
use crate::split::{AgentCapacity, largest_remainder};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Labels an agent must all carry (`region=eu`, ...); empty matches every agent.
pub type Selector = BTreeMap<String, String>;

/// A run asking for capacity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRequest {
    pub run_id: String,
    /// Peak virtual users of the run.
    pub users: u32,
    pub selector: Selector,
}

/// Where a run got its capacity: reserved users per agent (only agents with a reservation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub run_id: String,
    pub agents: Vec<AgentCapacity>,
}

/// What [`Pool::request`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placed {
    Now(Placement),
    Queued { position: usize, reason: String },
}

/// A request that can never be accepted as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("run {0:?} is already placed or queued")]
    Duplicate(String),
    #[error("run {0:?} asks for 0 users: there is nothing to place")]
    NoUsers(String),
}

#[derive(Clone, Debug)]
struct Slot {
    capacity: u32,
    labels: BTreeMap<String, String>,
    reserved: u32,
}

/// The agents of a pool, what each run has reserved, and the runs waiting.
#[derive(Clone, Debug, Default)]
pub struct Pool {
    agents: BTreeMap<String, Slot>,
    running: BTreeMap<String, Placement>,
    queue: VecDeque<RunRequest>,
}

impl Pool {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an agent, or updates its capacity and labels. More capacity may start queued runs:
    /// they are returned.
    pub fn add_agent(
        &mut self,
        id: &str,
        capacity_users: u32,
        labels: BTreeMap<String, String>,
    ) -> Vec<Placement> {
        let reserved = self.agents.get(id).map_or(0, |s| s.reserved);
        let slot = Slot {
            capacity: capacity_users,
            labels,
            reserved,
        };
        self.agents.insert(id.to_owned(), slot);
        self.drain_queue()
    }

    /// Removes an agent (it is gone). Returns the runs that had capacity on it, so the caller can
    /// rebalance or abort them; their placements no longer include the agent.
    pub fn remove_agent(&mut self, id: &str) -> Vec<String> {
        self.agents.remove(id);
        let mut affected = Vec::new();
        for (run, placement) in &mut self.running {
            let before = placement.agents.len();
            placement.agents.retain(|a| a.agent_id != id);
            if placement.agents.len() != before {
                affected.push(run.clone());
            }
        }
        affected
    }

    /// Reserves `extra` more users for a running run on a given agent (after a rebalance moved
    /// users there). Fails, changing nothing, when the agent lacks the free capacity.
    pub fn reserve_more(&mut self, run_id: &str, agent_id: &str, extra: u32) -> bool {
        let (Some(slot), Some(placement)) =
            (self.agents.get_mut(agent_id), self.running.get_mut(run_id))
        else {
            return false;
        };
        if slot.capacity.saturating_sub(slot.reserved) < extra {
            return false;
        }
        slot.reserved += extra;
        match placement.agents.iter_mut().find(|a| a.agent_id == agent_id) {
            Some(a) => a.users += extra,
            None => placement.agents.push(AgentCapacity {
                agent_id: agent_id.to_owned(),
                users: extra,
            }),
        }
        true
    }

    /// Places `request` now if it fits (and no earlier queued run waits for the same agents), or
    /// queues it.
    pub fn request(&mut self, request: RunRequest) -> Result<Placed, PlacementError> {
        let id = &request.run_id;
        if self.running.contains_key(id) || self.queue.iter().any(|q| &q.run_id == id) {
            return Err(PlacementError::Duplicate(id.clone()));
        }
        if request.users == 0 {
            return Err(PlacementError::NoUsers(id.clone()));
        }
        let blocked = self.wanted_by(self.queue.len());
        if self.is_disjoint(&request, &blocked)
            && let Some(placement) = self.try_place(&request)
        {
            return Ok(Placed::Now(placement));
        }
        self.queue.push_back(request);
        let position = self.queue.len() - 1;
        let reason = self.reason(position);
        Ok(Placed::Queued { position, reason })
    }

    /// Ends a run (finished, stopped or aborted) or withdraws it from the queue, and starts
    /// whatever queued runs now fit. Returns those new placements.
    pub fn release(&mut self, run_id: &str) -> Vec<Placement> {
        self.queue.retain(|q| q.run_id != run_id);
        if let Some(placement) = self.running.remove(run_id) {
            for a in &placement.agents {
                if let Some(slot) = self.agents.get_mut(&a.agent_id) {
                    slot.reserved = slot.reserved.saturating_sub(a.users);
                }
            }
        }
        self.drain_queue()
    }

    /// The placement of a running run.
    pub fn placement(&self, run_id: &str) -> Option<&Placement> {
        self.running.get(run_id)
    }

    /// The agents in the pool.
    pub fn agent_ids(&self) -> Vec<String> {
        self.agents.keys().cloned().collect()
    }

    /// Users no run has reserved on agent `id` (0 for an agent not in the pool).
    pub fn free_on_agent(&self, id: &str) -> u32 {
        self.free_on(id)
    }

    /// Queued runs in order, each with why it waits (computed now).
    pub fn queued(&self) -> Vec<(String, String)> {
        (0..self.queue.len())
            .map(|i| (self.queue[i].run_id.clone(), self.reason(i)))
            .collect()
    }

    /// Free users on agents matching `selector`, and how many agents match.
    pub fn free(&self, selector: &Selector) -> (u64, usize) {
        let matching = self.matching(selector);
        let free = (matching.iter())
            .map(|id| u64::from(self.free_on(id)))
            .sum();
        (free, matching.len())
    }

    fn free_on(&self, id: &str) -> u32 {
        self.agents
            .get(id)
            .map_or(0, |s| s.capacity.saturating_sub(s.reserved))
    }

    fn matching(&self, selector: &Selector) -> Vec<String> {
        (self.agents.iter())
            .filter(|(_, slot)| selector.iter().all(|(k, v)| slot.labels.get(k) == Some(v)))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Agents that the first `n` queued runs may use.
    fn wanted_by(&self, n: usize) -> BTreeSet<String> {
        (self.queue.iter().take(n))
            .flat_map(|q| self.matching(&q.selector))
            .collect()
    }

    fn is_disjoint(&self, request: &RunRequest, blocked: &BTreeSet<String>) -> bool {
        self.matching(&request.selector)
            .iter()
            .all(|a| !blocked.contains(a))
    }

    /// Reserves capacity for `request` in proportion to each matching agent's free users.
    fn try_place(&mut self, request: &RunRequest) -> Option<Placement> {
        let candidates: Vec<(String, u64)> = (self.matching(&request.selector).into_iter())
            .map(|id| {
                let free = u64::from(self.free_on(&id));
                (id, free)
            })
            .filter(|(_, free)| *free > 0)
            .collect();
        let free: Vec<u64> = candidates.iter().map(|(_, f)| *f).collect();
        if free.iter().sum::<u64>() < u64::from(request.users) {
            return None;
        }
        let parts = largest_remainder(u64::from(request.users), &free);
        let mut agents = Vec::new();
        for ((id, _), part) in candidates.into_iter().zip(parts) {
            if part == 0 {
                continue;
            }
            let part = part as u32; // at most the agent's free u32 capacity
            if let Some(slot) = self.agents.get_mut(&id) {
                slot.reserved += part;
            }
            agents.push(AgentCapacity {
                agent_id: id,
                users: part,
            });
        }
        let placement = Placement {
            run_id: request.run_id.clone(),
            agents,
        };
        self.running
            .insert(request.run_id.clone(), placement.clone());
        Some(placement)
    }

    /// Starts queued runs in order while they fit, never passing a run that waits for the same
    /// agents.
    fn drain_queue(&mut self) -> Vec<Placement> {
        let mut placed = Vec::new();
        let mut i = 0;
        while i < self.queue.len() {
            let blocked = self.wanted_by(i);
            let request = self.queue[i].clone();
            if self.is_disjoint(&request, &blocked)
                && let Some(placement) = self.try_place(&request)
            {
                self.queue.remove(i);
                placed.push(placement);
                continue;
            }
            i += 1;
        }
        placed
    }

    /// Why queued run `i` waits.
    fn reason(&self, i: usize) -> String {
        let request = &self.queue[i];
        let matching = self.matching(&request.selector);
        let on = describe(&request.selector, matching.len());
        if self.agents.is_empty() {
            return "no agent is connected: start agents to run it".into();
        }
        if matching.is_empty() {
            return format!(
                "no agent matches {} ({} connected)",
                labels(&request.selector),
                plural(self.agents.len(), "agent")
            );
        }
        let needed = thousands(u64::from(request.users));
        let total: u64 = (matching.iter())
            .filter_map(|id| self.agents.get(id))
            .map(|s| u64::from(s.capacity))
            .sum();
        if total < u64::from(request.users) {
            return format!(
                "needs {needed} users but {on} have {} in total: add agents or lower the load",
                thousands(total)
            );
        }
        let (free, _) = self.free(&request.selector);
        if free >= u64::from(request.users)
            && let Some(earlier) =
                (self.queue.iter().take(i)).find(|q| !self.is_disjoint(request, &self.wanted(q)))
        {
            return format!(
                "waiting behind run {} (queued earlier, needs the same agents)",
                earlier.run_id
            );
        }
        format!("needs {needed} users, {} free on {on}", thousands(free))
    }

    fn wanted(&self, q: &RunRequest) -> BTreeSet<String> {
        self.matching(&q.selector).into_iter().collect()
    }
}

fn labels(selector: &Selector) -> String {
    (selector.iter())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn describe(selector: &Selector, count: usize) -> String {
    if selector.is_empty() {
        plural(count, "agent")
    } else {
        format!("agents matching {}", labels(selector))
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
