//! One VU's interpreter: the sandbox, the instruction budget and the host calls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use mlua::chunk::ChunkMode;
use mlua::debug::Debug;
use mlua::{
    Error, Function, HookTriggers, Lua, LuaOptions, LuaString, StdLib, Table, Value as LuaValue,
    Variadic, VmState,
};

use crate::error::ScriptError;
use crate::helpers::{self, Rng};
use crate::scripts::{self, Compile, ScriptId, Scripts};
use crate::{Host, host};

/// The Lua code that builds the sandbox and the API (see the crate docs).
const PRELUDE: &str = include_str!("prelude.lua");
/// The prelude's chunk name (it never matches a script origin).
const PRELUDE_NAME: &str = "=[stampede]";

/// The resource limits of one interpreter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Lua instructions one run of a script may execute (counted in steps of up to 10,000).
    pub instructions: u64,
    /// Bytes the interpreter may hold, its globals and compiled scripts included.
    pub memory_bytes: usize,
}

impl Default for Limits {
    /// 10,000,000 instructions per run and 16 MiB per VU.
    fn default() -> Limits {
        Limits {
            instructions: 10_000_000,
            memory_bytes: 16 << 20,
        }
    }
}

/// Counts instructions in ticks of `tick` instructions (one hook call each).
#[derive(Debug)]
struct Budget {
    ticks: AtomicU64,
    max_ticks: u64,
    tick: u32,
    instructions: u64,
}

impl Budget {
    fn new(instructions: u64) -> Budget {
        let tick = instructions.clamp(1, 10_000) as u32;
        Budget {
            ticks: AtomicU64::new(0),
            max_ticks: instructions / u64::from(tick),
            tick,
            instructions,
        }
    }

    fn reset(&self) {
        self.ticks.store(0, Ordering::Relaxed);
    }

    /// The hook: `debug` is the running function, so the error can say where it stopped (hook
    /// errors carry no traceback).
    fn tick(&self, debug: &Debug<'_>) -> mlua::Result<VmState> {
        let used = self.ticks.fetch_add(1, Ordering::Relaxed) + 1;
        if used <= self.max_ticks {
            return Ok(VmState::Continue);
        }
        let err = self.exceeded();
        match (debug.source().short_src, debug.current_line()) {
            (Some(src), Some(line)) => {
                Err(Error::runtime(format!("{src}:{line}: {}", message(&err))))
            }
            _ => Err(err),
        }
    }

    fn check(&self) -> mlua::Result<()> {
        if self.ticks.load(Ordering::Relaxed) > self.max_ticks {
            Err(self.exceeded())
        } else {
            Ok(())
        }
    }

    fn exceeded(&self) -> Error {
        Error::runtime(format!(
            "script exceeded its instruction budget ({} instructions): is there an endless loop?",
            self.instructions
        ))
    }
}

/// One VU's Lua interpreter.
///
/// Created by the VU on its first script step, so that only scenarios with scripts pay for it
/// (about 35 KB; see the crate's benchmark). `Send`: a VU future holding it can move between the
/// runtime's threads; it is used by one task at a time.
pub struct Vm {
    lua: Lua,
    scripts: Arc<Scripts>,
    /// Compiled chunks, by script index, compiled on first use.
    chunks: Vec<Option<Function>>,
    /// The prelude's runner: `runner(chunk, has_response, fresh)` (`fresh`: forget the kept
    /// `vars` values first).
    runner: Function,
    budget: Arc<Budget>,
    memory_message: String,
    /// The host's [`Host::vars_version`] at the end of the last run: while it is unchanged, the
    /// values the prelude keeps for `vars` reads are the host's.
    vars_seen: Option<u64>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("scripts", &self.scripts.len())
            .field("used_memory", &self.used_memory())
            .finish()
    }
}

impl Vm {
    /// An interpreter for `scripts` with the default [`Limits`]; `seed` seeds `uuid()`,
    /// `random_int()` and `math.random` (derive it from the run seed and the VU number).
    ///
    /// # Errors
    ///
    /// Only if the interpreter cannot be set up (out of memory).
    pub fn new(scripts: Arc<Scripts>, seed: u64) -> Result<Vm, ScriptError> {
        Vm::with_limits(scripts, seed, Limits::default())
    }

    /// An interpreter with explicit limits.
    ///
    /// # Errors
    ///
    /// Only if the interpreter cannot be set up (out of memory, or a memory limit too small to
    /// hold the interpreter itself).
    pub fn with_limits(
        scripts: Arc<Scripts>,
        seed: u64,
        limits: Limits,
    ) -> Result<Vm, ScriptError> {
        let internal = |e: Error| ScriptError::internal("[stampede]", &e);
        let libs = StdLib::STRING | StdLib::TABLE | StdLib::MATH | StdLib::UTF8 | StdLib::OS;
        let lua = Lua::new_with(libs, LuaOptions::new()).map_err(internal)?;
        helpers::install(&lua, Arc::new(Rng::new(seed))).map_err(internal)?;

        let budget = Arc::new(Budget::new(limits.instructions));
        let check = {
            let budget = budget.clone();
            lua.create_function(move |_, ()| budget.check())
                .map_err(internal)?
        };
        let print = lua.create_function(print).map_err(internal)?;
        let host = host::functions(&lua).map_err(internal)?;
        let runner: Function = lua
            .load(prelude_bytecode()?)
            .set_name(PRELUDE_NAME)
            .set_mode(ChunkMode::Binary)
            .call((host, check, print))
            .map_err(internal)?;
        let math: Table = lua.globals().raw_get("math").map_err(internal)?;
        let randomseed: Function = math.raw_get("randomseed").map_err(internal)?;
        randomseed.call::<()>(seed as i64).map_err(internal)?;

        // Lua 5.4 runs a count hook's bookkeeping on every instruction (~1,000 instructions per
        // run of a small script): interpreters whose scripts cannot loop go without it.
        if scripts.may_loop {
            let hook_budget = budget.clone();
            lua.set_global_hook(
                HookTriggers::new().every_nth_instruction(budget.tick),
                move |_, debug| hook_budget.tick(debug),
            )
            .map_err(internal)?;
        }
        lua.set_memory_limit(limits.memory_bytes)
            .map_err(internal)?;
        if lua.used_memory() > limits.memory_bytes {
            return Err(ScriptError {
                origin: "[stampede]".into(),
                line: None,
                message: format!(
                    "a memory limit of {} bytes cannot hold the interpreter itself",
                    limits.memory_bytes
                ),
            });
        }
        let memory_message = format!(
            "script exceeded its memory limit ({})",
            mib(limits.memory_bytes)
        );
        let chunks = vec![None; scripts.len()];
        Ok(Vm {
            lua,
            scripts,
            chunks,
            runner,
            budget,
            memory_message,
            vars_seen: None,
        })
    }

    /// Runs script `id` against `host`.
    ///
    /// # Errors
    ///
    /// A runtime error of the script, exceeding the instruction budget or the memory limit, with
    /// the file and line it happened on. The interpreter stays usable afterwards.
    ///
    /// # Panics
    ///
    /// If `id` was not returned by this VM's [`Scripts`].
    pub fn run(&mut self, id: ScriptId, host: &mut dyn Host) -> Result<(), ScriptError> {
        let chunk = self.chunk(id)?;
        self.budget.reset();
        let has_response = host.response().is_some();
        let version = host.vars_version();
        let fresh = version.is_none() || version != self.vars_seen;
        let result = host::with_host_set(host, || {
            self.runner.call::<()>((chunk, has_response, fresh))
        });
        // A run stopped by an error may have left a value unkept or stale (between the host call
        // and the prelude's bookkeeping): the next run starts afresh.
        self.vars_seen = if result.is_ok() {
            host.vars_version()
        } else {
            None
        };
        result.map_err(|e| self.error(&e, id))
    }

    /// Bytes the interpreter holds now.
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// The compiled chunk of script `id`, compiling it on first use.
    fn chunk(&mut self, id: ScriptId) -> Result<Function, ScriptError> {
        if let Some(Some(chunk)) = self.chunks.get(id.index()) {
            return Ok(chunk.clone());
        }
        let source = self
            .scripts
            .sources
            .get(id.index())
            .expect("a ScriptId from this VM's Scripts");
        let chunk = self
            .lua
            .load(source.bytecode.as_slice())
            .set_name(source.chunk_name.as_str())
            .set_mode(ChunkMode::Binary)
            .into_function()
            .map_err(|e| self.error(&e, id))?;
        self.chunks[id.index()] = Some(chunk.clone());
        Ok(chunk)
    }

    fn error(&self, err: &Error, id: ScriptId) -> ScriptError {
        self.scripts
            .errors
            .map_with(err, self.scripts.origin(id), Some(&self.memory_message))
    }
}

/// The prelude, compiled once per process (parsing it took half the time of `Vm::new`).
fn prelude_bytecode() -> Result<&'static [u8], ScriptError> {
    static BYTECODE: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(bytecode) = BYTECODE.get() {
        return Ok(bytecode);
    }
    let bytecode = scripts::compile(PRELUDE_NAME, PRELUDE).map_err(|e| match e {
        Compile::Setup(e) | Compile::Lua(e) => ScriptError::internal("[stampede]", &e),
    })?;
    Ok(BYTECODE.get_or_init(|| bytecode))
}

fn mib(bytes: usize) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// `print(...)`: the arguments, tab-separated, on standard error after the caller's file and line.
fn print(lua: &Lua, args: Variadic<LuaValue>) -> mlua::Result<()> {
    let mut line = lua
        .inspect_stack(1, |d| {
            let src = d
                .source()
                .short_src
                .map(|s| s.into_owned())
                .unwrap_or_default();
            format!("{src}:{}:", d.current_line().unwrap_or(0))
        })
        .unwrap_or_default();
    let tostring: Function = lua.globals().raw_get("tostring")?;
    for (i, arg) in args.iter().enumerate() {
        line.push(if i == 0 { ' ' } else { '\t' });
        line.push_str(&tostring.call::<LuaString>(arg)?.to_string_lossy());
    }
    eprintln!("{line}");
    Ok(())
}

/// An error's text without mlua's "runtime error: " prefix.
fn message(e: &Error) -> String {
    match e {
        Error::RuntimeError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// `Vm` must stay `Send`: VU futures hold it across awaits on a multi-threaded runtime.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Vm>();
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scripts>();
};
