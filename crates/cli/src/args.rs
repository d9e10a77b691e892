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
    Run(Box<RunArgs>),
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
    /// Serve distributed runs: agents connect to `--listen`, `run --controller` submits to `--api`.
    Controller(ControllerArgs),
    /// Generate load for a controller (dials it; needs no inbound port).
    Agent(AgentArgs),
}

#[derive(Args, Debug)]
pub struct ControllerArgs {
    /// Address agents connect to.
    #[arg(long, default_value = "127.0.0.1:7600")]
    pub listen: std::net::SocketAddr,
    /// Address `stampede run --controller` submits runs to.
    #[arg(long, default_value = "127.0.0.1:7601")]
    pub api: std::net::SocketAddr,
    /// File of accepted tokens (one per line, at least 16 characters, `#` comments), for both ports.
    #[arg(long, value_name = "FILE")]
    pub token_file: PathBuf,
    /// Where finished runs are written, as `<run-id>.json`.
    #[arg(long, value_name = "DIR", default_value = "stampede-data")]
    pub data_dir: PathBuf,
    /// PEM certificate (chain) of the controller: serve TLS on both ports (with --tls-key);
    /// agents and `run --controller` then dial `https://` URLs.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificate(s): both ports require a client certificate signed by one (mutual TLS).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Only allow runs whose hosts match: a name (`localhost`), `*.domain`, an IP or CIDR
    /// (`10.0.0.0/8`, `::1/128`), optionally `:port` (repeatable; names are not resolved).
    #[arg(long = "allow-target", value_name = "PATTERN")]
    pub allow_targets: Vec<String>,
    /// File of --allow-target patterns, one per line (`#` comments); repeatable.
    #[arg(long = "allow-targets-file", value_name = "FILE")]
    pub allow_targets_files: Vec<PathBuf>,
}

/// TLS settings of a side that dials the controller (`agent`, `run --controller`).
#[derive(Args, Debug, Default, Clone)]
pub struct DialTlsArgs {
    /// PEM CA certificate(s) to trust for an https:// controller URL, instead of the built-in
    /// public roots.
    #[arg(long, value_name = "FILE", requires = "controller")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for a controller started with --client-ca (with --tls-key).
    #[arg(
        long = "tls-cert",
        value_name = "FILE",
        requires = "client_key",
        requires = "controller"
    )]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long = "tls-key", value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

impl DialTlsArgs {
    /// The files, for [`crate::dist::tls`].
    pub fn files(&self) -> crate::dist::tls::ClientFiles {
        crate::dist::tls::ClientFiles {
            ca_file: self.ca_file.clone(),
            identity: self.client_cert.clone().zip(self.client_key.clone()),
        }
    }
}

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// The controller's agent port, e.g. `http://10.0.0.5:7600` (`https://` when it uses TLS).
    #[arg(long, value_name = "URL")]
    pub controller: String,
    /// File holding the token (its first token is used).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The token itself (prefer --token-file: command lines are visible to other users).
    #[arg(
        long,
        env = "STAMPEDE_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// Unique name of this agent; `<hostname>-<pid>` by default.
    #[arg(long)]
    pub id: Option<String>,
    /// Most virtual users this agent accepts (default: 10,000 per core).
    #[arg(long, value_name = "N")]
    pub capacity_users: Option<u32>,
    /// A label for placement (`KEY=VALUE`, e.g. `region=eu`); runs can ask for agents by label
    /// with `stampede run --agent-label`. Repeat for several.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Exit once the session to the controller is lost (used by `run --agents`).
    #[arg(long, hide = true)]
    pub exit_on_disconnect: bool,
    #[command(flatten)]
    pub tls: DialTlsArgs,
}

/// Where a run executes, when not in this process.
#[derive(Args, Debug, Default, Clone)]
pub struct DistributedArgs {
    /// Submit the run to a controller's API, e.g. `http://127.0.0.1:7601` (`https://` when it
    /// uses TLS).
    #[arg(long, value_name = "URL", conflicts_with = "agents")]
    pub controller: Option<String>,
    /// Token file for --controller (its first token is used).
    #[arg(long, value_name = "FILE", requires = "controller")]
    pub token_file: Option<PathBuf>,
    /// Run on N local agent processes through an in-process controller.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub agents: Option<u32>,
    /// With --controller: wait for at least N agents to be connected (default 1).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_agents: u32,
    /// How long to wait for --min-agents agents, e.g. `30s`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub wait_agents: Duration,
    /// What to do when an agent is lost mid-run: `rebalance` its share onto the survivors
    /// (within their capacity), `continue` without it, or `abort` the run.
    #[arg(long, value_name = "POLICY", default_value = "rebalance", value_parser = parse_loss_policy)]
    pub on_agent_loss: crate::dist::loss::LossPolicy,
    /// Run only on agents with this label (`KEY=VALUE`, as given to `stampede agent --label`);
    /// repeat for several.
    #[arg(long = "agent-label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub agent_labels: Vec<(String, String)>,
    #[command(flatten)]
    pub tls: DialTlsArgs,
}

/// `KEY=VALUE`, for labels.
pub fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("expected KEY=VALUE (e.g. region=eu), got {s:?}")),
    }
}

fn parse_loss_policy(s: &str) -> Result<crate::dist::loss::LossPolicy, String> {
    s.parse()
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
    /// Run against this environment of the file's `environments` (its target, headers and
    /// variables replace the file's).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
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
    #[command(flatten)]
    pub distributed: DistributedArgs,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The scenario file (YAML).
    pub file: PathBuf,
    /// Output format of the diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Validate with this environment of the file's `environments` applied.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
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
    /// The scenario file format (for editors: yaml-language-server)
    Scenario,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    stampede_scenario::parse_rate(s)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    stampede_scenario::parse_duration(s)
}
