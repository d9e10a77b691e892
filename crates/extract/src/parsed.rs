//! One response, with its body parsed lazily: as JSON and as an HTML document, each at most once.

use scraper::Html;
use serde_json::Value;
use std::cell::OnceCell;

/// One response as the extractors and checks see it.
///
/// The body is parsed on first use, at most once per representation (a JSON value, an HTML
/// document), however many extractors and checks read it. `Parsed` is cheap to create and is
/// meant to live for one response: build it, run the step's checks and extractions, drop it.
/// It is not `Send` (the HTML document uses non-atomic reference counts), so keep it inside a
/// block that ends before the next `.await`.
#[derive(Debug)]
pub struct Parsed<'a> {
    status: u16,
    headers: &'a http::HeaderMap,
    body: &'a [u8],
    truncated: bool,
    json: OnceCell<Result<Value, String>>,
    html: OnceCell<Html>,
}

impl<'a> Parsed<'a> {
    /// A response with its status, headers and (possibly partial) body. Parses nothing yet.
    pub fn new(status: u16, headers: &'a http::HeaderMap, body: &'a [u8]) -> Parsed<'a> {
        Parsed {
            status,
            headers,
            body,
            truncated: false,
            json: OnceCell::new(),
            html: OnceCell::new(),
        }
    }

    /// Whether the body was cut at the `max_body` limit: checks that fail on such a body say so
    /// in their detail.
    pub fn truncated(mut self, yes: bool) -> Self {
        self.truncated = yes;
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &'a http::HeaderMap {
        self.headers
    }

    /// The body as received (up to `max_body` bytes).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Whether [`body`](Self::body) is only the first part of the response body.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The body as JSON (parsed on first call), or why it is not JSON, e.g.
    /// `body is not JSON: expected value at line 1 column 1`.
    pub fn json(&self) -> Result<&Value, &str> {
        self.json
            .get_or_init(|| {
                let body = without_bom(self.body);
                serde_json::from_slice(body).map_err(|e| {
                    if body.iter().all(u8::is_ascii_whitespace) {
                        return "body is empty, not JSON".to_owned();
                    }
                    let cut = if self.truncated {
                        format!(" (cut at max_body after {} bytes)", self.body.len())
                    } else {
                        String::new()
                    };
                    format!("body is not JSON{cut}: {e}")
                })
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The body as an HTML document (parsed on first call; HTML parsing never fails).
    pub(crate) fn html(&self) -> &Html {
        self.html.get_or_init(|| {
            let text = String::from_utf8_lossy(without_bom(self.body));
            Html::parse_document(&text)
        })
    }
}

/// The body without a UTF-8 byte order mark.
fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_parsed_once_and_errors_are_kept() {
        let headers = http::HeaderMap::new();
        let p = Parsed::new(200, &headers, b"\xEF\xBB\xBF{\"a\": 1}");
        let first: *const Value = p.json().unwrap();
        let second: *const Value = p.json().unwrap();
        assert_eq!(first, second, "the same parsed value is returned");

        let p = Parsed::new(200, &headers, b"<html>");
        assert_eq!(
            p.json().unwrap_err(),
            "body is not JSON: expected value at line 1 column 1"
        );
        let p = Parsed::new(200, &headers, b" \n");
        assert_eq!(p.json().unwrap_err(), "body is empty, not JSON");
        let p = Parsed::new(200, &headers, b"{\"a\": [1, 2").truncated(true);
        assert_eq!(
            p.json().unwrap_err(),
            "body is not JSON (cut at max_body after 11 bytes): EOF while parsing a list at line 1 column 11"
        );
    }
}
