//! One request as sent: the hop of a step (the step itself, or a redirect), how it is built for
//! HTTP/1.1 (a head the engine encodes itself) or HTTP/2 (a request for hyper), and how an HTTP/2
//! request's size and its response head's size are counted.

use super::h1::RequestHead;
use crate::prepare::{Origin, PreparedStep};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{Parts, Scheme};
use http::{Method, Request, Uri, Version};
use http_body_util::Full;

/// The body of a request given to hyper (HTTP/2).
pub(crate) type RequestBody = Full<Bytes>;

/// One request of a step: the step itself, or a redirect.
pub(crate) struct Hop {
    pub slot: usize,
    pub method: Method,
    pub uri: Uri,
    pub body: Bytes,
    pub cookie: Option<HeaderValue>,
    /// A redirect turned the request into a body-less `GET`.
    pub body_dropped: bool,
    /// A redirect left the step's origin at some point: `Authorization` is not sent any more.
    pub cross_origin: bool,
    /// This hop follows a redirect (it is not the step's own request).
    pub redirected: bool,
}

impl Hop {
    /// What the HTTP/1.1 head of this hop is made of. `headers` are the step's (`step.headers`) or
    /// rendered for this request, `Host` included.
    pub fn h1_head<'a>(&'a self, headers: &'a HeaderMap, origin: &'a Origin) -> RequestHead<'a> {
        // The step's own request carries the `Host` of its headers (its URL's, or the plan's);
        // a redirect names its origin.
        let host = if self.redirected {
            None
        } else {
            headers.get(header::HOST)
        };
        RequestHead {
            method: &self.method,
            target: self.uri.path_and_query().map_or("/", |p| p.as_str()),
            host: host.unwrap_or(&origin.host_header),
            headers,
            drop_authorization: self.cross_origin,
            drop_content_type: self.body_dropped,
            cookie: self.cookie.as_ref(),
            body_len: self.body.len(),
        }
    }

    /// The HTTP/2 request of this hop, and its size as counted in `bytes_out`.
    ///
    /// The target is an absolute URI (hyper sends its scheme and authority as the `:scheme` and
    /// `:authority` pseudo-headers) and `Host` is dropped. The size is the HTTP/1.1 form's:
    /// HPACK-compressed HTTP/2 heads are not measured.
    pub fn h2_request(
        &self,
        step: &PreparedStep,
        headers: &HeaderMap,
        origin: &Origin,
    ) -> (Request<RequestBody>, u64) {
        let mut request = self.http_request(step, headers, origin);
        let size = request_len(&request, self.body.len());
        *request.version_mut() = Version::HTTP_2;
        request.headers_mut().remove(header::HOST);
        let mut parts = Parts::default();
        parts.scheme = Some(if origin.is_https() {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        });
        parts.authority = Some(origin.authority.clone());
        parts.path_and_query = self.uri.path_and_query().cloned();
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
        (request, size)
    }

    /// The request in HTTP/1.1 form (`Host` set), as an `http::Request`.
    fn http_request(
        &self,
        step: &PreparedStep,
        own: &HeaderMap,
        origin: &Origin,
    ) -> Request<RequestBody> {
        let mut request = Request::new(RequestBody::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        *headers = own.clone();
        if self.slot != step.origin || !std::ptr::eq(own, &step.headers) {
            headers.insert(header::HOST, origin.host_header.clone());
        }
        if self.cross_origin {
            headers.remove(header::AUTHORIZATION);
        }
        if self.body_dropped {
            headers.remove(header::CONTENT_TYPE);
            headers.remove(header::CONTENT_LENGTH);
        }
        if let Some(cookie) = &self.cookie {
            add_cookie(headers, cookie);
        }
        request
    }
}

/// Adds the jar's cookies, after any `Cookie` header the plan sets itself (one header in all).
fn add_cookie(headers: &mut HeaderMap, cookie: &HeaderValue) {
    match headers.get(header::COOKIE) {
        None => {
            headers.insert(header::COOKIE, cookie.clone());
        }
        Some(own) => {
            let mut joined = own.as_bytes().to_vec();
            joined.extend_from_slice(b"; ");
            joined.extend_from_slice(cookie.as_bytes());
            if let Ok(value) = HeaderValue::from_bytes(&joined) {
                headers.insert(header::COOKIE, value);
            }
        }
    }
}

/// Size of the request as written: request line, headers, blank line, body.
fn request_len(request: &Request<RequestBody>, body_len: usize) -> u64 {
    let target = request
        .uri()
        .path_and_query()
        .map_or(1, |p| p.as_str().len());
    // "METHOD target HTTP/1.1\r\n"
    let line = request.method().as_str().len() + 1 + target + 11;
    (line + headers_len(request.headers()) + 2 + body_len) as u64
}

/// Size of a response head reconstructed from its parts (exact for canonical formatting).
pub(crate) fn response_head_len(head: &http::response::Parts) -> u64 {
    let reason = match head.extensions.get::<hyper::ext::ReasonPhrase>() {
        Some(reason) => reason.as_bytes().len(),
        None => head.status.canonical_reason().map_or(0, str::len),
    };
    // "HTTP/1.1 200 " + reason + "\r\n"
    let line = 13 + reason + 2;
    (line + headers_len(&head.headers) + 2) as u64
}

/// `name: value\r\n` for every header.
fn headers_len(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}
