//! Custom metrics (counters, trends, gauges) and warnings in the text and markup reports. Each
//! report calls one function here, so the formats show the same figures the same way:
//!
//! * terminal: one small table per kind present, aligned and within 80 columns;
//! * Markdown and HTML: one table with a column per figure, `–` where a kind has none;
//! * every section is left out when the run recorded no custom metric (or had no warning).

use crate::markup::escape;
use crate::units::format_count;
use stampede_metrics::result::{CustomMetricRow, RunResult};
use std::fmt::Write;

/// Width of the name column of the terminal tables.
const LABEL: usize = 23;

/// A metric's value in at most 7 characters (6 for values in `(-1e5, 1e6)`): whole numbers as
/// they are, fractions with a precision that suits their size, very large or small ones in
/// scientific notation.
pub(crate) fn value(v: f64) -> String {
    let a = v.abs();
    let plain = if v == v.trunc() && a < 1e6 {
        format!("{v:.0}")
    } else if a < 0.01 {
        format!("{v:.1e}")
    } else if a < 10.0 {
        format!("{v:.2}")
    } else if a < 1000.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    };
    if plain.len() > 6 && v != 0.0 {
        format!("{v:.1e}")
    } else {
        plain
    }
}

/// A count, or a whole total, with thousands separators; other totals as [`value`].
fn total(v: f64) -> String {
    if v == v.trunc() && (0.0..1e15).contains(&v) {
        format_count(v as u64)
    } else {
        value(v)
    }
}

/// Cuts `s` to `width` characters, marking the cut with `…`, and pads it.
fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        format!("{s:<width$}")
    } else {
        let cut: String = s.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}

/// The terminal section: nothing without custom metrics.
pub(crate) fn terminal_section(out: &mut String, result: &RunResult) {
    let metrics = &result.custom_metrics;
    if metrics.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nCustom metrics");
    let label = |name: &str| fit(&format!("  {name}"), LABEL);
    let counters = || {
        metrics
            .iter()
            .filter(|m| matches!(m, CustomMetricRow::Counter { .. }))
    };
    if counters().next().is_some() {
        let header = ["total", "per second", "adds"];
        let _ = writeln!(
            out,
            "{:<LABEL$}{:>14}{:>12}{:>12}",
            "Counters", header[0], header[1], header[2]
        );
        for m in counters() {
            if let CustomMetricRow::Counter {
                name,
                total: sum,
                rate,
                adds,
            } = m
            {
                let _ = writeln!(
                    out,
                    "{}{:>14}{:>12}{:>12}",
                    label(name),
                    total(*sum),
                    value(*rate),
                    format_count(*adds)
                );
            }
        }
    }
    let trends = || {
        metrics
            .iter()
            .filter(|m| matches!(m, CustomMetricRow::Trend { .. }))
    };
    if trends().next().is_some() {
        let _ = writeln!(
            out,
            "{:<LABEL$}{:>8}{:>7}{:>7}{:>7}{:>7}{:>7}{:>7}{:>7}",
            "Trends", "count", "min", "mean", "p50", "p90", "p95", "p99", "max"
        );
        for m in trends() {
            if let CustomMetricRow::Trend {
                name,
                count,
                min,
                max,
                mean,
                p50,
                p90,
                p95,
                p99,
            } = m
            {
                let cells: String = [min, mean, p50, p90, p95, p99, max]
                    .iter()
                    .map(|v| format!("{:>7}", value(**v)))
                    .collect();
                let _ = writeln!(out, "{}{:>8}{cells}", label(name), format_count(*count));
            }
        }
    }
    let gauges = || {
        metrics
            .iter()
            .filter(|m| matches!(m, CustomMetricRow::Gauge { .. }))
    };
    if gauges().next().is_some() {
        let _ = writeln!(
            out,
            "{:<LABEL$}{:>10}{:>10}{:>10}{:>10}",
            "Gauges", "last", "min", "max", "sets"
        );
        for m in gauges() {
            if let CustomMetricRow::Gauge {
                name,
                last,
                min,
                max,
                sets,
            } = m
            {
                let _ = writeln!(
                    out,
                    "{}{:>10}{:>10}{:>10}{:>10}",
                    label(name),
                    value(*last),
                    value(*min),
                    value(*max),
                    format_count(*sets)
                );
            }
        }
    }
}

/// The terminal warnings: nothing without any.
pub(crate) fn terminal_warnings(out: &mut String, result: &RunResult) {
    if result.warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nWarnings:");
    for w in &result.warnings {
        let mut prefix = "  ! ";
        for line in wrap(w, 76) {
            let _ = writeln!(out, "{prefix}{line}");
            prefix = "    ";
        }
    }
}

/// Splits `text` into lines of at most `width` characters at spaces (a longer word gets a line
/// of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Column headings of the Markdown and HTML tables, after the name and kind.
const COLUMNS: [&str; 11] = [
    "Count", "Total", "Rate/s", "Last", "Min", "Mean", "p50", "p90", "p95", "p99", "Max",
];

/// One figure of a custom metric, before formatting.
pub(crate) enum Figure {
    /// Adds, values or sets.
    Count(u64),
    /// A counter's total.
    Total(f64),
    Value(f64),
}

/// The figures of one metric under the columns count, total, rate, last, min, mean, p50, p90,
/// p95, p99, max (the Markdown and HTML [`COLUMNS`], the CSV file's after name and kind), `None`
/// where its kind has none.
pub(crate) fn figures(m: &CustomMetricRow) -> [Option<Figure>; 11] {
    let v = |x: &f64| Some(Figure::Value(*x));
    match m {
        CustomMetricRow::Counter {
            total: sum,
            rate,
            adds,
            ..
        } => [
            Some(Figure::Count(*adds)),
            Some(Figure::Total(*sum)),
            v(rate),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ],
        CustomMetricRow::Trend {
            count,
            min,
            max,
            mean,
            p50,
            p90,
            p95,
            p99,
            ..
        } => [
            Some(Figure::Count(*count)),
            None,
            None,
            None,
            v(min),
            v(mean),
            v(p50),
            v(p90),
            v(p95),
            v(p99),
            v(max),
        ],
        CustomMetricRow::Gauge {
            last,
            min,
            max,
            sets,
            ..
        } => [
            Some(Figure::Count(*sets)),
            None,
            None,
            v(last),
            v(min),
            None,
            None,
            None,
            None,
            None,
            v(max),
        ],
    }
}

/// The figures of one metric under [`COLUMNS`], formatted for a table.
fn cells(m: &CustomMetricRow) -> [Option<String>; 11] {
    figures(m).map(|f| {
        f.map(|f| match f {
            Figure::Count(n) => format_count(n),
            Figure::Total(x) => total(x),
            Figure::Value(x) => value(x),
        })
    })
}

/// The Markdown section (`cell` escapes a string for a table cell); nothing without custom
/// metrics. Warnings follow it as a list.
pub(crate) fn markdown_section(out: &mut String, result: &RunResult, cell: fn(&str) -> String) {
    if !result.custom_metrics.is_empty() {
        out.push_str("### Custom metrics\n\n| Metric | Kind |");
        for c in COLUMNS {
            let _ = write!(out, " {c} |");
        }
        out.push_str("\n|---|---|");
        out.push_str(&"---:|".repeat(COLUMNS.len()));
        out.push('\n');
        for m in &result.custom_metrics {
            let _ = write!(out, "| {} | {} |", cell(m.name()), m.kind());
            for c in cells(m) {
                let _ = write!(out, " {} |", c.as_deref().unwrap_or("–"));
            }
            out.push('\n');
        }
        out.push('\n');
    }
    if !result.warnings.is_empty() {
        out.push_str("### Warnings\n\n");
        for w in &result.warnings {
            let _ = writeln!(out, "- {}", cell(w));
        }
        out.push('\n');
    }
}

/// The HTML section; nothing without custom metrics or warnings.
pub(crate) fn html_section(out: &mut String, result: &RunResult) {
    if !result.custom_metrics.is_empty() {
        out.push_str("<section id=\"custom\">\n<h2>Custom metrics</h2>\n");
        out.push_str("<div class=\"scroll\"><table>\n<tr><th>Metric</th><th>Kind</th>");
        for c in COLUMNS {
            let _ = write!(out, "<th class=\"n\">{c}</th>");
        }
        out.push_str("</tr>\n");
        for m in &result.custom_metrics {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td>",
                escape(m.name()),
                m.kind()
            );
            for c in cells(m) {
                let _ = write!(
                    out,
                    "<td class=\"n\">{}</td>",
                    escape(c.as_deref().unwrap_or("–"))
                );
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table></div>\n</section>\n");
    }
    if !result.warnings.is_empty() {
        out.push_str("<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>\n");
        for w in &result.warnings {
            let _ = writeln!(out, "<li>{}</li>", escape(w));
        }
        out.push_str("</ul>\n</section>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample;

    #[test]
    fn values_stay_short_and_readable() {
        for (v, want) in [
            (0.0, "0"),
            (42.0, "42"),
            (999_999.0, "999999"),
            (1_234_567.0, "1.2e6"),
            (-3.0, "-3"),
            (0.4123, "0.41"),
            (12.34, "12.3"),
            (1520.4, "1520"),
            (0.0004, "4.0e-4"),
            (-99_999.5, "-1.0e5"),
        ] {
            assert_eq!(value(v), want, "{v}");
        }
        assert_eq!(total(1_234_567.0), "1,234,567");
        assert_eq!(total(2.5), "2.50");
    }

    #[test]
    fn the_terminal_tables_are_aligned_within_80_columns() {
        let r = sample();
        assert!(
            !r.custom_metrics.is_empty(),
            "the sample has custom metrics"
        );
        let mut out = String::new();
        terminal_section(&mut out, &r);
        terminal_warnings(&mut out, &r);
        let lines: Vec<&str> = out.lines().collect();
        for line in &lines {
            assert!(line.chars().count() <= 80, "too wide: {line:?}");
        }
        // Every row of a table ends in the same column as its header.
        for header in ["Counters", "Trends", "Gauges"] {
            let at = lines.iter().position(|l| l.starts_with(header)).unwrap();
            let width = lines[at].chars().count();
            assert_eq!(lines[at + 1].chars().count(), width, "{header} table");
        }
        assert!(out.contains("Warnings:\n  ! "), "{out}");
    }

    #[test]
    fn sections_are_left_out_without_custom_metrics() {
        let mut r = sample();
        r.custom_metrics.clear();
        r.warnings.clear();
        let (mut term, mut md, mut html) = (String::new(), String::new(), String::new());
        terminal_section(&mut term, &r);
        terminal_warnings(&mut term, &r);
        markdown_section(&mut md, &r, |s| s.to_owned());
        html_section(&mut html, &r);
        assert_eq!((term, md, html), Default::default());
    }

    #[test]
    fn names_are_escaped_in_markup() {
        let mut r = sample();
        if let Some(CustomMetricRow::Counter { name, .. }) = r.custom_metrics.first_mut() {
            *name = "<b>x</b>".into();
        }
        let mut html = String::new();
        html_section(&mut html, &r);
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;") && !html.contains("<b>x"));
    }
}
