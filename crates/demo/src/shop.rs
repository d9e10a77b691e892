//! Request routing and the shop's handlers. See the crate docs for the API they implement.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::{Value, json};

use crate::catalog::{self, Product};
use crate::latency::{self, LatencyProfile};

/// Largest request body the shop reads.
const MAX_BODY: usize = 64 * 1024;
/// Live sessions kept at most; past this an arbitrary one is evicted.
const MAX_SESSIONS: usize = 100_000;
/// Products per page of `GET /products`.
pub(crate) const PAGE_SIZE: u32 = 20;
/// Results returned at most by `GET /search`.
const SEARCH_LIMIT: usize = 10;

type Resp = Response<Full<Bytes>>;

/// State shared by every connection of one shop.
#[derive(Debug)]
pub(crate) struct Shop {
    served: AtomicU64,
    next_session: AtomicU64,
    secret: u64,
    latency_scale: f64,
    checkout_error_rate: f64,
    search_error_rate: f64,
    sessions: Mutex<HashMap<String, Cart>>,
}

/// One session's cart: product id to quantity.
#[derive(Debug, Default)]
struct Cart {
    lines: BTreeMap<u32, u32>,
}

impl Shop {
    pub(crate) fn new(
        secret: u64,
        latency_scale: f64,
        checkout_error_rate: f64,
        search_error_rate: f64,
    ) -> Shop {
        Shop {
            served: AtomicU64::new(0),
            next_session: AtomicU64::new(1),
            secret,
            latency_scale,
            checkout_error_rate,
            search_error_rate,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn requests_served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Cart>> {
        // A panic while holding the lock leaves the map consistent enough for a demo.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_session(&self) -> String {
        let n = self.next_session.fetch_add(1, Ordering::Relaxed);
        let token = format!("{n:08x}{:016x}", mix(n ^ self.secret));
        let mut sessions = self.sessions();
        if sessions.len() >= MAX_SESSIONS
            && let Some(victim) = sessions.keys().next().cloned()
        {
            sessions.remove(&victim);
        }
        sessions.insert(token.clone(), Cart::default());
        token
    }
}

/// Handles one request and counts it.
pub(crate) async fn handle(
    shop: Arc<Shop>,
    rng: Arc<Mutex<SmallRng>>,
    req: Request<Incoming>,
) -> Result<Resp, Infallible> {
    let resp = route(&shop, &rng, req).await;
    shop.served.fetch_add(1, Ordering::Relaxed);
    Ok(resp)
}

/// The routes, with the methods each accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Home,
    Login,
    Products,
    Product,
    Search,
    Cart,
    Checkout,
}

impl Route {
    fn resolve(path: &str) -> Option<Route> {
        Some(match path {
            "/" => Route::Home,
            "/login" => Route::Login,
            "/products" | "/products/" => Route::Products,
            "/search" => Route::Search,
            "/cart" => Route::Cart,
            "/checkout" => Route::Checkout,
            p if p.starts_with("/products/") && !p["/products/".len()..].contains('/') => {
                Route::Product
            }
            _ => return None,
        })
    }

    fn allows(self, method: &Method) -> bool {
        let get = method == Method::GET || method == Method::HEAD;
        match self {
            Route::Home | Route::Products | Route::Product | Route::Search => get,
            Route::Cart => get || method == Method::POST,
            Route::Login | Route::Checkout => method == Method::POST,
        }
    }

    fn allow_header(self) -> &'static str {
        match self {
            Route::Home | Route::Products | Route::Product | Route::Search => "GET, HEAD",
            Route::Cart => "GET, HEAD, POST",
            Route::Login | Route::Checkout => "POST",
        }
    }

    fn latency(self) -> LatencyProfile {
        match self {
            Route::Home => latency::HOME,
            Route::Login => latency::LOGIN,
            Route::Products => latency::PRODUCT_LIST,
            Route::Product => latency::PRODUCT,
            Route::Search => latency::SEARCH,
            Route::Cart => latency::CART,
            Route::Checkout => latency::CHECKOUT,
        }
    }
}

async fn route(shop: &Shop, rng: &Mutex<SmallRng>, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    let Some(route) = Route::resolve(parts.uri.path()) else {
        return error(StatusCode::NOT_FOUND, "no such route");
    };
    if !route.allows(&parts.method) {
        let mut resp = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        resp.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static(route.allow_header()),
        );
        return resp;
    }

    // Draw everything random up front so the lock is never held across an await.
    let (delay, roll) = {
        let mut rng = rng.lock().unwrap_or_else(|e| e.into_inner());
        let delay = route.latency().sample_scaled(&mut *rng, shop.latency_scale);
        (delay, rng.random::<f64>())
    };
    // Read the whole body (bounded) so the connection stays reusable.
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }

    let query = parts.uri.query().unwrap_or("");
    match route {
        Route::Home => home(),
        Route::Login => login(shop, &body),
        Route::Products => products(query),
        Route::Product => product(&parts.uri.path()["/products/".len()..]),
        Route::Search => search(shop, query, roll),
        Route::Cart if parts.method == Method::POST => add_to_cart(shop, &parts.headers, &body),
        Route::Cart => view_cart(shop, &parts.headers),
        Route::Checkout => checkout(shop, &parts.headers, roll),
    }
}

fn home() -> Resp {
    const PAGE: &str = "<!doctype html>\n<html><head><title>Stampede Demo Shop</title></head>\n\
        <body><h1>Stampede Demo Shop</h1>\n<ul>\n\
        <li><a href=\"/products\">All products</a></li>\n\
        <li><a href=\"/search?q=shoes\">Search: shoes</a></li>\n\
        <li><a href=\"/cart\">Your cart</a></li>\n</ul></body></html>\n";
    let mut resp = Response::new(Full::new(Bytes::from_static(PAGE.as_bytes())));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn login(shop: &Shop, body: &[u8]) -> Resp {
    let Ok(creds) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "body must be JSON {user, password}",
        );
    };
    let field = |name: &str| {
        creds
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let (Some(user), Some(_password)) = (field("user"), field("password")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "user and password are required strings",
        );
    };
    let token = shop.new_session();
    let mut resp = json_response(StatusCode::OK, &json!({ "token": token, "user": user }));
    let cookie = format!("session={token}; Path=/; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, value);
    }
    resp
}

fn products(query: &str) -> Resp {
    let page = match query_param(query, "page") {
        None => 1,
        Some(p) => match p.parse::<u32>() {
            Ok(p) if p >= 1 => p,
            _ => return error(StatusCode::BAD_REQUEST, "page must be a positive integer"),
        },
    };
    let first = (page - 1).saturating_mul(PAGE_SIZE).saturating_add(1);
    let items: Vec<Value> = (first..first.saturating_add(PAGE_SIZE))
        .filter_map(catalog::product)
        .map(|p| p.to_json())
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "page": page,
            "per_page": PAGE_SIZE,
            "total": catalog::PRODUCT_COUNT,
            "items": items,
        }),
    )
}

fn product(id: &str) -> Resp {
    let Ok(id) = id.parse::<u32>() else {
        return error(StatusCode::BAD_REQUEST, "product id must be an integer");
    };
    match catalog::product(id) {
        Some(p) => json_response(StatusCode::OK, &p.to_json()),
        None => error(StatusCode::NOT_FOUND, "no such product"),
    }
}

fn search(shop: &Shop, query: &str, roll: f64) -> Resp {
    let q = query_param(query, "q").unwrap_or_default();
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return error(StatusCode::BAD_REQUEST, "query parameter q is required");
    }
    if roll < shop.search_error_rate {
        let mut resp = error(StatusCode::SERVICE_UNAVAILABLE, "search backend overloaded");
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return resp;
    }
    let mut total = 0usize;
    let mut results = Vec::new();
    for p in catalog::all().filter(|p| p.name.to_lowercase().contains(&q)) {
        total += 1;
        if results.len() < SEARCH_LIMIT {
            results.push(p.to_json());
        }
    }
    json_response(
        StatusCode::OK,
        &json!({ "query": q, "total": total, "results": results }),
    )
}

fn add_to_cart(shop: &Shop, headers: &HeaderMap, body: &[u8]) -> Resp {
    let Some(token) = session_token(headers) else {
        return unauthorized();
    };
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "body must be JSON {product, quantity?}",
        );
    };
    let Some(id) = req.get("product").and_then(Value::as_u64) else {
        return error(StatusCode::BAD_REQUEST, "product must be an integer id");
    };
    let quantity = match req.get("quantity") {
        None => 1,
        Some(q) => match q.as_u64() {
            Some(q @ 1..=100) => q as u32,
            _ => return error(StatusCode::BAD_REQUEST, "quantity must be 1..=100"),
        },
    };
    let Some(product) = u32::try_from(id).ok().and_then(catalog::product) else {
        return error(StatusCode::NOT_FOUND, "no such product");
    };
    let mut sessions = shop.sessions();
    let Some(cart) = sessions.get_mut(&token) else {
        return unauthorized();
    };
    let line = cart.lines.entry(product.id).or_insert(0);
    *line = line.saturating_add(quantity).min(1000);
    json_response(StatusCode::OK, &cart_json(cart))
}

fn view_cart(shop: &Shop, headers: &HeaderMap) -> Resp {
    let Some(token) = session_token(headers) else {
        return unauthorized();
    };
    match shop.sessions().get(&token) {
        Some(cart) => json_response(StatusCode::OK, &cart_json(cart)),
        None => unauthorized(),
    }
}

fn checkout(shop: &Shop, headers: &HeaderMap, roll: f64) -> Resp {
    let Some(token) = session_token(headers) else {
        return unauthorized();
    };
    let mut sessions = shop.sessions();
    let Some(cart) = sessions.get_mut(&token) else {
        return unauthorized();
    };
    if cart.lines.is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "cart is empty");
    }
    if roll < shop.checkout_error_rate {
        // The cart is kept, so the user can retry.
        return error(StatusCode::INTERNAL_SERVER_ERROR, "payment provider error");
    }
    let summary = cart_json(cart);
    cart.lines.clear();
    drop(sessions);
    let n = shop.next_session.fetch_add(1, Ordering::Relaxed);
    let order = format!(
        "ORD-{:010}",
        mix(n ^ shop.secret.rotate_left(17)) % 10_000_000_000
    );
    json_response(
        StatusCode::CREATED,
        &json!({
            "order": order,
            "status": "confirmed",
            "items": summary["items"],
            "total": summary["total"],
        }),
    )
}

fn cart_json(cart: &Cart) -> Value {
    let mut items = 0u64;
    let mut cents = 0u64;
    let lines: Vec<Value> = cart
        .lines
        .iter()
        .filter_map(|(&id, &qty)| catalog::product(id).map(|p| (p, qty)))
        .map(|(p, qty): (Product, u32)| {
            items += u64::from(qty);
            cents += u64::from(p.price_cents) * u64::from(qty);
            json!({ "product": p.id, "name": p.name, "quantity": qty })
        })
        .collect();
    json!({ "items": items, "total": cents as f64 / 100.0, "lines": lines })
}

/// The session token from a `session=` cookie, or from `Authorization: Bearer`.
fn session_token(headers: &HeaderMap) -> Option<String> {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == "session" && !value.is_empty()).then(|| value.to_owned())
        });
    from_cookie.or_else(|| {
        let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let token = auth.strip_prefix("Bearer ")?.trim();
        (!token.is_empty()).then(|| token.to_owned())
    })
}

/// The first value of `key` in a query string, percent-decoded (`+` is a space).
pub(crate) fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    out.push((hex(h) << 4) | hex(l));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

fn unauthorized() -> Resp {
    error(
        StatusCode::UNAUTHORIZED,
        "login required: POST /login first",
    )
}

fn error(status: StatusCode, message: &str) -> Resp {
    json_response(status, &json!({ "error": message }))
}

fn json_response(status: StatusCode, value: &Value) -> Resp {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// SplitMix64 finaliser: a cheap, well-spread 64-bit hash.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(
            query_param("q=red+shoes&x=1", "q").as_deref(),
            Some("red shoes")
        );
        assert_eq!(query_param("a=1&q=caf%C3%A9", "q").as_deref(), Some("café"));
        assert_eq!(query_param("q=100%", "q").as_deref(), Some("100%"));
        assert_eq!(query_param("q", "q").as_deref(), Some(""));
        assert_eq!(query_param("x=1", "q"), None);
    }

    #[test]
    fn routes_resolve() {
        assert_eq!(Route::resolve("/products/42"), Some(Route::Product));
        assert_eq!(Route::resolve("/products"), Some(Route::Products));
        assert_eq!(Route::resolve("/products/1/x"), None);
        assert_eq!(Route::resolve("/nope"), None);
    }

    #[test]
    fn session_from_cookie_or_bearer() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; session=abc; b=2"),
        );
        assert_eq!(session_token(&h).as_deref(), Some("abc"));
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer xyz"),
        );
        assert_eq!(session_token(&h).as_deref(), Some("xyz"));
        assert_eq!(session_token(&HeaderMap::new()), None);
    }
}
