//! One request as sent: the hop of a step (the step itself, or a redirect), how it is built for
//! HTTP/1.1 (a head the engine encodes itself) or HTTP/2 (a request for hyper), and how an HTTP/2
//! request's size and its response head's size are counted.

use super::h1::{RequestHead, WriteBuf, encode_request};
use crate::prepare::Origin;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{Parts, Scheme};
use http::{Method, Request, Uri, Version};
use http_body_util::Full;
use std::borrow::Cow;

/// The body of a request given to hyper (HTTP/2).
pub(crate) type RequestBody = Full<Bytes>;

/// One request of a step: the step itself, or a redirect.
pub(crate) struct Hop<'s> {
    pub slot: usize,
    pub method: Method,
    /// The step's own URI (not copied for each request), or a rendered or redirect one.
    pub uri: Cow<'s, Uri>,
    pub body: Bytes,
    pub cookie: Option<HeaderValue>,
    /// A redirect turned the request into a body-less `GET`.
    pub body_dropped: bool,
    /// A redirect left the step's origin at some point: `Authorization` is not sent any more.
    pub cross_origin: bool,
    /// This hop follows a redirect (it is not the step's own request).
    pub redirected: bool,
}

impl Hop<'_> {
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
    /// `:authority` pseudo-headers) and `Host` is dropped. The size is that of the same request
    /// encoded for HTTP/1.1: HPACK-compressed HTTP/2 heads are not measured.
    pub fn h2_request(&self, own: &HeaderMap, origin: &Origin) -> (Request<RequestBody>, u64) {
        let mut h1 = WriteBuf::take();
        encode_request(&self.h1_head(own, origin), h1.vec());
        let size = (h1.bytes().len() + self.body.len()) as u64;
        let mut request = Request::new(RequestBody::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.version_mut() = Version::HTTP_2;
        let mut parts = Parts::default();
        parts.scheme = Some(if origin.is_https() {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        });
        parts.authority = Some(origin.authority.clone());
        parts.path_and_query = self.uri.path_and_query().cloned();
        *request.uri_mut() = Uri::from_parts(parts).unwrap_or_else(|_| Uri::clone(&self.uri));
        let headers = request.headers_mut();
        *headers = own.clone();
        headers.remove(header::HOST);
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
        (request, size)
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
