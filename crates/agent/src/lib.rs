//! A Stampede agent: dials the controller, registers, heartbeats, answers clock probes, hands
//! assigned runs to a [`Runner`] (the load engine, wired in by the binary), forwards its reports,
//! and reconnects with backoff when the session is lost.
//!
//! **Dead man's switch.** An agent generating load must never outlive its controller's control:
//! if nothing at all arrives from the controller for [`AgentConfig::dead_man_timeout`] (default
//! 5 s; the controller pings every second), every running load is cancelled through its
//! `CancellationToken` — whether the session is still open but silent, broken, or the agent is
//! between reconnection attempts. The controller declares a silent agent gone after 3 s and
//! re-assigns its share, so by the time an agent cuts its load the share already runs elsewhere:
//! load is never doubled for long, and never runs unattended.

mod deadman;
pub mod diagnose;
mod session;

use stampede_metrics::Snapshot;
use stampede_proto::pb;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use session::run_agent;

/// How an agent connects and what it offers.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The controller's URL, e.g. `http://controller:7070`.
    pub controller: String,
    /// Bearer token (one of the controller's agent tokens).
    pub token: String,
    /// Unique id of this agent (e.g. the pod or host name).
    pub agent_id: String,
    /// This agent's software version.
    pub version: String,
    /// The wire protocol version announced; always [`stampede_proto::PROTOCOL_VERSION`] except in
    /// compatibility tests.
    pub protocol_version: u32,
    pub cores: u32,
    pub capacity_users: u32,
    pub capacity_connections: u32,
    pub labels: BTreeMap<String, String>,
    /// Silence from the controller after which running load is cancelled.
    pub dead_man_timeout: Duration,
    /// Heartbeat interval until the controller says otherwise (`Registered`).
    pub heartbeat_interval: Duration,
    /// Time allowed to open the connection.
    pub connect_timeout: Duration,
    /// Delay before the first reconnection attempt; doubled after each failure up to
    /// `max_backoff`, reset after a session that registered.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// TLS settings for an `https://` controller URL (trusted CAs, client certificate); with
    /// `None` an `https://` URL trusts no CA, so every certificate is refused. Ignored for
    /// `http://` URLs.
    pub tls: Option<tonic::transport::ClientTlsConfig>,
}

impl AgentConfig {
    /// A configuration with the defaults: dead man's switch after 5 s, backoff 200 ms → 10 s.
    pub fn new(
        controller: impl Into<String>,
        token: impl Into<String>,
        agent_id: impl Into<String>,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        AgentConfig {
            controller: controller.into(),
            token: token.into(),
            agent_id: agent_id.into(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_version: stampede_proto::PROTOCOL_VERSION,
            cores,
            capacity_users: 10_000 * cores,
            capacity_connections: 20_000 * cores,
            labels: BTreeMap::new(),
            dead_man_timeout: Duration::from_secs(5),
            heartbeat_interval: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(5),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            tls: None,
        }
    }
}

/// Runs what the controller assigns. Implemented by the binary on top of the engine.
pub trait Runner: Send + Sync + 'static {
    /// Starts `assign` (its included files already verified) and returns at once. The run must
    /// stop promptly when `cancel` fires, and report through `reports`: snapshots while it runs,
    /// then exactly one [`Reports::finished`].
    fn start(&self, assign: pb::Assign, cancel: CancellationToken, reports: Reports);
}

/// Where a run sends its measurements; they are forwarded on whichever session is current.
#[derive(Clone, Debug)]
pub struct Reports {
    tx: mpsc::Sender<pb::AgentMessage>,
}

/// The agent is no longer running (the report could not be queued).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the agent has stopped")]
pub struct AgentStopped;

/// A snapshot that cannot be encoded (not expected from the engine's histograms).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Encode(#[from] stampede_proto::SnapshotError),
    #[error(transparent)]
    Stopped(#[from] AgentStopped),
}

impl Reports {
    /// Queues one interval snapshot of `run_id`. Waits while the queue is full (e.g. while
    /// reconnecting): the dead man's switch bounds how long.
    pub async fn snapshot(&self, run_id: &str, snapshot: &Snapshot) -> Result<(), ReportError> {
        let wire = stampede_proto::snapshot_to_wire(run_id, snapshot)?;
        self.send(pb::agent_message::Kind::Snapshot(wire)).await?;
        Ok(())
    }

    /// Reports that the run ended; no snapshot of it may follow.
    pub async fn finished(
        &self,
        run_id: &str,
        reason: pb::FinishReason,
        message: impl Into<String>,
    ) -> Result<(), AgentStopped> {
        let finished = pb::RunFinished {
            run_id: run_id.to_owned(),
            reason: reason as i32,
            message: message.into(),
        };
        self.send(pb::agent_message::Kind::RunFinished(finished))
            .await
    }

    async fn send(&self, kind: pb::agent_message::Kind) -> Result<(), AgentStopped> {
        let m = pb::AgentMessage { kind: Some(kind) };
        self.tx.send(m).await.map_err(|_| AgentStopped)
    }
}

/// What the agent does, for logs and tests.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentEvent {
    Connected {
        controller_version: String,
        heartbeat_interval: Duration,
    },
    /// The controller refused the registration; `retry` says whether the agent tries again.
    Refused {
        reason: String,
        retry: bool,
    },
    Disconnected {
        reason: String,
    },
    Assigned {
        run_id: String,
    },
    /// A run was refused before starting (e.g. an included file failed its checksum).
    AssignRejected {
        run_id: String,
        reason: String,
    },
    Stopped {
        run_id: String,
        reason: String,
    },
    /// The dead man's switch fired: these runs were cancelled.
    DeadManSwitch {
        silent_for: Duration,
        cancelled_runs: Vec<String>,
    },
}

/// Why the agent stopped for good (transient failures are retried, never returned).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("invalid controller URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("the token cannot be sent as gRPC metadata (it must be visible ASCII)")]
    InvalidToken,
    #[error("the controller rejected the agent's token: {0}")]
    Unauthenticated(String),
    #[error("the controller refused the agent: {0}")]
    Refused(String),
    /// TLS is misconfigured on one side (plain and TLS mixed, untrusted certificate, missing
    /// client certificate); fatal until the agent has registered once, retried afterwards.
    #[error("{0}")]
    Tls(String),
}
