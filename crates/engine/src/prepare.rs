//! Everything about a plan's requests that can be built once, before the run: parsed URIs, origins,
//! header maps, bodies as [`Bytes`], check names. The per-request path then only clones cheap,
//! reference-counted values.

use crate::EngineError;
use crate::client::Keep;
use crate::vars::{Compiled, Slots};
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::uri::Authority;
use http::{HeaderMap, Method, Uri};
use stampede_scenario::{
    Action, Condition, Content, Distribution, Expect, JsonPart, MetricKind, OnFailure, Plan,
    Scheme, Step, ThinkTime,
};
use std::sync::Arc;
use std::time::Duration;

/// `User-Agent` sent unless the plan sets one.
const USER_AGENT: &str = concat!("stampede/", env!("CARGO_PKG_VERSION"));

/// Where a connection goes: the key of a virtual user's connection pool.
#[derive(Debug)]
pub(crate) struct Origin {
    pub scheme: Scheme,
    /// Lower-case host name or IP address, without IPv6 brackets.
    pub host: Box<str>,
    pub port: u16,
    /// `Host` header value (`host` or `host:port` when the port is not the scheme's default).
    pub host_header: HeaderValue,
    /// The same as a URI authority, for HTTP/2's `:authority`.
    pub authority: Authority,
}

impl Origin {
    /// Builds an origin; `host` may carry IPv6 brackets.
    pub fn new(scheme: Scheme, host: &str, port: u16) -> Result<Origin, String> {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err("empty host".into());
        }
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let header = if port == default_port(scheme) {
            bracketed
        } else {
            format!("{bracketed}:{port}")
        };
        let host_header = HeaderValue::from_str(&header).map_err(|e| e.to_string())?;
        let authority = header
            .parse()
            .map_err(|e: http::uri::InvalidUri| e.to_string())?;
        Ok(Origin {
            scheme,
            host: host.into_boxed_str(),
            port,
            host_header,
            authority,
        })
    }

    /// True when this origin is `scheme://host:port` (`host` already lower-case, unbracketed).
    pub fn is(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        self.scheme == scheme && self.port == port && *self.host == *host
    }

    pub fn is_https(&self) -> bool {
        self.scheme == Scheme::Https
    }
}

/// A URL as sent: a path on the target (`None`), or an absolute `http(s)` URL's scheme,
/// lower-case unbracketed host and port; with the origin-form URI (`/path?query`).
pub(crate) type SplitUrl = (Option<(Scheme, String, u16)>, Uri);

/// Splits a path or an absolute URL (what a step's URL may be, written or rendered).
pub(crate) fn split_url(url: &str) -> Result<SplitUrl, String> {
    if url.starts_with('/') {
        let uri: Uri = url.parse().map_err(|e| format!("{e}"))?;
        return Ok((None, uri));
    }
    let absolute: Uri = url.parse().map_err(|e| format!("{e}"))?;
    let scheme = match absolute.scheme_str() {
        Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        _ => return Err("expected an http(s) URL or a path".into()),
    };
    let host = absolute.host().ok_or_else(|| "missing host".to_owned())?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = absolute.port_u16().unwrap_or(default_port(scheme));
    let path = absolute.path_and_query().map_or("/", |p| p.as_str());
    let uri: Uri = path.parse().map_err(|e| format!("{e}"))?;
    Ok((Some((scheme, host, port)), uri))
}

pub(crate) fn default_port(scheme: Scheme) -> u16 {
    match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    }
}

/// The response check of a step, with its name built once.
#[derive(Debug)]
pub(crate) struct Check {
    /// Accepted codes; `None` means any status below 400.
    codes: Option<Box<[u16]>>,
    /// `status < 400` or `status in [200, 201]`.
    pub name: String,
}

impl Check {
    fn new(expect: &Expect) -> Check {
        match &expect.status {
            None => Check {
                codes: None,
                name: "status < 400".into(),
            },
            Some(codes) => {
                let list: Vec<String> = codes.iter().map(u16::to_string).collect();
                Check {
                    codes: Some(codes.clone().into_boxed_slice()),
                    name: format!("status in [{}]", list.join(", ")),
                }
            }
        }
    }

    pub fn passes(&self, status: u16) -> bool {
        match &self.codes {
            None => status < 400,
            Some(codes) => codes.contains(&status),
        }
    }
}

/// One step, ready to send.
#[derive(Debug)]
pub(crate) struct PreparedStep {
    /// Unique index over every prepared step of the plan, for per-VU caches.
    pub id: usize,
    /// Request row the outcome is recorded under.
    pub row: u32,
    pub method: Method,
    /// Index into [`PreparedPlan::origins`].
    pub origin: usize,
    /// Origin-form request target (`/path?query`).
    pub uri: Uri,
    /// Every header to send except `Cookie`: `Host`, `User-Agent`, defaults, step headers,
    /// `Content-Type` and `Content-Length` when there is a body.
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The HTTP/1.1 request of a static step, encoded in advance (see
    /// [`crate::client::encoded_request`]); `None` for a templated step or a large body.
    pub encoded: Option<Box<[u8]>>,
    /// Overall deadline of the step (including redirects).
    pub timeout: Duration,
    /// Pause after the step (step override, else the scenario's).
    pub think_time: ThinkTime,
    pub check: Check,
    /// Whether something reads this step's response body, so its first `max_body` bytes are
    /// kept; otherwise the body is only counted.
    pub reads_body: bool,
    /// What of the final response's head is kept: every header when something reads them
    /// (header checks, header and cookie extraction, embedded resources); in a plan with
    /// scripts, otherwise, the HTTP/1.1 head as received for `response:header(name)` (see
    /// [`crate::client::LastResponse`]); else only `Set-Cookie` and `Location`.
    pub keep: Keep,
    /// Parts rendered per request from the user's variables (`None`: a fully static step).
    pub dynamic: Option<Box<Dynamic>>,
    /// Body, JSON and header checks, with their names.
    pub checks: Vec<(String, stampede_extract::Check)>,
    /// `expect.max_duration`, in microseconds.
    pub max_duration_us: Option<u64>,
    pub extractions: Vec<PreparedExtraction>,
    /// Fetch the page's embedded resources.
    pub resources: Option<stampede_scenario::Resources>,
    /// The request a resource is fetched with (a `GET` on the resources row; its URL is
    /// rendered per resource).
    pub resource_step: Option<Box<PreparedStep>>,
}

/// The templated parts of a step.
#[derive(Debug)]
pub(crate) struct Dynamic {
    /// The URL when it has placeholders (rendered, then joined with the target like the file's
    /// static URLs are).
    pub url: Option<Compiled>,
    /// Headers with placeholders (set after the static ones, replacing a header of that name).
    pub headers: Vec<(HeaderName, Compiled)>,
    pub body: Option<DynamicBody>,
    /// The plan sets `Host` itself (in `http.headers` or the step's): it is sent as set, not
    /// replaced by the rendered URL's host.
    pub plan_host: bool,
}

/// A body with placeholders.
#[derive(Debug)]
pub(crate) enum DynamicBody {
    Text(Compiled),
    Form(Vec<(String, Compiled)>),
    Json(Vec<JsonPiece>),
}

#[derive(Debug)]
pub(crate) enum JsonPiece {
    Raw(Box<str>),
    Quoted(Compiled),
    Typed(Compiled),
}

/// One extraction, ready to run.
#[derive(Debug)]
pub(crate) struct PreparedExtraction {
    pub slot: usize,
    /// The variable's name (for the failed check `extract <name>`).
    pub name: String,
    pub extractor: stampede_extract::Extractor,
    pub all: bool,
    pub on_failure: OnFailure,
    pub default: Option<String>,
}

#[derive(Debug)]
pub(crate) struct PreparedScenario {
    pub think_time: ThinkTime,
    pub on_start: Vec<PreparedAction>,
    pub steps: Vec<PreparedAction>,
    pub on_stop: Vec<PreparedAction>,
    /// Closed model: fixed interval between iteration starts.
    pub pacing: Option<Duration>,
    /// Drawn once per user; multiplies its think times.
    pub pace_factor: Option<Distribution>,
    /// The feeders (indexes in [`PreparedPlan::feeds`]) this scenario's users draw from
    /// ([`stampede_scenario::Scenario::uses_feeder`]): a user never spends a `unique` row its
    /// flows cannot use.
    pub feeds: Vec<usize>,
}

/// An action of a flow, with variables resolved to slots.
#[derive(Debug)]
pub(crate) enum PreparedAction {
    Request(Box<PreparedStep>),
    Group {
        /// The trend its time is recorded under (`group.<name>`).
        trend: String,
        actions: Vec<PreparedAction>,
        think_time: Option<ThinkTime>,
    },
    Repeat {
        count: u32,
        actions: Vec<PreparedAction>,
    },
    ForEach {
        list: usize,
        var: usize,
        actions: Vec<PreparedAction>,
    },
    If {
        condition: PreparedCondition,
        then: Vec<PreparedAction>,
        otherwise: Vec<PreparedAction>,
    },
    Script {
        id: stampede_script::ScriptId,
        row: u32,
    },
    Metric {
        kind: MetricKind,
        name: String,
        value: Compiled,
    },
}

#[derive(Debug)]
pub(crate) enum PreparedCondition {
    Exists {
        slot: usize,
        negate: bool,
    },
    Equals {
        slot: usize,
        value: Compiled,
        negate: bool,
    },
    Matches {
        slot: usize,
        regex: regex::Regex,
    },
    LastCheck {
        passed: bool,
    },
}

/// The whole plan, prebuilt.
#[derive(Debug)]
pub(crate) struct PreparedPlan {
    /// Distinct origins of the plan; index 0 is the target.
    pub origins: Vec<Arc<Origin>>,
    pub scenarios: Vec<PreparedScenario>,
    pub setup: Vec<PreparedAction>,
    pub teardown: Vec<PreparedAction>,
    /// Number of prepared steps (ids are `0..step_count`).
    pub step_count: usize,
    /// Every variable name of the plan.
    pub slots: Slots,
    /// `variables`: what every user starts with.
    pub initial: Vec<(usize, String)>,
    /// The plan's scripts (empty when it has none: then no user creates an interpreter).
    pub scripts: Arc<stampede_script::Scripts>,
    /// The target's base path, joined to rendered URLs that are paths.
    pub base_path: String,
    /// Feeders whose columns the plan uses.
    pub feeds: Vec<PreparedFeed>,
}

/// A feeder at run time, with the slots its columns fill.
#[derive(Debug)]
pub(crate) struct PreparedFeed {
    pub name: String,
    pub feed: crate::feed::Feed,
    pub each: stampede_scenario::Each,
    /// (column index, variable slot) of every column a template uses.
    pub columns: Vec<(usize, usize)>,
}

impl PreparedPlan {
    pub fn new(plan: &Plan) -> Result<PreparedPlan, EngineError> {
        let target = Origin::new(plan.target.scheme, &plan.target.host, plan.target.port).map_err(
            |reason| EngineError::InvalidTarget {
                target: plan.target.to_string(),
                reason,
            },
        )?;
        let mut builder = Builder {
            plan,
            origins: vec![Arc::new(target)],
            next_id: 0,
            slots: Slots::default(),
            scripts: stampede_script::Scripts::new(),
            scripted: has_script(&plan.setup)
                || has_script(&plan.teardown)
                || (plan.scenarios.iter()).any(|s| {
                    has_script(&s.on_start) || has_script(&s.steps) || has_script(&s.on_stop)
                }),
        };
        let initial = (plan.variables.iter())
            .map(|(name, value)| (builder.slots.slot(name), value.clone()))
            .collect();
        let none = ThinkTime::None;
        let setup = builder.actions(&plan.setup, none)?;
        let teardown = builder.actions(&plan.teardown, none)?;
        let mut scenarios = Vec::with_capacity(plan.scenarios.len());
        for scenario in &plan.scenarios {
            let think = scenario.think_time;
            scenarios.push(PreparedScenario {
                think_time: think,
                on_start: builder.actions(&scenario.on_start, think)?,
                steps: builder.actions(&scenario.steps, think)?,
                on_stop: builder.actions(&scenario.on_stop, think)?,
                pacing: scenario.pacing,
                pace_factor: scenario.pace_factor,
                feeds: (plan.data.iter().enumerate())
                    .filter(|(_, set)| scenario.uses_feeder(&set.feeder.name))
                    .map(|(i, _)| i)
                    .collect(),
            });
        }
        let feeds: Vec<PreparedFeed> = (plan.data.iter())
            .map(|set| {
                let columns = (set.table.columns.iter().enumerate())
                    .filter_map(|(i, c)| {
                        let slot = builder.slots.get(&format!("{}.{c}", set.feeder.name))?;
                        Some((i, slot))
                    })
                    .collect();
                PreparedFeed {
                    name: set.feeder.name.clone(),
                    feed: crate::feed::Feed::new(&set.feeder, set.table.clone(), None),
                    each: set.feeder.each,
                    columns,
                }
            })
            .collect();
        Ok(PreparedPlan {
            feeds,
            origins: builder.origins,
            scenarios,
            setup,
            teardown,
            step_count: builder.next_id,
            slots: builder.slots,
            initial,
            scripts: Arc::new(builder.scripts),
            base_path: plan.target.base_path.clone(),
        })
    }
}

struct Builder<'a> {
    plan: &'a Plan,
    origins: Vec<Arc<Origin>>,
    next_id: usize,
    slots: Slots,
    scripts: stampede_script::Scripts,
    /// The plan has scripts: they read the last response (`response`), so every step keeps it.
    scripted: bool,
}

/// Whether `actions` hold a script, at any depth.
fn has_script(actions: &[Action]) -> bool {
    actions.iter().any(|a| match a {
        Action::Script(_) => true,
        Action::Group { actions, .. }
        | Action::Repeat { actions, .. }
        | Action::ForEach { actions, .. } => has_script(actions),
        Action::If {
            then, otherwise, ..
        } => has_script(then) || has_script(otherwise),
        Action::Request(_) | Action::Metric(_) => false,
    })
}

impl Builder<'_> {
    fn actions(
        &mut self,
        actions: &[Action],
        think: ThinkTime,
    ) -> Result<Vec<PreparedAction>, EngineError> {
        actions.iter().map(|a| self.action(a, think)).collect()
    }

    fn action(&mut self, action: &Action, think: ThinkTime) -> Result<PreparedAction, EngineError> {
        Ok(match action {
            Action::Request(step) => PreparedAction::Request(Box::new(self.step(step, think)?)),
            Action::Group {
                name,
                actions,
                think_time,
            } => PreparedAction::Group {
                trend: format!("group.{name}"),
                actions: self.actions(actions, think)?,
                think_time: *think_time,
            },
            Action::Repeat { count, actions } => PreparedAction::Repeat {
                count: *count,
                actions: self.actions(actions, think)?,
            },
            Action::ForEach { list, var, actions } => PreparedAction::ForEach {
                list: self.slots.slot(list),
                var: self.slots.slot(var),
                actions: self.actions(actions, think)?,
            },
            Action::If {
                condition,
                then,
                otherwise,
            } => PreparedAction::If {
                condition: self.condition(condition)?,
                then: self.actions(then, think)?,
                otherwise: self.actions(otherwise, think)?,
            },
            Action::Script(script) => {
                for name in &script.sets {
                    self.slots.slot(name);
                }
                let id = self
                    .scripts
                    .add(&script.origin, script.first_line, &script.code)
                    .map_err(|e| EngineError::Script(e.to_string()))?;
                PreparedAction::Script {
                    id,
                    row: script.row,
                }
            }
            Action::Metric(op) => PreparedAction::Metric {
                kind: op.kind,
                name: op.name.clone(),
                value: Compiled::new(&op.value, &mut self.slots),
            },
        })
    }

    fn condition(&mut self, condition: &Condition) -> Result<PreparedCondition, EngineError> {
        Ok(match condition {
            Condition::Exists { var, negate } => PreparedCondition::Exists {
                slot: self.slots.slot(var),
                negate: *negate,
            },
            Condition::Equals { var, value, negate } => PreparedCondition::Equals {
                slot: self.slots.slot(var),
                value: Compiled::new(value, &mut self.slots),
                negate: *negate,
            },
            Condition::Matches { var, pattern } => PreparedCondition::Matches {
                slot: self.slots.slot(var),
                regex: regex::Regex::new(pattern)
                    .map_err(|e| EngineError::Script(format!("invalid regex {pattern:?}: {e}")))?,
            },
            Condition::LastCheck { passed } => PreparedCondition::LastCheck { passed: *passed },
        })
    }

    fn step(&mut self, step: &Step, think_time: ThinkTime) -> Result<PreparedStep, EngineError> {
        let invalid_url = |reason: String| EngineError::InvalidUrl {
            row: step.row,
            url: step.url.source.clone(),
            reason,
        };
        let plan_host = [&self.plan.http.headers, &step.headers].iter().any(|list| {
            list.iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        });
        let mut dynamic = Dynamic {
            url: None,
            headers: Vec::new(),
            body: None,
            plan_host,
        };
        let (origin, uri) = match step.url.static_text() {
            Some(url) => self.url(&url).map_err(invalid_url)?,
            None => {
                dynamic.url = Some(Compiled::new(&step.url, &mut self.slots));
                (0, Uri::from_static("/"))
            }
        };
        let body = step.body.as_ref();
        let invalid_header = |name: &str, reason: String| EngineError::InvalidHeader {
            row: step.row,
            name: name.to_owned(),
            reason,
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, self.origins[origin].host_header.clone());
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        let mut static_body = Bytes::new();
        if let Some(body) = body {
            let value = HeaderValue::from_str(&body.content_type)
                .map_err(|e| invalid_header("content-type", e.to_string()))?;
            headers.insert(header::CONTENT_TYPE, value);
            match &body.content {
                Content::Static(bytes) => {
                    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                    static_body = Bytes::from(bytes.clone());
                }
                Content::Text(t) => {
                    dynamic.body = Some(DynamicBody::Text(Compiled::new(t, &mut self.slots)));
                }
                Content::Form(fields) => {
                    let fields = (fields.iter())
                        .map(|(k, v)| (k.clone(), Compiled::new(v, &mut self.slots)))
                        .collect();
                    dynamic.body = Some(DynamicBody::Form(fields));
                }
                Content::Json(parts) => {
                    let pieces = (parts.iter())
                        .map(|p| match p {
                            JsonPart::Raw(t) => JsonPiece::Raw(t.as_str().into()),
                            JsonPart::Quoted(t) => {
                                JsonPiece::Quoted(Compiled::new(t, &mut self.slots))
                            }
                            JsonPart::Typed(t) => {
                                JsonPiece::Typed(Compiled::new(t, &mut self.slots))
                            }
                        })
                        .collect();
                    dynamic.body = Some(DynamicBody::Json(pieces));
                }
            }
        }
        // Defaults, then the step's own headers. A name the step sets replaces the default (and
        // the built-in `Host`/`User-Agent`); repeating a name within one list appends. Headers
        // with placeholders are rendered per request and set after these.
        for list in [&self.plan.http.headers, &step.headers] {
            let mut seen: Vec<HeaderName> = Vec::new();
            for (name, value) in list {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| invalid_header(name, e.to_string()))?;
                let Some(text) = value.static_text() else {
                    headers.remove(&name);
                    dynamic.headers.retain(|(n, _)| *n != name);
                    dynamic
                        .headers
                        .push((name, Compiled::new(value, &mut self.slots)));
                    continue;
                };
                let value = HeaderValue::from_str(&text)
                    .map_err(|e| invalid_header(name.as_str(), e.to_string()))?;
                dynamic.headers.retain(|(n, _)| *n != name);
                if seen.contains(&name) {
                    headers.append(name, value);
                } else {
                    headers.insert(name.clone(), value);
                    seen.push(name);
                }
            }
        }
        let checks: Vec<(String, stampede_extract::Check)> = (step.expect.checks.iter())
            .map(|c| {
                let check = stampede_extract::Check::compile(&c.spec).map_err(|e| {
                    EngineError::InvalidUrl {
                        row: step.row,
                        url: step.url.source.clone(),
                        reason: e.message,
                    }
                })?;
                let name = c.name.clone().unwrap_or_else(|| check.name().to_owned());
                Ok((name, check))
            })
            .collect::<Result<_, EngineError>>()?;
        let mut extractions = Vec::with_capacity(step.extract.len());
        for e in &step.extract {
            let extractor = stampede_extract::Extractor::compile(&e.source).map_err(|err| {
                EngineError::InvalidUrl {
                    row: step.row,
                    url: step.url.source.clone(),
                    reason: err.message,
                }
            })?;
            extractions.push(PreparedExtraction {
                slot: self.slots.slot(&e.var),
                name: e.var.clone(),
                extractor,
                all: e.all,
                on_failure: e.on_failure,
                default: e.default.clone(),
            });
        }
        let reads_body = self.scripted
            || checks.iter().any(|(_, c)| c.reads_body())
            || extractions.iter().any(|e| e.extractor.reads_body())
            || step.resources.is_some();
        // Only header checks, header and cookie extraction and embedded resources (the page's
        // content type) read headers: building a header map for every response of a step with
        // body checks alone would be work for nothing. Scripts (`response:header`) get the
        // head's bytes instead, looked up only if they ask.
        let reads_headers = checks.iter().any(|(_, c)| c.reads_headers())
            || extractions.iter().any(|e| e.extractor.reads_headers())
            || step.resources.is_some();
        let is_dynamic =
            dynamic.url.is_some() || !dynamic.headers.is_empty() || dynamic.body.is_some();
        let resource_step =
            (step.resources.as_ref()).map(|r| Box::new(self.resource_step(step, r, &headers)));
        let id = self.next_id;
        self.next_id += 1;
        let method = method(step.method);
        let encoded = (!is_dynamic).then(|| {
            let origin = &self.origins[origin];
            crate::client::encoded_request(&method, &uri, &headers, &static_body, origin)
        });
        Ok(PreparedStep {
            id,
            row: step.row,
            method,
            origin,
            uri,
            headers,
            body: static_body,
            encoded: encoded.flatten(),
            timeout: step.timeout.unwrap_or(self.plan.http.request_timeout),
            think_time: step.think_time.unwrap_or(think_time),
            check: Check::new(&step.expect),
            reads_body,
            keep: match (reads_headers, self.scripted) {
                (true, _) => Keep::All,
                (false, true) => Keep::Raw,
                (false, false) => Keep::Cookies,
            },
            dynamic: is_dynamic.then(|| Box::new(dynamic)),
            checks,
            max_duration_us: step
                .expect
                .max_duration
                .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            extractions,
            resources: step.resources.clone(),
            resource_step,
        })
    }

    /// The request embedded resources of `step`'s page are fetched with.
    fn resource_step(
        &mut self,
        step: &Step,
        resources: &stampede_scenario::Resources,
        page_headers: &HeaderMap,
    ) -> PreparedStep {
        let mut headers = page_headers.clone();
        for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH] {
            headers.remove(name);
        }
        let id = self.next_id;
        self.next_id += 1;
        PreparedStep {
            id,
            row: resources.row,
            method: Method::GET,
            origin: 0,
            uri: Uri::from_static("/"),
            headers,
            body: Bytes::new(),
            encoded: None,
            timeout: step.timeout.unwrap_or(self.plan.http.request_timeout),
            think_time: ThinkTime::None,
            check: Check::new(&Expect::default()),
            reads_body: false,
            keep: Keep::Cookies,
            dynamic: None,
            checks: Vec::new(),
            max_duration_us: None,
            extractions: Vec::new(),
            resources: None,
            resource_step: None,
        }
    }

    /// The origin slot and origin-form URI of a URL: a path on the target, or an absolute URL.
    pub fn url(&mut self, url: &str) -> Result<(usize, Uri), String> {
        match split_url(url)? {
            (None, uri) => Ok((0, uri)),
            (Some((scheme, host, port)), uri) => Ok((self.origin(scheme, &host, port)?, uri)),
        }
    }

    fn origin(&mut self, scheme: Scheme, host: &str, port: u16) -> Result<usize, String> {
        let origin = Origin::new(scheme, host, port)?;
        if let Some(i) = self
            .origins
            .iter()
            .position(|o| o.is(scheme, &origin.host, port))
        {
            return Ok(i);
        }
        self.origins.push(Arc::new(origin));
        Ok(self.origins.len() - 1)
    }
}

fn method(method: stampede_scenario::Method) -> Method {
    use stampede_scenario::Method as M;
    match method {
        M::Get => Method::GET,
        M::Post => Method::POST,
        M::Put => Method::PUT,
        M::Patch => Method::PATCH,
        M::Delete => Method::DELETE,
        M::Head => Method::HEAD,
        M::Options => Method::OPTIONS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_and_verdicts() {
        let default = Check::new(&Expect::default());
        assert_eq!(default.name, "status < 400");
        assert!(default.passes(399) && !default.passes(400));
        let listed = Check::new(&Expect {
            status: Some(vec![200, 201]),
            ..Expect::default()
        });
        assert_eq!(listed.name, "status in [200, 201]");
        assert!(listed.passes(201) && !listed.passes(204));
    }

    /// (every header kept, raw head kept, body kept) of the requests of a one-scenario plan made
    /// of `steps` (YAML list items, indented for `steps:`).
    fn what_requests_keep(steps: &str) -> Vec<(bool, bool, bool)> {
        let yaml = format!(
            "version: 1\ntarget: http://127.0.0.1:9\nload: {{ users: 1, duration: 1s }}\n\
             scenarios:\n  - name: s\n    steps:\n{steps}"
        );
        let loaded = stampede_scenario::load_str(&yaml, "t.yaml", &Default::default())
            .expect("a valid scenario");
        let prepared = PreparedPlan::new(&loaded.plan).expect("prepares");
        (prepared.scenarios[0].steps.iter())
            .filter_map(|a| match a {
                PreparedAction::Request(step) => Some((
                    step.keep == Keep::All,
                    step.keep == Keep::Raw,
                    step.reads_body,
                )),
                _ => None,
            })
            .collect()
    }

    /// Which steps keep all response headers: only what reads them pays for them.
    #[test]
    fn only_steps_that_read_headers_keep_them() {
        let steps = r#"      - get: /plain
      - get: /status
        expect: { status: 200 }
      - get: /body
        expect: { body_contains: ok, json: { $.page: 1 } }
        extract: { token: { json: $.token } }
      - get: /header-check
        expect: { header_exists: etag }
      - get: /header-extraction
        extract: { id: { header: X-Request-Id } }
      - get: /cookie-extraction
        extract: { sid: { cookie: sid } }
      - get: /page
        resources: true
"#;
        let kept = what_requests_keep(steps);
        assert!(kept.iter().all(|k| !k.1), "no scripts, no raw heads");
        let reads: Vec<(bool, bool)> = kept.iter().map(|k| (k.0, k.2)).collect();
        assert_eq!(
            reads,
            [
                (false, false),
                (false, false),
                (false, true),
                (true, false),
                (true, false),
                (true, false),
                (true, true),
            ]
        );
    }

    /// In a plan with scripts every response may be read by a script: the body is kept, and the
    /// head's bytes unless the step keeps a header map anyway.
    #[test]
    fn a_scripted_plan_keeps_bodies_and_raw_heads() {
        let steps = r#"      - get: /plain
      - get: /header-check
        expect: { header_exists: etag }
      - script: "local s = response.status"
"#;
        let kept = what_requests_keep(steps);
        assert_eq!(kept, [(false, true, true), (true, false, true)]);
    }

    #[test]
    fn host_header_omits_default_port_and_brackets_ipv6() {
        let o = Origin::new(Scheme::Http, "Example.COM", 80).unwrap();
        assert_eq!(o.host_header, "example.com");
        assert_eq!(&*o.host, "example.com");
        let o = Origin::new(Scheme::Https, "[::1]", 8443).unwrap();
        assert_eq!(o.host_header, "[::1]:8443");
        assert_eq!(o.authority, "[::1]:8443");
        assert_eq!(&*o.host, "::1");
    }
}
