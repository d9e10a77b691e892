//! `setup` and `teardown` run on their own, away from the load: in a distributed run the
//! controller runs them once for the whole cluster ([`run_setup`], [`run_teardown`]) and hands
//! what setup extracted to every agent ([`Once::Done`]), so no agent runs them again.

use crate::prepare::PreparedAction;
use crate::vars::Value;
use crate::vu::{self, VuContext};
use crate::{EngineError, context};
use stampede_metrics::Snapshot;
use stampede_scenario::Plan;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where a plan's `setup` and `teardown` run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Once {
    /// In this run: `setup` before the load, `teardown` after it (a local run).
    #[default]
    Here,
    /// Elsewhere, already: this run skips both, and its users start with these variables
    /// (what `setup` extracted).
    Done(Vec<SetupVariable>),
}

/// A variable extracted by `setup`: one value, or the list of an `all: true` extraction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupVariable {
    pub name: String,
    pub values: Vec<String>,
    pub list: bool,
}

/// Runs the plan's `setup` alone; returns what it extracted and a snapshot (second 0) of its
/// requests. A plan without `setup` gives no variables and an empty snapshot.
pub async fn run_setup(
    plan: Arc<Plan>,
    seed: u64,
    cancel: &CancellationToken,
) -> Result<(Vec<SetupVariable>, Snapshot), EngineError> {
    let (ctx, shards) = context(&plan, seed, 0.0, Duration::ZERO)?;
    let vars = (run_until(&ctx, &ctx.prepared.setup, cancel).await)
        .map(|globals| to_variables(&ctx, &globals))
        .unwrap_or_default();
    let mut snapshot = Snapshot::new(0);
    shards.drain_into(&mut snapshot);
    Ok((vars, snapshot))
}

/// Runs the plan's `teardown` alone, its user starting with `vars` (what `setup` extracted);
/// returns a snapshot (numbered `second`) of its requests.
pub async fn run_teardown(
    plan: Arc<Plan>,
    seed: u64,
    vars: &[SetupVariable],
    second: u32,
    cancel: &CancellationToken,
) -> Result<Snapshot, EngineError> {
    let (ctx, shards) = context(&plan, seed, 0.0, Duration::ZERO)?;
    let _ = ctx.globals.set(from_variables(&ctx, vars));
    run_until(&ctx, &ctx.prepared.teardown, cancel).await;
    let mut snapshot = Snapshot::new(second);
    shards.drain_into(&mut snapshot);
    Ok(snapshot)
}

/// Runs `actions` once with a user of their own ([`vu::run_once`]) unless `cancel` fires
/// first; the variables they ended with, or `None` when there are no actions or it was cancelled.
pub(crate) async fn run_until(
    ctx: &VuContext,
    actions: &[PreparedAction],
    cancel: &CancellationToken,
) -> Option<Vec<(usize, Value)>> {
    if actions.is_empty() {
        return None;
    }
    tokio::select! {
        globals = vu::run_once(ctx, actions) => Some(globals),
        _ = cancel.cancelled() => None,
    }
}

/// Slot values → named variables (the wire form).
fn to_variables(ctx: &VuContext, globals: &[(usize, Value)]) -> Vec<SetupVariable> {
    (globals.iter())
        .map(|(slot, value)| {
            let name = ctx.prepared.slots.name(*slot).to_owned();
            match value {
                Value::Text(t) => SetupVariable {
                    name,
                    values: vec![t.clone()],
                    list: false,
                },
                Value::List(items) => SetupVariable {
                    name,
                    values: items.to_vec(),
                    list: true,
                },
            }
        })
        .collect()
}

/// Named variables → slot values; names this plan does not use are skipped (the plan has no
/// template that could read them).
pub(crate) fn from_variables(ctx: &VuContext, vars: &[SetupVariable]) -> Vec<(usize, Value)> {
    (vars.iter())
        .filter_map(|v| {
            let slot = ctx.prepared.slots.get(&v.name)?;
            let value = if v.list {
                Value::List(v.values.clone().into())
            } else {
                Value::Text(v.values.first().cloned().unwrap_or_default())
            };
            Some((slot, value))
        })
        .collect()
}
