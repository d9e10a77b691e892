//! Small text helpers: short, sanitized quotes of received data for check details and names,
//! and JSON values as text.

use serde_json::Value;
use std::fmt::Write;

/// `"..."` around `text` cut to about `max` characters (then `...` inside the quotes), with
/// whitespace runs shown as one space, `"` and `\` escaped and other control characters as
/// `\u{..}`, so the result is one printable line.
pub(crate) fn quote(text: &str, max: usize) -> String {
    quote_with(text, max, false)
}

/// [`quote`] of bytes that may not be UTF-8 (invalid sequences become U+FFFD). Only the first
/// bytes are decoded, so a 10 MB body costs nothing here.
pub(crate) fn quote_bytes(bytes: &[u8], max: usize) -> String {
    // Four bytes per character at most, plus some slack; cut before a character's first byte.
    let mut end = bytes.len().min(max * 4 + 64);
    while end > 0 && end < bytes.len() && bytes[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    quote_with(
        &String::from_utf8_lossy(&bytes[..end]),
        max,
        end < bytes.len(),
    )
}

/// [`quote`], with `...` also when `more` says the text goes on past what was given.
fn quote_with(text: &str, max: usize, more: bool) -> String {
    let mut out = String::with_capacity(text.len().min(max * 2) + 8);
    out.push('"');
    let mut shown = 0;
    let mut cut = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if shown >= max {
            cut = true;
            break;
        }
        let before = out.len();
        match c {
            c if c.is_whitespace() => {
                out.push(' ');
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || invisible(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
        // Escapes count for their width.
        shown += out[before..].chars().count();
    }
    if cut || more {
        out.push_str("...");
    }
    out.push('"');
    out
}

/// Format characters that would reorder or hide text on a terminal (bidi controls, zero-width
/// characters, BOM).
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// An expression as the user wrote it, cut to `max` characters (for names and details).
pub(crate) fn short(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| {
            if c.is_control() || invisible(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push_str("...");
    }
    out
}

/// A matched JSON value as text: strings unquoted, everything else as compact JSON.
pub(crate) fn json_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON value for a check detail: compact JSON cut to `max` characters.
pub(crate) fn json_short(value: &Value, max: usize) -> String {
    let text = value.to_string();
    if text.chars().nth(max).is_none() {
        return text;
    }
    let mut out: String = text.chars().take(max).collect();
    out.push_str("...");
    out
}

/// JSON equality where numbers compare by value (`10 == 10.0`), recursively.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let int = |n: &serde_json::Number| {
                n.as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
            };
            match (int(x), int(y)) {
                (Some(i), Some(j)) => i == j,
                _ => match (x.as_f64(), y.as_f64()) {
                    (Some(f), Some(g)) => f == g,
                    _ => false,
                },
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quote_escapes_and_cuts() {
        assert_eq!(quote("a\"b\\c", 10), r#""a\"b\\c""#);
        assert_eq!(quote("a\n\n  b\tc", 10), r#""a b c""#);
        assert_eq!(quote("bell\u{7}", 10), r#""bell\u{7}""#);
        assert_eq!(quote("a\u{202E}b", 10), r#""a\u{202e}b""#);
        // Escapes count for their width.
        assert_eq!(
            quote("\u{feff}\u{feff}\u{feff}", 10),
            r#""\u{feff}\u{feff}...""#
        );
        assert_eq!(quote("abcdef", 3), r#""abc...""#);
        assert_eq!(quote("abc", 3), r#""abc""#);
        assert_eq!(quote("żółw", 2), r#""żó...""#);
    }

    #[test]
    fn quote_bytes_handles_invalid_utf8_and_long_input() {
        assert_eq!(quote_bytes(b"ok\xff", 10), "\"ok\u{FFFD}\"");
        let long = vec![b'x'; 10_000];
        assert_eq!(quote_bytes(&long, 4), r#""xxxx...""#);
        assert_eq!(quote_bytes(&long[..4], 4), r#""xxxx""#);
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(json_eq(&json!(10), &json!(10.0)));
        assert!(json_eq(&json!(-3), &json!(-3.0)));
        assert!(json_eq(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!json_eq(&json!(10), &json!(10.5)));
        assert!(!json_eq(&json!(10), &json!("10")));
        assert!(json_eq(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!json_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!json_eq(&json!([1]), &json!([1, 1])));
    }
}
