//! Values extracted from HTTP responses, response checks, and embedded-resource discovery.
//!
//! Used twice:
//!
//! * by the scenario validator, which compiles every JSONPath, regular expression and CSS
//!   selector of a scenario ([`Extractor::compile`], [`Check::compile`]) and reports a
//!   [`CompileError`] (message, position, hint) at the YAML location;
//! * by the engine, once per response: it wraps the response in a [`Parsed`], which parses the
//!   body as JSON or as an HTML document at most once, however many extractors and checks read
//!   it, then runs [`Extractor::first`] / [`Extractor::all`] and [`Check::verify`].
//!
//! Page loads use [`embedded_resources`] (what a browser would fetch for an HTML page),
//! [`document_base`] (the page's `<base href>`) and [`resolve_reference`] (RFC 3986 §5).
//!
//! Bodies are read as UTF-8 (a BOM is skipped; invalid sequences become U+FFFD for HTML and
//! regular expressions match raw bytes); other charsets declared by the page are not decoded.

mod check;
mod compile;
mod extractor;
mod html;
mod parsed;
mod text;
mod url;

pub use check::{Check, CheckSpec};
pub use extractor::{Extractor, Source};
pub use html::{document_base, embedded_resources};
pub use parsed::Parsed;
pub use url::resolve_reference;

use std::fmt;

/// Why an expression of a scenario (JSONPath, regular expression, CSS selector, header or
/// cookie name) cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// What is wrong, in one line, e.g. `invalid JSONPath at position 3: expected ...` or
    /// `regex has no capture group 2 (it has 1)`.
    pub message: String,
    /// 1-based character position of the problem inside the expression, when known (for a
    /// caret under the YAML value).
    pub position: Option<usize>,
    /// What to do about it, e.g. an example of the expected syntax.
    pub hint: Option<String>,
}

impl CompileError {
    pub(crate) fn new(message: impl Into<String>) -> CompileError {
        CompileError {
            message: message.into(),
            position: None,
            hint: None,
        }
    }

    pub(crate) fn at(mut self, position: Option<usize>) -> CompileError {
        self.position = position;
        self
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> CompileError {
        self.hint = Some(hint.into());
        self
    }
}

/// The message alone (the hint is a separate field).
impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CompileError {}
