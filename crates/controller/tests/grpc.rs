//! The agent service over a real gRPC connection on 127.0.0.1, driven by a raw client made from
//! the generated code (so each test controls exactly what the "agent" sends, including silence).

use stampede_controller::auth::Tokens;
use stampede_controller::grpc::{Controller, ControllerEvent, ServiceConfig};
use stampede_controller::liveness::{AgentState, LivenessConfig, LivenessEvent};
use stampede_metrics::{IntervalRecorder, Outcome, Snapshot};
use stampede_proto::pb::agent_message::Kind as ToController;
use stampede_proto::pb::agent_service_client::AgentServiceClient;
use stampede_proto::pb::controller_message::Kind as FromController;
use stampede_proto::pb::{self, AgentMessage, ControllerMessage};
use stampede_proto::{AUTHORIZATION, PROTOCOL_VERSION, snapshot_to_wire};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Status, Streaming};

const TOKEN: &str = "test-token-0123456789";
const WAIT: Duration = Duration::from_secs(10);

fn fast() -> LivenessConfig {
    LivenessConfig {
        heartbeat_interval: Duration::from_millis(100),
        missing_after: Duration::from_millis(300),
        gone_after: Duration::from_millis(600),
    }
}

async fn start() -> (SocketAddr, Controller, mpsc::Receiver<ControllerEvent>) {
    start_with(fast()).await
}

async fn start_with(
    liveness: LivenessConfig,
) -> (SocketAddr, Controller, mpsc::Receiver<ControllerEvent>) {
    start_configured(|c| c.liveness = liveness).await
}

async fn start_configured(
    configure: impl FnOnce(&mut ServiceConfig),
) -> (SocketAddr, Controller, mpsc::Receiver<ControllerEvent>) {
    let mut config = ServiceConfig::new(Tokens::new([TOKEN]).unwrap(), "9.9.9-test");
    config.liveness = fast();
    config.probe_spacing = Duration::from_millis(10);
    config.clock_probes = 3;
    configure(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (controller, events) = Controller::start(config);
    let service = controller.service();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    (addr, controller, events)
}

fn register(agent_id: &str, protocol_version: u32) -> pb::Register {
    pb::Register {
        agent_id: agent_id.into(),
        version: "0.0.1-agent".into(),
        protocol_version,
        cores: 2,
        capacity_users: 5_000,
        capacity_connections: 9_000,
        labels: [("region".to_owned(), "eu".to_owned())].into(),
    }
}

fn msg(kind: ToController) -> AgentMessage {
    AgentMessage { kind: Some(kind) }
}

/// Opens a session and sends `Register`; returns the sender for later messages and the stream.
type Session = (mpsc::Sender<AgentMessage>, Streaming<ControllerMessage>);

/// Opens a session as an agent does (messages gzipped both ways).
async fn open(addr: SocketAddr, token: &str, reg: pb::Register) -> Result<Session, Status> {
    open_with(addr, token, reg, true).await
}

async fn open_with(
    addr: SocketAddr,
    token: &str,
    reg: pb::Register,
    gzip: bool,
) -> Result<Session, Status> {
    let mut client = AgentServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connects to 127.0.0.1");
    if gzip {
        client = client
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip);
    }
    let (tx, rx) = mpsc::channel(16);
    tx.send(msg(ToController::Register(reg))).await.unwrap();
    let mut request = Request::new(ReceiverStream::new(rx));
    let bearer = format!("Bearer {token}").parse().unwrap();
    request.metadata_mut().insert(AUTHORIZATION, bearer);
    let response = client.session(request).await?;
    Ok((tx, response.into_inner()))
}

async fn next(stream: &mut Streaming<ControllerMessage>) -> Option<FromController> {
    let m = timeout(WAIT, stream.message()).await.expect("in time");
    m.ok().flatten().and_then(|m| m.kind)
}

/// The next event matching `pick`, skipping others (heartbeats, clock estimates...).
async fn wait_for<T>(
    events: &mut mpsc::Receiver<ControllerEvent>,
    mut pick: impl FnMut(ControllerEvent) -> Option<T>,
) -> T {
    timeout(WAIT, async {
        loop {
            let e = events.recv().await.expect("controller running");
            if let Some(t) = pick(e) {
                return t;
            }
        }
    })
    .await
    .expect("event in time")
}

fn now_ns() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    d.as_nanos() as i64
}

#[tokio::test]
async fn registration_is_accepted_then_pings_and_clock_probes_follow() {
    let (addr, controller, mut events) = start().await;
    let (tx, mut stream) = open(addr, TOKEN, register("a1", PROTOCOL_VERSION))
        .await
        .unwrap();
    let Some(FromController::Registered(r)) = next(&mut stream).await else {
        panic!("expected Registered");
    };
    assert_eq!(r.controller_version, "9.9.9-test");
    assert_eq!(r.heartbeat_interval_ms, 100);
    assert_eq!(r.protocol_version, PROTOCOL_VERSION);
    let info = wait_for(&mut events, |e| match e {
        ControllerEvent::Registered(info) => Some(info),
        _ => None,
    })
    .await;
    assert_eq!((info.agent_id.as_str(), info.capacity_users), ("a1", 5_000));
    assert_eq!(info.labels.get("region").map(String::as_str), Some("eu"));
    assert!(info.remote_addr.is_some_and(|a| a.ip().is_loopback()));
    // Answer every clock probe; pings keep coming.
    let (mut probes, mut pings) = (0, 0);
    while probes < 3 || pings < 2 {
        match next(&mut stream).await {
            Some(FromController::ClockProbe(p)) => {
                probes += 1;
                let t = now_ns();
                let reply = pb::ClockReply {
                    t0: p.t0,
                    t1: t,
                    t2: t,
                };
                tx.send(msg(ToController::ClockReply(reply))).await.unwrap();
            }
            Some(FromController::Ping(_)) => pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    let estimate = wait_for(&mut events, |e| match e {
        ControllerEvent::ClockEstimated { estimate, .. } => Some(estimate),
        _ => None,
    })
    .await;
    // Same machine, same clock: the true offset is 0, within the estimate's uncertainty.
    assert!(estimate.offset_ns.abs() <= estimate.uncertainty_ns() + 1_000);
    assert_eq!(estimate.samples, 3);
    let agents = controller.agents();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].1, AgentState::Alive);
    assert!(agents[0].2.is_some());
}

#[tokio::test]
async fn a_wrong_token_is_unauthenticated() {
    let (addr, controller, _events) = start().await;
    let err = open(
        addr,
        "wrong-token-0123456789",
        register("a1", PROTOCOL_VERSION),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(err.message(), "invalid token");
    assert!(controller.agents().is_empty());
}

#[tokio::test]
async fn a_wrong_protocol_version_is_refused_naming_both_versions() {
    let (addr, controller, mut events) = start().await;
    let (_tx, mut stream) = open(addr, TOKEN, register("old", 999)).await.unwrap();
    let Some(FromController::Refused(r)) = next(&mut stream).await else {
        panic!("expected Refused");
    };
    assert!(!r.retry, "retrying cannot fix a version mismatch");
    for needle in [
        "protocol version 999",
        &format!("protocol version {PROTOCOL_VERSION}"),
        "0.0.1-agent",
        "9.9.9-test",
    ] {
        assert!(r.reason.contains(needle), "{:?} lacks {needle:?}", r.reason);
    }
    assert!(
        next(&mut stream).await.is_none(),
        "the stream ends after Refused"
    );
    let reason = wait_for(&mut events, |e| match e {
        ControllerEvent::Refused { reason, .. } => Some(reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, r.reason);
    assert!(controller.agents().is_empty());
}

#[tokio::test]
async fn a_duplicate_agent_id_is_refused_with_retry() {
    let (addr, _controller, _events) = start().await;
    let (_tx, mut first) = open(addr, TOKEN, register("same", PROTOCOL_VERSION))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut first).await,
        Some(FromController::Registered(_))
    ));
    let (_tx2, mut second) = open(addr, TOKEN, register("same", PROTOCOL_VERSION))
        .await
        .unwrap();
    let Some(FromController::Refused(r)) = next(&mut second).await else {
        panic!("expected Refused");
    };
    assert!(r.retry);
    assert!(r.reason.contains("already connected"), "{}", r.reason);
}

#[tokio::test]
async fn a_silent_agent_goes_missing_then_gone_and_its_session_is_closed() {
    let (addr, controller, mut events) = start().await;
    // Registers, then says nothing (the sender stays alive, so the stream stays open).
    let (_tx, mut stream) = open(addr, TOKEN, register("quiet", PROTOCOL_VERSION))
        .await
        .unwrap();
    let mut seen = Vec::new();
    wait_for(&mut events, |e| {
        match e {
            ControllerEvent::Liveness(l) => seen.push(l),
            ControllerEvent::Disconnected { agent_id, reason } => {
                assert_eq!(agent_id, "quiet");
                assert!(reason.contains("gone"), "{reason}");
                return Some(());
            }
            _ => {}
        }
        None
    })
    .await;
    assert!(matches!(&seen[..], [
        LivenessEvent::Missing { agent: a, .. },
        LivenessEvent::Gone { agent: b, silent_for },
    ] if a == "quiet" && b == "quiet" && *silent_for >= Duration::from_millis(600)));
    assert!(controller.agents().is_empty());
    // The controller closed the stream: after any pings already queued, it ends.
    timeout(WAIT, async { while next(&mut stream).await.is_some() {} })
        .await
        .expect("stream ends");
}

/// The overload that cost a 200-agent run 195 of its agents: the controller's consumer falls
/// behind, sessions wait for room in the event channel and stop reading, and once the backlog
/// clears every waiting agent looks silent for longer than `gone_after`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_behind_on_its_events_keeps_the_agents_that_talk_and_loses_the_silent_one() {
    let (addr, controller, mut events) = start_configured(|c| c.event_capacity = 8).await;
    let (_silent_tx, _silent_stream) = open(addr, TOKEN, register("silent", PROTOCOL_VERSION))
        .await
        .unwrap();
    let mut talkers = Vec::new();
    for id in ["t1", "t2", "t3"] {
        let (tx, stream) = open(addr, TOKEN, register(id, PROTOCOL_VERSION))
            .await
            .unwrap();
        // Heartbeats every 50 ms for 4 s (the agent side never waits on the controller).
        talkers.push(tokio::spawn(async move {
            let _stream = stream;
            for _ in 0..80 {
                let beat = pb::Heartbeat {
                    agent_time_unix_ns: now_ns(),
                    active_run_ids: Vec::new(),
                };
                if tx.send(msg(ToController::Heartbeat(beat))).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    // Nobody reads the events for 1.5 s, well past gone_after (600 ms): the channel is full.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut gone = Vec::new();
    let mut disconnected = Vec::new();
    let drained = timeout(Duration::from_millis(1_500), async {
        while let Some(e) = events.recv().await {
            match e {
                ControllerEvent::Liveness(LivenessEvent::Gone { agent, .. }) => gone.push(agent),
                ControllerEvent::Disconnected { agent_id, .. } => disconnected.push(agent_id),
                _ => {}
            }
        }
    })
    .await;
    assert!(drained.is_err(), "the controller kept running");
    assert_eq!(gone, ["silent"], "only the silent agent is gone");
    assert_eq!(disconnected, ["silent"]);
    let agents: Vec<_> = (controller.agents().into_iter())
        .map(|(info, state, _)| (info.agent_id, state))
        .collect();
    assert_eq!(
        agents,
        [
            ("t1".to_owned(), AgentState::Alive),
            ("t2".to_owned(), AgentState::Alive),
            ("t3".to_owned(), AgentState::Alive)
        ]
    );
    for t in talkers {
        t.abort();
    }
}

#[tokio::test]
async fn a_heartbeat_recovers_a_missing_agent() {
    // Gone only after 10 s: the test has ample time to answer once the agent is missing.
    let (addr, controller, mut events) = start_with(LivenessConfig {
        gone_after: Duration::from_secs(10),
        ..fast()
    })
    .await;
    let (tx, _stream) = open(addr, TOKEN, register("late", PROTOCOL_VERSION))
        .await
        .unwrap();
    wait_for(&mut events, |e| match e {
        ControllerEvent::Liveness(LivenessEvent::Missing { .. }) => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(controller.agents()[0].1, AgentState::Missing);
    let beat = pb::Heartbeat {
        agent_time_unix_ns: now_ns(),
        active_run_ids: vec!["r1".into()],
    };
    tx.send(msg(ToController::Heartbeat(beat))).await.unwrap();
    let recovered = wait_for(&mut events, |e| match e {
        ControllerEvent::Liveness(LivenessEvent::Recovered { agent, .. }) => Some(agent),
        ControllerEvent::Liveness(LivenessEvent::Gone { .. }) => panic!("gone before recovering"),
        _ => None,
    })
    .await;
    assert_eq!(recovered, "late");
    let runs = wait_for(&mut events, |e| match e {
        ControllerEvent::Heartbeat { active_run_ids, .. } => Some(active_run_ids),
        _ => None,
    })
    .await;
    assert_eq!(runs, ["r1"]);
}

#[tokio::test]
async fn snapshots_arrive_decoded_and_messages_reach_the_agent() {
    let (addr, controller, mut events) = start().await;
    let (tx, mut stream) = open(addr, TOKEN, register("s1", PROTOCOL_VERSION))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut stream).await,
        Some(FromController::Registered(_))
    ));
    let mut rec = IntervalRecorder::new();
    for latency_us in [900, 1_500, 250_000] {
        let outcome = Outcome::Response {
            status: 200,
            latency_us,
            service_us: latency_us,
            bytes_in: 10,
            bytes_out: 5,
            failed_check: None,
        };
        rec.record(4, &outcome);
    }
    let mut original = Snapshot::new(12);
    rec.drain_into(&mut original);
    let wire = snapshot_to_wire("run-7", &original).unwrap();
    tx.send(msg(ToController::Snapshot(wire))).await.unwrap();
    let (run_id, checked) = wait_for(&mut events, |e| match e {
        ControllerEvent::Snapshot {
            run_id, snapshot, ..
        } => Some((run_id, snapshot)),
        _ => None,
    })
    .await;
    assert_eq!(run_id, "run-7");
    assert_eq!(checked.second(), 12);
    let mut got = Snapshot::new(checked.second());
    checked.merge_into(&mut got);
    assert_eq!(got.steps[0].0, 4);
    assert_eq!(got.steps[0].1.latency, original.steps[0].1.latency);

    // A corrupt one is reported, not fatal.
    let mut bad = snapshot_to_wire("run-7", &original).unwrap();
    bad.rows[0].latency_hdr = vec![1, 2, 3];
    tx.send(msg(ToController::Snapshot(bad))).await.unwrap();
    let error = wait_for(&mut events, |e| match e {
        ControllerEvent::BadSnapshot { error, .. } => Some(error),
        _ => None,
    })
    .await;
    assert!(error.contains("row 4 latency histogram"), "{error}");

    let stop = pb::Stop {
        run_id: "run-7".into(),
        reason: "user stop".into(),
    };
    controller
        .send("s1", FromController::Stop(stop.clone()))
        .await
        .unwrap();
    let got = timeout(WAIT, async {
        loop {
            if let Some(FromController::Stop(s)) = next(&mut stream).await {
                return s;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(got, stop);
    assert!(
        controller
            .send("nobody", FromController::Stop(stop))
            .await
            .is_err()
    );
}

/// An oversized message (above gRPC's 4 MiB default on the agent port) ends that agent's session
/// with a reason, and the controller goes on serving others. Gzipped, the same message is a
/// decompression bomb (5 MiB from ~5 KB): the limit applies to the inflated size.
#[tokio::test]
async fn an_oversized_message_ends_the_session_not_the_controller() {
    let (addr, _controller, mut events) = start().await;
    for (id, gzip) in [("big", false), ("bomb", true)] {
        let (tx, mut stream) = open_with(addr, TOKEN, register(id, PROTOCOL_VERSION), gzip)
            .await
            .unwrap();
        assert!(matches!(
            next(&mut stream).await,
            Some(FromController::Registered(_))
        ));
        let huge = pb::IntervalSnapshot {
            run_id: "x".repeat(5 << 20),
            ..pb::IntervalSnapshot::default()
        };
        tx.send(msg(ToController::Snapshot(huge))).await.unwrap();
        let reason = wait_for(&mut events, |e| match e {
            ControllerEvent::Disconnected { agent_id, reason } if agent_id == id => Some(reason),
            _ => None,
        })
        .await;
        assert!(reason.contains("4194304 bytes"), "{id}: {reason}");
    }
    // Still serving: another agent registers.
    let (_tx2, mut other) = open(addr, TOKEN, register("small", PROTOCOL_VERSION))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut other).await,
        Some(FromController::Registered(_))
    ));
}
