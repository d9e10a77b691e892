//! Thresholds on the CLI side: `--threshold` values added to the plan's, the plan's thresholds
//! translated for the metrics crate's evaluator (request and scenario names become row indices,
//! a `dropped_iterations` scenario its plan index, bounds keep the metric's unit), and the live
//! abort check.

use crate::progress::Progress;
use stampede_metrics::Aggregator;
use stampede_metrics::threshold::{CustomSpec, CustomStat, LatencyStat, Metric, Op, ThresholdSpec};
use stampede_scenario::{
    self as scenario, CompareOp, Diagnostics, Plan, Threshold, ThresholdMetric,
};
use std::time::Duration;

/// One spec per threshold of the plan, in order.
pub fn specs(plan: &Plan) -> Vec<ThresholdSpec> {
    plan.thresholds.iter().map(|t| spec(plan, t)).collect()
}

fn spec(plan: &Plan, t: &Threshold) -> ThresholdSpec {
    let rows = (!t.scope.is_all()).then(|| {
        let matching = plan.rows.iter().enumerate();
        let rows = matching.filter(|(_, row)| t.scope.matches(row));
        // A plan never holds anywhere near u32::MAX rows.
        rows.map(|(i, _)| i as u32).collect()
    });
    ThresholdSpec {
        name: t.name(),
        metric_name: t.metric.name(),
        scope: t.scope.describe(),
        condition: t.condition(),
        metric: metric(plan, t),
        rows,
        op: match t.op {
            CompareOp::Lt => Op::Lt,
            CompareOp::Le => Op::Le,
            CompareOp::Gt => Op::Gt,
            CompareOp::Ge => Op::Ge,
        },
        bound: t.bound,
        // Windows are validated as whole seconds; a run is far shorter than u32::MAX seconds.
        window_s: t
            .window
            .map(|w| u32::try_from(w.as_secs()).unwrap_or(u32::MAX)),
        abort: t.abort,
        delay: t.delay,
    }
}

fn latency_stat(stat: scenario::LatencyStat) -> LatencyStat {
    match stat {
        scenario::LatencyStat::Percentile(p) => LatencyStat::Percentile(p),
        scenario::LatencyStat::Mean => LatencyStat::Mean,
        scenario::LatencyStat::Min => LatencyStat::Min,
        scenario::LatencyStat::Max => LatencyStat::Max,
    }
}

fn metric(plan: &Plan, t: &Threshold) -> Metric {
    match &t.metric {
        ThresholdMetric::Latency(stat) => Metric::Latency(latency_stat(*stat)),
        ThresholdMetric::ErrorRate => Metric::ErrorRate,
        ThresholdMetric::FailureRate => Metric::FailureRate,
        ThresholdMetric::ChecksPassRate => Metric::ChecksPassRate,
        ThresholdMetric::Rps => Metric::Rps,
        ThresholdMetric::Requests => Metric::Requests,
        ThresholdMetric::Iterations => Metric::Iterations,
        ThresholdMetric::DroppedIterations => Metric::DroppedIterations {
            // The snapshots count drops by plan index; the name was validated.
            scenario: (t.scope.scenario.as_ref()).and_then(|name| {
                let index = plan.scenarios.iter().position(|s| s.name == *name)?;
                u32::try_from(index).ok()
            }),
        },
        ThresholdMetric::Custom { name, stat } => Metric::Custom(CustomSpec {
            name: name.clone(),
            stat: match *stat {
                scenario::CustomStat::CounterSum => CustomStat::CounterSum {
                    only_grows: plan.counter_only_grows(name),
                },
                scenario::CustomStat::CounterRate => CustomStat::CounterRate,
                scenario::CustomStat::Trend(s) => CustomStat::Trend(latency_stat(s)),
                scenario::CustomStat::TrendCount => CustomStat::TrendCount,
                scenario::CustomStat::GaugeLast => CustomStat::GaugeLast,
                scenario::CustomStat::GaugeMin => CustomStat::GaugeMin,
                scenario::CustomStat::GaugeMax => CustomStat::GaugeMax,
            },
        }),
    }
}

/// Adds the `--threshold` values to the plan's own thresholds; on a problem, every one found.
/// Returns the warnings about them (a `dropped_iterations` threshold that can never see a drop).
pub fn add_flags(
    plan: &mut Plan,
    flags: &[String],
    file: &str,
) -> Result<Vec<scenario::Diagnostic>, Diagnostics> {
    let extra = scenario::parse_threshold_flags(plan, flags).map_err(|items| Diagnostics {
        file: file.to_owned(),
        source: String::new(),
        items,
        included: Vec::new(),
    })?;
    let warnings = scenario::threshold_flag_warnings(plan, &extra);
    plan.thresholds.extend(extra);
    Ok(warnings)
}

/// Checks the thresholds with `abort` after a closed second. True when the run must stop; the
/// reason is printed. Never at or after the planned end (the run is ending anyway), so a run
/// that completed is not reported as aborted.
pub fn abort_now(
    aggregator: &mut Aggregator,
    elapsed: Duration,
    planned: Duration,
    progress: &Progress,
) -> bool {
    if elapsed >= planned {
        return false;
    }
    let Some(failed) = aggregator.check_abort(elapsed) else {
        return false;
    };
    progress.println(&format!(
        "Aborting: this threshold has failed for certain ({}s into the run):\n{}",
        elapsed.as_secs(),
        stampede_report::threshold_line(&failed)
    ));
    true
}
