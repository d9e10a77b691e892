//! Scenario files for Stampede: parse YAML (keeping line and column of every node), validate it
//! purely while collecting *every* error, and normalise it into a [`Plan`] the engine executes.
//!
//! ```
//! let source = "target: http://localhost:8080\nload: { users: 5, duration: 10s }\n\
//!               scenarios:\n  - name: home\n    steps:\n      - get: /\n";
//! let loaded = stampede_scenario::load_str(source, "home.yaml", &Default::default()).unwrap();
//! assert_eq!(loaded.plan.load.max_users(), 5);
//! ```

mod assemble;
mod body;
mod data;
mod decoder;
mod diagnostic;
mod document;
mod environment;
mod expect;
mod flow;
mod http;
mod include;
mod load;
mod pause;
pub mod plan;
mod profile;
mod render;
mod rows;
mod scenario;
mod schema;
mod size;
mod step;
mod suggest;
mod target;
mod template;
mod thresholds;
mod units;
mod variables;
mod yaml;

use std::path::Path;
use std::time::Duration;

pub use body::{encode_form, urlencode};
pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use plan::*;
pub use schema::scenario_schema;
pub use thresholds::{parse_threshold_flags, threshold_flag_warnings};
pub use units::{parse_duration, parse_rate};

/// Command-line values that replace parts of the file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `--users`: makes the load flat with this many users.
    pub users: Option<u32>,
    /// `--spawn-rate`, in users per second: makes the load flat with this ramp-up.
    pub spawn_rate: Option<f64>,
    /// `--duration`: the flat duration, or where stages are cut (or the last level held until).
    pub duration: Option<Duration>,
    /// `--target`: replaces the file's `target`.
    pub target: Option<String>,
    /// `--iterations`: iterations started in the whole run, shared by every user.
    pub iterations: Option<u64>,
    /// `--max-requests`: requests sent in the whole run.
    pub max_requests: Option<u64>,
    /// `--env`: the environment (from the file's `environments`) to run against.
    pub env: Option<String>,
}

/// A valid plan, and the warnings found on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub plan: Plan,
    pub warnings: Vec<Diagnostic>,
    /// Every other file the scenario uses (included files, scripts, feeders, `http.ca_file`),
    /// as the scenario's directory joined with the path written in the file: what a
    /// distributed run ships to its agents.
    pub files: Vec<std::path::PathBuf>,
}

/// Reads and loads a scenario file. An unreadable file gives one error without a line.
pub fn load_file(path: &Path, overrides: &Overrides) -> Result<Loaded, Diagnostics> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        // Files the scenario names are found next to it, wherever it is run from.
        Ok(source) => load_str_in(
            &source,
            &file,
            path.parent().unwrap_or(Path::new("")),
            overrides,
        ),
        Err(e) => Err(Diagnostics {
            file,
            source: String::new(),
            items: vec![Diagnostic {
                severity: Severity::Error,
                line: None,
                column: None,
                path: String::new(),
                message: format!("cannot read the file: {e}"),
                hint: None,
                file: None,
            }],
            included: Vec::new(),
        }),
    }
}

/// Loads a scenario from text; `file_name` is only used in diagnostics.
///
/// On failure, every error found is returned (with the warnings), sorted by position.
pub fn load_str(
    source: &str,
    file_name: &str,
    overrides: &Overrides,
) -> Result<Loaded, Diagnostics> {
    load_in(source, file_name, Path::new(""), overrides)
}

/// Loads a scenario from text as if it were a file in `dir`: the files it names (included
/// files, scripts, feeders, a CA certificate) are found relative to `dir`. `file_name` is only
/// used in diagnostics.
pub fn load_str_in(
    source: &str,
    file_name: &str,
    dir: &Path,
    overrides: &Overrides,
) -> Result<Loaded, Diagnostics> {
    load_in(source, file_name, dir, overrides).map(|mut loaded| {
        loaded.plan.http.resolve_paths(dir);
        loaded
    })
}

/// Loads a scenario from text; files it names (scripts, data) are found relative to `dir`.
fn load_in(
    source: &str,
    file_name: &str,
    dir: &Path,
    overrides: &Overrides,
) -> Result<Loaded, Diagnostics> {
    let mut ctx = decoder::Ctx::default();
    let src = document::Source {
        file: file_name,
        dir,
    };
    let plan = match yaml::parse(source) {
        Ok(Some(root)) => document::decode(&mut ctx, &root, overrides, &src),
        Ok(None) => {
            let hint = "start with `target:`, `load:` and `scenarios:`".to_owned();
            ctx.error(None, "", "the file is empty".into(), Some(hint));
            None
        }
        Err(e) => {
            // Only the first syntax error is known; nothing else can be checked.
            let item = Diagnostic {
                severity: Severity::Error,
                line: Some(e.line),
                column: Some(e.col),
                path: String::new(),
                message: e.message,
                hint: e.hint,
                file: None,
            };
            return Err(diagnostics(file_name, source, vec![item]));
        }
    };
    let included = ctx.take_included();
    let mut files = std::mem::take(&mut ctx.files);
    let mut items = ctx.into_items();
    // By position; problems without one (command-line overrides) last.
    items.sort_by_key(|d| (d.line.is_none(), d.line, d.column));
    // A named flow used by several scenarios is decoded once per use: report its problems once.
    items.dedup_by(|a, b| a.line == b.line && a.column == b.column && a.message == b.message);
    match plan {
        Some(plan) if !items.iter().any(|d| d.severity == Severity::Error) => {
            if let Some(ca) = &plan.http.ca_file {
                files.push(dir.join(ca));
            }
            Ok(Loaded {
                plan,
                warnings: items,
                files,
            })
        }
        _ => {
            let mut d = diagnostics(file_name, source, items);
            d.included = included;
            Err(d)
        }
    }
}

fn diagnostics(file: &str, source: &str, items: Vec<Diagnostic>) -> Diagnostics {
    Diagnostics {
        file: file.to_owned(),
        source: source.to_owned(),
        items,
        included: Vec::new(),
    }
}
