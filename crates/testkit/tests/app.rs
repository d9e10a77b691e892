//! [`ShopApp`] over real HTTP/1.1: every route, its statuses and bodies, and what `seen()` records.

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use stampede_testkit::ShopApp;
use std::time::{Duration, Instant};

/// One keep-alive HTTP/1.1 connection to the app.
struct Client {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

/// A response, body read in full.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status, self.body
            )
        })
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }
}

impl Client {
    async fn connect(app: &ShopApp) -> Client {
        let stream = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        Client {
            sender,
            host: app.addr().to_string(),
        }
    }

    async fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(target)
            .header("host", &self.host);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        self.sender.ready().await.unwrap();
        let response = self.sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn get(&mut self, target: &str) -> Reply {
        self.send("GET", target, &[], "").await
    }

    async fn get_with(&mut self, target: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", target, headers, "").await
    }

    async fn post_json(&mut self, target: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.send("POST", target, &all, &body.to_string()).await
    }

    async fn post_form(&mut self, target: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.send("POST", target, &all, body).await
    }

    /// Logs `user` in with JSON; returns (token, session cookie value).
    async fn login(&mut self, user: &str) -> (String, String) {
        let body = json!({"username": user, "password": format!("pw-{user}")});
        let reply = self.post_json("/login", &[], &body).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let cookie = reply.header("set-cookie");
        let session = cookie
            .strip_prefix("session=")
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        (
            reply.json()["token"].as_str().unwrap().to_owned(),
            session.to_owned(),
        )
    }
}

/// The value of attribute `attr` right after `marker` in `html`.
fn attr_after(html: &str, marker: &str, attr: &str) -> String {
    let rest = &html[html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"))..];
    let start = rest.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
    rest[start..start + rest[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn login_accepts_json_and_form_and_rejects_bad_credentials() {
    let app = ShopApp::start().await;
    let mut c = Client::connect(&app).await;

    let reply = c
        .post_json(
            "/login",
            &[],
            &json!({"username": "alice", "password": "pw-alice"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(
        reply.json(),
        json!({"token": "tok-alice-1", "user": {"name": "alice", "id": 1}})
    );
    let alice_cookie = reply.header("set-cookie").to_owned();
    assert!(alice_cookie.starts_with("session="), "{alice_cookie}");
    assert!(
        alice_cookie.ends_with("; Path=/; HttpOnly"),
        "{alice_cookie}"
    );

    let reply = c
        .post_form("/login", &[], "username=bob&password=pw-bob")
        .await;
    assert_eq!(
        reply.json(),
        json!({"token": "tok-bob-2", "user": {"name": "bob", "id": 2}})
    );
    assert_ne!(
        reply.header("set-cookie"),
        alice_cookie,
        "session ids are unique"
    );

    let reply = c
        .post_form("/login", &[], "username=alice&password=wrong")
        .await;
    assert_eq!(
        (reply.status, reply.json()),
        (401, json!({"error": "bad credentials"}))
    );
    let reply = c
        .post_json(
            "/login",
            &[],
            &json!({"username": "a b", "password": "pw-a b"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let reply = c
        .post_json("/login", &[], &json!({"username": "carol"}))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.json()["error"].as_str().unwrap().contains("password"));
    let reply = c
        .send("POST", "/login", &[], "username=bob&password=pw-bob")
        .await;
    assert_eq!(reply.status, 415, "no Content-Type: {}", reply.body);
    let reply = c.get("/login").await;
    assert_eq!((reply.status, reply.header("allow")), (405, "POST"));

    let seen = app.seen();
    assert_eq!(seen.logins, ["alice", "bob"]);
    assert_eq!(seen.login_failures, ["alice", "a b", "carol"]);
    assert_eq!(seen.method_count("POST", "/login"), 6);
    assert_eq!(seen.connections, 1, "one keep-alive connection");
    app.shutdown().await;
}

#[tokio::test]
async fn me_and_account_accept_only_issued_credentials() {
    let app = ShopApp::start().await;
    let mut c = Client::connect(&app).await;
    let (token, session) = c.login("alice").await;

    let reply = c
        .get_with("/api/me", &[("authorization", &format!("Bearer {token}"))])
        .await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"name": "alice", "id": 1}))
    );
    let reply = c
        .get_with("/api/me", &[("authorization", "Bearer tok-alice-9")])
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(c.get("/api/me").await.status, 401);

    let cookie = format!("theme=dark; session={session}");
    let reply = c.get_with("/account", &[("cookie", &cookie)]).await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"name": "alice", "id": 1}))
    );
    assert_eq!(
        c.get_with("/account", &[("cookie", "session=nope")])
            .await
            .status,
        401
    );
    assert_eq!(c.get("/account").await.status, 401);

    let seen = app.seen();
    let expected = [
        (token, true),
        ("tok-alice-9".into(), false),
        (String::new(), false),
    ];
    assert_eq!(seen.me_checks, expected);
    let expected = [
        (session, true),
        ("nope".into(), false),
        (String::new(), false),
    ];
    assert_eq!(seen.account_checks, expected);
    assert_eq!(
        seen.cookies["/account"],
        [cookie, "session=nope".to_owned()]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn products_paginate_and_product_views_are_recorded() {
    let app = ShopApp::start().await;
    let mut c = Client::connect(&app).await;

    let mut next = Some("/products".to_owned());
    let mut ids = Vec::new();
    for _ in 0..10 {
        let Some(target) = next.take() else { break };
        let page = c.get(&target).await.json();
        for item in page["items"].as_array().unwrap() {
            ids.push(item["id"].as_u64().unwrap());
        }
        next = page["next"].as_str().map(str::to_owned);
    }
    assert!(next.is_none(), "pagination ends");
    assert_eq!(ids, (101..=115).collect::<Vec<u64>>());

    let first = c.get("/products?page=1").await.json();
    assert_eq!(
        first["items"][0],
        json!({"id": 101, "name": "Product 101", "price": 1.5})
    );
    assert_eq!(first["next"], "/products?page=2");
    let last = c.get("/products?page=3").await.json();
    assert_eq!(
        (last["page"].clone(), last["next"].clone()),
        (json!(3), Value::Null)
    );
    let beyond = c.get("/products?page=4").await.json();
    assert_eq!(beyond, json!({"page": 4, "items": [], "next": null}));
    assert_eq!(c.get("/products?page=0").await.status, 400);
    assert_eq!(c.get("/products?page=x").await.status, 400);

    let reply = c.get("/products/103").await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"id": 103, "name": "Product 103", "price": 4.5}))
    );
    assert_eq!(c.get("/products/999").await.status, 404);
    assert_eq!(c.get("/products/abc").await.status, 404);
    assert_eq!(c.get("/products/115").await.status, 200);

    let seen = app.seen();
    assert_eq!(seen.product_pages, [1, 2, 3, 1, 3, 4]);
    assert_eq!(seen.product_views, [103, 999, 115]);
    assert_eq!(seen.count("/products"), 8);
    app.shutdown().await;
}

#[tokio::test]
async fn csrf_tokens_are_single_use_and_bound_to_the_session() {
    let app = ShopApp::start().await;
    let mut c = Client::connect(&app).await;

    let page = c.get("/form").await;
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert!(
        page.body.contains(r#"<form method="post" action="/form">"#),
        "{}",
        page.body
    );
    let token = attr_after(&page.body, r#"name="csrf""#, "value");
    assert!(token.starts_with("csrf-") && token.len() == 21, "{token}");
    assert_eq!(
        attr_after(&page.body, r#"name="csrf-token""#, "content"),
        token
    );
    let other = attr_after(&c.get("/form").await.body, r#"name="csrf""#, "value");
    assert_ne!(other, token, "a fresh token per request");

    let reply = c
        .post_form("/form", &[], &format!("csrf={token}&message=hi+there"))
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "accepted"));
    let reply = c.post_form("/form", &[], &format!("csrf={token}")).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (403, "bad csrf"),
        "reused token"
    );
    let reply = c
        .post_form("/form", &[], "csrf=csrf-0000000000000000")
        .await;
    assert_eq!(reply.status, 403, "never issued");
    assert_eq!(
        c.post_form("/form", &[], "message=no-token").await.status,
        403
    );

    let bound = c.get_with("/form", &[("cookie", "session=s1")]).await;
    let bound = attr_after(&bound.body, r#"name="csrf""#, "value");
    let body = format!("csrf={bound}");
    assert_eq!(
        c.post_form("/form", &[], &body).await.status,
        403,
        "no session"
    );
    assert_eq!(
        c.post_form("/form", &[("cookie", "session=s2")], &body)
            .await
            .status,
        403
    );
    assert_eq!(
        c.post_form("/form", &[("cookie", "session=s1")], &body)
            .await
            .status,
        200
    );

    let seen = app.seen();
    assert_eq!(
        (seen.csrf_issued, seen.csrf_accepted, seen.csrf_rejected),
        (3, 2, 5)
    );
    let logged = seen
        .requests
        .iter()
        .find(|r| r.body.contains("hi+there"))
        .unwrap();
    assert_eq!(
        logged.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn carts_belong_to_their_token_and_checkout_totals_them() {
    let app = ShopApp::start().await;
    let mut c = Client::connect(&app).await;
    let (alice, _) = c.login("alice").await;
    let (bob, _) = c.login("bob").await;
    let alice_auth = format!("Bearer {alice}");
    let bob_auth = format!("Bearer {bob}");

    let reply = c
        .post_json(
            "/cart",
            &[("authorization", &alice_auth)],
            &json!({"product": 101, "qty": 2}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.json()),
        (201, json!({"cart_id": "cart-1", "items": 1}))
    );
    assert_eq!(reply.header("location"), "/cart/cart-1");
    let headers = [("authorization", alice_auth.as_str()), ("x-cart", "cart-1")];
    let reply = c
        .post_json("/cart", &headers, &json!({"product": 103}))
        .await;
    assert_eq!(
        (reply.status, reply.json()),
        (201, json!({"cart_id": "cart-1", "items": 2}))
    );

    // Bob cannot touch alice's cart; errors for unknown things and bad input.
    let headers = [("authorization", bob_auth.as_str()), ("x-cart", "cart-1")];
    assert_eq!(
        c.post_json("/cart", &headers, &json!({"product": 102}))
            .await
            .status,
        403
    );
    let headers = [("authorization", alice_auth.as_str()), ("x-cart", "cart-9")];
    assert_eq!(
        c.post_json("/cart", &headers, &json!({"product": 102}))
            .await
            .status,
        404
    );
    let alice_only = [("authorization", alice_auth.as_str())];
    assert_eq!(
        c.post_json("/cart", &alice_only, &json!({"product": 999}))
            .await
            .status,
        404
    );
    assert_eq!(
        c.post_json("/cart", &alice_only, &json!({"product": "101"}))
            .await
            .status,
        400
    );
    assert_eq!(
        c.post_json("/cart", &alice_only, &json!({"product": 101, "qty": 0}))
            .await
            .status,
        400
    );
    assert_eq!(
        c.post_json("/cart", &[], &json!({"product": 101}))
            .await
            .status,
        401
    );
    let reply = c
        .send("POST", "/cart", &alice_only, r#"{"product": 101}"#)
        .await;
    assert_eq!(reply.status, 415, "no Content-Type: {}", reply.body);
    let reply = c
        .send(
            "POST",
            "/cart",
            &[
                ("authorization", &alice_auth),
                ("content-type", "application/json"),
            ],
            "{",
        )
        .await;
    assert_eq!(reply.status, 400);

    let cart = c.get("/cart/cart-1").await.json();
    let expected = json!({"cart_id": "cart-1", "total": 7.5, "items": [
        {"product": 101, "qty": 2, "price": 1.5}, {"product": 103, "qty": 1, "price": 4.5}]});
    assert_eq!(cart, expected);
    assert_eq!(c.get("/cart/cart-9").await.status, 404);

    let bob_only = [("authorization", bob_auth.as_str())];
    let reply = c
        .post_json("/checkout", &bob_only, &json!({"cart_id": "cart-1"}))
        .await;
    assert_eq!(reply.status, 403, "bob checks out alice's cart");
    let reply = c
        .post_json("/checkout", &alice_only, &json!({"cart_id": "cart-1"}))
        .await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"order": "order-1", "total": 7.5}))
    );
    let reply = c
        .post_json("/checkout", &alice_only, &json!({"cart_id": "cart-1"}))
        .await;
    assert_eq!(reply.status, 404, "a checked-out cart is gone");
    assert_eq!(c.get("/cart/cart-1").await.status, 404);
    assert_eq!(
        c.post_json("/checkout", &[], &json!({"cart_id": "cart-1"}))
            .await
            .status,
        401
    );

    let seen = app.seen();
    let adds: Vec<(u64, u64)> = seen.cart_adds[&alice]
        .iter()
        .map(|a| (a.product, a.qty))
        .collect();
    assert_eq!(adds, [(101, 2), (103, 1)]);
    assert!(seen.cart_adds[&alice].iter().all(|a| a.cart_id == "cart-1"));
    assert!(!seen.cart_adds.contains_key(&bob));
    assert_eq!(seen.orders[&alice].len(), 1);
    assert_eq!(
        (
            seen.orders[&alice][0].order.as_str(),
            seen.orders[&alice][0].total
        ),
        ("order-1", 7.5)
    );
    assert!(!seen.orders.contains_key(&bob));
    app.shutdown().await;
}

#[tokio::test]
async fn page_resources_are_served_with_their_types_and_counted() {
    let app = ShopApp::start().await;
    let mut c = Client::connect(&app).await;
    let page = c.get("/page").await;
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    for marker in [
        r#"<img src="img/a.png""#,
        r#"<img src="/static/b.png""#,
        r#"<script src="/static/app.js">"#,
        r#"<link rel="stylesheet" href="/static/site.css">"#,
        r#"<link rel="icon" href="/favicon.ico">"#,
        r#"<iframe src="/frame">"#,
        r#"<a href="/not-a-resource">"#,
        r#"<!-- <img src="/static/commented.png""#,
    ] {
        assert!(
            page.body.contains(marker),
            "{marker} missing from {}",
            page.body
        );
    }

    let cookie = [("cookie", "session=abc")];
    for (path, content_type) in [
        ("/img/a.png", "image/png"),
        ("/page/img/a.png", "image/png"),
        ("/static/b.png", "image/png"),
        ("/static/app.js", "text/javascript"),
        ("/static/site.css", "text/css"),
        ("/favicon.ico", "image/x-icon"),
        ("/frame", "text/html; charset=utf-8"),
        ("/static/data.bin", "application/octet-stream"),
    ] {
        let reply = c.get_with(path, &cookie).await;
        assert_eq!(
            (reply.status, reply.header("content-type")),
            (200, content_type),
            "{path}"
        );
        assert!(!reply.body.is_empty(), "{path}");
    }
    assert_eq!(c.get("/not-a-resource").await.status, 404);
    assert!(
        c.get("/img/a.png").await.body.starts_with("\u{FFFD}PNG"),
        "a PNG signature"
    );

    let seen = app.seen();
    assert_eq!(seen.count("/page"), 1);
    assert_eq!(seen.count("/img/a.png"), 2);
    assert_eq!(seen.count("/static/commented.png"), 0);
    assert_eq!(seen.count("/not-a-resource"), 1);
    assert_eq!(seen.cookies["/favicon.ico"], ["session=abc"]);
    assert!(!seen.cookies.contains_key("/page"));
    assert_eq!(seen.total(), 11);
    app.shutdown().await;
}

#[tokio::test]
async fn echo_reflects_the_request() {
    let app = ShopApp::start().await;
    let mut c = Client::connect(&app).await;
    let headers = [
        ("x-trace", "t-1"),
        ("content-type", "application/json"),
        ("cookie", "a=1"),
        ("cookie", "b=2"),
    ];
    let reply = c
        .send(
            "POST",
            "/echo?q=red+shoes&id=7&id=8",
            &headers,
            r#"{"n": 1}"#,
        )
        .await;
    let echo = reply.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/echo");
    assert_eq!(echo["query"], "q=red+shoes&id=7&id=8");
    assert_eq!(echo["target"], "/echo?q=red+shoes&id=7&id=8");
    assert_eq!(echo["args"], json!({"q": "red shoes", "id": "8"}));
    assert_eq!(echo["headers"]["x-trace"], "t-1");
    assert_eq!(echo["headers"]["cookie"], "a=1; b=2");
    assert_eq!(echo["headers"]["host"], app.addr().to_string());
    assert_eq!(echo["body"], r#"{"n": 1}"#);
    assert_eq!(echo["json"], json!({"n": 1}));

    let echo = c.get("/echo").await.json();
    assert_eq!(
        (
            echo["method"].clone(),
            echo["query"].clone(),
            echo["json"].clone()
        ),
        (json!("GET"), Value::Null, Value::Null)
    );

    let seen = app.seen();
    assert_eq!(seen.requests.len(), 2);
    assert_eq!(seen.requests[0].target, "/echo?q=red+shoes&id=7&id=8");
    assert_eq!(seen.requests[0].header("X-TRACE"), Some("t-1"));
    assert_eq!(seen.requests[0].body, r#"{"n": 1}"#);
    assert_eq!(seen.cookies["/echo"], ["a=1; b=2"]);
    app.shutdown().await;
}

#[tokio::test]
async fn slow_sleeps_as_asked() {
    let app = ShopApp::start().await;
    let mut c = Client::connect(&app).await;
    let started = Instant::now();
    let reply = c.get("/slow?ms=120").await;
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"slept_ms": 120}))
    );
    assert_eq!(c.get("/slow").await.json(), json!({"slept_ms": 0}));
    assert_eq!(c.get("/slow?ms=soon").await.status, 400);
    assert_eq!(app.seen().count("/slow"), 3);
    app.shutdown().await;
}

#[tokio::test]
async fn admin_routes_need_the_key_or_the_admin_token() {
    let app = ShopApp::start().await;
    let mut c = Client::connect(&app).await;
    let (token, _) = c.login("alice").await;
    let auth = format!("Bearer {token}");
    c.post_json(
        "/cart",
        &[("authorization", &auth)],
        &json!({"product": 101}),
    )
    .await;

    assert_eq!(c.send("POST", "/admin/reset", &[], "").await.status, 403);
    assert_eq!(
        c.send("POST", "/admin/reset", &[("x-admin-key", "guess")], "")
            .await
            .status,
        403
    );
    assert_eq!(
        c.get("/cart/cart-1").await.status,
        200,
        "a refused reset keeps carts"
    );
    let reply = c
        .send(
            "POST",
            "/admin/reset",
            &[("x-admin-key", "admin-secret")],
            "",
        )
        .await;
    assert_eq!((reply.status, reply.json()), (200, json!({"reset": true})));
    assert_eq!(c.get("/cart/cart-1").await.status, 404, "reset drops carts");

    assert_eq!(c.send("POST", "/admin/token", &[], "").await.status, 403);
    let reply = c
        .send(
            "POST",
            "/admin/token",
            &[("x-admin-key", "admin-secret")],
            "",
        )
        .await;
    assert_eq!(reply.json(), json!({"admin_token": "adm-1"}));
    assert_eq!(
        c.get_with("/admin/stats", &[("authorization", &auth)])
            .await
            .status,
        401
    );
    let stats = c
        .get_with("/admin/stats", &[("authorization", "Bearer adm-1")])
        .await;
    assert_eq!(stats.status, 200);
    assert_eq!(
        (
            stats.json()["logins"].clone(),
            stats.json()["carts"].clone()
        ),
        (json!(1), json!(0))
    );

    let seen = app.seen();
    assert_eq!(seen.resets, 1);
    let calls: Vec<(&str, bool)> = seen
        .admin_calls
        .iter()
        .map(|(p, ok)| (p.as_str(), *ok))
        .collect();
    assert_eq!(
        calls,
        [
            ("/admin/reset", false),
            ("/admin/reset", false),
            ("/admin/reset", true),
            ("/admin/token", false),
            ("/admin/token", true),
            ("/admin/stats", false),
            ("/admin/stats", true),
        ]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_wrong_methods_large_bodies_and_shutdown() {
    let app = ShopApp::start().await;
    let mut c = Client::connect(&app).await;
    let reply = c.get("/nope").await;
    assert_eq!(
        (reply.status, reply.json()),
        (404, json!({"error": "not found"}))
    );
    let reply = c.send("DELETE", "/form", &[], "").await;
    assert_eq!((reply.status, reply.header("allow")), (405, "GET, POST"));
    assert_eq!(c.send("POST", "/products/101", &[], "").await.status, 405);
    let big = "x".repeat((1 << 20) + 1);
    let reply = c.send("POST", "/echo", &[], &big).await;
    assert_eq!(reply.status, 413);
    let seen = app.seen();
    assert_eq!(seen.count("/nope"), 1);
    assert_eq!(seen.method_count("DELETE", "/form"), 1);
    assert_eq!(seen.count("/echo"), 1, "a refused body is still counted");
    assert!(app.url().starts_with("http://127.0.0.1:"));

    let addr = app.addr();
    app.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens after shutdown"
    );
}
