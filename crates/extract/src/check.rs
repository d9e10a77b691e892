//! Response checks beyond the status and the response time (which the engine checks itself).

use crate::text::{json_eq, json_short, quote, quote_bytes, short};
use crate::{CompileError, Parsed, compile};
use http::HeaderName;
use memchr::memmem::Finder;
use regex::bytes::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

/// Longest received text quoted in a failure detail, in characters.
const SNIPPET: usize = 60;
/// Longest expected text or expression quoted in a check name, in characters.
const NAME_TEXT: usize = 80;

/// What a scenario's `expect:` asks of a response.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckSpec {
    /// The body contains this text (exact bytes).
    BodyContains(String),
    /// The body does not contain this text.
    BodyNotContains(String),
    /// The body matches this regular expression.
    BodyMatches(String),
    /// The JSONPath selects at least one value.
    JsonExists(String),
    /// The first value the JSONPath selects equals this one (numbers by value: `10 == 10.0`).
    JsonEquals(String, Value),
    /// The header is present.
    HeaderExists(String),
    /// One of the header's values is exactly this text.
    HeaderEquals(String, String),
    /// One of the header's values matches this regular expression.
    HeaderMatches(String, String),
}

/// A compiled [`CheckSpec`] with its default name.
#[derive(Clone, Debug)]
pub struct Check {
    name: String,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    BodyContains(Finder<'static>),
    BodyNotContains(Finder<'static>),
    BodyMatches(Regex),
    JsonExists(JsonPath, String),
    JsonEquals(JsonPath, String, Value),
    HeaderExists(HeaderName),
    HeaderEquals(HeaderName, String),
    HeaderMatches(HeaderName, Regex),
}

impl Check {
    /// Compiles `spec` (its JSONPath, regular expression or header name).
    pub fn compile(spec: &CheckSpec) -> Result<Check, CompileError> {
        let (name, kind) = match spec {
            CheckSpec::BodyContains(text) => {
                compile::non_empty(
                    text,
                    "the text to look for",
                    "e.g. `body_contains: Products`",
                )?;
                (
                    format!("body contains {}", quote(text, NAME_TEXT)),
                    Kind::BodyContains(Finder::new(text.as_bytes()).into_owned()),
                )
            }
            CheckSpec::BodyNotContains(text) => {
                compile::non_empty(
                    text,
                    "the text to look for",
                    "e.g. `body_not_contains: Error`",
                )?;
                (
                    format!("body does not contain {}", quote(text, NAME_TEXT)),
                    Kind::BodyNotContains(Finder::new(text.as_bytes()).into_owned()),
                )
            }
            CheckSpec::BodyMatches(pattern) => (
                format!("body matches \"{}\"", short(pattern, NAME_TEXT)),
                Kind::BodyMatches(compile::regex(pattern)?),
            ),
            CheckSpec::JsonExists(expr) => (
                format!("{} exists", short(expr, NAME_TEXT)),
                Kind::JsonExists(compile::jsonpath(expr)?, short(expr, 50)),
            ),
            CheckSpec::JsonEquals(expr, value) => (
                format!(
                    "{} == {}",
                    short(expr, NAME_TEXT),
                    json_short(value, NAME_TEXT)
                ),
                Kind::JsonEquals(compile::jsonpath(expr)?, short(expr, 50), value.clone()),
            ),
            CheckSpec::HeaderExists(name) => {
                let name = compile::header_name(name)?;
                (format!("header {name} exists"), Kind::HeaderExists(name))
            }
            CheckSpec::HeaderEquals(name, value) => {
                let name = compile::header_name(name)?;
                (
                    format!("header {name} == {}", quote(value, NAME_TEXT)),
                    Kind::HeaderEquals(name, value.clone()),
                )
            }
            CheckSpec::HeaderMatches(name, pattern) => {
                let name = compile::header_name(name)?;
                (
                    format!("header {name} matches \"{}\"", short(pattern, NAME_TEXT)),
                    Kind::HeaderMatches(name, compile::regex(pattern)?),
                )
            }
        };
        Ok(Check { name, kind })
    }

    /// A readable default name, e.g. `body contains "Products"`, `$.count == 10`,
    /// `header content-type matches "json"`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Ok`, or what was received instead: one short line (at most about 120 characters, no
    /// control characters), e.g. `body (1532 bytes) starts "<html><head>..."`, `$.count is 9`,
    /// `$.count: no match`, `header content-type is "text/html"`, `no header content-type`.
    /// A failure on a body cut at `max_body` says so.
    pub fn verify(&self, response: &Parsed<'_>) -> Result<(), String> {
        let body = response.body();
        match &self.kind {
            Kind::BodyContains(finder) => match finder.find(body) {
                Some(_) => Ok(()),
                None => Err(body_detail(response)),
            },
            Kind::BodyNotContains(finder) => match finder.find(body) {
                None => Ok(()),
                Some(at) => Err(found_at(body, at)),
            },
            Kind::BodyMatches(regex) => match regex.is_match(body) {
                true => Ok(()),
                false => Err(body_detail(response)),
            },
            Kind::JsonExists(path, expr) => {
                let value = response.json().map_err(|e| short(e, 120))?;
                match path.query(value).first() {
                    Some(_) => Ok(()),
                    None => Err(format!("{expr}: no match")),
                }
            }
            Kind::JsonEquals(path, expr, expected) => {
                let value = response.json().map_err(|e| short(e, 120))?;
                let nodes = path.query(value);
                match nodes.first() {
                    None => Err(format!("{expr}: no match")),
                    Some(first) if json_eq(first, expected) => Ok(()),
                    Some(first) => {
                        let more = match nodes.len() {
                            1 => String::new(),
                            n => format!(" (first of {n})"),
                        };
                        Err(format!("{expr} is {}{more}", json_short(first, SNIPPET)))
                    }
                }
            }
            Kind::HeaderExists(name) => match response.headers().contains_key(name) {
                true => Ok(()),
                false => Err(format!("no header {name}")),
            },
            Kind::HeaderEquals(name, expected) => {
                header_check(response, name, |v| v == expected.as_bytes())
            }
            Kind::HeaderMatches(name, regex) => header_check(response, name, |v| regex.is_match(v)),
        }
    }

    /// Whether it needs the body (`false` for header checks).
    pub fn reads_body(&self) -> bool {
        !self.reads_headers()
    }

    /// Whether it needs the response headers (only header checks do), so the engine knows
    /// whether to keep them.
    pub fn reads_headers(&self) -> bool {
        matches!(
            self.kind,
            Kind::HeaderExists(_) | Kind::HeaderEquals(..) | Kind::HeaderMatches(..)
        )
    }
}

/// Passes when one of the values of header `name` passes `ok`.
fn header_check(
    response: &Parsed<'_>,
    name: &HeaderName,
    ok: impl Fn(&[u8]) -> bool,
) -> Result<(), String> {
    let values = response.headers().get_all(name);
    if values.iter().any(|v| ok(v.as_bytes())) {
        return Ok(());
    }
    let mut iter = values.iter();
    let Some(first) = iter.next() else {
        return Err(format!("no header {name}"));
    };
    let more = match iter.count() {
        0 => String::new(),
        n => format!(" (and {n} more)"),
    };
    Err(format!(
        "header {name} is {}{more}",
        quote_bytes(first.as_bytes(), SNIPPET)
    ))
}

/// What the body looked like: `body (1532 bytes) starts "<html>..."`.
fn body_detail(response: &Parsed<'_>) -> String {
    let body = response.body();
    match (body.is_empty(), response.is_truncated()) {
        (true, false) => "body is empty".to_owned(),
        (true, true) => "body is empty (cut at max_body)".to_owned(),
        (false, false) => format!(
            "body ({} bytes) starts {}",
            body.len(),
            quote_bytes(body, SNIPPET)
        ),
        (false, true) => format!(
            "body (first {} bytes, cut at max_body) starts {}",
            body.len(),
            quote_bytes(body, SNIPPET)
        ),
    }
}

/// Where an unwanted text was found, with what surrounds it.
fn found_at(body: &[u8], at: usize) -> String {
    let mut start = at.saturating_sub(20);
    while start < at && body[start] & 0xC0 == 0x80 {
        start += 1;
    }
    format!(
        "found at byte {at}: {}{}",
        if start > 0 { "..." } else { "" },
        quote_bytes(&body[start..], SNIPPET)
    )
}
