//! The checked-in JSON Schema of the result must match the Rust types, and a real result must
//! validate against it.

use stampede_metrics::result::{RunMeta, RunStatus};
use stampede_metrics::{Aggregator, IntervalRecorder, Outcome, RequestKey, RunResult, Snapshot};
use std::path::PathBuf;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/result.schema.json")
}

#[test]
fn checked_in_result_schema_has_not_drifted() {
    let generated = RunResult::json_schema();
    let path = schema_path();
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "schemas/result.schema.json is out of date: run `UPDATE_SCHEMAS=1 cargo test -p stampede-metrics --test schema` and commit it"
    );
}

#[test]
fn an_aggregated_result_validates_against_the_schema() {
    let keys = vec![RequestKey {
        scenario: "s".into(),
        name: "/".into(),
        method: "GET".into(),
    }];
    let mut aggregator = Aggregator::new(keys);
    let mut recorder = IntervalRecorder::new();
    recorder.record(
        0,
        &Outcome::Response {
            status: 200,
            latency_us: 1500,
            service_us: 1200,
            bytes_in: 10,
            bytes_out: 10,
            failed_check: None,
        },
    );
    recorder.record(
        0,
        &Outcome::Error {
            kind: stampede_metrics::ErrorKind::Timeout,
            bytes_out: 10,
            message: &"request timed out after 30s",
        },
    );
    recorder.add_counter("carts", 2.0);
    recorder.record_trend("cart_size", 3.5);
    recorder.set_gauge("queue", -1.0);
    recorder.record_trend("cart_size", -1.0); // rejected: a warning
    let mut snapshot = Snapshot::new(0);
    recorder.drain_into(&mut snapshot);
    aggregator.ingest(&snapshot);
    let result = aggregator.finish(
        RunMeta {
            tool_version: "0.1.0".into(),
            scenario_file: "x.yaml".into(),
            target: "http://127.0.0.1:1".into(),
            started_at: "2026-11-24T16:00:00Z".into(),
            planned_duration_s: 1.0,
            load: "1 user".into(),
            status: RunStatus::Completed,
        },
        1.0,
    );
    let schema: serde_json::Value = serde_json::from_str(&RunResult::json_schema()).unwrap();
    let instance = serde_json::to_value(&result).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(instance["errors"][0]["kind"], "timeout");
    assert_eq!(instance["custom_metrics"].as_array().map(Vec::len), Some(3));
    assert_eq!(instance["timeline"][0]["custom_counters"]["carts"], 2.0);
    assert_eq!(instance["warnings"].as_array().map(Vec::len), Some(1));
    // And a broken instance is rejected, so the check above can fail.
    let mut broken = instance.clone();
    broken["summary"]["requests"] = serde_json::json!("many");
    assert!(!validator.is_valid(&broken));
    let mut broken = instance.clone();
    broken["custom_metrics"][0]["kind"] = serde_json::json!("histogram");
    assert!(!validator.is_valid(&broken), "an unknown kind");
    let mut broken = instance.clone();
    broken["custom_metrics"][1]["p95"] = serde_json::json!(1.0);
    assert!(
        !validator.is_valid(&broken),
        "a field of another kind: {}",
        broken["custom_metrics"][1]
    );
}
