//! The thresholds section of the terminal summary: each threshold ✓ or ✗ with its measured value,
//! and for a failed one why (no data, the worst window, the abort), readable at 80 columns.
//! Values are formatted like every other report's (`verdict::threshold_value`).

use crate::verdict::threshold_value;
use stampede_metrics::result::{RunResult, ThresholdResult};
use std::fmt::Write;

/// Width of the threshold column: 80 minus the mark (4) and the value (14).
const NAME: usize = 62;
const VALUE: usize = 14;

/// Appends the section; nothing when the run had no thresholds.
pub(crate) fn thresholds_section(out: &mut String, result: &RunResult) {
    let all = &result.thresholds;
    if all.is_empty() {
        return;
    }
    let failed = all.iter().filter(|t| !t.passed).count();
    let headline = match failed {
        0 => format!("all {} passed", all.len()),
        n => format!("{n} of {} failed", all.len()),
    };
    let _ = writeln!(
        out,
        "\n{:<w$}{:>VALUE$}",
        format!("Thresholds: {headline}"),
        "measured",
        w = NAME + 4
    );
    for t in all {
        let _ = writeln!(out, "{}", threshold_line(t));
        if let Some(message) = t.message.as_deref().filter(|_| !t.passed) {
            let _ = writeln!(out, "      {}", cut(message, 74));
        }
    }
}

/// One threshold on one line: `  ✗ latency.p95 <= 300ms                  412.5 ms`.
pub fn threshold_line(t: &ThresholdResult) -> String {
    let mark = if t.passed { "✓" } else { "✗" };
    let name = format!("{:<NAME$}", cut(&t.name, NAME));
    format!("  {mark} {name}{:>VALUE$}", threshold_value(t))
}

/// Cuts `s` to `width` characters, marking the cut with `…`.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let kept: String = s.chars().take(width - 1).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threshold(name: &str, metric: &str, value: Option<f64>, passed: bool) -> ThresholdResult {
        ThresholdResult {
            name: name.into(),
            metric: metric.into(),
            scope: "all".into(),
            condition: name.split_once(' ').map_or("", |(_, c)| c).into(),
            value,
            passed,
            aborted_run: false,
            message: None,
        }
    }

    fn section(thresholds: Vec<ThresholdResult>) -> String {
        let mut out = String::new();
        let mut result = crate::testdata::sample();
        result.thresholds = thresholds;
        thresholds_section(&mut out, &result);
        out
    }

    #[test]
    fn each_threshold_has_its_mark_value_and_reason_within_80_columns() {
        let mut checkout = threshold(
            "latency.p99 <= 800ms [request: a checkout request with a name far too long to fit]",
            "latency.p99",
            Some(1043.2),
            false,
        );
        checkout.message = Some("worst 60s window: from 60s to 120s of the run".into());
        let mut aborted = threshold(
            "checks.pass_rate >= 99.5%",
            "checks.pass_rate",
            Some(97.125),
            false,
        );
        aborted.aborted_run = true;
        aborted.message = Some("failed for certain: aborted the run at 3.0s".into());
        let mut empty = threshold(
            "latency.p95 <= 300ms [request: checkout]",
            "latency.p95",
            None,
            false,
        );
        empty.message = Some("no data: no request matched".into());
        let text = section(vec![
            threshold("latency.p95 <= 300ms", "latency.p95", Some(212.4), true),
            checkout,
            threshold("error_rate <= 1%", "error_rate", Some(0.25), true),
            threshold("rps >= 200", "rps", Some(411.5), true),
            aborted,
            empty,
            threshold("requests > 100000", "requests", Some(12345.0), false),
        ]);
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too wide: {line:?}");
        }
        for needle in [
            "Thresholds: 4 of 7 failed",
            "  ✓ latency.p95 <= 300ms",
            "212.4 ms",
            "  ✗ latency.p99 <= 800ms [request: a checkout",
            "…",
            "      worst 60s window: from 60s to 120s of the run",
            "      failed for certain: aborted the run at 3.0s",
            "no data\n      no data: no request matched",
            "411.5/s",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        insta::assert_snapshot!(text);
    }

    #[test]
    fn nothing_without_thresholds_and_a_short_headline_when_all_pass() {
        assert_eq!(section(Vec::new()), "");
        let text = section(vec![threshold("rps >= 1", "rps", Some(2.0), true)]);
        assert!(text.starts_with("\nThresholds: all 1 passed"), "{text}");
    }
}
