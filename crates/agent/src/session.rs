//! The agent's connection loop: connect, register, serve one session, back off, repeat.

use crate::deadman::{Runs, watchdog};
use crate::{AgentConfig, AgentError, AgentEvent, Reports, Runner};
use stampede_proto::pb::agent_message::Kind as ToController;
use stampede_proto::pb::agent_service_client::AgentServiceClient;
use stampede_proto::pb::controller_message::Kind as FromController;
use stampede_proto::pb::{self, AgentMessage};
use stampede_proto::{AUTHORIZATION, verify_included_file};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Endpoint;
use tonic::{Code, Request, Streaming};

/// How a session ended.
enum End {
    Shutdown,
    Fatal(AgentError),
    Lost {
        registered: bool,
        reason: String,
    },
    /// The connection failed in a way retrying will not fix (TLS mixed with plain, untrusted
    /// certificate, missing client certificate).
    Misconfigured(String),
}

/// Everything a session needs that outlives it.
struct Agent {
    config: AgentConfig,
    endpoint: Endpoint,
    auth: MetadataValue<Ascii>,
    runner: Arc<dyn Runner>,
    runs: Arc<Runs>,
    reports: Reports,
    events: Option<mpsc::UnboundedSender<AgentEvent>>,
    shutdown: CancellationToken,
}

/// Runs the agent until `shutdown` fires (then cancels its runs and returns `Ok`) or the
/// controller refuses it for good (wrong token, protocol mismatch). Lost sessions and failed
/// connections are retried with exponential backoff; the dead man's switch watches throughout.
/// `events`, when given, receives what the agent does.
pub async fn run_agent(
    config: AgentConfig,
    runner: Arc<dyn Runner>,
    events: Option<mpsc::UnboundedSender<AgentEvent>>,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    let endpoint = Endpoint::from_shared(config.controller.clone())
        .map_err(|e| AgentError::InvalidUrl {
            url: config.controller.clone(),
            reason: e.to_string(),
        })?
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true);
    let endpoint = match &config.tls {
        Some(tls) => endpoint.tls_config(tls.clone()).map_err(|e| {
            let reason = crate::diagnose::chain(&e);
            AgentError::Tls(format!(
                "the TLS settings cannot be used for {}: {reason}",
                config.controller
            ))
        })?,
        None => endpoint,
    };
    let auth = MetadataValue::try_from(format!("Bearer {}", config.token))
        .map_err(|_| AgentError::InvalidToken)?;
    let runs = Arc::new(Runs::default());
    let (reports_tx, mut reports_rx) = mpsc::channel(256);
    let dog = tokio::spawn(watchdog(
        runs.clone(),
        config.dead_man_timeout,
        events.clone(),
    ));
    let agent = Agent {
        endpoint,
        auth,
        runner,
        runs: runs.clone(),
        reports: Reports { tx: reports_tx },
        events,
        shutdown: shutdown.clone(),
        config,
    };
    let mut backoff = agent.config.min_backoff;
    let mut ever_registered = false;
    let result = loop {
        match agent.session(&mut reports_rx).await {
            End::Shutdown => break Ok(()),
            End::Fatal(e) => break Err(e),
            // Before the first registration a TLS mistake is a configuration error to report;
            // afterwards the controller may be rotating its certificate: keep trying.
            End::Misconfigured(reason) if !ever_registered => break Err(AgentError::Tls(reason)),
            End::Misconfigured(reason) => {
                tracing::warn!(%reason, "cannot connect, retrying");
                agent.emit(AgentEvent::Disconnected { reason });
            }
            End::Lost { registered, reason } => {
                ever_registered |= registered;
                tracing::info!(%reason, "session lost, reconnecting");
                agent.emit(AgentEvent::Disconnected { reason });
                if registered {
                    backoff = agent.config.min_backoff;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            _ = tokio::time::sleep(jitter(backoff)) => {}
        }
        backoff = (backoff * 2).min(agent.config.max_backoff);
    };
    runs.cancel_all();
    dog.abort();
    result
}

/// 80–120 % of `d`, so agents that lost the controller together do not reconnect in lockstep.
fn jitter(d: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    d.mul_f64(0.8 + 0.4 * f64::from(nanos % 1_000) / 1_000.0)
}

fn unix_ns() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn lost(registered: bool, reason: impl Into<String>) -> End {
    End::Lost {
        registered,
        reason: reason.into(),
    }
}

/// A failed connection or registration: [`End::Misconfigured`] when it is a TLS set-up mistake
/// (the message then says what to do), else a lost session to retry.
fn failed(url: &str, what: &str, error: &(dyn std::error::Error + 'static)) -> End {
    let chain = crate::diagnose::chain(error);
    if let Some(hint) = crate::diagnose::tls_hint(url, &chain) {
        return End::Misconfigured(format!("{what} {url}: {chain} ({hint})"));
    }
    match crate::diagnose::possible_tls_cause(url, &chain) {
        Some(hint) => lost(false, format!("{what} {url}: {chain} ({hint})")),
        None => lost(false, format!("{what} {url}: {chain}")),
    }
}

impl Agent {
    fn emit(&self, event: AgentEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
        }
    }

    fn register_message(&self) -> AgentMessage {
        let c = &self.config;
        AgentMessage {
            kind: Some(ToController::Register(pb::Register {
                agent_id: c.agent_id.clone(),
                version: c.version.clone(),
                protocol_version: c.protocol_version,
                cores: c.cores,
                capacity_users: c.capacity_users,
                capacity_connections: c.capacity_connections,
                labels: c.labels.clone().into_iter().collect(),
            })),
        }
    }

    /// Connects, registers and serves one session until it ends.
    async fn session(&self, reports: &mut mpsc::Receiver<AgentMessage>) -> End {
        let silence = self.config.dead_man_timeout;
        let connect = async {
            let url = &self.config.controller;
            let channel = (self.endpoint.connect().await)
                .map_err(|e| failed(url, "cannot connect to", &e))?;
            // Whole messages are gzipped (histograms travel as plain V2: see `stampede_proto::hdr`).
            let mut client = AgentServiceClient::new(channel)
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(stampede_proto::MAX_MESSAGE_BYTES);
            let (out, out_rx) = mpsc::channel(64);
            let _ = out.try_send(self.register_message());
            let mut request = Request::new(ReceiverStream::new(out_rx));
            request
                .metadata_mut()
                .insert(AUTHORIZATION, self.auth.clone());
            let mut inbound = match client.session(request).await {
                Ok(response) => response.into_inner(),
                Err(s) if s.code() == Code::Unauthenticated => {
                    return Err(End::Fatal(AgentError::Unauthenticated(s.message().into())));
                }
                Err(s) if stampede_proto::refused_compression(&s) => {
                    return Err(End::Fatal(AgentError::Refused(format!(
                        "the controller at {url} does not accept compressed messages, so it runs \
                         an older Stampede release (this agent, version {}, speaks protocol \
                         version {}); run the same Stampede release on the controller and its \
                         agents",
                        self.config.version, self.config.protocol_version
                    ))));
                }
                Err(s) => return Err(failed(url, "the session was refused by", &s)),
            };
            match inbound.message().await {
                Ok(Some(pb::ControllerMessage {
                    kind: Some(FromController::Registered(r)),
                })) => Ok((inbound, out, r)),
                Ok(Some(pb::ControllerMessage {
                    kind: Some(FromController::Refused(r)),
                })) => {
                    self.emit(AgentEvent::Refused {
                        reason: r.reason.clone(),
                        retry: r.retry,
                    });
                    Err(if r.retry {
                        lost(false, r.reason)
                    } else {
                        End::Fatal(AgentError::Refused(r.reason))
                    })
                }
                Ok(_) => Err(lost(
                    false,
                    "the controller did not answer the registration",
                )),
                Err(s) => Err(failed(url, "the registration failed at", &s)),
            }
        };
        let (inbound, out, registered) = tokio::select! {
            _ = self.shutdown.cancelled() => return End::Shutdown,
            _ = tokio::time::sleep(self.config.connect_timeout + silence) => {
                return lost(false, "the controller did not answer in time");
            }
            r = connect => match r {
                Ok(x) => x,
                Err(end) => return end,
            },
        };
        let interval = match registered.heartbeat_interval_ms {
            0 => self.config.heartbeat_interval,
            ms => Duration::from_millis(u64::from(ms)),
        };
        self.emit(AgentEvent::Connected {
            controller_version: registered.controller_version,
            heartbeat_interval: interval,
        });
        self.serve(inbound, out, reports, interval).await
    }

    /// The registered session: heartbeats out, reports out, controller messages in.
    async fn serve(
        &self,
        mut inbound: Streaming<pb::ControllerMessage>,
        out: mpsc::Sender<AgentMessage>,
        reports: &mut mpsc::Receiver<AgentMessage>,
        interval: Duration,
    ) -> End {
        let silence = self.config.dead_man_timeout;
        let mut last = Instant::now();
        self.runs.heard(last);
        let mut heartbeat = tokio::time::interval(interval);
        loop {
            let deadline = tokio::time::Instant::from_std(last + silence);
            let outgoing = tokio::select! {
                _ = self.shutdown.cancelled() => return End::Shutdown,
                _ = tokio::time::sleep_until(deadline) => {
                    let s = silence.as_secs_f64();
                    return lost(true, format!("the controller has been silent for {s:.1} s"));
                }
                received = inbound.message() => match received {
                    Ok(Some(m)) => {
                        last = Instant::now();
                        self.runs.heard(last);
                        match m.kind {
                            Some(kind) => self.handle(kind),
                            None => None,
                        }
                    }
                    Ok(None) => return lost(true, "the controller ended the session"),
                    Err(s) => return lost(true, format!("the session broke: {}", s.message())),
                },
                _ = heartbeat.tick() => Some(ToController::Heartbeat(pb::Heartbeat {
                    agent_time_unix_ns: unix_ns(),
                    active_run_ids: self.runs.ids(),
                })),
                Some(report) = reports.recv() => {
                    if let Some(ToController::RunFinished(f)) = &report.kind {
                        self.runs.remove(&f.run_id);
                    }
                    report.kind
                }
            };
            if let Some(kind) = outgoing {
                let m = AgentMessage { kind: Some(kind) };
                if out.send(m).await.is_err() {
                    return lost(true, "the session's outbound stream closed");
                }
            }
        }
    }

    /// Handles one controller message; returns a reply to send, if any.
    fn handle(&self, kind: FromController) -> Option<ToController> {
        match kind {
            FromController::ClockProbe(p) => {
                let t1 = unix_ns();
                Some(ToController::ClockReply(pb::ClockReply {
                    t0: p.t0,
                    t1,
                    t2: unix_ns(),
                }))
            }
            FromController::Assign(assign) => self.assign(assign),
            FromController::Stop(stop) => {
                if self.runs.cancel(&stop.run_id) {
                    self.emit(AgentEvent::Stopped {
                        run_id: stop.run_id,
                        reason: stop.reason,
                    });
                }
                None
            }
            FromController::Ping(_)
            | FromController::Registered(_)
            | FromController::Refused(_) => None,
        }
    }

    /// Starts an assigned run, or refuses it (with a `RunFinished { FAILED }`).
    fn assign(&self, assign: pb::Assign) -> Option<ToController> {
        let run_id = assign.run_id.clone();
        if self.runs.contains(&run_id) {
            return None; // a repeated Assign for a run already going
        }
        if let Some(e) = (assign.files.iter()).find_map(|f| verify_included_file(f).err()) {
            let reason = e.to_string();
            self.emit(AgentEvent::AssignRejected {
                run_id: run_id.clone(),
                reason: reason.clone(),
            });
            return Some(ToController::RunFinished(pb::RunFinished {
                run_id,
                reason: pb::FinishReason::Failed as i32,
                message: reason,
            }));
        }
        let cancel = CancellationToken::new();
        self.runs.insert(run_id.clone(), cancel.clone());
        self.emit(AgentEvent::Assigned { run_id });
        self.runner.start(assign, cancel, self.reports.clone());
        None
    }
}
