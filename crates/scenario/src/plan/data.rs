//! Data feeders (`data:`): files of rows (CSV or JSON lines) that virtual users draw from, and
//! [`load_table`], which reads one into a [`Table`].

use std::fmt;
use std::path::{Path, PathBuf};

/// One entry of the `data` section: where the rows are and how virtual users draw them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feeder {
    /// The name templates use: `{{ users.username }}` for the feeder `users`.
    pub name: String,
    /// The file of rows. As written in the scenario file until [`Feeder::resolve_paths`] joins a
    /// relative path to the scenario file's directory (`load_file` does).
    pub file: PathBuf,
    pub format: DataFormat,
    pub strategy: Strategy,
    pub each: Each,
    /// What happens when no row is left. Meaningless for [`Strategy::Random`], which never runs
    /// out (it is then [`Exhausted::Recycle`]).
    pub on_exhausted: Exhausted,
}

impl Feeder {
    /// Resolves a relative `file` against `dir` (the scenario file's directory).
    pub fn resolve_paths(&mut self, dir: &Path) {
        if self.file.is_relative() {
            self.file = dir.join(&self.file);
        }
    }
}

/// How the rows are written (`format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataFormat {
    /// Comma-separated values; the first line is the header of column names.
    Csv,
    /// One JSON object per line; the columns are the keys of the first object.
    JsonLines,
}

/// Which row a draw gives (`strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Rows in file order, one cursor shared by every virtual user of a generator.
    #[default]
    Sequential,
    /// A row chosen uniformly at random, independently on every draw.
    Random,
    /// Each row handed out at most once (per generator; across a cluster when the rows are
    /// partitioned between agents), unless `on_exhausted: recycle`.
    Unique,
}

/// When a virtual user draws a new row (`each`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Each {
    /// Once, when the virtual user starts: the row is its identity for its whole life.
    User,
    /// At the start of every iteration.
    Iteration,
}

/// What a draw does when no row is left (`on_exhausted`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    /// The virtual user that needed a row stops; the others go on.
    StopUser,
    /// Start again from the first row.
    Recycle,
    /// The virtual user that needed a row stops, and the counter `data.<feeder>.exhausted`
    /// counts it (a threshold on it can fail the run).
    Fail,
}

impl Strategy {
    /// `each` when the file does not say: `user` for `unique`, `iteration` otherwise.
    pub fn default_each(self) -> Each {
        match self {
            Strategy::Unique => Each::User,
            Strategy::Sequential | Strategy::Random => Each::Iteration,
        }
    }

    /// `on_exhausted` when the file does not say: `stop_user` for `unique`, `recycle` otherwise.
    pub fn default_exhausted(self) -> Exhausted {
        match self {
            Strategy::Unique => Exhausted::StopUser,
            Strategy::Sequential | Strategy::Random => Exhausted::Recycle,
        }
    }
}

/// The rows of a feeder's file, every value as text.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Table {
    /// Column names: unique identifiers, in file order (CSV) or in the order serde_json lists
    /// the first object's keys (JSON lines: sorted).
    pub columns: Vec<String>,
    /// Each row has exactly `columns.len()` values.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The index of the column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// A problem reading a feeder's file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError {
    pub file: PathBuf,
    /// 1-based line of the problem, when it has one.
    pub line: Option<u64>,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl fmt::Display for DataError {
    /// `file:line: message (hint)`, without `:line` when there is none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for DataError {}

/// Reads the rows of `feeder.file` (already resolved: see [`Feeder::resolve_paths`]).
///
/// CSV: the first line is the header; quoted fields may hold commas, quotes and line breaks;
/// a UTF-8 byte order mark and CRLF line ends are accepted; blank lines are skipped. JSON lines:
/// one object per line, blank lines skipped; every object has the keys of the first; strings
/// are taken as they are, numbers and booleans as their JSON text, `null` as the empty string,
/// arrays and objects as compact JSON. A file without rows is an error.
pub fn load_table(feeder: &Feeder) -> Result<Table, DataError> {
    let path = feeder.file.as_path();
    let bytes = std::fs::read(path).map_err(|e| read_error(path, &e))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        let hint = "save the file as UTF-8";
        error(
            path,
            Some(line as u64),
            "the file is not valid UTF-8",
            Some(hint),
        )
    })?;
    let table = match feeder.format {
        DataFormat::Csv => csv_table(path, text)?,
        DataFormat::JsonLines => jsonl_table(path, text)?,
    };
    if table.rows.is_empty() {
        let (message, hint) = match feeder.format {
            DataFormat::Csv => ("no rows", "add rows below the header line"),
            DataFormat::JsonLines => ("no rows", "add one JSON object per line"),
        };
        return Err(error(path, None, message, Some(hint)));
    }
    Ok(table)
}

fn error(path: &Path, line: Option<u64>, message: &str, hint: Option<&str>) -> DataError {
    DataError {
        file: path.to_owned(),
        line,
        message: message.to_owned(),
        hint: hint.map(str::to_owned),
    }
}

fn read_error(path: &Path, e: &std::io::Error) -> DataError {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let (message, hint) = match e.kind() {
        std::io::ErrorKind::NotFound => (
            format!(
                "file not found: {} (relative to the scenario file's directory)",
                shown.display()
            ),
            "check `file`: a relative path is taken from the scenario file's directory",
        ),
        _ => (
            format!("cannot read {}: {e}", shown.display()),
            "check that `file` names a readable file",
        ),
    };
    error(path, None, &message, Some(hint))
}

/// `[A-Za-z_][A-Za-z0-9_]*`: a name usable in templates.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks column names: identifiers, unique. `line` is where the names are written.
fn check_columns(path: &Path, line: u64, columns: &[String]) -> Result<(), DataError> {
    for (i, name) in columns.iter().enumerate() {
        if name.is_empty() {
            let message = format!("column {} has no name", i + 1);
            let hint = "give every column a name in the header line";
            return Err(error(path, Some(line), &message, Some(hint)));
        }
        if !is_identifier(name) {
            let message = format!("invalid column name `{name}`");
            let hint = "column names are letters, digits and `_`, not starting with a digit, \
                        so templates can use them";
            return Err(error(path, Some(line), &message, Some(hint)));
        }
        if columns[..i].contains(name) {
            let message = format!("duplicate column `{name}`");
            let hint = "rename one of them";
            return Err(error(path, Some(line), &message, Some(hint)));
        }
    }
    Ok(())
}

fn csv_table(path: &Path, text: &str) -> Result<Table, DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    // csv's own line numbers skip blank lines, and a record's position is where the blank lines
    // before it start: skip those, then count the line ends before the record.
    let line_at = |position: Option<&csv::Position>| {
        let bytes = text.as_bytes();
        let mut byte = position.map_or(0, |p| p.byte() as usize).min(bytes.len());
        while bytes.get(byte).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            byte += 1;
        }
        let line_ends = bytes[..byte].iter().filter(|&&b| b == b'\n').count();
        1 + line_ends as u64
    };
    let csv_error = |e: csv::Error| {
        let line = line_at(e.position());
        let hint = "check the quoting: a value with a `\"` must be quoted, and its quotes doubled";
        error(path, Some(line), &format!("invalid CSV: {e}"), Some(hint))
    };
    let Some(header) = records.next() else {
        let hint = "the first line is the header, e.g. `username,password`, then one row a line";
        return Err(error(path, None, "the file is empty", Some(hint)));
    };
    let header = header.map_err(csv_error)?;
    let header_line = line_at(header.position());
    let columns: Vec<String> = header.iter().map(|c| c.trim().to_owned()).collect();
    check_columns(path, header_line, &columns)?;
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(csv_error)?;
        if record.len() != columns.len() {
            let line = Some(line_at(record.position()));
            let message = format!(
                "row has {} field{}, the header has {}",
                record.len(),
                if record.len() == 1 { "" } else { "s" },
                columns.len()
            );
            let hint = "quote values that contain commas, e.g. \"Doe, John\"";
            return Err(error(path, line, &message, Some(hint)));
        }
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok(Table { columns, rows })
}

fn jsonl_table(path: &Path, text: &str) -> Result<Table, DataError> {
    let mut columns: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let number = Some(i as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        let mut object = match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(other) => {
                let message = format!("expected a JSON object, found {}", json_kind(&other));
                let hint = "write one object per line, e.g. {\"username\": \"ann\"}";
                return Err(error(path, number, &message, Some(hint)));
            }
            Err(e) => {
                let message = format!("expected a JSON object: {e}");
                let hint = "each line must be one complete JSON object";
                return Err(error(path, number, &message, Some(hint)));
            }
        };
        let Some(expected) = &columns else {
            let keys: Vec<String> = object.keys().cloned().collect();
            check_columns(path, i as u64 + 1, &keys)?;
            if keys.is_empty() {
                let hint = "the keys of the first object are the columns";
                return Err(error(path, number, "the first object is empty", Some(hint)));
            }
            rows.push(object.into_iter().map(|(_, v)| json_text(v)).collect());
            columns = Some(keys);
            continue;
        };
        let missing: Vec<&str> = (expected.iter())
            .filter(|k| !object.contains_key(k.as_str()))
            .map(String::as_str)
            .collect();
        let extra: Vec<&str> = (object.keys())
            .filter(|k| !expected.contains(k))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            let mut parts = Vec::new();
            if !missing.is_empty() {
                parts.push(format!("missing {}", quoted(&missing)));
            }
            if !extra.is_empty() {
                parts.push(format!("unexpected {}", quoted(&extra)));
            }
            let message = format!(
                "the keys differ from the first object's: {}",
                parts.join(", ")
            );
            let hint = "every object needs the same keys as the first one";
            return Err(error(path, number, &message, Some(hint)));
        }
        let row = expected.iter().map(|c| object.remove(c).map(json_text));
        rows.push(row.map(Option::unwrap_or_default).collect());
    }
    Ok(Table {
        columns: columns.unwrap_or_default(),
        rows,
    })
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn json_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn quoted(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory for one test, removed when dropped.
    struct Dir(PathBuf);

    impl Dir {
        fn new(test: &str) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("stampede-data-{}-{test}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }

        fn file(&self, name: &str, bytes: &[u8]) -> Feeder {
            let file = self.0.join(name);
            std::fs::write(&file, bytes).unwrap();
            let format = match name.ends_with(".csv") {
                true => DataFormat::Csv,
                false => DataFormat::JsonLines,
            };
            Feeder {
                name: "users".into(),
                file,
                format,
                strategy: Strategy::Sequential,
                each: Each::Iteration,
                on_exhausted: Exhausted::Recycle,
            }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn table(test: &str, name: &str, text: &str) -> Result<Table, DataError> {
        let dir = Dir::new(test);
        load_table(&dir.file(name, text.as_bytes()))
    }

    fn strings<const N: usize>(values: [&str; N]) -> Vec<String> {
        values.map(str::to_owned).to_vec()
    }

    /// `(line, message)` of the error, after checking its file and that it has a hint.
    fn failure(result: Result<Table, DataError>, name: &str) -> (Option<u64>, String) {
        let e = result.unwrap_err();
        assert!(e.file.ends_with(name), "{e}");
        assert!(e.hint.is_some(), "no hint: {e}");
        (e.line, e.message)
    }

    #[test]
    fn csv_with_quotes_commas_bom_and_crlf() {
        let text = "\u{feff}username,password,full_name\r\n\
                    ann,\"p,a\"\"ss\",\"Doe, Ann\"\r\n\
                    \r\n\
                    bob,secret,\"multi\r\nline\"\r\n\
                    zoë,ünï,\"\"\r\n";
        let t = table("csv_quotes", "users.csv", text).unwrap();
        assert_eq!(t.columns, strings(["username", "password", "full_name"]));
        assert_eq!(
            t.rows,
            [
                strings(["ann", "p,a\"ss", "Doe, Ann"]),
                strings(["bob", "secret", "multi\r\nline"]),
                strings(["zoë", "ünï", ""]),
            ]
        );
        assert_eq!(t.column("password"), Some(1));
        assert_eq!(t.column("nope"), None);
        // Spaces around header names are ignored; values are kept as written.
        let t = table("csv_spaces", "u.csv", "id, name\n1, x\n").unwrap();
        assert_eq!(t.columns, strings(["id", "name"]));
        assert_eq!(t.rows, [strings(["1", " x"])]);
        // No newline at the end of the file.
        let t = table("csv_no_eol", "u.csv", "id\n7").unwrap();
        assert_eq!(t.rows, [strings(["7"])]);
    }

    #[test]
    fn csv_errors_say_where_and_what_to_do() {
        let r = table("csv_ragged", "users.csv", "a,b\n1,2\n\n1,2,3\n");
        assert_eq!(
            failure(r, "users.csv"),
            (Some(4), "row has 3 fields, the header has 2".into())
        );
        // Lines are counted in the file, quoted line breaks included.
        let r = table(
            "csv_quoted_eol",
            "users.csv",
            "a,b\r\n1,\"x\r\ny\"\r\n1,2,3\r\n",
        );
        assert_eq!(failure(r, "users.csv").0, Some(4));
        let r = table("csv_short", "users.csv", "a,b\n1\n");
        assert_eq!(
            failure(r, "users.csv"),
            (Some(2), "row has 1 field, the header has 2".into())
        );
        let r = table("csv_dup", "users.csv", "id,name,id\n1,2,3\n");
        assert_eq!(
            failure(r, "users.csv"),
            (Some(1), "duplicate column `id`".into())
        );
        let r = table("csv_empty_name", "users.csv", "id,,x\n1,2,3\n");
        assert_eq!(
            failure(r, "users.csv"),
            (Some(1), "column 2 has no name".into())
        );
        let r = table("csv_bad_name", "users.csv", "id,user name\n1,2\n");
        assert_eq!(
            failure(r, "users.csv"),
            (Some(1), "invalid column name `user name`".into())
        );
        let r = table("csv_digit_name", "users.csv", "1st\nx\n");
        assert_eq!(
            failure(r, "users.csv"),
            (Some(1), "invalid column name `1st`".into())
        );
        let r = table("csv_header_only", "users.csv", "username,password\r\n");
        assert_eq!(failure(r, "users.csv"), (None, "no rows".into()));
        let r = table("csv_empty", "users.csv", "");
        assert_eq!(failure(r, "users.csv"), (None, "the file is empty".into()));
        let dir = Dir::new("csv_utf8");
        let r = load_table(&dir.file("users.csv", b"id\nok\n\xff\xfe\n"));
        assert_eq!(
            failure(r, "users.csv"),
            (Some(3), "the file is not valid UTF-8".into())
        );
    }

    #[test]
    fn jsonl_with_mixed_types() {
        let text = "{\"name\": \"ann\", \"age\": 31, \"admin\": true, \"tags\": [\"a\", 1], \
                    \"meta\": {\"k\": null}, \"note\": null}\r\n\
                    \n   \n\
                    {\"note\": \"x\", \"meta\": {}, \"tags\": [], \"admin\": false, \"age\": 2.5, \
                    \"name\": \"bo \\\"b\\\"\"}\n";
        let t = table("jsonl_mixed", "users.jsonl", text).unwrap();
        let mut columns = t.columns.clone();
        columns.sort();
        assert_eq!(
            columns,
            strings(["admin", "age", "meta", "name", "note", "tags"])
        );
        let value = |row: usize, column: &str| t.rows[row][t.column(column).unwrap()].as_str();
        assert_eq!(value(0, "name"), "ann");
        assert_eq!(value(0, "age"), "31");
        assert_eq!(value(0, "admin"), "true");
        assert_eq!(value(0, "tags"), "[\"a\",1]");
        assert_eq!(value(0, "meta"), "{\"k\":null}");
        assert_eq!(value(0, "note"), "");
        assert_eq!(value(1, "name"), "bo \"b\"");
        assert_eq!(value(1, "age"), "2.5");
        assert_eq!(value(1, "admin"), "false");
        assert_eq!(value(1, "tags"), "[]");
        assert_eq!(t.rows.len(), 2);
    }

    #[test]
    fn jsonl_errors_say_where_and_what_to_do() {
        let r = table("jsonl_bad", "users.jsonl", "{\"a\": 1}\n\n{\"a\": 2,}\n");
        let (line, message) = failure(r, "users.jsonl");
        assert_eq!(line, Some(3));
        assert!(message.starts_with("expected a JSON object: "), "{message}");
        let r = table("jsonl_array", "users.jsonl", "[1, 2]\n");
        assert_eq!(
            failure(r, "users.jsonl"),
            (Some(1), "expected a JSON object, found an array".into())
        );
        let r = table(
            "jsonl_keys",
            "users.jsonl",
            "{\"a\": 1, \"b\": 2}\n{\"a\": 1, \"c\": 3}\n",
        );
        assert_eq!(
            failure(r, "users.jsonl"),
            (
                Some(2),
                "the keys differ from the first object's: missing `b`, unexpected `c`".into()
            )
        );
        let r = table(
            "jsonl_fewer",
            "users.jsonl",
            "{\"a\": 1, \"b\": 2}\n{\"b\": 3}\n",
        );
        assert_eq!(
            failure(r, "users.jsonl").1,
            "the keys differ from the first object's: missing `a`"
        );
        let r = table("jsonl_name", "users.jsonl", "{\"user-name\": 1}\n");
        assert_eq!(
            failure(r, "users.jsonl"),
            (Some(1), "invalid column name `user-name`".into())
        );
        let r = table("jsonl_empty_obj", "users.jsonl", "\n{}\n");
        assert_eq!(
            failure(r, "users.jsonl"),
            (Some(2), "the first object is empty".into())
        );
        let r = table("jsonl_no_rows", "users.jsonl", "\n  \n");
        assert_eq!(failure(r, "users.jsonl"), (None, "no rows".into()));
    }

    #[test]
    fn missing_file_names_the_absolute_path() {
        let dir = Dir::new("missing");
        let mut feeder = dir.file("other.csv", b"a\n1\n");
        feeder.file = dir.0.join("users.csv");
        let e = load_table(&feeder).unwrap_err();
        let expected = format!(
            "file not found: {} (relative to the scenario file's directory)",
            dir.0.join("users.csv").display()
        );
        assert_eq!(e.message, expected);
        assert_eq!(e.line, None);
        // A directory is not a file either.
        feeder.file = dir.0.clone();
        let e = load_table(&feeder).unwrap_err();
        assert!(e.message.starts_with("cannot read "), "{e}");
    }

    #[test]
    fn display_has_file_line_message_and_hint() {
        let e = error(
            Path::new("data/users.csv"),
            Some(7),
            "row has 3 fields, the header has 2",
            Some("quote it"),
        );
        assert_eq!(
            e.to_string(),
            "data/users.csv:7: row has 3 fields, the header has 2 (quote it)"
        );
        let e = error(Path::new("u.csv"), None, "no rows", None);
        assert_eq!(e.to_string(), "u.csv: no rows");
    }

    #[test]
    fn identifiers() {
        for ok in ["a", "_", "user_name", "A9", "_x1"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "9a", "user-name", "a b", "é", "a.b"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }
}
