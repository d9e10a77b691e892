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
//!
//! **Scenarios with their own `load`** are divided by [`super::own_load`].
//!
//! **Feeders.** Each agent draws from its own block of every sequential and unique feeder's rows
//! ([`data_rows`]), blocks in proportion to its users that together cover the file: `unique`
//! rows stay unique cluster-wide, and `sequential` rows are walked once across the cluster
//! before any repeats. Random feeders draw from the whole file everywhere.

use stampede_controller::split::{AgentShare, Demand, largest_remainder};
use stampede_proto::pb;
use stampede_scenario::plan::{Strategy, Table};
use stampede_scenario::{Plan, split_by_weight};
use std::sync::Arc;

/// The cluster-wide demand of a plan, or why it cannot be distributed yet.
pub fn demand(plan: &Plan) -> Result<Demand, String> {
    // `iterations: { per_user: N }` needs no splitting: each user runs on exactly one agent.
    // Scenarios with a load of their own take no part in the top-level mix; their users are
    // their own load's peak (see `own_load`).
    let weights: Vec<u32> = (plan.scenarios.iter())
        .map(|s| if s.load.is_some() { 0 } else { s.weight })
        .collect();
    let mut d = Demand {
        iterations: plan.load.limits.iterations,
        max_requests: plan.load.limits.max_requests,
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
    for (users, scenario) in d.scenario_users.iter_mut().zip(&plan.scenarios) {
        if let Some(load) = &scenario.load {
            *users = load.max_users();
        }
    }
    Ok(d)
}

/// The rows of each data set of `plan` that each share draws from (see the module notes), in
/// the order of `shares`: blocks in proportion to the share's users of the scenarios that use
/// the feeder. A sequential feeder with fewer rows than agents is not divided (each agent walks
/// it all); a unique one always is, so some agents may get no row.
pub fn data_rows(plan: &Plan, shares: &[AgentShare]) -> Vec<Vec<pb::RowRange>> {
    let mut out = vec![Vec::with_capacity(plan.data.len()); shares.len()];
    for set in &plan.data {
        let using: Vec<bool> = (plan.scenarios.iter())
            .map(|s| s.uses_feeder(&set.feeder.name))
            .collect();
        let weights: Vec<u64> = (shares.iter())
            .map(|share| {
                (share.scenario_users.iter().zip(&using))
                    .filter(|(_, used)| **used)
                    .map(|(users, _)| u64::from(*users))
                    .sum()
            })
            .collect();
        let active = weights.iter().filter(|&&w| w > 0).count() as u64;
        let rows = set.table.rows.len() as u64;
        let divide = active > 0
            && match set.feeder.strategy {
                Strategy::Random => false,
                Strategy::Sequential => rows >= active,
                Strategy::Unique => true,
            };
        if !divide {
            for o in &mut out {
                o.push(pb::RowRange {
                    start: 0,
                    end: rows,
                });
            }
            continue;
        }
        let mut start = 0;
        for (o, len) in out.iter_mut().zip(largest_remainder(rows, &weights)) {
            o.push(pb::RowRange {
                start,
                end: start + len,
            });
            start += len;
        }
    }
    out
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
    plan.load.limits.max_requests = share.max_requests;
    if !share.data_rows.is_empty() {
        if share.data_rows.len() != plan.data.len() {
            return Err(format!(
                "the share has rows for {} data sets but the plan has {}",
                share.data_rows.len(),
                plan.data.len()
            ));
        }
        for (set, range) in plan.data.iter_mut().zip(&share.data_rows) {
            let rows = &set.table.rows;
            let (start, end) = (range.start as usize, range.end as usize);
            if start > end || end > rows.len() {
                return Err(format!(
                    "the share's rows {start}..{end} of data set {:?} are outside its {} rows: the \
                     controller and this agent disagree about the file",
                    set.feeder.name,
                    rows.len()
                ));
            }
            if end - start != rows.len() {
                set.table = Arc::new(Table {
                    columns: set.table.columns.clone(),
                    rows: rows[start..end].to_vec(),
                });
            }
        }
    }
    super::own_load::apply(plan, &share.scenario_loads)?;
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
            arrival.max_users = (share.scenario_users.iter().zip(&plan.scenarios))
                .filter(|(_, s)| s.load.is_none())
                .map(|(users, _)| users)
                .sum();
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
    fn max_requests_is_split_exactly() {
        let o = Overrides {
            max_requests: Some(1000),
            ..Overrides::default()
        };
        let plan = load_str(CLOSED, "t.yaml", &o).unwrap().plan;
        let d = demand(&plan).unwrap();
        let agents: Vec<AgentCapacity> = [20, 50, 30]
            .iter()
            .enumerate()
            .map(|(i, &users)| AgentCapacity {
                agent_id: format!("a{i}"),
                users,
            })
            .collect();
        let shares = split(&d, &agents).unwrap();
        let mut total = 0;
        for s in &shares {
            let mut p = plan.clone();
            apply_share(&mut p, &share_to_wire(s)).unwrap();
            total += p.load.limits.max_requests.unwrap();
        }
        assert_eq!(total, 1000);
    }

    #[test]
    fn feeder_rows_are_divided_disjoint_and_covering_in_proportion_to_users() {
        let dir = std::env::temp_dir().join(format!("stampede-share-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ids: String = (0..10).map(|i| format!("{i}\n")).collect();
        std::fs::write(dir.join("u.csv"), format!("id\n{ids}")).unwrap();
        std::fs::write(dir.join("two.csv"), "id\na\nb\n").unwrap();
        let source = "target: http://127.0.0.1:1\nload: { users: 100, duration: 1s }\n\
            data:\n  u: { file: u.csv, strategy: unique }\n  r: { file: u.csv, strategy: random }\n\
            \x20 s: { file: two.csv }\n\
            scenarios:\n  - name: a\n    steps:\n      - get: /{{ u.id }}/{{ r.id }}/{{ s.id }}\n";
        let path = dir.join("s.yaml");
        std::fs::write(&path, source).unwrap();
        let plan = stampede_scenario::load_file(&path, &Overrides::default())
            .unwrap()
            .plan;
        let agents: Vec<AgentCapacity> = [20, 50, 30]
            .iter()
            .enumerate()
            .map(|(i, &users)| AgentCapacity {
                agent_id: format!("a{i}"),
                users,
            })
            .collect();
        let shares = split(&demand(&plan).unwrap(), &agents).unwrap();
        let rows = data_rows(&plan, &shares);
        let unique: Vec<(u64, u64)> = rows.iter().map(|r| (r[0].start, r[0].end)).collect();
        assert_eq!(
            unique,
            [(0, 2), (2, 7), (7, 10)],
            "20/50/30 of 10 rows, in order"
        );
        for r in &rows {
            assert_eq!((r[1].start, r[1].end), (0, 10), "random: the whole file");
            assert_eq!(
                (r[2].start, r[2].end),
                (0, 2),
                "2 rows, 3 agents: not divided"
            );
        }
        let mut seen = Vec::new();
        for (share, r) in shares.iter().zip(&rows) {
            let mut wire = share_to_wire(share);
            wire.data_rows = r.clone();
            let mut p = plan.clone();
            apply_share(&mut p, &wire).unwrap();
            seen.extend(p.data[0].table.rows.iter().map(|row| row[0].clone()));
            assert_eq!(p.data[1].table.rows.len(), 10);
        }
        let all: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(seen, all, "every unique row on exactly one agent");

        let mut wire = share_to_wire(&shares[0]);
        wire.data_rows = vec![pb::RowRange { start: 5, end: 11 }; 3];
        let err = apply_share(&mut plan.clone(), &wire).unwrap_err();
        assert!(err.contains("outside its 10 rows"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
