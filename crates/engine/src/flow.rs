//! Running a flow: the actions of `on_start`, an iteration, `on_stop`, `setup` and `teardown`
//! (requests with their checks and extractions, groups, loops, conditions, scripts and custom
//! metrics), for one virtual user.

use crate::client::{Rendered, StepResult};
use crate::pace;
use crate::prepare::{DynamicBody, JsonPiece, PreparedAction, PreparedCondition, PreparedStep};
use crate::record;
use crate::respond::{self, Verdict};
use crate::vars::{Escape, Scope, Value};
use crate::vu::{User, micros};
use http::header::{self, HeaderValue};
use stampede_metrics::{CheckFailure, ErrorKind, Outcome};
use stampede_scenario::MetricKind;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// How a flow goes on after an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Next,
    /// An extraction failed with `on_failure: fail` (or a feeder ran out): the rest of the
    /// iteration is skipped; the iteration still counts as done.
    EndIteration,
    /// The user must stop now (firm stop, or the run's request limit).
    Stop,
}

/// Per-run-of-a-flow state.
pub(crate) struct Pass {
    /// Open model: when the iteration should have started (the first request's latency runs
    /// from there).
    pub scheduled: Option<Instant>,
    /// Set once the first request of the pass was sent.
    pub sent: bool,
    /// The think time due after the last top-level request (returned to the closed loop so
    /// `pacing` can replace it).
    pub last_think: Duration,
}

impl Pass {
    pub fn new(scheduled: Option<Instant>) -> Pass {
        Pass {
            scheduled,
            sent: false,
            last_think: Duration::ZERO,
        }
    }
}

type Boxed<'f> = Pin<Box<dyn Future<Output = Flow> + Send + 'f>>;

impl<'a> User<'a> {
    /// Runs `actions` in order. A request's think time follows it, except for the last
    /// top-level one when `keep_last_think` (its pause is left in `pass.last_think`).
    ///
    /// Boxed, also at the top level of an iteration, where recursion does not require it: an
    /// unboxed iteration saved ~120 instructions per iteration (its allocation) but made every
    /// idle user 3.4 KiB bigger, since the user's task then holds the iteration's future for
    /// good (2.9 → 6.3 KiB per idle user at 10,000 users, `bench/memory.sh`). The future is
    /// 2.4 KiB since opening a connection and fetching resources are boxed where they happen
    /// (3.3 KiB before, in a release build).
    pub(crate) fn actions<'f>(
        &'f mut self,
        actions: &'a [PreparedAction],
        pass: &'f mut Pass,
        keep_last_think: bool,
    ) -> Boxed<'f>
    where
        'a: 'f,
    {
        Box::pin(async move {
            for (i, action) in actions.iter().enumerate() {
                let last = keep_last_think && i + 1 == actions.len();
                let flow = self.action(action, pass, last).await;
                if flow != Flow::Next {
                    return flow;
                }
            }
            Flow::Next
        })
    }

    async fn action(&mut self, action: &'a PreparedAction, pass: &mut Pass, last: bool) -> Flow {
        match action {
            PreparedAction::Request(step) => {
                let flow = self.request(step, pass).await;
                let pause = pace::think(&mut self.rng, step.think_time, self.factor);
                if flow != Flow::Next {
                    return flow;
                }
                if last {
                    pass.last_think = pause;
                    return Flow::Next;
                }
                self.think(pause).await
            }
            PreparedAction::Group {
                trend,
                actions,
                think_time,
            } => {
                let started = Instant::now();
                let flow = self.actions(actions, pass, false).await;
                let ms = started.elapsed().as_secs_f64() * 1e3;
                record::lock(self.shard).record_trend(trend, ms);
                if flow != Flow::Next {
                    return flow;
                }
                match think_time {
                    Some(t) => {
                        let pause = pace::think(&mut self.rng, *t, self.factor);
                        self.think(pause).await
                    }
                    None => Flow::Next,
                }
            }
            PreparedAction::Repeat { count, actions } => {
                for _ in 0..*count {
                    let flow = self.actions(actions, pass, false).await;
                    if flow != Flow::Next {
                        return flow;
                    }
                }
                Flow::Next
            }
            PreparedAction::ForEach { list, var, actions } => {
                let items: std::sync::Arc<[String]> = match self.vars.get(*list) {
                    Some(Value::List(items)) => items.clone(),
                    Some(Value::Text(t)) => vec![t.clone()].into(),
                    None => Vec::new().into(),
                };
                for item in items.iter() {
                    self.vars.set(*var, Some(Value::Text(item.clone())));
                    let flow = self.actions(actions, pass, false).await;
                    if flow != Flow::Next {
                        return flow;
                    }
                }
                Flow::Next
            }
            PreparedAction::If {
                condition,
                then,
                otherwise,
            } => {
                let branch = if self.holds(condition) {
                    then
                } else {
                    otherwise
                };
                self.actions(branch, pass, false).await
            }
            PreparedAction::Script { id, row } => {
                self.script(*id, *row);
                Flow::Next
            }
            PreparedAction::Metric { kind, name, value } => {
                self.metric(*kind, name, value);
                Flow::Next
            }
        }
    }

    /// Pauses inside a flow: only a firm stop (or the end of requests) cuts it.
    async fn think(&mut self, pause: Duration) -> Flow {
        let exhausted = &self.ctx.limits.requests_exhausted;
        if self.pause_either(pause, self.stop.hard(), exhausted).await {
            Flow::Next
        } else {
            Flow::Stop
        }
    }

    fn holds(&mut self, condition: &PreparedCondition) -> bool {
        match condition {
            PreparedCondition::Exists { slot, negate } => {
                let set = self.vars.get(*slot).is_some_and(|v| match v {
                    Value::Text(t) => !t.is_empty(),
                    Value::List(items) => !items.is_empty(),
                });
                set != *negate
            }
            PreparedCondition::Equals {
                slot,
                value,
                negate,
            } => {
                let expected = value.render(&mut self.scope());
                let actual = self.vars.get(*slot).map(|v| v.text().into_owned());
                let equal = matches!((&actual, &expected), (Some(a), Ok(e)) if a == e);
                equal != *negate
            }
            PreparedCondition::Matches { slot, regex } => self
                .vars
                .get(*slot)
                .is_some_and(|v| regex.is_match(&v.text())),
            PreparedCondition::LastCheck { passed } => self.last_passed == *passed,
        }
    }

    pub(crate) fn scope(&mut self) -> Scope<'_> {
        Scope {
            vars: &self.vars,
            vu: self.number,
            iteration: self.iteration,
            rng: &mut self.rng,
        }
    }

    fn metric(&mut self, kind: MetricKind, name: &str, value: &crate::vars::Compiled) {
        let Ok(text) = value.render(&mut self.scope()) else {
            return;
        };
        let Ok(v) = text.trim().parse::<f64>() else {
            return;
        };
        let mut shard = record::lock(self.shard);
        match kind {
            MetricKind::Counter => shard.add_counter(name, v),
            MetricKind::Trend => shard.record_trend(name, v),
            MetricKind::Gauge => shard.set_gauge(name, v),
        }
    }

    /// Sends one request, checks the response, extracts its values and fetches its resources.
    async fn request(&mut self, step: &'a PreparedStep, pass: &mut Pass) -> Flow {
        let limits = &self.ctx.limits;
        if self.stop.hard().is_fired() || !limits.try_request() {
            return Flow::Stop;
        }
        // Cheap insurance against a user that never yields (instant errors, no think time).
        tokio::task::consume_budget().await;
        let due = match pass.scheduled {
            None => None,
            Some(at) if !pass.sent => Some(at),
            Some(_) => Some(Instant::now()),
        };
        pass.sent = true;
        let result = match &step.dynamic {
            None => self.client.execute(step).await,
            Some(_) => match self.render(step) {
                Ok(rendered) => self.client.execute_rendered(step, rendered).await,
                Err(message) => {
                    let outcome = Outcome::Error {
                        kind: ErrorKind::Variable,
                        bytes_out: 0,
                        message: &message,
                    };
                    record::lock(self.shard).record(step.row, &outcome);
                    self.last_passed = false;
                    return Flow::EndIteration;
                }
            },
        };
        let flow = self.record_response(step, &result, due);
        if flow == Flow::Next
            && let Some(resources) = &step.resources
            && matches!(result, StepResult::Response { .. })
        {
            // Boxed, like opening a connection: a large future on a path most requests skip.
            return Box::pin(self.resources(step, resources)).await;
        }
        flow
    }

    /// Renders a step's templated parts. `Err` says why the request cannot be sent (a variable
    /// that is not set, a header value that is not valid).
    fn render(&mut self, step: &PreparedStep) -> Result<Rendered, String> {
        let dynamic = step.dynamic.as_ref().expect("a dynamic step");
        let unset = |slots: &crate::vars::Slots, e: crate::vars::Unset| {
            let name = slots.name(e.0);
            format!("variable `{name}` is not set (its extraction failed or has not run yet)")
        };
        let slots = &self.ctx.prepared.slots;
        let mut scope = Scope {
            vars: &self.vars,
            vu: self.number,
            iteration: self.iteration,
            rng: &mut self.rng,
        };
        let url = match &dynamic.url {
            None => step.uri.to_string(),
            Some(t) => {
                let mut url = String::new();
                t.render_into(&mut scope, &mut url, Escape::Url)
                    .map_err(|e| unset(slots, e))?;
                if url.starts_with('/') && !self.ctx.prepared.base_path.is_empty() {
                    // A URL that started with a placeholder gets the base path when rendered.
                    url.insert_str(0, &self.ctx.prepared.base_path);
                }
                url
            }
        };
        let mut headers = step.headers.clone();
        for (name, value) in &dynamic.headers {
            let text = value.render(&mut scope).map_err(|e| unset(slots, e))?;
            let value = HeaderValue::from_str(&text).map_err(|_| {
                format!("header `{name}` rendered to a value that cannot be sent: {text:?}")
            })?;
            headers.insert(name.clone(), value);
        }
        let body = match &dynamic.body {
            None => step.body.clone(),
            Some(body) => {
                let mut out = String::new();
                match body {
                    DynamicBody::Text(t) => {
                        t.render_into(&mut scope, &mut out, Escape::None)
                            .map_err(|e| unset(slots, e))?;
                    }
                    DynamicBody::Form(fields) => {
                        let mut rendered = Vec::with_capacity(fields.len());
                        for (k, v) in fields {
                            rendered.push((
                                k.clone(),
                                v.render(&mut scope).map_err(|e| unset(slots, e))?,
                            ));
                        }
                        out = stampede_scenario::encode_form(&rendered);
                    }
                    DynamicBody::Json(pieces) => {
                        for piece in pieces {
                            match piece {
                                JsonPiece::Raw(t) => out.push_str(t),
                                JsonPiece::Quoted(t) => {
                                    out.push('"');
                                    t.render_into(&mut scope, &mut out, Escape::JsonString)
                                        .map_err(|e| unset(slots, e))?;
                                    out.push('"');
                                }
                                JsonPiece::Typed(t) => {
                                    let text = t.render(&mut scope).map_err(|e| unset(slots, e))?;
                                    out.push_str(&respond::typed_json(&text));
                                }
                            }
                        }
                    }
                }
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(out.len()));
                bytes::Bytes::from(out)
            }
        };
        Ok(Rendered { url, headers, body })
    }

    /// Records a request's outcome after its checks and extractions.
    fn record_response(
        &mut self,
        step: &PreparedStep,
        result: &StepResult,
        due: Option<Instant>,
    ) -> Flow {
        match *result {
            StepResult::Response {
                status,
                latency_us,
                bytes_in,
                bytes_out,
            } => {
                let response_us = due.map_or(latency_us, |at| micros(at.elapsed()));
                let verdict = if step.check.passes(status) {
                    let (body, last) = self.client.last_response();
                    respond::evaluate(step, status, latency_us, body, last, &mut self.vars)
                } else {
                    // Nothing is extracted from a response that failed its status check: the
                    // rest of the iteration would use stale or missing values.
                    let mut v = Verdict::failed(step.check.name.clone(), format!("got {status}"));
                    v.stop = step.extractions.iter().any(|e| {
                        e.on_failure == stampede_scenario::OnFailure::Fail && e.default.is_none()
                    });
                    v
                };
                self.last_passed = verdict.failure.is_none();
                let failed_check = verdict
                    .failure
                    .as_ref()
                    .map(|(check, detail)| CheckFailure {
                        check: check.clone(),
                        detail: detail.clone(),
                    });
                let outcome = Outcome::Response {
                    status,
                    latency_us: response_us.max(latency_us),
                    service_us: latency_us,
                    bytes_in,
                    bytes_out,
                    failed_check: failed_check.as_ref(),
                };
                let timings = self.client.timings();
                let mut shard = record::lock(self.shard);
                shard.record(step.row, &outcome);
                if let Some(timings) = &timings {
                    shard.record_timings(step.row, timings);
                }
                if verdict.stop {
                    Flow::EndIteration
                } else {
                    Flow::Next
                }
            }
            StepResult::Error {
                kind,
                bytes_out,
                ref message,
            } => {
                self.last_passed = false;
                let outcome = Outcome::Error {
                    kind,
                    bytes_out,
                    message,
                };
                record::lock(self.shard).record(step.row, &outcome);
                // Values this request should have extracted are missing: the rest of the
                // iteration would only fail on them.
                if step.extractions.iter().any(|e| {
                    e.on_failure == stampede_scenario::OnFailure::Fail && e.default.is_none()
                }) {
                    Flow::EndIteration
                } else {
                    Flow::Next
                }
            }
        }
    }
}
