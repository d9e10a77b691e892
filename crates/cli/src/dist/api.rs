//! The controller's two ports: the agent service (agents dial it) and the run API
//! (`stampede run --controller` submits to it), both requiring a bearer token, both served over
//! TLS (optionally requiring client certificates) when [`Security::tls`] is set. Submitted runs
//! are checked against the target allow-list before the run manager sees them.

use super::manager::{Manager, RunSpec};
use stampede_controller::allow::AllowList;
use stampede_controller::auth::Tokens;
use stampede_controller::grpc::{Controller, ServiceConfig};
use stampede_proto::pb::run_service_server::{RunService, RunServiceServer};
use stampede_proto::pb::{self};
use stampede_proto::{AUTHORIZATION, overrides_from_wire};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// A controller serving on its two ports.
pub struct Running {
    pub agents_addr: SocketAddr,
    pub api_addr: SocketAddr,
    pub servers: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// What protects the ports besides tokens.
#[derive(Debug, Default)]
pub struct Security {
    /// TLS for both ports (and client-certificate checking when it names a client CA).
    pub tls: Option<tonic::transport::ServerTlsConfig>,
    /// Targets runs may send load to; empty allows every target.
    pub allow: AllowList,
}

/// Binds both ports and serves until `shutdown` fires (plain HTTP/2, every target allowed).
pub async fn serve(
    listen: SocketAddr,
    api: SocketAddr,
    tokens: Tokens,
    data_dir: PathBuf,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let security = Security::default();
    serve_secure(listen, api, tokens, data_dir, security, shutdown).await
}

/// Binds both ports and serves until `shutdown` fires, with `security`.
pub async fn serve_secure(
    listen: SocketAddr,
    api: SocketAddr,
    tokens: Tokens,
    data_dir: PathBuf,
    security: Security,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    use anyhow::Context;
    let builder = || match &security.tls {
        Some(tls) => (tonic::transport::Server::builder().tls_config(tls.clone()))
            .context("the TLS certificate and key cannot be served"),
        None => Ok(tonic::transport::Server::builder()),
    };
    let (mut agent_builder, mut api_builder) = (builder()?, builder()?);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let agents_listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the agent port {listen}"))?;
    let api_listener = TcpListener::bind(api)
        .await
        .with_context(|| format!("binding the API port {api}"))?;
    let agents_addr = agents_listener.local_addr()?;
    let api_addr = api_listener.local_addr()?;
    let config = ServiceConfig::new(tokens.clone(), env!("CARGO_PKG_VERSION"));
    let (controller, events) = Controller::start(config);
    let manager = Manager::start(controller.clone(), events, data_dir);
    let api_service = RunServiceServer::new(Api {
        manager,
        tokens,
        allow: Arc::new(security.allow),
    })
    .accept_compressed(CompressionEncoding::Gzip)
    .send_compressed(CompressionEncoding::Gzip)
    .max_decoding_message_size(stampede_proto::MAX_MESSAGE_BYTES);
    let agent_server = agent_builder
        .add_service(controller.service())
        .serve_with_incoming_shutdown(
            TcpListenerStream::new(agents_listener),
            shutdown.clone().cancelled_owned(),
        );
    let api_server = api_builder
        .add_service(api_service)
        .serve_with_incoming_shutdown(
            TcpListenerStream::new(api_listener),
            shutdown.cancelled_owned(),
        );
    let servers = tokio::spawn(async move {
        let (a, b) = tokio::join!(agent_server, api_server);
        a.context("agent port")?;
        b.context("API port")?;
        Ok(())
    });
    Ok(Running {
        agents_addr,
        api_addr,
        servers,
    })
}

struct Api {
    manager: Arc<Manager>,
    tokens: Tokens,
    allow: Arc<AllowList>,
}

/// Refuses `spec` when a host it sends requests to is not on `allow` (`PermissionDenied`),
/// before the manager runs `setup` or assigns anything. The scenario is loaded here a second
/// time (the manager loads it again) so the manager stays unaware of the allow-list; this only
/// happens when an allow-list is configured.
fn check_targets(allow: &AllowList, spec: &RunSpec) -> Result<(), Status> {
    if allow.is_empty() {
        return Ok(());
    }
    let (loaded, _files) = super::bundle::load(
        &spec.source,
        &spec.file_name,
        &spec.scenario_path,
        &spec.files,
        &spec.overrides,
    )
    .map_err(Status::invalid_argument)?;
    allow.check_plan(&loaded.plan).map_err(|refusal| {
        tracing::warn!(file = %spec.file_name, reason = %refusal, "run refused by the target allow-list");
        Status::permission_denied(refusal.message)
    })
}

impl Api {
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let header = request.metadata().get(AUTHORIZATION);
        let header = header.map(|v| v.to_str().unwrap_or_default());
        (self.tokens.verify_bearer(header)).map_err(|e| Status::unauthenticated(e.to_string()))
    }
}

#[tonic::async_trait]
impl RunService for Api {
    type SubmitStream = ReceiverStream<Result<pb::RunUpdate, Status>>;

    async fn submit(
        &self,
        request: Request<pb::RunRequest>,
    ) -> Result<Response<Self::SubmitStream>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        let on_agent_loss = r.on_agent_loss.parse().map_err(Status::invalid_argument)?;
        let spec = RunSpec {
            source: r.scenario_source,
            file_name: r.file_name,
            overrides: r
                .overrides
                .as_ref()
                .map(overrides_from_wire)
                .unwrap_or_default(),
            thresholds: r.thresholds,
            seed: r.seed,
            min_agents: r.min_agents,
            wait_agents: Duration::from_millis(r.wait_agents_ms.min(600_000)),
            files: r.files,
            scenario_path: r.scenario_path,
            on_agent_loss,
            agent_labels: r.agent_labels.into_iter().collect(),
        };
        let allow = self.allow.clone();
        let checked =
            tokio::task::spawn_blocking(move || check_targets(&allow, &spec).map(|()| spec));
        let spec = checked
            .await
            .map_err(|e| Status::internal(format!("the allow-list check failed: {e}")))??;
        let (tx, rx) = mpsc::channel(256);
        self.manager.submit(spec, tx).await?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn stop(
        &self,
        request: Request<pb::StopRun>,
    ) -> Result<Response<pb::StopRunReply>, Status> {
        self.authorize(&request)?;
        let run_id = request.into_inner().run_id;
        if self.manager.stop(&run_id) {
            Ok(Response::new(pb::StopRunReply {}))
        } else {
            Err(Status::not_found(format!(
                "no run {run_id:?} is in progress"
            )))
        }
    }
}
