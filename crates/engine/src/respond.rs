//! Judging a response: `expect` checks beyond the status, the response-time bound, and the
//! extractions that set the user's variables.

use crate::client::LastResponse;
use crate::prepare::PreparedStep;
use crate::vars::{Value, Vars};
use stampede_extract::Parsed;
use stampede_scenario::OnFailure;

/// What a response's checks and extractions decided.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// The first failed check: its name and what was received.
    pub failure: Option<(String, String)>,
    /// An extraction with `on_failure: fail` found nothing: the iteration stops.
    pub stop: bool,
}

impl Verdict {
    pub fn failed(check: String, detail: String) -> Verdict {
        Verdict {
            failure: Some((check, detail)),
            stop: false,
        }
    }

    fn fail(&mut self, check: impl FnOnce() -> String, detail: impl FnOnce() -> String) {
        if self.failure.is_none() {
            self.failure = Some((check(), detail()));
        }
    }
}

/// Runs the step's checks and extractions on a response whose status passed.
pub(crate) fn evaluate(
    step: &PreparedStep,
    status: u16,
    latency_us: u64,
    body: &[u8],
    last: &LastResponse,
    vars: &mut Vars,
) -> Verdict {
    let mut verdict = Verdict::default();
    if let Some(bound) = step.max_duration_us
        && latency_us > bound
    {
        verdict.fail(
            || format!("response time < {}", format_us(bound)),
            || format!("took {}", format_us(latency_us)),
        );
    }
    if step.checks.is_empty() && step.extractions.is_empty() {
        return verdict;
    }
    let parsed = Parsed::new(status, &last.headers, body).truncated(last.truncated);
    for (name, check) in &step.checks {
        if let Err(detail) = check.verify(&parsed) {
            verdict.fail(|| name.clone(), || detail);
        }
    }
    for e in &step.extractions {
        let value = if e.all {
            let items = e.extractor.all(&parsed);
            (!items.is_empty()).then(|| Value::List(items.into()))
        } else {
            e.extractor.first(&parsed).map(Value::Text)
        };
        let value = value.or_else(|| e.default.clone().map(Value::Text));
        match (value, e.on_failure) {
            (Some(v), _) => vars.set(e.slot, Some(v)),
            (None, OnFailure::Continue) => vars.set(e.slot, None),
            (None, OnFailure::Fail) => {
                vars.set(e.slot, None);
                let truncated = if last.truncated {
                    " (the body was cut at `max_body`)"
                } else {
                    ""
                };
                verdict.fail(
                    || format!("extract {}", e.name),
                    || format!("{}{truncated}", e.extractor.miss_detail(&parsed)),
                );
                verdict.stop = true;
            }
        }
    }
    verdict
}

/// A value placed as a whole JSON string (`"{{ id }}"`): numbers, `true`, `false` and `null`
/// are sent as themselves, anything else as a JSON string.
pub(crate) fn typed_json(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(
            v @ (serde_json::Value::Number(_)
            | serde_json::Value::Bool(_)
            | serde_json::Value::Null),
        ) if text.trim() == text => v.to_string(),
        _ => serde_json::Value::from(text).to_string(),
    }
}

fn format_us(us: u64) -> String {
    if us >= 1_000_000 && us.is_multiple_of(1_000) {
        format!("{}s", us as f64 / 1e6)
    } else {
        format!("{}ms", us as f64 / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_json_keeps_numbers_and_quotes_the_rest() {
        assert_eq!(typed_json("101"), "101");
        assert_eq!(typed_json("1.5"), "1.5");
        assert_eq!(typed_json("true"), "true");
        assert_eq!(typed_json("null"), "null");
        assert_eq!(typed_json("abc"), "\"abc\"");
        assert_eq!(typed_json("01234"), "\"01234\"");
        assert_eq!(typed_json(" 5"), "\" 5\"");
        assert_eq!(typed_json("{\"a\":1}"), "\"{\\\"a\\\":1}\"");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_us(500_000), "500ms");
        assert_eq!(format_us(734_250), "734.25ms");
        assert_eq!(format_us(2_000_000), "2s");
    }
}
