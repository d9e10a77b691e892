//! Process exit codes, documented once (README "Exit codes").

/// The run completed and nothing failed.
pub const OK: u8 = 0;
/// The run regressed against `--baseline` beyond `--max-regression`.
pub const REGRESSION: u8 = 1;
/// A threshold failed, or one with `abort: true` stopped the run early.
pub const THRESHOLDS_FAILED: u8 = 1;
/// Usage error or invalid scenario file (clap also uses 2 for bad arguments).
pub const INVALID: u8 = 2;
/// Runtime failure: the target was unreachable for the whole run, or the engine could not run.
pub const RUNTIME_FAILURE: u8 = 3;
/// Stopped by Ctrl-C: the summary and `--out` file are still written.
pub const INTERRUPTED: u8 = 130;
