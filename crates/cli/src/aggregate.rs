//! The run's [`Aggregator`] for a plan: its request rows and its scenarios, named as the plan
//! names them (a local run, the controller's run task and the submitter's live view all use it).

use stampede_metrics::{Aggregator, RequestKey};
use stampede_scenario::Plan;

/// A fresh aggregator for `plan` (no thresholds set).
pub fn for_plan(plan: &Plan) -> Aggregator {
    let keys = (plan.rows.iter())
        .map(|r| RequestKey {
            scenario: r.scenario.clone(),
            name: r.name.clone(),
            method: r.method.clone(),
        })
        .collect();
    let mut aggregator = Aggregator::new(keys);
    aggregator.set_scenario_names(plan.scenarios.iter().map(|s| s.name.clone()).collect());
    aggregator
}
