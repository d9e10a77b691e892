//! [`ShopApp`]: a small but realistic web shop on `127.0.0.1:0` (HTTP/1.1, keep-alive) for
//! end-to-end tests of the scenario language (templating, extraction, checks, sessions, feeders,
//! flow control, embedded resources). Tests assert on what the server saw through
//! [`ShopApp::seen`].
//!
//! ```no_run
//! # async fn demo() {
//! let app = stampede_testkit::ShopApp::start().await;
//! // ... run a scenario against app.url() ...
//! let seen = app.seen();
//! assert_eq!(seen.logins, ["alice"]);
//! assert_eq!(seen.count("/favicon.ico"), 1);
//! app.shutdown().await;
//! # }
//! ```
//!
//! Everything is deterministic: ids come from counters that start at 1 for every server, and the
//! "random-looking" session ids and CSRF tokens are a fixed bijective mix of such a counter, so
//! they are unique per server but the same in every run.
//!
//! # Routes
//!
//! Bodies are JSON (`application/json`) unless stated. Errors are `{"error": "<what>"}`. Every
//! request is recorded (see [`AppSeen`]) after its body arrives and before the route runs. A
//! known path with the wrong method gives `405` with `Allow`; an unknown path `404`; a request
//! body over 1 MiB `413`.
//!
//! | Method and path | Response |
//! |------|----------|
//! | `POST /login` | body JSON `{"username", "password"}` or form-urlencoded `username=..&password=..` (picked by `Content-Type`, else `415`). A username (1 to 64 of `A-Z a-z 0-9 . _ @ -`, else `400`) logs in when its password is `pw-<username>`: `200`, `Set-Cookie: session=<16 hex>; Path=/; HttpOnly`, `{"token": "tok-<username>-<n>", "user": {"name": "<username>", "id": <n>}}` with `n` counting logins from 1. Otherwise `401 {"error": "bad credentials"}`. Records [`AppSeen::logins`] / [`AppSeen::login_failures`] |
//! | `GET /api/me` | `Authorization: Bearer <token>` of an issued token: `200 {"name", "id"}`, else `401`. Records [`AppSeen::me_checks`] |
//! | `GET /account` | the `session` cookie of a login: `200 {"name", "id"}`, else `401`. Records [`AppSeen::account_checks`] |
//! | `GET /products?page=N` | `N` defaults to 1; 15 products (ids `101..=115`), 5 a page: `{"page": N, "items": [{"id": 101, "name": "Product 101", "price": 1.5}, ..], "next": "/products?page=N+1"}`, `next` is `null` on page 3 and after (pages after 3 have no items); `N` not a positive integer: `400`. Price of id `i` is `(i - 100) * 1.5`. Records [`AppSeen::product_pages`] |
//! | `GET /products/{id}` | `200` with the product object, `404` for unknown ids. Records every id asked for, known or not, in [`AppSeen::product_views`] (an id that is not a number is `404` and not recorded) |
//! | `GET /form` | HTML page with `<meta name="csrf-token" content="csrf-<16 hex>">` and `<form method="post" action="/form">` holding `<input type="hidden" name="csrf" value="...">` (same token) and a `message` text input. A fresh token per request, bound to the request's `session` cookie if it has one |
//! | `POST /form` | form-urlencoded with `csrf=...`: `200 accepted` (text) if the token was issued, not accepted before, and (if bound) the request carries the same `session` cookie; else `403 bad csrf`. Records [`AppSeen::csrf_accepted`] / [`AppSeen::csrf_rejected`] |
//! | `POST /cart` | `Authorization: Bearer <token>` (else `401`), JSON `{"product": <id>, "qty": <n>}` (`qty` defaults to 1; numbers only, else `400`; unknown product `404`). Without `X-Cart` opens a new cart, with `X-Cart: cart-<k>` adds to that cart (`404` unknown, `403` another token's). `201`, `Location: /cart/cart-<k>`, `{"cart_id": "cart-<k>", "items": <lines in the cart>}`. Records [`AppSeen::cart_adds`] |
//! | `GET /cart/{cart_id}` | `{"cart_id", "items": [{"product", "qty", "price"}, ..], "total"}`, `404` unknown (or checked out, or reset) |
//! | `POST /checkout` | `Authorization: Bearer <token>`, JSON `{"cart_id": "cart-<k>"}`: `200 {"order": "order-<m>", "total": <sum of price * qty>}` and the cart is gone; `404` unknown cart, `403` another token's. Records [`AppSeen::orders`] |
//! | `GET /page` | HTML with embedded resources (see below) |
//! | `GET /static/*`, `/img/*`, `/page/img/*` | a small body typed by extension (`.png` a 1x1 PNG `image/png`, `.css` `text/css`, `.js` `text/javascript`, other `application/octet-stream`) |
//! | `GET /favicon.ico` | `image/x-icon` |
//! | `GET /frame` | a small HTML page without resources |
//! | any `/echo` | `{"method", "path", "query" (raw or null), "target" (path and query), "args" (decoded query pairs, last wins), "headers" (lower-case name → value, repeats joined with `, `), "body" (lossy UTF-8), "json" (the body parsed, or null)}` |
//! | `GET /slow?ms=N` | sleeps `N` ms (default 0, capped at 5000, not a number `400`), then `200 {"slept_ms": N}` |
//! | `POST /admin/reset` | `X-Admin-Key: admin-secret` (else `403`): `200 {"reset": true}`, drops every cart. Records [`AppSeen::resets`] |
//! | `POST /admin/token` | `X-Admin-Key: admin-secret` (else `403`): `200 {"admin_token": "adm-1"}` |
//! | `GET /admin/stats` | `Authorization: Bearer adm-1` (else `401`): `200 {"logins", "carts", "orders", "requests"}`. Every `/admin/*` call is in [`AppSeen::admin_calls`] |
//!
//! # Embedded resources of `/page`
//!
//! A browser fetching `/page` asks for exactly these, once each: `/static/site.css` (stylesheet
//! link), `/favicon.ico` (icon link: browsers do fetch icons), `/static/app.js` (script),
//! `/img/a.png` (the relative `img/a.png`, resolved against `/page`), `/static/b.png`, and
//! `/frame` (iframe). It must not fetch `/not-a-resource` (an `<a href>`, unknown, `404`) nor
//! `/static/commented.png` (an `<img>` inside an HTML comment). `/page/img/a.png` is served too, so
//! a client that resolves `img/a.png` wrongly (as if `/page` were a directory) gets no error, and
//! shows up only in [`AppSeen::paths`].

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

mod pages;
mod routes;

/// Largest request body read; larger ones get `413`.
const MAX_BODY: usize = 1 << 20;

/// Requests kept in [`AppSeen::requests`]; later ones are counted but not logged.
pub const MAX_LOGGED_REQUESTS: usize = 10_000;

/// Bytes of each body kept in [`SeenRequest::body`].
const MAX_LOGGED_BODY: usize = 64 << 10;

/// One request as the server saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeenRequest {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Path and query as sent, e.g. `/products?page=2`.
    pub target: String,
    /// Headers in arrival order, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body as lossy UTF-8, cut at 64 KiB.
    pub body: String,
}

impl SeenRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One successful `POST /cart`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartAdd {
    /// The cart added to, e.g. `cart-1`.
    pub cart_id: String,
    /// Product id.
    pub product: u64,
    /// Quantity.
    pub qty: u64,
}

/// One successful `POST /checkout`.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    /// Order id, e.g. `order-1`.
    pub order: String,
    /// The cart checked out.
    pub cart_id: String,
    /// Sum of price × quantity over the cart's lines.
    pub total: f64,
}

/// A snapshot of what a [`ShopApp`] saw, from [`ShopApp::seen`].
#[derive(Clone, Debug, Default)]
pub struct AppSeen {
    /// Requests per path (without query), every request, including `404`s.
    pub paths: BTreeMap<String, u64>,
    /// Requests per (method, path).
    pub methods: BTreeMap<(String, String), u64>,
    /// `Cookie` header values per path, in arrival order; only requests that carried one
    /// (repeated headers joined with `; `).
    pub cookies: BTreeMap<String, Vec<String>>,
    /// The first [`MAX_LOGGED_REQUESTS`] requests, in arrival order.
    pub requests: Vec<SeenRequest>,
    /// TCP connections accepted.
    pub connections: u64,
    /// Usernames of successful logins, in order.
    pub logins: Vec<String>,
    /// Usernames of failed logins (wrong password, bad username, missing field), in order; `""` when missing.
    pub login_failures: Vec<String>,
    /// `GET /api/me`: (bearer token, accepted) in order; the token is `""` when the request had no
    /// `Authorization: Bearer` header.
    pub me_checks: Vec<(String, bool)>,
    /// `GET /account`: (`session` cookie value, accepted) in order; `""` when no session cookie.
    pub account_checks: Vec<(String, bool)>,
    /// Page numbers of valid `GET /products?page=N` requests, in order.
    pub product_pages: Vec<u64>,
    /// Ids of `GET /products/{id}` requests, in order (unknown ids included).
    pub product_views: Vec<u64>,
    /// CSRF tokens issued by `GET /form`.
    pub csrf_issued: u64,
    /// `POST /form` requests accepted.
    pub csrf_accepted: u64,
    /// `POST /form` requests rejected.
    pub csrf_rejected: u64,
    /// Successful cart additions per bearer token, in order.
    pub cart_adds: BTreeMap<String, Vec<CartAdd>>,
    /// Successful checkouts per bearer token, in order.
    pub orders: BTreeMap<String, Vec<Order>>,
    /// Successful `POST /admin/reset` calls.
    pub resets: u64,
    /// Every `/admin/*` call: (path, accepted), in order.
    pub admin_calls: Vec<(String, bool)>,
}

impl AppSeen {
    /// Requests for `path` (without query).
    pub fn count(&self, path: &str) -> u64 {
        self.paths.get(path).copied().unwrap_or(0)
    }

    /// Requests with `method` (e.g. `"POST"`) for `path`.
    pub fn method_count(&self, method: &str, path: &str) -> u64 {
        let key = (method.to_owned(), path.to_owned());
        self.methods.get(&key).copied().unwrap_or(0)
    }

    /// Requests in total.
    pub fn total(&self) -> u64 {
        self.paths.values().sum()
    }
}

/// An open cart.
#[derive(Debug)]
struct Cart {
    /// The bearer token that opened it.
    token: String,
    /// (product, qty) lines.
    lines: Vec<(u64, u64)>,
}

/// A CSRF token the server issued.
#[derive(Debug)]
struct Csrf {
    /// The `session` cookie of the `GET /form` request, if it had one.
    session: Option<String>,
    /// Already accepted once.
    used: bool,
}

/// The server's state: what it saw plus the application data.
#[derive(Debug, Default)]
struct State {
    seen: AppSeen,
    /// Issued bearer token → (username, login id).
    tokens: HashMap<String, (String, u64)>,
    /// Session id → (username, login id).
    sessions: HashMap<String, (String, u64)>,
    csrf: HashMap<String, Csrf>,
    carts: HashMap<String, Cart>,
    next_login: u64,
    next_csrf: u64,
    next_cart: u64,
    next_order: u64,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shop test application, serving HTTP/1.1 on `127.0.0.1` with keep-alive (see the
/// [module docs](self) for the routes). Stops on [`ShopApp::shutdown`] or when dropped.
#[derive(Debug)]
pub struct ShopApp {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl ShopApp {
    /// Binds `127.0.0.1:0` and starts serving on the current Tokio runtime.
    ///
    /// # Panics
    /// If the listener cannot be bound.
    pub async fn start() -> ShopApp {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("ShopApp: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("ShopApp: local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, state.clone(), stop.clone()));
        ShopApp {
            addr,
            state,
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

    /// A copy of what the server has seen so far.
    pub fn seen(&self) -> AppSeen {
        lock(&self.state).seen.clone()
    }

    /// Stops accepting, closes every connection, and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ShopApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>, stop: CancellationToken) {
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
        lock(&state).seen.connections += 1;
        let state = state.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let service = service_fn(move |req| handle(req, state.clone()));
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = connection => {}
            }
        });
        // Reap finished connection tasks so a long test does not accumulate them.
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
}

/// A request with its body read, as the routes see it.
#[derive(Debug)]
struct AppRequest {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let (body, too_large) = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => (collected.to_bytes(), false),
        Err(_) => (Bytes::new(), true),
    };
    let req = AppRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    record(&mut lock(&state).seen, &req);
    if too_large {
        return Ok(routes::error(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "request body over 1 MiB",
        ));
    }
    Ok(routes::route(&req, &state).await)
}

/// Records the generic facts about `req`: path and method counts, cookies, the request log.
fn record(seen: &mut AppSeen, req: &AppRequest) {
    let path = &req.path;
    *seen.paths.entry(path.clone()).or_default() += 1;
    *seen
        .methods
        .entry((req.method.as_str().to_owned(), path.clone()))
        .or_default() += 1;
    let cookies: Vec<&str> = req
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !cookies.is_empty() {
        let joined = cookies.join("; ");
        seen.cookies.entry(path.clone()).or_default().push(joined);
    }
    if seen.requests.len() < MAX_LOGGED_REQUESTS {
        let target = match &req.query {
            Some(query) => format!("{path}?{query}"),
            None => path.clone(),
        };
        let headers = req
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        let kept = &req.body[..req.body.len().min(MAX_LOGGED_BODY)];
        seen.requests.push(SeenRequest {
            method: req.method.as_str().to_owned(),
            target,
            headers,
            body: String::from_utf8_lossy(kept).into_owned(),
        });
    }
}
