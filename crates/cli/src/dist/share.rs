//! What a run asks of the cluster ([`demand`]) and how an agent turns its share back into a plan
//! it can run ([`apply_share`]). Both sides build the plan from the same YAML and overrides, so
//! only the share's numbers need to travel.
//!
//! **Closed model.** The agent's plan keeps the file's stages but with this agent's user target
//! per stage, and each scenario's weight replaced by this agent's user count for it. The engine
//! splits every level with `split_by_weight(level, weights)`, so at the peak the agent runs
//! exactly its `scenario_users`, and cluster-wide the users per scenario add up exactly.
//!
//! **Open model.** Rates are multiplied by the agent's `rate_share`, its pool is its share of
//! `max_users` and `pre_allocated_users`; the runner passes the share's phase to the engine
//! (`Assignment::arrival_phase`), so the agents' arrivals interleave evenly.

use stampede_controller::split::Demand;
use stampede_proto::pb;
use stampede_scenario::{Plan, split_by_weight};

/// The cluster-wide demand of a plan, or why it cannot be distributed yet.
pub fn demand(plan: &Plan) -> Result<Demand, String> {
    if let Some(s) = plan.scenarios.iter().find(|s| s.load.is_some()) {
        return Err(format!(
            "scenario {:?} has its own `load`: distributed runs support only the top-level load \
             for now; run it locally, or move its load to the top level",
            s.name
        ));
    }
    if plan.load.limits.max_requests.is_some() {
        return Err(
            "`max_requests` (--max-requests) cannot be split across agents yet: run it \
                    locally, or limit the run with `iterations` or a duration"
                .into(),
        );
    }
    if !plan.data.is_empty() {
        return Err(
            "`data` feeders are not shipped to agents yet (each agent would need the files, and \
             `unique` rows a partition of its own): run it locally for now"
                .into(),
        );
    }
    if !plan.setup.is_empty() || !plan.teardown.is_empty() {
        return Err(
            "`setup` and `teardown` run once per test; distributed runs do not coordinate them \
             across agents yet: run it locally for now"
                .into(),
        );
    }
    // `iterations: { per_user: N }` needs no splitting: each user runs on exactly one agent.
    let weights: Vec<u32> = plan.scenarios.iter().map(|s| s.weight).collect();
    let mut d = Demand {
        iterations: plan.load.limits.iterations,
        ..Demand::default()
    };
    match &plan.load.arrival {
        None => {
            d.stage_users = plan.load.stages.iter().map(|s| s.users).collect();
            let peak = d.stage_users.iter().copied().max().unwrap_or(0);
            d.scenario_users = split_by_weight(peak, &weights);
        }
        Some(arrival) => {
            d.scenario_users = split_by_weight(arrival.max_users, &weights);
            d.pre_allocated_users = arrival.pre_allocated_users;
        }
    }
    Ok(d)
}

/// Rewrites `plan` so that it runs exactly `share` of the cluster's load.
pub fn apply_share(plan: &mut Plan, share: &pb::Share) -> Result<(), String> {
    if share.scenario_users.len() != plan.scenarios.len() {
        return Err(format!(
            "the share names {} scenarios but the scenario has {}: the controller and this agent \
             disagree about the file",
            share.scenario_users.len(),
            plan.scenarios.len()
        ));
    }
    for (scenario, &users) in plan.scenarios.iter_mut().zip(&share.scenario_users) {
        scenario.weight = users;
    }
    plan.load.limits.iterations = share.iterations;
    match &mut plan.load.arrival {
        None => {
            if share.stage_users.len() != plan.load.stages.len() {
                return Err(format!(
                    "the share has {} stages but the plan has {}",
                    share.stage_users.len(),
                    plan.load.stages.len()
                ));
            }
            for (stage, &users) in plan.load.stages.iter_mut().zip(&share.stage_users) {
                stage.users = users;
            }
        }
        Some(arrival) => {
            for stage in &mut arrival.stages {
                stage.rate *= share.rate_share;
            }
            arrival.max_users = share.scenario_users.iter().sum();
            arrival.pre_allocated_users = share.pre_allocated_users.min(arrival.max_users);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_controller::split::{AgentCapacity, split};
    use stampede_controller::wire::share_to_wire;
    use stampede_scenario::{Overrides, load_str};

    const CLOSED: &str = "target: http://127.0.0.1:1\nload:\n  stages:\n    - { duration: 2s, users: 4 }\n    - { duration: 2s, users: 9 }\nscenarios:\n  - name: a\n    weight: 1\n    steps: [{ get: /a }]\n  - name: b\n    weight: 2\n    steps: [{ get: /b }]\n";

    #[test]
    fn closed_shares_add_up_per_scenario_and_stage() {
        let plan = load_str(CLOSED, "t.yaml", &Overrides::default())
            .unwrap()
            .plan;
        let d = demand(&plan).unwrap();
        assert_eq!(d.scenario_users, [3, 6]);
        let agents: Vec<AgentCapacity> = (0..3)
            .map(|i| AgentCapacity {
                agent_id: format!("a{i}"),
                users: 100,
            })
            .collect();
        let shares = split(&d, &agents).unwrap();
        let (mut per_scenario, mut per_stage) = ([0u32; 2], [0u32; 2]);
        for s in &shares {
            let mut p = plan.clone();
            apply_share(&mut p, &share_to_wire(s)).unwrap();
            let weights: Vec<u32> = p.scenarios.iter().map(|s| s.weight).collect();
            let at_peak = split_by_weight(p.load.stages[1].users, &weights);
            for j in 0..2 {
                per_scenario[j] += at_peak[j];
                per_stage[j] += p.load.stages[j].users;
            }
        }
        assert_eq!(per_scenario, [3, 6]);
        assert_eq!(per_stage, [4, 9]);
    }

    #[test]
    fn own_loads_and_max_requests_are_refused_with_a_reason() {
        let o = Overrides {
            max_requests: Some(10),
            ..Overrides::default()
        };
        let plan = load_str(CLOSED, "t.yaml", &o).unwrap().plan;
        assert!(demand(&plan).unwrap_err().contains("max_requests"));
    }
}
