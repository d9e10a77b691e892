//! HTTP/1.1 message heads: a request head encoded straight from the step's headers, and a response
//! head parsed (with httparse) into its status, the headers anyone reads, and how its body is
//! framed.
//!
//! Only the response headers something will read are copied into a `HeaderMap`: all of them for
//! a step that checks, extracts or scripts on its response, and otherwise just `Set-Cookie` and
//! `Location` (cookies and redirects). A plain `GET` therefore allocates nothing for its
//! response head.

use super::framing::Decoder;
use http::Method;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::mem::MaybeUninit;

/// Header fields a response head may have; more is refused as a bad response.
const MAX_HEADERS: usize = 128;

/// What a request head is made of.
pub(crate) struct RequestHead<'a> {
    pub method: &'a Method,
    /// The origin-form target: path and query.
    pub target: &'a str,
    pub host: &'a HeaderValue,
    /// The step's headers. `Host`, `Content-Length` and `Transfer-Encoding` in them are ignored
    /// (the client writes its own); `Cookie` is joined with the jar's.
    pub headers: &'a HeaderMap,
    /// Leave `Authorization` out (a redirect left the step's origin).
    pub drop_authorization: bool,
    /// Leave `Content-Type` out (a redirect turned the request into a body-less `GET`).
    pub drop_content_type: bool,
    /// The cookie jar's `Cookie` value for this request.
    pub cookie: Option<&'a HeaderValue>,
    pub body_len: usize,
}

/// Appends the request head to `out`.
pub(crate) fn encode_request(head: &RequestHead<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(head.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(head.host.as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut own_cookie = None;
    for (name, value) in head.headers {
        let skip = name == header::HOST
            || name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || (head.drop_authorization && name == header::AUTHORIZATION)
            || (head.drop_content_type && name == header::CONTENT_TYPE);
        if skip {
            continue;
        }
        if name == header::COOKIE && head.cookie.is_some() {
            own_cookie = Some(value);
            continue;
        }
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if let Some(jar) = head.cookie {
        out.extend_from_slice(b"cookie: ");
        if let Some(own) = own_cookie {
            out.extend_from_slice(own.as_bytes());
            out.extend_from_slice(b"; ");
        }
        out.extend_from_slice(jar.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // RFC 9110 §8.6: a length is sent with any content, and for methods that define content
    // even when it is empty.
    let defines_content = matches!(*head.method, Method::POST | Method::PUT | Method::PATCH);
    if head.body_len > 0 || defines_content {
        out.extend_from_slice(b"content-length: ");
        let mut digits = [0u8; 20];
        out.extend_from_slice(decimal(head.body_len as u64, &mut digits));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[i..];
        }
    }
}

/// A response head that is not valid HTTP/1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadHead(pub &'static str);

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub status: u16,
    /// The headers kept (see the module documentation).
    pub headers: HeaderMap,
    /// Bytes of the head, status line to the empty line included.
    pub len: usize,
    /// How the body that follows is read.
    pub body: Decoder,
    /// The connection cannot carry another request after this response.
    pub close: bool,
}

/// The first value of header `name` (any case) in `head`, a complete response head as received
/// (kept for scripts: see [`super::Keep::Raw`]), parsed again only when a script asks.
pub(crate) fn header_value<'a>(head: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    (httparse::ParserConfig::default())
        .parse_response_with_uninit_headers(&mut response, head, &mut fields)
        .ok()?;
    (response.headers.iter())
        .find(|field| field.name.eq_ignore_ascii_case(name))
        .map(|field| field.value)
}

/// Parses the response head at the start of `input`: `Ok(None)` while it is incomplete.
/// `all_headers` keeps every header; `head_request` means the response has no body whatever its
/// headers say.
pub(crate) fn parse_response(
    input: &[u8],
    all_headers: bool,
    head_request: bool,
) -> Result<Option<ResponseHead>, BadHead> {
    // Left uninitialised: a head is parsed on every response, most have a handful of fields.
    let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        input,
        &mut fields,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(BadHead(parse_error(e))),
    };
    let status = response.code.unwrap_or(0);
    let mut headers = HeaderMap::new();
    let mut length: Option<u64> = None;
    let mut chunked = None;
    let (mut close, mut keep_alive) = (false, false);
    for f in response.headers.iter() {
        let name = f.name.as_bytes();
        let field = Field::of(name);
        match field {
            Field::ContentLength => {
                let value = content_length(f.value)?;
                if length.is_some_and(|l| l != value) {
                    return Err(BadHead("conflicting Content-Length headers"));
                }
                length = Some(value);
            }
            Field::TransferEncoding => {
                // Only the last coding decides (`gzip, chunked` is chunked).
                let last = f.value.rsplit(|&b| b == b',').next().unwrap_or_default();
                chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
            Field::Connection => {
                for token in f.value.split(|&b| b == b',') {
                    let token = token.trim_ascii();
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            Field::SetCookie | Field::Location | Field::Other => {}
        }
        let wanted = all_headers || matches!(field, Field::SetCookie | Field::Location);
        if wanted
            && let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name),
                HeaderValue::from_bytes(f.value),
            )
        {
            headers.append(name, value);
        }
    }
    // HTTP/1.0 closes unless it asks to keep the connection.
    if response.version == Some(0) && !keep_alive {
        close = true;
    }
    let body = if head_request || status < 200 || status == 204 || status == 304 {
        Decoder::Done
    } else {
        match (chunked, length) {
            (Some(true), _) => {
                // With both, the length is ignored, and the connection cannot be trusted after.
                close |= length.is_some();
                Decoder::chunked()
            }
            // A coding that is not chunked: the body runs to the end of the connection.
            (Some(false), _) | (None, None) => {
                close = true;
                Decoder::UntilClose
            }
            (None, Some(length)) => Decoder::length(length),
        }
    };
    Ok(Some(ResponseHead {
        status,
        headers,
        len,
        body,
        close,
    }))
}

/// The response header fields the client itself reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    ContentLength,
    TransferEncoding,
    Connection,
    SetCookie,
    Location,
    Other,
}

impl Field {
    /// Which field `name` (a token, as httparse checked) is, in any case. Told apart by length
    /// and first letter before any comparison: most fields of a response are none of these,
    /// and a head is parsed on every response.
    fn of(name: &[u8]) -> Field {
        let (field, lower): (Field, &[u8]) = match (name.len(), name.first().map(|b| b | 0x20)) {
            (14, Some(b'c')) => (Field::ContentLength, b"content-length"),
            (17, Some(b't')) => (Field::TransferEncoding, b"transfer-encoding"),
            (10, Some(b'c')) => (Field::Connection, b"connection"),
            (10, Some(b's')) => (Field::SetCookie, b"set-cookie"),
            (8, Some(b'l')) => (Field::Location, b"location"),
            _ => return Field::Other,
        };
        if lowercase_is(name, lower) {
            field
        } else {
            Field::Other
        }
    }
}

/// Whether token `name` is `lower` (lowercase letters and `-`) in any case. Setting bit 0x20
/// lowercases a letter, and among token characters only a letter's two cases map to a given
/// lowercase letter, and only `-` to `-`. No early exit, so the loop compiles to a few wide
/// operations.
fn lowercase_is(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len()
        && (name.iter().zip(lower)).fold(0u8, |diff, (n, l)| diff | ((n | 0x20) ^ l)) == 0
}

/// A `Content-Length` value: digits, or a list of identical ones (RFC 9110 §8.6).
fn content_length(value: &[u8]) -> Result<u64, BadHead> {
    let invalid = BadHead("invalid Content-Length header");
    let mut found = None;
    for part in value.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
            return Err(invalid);
        }
        let n = part.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        if found.is_some_and(|f| f != n) {
            return Err(BadHead("conflicting Content-Length values"));
        }
        found = Some(n);
    }
    found.ok_or(invalid)
}

fn parse_error(e: httparse::Error) -> &'static str {
    use httparse::Error as E;
    match e {
        E::HeaderName => "invalid response head: bad header name",
        E::HeaderValue => "invalid response head: bad header value",
        E::NewLine => "invalid response head: bad line ending",
        E::Status => "invalid response head: bad status code",
        E::Token => "invalid response head: bad token",
        E::TooManyHeaders => "invalid response head: more than 128 header fields",
        E::Version => "invalid response head: not an HTTP/1.x status line",
    }
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
