//! Sliding windows for thresholds with `window`: the bound must hold in every window of `len`
//! consecutive closed seconds, and the worst window is reported.
//!
//! Memory stays small whatever the run length: a track keeps only the counts of its own scope
//! for the last `len` seconds (latency as a sparse list of recorded buckets, not a full
//! histogram), a running sum of them, and one value per window. A second leaving the window is
//! subtracted from the sum, so each closed second costs one addition and one subtraction.
//! Custom metrics keep their own seconds ([`CustomWindow`]).

use std::collections::VecDeque;

use crate::recorder::{Snapshot, new_histogram};
use crate::threshold::{Metric, Tally, ThresholdSpec};
use crate::threshold_custom::CustomWindow;

/// One second of a scope.
#[derive(Debug)]
struct Second {
    requests: u64,
    failures: u64,
    errors: u64,
    iterations: u64,
    dropped: u64,
    /// (highest equivalent value in µs, count) of each recorded bucket.
    latency: Vec<(u64, u64)>,
}

/// The sliding window of one threshold.
#[derive(Debug)]
pub(crate) struct WindowTrack {
    len: u32,
    spec: ThresholdSpec,
    ring: VecDeque<Second>,
    sum: Tally,
    /// For a custom metric, its seconds (then `ring` and `sum` stay empty).
    custom: Option<CustomWindow>,
    /// Value of each full window so far, with the index of its last second.
    values: Vec<(u32, Option<f64>)>,
}

impl WindowTrack {
    /// A track for a windowed spec; `None` for a whole-run one.
    pub fn for_spec(spec: &ThresholdSpec) -> Option<WindowTrack> {
        let len = spec.window_s.filter(|w| *w > 0)?;
        Some(WindowTrack {
            len,
            spec: spec.clone(),
            ring: VecDeque::with_capacity(len as usize + 1),
            sum: Tally::new(&spec.metric),
            custom: match &spec.metric {
                Metric::Custom(c) => Some(CustomWindow::new(c.clone())),
                _ => None,
            },
            values: Vec::new(),
        })
    }

    /// Adds one closed second (seconds arrive in order, without holes).
    pub fn push(&mut self, snapshot: &Snapshot) {
        let len = self.len;
        let value = match &mut self.custom {
            Some(custom) => custom
                .push(snapshot, len as usize)
                .then(|| custom.value(len)),
            None => self
                .push_counts(snapshot)
                .then(|| self.spec.metric.value(&self.sum, f64::from(len), true)),
        };
        if let Some(value) = value {
            self.values.push((snapshot.second, value));
        }
    }

    /// Adds one second of request counts; true when the ring holds a full window.
    fn push_counts(&mut self, snapshot: &Snapshot) -> bool {
        let mut second = Tally::new(&self.spec.metric);
        for (id, stats) in &snapshot.steps {
            if self.spec.measures(*id as usize) {
                second.add(stats);
            }
        }
        second.iterations = snapshot.iterations;
        second.dropped = self.spec.metric.dropped_in(snapshot);
        self.sum.requests += second.requests;
        self.sum.failures += second.failures;
        self.sum.errors += second.errors;
        self.sum.iterations += second.iterations;
        self.sum.dropped += second.dropped;
        let mut latency = Vec::new();
        if let (Some(sum), Some(h)) = (&mut self.sum.latency, &second.latency) {
            sum.add(h).expect("auto-resizing histograms");
            let recorded = h.iter_recorded();
            latency = recorded
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect();
        }
        self.ring.push_back(Second {
            requests: second.requests,
            failures: second.failures,
            errors: second.errors,
            iterations: second.iterations,
            dropped: second.dropped,
            latency,
        });
        if self.ring.len() > self.len as usize
            && let Some(old) = self.ring.pop_front()
        {
            self.remove(&old);
        }
        self.ring.len() == self.len as usize
    }

    fn remove(&mut self, old: &Second) {
        self.sum.requests -= old.requests;
        self.sum.failures -= old.failures;
        self.sum.errors -= old.errors;
        self.sum.iterations -= old.iterations;
        self.sum.dropped -= old.dropped;
        if let Some(sum) = &mut self.sum.latency {
            if old.latency.is_empty() {
                return;
            }
            let mut h = new_histogram();
            for &(value, count) in &old.latency {
                h.record_n(value, count).expect("auto-resizing histograms");
            }
            // Every bucket subtracted was added to the sum when this second came in.
            sum.subtract(&h)
                .expect("a second in the window is part of the sum");
        }
    }

    #[cfg(test)]
    pub fn values_for_test(&self) -> &[(u32, Option<f64>)] {
        &self.values
    }

    /// Full windows whose last second is before `full_seconds`, with data.
    fn full(&self, full_seconds: u32) -> impl Iterator<Item = (u32, f64)> + '_ {
        (self.values.iter())
            .filter(move |(end, _)| *end < full_seconds)
            .filter_map(|(end, v)| v.map(|v| (*end, v)))
    }

    /// The value of the first full window that violates the bound: the threshold has then
    /// certainly failed.
    pub fn first_violation(&self, full_seconds: u32) -> Option<f64> {
        let spec = &self.spec;
        self.full(full_seconds)
            .find(|(_, v)| !spec.op.holds(*v, spec.bound))
            .map(|(_, v)| v)
    }

    /// The worst full window's value, and where it was (or why there is none).
    pub fn verdict(&self, full_seconds: u32, duration_s: f64) -> (Option<f64>, Option<String>) {
        let spec = &self.spec;
        let mut worst: Option<(u32, f64)> = None;
        for (end, v) in self.full(full_seconds) {
            let better = match worst {
                None => true,
                Some((_, w)) if spec.op.is_upper() => v > w,
                Some((_, w)) => v < w,
            };
            if better {
                worst = Some((end, v));
            }
        }
        let len = self.len;
        match worst {
            Some((end, v)) => {
                let (from, to) = (end + 1 - len, end + 1);
                let message = format!("worst {len}s window: from {from}s to {to}s of the run");
                (Some(v), Some(message))
            }
            None if len > full_seconds => {
                let message =
                    format!("no data: no full {len}s window (the run lasted {duration_s:.1}s)");
                (None, Some(message))
            }
            None => {
                let what = match &spec.metric {
                    Metric::Latency(_) | Metric::ChecksPassRate => "response".to_owned(),
                    Metric::Custom(c) => c.window_lack(),
                    _ => "request".to_owned(),
                };
                let message = format!("no data: no full {len}s window had a {what}");
                (None, Some(message))
            }
        }
    }
}
