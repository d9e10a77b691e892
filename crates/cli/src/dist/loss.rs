//! What a distributed run does when it loses an agent ([`LossPolicy`]), and how a lost share is
//! handed to the survivors ([`Reassigner`]).
//!
//! **Rebalance.** The splitter's `rebalance` gives each survivor a new, larger share within its
//! capacity; the survivor keeps running its own share and is sent the difference
//! (`split::extension`) as a run of its own (`<run id>~<n>`) that *joins the load profile where it
//! is* (`Assign.join_at_ns`): closed-model users start at the current level, open-model
//! arrivals resume from now on (none are sent late in a burst). Cluster-wide the plan's users and
//! rate are restored within about a second of the loss being noticed.
//!
//! Iterations the lost agent started (from its snapshots) are not re-assigned. Feeder rows: a
//! `unique` feeder's rows that the lost agent held are *not* handed on, since which of them it
//! used is unknown and a row must never be used twice (users of the extension that need such a
//! row stop); `sequential` feeders hand on the lost agent's block, `random` ones the whole file.

use super::own_load;
use stampede_controller::split::{AgentCapacity, AgentShare, LostProgress, extension, rebalance};
use stampede_controller::wire::share_to_wire;
use stampede_proto::pb;
use stampede_scenario::Plan;
use stampede_scenario::plan::Strategy;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What a run does when an agent is lost (`stampede run --on-agent-loss`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LossPolicy {
    /// Re-assign the lost share to the survivors, within their capacity (the default).
    #[default]
    Rebalance,
    /// Go on with the survivors, short of the lost share.
    Continue,
    /// Stop the whole run.
    Abort,
}

impl FromStr for LossPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" | "rebalance" => Ok(LossPolicy::Rebalance),
            "continue" => Ok(LossPolicy::Continue),
            "abort" => Ok(LossPolicy::Abort),
            other => Err(format!(
                "unknown agent-loss policy {other:?}: use rebalance, continue or abort"
            )),
        }
    }
}

impl fmt::Display for LossPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LossPolicy::Rebalance => "rebalance",
            LossPolicy::Continue => "continue",
            LossPolicy::Abort => "abort",
        })
    }
}

/// What an agent had done, from its snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Done {
    /// Iterations started (completed + interrupted).
    pub iterations: u64,
    /// Requests sent.
    pub requests: u64,
}

/// A lost share, re-assigned: the survivors' new shares and what to send them.
#[derive(Debug)]
pub struct Reassigned {
    /// Each survivor's whole share after the rebalance.
    pub shares: BTreeMap<String, AgentShare>,
    /// (agent, assignment of its extension), for the survivors that gained something.
    pub assigns: Vec<(String, pb::Assign)>,
}

/// Builds extension assignments for a run.
#[derive(Debug)]
pub struct Reassigner {
    /// The run's assignment without share, seed or clock (its text, files, overrides, setup
    /// variables).
    pub template: pb::Assign,
    pub capacities: Vec<AgentCapacity>,
    /// Each agent's feeder rows, as assigned.
    pub rows: BTreeMap<String, Vec<pb::RowRange>>,
    /// Each agent's clock offset (agent − controller, ns).
    pub offsets: BTreeMap<String, i64>,
    /// How many extensions were made (numbers the sub-run ids).
    pub made: u32,
}

impl Reassigner {
    /// Re-assigns the share of `lost` (which had done `started`, as far as its snapshots tell) to
    /// the agents of `shares` other than it, `elapsed` into the run's profile.
    pub fn reassign(
        &mut self,
        plan: &Plan,
        shares: &BTreeMap<String, AgentShare>,
        lost: &str,
        started: Done,
        elapsed: Duration,
    ) -> Result<Reassigned, String> {
        let all: Vec<AgentShare> = shares.values().cloned().collect();
        let progress = LostProgress {
            iterations_started: started.iterations,
            rows_used: 0,
            requests_sent: started.requests,
        };
        let mut after =
            rebalance(&all, lost, &self.capacities, progress).map_err(|e| e.to_string())?;
        own_load::refine(plan, &mut after);
        let loads_before = own_load::scenario_loads(plan, &all);
        let loads_after = own_load::scenario_loads(plan, &after);
        let lost_rows = self.rows.get(lost).cloned().unwrap_or_default();
        let mut out = Reassigned {
            shares: BTreeMap::new(),
            assigns: Vec::new(),
        };
        for (k, new) in after.into_iter().enumerate() {
            let Some(old) = shares.get(&new.agent_id) else {
                continue;
            };
            let old_index = all.iter().position(|s| s.agent_id == new.agent_id);
            let old_loads = old_index.map_or(&[][..], |i| loads_before[i].as_slice());
            let ext = extension(old, &new);
            if !ext.is_idle() {
                self.made += 1;
                let mut share = share_to_wire(&ext);
                share.data_rows = handed_on(plan, &lost_rows);
                share.scenario_loads = own_load::extension(old_loads, &loads_after[k]);
                let mut assign = self.template.clone();
                assign.run_id = format!("{}~{}", self.template.run_id, self.made);
                assign.share = Some(share);
                assign.join_at_ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
                assign.clock_offset_ns = self.offsets.get(&new.agent_id).copied().unwrap_or(0);
                assign.seed ^= u64::from(self.made).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                out.assigns.push((new.agent_id.clone(), assign));
            }
            out.shares.insert(new.agent_id.clone(), new);
        }
        Ok(out)
    }
}

/// The feeder rows an extension may use (see the module notes).
fn handed_on(plan: &Plan, lost: &[pb::RowRange]) -> Vec<pb::RowRange> {
    (plan.data.iter().enumerate())
        .map(|(i, set)| {
            let all = pb::RowRange {
                start: 0,
                end: set.table.rows.len() as u64,
            };
            match set.feeder.strategy {
                Strategy::Unique => pb::RowRange { start: 0, end: 0 },
                Strategy::Sequential => lost.get(i).copied().unwrap_or(all),
                Strategy::Random => all,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_controller::split::{Demand, split};
    use stampede_scenario::{Overrides, load_str};

    #[test]
    fn policies_parse_and_print() {
        for p in [
            LossPolicy::Rebalance,
            LossPolicy::Continue,
            LossPolicy::Abort,
        ] {
            assert_eq!(p.to_string().parse::<LossPolicy>(), Ok(p));
        }
        assert_eq!("".parse::<LossPolicy>(), Ok(LossPolicy::Rebalance));
        let err = "retry".parse::<LossPolicy>().unwrap_err();
        assert!(err.contains("rebalance, continue or abort"), "{err}");
    }

    #[test]
    fn a_lost_share_goes_to_the_survivors_as_extensions_that_join_the_profile() {
        let plan = load_str(
            "target: http://127.0.0.1:1\nload: { users: 9, duration: 10s }\n\
             scenarios:\n  - name: a\n    steps: [{ get: /a }]\n",
            "t.yaml",
            &Overrides::default(),
        )
        .unwrap()
        .plan;
        let capacities: Vec<AgentCapacity> = ["a", "b", "c"]
            .iter()
            .map(|id| AgentCapacity {
                agent_id: (*id).into(),
                users: 100,
            })
            .collect();
        let split = split(&Demand::weighted(9, &[1]), &capacities).unwrap();
        let shares: BTreeMap<String, AgentShare> =
            split.into_iter().map(|s| (s.agent_id.clone(), s)).collect();
        let mut r = Reassigner {
            template: pb::Assign {
                run_id: "run-1".into(),
                ..pb::Assign::default()
            },
            capacities,
            rows: BTreeMap::new(),
            offsets: BTreeMap::from([("c".to_owned(), -5)]),
            made: 0,
        };
        let out = r
            .reassign(
                &plan,
                &shares,
                "a",
                Done::default(),
                Duration::from_millis(4200),
            )
            .unwrap();
        assert_eq!(out.shares.len(), 2);
        let users: u32 = out.shares.values().map(AgentShare::users).sum();
        assert_eq!(users, 9, "the plan's users, on the survivors");
        let ids: Vec<&str> = out.assigns.iter().map(|(_, a)| a.run_id.as_str()).collect();
        assert_eq!(ids, ["run-1~1", "run-1~2"]);
        let gained: u32 = (out.assigns.iter())
            .map(|(_, a)| a.share.as_ref().unwrap().scenario_users.iter().sum::<u32>())
            .sum();
        assert_eq!(gained, 3, "exactly the lost agent's users");
        for (agent, a) in &out.assigns {
            assert_eq!(a.join_at_ns, 4_200_000_000);
            assert_eq!(a.clock_offset_ns, if agent == "c" { -5 } else { 0 });
        }
        assert!(
            r.reassign(&plan, &shares, "zz", Done::default(), Duration::ZERO)
                .is_err()
        );
    }
}
