//! The result the tests render, shared by the unit tests (`src/lib.rs` includes this file as
//! `testdata`) and the integration tests.
//!
//! `fixtures/result.json` is recorded from a real run: see `fixtures/README.md`. Runs do not record
//! timeline events yet, so one event is added here when the fixture has none, to exercise that
//! section and the chart markers.

use stampede_metrics::RunResult;
use stampede_metrics::result::RunEvent;

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
    r
}
