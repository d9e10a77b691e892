//! The `http` section (request defaults) and header maps.

use crate::decoder::{self, Ctx, child};
use crate::plan::Template;
use crate::plan::{ConnectionPolicy, DEFAULT_POOL_SIZE, HttpOptions, HttpVersion};
use crate::size;
use crate::template;
use crate::yaml::Node;

const FIELDS: &[&str] = &[
    "connect_timeout",
    "timeout",
    "follow_redirects",
    "max_redirects",
    "cookies",
    "headers",
    "http_version",
    "connections",
    "pool_size",
    "max_body",
    "ca_file",
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
    if let Some(n) = f.get("http_version") {
        let v = version(ctx, n, &f.path("http_version"));
        http.version = v.unwrap_or(http.version);
    }
    let pool_size = f.entry("pool_size").map(|e| {
        let path = f.path("pool_size");
        (e, decoder::count(ctx, e.value, &path, "`pool_size`", 1))
    });
    if let Some(n) = f.get("connections") {
        let policy = connections(ctx, n, &f.path("connections"));
        http.connections = policy.unwrap_or(http.connections);
    }
    match (&mut http.connections, pool_size) {
        (ConnectionPolicy::Shared { pool_size }, Some((_, Some(n)))) => *pool_size = n,
        (ConnectionPolicy::Shared { .. }, _) | (_, None) => {}
        (_, Some((entry, _))) => {
            let message = "`pool_size` only applies with `connections: shared`".to_owned();
            let hint = "add `connections: shared`, or remove `pool_size`".to_owned();
            ctx.error(
                Some(entry.key_node),
                &f.path("pool_size"),
                message,
                Some(hint),
            );
        }
    }
    if let Some(n) = f.get("max_body") {
        let path = f.path("max_body");
        if let Some(text) = decoder::string(ctx, n, &path) {
            match size::size(&text) {
                Ok(bytes) => http.max_body = bytes,
                Err(e) => ctx.error(Some(n), &path, e.message, e.hint),
            }
        }
    }
    if let Some(n) = f.get("ca_file") {
        let path = f.path("ca_file");
        match decoder::string(ctx, n, &path) {
            Some(file) if !file.trim().is_empty() => http.ca_file = Some(file.into()),
            Some(_) => {
                let hint = "the path of a PEM file of CA certificates".to_owned();
                ctx.error(Some(n), &path, "`ca_file` is empty".into(), Some(hint));
            }
            None => {}
        }
    }
    (ctx.error_count() == before).then_some(http)
}

/// `http_version`: `"1.1"`, `"2"` or `auto` (numbers written without quotes are accepted).
fn version(ctx: &mut Ctx, node: &Node, path: &str) -> Option<HttpVersion> {
    let text = decoder::string(ctx, node, path)?;
    match text.trim() {
        "1.1" => Some(HttpVersion::Http1),
        "2" => Some(HttpVersion::Http2),
        "auto" => Some(HttpVersion::Auto),
        other => {
            let message = format!("unknown HTTP version `{other}`");
            let hint = "expected \"1.1\", \"2\" or \"auto\"".to_owned();
            ctx.error(Some(node), path, message, Some(hint));
            None
        }
    }
}

/// `connections`: `per_user`, `per_iteration` or `shared` (sized by `pool_size`).
fn connections(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ConnectionPolicy> {
    let text = decoder::string(ctx, node, path)?;
    match text.trim() {
        "per_user" => Some(ConnectionPolicy::PerUser),
        "per_iteration" => Some(ConnectionPolicy::PerIteration),
        "shared" => Some(ConnectionPolicy::Shared {
            pool_size: DEFAULT_POOL_SIZE,
        }),
        other => {
            let message = format!("unknown connection policy `{other}`");
            let hint = "expected `per_user`, `per_iteration` or `shared`".to_owned();
            ctx.error(Some(node), path, message, Some(hint));
            None
        }
    }
}

/// A header map: names must be HTTP tokens, values must not contain line breaks.
pub(crate) fn headers(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<(String, Template)>> {
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
        let Some(value) = template::parse(ctx, entry.value, &path, &value) else {
            continue;
        };
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
        let expected =
            [("X-Api-Key", "abc"), ("X-Count", "5")].map(|(k, v)| (k.into(), Template::text(v)));
        assert_eq!(http.headers, expected);
    }

    #[test]
    fn protocol_and_connection_options() {
        let src = "{ http_version: 2, connections: shared, pool_size: 8, max_body: 1MiB, \
                   ca_file: certs/ca.pem }";
        let (http, errors) = run(src);
        assert!(errors.is_empty(), "{errors:?}");
        let http = http.unwrap();
        assert_eq!(http.version, HttpVersion::Http2);
        assert_eq!(http.connections, ConnectionPolicy::Shared { pool_size: 8 });
        assert_eq!(http.max_body, 1 << 20);
        assert_eq!(http.ca_file.as_deref(), Some("certs/ca.pem".as_ref()));
        for (src, version) in [
            ("{ http_version: 1.1 }", HttpVersion::Http1),
            ("{ http_version: '2' }", HttpVersion::Http2),
            ("{ http_version: auto }", HttpVersion::Auto),
        ] {
            assert_eq!(run(src).0.unwrap().version, version, "{src}");
        }
        let (http, _) = run("{ connections: shared }");
        let pool_size = DEFAULT_POOL_SIZE;
        assert_eq!(
            http.unwrap().connections,
            ConnectionPolicy::Shared { pool_size }
        );
        let (http, _) = run("{ connections: per_iteration, max_body: 0 }");
        let http = http.unwrap();
        assert_eq!(http.connections, ConnectionPolicy::PerIteration);
        assert_eq!(http.max_body, 0);
    }

    #[test]
    fn relative_ca_file_is_resolved_against_the_scenario_directory() {
        let (http, _) = run("{ ca_file: certs/ca.pem }");
        let mut http = http.unwrap();
        http.resolve_paths(std::path::Path::new("/srv/tests"));
        assert_eq!(
            http.ca_file.as_deref(),
            Some("/srv/tests/certs/ca.pem".as_ref())
        );
        let (http, _) = run("{ ca_file: /etc/ca.pem }");
        let mut http = http.unwrap();
        http.resolve_paths(std::path::Path::new("/srv/tests"));
        assert_eq!(http.ca_file.as_deref(), Some("/etc/ca.pem".as_ref()));
    }

    #[test]
    fn reports_bad_protocol_and_connection_options() {
        let src = "{ http_version: 3, connections: pooled, max_body: 1.5MB, ca_file: '' }";
        let (http, errors) = run(src);
        assert_eq!(http, None);
        assert_eq!(
            errors,
            [
                "unknown HTTP version `3`",
                "unknown connection policy `pooled`",
                "invalid size `1.5MB`",
                "`ca_file` is empty",
            ]
        );
        let (_, errors) = run("{ pool_size: 4 }");
        assert_eq!(
            errors,
            ["`pool_size` only applies with `connections: shared`"]
        );
        let (_, errors) = run("{ connections: shared, pool_size: 0 }");
        assert_eq!(errors, ["`pool_size` must be at least 1, found 0"]);
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
