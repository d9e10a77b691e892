//! Custom metrics: counters, trends and gauges that scenario steps and scripts name and update
//! (like k6's `Counter`/`Trend`/`Gauge` or Mozilla Loads' `incr_counter`).
//!
//! A metric is identified by its name *and* kind: `counter carts` and `trend carts` are two
//! metrics. Each kind merges exactly, in any order, like the request statistics:
//!
//! * **counter**: a sum of deltas and how many were added. Sums of whole numbers are exact up to
//!   2^53; fractional deltas add as `f64` (the result rounds totals to 6 decimals).
//! * **trend**: a distribution of values `>= 0`. Count, min and max are exact, the mean is the
//!   `f64` sum over the count, and the percentiles come from an HDR histogram (3 significant
//!   digits) over the value scaled by [`TREND_SCALE`] (1/1024 resolution, so whole numbers up to
//!   2047 are exact and every value is within 0.1 %). Histograms add bucket by bucket, so merged
//!   percentiles equal those of one recorder that saw every value. Values above [`TREND_MAX`]
//!   count in the percentiles as `TREND_MAX` (min, max and mean stay exact). **Negative values are
//!   rejected**: trends measure durations, sizes and counts; a metric that can go below zero is a
//!   gauge.
//! * **gauge**: the last value set, plus min, max and how many sets. "Last" is by time of the set:
//!   a later second always wins; within a second each set carries a wall-clock stamp (Unix ns, or
//!   the caller's own via
//!   [`IntervalRecorder::set_gauge_at`](crate::IntervalRecorder::set_gauge_at)), the latest stamp
//!   wins, and equal stamps keep the larger value so merges do not depend on order.
//!
//! Values that are not finite (NaN, ±∞) are rejected for every kind. Rejected values are counted
//! per metric ([`CustomMetric::rejected`]) and end up as a warning in the result, never silently.
//!
//! # The name limit
//!
//! A run keeps at most [`MAX_CUSTOM_METRICS`] distinct metrics (name and kind): a recorder, a
//! snapshot and the run totals each hold at most that many, so a name built from data (an order
//! id, say) cannot grow memory without bound. Updates of metrics past the limit are counted
//! ([`DroppedNames`]), with the distinct names they had (by a 64-bit hash, exact up to
//! [`MAX_DROPPED_NAMES_TRACKED`] names) and the smallest of them as an example, and the result
//! warns `N custom metric names dropped (limit 1000)`. Which names are kept past the limit depends
//! on the order they arrive in.
//!
//! # Cost
//!
//! An update is one hash-map lookup by `&str` and an index; nothing is allocated once the name is
//! known (a recorder keeps its names for the whole run and only resets the values).

use hdrhistogram::Histogram;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::recorder::new_histogram;

#[cfg(test)]
mod tests;

/// Most distinct custom metrics (name and kind) kept in a run.
pub const MAX_CUSTOM_METRICS: usize = 1000;
/// Distinct dropped names counted exactly; past it the result says "more than".
pub const MAX_DROPPED_NAMES_TRACKED: usize = 10_000;
/// A trend value `v` is recorded in its histogram as `round(v * TREND_SCALE)`.
pub const TREND_SCALE: f64 = 1024.0;
/// Largest trend value the percentiles tell apart (2^48 / 1024 is the most the wire accepts).
pub const TREND_MAX: f64 = 1e11;
/// Dropped-name examples are cut to this many characters.
const EXAMPLE_CHARS: usize = 100;
/// No metric of this kind under this name.
const NONE: u32 = u32::MAX;

/// The kind of a custom metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CustomKind {
    Counter,
    Trend,
    Gauge,
}

impl CustomKind {
    /// Every kind, in the order results list them.
    pub const ALL: [CustomKind; 3] = [CustomKind::Counter, CustomKind::Trend, CustomKind::Gauge];

    /// `counter`, `trend` or `gauge`, as in the result JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomKind::Counter => "counter",
            CustomKind::Trend => "trend",
            CustomKind::Gauge => "gauge",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for CustomKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A counter: the sum of its deltas.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CounterStats {
    pub sum: f64,
    /// Deltas added.
    pub adds: u64,
}

/// A trend: the distribution of its values.
#[derive(Clone, Debug)]
pub struct TrendStats {
    pub count: u64,
    pub sum: f64,
    /// `+∞` while empty.
    pub min: f64,
    /// `-∞` while empty.
    pub max: f64,
    /// Values scaled by [`TREND_SCALE`], clamped to [`TREND_MAX`].
    pub histogram: Histogram<u64>,
}

impl Default for TrendStats {
    fn default() -> Self {
        TrendStats {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            histogram: new_histogram(),
        }
    }
}

impl TrendStats {
    /// Records a finite value `>= 0` (the caller checks).
    fn record(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.histogram
            .record(scale(value))
            .expect("auto-resizing histograms accept any clamped value");
    }

    /// The value at quantile `q` (in `[0, 1]`): the lowest value of its histogram bucket, kept
    /// within `[min, max]`; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || self.histogram.is_empty() {
            return None;
        }
        let h = &self.histogram;
        let v = h.lowest_equivalent(h.value_at_quantile(q)) as f64 / TREND_SCALE;
        Some(v.clamp(self.min, self.max))
    }

    /// The mean; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    fn merge(&mut self, other: &TrendStats) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.histogram
            .add(&other.histogram)
            .expect("auto-resizing histograms always accept each other");
    }

    fn reset(&mut self) {
        self.count = 0;
        self.sum = 0.0;
        self.min = f64::INFINITY;
        self.max = f64::NEG_INFINITY;
        self.histogram.reset();
    }
}

/// The histogram value of a trend value: scaled and clamped.
pub fn scale(value: f64) -> u64 {
    (value.clamp(0.0, TREND_MAX) * TREND_SCALE).round() as u64
}

/// A gauge: the last value set, and the range of all of them.
#[derive(Clone, Debug, PartialEq)]
pub struct GaugeStats {
    pub last: f64,
    /// The interval of the last set (filled in when a recorder drains into a snapshot).
    pub second: u32,
    /// When the last value was set, Unix ns (or the caller's clock).
    pub stamp_ns: u64,
    /// `+∞` while empty.
    pub min: f64,
    /// `-∞` while empty.
    pub max: f64,
    /// Values set.
    pub sets: u64,
}

impl Default for GaugeStats {
    fn default() -> Self {
        GaugeStats {
            last: 0.0,
            second: 0,
            stamp_ns: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sets: 0,
        }
    }
}

impl GaugeStats {
    /// Sets a finite value; within one recorder an equal stamp means a later call, which wins.
    fn set(&mut self, value: f64, stamp_ns: u64) {
        if self.sets == 0 || stamp_ns >= self.stamp_ns {
            self.last = value;
            self.stamp_ns = stamp_ns;
        }
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sets += 1;
    }

    /// Whether `other`'s last value is later than this one's (ties: the larger value).
    fn is_before(&self, other: &GaugeStats) -> bool {
        let (a, b) = ((self.second, self.stamp_ns), (other.second, other.stamp_ns));
        a < b || (a == b && other.last.total_cmp(&self.last).is_gt())
    }

    fn merge(&mut self, other: &GaugeStats) {
        if other.sets == 0 {
            return;
        }
        if self.sets == 0 || self.is_before(other) {
            self.last = other.last;
            self.second = other.second;
            self.stamp_ns = other.stamp_ns;
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sets += other.sets;
    }
}

/// What a custom metric holds, by kind.
#[derive(Clone, Debug)]
pub enum CustomStats {
    Counter(CounterStats),
    Trend(TrendStats),
    Gauge(GaugeStats),
}

impl CustomStats {
    /// Empty stats of `kind`.
    pub fn new(kind: CustomKind) -> Self {
        match kind {
            CustomKind::Counter => CustomStats::Counter(CounterStats::default()),
            CustomKind::Trend => CustomStats::Trend(TrendStats::default()),
            CustomKind::Gauge => CustomStats::Gauge(GaugeStats::default()),
        }
    }

    pub fn kind(&self) -> CustomKind {
        match self {
            CustomStats::Counter(_) => CustomKind::Counter,
            CustomStats::Trend(_) => CustomKind::Trend,
            CustomStats::Gauge(_) => CustomKind::Gauge,
        }
    }

    /// Values recorded (adds, trend values, sets).
    pub fn accepted(&self) -> u64 {
        match self {
            CustomStats::Counter(c) => c.adds,
            CustomStats::Trend(t) => t.count,
            CustomStats::Gauge(g) => g.sets,
        }
    }
}

/// One custom metric over some span of time.
#[derive(Clone, Debug)]
pub struct CustomMetric {
    pub name: Arc<str>,
    pub stats: CustomStats,
    /// Updates refused: a value that is not finite, or a negative trend value.
    pub rejected: u64,
}

impl CustomMetric {
    /// An empty metric.
    pub fn new(name: Arc<str>, kind: CustomKind) -> Self {
        CustomMetric {
            name,
            stats: CustomStats::new(kind),
            rejected: 0,
        }
    }

    pub fn kind(&self) -> CustomKind {
        self.stats.kind()
    }

    /// Every update, recorded or rejected.
    pub fn updates(&self) -> u64 {
        self.stats.accepted() + self.rejected
    }

    /// True when nothing was recorded or rejected.
    pub fn is_empty(&self) -> bool {
        self.updates() == 0
    }

    /// Adds `other` (of the same kind) into `self`.
    fn merge(&mut self, other: &CustomMetric) {
        self.rejected += other.rejected;
        match (&mut self.stats, &other.stats) {
            (CustomStats::Counter(a), CustomStats::Counter(b)) => {
                a.sum += b.sum;
                a.adds += b.adds;
            }
            (CustomStats::Trend(a), CustomStats::Trend(b)) => a.merge(b),
            (CustomStats::Gauge(a), CustomStats::Gauge(b)) => a.merge(b),
            _ => debug_assert!(false, "metrics are merged by name and kind"),
        }
    }

    /// Clears the values, keeping the name and the histogram's allocation.
    fn reset(&mut self) {
        self.rejected = 0;
        match &mut self.stats {
            CustomStats::Counter(c) => *c = CounterStats::default(),
            CustomStats::Trend(t) => t.reset(),
            CustomStats::Gauge(g) => *g = GaugeStats::default(),
        }
    }
}

/// Updates not recorded because their metric was past [`MAX_CUSTOM_METRICS`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DroppedNames {
    /// Updates (adds, values, sets) not recorded.
    pub updates: u64,
    /// 64-bit FNV-1a hashes of the distinct dropped names, at most [`MAX_DROPPED_NAMES_TRACKED`].
    hashes: BTreeSet<u64>,
    /// More distinct names were dropped than [`MAX_DROPPED_NAMES_TRACKED`].
    saturated: bool,
    /// The smallest dropped name (so it does not depend on merge order), cut to 100 characters.
    example: Option<String>,
}

impl DroppedNames {
    /// Rebuilds dropped-name counts received from elsewhere (e.g. the wire); extra hashes past
    /// the tracking limit set `saturated`.
    pub fn from_parts(
        updates: u64,
        hashes: impl IntoIterator<Item = u64>,
        saturated: bool,
        example: Option<String>,
    ) -> Self {
        let mut d = DroppedNames {
            updates,
            saturated,
            ..Default::default()
        };
        for h in hashes {
            d.add_hash(h);
        }
        if let Some(e) = example {
            d.offer_example(&e);
        }
        d
    }

    /// True when nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.updates == 0 && self.hashes.is_empty() && !self.saturated
    }

    /// Distinct names dropped (a lower bound when [`saturated`](Self::saturated)).
    pub fn names(&self) -> usize {
        self.hashes.len()
    }

    /// More distinct names were dropped than could be counted.
    pub fn saturated(&self) -> bool {
        self.saturated
    }

    /// The name hashes, ascending.
    pub fn hashes(&self) -> impl Iterator<Item = u64> + '_ {
        self.hashes.iter().copied()
    }

    /// One dropped name (the smallest), to show the user.
    pub fn example(&self) -> Option<&str> {
        self.example.as_deref()
    }

    fn drop_name(&mut self, name: &str, updates: u64) {
        self.updates += updates;
        self.add_hash(name_hash(name));
        self.offer_example(name);
    }

    fn add_hash(&mut self, h: u64) {
        if self.hashes.len() < MAX_DROPPED_NAMES_TRACKED || self.hashes.contains(&h) {
            self.hashes.insert(h);
        } else {
            self.saturated = true;
        }
    }

    fn offer_example(&mut self, name: &str) {
        let cut = match name.char_indices().nth(EXAMPLE_CHARS) {
            Some((i, _)) => &name[..i],
            None => name,
        };
        if self.example.as_deref().is_none_or(|e| cut < e) {
            self.example = Some(cut.to_owned());
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &DroppedNames) {
        self.updates += other.updates;
        self.saturated |= other.saturated;
        for &h in &other.hashes {
            self.add_hash(h);
        }
        if let Some(e) = &other.example {
            self.offer_example(e);
        }
    }

    fn clear(&mut self) {
        self.updates = 0;
        self.hashes.clear();
        self.saturated = false;
        self.example = None;
    }
}

/// 64-bit FNV-1a: the same on every machine, so agents' dropped names count once.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A bounded set of custom metrics keyed by name and kind: what a recorder, a snapshot and the run
/// totals hold. Metrics stay in the order they were first seen.
#[derive(Clone, Debug, Default)]
pub struct CustomSet {
    /// Name → index in `metrics` per kind (`NONE` for none). Looked up on every update (a
    /// script's `metrics.counter`): foldhash, since names are the user's own and bounded in number
    /// (`MAX_CUSTOM_METRICS`), where SipHash cost ~4x as much for a short name.
    index: HashMap<Arc<str>, [u32; 3], foldhash::fast::FixedState>,
    metrics: Vec<CustomMetric>,
    dropped: DroppedNames,
}

impl CustomSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// The metrics, in the order first seen (a recorder's may include empty ones).
    pub fn iter(&self) -> impl Iterator<Item = &CustomMetric> {
        self.metrics.iter()
    }

    /// Metrics held.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// True when no metric is held and nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty() && self.dropped.is_empty()
    }

    /// The metric `name` of `kind`.
    pub fn get(&self, name: &str, kind: CustomKind) -> Option<&CustomMetric> {
        self.find(name, kind).map(|i| &self.metrics[i])
    }

    /// What was dropped past the name limit.
    pub fn dropped(&self) -> &DroppedNames {
        &self.dropped
    }

    fn find(&self, name: &str, kind: CustomKind) -> Option<usize> {
        let slot = self.index.get(name)?[kind.index()];
        (slot != NONE).then_some(slot as usize)
    }

    /// The index of metric `(name, kind)`, added empty when new; `None` past the limit, with the
    /// `updates` counted as dropped. `key` makes the name's key when the name is new.
    fn slot(
        &mut self,
        name: &str,
        kind: CustomKind,
        updates: u64,
        key: impl FnOnce() -> Arc<str>,
    ) -> Option<usize> {
        if let Some(i) = self.find(name, kind) {
            return Some(i);
        }
        if self.metrics.len() >= MAX_CUSTOM_METRICS {
            self.dropped.drop_name(name, updates);
            return None;
        }
        let i = self.metrics.len();
        let name = match self.index.get_key_value(name) {
            Some((k, _)) => Arc::clone(k),
            None => key(),
        };
        self.index.entry(Arc::clone(&name)).or_insert([NONE; 3])[kind.index()] = i as u32;
        self.metrics.push(CustomMetric::new(name, kind));
        Some(i)
    }

    fn metric(&mut self, name: &str, kind: CustomKind) -> Option<&mut CustomMetric> {
        let i = self.slot(name, kind, 1, || Arc::from(name))?;
        Some(&mut self.metrics[i])
    }

    /// Adds `delta` to counter `name`.
    pub fn add_counter(&mut self, name: &str, delta: f64) {
        if let Some(m) = self.metric(name, CustomKind::Counter) {
            match &mut m.stats {
                CustomStats::Counter(c) if delta.is_finite() => {
                    c.sum += delta;
                    c.adds += 1;
                }
                _ => m.rejected += 1,
            }
        }
    }

    /// Records `value` (finite, `>= 0`) in trend `name`.
    pub fn record_trend(&mut self, name: &str, value: f64) {
        if let Some(m) = self.metric(name, CustomKind::Trend) {
            match &mut m.stats {
                CustomStats::Trend(t) if value.is_finite() && value >= 0.0 => t.record(value),
                _ => m.rejected += 1,
            }
        }
    }

    /// Sets gauge `name` to `value` (finite) at `stamp_ns`.
    pub fn set_gauge_at(&mut self, name: &str, value: f64, stamp_ns: u64) {
        if let Some(m) = self.metric(name, CustomKind::Gauge) {
            match &mut m.stats {
                CustomStats::Gauge(g) if value.is_finite() => g.set(value, stamp_ns),
                _ => m.rejected += 1,
            }
        }
    }

    /// Adds `metric` into the metric of the same name and kind (counted as dropped past the
    /// limit). Empty metrics are skipped.
    pub fn merge_metric(&mut self, metric: &CustomMetric) {
        if metric.is_empty() {
            return;
        }
        let (kind, updates) = (metric.kind(), metric.updates());
        if let Some(i) = self.slot(&metric.name, kind, updates, || Arc::clone(&metric.name)) {
            self.metrics[i].merge(metric);
        }
    }

    /// Adds dropped-name counts (e.g. received from an agent).
    pub fn merge_dropped(&mut self, dropped: &DroppedNames) {
        self.dropped.merge(dropped);
    }

    /// Adds everything `other` holds into `self`.
    pub fn merge(&mut self, other: &CustomSet) {
        for m in &other.metrics {
            self.merge_metric(m);
        }
        self.dropped.merge(&other.dropped);
    }

    /// Moves every non-empty metric of interval `second` into `into` and resets them, keeping the
    /// names (and allocations) for the next interval.
    pub(crate) fn drain_into(&mut self, into: &mut CustomSet, second: u32) {
        for m in self.metrics.iter_mut().filter(|m| !m.is_empty()) {
            if let CustomStats::Gauge(g) = &mut m.stats {
                g.second = second;
            }
            into.merge_metric(m);
            m.reset();
        }
        into.dropped.merge(&self.dropped);
        self.dropped.clear();
    }
}

/// The wall clock in Unix ns: the stamp of
/// [`IntervalRecorder::set_gauge`](crate::IntervalRecorder::set_gauge).
pub(crate) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
