//! Request bodies: `json` (any YAML value), `body` (text) and `form` (URL-encoded).

use crate::decoder::{self, Ctx, child, item};
use crate::plan::{Body, Content, JsonPart, Template};
use crate::template;
use crate::yaml::{Node, Scalar, Value};

pub(crate) const BODY_FIELDS: &[&str] = &["json", "body", "form"];

/// Encodes the step's body. `kind` is one of [`BODY_FIELDS`]; an explicit `Content-Type` header
/// (from `headers`, step headers first) replaces the default content type. Strings may hold
/// `{{ placeholders }}`; a body without any is encoded once, here.
pub(crate) fn encode(
    ctx: &mut Ctx,
    kind: &str,
    node: &Node,
    path: &str,
    headers: &[&[(String, Template)]],
) -> Option<Body> {
    let (default_type, content) = match kind {
        "json" => {
            let mut out = JsonOut::default();
            json(ctx, node, path, &mut out).then_some(())?;
            ("application/json", out.finish())
        }
        "form" => {
            let mut fields = Vec::new();
            for entry in decoder::entries(ctx, node, path)? {
                let field_path = child(path, entry.key);
                let text = decoder::string(ctx, entry.value, &field_path)?;
                let value = template::parse(ctx, entry.value, &field_path, &text)?;
                fields.push((entry.key.to_owned(), value));
            }
            let content = if fields.iter().all(|(_, v)| v.is_static()) {
                let encoded: Vec<(String, String)> = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.static_text().unwrap_or_default()))
                    .collect();
                Content::Static(encode_form(&encoded).into_bytes())
            } else {
                Content::Form(fields)
            };
            ("application/x-www-form-urlencoded", content)
        }
        _ => {
            let text = decoder::string(ctx, node, path)?;
            let t = template::parse(ctx, node, path, &text)?;
            let content = match t.static_text() {
                Some(text) => Content::Static(text.into_bytes()),
                None => Content::Text(t),
            };
            ("text/plain", content)
        }
    };
    let explicit = headers
        .iter()
        .flat_map(|list| list.iter())
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    let content_type = explicit.map_or(default_type, |(_, value)| value.source.as_str());
    Some(Body {
        content_type: content_type.to_owned(),
        content,
    })
}

/// `application/x-www-form-urlencoded` encoding of fields.
pub fn encode_form(fields: &[(String, String)]) -> String {
    let encoded: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect();
    encoded.join("&")
}

/// A JSON body being built: raw JSON text, with templated strings in between.
#[derive(Default)]
struct JsonOut {
    parts: Vec<JsonPart>,
    raw: String,
}

impl JsonOut {
    fn push_str(&mut self, text: &str) {
        self.raw.push_str(text);
    }

    fn push(&mut self, c: char) {
        self.raw.push(c);
    }

    fn part(&mut self, part: JsonPart) {
        if !self.raw.is_empty() {
            self.parts
                .push(JsonPart::Raw(std::mem::take(&mut self.raw)));
        }
        self.parts.push(part);
    }

    fn finish(mut self) -> Content {
        if self.parts.is_empty() {
            return Content::Static(self.raw.into_bytes());
        }
        if !self.raw.is_empty() {
            self.parts.push(JsonPart::Raw(self.raw));
        }
        Content::Json(self.parts)
    }
}

/// Writes `node` as compact JSON, keeping mapping order. False if something could not be encoded
/// (reported).
fn json(ctx: &mut Ctx, node: &Node, path: &str, out: &mut JsonOut) -> bool {
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
        Value::Scalar(Scalar::Str, text) => {
            let Some(t) = template::parse(ctx, node, path, text) else {
                return false;
            };
            match t.static_text() {
                Some(text) => out.push_str(&quote(&text)),
                None if t.sole_expr().is_some() => out.part(JsonPart::Typed(t)),
                None => out.part(JsonPart::Quoted(t)),
            }
        }
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
pub fn urlencode(text: &str) -> String {
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

    fn body(kind: &str, src: &str, headers: &[(String, Template)]) -> Result<Body, Vec<String>> {
        let node = yaml::parse(src).unwrap().unwrap();
        let mut ctx = Ctx::default();
        let body = encode(&mut ctx, kind, &node, "json", &[headers]);
        let errors: Vec<String> = ctx.into_items().into_iter().map(|d| d.message).collect();
        match body {
            Some(body) if errors.is_empty() => Ok(body),
            _ => Err(errors),
        }
    }

    fn bytes(b: &Body) -> Vec<u8> {
        b.content.static_bytes().expect("a static body").to_vec()
    }

    #[test]
    fn placeholders_make_a_templated_body() {
        let b = body(
            "json",
            "{ id: '{{ id }}', name: 'Product {{ id }}', n: 1 }",
            &[],
        )
        .unwrap();
        let Content::Json(parts) = &b.content else {
            panic!("{b:?}")
        };
        assert_eq!(parts.len(), 5, "{parts:?}");
        assert_eq!(parts[0], JsonPart::Raw("{\"id\":".into()));
        assert!(matches!(&parts[1], JsonPart::Typed(t) if t.source == "{{ id }}"));
        assert_eq!(parts[2], JsonPart::Raw(",\"name\":".into()));
        assert!(matches!(&parts[3], JsonPart::Quoted(t) if t.source == "Product {{ id }}"));
        assert_eq!(parts[4], JsonPart::Raw(",\"n\":1}".into()));
        let b = body("form", "{ user: '{{ name }}', x: 1 }", &[]).unwrap();
        assert!(matches!(&b.content, Content::Form(f) if f.len() == 2));
        let b = body("body", "'hi {{ name }}'", &[]).unwrap();
        assert!(matches!(&b.content, Content::Text(t) if t.parts.len() == 2));
        let errors = body("body", "'hi {{ name'", &[]).unwrap_err();
        assert_eq!(errors, ["unclosed `{{` in `hi {{ name`"]);
    }

    #[test]
    fn json_keeps_order_and_types() {
        let src = "{ user: alice, id: 42, ratio: 0.5, ok: true, none: ~, tags: [a, '1'], \
                   nested: { z: 1, a: \"q\\\"x\" } }";
        let b = body("json", src, &[]).unwrap();
        assert_eq!(b.content_type, "application/json");
        let expected = r#"{"user":"alice","id":42,"ratio":0.5,"ok":true,"none":null,"tags":["a","1"],"nested":{"z":1,"a":"q\"x"}}"#;
        assert_eq!(String::from_utf8(bytes(&b)).unwrap(), expected);
        assert_eq!(bytes(&body("json", "[]", &[]).unwrap()), b"[]");
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
        assert_eq!(bytes(&b), b"q=red+shoes&a%26b=%C3%A9%2F1");
        let b = body("body", "hello", &[]).unwrap();
        assert_eq!(b.content_type, "text/plain");
        assert_eq!(bytes(&b), b"hello");
        let xml = [("content-TYPE".to_owned(), Template::text("application/xml"))];
        let b = body("body", "'<a/>'", &xml).unwrap();
        assert_eq!(b.content_type, "application/xml");
        assert!(body("body", "[1]", &[]).is_err());
        assert!(body("form", "{ a: [1] }", &[]).is_err());
    }
}
