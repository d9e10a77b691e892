//! Escaping for the markup reports (HTML, SVG, JUnit XML). Every string that comes from a result
//! (request names, error samples, response bodies) passes through here: a result is data from the
//! system under test and must never become markup.

use std::fmt::Write;

/// Escapes text for HTML/XML element content and double- or single-quoted attribute values.
/// Control characters that XML 1.0 forbids are replaced by `\u{fffd}` so a sample holding binary
/// garbage still gives a well-formed document.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A number for an SVG coordinate: at most two decimals, no trailing zeros.
pub fn num(x: f64) -> String {
    let mut s = String::new();
    let x = if x.is_finite() { x } else { 0.0 };
    let _ = write!(s, "{:.2}", x);
    let trimmed = s.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(escape("a\u{1}b\nc"), "a\u{fffd}b\nc");
        assert_eq!(escape("naïve ✓"), "naïve ✓");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.256), "1.26");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(f64::NAN), "0");
    }
}
