//! Request bodies: `json` (any YAML value), `body` (text) and `form` (URL-encoded).

use crate::decoder::{self, Ctx, child, item};
use crate::plan::Body;
use crate::yaml::{Node, Scalar, Value};

pub(crate) const BODY_FIELDS: &[&str] = &["json", "body", "form"];

/// Encodes the step's body. `kind` is one of [`BODY_FIELDS`]; an explicit `Content-Type` header
/// (from `headers`, step headers first) replaces the default content type.
pub(crate) fn encode(
    ctx: &mut Ctx,
    kind: &str,
    node: &Node,
    path: &str,
    headers: &[&[(String, String)]],
) -> Option<Body> {
    let (default_type, bytes) = match kind {
        "json" => {
            let mut out = String::new();
            json(ctx, node, path, &mut out).then_some(())?;
            ("application/json", out.into_bytes())
        }
        "form" => {
            let fields = decoder::string_map(ctx, node, path)?;
            let encoded: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
                .collect();
            (
                "application/x-www-form-urlencoded",
                encoded.join("&").into_bytes(),
            )
        }
        _ => {
            let text = decoder::string(ctx, node, path)?;
            ("text/plain", text.into_bytes())
        }
    };
    let explicit = headers
        .iter()
        .flat_map(|list| list.iter())
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    let content_type = explicit.map_or(default_type, |(_, value)| value.as_str());
    Some(Body {
        content_type: content_type.to_owned(),
        bytes,
    })
}

/// Writes `node` as compact JSON, keeping mapping order. False if something could not be encoded
/// (reported).
fn json(ctx: &mut Ctx, node: &Node, path: &str, out: &mut String) -> bool {
    match &node.value {
        Value::Scalar(Scalar::Null, _) => out.push_str("null"),
        Value::Scalar(Scalar::Bool(b), _) => out.push_str(if *b { "true" } else { "false" }),
        Value::Scalar(Scalar::Int(i), _) => out.push_str(&i.to_string()),
        Value::Scalar(Scalar::Float(f), text) => match serde_json::Number::from_f64(*f) {
            Some(n) => out.push_str(&n.to_string()),
            None => {
                let message = format!("`{text}` cannot be represented in JSON");
                let hint = "quote it to send a string".to_owned();
                ctx.error(Some(node), path, message, Some(hint));
                return false;
            }
        },
        Value::Scalar(Scalar::Str, text) => out.push_str(&quote(text)),
        Value::Seq(items) => {
            out.push('[');
            let mut ok = true;
            for (i, value) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ok &= json(ctx, value, &item(path, i), out);
            }
            out.push(']');
            return ok;
        }
        Value::Map(_) => {
            let before = ctx.error_count();
            let Some(entries) = decoder::entries(ctx, node, path) else {
                return false;
            };
            out.push('{');
            let mut ok = ctx.error_count() == before;
            for (i, entry) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&quote(entry.key));
                out.push(':');
                ok &= json(ctx, entry.value, &child(path, entry.key), out);
            }
            out.push('}');
            return ok;
        }
    }
    true
}

fn quote(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// `application/x-www-form-urlencoded` encoding of one key or value.
fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn body(kind: &str, src: &str, headers: &[(String, String)]) -> Result<Body, Vec<String>> {
        let node = yaml::parse(src).unwrap().unwrap();
        let mut ctx = Ctx::default();
        let body = encode(&mut ctx, kind, &node, "json", &[headers]);
        let errors: Vec<String> = ctx.into_items().into_iter().map(|d| d.message).collect();
        match body {
            Some(body) if errors.is_empty() => Ok(body),
            _ => Err(errors),
        }
    }

    #[test]
    fn json_keeps_order_and_types() {
        let src = "{ user: alice, id: 42, ratio: 0.5, ok: true, none: ~, tags: [a, '1'], \
                   nested: { z: 1, a: \"q\\\"x\" } }";
        let b = body("json", src, &[]).unwrap();
        assert_eq!(b.content_type, "application/json");
        let expected = r#"{"user":"alice","id":42,"ratio":0.5,"ok":true,"none":null,"tags":["a","1"],"nested":{"z":1,"a":"q\"x"}}"#;
        assert_eq!(String::from_utf8(b.bytes).unwrap(), expected);
        assert_eq!(body("json", "[]", &[]).unwrap().bytes, b"[]");
    }

    #[test]
    fn json_rejects_what_json_cannot_hold() {
        let errors = body("json", "{ a: .nan, b: { c: 1, c: 2 } }", &[]).unwrap_err();
        assert_eq!(
            errors,
            [
                "`.nan` cannot be represented in JSON",
                "duplicate field `c`"
            ]
        );
    }

    #[test]
    fn form_and_text_bodies() {
        let b = body("form", "{ q: red shoes, 'a&b': é/1 }", &[]).unwrap();
        assert_eq!(b.content_type, "application/x-www-form-urlencoded");
        assert_eq!(b.bytes, b"q=red+shoes&a%26b=%C3%A9%2F1");
        let b = body("body", "hello", &[]).unwrap();
        assert_eq!(b.content_type, "text/plain");
        assert_eq!(b.bytes, b"hello");
        let xml = [("content-TYPE".to_owned(), "application/xml".to_owned())];
        let b = body("body", "'<a/>'", &xml).unwrap();
        assert_eq!(b.content_type, "application/xml");
        assert!(body("body", "[1]", &[]).is_err());
        assert!(body("form", "{ a: [1] }", &[]).is_err());
    }
}
