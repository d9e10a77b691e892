//! Thresholds on custom metrics (`counter.NAME`, `trend.NAME.p95`, `gauge.NAME`, ...): their
//! values over the run and over windows.
//!
//! Custom metrics are run-wide (not per request row). Values are plain numbers, in whatever unit
//! the scenario recorded them (group trends are in ms).
//!
//! # No data
//!
//! A trend never recorded and a gauge never set have no value, so their thresholds fail with
//! "no data". A counter never added to is **0** (as in k6): a counter usually counts problems,
//! and `counter.errors` with `max: 0` must pass when none happened. It has no data only when the
//! run did nothing at all (no request, no iteration), so a run that never started does not pass
//! on it. `trend.NAME.count` follows the counter rule.
//!
//! # Windows
//!
//! A window keeps the metric's figures of its last `len` seconds: a counter's sum per second, a
//! trend's count, sum, min, max and recorded histogram buckets (the window's histogram is the
//! exact sum of its seconds', as for latency), a gauge's last value and range per second. In a
//! window a counter (and a trend's count) is 0 rather than missing; a trend or gauge without an
//! update in the window has no value there, and that window is skipped.

use std::collections::VecDeque;

use hdrhistogram::Histogram;

use crate::custom::{CustomKind, CustomMetric, CustomStats, GaugeStats, TREND_SCALE};
use crate::recorder::{Snapshot, new_histogram};
use crate::threshold::{Course, LatencyStat};

/// A threshold's custom metric: which one, and what is read of it.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomSpec {
    /// As declared by the scenario, e.g. `cart_size` or `group.checkout`.
    pub name: String,
    pub stat: CustomStat,
}

/// What a threshold reads of a custom metric (the metric's kind follows from it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CustomStat {
    /// A counter's sum. `only_grows`: every add is known to be `>= 0` (from the scenario), so the
    /// sum never goes down and a `max` crossed has certainly failed; otherwise it may come back.
    CounterSum {
        only_grows: bool,
    },
    /// A counter's sum per second of run time (of the window in a window).
    CounterRate,
    /// A trend's percentile in `(0, 100]`, mean, min or max.
    Trend(LatencyStat),
    /// Values a trend recorded.
    TrendCount,
    /// A gauge's last value (by time of the set).
    GaugeLast,
    GaugeMin,
    GaugeMax,
}

impl CustomStat {
    /// The kind of metric it reads.
    pub fn kind(self) -> CustomKind {
        match self {
            CustomStat::CounterSum { .. } | CustomStat::CounterRate => CustomKind::Counter,
            CustomStat::Trend(_) | CustomStat::TrendCount => CustomKind::Trend,
            CustomStat::GaugeLast | CustomStat::GaugeMin | CustomStat::GaugeMax => {
                CustomKind::Gauge
            }
        }
    }

    /// How the whole-run value can move (see [`Course`]).
    pub(crate) fn course(self) -> Course {
        match self {
            CustomStat::CounterSum { only_grows: true }
            | CustomStat::TrendCount
            | CustomStat::Trend(LatencyStat::Max)
            | CustomStat::GaugeMax => Course::Grows,
            CustomStat::Trend(LatencyStat::Min) | CustomStat::GaugeMin => Course::Shrinks,
            CustomStat::CounterSum { only_grows: false } => Course::Wanders,
            CustomStat::CounterRate | CustomStat::Trend(_) | CustomStat::GaugeLast => {
                Course::Settles
            }
        }
    }
}

impl CustomSpec {
    /// The value over the whole run of `seconds`; `metric` is the run's metric of this name and
    /// kind, if any was recorded; `ran`: the run made a request or completed an iteration.
    pub(crate) fn run_value(
        &self,
        metric: Option<&CustomMetric>,
        seconds: f64,
        ran: bool,
    ) -> Option<f64> {
        let stats = metric.map(|m| &m.stats);
        match (self.stat, stats) {
            (CustomStat::CounterSum { .. }, Some(CustomStats::Counter(c))) => Some(c.sum),
            (CustomStat::CounterRate, Some(CustomStats::Counter(c))) => {
                Some(c.sum / seconds.max(1e-9))
            }
            (CustomStat::CounterSum { .. } | CustomStat::CounterRate, _) => ran.then_some(0.0),
            (CustomStat::TrendCount, Some(CustomStats::Trend(t))) => Some(t.count as f64),
            (CustomStat::TrendCount, _) => ran.then_some(0.0),
            (CustomStat::Trend(stat), Some(CustomStats::Trend(t))) => {
                let figures = (t.count, t.sum, t.min, t.max);
                trend_value(stat, figures, &t.histogram)
            }
            (CustomStat::GaugeLast, Some(CustomStats::Gauge(g))) if g.sets > 0 => Some(g.last),
            (CustomStat::GaugeMin, Some(CustomStats::Gauge(g))) if g.sets > 0 => Some(g.min),
            (CustomStat::GaugeMax, Some(CustomStats::Gauge(g))) if g.sets > 0 => Some(g.max),
            _ => None,
        }
    }

    /// Why the whole run has no value.
    pub(crate) fn no_data(&self) -> String {
        let name = &self.name;
        match self.stat {
            // Counts are 0 unless the run did nothing at all.
            CustomStat::CounterSum { .. } | CustomStat::CounterRate | CustomStat::TrendCount => {
                "no data: no request was made and no iteration completed".to_owned()
            }
            CustomStat::Trend(_) => format!("no data: trend `{name}` never recorded a value"),
            CustomStat::GaugeLast | CustomStat::GaugeMin | CustomStat::GaugeMax => {
                format!("no data: gauge `{name}` was never set")
            }
        }
    }

    /// What a window without a value lacked, for "no full window had ...".
    pub(crate) fn window_lack(&self) -> String {
        let verb = match self.stat.kind() {
            CustomKind::Gauge => "set of",
            _ => "value of",
        };
        format!("{verb} {} `{}`", self.stat.kind(), self.name)
    }
}

/// A trend's statistic from its (count, sum, min, max) and histogram; `None` when it is
/// empty. Percentiles are read as [`crate::custom::TrendStats::quantile`] reads them (so a threshold shows
/// what `custom_metrics` shows): the lowest value of the bucket, kept within `[min, max]`.
fn trend_value(
    stat: LatencyStat,
    (count, sum, min, max): (u64, f64, f64, f64),
    h: &Histogram<u64>,
) -> Option<f64> {
    if count == 0 {
        return None;
    }
    match stat {
        LatencyStat::Percentile(p) if !h.is_empty() => {
            let v = h.lowest_equivalent(h.value_at_quantile(p / 100.0)) as f64 / TREND_SCALE;
            Some(v.clamp(min, max))
        }
        LatencyStat::Percentile(_) => None,
        LatencyStat::Mean => Some(sum / count as f64),
        LatencyStat::Min => Some(min),
        LatencyStat::Max => Some(max),
    }
}

/// One second of a custom metric in a window.
#[derive(Debug, Default)]
struct Second {
    /// Counter: the sum of its adds.
    sum: f64,
    /// Trend: values, their sum, min and max, and (highest equivalent value, count) of each
    /// recorded histogram bucket.
    count: u64,
    min: f64,
    max: f64,
    buckets: Vec<(u64, u64)>,
    /// Gauge: its figures in this second.
    gauge: Option<GaugeStats>,
}

/// The sliding window of one custom threshold.
#[derive(Debug)]
pub(crate) struct CustomWindow {
    spec: CustomSpec,
    ring: VecDeque<Second>,
    /// Trend only: the histogram of the seconds in the ring.
    histogram: Histogram<u64>,
}

impl CustomWindow {
    pub fn new(spec: CustomSpec) -> CustomWindow {
        CustomWindow {
            spec,
            ring: VecDeque::new(),
            histogram: new_histogram(),
        }
    }

    /// Adds one closed second; true once the ring holds `len` seconds (a full window).
    pub fn push(&mut self, snapshot: &Snapshot, len: usize) -> bool {
        let mut second = Second::default();
        let metric = snapshot.custom.get(&self.spec.name, self.spec.stat.kind());
        match metric.map(|m| &m.stats) {
            Some(CustomStats::Counter(c)) => second.sum = c.sum,
            Some(CustomStats::Trend(t)) if t.count > 0 => {
                (second.count, second.sum) = (t.count, t.sum);
                (second.min, second.max) = (t.min, t.max);
                self.histogram
                    .add(&t.histogram)
                    .expect("auto-resizing histograms");
                let recorded = t.histogram.iter_recorded();
                second.buckets = recorded
                    .map(|v| (v.value_iterated_to(), v.count_at_value()))
                    .collect();
            }
            Some(CustomStats::Gauge(g)) if g.sets > 0 => second.gauge = Some(g.clone()),
            _ => {}
        }
        self.ring.push_back(second);
        if self.ring.len() > len
            && let Some(old) = self.ring.pop_front()
            && !old.buckets.is_empty()
        {
            let mut h = new_histogram();
            for &(value, count) in &old.buckets {
                h.record_n(value, count).expect("auto-resizing histograms");
            }
            // Every bucket subtracted was added when this second came in.
            self.histogram
                .subtract(&h)
                .expect("a second in the window is part of the sum");
        }
        self.ring.len() == len
    }

    /// The value over the seconds in the ring (a window of `len` seconds).
    pub fn value(&self, len: u32) -> Option<f64> {
        let ring = &self.ring;
        match self.spec.stat {
            CustomStat::CounterSum { .. } => Some(ring.iter().map(|s| s.sum).sum()),
            CustomStat::CounterRate => {
                Some(ring.iter().map(|s| s.sum).sum::<f64>() / f64::from(len))
            }
            CustomStat::TrendCount => Some(ring.iter().map(|s| s.count).sum::<u64>() as f64),
            CustomStat::Trend(stat) => {
                let mut figures = (0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
                for s in ring.iter().filter(|s| s.count > 0) {
                    figures.0 += s.count;
                    figures.1 += s.sum;
                    figures.2 = figures.2.min(s.min);
                    figures.3 = figures.3.max(s.max);
                }
                trend_value(stat, figures, &self.histogram)
            }
            CustomStat::GaugeLast | CustomStat::GaugeMin | CustomStat::GaugeMax => {
                let mut sets = ring.iter().filter_map(|s| s.gauge.as_ref()).peekable();
                sets.peek()?;
                let (mut last, mut min, mut max) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
                for g in sets {
                    // Seconds are in order: the last second with a set has the last value.
                    last = g.last;
                    min = min.min(g.min);
                    max = max.max(g.max);
                }
                Some(match self.spec.stat {
                    CustomStat::GaugeLast => last,
                    CustomStat::GaugeMin => min,
                    _ => max,
                })
            }
        }
    }
}
