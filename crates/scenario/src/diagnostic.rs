//! Problems found in a scenario file (or in the command-line overrides applied to it).

use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem, located in the file when possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// 1-based; `None` for problems without a place in the file (I/O, command-line overrides).
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    /// Field path such as `scenarios[0].steps[1].expect.status` or `load.duration`, or the
    /// command-line option (`--users`) for overrides; empty for the file as a whole.
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
    /// The included file the problem is in (`include`); `None` for the scenario file itself.
    pub file: Option<String>,
}

/// All problems found in one file, with the source text needed to show them in context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics {
    /// The file name as given by the user.
    pub file: String,
    pub source: String,
    pub items: Vec<Diagnostic>,
    /// Files named by `include`, with their text, to show problems found in them.
    pub included: Vec<(String, String)>,
}

impl Diagnostics {
    /// Number of items with [`Severity::Error`].
    pub fn error_count(&self) -> usize {
        self.count(Severity::Error)
    }

    /// Number of items with [`Severity::Warning`].
    pub fn warning_count(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }

    /// Compiler-style text: each item with its source line and a caret, then a summary line.
    /// ANSI colours only when `color`.
    pub fn render(&self, color: bool) -> String {
        crate::render::render(self, color)
    }

    /// `{"file", "errors", "warnings", "diagnostics": [{"severity", "line", "column", "path",
    /// "message", "hint", "file"}]}` (an item's `file` is an included file, or the scenario's).
    pub fn to_json(&self) -> serde_json::Value {
        let items: Vec<serde_json::Value> = self
            .items
            .iter()
            .map(|d| {
                json!({
                    "severity": d.severity.as_str(),
                    "line": d.line,
                    "column": d.column,
                    "path": d.path,
                    "message": d.message,
                    "hint": d.hint,
                    "file": d.file.as_deref().unwrap_or(&self.file),
                })
            })
            .collect();
        json!({
            "file": self.file,
            "errors": self.error_count(),
            "warnings": self.warning_count(),
            "diagnostics": items,
        })
    }
}

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let diags = Diagnostics {
            file: "a.yaml".into(),
            source: "x: 1\n".into(),
            items: vec![
                Diagnostic {
                    severity: Severity::Error,
                    line: Some(1),
                    column: Some(1),
                    path: "x".into(),
                    message: "unknown field `x`".into(),
                    hint: None,
                    file: None,
                },
                Diagnostic {
                    severity: Severity::Warning,
                    line: None,
                    column: None,
                    path: "--users".into(),
                    message: "m".into(),
                    hint: Some("h".into()),
                    file: None,
                },
            ],
            included: Vec::new(),
        };
        assert_eq!(diags.error_count(), 1);
        assert_eq!(
            diags.to_json(),
            json!({
                "file": "a.yaml", "errors": 1, "warnings": 1,
                "diagnostics": [
                    {"severity": "error", "line": 1, "column": 1, "path": "x",
                     "message": "unknown field `x`", "hint": null, "file": "a.yaml"},
                    {"severity": "warning", "line": null, "column": null, "path": "--users",
                     "message": "m", "hint": "h", "file": "a.yaml"},
                ]
            })
        );
    }
}
