//! Compiling the expressions of a scenario, with errors that say what is wrong, where, and what
//! to write instead.

use crate::CompileError;
use http::HeaderName;
use regex::bytes::{Regex, RegexBuilder};
use scraper::Selector;
use scraper::error::SelectorErrorKind;
use serde_json_path::JsonPath;

/// Examples shown with JSONPath errors.
const JSONPATH_EXAMPLES: &str = "RFC 9535 JSONPath, e.g. `$.token`, `$.items[0].id`, `$.items[*].id`, \
     `$['key with spaces']`, `$..id`, `$.items[?@.price < 10].name`";

/// A JSONPath (RFC 9535).
pub(crate) fn jsonpath(expr: &str) -> Result<JsonPath, CompileError> {
    JsonPath::parse(expr).map_err(|e| {
        let offset = e.position().min(expr.len());
        let position = char_position(expr, offset);
        let message = format!("invalid JSONPath at position {position}: {}", e.message());
        let hint = if expr.trim().is_empty() {
            format!("the path is empty; write {JSONPATH_EXAMPLES}")
        } else if expr.trim() != expr {
            "remove the spaces around the path".to_owned()
        } else if !expr.starts_with('$') {
            format!("a JSONPath starts with `$`: {JSONPATH_EXAMPLES}")
        } else {
            JSONPATH_EXAMPLES.to_owned()
        };
        CompileError::new(message).at(Some(position)).hint(hint)
    })
}

/// A regular expression, matched against raw bytes (a body need not be UTF-8).
pub(crate) fn regex(pattern: &str) -> Result<Regex, CompileError> {
    RegexBuilder::new(pattern)
        .build()
        .map_err(|e| regex_error(pattern, &e))
}

fn regex_error(pattern: &str, error: &regex::Error) -> CompileError {
    use regex_syntax::ast::ErrorKind;
    if let regex::Error::CompiledTooBig(limit) = error {
        return CompileError::new(format!(
            "regex is too big once compiled (over {limit} bytes)"
        ))
        .hint(
            "use smaller repetition counts (e.g. `\\w{1,100}` rather than `\\w{1,100000}`) \
             or fewer Unicode classes (`[0-9]` rather than `\\d`)",
        );
    }
    let general = "Rust regex syntax: escape `.`, `(`, `)`, `[`, `{`, `?`, `*`, `+`, `|`, `\\` \
                   with a backslash to match them literally";
    // The regex crate gives only a multi-line text; parse again for the kind and the place.
    let mut parser = regex_syntax::ParserBuilder::new().utf8(false).build();
    let (kind, span, hint) = match parser.parse(pattern) {
        Err(regex_syntax::Error::Parse(e)) => {
            let hint = match e.kind() {
                ErrorKind::UnsupportedLookAround => {
                    "look-around is not supported: match the surrounding text too and extract \
                     the part you want with a capture group `( )`"
                }
                ErrorKind::UnsupportedBackreference => {
                    "backreferences are not supported: repeat the group's pattern instead"
                }
                _ => general,
            };
            (e.kind().to_string(), *e.span(), hint)
        }
        Err(regex_syntax::Error::Translate(e)) => (e.kind().to_string(), *e.span(), general),
        _ => {
            let text = error.to_string();
            let last = text.lines().last().unwrap_or("invalid regex").trim();
            let last = last.strip_prefix("error: ").unwrap_or(last);
            return CompileError::new(format!("invalid regex: {last}")).hint(general);
        }
    };
    let position = char_position(pattern, span.start.offset);
    CompileError::new(format!("invalid regex at position {position}: {kind}"))
        .at(Some(position))
        .hint(hint)
}

/// Checks that `group` exists in `regex` (group 0 is the whole match).
pub(crate) fn regex_group(regex: &Regex, group: usize) -> Result<(), CompileError> {
    let groups = regex.captures_len() - 1;
    if group <= groups {
        return Ok(());
    }
    let (has, hint) = match groups {
        0 => (
            "none".to_owned(),
            "put parentheses around the part to extract, e.g. `token=(\\w+)`, or use group 0 \
             for the whole match"
                .to_owned(),
        ),
        n => (
            n.to_string(),
            format!("use a group from 1 to {n}, or 0 for the whole match"),
        ),
    };
    Err(CompileError::new(format!("regex has no capture group {group} (it has {has})")).hint(hint))
}

/// A CSS selector.
pub(crate) fn selector(css: &str) -> Result<Selector, CompileError> {
    Selector::parse(css).map_err(|e| {
        let what = match e {
            SelectorErrorKind::UnexpectedToken => "unexpected character".to_owned(),
            SelectorErrorKind::EndOfLine => "unexpected end of the selector".to_owned(),
            SelectorErrorKind::InvalidAtRule | SelectorErrorKind::InvalidAtRuleBody => {
                "`@` rules are not selectors".to_owned()
            }
            SelectorErrorKind::QualRuleInvalid => "invalid qualified name".to_owned(),
            SelectorErrorKind::TooManyNestedBlocks => "too deeply nested".to_owned(),
            SelectorErrorKind::ExpectedColonOnPseudoElement
            | SelectorErrorKind::ExpectedIdentityOnPseudoElement => {
                "pseudo-elements (`::before`) cannot be selected".to_owned()
            }
            SelectorErrorKind::UnexpectedSelectorParseError(kind) => {
                match format!("{kind:?}").as_str() {
                    "ClassNeedsIdent" => "`.` must be followed by a class name".to_owned(),
                    "DanglingCombinator" => "`>`, `+` or `~` with nothing after it".to_owned(),
                    "UnsupportedPseudoClassOrElement" => {
                        "unsupported pseudo-class or pseudo-element".to_owned()
                    }
                    other => words(other),
                }
            }
        };
        let message = if css.trim().is_empty() {
            "the CSS selector is empty".to_owned()
        } else {
            format!("invalid CSS selector: {what}")
        };
        CompileError::new(message).hint(
            "CSS selector, e.g. `meta[name=\"csrf-token\"]`, `form#login input[name=token]`, \
             `h1.title`, `ul > li:first-child a`; quote attribute values with spaces or \
             punctuation; states like `:hover` are not supported",
        )
    })
}

/// `UnsupportedPseudoClassOrElement` -> `unsupported pseudo class or element`.
fn words(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for c in camel.chars().take_while(char::is_ascii_alphanumeric) {
        if c.is_ascii_uppercase() && !out.is_empty() {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A header name (matched case-insensitively).
pub(crate) fn header_name(name: &str) -> Result<HeaderName, CompileError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        let message = if name.is_empty() {
            "the header name is empty".to_owned()
        } else {
            format!("invalid header name {}", crate::text::quote(name, 60))
        };
        CompileError::new(message).hint(
            "a header name is letters, digits and `-` (e.g. `content-type`, `x-request-id`), \
             without `:` or spaces",
        )
    })
}

/// A cookie name: a non-empty token without `=`, `;`, spaces or control characters.
pub(crate) fn cookie_name(name: &str) -> Result<(), CompileError> {
    let bad = |c: char| c == '=' || c == ';' || c == ',' || c.is_whitespace() || c.is_control();
    if !name.is_empty() && !name.contains(bad) {
        return Ok(());
    }
    let message = if name.is_empty() {
        "the cookie name is empty".to_owned()
    } else {
        format!("invalid cookie name {}", crate::text::quote(name, 60))
    };
    Err(CompileError::new(message)
        .hint("the name alone, as in `Set-Cookie: NAME=value`, e.g. `session_id`"))
}

/// A required, non-empty text (`what` names it).
pub(crate) fn non_empty(text: &str, what: &str, hint: &str) -> Result<(), CompileError> {
    if text.is_empty() {
        Err(CompileError::new(format!("{what} is empty")).hint(hint))
    } else {
        Ok(())
    }
}

/// 1-based character position of byte `offset` in `text`.
fn char_position(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    text[..offset].chars().count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_becomes_words() {
        assert_eq!(
            words("UnsupportedPseudoClassOrElement"),
            "unsupported pseudo class or element"
        );
        assert_eq!(words("EmptySelector"), "empty selector");
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(char_position("$.żółw[", 0), 1);
        assert_eq!(char_position("$.żółw[", "$.żółw".len()), 7);
        assert_eq!(char_position("ż", 1), 1);
        assert_eq!(char_position("ab", 99), 3);
    }
}
