//! `stampede schema`: print the JSON Schema of the result file or of the scenario format.

use crate::args::{SchemaArgs, SchemaKind};
use crate::exit;
use stampede_metrics::RunResult;

pub fn schema(args: &SchemaArgs) -> anyhow::Result<u8> {
    match args.kind {
        SchemaKind::Result => print!("{}", RunResult::json_schema()),
        SchemaKind::Scenario => {
            let schema = stampede_scenario::scenario_schema();
            println!("{}", serde_json::to_string_pretty(&schema)?);
        }
    }
    Ok(exit::OK)
}
