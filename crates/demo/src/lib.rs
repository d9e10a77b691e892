//! The built-in sample shop that `stampede demo` runs load against.
//!
//! [`ShopTarget::start`] starts a small HTTP/1.1 online shop on `127.0.0.1` (a random port),
//! served by hyper with keep-alive and one task per connection. [`DEMO_SCENARIO`] is the bundled
//! Stampede scenario that exercises it with a realistic mix of users; its `target:` is a
//! placeholder that the CLI replaces with [`ShopTarget::url`].
//!
//! The shop only ever binds loopback addresses: [`ShopTarget::start_on`] refuses any other.
//!
//! # Routes
//!
//! Every response except `GET /` is JSON; errors are `{"error": "..."}`.
//!
//! | route | behaviour | service time (ms): min / median / max |
//! | --- | --- | --- |
//! | `GET /` | 200, a small HTML home page | 1 / 2 / 5 |
//! | `POST /login` | body `{"user": "...", "password": "..."}` (non-empty strings, any values accepted) → 200 `{"token", "user"}` and `Set-Cookie: session=TOKEN; Path=/; HttpOnly`. Missing or malformed JSON, or a missing field → 400 | 10 / 20 / 60 |
//! | `GET /products[?page=N]` | 200 `{"page", "per_page": 20, "total": 999, "items": [product…]}`; a page past the end has no items; a bad `page` → 400 | 5 / 12 / 30 |
//! | `GET /products/{id}` | 200 product `{"id", "name", "category", "price", "stock"}` for ids 1–999; any other number (0, ≥ 1000) → 404; not a number → 400 | 5 / 10 / 30 |
//! | `GET /search?q=TEXT` | 200 `{"query", "total", "results": [product…]}` (case-insensitive substring of the name, at most 10 results); missing or empty `q` → 400; **0.5 %** of searches → 503 with `Retry-After: 1` | 20 / 40 / 120 (long tail) |
//! | `POST /cart` | session required, else 401. Body `{"product": ID, "quantity": 1..=100 (default 1)}` → 200 cart `{"items", "total", "lines"}`; bad body → 400; unknown product → 404 | 5 / 8 / 20 |
//! | `GET /cart` | session required, else 401; 200 cart | 5 / 8 / 20 |
//! | `POST /checkout` | session required, else 401; empty cart → 422; **1.5 %** of checkouts → 500 (the cart is kept); otherwise 201 `{"order", "status": "confirmed", "items", "total"}` and the cart is emptied | 50 / 90 / 200 |
//!
//! The session is the `session` cookie set by `/login` (or `Authorization: Bearer TOKEN`); an
//! unknown token is treated like none (401). An unknown path → 404; a known path with the wrong
//! method → 405 with `Allow`. Request bodies over 64 KiB → 413.
//!
//! # Latency and errors
//!
//! Service times are drawn per request from a skewed, log-normal-like distribution (see
//! [`latency`]) and clamped to the bounds in the table, then slept with `tokio::time::sleep`, so
//! the shop costs almost no CPU and its latency does not depend on the machine. Every request to
//! a known route and method sleeps, whatever its status. [`ShopConfig::latency_scale`] multiplies
//! all service times (`0.0` disables them); [`ShopConfig::seed`] makes the draws reproducible:
//! each connection gets its own random generator seeded from the seed and the connection's
//! accept order, so the requests of one connection see a fixed sequence.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let shop = stampede_demo::ShopTarget::start().await?;
//! println!("demo shop at {}", shop.url());
//! // ... run the load ...
//! println!("{} requests served", shop.requests_served());
//! shop.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod catalog;
pub mod latency;
mod shop;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::shop::Shop;

/// The bundled demo scenario: 30 users for 30 s, 20 % buyers, 50 % browsers, 30 % bouncers.
///
/// Its `target:` is the placeholder `http://127.0.0.1:8080`; run it with the target overridden
/// by the URL of a running [`ShopTarget`].
pub const DEMO_SCENARIO: &str = include_str!("demo.yaml");

/// Share of checkouts that fail with 500 by default.
pub const CHECKOUT_ERROR_RATE: f64 = 0.015;
/// Share of searches that fail with 503 by default.
pub const SEARCH_ERROR_RATE: f64 = 0.005;

/// How long in-flight requests get to finish on shutdown before their connections are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Settings of a shop; [`ShopConfig::default`] is what [`ShopTarget::start`] uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopConfig {
    /// Seed of the random draws (latency, errors); `None` picks a random one.
    pub seed: Option<u64>,
    /// Multiplier of every service time; `1.0` is the documented profile, `0.0` answers at once.
    pub latency_scale: f64,
    /// Share of checkouts that fail with 500, 0.0 to 1.0.
    pub checkout_error_rate: f64,
    /// Share of searches that fail with 503, 0.0 to 1.0.
    pub search_error_rate: f64,
}

impl Default for ShopConfig {
    fn default() -> Self {
        ShopConfig {
            seed: None,
            latency_scale: 1.0,
            checkout_error_rate: CHECKOUT_ERROR_RATE,
            search_error_rate: SEARCH_ERROR_RATE,
        }
    }
}

/// A running demo shop. It stops on [`ShopTarget::shutdown`] or when dropped (then in the
/// background: the listener closes at once, open connections once their request is answered).
pub struct ShopTarget {
    addr: SocketAddr,
    shop: Arc<Shop>,
    stop: CancellationToken,
    /// The accept loop; it owns the connection tasks and ends after they have.
    server: Option<JoinHandle<()>>,
}

impl fmt::Debug for ShopTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopTarget")
            .field("addr", &self.addr)
            .field("requests_served", &self.requests_served())
            .finish_non_exhaustive()
    }
}

impl ShopTarget {
    /// Starts the shop on `127.0.0.1` with a port chosen by the system.
    pub async fn start() -> io::Result<ShopTarget> {
        Self::start_with(ShopConfig::default()).await
    }

    /// Starts the shop on `addr`, which must be a loopback address (`127.0.0.0/8` or `::1`).
    pub async fn start_on(addr: SocketAddr) -> io::Result<ShopTarget> {
        Self::start_on_with(addr, ShopConfig::default()).await
    }

    /// Starts the shop on `127.0.0.1` (a system-chosen port) with `config`.
    pub async fn start_with(config: ShopConfig) -> io::Result<ShopTarget> {
        Self::start_on_with(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts the shop on the loopback address `addr` with `config`.
    pub async fn start_on_with(addr: SocketAddr, config: ShopConfig) -> io::Result<ShopTarget> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the demo shop only binds loopback addresses, not {}",
                    addr.ip()
                ),
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let seed = config.seed.unwrap_or_else(rand::random);
        let shop = Arc::new(Shop::new(
            shop::mix(seed ^ 0x5eed_5407),
            config.latency_scale,
            config.checkout_error_rate,
            config.search_error_rate,
        ));
        let stop = CancellationToken::new();
        let server = tokio::spawn(accept_loop(listener, Arc::clone(&shop), seed, stop.clone()));
        Ok(ShopTarget {
            addr,
            shop,
            stop,
            server: Some(server),
        })
    }

    /// The address the shop listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shop's base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far, of every route and status.
    pub fn requests_served(&self) -> u64 {
        self.shop.requests_served()
    }

    /// Stops accepting, lets in-flight requests finish (at most 5 s) and closes every connection.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for ShopTarget {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(listener: TcpListener, shop: Arc<Shop>, seed: u64, stop: CancellationToken) {
    let mut accepted: u64 = 0;
    let mut connections = JoinSet::new();
    loop {
        let stream = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            // Reap finished connections so the set stays small.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            res = listener.accept() => match res {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let rng = SmallRng::seed_from_u64(shop::mix(seed.wrapping_add(accepted)));
        accepted += 1;
        connections.spawn(serve_connection(
            stream,
            Arc::clone(&shop),
            rng,
            stop.clone(),
        ));
    }
    drop(listener);
    // Each connection finishes its in-flight request (bounded by SHUTDOWN_GRACE) and closes.
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: TcpStream,
    shop: Arc<Shop>,
    rng: SmallRng,
    stop: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let rng = Arc::new(Mutex::new(rng));
    let service = service_fn(move |req| shop::handle(Arc::clone(&shop), Arc::clone(&rng), req));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = stop.cancelled() => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
}
