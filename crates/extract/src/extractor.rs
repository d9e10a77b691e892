//! Values taken from a response into variables.

use crate::html::{self, Elements};
use crate::text::{json_text, quote, short};
use crate::{CompileError, Parsed, compile};
use http::HeaderName;
use regex::bytes::Regex;
use scraper::Selector;
use serde_json_path::JsonPath;

/// Where an extracted value comes from (what the scenario's `extract:` says).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A JSONPath (RFC 9535) into the JSON body, e.g. `$.token` or `$.items[*].id`.
    Json(String),
    /// A regular expression on the body; `group` is the capture group to take (the YAML
    /// default is 1; 0 is the whole match).
    Regex { pattern: String, group: usize },
    /// A response header (case-insensitive name).
    Header(String),
    /// A cookie set by this response's `Set-Cookie` headers (case-sensitive name).
    Cookie(String),
    /// A CSS selector on the HTML body: the `attribute`'s value, or the element's text (trimmed)
    /// when `None`.
    Html {
        selector: String,
        attribute: Option<String>,
    },
    /// The value of a form field named so: `<input name=..>` (checkboxes and radios only when
    /// checked), `<textarea name=..>`, or the selected `<option>` of a `<select name=..>` — e.g.
    /// a CSRF token in a hidden input.
    FormField(String),
}

/// A compiled [`Source`]: cheap to run on each response.
#[derive(Clone, Debug)]
pub struct Extractor {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Json {
        path: JsonPath,
        text: String,
    },
    Regex {
        regex: Regex,
        group: usize,
    },
    Header(HeaderName),
    Cookie(String),
    Html {
        selector: Selector,
        text: String,
        attribute: Option<String>,
    },
    FormField(String),
}

impl Extractor {
    /// Compiles `source`: a JSONPath, regular expression (and its group), CSS selector, header or
    /// cookie name that cannot work is an error with its position and a hint.
    pub fn compile(source: &Source) -> Result<Extractor, CompileError> {
        let kind = match source {
            Source::Json(expr) => Kind::Json {
                path: compile::jsonpath(expr)?,
                text: expr.clone(),
            },
            Source::Regex { pattern, group } => {
                let regex = compile::regex(pattern)?;
                compile::regex_group(&regex, *group)?;
                Kind::Regex {
                    regex,
                    group: *group,
                }
            }
            Source::Header(name) => Kind::Header(compile::header_name(name)?),
            Source::Cookie(name) => {
                compile::cookie_name(name)?;
                Kind::Cookie(name.clone())
            }
            Source::Html {
                selector,
                attribute,
            } => {
                if let Some(a) = attribute {
                    compile::non_empty(a, "the attribute name", "e.g. `attribute: content`")?;
                }
                Kind::Html {
                    selector: compile::selector(selector)?,
                    text: selector.clone(),
                    attribute: attribute.clone(),
                }
            }
            Source::FormField(name) => {
                compile::non_empty(name, "the form field name", "e.g. `form_field: csrf_token`")?;
                Kind::FormField(name.clone())
            }
        };
        Ok(Extractor { kind })
    }

    /// The first match, as text: JSON strings unquoted, other JSON values as compact JSON.
    /// `None` when nothing matched (or the body is not JSON, for a JSONPath).
    pub fn first(&self, response: &Parsed<'_>) -> Option<String> {
        let mut first = None;
        self.each(response, &mut |value| {
            first = Some(value);
            false
        });
        first
    }

    /// Every match, in order.
    pub fn all(&self, response: &Parsed<'_>) -> Vec<String> {
        let mut all = Vec::new();
        self.each(response, &mut |value| {
            all.push(value);
            true
        });
        all
    }

    /// Whether it needs the body (`false` for headers and cookies), so the engine knows
    /// whether to keep it.
    pub fn reads_body(&self) -> bool {
        !self.reads_headers()
    }

    /// Whether it needs the response headers (header and cookie extractors), so the engine
    /// knows whether to keep them.
    pub fn reads_headers(&self) -> bool {
        matches!(self.kind, Kind::Header(_) | Kind::Cookie(_))
    }

    /// Why nothing matched, for a failure detail: e.g. `$.token: no match`,
    /// `body is not JSON: ...`, `no header x-token`, `no Set-Cookie for "sid"`,
    /// `no element matches "meta[name=csrf]"`, `no form field "token"`.
    pub fn miss_detail(&self, response: &Parsed<'_>) -> String {
        let cut = if response.is_truncated() {
            " (the body was cut at max_body)"
        } else {
            ""
        };
        match &self.kind {
            Kind::Json { text, .. } => match response.json() {
                Ok(_) => format!("{}: no match{cut}", short(text, 60)),
                Err(e) => e.to_owned(),
            },
            Kind::Regex { regex, group } if *group > 0 && regex.is_match(response.body()) => {
                format!("regex group {group} did not take part in the match")
            }
            Kind::Regex { regex, .. } => {
                format!("regex {} did not match{cut}", quote(regex.as_str(), 60))
            }
            Kind::Header(name) => format!("no header {name}"),
            Kind::Cookie(name) => format!("no Set-Cookie for {}", quote(name, 60)),
            Kind::Html {
                text,
                attribute: Some(a),
                ..
            } => format!(
                "no element matches {} with attribute {}{cut}",
                quote(text, 60),
                quote(a, 30)
            ),
            Kind::Html { text, .. } => format!("no element matches {}{cut}", quote(text, 60)),
            Kind::FormField(name) => format!("no form field {}{cut}", quote(name, 60)),
        }
    }

    /// Calls `found` with each match until it returns `false`.
    fn each(&self, response: &Parsed<'_>, found: &mut dyn FnMut(String) -> bool) {
        match &self.kind {
            Kind::Json { path, .. } => {
                if let Ok(value) = response.json() {
                    for node in path.query(value).iter() {
                        if !found(json_text(node)) {
                            return;
                        }
                    }
                }
            }
            Kind::Regex { regex, group } => {
                for captures in regex.captures_iter(response.body()) {
                    if let Some(m) = captures.get(*group)
                        && !found(String::from_utf8_lossy(m.as_bytes()).into_owned())
                    {
                        return;
                    }
                }
            }
            Kind::Header(name) => {
                for value in response.headers().get_all(name) {
                    if !found(String::from_utf8_lossy(value.as_bytes()).into_owned()) {
                        return;
                    }
                }
            }
            Kind::Cookie(name) => {
                for header in response.headers().get_all(http::header::SET_COOKIE) {
                    if let Some(value) = cookie_value(header.as_bytes(), name)
                        && !found(value)
                    {
                        return;
                    }
                }
            }
            Kind::Html {
                selector,
                attribute,
                ..
            } => {
                for element in Elements::new(response.html(), false) {
                    if !selector.matches(&element) {
                        continue;
                    }
                    let value = match attribute {
                        Some(a) => match html::attribute(&element, a) {
                            Some(v) => v.to_owned(),
                            None => continue,
                        },
                        None => html::text(&element),
                    };
                    if !found(value) {
                        return;
                    }
                }
            }
            Kind::FormField(name) => {
                for value in html::form_values(response.html(), name) {
                    if !found(value) {
                        return;
                    }
                }
            }
        }
    }
}

/// The value of cookie `name` in one `Set-Cookie` header (`name=value; attributes`), trimmed;
/// `None` for another cookie or a header without `=`.
fn cookie_value(header: &[u8], name: &str) -> Option<String> {
    let pair = header.split(|&b| b == b';').next()?;
    let eq = pair.iter().position(|&b| b == b'=')?;
    if pair[..eq].trim_ascii() != name.as_bytes() {
        return None;
    }
    Some(String::from_utf8_lossy(pair[eq + 1..].trim_ascii()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_pairs() {
        let v = cookie_value(b"sid=abc123; Path=/; HttpOnly", "sid");
        assert_eq!(v.as_deref(), Some("abc123"));
        assert_eq!(
            cookie_value(b" sid = a=b ;x", "sid").as_deref(),
            Some("a=b")
        );
        assert_eq!(cookie_value(b"sid=", "sid").as_deref(), Some(""));
        assert_eq!(cookie_value(b"SID=1", "sid"), None);
        assert_eq!(cookie_value(b"sid", "sid"), None);
        assert_eq!(cookie_value(b"other=1; sid=2", "sid"), None);
    }

    #[test]
    fn extractors_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Extractor>();
        check::<crate::Check>();
    }
}
