//! Every extraction source on realistic responses, and the compile errors of broken ones.

use http::{HeaderMap, HeaderValue, header};
use stampede_extract::{CompileError, Extractor, Parsed, Source};

const API: &str = r#"{
  "token": "eyJhbGciOiJIUzI1NiJ9.e30.sig",
  "count": 3,
  "ratio": 0.25,
  "active": true,
  "owner": null,
  "user": {"id": 42, "name": "Zoë Ångström", "roles": ["admin", "ops"]},
  "items": [
    {"id": 101, "sku": "A-1", "price": 9.5, "tags": []},
    {"id": 102, "sku": "B-2", "price": 20, "tags": ["sale"]},
    {"id": 103, "sku": "C-3", "price": 4.25, "tags": ["new", "sale"]}
  ],
  "meta": {"next": "/api/items?page=2", "total": 3}
}"#;

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="csrf-token" content="meta-Tok3n+/=">
  <title>  Sign in — Shop  </title>
</head>
<body>
  <h1 class="title">Welcome <em>back</em>!</h1>
  <ul id="products">
    <li class="product" data-id="p1"><a href="/p/1">Kettle</a></li>
    <li class="product" data-id="p2"><a href="/p/2">Toaster</a></li>
    <li class="product" data-id="p3"><a href="/p/3">Café au lait</a></li>
  </ul>
  <form id="login" method="post" action="/login">
    <input type="hidden" name="csrf_token" value="f8a9c0d1e2">
    <input type="text" name="user" value="">
    <input type="checkbox" name="remember" value="yes">
    <input type="checkbox" name="newsletter" checked>
    <input type="radio" name="plan" value="free">
    <input type="radio" name="plan" value="pro" checked>
    <textarea name="comment">Line one
Line two</textarea>
    <select name="country">
      <option value="fr">France</option>
      <option value="de" selected>Germany</option>
    </select>
    <select name="size"><option disabled>Pick one</option><option>  Large   size </option></select>
    <select name="toppings" multiple>
      <optgroup label="Veg"><option value="olive" selected>Olive</option><option value="onion">Onion</option></optgroup>
      <option value="ham" selected>Ham</option>
    </select>
  </form>
  <template><input name="csrf_token" value="from-template"></template>
</body>
</html>"#;

fn extractor(source: Source) -> Extractor {
    Extractor::compile(&source).unwrap_or_else(|e| panic!("{source:?} should compile: {e:?}"))
}

fn error(source: Source) -> CompileError {
    Extractor::compile(&source).expect_err("should not compile")
}

fn json(path: &str) -> Extractor {
    extractor(Source::Json(path.to_owned()))
}

fn html(selector: &str, attribute: Option<&str>) -> Extractor {
    extractor(Source::Html {
        selector: selector.to_owned(),
        attribute: attribute.map(str::to_owned),
    })
}

fn field(name: &str) -> Extractor {
    extractor(Source::FormField(name.to_owned()))
}

fn regex(pattern: &str, group: usize) -> Extractor {
    extractor(Source::Regex {
        pattern: pattern.to_owned(),
        group,
    })
}

#[test]
fn json_paths_on_an_api_response() {
    let headers = HeaderMap::new();
    let r = Parsed::new(200, &headers, API.as_bytes());
    let first = |p: &str| json(p).first(&r);
    assert_eq!(
        first("$.token").as_deref(),
        Some("eyJhbGciOiJIUzI1NiJ9.e30.sig")
    );
    assert_eq!(first("$.count").as_deref(), Some("3"));
    assert_eq!(first("$.ratio").as_deref(), Some("0.25"));
    assert_eq!(first("$.active").as_deref(), Some("true"));
    assert_eq!(first("$.owner").as_deref(), Some("null"));
    assert_eq!(first("$.user.name").as_deref(), Some("Zoë Ångström"));
    assert_eq!(first("$.user.roles").as_deref(), Some(r#"["admin","ops"]"#));
    assert_eq!(first("$.items[1].tags").as_deref(), Some(r#"["sale"]"#));
    assert_eq!(
        first("$.items[0]").as_deref(),
        Some(r#"{"id":101,"price":9.5,"sku":"A-1","tags":[]}"#)
    );
    assert_eq!(first("$.items[-1].sku").as_deref(), Some("C-3"));
    assert_eq!(
        first("$['meta']['next']").as_deref(),
        Some("/api/items?page=2")
    );
    assert_eq!(first("$.missing"), None);

    assert_eq!(json("$.items[*].id").all(&r), ["101", "102", "103"]);
    assert_eq!(json("$.items[*].id").first(&r).as_deref(), Some("101"));
    // Object members in key order (serde_json's map): `items` before `user`.
    assert_eq!(json("$..id").all(&r), ["101", "102", "103", "42"]);
    assert_eq!(json("$.items[?@.price < 10].sku").all(&r), ["A-1", "C-3"]);
    assert_eq!(json("$.items[?@.tags[0] == 'sale'].id").all(&r), ["102"]);
    assert_eq!(json("$.items[?match(@.sku, 'B-.')].id").all(&r), ["102"]);
    assert_eq!(json("$.items[?length(@.tags) == 2].id").all(&r), ["103"]);
    assert!(json("$.nothing[*]").all(&r).is_empty());
}

#[test]
fn json_on_a_body_that_is_not_json() {
    let headers = HeaderMap::new();
    let r = Parsed::new(502, &headers, b"<html><body>Bad Gateway</body></html>");
    let e = json("$.token");
    assert_eq!(e.first(&r), None);
    assert!(e.all(&r).is_empty());
    assert_eq!(
        e.miss_detail(&r),
        "body is not JSON: expected value at line 1 column 1"
    );
    let ok = Parsed::new(200, &headers, br#"{"a":1}"#);
    assert_eq!(e.miss_detail(&ok), "$.token: no match");
}

#[test]
fn regex_groups_first_and_all() {
    let headers = HeaderMap::new();
    let body = "order=A17; order=B22; order=C9; total: 3 items — ünïcödé=ok".as_bytes();
    let r = Parsed::new(200, &headers, body);
    assert_eq!(regex(r"order=(\w+)", 1).first(&r).as_deref(), Some("A17"));
    assert_eq!(regex(r"order=(\w+)", 1).all(&r), ["A17", "B22", "C9"]);
    assert_eq!(
        regex(r"order=\w+", 0).all(&r),
        ["order=A17", "order=B22", "order=C9"]
    );
    assert_eq!(regex(r"(\w)(\d+);", 2).all(&r), ["17", "22", "9"]);
    assert_eq!(
        regex(r"(\p{L}+)=ok", 1).first(&r).as_deref(),
        Some("ünïcödé")
    );
    assert_eq!(
        regex(r"(?i)TOTAL: (\d+)", 1).first(&r).as_deref(),
        Some("3")
    );
    // An optional group that did not take part is skipped.
    assert_eq!(regex(r"order=(?:(A)|\w)\w+", 1).all(&r), ["A"]);
    let miss = regex(r"missing=(\d+)", 1);
    assert_eq!(miss.first(&r), None);
    assert_eq!(
        miss.miss_detail(&r),
        r#"regex "missing=(\\d+)" did not match"#
    );
}

#[test]
fn regex_on_bytes_that_are_not_utf8() {
    let headers = HeaderMap::new();
    let r = Parsed::new(200, &headers, b"\xff\xfe id=77 \xc3");
    assert_eq!(regex(r"id=(\d+)", 1).first(&r).as_deref(), Some("77"));
}

#[test]
fn headers_case_insensitive_with_several_values() {
    let mut headers = HeaderMap::new();
    headers.insert("x-request-id", HeaderValue::from_static("req-123"));
    headers.append("link", HeaderValue::from_static("</a>; rel=next"));
    headers.append("link", HeaderValue::from_static("</b>; rel=last"));
    let r = Parsed::new(200, &headers, b"");
    let e = extractor(Source::Header("X-Request-ID".into()));
    assert_eq!(e.first(&r).as_deref(), Some("req-123"));
    assert!(!e.reads_body());
    let links = extractor(Source::Header("Link".into()));
    assert_eq!(links.first(&r).as_deref(), Some("</a>; rel=next"));
    assert_eq!(links.all(&r), ["</a>; rel=next", "</b>; rel=last"]);
    let none = extractor(Source::Header("etag".into()));
    assert_eq!(none.first(&r), None);
    assert_eq!(none.miss_detail(&r), "no header etag");
}

#[test]
fn cookies_from_set_cookie_headers() {
    let mut headers = HeaderMap::new();
    for v in [
        "theme=dark; Path=/",
        "session_id=s%3Aabc.def; Path=/; HttpOnly; Secure; SameSite=Lax",
        "csrftoken=Zx9; Max-Age=31449600",
        "session_id=second; Path=/admin",
    ] {
        headers.append(header::SET_COOKIE, HeaderValue::from_static(v));
    }
    let r = Parsed::new(200, &headers, b"ignored");
    let e = extractor(Source::Cookie("session_id".into()));
    assert!(!e.reads_body());
    assert_eq!(e.first(&r).as_deref(), Some("s%3Aabc.def"));
    assert_eq!(e.all(&r), ["s%3Aabc.def", "second"]);
    let csrf = extractor(Source::Cookie("csrftoken".into()));
    assert_eq!(csrf.first(&r).as_deref(), Some("Zx9"));
    let none = extractor(Source::Cookie("Theme".into()));
    assert_eq!(none.first(&r), None, "cookie names are case-sensitive");
    assert_eq!(none.miss_detail(&r), r#"no Set-Cookie for "Theme""#);
}

#[test]
fn html_selectors_attributes_and_text() {
    let headers = HeaderMap::new();
    let r = Parsed::new(200, &headers, PAGE.as_bytes());
    let csrf = html(r#"meta[name="csrf-token"]"#, Some("content"));
    assert_eq!(csrf.first(&r).as_deref(), Some("meta-Tok3n+/="));
    assert_eq!(
        html("title", None).first(&r).as_deref(),
        Some("Sign in — Shop")
    );
    assert_eq!(
        html("h1.title", None).first(&r).as_deref(),
        Some("Welcome back!")
    );
    assert_eq!(
        html("#products li.product", Some("data-id")).all(&r),
        ["p1", "p2", "p3"]
    );
    assert_eq!(
        html("ul > li a", None).all(&r),
        ["Kettle", "Toaster", "Café au lait"]
    );
    assert_eq!(
        html("li:nth-child(2) a", Some("href")).first(&r).as_deref(),
        Some("/p/2")
    );
    // Attribute names are ASCII case-insensitive; elements without the attribute are skipped.
    assert_eq!(
        html("li, a", Some("HREF")).all(&r),
        ["/p/1", "/p/2", "/p/3"]
    );
    // Nothing inside <template> matches, as in a browser.
    let inputs = html(r#"input[name="csrf_token"]"#, Some("value"));
    assert_eq!(inputs.all(&r), ["f8a9c0d1e2"]);
    let none = html("div.missing", None);
    assert_eq!(none.first(&r), None);
    assert_eq!(none.miss_detail(&r), r#"no element matches "div.missing""#);
}

#[test]
fn form_fields_like_a_browser_submits_them() {
    let headers = HeaderMap::new();
    let r = Parsed::new(200, &headers, PAGE.as_bytes());
    let first = |n: &str| field(n).first(&r);
    assert_eq!(first("csrf_token").as_deref(), Some("f8a9c0d1e2"));
    assert_eq!(field("csrf_token").all(&r), ["f8a9c0d1e2"]);
    assert_eq!(first("user").as_deref(), Some(""));
    assert_eq!(first("remember"), None, "unchecked checkbox");
    assert_eq!(first("newsletter").as_deref(), Some("on"));
    assert_eq!(field("plan").all(&r), ["pro"]);
    assert_eq!(first("comment").as_deref(), Some("Line one\nLine two"));
    assert_eq!(first("country").as_deref(), Some("de"));
    assert_eq!(first("size").as_deref(), Some("Large size"));
    assert_eq!(field("toppings").all(&r), ["olive", "ham"]);
    assert_eq!(first("nope"), None);
    assert_eq!(field("nope").miss_detail(&r), r#"no form field "nope""#);
}

#[test]
fn the_document_is_parsed_once_for_many_extractors() {
    let headers = HeaderMap::new();
    let r = Parsed::new(200, &headers, PAGE.as_bytes());
    let extractors = [field("csrf_token"), html("title", None), field("country")];
    let values: Vec<_> = extractors.iter().map(|e| e.first(&r)).collect();
    assert_eq!(values.len(), 3);
    assert!(values.iter().all(Option::is_some));
}

#[test]
fn reads_body() {
    assert!(json("$.a").reads_body());
    assert!(regex("a", 0).reads_body());
    assert!(html("a", None).reads_body());
    assert!(field("a").reads_body());
}

#[test]
fn invalid_jsonpath_says_where_and_how() {
    let e = error(Source::Json("$.items[".into()));
    assert!(
        e.message.starts_with("invalid JSONPath at position "),
        "{}",
        e.message
    );
    assert!(e.position.is_some());
    assert!(e.hint.as_deref().unwrap().contains("$.items[*].id"));

    let e = error(Source::Json("token".into()));
    assert_eq!(e.position, Some(1));
    assert!(e.hint.unwrap().starts_with("a JSONPath starts with `$`"));

    let e = error(Source::Json(" $.a".into()));
    assert_eq!(e.hint.as_deref(), Some("remove the spaces around the path"));

    let e = error(Source::Json("$.a.b[?@.x ==]".into()));
    assert_eq!(
        e.message,
        "invalid JSONPath at position 12: in long-hand segment, expected closing ']'"
    );
    let e = error(Source::Json("$.a[?foo(@)]".into()));
    assert_eq!(e.position, Some(6));
    assert!(e.message.ends_with("function name 'foo' is not defined"));
}

#[test]
fn invalid_regex_says_where_and_how() {
    let e = error(Source::Regex {
        pattern: "token=(\\w+".into(),
        group: 1,
    });
    assert_eq!(e.message, "invalid regex at position 7: unclosed group");
    assert_eq!(e.position, Some(7));

    let e = error(Source::Regex {
        pattern: "(?<=id=)\\d+".into(),
        group: 0,
    });
    assert!(e.message.contains("look-around"), "{}", e.message);
    assert!(e.hint.unwrap().contains("capture group"));

    let e = error(Source::Regex {
        pattern: "é[z-a]".into(),
        group: 0,
    });
    assert_eq!(e.position, Some(3), "characters, not bytes: {e:?}");
}

#[test]
fn regex_group_out_of_range() {
    let e = error(Source::Regex {
        pattern: r"token=(\w+)".into(),
        group: 2,
    });
    assert_eq!(e.message, "regex has no capture group 2 (it has 1)");
    assert_eq!(
        e.hint.as_deref(),
        Some("use a group from 1 to 1, or 0 for the whole match")
    );
    let e = error(Source::Regex {
        pattern: r"token=\w+".into(),
        group: 1,
    });
    assert_eq!(e.message, "regex has no capture group 1 (it has none)");
    assert!(e.hint.unwrap().contains("token=(\\w+)"));
}

#[test]
fn invalid_selector_header_cookie_and_field() {
    let html_error = |s: &str| {
        error(Source::Html {
            selector: s.into(),
            attribute: None,
        })
    };
    let e = html_error("input[name=");
    assert_eq!(
        e.message,
        "invalid CSS selector: unexpected end of the selector"
    );
    assert!(e.hint.unwrap().contains("meta[name=\"csrf-token\"]"));
    let message = |s: &str| html_error(s).message;
    assert_eq!(
        message("a:hover"),
        "invalid CSS selector: unsupported pseudo-class or pseudo-element"
    );
    assert_eq!(
        message("div >"),
        "invalid CSS selector: `>`, `+` or `~` with nothing after it"
    );
    assert_eq!(message("a!b"), "invalid CSS selector: unexpected character");
    assert_eq!(message("a,,b"), "invalid CSS selector: empty selector");
    assert_eq!(
        message("p..x"),
        "invalid CSS selector: `.` must be followed by a class name"
    );
    assert_eq!(html_error(" ").message, "the CSS selector is empty");
    let e = error(Source::Html {
        selector: "meta".into(),
        attribute: Some(String::new()),
    });
    assert_eq!(e.message, "the attribute name is empty");

    let e = error(Source::Header("Content Type".into()));
    assert_eq!(e.message, r#"invalid header name "Content Type""#);
    assert!(e.hint.is_some());
    assert_eq!(
        error(Source::Header(String::new())).message,
        "the header name is empty"
    );
    assert_eq!(
        error(Source::Cookie("a=b".into())).message,
        r#"invalid cookie name "a=b""#
    );
    assert_eq!(
        error(Source::FormField(String::new())).message,
        "the form field name is empty"
    );
}

#[test]
fn display_is_the_message() {
    let e = error(Source::Cookie(String::new()));
    assert_eq!(e.to_string(), "the cookie name is empty");
}
