//! Dev-only helpers for Stampede's tests: a real HTTP/1.1 target server on `127.0.0.1:0` that
//! counts what it receives, and a way to get a port nobody listens on.
//!
//! ```no_run
//! # async fn demo() {
//! let target = stampede_testkit::TestTarget::start().await;
//! let url = format!("{}/status/201", target.url());
//! // ... send load to `url` ...
//! assert_eq!(target.count("/status/201"), 0);
//! target.shutdown().await;
//! # }
//! ```
//!
//! # Routes
//!
//! Recognised by path (the query is ignored unless stated); every request is counted when its head
//! arrives, before the route runs.
//!
//! | Path | Response |
//! |------|----------|
//! | `/status/{code}` | that status code (200..=999), body `status {code}` (empty for 204 and 304); 1xx and invalid codes give `400` |
//! | `/delay/{ms}` | waits `ms` milliseconds, then `200 ok` |
//! | `/set-cookie/{name}/{value}` | `200`, `Set-Cookie: name=value; Path=/`; query pairs are appended as attributes (`?Max-Age=0&Path=/a` → `; Max-Age=0; Path=/a`, replacing the default `Path=/`) |
//! | `/redirect/{n}` | `302` to `/redirect/{n-1}`; `/redirect/0` is `200 ok` |
//! | `/redirect-to?url={url}` | `302` to `url`, taken verbatim (not percent-decoded) |
//! | `/bytes/{n}` | `200` with a body of exactly `n` bytes (capped at 64 MiB) |
//! | `/stream/{n}` | `200` with a body of exactly `n` bytes (no cap), generated lazily in 64 KiB chunks as the client reads, so the server holds no more than one chunk |
//! | `/stall` | `200` head and one body byte, then nothing more: the body never ends |
//! | anything else | `200 ok` |
//!
//! # Protocols
//!
//! [`TestTarget::start`] speaks HTTP/1.1; [`TestTarget::start_h2c`] cleartext HTTP/2 with prior
//! knowledge; [`TestTarget::start_tls`] TLS with a given server configuration, where ALPN picks
//! HTTP/2 (`h2`) or HTTP/1.1. [`TestTarget::versions`] tells which version each request used.

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

mod lazy;
use lazy::LazyBody;

mod app;
pub use app::{AppSeen, CartAdd, MAX_LOGGED_REQUESTS, Order, SeenRequest, ShopApp};

/// Largest body `/bytes/{n}` serves.
const MAX_BYTES: usize = 64 << 20;

/// What the target has seen so far.
#[derive(Debug, Default)]
struct Seen {
    /// Requests per path (without query).
    counts: BTreeMap<String, u64>,
    /// Requests per (method, path).
    by_method: BTreeMap<(String, String), u64>,
    /// `Cookie` header values per path (only requests that carried one; repeated headers joined
    /// with `; `).
    cookies: BTreeMap<String, Vec<String>>,
    /// Arrival instant of every request per path.
    arrivals: BTreeMap<String, Vec<Instant>>,
    /// TCP connections accepted.
    connections: u64,
    /// Connections accepted per peer IP address.
    peers: BTreeMap<std::net::IpAddr, u64>,
    /// Requests per HTTP version (`HTTP/1.1`, `HTTP/2.0`).
    versions: BTreeMap<String, u64>,
}

/// How a [`TestTarget`] speaks.
#[derive(Clone)]
enum Mode {
    Http1,
    H2c,
    Tls(tokio_rustls::TlsAcceptor),
}

/// A counting HTTP/1.1 server on `127.0.0.1` (keep-alive enabled). Stops on [`TestTarget::shutdown`]
/// or when dropped.
#[derive(Debug)]
pub struct TestTarget {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl TestTarget {
    /// Binds `127.0.0.1:0` and starts serving on the current Tokio runtime.
    ///
    /// # Panics
    /// If the listener cannot be bound.
    pub async fn start() -> TestTarget {
        Self::start_mode(Mode::Http1).await
    }

    /// Like [`TestTarget::start`], but speaking cleartext HTTP/2 with prior knowledge (h2c) only.
    pub async fn start_h2c() -> TestTarget {
        Self::start_mode(Mode::H2c).await
    }

    /// Like [`TestTarget::start`], but over TLS with `config`; the protocol is the one ALPN
    /// agreed (`h2` → HTTP/2, anything else → HTTP/1.1), so set `config.alpn_protocols` to what
    /// the server should offer. [`TestTarget::url`] stays `http://`: build `https://` URLs from
    /// [`TestTarget::addr`].
    pub async fn start_tls(config: Arc<tokio_rustls::rustls::ServerConfig>) -> TestTarget {
        Self::start_mode(Mode::Tls(tokio_rustls::TlsAcceptor::from(config))).await
    }

    /// Serves HTTP/1.1 on a listener the caller bound, e.g. in a network namespace the test
    /// created (a socket stays in the namespace it was made in). Call within a Tokio runtime.
    ///
    /// # Panics
    /// If the listener cannot be made non-blocking or handed to Tokio.
    pub fn serve(listener: std::net::TcpListener) -> TestTarget {
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let listener = TcpListener::from_std(listener).expect("a Tokio listener");
        Self::serve_mode(listener, Mode::Http1)
    }

    async fn start_mode(mode: Mode) -> TestTarget {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind 127.0.0.1:0");
        Self::serve_mode(listener, mode)
    }

    fn serve_mode(listener: TcpListener, mode: Mode) -> TestTarget {
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, seen.clone(), stop.clone(), mode));
        TestTarget {
            addr,
            seen,
            stop,
            task: Some(task),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received for `path` (path only, without query).
    pub fn count(&self, path: &str) -> u64 {
        self.seen().counts.get(path).copied().unwrap_or(0)
    }

    /// Requests received per path.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.seen().counts.clone()
    }

    /// Requests received with this method (e.g. `"POST"`) for `path`.
    pub fn method_count(&self, method: &str, path: &str) -> u64 {
        let key = (method.to_owned(), path.to_owned());
        self.seen().by_method.get(&key).copied().unwrap_or(0)
    }

    /// Requests received in total.
    pub fn total(&self) -> u64 {
        self.seen().counts.values().sum()
    }

    /// The `Cookie` header values received on `path`, in arrival order; requests without a
    /// `Cookie` header are not listed.
    pub fn cookies(&self, path: &str) -> Vec<String> {
        self.seen().cookies.get(path).cloned().unwrap_or_default()
    }

    /// When each request for `path` arrived (head parsed), in arrival order.
    pub fn arrivals(&self, path: &str) -> Vec<Instant> {
        self.seen().arrivals.get(path).cloned().unwrap_or_default()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.seen().connections
    }

    /// Connections accepted per peer IP address (where the load came from).
    pub fn peers(&self) -> BTreeMap<std::net::IpAddr, u64> {
        self.seen().peers.clone()
    }

    /// Requests received per HTTP version, as `HTTP/1.1` or `HTTP/2.0`.
    pub fn versions(&self) -> BTreeMap<String, u64> {
        self.seen().versions.clone()
    }

    /// Stops accepting, closes every connection, and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for TestTarget {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A TCP port on `127.0.0.1` that nothing listens on (bound, read, then released), for
/// connection-refused tests.
///
/// # Panics
/// If no port can be bound.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    listener.local_addr().expect("local addr").port()
}

async fn accept_loop(
    listener: TcpListener,
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
    mode: Mode,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
        };
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        {
            let mut seen = lock(&seen);
            seen.connections += 1;
            *seen.peers.entry(peer.ip()).or_default() += 1;
        }
        let seen = seen.clone();
        let stop = stop.clone();
        let mode = mode.clone();
        connections.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = serve(stream, seen, mode) => {}
            }
        });
        // Reap finished connection tasks so a long test does not accumulate them.
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
}

/// Serves one connection in `mode` until it closes.
async fn serve(stream: tokio::net::TcpStream, seen: Arc<Mutex<Seen>>, mode: Mode) {
    let service = service_fn(move |req| handle(req, seen.clone()));
    match mode {
        Mode::Http1 => serve_io(stream, false, service).await,
        Mode::H2c => serve_io(stream, true, service).await,
        Mode::Tls(acceptor) => {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            serve_io(tls, h2, service).await;
        }
    }
}

async fn serve_io<I, S>(io: I, h2: bool, service: S)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<TestBody>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let io = TokioIo::new(io);
    if h2 {
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service)
            .await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, service)
            .await;
    }
}

/// A response body: a buffer, or generated as it is read.
type TestBody = http_body_util::Either<Full<Bytes>, LazyBody>;

fn lock(seen: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|e| e.into_inner())
}

async fn handle(
    req: Request<Incoming>,
    seen: Arc<Mutex<Seen>>,
) -> Result<Response<TestBody>, Infallible> {
    let path = req.uri().path().to_owned();
    {
        let mut seen = lock(&seen);
        *seen
            .versions
            .entry(format!("{:?}", req.version()))
            .or_default() += 1;
        *seen.counts.entry(path.clone()).or_default() += 1;
        *seen
            .by_method
            .entry((req.method().as_str().to_owned(), path.clone()))
            .or_default() += 1;
        seen.arrivals
            .entry(path.clone())
            .or_default()
            .push(Instant::now());
        let cookies: Vec<&str> = req
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if !cookies.is_empty() {
            let joined = cookies.join("; ");
            seen.cookies.entry(path.clone()).or_default().push(joined);
        }
    }
    if let Some(response) = lazy::route(&path) {
        return Ok(response.map(http_body_util::Either::Right));
    }
    Ok(route(&path, req.uri().query())
        .await
        .map(http_body_util::Either::Left))
}

async fn route(path: &str, query: Option<&str>) -> Response<Full<Bytes>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["status", code] => match code.parse::<u16>().ok().and_then(valid_status) {
            Some(status) => {
                let body = if status.is_informational()
                    || status == StatusCode::NO_CONTENT
                    || status == StatusCode::NOT_MODIFIED
                {
                    Bytes::new()
                } else {
                    Bytes::from(format!("status {}", status.as_u16()))
                };
                respond(status, body)
            }
            None => respond(StatusCode::BAD_REQUEST, "bad status code".into()),
        },
        ["delay", ms] => match ms.parse::<u64>() {
            Ok(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                ok()
            }
            Err(_) => respond(StatusCode::BAD_REQUEST, "bad delay".into()),
        },
        ["set-cookie", name, value] => {
            let mut cookie = format!("{name}={value}");
            let attributes: Vec<&str> = query
                .unwrap_or("")
                .split('&')
                .filter(|a| !a.is_empty())
                .collect();
            if !attributes
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with("path="))
            {
                cookie.push_str("; Path=/");
            }
            for attribute in attributes {
                cookie.push_str("; ");
                cookie.push_str(attribute);
            }
            let mut response = ok();
            if let Ok(value) = cookie.parse() {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        ["redirect", n] => match n.parse::<u32>() {
            Ok(0) => ok(),
            Ok(n) => {
                let mut response = respond(StatusCode::FOUND, Bytes::new());
                let location = format!("/redirect/{}", n - 1);
                if let Ok(value) = location.parse() {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                response
            }
            Err(_) => respond(StatusCode::BAD_REQUEST, "bad redirect count".into()),
        },
        ["redirect-to"] => {
            let target = query
                .unwrap_or("")
                .split('&')
                .find_map(|pair| pair.strip_prefix("url="));
            match target.and_then(|t| t.parse().ok()) {
                Some(location) => {
                    let mut response = respond(StatusCode::FOUND, Bytes::new());
                    response.headers_mut().insert(header::LOCATION, location);
                    response
                }
                None => respond(StatusCode::BAD_REQUEST, "missing url".into()),
            }
        }
        ["bytes", n] => match n.parse::<usize>() {
            Ok(n) => respond(StatusCode::OK, Bytes::from(vec![b'x'; n.min(MAX_BYTES)])),
            Err(_) => respond(StatusCode::BAD_REQUEST, "bad byte count".into()),
        },
        _ => ok(),
    }
}

fn valid_status(code: u16) -> Option<StatusCode> {
    // 1xx responses cannot be sent as final responses.
    StatusCode::from_u16(code)
        .ok()
        .filter(|s| !s.is_informational())
}

fn ok() -> Response<Full<Bytes>> {
    respond(StatusCode::OK, Bytes::from_static(b"ok"))
}

fn respond(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}
