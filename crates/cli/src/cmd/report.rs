//! `stampede report RESULT.json -o FILE`: render a saved result as HTML, JUnit XML, Markdown or
//! CSV; and the `--report FILE` / `--baseline FILE` options of `run` and `demo`, which do the same
//! (and the baseline gate) right after a run.

use crate::cmd::compare::{parse_percent, read_result};
use crate::exit;
use anyhow::Context;
use clap::Args;
use stampede_metrics::RunResult;
use stampede_report::{KNOWN_EXTENSIONS, ReportFormat, baseline_check, render};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A result file written by `stampede run --out`.
    pub result: PathBuf,
    /// html, junit, markdown or csv. Inferred from the extension of --out when omitted
    /// (.html/.htm, .xml, .md, .csv).
    #[arg(short, long, value_parser = parse_format)]
    pub format: Option<ReportFormat>,
    /// Where to write the report; standard output when omitted (then --format is required).
    /// CSV writes two files: FILE (per request) and FILE_timeline.csv (per second).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Report and baseline options of `run` and `demo`.
#[derive(Args, Debug, Default, Clone)]
pub struct ReportOptions {
    /// After the run, also write a report to FILE; the format comes from the extension:
    /// .html/.htm, .xml (JUnit), .md (Markdown), .csv. Repeatable.
    #[arg(long = "report", value_name = "FILE")]
    pub reports: Vec<PathBuf>,
    /// Compare with an earlier result (from --out): exit 1 if the p95 or p99 latency, the error
    /// rate or the failure rate of any request row in both got worse by more than
    /// --max-regression.
    #[arg(long, value_name = "RESULT.json")]
    pub baseline: Option<PathBuf>,
    /// Allowed regression against --baseline, e.g. `10%`.
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent, default_value = "10%")]
    pub max_regression: f64,
}

fn parse_format(s: &str) -> Result<ReportFormat, String> {
    s.parse()
}

/// The format for `path`: `--format` if given, else the extension's.
fn format_for(path: &Path, explicit: Option<ReportFormat>) -> anyhow::Result<ReportFormat> {
    if let Some(f) = explicit {
        return Ok(f);
    }
    ReportFormat::from_path(path).with_context(|| {
        format!(
            "cannot tell the report format of `{}` from its extension: use {KNOWN_EXTENSIONS}, or pass --format",
            path.display()
        )
    })
}

pub fn report(args: &ReportArgs) -> anyhow::Result<u8> {
    let result = match read_result(&args.result) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::INVALID);
        }
    };
    let Some(out) = &args.out else {
        let Some(format) = args.format else {
            eprintln!(
                "error: pass --format (html, junit, markdown or csv) to print a report, or -o FILE"
            );
            return Ok(exit::INVALID);
        };
        // CSV on standard output is the per-request table; the timeline needs -o.
        let files = render(&result, format, Path::new("-"));
        std::io::stdout()
            .write_all(files[0].contents.as_bytes())
            .context("writing to standard output")?;
        return Ok(exit::OK);
    };
    let format = match format_for(out, args.format) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::INVALID);
        }
    };
    write_report(&result, format, out)?;
    Ok(exit::OK)
}

/// Renders and writes one report, printing where each file went.
fn write_report(result: &RunResult, format: ReportFormat, path: &Path) -> anyhow::Result<()> {
    for file in render(result, format, path) {
        std::fs::write(&file.path, &file.contents)
            .with_context(|| format!("writing the report {}", file.path.display()))?;
        eprintln!(
            "Report ({}) written to {}",
            format.name(),
            file.path.display()
        );
    }
    Ok(())
}

/// The `--report` and `--baseline` options, checked before the run so a typo costs nothing.
#[derive(Debug, Default)]
pub struct Reporting {
    reports: Vec<(PathBuf, ReportFormat)>,
    baseline: Option<(String, RunResult)>,
    max_regression_pct: f64,
}

impl Reporting {
    /// Checks every report path (known extension, existing directory) and loads the baseline.
    /// An error here is a usage error: nothing has been sent yet.
    pub fn prepare(opts: &ReportOptions) -> anyhow::Result<Self> {
        let mut reports = Vec::new();
        for path in &opts.reports {
            let format = ReportFormat::from_path(path).with_context(|| {
                format!(
                    "--report {}: unknown extension; use {KNOWN_EXTENSIONS}",
                    path.display()
                )
            })?;
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            if let Some(dir) = dir.filter(|d| !d.is_dir()) {
                anyhow::bail!(
                    "--report {}: the directory {} does not exist",
                    path.display(),
                    dir.display()
                );
            }
            reports.push((path.clone(), format));
        }
        let baseline = match &opts.baseline {
            None => None,
            Some(path) => Some((
                path.display().to_string(),
                read_result(path).context("--baseline")?,
            )),
        };
        Ok(Reporting {
            reports,
            baseline,
            max_regression_pct: opts.max_regression,
        })
    }

    /// Compares the run with the baseline (if any) and records the outcome in the result.
    pub fn check_baseline(&self, result: &mut RunResult) {
        if let Some((file, base)) = &self.baseline {
            result.baseline = Some(baseline_check(base, result, file, self.max_regression_pct));
        }
    }

    /// Prints the baseline outcome and writes the reports. Returns true when the baseline
    /// comparison failed (exit code 1).
    pub fn finish(&self, result: &RunResult) -> anyhow::Result<bool> {
        let failed = match &result.baseline {
            Some(b) if self.baseline.is_some() => {
                print_baseline(b);
                !b.passed
            }
            _ => false,
        };
        for (path, format) in &self.reports {
            write_report(result, *format, path)?;
        }
        Ok(failed)
    }
}

fn print_baseline(b: &stampede_metrics::result::BaselineResult) {
    if b.compared_rows == 0 {
        eprintln!(
            "warning: --baseline {}: no request row of this run is in the baseline; nothing was compared",
            b.file
        );
        return;
    }
    if b.passed {
        eprintln!(
            "Baseline {}: no regression beyond {}% in {} compared row{}",
            b.file,
            short(b.max_regression_pct),
            b.compared_rows,
            if b.compared_rows == 1 { "" } else { "s" }
        );
        return;
    }
    eprintln!(
        "error: regressed against the baseline {} (allowed {}%):",
        b.file,
        short(b.max_regression_pct)
    );
    for r in &b.regressions {
        let unit = r.unit();
        eprintln!(
            "  {} / {} {}: {} {}{unit} → {}{unit} (+{}%)",
            r.scenario,
            r.method,
            r.name,
            r.metric,
            short(r.baseline),
            short(r.value),
            short(r.change_pct)
        );
    }
}

/// At most two decimals, no trailing zeros.
fn short(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
