//! Run totals of what happened to *iterations* (as opposed to requests): completed, dropped by
//! the open-model scheduler, interrupted by a stop, pacing overruns, and how late the scheduler
//! started them. Kept apart from the aggregator's request totals so each has one reason to change.

use crate::recorder::{RequestKey, ScenarioCounts, Snapshot, add_scenario_counts, new_histogram};
use crate::result::{LagMs, RunResult, ScenarioRow};
use hdrhistogram::Histogram;

/// Merged iteration counts of a run.
#[derive(Debug)]
pub(crate) struct IterationTotals {
    dropped: u64,
    interrupted: u64,
    scenarios: Vec<ScenarioCounts>,
    lag: Histogram<u64>,
}

impl Default for IterationTotals {
    fn default() -> Self {
        IterationTotals {
            dropped: 0,
            interrupted: 0,
            scenarios: Vec::new(),
            lag: new_histogram(),
        }
    }
}

impl IterationTotals {
    pub fn ingest(&mut self, snapshot: &Snapshot) {
        self.dropped += snapshot.dropped_iterations;
        self.interrupted += snapshot.interrupted_iterations;
        add_scenario_counts(&mut self.scenarios, &snapshot.scenarios);
        self.lag
            .add(&snapshot.scheduler_lag)
            .expect("auto-resizing histograms always accept each other");
    }

    /// Dropped iterations of the whole run, or of the scenario with this plan index.
    pub fn dropped(&self, scenario: Option<u32>) -> u64 {
        match scenario {
            None => self.dropped,
            Some(i) => self.scenarios.get(i as usize).map_or(0, |c| c.dropped),
        }
    }

    /// Fills the iteration fields of `result`. Scenario `i` of the snapshots is `names[i]`, or
    /// without names the `i`-th distinct scenario name in `keys` (the plan interns rows scenario
    /// by scenario, in file order, and every scenario has at least one step).
    pub fn fill(&self, result: &mut RunResult, keys: &[RequestKey], names: Option<&[String]>) {
        result.summary.dropped_iterations = self.dropped;
        result.summary.interrupted_iterations = self.interrupted;
        result.summary.scheduler_lag_ms = (!self.lag.is_empty()).then(|| LagMs {
            p50: ms(self.lag.value_at_quantile(0.50)),
            p99: ms(self.lag.value_at_quantile(0.99)),
            max: ms(self.lag.max()),
        });
        let names: Vec<&str> = match names {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => {
                let mut names: Vec<&str> = Vec::new();
                for key in keys {
                    if !names.contains(&key.scenario.as_str()) {
                        names.push(&key.scenario);
                    }
                }
                names
            }
        };
        result.scenarios = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let c = self.scenarios.get(i).copied().unwrap_or_default();
                ScenarioRow {
                    name: (*name).to_owned(),
                    iterations: c.iterations,
                    dropped_iterations: c.dropped,
                    interrupted_iterations: c.interrupted,
                    pacing_overruns: c.pacing_overruns,
                }
            })
            .collect();
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IntervalRecorder;

    #[test]
    fn drops_and_lag_merge_per_scenario() {
        let mut totals = IterationTotals::default();
        for second in 0..3 {
            let mut r = IntervalRecorder::new();
            r.record_dropped(1, 5);
            r.record_interrupted(0);
            r.record_scenario_iteration(0);
            r.record_pacing_overrun(1);
            r.record_lag(2_000 * (second + 1));
            let mut s = Snapshot::new(second as u32);
            r.drain_into(&mut s);
            assert_eq!((s.dropped_iterations, s.interrupted_iterations), (5, 1));
            totals.ingest(&s);
        }
        let keys: Vec<RequestKey> = ["a", "a", "b"]
            .iter()
            .map(|s| RequestKey {
                scenario: (*s).into(),
                name: "x".into(),
                method: "GET".into(),
            })
            .collect();
        let mut result: RunResult = serde_json::from_value(serde_json::json!({
            "schema_version": 1,
            "run": { "tool_version": "t", "scenario_file": "f", "target": "t",
                     "started_at": "s", "planned_duration_s": 1.0, "load": "l",
                     "status": "completed" },
            "summary": { "requests": 0, "successes": 0, "failures": 0, "errors": 0,
                         "rps": 0.0, "duration_s": 1.0, "iterations": 0, "bytes_received": 0,
                         "bytes_sent": 0, "max_users": 0, "slowest_request": null,
                         "latency_ms": { "min": 0.0, "mean": 0.0, "p50": 0.0, "p90": 0.0,
                                         "p95": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0 } },
            "requests": [], "errors": [], "checks": [], "timeline": []
        }))
        .expect("a minimal result parses: new fields default");
        totals.fill(&mut result, &keys, None);
        assert_eq!(result.summary.dropped_iterations, 15);
        assert_eq!(result.summary.interrupted_iterations, 3);
        let lag = result
            .summary
            .scheduler_lag_ms
            .clone()
            .expect("lag recorded");
        assert!((lag.max - 6.0).abs() < 0.01, "{lag:?}");
        let rows: Vec<(&str, u64, u64, u64, u64)> = result
            .scenarios
            .iter()
            .map(|r| {
                let n = r.name.as_str();
                let c = (r.iterations, r.dropped_iterations, r.interrupted_iterations);
                (n, c.0, c.1, c.2, r.pacing_overruns)
            })
            .collect();
        assert_eq!(rows, [("a", 3, 0, 3, 0), ("b", 0, 15, 0, 3)]);

        // A `setup` row comes before the scenarios' rows: only the plan's names say which
        // scenario is which.
        let mut with_setup = keys.clone();
        with_setup.insert(
            0,
            RequestKey {
                scenario: "setup".into(),
                name: "prepare".into(),
                method: "GET".into(),
            },
        );
        let names = ["a".to_owned(), "b".to_owned()];
        totals.fill(&mut result, &with_setup, Some(&names));
        let named: Vec<(&str, u64, u64)> = (result.scenarios.iter())
            .map(|r| (r.name.as_str(), r.iterations, r.dropped_iterations))
            .collect();
        assert_eq!(named, [("a", 3, 0), ("b", 0, 15)]);
    }
}
