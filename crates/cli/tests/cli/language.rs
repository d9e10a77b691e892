//! The scenario language end to end: the real `stampede` binary against [`ShopApp`], asserting on
//! what the server saw and on the `--out` result file. Every run is a few users for a few
//! iterations (`iterations: { per_user: N }` ends it early), so each test takes a second or two.

use crate::common::{read_result, run_quiet, text, write};
use serde_json::Value;
use stampede_testkit::{AppSeen, SeenRequest, ShopApp};
use std::path::{Path, PathBuf};
use std::process::Output;

mod distributed;
mod flow;
mod inputs;
mod sessions;

/// Accounts the shop accepts (`pw-<name>` is the password of `<name>`).
const ACCOUNTS: &str =
    "username,password\nalice,pw-alice\nbob,pw-bob\ncarol,pw-carol\ndave,pw-dave\n";

/// Writes `yaml` (with `TARGET` replaced by the app's URL) as `dir/lang.yaml`.
fn scenario_file(dir: &Path, app: &ShopApp, yaml: &str) -> PathBuf {
    write(dir, "lang.yaml", &yaml.replace("TARGET", &app.url()))
}

/// Runs `file` to completion (`--quiet --out`), expects `code`, and returns the output and the
/// result (checked against the schema).
async fn run_expecting(file: &Path, extra: &[&str], code: i32) -> (Output, Value) {
    let (out, result_file) = run_quiet(file, extra).await;
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    (out, read_result(&result_file))
}

/// Runs `file` and expects success (exit code 0).
async fn run_ok(file: &Path, extra: &[&str]) -> Value {
    run_expecting(file, extra, 0).await.1
}

/// The custom metric `name` of `kind` in the result.
fn custom<'a>(result: &'a Value, kind: &str, name: &str) -> &'a Value {
    metric(result, kind, name).unwrap_or_else(|| {
        panic!(
            "no {kind} `{name}` in custom_metrics: {:#}",
            result["custom_metrics"]
        )
    })
}

fn metric<'a>(result: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    result["custom_metrics"]
        .as_array()
        .expect("custom_metrics array")
        .iter()
        .find(|m| m["kind"] == kind && m["name"] == name)
}

/// The failed-check row of (scenario, request, check).
fn check<'a>(result: &'a Value, scenario: &str, request: &str, name: &str) -> &'a Value {
    result["checks"]
        .as_array()
        .expect("checks array")
        .iter()
        .find(|c| c["scenario"] == scenario && c["request"] == request && c["check"] == name)
        .unwrap_or_else(|| {
            panic!(
                "no check {scenario} / {request} / {name} in {:#}",
                result["checks"]
            )
        })
}

fn u(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

fn f(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

/// The requests the app logged for `method` and path (query ignored).
fn requests<'a>(seen: &'a AppSeen, method: &str, path: &str) -> Vec<&'a SeenRequest> {
    seen.requests
        .iter()
        .filter(|r| r.method == method && r.target.split('?').next() == Some(path))
        .collect()
}

/// 1-based number of the first line of `yaml` that contains `marker`.
fn line_of(yaml: &str, marker: &str) -> usize {
    yaml.lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no line with {marker:?}"))
        + 1
}
