//! Custom metrics in thresholds: `counter.NAME`, `counter.NAME.rate`, `trend.NAME.p95` (any
//! percentile, `.mean`, `.min`, `.max`, `.count`), `gauge.NAME`, `gauge.NAME.min|max`; their
//! plain-number bounds; and the check that the file declares the metric.
//!
//! Metric names may contain `.`, so `counter.a.rate` could be the rate of `a` or the sum of a
//! counter named `a.rate`. Every reading is tried against the declared names, the one with a
//! statistic first; without declared names (or with a name only a script computes), that one
//! is taken.

use super::declared::Declared;
use super::metric::percentile;
use crate::plan::{CustomStat, LatencyStat, MetricKind, ThresholdMetric};
use crate::suggest::{did_you_mean, one_of};
use crate::units::UnitError;

const KINDS: [MetricKind; 3] = [MetricKind::Counter, MetricKind::Trend, MetricKind::Gauge];
const TREND_STATS: &[&str] = &[
    "p50", "p90", "p95", "p99", "p999", "mean", "min", "max", "count",
];

fn problem(message: String, hint: Option<String>) -> UnitError {
    UnitError { message, hint }
}

/// `counter.…`, `trend.…`, `gauge.…` as a custom metric (its preferred reading); `None` for
/// other names.
pub(crate) fn parse(text: &str) -> Option<Result<ThresholdMetric, UnitError>> {
    let (kind, rest) = KINDS.iter().find_map(|k| {
        let rest = text.strip_prefix(k.as_str())?.strip_prefix('.')?;
        Some((*k, rest))
    })?;
    Some(readings(kind, text, rest).map(|mut r| {
        let (name, stat) = r.swap_remove(0);
        ThresholdMetric::Custom { name, stat }
    }))
}

/// Every reading of `rest` (what follows `kind.`) as a name and a statistic, preferred first;
/// never empty.
fn readings(
    kind: MetricKind,
    full: &str,
    rest: &str,
) -> Result<Vec<(String, CustomStat)>, UnitError> {
    let mut out = Vec::new();
    match kind {
        MetricKind::Counter => {
            if let Some(name) = rest.strip_suffix(".rate").filter(|n| !n.is_empty()) {
                out.push((name.to_owned(), CustomStat::CounterRate));
            }
            out.push((rest.to_owned(), CustomStat::CounterSum));
        }
        MetricKind::Gauge => {
            for (suffix, stat) in [
                (".min", CustomStat::GaugeMin),
                (".max", CustomStat::GaugeMax),
            ] {
                if let Some(name) = rest.strip_suffix(suffix).filter(|n| !n.is_empty()) {
                    out.push((name.to_owned(), stat));
                }
            }
            out.push((rest.to_owned(), CustomStat::GaugeLast));
        }
        MetricKind::Trend => out = trend_readings(full, rest)?,
    }
    for (name, _) in &out {
        check_name(full, name)?;
    }
    Ok(out)
}

/// A trend needs a statistic: every split at a `.` whose right side is one, rightmost first.
fn trend_readings(full: &str, rest: &str) -> Result<Vec<(String, CustomStat)>, UnitError> {
    let mut out = Vec::new();
    let mut first_error = None;
    for (at, _) in rest.rmatch_indices('.') {
        let (name, stat) = (&rest[..at], &rest[at + 1..]);
        if name.is_empty() {
            continue;
        }
        let stat = match stat {
            "mean" => CustomStat::Trend(LatencyStat::Mean),
            "min" => CustomStat::Trend(LatencyStat::Min),
            "max" => CustomStat::Trend(LatencyStat::Max),
            "count" => CustomStat::TrendCount,
            _ => match stat.strip_prefix('p') {
                Some(digits) if digits.starts_with(|c: char| c.is_ascii_digit()) => {
                    match percentile(full, digits, &format!("trend.{name}")) {
                        Ok(p) => CustomStat::Trend(LatencyStat::Percentile(p)),
                        Err(e) => {
                            first_error.get_or_insert(e);
                            continue;
                        }
                    }
                }
                _ => continue,
            },
        };
        out.push((name.to_owned(), stat));
    }
    if !out.is_empty() {
        return Ok(out);
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let stats = one_of(TREND_STATS);
    Err(match rest.rsplit_once('.') {
        Some((name, stat)) if !name.is_empty() => problem(
            format!("unknown statistic `{stat}` of trend `{name}` in `{full}`"),
            Some(match did_you_mean(stat, TREND_STATS) {
                Some(s) => format!("did you mean `trend.{name}.{s}`?"),
                None => format!("a trend threshold reads {stats} (or any `pNN.N`)"),
            }),
        ),
        _ => problem(
            format!("`{full}` needs a statistic after the trend's name"),
            Some(format!("write e.g. `{full}.p95`: {stats} (or any `pNN.N`)")),
        ),
    })
}

fn check_name(full: &str, name: &str) -> Result<(), UnitError> {
    if name.is_empty() {
        let message = format!("`{full}` is missing the metric's name");
        let hint = "write e.g. `counter.carts`, `trend.cart_size.p95` or `gauge.queue`";
        return Err(problem(message, Some(hint.to_owned())));
    }
    let valid = name.len() <= 100
        && (name.chars()).all(|c| c.is_ascii_alphanumeric() || "_.-:".contains(c));
    if !valid {
        let hint = "metric names are up to 100 letters, digits, `_`, `.`, `-` or `:`";
        return Err(problem(
            format!("invalid metric name `{name}` in `{full}`"),
            Some(hint.to_owned()),
        ));
    }
    Ok(())
}

/// The reading of `metric` whose name the file declares with its kind; an error naming what the
/// name is (another kind) or the closest declared name. Other metrics pass unchanged.
pub(crate) fn resolve(
    declared: &Declared,
    metric: ThresholdMetric,
) -> Result<ThresholdMetric, UnitError> {
    let ThresholdMetric::Custom { stat, .. } = &metric else {
        return Ok(metric);
    };
    let kind = stat.kind();
    let full = metric.name();
    let rest = &full[kind.as_str().len() + 1..];
    let readings = readings(kind, &full, rest)?;
    if let Some((name, stat)) = readings.iter().find(|(n, _)| declared.has(kind, n)) {
        let (name, stat) = (name.clone(), *stat);
        return Ok(ThresholdMetric::Custom { name, stat });
    }
    if declared.is_dynamic(kind) {
        return Ok(metric);
    }
    for (name, _) in &readings {
        if let Some(other) = KINDS.iter().find(|k| declared.has(**k, name)) {
            let other = other.as_str();
            return Err(problem(
                format!("`{name}` is a {other}, not a {}", kind.as_str()),
                Some(format!("a {other} is read as {}", example(other, name))),
            ));
        }
    }
    let (name, stat) = &readings[0];
    let names = declared.names(kind);
    let kind_name = kind.as_str();
    let hint = match did_you_mean(name, &names) {
        Some(s) => format!("did you mean `{kind_name}.{s}{}`?", stat.suffix()),
        None => match exhausted_feeder(declared, name) {
            Some(feeder) => format!(
                "feeder `{feeder}` counts `data.{feeder}.exhausted` only with `on_exhausted: fail`"
            ),
            None if names.is_empty() => format!(
                "no step declares a {kind_name}: add one, e.g. `{}`",
                step_example(kind)
            ),
            None if names.len() <= 8 => format!("the file's {kind_name}s are {}", one_of(&names)),
            None => format!("declare it with a step, e.g. `{}`", step_example(kind)),
        },
    };
    Err(problem(
        format!("no {kind_name} named `{name}`"),
        Some(hint),
    ))
}

/// `data.<feeder>.exhausted` of a feeder without `on_exhausted: fail`.
fn exhausted_feeder<'a>(declared: &'a Declared, name: &str) -> Option<&'a str> {
    let feeder = name.strip_prefix("data.")?.strip_suffix(".exhausted")?;
    (declared.quiet_feeders.iter())
        .find(|f| *f == feeder)
        .map(String::as_str)
}

fn example(kind: &str, name: &str) -> String {
    match kind {
        "counter" => format!("`counter.{name}` (its sum) or `counter.{name}.rate`"),
        "trend" => format!("`trend.{name}.p95`, `.mean`, `.min`, `.max` or `.count`"),
        _ => format!("`gauge.{name}` (its last value), `.min` or `.max`"),
    }
}

fn step_example(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter => "- counter: carts",
        MetricKind::Trend => "- trend: { name: cart_size, value: \"{{ items }}\" }",
        MetricKind::Gauge => "- gauge: { name: queue, value: \"{{ depth }}\" }",
    }
}

/// A plain number: custom metrics have no unit. Negative and fractional values are allowed
/// (gauges and counters may go below zero).
pub(crate) fn number(text: &str) -> Result<f64, UnitError> {
    let valid_chars = (text.chars()).all(|c| c.is_ascii_digit() || ".-+eE".contains(c));
    match text.parse::<f64>() {
        Ok(v) if valid_chars && v.is_finite() && !text.is_empty() => return Ok(v),
        _ => {}
    }
    let hint = Some("write a plain number, e.g. `50` (group trends are in ms)".to_owned());
    let numeric_start = text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.');
    let message = if text.ends_with('%') {
        format!("`{text}` is a percentage, but custom metrics have no unit")
    } else if numeric_start {
        format!("`{text}` has a unit, but custom metrics have none")
    } else {
        format!("`{text}` is not a number")
    };
    Err(problem(message, hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<(String, CustomStat), String> {
        match parse(text) {
            Some(Ok(ThresholdMetric::Custom { name, stat })) => Ok((name, stat)),
            Some(Err(e)) => Err(e.message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_may_contain_dots_and_the_statistic_comes_last() {
        let p = |q| CustomStat::Trend(LatencyStat::Percentile(q));
        let cases = [
            ("counter.carts", "carts", CustomStat::CounterSum),
            ("counter.carts.rate", "carts", CustomStat::CounterRate),
            (
                "counter.data.users.exhausted",
                "data.users.exhausted",
                CustomStat::CounterSum,
            ),
            ("trend.cart_size.p95", "cart_size", p(95.0)),
            ("trend.group.checkout.p99.9", "group.checkout", p(99.9)),
            ("trend.x.p999", "x", p(99.9)),
            ("trend.x.mean", "x", CustomStat::Trend(LatencyStat::Mean)),
            ("trend.x.count", "x", CustomStat::TrendCount),
            ("gauge.queue", "queue", CustomStat::GaugeLast),
            ("gauge.queue.min", "queue", CustomStat::GaugeMin),
            ("gauge.a:b-c.max", "a:b-c", CustomStat::GaugeMax),
        ];
        for (text, name, stat) in cases {
            assert_eq!(read(text), Ok((name.to_owned(), stat)), "{text}");
        }
        assert_eq!(
            read("trend.x.p99.9").map(|(_, s)| s.suffix()),
            Ok(".p999".into())
        );
        assert!(parse("latency.p95").is_none());
        assert!(parse("counters.x").is_none());
    }

    #[test]
    fn unreadable_custom_names_say_why() {
        let e = |t| read(t).unwrap_err();
        assert_eq!(
            e("trend.cart_size"),
            "`trend.cart_size` needs a statistic after the trend's name"
        );
        assert_eq!(
            e("trend.x.avg"),
            "unknown statistic `avg` of trend `x` in `trend.x.avg`"
        );
        assert_eq!(
            e("trend.x.p101"),
            "percentile `trend.x.p101` must be above 0 and at most 100"
        );
        assert_eq!(e("counter."), "`counter.` is missing the metric's name");
        assert_eq!(e("gauge.a b"), "invalid metric name `a b` in `gauge.a b`");
    }

    #[test]
    fn bounds_are_plain_numbers() {
        assert_eq!(number("50").ok(), Some(50.0));
        assert_eq!(number("-2.5").ok(), Some(-2.5));
        assert_eq!(number("1e3").ok(), Some(1000.0));
        let e = |t| number(t).unwrap_err().message;
        assert_eq!(
            e("5%"),
            "`5%` is a percentage, but custom metrics have no unit"
        );
        assert_eq!(
            e("300ms"),
            "`300ms` has a unit, but custom metrics have none"
        );
        assert_eq!(e("10/s"), "`10/s` has a unit, but custom metrics have none");
        assert_eq!(e("inf"), "`inf` is not a number");
        assert_eq!(e("lots"), "`lots` is not a number");
    }
}
