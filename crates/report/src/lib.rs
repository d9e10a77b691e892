//! Human-readable renderings of a [`RunResult`]. The JSON result is the source of every report.

mod terminal;
mod units;

pub use terminal::terminal_summary;
pub use units::{format_bytes, format_count, format_duration_s};
