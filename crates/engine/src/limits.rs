//! Run-wide limits shared by every virtual user: iterations (`iterations: N`, `--iterations`)
//! and requests (`max_requests`, `--max-requests`). Counting is one atomic add per iteration or
//! request, and only when a limit is set.

use crate::signal::Signal;
use stampede_scenario::Limits;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
pub(crate) struct RunLimits {
    max_iterations: Option<u64>,
    iterations: AtomicU64,
    max_requests: Option<u64>,
    requests: AtomicU64,
    /// Closed model: iterations each user runs before it exits.
    pub per_user: Option<u64>,
    /// Fired when a run-wide limit is reached: the run then ends as at its planned end.
    pub reached: CancellationToken,
    /// Fired when no further request may be sent: iterations in flight cannot finish.
    pub requests_exhausted: Signal,
}

impl RunLimits {
    pub fn new(limits: &Limits) -> RunLimits {
        RunLimits {
            max_iterations: limits.iterations,
            max_requests: limits.max_requests,
            per_user: limits.iterations_per_user,
            ..RunLimits::default()
        }
    }

    /// Claims one iteration; false (and the run told to end) when the limit is reached.
    pub fn try_iteration(&self) -> bool {
        claim(&self.iterations, self.max_iterations, || {
            self.reached.cancel()
        })
    }

    /// Claims one request; false (and the run told to end) when the limit is reached.
    pub fn try_request(&self) -> bool {
        claim(&self.requests, self.max_requests, || {
            self.reached.cancel();
            self.requests_exhausted.fire();
        })
    }
}

/// Claims one unit of `counter` under `max`; `reached` runs once the limit is reached.
fn claim(counter: &AtomicU64, max: Option<u64>, reached: impl Fn()) -> bool {
    let Some(max) = max else {
        return true;
    };
    // Claims past the limit are not given back: the count only decides who gets the last ones.
    if counter.fetch_add(1, Ordering::Relaxed) < max {
        if counter.load(Ordering::Relaxed) >= max {
            // The last one: nothing more will start, so let the run wind down now.
            reached();
        }
        return true;
    }
    reached();
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_limit_is_granted_then_the_run_is_told() {
        let limits = RunLimits::new(&Limits {
            iterations: Some(3),
            max_requests: Some(2),
            ..Limits::default()
        });
        let granted = (0..10).filter(|_| limits.try_iteration()).count();
        assert_eq!(granted, 3);
        assert!(limits.reached.is_cancelled());
        assert!(!limits.requests_exhausted.is_fired());
        assert!(limits.try_request() && limits.try_request());
        assert!(!limits.try_request());
        assert!(limits.requests_exhausted.is_fired());
        let none = RunLimits::new(&Limits::default());
        assert!((0..1000).all(|_| none.try_iteration() && none.try_request()));
        assert!(!none.reached.is_cancelled());
    }
}
