//! Script errors, and turning Lua's errors into them with the file and line they are on.

use std::fmt;

/// A script's syntax or runtime error, located in the file the user wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// The file: a script file, or the scenario file holding inline code.
    pub origin: String,
    /// The line of that file, when known.
    pub line: Option<u32>,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.origin, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for ScriptError {}

impl ScriptError {
    /// An error of the interpreter itself (not of a script line).
    pub(crate) fn internal(origin: &str, err: &mlua::Error) -> ScriptError {
        ScriptError {
            origin: origin.to_owned(),
            line: None,
            message: format!("the Lua interpreter failed: {err}"),
        }
    }
}

/// The longest chunk name Lua shows (`LUA_IDSIZE - 1` bytes): longer origins appear truncated.
const LUA_ID_MAX: usize = 59;

/// Knows the origins of the scripts, to find `origin:line:` in Lua's messages and tracebacks.
#[derive(Clone, Debug, Default)]
pub(crate) struct ErrorMapper {
    /// (the name as Lua prints it, the origin), longest first.
    names: Vec<(String, String)>,
}

/// The parts of an `mlua::Error` that matter to a user.
struct Parts<'a> {
    message: String,
    traceback: Option<&'a str>,
    memory: bool,
}

impl ErrorMapper {
    /// Registers an origin (idempotent).
    pub(crate) fn add_origin(&mut self, origin: &str) {
        if self.names.iter().any(|(_, o)| o == origin) {
            return;
        }
        let shown = if origin.len() > LUA_ID_MAX {
            String::from_utf8_lossy(&origin.as_bytes()[..LUA_ID_MAX]).into_owned()
        } else {
            origin.to_owned()
        };
        self.names.push((shown, origin.to_owned()));
        self.names
            .sort_by_key(|(shown, _)| std::cmp::Reverse(shown.len()));
    }

    /// Maps a Lua error to a [`ScriptError`]: the innermost frame of a known script gives the file
    /// and line; `fallback` (the running script's origin) is used when none is found.
    pub(crate) fn map(&self, err: &mlua::Error, fallback: &str) -> ScriptError {
        self.map_with(err, fallback, None)
    }

    /// As [`ErrorMapper::map`], with the message for an exceeded memory limit.
    pub(crate) fn map_with(
        &self,
        err: &mlua::Error,
        fallback: &str,
        memory: Option<&str>,
    ) -> ScriptError {
        let parts = parts(err);
        let (mut message, own_traceback) = match parts.message.split_once("\nstack traceback:") {
            Some((message, traceback)) => (message.to_owned(), Some(traceback.to_owned())),
            None => (parts.message.clone(), None),
        };
        if parts.memory
            && let Some(memory) = memory
        {
            message = memory.to_owned();
        }
        if let Some((origin, line, rest)) = self.located_prefix(&message) {
            return ScriptError {
                origin: origin.to_owned(),
                line: Some(line),
                message: rest.to_owned(),
            };
        }
        let traceback = parts.traceback.or(own_traceback.as_deref());
        if let Some((origin, line)) = traceback.and_then(|t| self.first_frame(t)) {
            return ScriptError {
                origin: origin.to_owned(),
                line: Some(line),
                message,
            };
        }
        ScriptError {
            origin: fallback.to_owned(),
            line: None,
            message,
        }
    }

    /// `origin:LINE: rest` at the start of a message.
    fn located_prefix<'m>(&self, message: &'m str) -> Option<(&str, u32, &'m str)> {
        self.names.iter().find_map(|(shown, origin)| {
            let rest = message.strip_prefix(shown.as_str())?.strip_prefix(':')?;
            let (line, rest) = split_line(rest)?;
            Some((
                origin.as_str(),
                line,
                rest.strip_prefix(' ').unwrap_or(rest),
            ))
        })
    }

    /// The first (innermost) traceback frame `\torigin:LINE:` of a known script.
    fn first_frame(&self, traceback: &str) -> Option<(&str, u32)> {
        traceback.lines().find_map(|frame| {
            let frame = frame.trim_start();
            self.names.iter().find_map(|(shown, origin)| {
                let rest = frame.strip_prefix(shown.as_str())?.strip_prefix(':')?;
                split_line(rest).map(|(line, _)| (origin.as_str(), line))
            })
        })
    }
}

/// `LINE:rest` → (LINE, rest).
fn split_line(text: &str) -> Option<(u32, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let line = text[..digits].parse().ok()?;
    Some((line, text[digits..].strip_prefix(':')?))
}

/// Unwraps callback and context layers down to the error that happened.
fn parts(err: &mlua::Error) -> Parts<'_> {
    let mut traceback = None;
    let mut err = err;
    loop {
        match err {
            mlua::Error::CallbackError {
                traceback: t,
                cause,
            } => {
                traceback = Some(t.as_str());
                err = cause;
            }
            mlua::Error::WithContext { cause, .. } => err = cause,
            _ => break,
        }
    }
    if let mlua::Error::BadArgument { pos, cause, .. } = err {
        return Parts {
            message: bad_argument(*pos, cause, traceback),
            traceback,
            memory: false,
        };
    }
    let (message, memory) = match err {
        mlua::Error::RuntimeError(message) => (message.clone(), false),
        mlua::Error::SyntaxError { message, .. } => (message.clone(), false),
        mlua::Error::MemoryError(message) => (message.clone(), true),
        mlua::Error::ExternalError(inner) => (inner.to_string(), false),
        other => (other.to_string(), false),
    };
    Parts {
        message,
        traceback,
        memory,
    }
}

/// A Rust function got an argument of the wrong type: says which function, which argument and
/// what it needed. The function is named by the traceback's first frame (`[C]: in field 'trend'`).
fn bad_argument(pos: usize, cause: &mlua::Error, traceback: Option<&str>) -> String {
    let frame = traceback.and_then(|t| {
        t.lines()
            .find_map(|l| l.trim_start().strip_prefix("[C]: in "))
    });
    let (expected, got) = match cause {
        mlua::Error::FromLuaConversionError { from, to, .. } => {
            let expected = match to.as_str() {
                "String" | "BString" => "a string",
                "f64" | "i64" | "u8" => "a number",
                "Table" => "a table",
                other => other,
            };
            (
                expected.to_owned(),
                if *from == "nil" {
                    "nil".to_owned()
                } else {
                    format!("a {from}")
                },
            )
        }
        other => return format!("bad argument #{pos}: {other}"),
    };
    match frame {
        // `vars.name` reaches Rust through the prelude's `var_get` / `var_set`.
        Some(frame)
            if pos == 2 && matches!(frame.split('\'').nth(1), Some("var_get" | "var_set")) =>
        {
            format!("vars: variable names must be strings, not {got}")
        }
        Some(frame) => {
            let name = frame.split('\'').nth(1).unwrap_or(frame);
            let name = match name {
                "counter" | "trend" | "gauge" => format!("metrics.{name}"),
                "encode" | "decode" | "array" => format!("json.{name}"),
                other => other.to_owned(),
            };
            format!("bad argument #{pos} to {name}: expected {expected}, got {got}")
        }
        None => format!("bad argument #{pos}: expected {expected}, got {got}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper(origins: &[&str]) -> ErrorMapper {
        let mut m = ErrorMapper::default();
        for o in origins {
            m.add_origin(o);
        }
        m
    }

    #[test]
    fn message_prefix_gives_origin_and_line() {
        let m = mapper(&["shop.yaml", "scripts/sign.lua"]);
        let err = mlua::Error::RuntimeError(
            "scripts/sign.lua:7: boom\nstack traceback:\n\t[C]: in function 'error'\n\tscripts/sign.lua:7: in main chunk"
                .into(),
        );
        let e = m.map(&err, "shop.yaml");
        assert_eq!(
            (e.origin.as_str(), e.line, e.message.as_str()),
            ("scripts/sign.lua", Some(7), "boom")
        );
        assert_eq!(e.to_string(), "scripts/sign.lua:7: boom");
    }

    #[test]
    fn traceback_gives_line_when_the_message_has_none() {
        let m = mapper(&["shop.yaml"]);
        let err = mlua::Error::CallbackError {
            traceback: "stack traceback:\n\t[C]: in ?\n\t[stampede]:3: in metamethod 'newindex'\n\tshop.yaml:14: in main chunk".into(),
            cause: std::sync::Arc::new(mlua::Error::runtime("vars.x: bad value")),
        };
        let e = m.map(&err, "other.yaml");
        assert_eq!(e.to_string(), "shop.yaml:14: vars.x: bad value");
    }

    #[test]
    fn unknown_location_falls_back_to_the_running_script() {
        let e = mapper(&["a.yaml"]).map(&mlua::Error::runtime("odd"), "a.yaml");
        assert_eq!((e.line, e.to_string().as_str()), (None, "a.yaml: odd"));
    }

    #[test]
    fn long_origins_match_their_truncated_form() {
        let long = format!("{}/shop.yaml", "scenarios".repeat(10));
        let shown = &long[..LUA_ID_MAX];
        let e = mapper(&[&long]).map(&mlua::Error::RuntimeError(format!("{shown}:3: boom")), "x");
        assert_eq!(
            (e.origin, e.line, e.message.as_str()),
            (long, Some(3), "boom")
        );
    }
}
