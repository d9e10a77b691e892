//! Splitter output → wire messages: what the run manager puts in an `Assign`.

use crate::split::AgentShare;
use stampede_proto::pb;

/// The wire form of one agent's share.
pub fn share_to_wire(share: &AgentShare) -> pb::Share {
    pb::Share {
        scenario_users: share.scenario_users.clone(),
        stage_users: share.stage_users.clone(),
        pre_allocated_users: share.pre_allocated_users,
        rate_share: share.rate_share,
        phase: share.phase,
        iterations: share.iterations,
        unique_rows: (share.unique_rows.iter())
            .map(|r| pb::RowRange {
                start: r.start,
                end: r.end,
            })
            .collect(),
        data_rows: Vec::new(),
        max_requests: share.max_requests,
        scenario_loads: Vec::new(),
    }
}

/// The seed of agent `index` in a run seeded with `run_seed`. Each agent numbers its virtual users
/// from 0, so with one shared seed every agent would draw the same think times and start offsets
/// in lockstep; a SplitMix64 step per agent decorrelates them while keeping the run reproducible.
pub fn agent_seed(run_seed: u64, index: u32) -> u64 {
    let mut z = run_seed.wrapping_add(0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(u64::from(index) + 1));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::{AgentCapacity, Demand, split};

    #[test]
    fn shares_convert_field_for_field() {
        let mut demand = Demand::weighted(10, &[1, 1]);
        demand.stage_users = vec![4, 10];
        demand.iterations = Some(99);
        demand.unique_rows = Some(7);
        let agents = [("a", 6), ("b", 4)].map(|(id, users)| AgentCapacity {
            agent_id: id.into(),
            users,
        });
        let shares = split(&demand, &agents).unwrap();
        let wire = share_to_wire(&shares[1]);
        assert_eq!(wire.scenario_users, shares[1].scenario_users);
        assert_eq!(wire.stage_users, shares[1].stage_users);
        assert_eq!(wire.iterations, shares[1].iterations);
        assert_eq!((wire.rate_share, wire.phase), (0.4, 0.6));
        let rows: Vec<(u64, u64)> = wire.unique_rows.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(rows, [(4, 7)]);
    }

    #[test]
    fn agent_seeds_differ_and_are_reproducible() {
        let seeds: Vec<u64> = (0..64).map(|i| agent_seed(42, i)).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seeds.len());
        assert_eq!(agent_seed(42, 3), seeds[3]);
        assert_ne!(agent_seed(43, 3), seeds[3]);
    }
}
