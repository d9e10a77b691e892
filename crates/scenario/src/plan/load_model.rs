//! The load part of a plan: the closed model (users over time), the open model (arrivals over
//! time and a pool of users), and run-wide limits.

use std::time::Duration;

/// A load profile: the closed model (the number of active virtual users over time, `stages`) or,
/// when `arrival` is set, the open model (iterations started at a rate, whatever the latency).
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// Closed model: consecutive stages; the user count moves linearly from the previous stage's
    /// target (0 at the start) to each stage's `users` over its `duration`. Empty in the open
    /// model.
    pub stages: Vec<Stage>,
    /// When true (the default), each virtual user starts its first iteration after a random offset
    /// within its scenario's think time, so users do not march in step.
    pub jitter_start: bool,
    /// How the profile was written, for reports (e.g. `50 users, spawn 10/s, 30s`).
    pub description: String,
    /// Open model: the arrival rate over time and the pool of virtual users that runs arrivals.
    pub arrival: Option<Arrival>,
    /// How long iterations in flight may run on after their user is stopped (a ramp-down or the
    /// end), before they are cut off and counted as interrupted.
    pub graceful_stop: Duration,
    /// Run-wide limits that can end the test before its duration (top-level load only).
    pub limits: Limits,
}

impl Default for Load {
    fn default() -> Self {
        Load {
            stages: Vec::new(),
            jitter_start: true,
            description: String::new(),
            arrival: None,
            graceful_stop: DEFAULT_GRACEFUL_STOP,
            limits: Limits::default(),
        }
    }
}

/// `graceful_stop` when the file sets none.
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);

/// The open model: iterations start on a schedule, each run by a free virtual user of a pool.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrival {
    /// Consecutive stages; the rate moves linearly from the previous stage's rate (0 at the
    /// start) to each stage's `rate` over its `duration`.
    pub stages: Vec<RateStage>,
    /// Virtual users started before the first arrival.
    pub pre_allocated_users: u32,
    /// The pool never grows beyond this; an arrival with no free user is dropped.
    pub max_users: u32,
    pub arrivals: Arrivals,
}

/// How arrivals are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Arrivals {
    /// The `n`-th arrival exactly when the expected count reaches `n` (evenly spaced at a
    /// constant rate).
    #[default]
    Even,
    /// A Poisson process with the given rate: exponential gaps, seeded by the run seed.
    Poisson,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateStage {
    pub duration: Duration,
    /// Iterations per second at the end of the stage.
    pub rate: f64,
}

impl Arrival {
    /// Total planned duration.
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// Highest rate of the profile, per second.
    pub fn peak_rate(&self) -> f64 {
        self.stages.iter().map(|s| s.rate).fold(0.0, f64::max)
    }

    /// Expected number of arrivals in `[0, t)`: the integral of the rate.
    pub fn expected_by(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        let (mut from, mut start, mut total) = (0.0, 0.0, 0.0);
        for stage in &self.stages {
            let d = stage.duration.as_secs_f64();
            let s = (t - start).clamp(0.0, d);
            if d > 0.0 {
                total += from * s + (stage.rate - from) * s * s / (2.0 * d);
            }
            from = stage.rate;
            start += d;
        }
        total
    }

    /// When the expected count of arrivals reaches `n` (the inverse of
    /// [`expected_by`](Self::expected_by)), computed from the start so there is no drift; `None`
    /// when it never does within the profile.
    pub fn time_of(&self, n: f64) -> Option<Duration> {
        let (mut from, mut start, mut before) = (0.0f64, 0.0f64, 0.0f64);
        for stage in &self.stages {
            let d = stage.duration.as_secs_f64();
            let area = (from + stage.rate) * d / 2.0;
            if d > 0.0 && n < before + area {
                // Solve before + from·s + (rate − from)·s²/(2d) = n for s in [0, d), in the form
                // that is stable whether the rate rises, falls or holds.
                let k = n - before;
                let a = (stage.rate - from) / (2.0 * d);
                let disc = (from * from + 4.0 * a * k).max(0.0);
                let denom = from + disc.sqrt();
                let s = if denom > 0.0 { 2.0 * k / denom } else { 0.0 };
                return Duration::try_from_secs_f64(start + s.clamp(0.0, d)).ok();
            }
            before += area;
            from = stage.rate;
            start += d;
        }
        None
    }
}

/// Limits that end a run early, whichever comes first (with the duration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Limits {
    /// Iterations started in the whole run, shared by every user.
    pub iterations: Option<u64>,
    /// Closed model: iterations each virtual user runs before it stops.
    pub iterations_per_user: Option<u64>,
    /// Requests sent in the whole run (Loads' `--hits`).
    pub max_requests: Option<u64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub users: u32,
}

impl Load {
    /// Total planned duration.
    pub fn duration(&self) -> Duration {
        match &self.arrival {
            Some(arrival) => arrival.duration(),
            None => self.stages.iter().map(|s| s.duration).sum(),
        }
    }

    /// Highest user count of the profile (the pool's `max_users` in the open model).
    pub fn max_users(&self) -> u32 {
        match &self.arrival {
            Some(arrival) => arrival.max_users,
            None => self.stages.iter().map(|s| s.users).max().unwrap_or(0),
        }
    }

    /// True when the profile runs nothing (a top-level `load` that only sets limits).
    pub fn is_idle(&self) -> bool {
        self.arrival.is_none() && self.stages.iter().all(|s| s.users == 0)
    }

    /// Closed model: target number of active users `t` after the start (rounded down),
    /// following linear ramps.
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

impl super::Plan {
    /// Planned length of the whole run: the latest end among the top-level load (when some
    /// scenario takes its share of it) and the scenarios' own loads (after their `start`).
    pub fn duration(&self) -> Duration {
        crate::assemble::run_duration(&self.load, &self.scenarios)
    }
}
