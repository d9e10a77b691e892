//! Reference resolution (RFC 3986 §5.2), for the embedded resources of a page.

use std::fmt::Write;

/// The five components of a URI reference (RFC 3986 Appendix B).
#[derive(Debug, PartialEq, Eq)]
struct Parts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

/// Resolves `reference` against the absolute URL `base` (the page URL, or its `<base href>`
/// resolved against the page URL) per RFC 3986 §5.2, with the strict parser: relative paths,
/// `.` and `..` segments, network-path references (`//host/x`), query-only and fragment-only
/// references, and absolute URLs (returned with their dot segments removed).
///
/// As browsers do, leading and trailing whitespace and control characters of `reference` are
/// ignored and tabs and newlines inside it removed; in the result's path, query and fragment,
/// spaces, non-ASCII characters and the other characters an HTTP request line cannot carry
/// (`"<>\^`{|}` and controls) are percent-encoded (UTF-8). The fragment is kept (RFC 3986):
/// drop everything from `#` before sending a request.
///
/// `None` when `base` has no scheme, or when the resulting authority has characters a host
/// cannot have (spaces, non-ASCII: international domain names are not converted).
pub fn resolve_reference(base: &str, reference: &str) -> Option<String> {
    let trim = |s: &str| -> String {
        s.trim_matches(|c: char| c <= ' ')
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .collect()
    };
    let base_text = trim(base);
    let reference = trim(reference);
    let b = split(&base_text);
    let r = split(&reference);
    let scheme = b.scheme?;
    let (scheme, authority, path, query) = if let Some(s) = r.scheme {
        (s, r.authority, remove_dot_segments(r.path), r.query)
    } else if r.authority.is_some() {
        (scheme, r.authority, remove_dot_segments(r.path), r.query)
    } else if r.path.is_empty() {
        (scheme, b.authority, b.path.to_owned(), r.query.or(b.query))
    } else if r.path.starts_with('/') {
        (scheme, b.authority, remove_dot_segments(r.path), r.query)
    } else {
        let merged = merge(&b, r.path);
        (scheme, b.authority, remove_dot_segments(&merged), r.query)
    };
    let mut out = String::with_capacity(base_text.len() + reference.len());
    out.push_str(scheme);
    out.push(':');
    if let Some(authority) = authority {
        if !authority.bytes().all(authority_byte) {
            return None;
        }
        out.push_str("//");
        out.push_str(authority);
    }
    encode_into(&mut out, &path);
    if let Some(q) = query {
        out.push('?');
        encode_into(&mut out, q);
    }
    if let Some(f) = r.fragment {
        out.push('#');
        encode_into(&mut out, f);
    }
    Some(out)
}

/// Splits a URI reference into its components (RFC 3986 Appendix B). A `scheme:` prefix that is
/// not a valid scheme (e.g. `1x:`) is read as part of a relative path, as browsers do.
fn split(uri: &str) -> Parts<'_> {
    let (rest, fragment) = match uri.split_once('#') {
        Some((rest, f)) => (rest, Some(f)),
        None => (uri, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, q)) => (rest, Some(q)),
        None => (rest, None),
    };
    let (scheme, rest) = match rest.split_once(':') {
        Some((s, after)) if valid_scheme(s) => (Some(s), after),
        _ => (None, rest),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            (Some(&after[..end]), &after[end..])
        }
        None => (None, rest),
    };
    Parts {
        scheme,
        authority,
        path,
        query,
        fragment,
    }
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
fn valid_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// RFC 3986 §5.2.3: the reference's relative path appended to the base path's directory.
fn merge(base: &Parts<'_>, path: &str) -> String {
    if base.authority.is_some() && base.path.is_empty() {
        return format!("/{path}");
    }
    match base.path.rfind('/') {
        Some(i) => format!("{}{path}", &base.path[..=i]),
        None => path.to_owned(),
    }
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut output = String::with_capacity(path.len());
    let pop = |output: &mut String| {
        let cut = output.rfind('/').unwrap_or(0);
        output.truncate(cut);
    };
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") {
            input = &input[3..];
            pop(&mut output);
        } else if input == "/.." {
            input = "/";
            pop(&mut output);
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    output
}

/// Bytes allowed in an authority: unreserved, sub-delims, `%`, `:`, `@`, `[`, `]`.
fn authority_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%:@[]".contains(&b)
}

/// Appends `text`, percent-encoding what a request line cannot carry.
fn encode_into(out: &mut String, text: &str) {
    for c in text.chars() {
        let needs = !c.is_ascii()
            || c.is_ascii_control()
            || matches!(
                c,
                ' ' | '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}'
            );
        if needs {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_components() {
        let p = split("http://a:8080/b/c?q=1#f");
        assert_eq!(
            p,
            Parts {
                scheme: Some("http"),
                authority: Some("a:8080"),
                path: "/b/c",
                query: Some("q=1"),
                fragment: Some("f"),
            }
        );
        let p = split("1x:y/z");
        assert_eq!((p.scheme, p.path), (None, "1x:y/z"));
        let p = split("//h");
        assert_eq!((p.authority, p.path), (Some("h"), ""));
    }

    #[test]
    fn removes_dot_segments_as_in_the_rfc() {
        assert_eq!(remove_dot_segments("/a/b/c/./../../g"), "/a/g");
        assert_eq!(remove_dot_segments("mid/content=5/../6"), "mid/6");
        assert_eq!(remove_dot_segments("/.."), "/");
        assert_eq!(remove_dot_segments("/a/.."), "/");
        assert_eq!(remove_dot_segments("../x"), "x");
    }
}
