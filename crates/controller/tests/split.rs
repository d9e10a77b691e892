//! The splitter's guarantees, checked over many sizes (loops) and random cases (proptest).

use proptest::prelude::*;
use stampede_controller::split::{
    AgentCapacity, AgentShare, Demand, LostProgress, SplitError, extension, largest_remainder,
    rebalance, split,
};
use stampede_scenario::split_by_weight;

fn agents(caps: &[u32]) -> Vec<AgentCapacity> {
    (caps.iter().enumerate())
        .map(|(i, &users)| AgentCapacity {
            agent_id: format!("agent-{i}"),
            users,
        })
        .collect()
}

/// Every guarantee of `split`, asserted for one case.
fn check_split(demand: &Demand, caps: &[u32], shares: &[AgentShare]) {
    let n = demand.users();
    let c: u64 = caps.iter().map(|&c| u64::from(c)).sum();
    assert_eq!(shares.len(), caps.len());
    // Cluster-wide per-scenario totals are exactly the demand.
    for (j, &want) in demand.scenario_users.iter().enumerate() {
        let got: u64 = shares.iter().map(|s| u64::from(s.scenario_users[j])).sum();
        assert_eq!(got, u64::from(want), "scenario {j}: {demand:?} {caps:?}");
    }
    for (k, (s, &cap)) in shares.iter().zip(caps).enumerate() {
        let users = u64::from(s.users());
        assert!(users <= u64::from(cap), "agent {k} over capacity");
        // Within 1 of its capacity-proportional share.
        let ideal = n as f64 * f64::from(cap) / c as f64;
        assert!(
            (users as f64 - ideal).abs() < 1.0,
            "agent {k}: {users} vs {ideal} ({caps:?})"
        );
        // Each agent runs (close to) the cluster's mix.
        for (j, &x) in s.scenario_users.iter().enumerate() {
            let ideal = users as f64 * f64::from(demand.scenario_users[j]) / n.max(1) as f64;
            assert!(
                (f64::from(x) - ideal).abs() < 2.0,
                "agent {k} scenario {j}: {x} vs {ideal}"
            );
        }
        for (st, &stage) in s.stage_users.iter().zip(&demand.stage_users) {
            assert!(*st <= s.users(), "stage above the agent's peak");
            assert!(*st <= stage);
        }
        assert!(s.pre_allocated_users <= s.users());
        assert!((0.0..1.0).contains(&s.phase));
    }
    for (i, &stage) in demand.stage_users.iter().enumerate() {
        let got: u32 = shares.iter().map(|s| s.stage_users[i]).sum();
        assert_eq!(got, stage, "stage {i}");
    }
    let pre: u32 = shares.iter().map(|s| s.pre_allocated_users).sum();
    assert_eq!(pre, demand.pre_allocated_users);
    if let Some(it) = demand.iterations {
        let got: u64 = shares.iter().map(|s| s.iterations.unwrap()).sum();
        assert_eq!(got, it);
    }
    check_rows(shares, 0, demand.unique_rows.unwrap_or(0));
    let rate: f64 = shares.iter().map(|s| s.rate_share).sum();
    assert!((rate - 1.0).abs() < 1e-9, "rate shares sum to {rate}");
}

/// The shares' unique-row ranges partition `[start, end)` with no overlap and no gap.
fn check_rows(shares: &[AgentShare], start: u64, end: u64) {
    let mut ranges: Vec<_> = shares
        .iter()
        .flat_map(|s| s.unique_rows.iter().cloned())
        .collect();
    ranges.sort_by_key(|r| r.start);
    let mut at = start;
    for r in ranges {
        assert!(r.start < r.end, "empty range {r:?}");
        assert_eq!(r.start, at, "gap or overlap");
        at = r.end;
    }
    assert_eq!(at, end, "rows not all assigned");
}

#[test]
fn the_documented_example() {
    let demand = Demand::weighted(1_000, &[20, 50, 30]);
    let shares = split(&demand, &agents(&[1_000, 1_000, 1_000])).unwrap();
    let totals: Vec<u32> = (0..3)
        .map(|j| shares.iter().map(|s| s.scenario_users[j]).sum())
        .collect();
    assert_eq!(totals, [200, 500, 300]);
    let users: Vec<u32> = shares.iter().map(AgentShare::users).collect();
    assert_eq!(users, [334, 333, 333]);
    check_split(&demand, &[1_000; 3], &shares);
}

#[test]
fn exhaustive_over_small_sizes() {
    let cap_sets: [&[u32]; 7] = [
        &[10],
        &[5, 5],
        &[1, 2, 3],
        &[7, 0, 7],
        &[100, 1, 1, 1],
        &[3, 3, 3, 3, 3],
        &[50, 20, 20, 5, 3, 2],
    ];
    let weight_sets: [&[u32]; 5] = [&[1], &[20, 50, 30], &[0, 3, 7], &[1, 1, 1, 1], &[5, 0]];
    for caps in cap_sets {
        let c: u32 = caps.iter().sum();
        for weights in weight_sets {
            for n in 0..=c {
                let mut demand = Demand::weighted(n, weights);
                demand.stage_users = vec![n / 3, n, n / 2, 0];
                demand.pre_allocated_users = n / 4;
                demand.iterations = Some(u64::from(n) * 7 + 3);
                demand.unique_rows = Some(u64::from(c) * 3 + 1);
                let shares = split(&demand, &agents(caps)).unwrap();
                assert_eq!(
                    demand.scenario_users,
                    split_by_weight(n, weights),
                    "Demand::weighted uses the engine's split"
                );
                check_split(&demand, caps, &shares);
            }
        }
    }
}

#[test]
fn insufficient_capacity_says_by_how_much() {
    let err = split(&Demand::weighted(5_000, &[1]), &agents(&[1_000, 2_200])).unwrap_err();
    assert_eq!(
        err,
        SplitError::InsufficientCapacity {
            needed: 5_000,
            available: 3_200
        }
    );
    assert_eq!(
        err.to_string(),
        "the run needs 5,000 users but the agents have room for 3,200 (1,800 short): add agents, \
         raise their capacity or lower the load"
    );
    assert_eq!(
        split(&Demand::weighted(1, &[1]), &[]),
        Err(SplitError::NoAgents)
    );
    let mut demand = Demand::weighted(10, &[1]);
    demand.stage_users = vec![5, 11];
    let err = split(&demand, &agents(&[20])).unwrap_err().to_string();
    assert_eq!(
        err,
        "stage 2 target (11) exceeds the run's peak of 10 users"
    );
}

#[test]
fn equal_agents_interleave_arrivals_evenly() {
    for n in 1..=8u32 {
        let shares = split(
            &Demand::weighted(n * 10, &[1]),
            &agents(&vec![100; n as usize]),
        )
        .unwrap();
        let per_agent_rate = 25.0;
        let mut times: Vec<f64> = Vec::new();
        for (k, s) in shares.iter().enumerate() {
            assert!((s.rate_share - 1.0 / f64::from(n)).abs() < 1e-12);
            let offset = s.phase_offset_secs(per_agent_rate * f64::from(n));
            // Agent k of n at rate r each starts k/(n·r) late.
            let expected = k as f64 / (f64::from(n) * per_agent_rate);
            assert!(
                (offset - expected).abs() < 1e-12,
                "agent {k}: {offset} vs {expected}"
            );
            // Its arrivals: the j-th when its expected count (rate·t) reaches j + phase.
            for j in 0..50 {
                times.push((f64::from(j) + s.phase) / per_agent_rate);
            }
        }
        times.sort_by(f64::total_cmp);
        let cluster_rate = per_agent_rate * f64::from(n);
        for (i, t) in times.iter().enumerate() {
            let even = i as f64 / cluster_rate;
            assert!(
                (t - even).abs() < 1e-9,
                "n={n}: arrival {i} at {t}, not {even}"
            );
        }
    }
}

#[test]
fn rate_shares_follow_capacity_when_unequal() {
    let shares = split(&Demand::weighted(400, &[1]), &agents(&[200, 100, 100])).unwrap();
    let rates: Vec<f64> = shares.iter().map(|s| s.rate_share).collect();
    assert_eq!(rates, [0.5, 0.25, 0.25]);
    let phases: Vec<f64> = shares.iter().map(|s| s.phase).collect();
    assert_eq!(phases, [0.0, 0.5, 0.75]);
}

#[test]
fn largest_remainder_matches_split_by_weight() {
    for total in 0..200u32 {
        for weights in [[1u32, 1, 1], [20, 50, 30], [0, 3, 7], [5, 0, 0], [2, 2, 1]] {
            let wide: Vec<u64> = weights.iter().map(|&w| u64::from(w)).collect();
            let got: Vec<u32> = largest_remainder(u64::from(total), &wide)
                .iter()
                .map(|&x| x as u32)
                .collect();
            assert_eq!(got, split_by_weight(total, &weights));
        }
    }
    let huge = largest_remainder(u64::MAX, &[u64::MAX, u64::MAX, 1]);
    assert_eq!(
        huge.iter().map(|&x| u128::from(x)).sum::<u128>(),
        u128::from(u64::MAX)
    );
}

/// Every guarantee of `rebalance` for losing agent `lost`.
fn check_rebalance(demand: &Demand, caps: &[u32], lost: usize, progress: LostProgress) {
    let pool = agents(caps);
    let before = split(demand, &pool).unwrap();
    let gone = &before[lost];
    let result = rebalance(&before, &gone.agent_id, &pool, progress);
    let free: u64 = (before.iter().zip(caps))
        .enumerate()
        .filter(|(k, _)| *k != lost)
        .map(|(_, (s, &c))| u64::from(c - s.users()))
        .sum();
    if u64::from(gone.users()) > free {
        assert!(matches!(
            result,
            Err(SplitError::InsufficientCapacity { .. })
        ));
        return;
    }
    let after = result.unwrap();
    assert_eq!(after.len(), before.len() - 1);
    let survivors: Vec<(&AgentShare, u32)> = (before.iter().zip(caps))
        .enumerate()
        .filter(|(k, _)| *k != lost)
        .map(|(_, (s, &c))| (s, c))
        .collect();
    for (new, (old, cap)) in after.iter().zip(&survivors) {
        assert_eq!(new.agent_id, old.agent_id);
        assert!(new.users() <= *cap, "over capacity after rebalance");
        // What the survivor runs next to its share adds up to its new share.
        let ext = extension(old, new);
        let sum = |a: &[u32], b: &[u32]| -> Vec<u32> {
            (0..a.len().max(b.len()))
                .map(|i| a.get(i).unwrap_or(&0) + b.get(i).unwrap_or(&0))
                .collect()
        };
        assert_eq!(
            sum(&old.scenario_users, &ext.scenario_users),
            new.scenario_users
        );
        assert_eq!(sum(&old.stage_users, &ext.stage_users), new.stage_users);
        assert_eq!(
            old.pre_allocated_users + ext.pre_allocated_users,
            new.pre_allocated_users
        );
        assert_eq!(
            new.iterations,
            old.iterations.map(|o| o + ext.iterations.unwrap_or(0))
        );
        assert!((old.rate_share + ext.rate_share - new.rate_share).abs() < 1e-9);
        let mut rows = old.unique_rows.clone();
        rows.extend(ext.unique_rows.iter().cloned());
        assert_eq!(rows, new.unique_rows);
        for (a, b) in new.scenario_users.iter().zip(&old.scenario_users) {
            assert!(a >= b, "a survivor lost users");
        }
        for (st, _) in new.stage_users.iter().zip(&old.stage_users) {
            assert!(*st <= new.users());
        }
    }
    for (j, &want) in demand.scenario_users.iter().enumerate() {
        let got: u32 = after.iter().map(|s| s.scenario_users[j]).sum();
        assert_eq!(got, want, "scenario {j} total changed");
    }
    for (i, &stage) in demand.stage_users.iter().enumerate() {
        let got: u32 = after.iter().map(|s| s.stage_users[i]).sum();
        assert_eq!(got, stage, "stage {i} total changed");
    }
    if let Some(it) = demand.iterations {
        let got: u64 = after.iter().map(|s| s.iterations.unwrap()).sum();
        let lost_it = gone.iterations.unwrap();
        let used = progress.iterations_started.min(lost_it);
        assert_eq!(got, it - used);
    }
    if let Some(m) = demand.unique_rows {
        // Survivors hold every row except those the lost agent used.
        let used = progress.rows_used.min(gone.unique_row_count());
        let held: u64 = after.iter().map(AgentShare::unique_row_count).sum();
        assert_eq!(held, m - used);
        let mut all: Vec<_> = after.iter().flat_map(|s| s.unique_rows.clone()).collect();
        all.sort_by_key(|r| r.start);
        for w in all.windows(2) {
            assert!(w[0].end <= w[1].start, "overlapping rows {w:?}");
        }
    }
    let rate: f64 = after.iter().map(|s| s.rate_share).sum();
    assert!((rate - 1.0).abs() < 1e-9);
}

#[test]
fn rebalance_keeps_totals_and_capacity() {
    let cap_sets: [&[u32]; 4] = [&[10, 10], &[4, 8, 12], &[30, 1, 1, 1, 30], &[6, 6, 6, 6]];
    for caps in cap_sets {
        let c: u32 = caps.iter().sum();
        for n in 0..=c {
            let mut demand = Demand::weighted(n, &[20, 50, 30]);
            demand.stage_users = vec![n / 2, n];
            demand.iterations = Some(1_000);
            demand.unique_rows = Some(97);
            for lost in 0..caps.len() {
                for progress in [
                    LostProgress::default(),
                    LostProgress {
                        iterations_started: 10,
                        rows_used: 3,
                        requests_sent: 7,
                    },
                    LostProgress {
                        iterations_started: u64::MAX,
                        rows_used: u64::MAX,
                        requests_sent: u64::MAX,
                    },
                ] {
                    check_rebalance(&demand, caps, lost, progress);
                }
            }
        }
    }
}

#[test]
fn rebalance_errors_are_clear() {
    let pool = agents(&[10, 10]);
    let shares = split(&Demand::weighted(20, &[1]), &pool).unwrap();
    let err = rebalance(&shares, "agent-0", &pool, LostProgress::default()).unwrap_err();
    assert_eq!(
        err,
        SplitError::InsufficientCapacity {
            needed: 10,
            available: 0
        }
    );
    let err = rebalance(&shares, "nobody", &pool, LostProgress::default()).unwrap_err();
    assert_eq!(err.to_string(), "agent \"nobody\" has no share in the run");
    let one = split(&Demand::weighted(5, &[1]), &agents(&[10])).unwrap();
    assert_eq!(
        rebalance(&one, "agent-0", &pool, LostProgress::default()),
        Err(SplitError::NoAgents)
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_splits_hold_every_guarantee(
        caps in proptest::collection::vec(0u32..5_000, 1..9),
        weights in proptest::collection::vec(0u32..100, 1..6),
        fraction in 0.0f64..=1.0,
        iterations in proptest::option::of(0u64..1_000_000),
        rows in proptest::option::of(0u64..100_000),
    ) {
        let c: u32 = caps.iter().sum();
        prop_assume!(c > 0);
        let n = (f64::from(c) * fraction) as u32;
        let mut demand = Demand::weighted(n, &weights);
        // All-zero weights give no users at all: stages follow the real peak.
        let peak = demand.users() as u32;
        demand.stage_users = vec![peak, peak / 2];
        demand.pre_allocated_users = peak / 3;
        demand.iterations = iterations;
        demand.unique_rows = rows;
        let shares = split(&demand, &agents(&caps)).unwrap();
        check_split(&demand, &caps, &shares);
    }

    #[test]
    fn random_rebalances_hold_every_guarantee(
        caps in proptest::collection::vec(1u32..2_000, 2..7),
        fraction in 0.0f64..=1.0,
        lost in any::<prop::sample::Index>(),
        used in 0u64..2_000,
    ) {
        let c: u32 = caps.iter().sum();
        let n = (f64::from(c) * fraction) as u32;
        let mut demand = Demand::weighted(n, &[3, 1, 6]);
        demand.stage_users = vec![n / 4, n];
        demand.iterations = Some(5_000);
        demand.unique_rows = Some(10_000);
        let progress = LostProgress {
            iterations_started: used,
            rows_used: used,
            requests_sent: used,
        };
        check_rebalance(&demand, &caps, lost.index(caps.len()), progress);
    }
}
