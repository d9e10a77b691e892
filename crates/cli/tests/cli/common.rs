//! Helpers shared by the CLI tests: run the real binary, write scenario files.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The `stampede` binary built for these tests.
pub fn stampede() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stampede"));
    cmd.env("NO_COLOR", "1");
    cmd
}

/// The `stampede` binary run through `wrapper` (e.g. `taskset -c 0`, `ip netns exec NS`).
pub fn stampede_through(wrapper: &[&str]) -> Command {
    let (program, args) = wrapper.split_first().expect("a wrapper command");
    let mut cmd = Command::new(program);
    cmd.args(args).arg(env!("CARGO_BIN_EXE_stampede"));
    cmd.env("NO_COLOR", "1");
    cmd
}

/// A fresh directory for one test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Writes `contents` to `dir/file` and returns the path.
pub fn write(dir: &std::path::Path, file: &str, contents: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, contents).expect("write file");
    path
}

/// Runs a command to completion on a blocking thread (so test servers keep running).
pub async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run stampede"))
        .await
        .expect("join")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses a result file and checks it against the checked-in JSON Schema.
pub fn read_result(path: &std::path::Path) -> serde_json::Value {
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("result file exists")).expect("JSON");
    let schema_file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/result.schema.json");
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(schema_file).expect("schema")).expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&result)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "result does not match the schema: {errors:#?}"
    );
    result
}

/// The row of `result.requests` with this scenario and name.
pub fn row<'a>(result: &'a serde_json::Value, scenario: &str, name: &str) -> &'a serde_json::Value {
    result["requests"]
        .as_array()
        .expect("requests array")
        .iter()
        .find(|r| r["scenario"] == scenario && r["name"] == name)
        .unwrap_or_else(|| panic!("no row {scenario} / {name} in {:#}", result["requests"]))
}

/// Runs `stampede run FILE --quiet --out <FILE's dir>/result.json EXTRA…` to completion and
/// returns its output and the result path.
pub async fn run_quiet(file: &std::path::Path, extra: &[&str]) -> (Output, PathBuf) {
    run_quiet_as(stampede(), file, extra).await
}

/// [`run_quiet`] with `cmd` as the binary (`stampede`, or a wrapper that ends with it).
pub async fn run_quiet_as(
    mut cmd: Command,
    file: &std::path::Path,
    extra: &[&str],
) -> (Output, PathBuf) {
    let out_file = file.with_file_name("result.json");
    cmd.arg("run")
        .arg(file)
        .arg("--quiet")
        .arg("--out")
        .arg(&out_file)
        .args(extra);
    (output(cmd).await, out_file)
}
