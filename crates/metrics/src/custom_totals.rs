//! Run totals of the custom metrics: every snapshot merged into one [`CustomSet`], per-second
//! counter increments for the timeline, and the result's `custom_metrics` rows and warnings.
//! Kept apart from the aggregator's request totals so each has one reason to change.

use crate::custom::{
    CustomKind, CustomMetric, CustomSet, CustomStats, MAX_CUSTOM_METRICS, TrendStats,
};
use crate::recorder::Snapshot;
use crate::result::{CustomMetricRow, RunResult};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Counters whose per-second increments go into the timeline: 20 keep a timeline point small
/// (a few hundred bytes) whatever the scenario does; the totals hold every counter.
pub(crate) const MAX_TIMELINE_COUNTERS: usize = 20;

/// Merged custom metrics of a run.
#[derive(Debug, Default)]
pub(crate) struct CustomTotals {
    run: CustomSet,
    /// The counters of the timeline, in the order they first had an increment in a closed second.
    timeline: Vec<Arc<str>>,
}

impl CustomTotals {
    /// Every custom metric of the run so far.
    pub fn run(&self) -> &CustomSet {
        &self.run
    }

    /// Adds one snapshot to the run totals.
    pub fn ingest(&mut self, snapshot: &Snapshot) {
        self.run.merge(&snapshot.custom);
    }

    /// The counter increments of one closed second, for its timeline point. A counter is kept
    /// when it already is, or while fewer than [`MAX_TIMELINE_COUNTERS`] are (in name order
    /// within a second, so the choice does not depend on arrival order).
    pub fn timeline_counters(&mut self, snapshot: &Snapshot) -> BTreeMap<String, f64> {
        let mut counters: Vec<(&Arc<str>, f64)> = counters(snapshot).collect();
        counters.sort_by(|a, b| a.0.cmp(b.0));
        let mut point = BTreeMap::new();
        for (name, sum) in counters {
            let tracked = self.timeline.contains(name);
            if !tracked && self.timeline.len() < MAX_TIMELINE_COUNTERS {
                self.timeline.push(Arc::clone(name));
            } else if !tracked {
                continue;
            }
            point.insert(name.to_string(), sum);
        }
        point
    }

    /// Adds the counters of a snapshot that arrived after its second was closed.
    pub fn add_late(&self, snapshot: &Snapshot, point: &mut BTreeMap<String, f64>) {
        for (name, sum) in counters(snapshot) {
            if self.timeline.contains(name) {
                *point.entry(name.to_string()).or_default() += sum;
            }
        }
    }

    /// Fills `custom_metrics` and the warnings about custom metrics, for a run of `duration_s`.
    pub fn fill(&self, result: &mut RunResult, duration_s: f64) {
        let mut metrics: Vec<&CustomMetric> = self.run.iter().collect();
        metrics.sort_by(|a, b| (&a.name, a.kind()).cmp(&(&b.name, b.kind())));
        result.custom_metrics = metrics.iter().map(|m| row(m, duration_s)).collect();
        let dropped = self.run.dropped();
        if !dropped.is_empty() {
            let names = match dropped.saturated() {
                true => format!("more than {}", dropped.names()),
                false => dropped.names().to_string(),
            };
            let example = dropped
                .example()
                .map_or(String::new(), |e| format!(" (e.g. `{e}`)"));
            result.warnings.push(format!(
                "{names} custom metric names dropped (limit {MAX_CUSTOM_METRICS}){example}: \
                 {} updates not recorded; use fewer distinct names (do not put ids in them)",
                dropped.updates
            ));
        }
        for m in metrics.iter().filter(|m| m.rejected > 0) {
            let what = match m.kind() {
                CustomKind::Trend => "not a finite number >= 0",
                _ => "not a finite number",
            };
            result.warnings.push(format!(
                "custom {} `{}`: {} values rejected ({what})",
                m.kind(),
                m.name,
                m.rejected
            ));
        }
        let counters = metrics
            .iter()
            .filter(|m| m.kind() == CustomKind::Counter)
            .count();
        if counters > self.timeline.len() {
            result.warnings.push(format!(
                "the timeline has per-second increments of {MAX_TIMELINE_COUNTERS} custom counters \
                 only; the other {} are in custom_metrics as run totals",
                counters - self.timeline.len()
            ));
        }
    }
}

/// The counters of a snapshot with their sums.
fn counters(snapshot: &Snapshot) -> impl Iterator<Item = (&Arc<str>, f64)> {
    snapshot.custom.iter().filter_map(|m| match &m.stats {
        CustomStats::Counter(c) if c.adds > 0 => Some((&m.name, c.sum)),
        _ => None,
    })
}

/// Rounds to `decimals` places (values too large for it are left as they are).
fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    let r = (x * f).round() / f;
    if r.is_finite() { r } else { x }
}

fn row(m: &CustomMetric, duration_s: f64) -> CustomMetricRow {
    let name = m.name.to_string();
    match &m.stats {
        CustomStats::Counter(c) => CustomMetricRow::Counter {
            name,
            total: round(c.sum, 6),
            rate: round(c.sum / duration_s.max(1e-9), 3),
            adds: c.adds,
        },
        CustomStats::Trend(t) => trend_row(name, t),
        CustomStats::Gauge(g) => {
            let set = g.sets > 0;
            CustomMetricRow::Gauge {
                name,
                last: if set { g.last } else { 0.0 },
                min: if set { g.min } else { 0.0 },
                max: if set { g.max } else { 0.0 },
                sets: g.sets,
            }
        }
    }
}

fn trend_row(name: String, t: &TrendStats) -> CustomMetricRow {
    let q = |q: f64| {
        t.quantile(q)
            .map_or(0.0, |v| round(v, 3).clamp(t.min, t.max))
    };
    let set = t.count > 0;
    CustomMetricRow::Trend {
        name,
        count: t.count,
        min: if set { t.min } else { 0.0 },
        max: if set { t.max } else { 0.0 },
        mean: t.mean().map_or(0.0, |m| round(m, 6)),
        p50: q(0.50),
        p90: q(0.90),
        p95: q(0.95),
        p99: q(0.99),
    }
}
