//! Per-route service times of the demo shop.
//!
//! Each route draws its service time from a log-normal-like distribution: the median is
//! multiplied by `exp(sigma * z)` with `z` a standard normal deviate (Box–Muller, one draw), and
//! the result is clamped to `[min, max]`. A larger `sigma` gives a longer right tail. The
//! profiles below are the documented bounds; [`crate::ShopConfig::latency_scale`] multiplies every
//! drawn value (so `0.0` disables the artificial latency entirely).

use std::time::Duration;

use rand::Rng;

/// The service-time distribution of one route, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyProfile {
    /// Smallest service time ever drawn.
    pub min_ms: f64,
    /// Median of the distribution before clamping.
    pub median_ms: f64,
    /// Largest service time ever drawn (the end of the tail).
    pub max_ms: f64,
    /// Spread of `ln(latency)`; larger means a heavier tail.
    pub sigma: f64,
}

impl LatencyProfile {
    /// The lower bound as a [`Duration`] (at `latency_scale` 1.0).
    pub fn min(&self) -> Duration {
        Duration::from_secs_f64(self.min_ms / 1000.0)
    }

    /// The upper bound as a [`Duration`] (at `latency_scale` 1.0).
    pub fn max(&self) -> Duration {
        Duration::from_secs_f64(self.max_ms / 1000.0)
    }

    /// Draws one service time in milliseconds, within `[min_ms, max_ms]`.
    pub fn sample_ms<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let z = standard_normal(rng);
        (self.median_ms * (self.sigma * z).exp()).clamp(self.min_ms, self.max_ms)
    }

    /// Draws one service time and applies `scale`; `None` when no sleep is needed.
    pub(crate) fn sample_scaled<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        scale: f64,
    ) -> Option<Duration> {
        if scale <= 0.0 || !scale.is_finite() {
            return None;
        }
        let ms = self.sample_ms(rng) * scale;
        Some(Duration::from_secs_f64(ms / 1000.0))
    }
}

/// `GET /`: a tiny static page.
pub const HOME: LatencyProfile = LatencyProfile {
    min_ms: 1.0,
    median_ms: 2.0,
    max_ms: 5.0,
    sigma: 0.4,
};

/// `POST /login`: a password check.
pub const LOGIN: LatencyProfile = LatencyProfile {
    min_ms: 10.0,
    median_ms: 20.0,
    max_ms: 60.0,
    sigma: 0.4,
};

/// `GET /products`: one page of the catalogue.
pub const PRODUCT_LIST: LatencyProfile = LatencyProfile {
    min_ms: 5.0,
    median_ms: 12.0,
    max_ms: 30.0,
    sigma: 0.4,
};

/// `GET /products/{id}`: one product.
pub const PRODUCT: LatencyProfile = LatencyProfile {
    min_ms: 5.0,
    median_ms: 10.0,
    max_ms: 30.0,
    sigma: 0.45,
};

/// `GET /search`: a full-text search with a long tail.
pub const SEARCH: LatencyProfile = LatencyProfile {
    min_ms: 20.0,
    median_ms: 40.0,
    max_ms: 120.0,
    sigma: 0.55,
};

/// `GET /cart` and `POST /cart`: a session lookup and an update.
pub const CART: LatencyProfile = LatencyProfile {
    min_ms: 5.0,
    median_ms: 8.0,
    max_ms: 20.0,
    sigma: 0.35,
};

/// `POST /checkout`: payment and order creation, the slowest route.
pub const CHECKOUT: LatencyProfile = LatencyProfile {
    min_ms: 50.0,
    median_ms: 90.0,
    max_ms: 200.0,
    sigma: 0.4,
};

/// One standard normal deviate by the Box–Muller transform.
fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // `random::<f64>()` is in [0, 1); shift u1 into (0, 1] so ln(u1) is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn samples_stay_within_bounds_and_skew_right() {
        let mut rng = SmallRng::seed_from_u64(7);
        for profile in [HOME, LOGIN, PRODUCT_LIST, PRODUCT, SEARCH, CART, CHECKOUT] {
            let mut samples: Vec<f64> = (0..2000).map(|_| profile.sample_ms(&mut rng)).collect();
            assert!(
                samples
                    .iter()
                    .all(|&s| s >= profile.min_ms && s <= profile.max_ms)
            );
            samples.sort_by(f64::total_cmp);
            let median = samples[samples.len() / 2];
            let mean = samples.iter().sum::<f64>() / samples.len() as f64;
            assert!(
                (median - profile.median_ms).abs() < profile.median_ms * 0.15,
                "{profile:?}: median {median}"
            );
            assert!(
                mean >= median * 0.98,
                "{profile:?}: mean {mean} < median {median}"
            );
        }
    }

    #[test]
    fn zero_scale_means_no_sleep() {
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(SEARCH.sample_scaled(&mut rng, 0.0), None);
        let d = SEARCH.sample_scaled(&mut rng, 0.5).unwrap();
        assert!(d >= SEARCH.min() / 2 && d <= SEARCH.max() / 2);
    }
}
