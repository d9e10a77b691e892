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
//! | anything else | `200 ok` |

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, seen.clone(), stop.clone()));
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

async fn accept_loop(listener: TcpListener, seen: Arc<Mutex<Seen>>, stop: CancellationToken) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        lock(&seen).connections += 1;
        let seen = seen.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let service = service_fn(move |req| handle(req, seen.clone()));
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = conn => {}
            }
        });
        // Reap finished connection tasks so a long test does not accumulate them.
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
}

fn lock(seen: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|e| e.into_inner())
}

async fn handle(
    req: Request<Incoming>,
    seen: Arc<Mutex<Seen>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    {
        let mut seen = lock(&seen);
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
    Ok(route(&path, req.uri().query()).await)
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
