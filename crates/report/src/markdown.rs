//! Markdown for CI job summaries (e.g. `>> $GITHUB_STEP_SUMMARY`): the verdict first, then
//! totals, thresholds, the baseline comparison, per-request stats, custom metrics and warnings,
//! and the top errors. GitHub flavoured tables; every string from the result is escaped so it
//! cannot break a table or inject markup.

use crate::units::{format_bytes, format_count, format_duration_s, format_ms};
use crate::verdict::{rate_pct, status_word, threshold_value, trim_num, verdict};
use stampede_metrics::result::RunResult;
use std::fmt::Write;

/// Rows of the errors and checks tables; the rest is in the HTML report and the JSON.
const TOP: usize = 5;
/// Samples are cut to this many characters.
const SAMPLE_CHARS: usize = 120;

/// Renders the result as a Markdown document.
pub fn markdown_report(result: &RunResult) -> String {
    let mut out = String::new();
    let run = &result.run;
    let s = &result.summary;
    let v = verdict(result);
    let _ = writeln!(
        out,
        "## {} Stampede: {} — {} → {}\n",
        v.symbol(),
        v.word(),
        cell(&run.scenario_file),
        cell(&run.target)
    );
    for reason in &v.reasons {
        let _ = writeln!(out, "- {}", cell(reason));
    }
    if !v.reasons.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} · started {} · {} of {} planned · {} · Stampede {}\n",
        cell(&run.load),
        cell(&run.started_at),
        format_duration_s(s.duration_s),
        format_duration_s(run.planned_duration_s),
        status_word(run.status),
        cell(&run.tool_version)
    );
    out.push_str("| Requests | req/s | Successes | Failed checks | Errors | p50 | p95 | p99 | Max users | Received |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        out,
        "| {} | {:.1} | {} | {} | {} | {} ms | {} ms | {} ms | {} | {} |\n",
        format_count(s.requests),
        s.rps,
        format_count(s.successes),
        format_count(s.failures),
        format_count(s.errors),
        format_ms(s.latency_ms.p50),
        format_ms(s.latency_ms.p95),
        format_ms(s.latency_ms.p99),
        format_count(u64::from(s.max_users)),
        format_bytes(s.bytes_received)
    );
    thresholds(&mut out, result);
    baseline(&mut out, result);
    requests(&mut out, result);
    crate::custom::markdown_section(&mut out, result, cell);
    errors(&mut out, result);
    out
}

fn thresholds(out: &mut String, result: &RunResult) {
    if result.thresholds.is_empty() {
        return;
    }
    out.push_str("### Thresholds\n\n| | Threshold | Value | Note |\n|:-:|---|---:|---|\n");
    for t in &result.thresholds {
        let mut note = t.message.clone().unwrap_or_default();
        if t.aborted_run {
            note = format!("stopped the run early {note}");
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            if t.passed { "✅" } else { "❌" },
            cell(&t.name),
            cell(&threshold_value(t)),
            cell(note.trim())
        );
    }
    out.push('\n');
}

fn baseline(out: &mut String, result: &RunResult) {
    let Some(b) = &result.baseline else {
        return;
    };
    let _ = writeln!(
        out,
        "### Baseline\n\n{} compared with `{}` on {} rows, allowed regression {}%\n",
        if b.passed { "✅" } else { "❌" },
        cell(&b.file).replace('`', "'"),
        b.compared_rows,
        trim_num(b.max_regression_pct)
    );
    if b.regressions.is_empty() {
        return;
    }
    out.push_str("| Request | Metric | Baseline | This run | Change |\n|---|---|---:|---:|---:|\n");
    for r in &b.regressions {
        let unit = r.unit();
        let _ = writeln!(
            out,
            "| {} / {} {} | {} | {}{unit} | {}{unit} | **+{}%** |",
            cell(&r.scenario),
            cell(&r.method),
            cell(&r.name),
            cell(&r.metric),
            trim_num(r.baseline),
            trim_num(r.value),
            trim_num(r.change_pct)
        );
    }
    out.push('\n');
}

fn requests(out: &mut String, result: &RunResult) {
    if result.requests.is_empty() {
        return;
    }
    out.push_str("### Requests\n\n| Scenario | Request | Requests | req/s | Failed | Errors | Success | p50 ms | p95 ms | p99 ms | Max ms |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in &result.requests {
        let answered = r.requests > r.errors;
        let ms = |v: f64| {
            if answered { format_ms(v) } else { "–".into() }
        };
        let l = &r.latency_ms;
        let _ = writeln!(
            out,
            "| {} | {} {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&r.scenario),
            cell(&r.method),
            cell(&r.name),
            format_count(r.requests),
            r.rps,
            format_count(r.failures),
            format_count(r.errors),
            rate_pct(r.successes, r.requests).map_or("–".into(), |p| format!("{p:.2}%")),
            ms(l.p50),
            ms(l.p95),
            ms(l.p99),
            ms(l.max)
        );
    }
    out.push('\n');
}

fn errors(out: &mut String, result: &RunResult) {
    if !result.errors.is_empty() {
        out.push_str("### Top errors (no response)\n\n| Kind | Count | Sample | In request |\n|---|---:|---|---|\n");
        for e in result.errors.iter().take(TOP) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&e.kind),
                format_count(e.count),
                code(&e.sample),
                cell(&e.sample_request)
            );
        }
        more(out, result.errors.len());
    }
    if !result.checks.is_empty() {
        out.push_str("### Failed checks\n\n| Request | Check | Count | First received |\n|---|---|---:|---|\n");
        for c in result.checks.iter().take(TOP) {
            let _ = writeln!(
                out,
                "| {} / {} | {} | {} | {} |",
                cell(&c.scenario),
                cell(&c.request),
                cell(&c.check),
                format_count(c.count),
                code(&c.sample)
            );
        }
        more(out, result.checks.len());
    }
}

fn more(out: &mut String, total: usize) {
    if total > TOP {
        let _ = writeln!(out, "\n…and {} more in the HTML report.", total - TOP);
    }
    out.push('\n');
}

/// Text for a table cell: one line, no table or inline markup, no HTML.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A sample: cut to [`SAMPLE_CHARS`] and escaped like any cell.
fn code(s: &str) -> String {
    let cut: String = s.chars().take(SAMPLE_CHARS).collect();
    let ellipsis = if s.chars().count() > SAMPLE_CHARS {
        "…"
    } else {
        ""
    };
    format!("{}{ellipsis}", cell(&cut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample;

    #[test]
    fn markdown_report_snapshot() {
        insta::assert_snapshot!(markdown_report(&sample()));
    }

    #[test]
    fn cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(cell("<script>"), "&lt;script&gt;");
        assert_eq!(cell("**bold** `x`"), "\\*\\*bold\\*\\* \\`x\\`");
        let long = "x".repeat(300);
        assert_eq!(code(&long).chars().count(), SAMPLE_CHARS + 1);
    }

    #[test]
    fn every_row_of_the_result_is_in_the_requests_table() {
        let r = sample();
        let md = markdown_report(&r);
        for row in &r.requests {
            assert!(md.contains(&cell(&row.name)), "{} missing", row.name);
        }
        assert!(md.starts_with("## ✗ Stampede: failed"), "{md}");
    }
}
