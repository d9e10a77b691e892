//! Distributed runs of plans whose scenarios have a `load` of their own (e.g. 200 browsing users
//! on a closed model next to 50 checkouts/s on an open one).
//!
//! The splitter gives each agent `k` a number of users `c_kj` of every scenario `j` (for a
//! scenario with its own load, `Σ_k c_kj` is that load's peak). Everything else of scenario `j`
//! follows that column:
//!
//! * closed model: each stage's target is divided by largest remainder in proportion to
//!   `c_·j` (so every stage adds up exactly, and no agent goes above its `c_kj`);
//! * open model: agent `k` generates `c_kj / Σ c_·j` of the scenario's rate with a pool of
//!   `c_kj` users, and the pre-allocated users are divided like a stage.
//!
//! The top-level load is then re-divided over the top-level scenarios' users only ([`refine`]),
//! so the scenarios with their own load do not tilt it.

use stampede_controller::split::{AgentShare, largest_remainder};
use stampede_proto::pb;
use stampede_scenario::{Load, Plan};

/// Re-divides the top-level stages, pre-allocated users and rate of `shares` over the users of
/// the scenarios without a load of their own (a no-op for a plan without such scenarios).
pub fn refine(plan: &Plan, shares: &mut [AgentShare]) {
    if plan.scenarios.iter().all(|s| s.load.is_none()) {
        return;
    }
    let top: Vec<u64> = (shares.iter())
        .map(|share| {
            (share.scenario_users.iter().zip(&plan.scenarios))
                .filter(|(_, s)| s.load.is_none())
                .map(|(&u, _)| u64::from(u))
                .sum()
        })
        .collect();
    let total: u64 = top.iter().sum();
    let stages: Vec<Vec<u64>> = (plan.load.stages.iter())
        .map(|s| divide(u64::from(s.users), &top))
        .collect();
    let pre = plan
        .load
        .arrival
        .as_ref()
        .map_or(0, |a| a.pre_allocated_users);
    let pre = divide(u64::from(pre), &top);
    let mut before = 0;
    for (k, share) in shares.iter_mut().enumerate() {
        share.stage_users = stages.iter().map(|s| s[k] as u32).collect();
        share.pre_allocated_users = pre[k] as u32;
        if plan.load.arrival.is_some() && total > 0 && top[k] > 0 {
            share.rate_share = top[k] as f64 / total as f64;
            share.phase = before as f64 / total as f64;
            before += top[k];
        } else if plan.load.arrival.is_some() {
            share.rate_share = 0.0;
            share.phase = 0.0;
        }
    }
}

/// `total` in proportion to `weights` (all zero when every weight is).
fn divide(total: u64, weights: &[u64]) -> Vec<u64> {
    if weights.iter().all(|&w| w == 0) {
        return vec![0; weights.len()];
    }
    largest_remainder(total, weights)
}

/// Each share's part of every scenario with its own load, in the order of `shares`.
pub fn scenario_loads(plan: &Plan, shares: &[AgentShare]) -> Vec<Vec<pb::ScenarioLoad>> {
    let mut out = vec![Vec::new(); shares.len()];
    for (j, scenario) in plan.scenarios.iter().enumerate() {
        let Some(load) = &scenario.load else { continue };
        let column: Vec<u64> = (shares.iter())
            .map(|s| u64::from(s.scenario_users.get(j).copied().unwrap_or(0)))
            .collect();
        let total: u64 = column.iter().sum();
        let stages: Vec<Vec<u64>> = (load.stages.iter())
            .map(|s| divide(u64::from(s.users), &column))
            .collect();
        let pre = load.arrival.as_ref().map_or(0, |a| a.pre_allocated_users);
        let pre = divide(u64::from(pre), &column);
        for (k, loads) in out.iter_mut().enumerate() {
            let open = load.arrival.is_some();
            loads.push(pb::ScenarioLoad {
                scenario: j as u32,
                stage_users: stages.iter().map(|s| s[k] as u32).collect(),
                rate_share: if open && total > 0 {
                    column[k] as f64 / total as f64
                } else {
                    0.0
                },
                max_users: if open { column[k] as u32 } else { 0 },
                pre_allocated_users: pre[k] as u32,
            });
        }
    }
    out
}

/// What a survivor runs in addition to `before` to be running `after` (after a rebalance),
/// scenario by scenario: the differences, never below zero.
pub fn extension(before: &[pb::ScenarioLoad], after: &[pb::ScenarioLoad]) -> Vec<pb::ScenarioLoad> {
    (after.iter())
        .map(|a| {
            let b = before.iter().find(|b| b.scenario == a.scenario);
            let stage = |i: usize, users: u32| {
                users.saturating_sub(b.and_then(|b| b.stage_users.get(i)).copied().unwrap_or(0))
            };
            pb::ScenarioLoad {
                scenario: a.scenario,
                stage_users: (a.stage_users.iter().enumerate())
                    .map(|(i, &u)| stage(i, u))
                    .collect(),
                rate_share: (a.rate_share - b.map_or(0.0, |b| b.rate_share)).max(0.0),
                max_users: a.max_users.saturating_sub(b.map_or(0, |b| b.max_users)),
                pre_allocated_users: (a.pre_allocated_users)
                    .saturating_sub(b.map_or(0, |b| b.pre_allocated_users)),
            }
        })
        .collect()
}

/// Rewrites the own loads of `plan` to this agent's part (`loads`, from [`scenario_loads`]).
pub fn apply(plan: &mut Plan, loads: &[pb::ScenarioLoad]) -> Result<(), String> {
    for part in loads {
        let scenario = (plan.scenarios.get_mut(part.scenario as usize)).ok_or_else(|| {
            format!(
                "the share names scenario #{} the plan does not have",
                part.scenario
            )
        })?;
        let name = scenario.name.clone();
        let load: &mut Load = (scenario.load.as_mut())
            .ok_or_else(|| format!("scenario {name:?} has no load of its own on this agent"))?;
        match &mut load.arrival {
            Some(arrival) => {
                arrival
                    .stages
                    .iter_mut()
                    .for_each(|s| s.rate *= part.rate_share);
                arrival.max_users = part.max_users;
                arrival.pre_allocated_users = part.pre_allocated_users.min(part.max_users);
            }
            None => {
                if part.stage_users.len() != load.stages.len() {
                    return Err(format!(
                        "the share has {} stages for scenario {name:?} but its load has {}",
                        part.stage_users.len(),
                        load.stages.len()
                    ));
                }
                for (stage, &users) in load.stages.iter_mut().zip(&part.stage_users) {
                    stage.users = users;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::share::{apply_share, demand};
    use super::*;
    use stampede_controller::split::{AgentCapacity, split};
    use stampede_controller::wire::share_to_wire;
    use stampede_scenario::{Overrides, load_str, split_by_weight};

    const MIXED: &str = "target: http://127.0.0.1:1\n\
        load: { stages: [{ duration: 2s, users: 5 }, { duration: 2s, users: 11 }] }\n\
        scenarios:\n  - name: browse\n    weight: 2\n    steps: [{ get: /b }]\n\
        \x20 - name: search\n    weight: 1\n    steps: [{ get: /s }]\n\
        \x20 - name: buy\n    load: { arrival_rate: 50/s, duration: 4s, max_users: 13, pre_allocated_users: 7 }\n    steps: [{ get: /c }]\n\
        \x20 - name: admin\n    load: { stages: [{ duration: 1s, users: 3 }, { duration: 3s, users: 7 }] }\n    steps: [{ get: /a }]\n";

    #[test]
    fn every_load_adds_up_exactly_across_agents() {
        let plan = load_str(MIXED, "t.yaml", &Overrides::default())
            .unwrap()
            .plan;
        let d = demand(&plan).unwrap();
        assert_eq!(
            d.scenario_users,
            [7, 4, 13, 7],
            "top-level 11 by 2:1, then own peaks"
        );
        for caps in [vec![100, 100, 100], vec![5, 20, 9, 30], vec![31]] {
            let agents: Vec<AgentCapacity> = (caps.iter().enumerate())
                .map(|(i, &users)| AgentCapacity {
                    agent_id: format!("a{i}"),
                    users,
                })
                .collect();
            let mut shares = split(&d, &agents).unwrap();
            refine(&plan, &mut shares);
            let loads = scenario_loads(&plan, &shares);
            let (mut top, mut mix, mut admin) = ([0u32; 2], [0u32; 2], [0u32; 2]);
            let (mut rate, mut pool, mut pre) = (0.0, 0, 0);
            for (share, l) in shares.iter().zip(&loads) {
                let mut wire = share_to_wire(share);
                wire.scenario_loads = l.clone();
                let mut p = plan.clone();
                apply_share(&mut p, &wire).unwrap();
                let weights: Vec<u32> = (p.scenarios.iter())
                    .map(|s| if s.load.is_none() { s.weight } else { 0 })
                    .collect();
                for (i, stage) in p.load.stages.iter().enumerate() {
                    top[i] += stage.users;
                }
                let at_peak = split_by_weight(p.load.stages[1].users, &weights);
                mix[0] += at_peak[0];
                mix[1] += at_peak[1];
                let a = p.scenarios[3].load.as_ref().unwrap();
                admin[0] += a.stages[0].users;
                admin[1] += a.stages[1].users;
                assert!(a.stages[1].users <= share.scenario_users[3]);
                let b = p.scenarios[2]
                    .load
                    .as_ref()
                    .unwrap()
                    .arrival
                    .as_ref()
                    .unwrap();
                rate += b.stages[0].rate;
                pool += b.max_users;
                pre += b.pre_allocated_users;
            }
            assert_eq!(top, [5, 11], "{caps:?}");
            assert_eq!(
                mix,
                [7, 4],
                "the top-level mix holds cluster-wide ({caps:?})"
            );
            assert_eq!(admin, [3, 7], "{caps:?}");
            assert!((rate - 50.0).abs() < 1e-9, "{rate}");
            assert_eq!((pool, pre), (13, 7));
        }
    }

    #[test]
    fn extensions_are_the_differences() {
        let before = [pb::ScenarioLoad {
            scenario: 2,
            stage_users: vec![1, 3],
            rate_share: 0.25,
            max_users: 3,
            pre_allocated_users: 1,
        }];
        let after = [pb::ScenarioLoad {
            scenario: 2,
            stage_users: vec![2, 5],
            rate_share: 0.5,
            max_users: 5,
            pre_allocated_users: 1,
        }];
        let ext = extension(&before, &after);
        assert_eq!(ext[0].stage_users, [1, 2]);
        assert!((ext[0].rate_share - 0.25).abs() < 1e-12);
        assert_eq!((ext[0].max_users, ext[0].pre_allocated_users), (2, 0));
    }
}
