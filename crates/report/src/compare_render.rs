//! Renderings of a [`Comparison`]: plain text for terminals, Markdown for CI summaries and a
//! self-contained HTML page.

use crate::compare::{Comparison, Delta, Judgement, Metric, RowComparison, signed_pct};
use crate::markup::escape;
use crate::verdict::trim_num;
use std::fmt::Write;

/// `12.0 → 15.1` or `– → 3.2` when a side has no value.
fn values(metric: Metric, d: &Delta) -> (String, String) {
    let f = |v: Option<f64>| v.map_or("–".to_owned(), |v| metric.format(v));
    (f(d.base), f(d.new))
}

fn change(d: &Delta) -> String {
    d.change_pct.map_or("n/a".into(), signed_pct)
}

/// Plain text, readable at 80 columns: a block per row, one line per figure.
pub fn compare_text(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Comparing {} (base) → {} (new), noise tolerance ±{}%\n",
        c.base_file,
        c.new_file,
        trim_num(c.tolerance_pct)
    );
    for row in std::iter::once(&c.overall).chain(&c.rows) {
        text_row(&mut out, row);
    }
    only_in(&mut out, "Only in", c);
    let _ = writeln!(out, "Verdict: {}", c.verdict_line());
    out
}

fn text_row(out: &mut String, row: &RowComparison) {
    let _ = writeln!(out, "{}", row.label());
    for (m, d) in &row.deltas {
        let (b, n) = values(*m, d);
        let mark = match d.judgement {
            Judgement::Worse => "  WORSE",
            Judgement::Better => "  better",
            Judgement::Same | Judgement::NotComparable => "",
        };
        let _ = writeln!(
            out,
            "  {:<12}{b:>12} → {n:<12}{:>9}{mark}",
            m.label(),
            change(d)
        );
    }
    out.push('\n');
}

fn only_in(out: &mut String, prefix: &str, c: &Comparison) {
    for (file, rows) in [
        (&c.base_file, &c.only_in_base),
        (&c.new_file, &c.only_in_new),
    ] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{prefix} {file} (not compared):");
        for r in rows {
            let _ = writeln!(out, "  {r}");
        }
        out.push('\n');
    }
}

/// Markdown: one table, regressions in bold with 🔴, improvements with 🟢.
pub fn compare_markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let regressions = c.regressions().len();
    let _ = writeln!(
        out,
        "## {} Stampede comparison: `{}` → `{}`\n",
        if regressions == 0 { "✅" } else { "🔴" },
        md(&c.base_file),
        md(&c.new_file)
    );
    let _ = writeln!(
        out,
        "{}\n\nChanges within ±{}% are treated as noise.\n",
        md(&c.verdict_line()),
        trim_num(c.tolerance_pct)
    );
    out.push_str("| Request |");
    for m in Metric::ALL {
        let _ = write!(out, " {} |", m.label());
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(Metric::ALL.len()));
    out.push('\n');
    for row in std::iter::once(&c.overall).chain(&c.rows) {
        let _ = write!(out, "| {} |", md(&row.label()));
        for (m, d) in &row.deltas {
            let (b, n) = values(*m, d);
            let cell = format!("{b} → {n} ({})", change(d));
            let _ = match d.judgement {
                Judgement::Worse => write!(out, " 🔴 **{cell}** |"),
                Judgement::Better => write!(out, " 🟢 {cell} |"),
                _ => write!(out, " {cell} |"),
            };
        }
        out.push('\n');
    }
    out.push('\n');
    for (file, rows) in [
        (&c.base_file, &c.only_in_base),
        (&c.new_file, &c.only_in_new),
    ] {
        if !rows.is_empty() {
            let _ = writeln!(out, "Only in `{}` (not compared):\n", md(file));
            for r in rows {
                let _ = writeln!(out, "- {}", md(r));
            }
            out.push('\n');
        }
    }
    out
}

/// Escapes Markdown table and inline syntax.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '|' | '\\' | '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(ch);
            }
            '`' => out.push('\''),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            ch => out.push(ch),
        }
    }
    out
}

const CSS: &str = "body{margin:0;font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2937}\
main{max-width:1120px;margin:0 auto;padding:24px}h1{font-size:20px}\
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}\
th,td{padding:5px 8px;border-bottom:1px solid #e5e7eb;text-align:right;white-space:nowrap}\
th:first-child,td:first-child{text-align:left;white-space:normal}th{background:#f9fafb;color:#6b7280;font-size:12px}\
td.worse{background:#fef2f2;color:#b91c1c;font-weight:600}td.better{background:#f0fdf4;color:#15803d}\
.v{padding:10px 14px;border-radius:8px;border:1px solid #e5e7eb;background:#f9fafb;font-weight:600}\
small{color:#6b7280}.scroll{overflow-x:auto}";

/// A self-contained HTML page (no scripts, no external resources).
pub fn compare_html(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Stampede comparison</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
         <h1>Stampede comparison</h1>\n<p>{} (base) → {} (new); changes within ±{}% are noise.</p>\n\
         <p class=\"v\" id=\"verdict\">{}</p>\n<div class=\"scroll\"><table>\n<tr><th>Request</th>",
        escape(&c.base_file),
        escape(&c.new_file),
        trim_num(c.tolerance_pct),
        escape(&c.verdict_line())
    );
    for m in Metric::ALL {
        let _ = write!(out, "<th>{}</th>", escape(m.label()));
    }
    out.push_str("</tr>\n");
    for row in std::iter::once(&c.overall).chain(&c.rows) {
        let _ = write!(out, "<tr><td>{}</td>", escape(&row.label()));
        for (m, d) in &row.deltas {
            let (b, n) = values(*m, d);
            let class = match d.judgement {
                Judgement::Worse => " class=\"worse\"",
                Judgement::Better => " class=\"better\"",
                _ => "",
            };
            let _ = write!(
                out,
                "<td{class}>{} → {}<br><small>{}</small></td>",
                escape(&b),
                escape(&n),
                escape(&change(d))
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n");
    for (file, rows) in [
        (&c.base_file, &c.only_in_base),
        (&c.new_file, &c.only_in_new),
    ] {
        if !rows.is_empty() {
            let _ = write!(
                out,
                "<h2>Only in {} (not compared)</h2>\n<ul>",
                escape(file)
            );
            for r in rows {
                let _ = write!(out, "<li>{}</li>", escape(r));
            }
            out.push_str("</ul>\n");
        }
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare;
    use crate::testdata::sample;

    fn regressed() -> Comparison {
        let base = sample();
        let mut new = base.clone();
        let i = new
            .requests
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.latency_ms.p50.total_cmp(&b.1.latency_ms.p50))
            .map(|(i, _)| i)
            .unwrap();
        new.requests[i].latency_ms.p95 *= 2.0;
        new.requests.pop();
        compare(&base, &new, "base.json", "new <b>.json", 5.0)
    }

    #[test]
    fn text_marks_regressions_and_fits_80_columns() {
        let text = compare_text(&regressed());
        assert!(text.contains("WORSE"), "{text}");
        assert!(text.contains("+100%"), "{text}");
        assert!(text.contains("Only in base.json"), "{text}");
        assert!(
            text.lines()
                .last()
                .unwrap()
                .starts_with("Verdict: 1 regression"),
            "{text}"
        );
        for line in text.lines().filter(|l| l.starts_with("  ")) {
            assert!(line.chars().count() <= 80, "too wide: {line}");
        }
    }

    #[test]
    fn markdown_and_html_highlight_and_escape() {
        let md = compare_markdown(&regressed());
        assert!(md.contains("🔴 **") && md.contains("&lt;b&gt;"), "{md}");
        assert_eq!(md.matches("🔴 **").count(), 1, "{md}");
        let html = compare_html(&regressed());
        assert_eq!(html.matches("class=\"worse\"").count(), 1);
        assert!(!html.contains("<b>") && html.contains("new &lt;b&gt;.json"));
        assert!(!html.contains("<script"));
    }
}
