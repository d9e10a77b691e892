//! Custom metrics of a snapshot ⇄ `pb::CustomMetric` / `pb::CustomDropped`.
//!
//! Lossless like the rest of the snapshot: sums, counts, min, max, the gauge's stamp and every
//! trend histogram bucket (HDR V2, the latency histograms' encoding) survive the trip, so the
//! controller merges agents' custom metrics exactly. Decoding checks what a peer could get wrong:
//! a missing kind, a (name, kind) sent twice, values that are not finite, a trend whose histogram
//! does not hold `count` values or holds negative ones.

use crate::hdr::HdrCodec;
use crate::pb;
use crate::snapshot::SnapshotError;
use stampede_metrics::custom::{CounterStats, GaugeStats, TrendStats};
use stampede_metrics::{CustomKind, CustomMetric, CustomSet, CustomStats, DroppedNames};
use std::sync::Arc;

fn histogram_field(name: &str) -> String {
    format!("custom trend `{name}` histogram")
}

/// The wire form of the non-empty metrics of `set` and of its dropped names (`None` when none).
pub(crate) fn custom_to_wire(
    set: &CustomSet,
    codec: &mut HdrCodec,
) -> Result<(Vec<pb::CustomMetric>, Option<pb::CustomDropped>), SnapshotError> {
    let mut metrics = Vec::with_capacity(set.len());
    for m in set.iter().filter(|m| !m.is_empty()) {
        let kind = match &m.stats {
            CustomStats::Counter(c) => pb::custom_metric::Kind::Counter(pb::CustomCounter {
                sum: c.sum,
                adds: c.adds,
            }),
            CustomStats::Trend(t) => {
                let hdr =
                    codec
                        .encode(&t.histogram)
                        .map_err(|source| SnapshotError::Histogram {
                            field: histogram_field(&m.name),
                            source,
                        })?;
                let some = t.count > 0;
                pb::custom_metric::Kind::Trend(pb::CustomTrend {
                    count: t.count,
                    sum: t.sum,
                    min: if some { t.min } else { 0.0 },
                    max: if some { t.max } else { 0.0 },
                    hdr,
                })
            }
            CustomStats::Gauge(g) => {
                let some = g.sets > 0;
                pb::custom_metric::Kind::Gauge(pb::CustomGauge {
                    last: g.last,
                    stamp_ns: g.stamp_ns,
                    min: if some { g.min } else { 0.0 },
                    max: if some { g.max } else { 0.0 },
                    sets: g.sets,
                })
            }
        };
        metrics.push(pb::CustomMetric {
            name: m.name.to_string(),
            rejected: m.rejected,
            kind: Some(kind),
        });
    }
    let d = set.dropped();
    let dropped = (!d.is_empty()).then(|| pb::CustomDropped {
        updates: d.updates,
        name_hashes: d.hashes().collect(),
        saturated: d.saturated(),
        example: d.example().unwrap_or_default().to_owned(),
    });
    Ok((metrics, dropped))
}

/// Decodes the custom metrics of a wire snapshot into `into` (gauges get the snapshot's second).
pub(crate) fn custom_from_wire(
    wire: &pb::IntervalSnapshot,
    codec: &mut HdrCodec,
    into: &mut CustomSet,
) -> Result<(), SnapshotError> {
    for m in &wire.custom_metrics {
        let stats = match &m.kind {
            None => {
                return Err(SnapshotError::CustomKindMissing {
                    name: m.name.clone(),
                });
            }
            Some(pb::custom_metric::Kind::Counter(c)) => {
                check(
                    m,
                    CustomKind::Counter,
                    c.sum.is_finite(),
                    "its sum is not finite",
                )?;
                CustomStats::Counter(CounterStats {
                    sum: c.sum,
                    adds: c.adds,
                })
            }
            Some(pb::custom_metric::Kind::Trend(t)) => trend(m, t, codec)?,
            Some(pb::custom_metric::Kind::Gauge(g)) => {
                let mut stats = GaugeStats {
                    second: wire.second,
                    stamp_ns: g.stamp_ns,
                    sets: g.sets,
                    ..GaugeStats::default()
                };
                if g.sets > 0 {
                    let finite = [g.last, g.min, g.max].iter().all(|v| v.is_finite());
                    let ordered = g.min <= g.last && g.last <= g.max;
                    check(m, CustomKind::Gauge, finite, "a value is not finite")?;
                    check(m, CustomKind::Gauge, ordered, "last is outside [min, max]")?;
                    (stats.last, stats.min, stats.max) = (g.last, g.min, g.max);
                }
                CustomStats::Gauge(stats)
            }
        };
        let kind = stats.kind();
        if into.get(&m.name, kind).is_some() {
            return Err(SnapshotError::DuplicateCustomMetric {
                name: m.name.clone(),
                kind,
            });
        }
        into.merge_metric(&CustomMetric {
            name: Arc::from(m.name.as_str()),
            stats,
            rejected: m.rejected,
        });
    }
    if let Some(d) = &wire.custom_dropped {
        let example = (!d.example.is_empty()).then(|| d.example.clone());
        into.merge_dropped(&DroppedNames::from_parts(
            d.updates,
            d.name_hashes.iter().copied(),
            d.saturated,
            example,
        ));
    }
    Ok(())
}

fn check(
    m: &pb::CustomMetric,
    kind: CustomKind,
    ok: bool,
    reason: &'static str,
) -> Result<(), SnapshotError> {
    match ok {
        true => Ok(()),
        false => Err(SnapshotError::BadCustomMetric {
            name: m.name.clone(),
            kind,
            reason,
        }),
    }
}

fn trend(
    m: &pb::CustomMetric,
    t: &pb::CustomTrend,
    codec: &mut HdrCodec,
) -> Result<CustomStats, SnapshotError> {
    let histogram = codec
        .decode(&t.hdr)
        .map_err(|source| SnapshotError::Histogram {
            field: histogram_field(&m.name),
            source,
        })?;
    let k = CustomKind::Trend;
    check(
        m,
        k,
        histogram.len() == t.count,
        "its histogram does not hold `count` values",
    )?;
    let mut stats = TrendStats {
        count: t.count,
        sum: t.sum,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        histogram,
    };
    if t.count > 0 {
        let finite = [t.sum, t.min, t.max].iter().all(|v| v.is_finite());
        check(m, k, finite, "a value is not finite")?;
        check(
            m,
            k,
            0.0 <= t.min && t.min <= t.max,
            "min and max are not 0 <= min <= max",
        )?;
        (stats.min, stats.max) = (t.min, t.max);
    }
    Ok(CustomStats::Trend(stats))
}
