//! Reading a result file back (`stampede report`, `stampede compare`, `run --baseline`), with
//! errors that name the file, the JSON path and the line.

use stampede_metrics::RunResult;
use stampede_metrics::result::RESULT_SCHEMA_VERSION;
use thiserror::Error;

/// Why bytes are not a usable result.
#[derive(Debug, Error, PartialEq)]
pub enum ResultError {
    #[error("{file}: not valid JSON at line {line}, column {column}: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{file}: not a Stampede result (no `schema_version` field); pass a file written by `stampede run --out`"
    )]
    NotAResult { file: String },
    #[error(
        "{file}: result format version {found} is newer than this Stampede understands ({RESULT_SCHEMA_VERSION}); upgrade Stampede"
    )]
    TooNew { file: String, found: u64 },
    #[error(
        "{file}: at `{path}` (line {line}, column {column}): {message}; the format is described by `stampede schema result`"
    )]
    Shape {
        file: String,
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Parses a result written by `--out`. `file` names the source in error messages.
pub fn parse_result(bytes: &[u8], file: &str) -> Result<RunResult, ResultError> {
    let json_error = |e: serde_json::Error| ResultError::Json {
        file: file.to_owned(),
        line: e.line(),
        column: e.column(),
        message: strip_location(&e.to_string()),
    };
    // Syntax first, so a truncated file is reported as such rather than as a missing field.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(json_error)?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        None => {
            return Err(ResultError::NotAResult {
                file: file.to_owned(),
            });
        }
        Some(v) if v > u64::from(RESULT_SCHEMA_VERSION) => {
            return Err(ResultError::TooNew {
                file: file.to_owned(),
                found: v,
            });
        }
        Some(_) => {}
    }
    // Deserialise from the bytes (not the value) so serde_json can report the line.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ResultError::Shape {
            file: file.to_owned(),
            path,
            line: inner.line(),
            column: inner.column(),
            message: strip_location(&inner.to_string()),
        }
    })
}

/// serde_json appends ` at line L column C` to its messages; we print the location ourselves.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::FIXTURE;

    #[test]
    fn the_fixture_parses() {
        let r = parse_result(FIXTURE.as_bytes(), "result.json").expect("fixture parses");
        assert!(r.summary.requests > 0);
    }

    #[test]
    fn bad_json_names_file_line_and_column() {
        let e = parse_result(b"{\n  \"schema_version\": 1,\n  oops\n}", "r.json").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("r.json: not valid JSON at line 3, column 3"),
            "{text}"
        );
        let e = parse_result(b"", "r.json").unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
    }

    #[test]
    fn other_json_is_not_a_result() {
        let e = parse_result(br#"{"name": "package.json"}"#, "p.json").unwrap_err();
        assert!(e.to_string().contains("not a Stampede result"), "{e}");
        let e = parse_result(br#"{"schema_version": 99}"#, "p.json").unwrap_err();
        assert!(e.to_string().contains("newer than this Stampede"), "{e}");
    }

    #[test]
    fn a_wrong_field_is_named_by_its_json_path_and_line() {
        let broken = FIXTURE.replacen("\"requests\": ", "\"requests\": \"many\", \"x\": ", 1);
        let e = parse_result(broken.as_bytes(), "r.json").unwrap_err();
        let ResultError::Shape { path, line, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(path, "summary.requests", "{e}");
        let expected_line = FIXTURE
            .lines()
            .position(|l| l.contains("\"requests\": "))
            .unwrap()
            + 1;
        assert_eq!(*line, expected_line, "{e}");
        assert!(e.to_string().contains("expected u64"), "{e}");
    }
}
