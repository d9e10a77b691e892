//! The shop's routes (documented in the table of the parent module).

use super::pages::{self, PAGE_SIZE, PAGES, PRODUCTS};
use super::{AppRequest, Cart, CartAdd, Csrf, Order, State, lock};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::{Map, Value, json};
use std::sync::Mutex;
use std::time::Duration;

/// The admin key `/admin/reset` and `/admin/token` require in `X-Admin-Key`.
const ADMIN_KEY: &str = "admin-secret";

/// The bearer token `/admin/token` hands out and `/admin/stats` requires.
const ADMIN_TOKEN: &str = "adm-1";

/// Longest `/slow` sleep.
const MAX_SLOW_MS: u64 = 5000;

type Reply = Response<Full<Bytes>>;

/// Dispatches `req` by method and path.
pub(super) async fn route(req: &AppRequest, state: &Mutex<State>) -> Reply {
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), segments.as_slice()) {
        (_, ["echo"]) => echo(req),
        ("POST", ["login"]) => login(req, state),
        ("GET", ["api", "me"]) => me(req, state),
        ("GET", ["account"]) => account(req, state),
        ("GET", ["products"]) => products(req, state),
        ("GET", ["products", id]) => product(id, state),
        ("GET", ["form"]) => form_page(req, state),
        ("POST", ["form"]) => form_post(req, state),
        ("POST", ["cart"]) => cart_add(req, state),
        ("GET", ["cart", id]) => cart_show(id, state),
        ("POST", ["checkout"]) => checkout(req, state),
        ("GET", ["page"]) => html(StatusCode::OK, pages::PAGE_HTML.into()),
        ("GET", ["frame"]) => html(StatusCode::OK, pages::FRAME_HTML.into()),
        ("GET", ["favicon.ico"] | ["static" | "img", _, ..] | ["page", "img", _, ..]) => {
            let (content_type, body) = pages::asset(&req.path);
            with_type(StatusCode::OK, content_type, body)
        }
        ("GET", ["slow"]) => slow(req).await,
        ("POST", ["admin", "reset"]) => admin_reset(req, state),
        ("POST", ["admin", "token"]) => admin_token(req, state),
        ("GET", ["admin", "stats"]) => admin_stats(req, state),
        (_, path) => match allowed(path) {
            Some(allow) => {
                let mut reply = error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &format!("{} {} is not served; use {allow}", req.method, req.path),
                );
                reply
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                reply
            }
            None => error(StatusCode::NOT_FOUND, "not found"),
        },
    }
}

/// The methods a known path allows, for `405`.
fn allowed(path: &[&str]) -> Option<&'static str> {
    match path {
        ["login" | "cart" | "checkout"] | ["admin", "reset" | "token"] => Some("POST"),
        ["form"] => Some("GET, POST"),
        ["api", "me"]
        | ["account" | "products" | "page" | "frame" | "favicon.ico" | "slow"]
        | ["products" | "cart", _]
        | ["static" | "img", _, ..]
        | ["page", "img", _, ..]
        | ["admin", "stats"] => Some("GET"),
        _ => None,
    }
}

fn login(req: &AppRequest, state: &Mutex<State>) -> Reply {
    let fields: Vec<(String, String)> = if req.is_json() {
        let object = match req.json_object() {
            Ok(object) => object,
            Err(reply) => return *reply,
        };
        object
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
            .collect()
    } else if req.is_form() {
        pages::parse_form(&String::from_utf8_lossy(&req.body))
    } else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST /login needs Content-Type application/json or application/x-www-form-urlencoded",
        );
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(username), Some(password)) = (field("username"), field("password")) else {
        lock(state)
            .seen
            .login_failures
            .push(field("username").unwrap_or("").to_owned());
        return error(
            StatusCode::BAD_REQUEST,
            "POST /login needs string fields \"username\" and \"password\"",
        );
    };
    let valid_name = (1..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    let mut guard = lock(state);
    let st = &mut *guard;
    if !valid_name {
        st.seen.login_failures.push(username.to_owned());
        return error(
            StatusCode::BAD_REQUEST,
            "username must be 1 to 64 of A-Z a-z 0-9 . _ @ -",
        );
    }
    if password != format!("pw-{username}") {
        st.seen.login_failures.push(username.to_owned());
        return error(StatusCode::UNAUTHORIZED, "bad credentials");
    }
    st.next_login += 1;
    let n = st.next_login;
    let token = format!("tok-{username}-{n}");
    let session = format!("{:016x}", pages::mix(n));
    st.tokens.insert(token.clone(), (username.to_owned(), n));
    st.sessions
        .insert(session.clone(), (username.to_owned(), n));
    st.seen.logins.push(username.to_owned());
    let mut reply = json_reply(
        StatusCode::OK,
        &json!({"token": token, "user": {"name": username, "id": n}}),
    );
    let cookie = format!("session={session}; Path=/; HttpOnly");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        reply.headers_mut().insert(header::SET_COOKIE, value);
    }
    reply
}

fn me(req: &AppRequest, state: &Mutex<State>) -> Reply {
    let token = req.bearer().unwrap_or("");
    let mut st = lock(state);
    let user = st.tokens.get(token).cloned();
    st.seen.me_checks.push((token.to_owned(), user.is_some()));
    match user {
        Some((name, id)) => json_reply(StatusCode::OK, &json!({"name": name, "id": id})),
        None => error(StatusCode::UNAUTHORIZED, "missing or unknown bearer token"),
    }
}

fn account(req: &AppRequest, state: &Mutex<State>) -> Reply {
    let session = req.cookie("session").unwrap_or_default();
    let mut st = lock(state);
    let user = st.sessions.get(&session).cloned();
    st.seen.account_checks.push((session, user.is_some()));
    match user {
        Some((name, id)) => json_reply(StatusCode::OK, &json!({"name": name, "id": id})),
        None => error(
            StatusCode::UNAUTHORIZED,
            "missing or unknown session cookie",
        ),
    }
}

fn products(req: &AppRequest, state: &Mutex<State>) -> Reply {
    let page = match req.query_param("page") {
        None => 1,
        Some(page) => match page.parse::<u64>() {
            Ok(page) if page >= 1 => page,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("page must be a positive integer, got {page:?}"),
                );
            }
        },
    };
    lock(state).seen.product_pages.push(page);
    let first = PRODUCTS
        .start()
        .saturating_add((page - 1).saturating_mul(PAGE_SIZE));
    let items: Vec<Value> = (first..first.saturating_add(PAGE_SIZE))
        .filter_map(pages::product)
        .collect();
    let next = (page < PAGES).then(|| format!("/products?page={}", page + 1));
    json_reply(
        StatusCode::OK,
        &json!({"page": page, "items": items, "next": next}),
    )
}

fn product(id: &str, state: &Mutex<State>) -> Reply {
    let Ok(id) = id.parse::<u64>() else {
        return error(StatusCode::NOT_FOUND, "no such product");
    };
    lock(state).seen.product_views.push(id);
    match pages::product(id) {
        Some(product) => json_reply(StatusCode::OK, &product),
        None => error(StatusCode::NOT_FOUND, "no such product"),
    }
}

fn form_page(req: &AppRequest, state: &Mutex<State>) -> Reply {
    let mut st = lock(state);
    st.next_csrf += 1;
    let token = format!(
        "csrf-{:016x}",
        pages::mix(st.next_csrf ^ 0x00C5_2F00_0000_0000)
    );
    let session = req.cookie("session");
    st.csrf.insert(
        token.clone(),
        Csrf {
            session,
            used: false,
        },
    );
    st.seen.csrf_issued += 1;
    html(StatusCode::OK, pages::form_html(&token))
}

fn form_post(req: &AppRequest, state: &Mutex<State>) -> Reply {
    let fields = pages::parse_form(&String::from_utf8_lossy(&req.body));
    let token = fields.iter().find(|(n, _)| n == "csrf").map(|(_, v)| v);
    let session = req.cookie("session");
    let mut st = lock(state);
    let accepted = match token.and_then(|t| st.csrf.get_mut(t)) {
        Some(csrf) if !csrf.used && (csrf.session.is_none() || csrf.session == session) => {
            csrf.used = true;
            true
        }
        _ => false,
    };
    if accepted {
        st.seen.csrf_accepted += 1;
        with_type(
            StatusCode::OK,
            "text/plain",
            Bytes::from_static(b"accepted"),
        )
    } else {
        st.seen.csrf_rejected += 1;
        with_type(
            StatusCode::FORBIDDEN,
            "text/plain",
            Bytes::from_static(b"bad csrf"),
        )
    }
}

fn cart_add(req: &AppRequest, state: &Mutex<State>) -> Reply {
    let token = req.bearer().unwrap_or("").to_owned();
    if !lock(state).tokens.contains_key(&token) {
        return error(StatusCode::UNAUTHORIZED, "missing or unknown bearer token");
    }
    let body = match req.json_object() {
        Ok(body) => body,
        Err(reply) => return *reply,
    };
    let Some(product) = body.get("product").and_then(Value::as_u64) else {
        return error(
            StatusCode::BAD_REQUEST,
            "\"product\" must be a product id number",
        );
    };
    let qty = match body.get("qty") {
        None => 1,
        Some(qty) => match qty.as_u64() {
            Some(qty) if qty >= 1 => qty,
            _ => return error(StatusCode::BAD_REQUEST, "\"qty\" must be a number >= 1"),
        },
    };
    if pages::product(product).is_none() {
        return error(StatusCode::NOT_FOUND, "no such product");
    }
    let mut guard = lock(state);
    let st = &mut *guard;
    let cart_id = match req.header("x-cart") {
        Some(id) => match st.carts.get(id) {
            None => return error(StatusCode::NOT_FOUND, "no such cart"),
            Some(cart) if cart.token != token => {
                return error(StatusCode::FORBIDDEN, "not your cart");
            }
            Some(_) => id.to_owned(),
        },
        None => {
            st.next_cart += 1;
            let id = format!("cart-{}", st.next_cart);
            let cart = Cart {
                token: token.clone(),
                lines: Vec::new(),
            };
            st.carts.insert(id.clone(), cart);
            id
        }
    };
    let Some(cart) = st.carts.get_mut(&cart_id) else {
        return error(StatusCode::NOT_FOUND, "no such cart");
    };
    cart.lines.push((product, qty));
    let items = cart.lines.len();
    st.seen.cart_adds.entry(token).or_default().push(CartAdd {
        cart_id: cart_id.clone(),
        product,
        qty,
    });
    let mut reply = json_reply(
        StatusCode::CREATED,
        &json!({"cart_id": cart_id, "items": items}),
    );
    if let Ok(location) = HeaderValue::from_str(&format!("/cart/{cart_id}")) {
        reply.headers_mut().insert(header::LOCATION, location);
    }
    reply
}

fn cart_show(id: &str, state: &Mutex<State>) -> Reply {
    let st = lock(state);
    let Some(cart) = st.carts.get(id) else {
        return error(StatusCode::NOT_FOUND, "no such cart");
    };
    let items: Vec<Value> = cart
        .lines
        .iter()
        .map(|&(product, qty)| json!({"product": product, "qty": qty, "price": pages::price(product)}))
        .collect();
    json_reply(
        StatusCode::OK,
        &json!({"cart_id": id, "items": items, "total": total(cart)}),
    )
}

fn total(cart: &Cart) -> f64 {
    cart.lines
        .iter()
        .map(|&(product, qty)| pages::price(product) * qty as f64)
        .sum()
}

fn checkout(req: &AppRequest, state: &Mutex<State>) -> Reply {
    let token = req.bearer().unwrap_or("").to_owned();
    if !lock(state).tokens.contains_key(&token) {
        return error(StatusCode::UNAUTHORIZED, "missing or unknown bearer token");
    }
    let body = match req.json_object() {
        Ok(body) => body,
        Err(reply) => return *reply,
    };
    let Some(cart_id) = body.get("cart_id").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "\"cart_id\" must be a string");
    };
    let mut guard = lock(state);
    let st = &mut *guard;
    match st.carts.get(cart_id) {
        None => return error(StatusCode::NOT_FOUND, "no such cart"),
        Some(cart) if cart.token != token => return error(StatusCode::FORBIDDEN, "not your cart"),
        Some(_) => {}
    }
    let Some(cart) = st.carts.remove(cart_id) else {
        return error(StatusCode::NOT_FOUND, "no such cart");
    };
    st.next_order += 1;
    let order = format!("order-{}", st.next_order);
    let total = total(&cart);
    st.seen.orders.entry(token).or_default().push(Order {
        order: order.clone(),
        cart_id: cart_id.to_owned(),
        total,
    });
    json_reply(StatusCode::OK, &json!({"order": order, "total": total}))
}

fn echo(req: &AppRequest) -> Reply {
    let mut headers = Map::new();
    for name in req.headers.keys() {
        let values: Vec<String> = req
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let separator = if name == header::COOKIE { "; " } else { ", " };
        headers.insert(name.as_str().to_owned(), values.join(separator).into());
    }
    let args: Map<String, Value> = pages::parse_form(req.query.as_deref().unwrap_or(""))
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let target = match &req.query {
        Some(query) => format!("{}?{query}", req.path),
        None => req.path.clone(),
    };
    let parsed: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    json_reply(
        StatusCode::OK,
        &json!({
            "method": req.method.as_str(),
            "path": req.path,
            "query": req.query,
            "target": target,
            "args": args,
            "headers": headers,
            "body": String::from_utf8_lossy(&req.body),
            "json": parsed,
        }),
    )
}

async fn slow(req: &AppRequest) -> Reply {
    let ms = match req.query_param("ms") {
        None => 0,
        Some(ms) => match ms.parse::<u64>() {
            Ok(ms) => ms.min(MAX_SLOW_MS),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("ms must be a number of milliseconds, got {ms:?}"),
                );
            }
        },
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    json_reply(StatusCode::OK, &json!({"slept_ms": ms}))
}

/// Checks `X-Admin-Key` and records the call; `Err` is the rejection.
fn admin_key(req: &AppRequest, st: &mut State) -> Result<(), Box<Reply>> {
    let ok = req.header("x-admin-key") == Some(ADMIN_KEY);
    st.seen.admin_calls.push((req.path.clone(), ok));
    if ok {
        Ok(())
    } else {
        Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "missing or wrong X-Admin-Key",
        )))
    }
}

fn admin_reset(req: &AppRequest, state: &Mutex<State>) -> Reply {
    let mut st = lock(state);
    if let Err(reply) = admin_key(req, &mut st) {
        return *reply;
    }
    st.carts.clear();
    st.seen.resets += 1;
    json_reply(StatusCode::OK, &json!({"reset": true}))
}

fn admin_token(req: &AppRequest, state: &Mutex<State>) -> Reply {
    if let Err(reply) = admin_key(req, &mut lock(state)) {
        return *reply;
    }
    json_reply(StatusCode::OK, &json!({"admin_token": ADMIN_TOKEN}))
}

fn admin_stats(req: &AppRequest, state: &Mutex<State>) -> Reply {
    let mut st = lock(state);
    let ok = req.bearer() == Some(ADMIN_TOKEN);
    st.seen.admin_calls.push((req.path.clone(), ok));
    if !ok {
        return error(
            StatusCode::UNAUTHORIZED,
            "needs Authorization: Bearer <admin token from POST /admin/token>",
        );
    }
    let stats = json!({
        "logins": st.seen.logins.len(),
        "carts": st.carts.len(),
        "orders": st.seen.orders.values().map(Vec::len).sum::<usize>(),
        "requests": st.seen.total(),
    });
    json_reply(StatusCode::OK, &stats)
}

impl AppRequest {
    /// The first value of header `name`, if it is visible ASCII.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The token of `Authorization: Bearer <token>`.
    fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
    }

    /// The value of cookie `name` across the `Cookie` headers.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| pages::cookie(v, name))
            .map(str::to_owned)
    }

    /// The decoded value of query parameter `name` (the last one if repeated).
    fn query_param(&self, name: &str) -> Option<String> {
        pages::parse_form(self.query.as_deref()?)
            .into_iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The media type of `Content-Type`, lower-case, without parameters.
    fn media_type(&self) -> String {
        let value = self.header("content-type").unwrap_or("");
        let media = value.split(';').next().unwrap_or("");
        media.trim().to_ascii_lowercase()
    }

    fn is_json(&self) -> bool {
        let media = self.media_type();
        media == "application/json" || media.ends_with("+json")
    }

    fn is_form(&self) -> bool {
        self.media_type() == "application/x-www-form-urlencoded"
    }

    /// The body as a JSON object; `Err` is the `415` or `400` to send instead.
    fn json_object(&self) -> Result<Map<String, Value>, Box<Reply>> {
        if !self.is_json() {
            let message = format!(
                "{} {} needs Content-Type application/json",
                self.method, self.path
            );
            return Err(Box::new(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &message,
            )));
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(_) => Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "the body must be a JSON object",
            ))),
            Err(e) => Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not JSON: {e}"),
            ))),
        }
    }
}

/// `{"error": message}` with `status`.
pub(super) fn error(status: StatusCode, message: &str) -> Reply {
    json_reply(status, &json!({"error": message}))
}

fn json_reply(status: StatusCode, value: &Value) -> Reply {
    with_type(status, "application/json", Bytes::from(value.to_string()))
}

fn html(status: StatusCode, body: String) -> Reply {
    with_type(status, "text/html; charset=utf-8", Bytes::from(body))
}

fn with_type(status: StatusCode, content_type: &'static str, body: Bytes) -> Reply {
    let mut reply = Response::new(Full::new(body));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}
