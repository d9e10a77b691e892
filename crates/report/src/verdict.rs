//! The one-line verdict every report leads with, and small facts the reports share, so the HTML,
//! Markdown and JUnit reports can never disagree on whether a run passed.

use crate::units::format_ms;
use stampede_metrics::result::{RunResult, RunStatus, ThresholdResult};

/// Whether a run held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerdictKind {
    /// Ran to its end; every threshold passed and nothing regressed against the baseline.
    Passed,
    /// A threshold failed, the baseline regressed, or the target never answered.
    Failed,
    /// Stopped by the user before its planned end, with nothing failed so far.
    Interrupted,
}

/// The headline verdict and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub kind: VerdictKind,
    /// Every reason the run did not pass, in words (empty when it passed).
    pub reasons: Vec<String>,
}

impl Verdict {
    /// `passed`, `failed` or `interrupted`.
    pub fn word(&self) -> &'static str {
        match self.kind {
            VerdictKind::Passed => "passed",
            VerdictKind::Failed => "failed",
            VerdictKind::Interrupted => "interrupted",
        }
    }

    /// `✓`, `✗` or `■`.
    pub fn symbol(&self) -> &'static str {
        match self.kind {
            VerdictKind::Passed => "✓",
            VerdictKind::Failed => "✗",
            VerdictKind::Interrupted => "■",
        }
    }
}

/// True when requests were sent and not one got a response (exit code 3).
pub fn never_answered(result: &RunResult) -> bool {
    let s = &result.summary;
    s.requests > 0 && s.errors == s.requests
}

/// Judges a result. Failed checks and transport errors alone do not fail a run (the exit code is
/// 0 for them too); thresholds are how a run states what it requires.
pub fn verdict(result: &RunResult) -> Verdict {
    let mut reasons = Vec::new();
    if never_answered(result) {
        reasons.push("the target never answered: every request failed without a response".into());
    }
    if result.run.status == RunStatus::Aborted {
        reasons.push(abort_reason(result));
    }
    let failed = result.thresholds.iter().filter(|t| !t.passed).count();
    if failed > 0 {
        reasons.push(format!(
            "{failed} of {} thresholds failed",
            result.thresholds.len()
        ));
    }
    if let Some(b) = result.baseline.as_ref().filter(|b| !b.passed) {
        reasons.push(format!(
            "{} regression{} beyond {}% against the baseline {}",
            b.regressions.len(),
            if b.regressions.len() == 1 { "" } else { "s" },
            trim_num(b.max_regression_pct),
            b.file
        ));
    }
    let kind = if !reasons.is_empty() {
        VerdictKind::Failed
    } else if result.run.status == RunStatus::Interrupted {
        reasons.push("interrupted before the planned end".into());
        VerdictKind::Interrupted
    } else {
        VerdictKind::Passed
    };
    Verdict { kind, reasons }
}

/// The `run_aborted` event of a run stopped for a lost agent (`--on-agent-loss abort`).
pub fn run_aborted(result: &RunResult) -> Option<&stampede_metrics::result::RunEvent> {
    result.events.iter().find(|e| e.kind == "run_aborted")
}

/// Why an aborted run stopped: the `run_aborted` event a distributed run records when it loses an
/// agent under `--on-agent-loss abort`, else a threshold with `abort: true`.
pub fn abort_reason(result: &RunResult) -> String {
    run_aborted(result).map_or_else(
        || "stopped early by a threshold with abort: true".to_owned(),
        |e| format!("stopped early: {}", e.message),
    )
}

/// `completed`, `interrupted` or `aborted`.
pub fn status_word(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Completed => "completed",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Aborted => "aborted",
    }
}

/// `part` in percent of `requests`; `None` without requests.
pub fn rate_pct(part: u64, requests: u64) -> Option<f64> {
    (requests > 0).then(|| part as f64 * 100.0 / requests as f64)
}

/// A threshold's measured value with the unit of its metric: `212.0 ms`, `0.52%`, `98.1/s`;
/// counts and custom metrics (`counter.carts`, `trend.cart_size.p95`, which have no unit) as
/// plain numbers, a counter's rate (`counter.carts.rate`) per second.
pub fn threshold_value(t: &ThresholdResult) -> String {
    let Some(v) = t.value else {
        return "no data".into();
    };
    let metric = t.metric.as_str();
    let custom = ["counter.", "trend.", "gauge."]
        .iter()
        .any(|p| metric.starts_with(p));
    if custom {
        match metric.starts_with("counter.") && metric.ends_with(".rate") {
            true => format!("{}/s", trim_num(v)),
            false => trim_num(v),
        }
    } else if metric.starts_with("latency") {
        format!("{} ms", format_ms(v))
    } else if metric.ends_with("rate") {
        format!("{}%", trim_num(v))
    } else if metric == "rps" {
        format!("{}/s", trim_num(v))
    } else {
        trim_num(v)
    }
}

/// A number with at most two decimals and no trailing zeros: `10`, `2.5`, `0.33`.
pub fn trim_num(x: f64) -> String {
    crate::markup::num(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample;
    use stampede_metrics::result::BaselineResult;

    #[test]
    fn threshold_values_carry_their_metric_unit() {
        let value = |metric: &str, v: f64| {
            threshold_value(&ThresholdResult {
                name: format!("{metric} <= 1"),
                metric: metric.into(),
                scope: "all".into(),
                condition: "<= 1".into(),
                value: Some(v),
                passed: true,
                aborted_run: false,
                message: None,
            })
        };
        assert_eq!(value("error_rate", 0.52), "0.52%");
        assert_eq!(value("checks.pass_rate", 99.5), "99.5%");
        assert_eq!(value("rps", 98.1), "98.1/s");
        assert_eq!(value("requests", 1200.0), "1200");
        assert_eq!(value("dropped_iterations", 3.0), "3");
        assert_eq!(value("counter.carts", 12.0), "12");
        assert_eq!(value("counter.carts.rate", 2.5), "2.5/s");
        assert_eq!(value("counter.data.users.exhausted", 0.0), "0");
        // Custom metrics have no unit, whatever their name says.
        assert_eq!(value("trend.rate_limit.p95", 40.0), "40");
        assert_eq!(value("gauge.error_rate", -3.25), "-3.25");
        assert_eq!(value("trend.latency_ms.max", 412.5), "412.5");
    }

    #[test]
    fn a_clean_run_passes_and_each_failure_adds_a_reason() {
        let mut r = sample();
        r.thresholds.iter_mut().for_each(|t| t.passed = true);
        r.baseline = None;
        assert_eq!(verdict(&r).kind, VerdictKind::Passed);
        r.run.status = RunStatus::Interrupted;
        assert_eq!(verdict(&r).kind, VerdictKind::Interrupted);
        r.thresholds[0].passed = false;
        r.baseline = Some(BaselineResult {
            file: "base.json".into(),
            max_regression_pct: 10.0,
            passed: false,
            compared_rows: 3,
            regressions: vec![],
        });
        let v = verdict(&r);
        assert_eq!(v.kind, VerdictKind::Failed);
        assert_eq!(
            v.reasons,
            vec![
                "1 of 2 thresholds failed".to_string(),
                "0 regressions beyond 10% against the baseline base.json".to_string()
            ]
        );
        r.summary.errors = r.summary.requests;
        assert!(verdict(&r).reasons[0].contains("never answered"));
    }
}
