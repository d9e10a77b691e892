//! Embedded Lua scripting: the escape hatch for what a scenario's declarative steps cannot say.
//!
//! A `script` step runs a small Lua 5.4 program inside the virtual user (VU) that reaches it:
//!
//! ```yaml
//! - script: |
//!     local n = tonumber(vars.count or "0") + 1
//!     vars.count = tostring(n)
//!     vars.signature = hmac_sha256_hex(vars.secret, vars.body)
//!     if response and response.status ~= 200 then fail("unexpected " .. response.status) end
//!     metrics.counter("carts", 1)
//!     metrics.trend("cart_size", n)
//!   sets: [count, signature]
//! - script: { file: scripts/sign.lua }
//! ```
//!
//! # How it runs
//!
//! Every script of a run is syntax-checked once when the scenario loads ([`Scripts::add`], or
//! [`Scripts::check`] for `stampede validate`). Each VU that reaches a script step gets its own
//! interpreter ([`Vm`]), created on its first script; chunks are compiled once per VU and reused on
//! every iteration. A VU's interpreter is never shared, so scripts need no locking.
//!
//! Global variables a script assigns (`counter = (counter or 0) + 1`) live as long as the VU and are
//! seen by every script that VU runs; use `vars` to pass values to and from the scenario.
//!
//! Errors point at the scenario file: an error on the 3rd line of inline code that starts on line
//! 12 of `shop.yaml` reads `shop.yaml:14: ...`; an error in `scripts/sign.lua` reads
//! `scripts/sign.lua:LINE: ...`. A failing script fails that step of the iteration; the VU goes on.
//!
//! # Lua reference
//!
//! ## Variables: `vars`
//!
//! | Lua | effect |
//! |---|---|
//! | `vars.name` | the scenario variable `name`: a string, an array of strings for a list variable, `nil` if unset |
//! | `vars.name = "text"` | sets it to text; numbers and booleans are stored as `tostring(v)` |
//! | `vars.name = {"a", "b"}` | sets a list variable (an array of strings, numbers or booleans) |
//! | `vars.name = nil` | unsets it |
//!
//! `vars[name]` works the same for computed names (a number is used as its text). Values must be
//! valid UTF-8 text: encode binary data first (`base64_encode`). Objects cannot be stored as such:
//! store `json.encode(t)` and read it back with `json.decode(vars.name)`. `vars` cannot be
//! iterated with `pairs`. Every read asks the VU afresh: keep a value in a `local` when a script
//! uses it many times.
//!
//! ## The last response: `response`
//!
//! `nil` before the VU's first request; afterwards the last response it received:
//!
//! | Lua | value |
//! |---|---|
//! | `response.status` | the status code (an integer) |
//! | `response.body` | the body (a string; may be binary) |
//! | `response:header(name)` | the first value of header `name` (case-insensitive), or `nil` |
//! | `response:json()` | the body decoded as JSON (see `json.decode`); decode once into a local |
//!
//! ## Checks and metrics
//!
//! | Lua | effect |
//! |---|---|
//! | `fail(message)` | records a failed check named after the script; the script goes on (`return fail(...)` stops it) |
//! | `metrics.counter(name, n)` | adds `n` (default 1) to the counter `name` |
//! | `metrics.trend(name, v)` | records `v` in the trend (distribution) `name` |
//! | `metrics.gauge(name, v)` | sets the gauge `name` to `v` |
//!
//! ## Helpers
//!
//! | Lua | returns |
//! |---|---|
//! | `json.encode(v)` | compact JSON text; object keys sorted; a table with keys `1..n` is an array; `json.null` is `null`; an empty table is `{}` unless marked with `json.array(t)` |
//! | `json.decode(s)` | Lua values: objects and arrays become tables (arrays are marked so they encode back as arrays); `null` becomes `json.null` |
//! | `json.null`, `json.array(t)` | the JSON `null` value; marks `t` as an array and returns it |
//! | `sha256_hex(s)`, `sha256(s)` | the SHA-256 digest of `s`, as lowercase hex or as 32 raw bytes |
//! | `hmac_sha256_hex(key, data)`, `hmac_sha256(key, data)` | the HMAC-SHA256 of `data` under `key`, as hex or raw bytes (chain the raw form for AWS SigV4-style key derivation) |
//! | `hex_encode(s)` | the lowercase hex of the bytes of `s` |
//! | `base64_encode(s)`, `base64_decode(s)` | standard base64 with padding (decoding accepts missing padding) |
//! | `base64url_encode(s)`, `base64url_decode(s)` | the URL-safe alphabet without padding (JWT style) |
//! | `uuid()` | a random (version 4) UUID, lowercase |
//! | `random_int(a, b)` | a uniformly random integer in `a..=b` |
//! | `now_ms()` | the wall clock, in milliseconds since the Unix epoch (an integer) |
//! | `print(...)` | writes its arguments to standard error, prefixed with the script's file and line (for debugging) |
//!
//! `uuid`, `random_int` and `math.random` draw from the VU's generator, seeded from the run's seed:
//! a run with a fixed seed repeats its random values.
//!
//! ## The sandbox
//!
//! Scripts get Lua's `string`, `table`, `math` and `utf8` libraries, the safe base functions
//! (`pairs`, `ipairs`, `tostring`, `tonumber`, `type`, `select`, `pcall`, `error`, `assert`,
//! `setmetatable`, ...) and `os.time`, `os.clock`, `os.date`, `os.difftime`. There is no `io`,
//! no other `os` function, no `require`/`package`, no `load`/`loadfile`/`dofile`, no `debug`, no
//! `collectgarbage` and no `string.dump`: using one is an error that says so.
//!
//! Each run of a script may execute at most 10,000,000 Lua instructions (an endless loop fails
//! with "script exceeded its instruction budget" instead of hanging the VU; `pcall` cannot catch
//! it), and each VU's interpreter may hold at most 16 MiB. Both are set with [`Limits`]. Time
//! spent inside one library call (a huge `string.rep`, a pathological `string.find` pattern) is
//! not counted by the instruction budget. The budget is counted by a Lua count hook, which costs
//! on every instruction, so an interpreter whose scripts cannot loop (none has `while`,
//! `repeat`, `for`, `goto` or `function`, even in a string or comment) runs without it: each of
//! its instructions runs at most once per run.
//!
//! # Cost
//!
//! Measured with `cargo bench -p stampede-script` on a quiet 2-core VM: a run of an empty script
//! costs ~0.1 µs of CPU, a small script (read a variable, set one, bump a counter) ~0.3–0.5 µs on
//! one interpreter and ~0.8–1.1 µs when 50 interpreters take turns (as 50 VUs do: they no longer
//! all fit in the CPU caches). An interpreter holds ~35 KB once created (~0.1–0.5 ms, once per
//! VU). Under callgrind the small script is ~4,300 instructions per run; the instruction budget's
//! hook, which only scripts that can loop need, adds ~1,000 to it and makes pure-Lua loops about
//! 1.5x slower. `vars` reads of text values are served from a table kept in the interpreter
//! while [`Host::vars_version`] says the host's variables did not change, so reading a token
//! on every iteration does not call the host.
//!
//! # Rust side
//!
//! The engine implements [`Host`] for its VU state and calls [`Vm::run`]:
//!
//! ```
//! use std::sync::Arc;
//! use stampede_script::{Host, OwnedValue, Response, Scripts, Value, Vm};
//!
//! #[derive(Default)]
//! struct Vu { count: Option<String>, counters: Vec<(String, f64)> }
//!
//! impl Host for Vu {
//!     fn var(&self, name: &str) -> Option<Value<'_>> {
//!         (name == "count").then_some(())?;
//!         self.count.as_deref().map(Value::Text)
//!     }
//!     fn set_var(&mut self, name: &str, value: OwnedValue) -> bool {
//!         if let ("count", OwnedValue::Text(text)) = (name, value) { self.count = Some(text) }
//!         name == "count"
//!     }
//!     fn response(&self) -> Option<Response<'_>> { None }
//!     fn fail(&mut self, _message: String) {}
//!     fn counter(&mut self, name: &str, delta: f64) { self.counters.push((name.into(), delta)) }
//!     fn trend(&mut self, _name: &str, _value: f64) {}
//!     fn gauge(&mut self, _name: &str, _value: f64) {}
//! }
//!
//! let mut scripts = Scripts::new();
//! let id = scripts.add("shop.yaml", 12, r#"
//!     vars.count = tonumber(vars.count or "0") + 1
//!     metrics.counter("carts")
//! "#).unwrap();
//! let mut vm = Vm::new(Arc::new(scripts), 42).unwrap();
//! let mut vu = Vu::default();
//! vm.run(id, &mut vu).unwrap();
//! vm.run(id, &mut vu).unwrap();
//! assert_eq!(vu.count.as_deref(), Some("2"));
//! assert_eq!(vu.counters, [("carts".to_string(), 1.0), ("carts".to_string(), 1.0)]);
//! ```

mod error;
mod helpers;
mod host;
mod scripts;
mod vm;

pub use error::ScriptError;
pub use scripts::{ScriptId, Scripts};
pub use vm::{Limits, Vm};

/// A scenario variable as the engine holds it, lent to a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A text variable.
    Text(&'a str),
    /// A list variable (seen by Lua as an array of strings).
    List(&'a [String]),
}

/// A value a script assigned to a scenario variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedValue {
    /// Text (Lua strings, numbers and booleans).
    Text(String),
    /// A list (a Lua array).
    List(Vec<String>),
    /// The script assigned `nil`: the variable is removed.
    Unset,
}

/// The last response a VU received, lent to a script.
#[derive(Clone, Copy)]
pub struct Response<'a> {
    /// The status code.
    pub status: u16,
    /// The body, as received (decompressed if the engine decompresses).
    pub body: &'a [u8],
    /// The response headers, looked up only when a script asks (`response:header(name)`).
    pub headers: &'a dyn Headers,
}

/// Response headers a script can look up by name.
///
/// Implemented for `http::HeaderMap`; the engine also implements it over the raw bytes of an
/// HTTP/1.1 head, so that a plan with scripts does not build a header map for every response.
pub trait Headers {
    /// The first value of header `name` (matched case-insensitively), or `None`.
    fn get(&self, name: &str) -> Option<&[u8]>;
}

impl Headers for http::HeaderMap {
    fn get(&self, name: &str) -> Option<&[u8]> {
        http::HeaderMap::get(self, name).map(http::HeaderValue::as_bytes)
    }
}

/// What a script sees and can change: implemented by the engine for a VU's state.
///
/// Calls arrive while the script runs, in the script's order.
pub trait Host {
    /// The variable `name`, or `None` when it is not set.
    fn var(&self, name: &str) -> Option<Value<'_>>;
    /// Sets (or with [`OwnedValue::Unset`] removes) the variable `name`. Returns whether the host
    /// keeps variables of that name (false for a name it ignores): only then does the
    /// interpreter keep a string it set for later reads.
    fn set_var(&mut self, name: &str, value: OwnedValue) -> bool;
    /// The last response, or `None` before the VU's first request.
    fn response(&self) -> Option<Response<'_>>;
    /// Records a failed check named after the running script, with the script's message.
    fn fail(&mut self, message: String);
    /// Adds `delta` to the counter `name`.
    fn counter(&mut self, name: &str, delta: f64);
    /// Records `value` in the trend `name`.
    fn trend(&mut self, name: &str, value: f64);
    /// Sets the gauge `name` to `value`.
    fn gauge(&mut self, name: &str, value: f64);
    /// A number that changes whenever a variable is set, or `None` (the default) if the host
    /// does not count. An interpreter keeps the text values its scripts read and wrote, so that
    /// reading them again does not call the host; it forgets them before a run when this number
    /// is not the one it saw at the end of its previous run (with `None`: before every run).
    fn vars_version(&self) -> Option<u64> {
        None
    }
}
