//! Drawing pauses: think times, pace factors and Poisson gaps, from a seeded per-user generator.
//!
//! The few distributions are sampled by hand (inverse transform, Box–Muller) rather than through
//! a distributions crate: each is two lines, and the documented percentile table
//! (`docs/scenario.md`, checked by a test below) then depends on this code alone.

use rand::Rng;
use rand::rngs::SmallRng;
use stampede_scenario::{Distribution, ThinkTime};
use std::time::Duration;

/// Longest pause ever drawn (a guard against a heavy log-normal tail): one hour.
const MAX_PAUSE_S: f64 = 3600.0;

/// Redraws of a negative normal sample before giving up with 0.
const NORMAL_REDRAWS: usize = 64;

/// One draw of `d` (never negative, never NaN).
pub(crate) fn sample(rng: &mut SmallRng, d: &Distribution) -> f64 {
    let x = match *d {
        Distribution::Constant(x) => x,
        Distribution::Uniform { min, max } if max > min => rng.random_range(min..=max),
        Distribution::Uniform { min, .. } => min,
        Distribution::Normal { mean, stddev } => (0..NORMAL_REDRAWS)
            .map(|_| mean + stddev * standard_normal(rng))
            .find(|x| *x >= 0.0)
            .unwrap_or(0.0),
        Distribution::LogNormal { median, sigma } => median * (sigma * standard_normal(rng)).exp(),
        Distribution::Exponential { mean } => mean * standard_exponential(rng),
    };
    if x.is_finite() { x.max(0.0) } else { 0.0 }
}

/// A think time scaled by the user's pace `factor`.
pub(crate) fn think(rng: &mut SmallRng, think_time: ThinkTime, factor: f64) -> Duration {
    let seconds = match think_time {
        ThinkTime::None => return Duration::ZERO,
        ThinkTime::Constant(d) if factor == 1.0 => return d,
        ThinkTime::Uniform { min, max } if factor == 1.0 => {
            let (lo, hi) = (nanos(min), nanos(max));
            if hi <= lo {
                return min;
            }
            return Duration::from_nanos(rng.random_range(lo..=hi));
        }
        other => sample(rng, &other.distribution()) * factor,
    };
    Duration::from_secs_f64(seconds.clamp(0.0, MAX_PAUSE_S))
}

/// A draw of N(0, 1) (Box–Muller; one of the pair is used).
fn standard_normal(rng: &mut SmallRng) -> f64 {
    // `1 - u` is in (0, 1], so the logarithm is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A draw of Exp(1): the gap between Poisson arrivals at rate 1.
pub(crate) fn standard_exponential(rng: &mut SmallRng) -> f64 {
    -(1.0 - rng.random::<f64>()).ln()
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
