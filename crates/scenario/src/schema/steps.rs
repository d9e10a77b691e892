//! The schema of steps: requests (with `expect` and `extract`), groups, loops, conditions,
//! scripts, custom metrics and flow references.

use serde_json::{Value, json};

use super::{BUILTINS, IDENTIFIER, METHODS, at_most_one, d, exactly_one, object, r};

pub(super) fn steps() -> Value {
    json!({
        "description": "A list of steps: requests, `group`, `repeat`, `for_each`, `if`, `script`, `counter`/`trend`/`gauge` and `flow`.",
        "type": "array",
        "items": r("action")
    })
}

pub(super) fn action() -> Value {
    let steps = || {
        d(
            "The steps inside. Not empty.",
            json!({ "allOf": [r("steps")], "minItems": 1 }),
        )
    };
    let metric = |kind: &str, value_required: bool| {
        let mut value = json!({
            "description": "The value recorded: a number, or a `{{ placeholder }}` holding one.",
            "type": ["number", "string"]
        });
        if !value_required {
            value["description"] =
                json!("The amount added: a number or a `{{ placeholder }}`. Default `1`.");
        }
        let required: &[&str] = if value_required {
            &["name", "value"]
        } else {
            &["name"]
        };
        let mut long = object(
            json!({ "name": d("The metric's name.", r("metric_name")), "value": value }),
            required,
        );
        long["description"] = json!(format!("A {kind} with its value."));
        match value_required {
            true => long,
            false => json!({ "oneOf": [d("A counter name (adds 1).", r("metric_name")), long] }),
        }
    };
    let counter = d("Adds to a custom counter metric.", metric("counter", false));
    let trend = d(
        "Records a value in a custom trend metric (percentiles).",
        metric("trend", true),
    );
    let gauge = d("Sets a custom gauge metric.", metric("gauge", true));
    let kinds = [
        ("A request.", r("request")),
        (
            "A named group of steps, measured as one.",
            object(
                json!({
                    "group": { "description": "The group's name.", "type": ["string", "number", "boolean"], "minLength": 1 },
                    "steps": steps(),
                    "think_time": d("Pause after the group.", r("think_time"))
                }),
                &["group", "steps"],
            ),
        ),
        (
            "Steps repeated a number of times.",
            object(
                json!({
                    "repeat": { "description": "How many times.", "type": "integer", "minimum": 1, "maximum": u32::MAX },
                    "steps": steps()
                }),
                &["repeat", "steps"],
            ),
        ),
        (
            "Steps run for each item of a list variable.",
            object(
                json!({
                    "for_each": d("The list variable.", r("variable_name")),
                    "as": d("The variable that holds each item.", r("variable_name")),
                    "steps": steps()
                }),
                &["for_each", "as", "steps"],
            ),
        ),
        (
            "Steps run when a condition holds.",
            object(
                json!({
                    "if": d("The condition: a variable name, `{ var, ... }` or `{ last_check: ... }`.", r("condition")),
                    "steps": steps(),
                    "else": d("Steps run when the condition does not hold.", r("steps"))
                }),
                &["if", "steps"],
            ),
        ),
        (
            "A Lua script.",
            object(
                json!({
                    "script": {
                        "description": "Lua code, or `{ file: path }` (relative to the scenario file).",
                        "oneOf": [
                            { "type": "string" },
                            object(json!({ "file": { "description": "The Lua file, relative to the scenario file.", "type": ["string", "number", "boolean"] } }), &["file"])
                        ]
                    },
                    "sets": { "description": "Variables the script sets.", "type": "array", "items": r("variable_name") },
                    "name": { "description": "Statistics row name. Default: `script FILE:LINE`.", "type": ["string", "number", "boolean"], "minLength": 1 }
                }),
                &["script"],
            ),
        ),
        (
            "A custom counter.",
            object(json!({ "counter": counter }), &["counter"]),
        ),
        (
            "A custom trend.",
            object(json!({ "trend": trend }), &["trend"]),
        ),
        (
            "A custom gauge.",
            object(json!({ "gauge": gauge }), &["gauge"]),
        ),
        (
            "The steps of a named flow (`flows`), inlined.",
            object(
                json!({
                    "flow": { "description": "The name of a flow under `flows`.", "type": ["string", "number", "boolean"] }
                }),
                &["flow"],
            ),
        ),
    ];
    let forms: Vec<Value> = kinds
        .into_iter()
        .map(|(text, schema)| d(text, schema))
        .collect();
    json!({
        "description": "A step: a request (`get: /path`...), `group`, `repeat`, `for_each`, `if`, `script`, `counter`, `trend`, `gauge` or `flow`.",
        "oneOf": forms
    })
}

pub(super) fn request() -> Value {
    let mut properties = serde_json::Map::new();
    for method in METHODS {
        let description = format!(
            "{}: a path starting with `/` (may hold a query and `{{{{ placeholders }}}}`) or an absolute http(s) URL.",
            method.to_ascii_uppercase()
        );
        properties.insert(
            method.to_owned(),
            json!({
                "description": description,
                "type": "string",
                "pattern": r"^(?:/|\{\{|[hH][tT][tT][pP][sS]?://)"
            }),
        );
    }
    let rest = json!({
        "name": { "description": "Statistics row name. Default: the path as written.", "type": ["string", "number", "boolean"], "minLength": 1 },
        "headers": d("Sent after the `http.headers`; replaces a default of the same name.", r("headers")),
        "json": { "description": "Body, as JSON (any YAML value; mapping order kept), with `Content-Type: application/json`." },
        "body": { "description": "Body, as text, with `Content-Type: text/plain`.", "type": ["string", "number", "boolean"] },
        "form": {
            "description": "Body, URL-encoded form, with `Content-Type: application/x-www-form-urlencoded`.",
            "type": "object",
            "additionalProperties": r("scalar")
        },
        "expect": d("Response checks. Without `status`, any status below 400 is a success.", r("expect")),
        "timeout": d("Request timeout for this step (> 0). Default: `http.timeout`.", r("duration")),
        "think_time": d("Pause after this step (replaces the scenario's).", r("think_time")),
        "extract": d("Values taken from the response into variables.", r("extract")),
        "resources": {
            "description": "Fetch the page's embedded resources: `true` (6 at a time) or `{ concurrency: N }`.",
            "oneOf": [
                { "type": "boolean" },
                object(json!({ "concurrency": { "description": "Resource requests in flight at once. Default `6`.", "type": "integer", "minimum": 1, "maximum": u32::MAX } }), &[])
            ]
        }
    });
    properties.extend(rest.as_object().cloned().unwrap_or_default());
    let mut schema = object(Value::Object(properties), &[]);
    schema["allOf"] = json!([
        exactly_one(&METHODS),
        at_most_one(&["json", "body", "form"])
    ]);
    schema
}

/// The conditions of `expect` (and of each named check).
fn checks() -> Value {
    let strings = |description: &str| {
        json!({
            "description": description,
            "anyOf": [r("scalar"), { "type": "array", "items": r("scalar") }]
        })
    };
    json!({
        "body_contains": strings("The body contains this text (or each of a list)."),
        "body_not_contains": strings("The body does not contain this text (or any of a list)."),
        "body_matches": strings("The body matches this regular expression (or each of a list)."),
        "json": {
            "description": "JSONPath expressions mapped to the value each must equal.",
            "type": "object"
        },
        "json_exists": strings("This JSONPath (or each of a list) finds something in the JSON body."),
        "headers": {
            "description": "Response headers mapped to the value each must equal.",
            "type": "object",
            "additionalProperties": r("scalar")
        },
        "header_matches": {
            "description": "Response headers mapped to a regular expression each must match.",
            "type": "object",
            "additionalProperties": r("scalar")
        },
        "header_exists": strings("This response header (or each of a list) is present.")
    })
}

pub(super) fn expect() -> Value {
    let code = json!({ "type": "integer", "minimum": 100, "maximum": 599 });
    let mut properties = checks();
    let mut named = checks();
    named["name"] = json!({ "description": "The check's name, shown in reports.", "type": ["string", "number", "boolean"] });
    let mut named = object(named, &["name"]);
    named["description"] = json!("A named check: `name` and exactly one condition.");
    named["minProperties"] = json!(2);
    named["maxProperties"] = json!(2);
    properties["status"] = json!({
        "description": "The accepted status code (100–599), or a list of them.",
        "oneOf": [code, { "type": "array", "minItems": 1, "items": code }]
    });
    properties["max_duration"] = d(
        "The response must arrive within this time (> 0).",
        r("duration"),
    );
    properties["checks"] = json!({
        "description": "Named checks, each with one condition.",
        "type": "array",
        "items": named
    });
    object(properties, &[])
}

pub(super) fn extract() -> Value {
    let source = |description: &str| json!({ "description": description, "type": ["string", "number", "boolean"] });
    let mut long = object(
        json!({
            "json": source("A JSONPath into the JSON body."),
            "regex": source("A regular expression on the body; the value is capture `group`."),
            "header": source("A response header's name."),
            "cookie": source("A cookie's name."),
            "html": source("A CSS selector into the HTML body; the value is the element's text, or its `attribute`."),
            "form_field": source("The name of an HTML form field whose value is taken."),
            "group": { "description": "With `regex`: the capture group (0–99). Default `1`.", "type": "integer", "minimum": 0, "maximum": 99 },
            "attribute": { "description": "With `html`: the attribute read instead of the text.", "type": ["string", "number", "boolean"] },
            "all": { "description": "Take every match as a list (for `for_each`). Default `false`.", "type": "boolean" },
            "on_failure": {
                "description": "When nothing is found: `fail` (the request fails and the iteration stops, the default) or `continue` (the variable stays unset).",
                "enum": ["fail", "continue"]
            },
            "default": { "description": "The value used when nothing is found.", "type": ["string", "number", "boolean"] }
        }),
        &[],
    );
    long["description"] = json!("An extraction with exactly one source.");
    long["oneOf"] =
        exactly_one(&["json", "regex", "header", "cookie", "html", "form_field"])["oneOf"].take();
    long["dependentRequired"] = json!({ "group": ["regex"], "attribute": ["html"] });
    json!({
        "description": "Variable names mapped to where their value comes from: a JSONPath (`token: $.token`) or `{ json | regex | header | cookie | html | form_field: ..., ... }`.",
        "type": "object",
        "propertyNames": { "pattern": IDENTIFIER, "not": { "enum": BUILTINS } },
        "additionalProperties": {
            "oneOf": [
                { "description": "A JSONPath into the JSON body.", "type": "string" },
                long
            ]
        }
    })
}

pub(super) fn condition() -> Value {
    let mut test = object(
        json!({
            "var": d("The variable tested.", r("variable_name")),
            "exists": { "description": "The variable is set (`true`) or not (`false`).", "type": "boolean" },
            "equals": d("The variable equals this (may hold `{{ placeholders }}`).", r("scalar")),
            "not_equals": d("The variable differs from this.", r("scalar")),
            "matches": d("The variable matches this regular expression.", r("scalar"))
        }),
        &["var"],
    );
    test["description"] = json!("`var` and at most one test; `var` alone tests that it is set.");
    test["maxProperties"] = json!(2);
    let mut last = object(
        json!({ "last_check": { "description": "The previous request's checks `passed` or `failed`.", "enum": ["passed", "failed"] } }),
        &["last_check"],
    );
    last["description"] = json!("The outcome of the previous request's checks.");
    json!({
        "description": "A variable name (true when it is set), `{ var, exists | equals | not_equals | matches }` or `{ last_check: passed | failed }`.",
        "oneOf": [
            d("True when this variable is set.", json!({ "type": "string", "allOf": [r("variable_name")] })),
            test,
            last
        ]
    })
}

pub(super) fn metric_name() -> Value {
    json!({
        "description": "A custom metric name: up to 100 letters, digits, `_`, `.`, `-` or `:`.",
        "type": ["string", "number", "boolean"],
        "pattern": "^[A-Za-z0-9_.:-]{1,100}$"
    })
}
