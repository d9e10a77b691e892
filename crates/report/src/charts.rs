//! The HTML report's charts, built from a result: what to plot, not how to draw it ([`crate::svg`]).

use crate::markup::num;
use crate::svg::{BarChart, LineChart, Marker, PALETTE, Series};
use crate::units::format_ms;
use stampede_metrics::result::RunResult;
use std::collections::BTreeSet;

/// One chart of the report: its heading and the inline SVG, or a note when there is nothing to plot.
#[derive(Clone, Debug)]
pub struct Chart {
    pub title: &'static str,
    pub svg: Option<String>,
    pub note: &'static str,
}

/// Every chart, in page order.
pub fn charts(result: &RunResult) -> Vec<Chart> {
    let markers: Vec<Marker> = result
        .events
        .iter()
        .map(|e| Marker {
            x: e.second,
            label: e.message.clone(),
        })
        .collect();
    let has_timeline = !result.timeline.is_empty();
    let line = |title: &'static str, y_label: &str, series: Vec<Series>, empty_note| Chart {
        title,
        svg: (has_timeline && series.iter().any(|s| !s.points.is_empty())).then(|| {
            LineChart {
                title: title.to_owned(),
                y_label: y_label.to_owned(),
                series,
                markers: markers.clone(),
            }
            .render()
        }),
        note: if has_timeline {
            empty_note
        } else {
            "No timeline: the run ended before its first second closed."
        },
    };
    let t = &result.timeline;
    let x = |second: u32| f64::from(second);
    vec![
        line(
            "Requests per second",
            "requests/s",
            vec![series(
                "requests/s",
                0,
                t.iter().map(|p| (x(p.second), p.requests as f64)),
            )],
            "",
        ),
        line(
            "Latency percentiles",
            "latency (ms)",
            ["p50", "p95", "p99"]
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    // Seconds without a response have no latency: a gap, not a drop to zero.
                    let points = t.iter().map(|p| {
                        let l = &p.latency_ms;
                        let v = match i {
                            0 => l.p50,
                            1 => l.p95,
                            _ => l.p99,
                        };
                        let answered = p.requests > p.errors;
                        (x(p.second), if answered { v } else { f64::NAN })
                    });
                    series(name, i, points)
                })
                .collect(),
            "",
        ),
        line(
            "Active users",
            "users",
            vec![series(
                "users",
                2,
                t.iter().map(|p| (x(p.second), f64::from(p.users))),
            )],
            "",
        ),
        line(
            "Errors and failed checks per second",
            "per second",
            error_series(result),
            "No errors and no failed checks during the run.",
        ),
        latency_distribution(result),
    ]
}

fn series(name: &str, color: usize, points: impl Iterator<Item = (f64, f64)>) -> Series {
    Series {
        name: name.to_owned(),
        color: PALETTE[color % PALETTE.len()],
        points: points.collect(),
    }
}

/// One series per transport error kind seen, plus failed checks; none when all are zero.
fn error_series(result: &RunResult) -> Vec<Series> {
    let t = &result.timeline;
    let kinds: BTreeSet<&str> = t
        .iter()
        .flat_map(|p| p.errors_by_kind.keys().map(String::as_str))
        .collect();
    let mut out = Vec::new();
    if t.iter().any(|p| p.failures > 0) {
        out.push(series(
            "failed checks",
            4,
            t.iter().map(|p| (f64::from(p.second), p.failures as f64)),
        ));
    }
    for (i, kind) in kinds.into_iter().enumerate() {
        out.push(series(
            kind,
            5 + i,
            t.iter().map(|p| {
                let n = p.errors_by_kind.get(kind).copied().unwrap_or(0);
                (f64::from(p.second), n as f64)
            }),
        ));
    }
    // Results written before `errors_by_kind` existed still have per-second totals.
    if out.iter().all(|s| s.name == "failed checks") && t.iter().any(|p| p.errors > 0) {
        out.push(series(
            "errors",
            5,
            t.iter().map(|p| (f64::from(p.second), p.errors as f64)),
        ));
    }
    out
}

fn latency_distribution(result: &RunResult) -> Chart {
    let buckets = &result.summary.latency_histogram;
    let bars: Vec<(String, f64, String)> = buckets
        .iter()
        .map(|b| {
            (
                num(b.le_ms),
                b.count as f64,
                format!("≤ {} ms: {} responses", format_ms(b.le_ms), b.count),
            )
        })
        .collect();
    Chart {
        title: "Latency distribution",
        svg: (!bars.is_empty()).then(|| {
            BarChart {
                title: "Latency distribution".into(),
                x_label: "latency (ms, upper bound of each log-spaced bucket)".into(),
                y_label: "responses".into(),
                bars,
            }
            .render()
        }),
        note: "No latency distribution: no response was received (or the result predates it).",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample;

    #[test]
    fn every_chart_of_a_real_result_has_an_svg() {
        let charts = charts(&sample());
        let titles: Vec<&str> = charts.iter().map(|c| c.title).collect();
        assert_eq!(
            titles,
            [
                "Requests per second",
                "Latency percentiles",
                "Active users",
                "Errors and failed checks per second",
                "Latency distribution"
            ]
        );
        for c in &charts {
            assert!(c.svg.is_some(), "{} has no chart", c.title);
        }
        // The fixture has timeouts and refused connections: one series each, plus failed checks.
        let errors = charts[3].svg.as_deref().unwrap();
        for name in ["failed checks", "timeout", "connect_refused"] {
            assert!(errors.contains(name), "{name} missing");
        }
        // The event of the fixture is drawn on the time charts.
        assert!(
            charts[0]
                .svg
                .as_deref()
                .unwrap()
                .contains("class=\"marker\"")
        );
    }

    #[test]
    fn an_empty_result_gets_notes_instead_of_charts() {
        let mut r = sample();
        r.timeline.clear();
        r.summary.latency_histogram.clear();
        for c in charts(&r) {
            assert!(c.svg.is_none(), "{}", c.title);
            assert!(!c.note.is_empty(), "{}", c.title);
        }
    }
}
