//! The HTML report: one self-contained file that opens offline from a CI artifact.
//!
//! No scripts, no external fonts, styles or images: the CSS is inline, charts are inline SVG, and
//! a Content-Security-Policy forbids every fetch so a stray reference could not load anything
//! either. Every string from the result is escaped ([`escape`]).

use crate::charts::charts;
use crate::markup::escape;
use crate::units::{format_bytes, format_count, format_duration_s, format_ms};
use crate::verdict::{VerdictKind, rate_pct, status_word, threshold_value, trim_num, verdict};
use stampede_metrics::result::{LatencyMs, RunResult};
use std::fmt::Write;

const CSS: &str = r#"
:root { --fg:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#ffffff; --panel:#f9fafb;
        --pass:#15803d; --fail:#b91c1c; --warn:#a16207; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1120px; margin:0 auto; padding:24px; }
h1 { font-size:22px; margin:0 0 4px; }
h2 { font-size:17px; margin:32px 0 10px; padding-bottom:4px; border-bottom:1px solid var(--line); }
h3 { font-size:14px; margin:18px 0 6px; color:var(--muted); font-weight:600; }
.sub { color:var(--muted); margin:0 0 16px; word-break:break-all; }
.verdict { display:flex; gap:12px; align-items:center; padding:12px 16px; border-radius:8px;
           font-weight:600; margin:12px 0 20px; border:1px solid; }
.verdict .sym { font-size:22px; }
.verdict ul { margin:0; padding-left:18px; font-weight:400; }
.passed { color:var(--pass); background:#f0fdf4; border-color:#bbf7d0; }
.failed { color:var(--fail); background:#fef2f2; border-color:#fecaca; }
.interrupted { color:var(--warn); background:#fefce8; border-color:#fde68a; }
dl.meta { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; margin:0; }
dl.meta dt { color:var(--muted); }
dl.meta dd { margin:0; word-break:break-all; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(130px,1fr)); gap:10px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.card .v { font-size:20px; font-weight:600; font-variant-numeric:tabular-nums; }
.card .l { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:var(--panel); font-weight:600; font-size:12px; color:var(--muted); }
td.n, th.n { text-align:right; white-space:nowrap; }
td.sample { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12px;
            word-break:break-all; }
.ok { color:var(--pass); font-weight:700; }
.bad { color:var(--fail); font-weight:700; }
.scroll { overflow-x:auto; }
.note { color:var(--muted); font-style:italic; }
figure { margin:0 0 18px; }
svg.chart { width:100%; height:auto; display:block; background:var(--bg); }
svg.chart .grid { stroke:var(--line); stroke-width:1; }
svg.chart .axis { stroke:#9ca3af; stroke-width:1; }
svg.chart text { font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; fill:var(--muted); }
svg.chart text.legend { fill:var(--fg); font-size:12px; }
svg.chart text.axis-label { font-size:12px; }
svg.chart .marker line { stroke:#6b7280; }
svg.chart .marker text { fill:var(--fg); }
footer { margin-top:40px; color:var(--muted); font-size:12px; }
"#;

/// Renders the whole report as one HTML document.
pub fn html_report(result: &RunResult) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let run = &result.run;
    let title = format!("Stampede report: {}", run.scenario_file);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        escape(&title)
    );
    header(&mut out, result);
    totals(&mut out, result);
    thresholds(&mut out, result);
    baseline(&mut out, result);
    out.push_str("<section id=\"charts\">\n<h2>Over time</h2>\n");
    for chart in charts(result) {
        let _ = write!(out, "<figure>\n<h3>{}</h3>\n", escape(chart.title));
        match chart.svg {
            Some(svg) => out.push_str(&svg),
            None => {
                let _ = write!(out, "<p class=\"note\">{}</p>", escape(chart.note));
            }
        }
        out.push_str("\n</figure>\n");
    }
    out.push_str("</section>\n");
    requests(&mut out, result);
    crate::custom::html_section(&mut out, result);
    errors(&mut out, result);
    checks(&mut out, result);
    events(&mut out, result);
    let _ = write!(
        out,
        "<footer>Generated by Stampede {} from the JSON result (result format {}).</footer>\n\
         </main>\n</body>\n</html>\n",
        escape(&run.tool_version),
        result.schema_version
    );
    out
}

fn header(out: &mut String, result: &RunResult) {
    let run = &result.run;
    let v = verdict(result);
    let _ = write!(
        out,
        "<header>\n<h1>Stampede report</h1>\n<p class=\"sub\">{} → {}</p>\n",
        escape(&run.scenario_file),
        escape(&run.target)
    );
    let class = match v.kind {
        VerdictKind::Passed => "passed",
        VerdictKind::Failed => "failed",
        VerdictKind::Interrupted => "interrupted",
    };
    let _ = write!(
        out,
        "<div class=\"verdict {class}\" id=\"verdict\"><span class=\"sym\">{}</span><div>Run {}",
        v.symbol(),
        v.word()
    );
    if !v.reasons.is_empty() {
        out.push_str("<ul>");
        for r in &v.reasons {
            let _ = write!(out, "<li>{}</li>", escape(r));
        }
        out.push_str("</ul>");
    }
    out.push_str("</div></div>\n</header>\n");
    let s = &result.summary;
    let rows: [(&str, String); 8] = [
        ("Scenario", run.scenario_file.clone()),
        ("Target", run.target.clone()),
        ("Load", run.load.clone()),
        ("Started", run.started_at.clone()),
        (
            "Duration",
            format!(
                "{} of {} planned",
                format_duration_s(s.duration_s),
                format_duration_s(run.planned_duration_s)
            ),
        ),
        ("Status", status_word(run.status).to_owned()),
        ("Max users", format_count(u64::from(s.max_users))),
        ("Tool version", format!("Stampede {}", run.tool_version)),
    ];
    out.push_str("<section id=\"run\">\n<h2>Run</h2>\n<dl class=\"meta\">\n");
    for (k, v) in rows {
        let _ = writeln!(out, "<dt>{k}</dt><dd>{}</dd>", escape(&v));
    }
    out.push_str("</dl>\n</section>\n");
}

fn totals(out: &mut String, result: &RunResult) {
    let s = &result.summary;
    let l = &s.latency_ms;
    let cards = [
        ("requests", format_count(s.requests)),
        ("requests/s", format!("{:.1}", s.rps)),
        ("successes", format_count(s.successes)),
        ("failed checks", format_count(s.failures)),
        ("errors (no response)", format_count(s.errors)),
        ("iterations", format_count(s.iterations)),
        ("p50", format!("{} ms", format_ms(l.p50))),
        ("p95", format!("{} ms", format_ms(l.p95))),
        ("p99", format!("{} ms", format_ms(l.p99))),
        ("max", format!("{} ms", format_ms(l.max))),
        ("received", format_bytes(s.bytes_received)),
        ("sent", format_bytes(s.bytes_sent)),
    ];
    out.push_str("<section id=\"totals\">\n<h2>Totals</h2>\n<div class=\"cards\">\n");
    for (label, value) in cards {
        let _ = writeln!(
            out,
            "<div class=\"card\"><div class=\"v\">{}</div><div class=\"l\">{label}</div></div>",
            escape(&value)
        );
    }
    out.push_str("</div>\n</section>\n");
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "<span class=\"ok\" title=\"passed\">✓</span>"
    } else {
        "<span class=\"bad\" title=\"failed\">✗</span>"
    }
}

fn thresholds(out: &mut String, result: &RunResult) {
    out.push_str("<section id=\"thresholds\">\n<h2>Thresholds</h2>\n");
    if result.thresholds.is_empty() {
        out.push_str("<p class=\"note\">No thresholds were set for this run.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table>\n<tr><th></th><th>Threshold</th><th>Scope</th>\
         <th class=\"n\">Value</th><th>Condition</th><th>Note</th></tr>\n",
    );
    for t in &result.thresholds {
        let mut note = t.message.clone().unwrap_or_default();
        if t.aborted_run {
            note = format!("stopped the run early. {note}");
        }
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            mark(t.passed),
            escape(&t.name),
            escape(&t.scope),
            escape(&threshold_value(t)),
            escape(&t.condition),
            escape(note.trim())
        );
    }
    out.push_str("</table></div>\n</section>\n");
}

fn baseline(out: &mut String, result: &RunResult) {
    let Some(b) = &result.baseline else {
        return;
    };
    let _ = write!(
        out,
        "<section id=\"baseline\">\n<h2>Baseline</h2>\n<p>{} Compared with <code>{}</code>: {} request rows in both, allowed regression {}%.</p>\n",
        mark(b.passed),
        escape(&b.file),
        b.compared_rows,
        trim_num(b.max_regression_pct)
    );
    if b.regressions.is_empty() {
        out.push_str("<p class=\"note\">No p95, p99 or error-rate regression beyond the bound.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table>\n<tr><th>Request</th><th>Metric</th><th class=\"n\">Baseline</th>\
         <th class=\"n\">This run</th><th class=\"n\">Change</th></tr>\n",
    );
    for r in &b.regressions {
        let unit = r.unit();
        let _ = writeln!(
            out,
            "<tr><td>{} / {} {}</td><td>{}</td><td class=\"n\">{}{unit}</td><td class=\"n\">{}{unit}</td><td class=\"n bad\">+{}%</td></tr>",
            escape(&r.scenario),
            escape(&r.method),
            escape(&r.name),
            escape(&r.metric),
            trim_num(r.baseline),
            trim_num(r.value),
            trim_num(r.change_pct)
        );
    }
    out.push_str("</table></div>\n</section>\n");
}

fn latency_cells(l: &LatencyMs, answered: bool) -> String {
    [l.p50, l.p90, l.p95, l.p99, l.max]
        .iter()
        .map(|v| {
            let text = if answered {
                format_ms(*v)
            } else {
                "–".into()
            };
            format!("<td class=\"n\">{text}</td>")
        })
        .collect()
}

fn requests(out: &mut String, result: &RunResult) {
    out.push_str("<section id=\"requests\">\n<h2>Requests</h2>\n");
    if result.requests.is_empty() {
        out.push_str("<p class=\"note\">No request rows.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table>\n<tr><th>Scenario</th><th>Request</th><th>Method</th>\
         <th class=\"n\">Requests</th><th class=\"n\">req/s</th><th class=\"n\">Failed</th>\
         <th class=\"n\">Errors</th><th class=\"n\">Success</th><th class=\"n\">p50 ms</th>\
         <th class=\"n\">p90 ms</th><th class=\"n\">p95 ms</th><th class=\"n\">p99 ms</th>\
         <th class=\"n\">max ms</th><th>Status codes</th></tr>\n",
    );
    let all = &result.summary;
    for r in &result.requests {
        let codes: Vec<String> = r
            .status_codes
            .iter()
            .map(|(c, n)| format!("{c}×{}", format_count(*n)))
            .collect();
        let rate = rate_pct(r.successes, r.requests).map_or("–".into(), |p| format!("{p:.2}%"));
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{rate}</td>{}<td>{}</td></tr>",
            escape(&r.scenario),
            escape(&r.name),
            escape(&r.method),
            format_count(r.requests),
            r.rps,
            format_count(r.failures),
            format_count(r.errors),
            latency_cells(&r.latency_ms, r.requests > r.errors),
            escape(&codes.join(" "))
        );
    }
    let total_rate =
        rate_pct(all.successes, all.requests).map_or("–".into(), |p| format!("{p:.2}%"));
    let _ = writeln!(
        out,
        "<tr><th colspan=\"3\">All requests</th><th class=\"n\">{}</th><th class=\"n\">{:.1}</th>\
         <th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{total_rate}</th>{}<th></th></tr>",
        format_count(all.requests),
        all.rps,
        format_count(all.failures),
        format_count(all.errors),
        latency_cells(&all.latency_ms, all.requests > all.errors).replace("td", "th")
    );
    out.push_str("</table></div>\n</section>\n");
}

fn errors(out: &mut String, result: &RunResult) {
    out.push_str("<section id=\"errors\">\n<h2>Errors (no response)</h2>\n");
    if result.errors.is_empty() {
        out.push_str("<p class=\"note\">Every request got a response.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table>\n<tr><th>Kind</th><th class=\"n\">Count</th><th>Sample</th><th>In request</th></tr>\n",
    );
    for e in &result.errors {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"sample\">{}</td><td>{}</td></tr>",
            escape(&e.kind),
            format_count(e.count),
            escape(&e.sample),
            escape(&e.sample_request)
        );
    }
    out.push_str("</table></div>\n</section>\n");
}

fn checks(out: &mut String, result: &RunResult) {
    out.push_str("<section id=\"checks\">\n<h2>Failed checks</h2>\n");
    if result.checks.is_empty() {
        out.push_str("<p class=\"note\">No check failed.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table>\n<tr><th>Scenario</th><th>Request</th><th>Check</th>\
         <th class=\"n\">Count</th><th>First received</th></tr>\n",
    );
    for c in &result.checks {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"sample\">{}</td></tr>",
            escape(&c.scenario),
            escape(&c.request),
            escape(&c.check),
            format_count(c.count),
            escape(&c.sample)
        );
    }
    out.push_str("</table></div>\n</section>\n");
}

fn events(out: &mut String, result: &RunResult) {
    out.push_str("<section id=\"events\">\n<h2>Timeline events</h2>\n");
    if result.events.is_empty() {
        out.push_str(
            "<p class=\"note\">No events were recorded during this run.</p>\n</section>\n",
        );
        return;
    }
    out.push_str("<table>\n<tr><th class=\"n\">At</th><th>Kind</th><th>What happened</th></tr>\n");
    for e in &result.events {
        let _ = writeln!(
            out,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&format_duration_s(e.second)),
            escape(&e.kind),
            escape(&e.message)
        );
    }
    out.push_str("</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample;

    #[test]
    fn the_report_has_every_section_and_no_external_reference() {
        let html = html_report(&sample());
        for id in [
            "verdict",
            "run",
            "totals",
            "thresholds",
            "baseline",
            "charts",
            "requests",
            "custom",
            "warnings",
            "errors",
            "checks",
            "events",
        ] {
            assert!(
                html.contains(&format!("id=\"{id}\"")),
                "section {id} missing"
            );
        }
        assert_eq!(
            html.matches("<svg").count(),
            5,
            "four time charts and the histogram"
        );
        for forbidden in [
            "<script",
            "<link",
            "src=",
            "@import",
            "url(",
            "https://",
            "http-equiv=\"refresh",
        ] {
            assert!(!html.contains(forbidden), "found {forbidden:?}");
        }
        assert!(html.contains("✓") && html.contains("✗"), "threshold marks");
    }

    #[test]
    fn strings_from_the_result_are_escaped() {
        let mut r = sample();
        r.requests[0].name = "<img src=x onerror=alert(1)>".into();
        r.errors[0].sample = "</td><script>alert(2)</script>".into();
        r.run.scenario_file = "\"quoted\" & <b>".into();
        let html = html_report(&r);
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&quot;quoted&quot; &amp; &lt;b&gt;"));
    }

    #[test]
    fn empty_sections_say_so() {
        let mut r = sample();
        r.thresholds.clear();
        r.errors.clear();
        r.checks.clear();
        r.events.clear();
        r.baseline = None;
        r.custom_metrics.clear();
        r.warnings.clear();
        let html = html_report(&r);
        assert!(html.contains("No thresholds were set"));
        assert!(html.contains("Every request got a response."));
        assert!(html.contains("No check failed."));
        assert!(html.contains("No events were recorded"));
        assert!(!html.contains("id=\"baseline\""));
        assert!(!html.contains("id=\"custom\"") && !html.contains("id=\"warnings\""));
    }
}
