//! The `http` section (request defaults) and header maps.

use crate::decoder::{self, Ctx, child};
use crate::plan::HttpOptions;
use crate::yaml::Node;

const FIELDS: &[&str] = &[
    "connect_timeout",
    "timeout",
    "follow_redirects",
    "max_redirects",
    "cookies",
    "headers",
];

/// Decodes `http`; `None` if anything in it is invalid (reported).
pub(crate) fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<HttpOptions> {
    let f = decoder::fields(ctx, node, path, FIELDS)?;
    let before = ctx.error_count();
    let mut http = HttpOptions::default();
    if let Some(n) = f.get("connect_timeout") {
        let d = decoder::positive_duration(ctx, n, &f.path("connect_timeout"));
        http.connect_timeout = d.unwrap_or(http.connect_timeout);
    }
    if let Some(n) = f.get("timeout") {
        let d = decoder::positive_duration(ctx, n, &f.path("timeout"));
        http.request_timeout = d.unwrap_or(http.request_timeout);
    }
    if let Some(n) = f.get("follow_redirects") {
        let b = decoder::boolean(ctx, n, &f.path("follow_redirects"));
        http.follow_redirects = b.unwrap_or(http.follow_redirects);
    }
    if let Some(n) = f.get("max_redirects") {
        let path = f.path("max_redirects");
        let max = decoder::count(ctx, n, &path, "`max_redirects`", 0);
        http.max_redirects = max.unwrap_or(http.max_redirects);
    }
    if let Some(n) = f.get("cookies") {
        let b = decoder::boolean(ctx, n, &f.path("cookies"));
        http.cookies = b.unwrap_or(http.cookies);
    }
    if let Some(n) = f.get("headers") {
        http.headers = headers(ctx, n, &f.path("headers")).unwrap_or_default();
    }
    (ctx.error_count() == before).then_some(http)
}

/// A header map: names must be HTTP tokens, values must not contain line breaks.
pub(crate) fn headers(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<(String, String)>> {
    let before = ctx.error_count();
    let mut out = Vec::new();
    for entry in decoder::entries(ctx, node, path)? {
        let path = child(path, entry.key);
        if !is_token(entry.key) {
            let message = format!("invalid header name `{}`", entry.key);
            let hint = "header names are letters, digits and !#$%&'*+-.^_`|~";
            ctx.error(Some(entry.key_node), &path, message, Some(hint.into()));
            continue;
        }
        let Some(value) = decoder::string(ctx, entry.value, &path) else {
            continue;
        };
        if value.chars().any(|c| c.is_control() && c != '\t') {
            let message = format!("the value of header `{}` contains a line break", entry.key);
            ctx.error(Some(entry.value), &path, message, None);
            continue;
        }
        out.push((entry.key.to_owned(), value));
    }
    (ctx.error_count() == before).then_some(out)
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;
    use std::time::Duration;

    fn run(src: &str) -> (Option<HttpOptions>, Vec<String>) {
        let node = yaml::parse(src).unwrap().unwrap();
        let mut ctx = Ctx::default();
        let http = decode(&mut ctx, &node, "http");
        (
            http,
            ctx.into_items().into_iter().map(|d| d.message).collect(),
        )
    }

    #[test]
    fn defaults_and_overrides() {
        let (http, errors) = run("{}");
        assert!(errors.is_empty());
        assert_eq!(http.unwrap(), HttpOptions::default());
        let src = "{ connect_timeout: 2s, timeout: 1m, follow_redirects: false, max_redirects: 0, \
                   cookies: false, headers: { X-Api-Key: abc, X-Count: 5 } }";
        let (http, errors) = run(src);
        assert!(errors.is_empty(), "{errors:?}");
        let http = http.unwrap();
        assert_eq!(http.connect_timeout, Duration::from_secs(2));
        assert_eq!(http.request_timeout, Duration::from_secs(60));
        assert!(!http.follow_redirects && !http.cookies);
        assert_eq!(http.max_redirects, 0);
        let expected = [("X-Api-Key", "abc"), ("X-Count", "5")].map(|(k, v)| (k.into(), v.into()));
        assert_eq!(http.headers, expected);
    }

    #[test]
    fn reports_each_bad_option() {
        let src =
            "{ timeout: 0s, max_redirects: -1, cookies: 1, headers: { 'Bad Name': x, A: [1] } }";
        let (http, errors) = run(src);
        assert_eq!(http, None);
        assert_eq!(
            errors,
            [
                "must be longer than 0s",
                "`max_redirects` must be at least 0, found -1",
                "expected `true` or `false`, found an integer",
                "invalid header name `Bad Name`",
                "expected a string, found a list",
            ]
        );
    }
}
