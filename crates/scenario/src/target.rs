//! The target URL (`http://host:port/base`) and step paths resolved against it.

use std::net::Ipv6Addr;

use crate::plan::{Scheme, Target};

/// Why a URL or path was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UrlError {
    pub message: String,
    pub hint: Option<String>,
}

fn fail<T>(message: String, hint: Option<&str>) -> Result<T, UrlError> {
    Err(UrlError {
        message,
        hint: hint.map(str::to_owned),
    })
}

/// Parses the target: `http(s)://host[:port][/base/path]`, no query, fragment or credentials.
pub(crate) fn parse_target(text: &str) -> Result<Target, UrlError> {
    let (target, rest) = parse_url(text)?;
    if rest.contains(['?', '#']) {
        return fail(
            format!("target `{text}` must not have a query or fragment"),
            Some("put query strings in the step paths"),
        );
    }
    let base_path = rest.trim_end_matches('/').to_owned();
    Ok(Target {
        base_path,
        ..target
    })
}

/// Checks a step's request path (`/path?query`) or absolute URL, and resolves a path against
/// the target's base path. Absolute URLs are returned as written.
pub(crate) fn resolve_step(base_path: &str, path: &str) -> Result<String, UrlError> {
    if let Some(c) = path.chars().find(|c| c.is_whitespace() || c.is_control()) {
        let hint = if c == ' ' {
            Some("encode spaces as %20")
        } else {
            None
        };
        return fail(format!("`{path}` contains the character {c:?}"), hint);
    }
    if path.starts_with('/') {
        return Ok(format!("{base_path}{path}"));
    }
    if path.contains("://") {
        parse_url(path)?;
        return Ok(path.to_owned());
    }
    fail(
        format!("`{path}` is neither a path nor an http(s) URL"),
        Some("paths start with `/`, e.g. `/products`"),
    )
}

/// Scheme, host and port of an absolute URL, and the rest (path, query, fragment).
fn parse_url(text: &str) -> Result<(Target, &str), UrlError> {
    let Some((scheme, rest)) = text.split_once("://") else {
        return fail(
            format!("`{text}` is not an http(s) URL"),
            Some("write it like http://host:port"),
        );
    };
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => {
            return fail(
                format!("unsupported URL scheme `{scheme}`"),
                Some("use http:// or https://"),
            );
        }
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    if authority.contains('@') {
        return fail(
            format!("credentials in the URL `{text}` are not supported"),
            Some("send them in a header instead (`http.headers`)"),
        );
    }
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        None => match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        },
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => {
                return fail(
                    format!("invalid port `{p}` in `{text}`"),
                    Some("use a number between 1 and 65535"),
                );
            }
        },
    };
    let target = Target {
        scheme,
        host,
        port,
        base_path: String::new(),
    };
    Ok((target, rest))
}

fn split_host_port(authority: &str) -> Result<(String, Option<&str>), UrlError> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((ip, after)) = bracketed.split_once(']') else {
            return fail(format!("unclosed `[` in host `{authority}`"), None);
        };
        if ip.parse::<Ipv6Addr>().is_err() {
            return fail(format!("`{ip}` is not an IPv6 address"), None);
        }
        return match after {
            "" => Ok((ip.to_ascii_lowercase(), None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((ip.to_ascii_lowercase(), Some(port))),
                None => fail(format!("unexpected `{after}` after `[{ip}]`"), None),
            },
        };
    }
    if authority.matches(':').count() > 1 {
        return fail(
            format!("invalid host `{authority}`"),
            Some("put IPv6 addresses in brackets: http://[::1]:8080"),
        );
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty() {
        return fail(
            "the URL has no host".to_owned(),
            Some("write it like http://host:port"),
        );
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return fail(format!("invalid host `{host}`"), None);
    }
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(scheme: Scheme, host: &str, port: u16, base_path: &str) -> Target {
        Target {
            scheme,
            host: host.into(),
            port,
            base_path: base_path.into(),
        }
    }

    #[test]
    fn parses_targets() {
        let t = parse_target("http://127.0.0.1:8080").unwrap();
        assert_eq!(t, target(Scheme::Http, "127.0.0.1", 8080, ""));
        let t = parse_target("https://Shop.Example.com").unwrap();
        assert_eq!(t, target(Scheme::Https, "shop.example.com", 443, ""));
        let t = parse_target("http://api.local/v1/").unwrap();
        assert_eq!(t, target(Scheme::Http, "api.local", 80, "/v1"));
        assert_eq!(t.to_string(), "http://api.local:80/v1");
        let t = parse_target("http://[::1]:9000/").unwrap();
        assert_eq!(t, target(Scheme::Http, "::1", 9000, ""));
        assert_eq!(t.origin(), "http://[::1]:9000");
        let t = parse_target("HTTPS://[::1]").unwrap();
        assert_eq!(t, target(Scheme::Https, "::1", 443, ""));
    }

    #[test]
    fn rejects_bad_targets_with_reasons() {
        let cases = [
            ("localhost:8080", "is not an http(s) URL"),
            ("ftp://host", "unsupported URL scheme `ftp`"),
            ("http://", "has no host"),
            ("http://:80", "has no host"),
            ("http://host:0", "invalid port `0`"),
            ("http://host:99999", "invalid port"),
            ("http://host:http", "invalid port"),
            ("http://host/?q=1", "query or fragment"),
            ("http://host/#top", "query or fragment"),
            ("http://user:pw@host", "credentials"),
            ("http://[::1", "unclosed"),
            ("http://[zz]:80", "not an IPv6 address"),
            ("http://[::1]x", "unexpected"),
            ("http://::1:80", "invalid host"),
            ("http://ho st", "invalid host"),
        ];
        for (text, expected) in cases {
            let err = parse_target(text).unwrap_err();
            assert!(err.message.contains(expected), "{text}: {err:?}");
        }
        let ipv6 = parse_target("http://::1:80").unwrap_err();
        assert!(ipv6.hint.unwrap().contains("brackets"));
    }

    #[test]
    fn resolves_step_paths() {
        assert_eq!(resolve_step("", "/products/42").unwrap(), "/products/42");
        assert_eq!(
            resolve_step("/api", "/search?q=a").unwrap(),
            "/api/search?q=a"
        );
        assert_eq!(resolve_step("/api", "/").unwrap(), "/api/");
        let abs = "https://other.example:8443/x?y=1";
        assert_eq!(resolve_step("/api", abs).unwrap(), abs);
        assert!(resolve_step("", "products").unwrap_err().hint.is_some());
        assert!(
            resolve_step("", "/a b")
                .unwrap_err()
                .message
                .contains("' '")
        );
        assert!(resolve_step("", "ftp://x/").is_err());
        assert!(resolve_step("", "").is_err());
    }
}
