//! Nothing panics on arbitrary responses or references, and details stay short single lines.

use http::{HeaderMap, HeaderValue, header};
use proptest::prelude::*;
use serde_json::json;
use stampede_extract::{
    Check, CheckSpec, Extractor, Parsed, Source, document_base, embedded_resources,
    resolve_reference,
};

fn extractors() -> Vec<Extractor> {
    let sources = [
        Source::Json("$.a".into()),
        Source::Json("$..*".into()),
        Source::Json("$.items[?@.id > 1].name".into()),
        Source::Regex {
            pattern: r"(\w+)=(\d*)".into(),
            group: 2,
        },
        Source::Regex {
            pattern: r"(?s).{0,3}".into(),
            group: 0,
        },
        Source::Header("x-a".into()),
        Source::Cookie("sid".into()),
        Source::Html {
            selector: "a, img, input:not([type=hidden]), li:nth-child(2n+1)".into(),
            attribute: None,
        },
        Source::Html {
            selector: "*".into(),
            attribute: Some("href".into()),
        },
        Source::FormField("f".into()),
    ];
    sources
        .iter()
        .map(|s| Extractor::compile(s).unwrap())
        .collect()
}

fn checks() -> Vec<Check> {
    let specs = [
        CheckSpec::BodyContains("<".into()),
        CheckSpec::BodyNotContains("a".into()),
        CheckSpec::BodyMatches(r"^\d+$".into()),
        CheckSpec::JsonExists("$.a".into()),
        CheckSpec::JsonEquals("$..b".into(), json!(1.0)),
        CheckSpec::HeaderExists("x-a".into()),
        CheckSpec::HeaderEquals("x-a".into(), "v".into()),
        CheckSpec::HeaderMatches("x-a".into(), "^z".into()),
    ];
    specs.iter().map(|s| Check::compile(s).unwrap()).collect()
}

/// Bytes that are often HTML- or JSON-like, sometimes random.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let tokens = prop::sample::select(vec![
        "<",
        ">",
        "</",
        "<a href=",
        "<img src=",
        "<input name=f value=",
        "<select name=f>",
        "<option selected>",
        "<template>",
        "<!--",
        "-->",
        "<li>",
        "\"",
        "'",
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"a\"",
        "\"b\"",
        "1",
        "1.0",
        "-0",
        "1e400",
        "null",
        "true",
        "\\u0000",
        "\\",
        "é",
        "\u{FEFF}",
        "\u{202E}",
        "sid=",
        "=",
        ";",
        " ",
        "\n",
        "\0",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        prop::collection::vec(tokens, 0..120).prop_map(|t| t.concat().into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_any_response(
        body in body(),
        header_value in prop::collection::vec(any::<u8>(), 0..40),
        truncated in any::<bool>(),
    ) {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&header_value) {
            headers.insert("x-a", v.clone());
            headers.append(header::SET_COOKIE, v);
        }
        let parsed = Parsed::new(200, &headers, &body).truncated(truncated);
        for e in extractors() {
            let first = e.first(&parsed);
            let all = e.all(&parsed);
            prop_assert_eq!(first.as_ref(), all.first());
            if first.is_none() {
                prop_assert!(!e.miss_detail(&parsed).is_empty());
            }
        }
        for c in checks() {
            if let Err(detail) = c.verify(&parsed) {
                prop_assert!(detail.chars().count() <= 125, "{}", detail);
                prop_assert!(!detail.chars().any(char::is_control), "{}", detail);
            }
        }
        for r in embedded_resources(&parsed) {
            prop_assert!(!r.is_empty());
            let _ = resolve_reference("http://127.0.0.1:8080/a/b", &r);
        }
        let _ = document_base(&parsed);
    }

    #[test]
    fn compiling_anything_never_panics(text in "\\PC{0,40}", group in 0usize..4) {
        let _ = Extractor::compile(&Source::Json(text.clone()));
        let _ = Extractor::compile(&Source::Regex { pattern: text.clone(), group });
        let _ = Extractor::compile(&Source::Html { selector: text.clone(), attribute: None });
        let _ = Extractor::compile(&Source::Header(text.clone()));
        let _ = Extractor::compile(&Source::Cookie(text.clone()));
        if let Ok(c) = Check::compile(&CheckSpec::JsonEquals(text.clone(), json!(text))) {
            prop_assert!(!c.name().is_empty());
        }
    }

    #[test]
    fn resolved_references_are_absolute(reference in "[a-z./?#:%@ é-]{0,30}") {
        if let Some(url) = resolve_reference("http://127.0.0.1:8080/a/b/c?q", &reference) {
            let scheme_end = url.find(':').unwrap_or(0);
            prop_assert!(scheme_end > 0, "{}", url);
            prop_assert!(!url.contains(' '), "{}", url);
            prop_assert!(url.is_ascii(), "{}", url);
            let path = url.split(['?', '#']).next().unwrap_or("");
            prop_assert!(!path.contains("/../") && !path.contains("/./"), "{}", url);
        }
    }
}
