//! Pauses: think times and the distributions they (and `pace_factor`) are drawn from.

use std::time::Duration;

/// A pause between steps.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum ThinkTime {
    #[default]
    None,
    Constant(Duration),
    /// Uniformly distributed in `[min, max]`.
    Uniform {
        min: Duration,
        max: Duration,
    },
    /// Normally distributed; negative draws are drawn again.
    Normal {
        mean: Duration,
        stddev: Duration,
    },
    /// Log-normally distributed: `median · e^(sigma · N(0,1))`.
    LogNormal {
        median: Duration,
        sigma: f64,
    },
    /// Exponentially distributed (memoryless).
    Exponential {
        mean: Duration,
    },
}

impl ThinkTime {
    /// Upper bound of the pause; for unbounded distributions, their mean. Used to spread the
    /// first iterations (`jitter_start`).
    pub fn max(&self) -> Duration {
        match *self {
            ThinkTime::None => Duration::ZERO,
            ThinkTime::Constant(d) => d,
            ThinkTime::Uniform { max, .. } => max,
            ThinkTime::Normal { mean, .. } | ThinkTime::Exponential { mean } => mean,
            ThinkTime::LogNormal { median, sigma } => {
                median.mul_f64((sigma * sigma / 2.0).exp().min(1e6))
            }
        }
    }

    /// The same distribution over seconds.
    pub fn distribution(&self) -> Distribution {
        let s = |d: Duration| d.as_secs_f64();
        match *self {
            ThinkTime::None => Distribution::Constant(0.0),
            ThinkTime::Constant(d) => Distribution::Constant(s(d)),
            ThinkTime::Uniform { min, max } => Distribution::Uniform {
                min: s(min),
                max: s(max),
            },
            ThinkTime::Normal { mean, stddev } => Distribution::Normal {
                mean: s(mean),
                stddev: s(stddev),
            },
            ThinkTime::LogNormal { median, sigma } => Distribution::LogNormal {
                median: s(median),
                sigma,
            },
            ThinkTime::Exponential { mean } => Distribution::Exponential { mean: s(mean) },
        }
    }
}

/// A distribution of non-negative numbers (seconds for think times, a plain factor for
/// `pace_factor`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    Constant(f64),
    Uniform {
        min: f64,
        max: f64,
    },
    /// Negative draws are drawn again (truncated at 0).
    Normal {
        mean: f64,
        stddev: f64,
    },
    LogNormal {
        median: f64,
        sigma: f64,
    },
    Exponential {
        mean: f64,
    },
}
