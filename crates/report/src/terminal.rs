//! The end-of-run summary printed to the terminal, in the spirit of Mozilla Loads' `loads-runner`
//! output: totals first, then one row per request, readable at 80 columns.

use crate::units::{format_bytes, format_count, format_duration_s, format_ms};
use stampede_metrics::result::{LatencyMs, RequestRow, RunResult, RunStatus};
use std::fmt::Write;

/// Width of the label column of the latency table.
const LATENCY_LABEL: usize = 22;
/// Width of the label column of the request-count table.
const COUNT_LABEL: usize = 30;

/// Renders the whole summary as plain text (no colour), ending with a newline.
pub fn terminal_summary(result: &RunResult) -> String {
    let mut out = String::new();
    let s = &result.summary;
    let run = &result.run;
    let status = match run.status {
        RunStatus::Completed => "completed".to_owned(),
        RunStatus::Interrupted => "interrupted (stopped early)".to_owned(),
        RunStatus::Aborted => match crate::verdict::run_aborted(result) {
            Some(e) => format!("aborted: {}", e.message),
            None => "aborted by a threshold".to_owned(),
        },
    };
    let _ = writeln!(out, "Stampede — {} → {}", run.scenario_file, run.target);
    let _ = writeln!(out, "Load:        {}", run.load);
    let _ = writeln!(out, "Started:     {}", run.started_at);
    let _ = writeln!(
        out,
        "Duration:    {} of {} planned, {status}",
        format_duration_s(s.duration_s),
        format_duration_s(run.planned_duration_s)
    );
    let _ = writeln!(out, "Max users:   {}", format_count(s.max_users as u64));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Requests:    {}  ({:.1}/s)   iterations: {}",
        format_count(s.requests),
        s.rps,
        format_count(s.iterations)
    );
    let _ = writeln!(out, "  Success:   {}", format_count(s.successes));
    let _ = writeln!(
        out,
        "  Failures:  {}  (failed checks)",
        format_count(s.failures)
    );
    let _ = writeln!(
        out,
        "  Errors:    {}  (no response)",
        format_count(s.errors)
    );
    iteration_lines(&mut out, result);
    let _ = writeln!(
        out,
        "Data:        {} received, {} sent",
        format_bytes(s.bytes_received),
        format_bytes(s.bytes_sent)
    );
    if let Some(slowest) = &s.slowest_request {
        let mean = result
            .requests
            .iter()
            .find(|r| &format!("{} / {}", r.scenario, r.name) == slowest)
            .map(|r| r.latency_ms.mean);
        let _ = match mean {
            Some(m) => writeln!(out, "Slowest:     {slowest} (mean {} ms)", format_ms(m)),
            None => writeln!(out, "Slowest:     {slowest}"),
        };
    }
    let _ = writeln!(out);
    counts_table(&mut out, result);
    let _ = writeln!(out);
    latency_table(&mut out, result);
    crate::custom::terminal_section(&mut out, result);
    failures_and_errors(&mut out, result);
    crate::thresholds::thresholds_section(&mut out, result);
    crate::custom::terminal_warnings(&mut out, result);
    out
}

/// Dropped and interrupted iterations (only when there were some) and, in the open model, how
/// late the scheduler started iterations: a large lag is the generator's overload, not the
/// target's latency.
fn iteration_lines(out: &mut String, result: &RunResult) {
    let s = &result.summary;
    if s.dropped_iterations > 0 || s.interrupted_iterations > 0 {
        let _ = writeln!(
            out,
            "Iterations:  {} dropped (no free user), {} interrupted (stopped)",
            format_count(s.dropped_iterations),
            format_count(s.interrupted_iterations)
        );
        for r in result.scenarios.iter().filter(|r| r.dropped_iterations > 0) {
            let _ = writeln!(
                out,
                "  {}: {} dropped",
                fit(&r.name, 40).trim_end(),
                format_count(r.dropped_iterations)
            );
        }
    }
    if let Some(lag) = &s.scheduler_lag_ms {
        let _ = writeln!(
            out,
            "Sched. lag:  p50 {} ms, p99 {} ms, max {} ms (how late iterations started)",
            format_ms(lag.p50),
            format_ms(lag.p99),
            format_ms(lag.max)
        );
    }
}

fn row_label(r: &RequestRow) -> String {
    format!("  {} {}", r.method, r.name)
}

/// Cuts `s` to `width` characters, marking the cut with `…`.
fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        format!("{s:<width$}")
    } else {
        let cut: String = s.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}

/// Calls `row` for each request row, printing a scenario heading line whenever the scenario changes.
fn by_scenario(
    out: &mut String,
    rows: &[RequestRow],
    mut row: impl FnMut(&mut String, &RequestRow),
) {
    let mut current: Option<&str> = None;
    for r in rows {
        if current != Some(r.scenario.as_str()) {
            let _ = writeln!(out, "{}", r.scenario);
            current = Some(&r.scenario);
        }
        row(out, r);
    }
}

fn counts_table(out: &mut String, result: &RunResult) {
    let _ = writeln!(
        out,
        "{:<COUNT_LABEL$}{:>10}{:>8}{:>10}{:>7}{:>7}",
        "Requests", "count", "rps", "ok", "fail", "err"
    );
    by_scenario(out, &result.requests, |out, r| {
        let _ = writeln!(
            out,
            "{}{:>10}{:>8.1}{:>10}{:>7}{:>7}",
            fit(&row_label(r), COUNT_LABEL),
            format_count(r.requests),
            r.rps,
            format_count(r.successes),
            r.failures,
            r.errors
        );
    });
}

fn latency_cells(l: &LatencyMs) -> String {
    [l.min, l.mean, l.p50, l.p90, l.p95, l.p99, l.p999, l.max]
        .iter()
        .map(|v| format!("{:>7}", format_ms(*v)))
        .collect()
}

fn latency_table(out: &mut String, result: &RunResult) {
    let _ = writeln!(
        out,
        "{:<LATENCY_LABEL$}{:>7}{:>7}{:>7}{:>7}{:>7}{:>7}{:>7}{:>7}",
        "Latency (ms)", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"
    );
    let _ = writeln!(
        out,
        "{}{}",
        fit("all requests", LATENCY_LABEL),
        latency_cells(&result.summary.latency_ms)
    );
    by_scenario(out, &result.requests, |out, r| {
        let cells = if r.requests == r.errors {
            format!("{:>7}", "-")
        } else {
            latency_cells(&r.latency_ms)
        };
        let _ = writeln!(out, "{}{cells}", fit(&row_label(r), LATENCY_LABEL));
    });
}

fn failures_and_errors(out: &mut String, result: &RunResult) {
    if !result.checks.is_empty() {
        let _ = writeln!(out, "\nFailed checks:");
        for c in &result.checks {
            let _ = writeln!(
                out,
                "  {} / {}: {} ×{} (e.g. {})",
                c.scenario,
                c.request,
                c.check,
                format_count(c.count),
                c.sample
            );
        }
    }
    if !result.errors.is_empty() {
        let _ = writeln!(out, "\nErrors (no response):");
        for e in &result.errors {
            let _ = writeln!(
                out,
                "  {} ×{}: {} (in {})",
                e.kind,
                format_count(e.count),
                e.sample,
                e.sample_request
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_metrics::result::{
        CheckRow, CustomMetricRow, ErrorRow, LagMs, RunMeta, ScenarioRow, Summary,
    };
    use std::collections::BTreeMap;

    fn latency(base: f64) -> LatencyMs {
        LatencyMs {
            min: base,
            mean: base * 2.0,
            p50: base * 2.0,
            p90: base * 4.0,
            p95: base * 5.0,
            p99: base * 9.0,
            p999: base * 20.0,
            max: base * 31.0,
        }
    }

    fn row(scenario: &str, name: &str, method: &str, requests: u64, base: f64) -> RequestRow {
        RequestRow {
            scenario: scenario.into(),
            name: name.into(),
            method: method.into(),
            requests,
            successes: requests - 1,
            failures: 1,
            errors: 0,
            rps: requests as f64 / 30.0,
            bytes_received: requests * 100,
            bytes_sent: requests * 10,
            latency_ms: latency(base),
            service_time_ms: latency(base),
            status_codes: BTreeMap::new(),
            errors_by_kind: BTreeMap::new(),
            timings_ms: Default::default(),
        }
    }

    pub(crate) fn sample() -> RunResult {
        RunResult {
            schema_version: 1,
            run: RunMeta {
                tool_version: "0.1.0".into(),
                scenario_file: "examples/shop.yaml".into(),
                target: "http://127.0.0.1:8080".into(),
                started_at: "2026-11-24T16:00:00Z".into(),
                planned_duration_s: 30.0,
                load: "50 users, spawn 10/s, 30s".into(),
                status: RunStatus::Completed,
            },
            summary: Summary {
                requests: 12345,
                successes: 12200,
                failures: 100,
                errors: 45,
                rps: 411.5,
                duration_s: 30.01,
                iterations: 3000,
                bytes_received: 1_250_000,
                bytes_sent: 300_000,
                max_users: 50,
                latency_ms: latency(0.4),
                slowest_request: Some("buyer / a very long request name that will not fit".into()),
                latency_histogram: vec![],
                dropped_iterations: 12,
                interrupted_iterations: 3,
                scheduler_lag_ms: Some(LagMs {
                    p50: 0.4,
                    p99: 2.1,
                    max: 15.0,
                }),
            },
            requests: vec![
                row("buyer", "/login", "POST", 20, 3.0),
                row(
                    "buyer",
                    "a very long request name that will not fit",
                    "POST",
                    500,
                    40.0,
                ),
                row("browser", "/search?q=shoes", "GET", 6000, 30.0),
            ],
            errors: vec![ErrorRow {
                kind: "connect_refused".into(),
                count: 45,
                sample: "connection refused".into(),
                sample_request: "bouncer / /".into(),
            }],
            checks: vec![CheckRow {
                scenario: "buyer".into(),
                request: "/checkout".into(),
                check: "status in [200, 201]".into(),
                count: 100,
                sample: "got 500".into(),
            }],
            timeline: vec![],
            thresholds: vec![],
            baseline: None,
            events: vec![],
            scenarios: vec![ScenarioRow {
                name: "buyer".into(),
                iterations: 3000,
                dropped_iterations: 12,
                interrupted_iterations: 3,
                pacing_overruns: 0,
            }],
            custom_metrics: vec![
                CustomMetricRow::Counter {
                    name: "carts".into(),
                    total: 1_204.0,
                    rate: 40.12,
                    adds: 1_204,
                },
                CustomMetricRow::Trend {
                    name: "group.checkout with a long name".into(),
                    count: 1_204,
                    min: 12.5,
                    max: 1_520.0,
                    mean: 80.25,
                    p50: 64.0,
                    p90: 150.0,
                    p95: 210.5,
                    p99: 900.0,
                },
                CustomMetricRow::Gauge {
                    name: "queue_depth".into(),
                    last: 3.0,
                    min: 0.0,
                    max: 17.0,
                    sets: 300,
                },
            ],
            warnings: vec![
                "2 custom metric names dropped (limit 1000) (e.g. `order_17`): 9 updates not \
                 recorded; use fewer distinct names (do not put ids in them)"
                    .into(),
            ],
        }
    }

    #[test]
    fn summary_fits_in_80_columns_and_has_every_figure() {
        let text = terminal_summary(&sample());
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too wide: {line:?}");
        }
        for needle in [
            "12,345",
            "411.5/s",
            "Failures:  100",
            "Errors:    45",
            "p99.9",
            "1.2 MB",
            "status in [200, 201] ×100 (e.g. got 500)",
            "connect_refused ×45",
            "Slowest:",
            "12 dropped (no free user), 3 interrupted",
            "buyer: 12 dropped",
            "Sched. lag:  p50 0.40 ms, p99 2.10 ms, max 15.0 ms",
            "\nCustom metrics\nCounters",
            "  carts",
            "  group.checkout with …   1,204   12.5   80.2     64    150  210.5    900   1520",
            "  queue_depth",
            "Warnings:\n  ! 2 custom metric names dropped",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        insta::assert_snapshot!(text);
    }
}
