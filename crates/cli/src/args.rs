//! Command-line arguments, as written. Values with units are parsed by the scenario crate's own
//! parsers so the command line and the YAML accept exactly the same forms.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "stampede",
    version,
    about = "Distributed load testing: describe your users, generate the load, learn whether the system held."
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario file against its target and print a summary.
    Run(RunArgs),
    /// Check a scenario file without running it (exit 0 valid, 2 invalid).
    Validate(ValidateArgs),
    /// Start a built-in sample shop on loopback and run a mixed scenario against it.
    Demo(DemoArgs),
    /// Print a JSON Schema.
    Schema(SchemaArgs),
    /// Render a result file (from `run --out`) as HTML, JUnit XML, Markdown or CSV.
    Report(crate::cmd::report::ReportArgs),
    /// Compare two result files request by request (informational: exits 0 on regressions).
    Compare(crate::cmd::compare::CompareArgs),
}

/// Load settings that override the scenario file.
#[derive(Args, Debug, Default, Clone)]
pub struct LoadOverrides {
    /// Number of concurrent virtual users (replaces the file's load with a flat level).
    #[arg(short, long)]
    pub users: Option<u32>,
    /// Users started per second while ramping up, e.g. `10/s`, `600/m` or `10`.
    #[arg(short = 'r', long, value_parser = parse_rate)]
    pub spawn_rate: Option<f64>,
    /// Total run time, e.g. `30s`, `5m`, `1h30m`.
    #[arg(short, long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many iterations in total (shared by every user), or the duration.
    #[arg(long, value_name = "N")]
    pub iterations: Option<u64>,
    /// Stop after this many requests in total, or the duration.
    #[arg(long, value_name = "N")]
    pub max_requests: Option<u64>,
}

/// Output settings shared by `run` and `demo`.
#[derive(Args, Debug, Default, Clone)]
pub struct OutputArgs {
    /// Write the full result as JSON to this file (see schemas/result.schema.json).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// No live progress line.
    #[arg(short, long)]
    pub quiet: bool,
    /// Seed for random choices (think times, start offsets); random when omitted.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A pass/fail threshold, added to the file's (repeatable): `latency.p95<300ms`,
    /// `error_rate<=1%`, `rps>=200`, `latency.p99[request=checkout]<800ms`. A failed one exits 1.
    #[arg(long = "threshold", value_name = "THRESHOLD")]
    pub thresholds: Vec<String>,
    #[command(flatten)]
    pub reporting: crate::cmd::report::ReportOptions,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The scenario file (YAML).
    pub file: PathBuf,
    /// Base URL of the system under test (overrides `target:` in the file).
    #[arg(short, long)]
    pub target: Option<String>,
    #[command(flatten)]
    pub load: LoadOverrides,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The scenario file (YAML).
    pub file: PathBuf,
    /// Output format of the diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    pub load: LoadOverrides,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Print the bundled demo scenario and exit.
    #[arg(long)]
    pub print_scenario: bool,
}

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Which schema to print.
    #[arg(value_enum, default_value_t = SchemaKind::Result)]
    pub kind: SchemaKind,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// The JSON result written by `run --out`.
    Result,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    stampede_scenario::parse_rate(s)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    stampede_scenario::parse_duration(s)
}
