//! A user's step timeout, kept from request to request and moved lazily.

use std::pin::Pin;
use tokio::time::{Instant, Sleep};

/// The deadline of the step in flight, over one timer the user keeps.
///
/// Each step moves the deadline later. Resetting a registered timer on every request cost ~120
/// instructions under callgrind (the timer wheel's bookkeeping); here a later deadline is only
/// written down, and the timer, still set for an earlier one, is moved when it fires: at most
/// once per timeout period (60 s by default) instead of once per request. A deadline earlier
/// than the timer's (a step with a shorter timeout) moves it at once.
pub(crate) struct StepTimer {
    sleep: Pin<Box<Sleep>>,
    deadline: Instant,
}

impl StepTimer {
    pub fn new(deadline: Instant) -> StepTimer {
        StepTimer {
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            deadline,
        }
    }

    /// Sets the deadline of the next step.
    pub fn arm(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if self.sleep.deadline() > deadline {
            self.sleep.as_mut().reset(deadline);
        }
    }

    /// Completes once the deadline has passed.
    pub async fn expired(&mut self) {
        loop {
            self.sleep.as_mut().await;
            if self.sleep.deadline() >= self.deadline {
                return;
            }
            // Fired for an earlier step's deadline.
            let deadline = self.deadline;
            self.sleep.as_mut().reset(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn fires_at_the_last_deadline_set_whether_earlier_or_later() {
        let start = Instant::now();
        let mut timer = StepTimer::new(start + Duration::from_secs(10));
        // Later: written down, the timer still set for 10 s, and it fires at 25 s, not 10 s.
        timer.arm(start + Duration::from_secs(25));
        timer.expired().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(25));
        // Earlier than the timer (now 25 s): moved at once.
        timer.arm(start + Duration::from_secs(30));
        timer.arm(start + Duration::from_secs(27));
        timer.expired().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(27));
        // A deadline already past completes at once.
        timer.arm(start + Duration::from_secs(1));
        timer.expired().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(27));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_moved_later_does_not_fire_early() {
        let start = Instant::now();
        let mut timer = StepTimer::new(start + Duration::from_secs(5));
        timer.arm(start + Duration::from_secs(8));
        let early = tokio::time::timeout(Duration::from_secs(7), timer.expired()).await;
        assert!(early.is_err(), "fired before its deadline");
        timer.expired().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(8));
    }
}
