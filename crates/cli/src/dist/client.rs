//! `stampede run --controller URL`: submits the run to a controller and follows it, showing the
//! same progress line as a local run. The result is computed by the controller with the same
//! [`Aggregator`] a local run uses, and comes back as the same `RunResult` JSON.

use crate::progress::Progress;
use anyhow::{Context, bail};
use stampede_agent::diagnose::{chain, explain};
use stampede_metrics::RunResult;
use stampede_proto::pb::run_service_client::RunServiceClient;
use stampede_proto::pb::{self, run_update::Kind as Update};
use stampede_proto::{AUTHORIZATION, overrides_to_wire, snapshot_from_wire};
use stampede_scenario::{Overrides, Plan};
use std::time::Duration;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;
use tonic::{Code, Request};

/// Where to submit a run, and what travels with it.
#[derive(Clone, Debug)]
pub struct Remote {
    pub controller: String,
    pub token: String,
    pub source: String,
    pub overrides: Overrides,
    pub thresholds: Vec<String>,
    pub min_agents: u32,
    pub wait_agents: Duration,
    /// The files the scenario uses, shipped to the agents.
    pub bundle: super::bundle::Bundle,
    /// What the controller does when an agent is lost.
    pub on_agent_loss: super::loss::LossPolicy,
    /// Run only on agents with all these labels.
    pub agent_labels: Vec<(String, String)>,
    /// TLS files for an `https://` controller URL.
    pub tls: super::tls::ClientFiles,
}

fn authorized<T>(message: T, token: &str) -> anyhow::Result<Request<T>> {
    let mut request = Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {token}"))
        .context("the token must be visible ASCII")?;
    request.metadata_mut().insert(AUTHORIZATION, value);
    Ok(request)
}

/// Submits the run and follows it to its result.
pub async fn run_remote(
    remote: &Remote,
    plan: &Plan,
    scenario_file: &str,
    seed: u64,
    show_progress: bool,
) -> anyhow::Result<RunResult> {
    let url = &remote.controller;
    let mut endpoint = Endpoint::from_shared(url.clone())
        .with_context(|| format!("invalid controller URL {url:?}"))?
        .connect_timeout(Duration::from_secs(5));
    if let Some(tls) = super::tls::for_url(url, &remote.tls)? {
        endpoint = endpoint.tls_config(tls).map_err(|e| {
            anyhow::anyhow!("the TLS settings cannot be used for {url}: {}", chain(&e))
        })?;
    }
    let channel = match endpoint.connect().await {
        Ok(c) => c,
        Err(e) => bail!(
            "cannot reach the controller's API at {url}: {}",
            explain(url, &e)
        ),
    };
    let mut client = RunServiceClient::new(channel)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let request = pb::RunRequest {
        scenario_source: remote.source.clone(),
        file_name: scenario_file.to_owned(),
        overrides: Some(overrides_to_wire(&remote.overrides)),
        thresholds: remote.thresholds.clone(),
        seed,
        min_agents: remote.min_agents,
        wait_agents_ms: u64::try_from(remote.wait_agents.as_millis()).unwrap_or(u64::MAX),
        files: remote.bundle.files.clone(),
        scenario_path: remote.bundle.scenario_path.clone(),
        on_agent_loss: remote.on_agent_loss.to_string(),
        agent_labels: remote.agent_labels.iter().cloned().collect(),
    };
    let mut stream = match client.submit(authorized(request, &remote.token)?).await {
        Ok(r) => r.into_inner(),
        Err(s) if s.code() == Code::Unauthenticated => bail!(
            "the controller at {url} refused the token ({}): use a token listed in the \
             controller's --token-file",
            s.message()
        ),
        Err(s) if stampede_proto::refused_compression(&s) => bail!(
            "the controller at {url} does not accept compressed messages, so it runs an older \
             Stampede release than this one ({}); submit with the controller's release",
            env!("CARGO_PKG_VERSION")
        ),
        Err(s) if s.code() == Code::PermissionDenied => {
            bail!("the controller refused the run: {}", s.message())
        }
        // A transport failure (the status has a source): the whole chain, with a TLS hint.
        Err(s) if std::error::Error::source(&s).is_some() => bail!(
            "cannot submit to the controller at {url}: {}",
            explain(url, &s)
        ),
        Err(s) => bail!("the controller refused the run: {}", s.message()),
    };
    let mut live = crate::aggregate::for_plan(plan);
    let mut progress = Progress::new(show_progress, plan.duration());
    let mut run_id = None;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    let result = loop {
        tokio::select! {
            message = stream.message() => match message {
                Ok(Some(pb::RunUpdate { kind: Some(kind) })) => match kind {
                    Update::Started(s) => {
                        progress.println(&format!("Run {} on {} agent(s): {}", s.run_id, s.agents.len(), s.agents.join(", ")));
                        run_id = Some(s.run_id);
                    }
                    Update::Snapshot(wire) => {
                        let snapshot = snapshot_from_wire(&wire).context("a merged snapshot from the controller")?;
                        live.ingest(&snapshot);
                        live.close_through(snapshot.second);
                        progress.update(&live.live());
                    }
                    Update::Note(n) => progress.println(&n.message),
                    Update::ResultJson(json) => {
                        break serde_json::from_str::<RunResult>(&json).context("the controller's result")?;
                    }
                },
                Ok(Some(_)) => {}
                Ok(None) => bail!("the controller ended the run without a result"),
                Err(s) if matches!(s.code(), Code::Unavailable | Code::Unknown | Code::Internal) => {
                    bail!("lost the controller during the run: {}", s.message())
                }
                Err(s) => bail!("the controller refused the run: {}", s.message()),
            },
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                progress.println("Stopping: waiting for the agents to drain (Ctrl-C again to quit at once)...");
                if let Some(id) = &run_id {
                    let stop = pb::StopRun { run_id: id.clone() };
                    let _ = client.stop(authorized(stop, &remote.token)?).await;
                }
                tokio::spawn(async {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        std::process::exit(i32::from(crate::exit::INTERRUPTED));
                    }
                });
            }
        }
    };
    progress.finish();
    Ok(result)
}
