//! Redirects: which statuses redirect, and resolving a `Location` against the current request.

use http::Uri;
use stampede_scenario::Scheme;

/// Statuses followed as redirects. 301, 302 and 303 switch to `GET` without a body (as browsers
/// do; `HEAD` stays `HEAD`); 307 and 308 keep the method and body.
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Where a redirect goes.
#[derive(Debug, PartialEq)]
pub(crate) struct Location {
    /// `None`: the same origin as the current request. Otherwise scheme, lower-case host without
    /// IPv6 brackets, port.
    pub origin: Option<(Scheme, String, u16)>,
    /// Origin-form request target.
    pub uri: Uri,
}

/// Resolves `location` (absolute URL, scheme-relative `//host/...`, absolute path, query, or
/// relative path) against the current request (`scheme`, origin-form `path`). Drops the fragment;
/// removes `.` and `..` segments. `None` when it is not a valid http(s) location.
pub(crate) fn resolve(scheme: Scheme, path: &str, location: &[u8]) -> Option<Location> {
    let location = std::str::from_utf8(location).ok()?.trim();
    let location = location.split('#').next().unwrap_or_default();
    if location.is_empty() {
        return None;
    }
    if let Some(rest) = location.strip_prefix("//") {
        let scheme_name = match scheme {
            Scheme::Http => "http://",
            Scheme::Https => "https://",
        };
        return absolute(&format!("{scheme_name}{rest}"));
    }
    if has_scheme(location) {
        return absolute(location);
    }
    let joined = if location.starts_with('/') {
        location.to_owned()
    } else if location.starts_with('?') {
        let current = path.split('?').next().unwrap_or("/");
        format!("{current}{location}")
    } else {
        let current = path.split('?').next().unwrap_or("/");
        let dir = current.rfind('/').map_or("/", |i| &current[..=i]);
        format!("{dir}{location}")
    };
    Some(Location {
        origin: None,
        uri: normalize(&joined).parse().ok()?,
    })
}

/// `scheme:` prefix per RFC 3986 (a letter, then letters, digits, `+`, `-`, `.`).
fn has_scheme(location: &str) -> bool {
    match location.split_once(':') {
        Some((scheme, _)) => {
            let mut chars = scheme.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

fn absolute(location: &str) -> Option<Location> {
    let uri: Uri = location.parse().ok()?;
    let scheme = match uri.scheme_str()? {
        s if s.eq_ignore_ascii_case("http") => Scheme::Http,
        s if s.eq_ignore_ascii_case("https") => Scheme::Https,
        _ => return None,
    };
    let host = uri
        .host()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(crate::prepare::default_port(scheme));
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let target = if target.is_empty() { "/" } else { target };
    Some(Location {
        origin: Some((scheme, host, port)),
        uri: normalize(target).parse().ok()?,
    })
}

/// Removes `.` and `..` segments from the path part (RFC 3986 §5.2.4, simplified).
fn normalize(target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if !path.split('/').any(|s| s == "." || s == "..") {
        return target.to_owned();
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut result = format!("/{}", out.join("/"));
    if let Some(q) = query {
        result.push('?');
        result.push_str(q);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    type Resolved = Option<(Option<(Scheme, String, u16)>, String)>;

    fn at(location: &str) -> Resolved {
        resolve(Scheme::Http, "/a/b/c?x=1", location.as_bytes())
            .map(|l| (l.origin, l.uri.to_string()))
    }

    #[test]
    fn resolves_relative_forms() {
        assert_eq!(at("/p?q=2#frag"), Some((None, "/p?q=2".into())));
        assert_eq!(at("d"), Some((None, "/a/b/d".into())));
        assert_eq!(at("../d"), Some((None, "/a/d".into())));
        assert_eq!(at("./"), Some((None, "/a/b/".into())));
        assert_eq!(at("?y=2"), Some((None, "/a/b/c?y=2".into())));
        assert_eq!(at(""), None);
    }

    #[test]
    fn resolves_absolute_forms() {
        assert_eq!(
            at("https://Example.com/x"),
            Some((
                Some((Scheme::Https, "example.com".into(), 443)),
                "/x".into()
            ))
        );
        assert_eq!(
            at("//[::1]:8080"),
            Some((Some((Scheme::Http, "::1".into(), 8080)), "/".into()))
        );
        assert_eq!(at("ftp://example.com/"), None);
        assert_eq!(at("mailto:someone@example.com"), None);
    }
}
