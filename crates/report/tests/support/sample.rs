//! The result the tests render, shared by the unit tests (`src/lib.rs` includes this file as
//! `testdata`) and the integration tests.
//!
//! `fixtures/result.json` is recorded from a real run: see `fixtures/README.md`. Runs do not record
//! timeline events yet, so one event is added here when the fixture has none, to exercise that
//! section and the chart markers; likewise a custom metric of each kind and a warning.

use stampede_metrics::RunResult;
use stampede_metrics::result::{CustomMetricRow, RunEvent};

pub const FIXTURE: &str = include_str!("../fixtures/result.json");

pub fn sample() -> RunResult {
    let mut r: RunResult = serde_json::from_str(FIXTURE).expect("the fixture is a valid result");
    if r.events.is_empty() {
        r.events.push(RunEvent {
            second: 2.0,
            kind: "stage".into(),
            message: "stage 2: hold 4 users".into(),
        });
    }
    if r.custom_metrics.is_empty() {
        r.custom_metrics = vec![
            CustomMetricRow::Counter {
                name: "carts".into(),
                total: 37.0,
                rate: 9.25,
                adds: 37,
            },
            CustomMetricRow::Trend {
                name: "cart_size".into(),
                count: 37,
                min: 1.0,
                max: 12.0,
                mean: 4.27,
                p50: 4.0,
                p90: 9.0,
                p95: 11.0,
                p99: 12.0,
            },
            CustomMetricRow::Gauge {
                name: "queue | depth".into(),
                last: 2.0,
                min: 0.0,
                max: 6.5,
                sets: 40,
            },
        ];
    }
    if r.warnings.is_empty() {
        r.warnings
            .push("custom trend `cart_size`: 1 values rejected (not a finite number >= 0)".into());
    }
    r
}
