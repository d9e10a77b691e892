//! The scripts of a run: sources checked once, shared by every VU.

use mlua::chunk::ChunkMode;
use mlua::{Lua, LuaOptions, StdLib};

use crate::error::{ErrorMapper, ScriptError};

/// Identifies a script added to [`Scripts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScriptId(pub(crate) u32);

impl ScriptId {
    /// The script's position in its [`Scripts`] (0 for the first one added).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One checked script.
#[derive(Debug)]
pub(crate) struct Source {
    /// The file that names it in errors.
    pub(crate) origin: String,
    /// Lua's name for the chunk: `=` and the origin.
    pub(crate) chunk_name: String,
    /// The compiled chunk (Lua bytecode with debug info): every VM loads it without parsing.
    pub(crate) bytecode: Vec<u8>,
}

/// Compiled-once script sources shared by every VU of a run.
///
/// `Send + Sync`; share it as an `Arc<Scripts>` (see [`crate::Vm::new`]).
#[derive(Debug, Default)]
pub struct Scripts {
    pub(crate) sources: Vec<Source>,
    pub(crate) errors: ErrorMapper,
    /// Whether any script can loop ([`may_loop`]): only then do interpreters count the
    /// instruction budget.
    pub(crate) may_loop: bool,
}

impl Scripts {
    /// An empty set of scripts.
    pub fn new() -> Scripts {
        Scripts::default()
    }

    /// Adds a script and returns its id.
    ///
    /// `origin` names it in errors: a script file (`scripts/sign.lua`) or the scenario file that
    /// holds inline code (`shop.yaml`). `first_line` is the line of that file where the code starts
    /// (1 for a script file), so errors point at the file's own lines.
    ///
    /// # Errors
    ///
    /// A syntax error, with the file and line it is on.
    pub fn add(
        &mut self,
        origin: &str,
        first_line: u32,
        code: &str,
    ) -> Result<ScriptId, ScriptError> {
        self.errors.add_origin(origin);
        let source = Source::compile(origin, first_line, code, &self.errors)?;
        let id = u32::try_from(self.sources.len()).expect("fewer than 2^32 scripts");
        self.sources.push(source);
        self.may_loop |= may_loop(code);
        Ok(ScriptId(id))
    }

    /// Checks a script's syntax without adding it (for `stampede validate`): the same errors as
    /// [`Scripts::add`].
    ///
    /// # Errors
    ///
    /// A syntax error, with the file and line it is on.
    pub fn check(origin: &str, first_line: u32, code: &str) -> Result<(), ScriptError> {
        let mut errors = ErrorMapper::default();
        errors.add_origin(origin);
        Source::compile(origin, first_line, code, &errors).map(drop)
    }

    /// How many scripts were added.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether no script was added.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The origin (file) a script was added with.
    ///
    /// # Panics
    ///
    /// If `id` comes from another [`Scripts`] with more scripts.
    pub fn origin(&self, id: ScriptId) -> &str {
        &self.sources[id.index()].origin
    }
}

impl Source {
    /// Compiles `code` in a bare interpreter: a syntax error, or the chunk's bytecode.
    ///
    /// The code is preceded by `first_line - 1` newlines so that Lua's line numbers, in errors and
    /// tracebacks alike, are the lines of the file the user edits.
    fn compile(
        origin: &str,
        first_line: u32,
        code: &str,
        errors: &ErrorMapper,
    ) -> Result<Source, ScriptError> {
        let offset = first_line.max(1) as usize - 1;
        let mut text = String::with_capacity(offset + code.len());
        text.extend(std::iter::repeat_n('\n', offset));
        text.push_str(code);
        // A NUL cannot be in a chunk name: such an origin would be a bug upstream; keep it readable.
        let chunk_name = format!("={}", origin.replace('\0', "?"));
        let bytecode = compile(&chunk_name, &text).map_err(|e| match e {
            Compile::Lua(e) => errors.map(&e, origin),
            Compile::Setup(e) => ScriptError::internal(origin, &e),
        })?;
        Ok(Source {
            origin: origin.to_owned(),
            chunk_name,
            bytecode,
        })
    }
}

/// Whether Lua `code` can run any of its instructions more than once per run: it has a loop
/// (`while`, `repeat`, `for`, `goto`) or defines a function (which could recurse, or be called by
/// `table.sort` or a metamethod any number of times). Without those words a chunk runs straight
/// through: each instruction at most once, plus calls into Rust and into the prelude's few Lua
/// functions, which have no loops either (scripts cannot load code: `load` is not available).
///
/// Words are matched anywhere, in strings and comments too, so a doubt answers yes.
pub(crate) fn may_loop(code: &str) -> bool {
    code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| matches!(word, "while" | "repeat" | "for" | "goto" | "function"))
}

/// Why [`compile`] failed.
pub(crate) enum Compile {
    /// The interpreter could not be created.
    Setup(mlua::Error),
    /// The code does not compile.
    Lua(mlua::Error),
}

/// Compiles Lua source in a bare interpreter and returns its bytecode (with debug info).
pub(crate) fn compile(chunk_name: &str, code: &str) -> Result<Vec<u8>, Compile> {
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::new()).map_err(Compile::Setup)?;
    let function = lua
        .load(code)
        .set_name(chunk_name)
        .set_mode(ChunkMode::Text)
        .into_function()
        .map_err(Compile::Lua)?;
    Ok(function.dump(false))
}

#[cfg(test)]
mod tests {
    use super::may_loop;

    #[test]
    fn code_with_a_loop_or_a_function_may_loop() {
        for code in [
            "while true do end",
            "repeat x = 1 until false",
            "for i = 1, 10 do end",
            "for k, v in pairs(t) do end",
            "::top:: goto top",
            "local f = function() end",
            "local function f() return f() end",
            "vars.x = 1;for i=1,2 do end",
            // Only words count, but wherever they are: a comment or a string is a doubt.
            "-- for each item\nvars.x = 1",
            "vars.x = 'while'",
        ] {
            assert!(may_loop(code), "{code:?}");
        }
    }

    #[test]
    fn straight_code_cannot_loop() {
        for code in [
            "",
            "vars.count = vars.count .. '1'\nif #vars.count > 20 then vars.count = '0' end",
            "local forward, _while, functions, repeated = 1, 2, 3, 4",
            "metrics.counter('for_each', 1)",
            "if response.status ~= 200 then fail('status ' .. response.status) end",
        ] {
            assert!(!may_loop(code), "{code:?}");
        }
    }
}
