//! Embedded resources of a page, its base, and reference resolution (RFC 3986 §5.4).

use http::HeaderMap;
use stampede_extract::{Parsed, document_base, embedded_resources, resolve_reference};

const PAGE: &str = r##"<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <link rel="stylesheet" href="/static/site.css">
  <link rel="Shortcut Icon" href="/favicon.ico">
  <link rel="preconnect" href="https://fonts.example">
  <link rel="canonical" href="https://shop.example/">
  <link rel="alternate stylesheet" href="print.css">
  <script src="/static/app.js" defer></script>
  <script>var inline = '<img src="/in-script.png">';</script>
  <!-- <img src="/commented-out.png"> -->
  <noscript><img src="/pixel-noscript.gif"></noscript>
</head>
<body>
  <a href="/next-page">Next</a>
  <img src="  /img/logo.png  " alt="logo">
  <img src="img/hero.jpg" srcset="img/hero-2x.jpg 2x">
  <img src="/img/logo.png">
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
  <img src="">
  <img alt="no src">
  <iframe src="https://ads.example/frame.html"></iframe>
  <frameset><frame src="frame.html"></frameset>
  <video poster="/media/poster.jpg"><source src="/media/clip.mp4"></video>
  <script src="javascript:void(0)"></script>
  <img src="#icon">
  <img src="MAILTO:x@example.com">
  <template><img src="/in-template.png"></template>
  <script src="//cdn.example/lib.js"></script>
  <img src="/img/café.png">
</body>
</html>"##;

#[test]
fn resources_a_browser_would_fetch() {
    let headers = HeaderMap::new();
    let page = Parsed::new(200, &headers, PAGE.as_bytes());
    assert_eq!(
        embedded_resources(&page),
        [
            "/static/site.css",
            "/favicon.ico",
            "print.css",
            "/static/app.js",
            "/img/logo.png",
            "img/hero.jpg",
            "https://ads.example/frame.html",
            "/media/poster.jpg",
            "//cdn.example/lib.js",
            "/img/café.png",
        ]
    );
    assert_eq!(document_base(&page), None);
}

#[test]
fn frames_of_a_frameset_page() {
    let headers = HeaderMap::new();
    let html = r#"<html><frameset cols="50%,50%"><frame src="left.html"><frame src="right.html"></frameset></html>"#;
    let page = Parsed::new(200, &headers, html.as_bytes());
    assert_eq!(embedded_resources(&page), ["left.html", "right.html"]);
}

#[test]
fn base_href_and_resolution_together() {
    let headers = HeaderMap::new();
    let html = r#"<html><head><base href="/assets/v2/"><link rel=icon href="fav.png"></head>
                  <body><img src="../img/a.png"><img src=b.png></body></html>"#;
    let page = Parsed::new(200, &headers, html.as_bytes());
    let base = document_base(&page).unwrap();
    assert_eq!(base, "/assets/v2/");
    let page_url = "http://127.0.0.1:8080/shop/index.html?x=1";
    let base = resolve_reference(page_url, &base).unwrap();
    let urls: Vec<String> = embedded_resources(&page)
        .iter()
        .filter_map(|r| resolve_reference(&base, r))
        .collect();
    assert_eq!(
        urls,
        [
            "http://127.0.0.1:8080/assets/v2/fav.png",
            "http://127.0.0.1:8080/assets/img/a.png",
            "http://127.0.0.1:8080/assets/v2/b.png",
        ]
    );
}

#[test]
fn no_resources_in_json_or_garbage() {
    let headers = HeaderMap::new();
    let page = Parsed::new(200, &headers, br#"{"img": "<img src=/x.png>"}"#);
    assert_eq!(
        embedded_resources(&page),
        ["/x.png"],
        "HTML parsing is lenient"
    );
    let page = Parsed::new(200, &headers, b"\x00\xff\xfe<<<>>>");
    assert!(embedded_resources(&page).is_empty());
}

const BASE: &str = "http://a/b/c/d;p?q";

fn resolve(reference: &str) -> String {
    resolve_reference(BASE, reference).unwrap_or_else(|| panic!("{reference} resolves"))
}

#[test]
fn rfc3986_normal_examples() {
    // RFC 3986 §5.4.1.
    let cases = [
        ("g:h", "g:h"),
        ("g", "http://a/b/c/g"),
        ("./g", "http://a/b/c/g"),
        ("g/", "http://a/b/c/g/"),
        ("/g", "http://a/g"),
        ("//g", "http://g"),
        ("?y", "http://a/b/c/d;p?y"),
        ("g?y", "http://a/b/c/g?y"),
        ("#s", "http://a/b/c/d;p?q#s"),
        ("g#s", "http://a/b/c/g#s"),
        ("g?y#s", "http://a/b/c/g?y#s"),
        (";x", "http://a/b/c/;x"),
        ("g;x", "http://a/b/c/g;x"),
        ("g;x?y#s", "http://a/b/c/g;x?y#s"),
        ("", "http://a/b/c/d;p?q"),
        (".", "http://a/b/c/"),
        ("./", "http://a/b/c/"),
        ("..", "http://a/b/"),
        ("../", "http://a/b/"),
        ("../g", "http://a/b/g"),
        ("../..", "http://a/"),
        ("../../", "http://a/"),
        ("../../g", "http://a/g"),
    ];
    for (reference, expected) in cases {
        assert_eq!(resolve(reference), expected, "reference {reference:?}");
    }
}

#[test]
fn rfc3986_abnormal_examples() {
    // RFC 3986 §5.4.2 (strict parser).
    let cases = [
        ("../../../g", "http://a/g"),
        ("../../../../g", "http://a/g"),
        ("/./g", "http://a/g"),
        ("/../g", "http://a/g"),
        ("g.", "http://a/b/c/g."),
        (".g", "http://a/b/c/.g"),
        ("g..", "http://a/b/c/g.."),
        ("..g", "http://a/b/c/..g"),
        ("./../g", "http://a/b/g"),
        ("./g/.", "http://a/b/c/g/"),
        ("g/./h", "http://a/b/c/g/h"),
        ("g/../h", "http://a/b/c/h"),
        ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
        ("g;x=1/../y", "http://a/b/c/y"),
        ("g?y/./x", "http://a/b/c/g?y/./x"),
        ("g?y/../x", "http://a/b/c/g?y/../x"),
        ("g#s/./x", "http://a/b/c/g#s/./x"),
        ("g#s/../x", "http://a/b/c/g#s/../x"),
        ("http:g", "http:g"),
    ];
    for (reference, expected) in cases {
        assert_eq!(resolve(reference), expected, "reference {reference:?}");
    }
}

#[test]
fn page_urls_with_ports_and_odd_references() {
    let page = "https://127.0.0.1:8443/shop/cart?step=2#top";
    let r = |reference: &str| resolve_reference(page, reference);
    assert_eq!(
        r("img/x.png").as_deref(),
        Some("https://127.0.0.1:8443/shop/img/x.png")
    );
    assert_eq!(r("/x.css").as_deref(), Some("https://127.0.0.1:8443/x.css"));
    assert_eq!(r("//[::1]:9000/a").as_deref(), Some("https://[::1]:9000/a"));
    assert_eq!(
        r("HTTP://Other:81/A/./B").as_deref(),
        Some("HTTP://Other:81/A/B")
    );
    assert_eq!(
        r("?page=3").as_deref(),
        Some("https://127.0.0.1:8443/shop/cart?page=3")
    );
    assert_eq!(
        r(" \n/a b/ç.png\t").as_deref(),
        Some("https://127.0.0.1:8443/a%20b/%C3%A7.png")
    );
    assert_eq!(
        r("/a\n/b").as_deref(),
        Some("https://127.0.0.1:8443/a/b"),
        "newlines inside are dropped"
    );
    assert_eq!(
        r("/q?a=\"x\"&b={1}").as_deref(),
        Some("https://127.0.0.1:8443/q?a=%22x%22&b=%7B1%7D")
    );
    assert_eq!(
        r("1x:y").as_deref(),
        Some("https://127.0.0.1:8443/shop/1x:y"),
        "not a scheme"
    );
    let host_only = "http://127.0.0.1:3000";
    assert_eq!(
        resolve_reference(host_only, "a.js").as_deref(),
        Some("http://127.0.0.1:3000/a.js")
    );
    assert_eq!(
        resolve_reference(host_only, "").as_deref(),
        Some("http://127.0.0.1:3000")
    );
}

#[test]
fn unusable_bases_and_hosts() {
    assert_eq!(
        resolve_reference("/relative/base", "x"),
        None,
        "the base needs a scheme"
    );
    assert_eq!(resolve_reference("", "x"), None);
    assert_eq!(resolve_reference("http://a/", "//bad host/x"), None);
    assert_eq!(resolve_reference("http://a/", "//bücher.example/x"), None);
}
