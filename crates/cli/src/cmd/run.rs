//! `stampede run FILE`: load the scenario, run it locally, print the summary, write the JSON.

use crate::args::{LoadOverrides, OutputArgs, RunArgs};
use crate::cmd::report::Reporting;
use crate::exit;
use crate::local::{self, RunSetup};
use anyhow::Context;
use stampede_metrics::RunResult;
use stampede_metrics::result::RunStatus;
use stampede_scenario::{Loaded, Overrides, load_file};
use std::io::IsTerminal;
use std::path::Path;

pub async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let overrides = overrides(&args.load, args.target.clone());
    let loaded = match load_file(&args.file, &overrides) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            eprint!("{}", diagnostics.render(std::io::stderr().is_terminal()));
            return Ok(exit::INVALID);
        }
    };
    execute(loaded, &args.file.display().to_string(), &args.output).await
}

/// Builds the scenario overrides from the command line.
pub fn overrides(load: &LoadOverrides, target: Option<String>) -> Overrides {
    Overrides {
        users: load.users,
        spawn_rate: load.spawn_rate,
        duration: load.duration,
        target,
        iterations: load.iterations,
        max_requests: load.max_requests,
    }
}

/// Runs a loaded plan and reports on it: shared by `run` and `demo`.
pub async fn execute(
    mut loaded: Loaded,
    scenario_file: &str,
    output: &OutputArgs,
) -> anyhow::Result<u8> {
    for w in &loaded.warnings {
        eprintln!("warning: {scenario_file} ({}): {}", w.path, w.message);
    }
    let flags = &output.thresholds;
    if let Err(d) = crate::thresholds::add_flags(&mut loaded.plan, flags, scenario_file) {
        eprint!("{}", d.render(std::io::stderr().is_terminal()));
        return Ok(exit::INVALID);
    }
    let reporting = match Reporting::prepare(&output.reporting) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::INVALID);
        }
    };
    let setup = RunSetup {
        plan: loaded.plan.into(),
        scenario_file: scenario_file.to_owned(),
        seed: output.seed.unwrap_or_else(rand_seed),
        progress: !output.quiet,
    };
    let mut result = local::run_local(setup).await?;
    reporting.check_baseline(&mut result);
    print!("{}", stampede_report::terminal_summary(&result));
    if let Some(path) = &output.out {
        write_json(path, &result)?;
        eprintln!("Result written to {}", path.display());
    }
    let regressed = reporting.finish(&result)?;
    let code = exit_code(&result);
    Ok(if code == exit::OK && regressed {
        exit::REGRESSION
    } else {
        code
    })
}

/// 130 when interrupted, 1 when aborted by a threshold, 3 when no request got any response,
/// 1 when a threshold failed, else 0.
fn exit_code(result: &RunResult) -> u8 {
    let s = &result.summary;
    if result.run.status == RunStatus::Interrupted {
        exit::INTERRUPTED
    } else if result.run.status == RunStatus::Aborted {
        exit::THRESHOLDS_FAILED
    } else if s.requests > 0 && s.errors == s.requests {
        eprintln!("error: the target never answered: every request failed without a response");
        exit::RUNTIME_FAILURE
    } else if result.thresholds.iter().any(|t| !t.passed) {
        exit::THRESHOLDS_FAILED
    } else {
        exit::OK
    }
}

/// Writes atomically: a crash mid-write never leaves a truncated result behind.
fn write_json(path: &Path, result: &RunResult) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(result).context("serializing the result")?;
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

fn rand_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}
