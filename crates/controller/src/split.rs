//! The splitter: divides one run across agents in proportion to their capacity. Pure functions,
//! no I/O, so every property below is tested exhaustively.
//!
//! Load is **split, never multiplied**. For a run over agents with capacities `c_k`:
//!
//! * **Users.** Cluster-wide, scenario `j` gets exactly `demand.scenario_users[j]` users (for a
//!   weighted mix that is `split_by_weight(N, weights)`, so the mix holds cluster-wide, not just
//!   approximately). Agent `k` gets `T_k` users in total, the largest-remainder share of `N` by
//!   capacity: within 1 of `N·c_k/Σc`, never above `c_k`. Each agent runs the cluster's mix:
//!   its per-scenario counts are within 2 of `T_k·S_j/N` (filled agent by agent in proportion to
//!   the users still unplaced, which keeps both the row and the column sums exact).
//! * **Stages, pools, iterations, unique rows.** Divided in proportion to each agent's users (by
//!   capacity when the run has no users), by largest remainder, so they add up exactly.
//!   Unique-row ranges are contiguous and partition `[0, M)`.
//! * **Arrival rate.** Agent `k` generates `rate_share_k` of the rate and is staggered by
//!   `phase_k` = the sum of the shares of the agents before it: its `n`-th arrival is due when its
//!   expected count reaches `n + phase_k`. With `n` equal agents at rate `r` each, agent `k` starts
//!   `k/(n·r)` seconds late and the cluster's arrivals are evenly spaced, exactly as one generator
//!   at `n·r` would space them.
//!
//! [`rebalance`] re-assigns a lost agent's share to the survivors (in proportion to their free
//! capacity) without touching what they already run, so a failure causes no churn elsewhere.

use crate::fmt::thousands;
use std::ops::Range;

/// One agent as the splitter sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentCapacity {
    pub agent_id: String,
    /// Virtual users the agent can still take for this run.
    pub users: u32,
}

/// What a run needs, cluster-wide.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Demand {
    /// Virtual users per scenario (plan index) at the peak of the profile; in the open model, the
    /// pool's `max_users` per scenario. A scenario with its own load contributes its own peak
    /// (peaks at different times are added: conservative).
    pub scenario_users: Vec<u32>,
    /// Closed model: the cluster-wide user target of each stage (each at most the peak).
    pub stage_users: Vec<u32>,
    /// Open model: users started before the first arrival (at most the peak).
    pub pre_allocated_users: u32,
    /// Iterations the whole run starts (`--iterations`), shared by every agent.
    pub iterations: Option<u64>,
    /// Requests the whole run sends (`--max-requests`), shared by every agent.
    pub max_requests: Option<u64>,
    /// Rows of a feeder whose rows must each be used by one agent only.
    pub unique_rows: Option<u64>,
}

impl Demand {
    /// `users` split across scenarios by `weights`, exactly as one machine would run them.
    pub fn weighted(users: u32, weights: &[u32]) -> Demand {
        Demand {
            scenario_users: stampede_scenario::split_by_weight(users, weights),
            ..Demand::default()
        }
    }

    /// Peak users of the whole run.
    pub fn users(&self) -> u64 {
        self.scenario_users.iter().map(|&u| u64::from(u)).sum()
    }
}

/// One agent's part of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentShare {
    pub agent_id: String,
    /// Virtual users per scenario at the peak.
    pub scenario_users: Vec<u32>,
    /// Closed model: this agent's target for each stage.
    pub stage_users: Vec<u32>,
    /// Open model: users started before the first arrival.
    pub pre_allocated_users: u32,
    /// Fraction of the run's arrival rate this agent generates.
    pub rate_share: f64,
    /// Arrival stagger, in this agent's own arrivals (see the module docs), in `[0, 1)`.
    pub phase: f64,
    /// Iterations this agent starts, when the run limits them.
    pub iterations: Option<u64>,
    /// Requests this agent sends, when the run limits them.
    pub max_requests: Option<u64>,
    /// Unique feeder rows this agent may use, half-open, in order.
    pub unique_rows: Vec<Range<u64>>,
}

impl AgentShare {
    /// Peak users of this share.
    pub fn users(&self) -> u32 {
        self.scenario_users.iter().sum()
    }

    /// True when the share asks nothing of the agent (it need not be sent a run at all).
    pub fn is_idle(&self) -> bool {
        self.users() == 0
            && self.rate_share == 0.0
            && self.iterations.unwrap_or(0) == 0
            && self.max_requests.unwrap_or(0) == 0
            && self.unique_rows.is_empty()
    }

    /// At a constant cluster-wide rate of `cluster_rate` arrivals per second, how long after the
    /// start this agent's first arrival is due (`phase / (rate_share · cluster_rate)`).
    pub fn phase_offset_secs(&self, cluster_rate: f64) -> f64 {
        let own = self.rate_share * cluster_rate;
        if own > 0.0 { self.phase / own } else { 0.0 }
    }

    /// Number of unique rows this agent may use.
    pub fn unique_row_count(&self) -> u64 {
        self.unique_rows.iter().map(|r| r.end - r.start).sum()
    }
}

/// Why a run cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("no agent is available for the run: start agents or check their labels")]
    NoAgents,
    #[error(
        "the run needs {} users but the agents have room for {} ({} short): add agents, \
         raise their capacity or lower the load",
        thousands(*needed), thousands(*available), thousands(*needed - *available)
    )]
    InsufficientCapacity { needed: u64, available: u64 },
    #[error("{what} ({value}) exceeds the run's peak of {peak} users")]
    AbovePeak { what: String, value: u64, peak: u64 },
    #[error("agent {0:?} has no share in the run")]
    UnknownAgent(String),
    #[error("no capacity is known for surviving agent {0:?}")]
    MissingCapacity(String),
}

/// Splits `demand` across `agents` (see the module docs for the guarantees). Agents whose share
/// is empty are still returned, with [`AgentShare::is_idle`] true, in input order.
pub fn split(demand: &Demand, agents: &[AgentCapacity]) -> Result<Vec<AgentShare>, SplitError> {
    if agents.is_empty() {
        return Err(SplitError::NoAgents);
    }
    let needed = demand.users();
    let caps: Vec<u64> = agents.iter().map(|a| u64::from(a.users)).collect();
    let available: u64 = caps.iter().sum();
    if needed > available || available == 0 {
        return Err(SplitError::InsufficientCapacity {
            needed: needed.max(1),
            available,
        });
    }
    for (i, &s) in demand.stage_users.iter().enumerate() {
        below_peak(format!("stage {} target", i + 1), u64::from(s), needed)?;
    }
    let pre = u64::from(demand.pre_allocated_users);
    below_peak("pre_allocated_users".into(), pre, needed)?;

    let totals = largest_remainder(needed, &caps);
    let columns: Vec<u64> = demand
        .scenario_users
        .iter()
        .map(|&u| u64::from(u))
        .collect();
    let matrix = distribute(&totals, &columns);
    // Everything else follows the users (by capacity when there are none).
    let weights = if needed > 0 { totals.clone() } else { caps };
    let mut shares: Vec<AgentShare> = (agents.iter().zip(matrix))
        .map(|(a, row)| AgentShare {
            agent_id: a.agent_id.clone(),
            scenario_users: to_u32(&row),
            stage_users: Vec::new(),
            pre_allocated_users: 0,
            rate_share: 0.0,
            phase: 0.0,
            iterations: None,
            max_requests: None,
            unique_rows: Vec::new(),
        })
        .collect();
    add_proportional(&mut shares, demand, &weights, 0);
    set_rates(&mut shares, &weights);
    Ok(shares)
}

fn below_peak(what: String, value: u64, peak: u64) -> Result<(), SplitError> {
    if value > peak {
        return Err(SplitError::AbovePeak { what, value, peak });
    }
    Ok(())
}

/// Adds stages, pre-allocated users, iterations and unique rows of `demand` to `shares` in
/// proportion to `weights`; unique rows are numbered from `first_row`.
fn add_proportional(shares: &mut [AgentShare], demand: &Demand, weights: &[u64], first_row: u64) {
    let per_stage: Vec<Vec<u64>> = (demand.stage_users.iter())
        .map(|&s| largest_remainder(u64::from(s), weights))
        .collect();
    let pre = largest_remainder(u64::from(demand.pre_allocated_users), weights);
    let iterations = demand.iterations.map(|i| largest_remainder(i, weights));
    let requests = demand.max_requests.map(|i| largest_remainder(i, weights));
    let rows = demand.unique_rows.map(|m| largest_remainder(m, weights));
    let mut next_row = first_row;
    for (k, share) in shares.iter_mut().enumerate() {
        if share.stage_users.is_empty() {
            share.stage_users = vec![0; per_stage.len()];
        }
        for (into, stage) in share.stage_users.iter_mut().zip(&per_stage) {
            *into += stage[k] as u32;
        }
        share.pre_allocated_users += pre[k] as u32;
        if let Some(it) = &iterations {
            share.iterations = Some(share.iterations.unwrap_or(0) + it[k]);
        }
        if let Some(r) = &requests {
            share.max_requests = Some(share.max_requests.unwrap_or(0) + r[k]);
        }
        if let Some(rows) = &rows
            && rows[k] > 0
        {
            share.unique_rows.push(next_row..next_row + rows[k]);
            next_row += rows[k];
        }
    }
}

/// Rate shares by `weights`; phases are the cumulative shares before each agent, computed from
/// integer sums so they do not drift.
fn set_rates(shares: &mut [AgentShare], weights: &[u64]) {
    let total: u64 = weights.iter().sum();
    let mut before = 0u64;
    for (share, &w) in shares.iter_mut().zip(weights) {
        if total == 0 || w == 0 {
            share.rate_share = 0.0;
            share.phase = 0.0;
            continue;
        }
        share.rate_share = w as f64 / total as f64;
        share.phase = before as f64 / total as f64;
        before += w;
    }
}

/// How much of its share a lost agent had used, from its snapshots (0 when unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LostProgress {
    /// Iterations it started; the rest of its iteration budget is re-assigned.
    pub iterations_started: u64,
    /// Unique rows it consumed, from the start of its ranges; the rest is re-assigned.
    pub rows_used: u64,
    /// Requests it sent; the rest of its request budget is re-assigned.
    pub requests_sent: u64,
}

/// Re-assigns the share of `lost` to the other agents of `shares`, in proportion to their free
/// capacity (`capacities` minus what they already run). Survivors keep everything they had and
/// gain part of the lost share; nobody goes over capacity; the run's totals are unchanged (minus
/// what `progress` says was already consumed). Rate shares and phases of the survivors are
/// recomputed so they add up to the whole rate again.
pub fn rebalance(
    shares: &[AgentShare],
    lost: &str,
    capacities: &[AgentCapacity],
    progress: LostProgress,
) -> Result<Vec<AgentShare>, SplitError> {
    let gone = (shares.iter().find(|s| s.agent_id == lost))
        .ok_or_else(|| SplitError::UnknownAgent(lost.to_owned()))?;
    let mut survivors: Vec<AgentShare> = (shares.iter())
        .filter(|s| s.agent_id != lost)
        .cloned()
        .collect();
    if survivors.is_empty() {
        return Err(SplitError::NoAgents);
    }
    let mut free = Vec::with_capacity(survivors.len());
    for s in &survivors {
        let cap = (capacities.iter().find(|c| c.agent_id == s.agent_id))
            .ok_or_else(|| SplitError::MissingCapacity(s.agent_id.clone()))?;
        free.push(u64::from(cap.users.saturating_sub(s.users())));
    }
    let lost_users = u64::from(gone.users());
    let available: u64 = free.iter().sum();
    if lost_users > available {
        return Err(SplitError::InsufficientCapacity {
            needed: lost_users,
            available,
        });
    }
    let gained = largest_remainder(lost_users, &free);
    let columns: Vec<u64> = gone.scenario_users.iter().map(|&u| u64::from(u)).collect();
    for (s, row) in survivors.iter_mut().zip(distribute(&gained, &columns)) {
        if s.scenario_users.len() < row.len() {
            s.scenario_users.resize(row.len(), 0);
        }
        for (into, add) in s.scenario_users.iter_mut().zip(row) {
            *into += add as u32;
        }
    }
    // What follows the users follows the gained users; with none lost, the survivors' users; with
    // none at all, their free capacity.
    let current: Vec<u64> = survivors.iter().map(|s| u64::from(s.users())).collect();
    let weights = [&gained, &current, &free]
        .into_iter()
        .find(|w| w.iter().any(|&x| x > 0))
        .cloned()
        .unwrap_or_else(|| vec![1; survivors.len()]);
    let rest = Demand {
        scenario_users: Vec::new(),
        stage_users: gone.stage_users.clone(),
        pre_allocated_users: gone.pre_allocated_users,
        iterations: gone
            .iterations
            .map(|i| i.saturating_sub(progress.iterations_started)),
        max_requests: gone
            .max_requests
            .map(|r| r.saturating_sub(progress.requests_sent)),
        unique_rows: None,
    };
    add_proportional(&mut survivors, &rest, &weights, 0);
    let remaining_rows = skip_rows(&gone.unique_rows, progress.rows_used);
    let counts = largest_remainder(
        remaining_rows.iter().map(|r| r.end - r.start).sum(),
        &weights,
    );
    let mut pieces = remaining_rows.into_iter();
    let mut carry: Option<Range<u64>> = None;
    for (s, mut want) in survivors.iter_mut().zip(counts) {
        while want > 0 {
            let Some(r) = carry.take().or_else(|| pieces.next()) else {
                break;
            };
            let take = want.min(r.end - r.start);
            s.unique_rows.push(r.start..r.start + take);
            if r.start + take < r.end {
                carry = Some(r.start + take..r.end);
            }
            want -= take;
        }
    }
    // Rates: the lost share goes where its users went; phases restart from the survivors' order.
    let total_rate: f64 = shares.iter().map(|s| s.rate_share).sum();
    if total_rate > 0.0 {
        let scaled: Vec<u64> = survivors.iter().map(|s| u64::from(s.users())).collect();
        let w = if scaled.iter().any(|&x| x > 0) {
            scaled
        } else {
            weights
        };
        set_rates(&mut survivors, &w);
        for s in &mut survivors {
            s.rate_share *= total_rate;
        }
    }
    Ok(survivors)
}

/// What an agent must run *in addition* to `before` to be running `after` (its share before
/// and after a [`rebalance`]): the users, stage targets, pool, iterations and rate it gained,
/// with `after`'s phase. Survivors keep running their own share and run the extension next to
/// it, so `before + extension = after` component by component (the rate up to rounding).
pub fn extension(before: &AgentShare, after: &AgentShare) -> AgentShare {
    let minus = |a: &[u32], b: &[u32]| -> Vec<u32> {
        (0..a.len().max(b.len()))
            .map(|i| {
                let x = a.get(i).copied().unwrap_or(0);
                x.saturating_sub(b.get(i).copied().unwrap_or(0))
            })
            .collect()
    };
    let done: u64 = before.unique_rows.iter().map(|r| r.end - r.start).sum();
    AgentShare {
        agent_id: after.agent_id.clone(),
        scenario_users: minus(&after.scenario_users, &before.scenario_users),
        stage_users: minus(&after.stage_users, &before.stage_users),
        pre_allocated_users: (after.pre_allocated_users).saturating_sub(before.pre_allocated_users),
        rate_share: (after.rate_share - before.rate_share).max(0.0),
        phase: after.phase,
        iterations: after
            .iterations
            .map(|a| a.saturating_sub(before.iterations.unwrap_or(0))),
        max_requests: after
            .max_requests
            .map(|a| a.saturating_sub(before.max_requests.unwrap_or(0))),
        unique_rows: skip_rows(&after.unique_rows, done),
    }
}

/// `ranges` without their first `used` rows.
fn skip_rows(ranges: &[Range<u64>], mut used: u64) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    for r in ranges {
        let len = r.end - r.start;
        if used >= len {
            used -= len;
            continue;
        }
        out.push(r.start + used..r.end);
        used = 0;
    }
    out
}

/// Divides `total` in proportion to `weights` by largest remainder: the parts add up to `total`
/// and each is within 1 of `total·w/Σw` (below it only by the fraction). Ties go to the earlier
/// index — the same rule as `stampede_scenario::split_by_weight`, which this generalises to u64.
pub fn largest_remainder(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let exact = |w: u64| u128::from(total) * u128::from(w);
    let mut parts: Vec<u64> = weights.iter().map(|&w| (exact(w) / sum) as u64).collect();
    let assigned: u64 = parts.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(exact(weights[i]) % sum));
    for &i in order.iter().take((total - assigned) as usize) {
        parts[i] += 1;
    }
    parts
}

/// An integer matrix with the given row and column sums (which must have equal totals), each row
/// in proportion to what is still unplaced in every column. Row `k` is the largest-remainder
/// split of `rows[k]` by the remaining columns, so it never takes more than a column has left
/// (`rows[k]` is at most the remaining total) and the last non-empty row takes exactly the rest.
fn distribute(rows: &[u64], columns: &[u64]) -> Vec<Vec<u64>> {
    let mut remaining = columns.to_vec();
    rows.iter()
        .map(|&n| {
            let row = largest_remainder(n, &remaining);
            for (r, x) in remaining.iter_mut().zip(&row) {
                *r -= x;
            }
            row
        })
        .collect()
}

fn to_u32(values: &[u64]) -> Vec<u32> {
    // Every entry is at most a u32 scenario count.
    values.iter().map(|&v| v as u32).collect()
}
