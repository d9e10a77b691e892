//! One simulated agent: the real agent's side of the `Session` protocol (as in
//! `crates/agent/src/session.rs`), with pre-built snapshots instead of a load engine.
//!
//! It dials the controller with its own HTTP/2 connection, sends `Register` with a capacity,
//! heartbeats every interval the controller asks for, answers every `ClockProbe` with a
//! `ClockReply`, and on `Assign` streams one snapshot per second of the run, at the end of each
//! second of the run's common start (as the engine does), then `RunFinished { COMPLETED }`. A
//! `Stop` ends the stream with `RunFinished { STOPPED }`. It never sends any HTTP request.

use crate::board::Board;
use crate::snapshots::{Prepared, gzip_len};
use anyhow::{Context, bail};
use prost::Message;
use stampede_proto::pb::agent_message::Kind as ToController;
use stampede_proto::pb::agent_service_client::AgentServiceClient;
use stampede_proto::pb::controller_message::Kind as FromController;
use stampede_proto::pb::{self, AgentMessage};
use stampede_proto::{AUTHORIZATION, PROTOCOL_VERSION};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Endpoint;

/// gRPC's length-prefixed message framing: 1 flag byte + 4 length bytes.
const GRPC_FRAMING: u64 = 5;

/// What every simulated agent shares.
#[derive(Debug)]
pub struct Fleet {
    /// The controller's agent port, e.g. `http://127.0.0.1:7600`.
    pub url: String,
    pub auth: MetadataValue<Ascii>,
    /// Users each agent accepts (`Register.capacity_users`).
    pub capacity: u32,
    /// Seconds of snapshots per run.
    pub seconds: u32,
    /// The snapshots to send, in turn.
    pub pool: Vec<Prepared>,
    pub board: Arc<Board>,
}

/// The run an agent is streaming.
struct Running {
    run_id: String,
    start: Instant,
    /// The next second to send.
    second: u32,
}

fn unix_ns() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// `unix_ns` (this machine's clock) as an `Instant`.
fn instant_at(unix: i64) -> Instant {
    let now = Instant::now();
    let ahead = unix.saturating_sub(unix_ns());
    if ahead >= 0 {
        now + Duration::from_nanos(ahead as u64)
    } else {
        now.checked_sub(Duration::from_nanos(ahead.unsigned_abs()))
            .unwrap_or(now)
    }
}

/// Sends `m`, counting its bytes.
async fn send(
    out: &mpsc::Sender<AgentMessage>,
    board: &Board,
    kind: ToController,
) -> anyhow::Result<()> {
    let m = AgentMessage { kind: Some(kind) };
    board.other(gzip_len(&m.encode_to_vec()) as u64 + GRPC_FRAMING);
    out.send(m)
        .await
        .context("the session's outbound stream closed")
}

/// Runs agent `index` until `shutdown` turns true. `registered` is told once the controller
/// accepted the registration. Errors name the agent.
pub async fn run(
    fleet: Arc<Fleet>,
    index: usize,
    registered: mpsc::Sender<()>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let id = format!("sim-{index:04}");
    session(&fleet, index, &id, registered, shutdown)
        .await
        .with_context(|| format!("simulated agent {id}"))
}

async fn session(
    fleet: &Fleet,
    index: usize,
    id: &str,
    registered: mpsc::Sender<()>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let board = &fleet.board;
    let channel = Endpoint::from_shared(fleet.url.clone())
        .with_context(|| format!("invalid controller URL {:?}", fleet.url))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("cannot connect to {}", fleet.url))?;
    let mut client = AgentServiceClient::new(channel)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(stampede_proto::MAX_MESSAGE_BYTES);
    let (out, out_rx) = mpsc::channel(64);
    let register = ToController::Register(pb::Register {
        agent_id: id.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol_version: PROTOCOL_VERSION,
        cores: 1,
        capacity_users: fleet.capacity,
        capacity_connections: fleet.capacity.saturating_mul(2),
        labels: Default::default(),
    });
    send(&out, board, register).await?;
    let mut request = Request::new(ReceiverStream::new(out_rx));
    request
        .metadata_mut()
        .insert(AUTHORIZATION, fleet.auth.clone());
    let mut inbound = client
        .session(request)
        .await
        .map_err(|s| anyhow::anyhow!("the controller refused the session: {}", s.message()))?
        .into_inner();
    let interval = match inbound.message().await {
        Ok(Some(pb::ControllerMessage {
            kind: Some(FromController::Registered(r)),
        })) => Duration::from_millis(u64::from(r.heartbeat_interval_ms.max(100))),
        Ok(Some(pb::ControllerMessage {
            kind: Some(FromController::Refused(r)),
        })) => bail!("the controller refused the registration: {}", r.reason),
        Ok(_) => bail!("the controller did not answer the registration"),
        Err(s) => bail!("registration failed: {}", s.message()),
    };
    let _ = registered.send(()).await;
    let mut heartbeat = tokio::time::interval(interval);
    let mut running: Option<Running> = None;
    loop {
        let due = running
            .as_ref()
            .map(|r| r.start + Duration::from_secs(u64::from(r.second) + 1));
        let reply = tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            received = inbound.message() => match received {
                Ok(Some(pb::ControllerMessage { kind: Some(kind) })) => {
                    handle(kind, &mut running, board)
                }
                Ok(Some(_)) => None,
                Ok(None) if *shutdown.borrow() => return Ok(()),
                Ok(None) => bail!("the controller ended the session"),
                Err(_) if *shutdown.borrow() => return Ok(()),
                Err(s) => bail!("the session broke: {}", s.message()),
            },
            _ = heartbeat.tick() => Some(ToController::Heartbeat(pb::Heartbeat {
                agent_time_unix_ns: unix_ns(),
                active_run_ids: running.iter().map(|r| r.run_id.clone()).collect(),
            })),
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now).into()), if due.is_some() => {
                let Some(r) = running.as_mut() else { continue };
                let prepared = &fleet.pool[(index + r.second as usize) % fleet.pool.len()];
                let mut wire = prepared.wire.clone();
                wire.run_id.clone_from(&r.run_id);
                wire.second = r.second;
                let m = AgentMessage { kind: Some(ToController::Snapshot(wire)) };
                // The run id and second differ from the prepared copy's by a few bytes.
                let bytes = prepared.gzip_len as u64 + GRPC_FRAMING;
                out.send(m).await.context("the session's outbound stream closed")?;
                board.sent(r.second, Instant::now(), prepared.requests, bytes);
                r.second += 1;
                if r.second < fleet.seconds {
                    None
                } else {
                    let run_id = std::mem::take(&mut r.run_id);
                    running = None;
                    Some(finished(run_id, pb::FinishReason::Completed))
                }
            }
        };
        if let Some(kind) = reply {
            send(&out, board, kind).await?;
        }
    }
}

fn finished(run_id: String, reason: pb::FinishReason) -> ToController {
    ToController::RunFinished(pb::RunFinished {
        run_id,
        reason: reason as i32,
        message: String::new(),
    })
}

/// Handles one controller message; returns a reply to send, if any.
fn handle(
    kind: FromController,
    running: &mut Option<Running>,
    board: &Board,
) -> Option<ToController> {
    match kind {
        FromController::ClockProbe(p) => {
            let t1 = unix_ns();
            Some(ToController::ClockReply(pb::ClockReply {
                t0: p.t0,
                t1,
                t2: unix_ns(),
            }))
        }
        FromController::Assign(a) => {
            if running.is_some() {
                // One run at a time: refuse a second one, as an agent would a share it cannot run.
                return Some(ToController::RunFinished(pb::RunFinished {
                    run_id: a.run_id,
                    reason: pb::FinishReason::Failed as i32,
                    message: "the simulated agent runs one run at a time".to_owned(),
                }));
            }
            // The common start by this agent's clock (the controller's instant plus our offset).
            let at = instant_at(a.start_at_unix_ns.saturating_add(a.clock_offset_ns));
            board.set_start(at);
            *running = Some(Running {
                run_id: a.run_id,
                start: at,
                second: 0,
            });
            None
        }
        FromController::Stop(stop) => match running.take() {
            Some(r) if r.run_id == stop.run_id => {
                Some(finished(r.run_id, pb::FinishReason::Stopped))
            }
            other => {
                *running = other;
                None
            }
        },
        FromController::Ping(_) | FromController::Registered(_) | FromController::Refused(_) => {
            None
        }
    }
}
