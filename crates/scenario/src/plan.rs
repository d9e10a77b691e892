//! The validated, normalised form of a scenario file: what the engine executes.
//!
//! Every way of describing load in the file (flat `users` + `spawn_rate`, or `stages`) is normalised
//! into one list of [`Stage`]s. Every request row is given a [`Step::row`] index into
//! [`Plan::rows`], the table the statistics are grouped by.

use std::time::Duration;

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

/// The closed-model load profile: the number of active virtual users over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// Consecutive stages; the user count moves linearly from the previous stage's target (0 at the
    /// start) to each stage's `users` over its `duration`.
    pub stages: Vec<Stage>,
    /// When true (the default), each virtual user starts its first iteration after a random offset
    /// within its scenario's think time, so users do not march in step.
    pub jitter_start: bool,
    /// How the profile was written, for reports (e.g. `50 users, spawn 10/s, 30s`).
    pub description: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub users: u32,
}

impl Load {
    /// Total planned duration.
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// Highest user count of the profile.
    pub fn max_users(&self) -> u32 {
        self.stages.iter().map(|s| s.users).max().unwrap_or(0)
    }

    /// Target number of active users `t` after the start (rounded down), following linear ramps.
    pub fn users_at(&self, t: Duration) -> u32 {
        let mut from = 0u32;
        let mut start = Duration::ZERO;
        for stage in &self.stages {
            let end = start + stage.duration;
            if t < end {
                let frac = (t - start).as_secs_f64() / stage.duration.as_secs_f64();
                let users = from as f64 + (stage.users as f64 - from as f64) * frac;
                return users.floor().max(0.0) as u32;
            }
            from = stage.users;
            start = end;
        }
        from
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
    pub on_start: Vec<Step>,
    /// One iteration.
    pub steps: Vec<Step>,
}

/// A pause between steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ThinkTime {
    #[default]
    None,
    Constant(Duration),
    /// Uniformly distributed in `[min, max]`.
    Uniform {
        min: Duration,
        max: Duration,
    },
}

impl ThinkTime {
    /// Upper bound of the pause.
    pub fn max(&self) -> Duration {
        match *self {
            ThinkTime::None => Duration::ZERO,
            ThinkTime::Constant(d) => d,
            ThinkTime::Uniform { max, .. } => max,
        }
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

/// One HTTP request of a flow.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Index into [`Plan::rows`].
    pub row: u32,
    pub method: Method,
    /// Path and query relative to the target (starting with `/`), already joined with the
    /// target's base path; or an absolute `http(s)://` URL.
    pub url: String,
    /// Extra headers, in order (step headers after default headers).
    pub headers: Vec<(String, String)>,
    /// Encoded body and its content type.
    pub body: Option<Body>,
    pub expect: Expect,
    /// Overrides the default request timeout.
    pub timeout: Option<Duration>,
    /// Overrides the scenario's think time after this step.
    pub think_time: Option<ThinkTime>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Checks on a response. With no explicit status check, a status >= 400 is a failure.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Expect {
    /// Accepted status codes; `None` means "any status below 400".
    pub status: Option<Vec<u16>>,
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
    pub headers: Vec<(String, String)>,
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
            jitter_start: true,
            description: String::new(),
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
