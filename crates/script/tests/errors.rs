//! Errors: where they point, the sandbox, the instruction budget and the memory limit.

mod common;

use std::sync::Arc;

use common::{TestHost, run_err};
use stampede_script::{Limits, ScriptError, Scripts, Vm};

#[test]
fn syntax_errors_point_at_the_scenario_file_line() {
    // Inline code starting on line 12 of shop.yaml, broken on its 3rd line.
    let code = "local a = 1\nlocal b = 2\nlocal c = = 3\n";
    let err = Scripts::new().add("shop.yaml", 12, code).unwrap_err();
    assert_eq!(err.origin, "shop.yaml");
    assert_eq!(err.line, Some(14), "{err}");
    assert!(err.message.contains("unexpected symbol near '='"), "{err}");
    assert_eq!(err.to_string(), format!("shop.yaml:14: {}", err.message));
    assert_eq!(Scripts::check("shop.yaml", 12, code), Err(err));

    let unclosed = Scripts::check("scripts/sign.lua", 1, "if x then\n  y()\n").unwrap_err();
    assert_eq!(unclosed.line, Some(3), "{unclosed}");
    assert!(
        unclosed
            .message
            .contains("'end' expected (to close 'if' at line 1)"),
        "{unclosed}"
    );
    assert!(Scripts::check("ok.lua", 1, "return 1").is_ok());
}

#[test]
fn runtime_errors_point_at_the_line_in_the_right_file() {
    let mut scripts = Scripts::new();
    let lib = scripts
        .add(
            "scripts/lib.lua",
            1,
            "function explode(x)\n  return x.field\nend",
        )
        .unwrap();
    let inline = scripts
        .add("shop.yaml", 20, "local y = 1\nexplode(nil)")
        .unwrap();
    let thrown = scripts
        .add("shop.yaml", 30, "\n\nerror('custom ' .. 42)")
        .unwrap();
    let callback = scripts
        .add("shop.yaml", 40, "local ok = 1\n\njson.decode('nope')")
        .unwrap();
    let mut vm = Vm::new(Arc::new(scripts), 0).unwrap();
    let mut host = TestHost::default();
    vm.run(lib, &mut host).unwrap();

    let err = vm.run(inline, &mut host).unwrap_err();
    assert_eq!(
        (err.origin.as_str(), err.line),
        ("scripts/lib.lua", Some(2)),
        "innermost frame: {err}"
    );
    assert!(
        err.message
            .contains("attempt to index a nil value (local 'x')"),
        "{err}"
    );

    let err = vm.run(thrown, &mut host).unwrap_err();
    assert_eq!(err.to_string(), "shop.yaml:32: custom 42");

    let err = vm.run(callback, &mut host).unwrap_err();
    assert_eq!(
        (err.origin.as_str(), err.line),
        ("shop.yaml", Some(42)),
        "{err}"
    );
    assert!(
        err.message.starts_with("json.decode: not valid JSON"),
        "{err}"
    );
    assert!(
        !err.message.contains("stack traceback"),
        "no traceback in the message: {err}"
    );
}

#[test]
fn the_vm_stays_usable_after_errors() {
    let mut scripts = Scripts::new();
    let bad = scripts
        .add("a.yaml", 1, "vars.before = 'set'\nerror('boom')")
        .unwrap();
    let good = scripts
        .add("a.yaml", 5, "vars.n = (tonumber(vars.n) or 0) + 1")
        .unwrap();
    let mut vm = Vm::new(Arc::new(scripts), 0).unwrap();
    let mut host = TestHost::default();
    for round in 1..=3 {
        assert_eq!(
            vm.run(bad, &mut host).unwrap_err().to_string(),
            "a.yaml:2: boom"
        );
        vm.run(good, &mut host).unwrap();
        assert_eq!(host.text("n"), Some(round.to_string().as_str()));
    }
    assert_eq!(
        host.text("before"),
        Some("set"),
        "effects before the error stay"
    );
}

#[test]
fn an_endless_loop_exceeds_the_instruction_budget() {
    let mut scripts = Scripts::new();
    let endless = scripts
        .add(
            "loop.yaml",
            7,
            "local i = 0\nwhile true do\n  i = i + 1\nend",
        )
        .unwrap();
    let swallowing = scripts
        .add(
            "loop.yaml",
            20,
            "while true do\n  pcall(function() while true do end end)\nend",
        )
        .unwrap();
    let fine = scripts
        .add(
            "loop.yaml",
            30,
            "local s = 0\nfor i = 1, 1000 do s = s + i end\nvars.s = s",
        )
        .unwrap();
    let limits = Limits {
        instructions: 1_000_000,
        ..Limits::default()
    };
    let mut vm = Vm::with_limits(Arc::new(scripts), 0, limits).unwrap();
    let mut host = TestHost::default();

    let err = vm.run(endless, &mut host).unwrap_err();
    assert_eq!(err.origin, "loop.yaml");
    assert!(matches!(err.line, Some(8..=10)), "{err}");
    assert!(
        err.message
            .starts_with("script exceeded its instruction budget (1000000 instructions)"),
        "{err}"
    );

    let err = vm.run(swallowing, &mut host).unwrap_err();
    assert!(
        err.message.contains("instruction budget"),
        "pcall cannot swallow the budget: {err}"
    );

    // The budget is per run: many runs of a short script never hit it.
    for _ in 0..2000 {
        vm.run(fine, &mut host).unwrap();
    }
    assert_eq!(host.text("s"), Some("500500"));
}

#[test]
fn the_default_budget_is_ten_million_instructions() {
    let err = run_err("while true do end");
    assert!(
        err.message
            .starts_with("script exceeded its instruction budget (10000000 instructions)"),
        "{err}"
    );
    assert_eq!(err.line, Some(1));
}

#[test]
fn the_memory_limit_stops_a_growing_script_and_the_vm_recovers() {
    let mut scripts = Scripts::new();
    let hog = scripts
        .add(
            "mem.lua",
            1,
            "local t = {}\nfor i = 1, 1e8 do t[i] = string.rep('x', 64) .. i end",
        )
        .unwrap();
    let small = scripts
        .add("mem.lua", 1, "vars.ok = string.rep('y', 1000)")
        .unwrap();
    let limits = Limits {
        memory_bytes: 4 << 20,
        instructions: u64::MAX,
    };
    let mut vm = Vm::with_limits(Arc::new(scripts), 0, limits).unwrap();
    let mut host = TestHost::default();
    let err = vm.run(hog, &mut host).unwrap_err();
    assert_eq!(err.origin, "mem.lua");
    assert!(
        err.message
            .contains("script exceeded its memory limit (4 MiB)"),
        "{err}"
    );
    vm.run(small, &mut host).unwrap();
    assert_eq!(host.text("ok").map(str::len), Some(1000));
    assert!(vm.used_memory() < 4 << 20);
}

#[test]
fn the_sandbox_blocks_io_processes_modules_and_loading() {
    let blocked = [
        (
            "io.open('/etc/passwd')",
            "'io' is not available in Stampede scripts (sandbox: no file access)",
        ),
        (
            "os.execute('true')",
            "'os.execute' is not available in Stampede scripts",
        ),
        ("os.getenv('HOME')", "'os.getenv' is not available"),
        ("os.exit(1)", "'os.exit' is not available"),
        (
            "require('socket')",
            "'require' is not available in Stampede scripts (sandbox: no modules)",
        ),
        (
            "load('return 1')",
            "'load' is not available in Stampede scripts (sandbox: no loading of code)",
        ),
        ("dofile('/tmp/x.lua')", "'dofile' is not available"),
        ("loadfile('/tmp/x.lua')", "'loadfile' is not available"),
        ("debug.getinfo(1)", "'debug' is not available"),
        (
            "collectgarbage('stop')",
            "'collectgarbage' is not available",
        ),
        ("package.path = ''", "'package' is not available"),
        (
            "string.dump(print)",
            "attempt to call a nil value (field 'dump')",
        ),
    ];
    for (code, expected) in blocked {
        let err: ScriptError = run_err(&format!("local x = 1\n{code}"));
        assert!(err.message.contains(expected), "{code}: {err}");
        assert_eq!(err.line, Some(2), "{code}: {err}");
    }
    let mut host = TestHost::default();
    let ok = "assert(os.time() > 0 and os.clock() >= 0 and os.date('%Y') ~= nil)\nassert(undefined_global == nil)\n\
              assert(utf8.char(233) == 'é' and math.floor(2.5) == 2 and table.concat({1, 2}) == '12')";
    common::run(ok, &mut host).unwrap();
}

#[test]
fn vm_new_rejects_a_memory_limit_below_the_interpreter_itself() {
    let err = Vm::with_limits(
        Arc::new(Scripts::new()),
        0,
        Limits {
            memory_bytes: 1024,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(err.message.contains("1024"), "{err}");
}

#[test]
fn finalizers_that_touch_vars_outside_a_run_do_not_panic() {
    let mut scripts = Scripts::new();
    // The finalizer runs when the interpreter closes, after every run: no host is reachable then.
    let id = scripts
        .add(
            "gc.lua",
            1,
            "garbage = setmetatable({}, { __gc = function() vars.late = 'x' end })\nvars.ok = 'y'",
        )
        .unwrap();
    let mut host = TestHost::default();
    let mut vm = Vm::new(Arc::new(scripts), 0).unwrap();
    vm.run(id, &mut host).unwrap();
    drop(vm);
    assert_eq!(host.text("ok"), Some("y"));
    assert_eq!(host.text("late"), None);
}

/// The budget is there to stop endless loops: an interpreter whose scripts have no loop and define
/// no function (each instruction runs at most once per run) goes without its per-instruction
/// hook, so even a budget smaller than the script does not stop it.
#[test]
fn the_budget_applies_only_where_a_script_can_loop() {
    let straight: String = (0..40).map(|i| format!("local v{i} = {i}\n")).collect();
    let straight = format!("{straight}vars.done = 'yes'");
    let limits = Limits {
        instructions: 10,
        ..Limits::default()
    };

    let mut scripts = Scripts::new();
    let id = scripts.add("straight.lua", 1, &straight).unwrap();
    let mut vm = Vm::with_limits(Arc::new(scripts), 0, limits).unwrap();
    let mut host = TestHost::default();
    vm.run(id, &mut host).unwrap();
    assert_eq!(host.text("done"), Some("yes"));

    // With a script that loops in the same interpreter, every script is counted.
    let mut scripts = Scripts::new();
    let id = scripts.add("straight.lua", 1, &straight).unwrap();
    scripts.add("loop.lua", 1, "for i = 1, 3 do end").unwrap();
    let mut vm = Vm::with_limits(Arc::new(scripts), 0, limits).unwrap();
    let err = vm.run(id, &mut TestHost::default()).unwrap_err();
    assert!(
        err.message
            .starts_with("script exceeded its instruction budget (10 instructions)"),
        "{err}"
    );
}
