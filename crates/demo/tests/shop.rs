//! The demo shop served for real on 127.0.0.1, driven by hyper's HTTP/1.1 client.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use stampede_demo::{DEMO_SCENARIO, ShopConfig, ShopTarget, latency};
use tokio::net::TcpStream;

/// Bound on every single request of these tests.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One keep-alive connection with a one-cookie jar, like a virtual user of the engine.
struct Client {
    sender: SendRequest<Full<Bytes>>,
    session: Option<String>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    elapsed: Duration,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

impl Client {
    async fn connect(shop: &ShopTarget) -> Client {
        let stream = TcpStream::connect(shop.addr()).await.expect("connect");
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        Client {
            sender,
            session: None,
        }
    }

    async fn send(&mut self, method: Method, path: &str, body: Option<&[u8]>) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1");
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(session) = &self.session {
            req = req.header(header::COOKIE, format!("session={session}"));
        }
        let req = req
            .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
            .unwrap();
        let start = Instant::now();
        let reply = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let resp = self.sender.send_request(req).await.expect("request");
            let (parts, body) = resp.into_parts();
            let body = body.collect().await.expect("body").to_bytes();
            Reply {
                status: parts.status,
                headers: parts.headers,
                body,
                elapsed: start.elapsed(),
            }
        })
        .await
        .expect("request timed out");
        if let Some(cookie) = reply.headers.get(header::SET_COOKIE) {
            let cookie = cookie.to_str().unwrap();
            let value = cookie.split(';').next().unwrap().strip_prefix("session=");
            self.session = value.map(str::to_owned);
        }
        reply
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, body: Value) -> Reply {
        let body = serde_json::to_vec(&body).unwrap();
        self.send(Method::POST, path, Some(&body)).await
    }

    async fn login(&mut self) -> Reply {
        self.post("/login", json!({ "user": "alice", "password": "secret" }))
            .await
    }
}

/// A fast, reproducible shop; `errors` keeps the default error rates.
async fn fast_shop(errors: bool) -> ShopTarget {
    let mut config = ShopConfig {
        seed: Some(42),
        latency_scale: 0.0,
        ..ShopConfig::default()
    };
    if !errors {
        config.checkout_error_rate = 0.0;
        config.search_error_rate = 0.0;
    }
    ShopTarget::start_with(config).await.expect("start shop")
}

#[tokio::test]
async fn home_is_html() {
    let shop = fast_shop(false).await;
    assert!(shop.addr().ip().is_loopback());
    assert_eq!(
        shop.url(),
        format!("http://127.0.0.1:{}", shop.addr().port())
    );
    let mut c = Client::connect(&shop).await;
    let r = c.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(String::from_utf8_lossy(&r.body).contains("<html>"));
    shop.shutdown().await;
}

#[tokio::test]
async fn login_sets_session_cookie_and_rejects_bad_bodies() {
    let shop = fast_shop(false).await;
    let mut c = Client::connect(&shop).await;
    let r = c.login().await;
    assert_eq!(r.status, StatusCode::OK);
    let token = r.json()["token"].as_str().unwrap().to_owned();
    assert!(!token.is_empty());
    let cookie = r.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with(&format!("session={token};")), "{cookie}");
    assert!(cookie.contains("Path=/"));

    for bad in [
        &b""[..],
        b"not json",
        br#"{"user":"alice"}"#,
        br#"{"user":1,"password":"x"}"#,
    ] {
        let r = c.send(Method::POST, "/login", Some(bad)).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
        assert!(r.json()["error"].is_string());
    }
    shop.shutdown().await;
}

#[tokio::test]
async fn product_list_pages() {
    let shop = fast_shop(false).await;
    let mut c = Client::connect(&shop).await;
    let r = c.get("/products").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    let v = r.json();
    assert_eq!(v["total"], 999);
    assert_eq!(v["page"], 1);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    assert_eq!(items[0]["id"], 1);
    for item in items {
        assert!(item["name"].is_string() && item["price"].is_f64() && item["stock"].is_u64());
    }
    let last = c.get("/products?page=50").await.json();
    assert_eq!(last["items"].as_array().unwrap().len(), 19);
    let past = c.get("/products?page=51").await.json();
    assert!(past["items"].as_array().unwrap().is_empty());
    assert_eq!(
        c.get("/products?page=0").await.status,
        StatusCode::BAD_REQUEST
    );
    shop.shutdown().await;
}

#[tokio::test]
async fn product_by_id() {
    let shop = fast_shop(false).await;
    let mut c = Client::connect(&shop).await;
    let r = c.get("/products/42").await;
    assert_eq!(r.status, StatusCode::OK);
    let p = r.json();
    assert_eq!(p["id"], 42);
    assert!(p["name"].as_str().unwrap().len() > 3);
    assert!(p["price"].as_f64().unwrap() > 0.0);
    assert_eq!(c.get("/products/999").await.status, StatusCode::OK);
    for unknown in ["/products/1000", "/products/123456", "/products/0"] {
        let r = c.get(unknown).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{unknown}");
        assert!(r.json()["error"].is_string());
    }
    assert_eq!(c.get("/products/abc").await.status, StatusCode::BAD_REQUEST);
    shop.shutdown().await;
}

#[tokio::test]
async fn search_finds_matching_products() {
    let shop = fast_shop(false).await;
    let mut c = Client::connect(&shop).await;
    let r = c.get("/search?q=shoes").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["query"], "shoes");
    let results = v["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 10);
    assert!(v["total"].as_u64().unwrap() >= results.len() as u64);
    for p in results {
        assert!(p["name"].as_str().unwrap().to_lowercase().contains("shoes"));
    }
    let r = c.get("/search?q=running+SHOES").await.json();
    assert!(r["total"].as_u64().unwrap() > 0);
    let r = c.get("/search?q=no-such-thing").await.json();
    assert_eq!(r["total"], 0);
    assert_eq!(c.get("/search").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.get("/search?q=").await.status, StatusCode::BAD_REQUEST);
    shop.shutdown().await;
}

#[tokio::test]
async fn cart_and_checkout_need_a_session() {
    let shop = fast_shop(false).await;
    let mut c = Client::connect(&shop).await;
    let r = c.post("/cart", json!({ "product": 42 })).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["error"].is_string());
    assert_eq!(c.get("/cart").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        c.post("/checkout", json!({})).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A token the shop never issued is no session either.
    c.session = Some("forged".into());
    let r = c.post("/cart", json!({ "product": 42 })).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    shop.shutdown().await;
}

#[tokio::test]
async fn login_cart_checkout_flow() {
    let shop = fast_shop(false).await;
    let mut c = Client::connect(&shop).await;
    assert_eq!(c.login().await.status, StatusCode::OK);
    assert!(c.session.is_some());

    assert_eq!(
        c.post("/checkout", json!({})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "empty cart"
    );
    let r = c.post("/cart", json!({ "product": 42 })).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["items"], 1);
    let r = c
        .post("/cart", json!({ "product": 7, "quantity": 2 }))
        .await;
    let cart = r.json();
    assert_eq!(cart["items"], 3);
    assert_eq!(cart["lines"].as_array().unwrap().len(), 2);
    assert_eq!(c.get("/cart").await.json(), cart);

    let bad = [
        json!({}),
        json!({ "product": "x" }),
        json!({ "product": 1, "quantity": 0 }),
    ];
    for body in bad {
        let r = c.post("/cart", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
    }
    let r = c.post("/cart", json!({ "product": 1000 })).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = c.post("/checkout", json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let order = r.json();
    assert!(order["order"].as_str().unwrap().starts_with("ORD-"));
    assert_eq!(order["items"], 3);
    assert_eq!(order["total"], cart["total"]);
    assert_eq!(c.get("/cart").await.json()["items"], 0);
    shop.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let shop = fast_shop(false).await;
    let mut c = Client::connect(&shop).await;
    assert_eq!(c.get("/admin").await.status, StatusCode::NOT_FOUND);
    let r = c.get("/login").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers[header::ALLOW], "POST");
    let r = c.send(Method::DELETE, "/products/1", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = c.send(Method::HEAD, "/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    shop.shutdown().await;
}

#[tokio::test]
async fn search_latency_is_within_documented_bounds() {
    let shop = ShopTarget::start_with(ShopConfig {
        seed: Some(7),
        latency_scale: 1.0,
        ..ShopConfig::default()
    })
    .await
    .unwrap();
    // 4 connections x 6 sequential searches: about 1 s in all.
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut c = Client::connect(&shop).await;
        clients.push(tokio::spawn(async move {
            let mut times = Vec::new();
            for _ in 0..6 {
                times.push(c.get("/search?q=shoes").await.elapsed);
            }
            times
        }));
    }
    let mut times = Vec::new();
    for client in clients {
        times.extend(client.await.unwrap());
    }
    // Sleeps never end early; allow scheduling slack above the documented maximum.
    let slack = Duration::from_millis(150);
    for &t in &times {
        assert!(
            t >= latency::SEARCH.min(),
            "{t:?} below {:?}",
            latency::SEARCH.min()
        );
        assert!(
            t <= latency::SEARCH.max() + slack,
            "{t:?} above {:?}",
            latency::SEARCH.max()
        );
    }
    times.sort();
    assert!(
        times[0] < times[times.len() - 1],
        "latency should vary: {times:?}"
    );
    assert_eq!(shop.requests_served(), 24);
    shop.shutdown().await;
}

#[tokio::test]
async fn error_rates_are_in_a_loose_band() {
    let shop = fast_shop(true).await;
    let mut c = Client::connect(&shop).await;
    assert_eq!(c.login().await.status, StatusCode::OK);
    let (mut failed, mut created) = (0, 0);
    for _ in 0..400 {
        assert_eq!(
            c.post("/cart", json!({ "product": 42 })).await.status,
            StatusCode::OK
        );
        match c.post("/checkout", json!({})).await.status {
            StatusCode::CREATED => created += 1,
            StatusCode::INTERNAL_SERVER_ERROR => failed += 1,
            other => panic!("unexpected checkout status {other}"),
        }
    }
    // 1.5 % of 400 is 6.
    assert_eq!(failed + created, 400);
    assert!(
        (1..=16).contains(&failed),
        "{failed} failed checkouts of 400"
    );

    let mut unavailable = 0;
    for _ in 0..1000 {
        match c.get("/search?q=cap").await.status {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => unavailable += 1,
            other => panic!("unexpected search status {other}"),
        }
    }
    // 0.5 % of 1000 is 5.
    assert!(
        (1..=15).contains(&unavailable),
        "{unavailable} failed searches of 1000"
    );
    assert_eq!(shop.requests_served(), 1 + 800 + 1000);
    shop.shutdown().await;
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let shop = fast_shop(false).await;
    let addr = shop.addr();
    let mut c = Client::connect(&shop).await;
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    assert_eq!(shop.requests_served(), 1);
    tokio::time::timeout(Duration::from_secs(10), shop.shutdown())
        .await
        .expect("graceful shutdown finishes");
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");

    let shop = fast_shop(false).await;
    let addr = shop.addr();
    drop(shop);
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after drop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn refuses_non_loopback_addresses() {
    let err = ShopTarget::start_on("0.0.0.0:0".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let shop = ShopTarget::start_on("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert_ne!(shop.addr().port(), 0);
    shop.shutdown().await;
}

/// The `get:`/`post:` paths of the bundled scenario, in order.
fn scenario_requests() -> Vec<(Method, String)> {
    DEMO_SCENARIO
        .lines()
        .filter_map(|line| {
            let step = line.trim_start().strip_prefix("- ")?;
            let (method, path) = step.split_once(": ")?;
            let method = match method {
                "get" => Method::GET,
                "post" => Method::POST,
                _ => return None,
            };
            Some((method, path.trim().to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn demo_scenario_matches_the_shop() {
    assert!(DEMO_SCENARIO.contains("\ntarget: http://127.0.0.1:8080\n"));
    assert!(DEMO_SCENARIO.starts_with('#') && DEMO_SCENARIO.contains("\nversion: 1\n"));
    for weight in ["weight: 20", "weight: 50", "weight: 30"] {
        assert!(DEMO_SCENARIO.contains(weight), "{weight}");
    }
    // Every scenario has a think time, so no user hammers the shop.
    assert_eq!(DEMO_SCENARIO.matches("\n    think_time:").count(), 3);

    let requests = scenario_requests();
    assert!(requests.len() >= 8, "{requests:?}");
    let shop = fast_shop(false).await;
    let mut c = Client::connect(&shop).await;
    for (method, path) in requests {
        let body = match path.as_str() {
            "/login" => json!({ "user": "alice", "password": "secret" }),
            "/cart" => json!({ "product": 42, "quantity": 1 }),
            _ => json!({}),
        };
        let r = if method == Method::POST {
            c.post(&path, body).await
        } else {
            c.get(&path).await
        };
        let expected = if path == "/products/1042" {
            StatusCode::NOT_FOUND
        } else if path == "/checkout" {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        assert_eq!(r.status, expected, "{method} {path}");
    }
    shop.shutdown().await;
}
