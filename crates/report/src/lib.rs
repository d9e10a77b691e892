//! Human-readable renderings of a [`RunResult`]. The JSON result is the source of every report.

mod charts;
mod compare;
mod compare_render;
mod csv;
mod custom;
mod format;
mod html;
mod junit;
mod load;
mod markdown;
mod markup;
mod svg;
mod terminal;
#[cfg(test)]
#[path = "../tests/support/sample.rs"]
mod testdata;
mod thresholds;
mod units;
mod verdict;

pub use crate::csv::{
    CUSTOM_COLUMNS, REQUEST_COLUMNS, custom_csv, custom_path, requests_csv, timeline_csv,
    timeline_path,
};
pub use compare::{Comparison, Delta, Judgement, Metric, RowComparison, baseline_check, compare};
pub use compare_render::{compare_html, compare_markdown, compare_text};
pub use format::{KNOWN_EXTENSIONS, ReportFile, ReportFormat, render};
pub use html::html_report;
pub use junit::junit_report;
pub use load::{ResultError, parse_result};
pub use markdown::markdown_report;
pub use terminal::terminal_summary;
pub use thresholds::threshold_line;
pub use units::{format_bytes, format_count, format_duration_s};
pub use verdict::{Verdict, VerdictKind, verdict};
