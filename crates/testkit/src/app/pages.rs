//! The shop's fixed content (HTML pages, static assets, the product catalogue) and small
//! parsing helpers (form-urlencoded bodies, cookies, id mixing).

use bytes::Bytes;

/// First and last product id.
pub(super) const PRODUCTS: std::ops::RangeInclusive<u64> = 101..=115;

/// Products per `/products` page.
pub(super) const PAGE_SIZE: u64 = 5;

/// Pages that have products.
pub(super) const PAGES: u64 = 3;

/// The catalogue entry for `id`, if it is a product.
pub(super) fn product(id: u64) -> Option<serde_json::Value> {
    PRODUCTS.contains(&id).then(|| {
        serde_json::json!({
            "id": id,
            "name": format!("Product {id}"),
            "price": price(id),
        })
    })
}

/// Price of product `id`: `(id - 100) * 1.5`, exact in binary floating point.
pub(super) fn price(id: u64) -> f64 {
    (id.saturating_sub(100)) as f64 * 1.5
}

/// `/page`: embedded resources a browser fetches, plus decoys it must not.
pub(super) const PAGE_HTML: &str = r#"<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>Shop</title>
<link rel="stylesheet" href="/static/site.css">
<link rel="icon" href="/favicon.ico">
<script src="/static/app.js"></script>
</head>
<body>
<h1>Shop</h1>
<!-- <img src="/static/commented.png" alt="commented out"> -->
<img src="img/a.png" alt="a">
<img src="/static/b.png" alt="b">
<iframe src="/frame"></iframe>
<p><a href="/not-a-resource">a link, not a resource</a></p>
</body>
</html>
"#;

/// `/frame`: the iframe of `/page`, with no resources of its own.
pub(super) const FRAME_HTML: &str = "<!doctype html>\n<html><head><title>Frame</title></head>\
<body><p>frame</p></body></html>\n";

/// `/form`: a feedback form protected by `token`.
pub(super) fn form_html(token: &str) -> String {
    format!(
        r#"<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="csrf-token" content="{token}">
<title>Feedback</title>
</head>
<body>
<form method="post" action="/form">
<input type="hidden" name="csrf" value="{token}">
<input type="text" name="message" value="">
<button type="submit">Send</button>
</form>
</body>
</html>
"#
    )
}

/// A 1x1 transparent PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// Content type and body of a static asset at `path`, chosen by extension.
pub(super) fn asset(path: &str) -> (&'static str, Bytes) {
    let extension = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match extension {
        "png" => ("image/png", Bytes::from_static(PNG)),
        // Browsers accept PNG data as an icon.
        "ico" => ("image/x-icon", Bytes::from_static(PNG)),
        "css" => (
            "text/css",
            Bytes::from_static(b"body { font-family: sans-serif; }\n"),
        ),
        "js" => (
            "text/javascript",
            Bytes::from_static(b"console.log(\"shop\");\n"),
        ),
        _ => (
            "application/octet-stream",
            Bytes::from_static(b"static asset\n"),
        ),
    }
}

/// Decodes a form-urlencoded string (`a=1&b=x%20y+z`) into pairs, in order.
pub(super) fn parse_form(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (a space); malformed escapes are kept as they are.
fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
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

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

/// The value of cookie `name` in a `Cookie` header value (`a=1; b=2`).
pub(super) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (n, v) = pair.trim().split_once('=')?;
        (n == name).then_some(v)
    })
}

/// A fixed bijective mix of `n` (splitmix64's finaliser): distinct inputs give distinct,
/// random-looking outputs, the same in every run.
pub(super) fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_handles_escapes_plus_and_malformed_input() {
        assert_eq!(
            parse_form("a=1&b=x%20y+z&&c&d=%zz%4"),
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), String::new()),
                ("d".into(), "%zz%4".into()),
            ]
        );
        assert_eq!(parse_form("n=%C3%A9%41"), [("n".into(), "éA".into())]);
    }

    #[test]
    fn cookie_lookup_finds_the_named_pair_only() {
        assert_eq!(cookie("a=1; session=abc; b=2", "session"), Some("abc"));
        assert_eq!(cookie("xsession=abc", "session"), None);
        assert_eq!(cookie("", "session"), None);
    }

    #[test]
    fn mix_is_distinct_on_small_counters() {
        let mut seen: Vec<u64> = (0..1000).map(mix).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1000);
    }
}
