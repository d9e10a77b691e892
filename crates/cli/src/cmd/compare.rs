//! `stampede compare BASE.json NEW.json`: per-request deltas between two results. Informational:
//! it exits 0 whether or not something regressed (use `run --baseline` to gate), 2 on bad input.

use crate::exit;
use anyhow::Context;
use clap::{Args, ValueEnum};
use stampede_metrics::RunResult;
use stampede_report::{compare, compare_html, compare_markdown, compare_text, parse_result};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The earlier result (from `run --out`).
    pub base: PathBuf,
    /// The result to compare with it.
    pub new: PathBuf,
    /// Output format; inferred from --out's extension (.md, .html) when omitted, else text.
    #[arg(long, value_enum)]
    pub format: Option<CompareFormat>,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Changes smaller than this are noise, not regressions, e.g. `5%`.
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent, default_value = "5%")]
    pub tolerance: f64,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareFormat {
    Text,
    Markdown,
    Html,
}

/// `10%`, `2.5%` or `10` → percent. Must be a finite number >= 0.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let number = s.trim().strip_suffix('%').unwrap_or(s.trim()).trim();
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a percentage: write a number >= 0 such as `10%` or `2.5%`"
        )),
    }
}

/// Reads and parses a result file; errors name the file, JSON path and line.
pub fn read_result(path: &Path) -> anyhow::Result<RunResult> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the result file {}", path.display()))?;
    Ok(parse_result(&bytes, &path.display().to_string())?)
}

pub fn compare_cmd(args: &CompareArgs) -> anyhow::Result<u8> {
    let (base, new) = match (read_result(&args.base), read_result(&args.new)) {
        (Ok(b), Ok(n)) => (b, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e:#}");
            return Ok(exit::INVALID);
        }
    };
    let c = compare(
        &base,
        &new,
        &args.base.display().to_string(),
        &args.new.display().to_string(),
        args.tolerance,
    );
    let inferred = args.out.as_deref().and_then(|p| {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Some(CompareFormat::Markdown),
            "html" | "htm" => Some(CompareFormat::Html),
            _ => None,
        }
    });
    let text = match args.format.or(inferred).unwrap_or(CompareFormat::Text) {
        CompareFormat::Text => compare_text(&c),
        CompareFormat::Markdown => compare_markdown(&c),
        CompareFormat::Html => compare_html(&c),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("Comparison written to {}", path.display());
            eprintln!("{}", c.verdict_line());
        }
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to standard output")?,
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse_with_or_without_the_sign() {
        assert_eq!(parse_percent("10%"), Ok(10.0));
        assert_eq!(parse_percent(" 2.5 % "), Ok(2.5));
        assert_eq!(parse_percent("0"), Ok(0.0));
        assert!(parse_percent("-5%").is_err());
        assert!(parse_percent("ten").unwrap_err().contains("`ten`"));
    }
}
