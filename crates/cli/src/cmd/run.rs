//! `stampede run FILE`: load the scenario, run it locally, print the summary, write the JSON.

use crate::args::{DistributedArgs, LoadOverrides, OutputArgs, RunArgs};
use crate::cmd::report::Reporting;
use crate::dist::client::{Remote, run_remote};
use crate::dist::cluster::LocalCluster;
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
    let file = args.file.display().to_string();
    let d = &args.distributed;
    if d.controller.is_none() && d.agents.is_none() {
        return execute(loaded, &file, &args.output).await;
    }
    let source = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let bundle = match crate::dist::bundle::pack(&args.file, &loaded.files) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let mut remote = Remote {
        controller: String::new(),
        token: String::new(),
        source,
        overrides,
        thresholds: args.output.thresholds.clone(),
        min_agents: d.min_agents,
        wait_agents: d.wait_agents,
        bundle,
        on_agent_loss: d.on_agent_loss,
        agent_labels: d.agent_labels.clone(),
        tls: d.tls.files(),
    };
    // Kept alive (its agent processes running) until the run is over.
    let _cluster = match d {
        DistributedArgs {
            controller: Some(url),
            token_file,
            ..
        } => {
            let Some(token_file) = token_file else {
                eprintln!(
                    "error: --controller needs --token-file FILE (a token the controller accepts)"
                );
                return Ok(exit::INVALID);
            };
            remote.controller = url.clone();
            remote.token = crate::dist::read_token(token_file)?;
            None
        }
        DistributedArgs {
            agents: Some(n), ..
        } => {
            let cluster = LocalCluster::start(*n).await?;
            remote.controller = cluster.api_url.clone();
            remote.token = cluster.token.clone();
            remote.min_agents = *n;
            Some(cluster)
        }
        _ => None,
    };
    execute_on(loaded, &file, &args.output, Some(&remote)).await
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
        env: load.env.clone(),
    }
}

/// Runs a loaded plan locally and reports on it: shared by `run` and `demo`.
pub async fn execute(
    loaded: Loaded,
    scenario_file: &str,
    output: &OutputArgs,
) -> anyhow::Result<u8> {
    execute_on(loaded, scenario_file, output, None).await
}

/// Runs a loaded plan, locally or on a controller's agents (`remote`), and reports on it: both
/// produce a `RunResult` from the same aggregation, so the summary, files and exit codes match.
async fn execute_on(
    mut loaded: Loaded,
    scenario_file: &str,
    output: &OutputArgs,
    remote: Option<&Remote>,
) -> anyhow::Result<u8> {
    for w in &loaded.warnings {
        eprintln!("warning: {scenario_file} ({}): {}", w.path, w.message);
    }
    let flags = &output.thresholds;
    match crate::thresholds::add_flags(&mut loaded.plan, flags, scenario_file) {
        Ok(warnings) => {
            for w in warnings {
                let hint = w.hint.map(|h| format!(" ({h})")).unwrap_or_default();
                eprintln!("warning: {}: {}{hint}", w.path, w.message);
            }
        }
        Err(d) => {
            eprint!("{}", d.render(std::io::stderr().is_terminal()));
            return Ok(exit::INVALID);
        }
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
    let mut result = match remote {
        None => local::run_local(setup).await?,
        Some(remote) => {
            run_remote(
                remote,
                &setup.plan,
                scenario_file,
                setup.seed,
                setup.progress,
            )
            .await?
        }
    };
    reporting.check_baseline(&mut result);
    print!("{}", stampede_report::terminal_summary(&result));
    // Distributed runs: what happened to the agents belongs in the summary.
    for e in result
        .events
        .iter()
        .filter(|e| e.kind.starts_with("agent_"))
    {
        println!("Agent event at {:.1} s: {}", e.second, e.message);
    }
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
