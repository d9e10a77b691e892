//! The HTTP client of one virtual user.
//!
//! Like a browser tab, a user owns its connections by default: one keep-alive connection per
//! origin (a user is sequential, so one is enough, and with HTTP/2 its requests go over that one
//! connection), opened on first use and reopened transparently when the server closed it. With
//! `connections: per_iteration` the user closes them when an iteration ends
//! ([`Client::end_iteration`]); with `connections: shared` it borrows one from the generator's
//! pool for each step instead (`pool`). A request that fails on a *reused* connection before any
//! response arrived (the server closed the idle connection as we sent) is sent again, once, on a
//! fresh connection and is not an error. Redirects are followed and cookies kept per user, when
//! enabled. Response bodies are streamed: counted, and never kept beyond `max_body` (`body`).

mod body;
mod conn;
mod error;
mod h1;
mod h2;
mod pool;
mod redirect;
mod request;
mod slot;
mod stream;
mod timer;
mod tls;

pub(crate) use conn::encoded_request;
pub(crate) use error::FailMsg;
pub(crate) use tls::tls_connector;

use crate::cookies::CookieJar;
use crate::prepare::{Origin, PreparedStep};
use body::BodySink;
use bytes::{Bytes, BytesMut};
use conn::{Connector, micros};
use error::Fail;
use h1::Head;
pub(crate) use h1::Keep;
use http::Method;
use http::header::{self, HeaderMap, HeaderValue};
use pool::OriginPool;
use request::Hop;
use slot::{Slot, StepTimings};
use stampede_metrics::{ErrorKind, Timings};
use stampede_scenario::{ConnectionPolicy, HttpOptions, Scheme};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};
use timer::StepTimer;
use tokio_rustls::TlsConnector;

/// Connections to origins outside the plan (redirect targets) a user keeps at most.
const MAX_EXTRA_ORIGINS: usize = 8;

/// Client settings shared by every user of a run, and the shared pool when there is one.
pub(crate) struct Shared {
    /// The plan's origins; a user's pool slot `i` is for `origins[i]`.
    origins: Vec<Arc<Origin>>,
    /// With `connections: shared`, one pool per origin of `origins`.
    pools: Option<Vec<Arc<OriginPool>>>,
    connector: Connector,
    policy: ConnectionPolicy,
    connect_timeout: Duration,
    follow_redirects: bool,
    max_redirects: u32,
    cookies: bool,
    /// Bytes of a response body kept for a step that reads it.
    max_body: usize,
}

impl Shared {
    pub fn new(http: &HttpOptions, origins: &[Arc<Origin>], tls: TlsConnector) -> Shared {
        let pools = match http.connections {
            ConnectionPolicy::Shared { pool_size } => {
                Some(origins.iter().map(|_| OriginPool::new(pool_size)).collect())
            }
            ConnectionPolicy::PerUser | ConnectionPolicy::PerIteration => None,
        };
        Shared {
            origins: origins.to_vec(),
            pools,
            connector: Connector {
                tls,
                version: http.version,
            },
            policy: http.connections,
            connect_timeout: http.connect_timeout,
            follow_redirects: http.follow_redirects,
            max_redirects: http.max_redirects,
            cookies: http.cookies,
            max_body: usize::try_from(http.max_body).unwrap_or(usize::MAX),
        }
    }
}

/// What one step produced.
#[derive(Debug)]
pub(crate) enum StepResult {
    /// The final response of the step (after redirects). `latency_us` runs from the start of the
    /// first request (before its connection was opened, if it opened one; see the crate
    /// documentation) to the end of the last body; bytes are summed over every hop.
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

/// A step's request as rendered from the user's variables (templated URL, headers or body).
#[derive(Debug)]
pub(crate) struct Rendered {
    /// A path on the target (`/...`, base path already joined) or an absolute URL.
    pub url: String,
    /// Every header to send except `Cookie` and `Host`.
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The final response of the last step, for checks, extraction and scripts (kept only when the
/// step reads it).
#[derive(Debug, Default)]
pub(crate) struct LastResponse {
    /// Where it came from (after redirects): the origin and the origin-form URI.
    pub origin: Option<Arc<Origin>>,
    pub uri: http::Uri,
    pub status: u16,
    /// Its headers: every one when the step reads them, else `Set-Cookie` and `Location`.
    pub headers: HeaderMap,
    /// The HTTP/1.1 head as received, when only a script might read a header (see
    /// [`PreparedStep::keep`]); empty otherwise. When set, it has every header.
    pub raw_head: Vec<u8>,
    /// Whether the body was longer than what was kept (`max_body`).
    pub truncated: bool,
}

impl LastResponse {
    /// The first value of its header `name` (any case): from the head as received when the
    /// client kept that instead of a header map.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        if self.raw_head.is_empty() {
            stampede_script::Headers::get(&self.headers, name)
        } else {
            h1::header_value(&self.raw_head, name)
        }
    }

    /// The URL it came from, as `scheme://host[:port]/path?query` (built on demand: only
    /// resource fetching needs it).
    pub fn url(&self) -> String {
        match &self.origin {
            Some(origin) => {
                let scheme = if origin.is_https() { "https" } else { "http" };
                format!("{scheme}://{}{}", origin.authority, self.uri)
            }
            None => self.uri.to_string(),
        }
    }
}

/// A virtual user's client.
pub(crate) struct Client {
    shared: Arc<Shared>,
    /// Indexed like `shared.origins`, then redirect targets.
    slots: Vec<Slot>,
    jar: Option<CookieJar>,
    /// Per step id: the `Cookie` header built at a jar generation.
    cookie_cache: Vec<Option<(u64, Option<HeaderValue>)>>,
    /// Phases of the last step executed.
    timings: StepTimings,
    /// The kept prefix of the last response body of a step that reads it (at most `max_body`
    /// bytes; reused from step to step).
    body: BytesMut,
    /// Head of the last response of a step that reads it.
    last: LastResponse,
    /// Headers of the step being executed, when rendered per request.
    headers: Option<HeaderMap>,
    /// The step timeout, kept from request to request: a new timer per request took the timer
    /// wheel's lock twice (~250 instructions per request under callgrind), and [`StepTimer`]
    /// moves its timer only when it fires. Created on the first request.
    timeout: Option<StepTimer>,
}

impl Client {
    pub fn new(shared: Arc<Shared>, step_count: usize) -> Client {
        let slots = shared
            .origins
            .iter()
            .enumerate()
            .map(|(i, origin)| {
                let pool = shared.pools.as_ref().map(|pools| pools[i].clone());
                Slot::new(origin.clone(), pool)
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
            timings: StepTimings::default(),
            body: BytesMut::new(),
            last: LastResponse::default(),
            headers: None,
            timeout: None,
        }
    }

    /// The kept body prefix and head of the last response of a step that reads them.
    pub fn last_response(&self) -> (&[u8], &LastResponse) {
        (&self.body, &self.last)
    }

    /// Runs a step whose URL, headers or body were rendered for this request. A URL that does
    /// not parse is a `BadRequest`-like error (`Io` kind with a clear message), not a panic.
    pub async fn execute_rendered(
        &mut self,
        step: &PreparedStep,
        rendered: Rendered,
    ) -> StepResult {
        let (slot, uri) = match self.resolve(&rendered.url) {
            Ok(found) => found,
            Err(message) => {
                return StepResult::Error {
                    kind: ErrorKind::Io,
                    bytes_out: 0,
                    message: FailMsg::Owned(message),
                };
            }
        };
        let mut headers = rendered.headers;
        // The host of the rendered URL, unless the plan sets `Host` itself.
        if !step.dynamic.as_ref().is_some_and(|d| d.plan_host) {
            headers.insert(header::HOST, self.slots[slot].origin.host_header.clone());
        }
        self.headers = Some(headers);
        let result = (self.execute_at(step, slot, Cow::Owned(uri), rendered.body)).await;
        self.headers = None;
        result
    }

    /// The slot and origin-form URI of a rendered URL.
    fn resolve(&mut self, url: &str) -> Result<(usize, http::Uri), String> {
        let bad = |e: &str| format!("invalid URL {url:?}: {e}");
        match crate::prepare::split_url(url).map_err(|e| bad(&e))? {
            (None, uri) => Ok((0, uri)),
            (Some((scheme, host, port)), uri) => {
                let slot = self.slot_for(scheme, &host, port);
                Ok((slot.ok_or_else(|| bad("invalid host"))?, uri))
            }
        }
    }

    /// Runs one step (following redirects) within its timeout. Never fails: failures are data.
    pub async fn execute(&mut self, step: &PreparedStep) -> StepResult {
        let uri = Cow::Borrowed(&step.uri);
        (self.execute_at(step, step.origin, uri, step.body.clone())).await
    }

    async fn execute_at(
        &mut self,
        step: &PreparedStep,
        slot: usize,
        uri: Cow<'_, http::Uri>,
        body: Bytes,
    ) -> StepResult {
        self.timings = StepTimings::default();
        // One clock read for the step's start and its deadline.
        let now = tokio::time::Instant::now();
        let deadline = now + step.timeout;
        let mut bytes_out = 0;
        let first = Hop {
            cookie: self.cookie_for_first(step, slot, &uri),
            redirected: false,
            slot,
            method: step.method.clone(),
            uri,
            body,
            body_dropped: false,
            cross_origin: false,
        };
        let mut timeout = match self.timeout.take() {
            Some(mut timer) => {
                timer.arm(deadline);
                timer
            }
            None => StepTimer::new(deadline),
        };
        let result = {
            let mut work = std::pin::pin!(self.run(step, first, now.into_std(), &mut bytes_out));
            std::future::poll_fn(|cx| timeout.poll_bound(work.as_mut(), cx)).await
        };
        self.timeout = Some(timeout);
        let result = match result {
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
                // The request in flight was abandoned mid-way.
                self.slots.iter_mut().for_each(Slot::abandon);
                StepResult::Error {
                    kind: ErrorKind::Timeout,
                    bytes_out,
                    message: FailMsg::Text("request timed out"),
                }
            }
        };
        self.slots.iter_mut().for_each(Slot::release);
        result
    }

    /// Connect, TLS and time-to-first-byte of the last step, when it got a response.
    pub fn timings(&self) -> Option<Timings> {
        self.timings.get()
    }

    /// The user finished an iteration: with `connections: per_iteration` its connections are
    /// closed, so the next iteration opens new ones.
    pub fn end_iteration(&mut self) {
        if self.shared.policy == ConnectionPolicy::PerIteration {
            self.slots.iter_mut().for_each(Slot::discard);
        }
    }

    /// Returns (final status, latency µs, bytes in).
    /// `now` is when the step began.
    async fn run(
        &mut self,
        step: &PreparedStep,
        first: Hop<'_>,
        now: Instant,
        bytes_out: &mut u64,
    ) -> Result<(u16, u64, u64), Fail> {
        let mut hop = first;
        let mut started = None;
        let mut bytes_in = 0;
        let mut redirects = 0;
        loop {
            let mut head = (self.round_trip(step, &hop, now, &mut started, bytes_out)).await?;
            let first_byte = started.map_or(Duration::ZERO, |s: Instant| s.elapsed());
            self.timings.first_byte(micros(first_byte));
            bytes_in += head.len;
            self.store_cookies(&head.headers, hop.slot, hop.uri.path());
            let mut sink = if step.reads_body {
                BodySink::keep(&mut self.body, self.shared.max_body)
            } else {
                BodySink::count()
            };
            let slot = &mut self.slots[hop.slot];
            let conn = slot
                .conn
                .as_mut()
                .expect("a response came from this connection");
            let read = conn.read_body(&mut sink).await;
            bytes_in += sink.received;
            let sink_truncated = sink.truncated();
            let waited = match read {
                Ok(waited) => waited,
                Err(e) => {
                    slot.failed();
                    return Err(Fail::http(e));
                }
            };
            let status = head.status;
            let redirect_to = self.shared.follow_redirects
                && redirects < self.shared.max_redirects
                && redirect::is_redirect(status)
                && head.headers.contains_key(header::LOCATION);
            if !redirect_to && (step.reads_body || step.keep != Keep::Cookies) {
                self.last.status = status;
                self.last.truncated = sink_truncated;
                // The final response: its headers and URI are not needed here any more.
                self.last.headers = std::mem::take(&mut head.headers);
                self.last.raw_head = std::mem::take(&mut head.raw);
                self.last.origin = Some(self.slots[hop.slot].origin.clone());
                self.last.uri = std::mem::take(&mut hop.uri).into_owned();
            }
            if self.shared.follow_redirects
                && redirects < self.shared.max_redirects
                && redirect::is_redirect(status)
                && let Some(location) = head.headers.get(header::LOCATION)
            {
                hop = self.redirect(&hop, status, location)?;
                redirects += 1;
                continue;
            }
            // A body that came with its head ended when the head arrived: no second clock read.
            let latency = if waited {
                started.map_or(Duration::ZERO, |s: Instant| s.elapsed())
            } else {
                first_byte
            };
            return Ok((status, micros(latency), bytes_in));
        }
    }

    /// Sends one hop and returns its response head, retrying once on a fresh connection when a
    /// reused one turns out to have been closed by the server.
    async fn round_trip(
        &mut self,
        step: &PreparedStep,
        hop: &Hop<'_>,
        now: Instant,
        started: &mut Option<Instant>,
        bytes_out: &mut u64,
    ) -> Result<Head, Fail> {
        let mut counted = false;
        loop {
            let slot = &mut self.slots[hop.slot];
            let shared = &self.shared;
            let opened = slot
                .acquire(
                    &shared.connector,
                    shared.connect_timeout,
                    now,
                    started,
                    &mut self.timings,
                )
                .await?;
            let conn = slot.conn.as_mut().expect("just acquired");
            // The step's own request, as the plan has it (not rendered, no cookie to add): it was
            // encoded when the plan was prepared.
            let encoded = match (&self.headers, hop.redirected, &hop.cookie) {
                (None, false, None) => step.encoded.as_deref(),
                _ => None,
            };
            let headers = self.headers.as_ref().unwrap_or(&step.headers);
            let (size, sent) = (conn.send(hop, headers, &slot.origin, step.keep, encoded)).await;
            if !counted {
                *bytes_out += size;
                counted = true;
            }
            match sent {
                Ok(head) => return Ok(head),
                Err(e) => {
                    slot.failed();
                    // A fresh connection is not retried, so this retries at most once.
                    if !opened && error::is_stale_connection(&e) {
                        continue;
                    }
                    return Err(Fail::http(e));
                }
            }
        }
    }

    /// The next hop of a redirect.
    fn redirect<'s>(
        &mut self,
        hop: &Hop<'_>,
        status: u16,
        location: &HeaderValue,
    ) -> Result<Hop<'s>, Fail> {
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
            redirected: true,
            slot,
            method,
            uri: Cow::Owned(target.uri),
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
        let slot = Slot::new(origin, None);
        if self.slots.len() - fixed < MAX_EXTRA_ORIGINS {
            self.slots.push(slot);
            Some(self.slots.len() - 1)
        } else {
            self.slots.remove(fixed);
            self.slots.push(slot);
            Some(self.slots.len() - 1)
        }
    }

    /// The `Cookie` header of a step's first request.
    fn cookie_for_first(
        &mut self,
        step: &PreparedStep,
        slot: usize,
        uri: &http::Uri,
    ) -> Option<HeaderValue> {
        if slot == step.origin && self.headers.is_none() {
            return self.step_cookie(step);
        }
        if self.jar.as_ref().is_none_or(CookieJar::is_empty) {
            return None;
        }
        self.cookie_for(slot, uri.path())
    }

    /// The `Cookie` header of a step's first request, cached until the jar changes.
    fn step_cookie(&mut self, step: &PreparedStep) -> Option<HeaderValue> {
        let jar = self.jar.as_mut()?;
        // An empty jar (most runs) costs no clock read on the per-request path.
        if jar.is_empty() {
            return None;
        }
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

    /// The user's cookie jar (`None` when cookies are off).
    pub fn jar(&self) -> Option<&CookieJar> {
        self.jar.as_ref()
    }

    /// Replaces the cookie jar (a copy of the user's, for a connection fetching resources).
    pub fn set_jar(&mut self, jar: Option<CookieJar>) {
        self.jar = jar;
        // Cached headers were built from the old jar, whose generations mean nothing here.
        self.cookie_cache.fill(None);
    }

    /// Takes in what another connection of the same user changed in its copy of the jar (see
    /// [`CookieJar::apply_changes`]).
    pub fn apply_cookie_changes(&mut self, before: &CookieJar, after: &CookieJar) {
        if let Some(jar) = self.jar.as_mut() {
            jar.apply_changes(before, after);
        }
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
