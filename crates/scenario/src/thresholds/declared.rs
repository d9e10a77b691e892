//! The custom metrics a file declares, for thresholds to name: the steps' `counter`, `trend` and
//! `gauge`, every group's trend `group.<name>`, the `data.<feeder>.exhausted` counter of a feeder
//! with `on_exhausted: fail`, and the `metrics.counter|trend|gauge("name", ...)` calls of scripts.
//!
//! A script is Lua, so its metric names are read from its tokens: a call with a literal name
//! (`metrics.trend("orders", n)`) declares that name. A call whose name is computed
//! (`metrics.counter(prefix .. "_x")`), or any other use of `metrics` (`local m = metrics`), may
//! update any name: the names of that kind (every kind for the latter) are then not checked.

use crate::plan::{Action, DataSet, Exhausted, MetricKind, Plan, Scenario};

/// The custom metrics a file declares.
#[derive(Debug, Default)]
pub(crate) struct Declared {
    /// (kind, name), distinct, in the order first seen.
    pub metrics: Vec<(MetricKind, String)>,
    /// Counters that may be added a negative value (a templated value, a script's add, a fixed
    /// negative value), so their sum can go down.
    pub may_decrease: Vec<String>,
    /// Kinds scripts update under names computed at run time.
    pub dynamic: Vec<MetricKind>,
    /// Feeders without `on_exhausted: fail` (they have no `exhausted` counter), for hints.
    pub quiet_feeders: Vec<String>,
}

impl Declared {
    /// Everything the scenarios, `setup`, `teardown` and feeders declare.
    pub fn collect(
        scenarios: &[Scenario],
        setup: &[Action],
        teardown: &[Action],
        data: &[DataSet],
    ) -> Declared {
        let mut d = Declared::default();
        let actions = scenarios.iter().flat_map(Scenario::actions);
        for action in actions.chain(setup).chain(teardown) {
            action.visit(&mut |a| d.action(a));
        }
        for set in data {
            let name = &set.feeder.name;
            match set.feeder.on_exhausted {
                Exhausted::Fail => d.add(MetricKind::Counter, format!("data.{name}.exhausted")),
                _ => d.quiet_feeders.push(name.clone()),
            }
        }
        d
    }

    fn action(&mut self, action: &Action) {
        match action {
            Action::Metric(m) => {
                self.add(m.kind, m.name.clone());
                let fixed = m
                    .value
                    .static_text()
                    .and_then(|t| t.trim().parse::<f64>().ok());
                if m.kind == MetricKind::Counter && !fixed.is_some_and(|v| v >= 0.0) {
                    self.may_decrease.push(m.name.clone());
                }
            }
            Action::Group { name, .. } => self.add(MetricKind::Trend, format!("group.{name}")),
            Action::Script(s) => {
                for call in script_calls(&s.code) {
                    match call {
                        ScriptCall::Named(kind, name) => {
                            if kind == MetricKind::Counter {
                                self.may_decrease.push(name.clone());
                            }
                            self.add(kind, name);
                        }
                        ScriptCall::Computed(kind) => self.dynamic.push(kind),
                        ScriptCall::Any => self.dynamic.extend([
                            MetricKind::Counter,
                            MetricKind::Trend,
                            MetricKind::Gauge,
                        ]),
                    }
                }
            }
            _ => {}
        }
    }

    fn add(&mut self, kind: MetricKind, name: String) {
        if !self.has(kind, &name) {
            self.metrics.push((kind, name));
        }
    }

    pub fn has(&self, kind: MetricKind, name: &str) -> bool {
        self.metrics.iter().any(|(k, n)| *k == kind && n == name)
    }

    /// The names declared with `kind`.
    pub fn names(&self, kind: MetricKind) -> Vec<&str> {
        (self.metrics.iter())
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| n.as_str())
            .collect()
    }

    /// Whether `kind` metrics may have names no validation can see.
    pub fn is_dynamic(&self, kind: MetricKind) -> bool {
        self.dynamic.contains(&kind)
    }
}

impl Plan {
    /// Whether the sum of the custom counter `name` can only grow during a run: every step that
    /// adds to it adds a fixed value `>= 0` (`counter: name` adds 1), or it is a feeder's
    /// `data.<feeder>.exhausted`. A templated value, a script's add, or a script that names
    /// counters at run time could add a negative value, so the sum could go down again.
    /// Threshold aborts rely on it: a sum that only grows has certainly failed once above a
    /// `max`.
    pub fn counter_only_grows(&self, name: &str) -> bool {
        let d = Declared::collect(&self.scenarios, &self.setup, &self.teardown, &self.data);
        d.has(MetricKind::Counter, name)
            && !d.may_decrease.iter().any(|n| n == name)
            && !d.is_dynamic(MetricKind::Counter)
    }
}

/// A `metrics.*` use in a script.
#[derive(Debug, PartialEq)]
enum ScriptCall {
    /// `metrics.trend("name", ...)`, or `metrics.trend "name"`.
    Named(MetricKind, String),
    /// `metrics.trend(expression, ...)`.
    Computed(MetricKind),
    /// `metrics` used otherwise (passed, aliased, indexed): any kind, any name.
    Any,
}

/// The `metrics.*` uses of a Lua script.
fn script_calls(code: &str) -> Vec<ScriptCall> {
    let tokens = tokens(code);
    let mut calls = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if *token != Token::Ident("metrics") {
            continue;
        }
        // `x.metrics` or `x:metrics` is a field of something else, not the global.
        if i > 0 && matches!(tokens[i - 1], Token::Punct('.' | ':')) {
            continue;
        }
        let kind = match (tokens.get(i + 1), tokens.get(i + 2)) {
            (Some(Token::Punct('.')), Some(Token::Ident(kind))) => match *kind {
                "counter" => MetricKind::Counter,
                "trend" => MetricKind::Trend,
                "gauge" => MetricKind::Gauge,
                // Not a metric function: an error when the script runs.
                _ => continue,
            },
            _ => {
                calls.push(ScriptCall::Any);
                continue;
            }
        };
        let mut at = i + 3;
        if tokens.get(at) == Some(&Token::Punct('(')) {
            at += 1;
        }
        // A literal followed by `..` is the start of a computed name.
        let concatenated = tokens.get(at + 1) == Some(&Token::Punct('.'));
        calls.push(match tokens.get(at) {
            Some(Token::Str(Some(name))) if !concatenated => {
                ScriptCall::Named(kind, (*name).to_owned())
            }
            _ => ScriptCall::Computed(kind),
        });
    }
    calls
}

/// The Lua tokens that matter here: names, string literals (`None` when they hold escapes, so
/// their value is not the text), and single punctuation; comments and numbers are skipped.
#[derive(Debug, PartialEq)]
enum Token<'a> {
    Ident(&'a str),
    Str(Option<&'a str>),
    Punct(char),
}

fn tokens(code: &str) -> Vec<Token<'_>> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if code[i..].starts_with("--") {
            i += 2;
            i = match long_bracket(&code[i..]) {
                Some((_, len)) => i + len,
                None => code[i..].find('\n').map_or(bytes.len(), |n| i + n),
            };
        } else if b == b'"' || b == b'\'' {
            let start = i + 1;
            let mut j = start;
            let mut escaped = false;
            while j < bytes.len() && bytes[j] != b && bytes[j] != b'\n' {
                if bytes[j] == b'\\' {
                    escaped = true;
                    j += 1;
                }
                j += 1;
            }
            let end = j.min(bytes.len());
            out.push(Token::Str((!escaped).then(|| &code[start..end])));
            i = end + 1;
        } else if b == b'['
            && let Some((content, len)) = long_bracket(&code[i..])
        {
            out.push(Token::Str(Some(content)));
            i += len;
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let len = bytes[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            out.push(Token::Ident(&code[i..i + len]));
            i += len;
        } else if b.is_ascii_digit() {
            i += bytes[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'.')
                .count();
        } else {
            let c = code[i..].chars().next().unwrap_or(' ');
            out.push(Token::Punct(c));
            i += c.len_utf8();
        }
    }
    out
}

/// A long bracket at the start of `text` (`[[...]]`, `[==[...]==]`): its content and its whole
/// length (to the end of the text when unclosed).
fn long_bracket(text: &str) -> Option<(&str, usize)> {
    let rest = text.strip_prefix('[')?;
    let level = rest.bytes().take_while(|b| *b == b'=').count();
    let body = rest[level..].strip_prefix('[')?;
    let open = level + 2;
    let close = format!("]{}]", "=".repeat(level));
    Some(match body.find(&close) {
        Some(n) => (&body[..n], open + n + close.len()),
        None => (body, text.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_metric_names_are_read_from_literal_calls() {
        let code = r#"
            -- metrics.counter("in_a_comment") is not code
            --[[ neither is metrics.trend("in_a_block") ]]
            local orders = response:json()
            metrics.trend("orders_per_page", #orders)
            metrics.counter 'carts'
            metrics . gauge ( [[queue]] , 3)
            metrics.counter(prefix .. "_x")
            print("metrics, in a string")
            vars.metrics = 1
        "#;
        assert_eq!(
            script_calls(code),
            [
                ScriptCall::Named(MetricKind::Trend, "orders_per_page".into()),
                ScriptCall::Named(MetricKind::Counter, "carts".into()),
                ScriptCall::Named(MetricKind::Gauge, "queue".into()),
                ScriptCall::Computed(MetricKind::Counter),
            ]
        );
        assert_eq!(script_calls("local m = metrics"), [ScriptCall::Any]);
        assert_eq!(
            script_calls(r#"metrics.trend("a\"b", 1)"#),
            [ScriptCall::Computed(MetricKind::Trend)]
        );
        assert!(script_calls("metrics.other('x')").is_empty());
        assert_eq!(
            script_calls(r#"metrics.gauge("queue_" .. vars.id, 1)"#),
            [ScriptCall::Computed(MetricKind::Gauge)]
        );
    }
}
