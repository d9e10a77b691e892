//! Everything about a plan's requests that can be built once, before the run: parsed URIs, origins,
//! header maps, bodies as [`Bytes`], check names. The per-request path then only clones cheap,
//! reference-counted values.

use crate::EngineError;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::uri::Authority;
use http::{HeaderMap, Method, Uri};
use stampede_scenario::{Distribution, Expect, Plan, Scheme, Step, ThinkTime};
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
    /// Overall deadline of the step (including redirects).
    pub timeout: Duration,
    /// Pause after the step (step override, else the scenario's).
    pub think_time: ThinkTime,
    pub check: Check,
    /// Whether something reads this step's response body, so its first `max_body` bytes are
    /// kept; otherwise the body is only counted. Nothing reads bodies yet (checks on the status
    /// only): body checks and extraction will set it.
    pub reads_body: bool,
}

#[derive(Debug)]
pub(crate) struct PreparedScenario {
    pub think_time: ThinkTime,
    pub on_start: Vec<PreparedStep>,
    pub steps: Vec<PreparedStep>,
    /// Closed model: fixed interval between iteration starts.
    pub pacing: Option<Duration>,
    /// Drawn once per user; multiplies its think times.
    pub pace_factor: Option<Distribution>,
}

/// The whole plan, prebuilt.
#[derive(Debug)]
pub(crate) struct PreparedPlan {
    /// Distinct origins of the plan; index 0 is the target.
    pub origins: Vec<Arc<Origin>>,
    pub scenarios: Vec<PreparedScenario>,
    /// Number of prepared steps (ids are `0..step_count`).
    pub step_count: usize,
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
        };
        let mut scenarios = Vec::with_capacity(plan.scenarios.len());
        for scenario in &plan.scenarios {
            let mut prepare = |steps: &[Step]| -> Result<Vec<PreparedStep>, EngineError> {
                steps
                    .iter()
                    .map(|s| builder.step(s, scenario.think_time))
                    .collect()
            };
            let on_start = prepare(&scenario.on_start)?;
            let steps = prepare(&scenario.steps)?;
            scenarios.push(PreparedScenario {
                think_time: scenario.think_time,
                on_start,
                steps,
                pacing: scenario.pacing,
                pace_factor: scenario.pace_factor,
            });
        }
        Ok(PreparedPlan {
            origins: builder.origins,
            scenarios,
            step_count: builder.next_id,
        })
    }
}

struct Builder<'a> {
    plan: &'a Plan,
    origins: Vec<Arc<Origin>>,
    next_id: usize,
}

impl Builder<'_> {
    fn step(&mut self, step: &Step, think_time: ThinkTime) -> Result<PreparedStep, EngineError> {
        let invalid_url = |reason: String| EngineError::InvalidUrl {
            row: step.row,
            url: step.url.clone(),
            reason,
        };
        let (origin, uri) = if step.url.starts_with('/') {
            let uri: Uri = step.url.parse().map_err(|e| invalid_url(format!("{e}")))?;
            (0, uri)
        } else {
            let absolute: Uri = step.url.parse().map_err(|e| invalid_url(format!("{e}")))?;
            let scheme = match absolute.scheme_str() {
                Some("http") => Scheme::Http,
                Some("https") => Scheme::Https,
                _ => return Err(invalid_url("expected an http(s) URL or a path".into())),
            };
            let host = absolute
                .host()
                .ok_or_else(|| invalid_url("missing host".into()))?;
            let port = absolute.port_u16().unwrap_or(default_port(scheme));
            let path = absolute.path_and_query().map_or("/", |p| p.as_str());
            let uri: Uri = path.parse().map_err(|e| invalid_url(format!("{e}")))?;
            (self.origin(scheme, host, port).map_err(invalid_url)?, uri)
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
        if let Some(body) = body {
            let value = HeaderValue::from_str(&body.content_type)
                .map_err(|e| invalid_header("content-type", e.to_string()))?;
            headers.insert(header::CONTENT_TYPE, value);
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.bytes.len()));
        }
        // Defaults, then the step's own headers. A name the step sets replaces the default (and
        // the built-in `Host`/`User-Agent`); repeating a name within one list appends. This is
        // right whether or not the plan already merged the defaults into `Step::headers`.
        for list in [&self.plan.http.headers, &step.headers] {
            let mut seen: Vec<HeaderName> = Vec::new();
            for (name, value) in list {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| invalid_header(name, e.to_string()))?;
                let value = HeaderValue::from_str(value)
                    .map_err(|e| invalid_header(name.as_str(), e.to_string()))?;
                if seen.contains(&name) {
                    headers.append(name, value);
                } else {
                    headers.insert(name.clone(), value);
                    seen.push(name);
                }
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        Ok(PreparedStep {
            id,
            row: step.row,
            method: method(step.method),
            origin,
            uri,
            headers,
            body: body.map_or_else(Bytes::new, |b| Bytes::from(b.bytes.clone())),
            timeout: step.timeout.unwrap_or(self.plan.http.request_timeout),
            think_time: step.think_time.unwrap_or(think_time),
            check: Check::new(&step.expect),
            reads_body: false,
        })
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
        });
        assert_eq!(listed.name, "status in [200, 201]");
        assert!(listed.passes(201) && !listed.passes(204));
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
