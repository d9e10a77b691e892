//! Which report to write, chosen by name (`--format`) or by the output file's extension, and the
//! files each format produces. Rendering is pure: the caller writes the files.

use crate::csv::{custom_csv, custom_path, requests_csv, timeline_csv, timeline_path};
use crate::html::html_report;
use crate::junit::junit_report;
use crate::markdown::markdown_report;
use stampede_metrics::RunResult;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A report format of `stampede report` and `--report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Html,
    Junit,
    Markdown,
    Csv,
}

/// The extensions that select a format, for error messages.
pub const KNOWN_EXTENSIONS: &str = ".html/.htm (html), .xml (junit), .md (markdown), .csv (csv)";

impl ReportFormat {
    /// The format an output file's extension implies, if any (case-insensitive).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "html" | "htm" => Some(ReportFormat::Html),
            "xml" => Some(ReportFormat::Junit),
            "md" | "markdown" => Some(ReportFormat::Markdown),
            "csv" => Some(ReportFormat::Csv),
            _ => None,
        }
    }

    /// `html`, `junit`, `markdown` or `csv`.
    pub fn name(self) -> &'static str {
        match self {
            ReportFormat::Html => "html",
            ReportFormat::Junit => "junit",
            ReportFormat::Markdown => "markdown",
            ReportFormat::Csv => "csv",
        }
    }
}

impl FromStr for ReportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "html" => Ok(ReportFormat::Html),
            "junit" | "xml" => Ok(ReportFormat::Junit),
            "markdown" | "md" => Ok(ReportFormat::Markdown),
            "csv" => Ok(ReportFormat::Csv),
            other => Err(format!(
                "unknown report format `{other}`: use html, junit, markdown or csv"
            )),
        }
    }
}

/// One file to write.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportFile {
    pub path: PathBuf,
    pub contents: String,
}

/// The files of one report written to `path`. CSV gives two or three: the per-request stats at
/// `path`, the timeline next to it (`stats.csv` → `stats_timeline.csv`) and, when the run
/// recorded custom metrics, those (`stats_custom.csv`).
pub fn render(result: &RunResult, format: ReportFormat, path: &Path) -> Vec<ReportFile> {
    let file = |contents: String| ReportFile {
        path: path.to_owned(),
        contents,
    };
    match format {
        ReportFormat::Html => vec![file(html_report(result))],
        ReportFormat::Junit => vec![file(junit_report(result))],
        ReportFormat::Markdown => vec![file(markdown_report(result))],
        ReportFormat::Csv => {
            let mut files = vec![
                file(requests_csv(result)),
                ReportFile {
                    path: timeline_path(path),
                    contents: timeline_csv(result),
                },
            ];
            if !result.custom_metrics.is_empty() {
                files.push(ReportFile {
                    path: custom_path(path),
                    contents: custom_csv(result),
                });
            }
            files
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample;

    #[test]
    fn extensions_and_names_select_formats() {
        assert_eq!(
            ReportFormat::from_path(Path::new("r.HTML")),
            Some(ReportFormat::Html)
        );
        assert_eq!(
            ReportFormat::from_path(Path::new("r.htm")),
            Some(ReportFormat::Html)
        );
        assert_eq!(
            ReportFormat::from_path(Path::new("junit.xml")),
            Some(ReportFormat::Junit)
        );
        assert_eq!(
            ReportFormat::from_path(Path::new("s.md")),
            Some(ReportFormat::Markdown)
        );
        assert_eq!(
            ReportFormat::from_path(Path::new("s.csv")),
            Some(ReportFormat::Csv)
        );
        assert_eq!(ReportFormat::from_path(Path::new("s.pdf")), None);
        assert_eq!(ReportFormat::from_path(Path::new("noext")), None);
        assert_eq!("JUnit".parse(), Ok(ReportFormat::Junit));
        assert!(
            "pdf"
                .parse::<ReportFormat>()
                .unwrap_err()
                .contains("html, junit")
        );
    }

    #[test]
    fn csv_renders_two_files_and_a_third_with_custom_metrics() {
        let mut r = sample();
        let files = render(&r, ReportFormat::Csv, Path::new("out/s.csv"));
        let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
        assert_eq!(
            paths,
            [
                Path::new("out/s.csv"),
                Path::new("out/s_timeline.csv"),
                Path::new("out/s_custom.csv")
            ]
        );
        assert!(files[1].contents.starts_with("second,"));
        assert!(files[2].contents.starts_with("name,kind,"));
        r.custom_metrics.clear();
        let files = render(&r, ReportFormat::Csv, Path::new("out/s.csv"));
        assert_eq!(files.len(), 2, "no custom metrics, no third file");
    }
}
