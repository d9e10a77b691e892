//! The `--threshold` syntax: `METRIC[OPTION,...] OP BOUND`, e.g. `latency.p95<300ms`,
//! `error_rate<=1%`, `rps>=200`, `latency.p99[request=checkout]<800ms`,
//! `failure_rate[window=10s,abort,delay=5s]<5%`.
//!
//! `OP` is `<`, `<=`, `>` or `>=`. Options are `scenario=NAME`, `request=NAME`, `window=DURATION`,
//! `abort` (or `abort=true|false`) and `delay=DURATION`, separated by commas. The operator is the
//! last `<` or `>`, so names inside the brackets may contain them; names cannot contain `,` or
//! `]` (use the file for those).

use std::time::Duration;

use super::metric::{self, Names};
use crate::diagnostic::{Diagnostic, Severity};
use crate::plan::{CompareOp, Plan, Threshold, ThresholdScope};
use crate::suggest::{did_you_mean, one_of};
use crate::units::{self, UnitError};

const OPTIONS: &[&str] = &["scenario", "request", "window", "abort", "delay"];
const SYNTAX: &str = "write METRIC<BOUND, e.g. `latency.p95<300ms`, `rps>=200` or `latency.p99[request=checkout]<800ms`";

/// Parses `--threshold` values and checks the scenario and request names they use against the
/// plan. Every invalid value is reported (path `--threshold`, no line).
pub fn parse_threshold_flags(
    plan: &Plan,
    flags: &[String],
) -> Result<Vec<Threshold>, Vec<Diagnostic>> {
    let names = Names::of_plan(plan);
    let mut thresholds = Vec::with_capacity(flags.len());
    let mut problems = Vec::new();
    for text in flags {
        match parse_one(text, &names) {
            Ok(t) => thresholds.push(t),
            Err(e) => problems.push(Diagnostic {
                severity: Severity::Error,
                line: None,
                column: None,
                path: "--threshold".to_owned(),
                message: format!("invalid --threshold `{}`: {}", text.trim(), e.message),
                hint: e.hint,
                file: None,
            }),
        }
    }
    match problems.is_empty() {
        true => Ok(thresholds),
        false => Err(problems),
    }
}

fn problem(message: impl Into<String>, hint: Option<&str>) -> UnitError {
    UnitError {
        message: message.into(),
        hint: hint.map(str::to_owned),
    }
}

fn parse_one(text: &str, names: &Names<'_>) -> Result<Threshold, UnitError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(problem("it is empty", Some(SYNTAX)));
    }
    let Some(at) = text.rfind(['<', '>']) else {
        return Err(problem(
            "missing a comparison (`<`, `<=`, `>` or `>=`)",
            Some(SYNTAX),
        ));
    };
    let (left, rest) = text.split_at(at);
    let (op, bound) = match rest.as_bytes() {
        [b'<', b'=', ..] => (CompareOp::Le, &rest[2..]),
        [b'>', b'=', ..] => (CompareOp::Ge, &rest[2..]),
        [b'<', ..] => (CompareOp::Lt, &rest[1..]),
        _ => (CompareOp::Gt, &rest[1..]),
    };
    let left = left.trim_end();
    if let Some(c) = left
        .chars()
        .last()
        .filter(|c| matches!(c, '<' | '>' | '=' | '!'))
    {
        let message = format!("unexpected `{c}` before the comparison");
        return Err(problem(
            message,
            Some("compare with one of `<`, `<=`, `>` or `>=`"),
        ));
    }
    let bound = bound.trim();
    if bound.is_empty() {
        let message = format!("missing the bound after `{}`", op.symbol());
        return Err(problem(message, Some(SYNTAX)));
    }
    let (metric_text, options) = split_options(left)?;
    let metric = names.check_metric(metric::parse_metric(metric_text)?)?;
    let parsed = Options::parse(&options)?;
    if let Some(s) = &parsed.scope.scenario {
        names.check_scenario(s)?;
    }
    if let Some(r) = &parsed.scope.request {
        names.check_request(parsed.scope.scenario.as_deref(), r)?;
    }
    metric::check_scope_fits(&metric, &parsed.scope)?;
    Ok(Threshold {
        bound: metric::parse_bound(&metric, bound)?,
        metric,
        scope: parsed.scope,
        op,
        bound_text: bound.to_owned(),
        window: parsed.window,
        abort: parsed.abort,
        delay: parsed.delay,
    })
}

/// `metric[a=1,b]` → (`metric`, [`a=1`, `b`]).
fn split_options(left: &str) -> Result<(&str, Vec<&str>), UnitError> {
    let hint = Some(
        "options go in brackets right after the metric, e.g. `latency.p99[request=checkout]<800ms`",
    );
    let (metric, options) = match left.find('[') {
        Some(open) => {
            let Some(inner) = left[open + 1..].strip_suffix(']') else {
                return Err(problem("unclosed `[`", hint));
            };
            let options: Vec<&str> = inner.split(',').map(str::trim).collect();
            (left[..open].trim(), options)
        }
        None if left.contains(']') => return Err(problem("`]` without `[`", hint)),
        None => (left, Vec::new()),
    };
    if metric.is_empty() {
        return Err(problem(
            "missing the metric before the comparison",
            Some(SYNTAX),
        ));
    }
    Ok((metric, options))
}

/// The bracketed options, as a scope, a window and the abort settings.
#[derive(Default)]
struct Options {
    scope: ThresholdScope,
    window: Option<Duration>,
    abort: bool,
    delay: Duration,
}

impl Options {
    fn parse(items: &[&str]) -> Result<Options, UnitError> {
        let mut out = Options::default();
        let mut seen: Vec<&str> = Vec::new();
        for item in items {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (item.trim(), None),
            };
            if key.is_empty() {
                return Err(problem(
                    "empty option in `[...]`",
                    Some("separate options with single commas"),
                ));
            }
            if !OPTIONS.contains(&key) {
                let hint = match did_you_mean(key, OPTIONS) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("options are {}", one_of(OPTIONS)),
                };
                return Err(UnitError {
                    message: format!("unknown option `{key}`"),
                    hint: Some(hint),
                });
            }
            if seen.contains(&key) {
                return Err(problem(format!("option `{key}` is given twice"), None));
            }
            seen.push(key);
            out.set(key, value)?;
        }
        Ok(out)
    }

    fn set(&mut self, key: &str, value: Option<&str>) -> Result<(), UnitError> {
        if key == "abort" {
            self.abort = match value {
                None | Some("true") => true,
                Some("false") => false,
                Some(other) => {
                    let message = format!("`abort={other}` is neither true nor false");
                    return Err(problem(message, Some("write `abort` or `abort=false`")));
                }
            };
            return Ok(());
        }
        let value = match value {
            Some(v) if !v.is_empty() => v,
            _ => {
                let message = format!("option `{key}` needs a value");
                let hint = format!("e.g. `{key}={}`", example(key));
                return Err(UnitError {
                    message,
                    hint: Some(hint),
                });
            }
        };
        match key {
            "scenario" => self.scope.scenario = Some(value.to_owned()),
            "request" => self.scope.request = Some(value.to_owned()),
            "window" => self.window = Some(metric::check_window(units::duration(value)?)?),
            _ => self.delay = units::duration(value)?,
        }
        Ok(())
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "scenario" => "buyer",
        "request" => "checkout",
        "window" => "1m",
        _ => "30s",
    }
}
