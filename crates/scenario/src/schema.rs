//! A JSON Schema (draft 2020-12) of the scenario format, for editors (yaml-language-server) and
//! CI. Hand-written to follow the decoder: every field it accepts is here, with the shorthand
//! forms as `oneOf`/`anyOf`. The schema never rejects a file the decoder accepts (the tests check
//! every example), but it accepts some files the decoder rejects: cross-field rules (unknown
//! scenario names, `min` above `max`, undefined variables...) are left to `stampede validate`.
//!
//! `schemas/scenario.schema.json` is this schema, checked in (see `tests/schema.rs`).

use serde_json::{Value, json};

mod steps;

use steps::{action, condition, expect, extract, metric_name, request, steps};

/// A number as durations, rates and percentages write it: `30`, `1.5`, `.5`, `2.`.
const NUMBER: &str = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)";
/// Names a variable cannot take: they are built-ins of `{{ }}` templates.
const BUILTINS: [&str; 8] = [
    "vu",
    "iteration",
    "uuid",
    "timestamp",
    "timestamp_ms",
    "random_int",
    "random_string",
    "env",
];
const IDENTIFIER: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

/// The JSON Schema of a scenario file.
///
/// ```
/// let schema = stampede_scenario::scenario_schema();
/// assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
/// assert!(schema["properties"]["scenarios"].is_object());
/// ```
pub fn scenario_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Stampede scenario",
        "description": "A Stampede scenario file: where to send requests (`target`), how many virtual users to run over time (`load`) and what each user does (`scenarios`). Reference: docs/scenario.md.",
        "type": "object",
        "additionalProperties": false,
        "required": ["scenarios"],
        "properties": {
            "version": {
                "description": "Format version; only `1` exists.",
                "const": 1
            },
            "target": d("The base URL all step paths are resolved against: `http://` or `https://`, a host, an optional port and an optional base path (no query, fragment or credentials). Required unless `--target` is given.", r("target")),
            "http": d("Request defaults: timeouts, redirects, cookies, headers, protocol and connections.", r("http")),
            "load": d("Users or arrivals over time, and run-wide limits. Optional when every scenario has its own `load`.", r("load")),
            "scenarios": {
                "description": "The user flows: each virtual user picks one scenario, in proportion to the weights. At least one.",
                "type": "array",
                "minItems": 1,
                "items": r("scenario")
            },
            "thresholds": {
                "description": "Pass/fail criteria on the run's measurements, checked live and at the end (exit code 1 when one fails).",
                "type": "array",
                "items": r("threshold")
            },
            "variables": d("Fixed values every virtual user starts with, used as `{{ name }}` (`{{ env.NAME }}` is allowed in them).", r("variables")),
            "environments": {
                "description": "Named overrides of the target, default headers and variables, chosen with `--env NAME`.",
                "type": "object",
                "additionalProperties": r("environment")
            },
            "flows": {
                "description": "Named lists of steps, used in any list of steps with `- flow: NAME`.",
                "type": "object",
                "additionalProperties": d("A list of steps.", r("steps"))
            },
            "include": {
                "description": "Files of shared named flows (`flows:` only), relative to this file; their flows are used with `- flow: NAME`.",
                "type": "array",
                "items": { "type": "string", "minLength": 1 }
            },
            "setup": d("Steps run once before the load starts.", r("steps")),
            "teardown": d("Steps run once after the load ends.", r("steps")),
            "data": {
                "description": "Named feeders of rows (CSV or JSON-lines files); a row's columns are used as `{{ name.column }}`.",
                "type": "object",
                "propertyNames": { "pattern": IDENTIFIER },
                "additionalProperties": r("feeder")
            }
        },
        "$defs": defs()
    })
}

fn defs() -> Value {
    let mut defs = serde_json::Map::new();
    for (name, schema) in [
        ("duration", duration()),
        ("rate", rate(false)),
        ("size", size()),
        ("scalar", scalar()),
        ("variable_name", variable_name()),
        ("target", target()),
        ("headers", headers()),
        ("http", http()),
        ("load", load(true)),
        ("scenario_load", load(false)),
        ("stage", stage()),
        ("think_time", think_time()),
        ("pace_factor", pace_factor()),
        ("scenario", scenario()),
        ("steps", steps()),
        ("action", action()),
        ("request", request()),
        ("expect", expect()),
        ("extract", extract()),
        ("condition", condition()),
        ("metric_name", metric_name()),
        ("threshold", threshold()),
        ("variables", variables()),
        ("environment", environment()),
        ("feeder", feeder()),
    ] {
        defs.insert(name.to_owned(), schema);
    }
    Value::Object(defs)
}

/// `schema` with a description.
fn d(description: &str, mut schema: Value) -> Value {
    schema["description"] = Value::from(description);
    schema
}

/// A reference to one of the `$defs`.
fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/$defs/{name}") })
}

/// A closed object (unknown fields are errors, as in the decoder).
fn object(properties: Value, required: &[&str]) -> Value {
    let mut schema = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// True when no two of `keys` are present.
fn at_most_one(keys: &[&str]) -> Value {
    let mut pairs = Vec::new();
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            pairs.push(json!({ "required": [a, b] }));
        }
    }
    json!({ "not": { "anyOf": pairs } })
}

/// True when exactly one of `keys` is present (with `at_most_one` semantics for the rest).
fn exactly_one(keys: &[&str]) -> Value {
    let each: Vec<Value> = keys.iter().map(|k| json!({ "required": [k] })).collect();
    json!({ "oneOf": each })
}

/// True when none of `keys` is present.
fn none_of(keys: &[&str]) -> Value {
    let each: Vec<Value> = keys.iter().map(|k| json!({ "required": [k] })).collect();
    json!({ "not": { "anyOf": each } })
}

fn duration() -> Value {
    let n = NUMBER;
    json!({
        "description": "A duration: a number with a unit, `ms`, `s`, `m` or `h`, combined from largest to smallest (`500ms`, `30s`, `1.5s`, `1m30s`, `2h`). A bare number is an error.",
        "type": "string",
        "pattern": format!(r"^\s*(?=[0-9.])(?:{n}h)?(?:{n}m)?(?:{n}s)?(?:{n}ms)?\s*$")
    })
}

/// A rate; `zero` allows `0` (a stage ramping down to nothing).
fn rate(zero: bool) -> Value {
    let number = match zero {
        true => json!({ "type": "number", "minimum": 0 }),
        false => json!({ "type": "number", "exclusiveMinimum": 0 }),
    };
    json!({
        "description": "A rate per time: `10/s`, `600/m`, `36000/h`, `0.5/s`; a bare number means per second.",
        "anyOf": [
            number,
            { "type": "string", "pattern": format!(r"^\s*{NUMBER}\s*(?:/\s*[smh]\s*)?$") }
        ]
    })
}

fn size() -> Value {
    json!({
        "description": "A size in bytes: a whole number with an optional unit, `B`, `KB`, `MB`, `GB` (powers of 1000) or `KiB`, `MiB`, `GiB` (powers of 1024); a bare number is bytes.",
        "anyOf": [
            { "type": "integer", "minimum": 0 },
            { "type": "string", "pattern": r"^\s*[0-9]+\s*(?:[bB]|[kKmMgG][iI]?[bB])?\s*$" }
        ]
    })
}

fn scalar() -> Value {
    json!({
        "description": "A string (numbers and booleans are taken as written).",
        "type": ["string", "number", "boolean"]
    })
}

fn variable_name() -> Value {
    json!({
        "description": "A variable name: letters, digits and `_`, not starting with a digit (`{{ name }}` is accepted too).",
        "type": ["string", "boolean"],
        "pattern": r"^\s*(?:[A-Za-z_][A-Za-z0-9_]*|\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\})\s*$",
        "not": { "enum": BUILTINS }
    })
}

fn target() -> Value {
    json!({
        "description": "An http(s) URL: `http://host:port/base/path`.",
        "type": "string",
        "pattern": "^[hH][tT][tT][pP][sS]?://[^/?#@]*(?:/[^?#]*)?$"
    })
}

fn headers() -> Value {
    json!({
        "description": "Header names mapped to values. Names are HTTP tokens (letters, digits and !#$%&'*+-.^_`|~); values must not contain line breaks and may hold `{{ placeholders }}`.",
        "type": "object",
        "propertyNames": { "pattern": "^[-!#$%&'*+.^_`|~0-9A-Za-z]+$" },
        "additionalProperties": {
            "type": ["string", "number", "boolean"],
            "pattern": "^[^\\r\\n]*$"
        }
    })
}

fn http() -> Value {
    let mut schema = object(
        json!({
            "connect_timeout": d("Time allowed to open a connection (> 0). Default `10s`.", r("duration")),
            "timeout": d("Time allowed for a whole request (> 0); a step's `timeout` overrides it. Default `30s`.", r("duration")),
            "follow_redirects": { "description": "Follow 3xx responses with a `Location`. Default `true`.", "type": "boolean" },
            "max_redirects": { "description": "Redirects followed per request. Default `10`.", "type": "integer", "minimum": 0, "maximum": u32::MAX },
            "cookies": { "description": "Each virtual user keeps its own cookie jar. Default `true`.", "type": "boolean" },
            "headers": d("Sent with every request, before step headers.", r("headers")),
            "http_version": {
                "description": "HTTP version: `\"1.1\"`, `\"2\"` or `auto` (HTTP/2 or HTTP/1.1 by ALPN over TLS, HTTP/1.1 over http://). Default `auto`.",
                "enum": ["1.1", "2", "auto", 1.1, 2]
            },
            "connections": {
                "description": "Who owns connections and how long they live: `per_user` (default), `per_iteration` or `shared` (one pool of `pool_size` per origin).",
                "enum": ["per_user", "per_iteration", "shared"]
            },
            "pool_size": { "description": "Connections per origin of the `shared` pool (only with `connections: shared`). Default `100`.", "type": "integer", "minimum": 1, "maximum": u32::MAX },
            "max_body": d("Bytes of a response body kept for checks that read it; the rest is counted and dropped. Default `10MB`.", r("size")),
            "ca_file": { "description": "PEM file of extra CA certificates to trust (relative to the scenario file).", "type": ["string", "number", "boolean"], "minLength": 1 }
        }),
        &[],
    );
    schema["dependentSchemas"] = json!({
        "pool_size": { "required": ["connections"], "properties": { "connections": { "const": "shared" } } }
    });
    schema
}

/// A `load` section: the file's (`top`, with run-wide limits) or a scenario's own.
fn load(top: bool) -> Value {
    let users = |description: &str, min: u32| json!({ "description": description, "type": "integer", "minimum": min, "maximum": u32::MAX });
    let mut properties = json!({
        "users": users("Number of virtual users (flat closed model).", 1),
        "spawn_rate": d("Users started per second during ramp-up (> 0). Default: all at once.", r("rate")),
        "duration": d("Length of the test, ramp-up included (> 0). With `waves`, optional: the last plateau is held until then.", r("duration")),
        "stages": {
            "description": "A profile of linear ramps: closed-model stages `{ duration, users }` or arrival-rate stages `{ duration, rate }`, never mixed. Not empty.",
            "type": "array",
            "minItems": 1,
            "items": r("stage")
        },
        "waves": {
            "description": "Lock-step waves: `count` waves of `users` each, one every `every`.",
            "type": "object",
            "additionalProperties": false,
            "required": ["users", "every", "count"],
            "properties": {
                "users": users("Users added by each wave.", 1),
                "every": d("Time between waves (> 0).", r("duration")),
                "count": users("Number of waves.", 1)
            }
        },
        "arrival_rate": d("Open model: iterations started per second (`600/m` is 10/s), whatever the target's latency.", r("rate")),
        "max_users": users("Open model: the pool of virtual users never grows beyond this.", 1),
        "pre_allocated_users": users("Open model: users started before the first arrival. Default: min(`max_users`, rate × 1 s).", 0),
        "arrivals": {
            "description": "Open model: `even` (evenly spaced, the default) or `poisson` (exponential gaps).",
            "enum": ["even", "poisson"]
        },
        "jitter_start": {
            "description": "Each virtual user waits a random part of its think time before its first iteration. Default `true`; not with `waves` or the open model.",
            "type": "boolean"
        },
        "graceful_stop": d("How long stopped users may finish their iteration. Default `30s`.", r("duration"))
    });
    if top {
        properties["iterations"] = json!({
            "description": "Iterations started in the whole run, shared by every user; or `{ per_user: N }` (closed model): each user runs N iterations and stops.",
            "oneOf": [
                { "type": "integer", "minimum": 1, "maximum": u32::MAX },
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["per_user"],
                    "properties": {
                        "per_user": users("Iterations each user runs before it stops.", 1)
                    }
                }
            ]
        });
        properties["max_requests"] = users("Requests sent in the whole run.", 1);
    }
    let open = json!({ "anyOf": [
        { "required": ["arrival_rate"] },
        { "required": ["stages"], "properties": { "stages": { "contains": { "type": "object", "required": ["rate"] } } } }
    ]});
    let mut all_of = vec![
        at_most_one(&["stages", "waves", "arrival_rate"]),
        json!({ "dependentSchemas": {
            "stages": none_of(&["users", "spawn_rate", "duration"]),
            "waves": none_of(&["users", "spawn_rate"]),
            "arrival_rate": { "allOf": [none_of(&["users", "spawn_rate"]), { "required": ["duration", "max_users"] }] },
            "users": { "required": ["duration"] },
            "spawn_rate": { "required": ["users", "duration"] },
            "duration": { "anyOf": [{ "required": ["users"] }, { "required": ["waves"] }, { "required": ["arrival_rate"] }] },
            "max_users": open,
            "pre_allocated_users": open,
            "arrivals": open
        }}),
        json!({
            "if": { "required": ["stages"], "properties": { "stages": { "contains": { "type": "object", "required": ["rate"] } } } },
            "then": { "required": ["max_users"] }
        }),
    ];
    if !top {
        all_of.push(json!({ "anyOf": [
            { "required": ["users"] },
            { "required": ["stages"] },
            { "required": ["waves"] },
            { "required": ["arrival_rate"] }
        ]}));
    }
    let mut schema = object(properties, &[]);
    schema["allOf"] = Value::Array(all_of);
    schema
}

fn stage() -> Value {
    let mut schema = object(
        json!({
            "duration": d("Length of the stage; `0s` jumps to the level at once.", r("duration")),
            "users": { "description": "Number of users at the end of the stage.", "type": "integer", "minimum": 0, "maximum": u32::MAX },
            "rate": d("Arrival rate at the end of the stage (`0` ramps down to nothing).", rate(true))
        }),
        &["duration"],
    );
    schema["oneOf"] = exactly_one(&["users", "rate"])["oneOf"].take();
    schema
}

/// The named distributions; `value` is the schema of each parameter but `sigma`.
fn distributions(value: &Value) -> Vec<Value> {
    let sigma = json!({ "description": "Spread of the log-normal (a number ≥ 0).", "type": "number", "minimum": 0 });
    let pair = |a: &str, da: &str, b: &str, db: &str, b_schema: Value| {
        object(
            json!({ a: d(da, value.clone()), b: d(db, b_schema) }),
            &[a, b],
        )
    };
    let uniform = pair(
        "min",
        "Lower bound.",
        "max",
        "Upper bound (≥ `min`).",
        value.clone(),
    );
    let normal = pair(
        "mean",
        "Mean.",
        "stddev",
        "Standard deviation.",
        value.clone(),
    );
    let log_normal = pair("median", "Median.", "sigma", "Spread (≥ 0).", sigma);
    let exponential = object(json!({ "mean": d("Mean.", value.clone()) }), &["mean"]);
    let one = |key: &str, description: &str, schema: Value| {
        object(json!({ key: d(description, schema) }), &[key])
    };
    vec![
        one("constant", "Always this value.", value.clone()),
        one("uniform", "Uniform between `min` and `max`.", uniform),
        one("normal", "Normal (negative draws are drawn again).", normal),
        one(
            "log_normal",
            "`median × e^(sigma · N(0,1))`: mostly short, with a long tail.",
            log_normal,
        ),
        one("exponential", "Exponential (memoryless).", exponential),
    ]
}

fn think_time() -> Value {
    let mut forms = vec![
        d("A fixed pause (`0s`: none).", r("duration")),
        d(
            "A uniform range `{ min, max }`.",
            object(
                json!({
                    "min": d("Shortest pause.", r("duration")),
                    "max": d("Longest pause (≥ `min`).", r("duration"))
                }),
                &["min", "max"],
            ),
        ),
    ];
    forms.extend(distributions(&r("duration")));
    json!({
        "description": "A pause: a duration (`2s`), a range `{ min: 1s, max: 3s }`, or one distribution: `{ constant: 2s }`, `{ uniform: { min, max } }`, `{ normal: { mean, stddev } }`, `{ log_normal: { median, sigma } }`, `{ exponential: { mean } }`.",
        "oneOf": forms
    })
}

fn pace_factor() -> Value {
    let number = json!({ "type": "number", "minimum": 0 });
    let mut forms = vec![d("A constant factor.", number.clone())];
    forms.extend(distributions(&number));
    json!({
        "description": "A number, or a distribution written with plain numbers, e.g. `{ log_normal: { median: 1.0, sigma: 0.3 } }`.",
        "oneOf": forms
    })
}

fn scenario() -> Value {
    let mut schema = object(
        json!({
            "name": { "description": "Unique name, shown in reports.", "type": ["string", "number", "boolean"], "minLength": 1 },
            "weight": { "description": "Relative share of the virtual users. Default `1`.", "type": "integer", "minimum": 0, "maximum": u32::MAX },
            "think_time": d("Pause after each step: a duration, `{ min, max }` or a distribution.", r("think_time")),
            "on_start": d("Steps run once per virtual user before its first iteration (e.g. log in).", r("steps")),
            "steps": {
                "description": "One iteration, repeated until the end. Not empty.",
                "allOf": [r("steps")],
                "minItems": 1
            },
            "on_stop": d("Steps run once per virtual user when it stops.", r("steps")),
            "load": d("The scenario's own load (then `weight` is unused).", r("scenario_load")),
            "start": d("With its own `load`: when the scenario starts. Default `0s`.", r("duration")),
            "pacing": d("Closed model: start an iteration every `pacing` (> 0).", r("duration")),
            "pace_factor": d("Drawn once per user; multiplies its think times.", r("pace_factor"))
        }),
        &["name", "steps"],
    );
    schema["dependentRequired"] = json!({ "start": ["load"] });
    schema
}

fn threshold() -> Value {
    let n = NUMBER;
    let duration = duration()["pattern"].clone();
    let bound = |description: &str| {
        json!({
            "description": description,
            "anyOf": [
                { "type": "number" },
                { "type": "string", "pattern": duration },
                { "type": "string", "pattern": format!(r"^\s*{n}\s*%\s*$") },
                { "type": "string", "pattern": format!(r"^\s*{n}\s*(?:/\s*[smh]\s*)?$") },
                { "type": "string", "pattern": format!(r"^\s*[-+]?{n}(?:[eE][-+]?[0-9]+)?\s*$") }
            ]
        })
    };
    let mut schema = object(
        json!({
            "metric": {
                "description": "What is measured: `latency.p95` (any percentile `latency.pNN`), `latency.mean`, `latency.min`, `latency.max`, `error_rate`, `failure_rate`, `checks.pass_rate`, `rps`, `requests`, `iterations`, `dropped_iterations`, or a custom metric the steps declare: `counter.NAME`, `counter.NAME.rate`, `trend.NAME.p95` (or `.mean`, `.min`, `.max`, `.count`), `gauge.NAME` (or `.min`, `.max`).",
                "type": "string",
                "anyOf": [
                    { "enum": [
                        "latency.p50", "latency.p90", "latency.p95", "latency.p99", "latency.p999",
                        "latency.mean", "latency.min", "latency.max", "error_rate", "failure_rate",
                        "checks.pass_rate", "rps", "requests", "iterations", "dropped_iterations"
                    ] },
                    { "pattern": r"^\s*(?:latency\.(?:p[0-9.]+|mean|min|max)|error_rate|failure_rate|checks\.pass_rate|rps|requests|iterations|dropped_iterations|(?:counter|trend|gauge)\.[A-Za-z0-9_.:-]+)\s*$" }
                ]
            },
            "max": bound("The value must stay at or below it: a duration for latency (`300ms`), a percentage for rates (`1%`), `200/s` for rps, a whole number for counts, a plain number for custom metrics."),
            "min": bound("The value must stay at or above it (same units as `max`)."),
            "scenario": { "description": "Only this scenario's requests (or its dropped iterations).", "type": ["string", "number", "boolean"], "minLength": 1 },
            "request": { "description": "Only the rows with this request name (a step's `name`, else its path).", "type": ["string", "number", "boolean"], "minLength": 1 },
            "window": d("Whole seconds: the bound must hold in every window of this length.", r("duration")),
            "abort": { "description": "Stop the run as soon as the threshold has certainly failed. Default `false`.", "type": "boolean" },
            "delay": d("With `abort`: never abort before this much run time. Default `0s`.", r("duration"))
        }),
        &["metric"],
    );
    schema["oneOf"] = exactly_one(&["max", "min"])["oneOf"].take();
    schema
}

fn variables() -> Value {
    json!({
        "type": "object",
        "propertyNames": { "pattern": IDENTIFIER, "not": { "enum": BUILTINS } },
        "additionalProperties": d("A fixed value (`{{ env.NAME }}` is allowed).", r("scalar"))
    })
}

fn environment() -> Value {
    object(
        json!({
            "target": d("Replaces the file's `target`.", r("target")),
            "headers": d("Added to `http.headers` (replacing those of the same name).", r("headers")),
            "variables": d("Replace or add to the file's `variables`.", r("variables"))
        }),
        &[],
    )
}

fn feeder() -> Value {
    let choice =
        |description: &str, values: &[&str]| json!({ "description": description, "enum": values });
    let mut schema = object(
        json!({
            "file": { "description": "The CSV or JSON-lines file of rows, relative to the scenario file.", "type": ["string", "number", "boolean"], "minLength": 1 },
            "format": choice("`csv` or `jsonl`. Default: from the file's extension (`.csv`, `.jsonl`, `.ndjson`).", &["csv", "jsonl"]),
            "strategy": choice("How rows are handed out: `sequential` (the default), `random` or `unique` (each row to one user at most).", &["sequential", "random", "unique"]),
            "each": choice("A new row every `iteration` or once per `user`. Default: `user` for `unique`, else `iteration`.", &["user", "iteration"]),
            "on_exhausted": choice("When rows run out: `stop_user`, `recycle` or `fail`. Default: `stop_user` for `unique`, else `recycle`. Not with `random`.", &["stop_user", "recycle", "fail"])
        }),
        &["file"],
    );
    schema["allOf"] = json!([
        {
            "if": { "required": ["strategy"], "properties": { "strategy": { "const": "random" } } },
            "then": none_of(&["on_exhausted"])
        },
        { "anyOf": [
            { "required": ["format"] },
            { "properties": { "file": { "type": "string", "pattern": r"\.(?:[cC][sS][vV]|[jJ][sS][oO][nN][lL]|[nN][dD][jJ][sS][oO][nN])(?:/\.?)*$" } } }
        ]}
    ]);
    schema
}
