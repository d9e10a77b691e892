//! JUnit XML, the format every CI system can show as test results: one `<testsuite>` per run with
//! a `<testcase>` for "run completed", one per threshold, one per failed check and one for the
//! baseline comparison. A failed testcase carries a `<failure message type>` with the measured value
//! and the bound (or the count and a sample).
//!
//! Only *failed* checks are in a result (a check that never failed has no row), so every check
//! testcase is a failure: a run with failed checks shows up red in CI even though its exit code is
//! 0, which is what a test report is for. Use thresholds (e.g. on `checks.pass_rate`) to decide
//! the exit code.

use crate::markup::escape;
use crate::units::format_count;
use crate::verdict::{never_answered, status_word, threshold_value, trim_num};
use stampede_metrics::result::{RunResult, RunStatus};
use std::fmt::Write;

/// One `<testcase>` before rendering.
struct Case {
    classname: &'static str,
    name: String,
    time_s: f64,
    /// `(message, type, details)` when it failed.
    failure: Option<(String, &'static str, String)>,
}

/// Renders the result as a JUnit XML document.
pub fn junit_report(result: &RunResult) -> String {
    let cases = cases(result);
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let run = &result.run;
    let s = &result.summary;
    let time = format!("{:.3}", s.duration_s);
    let suite_name = format!("stampede: {}", run.scenario_file);
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<testsuites name="stampede" tests="{}" failures="{failures}" errors="0" time="{time}">"#,
        cases.len()
    );
    let _ = write!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="0" skipped="0" time="{time}""#,
        escape(&suite_name),
        cases.len()
    );
    if let Some(ts) = junit_timestamp(&run.started_at) {
        let _ = write!(out, r#" timestamp="{ts}""#);
    }
    out.push_str(">\n    <properties>\n");
    let properties = [
        ("scenario_file", run.scenario_file.clone()),
        ("target", run.target.clone()),
        ("load", run.load.clone()),
        ("status", status_word(run.status).to_owned()),
        ("tool_version", run.tool_version.clone()),
        ("started_at", run.started_at.clone()),
        ("requests", s.requests.to_string()),
        ("rps", trim_num(s.rps)),
        ("failures", s.failures.to_string()),
        ("errors", s.errors.to_string()),
        ("latency_p95_ms", trim_num(s.latency_ms.p95)),
        ("latency_p99_ms", trim_num(s.latency_ms.p99)),
    ];
    for (name, value) in properties {
        let _ = writeln!(
            out,
            r#"      <property name="{name}" value="{}"/>"#,
            escape(&value)
        );
    }
    out.push_str("    </properties>\n");
    for c in &cases {
        let _ = write!(
            out,
            r#"    <testcase name="{}" classname="{}" time="{:.3}""#,
            escape(&c.name),
            c.classname,
            c.time_s
        );
        match &c.failure {
            None => out.push_str("/>\n"),
            Some((message, kind, details)) => {
                let _ = write!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n    </testcase>\n",
                    escape(message),
                    escape(details)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn cases(result: &RunResult) -> Vec<Case> {
    let mut cases = vec![run_case(result)];
    for t in &result.thresholds {
        let failure = (!t.passed).then(|| {
            let value = threshold_value(t);
            let mut message = format!("{} was {value}, required {}", t.metric, t.condition);
            if let Some(m) = &t.message {
                let _ = write!(message, " ({m})");
            }
            let mut details = format!(
                "threshold: {}\nscope: {}\nvalue: {value}\nbound: {}",
                t.name, t.scope, t.condition
            );
            if t.aborted_run {
                details.push_str("\nthis threshold stopped the run early");
            }
            (message, "threshold", details)
        });
        cases.push(Case {
            classname: "stampede.thresholds",
            name: format!("threshold: {}", t.name),
            time_s: 0.0,
            failure,
        });
    }
    for c in &result.checks {
        let message = format!(
            "{} responses failed the check `{}`",
            format_count(c.count),
            c.check
        );
        cases.push(Case {
            classname: "stampede.checks",
            name: format!("check: {} / {}: {}", c.scenario, c.request, c.check),
            time_s: 0.0,
            failure: Some((
                message,
                "check",
                format!("failed {} times\nfirst received: {}", c.count, c.sample),
            )),
        });
    }
    if let Some(b) = &result.baseline {
        let failure = (!b.passed).then(|| {
            let lines: Vec<String> = b
                .regressions
                .iter()
                .map(|r| {
                    format!(
                        "{} / {} {}: {} {} → {} (+{}%)",
                        r.scenario,
                        r.method,
                        r.name,
                        r.metric,
                        trim_num(r.baseline),
                        trim_num(r.value),
                        trim_num(r.change_pct)
                    )
                })
                .collect();
            (
                format!(
                    "{} regressions beyond {}% against {}",
                    b.regressions.len(),
                    trim_num(b.max_regression_pct),
                    b.file
                ),
                "baseline",
                lines.join("\n"),
            )
        });
        cases.push(Case {
            classname: "stampede.baseline",
            name: format!(
                "baseline: p95, p99, error and failure rates within {}% of {}",
                trim_num(b.max_regression_pct),
                b.file
            ),
            time_s: 0.0,
            failure,
        });
    }
    cases
}

/// "run completed": fails when the target never answered or the run stopped early.
fn run_case(result: &RunResult) -> Case {
    let s = &result.summary;
    let failure = if never_answered(result) {
        Some((
            "the target never answered: every request failed without a response".to_owned(),
            "run",
            result
                .errors
                .iter()
                .map(|e| format!("{} ×{}: {}", e.kind, e.count, e.sample))
                .collect::<Vec<_>>()
                .join("\n"),
        ))
    } else {
        match result.run.status {
            RunStatus::Completed => None,
            RunStatus::Interrupted => Some((
                "the run was interrupted before its planned end".to_owned(),
                "run",
                format!(
                    "ran {:.1}s of {:.1}s",
                    s.duration_s, result.run.planned_duration_s
                ),
            )),
            RunStatus::Aborted => Some((
                format!("the run was {}", crate::verdict::abort_reason(result)),
                "run",
                format!(
                    "ran {:.1}s of {:.1}s",
                    s.duration_s, result.run.planned_duration_s
                ),
            )),
        }
    };
    Case {
        classname: "stampede.run",
        name: "run completed".into(),
        time_s: s.duration_s,
        failure,
    }
}

/// JUnit's `timestamp` is an ISO 8601 local date-time without zone (`2026-11-24T16:00:00`).
fn junit_timestamp(rfc3339: &str) -> Option<&str> {
    let ts = rfc3339.get(..19)?;
    let ok = ts.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        _ => b.is_ascii_digit(),
    });
    ok.then_some(ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample;

    #[test]
    fn counts_match_the_testcases() {
        let r = sample();
        let xml = junit_report(&r);
        let cases = xml.matches("<testcase ").count();
        let expected = 1 + r.thresholds.len() + r.checks.len() + 1;
        assert_eq!(cases, expected, "{xml}");
        let failed = xml.matches("<failure ").count();
        let expected_failed =
            r.thresholds.iter().filter(|t| !t.passed).count() + r.checks.len() + 1;
        assert_eq!(failed, expected_failed, "{xml}");
        assert!(xml.contains(&format!(r#"tests="{cases}" failures="{failed}""#)));
        assert!(xml.contains(r#"timestamp="20"#));
    }

    #[test]
    fn a_target_that_never_answered_fails_run_completed() {
        let mut r = sample();
        assert!(!junit_report(&r).contains(r#"type="run""#));
        r.summary.errors = r.summary.requests;
        let xml = junit_report(&r);
        assert!(
            xml.contains(r#"<failure message="the target never answered"#),
            "{xml}"
        );
    }

    #[test]
    fn timestamps_lose_their_zone() {
        assert_eq!(
            junit_timestamp("2026-11-24T16:00:00Z"),
            Some("2026-11-24T16:00:00")
        );
        assert_eq!(
            junit_timestamp("2026-11-24T16:00:00.123+01:00"),
            Some("2026-11-24T16:00:00")
        );
        assert_eq!(junit_timestamp("yesterday"), None);
        assert_eq!(junit_timestamp("2026-11-24 16:00:00"), None);
    }
}
