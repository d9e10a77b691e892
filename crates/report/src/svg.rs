//! Small hand-written SVG charts for the HTML report: a line chart over time (axes, ticks, grid,
//! legend, event markers) and a bar chart for distributions.
//!
//! Hand-written rather than a plotting crate: the report must open offline from a CI artifact, so
//! the charts are plain inline SVG with no fonts, scripts or styles to fetch, and two chart kinds do
//! not justify a dependency. Styling (fonts, colours of text and grid) comes from the page's CSS
//! classes; series colours are attributes so a chart copied out of the page keeps them.

use crate::markup::{escape, num};
use std::fmt::Write;

/// Series colours, chosen to stay distinguishable for common colour-vision deficiencies.
pub const PALETTE: [&str; 8] = [
    "#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777",
];

const WIDTH: f64 = 880.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 40.0;

/// One line of a [`LineChart`]: `(x, y)` points in x order. A `NaN` y is a gap (no data that
/// second): the line stops and starts again after it.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// A vertical marker at `x` (e.g. a timeline event).
#[derive(Clone, Debug)]
pub struct Marker {
    pub x: f64,
    pub label: String,
}

/// A line chart with time (seconds) on the x axis.
#[derive(Clone, Debug, Default)]
pub struct LineChart {
    /// Read by screen readers (`aria-label`).
    pub title: String,
    /// The y axis label, with its unit.
    pub y_label: String,
    pub series: Vec<Series>,
    pub markers: Vec<Marker>,
}

/// A bar chart with labelled categories on the x axis.
#[derive(Clone, Debug, Default)]
pub struct BarChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// `(axis label, value, tooltip)` per bar, left to right.
    pub bars: Vec<(String, f64, String)>,
}

/// Evenly spaced "nice" ticks (steps of 1, 2, 2.5 or 5 × 10ⁿ) from 0 to at least `max`.
pub fn nice_ticks(max: f64, target: usize) -> Vec<f64> {
    if !(max.is_finite() && max > 0.0) {
        return vec![0.0, 1.0];
    }
    let raw = max / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = match raw / magnitude {
        n if n <= 1.0 => 1.0,
        n if n <= 2.0 => 2.0,
        n if n <= 2.5 => 2.5,
        n if n <= 5.0 => 5.0,
        _ => 10.0,
    } * magnitude;
    let count = (max / step - 1e-9).ceil().max(1.0) as usize;
    (0..=count).map(|i| i as f64 * step).collect()
}

/// A tick value as a short label: `0.25`, `40`, `12k`.
fn tick_label(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        format!("{}k", num(v / 1000.0))
    } else {
        num(v)
    }
}

/// Seconds as an axis label: `45s` for short runs, `m:ss` for long ones.
fn time_label(s: f64, long: bool) -> String {
    if long {
        let s = s.round() as u64;
        format!("{}:{:02}", s / 60, s % 60)
    } else {
        format!("{}s", num(s))
    }
}

fn open_svg(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg">"#,
        w = num(WIDTH),
        h = num(HEIGHT),
        t = escape(title)
    );
}

/// Horizontal grid lines and y tick labels; returns the y scale's top value.
fn y_axis(out: &mut String, max: f64, label: &str) -> f64 {
    let ticks = nice_ticks(max, 5);
    let top = ticks.last().copied().unwrap_or(1.0);
    for t in &ticks {
        let y = y_pos(*t, top);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x1}" x2="{x2}" y1="{y}" y2="{y}"/><text class="tick" x="{tx}" y="{ty}" text-anchor="end">{l}</text>"#,
            x1 = num(LEFT),
            x2 = num(WIDTH - RIGHT),
            y = num(y),
            tx = num(LEFT - 6.0),
            ty = num(y + 4.0),
            l = escape(&tick_label(*t))
        );
    }
    let mid = (TOP + HEIGHT - BOTTOM) / 2.0;
    let _ = write!(
        out,
        r#"<text class="axis-label" x="14" y="{mid}" text-anchor="middle" transform="rotate(-90 14 {mid})">{l}</text>"#,
        mid = num(mid),
        l = escape(label)
    );
    top
}

fn y_pos(v: f64, top: f64) -> f64 {
    let h = HEIGHT - TOP - BOTTOM;
    HEIGHT - BOTTOM - (v / top.max(f64::MIN_POSITIVE)) * h
}

fn x_axis_line(out: &mut String) {
    let y = num(HEIGHT - BOTTOM);
    let _ = write!(
        out,
        r#"<line class="axis" x1="{x1}" x2="{x2}" y1="{y}" y2="{y}"/>"#,
        x1 = num(LEFT),
        x2 = num(WIDTH - RIGHT),
    );
}

/// Legend entries laid out left to right above the plot.
fn legend(out: &mut String, entries: &[(&str, &str)]) {
    let mut x = LEFT;
    for (name, color) in entries {
        let _ = write!(
            out,
            r#"<rect x="{x}" y="12" width="12" height="12" rx="2" fill="{color}"/><text class="legend" x="{tx}" y="22">{n}</text>"#,
            x = num(x),
            tx = num(x + 17.0),
            n = escape(name)
        );
        x += 32.0 + 7.0 * name.chars().count() as f64;
    }
}

impl LineChart {
    /// The chart as an inline `<svg>` element.
    pub fn render(&self) -> String {
        let mut out = String::new();
        open_svg(&mut out, &self.title);
        let all = self.series.iter().flat_map(|s| s.points.iter());
        let x_max = all
            .clone()
            .map(|p| p.0)
            .chain(self.markers.iter().map(|m| m.x))
            .fold(0.0, f64::max)
            .max(1.0);
        let y_max = all.map(|p| p.1).fold(0.0, f64::max);
        let y_top = y_axis(&mut out, y_max, &self.y_label);
        let x_ticks = nice_ticks(x_max, 8);
        let x_top = x_ticks.last().copied().unwrap_or(1.0);
        let x_pos = |x: f64| LEFT + x / x_top * (WIDTH - LEFT - RIGHT);
        let long = x_top >= 120.0;
        for t in &x_ticks {
            let _ = write!(
                out,
                r#"<text class="tick" x="{x}" y="{y}" text-anchor="middle">{l}</text>"#,
                x = num(x_pos(*t)),
                y = num(HEIGHT - BOTTOM + 16.0),
                l = escape(&time_label(*t, long))
            );
        }
        let _ = write!(
            out,
            r#"<text class="axis-label" x="{x}" y="{y}" text-anchor="middle">time since start</text>"#,
            x = num((LEFT + WIDTH - RIGHT) / 2.0),
            y = num(HEIGHT - 4.0)
        );
        x_axis_line(&mut out);
        for m in &self.markers {
            let x = num(x_pos(m.x));
            let _ = write!(
                out,
                r#"<g class="marker"><title>{t}</title><line x1="{x}" x2="{x}" y1="{y1}" y2="{y2}" stroke-dasharray="4 3"/><text x="{tx}" y="{ty}">{t}</text></g>"#,
                t = escape(&m.label),
                y1 = num(TOP),
                y2 = num(HEIGHT - BOTTOM),
                tx = num(x_pos(m.x) + 3.0),
                ty = num(TOP + 10.0)
            );
        }
        for s in &self.series {
            for run in s.points.split(|p| !p.1.is_finite()) {
                let pts: Vec<(String, String)> = run
                    .iter()
                    .map(|&(x, y)| (num(x_pos(x)), num(y_pos(y, y_top))))
                    .collect();
                match pts.as_slice() {
                    [] => {}
                    [(cx, cy)] => {
                        let _ = write!(
                            out,
                            r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{c}"><title>{n}</title></circle>"#,
                            c = s.color,
                            n = escape(&s.name)
                        );
                    }
                    _ => {
                        let joined: Vec<String> =
                            pts.iter().map(|(x, y)| format!("{x},{y}")).collect();
                        let _ = write!(
                            out,
                            r#"<polyline fill="none" stroke="{c}" stroke-width="2" stroke-linejoin="round" points="{p}"><title>{n}</title></polyline>"#,
                            c = s.color,
                            p = joined.join(" "),
                            n = escape(&s.name)
                        );
                    }
                }
            }
        }
        let entries: Vec<(&str, &str)> = self
            .series
            .iter()
            .map(|s| (s.name.as_str(), s.color))
            .collect();
        legend(&mut out, &entries);
        out.push_str("</svg>");
        out
    }
}

impl BarChart {
    /// The chart as an inline `<svg>` element.
    pub fn render(&self) -> String {
        let mut out = String::new();
        open_svg(&mut out, &self.title);
        let y_max = self.bars.iter().map(|b| b.1).fold(0.0, f64::max);
        let y_top = y_axis(&mut out, y_max, &self.y_label);
        let n = self.bars.len().max(1);
        let slot = (WIDTH - LEFT - RIGHT) / n as f64;
        let gap = (slot * 0.15).min(4.0);
        // Label at most ~12 bars so the labels never overlap.
        let every = n.div_ceil(12);
        for (i, (label, value, tip)) in self.bars.iter().enumerate() {
            let x = LEFT + i as f64 * slot;
            let y = y_pos(*value, y_top);
            let _ = write!(
                out,
                r#"<rect class="bar" x="{x}" y="{y}" width="{w}" height="{h}" fill="{c}"><title>{t}</title></rect>"#,
                x = num(x + gap / 2.0),
                y = num(y),
                w = num((slot - gap).max(1.0)),
                h = num(HEIGHT - BOTTOM - y),
                c = PALETTE[0],
                t = escape(tip)
            );
            if i % every == 0 {
                let _ = write!(
                    out,
                    r#"<text class="tick" x="{x}" y="{y}" text-anchor="middle">{l}</text>"#,
                    x = num(x + slot / 2.0),
                    y = num(HEIGHT - BOTTOM + 16.0),
                    l = escape(label)
                );
            }
        }
        x_axis_line(&mut out);
        let _ = write!(
            out,
            r#"<text class="axis-label" x="{x}" y="{y}" text-anchor="middle">{l}</text>"#,
            x = num((LEFT + WIDTH - RIGHT) / 2.0),
            y = num(HEIGHT - 4.0),
            l = escape(&self.x_label)
        );
        out.push_str("</svg>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_cover_the_maximum() {
        assert_eq!(
            nice_ticks(93.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(
            nice_ticks(1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(nice_ticks(0.0, 5), vec![0.0, 1.0]);
        assert_eq!(nice_ticks(f64::NAN, 5), vec![0.0, 1.0]);
        let t = nice_ticks(12_345.0, 5);
        assert!(*t.last().unwrap() >= 12_345.0 && t.len() <= 7, "{t:?}");
    }

    #[test]
    fn line_chart_draws_each_series_markers_and_escaped_names() {
        let chart = LineChart {
            title: "latency".into(),
            y_label: "ms".into(),
            series: vec![
                Series {
                    name: "p95 <slow>".into(),
                    color: PALETTE[0],
                    points: vec![(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)],
                },
                Series {
                    name: "single".into(),
                    color: PALETTE[1],
                    points: vec![(0.0, 5.0)],
                },
                Series {
                    name: "gap".into(),
                    color: PALETTE[2],
                    points: vec![
                        (0.0, 1.0),
                        (1.0, 1.0),
                        (2.0, f64::NAN),
                        (3.0, 1.0),
                        (4.0, 1.0),
                    ],
                },
            ],
            markers: vec![Marker {
                x: 1.0,
                label: "stage 2".into(),
            }],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // One line for p95, two for the series with a gap (split at the NaN).
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(svg.contains("p95 &lt;slow&gt;") && !svg.contains("<slow>"));
        assert!(svg.contains("stage 2"));
        // The highest point (5.0, the top tick) sits exactly at the top of the plot, at x = 0.
        assert!(svg.contains(r#"<circle cx="64" cy="36""#), "{svg}");
    }

    #[test]
    fn bar_chart_has_one_bar_per_value_and_thins_labels() {
        let bars: Vec<(String, f64, String)> = (0..30)
            .map(|i| (format!("b{i}"), i as f64, format!("tip {i}")))
            .collect();
        let svg = BarChart {
            title: "t".into(),
            x_label: "ms".into(),
            y_label: "responses".into(),
            bars,
        }
        .render();
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 30);
        assert!(svg.contains(">b0<") && !svg.contains(">b1<") && svg.contains(">b3<"));
        assert!(svg.contains("<title>tip 29</title>"));
    }
}
