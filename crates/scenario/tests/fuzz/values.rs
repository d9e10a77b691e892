//! The leaves of the fuzz grammar: durations, rates, counts, templates, paths... each a list of
//! good values and one of broken ones, and the switch between clean and noisy documents.

use proptest::prelude::*;
use proptest::sample::select;
use std::cell::Cell;

use crate::tree::{Tree, quote};

pub type S = BoxedStrategy<Tree>;

thread_local! {
    /// Whether the strategies being built add broken values and stray keys (they are built
    /// twice: clean documents, mostly valid, reach the end of the decoder; noisy ones test
    /// every error path).
    pub static NOISY: Cell<bool> = const { Cell::new(true) };
}

pub fn noisy() -> bool {
    NOISY.with(Cell::get)
}

/// A word as a plain scalar, quoted when plain YAML (block or flow) would read it otherwise.
fn safe(word: &str) -> String {
    let starts_badly = word.starts_with(['#', '&', '*', '!', '|', '>', '%', '@', '`', '\'', '"'])
        || ["- ", "? ", ": "].iter().any(|p| word.starts_with(p))
        || ["-", "?", ":"].contains(&word);
    let breaks_flow = word.contains(['[', ']', '{', '}', ',', '\t'])
        || word.contains(": ")
        || word.contains(" #")
        || word.ends_with([':', ' ']);
    match word.is_empty() || starts_badly || breaks_flow {
        true => quote(word),
        false => word.to_owned(),
    }
}

pub fn plain(words: &'static [&'static str]) -> S {
    select(words).prop_map(|w| Tree::Leaf(safe(w))).boxed()
}

/// Written exactly as given (tags and all).
pub fn raw(words: &'static [&'static str]) -> S {
    select(words).prop_map(|w| Tree::Leaf(w.to_owned())).boxed()
}

pub fn quoted(words: &'static [&'static str]) -> S {
    select(words).prop_map(|w| Tree::Leaf(quote(w))).boxed()
}

/// Written plain or quoted (a quoted number is a string).
pub fn either(words: &'static [&'static str]) -> S {
    (select(words), any::<bool>())
        .prop_map(|(w, q)| Tree::Leaf(if q { quote(w) } else { safe(w) }))
        .boxed()
}

/// Mostly `good` (written plain), sometimes one of `bad` when noisy.
pub fn mix(good: &'static [&'static str], bad: &'static [&'static str]) -> S {
    match noisy() {
        true => prop_oneof![3 => plain(good), 1 => either(bad)].boxed(),
        false => plain(good),
    }
}

pub const DURATIONS: (&[&str], &[&str]) = (
    &["30s", "1m30s", "500ms", "1.5s", "2h", "10s", "1s"],
    // Not `18446744073709551615s` (u64::MAX seconds) while it panics: see `fuzz.rs`,
    // `absurd_durations_do_not_panic`.
    &[
        "0s",
        "0.000000001s",
        "99999999999999999999999h",
        "1000000000000s",
        "30",
        "1m 30s",
        "-1s",
        "1s1s",
        "1e3s",
        ".5s",
        "1.s",
        "30sec",
        "h",
        "1m30",
    ],
);
pub const RATES: (&[&str], &[&str]) = (
    &["10/s", "600/m", "36000/h", "0.5", "2"],
    &[
        "0", "0/s", "1e309", "10/d", "-1/s", ".", "1/0", "2 / s", ".inf",
    ],
);
pub const COUNTS: (&[&str], &[&str]) = (
    &["1", "2", "3", "10"],
    // Not `4294967295` while a wave count that large aborts the process: see `fuzz.rs`,
    // `huge_wave_counts_do_not_abort`.
    &[
        "0",
        "-1",
        "65535",
        "4294967296",
        "9223372036854775807",
        "9223372036854775808",
        "99999999999999999999999",
        "1.5",
        "0x10",
        "0o7",
        "1_000",
        ".nan",
        "-.inf",
        "1e400",
    ],
);
pub const SCALARS: &[&str] = &[
    "true",
    "false",
    "yes",
    "~",
    "null",
    "True",
    "x",
    "é",
    "日本語",
    "🦀",
    "!!str 5",
    "''",
    "\"\"",
    "!!int 12",
];
pub const TEMPLATES: (&[&str], &[&str]) = (
    &[
        "{{ vu }}",
        "{{ iteration }}",
        "{{ uuid }}",
        "{{ random_int(1, 9) }}",
        "{{ token }}",
        "/p/{{ id }}?q={{ vu }}",
        "{{ timestamp_ms }}",
        "{{ env.HOME }}",
        "{{ users }}",
    ],
    &[
        "{{ random_int(9, 1) }}",
        "{{ random_string(99999999999) }}",
        "{{ random_string(-1) }}",
        "{{ random_int(1, 99999999999999999999) }}",
        "{{ env.NOPE_XYZ_42 }}",
        "{{ users.name }}",
        "{{",
        "}}",
        "{{ }}",
        "{{ a b }}",
        "{{ x }}{{ y }}",
        "{{ vu() }}",
        "{{{{",
        "{{ nope }}",
    ],
);
pub const PATHS: (&[&str], &[&str]) = (
    &[
        "/",
        "/products/42",
        "/search?q=shoes",
        "https://cdn.example.com/app.js",
        "http://[::1]:8080/x",
        "/é",
        "HTTPS://H/",
    ],
    &[
        "products",
        "ftp://x/",
        "/a b",
        "//",
        "http://",
        "/a\tb",
        "http://host:99999/",
        "",
    ],
);
pub const TARGETS: (&[&str], &[&str]) = (
    &[
        "http://127.0.0.1:8080",
        "https://shop.example.com/api/v2",
        "http://[::1]:8080",
    ],
    &[
        "localhost:8080",
        "http://host:0",
        "http://host:99999",
        "http://user:pw@host",
        "http://[::1",
        "http://host/?q=1",
        "",
        "http://ho st",
        "http://::1:80",
    ],
);
/// Variables (the good ones are defined in clean documents).
pub const IDENTS: (&[&str], &[&str]) = (
    &["token", "id", "ids", "users", "x", "_a9"],
    &["vu", "env", "9lives", "my-var", "", "é", "nope"],
);
pub const WORDS: &[&str] = &[
    "shared",
    "per_user",
    "per_iteration",
    "pooled",
    "even",
    "poisson",
    "csv",
    "jsonl",
    "xml",
    "sequential",
    "random",
    "unique",
    "user",
    "iteration",
    "stop_user",
    "recycle",
    "fail",
    "continue",
    "passed",
    "failed",
    "auto",
    "1.1",
    "2",
    "3",
];
pub const METRICS: (&[&str], &[&str]) = (
    &[
        "latency.p95",
        "latency.p99.9",
        "latency.p999",
        "latency.mean",
        "error_rate",
        "failure_rate",
        "checks.pass_rate",
        "requests",
    ],
    &[
        "latency.p0",
        "latency.p101",
        "latency.pNaN",
        "dropped_iterations",
        "cpu",
        "rps",
    ],
);
pub const BOUNDS: &[&str] = &[
    "300ms", "1%", "101%", "200", "200/s", "1000", "-1", "abc", "1.5", "0",
];
pub const REGEXES: (&[&str], &[&str]) = (
    &["token=(\\w+)", ".*", "(?P<x>a)", "é+"],
    &["(", "[a-", "a{99999}", "\\"],
);
pub const JSON_PATHS: (&[&str], &[&str]) = (
    &["$.token", "$.items[*].id", "$..a", "$.a[?@.b == 1]"],
    &["$[", "token", ""],
);
pub const SELECTORS: (&[&str], &[&str]) =
    (&["a.link", "input[name=csrf]", "#id"], &["<<<", "div >"]);
pub const HEADERS: (&[&str], &[&str]) = (
    &["Content-Type", "X-Api-Key", "Authorization"],
    &["Bad Name", "é", ""],
);
pub const FILES: &[&str] = &[
    "users.csv",
    "missing.jsonl",
    "u.txt",
    "",
    "data/x.ndjson",
    "u.json",
];
pub const LUA: (&[&str], &[&str]) = (
    &["x = 1", "local a = 1\nreturn a", ""],
    &["syntax error (", "return return"],
);
pub const METHODS: (&[&str], &[&str]) = (
    &["get", "post", "put", "patch", "delete", "head", "options"],
    &["gett", "GET"],
);
pub const NAMES: (&[&str], &[&str]) = (
    &["browse", "login", "a", "checkout", "home", "buyer"],
    &[""],
);

pub fn pair(lists: (&'static [&'static str], &'static [&'static str])) -> S {
    mix(lists.0, lists.1)
}

pub fn duration() -> S {
    pair(DURATIONS)
}
pub fn rate() -> S {
    pair(RATES)
}
pub fn count() -> S {
    pair(COUNTS)
}
pub fn boolean() -> S {
    mix(&["true", "false"], &["yes", "1", "~"])
}
pub fn word() -> S {
    either(WORDS)
}
pub fn name() -> S {
    match noisy() {
        true => prop_oneof![3 => pair(NAMES), 1 => text()].boxed(),
        false => pair(NAMES),
    }
}
pub fn template() -> S {
    match noisy() {
        true => prop_oneof![3 => quoted(TEMPLATES.0), 1 => quoted(TEMPLATES.1)].boxed(),
        false => quoted(TEMPLATES.0),
    }
}
pub fn ident() -> S {
    pair(IDENTS)
}

/// Any string, unicode included, quoted.
pub fn text() -> S {
    prop_oneof![
        template(),
        ".{0,12}".prop_map(|s| Tree::Leaf(quote(&s))),
        raw(SCALARS),
    ]
    .boxed()
}

/// Any scalar.
pub fn scalar() -> S {
    prop_oneof![duration(), rate(), count(), text(), pair(PATHS), word()].boxed()
}

/// Any value: scalars, lists and mappings, a few levels deep, keyed by real field names.
pub fn junk() -> S {
    scalar()
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                (prop::collection::vec(inner.clone(), 0..4), any::<bool>())
                    .prop_map(|(items, f)| Tree::List(items, f)),
                (prop::collection::vec((key(), inner), 0..4), any::<bool>())
                    .prop_map(|(entries, f)| Tree::Map(entries, f)),
            ]
        })
        .boxed()
}

/// Every key the decoder knows, and some it does not.
pub const KEYS: &[&str] = &[
    "version",
    "target",
    "http",
    "load",
    "scenarios",
    "thresholds",
    "variables",
    "environments",
    "flows",
    "setup",
    "teardown",
    "data",
    "users",
    "spawn_rate",
    "duration",
    "stages",
    "waves",
    "arrival_rate",
    "max_users",
    "rate",
    "every",
    "count",
    "name",
    "weight",
    "think_time",
    "steps",
    "get",
    "post",
    "json",
    "body",
    "form",
    "expect",
    "extract",
    "status",
    "group",
    "repeat",
    "for_each",
    "as",
    "if",
    "else",
    "script",
    "counter",
    "trend",
    "gauge",
    "flow",
    "min",
    "max",
    "mean",
    "normal",
    "uniform",
    "metric",
    "file",
    "headers",
    "thinktime",
    "<<",
];

pub fn key() -> BoxedStrategy<String> {
    prop_oneof![
        8 => select(KEYS).prop_map(str::to_owned),
        1 => "[a-z_]{1,10}",
        1 => ".{0,8}",
    ]
    .boxed()
}
