//! The scenario loader never panics: whatever the input, `load_str` returns `Ok` or `Err`, every
//! error has a message, every located diagnostic points inside the source, and rendering the
//! diagnostics works too.
//!
//! Inputs: (a) arbitrary bytes, unicode strings and "token soup" made of YAML syntax; (b) YAML
//! documents built from a grammar of the real fields (top level, load, steps, expect, extract,
//! flows...) with plausible and broken values (templates, durations, huge numbers, unicode), deep
//! nesting up to 20 levels, and random mutations of the rendered text.
//!
//! The seed is fixed, so a run is reproducible; a failure is shrunk and kept in
//! `tests/fuzz.proptest-regressions` (the corpus, replayed first on every run).

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{FileFailurePersistence, RngSeed, TestCaseError};
use stampede_scenario::{Overrides, load_str};

#[path = "fuzz/grammar.rs"]
mod grammar;
#[path = "fuzz/tree.rs"]
mod tree;
#[path = "fuzz/values.rs"]
mod values;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(0x5747_4d50_4544_4521),
        // Relative to the package: `cargo test` runs tests from `crates/scenario`.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/fuzz.proptest-regressions",
        ))),
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

/// The last line a diagnostic may point at: YAML line breaks are `\n`, `\r\n` and `\r`, and a
/// position at the very end of the text is on the line after the last break.
fn last_line(source: &str) -> usize {
    let breaks = source.matches('\n').count() + source.matches('\r').count()
        - source.matches("\r\n").count();
    breaks + 1
}

/// Loads `source` and checks what comes back. A panic inside fails the case too.
fn check(source: &str) -> Result<(), TestCaseError> {
    let last = last_line(source);
    let (items, rendered) = match load_str(source, "fuzz.yaml", &Overrides::default()) {
        Ok(loaded) => (loaded.warnings, None),
        Err(d) => {
            prop_assert!(
                d.error_count() > 0,
                "an Err without any error: {:?}",
                d.items
            );
            let rendered = d.render(false);
            let _ = d.to_json();
            (d.items, Some(rendered))
        }
    };
    for item in &items {
        prop_assert!(
            !item.message.trim().is_empty(),
            "a diagnostic without a message: {item:?}"
        );
        if let Some(line) = item.line {
            // Known: a YAML error at the end of a file without a final line break is placed at
            // the start of the line after it (see `end_of_input_errors_are_on_the_last_line`).
            let at_eof = line == last + 1
                && item.column == Some(1)
                && !source.ends_with(['\n', '\r'])
                && item.message.starts_with("invalid YAML");
            prop_assert!(
                (1..=last).contains(&line) || at_eof,
                "line {line} is outside the source (lines 1..={last}): {item:?}"
            );
        }
        if let Some(hint) = &item.hint {
            prop_assert!(!hint.trim().is_empty(), "an empty hint: {item:?}");
        }
    }
    if let Some(rendered) = rendered {
        prop_assert!(!rendered.is_empty());
    }
    Ok(())
}

/// Pieces of YAML syntax and scenario keys, glued at random.
const SOUP: &[&str] = &[
    "target:",
    "load:",
    "scenarios:",
    "steps:",
    "- ",
    "get: /",
    "post:",
    "name:",
    "users: 10",
    "duration: 10s",
    "expect:",
    "extract:",
    "status:",
    "group:",
    "repeat:",
    "for_each:",
    "if:",
    "flow:",
    "flows:",
    "data:",
    "thresholds:",
    "metric:",
    "{{ vu }}",
    "{{",
    "}}",
    ":",
    ": ",
    " ",
    "  ",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "{",
    "}",
    "[",
    "]",
    ",",
    "-",
    "?",
    "&a ",
    "*a",
    "*b",
    "!!str ",
    "!!int ",
    "!env ",
    "|",
    ">",
    "|-",
    "'",
    "\"",
    "#",
    "---",
    "...",
    "%YAML 1.2",
    "é",
    "\u{feff}",
    "\u{202e}",
    "\0",
    "\\",
    "1m30s",
    "10/s",
    "99999999999999999999",
    "-1",
    ".nan",
    "~",
    "true",
    "<<: *a",
];

#[derive(Clone, Debug)]
enum Input {
    Bytes(Vec<u8>),
    Text(String),
    Soup(Vec<&'static str>),
}

impl Input {
    fn source(&self) -> String {
        match self {
            Input::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Input::Text(t) => t.clone(),
            Input::Soup(pieces) => pieces.concat(),
        }
    }
}

fn raw_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400).prop_map(Input::Bytes),
        any::<String>().prop_map(Input::Text),
        prop::collection::vec(select(SOUP), 0..80).prop_map(Input::Soup),
    ]
}

/// Small edits of a rendered document: text that breaks the YAML here and there.
const EDITS: &[&str] = &[
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "\t",
    "&a ",
    "*a",
    "\n  ",
    "\n",
    "#",
    "\"",
    "'",
    "? ",
    "|",
    "!!int ",
    "{{",
    "\r",
    "a: b",
    "!env ",
    "'unclosed",
    "&b ",
];

#[derive(Clone, Debug)]
enum Mutation {
    Insert(Index, &'static str),
    Delete(Index, usize),
    DuplicateLine(Index),
}

fn mutate(text: &str, mutation: &Mutation) -> String {
    let bounds: Vec<usize> = (text.char_indices().map(|(i, _)| i))
        .chain([text.len()])
        .collect();
    let at = |i: &Index| bounds[i.index(bounds.len())];
    match mutation {
        Mutation::Insert(i, piece) => {
            let at = at(i);
            format!("{}{piece}{}", &text[..at], &text[at..])
        }
        Mutation::Delete(i, len) => {
            let start = i.index(bounds.len());
            let end = (start + len).min(bounds.len() - 1);
            format!("{}{}", &text[..bounds[start]], &text[bounds[end]..])
        }
        Mutation::DuplicateLine(i) => {
            let lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                return text.to_owned();
            }
            let n = i.index(lines.len());
            let mut out: Vec<&str> = lines[..=n].to_vec();
            out.extend_from_slice(&lines[n..]);
            out.join("\n")
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), select(EDITS)).prop_map(|(i, s)| Mutation::Insert(i, s)),
        (any::<Index>(), 1usize..12).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<Index>().prop_map(Mutation::DuplicateLine),
    ]
}

/// A generated document, rendered, with up to two mutations.
fn document() -> impl Strategy<Value = String> {
    let mutations = prop::collection::vec(mutation(), 0..=2);
    let mutated = prop::option::weighted(0.2, mutations);
    (grammar::document(), mutated).prop_map(|(tree, mutations)| {
        let mut text = tree::render(&tree);
        for m in mutations.iter().flatten() {
            text = mutate(&text, m);
        }
        text
    })
}

proptest! {
    #![proptest_config(config(1000))]
    #[test]
    fn arbitrary_input_never_panics(input in raw_input()) {
        check(&input.source())?;
    }
}

proptest! {
    #![proptest_config(config(2000))]
    #[test]
    fn grammar_documents_never_panic(source in document()) {
        check(&source)?;
    }
}

/// The grammar does reach the decoder: its documents are YAML, a good share of them fail
/// deep inside the steps, and some load.
#[test]
fn grammar_documents_reach_the_decoder() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::new(config(1));
    let strategy = grammar::document();
    let total = 300;
    let (mut loaded, mut not_yaml, mut in_steps) = (0, 0, 0);
    for _ in 0..total {
        let tree = strategy.new_tree(&mut runner).unwrap().current();
        match load_str(&tree::render(&tree), "fuzz.yaml", &Overrides::default()) {
            Ok(_) => loaded += 1,
            Err(d)
                if d.items
                    .iter()
                    .any(|i| i.message.starts_with("invalid YAML")) =>
            {
                not_yaml += 1;
            }
            Err(d) if d.items.iter().any(|i| i.path.contains("].steps[")) => in_steps += 1,
            Err(_) => {}
        }
    }
    assert!(
        not_yaml * 20 < total,
        "{not_yaml} of {total} are not even YAML"
    );
    assert!(
        in_steps * 4 > total,
        "only {in_steps} of {total} fail inside steps"
    );
    assert!(loaded * 20 > total, "only {loaded} of {total} load");
}

/// Inputs known to be hard on parsers: deep nesting, alias bombs, odd line breaks.
#[test]
fn edge_cases_never_panic() {
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n\
                  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n\
                  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n\
                  f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    let nested_steps = {
        let mut s = String::from(
            "target: http://h\nload: { users: 1, duration: 1s }\nscenarios:\n  - name: a\n    steps:\n",
        );
        for depth in 0..30 {
            let pad = "  ".repeat(3 + 2 * depth);
            s.push_str(&format!("{pad}- group: g{depth}\n{pad}  steps:\n"));
        }
        s.push_str(&format!("{}- get: /\n", "  ".repeat(63)));
        s
    };
    let flow_loop = "target: http://h\nload: { users: 1, duration: 1s }\n\
                     flows: { a: [{ flow: b }], b: [{ flow: a }] }\n\
                     scenarios: [{ name: s, steps: [{ flow: a }] }]\n";
    let cases = [
        String::new(),
        "\0".into(),
        "\u{feff}target: http://h\n".into(),
        "---\n---\n".into(),
        "%YAML 1.2\n---\ntarget: x\n".into(),
        "target: http://h\rload: {}\r\rscenarios: [\r".into(),
        "a: b\r\n\r\n\r\n  c".into(),
        "&a [*a]".into(),
        "*a".into(),
        laughs.into(),
        "[".repeat(100_000),
        "{a: ".repeat(10_000),
        "- ".repeat(10_000),
        format!("{}x", "  - ".repeat(2_000)),
        nested_steps,
        flow_loop.into(),
        format!("target: \"{}\"", "\\u0000".repeat(1000)),
        "scenarios: [{ name: a, steps: [{ get: '/{{ random_string(99999999999) }}' }] }]".into(),
    ];
    for case in &cases {
        if let Err(e) = check(case) {
            panic!(
                "{e}\ninput: {:?}",
                case.chars().take(200).collect::<String>()
            );
        }
    }
}

/// Found by the fuzz grammar, fixed: a syntax error at the end of a file that does not end with a
/// line break used to be reported on the line *after* the last one, column 1 (the parser's
/// end-of-stream position), e.g. `a: [` → line 2 of a 1-line file. It is now the end of the
/// last line.
#[test]
fn end_of_input_errors_are_on_the_last_line() {
    for source in ["{", "a: [", "target: http://h\nload: {"] {
        let d = load_str(source, "eof.yaml", &Overrides::default()).unwrap_err();
        let line = d.items[0].line.unwrap();
        assert!(line <= last_line(source), "{source:?}: line {line}");
    }
}

/// Found by `grammar_documents_never_panic`, fixed: durations near `u64::MAX` seconds used to be
/// accepted, then the load arithmetic overflowed (`Duration` `*` and `Sum`). Durations are now
/// capped at 365 days, so this is a clean error.
#[test]
fn absurd_durations_do_not_panic() {
    let big = "18446744073709551615s";
    let tail = "scenarios: [{ name: a, steps: [{ get: / }] }]\n";
    let cases = [
        // profile.rs:271 (`apply_overrides`): `*every * *count`.
        format!(
            "target: http://h\nload: {{ waves: {{ users: 1, every: {big}, count: 2 }} }}\n{tail}"
        ),
        // profile.rs:261 (`apply_overrides`): the sum of the stage durations.
        format!(
            "target: http://h\nload: {{ stages: [{{ duration: {big}, users: 1 }}, {{ duration: 1s, users: 1 }}] }}\n{tail}"
        ),
        // plan/load_model.rs:78 (`Arrival::duration`, from `profile::open`): the same for rates.
        format!(
            "target: http://h\nload: {{ stages: [{{ duration: {big}, rate: 1 }}, {{ duration: 1s, rate: 1 }}], max_users: 1 }}\n{tail}"
        ),
    ];
    for source in &cases {
        if let Err(e) = check(source) {
            panic!("{e}\ninput: {source}");
        }
    }
}

/// Found by the fuzzer, fixed (`count` is at most 100,000): `waves` are expanded into two stages
/// per wave while loading, so `count: 4294967295` asked for ~200 GB and the
/// allocation failure aborts the process (not a panic: nothing can catch it). Run in a child
/// process so that the abort does not take the other tests with it.
#[test]
fn huge_wave_counts_do_not_abort() {
    const SOURCE: &str = "target: http://h\nload: { waves: { users: 1, every: 1s, count: 4294967295 } }\n\
                          scenarios: [{ name: a, steps: [{ get: / }] }]\n";
    if std::env::var_os("STAMPEDE_FUZZ_CHILD").is_some() {
        let _ = load_str(SOURCE, "waves.yaml", &Overrides::default());
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let status = std::process::Command::new(exe)
        .args([
            "--exact",
            "huge_wave_counts_do_not_abort",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env("STAMPEDE_FUZZ_CHILD", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run the test binary");
    assert!(
        status.success(),
        "loading this killed the process ({status}):\n{SOURCE}"
    );
}
