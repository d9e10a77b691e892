//! The helper functions scripts get: hashing, encodings, JSON, randomness and time.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use mlua::{Error, Integer, Lua, LuaString, Result, Table, Value};

/// The registry key of the metatable that marks decoded JSON arrays.
const ARRAY_MT: &str = "stampede.json_array";
/// How deep `json.encode` and `json.decode` go (cyclic tables hit this).
const JSON_MAX_DEPTH: usize = 128;

/// Installs the helpers as globals of `lua`, drawing randomness from `rng`.
pub(crate) fn install(lua: &Lua, rng: std::sync::Arc<Rng>) -> Result<()> {
    let g = lua.globals();
    g.raw_set(
        "sha256_hex",
        lua.create_function(|_, s: LuaString| Ok(hex(sha256(&s.as_bytes()).as_ref())))?,
    )?;
    g.raw_set(
        "sha256",
        lua.create_function(|lua, s: LuaString| lua.create_string(sha256(&s.as_bytes())))?,
    )?;
    g.raw_set(
        "hmac_sha256_hex",
        lua.create_function(|_, (key, data): (LuaString, LuaString)| {
            Ok(hex(hmac_sha256(&key.as_bytes(), &data.as_bytes()).as_ref()))
        })?,
    )?;
    g.raw_set(
        "hmac_sha256",
        lua.create_function(|lua, (key, data): (LuaString, LuaString)| {
            lua.create_string(hmac_sha256(&key.as_bytes(), &data.as_bytes()))
        })?,
    )?;
    g.raw_set(
        "hex_encode",
        lua.create_function(|_, s: LuaString| Ok(hex(&s.as_bytes())))?,
    )?;
    for (name, alphabet, pad) in [("base64", STANDARD, true), ("base64url", URL_SAFE, false)] {
        g.raw_set(
            format!("{name}_encode"),
            lua.create_function(move |_, s: LuaString| {
                Ok(base64_encode(&s.as_bytes(), alphabet, pad))
            })?,
        )?;
        g.raw_set(
            format!("{name}_decode"),
            lua.create_function(move |lua, s: LuaString| {
                let bytes = base64_decode(&s.as_bytes(), alphabet)
                    .map_err(|e| Error::runtime(format!("{name}_decode: {e}")))?;
                lua.create_string(bytes)
            })?,
        )?;
    }
    let uuid_rng = rng.clone();
    g.raw_set(
        "uuid",
        lua.create_function(move |_, ()| Ok(uuid_v4(&uuid_rng)))?,
    )?;
    g.raw_set(
        "random_int",
        lua.create_function(move |_, (a, b): (Integer, Integer)| {
            if a > b {
                return Err(Error::runtime(format!(
                    "random_int({a}, {b}): the first bound must not exceed the second"
                )));
            }
            Ok(rng.int_in(a, b))
        })?,
    )?;
    g.raw_set("now_ms", lua.create_function(|_, ()| Ok(now_ms()))?)?;

    let array_mt = lua.create_table()?;
    array_mt.raw_set("__name", "json.array")?;
    lua.set_named_registry_value(ARRAY_MT, &array_mt)?;
    let json = lua.create_table()?;
    json.raw_set("null", Value::NULL)?;
    json.raw_set(
        "encode",
        lua.create_function(|_, v: Value| {
            let mut out = String::new();
            encode(&v, &mut out, 0).map_err(|e| Error::runtime(format!("json.encode: {e}")))?;
            Ok(out)
        })?,
    )?;
    json.raw_set(
        "decode",
        lua.create_function(|lua, s: LuaString| decode(lua, &s.as_bytes(), "json.decode"))?,
    )?;
    json.raw_set(
        "array",
        lua.create_function(|lua, t: Table| {
            t.set_metatable(Some(lua.named_registry_value::<Table>(ARRAY_MT)?))?;
            Ok(t)
        })?,
    )?;
    g.raw_set("json", json)?;
    Ok(())
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, data)
        .as_ref()
        .try_into()
        .expect("HMAC-SHA256 is 32 bytes")
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 of `data` with `alphabet`, `=`-padded when `pad`.
pub(crate) fn base64_encode(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes base64 in `alphabet`; padding is optional.
pub(crate) fn base64_decode(
    text: &[u8],
    alphabet: &[u8; 64],
) -> std::result::Result<Vec<u8>, String> {
    let body = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    if body.len() % 4 == 1 || (body.len() != text.len() && !text.len().is_multiple_of(4)) {
        return Err(format!(
            "{} characters is not a valid base64 length",
            text.len()
        ));
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (i, &c) in body.iter().enumerate() {
        let Some(v) = alphabet.iter().position(|&a| a == c) else {
            return Err(format!(
                "invalid character {:?} at byte {}",
                char::from(c),
                i + 1
            ));
        };
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// The VU's random generator: SplitMix64 (small, fast, and `Sync` so callbacks can share it).
#[derive(Debug)]
pub(crate) struct Rng(AtomicU64);

impl Rng {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    pub(crate) fn new(seed: u64) -> Rng {
        Rng(AtomicU64::new(seed))
    }

    pub(crate) fn next_u64(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(Self::GAMMA, Ordering::Relaxed)
            .wrapping_add(Self::GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `a..=b` (`a <= b`).
    pub(crate) fn int_in(&self, a: i64, b: i64) -> i64 {
        let span = b.wrapping_sub(a) as u64;
        if span == u64::MAX {
            return self.next_u64() as i64;
        }
        let offset = ((u128::from(self.next_u64()) * u128::from(span + 1)) >> 64) as u64;
        a.wrapping_add(offset as i64)
    }
}

/// A random version 4 UUID.
pub(crate) fn uuid_v4(rng: &Rng) -> String {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    b[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    b[6] = b[6] & 0x0f | 0x40;
    b[8] = b[8] & 0x3f | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Decodes JSON text into Lua values; `what` names the caller in errors.
pub(crate) fn decode(lua: &Lua, text: &[u8], what: &str) -> Result<Value> {
    let json: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| Error::runtime(format!("{what}: not valid JSON: {e}")))?;
    let array_mt: Table = lua.named_registry_value(ARRAY_MT)?;
    to_lua(lua, &json, &array_mt)
}

fn to_lua(lua: &Lua, json: &serde_json::Value, array_mt: &Table) -> Result<Value> {
    use serde_json::Value as J;
    Ok(match json {
        J::Null => Value::NULL,
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::String(lua.create_string(s)?),
        J::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item, array_mt)?)?;
            }
            t.set_metatable(Some(array_mt.clone()))?;
            Value::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, v) in map {
                t.raw_set(k.as_str(), to_lua(lua, v, array_mt)?)?;
            }
            Value::Table(t)
        }
    })
}

/// Writes `v` as compact JSON (object keys sorted, so equal tables give equal text).
fn encode(v: &Value, out: &mut String, depth: usize) -> std::result::Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::LightUserData(p) if p.0.is_null() => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Number(n) => match serde_json::Number::from_f64(*n) {
            Some(n) => {
                let _ = write!(out, "{n}");
            }
            None => return Err(format!("{n} cannot be represented in JSON")),
        },
        Value::String(s) => {
            let s = s
                .to_str()
                .map_err(|_| "a string is not valid UTF-8 (base64_encode it first)".to_string())?;
            out.push_str(&serde_json::to_string(&*s).map_err(|e| e.to_string())?);
        }
        Value::Table(t) => {
            if depth >= JSON_MAX_DEPTH {
                return Err(format!(
                    "tables nest deeper than {JSON_MAX_DEPTH} levels (a table that contains itself?)"
                ));
            }
            encode_table(t, out, depth + 1)?;
        }
        other => {
            return Err(format!(
                "a {} cannot be represented in JSON",
                other.type_name()
            ));
        }
    }
    Ok(())
}

fn encode_table(t: &Table, out: &mut String, depth: usize) -> std::result::Result<(), String> {
    let err = |e: Error| e.to_string();
    let len = t.raw_len();
    let marked = t.metatable().is_some_and(|mt| {
        mt.raw_get::<String>("__name")
            .is_ok_and(|n| n == "json.array")
    });
    let mut entries: Vec<(Value, Value)> = t
        .pairs::<Value, Value>()
        .collect::<Result<_>>()
        .map_err(err)?;
    if marked || (len > 0 && entries.len() == len) {
        out.push('[');
        for i in 1..=len {
            if i > 1 {
                out.push(',');
            }
            encode(&t.raw_get::<Value>(i).map_err(err)?, out, depth)?;
        }
        out.push(']');
        return Ok(());
    }
    let mut keyed = Vec::with_capacity(entries.len());
    for (k, v) in entries.drain(..) {
        let key = match &k {
            Value::String(s) => s
                .to_str()
                .map_err(|_| "an object key is not valid UTF-8".to_string())?
                .to_owned(),
            Value::Integer(i) => i.to_string(),
            Value::Number(n) => n.to_string(),
            other => return Err(format!("a {} cannot be an object key", other.type_name())),
        };
        keyed.push((key, v));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    out.push('{');
    for (i, (k, v)) in keyed.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).map_err(|e| e.to_string())?);
        out.push(':');
        encode(v, out, depth)?;
    }
    out.push('}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes(), STANDARD, true), encoded);
            assert_eq!(
                base64_decode(encoded.as_bytes(), STANDARD).unwrap(),
                plain.as_bytes()
            );
            let unpadded = encoded.trim_end_matches('=');
            assert_eq!(
                base64_decode(unpadded.as_bytes(), STANDARD).unwrap(),
                plain.as_bytes()
            );
        }
        assert_eq!(base64_encode(&[0xfb, 0xff], URL_SAFE, false), "-_8");
        assert!(
            base64_decode(b"Zm9v!A", STANDARD)
                .unwrap_err()
                .contains("'!' at byte 5")
        );
        assert!(base64_decode(b"Z", STANDARD).is_err());
    }

    #[test]
    fn random_ints_stay_in_range_and_cover_it() {
        let rng = Rng::new(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = rng.int_in(-2, 2);
            assert!((-2..=2).contains(&v));
            seen[(v + 2) as usize] = true;
        }
        assert_eq!(seen, [true; 5]);
        assert_eq!(rng.int_in(9, 9), 9);
        let _ = rng.int_in(i64::MIN, i64::MAX);
    }

    #[test]
    fn uuids_are_version_4() {
        let u = uuid_v4(&Rng::new(1));
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, uuid_v4(&Rng::new(2)));
    }
}
