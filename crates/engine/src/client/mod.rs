//! The HTTP/1.1 client of one virtual user.
//!
//! Like a browser tab, a user owns its connections: one keep-alive connection per origin (a user
//! is sequential, so one is enough), opened on first use and reopened transparently when the
//! server closed it. A request that fails on a *reused* connection before any response arrived
//! (the server closed the idle connection as we sent) is sent again, once, on a fresh connection
//! and is not an error. Redirects are followed and cookies kept per user, when enabled.

mod conn;
mod error;
mod redirect;
mod tls;

pub(crate) use error::FailMsg;
pub(crate) use tls::tls_connector;

use crate::cookies::CookieJar;
use crate::prepare::{Origin, PreparedStep};
use bytes::Bytes;
use conn::{Conn, RequestBody};
use error::Fail;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, Uri};
use hyper::body::Incoming;
use stampede_metrics::ErrorKind;
use stampede_scenario::{HttpOptions, Scheme};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::TlsConnector;

/// Connections to origins outside the plan (redirect targets) a user keeps at most.
const MAX_EXTRA_ORIGINS: usize = 8;

/// Client settings shared by every user of a run.
pub(crate) struct Shared {
    /// The plan's origins; a user's pool slot `i` is for `origins[i]`.
    origins: Vec<Arc<Origin>>,
    tls: TlsConnector,
    connect_timeout: Duration,
    follow_redirects: bool,
    max_redirects: u32,
    cookies: bool,
}

impl Shared {
    pub fn new(http: &HttpOptions, origins: &[Arc<Origin>], tls: TlsConnector) -> Shared {
        Shared {
            origins: origins.to_vec(),
            tls,
            connect_timeout: http.connect_timeout,
            follow_redirects: http.follow_redirects,
            max_redirects: http.max_redirects,
            cookies: http.cookies,
        }
    }
}

/// What one step produced.
#[derive(Debug)]
pub(crate) enum StepResult {
    /// The final response of the step (after redirects). `latency_us` runs from just before the
    /// first request was handed to its connection to the end of the last body; bytes are summed
    /// over every hop (see the crate documentation for how they are counted).
    Response {
        status: u16,
        latency_us: u64,
        bytes_in: u64,
        bytes_out: u64,
    },
    /// No response: the transport failed, or the step's deadline passed.
    Error {
        kind: ErrorKind,
        bytes_out: u64,
        message: FailMsg,
    },
}

struct Slot {
    origin: Arc<Origin>,
    conn: Option<Conn>,
}

/// One request of a step: the step itself, or a redirect.
struct Hop {
    slot: usize,
    method: Method,
    uri: Uri,
    body: Bytes,
    cookie: Option<HeaderValue>,
    /// A redirect turned the request into a body-less `GET`.
    body_dropped: bool,
    /// A redirect left the step's origin at some point: `Authorization` is not sent any more.
    cross_origin: bool,
}

/// A virtual user's client.
pub(crate) struct Client {
    shared: Arc<Shared>,
    /// Indexed like `shared.origins`, then redirect targets.
    slots: Vec<Slot>,
    jar: Option<CookieJar>,
    /// Per step id: the `Cookie` header built at a jar generation.
    cookie_cache: Vec<Option<(u64, Option<HeaderValue>)>>,
}

impl Client {
    pub fn new(shared: Arc<Shared>, step_count: usize) -> Client {
        let slots = shared
            .origins
            .iter()
            .map(|origin| Slot {
                origin: origin.clone(),
                conn: None,
            })
            .collect();
        let jar = shared.cookies.then(CookieJar::new);
        let cookie_cache = if shared.cookies {
            (0..step_count).map(|_| None).collect()
        } else {
            Vec::new()
        };
        Client {
            shared,
            slots,
            jar,
            cookie_cache,
        }
    }

    /// Runs one step (following redirects) within its timeout. Never fails: failures are data.
    pub async fn execute(&mut self, step: &PreparedStep) -> StepResult {
        let deadline = tokio::time::Instant::now() + step.timeout;
        let mut bytes_out = 0;
        match tokio::time::timeout_at(deadline, self.run(step, &mut bytes_out)).await {
            Ok(Ok((status, latency_us, bytes_in))) => StepResult::Response {
                status,
                latency_us,
                bytes_in,
                bytes_out,
            },
            Ok(Err(fail)) => StepResult::Error {
                kind: fail.kind,
                bytes_out,
                message: fail.message,
            },
            Err(_) => {
                // The request in flight was abandoned mid-way: its connection is unusable.
                for slot in &mut self.slots {
                    if slot.conn.as_ref().is_some_and(Conn::busy) {
                        slot.conn = None;
                    }
                }
                StepResult::Error {
                    kind: ErrorKind::Timeout,
                    bytes_out,
                    message: FailMsg::Text("request timed out"),
                }
            }
        }
    }

    /// Returns (final status, latency µs, bytes in).
    async fn run(
        &mut self,
        step: &PreparedStep,
        bytes_out: &mut u64,
    ) -> Result<(u16, u64, u64), Fail> {
        let mut hop = Hop {
            slot: step.origin,
            method: step.method.clone(),
            uri: step.uri.clone(),
            body: step.body.clone(),
            cookie: self.step_cookie(step),
            body_dropped: false,
            cross_origin: false,
        };
        let mut started = None;
        let mut bytes_in = 0;
        let mut redirects = 0;
        loop {
            let response = self.round_trip(step, &hop, &mut started, bytes_out).await?;
            let (head, mut body) = response.into_parts();
            bytes_in += response_head_len(&head);
            self.store_cookies(&head.headers, hop.slot, hop.uri.path());
            let slot = &mut self.slots[hop.slot];
            let conn = slot
                .conn
                .as_mut()
                .expect("a response came from this connection");
            match conn.read_body(&mut body).await {
                Ok(n) => bytes_in += n,
                Err(e) => {
                    slot.conn = None;
                    return Err(Fail::http(e));
                }
            }
            let status = head.status.as_u16();
            if self.shared.follow_redirects
                && redirects < self.shared.max_redirects
                && redirect::is_redirect(status)
                && let Some(location) = head.headers.get(header::LOCATION)
            {
                hop = self.redirect(&hop, status, location)?;
                redirects += 1;
                continue;
            }
            let latency = started.map_or(Duration::ZERO, |s: Instant| s.elapsed());
            let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            return Ok((status, latency_us, bytes_in));
        }
    }

    /// Sends one hop and returns its response head, retrying once on a fresh connection when a
    /// reused one turns out to have been closed by the server.
    async fn round_trip(
        &mut self,
        step: &PreparedStep,
        hop: &Hop,
        started: &mut Option<Instant>,
        bytes_out: &mut u64,
    ) -> Result<Response<Incoming>, Fail> {
        let mut counted = false;
        loop {
            let reused = self.acquire(hop.slot).await?;
            let request = hop.request(step, &self.slots[hop.slot].origin);
            if !counted {
                *bytes_out += request_len(&request, hop.body.len());
                counted = true;
            }
            started.get_or_insert_with(Instant::now);
            let slot = &mut self.slots[hop.slot];
            let conn = slot.conn.as_mut().expect("just acquired");
            match conn.send(request).await {
                Ok(response) => return Ok(response),
                Err(e) => {
                    slot.conn = None;
                    // A fresh connection is never reused, so this retries at most once.
                    if reused && error::is_stale_connection(&e) {
                        continue;
                    }
                    return Err(Fail::http(e));
                }
            }
        }
    }

    /// Makes sure slot `i` has a usable connection; returns whether it is a reused one.
    async fn acquire(&mut self, i: usize) -> Result<bool, Fail> {
        let slot = &mut self.slots[i];
        if let Some(conn) = &mut slot.conn {
            if conn.usable().await {
                return Ok(conn.reused());
            }
            slot.conn = None;
        }
        let open = Conn::open(&slot.origin, &self.shared.tls);
        match tokio::time::timeout(self.shared.connect_timeout, open).await {
            Ok(conn) => slot.conn = Some(conn?),
            Err(_) => {
                return Err(Fail::text(ErrorKind::ConnectTimeout, "connect timed out"));
            }
        }
        Ok(false)
    }

    /// The next hop of a redirect.
    fn redirect(&mut self, hop: &Hop, status: u16, location: &HeaderValue) -> Result<Hop, Fail> {
        let invalid = || Fail::text(ErrorKind::BadResponse, "invalid redirect location");
        let scheme = self.slots[hop.slot].origin.scheme;
        let target =
            redirect::resolve(scheme, hop.uri.path(), location.as_bytes()).ok_or_else(invalid)?;
        let slot = match &target.origin {
            None => hop.slot,
            Some((scheme, host, port)) => {
                self.slot_for(*scheme, host, *port).ok_or_else(invalid)?
            }
        };
        let keep = matches!(status, 307 | 308);
        let (method, body, body_dropped) = if keep {
            (hop.method.clone(), hop.body.clone(), hop.body_dropped)
        } else if hop.method == Method::HEAD {
            (Method::HEAD, Bytes::new(), true)
        } else {
            (Method::GET, Bytes::new(), true)
        };
        let cookie = self.cookie_for(slot, target.uri.path());
        Ok(Hop {
            slot,
            method,
            uri: target.uri,
            body,
            cookie,
            body_dropped,
            cross_origin: hop.cross_origin || slot != hop.slot,
        })
    }

    /// The slot for an origin, added (replacing the oldest extra one when full) if new.
    fn slot_for(&mut self, scheme: Scheme, host: &str, port: u16) -> Option<usize> {
        if let Some(i) = self
            .slots
            .iter()
            .position(|s| s.origin.is(scheme, host, port))
        {
            return Some(i);
        }
        let origin = Arc::new(Origin::new(scheme, host, port).ok()?);
        let fixed = self.shared.origins.len();
        let slot = Slot { origin, conn: None };
        if self.slots.len() - fixed < MAX_EXTRA_ORIGINS {
            self.slots.push(slot);
            Some(self.slots.len() - 1)
        } else {
            self.slots.remove(fixed);
            self.slots.push(slot);
            Some(self.slots.len() - 1)
        }
    }

    /// The `Cookie` header of a step's first request, cached until the jar changes.
    fn step_cookie(&mut self, step: &PreparedStep) -> Option<HeaderValue> {
        let jar = self.jar.as_mut()?;
        jar.expire(Instant::now());
        if jar.is_empty() {
            return None;
        }
        let generation = jar.generation();
        if let Some((g, value)) = &self.cookie_cache[step.id]
            && *g == generation
        {
            return value.clone();
        }
        let origin = &self.slots[step.origin].origin;
        let value = jar.header(&origin.host, step.uri.path(), origin.is_https());
        self.cookie_cache[step.id] = Some((generation, value.clone()));
        value
    }

    fn cookie_for(&mut self, slot: usize, path: &str) -> Option<HeaderValue> {
        let jar = self.jar.as_mut()?;
        jar.expire(Instant::now());
        let origin = &self.slots[slot].origin;
        jar.header(&origin.host, path, origin.is_https())
    }

    fn store_cookies(&mut self, headers: &HeaderMap, slot: usize, path: &str) {
        let Some(jar) = self.jar.as_mut() else {
            return;
        };
        let mut set_cookies = headers.get_all(header::SET_COOKIE).iter().peekable();
        if set_cookies.peek().is_none() {
            return;
        }
        let now = Instant::now();
        let host = &self.slots[slot].origin.host;
        for value in set_cookies {
            jar.store(value, host, path, now);
        }
    }
}

impl Hop {
    fn request(&self, step: &PreparedStep, origin: &Origin) -> Request<RequestBody> {
        let mut request = Request::new(RequestBody::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        *headers = step.headers.clone();
        if self.slot != step.origin {
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
fn response_head_len(head: &http::response::Parts) -> u64 {
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
