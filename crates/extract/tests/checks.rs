//! Every check kind, passing and failing, with the exact names and failure details.

use http::{HeaderMap, HeaderValue};
use serde_json::json;
use stampede_extract::{Check, CheckSpec, Parsed};

const PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Shop</title></head>\n<body><h1>Products</h1>\
                    <p>3 items</p><footer>© 2026</footer></body></html>";

const API: &str = r#"{"count": 10, "price": 9.5, "name": "Zoë", "ok": true, "owner": null,
  "items": [{"id": 1}, {"id": 2}, {"id": 3}], "tags": ["a", "b"], "big": 12345678901234567890}"#;

fn check(spec: CheckSpec) -> Check {
    Check::compile(&spec).unwrap_or_else(|e| panic!("{spec:?} should compile: {e:?}"))
}

fn json_eq(path: &str, value: serde_json::Value) -> Check {
    check(CheckSpec::JsonEquals(path.into(), value))
}

#[test]
fn body_contains() {
    let headers = HeaderMap::new();
    let page = Parsed::new(200, &headers, PAGE.as_bytes());
    let c = check(CheckSpec::BodyContains("Products".into()));
    assert_eq!(c.name(), r#"body contains "Products""#);
    assert!(c.reads_body());
    assert_eq!(c.verify(&page), Ok(()));

    let c = check(CheckSpec::BodyContains("Checkout".into()));
    assert_eq!(
        c.verify(&page),
        Err(r#"body (130 bytes) starts "<!DOCTYPE html> <html><head><title>Shop</title></head> <body...""#.into())
    );
    let empty = Parsed::new(204, &headers, b"");
    assert_eq!(c.verify(&empty), Err("body is empty".into()));
    let unicode = check(CheckSpec::BodyContains("© 2026".into()));
    assert_eq!(unicode.verify(&page), Ok(()));
}

#[test]
fn body_not_contains() {
    let headers = HeaderMap::new();
    let page = Parsed::new(200, &headers, PAGE.as_bytes());
    let c = check(CheckSpec::BodyNotContains("Error".into()));
    assert_eq!(c.name(), r#"body does not contain "Error""#);
    assert_eq!(c.verify(&page), Ok(()));
    let c = check(CheckSpec::BodyNotContains("3 items".into()));
    assert_eq!(
        c.verify(&page),
        Err(r#"found at byte 81: ..."<h1>Products</h1><p>3 items</p><footer>© 2026</footer></body...""#.into())
    );
    let c = check(CheckSpec::BodyNotContains("<!DOC".into()));
    assert_eq!(
        c.verify(&page),
        Err(
            r#"found at byte 0: "<!DOCTYPE html> <html><head><title>Shop</title></head> <body...""#
                .into()
        )
    );
}

#[test]
fn body_matches() {
    let headers = HeaderMap::new();
    let page = Parsed::new(200, &headers, PAGE.as_bytes());
    let c = check(CheckSpec::BodyMatches(r"\d+ items".into()));
    assert_eq!(c.name(), r#"body matches "\d+ items""#);
    assert_eq!(c.verify(&page), Ok(()));
    let c = check(CheckSpec::BodyMatches(r"(?i)OUT OF STOCK".into()));
    let err = c.verify(&page).unwrap_err();
    assert!(
        err.starts_with("body (130 bytes) starts \"<!DOCTYPE"),
        "{err}"
    );
}

#[test]
fn truncated_body_says_so() {
    let headers = HeaderMap::new();
    let page = Parsed::new(200, &headers, &PAGE.as_bytes()[..20]).truncated(true);
    let c = check(CheckSpec::BodyContains("Products".into()));
    assert_eq!(
        c.verify(&page),
        Err(r#"body (first 20 bytes, cut at max_body) starts "<!DOCTYPE html> <htm""#.into())
    );
    let api = Parsed::new(200, &headers, &API.as_bytes()[..30]).truncated(true);
    assert_eq!(
        json_eq("$.count", json!(10)).verify(&api),
        Err("body is not JSON (cut at max_body after 30 bytes): EOF while parsing a string at line 1 column 30".into())
    );
}

#[test]
fn json_exists() {
    let headers = HeaderMap::new();
    let api = Parsed::new(200, &headers, API.as_bytes());
    let c = check(CheckSpec::JsonExists("$.owner".into()));
    assert_eq!(c.name(), "$.owner exists");
    assert_eq!(c.verify(&api), Ok(()), "null is a value");
    let c = check(CheckSpec::JsonExists("$.items[?@.id > 2]".into()));
    assert_eq!(c.verify(&api), Ok(()));
    let c = check(CheckSpec::JsonExists("$.token".into()));
    assert_eq!(c.verify(&api), Err("$.token: no match".into()));
    let html = Parsed::new(200, &headers, PAGE.as_bytes());
    assert_eq!(
        c.verify(&html),
        Err("body is not JSON: expected value at line 1 column 1".into())
    );
}

#[test]
fn json_equals_numbers_strings_and_more() {
    let headers = HeaderMap::new();
    let api = Parsed::new(200, &headers, API.as_bytes());
    let c = json_eq("$.count", json!(10));
    assert_eq!(c.name(), "$.count == 10");
    assert_eq!(c.verify(&api), Ok(()));
    assert_eq!(json_eq("$.count", json!(10.0)).verify(&api), Ok(()));
    assert_eq!(json_eq("$.price", json!(9.5)).verify(&api), Ok(()));
    let c = json_eq("$.count", json!(9));
    assert_eq!(c.verify(&api), Err("$.count is 10".into()));
    let c = json_eq("$.count", json!("10"));
    assert_eq!(c.name(), r#"$.count == "10""#);
    assert_eq!(
        c.verify(&api),
        Err("$.count is 10".into()),
        "a string is not a number"
    );

    let c = json_eq("$.name", json!("Zoë"));
    assert_eq!(c.name(), r#"$.name == "Zoë""#);
    assert_eq!(c.verify(&api), Ok(()));
    assert_eq!(
        json_eq("$.name", json!("Zoe")).verify(&api),
        Err(r#"$.name is "Zoë""#.into())
    );
    assert_eq!(json_eq("$.ok", json!(true)).verify(&api), Ok(()));
    assert_eq!(json_eq("$.owner", json!(null)).verify(&api), Ok(()));
    assert_eq!(json_eq("$.tags", json!(["a", "b"])).verify(&api), Ok(()));
    assert_eq!(
        json_eq("$.big", json!(12345678901234567890u64)).verify(&api),
        Ok(())
    );
    // The first match is compared.
    assert_eq!(json_eq("$.items[*].id", json!(1)).verify(&api), Ok(()));
    assert_eq!(
        json_eq("$.items[*].id", json!(2)).verify(&api),
        Err("$.items[*].id is 1 (first of 3)".into())
    );
    assert_eq!(
        json_eq("$.missing", json!(1)).verify(&api),
        Err("$.missing: no match".into())
    );
    assert_eq!(
        json_eq("$.items", json!([])).verify(&api),
        Err(r#"$.items is [{"id":1},{"id":2},{"id":3}]"#.into())
    );
}

#[test]
fn header_checks() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.append("vary", HeaderValue::from_static("Accept"));
    headers.append("vary", HeaderValue::from_static("Origin"));
    headers.insert("x-evil", HeaderValue::from_bytes(b"a\tb\xffc").unwrap());
    let r = Parsed::new(200, &headers, b"");

    let c = check(CheckSpec::HeaderExists("Content-Type".into()));
    assert_eq!(c.name(), "header content-type exists");
    assert!(!c.reads_body());
    assert_eq!(c.verify(&r), Ok(()));
    let c = check(CheckSpec::HeaderExists("x-request-id".into()));
    assert_eq!(c.verify(&r), Err("no header x-request-id".into()));

    let c = check(CheckSpec::HeaderEquals("Vary".into(), "Origin".into()));
    assert_eq!(c.name(), r#"header vary == "Origin""#);
    assert_eq!(c.verify(&r), Ok(()), "any of the values");
    let c = check(CheckSpec::HeaderEquals("vary".into(), "Cookie".into()));
    assert_eq!(
        c.verify(&r),
        Err(r#"header vary is "Accept" (and 1 more)"#.into())
    );
    let c = check(CheckSpec::HeaderEquals(
        "content-type".into(),
        "application/json".into(),
    ));
    assert_eq!(
        c.verify(&r),
        Err(r#"header content-type is "text/html; charset=utf-8""#.into())
    );
    let c = check(CheckSpec::HeaderEquals("etag".into(), "x".into()));
    assert_eq!(c.verify(&r), Err("no header etag".into()));

    let c = check(CheckSpec::HeaderMatches(
        "content-type".into(),
        "html".into(),
    ));
    assert_eq!(c.name(), r#"header content-type matches "html""#);
    assert_eq!(c.verify(&r), Ok(()));
    let c = check(CheckSpec::HeaderMatches(
        "content-type".into(),
        "json".into(),
    ));
    assert_eq!(
        c.verify(&r),
        Err(r#"header content-type is "text/html; charset=utf-8""#.into())
    );
    // Received bytes are sanitized in details.
    let c = check(CheckSpec::HeaderEquals("x-evil".into(), "x".into()));
    assert_eq!(
        c.verify(&r),
        Err("header x-evil is \"a b\u{FFFD}c\"".into())
    );
}

#[test]
fn details_are_short_single_lines() {
    let headers = HeaderMap::new();
    let body = format!("\u{1b}[31m{}\r\n", "x\u{0}".repeat(5000));
    let r = Parsed::new(200, &headers, body.as_bytes());
    let c = check(CheckSpec::BodyContains("Products".into()));
    let detail = c.verify(&r).unwrap_err();
    assert!(detail.chars().count() <= 120, "{detail}");
    assert!(!detail.chars().any(char::is_control), "{detail}");
    assert!(
        detail.starts_with(r#"body (10007 bytes) starts "\u{1b}[31mx\u{0}x"#),
        "{detail}"
    );
}

#[test]
fn compile_errors() {
    let err = |spec: CheckSpec| Check::compile(&spec).expect_err("should not compile");
    assert_eq!(
        err(CheckSpec::BodyMatches("(".into())).message,
        "invalid regex at position 1: unclosed group"
    );
    assert!(
        err(CheckSpec::JsonExists("count".into()))
            .message
            .starts_with("invalid JSONPath")
    );
    assert!(
        err(CheckSpec::JsonEquals("$[".into(), json!(1)))
            .message
            .starts_with("invalid JSONPath")
    );
    assert_eq!(
        err(CheckSpec::HeaderMatches("content-type".into(), "[".into())).message,
        "invalid regex at position 1: unclosed character class"
    );
    assert_eq!(
        err(CheckSpec::HeaderExists("bad header".into())).message,
        r#"invalid header name "bad header""#
    );
    assert_eq!(
        err(CheckSpec::BodyContains(String::new())).message,
        "the text to look for is empty"
    );
}

#[test]
fn long_names_are_cut() {
    let c = check(CheckSpec::BodyContains("y".repeat(500)));
    assert_eq!(c.name(), format!("body contains \"{}...\"", "y".repeat(80)));
}
