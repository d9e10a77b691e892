//! Decoding pauses: `think_time` (a duration, a `{min, max}` range, or one named distribution),
//! a scenario's `pacing`, and its `pace_factor` (a distribution of plain numbers).

use std::time::Duration;

use crate::decoder::{self, Ctx, Fields};
use crate::plan::{Distribution, ThinkTime};
use crate::suggest::one_of;
use crate::units::format_duration;
use crate::yaml::{Node, Scalar, Value};

/// The named forms, each a one-key mapping: `{ normal: { mean: 2s, stddev: 500ms } }`.
const KINDS: &[&str] = &["constant", "uniform", "normal", "log_normal", "exponential"];

/// The fields of each named form.
fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "uniform" => &["min", "max"],
        "normal" => &["mean", "stddev"],
        "log_normal" => &["median", "sigma"],
        "exponential" => &["mean"],
        _ => &[],
    }
}

/// A think time: a duration (`2s`; `0s` means none), a uniform range `{ min: 1s, max: 3s }`, or
/// one of `{ constant: 2s }`, `{ uniform: { min, max } }`, `{ normal: { mean, stddev } }`,
/// `{ log_normal: { median, sigma } }`, `{ exponential: { mean } }`.
pub(crate) fn think_time(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ThinkTime> {
    let Value::Map(pairs) = &node.value else {
        let d = decoder::duration(ctx, node, path)?;
        return Some(constant(d));
    };
    let is_range = pairs
        .iter()
        .any(|(k, _)| matches!(&k.value, Value::Scalar(_, t) if t == "min" || t == "max"));
    if is_range {
        return range(ctx, node, path);
    }
    let (kind, value, path) = named(
        ctx,
        node,
        path,
        "think_time: { normal: { mean: 2s, stddev: 500ms } }",
    )?;
    let d = |ctx: &mut Ctx, f: &Fields<'_>, key: &str| {
        let n = f.required(ctx, key, None)?;
        decoder::duration(ctx, n, &f.path(key))
    };
    match kind {
        "constant" => decoder::duration(ctx, value, &path).map(constant),
        "uniform" => range(ctx, value, &path),
        "normal" => {
            let f = decoder::fields(ctx, value, &path, fields_of(kind))?;
            let (mean, stddev) = (d(ctx, &f, "mean"), d(ctx, &f, "stddev"));
            Some(ThinkTime::Normal {
                mean: mean?,
                stddev: stddev?,
            })
        }
        "log_normal" => {
            let f = decoder::fields(ctx, value, &path, fields_of(kind))?;
            let median = d(ctx, &f, "median");
            let sigma = sigma(ctx, &f);
            Some(ThinkTime::LogNormal {
                median: median?,
                sigma: sigma?,
            })
        }
        _ => {
            let f = decoder::fields(ctx, value, &path, fields_of(kind))?;
            let mean = d(ctx, &f, "mean")?;
            Some(ThinkTime::Exponential { mean })
        }
    }
}

fn constant(d: Duration) -> ThinkTime {
    match d.is_zero() {
        true => ThinkTime::None,
        false => ThinkTime::Constant(d),
    }
}

/// `{ min, max }` of durations, `min <= max`.
fn range(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ThinkTime> {
    let f = decoder::fields(ctx, node, path, &["min", "max"])?;
    let min = f
        .required(ctx, "min", None)
        .and_then(|n| decoder::duration(ctx, n, &f.path("min")));
    let max = f
        .required(ctx, "max", None)
        .and_then(|n| decoder::duration(ctx, n, &f.path("max")));
    let (min, max) = (min?, max?);
    if min > max {
        let message = format!(
            "`min` ({}) is greater than `max` ({})",
            format_duration(min),
            format_duration(max)
        );
        ctx.error(Some(node), path, message, None);
        return None;
    }
    Some(match max.is_zero() {
        true => ThinkTime::None,
        false => ThinkTime::Uniform { min, max },
    })
}

/// The single `kind: value` entry of a named distribution.
fn named<'a>(
    ctx: &mut Ctx,
    node: &'a Node,
    path: &str,
    example: &str,
) -> Option<(&'static str, &'a Node, String)> {
    let f = decoder::fields(ctx, node, path, KINDS)?;
    let present = f.present(KINDS);
    match present.as_slice() {
        [one] => {
            let kind = KINDS.iter().find(|k| **k == one.key)?;
            Some((kind, one.value, f.path(one.key)))
        }
        [] => {
            if !f.had_unknown {
                let message = "empty distribution".to_owned();
                let hint = format!("use one of {}, e.g. `{example}`", one_of(KINDS));
                ctx.error(Some(node), path, message, Some(hint));
            }
            None
        }
        [first, second, ..] => {
            let message = format!(
                "one distribution at a time, found `{}` and `{}`",
                first.key, second.key
            );
            ctx.error(Some(second.key_node), &f.path(second.key), message, None);
            None
        }
    }
}

/// `sigma` of a log-normal: a number >= 0.
fn sigma(ctx: &mut Ctx, f: &Fields<'_>) -> Option<f64> {
    let n = f.required(ctx, "sigma", Some("e.g. `sigma: 0.5`".into()))?;
    non_negative(ctx, n, &f.path("sigma"))
}

/// A number (integer or decimal) that is at least 0.
fn non_negative(ctx: &mut Ctx, node: &Node, path: &str) -> Option<f64> {
    let value = match node.value {
        Value::Scalar(Scalar::Int(i), _) => i as f64,
        Value::Scalar(Scalar::Float(x), _) => x,
        _ => {
            decoder::expected(ctx, node, path, "a number");
            return None;
        }
    };
    if !(value >= 0.0 && value.is_finite()) {
        let message = format!("must be a number of at least 0, found {value}");
        ctx.error(Some(node), path, message, None);
        return None;
    }
    Some(value)
}

/// `pace_factor`: a plain number (a constant factor) or one named distribution over numbers,
/// e.g. `{ log_normal: { median: 1.0, sigma: 0.3 } }`.
pub(crate) fn pace_factor(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Distribution> {
    if !matches!(node.value, Value::Map(_)) {
        return non_negative(ctx, node, path).map(Distribution::Constant);
    }
    let example = "pace_factor: { log_normal: { median: 1.0, sigma: 0.3 } }";
    let (kind, value, path) = named(ctx, node, path, example)?;
    if kind == "constant" {
        return non_negative(ctx, value, &path).map(Distribution::Constant);
    }
    let f = decoder::fields(ctx, value, &path, fields_of(kind))?;
    let num = |ctx: &mut Ctx, key: &str| {
        let n = f.required(ctx, key, None)?;
        non_negative(ctx, n, &f.path(key))
    };
    Some(match kind {
        "uniform" => {
            let (min, max) = (num(ctx, "min"), num(ctx, "max"));
            let (min, max) = (min?, max?);
            if min > max {
                let message = format!("`min` ({min}) is greater than `max` ({max})");
                ctx.error(Some(value), &path, message, None);
                return None;
            }
            Distribution::Uniform { min, max }
        }
        "normal" => {
            let (mean, stddev) = (num(ctx, "mean"), num(ctx, "stddev"));
            Distribution::Normal {
                mean: mean?,
                stddev: stddev?,
            }
        }
        "log_normal" => {
            let (median, sigma) = (num(ctx, "median"), num(ctx, "sigma"));
            Distribution::LogNormal {
                median: median?,
                sigma: sigma?,
            }
        }
        _ => Distribution::Exponential {
            mean: num(ctx, "mean")?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn think(src: &str) -> (Option<ThinkTime>, Vec<String>) {
        let node = yaml::parse(src).unwrap().unwrap();
        let mut ctx = Ctx::default();
        let t = think_time(&mut ctx, &node, "think_time");
        (t, ctx.into_items().into_iter().map(|d| d.message).collect())
    }

    fn factor(src: &str) -> (Option<Distribution>, Vec<String>) {
        let node = yaml::parse(src).unwrap().unwrap();
        let mut ctx = Ctx::default();
        let t = pace_factor(&mut ctx, &node, "pace_factor");
        (t, ctx.into_items().into_iter().map(|d| d.message).collect())
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn every_think_time_form() {
        assert_eq!(think("2s").0, Some(ThinkTime::Constant(ms(2000))));
        assert_eq!(think("0s").0, Some(ThinkTime::None));
        assert_eq!(
            think("{ constant: 2s }").0,
            Some(ThinkTime::Constant(ms(2000)))
        );
        let uniform = Some(ThinkTime::Uniform {
            min: ms(1000),
            max: ms(3000),
        });
        assert_eq!(think("{ min: 1s, max: 3s }").0, uniform);
        assert_eq!(think("{ uniform: { min: 1s, max: 3s } }").0, uniform);
        assert_eq!(
            think("{ normal: { mean: 2s, stddev: 500ms } }").0,
            Some(ThinkTime::Normal {
                mean: ms(2000),
                stddev: ms(500)
            })
        );
        assert_eq!(
            think("{ log_normal: { median: 1s, sigma: 0.5 } }").0,
            Some(ThinkTime::LogNormal {
                median: ms(1000),
                sigma: 0.5
            })
        );
        assert_eq!(
            think("{ exponential: { mean: 3s } }").0,
            Some(ThinkTime::Exponential { mean: ms(3000) })
        );
    }

    #[test]
    fn think_time_mistakes() {
        let (_, e) = think("{ normal: { mean: 2s } }");
        assert_eq!(e, ["missing field `stddev`"]);
        let (_, e) = think("{ gaussian: { mean: 2s } }");
        assert_eq!(e, ["unknown field `gaussian`"]);
        let (_, e) = think("{ normal: { mean: 2s, stddev: 1s }, exponential: { mean: 1s } }");
        assert_eq!(
            e,
            ["one distribution at a time, found `normal` and `exponential`"]
        );
        let (_, e) = think("{ log_normal: { median: 1s, sigma: -1 } }");
        assert_eq!(e, ["must be a number of at least 0, found -1"]);
        let (_, e) = think("{ min: 3s, max: 1s }");
        assert_eq!(e, ["`min` (3s) is greater than `max` (1s)"]);
        let (_, e) = think("{}");
        assert_eq!(e, ["empty distribution"]);
    }

    #[test]
    fn pace_factors() {
        assert_eq!(factor("1.5").0, Some(Distribution::Constant(1.5)));
        assert_eq!(
            factor("{ log_normal: { median: 1.0, sigma: 0.3 } }").0,
            Some(Distribution::LogNormal {
                median: 1.0,
                sigma: 0.3
            })
        );
        assert_eq!(
            factor("{ uniform: { min: 0.5, max: 2 } }").0,
            Some(Distribution::Uniform { min: 0.5, max: 2.0 })
        );
        let (_, e) = factor("{ uniform: { min: 2, max: 1 } }");
        assert_eq!(e, ["`min` (2) is greater than `max` (1)"]);
        let (_, e) = factor("fast");
        assert_eq!(e, ["expected a number, found a string"]);
    }
}
