//! The validated, normalised form of a scenario file: what the engine executes.
//!
//! Every way of describing load in the file (flat `users` + `spawn_rate`, or `stages`) is normalised
//! into one list of [`Stage`]s. Every request row is given a [`Step::row`] index into
//! [`Plan::rows`], the table the statistics are grouped by.

use std::time::Duration;

mod data;
mod flow;
mod load_model;
mod template;
mod think;
mod threshold;

pub use data::*;
pub use flow::*;
pub use load_model::*;
pub use template::*;
pub use think::*;
pub use threshold::*;

/// A validated scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Where requests go. Step paths are resolved against it.
    pub target: Target,
    pub load: Load,
    pub scenarios: Vec<Scenario>,
    /// Request defaults (timeouts, redirects, cookies, headers) applied to every step.
    pub http: HttpOptions,
    /// The request-row table: one entry per distinct (scenario, step name, method).
    pub rows: Vec<RowKey>,
    /// Pass/fail criteria: the file's `thresholds`, then any given with `--threshold`.
    pub thresholds: Vec<Threshold>,
    /// Values every user starts with (`variables`, after the environment's overrides), in order.
    pub variables: Vec<(String, String)>,
    /// Run once before any user starts; the variables they extract are given to every user.
    pub setup: Vec<Action>,
    /// Run once after the last user stopped; skipped when the run is stopped (Ctrl-C or an
    /// `abort` threshold).
    pub teardown: Vec<Action>,
    /// Feeders (`data`), with their rows read.
    pub data: Vec<DataSet>,
}

/// A feeder and its rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSet {
    pub feeder: Feeder,
    pub table: std::sync::Arc<Table>,
}

/// Identity of a request row; stats are grouped by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RowKey {
    pub scenario: String,
    pub name: String,
    pub method: String,
}

/// The base URL of the target, split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// Path prefix without trailing slash (`""` for the root).
    pub base_path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Target {
    /// `scheme://host:port`, as used in `Host` headers and connection pools.
    pub fn origin(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}", self.port)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.origin(), self.base_path)
    }
}

/// One user flow with its share of the users.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// Relative share of users (> 0 for at least one scenario).
    pub weight: u32,
    /// Pause after each step.
    pub think_time: ThinkTime,
    /// Run once per virtual user before its first iteration (e.g. log in).
    pub on_start: Vec<Action>,
    /// One iteration.
    pub steps: Vec<Action>,
    /// Run once per virtual user when it stops (e.g. log out), unless the stop is firm.
    pub on_stop: Vec<Action>,
    /// The scenario's own load; `None` takes its weighted share of the plan's load.
    pub load: Option<Load>,
    /// Delay from the start of the run to the start of this scenario's own load.
    pub start: Duration,
    /// Closed model: fixed interval between the starts of a user's iterations (the think time
    /// after the last step is replaced by the rest of the interval).
    pub pacing: Option<Duration>,
    /// Drawn once per virtual user; multiplies all its think times.
    pub pace_factor: Option<Distribution>,
}

impl Scenario {
    /// Every action of its users: `on_start`, the steps, `on_stop`.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.on_start.iter().chain(&self.steps).chain(&self.on_stop)
    }

    /// Whether its users draw rows from the feeder `name`: when a flow of it reads one of the
    /// feeder's columns (`{{ name.column }}`), or it runs a script (which may read any variable).
    /// Users of other scenarios never spend the feeder's rows.
    pub fn uses_feeder(&self, name: &str) -> bool {
        let mut used = false;
        for action in self.actions() {
            used |= action.is_script();
            action.read_vars(&mut |var| {
                used |= var
                    .split_once('.')
                    .is_some_and(|(feeder, _)| feeder == name);
            });
        }
        used
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }
}

/// Request defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    /// Per-VU cookie jar.
    pub cookies: bool,
    pub headers: Vec<(String, Template)>,
    /// Which HTTP version to speak.
    pub version: HttpVersion,
    /// Who owns connections and how long they live.
    pub connections: ConnectionPolicy,
    /// Bytes of a response body kept in memory for checks that read it; the rest is counted and
    /// discarded as it arrives, so a huge response cannot exhaust the generator's memory.
    pub max_body: u64,
    /// PEM file of extra CA certificates to trust (on top of the built-in web roots), e.g. for a
    /// staging server with an internal CA. Relative paths are resolved against the scenario
    /// file's directory by `load_file`.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            follow_redirects: true,
            max_redirects: 10,
            cookies: true,
            headers: Vec::new(),
            version: HttpVersion::Auto,
            connections: ConnectionPolicy::PerUser,
            max_body: DEFAULT_MAX_BODY,
            ca_file: None,
        }
    }
}

/// Default [`HttpOptions::max_body`]: 10 MB.
pub const DEFAULT_MAX_BODY: u64 = 10_000_000;

/// Default connections per origin of a [`ConnectionPolicy::Shared`] pool. A fixed number rather
/// than one derived from the generator's CPUs, so a scenario behaves the same on every machine.
pub const DEFAULT_POOL_SIZE: u32 = 100;

/// The HTTP version the engine speaks (`http_version`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/1.1 only (ALPN `http/1.1` over TLS).
    Http1,
    /// HTTP/2 only: ALPN `h2` over TLS (a server that does not agree is a TLS error), and
    /// cleartext HTTP/2 with prior knowledge (h2c) over `http`.
    Http2,
    /// ALPN offers `h2` and `http/1.1` over TLS and the server picks; HTTP/1.1 over `http`.
    #[default]
    Auto,
}

/// Who owns connections (`connections`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConnectionPolicy {
    /// Each virtual user keeps its own keep-alive connection per origin, like a browser.
    #[default]
    PerUser,
    /// Like `PerUser`, but a virtual user closes its connections when an iteration ends, so every
    /// iteration opens new ones (a new visitor each time).
    PerIteration,
    /// One pool per origin for the whole generator, at most `pool_size` connections; a virtual
    /// user borrows a connection for each request (like a service behind a connection pool).
    Shared { pool_size: u32 },
}

impl HttpOptions {
    /// Resolves a relative `ca_file` against `dir` (the scenario file's directory).
    pub fn resolve_paths(&mut self, dir: &std::path::Path) {
        if let Some(file) = &self.ca_file
            && file.is_relative()
        {
            self.ca_file = Some(dir.join(file));
        }
    }
}

/// Splits `total` users across `weights` exactly, by largest remainder: the result sums to
/// `total`, and each share is within one of `total * w / sum(w)`. Ties go to the earlier scenario.
pub fn split_by_weight(total: u32, weights: &[u32]) -> Vec<u32> {
    let sum: u64 = weights.iter().map(|&w| w as u64).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<u32> = weights
        .iter()
        .map(|&w| (total as u64 * w as u64 / sum) as u32)
        .collect();
    let assigned: u32 = shares.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Largest remainder first; remainders compared exactly as integers.
    order.sort_by_key(|&i| std::cmp::Reverse(total as u64 * weights[i] as u64 % sum));
    for &i in order.iter().take((total - assigned) as usize) {
        shares[i] += 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_exact_and_sums_to_total() {
        assert_eq!(split_by_weight(100, &[20, 50, 30]), vec![20, 50, 30]);
        assert_eq!(split_by_weight(1000, &[20, 50, 30]), vec![200, 500, 300]);
        assert_eq!(split_by_weight(1, &[20, 50, 30]), vec![0, 1, 0]);
        assert_eq!(split_by_weight(0, &[1, 1]), vec![0, 0]);
        for total in 0..300 {
            for weights in [[1, 1, 1], [20, 50, 30], [0, 3, 7], [5, 0, 0]] {
                let shares = split_by_weight(total, &weights);
                assert_eq!(shares.iter().sum::<u32>(), total, "{total} {weights:?}");
                let sum: u32 = weights.iter().sum();
                for (s, w) in shares.iter().zip(weights) {
                    let ideal = total as f64 * w as f64 / sum as f64;
                    assert!(
                        (*s as f64 - ideal).abs() < 1.0,
                        "{total} {weights:?} {shares:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn users_follow_linear_stages() {
        let load = Load {
            stages: vec![
                Stage {
                    duration: Duration::from_secs(10),
                    users: 100,
                },
                Stage {
                    duration: Duration::from_secs(10),
                    users: 100,
                },
                Stage {
                    duration: Duration::from_secs(5),
                    users: 0,
                },
            ],
            ..Load::default()
        };
        assert_eq!(load.users_at(Duration::ZERO), 0);
        assert_eq!(load.users_at(Duration::from_secs(5)), 50);
        assert_eq!(load.users_at(Duration::from_secs(15)), 100);
        assert_eq!(load.users_at(Duration::from_millis(22_500)), 50);
        assert_eq!(load.users_at(Duration::from_secs(30)), 0);
        assert_eq!(load.duration(), Duration::from_secs(25));
        assert_eq!(load.max_users(), 100);
    }
}
