//! The real agent against the real controller over gRPC on 127.0.0.1 — and against a controller
//! that goes silent, to see the dead man's switch fire.

use stampede_agent::{AgentConfig, AgentError, AgentEvent, Reports, Runner, run_agent};
use stampede_controller::auth::Tokens;
use stampede_controller::grpc::{Controller, ControllerEvent, ServiceConfig};
use stampede_controller::liveness::LivenessConfig;
use stampede_metrics::Snapshot;
use stampede_proto::pb::agent_service_server::{AgentService, AgentServiceServer};
use stampede_proto::pb::controller_message::Kind as ToAgent;
use stampede_proto::pb::{self, AgentMessage, ControllerMessage};
use stampede_proto::{PROTOCOL_VERSION, included_file};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

const TOKEN: &str = "agent-test-token-0123456789";
const WAIT: Duration = Duration::from_secs(10);

/// A stand-in for the engine: reports one snapshot, then waits for its cancel token and reports
/// how it ended. Tells the test when a run starts and when it is cancelled.
struct TestRunner {
    started: mpsc::UnboundedSender<String>,
    cancelled: mpsc::UnboundedSender<(String, Instant)>,
}

impl Runner for TestRunner {
    fn start(&self, assign: pb::Assign, cancel: CancellationToken, reports: Reports) {
        let (started, cancelled) = (self.started.clone(), self.cancelled.clone());
        tokio::spawn(async move {
            let _ = started.send(assign.run_id.clone());
            let _ = reports.snapshot(&assign.run_id, &Snapshot::new(0)).await;
            cancel.cancelled().await;
            let _ = cancelled.send((assign.run_id.clone(), Instant::now()));
            let reason = pb::FinishReason::Stopped;
            let _ = reports.finished(&assign.run_id, reason, "cancelled").await;
        });
    }
}

type RunnerChannels = (
    mpsc::UnboundedReceiver<String>,
    mpsc::UnboundedReceiver<(String, Instant)>,
);

fn runner() -> (Arc<TestRunner>, RunnerChannels) {
    let (started, started_rx) = mpsc::unbounded_channel();
    let (cancelled, cancelled_rx) = mpsc::unbounded_channel();
    (
        Arc::new(TestRunner { started, cancelled }),
        (started_rx, cancelled_rx),
    )
}

async fn serve<S: AgentService>(service: AgentServiceServer<S>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

async fn controller() -> (SocketAddr, Controller, mpsc::Receiver<ControllerEvent>) {
    let mut config = ServiceConfig::new(Tokens::new([TOKEN]).unwrap(), "1.2.3-controller");
    config.liveness = LivenessConfig {
        heartbeat_interval: Duration::from_millis(100),
        // Generous: a busy test machine must not make the agent look gone.
        missing_after: Duration::from_secs(2),
        gone_after: Duration::from_secs(5),
    };
    config.probe_spacing = Duration::from_millis(10);
    config.clock_probes = 4;
    let (controller, events) = Controller::start(config);
    (serve(controller.service()).await, controller, events)
}

fn config(addr: SocketAddr, token: &str) -> AgentConfig {
    let mut c = AgentConfig::new(format!("http://{addr}"), token, "agent-1");
    c.capacity_users = 1_234;
    c.dead_man_timeout = Duration::from_secs(3);
    c.min_backoff = Duration::from_millis(50);
    c.max_backoff = Duration::from_millis(200);
    c
}

async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    timeout(WAIT, rx.recv())
        .await
        .expect("in time")
        .expect("open")
}

async fn wait_for<T>(
    events: &mut mpsc::Receiver<ControllerEvent>,
    mut pick: impl FnMut(ControllerEvent) -> Option<T>,
) -> T {
    timeout(WAIT, async {
        loop {
            if let Some(t) = pick(events.recv().await.expect("controller running")) {
                return t;
            }
        }
    })
    .await
    .expect("event in time")
}

fn assign(run_id: &str, files: Vec<pb::IncludedFile>) -> ToAgent {
    ToAgent::Assign(pb::Assign {
        run_id: run_id.into(),
        scenario_source: "target: http://127.0.0.1:1\n".into(),
        file_name: "s.yaml".into(),
        files,
        ..Default::default()
    })
}

#[tokio::test]
async fn the_agent_registers_heartbeats_runs_and_stops_an_assignment() {
    let (addr, controller, mut events) = controller().await;
    let (runner, (mut started, mut cancelled)) = runner();
    let (agent_events, mut agent_rx) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let agent = tokio::spawn(run_agent(
        config(addr, TOKEN),
        runner,
        Some(agent_events),
        shutdown.clone(),
    ));

    let info = wait_for(&mut events, |e| match e {
        ControllerEvent::Registered(info) => Some(info),
        _ => None,
    })
    .await;
    assert_eq!(
        (info.agent_id.as_str(), info.capacity_users),
        ("agent-1", 1_234)
    );
    let AgentEvent::Connected {
        controller_version,
        heartbeat_interval,
    } = recv(&mut agent_rx).await
    else {
        panic!("expected Connected");
    };
    assert_eq!(controller_version, "1.2.3-controller");
    assert_eq!(heartbeat_interval, Duration::from_millis(100));
    // The agent answers clock probes: same clock, so the offset is within its uncertainty of 0.
    let estimate = wait_for(&mut events, |e| match e {
        ControllerEvent::ClockEstimated { estimate, .. } => Some(estimate),
        _ => None,
    })
    .await;
    assert!(
        estimate.offset_ns.abs() <= estimate.uncertainty_ns() + 1_000,
        "{estimate:?}"
    );

    let file = included_file("ca.pem", b"-----BEGIN CERTIFICATE-----".to_vec());
    controller
        .send("agent-1", assign("run-1", vec![file]))
        .await
        .unwrap();
    assert_eq!(recv(&mut started).await, "run-1");
    let (run_id, snapshot) = wait_for(&mut events, |e| match e {
        ControllerEvent::Snapshot {
            run_id, snapshot, ..
        } => Some((run_id, snapshot)),
        _ => None,
    })
    .await;
    assert_eq!((run_id.as_str(), snapshot.second()), ("run-1", 0));
    // Heartbeats list the run.
    wait_for(&mut events, |e| match e {
        ControllerEvent::Heartbeat { active_run_ids, .. } if active_run_ids == ["run-1"] => {
            Some(())
        }
        _ => None,
    })
    .await;

    let stop = pb::Stop {
        run_id: "run-1".into(),
        reason: "user stop".into(),
    };
    controller
        .send("agent-1", ToAgent::Stop(stop))
        .await
        .unwrap();
    assert_eq!(recv(&mut cancelled).await.0, "run-1");
    let (run_id, reason) = wait_for(&mut events, |e| match e {
        ControllerEvent::RunFinished { run_id, reason, .. } => Some((run_id, reason)),
        _ => None,
    })
    .await;
    assert_eq!(
        (run_id.as_str(), reason),
        ("run-1", pb::FinishReason::Stopped)
    );

    shutdown.cancel();
    let result = timeout(WAIT, agent).await.expect("stops").unwrap();
    assert_eq!(result, Ok(()));
    wait_for(&mut events, |e| match e {
        ControllerEvent::Disconnected { agent_id, .. } => Some(agent_id),
        _ => None,
    })
    .await;
}

#[tokio::test]
async fn an_altered_included_file_is_refused_before_the_run_starts() {
    let (addr, controller, mut events) = controller().await;
    let (runner, (mut started, _cancelled)) = runner();
    let shutdown = CancellationToken::new();
    tokio::spawn(run_agent(
        config(addr, TOKEN),
        runner,
        None,
        shutdown.clone(),
    ));
    wait_for(&mut events, |e| {
        matches!(e, ControllerEvent::Registered(_)).then_some(())
    })
    .await;
    let mut file = included_file("users.csv", b"id\n1\n".to_vec());
    file.content.push(b'2');
    controller
        .send("agent-1", assign("run-x", vec![file]))
        .await
        .unwrap();
    let (reason, message) = wait_for(&mut events, |e| match e {
        ControllerEvent::RunFinished {
            reason, message, ..
        } => Some((reason, message)),
        _ => None,
    })
    .await;
    assert_eq!(reason, pb::FinishReason::Failed);
    assert!(message.contains("checksum mismatch"), "{message}");
    assert!(started.try_recv().is_err(), "the runner never saw it");
    shutdown.cancel();
}

#[tokio::test]
async fn a_wrong_token_stops_the_agent_with_a_clear_error() {
    let (addr, controller, _events) = controller().await;
    let (runner, _) = runner();
    let result = timeout(
        WAIT,
        run_agent(
            config(addr, "not-the-right-token-42"),
            runner,
            None,
            CancellationToken::new(),
        ),
    )
    .await
    .expect("gives up at once");
    assert_eq!(
        result,
        Err(AgentError::Unauthenticated("invalid token".into()))
    );
    assert!(controller.agents().is_empty());
}

#[tokio::test]
async fn a_protocol_mismatch_stops_the_agent_naming_both_versions() {
    let (addr, _controller, _events) = controller().await;
    let (runner, _) = runner();
    let mut c = config(addr, TOKEN);
    c.protocol_version = PROTOCOL_VERSION + 41;
    let result = timeout(WAIT, run_agent(c, runner, None, CancellationToken::new()))
        .await
        .expect("gives up at once");
    let Err(AgentError::Refused(reason)) = result else {
        panic!("expected a refusal, got {result:?}");
    };
    assert!(reason.contains(&format!("protocol version {}", PROTOCOL_VERSION + 41)));
    assert!(reason.contains(&format!("protocol version {PROTOCOL_VERSION}")));
}

/// A controller of an older release (protocol version 2): it took uncompressed messages only.
struct UncompressedController;

#[tonic::async_trait]
impl AgentService for UncompressedController {
    type SessionStream = ReceiverStream<Result<ControllerMessage, Status>>;

    async fn session(
        &self,
        _request: Request<Streaming<AgentMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        Err(Status::internal(
            "not reached: the gzipped stream is refused before this",
        ))
    }
}

#[tokio::test]
async fn an_older_controller_without_compression_is_named_as_such_and_stops_the_agent() {
    let addr = serve(AgentServiceServer::new(UncompressedController)).await;
    let (runner, _) = runner();
    let result = timeout(
        WAIT,
        run_agent(config(addr, TOKEN), runner, None, CancellationToken::new()),
    )
    .await
    .expect("gives up at once, without retrying");
    let Err(AgentError::Refused(reason)) = result else {
        panic!("expected a refusal, got {result:?}");
    };
    assert!(reason.contains("older Stampede release"), "{reason}");
    assert!(
        reason.contains(&format!("protocol version {PROTOCOL_VERSION}")),
        "{reason}"
    );
    assert!(reason.contains(&addr.to_string()), "{reason}");
}

/// A controller that accepts the registration, assigns a run, and then never says anything again
/// (while keeping the stream open). Counts sessions, to see the agent come back.
struct SilentController {
    sessions: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl AgentService for SilentController {
    type SessionStream = ReceiverStream<Result<ControllerMessage, Status>>;

    async fn session(
        &self,
        request: Request<Streaming<AgentMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let n = self.sessions.fetch_add(1, Ordering::SeqCst);
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(8);
        let registered = pb::Registered {
            controller_version: "silent".into(),
            heartbeat_interval_ms: 100,
            protocol_version: PROTOCOL_VERSION,
        };
        let send = |k| Ok(ControllerMessage { kind: Some(k) });
        tx.send(send(ToAgent::Registered(registered)))
            .await
            .unwrap();
        tx.send(send(assign(&format!("run-{n}"), Vec::new())))
            .await
            .unwrap();
        // Read (and ignore) the agent's messages, keep `tx` alive: silence on an open stream.
        tokio::spawn(async move {
            while let Ok(Some(_)) = inbound.message().await {}
            drop(tx);
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

#[tokio::test]
async fn the_dead_mans_switch_cancels_load_when_the_controller_goes_silent() {
    let sessions = Arc::new(AtomicUsize::new(0));
    let service = AgentServiceServer::new(SilentController {
        sessions: sessions.clone(),
    })
    .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let addr = serve(service).await;
    let (runner, (mut started, mut cancelled)) = runner();
    let (agent_events, mut agent_rx) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let mut c = config(addr, TOKEN);
    c.dead_man_timeout = Duration::from_millis(500);
    let timeout_ms = c.dead_man_timeout;
    tokio::spawn(run_agent(c, runner, Some(agent_events), shutdown.clone()));

    assert_eq!(recv(&mut started).await, "run-0");
    let since = Instant::now();
    let (run_id, at) = recv(&mut cancelled).await;
    assert_eq!(run_id, "run-0");
    let waited = at - since;
    assert!(
        waited + Duration::from_millis(50) >= timeout_ms,
        "fired after {waited:?}, before the {timeout_ms:?} timeout"
    );
    let fired = timeout(WAIT, async {
        loop {
            if let Some(AgentEvent::DeadManSwitch {
                cancelled_runs,
                silent_for,
            }) = agent_rx.recv().await
            {
                return (cancelled_runs, silent_for);
            }
        }
    })
    .await
    .expect("event in time");
    assert_eq!(fired.0, ["run-0"]);
    assert!(fired.1 >= timeout_ms);
    // Then it reconnects (with backoff) and gets the next run.
    assert_eq!(recv(&mut started).await, "run-1");
    assert!(sessions.load(Ordering::SeqCst) >= 2);
    shutdown.cancel();
}
