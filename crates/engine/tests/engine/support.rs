//! Test helpers: build `Plan`s directly in Rust, run them, and collect the events.

use stampede_engine::{Assignment, EndReason, EngineEvent};
use stampede_metrics::{Snapshot, StepStats};
use stampede_scenario::{
    Action, Arrival, Arrivals, Body, Content, Expect, HttpOptions, Load, Method, Plan, RateStage,
    RowKey, Scenario, Scheme, Stage, Step, Target, Template, ThinkTime,
};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One step of a scenario being built.
pub struct StepSpec {
    name: String,
    method: Method,
    url: String,
    expect: Expect,
    timeout: Option<Duration>,
    body: Option<Body>,
    headers: Vec<(String, String)>,
}

pub fn get(name: &str, url: &str) -> StepSpec {
    StepSpec {
        name: name.into(),
        method: Method::Get,
        url: url.into(),
        expect: Expect::default(),
        timeout: None,
        body: None,
        headers: Vec::new(),
    }
}

impl StepSpec {
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    pub fn expect(mut self, codes: &[u16]) -> Self {
        self.expect = Expect {
            status: Some(codes.to_vec()),
            ..Expect::default()
        };
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn body(mut self, content_type: &str, bytes: &[u8]) -> Self {
        self.body = Some(Body {
            content_type: content_type.into(),
            content: Content::Static(bytes.to_vec()),
        });
        self
    }
}

/// Builds a plan against `127.0.0.1:port`.
pub struct PlanBuilder {
    plan: Plan,
}

pub fn plan(addr: SocketAddr) -> PlanBuilder {
    PlanBuilder {
        plan: Plan {
            target: Target {
                scheme: Scheme::Http,
                host: addr.ip().to_string(),
                port: addr.port(),
                base_path: String::new(),
            },
            load: Load {
                jitter_start: false,
                ..Load::default()
            },
            scenarios: Vec::new(),
            http: HttpOptions::default(),
            rows: Vec::new(),
            thresholds: Vec::new(),
            variables: Vec::new(),
            setup: Vec::new(),
            teardown: Vec::new(),
            data: Vec::new(),
        },
    }
}

impl PlanBuilder {
    /// `users` started at once, held for `duration`.
    pub fn users(self, users: u32, duration: Duration) -> Self {
        self.stages(&[(Duration::ZERO, users), (duration, users)])
    }

    pub fn stages(mut self, stages: &[(Duration, u32)]) -> Self {
        self.plan.load.stages = stages
            .iter()
            .map(|&(duration, users)| Stage { duration, users })
            .collect();
        self
    }

    /// Open model: `rate` iterations per second for `duration`, with a pool of `max_users`.
    pub fn arrival_rate(mut self, rate: f64, duration: Duration, max_users: u32) -> Self {
        let rate_stage = |duration| RateStage { duration, rate };
        self.plan.load.stages.clear();
        self.plan.load.arrival = Some(Arrival {
            stages: vec![rate_stage(Duration::ZERO), rate_stage(duration)],
            pre_allocated_users: max_users.min(rate.ceil() as u32).max(1),
            max_users,
            arrivals: Arrivals::Even,
        });
        self
    }

    /// Edits the whole load (e.g. `graceful_stop`, limits, the pool).
    pub fn load(mut self, edit: impl FnOnce(&mut Load)) -> Self {
        edit(&mut self.plan.load);
        self
    }

    /// Edits the last scenario added (its own `load`, `start`, `pacing`...).
    pub fn edit_scenario(mut self, edit: impl FnOnce(&mut Scenario)) -> Self {
        edit(self.plan.scenarios.last_mut().expect("a scenario"));
        self
    }

    pub fn jitter_start(mut self, on: bool) -> Self {
        self.plan.load.jitter_start = on;
        self
    }

    pub fn http(mut self, edit: impl FnOnce(&mut HttpOptions)) -> Self {
        edit(&mut self.plan.http);
        self
    }

    /// Adds a scenario; rows are assigned per distinct (scenario, name, method), in order.
    pub fn scenario(
        mut self,
        name: &str,
        weight: u32,
        think_time: ThinkTime,
        steps: Vec<StepSpec>,
    ) -> Self {
        let steps = steps
            .into_iter()
            .map(|s| {
                let key = RowKey {
                    scenario: name.into(),
                    name: s.name.clone(),
                    method: s.method.as_str().into(),
                };
                let row = match self.plan.rows.iter().position(|r| *r == key) {
                    Some(i) => i,
                    None => {
                        self.plan.rows.push(key);
                        self.plan.rows.len() - 1
                    }
                } as u32;
                Action::Request(Box::new(Step {
                    row,
                    method: s.method,
                    url: Template::text(s.url),
                    headers: (s.headers.into_iter())
                        .map(|(k, v)| (k, Template::text(v)))
                        .collect(),
                    body: s.body,
                    expect: s.expect,
                    extract: Vec::new(),
                    timeout: s.timeout,
                    think_time: None,
                    resources: None,
                }))
            })
            .collect();
        self.plan.scenarios.push(Scenario {
            name: name.into(),
            weight,
            think_time,
            on_start: Vec::new(),
            steps,
            on_stop: Vec::new(),
            load: None,
            start: Duration::ZERO,
            pacing: None,
            pace_factor: None,
        });
        self
    }

    /// Sets the `on_start` steps of the last scenario added.
    pub fn on_start(mut self, steps: Vec<StepSpec>) -> Self {
        let scenario = self.plan.scenarios.pop().expect("a scenario");
        let name = scenario.name.clone();
        let (weight, think) = (scenario.weight, scenario.think_time);
        let main = scenario.steps;
        self = self.scenario(&name, weight, think, steps);
        let last = self.plan.scenarios.last_mut().expect("just added");
        last.on_start = std::mem::replace(&mut last.steps, main);
        self
    }

    /// The row index of `(scenario, name)`.
    pub fn row(&self, scenario: &str, name: &str) -> u32 {
        self.plan
            .rows
            .iter()
            .position(|r| r.scenario == scenario && r.name == name)
            .expect("row exists") as u32
    }

    pub fn build(&self) -> Arc<Plan> {
        Arc::new(self.plan.clone())
    }
}

/// Everything a run produced.
pub struct RunOutput {
    pub reason: EndReason,
    pub snapshots: Vec<Snapshot>,
    /// From the call to `run` to its return.
    pub elapsed: Duration,
    /// Per-row totals over every snapshot.
    pub rows: BTreeMap<u32, StepStats>,
    /// `EngineEvent::Warning` messages, in order.
    pub warnings: Vec<String>,
}

impl RunOutput {
    pub fn row(&self, row: u32) -> &StepStats {
        self.rows.get(&row).expect("row recorded")
    }

    pub fn requests(&self, row: u32) -> u64 {
        self.rows.get(&row).map_or(0, |s| s.requests)
    }

    pub fn total_requests(&self) -> u64 {
        self.rows.values().map(|s| s.requests).sum()
    }

    pub fn iterations(&self) -> u64 {
        self.snapshots.iter().map(|s| s.iterations).sum()
    }
}

/// Runs `plan` to its end.
pub async fn run(plan: Arc<Plan>) -> RunOutput {
    run_cancelled_after(plan, None).await
}

/// Runs `plan`, cancelling after `cancel_after` if given. Checks the event protocol: `Started`
/// first, snapshots numbered 0, 1, 2... and `Finished` last with the returned reason.
pub async fn run_cancelled_after(plan: Arc<Plan>, cancel_after: Option<Duration>) -> RunOutput {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let collector = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(event) = rx.recv().await {
            events.push(event);
        }
        events
    });
    let cancel = CancellationToken::new();
    if let Some(after) = cancel_after {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            cancel.cancel();
        });
    }
    let start = Instant::now();
    let reason = stampede_engine::run(
        Assignment {
            plan,
            seed: 42,
            arrival_phase: 0.0,
            once: stampede_engine::Once::Here,
            join_at: std::time::Duration::ZERO,
        },
        tx,
        cancel,
    )
    .await
    .expect("run starts");
    let elapsed = start.elapsed();
    let events = collector.await.expect("collector");

    assert!(
        matches!(events.first(), Some(EngineEvent::Started { .. })),
        "first event is Started"
    );
    assert!(
        matches!(events.last(), Some(EngineEvent::Finished { reason: r }) if *r == reason),
        "last event is Finished with the returned reason"
    );
    let warnings: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Warning(w) => Some(w.clone()),
            _ => None,
        })
        .collect();
    let snapshots: Vec<Snapshot> = events
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::Snapshot(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(!snapshots.is_empty(), "at least the final snapshot");
    for (i, s) in snapshots.iter().enumerate() {
        assert_eq!(s.second, i as u32, "snapshots are numbered 0, 1, 2...");
    }
    let mut rows: BTreeMap<u32, StepStats> = BTreeMap::new();
    for snapshot in &snapshots {
        for (id, stats) in &snapshot.steps {
            rows.entry(*id).or_default().merge(stats);
        }
    }
    RunOutput {
        reason,
        snapshots,
        elapsed,
        rows,
        warnings,
    }
}
