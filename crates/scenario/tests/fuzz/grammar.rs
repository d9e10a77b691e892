//! A grammar of scenario files for the fuzz test: the real fields, nested as the decoder expects
//! them, with plausible and broken values (see `values`).

use proptest::prelude::*;
use proptest::sample::select;

use crate::tree::Tree;
use crate::values::*;

type Entry = BoxedStrategy<Option<(String, Tree)>>;

/// `key: value` present with probability `p`; the value is sometimes junk when noisy.
fn field(key: &'static str, p: f64, value: S) -> Entry {
    let value = match noisy() {
        true => prop_oneof![12 => value, 1 => junk()].boxed(),
        false => value,
    };
    let entry = value.prop_map(move |v| Some((key.to_owned(), v)));
    // In thousandths: `prop::option::weighted` refuses 0 and 1.
    let present = (p * 1000.0).round().clamp(0.0, 1000.0) as u32;
    match present {
        1000 => entry.boxed(),
        0 => Just(None).boxed(),
        w => prop_oneof![w => entry, 1000 - w => Just(None)].boxed(),
    }
}

/// A required field: always there in clean documents.
fn req(key: &'static str, value: S) -> Entry {
    field(key, if noisy() { 0.95 } else { 1.0 }, value)
}

/// A mapping of `entries` in block or flow style, plus now and then a stray key when noisy.
fn object(entries: Vec<Entry>) -> S {
    let stray = match noisy() {
        true => prop::option::weighted(0.1, (key(), junk())).boxed(),
        false => Just(None).boxed(),
    };
    (entries, stray, prop::bool::weighted(0.3))
        .prop_map(|(entries, stray, flow)| {
            let mut all: Vec<(String, Tree)> = entries.into_iter().flatten().collect();
            all.extend(stray);
            Tree::Map(all, flow)
        })
        .boxed()
}

/// A mapping of user-chosen names (headers, variables, feeders...) to `value`.
fn map_of(keys: (&'static [&'static str], &'static [&'static str]), value: S, len: usize) -> S {
    let good = select(keys.0).prop_map(str::to_owned);
    let keys = match noisy() {
        true => prop_oneof![
            6 => good,
            1 => select(keys.1).prop_map(str::to_owned),
            1 => ".{0,6}".boxed(),
        ]
        .boxed(),
        false => good.boxed(),
    };
    (
        prop::collection::vec((keys, value), 0..len),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(entries, flow)| Tree::Map(entries, flow))
        .boxed()
}

fn list(item: S, len: std::ops::Range<usize>) -> S {
    (prop::collection::vec(item, len), prop::bool::weighted(0.2))
        .prop_map(|(items, flow)| Tree::List(items, flow))
        .boxed()
}

/// A one-key mapping (a named form: `{ normal: {...} }`).
fn one_of_keys(keys: &'static [&'static str], value: S) -> S {
    (select(keys), value)
        .prop_map(|(k, v)| Tree::Map(vec![(k.to_owned(), v)], true))
        .boxed()
}

/// One of `forms` (each right), or when noisy any mix of `all`.
fn forms(forms: Vec<S>, all: S) -> S {
    let one = proptest::strategy::Union::new(forms).boxed();
    match noisy() {
        true => prop_oneof![2 => one, 1 => all].boxed(),
        false => one,
    }
}

fn think_time() -> S {
    let range = || object(vec![req("min", duration()), req("max", duration())]);
    prop_oneof![
        3 => duration(),
        2 => range(),
        1 => one_of_keys(&["constant"], duration()),
        1 => one_of_keys(&["uniform"], range()),
        1 => one_of_keys(&["normal"], object(vec![req("mean", duration()), req("stddev", duration())])),
        1 => one_of_keys(&["log_normal"], object(vec![req("median", duration()), req("sigma", plain(&["0.5", "0", "1", "-1"]))])),
        1 => one_of_keys(&["exponential", "gaussian"], object(vec![req("mean", duration())])),
    ]
    .boxed()
}

fn pace_factor() -> S {
    let number = || mix(&["1", "0.5", "1.5"], &["-1", ".nan", "fast"]);
    let two = |a: &'static str, b: &'static str| object(vec![req(a, number()), req(b, number())]);
    prop_oneof![
        2 => number(),
        1 => one_of_keys(&["constant"], number()),
        1 => one_of_keys(&["uniform"], two("min", "max")),
        1 => one_of_keys(&["normal"], two("mean", "stddev")),
        1 => one_of_keys(&["log_normal"], two("median", "sigma")),
    ]
    .boxed()
}

fn headers() -> S {
    map_of(HEADERS, prop_oneof![scalar(), template()].boxed(), 3)
}

fn http() -> S {
    object(vec![
        field("connect_timeout", 0.2, duration()),
        field("timeout", 0.2, duration()),
        field("follow_redirects", 0.2, boolean()),
        field("max_redirects", 0.2, count()),
        field("cookies", 0.2, boolean()),
        field("headers", 0.3, headers()),
        field(
            "http_version",
            0.2,
            mix(&["1.1", "2", "auto"], &["3", "h2"]),
        ),
        field(
            "connections",
            0.2,
            mix(&["per_user", "per_iteration"], &["shared", "pooled"]),
        ),
        field("pool_size", 0.1, count()),
        field(
            "max_body",
            0.2,
            mix(
                &["10MB", "512 KiB", "0"],
                &["1.5MB", "99999999999GB", "10 TB"],
            ),
        ),
        field("ca_file", 0.1, either(FILES)),
    ])
}

fn load(top: bool) -> S {
    let stage = |level: &'static str, value: S| {
        object(vec![req("duration", duration()), req(level, value)])
    };
    let rate_zero = || prop_oneof![3 => rate(), 1 => plain(&["0", "0/s"])].boxed();
    let users_zero = || prop_oneof![3 => count(), 1 => plain(&["0"])].boxed();
    let waves = object(vec![
        req("users", count()),
        req("every", duration()),
        req("count", count()),
    ]);
    let iterations = prop_oneof![count(), object(vec![req("per_user", count())])].boxed();
    let p = if top { 0.15 } else { 0.0 };
    let common = |mut entries: Vec<Entry>| {
        entries.extend([
            field("jitter_start", 0.05, boolean()),
            field("graceful_stop", 0.1, duration()),
            field("iterations", p, iterations.clone()),
            field("max_requests", p, count()),
        ]);
        object(entries)
    };
    let open = || {
        vec![
            req("max_users", count()),
            field("pre_allocated_users", 0.2, count()),
            field("arrivals", 0.2, mix(&["even", "poisson"], &["burst"])),
        ]
    };
    let flat = common(vec![
        req("users", count()),
        field("spawn_rate", 0.3, rate()),
        req("duration", duration()),
    ]);
    let stages = common(vec![field(
        "stages",
        1.0,
        list(stage("users", users_zero()), 1..4),
    )]);
    let rate_stages = {
        let mut entries = open();
        entries.push(field("stages", 1.0, list(stage("rate", rate_zero()), 1..4)));
        common(entries)
    };
    let waves = common(vec![
        field("waves", 1.0, waves),
        field("duration", 0.3, duration()),
    ]);
    let arrival = {
        let mut entries = open();
        entries.push(field("arrival_rate", 1.0, rate()));
        entries.push(req("duration", duration()));
        common(entries)
    };
    let anything = common(vec![
        field("users", 0.5, count()),
        field("spawn_rate", 0.2, rate()),
        field("duration", 0.5, duration()),
        field("stages", 0.2, list(stage("users", rate()), 0..3)),
        field("waves", 0.1, waves_any()),
        field("arrival_rate", 0.2, rate()),
        field("max_users", 0.2, count()),
    ]);
    forms(vec![flat, stages, rate_stages, waves, arrival], anything)
}

fn waves_any() -> S {
    object(vec![
        field("users", 0.7, count()),
        field("every", 0.7, duration()),
        field("count", 0.7, count()),
    ])
}

fn expect() -> S {
    let strings = || prop_oneof![scalar(), list(scalar(), 0..3)].boxed();
    let regexes = || prop_oneof![pair(REGEXES), list(pair(REGEXES), 0..3)].boxed();
    let check =
        |key: &'static str, value: S| object(vec![req("name", name()), field(key, 1.0, value)]);
    let checks = forms(
        vec![
            check("body_contains", strings()),
            check("json_exists", pair(JSON_PATHS)),
            check("header_matches", map_of(HEADERS, pair(REGEXES), 2)),
        ],
        object(vec![
            field("name", 0.7, name()),
            field("body_contains", 0.4, strings()),
            field("json", 0.3, map_of(JSON_PATHS, junk(), 2)),
        ]),
    );
    let status = || mix(&["200", "201", "404"], &["99", "600", "abc"]);
    object(vec![
        field(
            "status",
            0.6,
            prop_oneof![status(), list(status(), 1..3)].boxed(),
        ),
        field("max_duration", 0.2, duration()),
        field("checks", 0.2, list(checks, 0..3)),
        field("body_contains", 0.2, strings()),
        field("body_not_contains", 0.1, strings()),
        field("body_matches", 0.2, regexes()),
        field(
            "json",
            0.2,
            map_of(JSON_PATHS, prop_oneof![scalar(), junk()].boxed(), 3),
        ),
        field(
            "json_exists",
            0.2,
            prop_oneof![pair(JSON_PATHS), list(pair(JSON_PATHS), 0..3)].boxed(),
        ),
        field("headers", 0.1, headers()),
        field("header_matches", 0.1, map_of(HEADERS, pair(REGEXES), 2)),
        field("header_exists", 0.1, strings()),
    ])
}

fn extract() -> S {
    let options = |source: &'static str, value: S, extra: Vec<Entry>| {
        let mut entries = vec![
            field(source, 1.0, value),
            field("all", 0.2, boolean()),
            field("on_failure", 0.2, mix(&["fail", "continue"], &["retry"])),
            field("default", 0.2, scalar()),
        ];
        entries.extend(extra);
        object(entries)
    };
    let long = forms(
        vec![
            options("json", pair(JSON_PATHS), vec![]),
            options(
                "regex",
                pair(REGEXES),
                vec![field("group", 0.5, plain(&["0", "1", "2", "100"]))],
            ),
            options("header", pair(HEADERS), vec![]),
            options("cookie", plain(&["session"]), vec![]),
            options(
                "html",
                pair(SELECTORS),
                vec![field("attribute", 0.5, plain(&["href", "value"]))],
            ),
            options("form_field", plain(&["csrf"]), vec![]),
        ],
        object(vec![
            field("json", 0.4, pair(JSON_PATHS)),
            field("regex", 0.3, pair(REGEXES)),
            field("html", 0.2, pair(SELECTORS)),
            field("group", 0.2, count()),
            field("attribute", 0.1, word()),
        ]),
    );
    map_of(IDENTS, prop_oneof![quoted(JSON_PATHS.0), long].boxed(), 3)
}

fn request() -> S {
    let path = prop_oneof![3 => pair(PATHS), 1 => template()];
    let method = (pair(METHODS), path).prop_map(|(m, p)| match m {
        Tree::Leaf(m) => Some((m.trim_matches('"').to_owned(), p)),
        _ => None,
    });
    let second = match noisy() {
        true => {
            prop::option::weighted(0.05, pair(PATHS).prop_map(|p| ("post".to_owned(), p))).boxed()
        }
        false => Just(None).boxed(),
    };
    object(vec![
        method.boxed(),
        field("name", 0.3, name()),
        field("headers", 0.1, headers()),
        field("json", 0.15, junk()),
        field("body", 0.1, prop_oneof![scalar(), template()].boxed()),
        field("form", 0.1, map_of(IDENTS, scalar(), 3)),
        field("expect", 0.3, expect()),
        field("timeout", 0.1, duration()),
        field("think_time", 0.1, think_time()),
        field("extract", 0.2, extract()),
        field(
            "resources",
            0.05,
            prop_oneof![boolean(), object(vec![field("concurrency", 0.9, count())])].boxed(),
        ),
        second,
    ])
}

/// The leaves of a list of steps: requests, scripts, metrics and flow references.
fn simple_action() -> S {
    let metric = |key: &'static str| {
        let long = object(vec![
            req(
                "name",
                mix(&["carts", "cart_size", "x:y"], &["bad name", ""]),
            ),
            req(
                "value",
                prop_oneof![plain(&["1", "2.5"]), template()].boxed(),
            ),
        ]);
        let short = mix(&["carts", "a.b"], &[""]);
        let value = match (noisy(), key) {
            (false, "trend" | "gauge") => long,
            _ => prop_oneof![short, long].boxed(),
        };
        object(vec![field(key, 1.0, value)])
    };
    let script = object(vec![
        field(
            "script",
            1.0,
            prop_oneof![
                3 => pair(LUA).prop_map(|c| match c {
                    Tree::Leaf(c) => Tree::Block(c.trim_matches('"').replace("\\n", "\n")),
                    other => other,
                }),
                1 => object(vec![field("file", 0.9, either(&["missing.lua", ""]))]),
            ]
            .boxed(),
        ),
        field("sets", 0.3, list(ident(), 0..3)),
        field("name", 0.2, name()),
    ]);
    let flow_ref = object(vec![field("flow", 1.0, pair(NAMES))]);
    let mut kinds = vec![
        (12, request()),
        (1, script),
        (1, metric("counter")),
        (1, metric("trend")),
    ];
    kinds.push((1, metric("gauge")));
    if noisy() {
        kinds.push((2, flow_ref));
        kinds.push((1, junk()));
    }
    proptest::strategy::Union::new_weighted(kinds).boxed()
}

/// A list of steps nesting groups, loops and conditions `depth` levels deep.
fn actions(depth: usize) -> S {
    let len = || if noisy() { 0..4 } else { 1..4 };
    let mut level = list(simple_action(), len());
    for _ in 0..depth {
        let inner = level.clone();
        let condition = prop_oneof![
            ident(),
            object(vec![
                req("var", ident()),
                field("equals", 0.3, scalar()),
                field("matches", 0.2, pair(REGEXES)),
                field("exists", 0.2, boolean()),
            ]),
            object(vec![req("last_check", mix(&["passed", "failed"], &["ok"]))]),
        ]
        .boxed();
        let nested = prop_oneof![
            object(vec![
                field("group", 1.0, name()),
                req("steps", inner.clone()),
                field("think_time", 0.1, think_time())
            ]),
            object(vec![
                field("repeat", 1.0, count()),
                req("steps", inner.clone())
            ]),
            object(vec![
                field("for_each", 1.0, ident()),
                field("as", 0.9, ident()),
                req("steps", inner.clone())
            ]),
            object(vec![
                field("if", 1.0, condition),
                req("steps", inner.clone()),
                field("else", 0.3, inner)
            ]),
        ];
        level = list(
            prop_oneof![3 => simple_action(), 1 => nested].boxed(),
            len(),
        );
    }
    level
}

/// Steps nested `1..=20` levels deep in one chain (beyond the decoder's limit of 16).
fn deep_chain() -> S {
    let kinds = prop::collection::vec(0..4u8, 1..=20);
    (kinds, request())
        .prop_map(|(kinds, leaf)| {
            let mut steps = Tree::List(vec![leaf], false);
            for (i, kind) in kinds.into_iter().enumerate() {
                let (key, value) = match kind {
                    0 => ("group", Tree::Leaf(format!("g{i}"))),
                    1 => ("repeat", Tree::Leaf("2".into())),
                    2 => ("if", Tree::Leaf("token".into())),
                    _ => ("for_each", Tree::Leaf("ids".into())),
                };
                let mut entries = vec![(key.to_owned(), value), ("steps".to_owned(), steps)];
                if key == "for_each" {
                    entries.insert(1, ("as".to_owned(), Tree::Leaf("id".into())));
                }
                steps = Tree::List(vec![Tree::Map(entries, false)], false);
            }
            steps
        })
        .boxed()
}

fn steps() -> S {
    prop_oneof![6 => actions(2), 1 => deep_chain()].boxed()
}

fn scenario() -> S {
    object(vec![
        req("name", name()),
        field("weight", 0.3, count()),
        field("think_time", 0.3, think_time()),
        field("on_start", 0.15, actions(1)),
        req("steps", steps()),
        field("on_stop", 0.1, actions(1)),
        field("load", 0.15, load(false)),
        field("start", 0.1, duration()),
        field("pacing", 0.1, duration()),
        field("pace_factor", 0.1, pace_factor()),
    ])
}

fn threshold() -> S {
    let good =
        |metric: &'static [&'static str], key: &'static str, bound: &'static [&'static str]| {
            object(vec![
                field("metric", 1.0, plain(metric)),
                field(key, 1.0, plain(bound)),
                field("window", 0.2, plain(&["1s", "2s"])),
                field("abort", 0.2, boolean()),
                field("delay", 0.2, duration()),
            ])
        };
    forms(
        vec![
            good(
                &["latency.p95", "latency.p99.9", "latency.max"],
                "max",
                &["300ms", "1s"],
            ),
            good(&["error_rate", "failure_rate"], "max", &["1%", "5%"]),
            good(&["checks.pass_rate"], "min", &["99.5%"]),
            good(&["requests", "iterations"], "min", &["1", "1000"]),
            good(&["rps"], "min", &["200", "200/s"]),
        ],
        object(vec![
            field("metric", 0.9, pair(METRICS)),
            field("max", 0.6, either(BOUNDS)),
            field("min", 0.3, either(BOUNDS)),
            field("scenario", 0.2, name()),
            field("request", 0.2, pair(PATHS)),
            field("window", 0.2, duration()),
            field("abort", 0.2, boolean()),
            field("delay", 0.2, duration()),
        ]),
    )
}

fn feeder() -> S {
    object(vec![
        field("file", 0.9, either(FILES)),
        field("format", 0.3, word()),
        field("strategy", 0.3, word()),
        field("each", 0.2, word()),
        field("on_exhausted", 0.2, word()),
    ])
}

/// A whole file: half of them clean (mostly valid), half noisy.
pub fn document() -> impl Strategy<Value = Tree> {
    let build = |noisy: bool| {
        NOISY.with(|n| n.set(noisy));
        let file = file();
        NOISY.with(|n| n.set(true));
        file
    };
    prop_oneof![build(false), build(true)]
}

fn file() -> S {
    // Clean files define every good variable name, so that templates and loops find them.
    let defined = Tree::Map(
        IDENTS
            .0
            .iter()
            .map(|n| ((*n).to_owned(), Tree::Leaf("v".into())))
            .collect(),
        true,
    );
    let variables = match noisy() {
        true => map_of(IDENTS, prop_oneof![scalar(), template()].boxed(), 3),
        false => Just(defined).boxed(),
    };
    let environment = object(vec![
        field("target", 0.5, pair(TARGETS)),
        field("headers", 0.3, headers()),
        field("variables", 0.3, variables.clone()),
    ]);
    let (p_variables, p_data, p_flows) = if noisy() {
        (0.2, 0.1, 0.2)
    } else {
        (1.0, 0.0, 0.0)
    };
    object(vec![
        field("version", 0.3, mix(&["1"], &["2", "0", "-1"])),
        req("target", pair(TARGETS)),
        field("http", 0.2, http()),
        field("load", 0.9, load(true)),
        req("scenarios", list(scenario(), 1..3)),
        field("thresholds", 0.15, list(threshold(), 0..3)),
        field("variables", p_variables, variables),
        field("environments", 0.1, map_of(NAMES, environment, 2)),
        field("flows", p_flows, map_of(NAMES, actions(1), 3)),
        field("setup", 0.1, actions(1)),
        field("teardown", 0.1, actions(1)),
        field("data", p_data, map_of(IDENTS, feeder(), 2)),
    ])
}
