use crate::common::{output, stampede, temp_dir, text, write};

#[tokio::test]
async fn a_valid_file_passes_with_exit_0() {
    let dir = temp_dir("validate-ok");
    let file = write(
        &dir,
        "ok.yaml",
        "version: 1\ntarget: http://127.0.0.1:9\nload: { users: 2, duration: 1s }\nscenarios:\n  - name: s\n    steps:\n      - get: /\n",
    );
    let out = output({
        let mut c = stampede();
        c.arg("validate").arg(&file);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("is valid"));
}

#[tokio::test]
async fn every_error_is_reported_with_file_line_and_column_and_exit_2() {
    let dir = temp_dir("validate-bad");
    let file = write(
        &dir,
        "broken.yaml",
        "version: 1\nload:\n  users: lots\n  duration: 30\nscenarios:\n  - name: s\n    weight: 0\n    thinktime: 2s\n    steps:\n      - get: /\n",
    );
    let out = output({
        let mut c = stampede();
        c.arg("validate").arg(&file);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    // users: wrong type (line 3), duration: no unit (line 4), weights all zero (line 7),
    // unknown field with a typo (line 8), missing target.
    for needle in [
        "broken.yaml:3:",
        "broken.yaml:4:",
        "broken.yaml:8:",
        "think_time",
        "target",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(stderr.matches("error").count() >= 5, "{stderr}");

    let json = output({
        let mut c = stampede();
        c.args(["validate", "--format", "json"]).arg(&file);
        c
    })
    .await;
    assert_eq!(json.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON diagnostics");
    assert!(report["errors"].as_u64().unwrap() >= 5, "{report:#}");
}
