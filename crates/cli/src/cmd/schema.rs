//! `stampede schema`: print the JSON Schema of the result file.

use crate::args::{SchemaArgs, SchemaKind};
use crate::exit;
use stampede_metrics::RunResult;

pub fn schema(args: &SchemaArgs) -> anyhow::Result<u8> {
    match args.kind {
        SchemaKind::Result => print!("{}", RunResult::json_schema()),
    }
    Ok(exit::OK)
}
