//! How scripts reach the running step's [`Host`]: Rust functions created once per interpreter that
//! find the host in a scoped thread-local slot, set by [`with_host_set`] for the duration of one run.
//!
//! The alternative, `Lua::scope`, creates and destroys a Lua callback on every run: under
//! callgrind that added ~5,000 instructions per run (an empty script: 6,900 instead of 1,900; the
//! small benchmark script: 17,300 instead of 7,000). The slot is safe code on our side
//! (`scoped-tls-hkt` encapsulates the
//! lifetime erasure and restores the slot even on panic); the host is reachable only while
//! [`with_host_set`] runs, on its thread, and a callback that finds the slot empty (a `__gc`
//! finalizer running outside a run) gets a Lua error, not a panic.

use std::cell::RefCell;

use mlua::{BString, Either, Error, Lua, LuaString, Result, Table, Value as LuaValue};
use scoped_tls_hkt::{ReborrowMut, scoped_thread_local};

use crate::helpers;
use crate::{Host, OwnedValue, Value};

/// The host of the running step, for the callbacks below.
struct HostRef<'a>(&'a mut (dyn Host + 'a));

impl<'a, 'b: 'a> ReborrowMut<'a> for HostRef<'b> {
    type Result = HostRef<'a>;
    fn reborrow_mut(&'a mut self) -> HostRef<'a> {
        HostRef(&mut *self.0)
    }
}

scoped_thread_local!(static mut HOST: for<'a> HostRef<'a>);

/// Runs `f` with `host` reachable by the host functions (on this thread, until `f` returns).
pub(crate) fn with_host_set<R>(host: &mut dyn Host, f: impl FnOnce() -> R) -> R {
    HOST.set(HostRef(host), f)
}

/// Calls `f` with the running step's host.
fn with_host<R>(f: impl FnOnce(&mut dyn Host) -> Result<R>) -> Result<R> {
    if !HOST.is_set() {
        return Err(Error::runtime(
            "vars, response, fail and metrics are only available while a script step runs \
             (not in __gc or __close handlers running later)",
        ));
    }
    HOST.with(|host| f(host.0))
}

/// The table of host functions handed to `prelude.lua`.
///
/// Argument types are chosen for speed: `bool` takes the `vars` table of a metamethod call without
/// creating a handle for it; `String`/`BString` copy a string straight off the Lua stack; text is
/// returned as an owned `String`, which Lua pushes more cheaply than a `LuaString` handle, except
/// for variable values, which come from the [`Texts`] cache.
pub(crate) fn functions(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    let texts = RefCell::new(Texts::default());
    t.raw_set(
        "var_get",
        lua.create_function(move |lua, (_vars, name): (bool, String)| {
            with_host(|host| {
                Ok(match host.var(&name) {
                    None => None,
                    Some(Value::Text(text)) => {
                        Some(Either::Left(Texts::get(&texts, lua, &name, text)?))
                    }
                    Some(Value::List(items)) => Some(Either::Right(
                        lua.create_sequence_from(items.iter().map(String::as_str))?,
                    )),
                })
            })
        })?,
    )?;
    t.raw_set(
        "var_set",
        // Returns whether the host keeps `name` (it ignores names it does not know): the prelude
        // then keeps a string it stored.
        lua.create_function(|lua, (_vars, name, value): (bool, String, Either<BString, LuaValue>)| {
            let value = match value {
                Either::Left(text) => OwnedValue::Text(utf8(&name, text.into(), None)?),
                Either::Right(LuaValue::Nil) => OwnedValue::Unset,
                Either::Right(LuaValue::Boolean(b)) => OwnedValue::Text(b.to_string()),
                Either::Right(LuaValue::Table(list)) => OwnedValue::List(list_items(lua, &name, &list)?),
                Either::Right(other) => {
                    return Err(Error::runtime(format!(
                        "vars.{name} = ...: a {} cannot be stored (use strings, numbers, booleans or arrays)",
                        other.type_name()
                    )));
                }
            };
            with_host(|host| Ok(host.set_var(&name, value)))
        })?,
    )?;
    t.raw_set(
        "status",
        lua.create_function(|_, ()| with_host(|host| Ok(host.response().map(|r| r.status))))?,
    )?;
    t.raw_set(
        "body",
        lua.create_function(|lua, ()| {
            with_host(|host| {
                host.response()
                    .map(|r| lua.create_string(r.body))
                    .transpose()
            })
        })?,
    )?;
    t.raw_set(
        "header",
        lua.create_function(|lua, name: String| {
            with_host(|host| {
                let Some(response) = host.response() else {
                    return Ok(None);
                };
                response
                    .headers
                    .get(name.as_str())
                    .map(|v| lua.create_string(v))
                    .transpose()
            })
        })?,
    )?;
    t.raw_set(
        "json",
        lua.create_function(|lua, ()| {
            with_host(|host| match host.response() {
                Some(response) => helpers::decode(lua, response.body, "response:json()"),
                None => Ok(LuaValue::Nil),
            })
        })?,
    )?;
    t.raw_set(
        "fail",
        lua.create_function(|_, message: BString| {
            let message = String::from_utf8_lossy(&message).into_owned();
            with_host(|host| {
                host.fail(message);
                Ok(())
            })
        })?,
    )?;
    t.raw_set(
        "counter",
        metric(lua, "counter", |host, name, v| host.counter(name, v))?,
    )?;
    t.raw_set(
        "trend",
        metric(lua, "trend", |host, name, v| host.trend(name, v))?,
    )?;
    t.raw_set(
        "gauge",
        metric(lua, "gauge", |host, name, v| host.gauge(name, v))?,
    )?;
    Ok(t)
}

/// The Lua strings of the variable values scripts read last, by variable name.
///
/// While a memory limit is set, mlua creates every Lua string made from Rust in a protected
/// call: ~1,000 instructions, more than the rest of a `vars.name` read. A value read again
/// unchanged (a token read on every iteration) is handed back as the Lua string made the first
/// time. An entry is used only when its bytes equal the host's current value, so it cannot go
/// stale. At most [`Texts::ENTRIES`] strings of up to [`Texts::MAX_LEN`] bytes are kept alive.
#[derive(Default)]
struct Texts {
    entries: Vec<(String, LuaString)>,
    /// The entry replaced next once the cache is full.
    next: usize,
}

impl Texts {
    const ENTRIES: usize = 16;
    const MAX_LEN: usize = 1024;

    /// The Lua string of variable `name`, whose value is `text`.
    ///
    /// Not borrowed across `create_string` (its garbage collection may run a finalizer that
    /// reads a variable); a cache busy that way is bypassed.
    fn get(cache: &RefCell<Texts>, lua: &Lua, name: &str, text: &str) -> Result<LuaString> {
        if let Ok(texts) = cache.try_borrow()
            && let Some((_, cached)) = texts.entries.iter().find(|(n, _)| n == name)
            && *cached.as_bytes() == *text.as_bytes()
        {
            return Ok(cached.clone());
        }
        let created = lua.create_string(text)?;
        if text.len() <= Texts::MAX_LEN
            && let Ok(mut texts) = cache.try_borrow_mut()
        {
            texts.put(name, created.clone());
        }
        Ok(created)
    }

    fn put(&mut self, name: &str, text: LuaString) {
        if let Some(entry) = self.entries.iter_mut().find(|(n, _)| n == name) {
            entry.1 = text;
        } else if self.entries.len() < Texts::ENTRIES {
            self.entries.push((name.to_owned(), text));
        } else {
            self.entries[self.next] = (name.to_owned(), text);
            self.next = (self.next + 1) % Texts::ENTRIES;
        }
    }
}

/// `metrics.<kind>(name, value)`; a counter's value defaults to 1.
fn metric(
    lua: &Lua,
    kind: &'static str,
    record: fn(&mut dyn Host, &str, f64),
) -> Result<mlua::Function> {
    lua.create_function(move |_, (name, value): (String, Option<f64>)| {
        let value = match value {
            Some(v) if v.is_finite() => v,
            None if kind == "counter" => 1.0,
            v => {
                let what = v.map_or_else(|| "nil".to_owned(), |v| format!("the number {v}"));
                return Err(Error::runtime(format!(
                    "metrics.{kind}(\"{name}\", value): the value must be a finite number, not {what}"
                )));
            }
        };
        with_host(|host| {
            record(host, &name, value);
            Ok(())
        })
    })
}

/// `bytes` as text for `vars.name` (`item`: its position in a list).
fn utf8(name: &str, bytes: Vec<u8>, item: Option<usize>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| {
        let at = item.map(|i| format!("item {i}: ")).unwrap_or_default();
        Error::runtime(format!(
            "vars.{name} = ...: {at}the text is not valid UTF-8 (use base64_encode for binary data)"
        ))
    })
}

/// The items of `vars.name = {...}`: an array of strings, numbers or booleans.
fn list_items(lua: &Lua, name: &str, list: &Table) -> Result<Vec<String>> {
    let bad = |what: String| Error::runtime(format!("vars.{name} = ...: {what}"));
    let len = list.raw_len();
    if list.pairs::<LuaValue, LuaValue>().count() != len {
        return Err(bad(
            "only arrays (keys 1..n) can be stored; store objects as json.encode(t)".into(),
        ));
    }
    let mut items = Vec::with_capacity(len);
    for i in 1..=len {
        let item: LuaValue = list.raw_get(i)?;
        let text = match item {
            LuaValue::Boolean(b) => b.to_string(),
            LuaValue::String(_) | LuaValue::Integer(_) | LuaValue::Number(_) => {
                let s: Option<LuaString> = lua.coerce_string(item)?;
                utf8(
                    name,
                    s.map(|s| s.as_bytes().to_vec()).unwrap_or_default(),
                    Some(i),
                )?
            }
            LuaValue::Table(_) => {
                return Err(bad(format!(
                    "item {i} is a table: lists hold strings, numbers or booleans (store nested data as json.encode(t))"
                )));
            }
            other => {
                return Err(bad(format!(
                    "item {i} is a {}: lists hold strings, numbers or booleans",
                    other.type_name()
                )));
            }
        };
        items.push(text);
    }
    Ok(items)
}
