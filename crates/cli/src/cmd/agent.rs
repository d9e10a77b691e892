//! `stampede agent`: connects to a controller and runs the shares it assigns on the engine.

use crate::args::AgentArgs;
use crate::dist::{read_token, runner::EngineRunner};
use crate::exit;
use stampede_agent::{AgentConfig, AgentError, AgentEvent, run_agent};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub async fn agent(args: AgentArgs) -> anyhow::Result<u8> {
    let token = match (&args.token_file, &args.token) {
        (Some(file), _) => read_token(file)?,
        (None, Some(token)) => token.clone(),
        (None, None) => {
            eprintln!("error: give the controller's token with --token-file FILE");
            return Ok(exit::INVALID);
        }
    };
    let id = args.id.clone().unwrap_or_else(default_id);
    let mut config = AgentConfig::new(args.controller.clone(), token, id.clone());
    config.tls = match crate::dist::tls::for_url(&args.controller, &args.tls.files()) {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::INVALID);
        }
    };
    if let Some(users) = args.capacity_users {
        config.capacity_users = users;
    }
    config.labels = args.labels.iter().cloned().collect();
    let shutdown = CancellationToken::new();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let agent = tokio::spawn(run_agent(
        config,
        Arc::new(EngineRunner),
        Some(events_tx),
        shutdown.clone(),
    ));
    let exit_on_disconnect = args.exit_on_disconnect;
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let mut connected = false;
        while let Some(event) = events.recv().await {
            match &event {
                AgentEvent::Connected { .. } => {
                    connected = true;
                    eprintln!("agent {id}: connected to the controller");
                }
                AgentEvent::Disconnected { reason } => {
                    eprintln!("agent {id}: disconnected: {reason}");
                    if exit_on_disconnect && connected {
                        stop.cancel();
                    }
                }
                AgentEvent::DeadManSwitch {
                    silent_for,
                    cancelled_runs,
                } => eprintln!(
                    "agent {id}: no word from the controller for {:.1} s: stopped {cancelled_runs:?}",
                    silent_for.as_secs_f64()
                ),
                other => tracing::info!(?other, "agent event"),
            }
        }
    });
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            shutdown.cancel();
        }
    });
    let result = agent.await?;
    ctrl_c.abort();
    match result {
        Ok(()) => Ok(exit::OK),
        Err(e @ (AgentError::Unauthenticated(_) | AgentError::InvalidToken)) => {
            eprintln!("error: {e}: use a token listed in the controller's --token-file");
            Ok(exit::INVALID)
        }
        Err(e @ AgentError::Tls(_)) => {
            eprintln!("error: {e}");
            Ok(exit::INVALID)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit::RUNTIME_FAILURE)
        }
    }
}

fn default_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "agent".to_owned());
    format!("{host}-{}", std::process::id())
}
