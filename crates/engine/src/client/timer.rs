//! A user's step timeout, kept from request to request and moved lazily.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::time::{Instant, Sleep};

/// The deadline of the step in flight, over one timer the user keeps.
///
/// Each step moves the deadline later. Resetting a registered timer on every request cost ~120
/// instructions under callgrind (the timer wheel's bookkeeping); here a later deadline is only
/// written down, and the timer, still set for an earlier one, is moved when it fires: at most
/// once per timeout period (60 s by default) instead of once per request. A deadline earlier
/// than the timer's (a step with a shorter timeout) moves it at once.
///
/// Nor is the timer polled on every request: once it has been polled by a task and is still
/// pending, it will wake that task when it fires, so it is polled again only when it has fired,
/// was moved, or is polled for another task (~100 instructions and two atomic operations per
/// request, where `tokio::select!` polled it each time).
pub(crate) struct StepTimer {
    sleep: Pin<Box<Sleep>>,
    deadline: Instant,
    /// The waker the timer was last left pending with; `None` once it fired or was moved.
    waiting: Option<Waker>,
}

impl StepTimer {
    pub fn new(deadline: Instant) -> StepTimer {
        StepTimer {
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            deadline,
            waiting: None,
        }
    }

    /// Sets the deadline of the next step.
    pub fn arm(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if self.sleep.deadline() > deadline {
            self.sleep.as_mut().reset(deadline);
            self.waiting = None;
        }
    }

    /// Polls `work`, then (while it is pending) the deadline: `Ready(Ok)` with `work`'s output,
    /// `Ready(Err)` once the deadline passed first. `work` is polled first, so a response that
    /// is in is taken even when the deadline has just passed. (A poll function over a pinned
    /// `work`, not an `async fn` taking it: moving the request's future into another future
    /// copied it twice per request.)
    pub fn poll_bound<F: Future>(
        &mut self,
        work: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<F::Output, ()>> {
        match work.poll(cx) {
            Poll::Ready(out) => Poll::Ready(Ok(out)),
            Poll::Pending => self.poll_expired(cx).map(Err),
        }
    }

    /// [`poll_bound`](Self::poll_bound) as a future.
    #[cfg(test)]
    pub async fn bound<F: Future>(&mut self, work: F) -> Result<F::Output, ()> {
        let mut work = std::pin::pin!(work);
        std::future::poll_fn(|cx| self.poll_bound(work.as_mut(), cx)).await
    }

    /// Completes once the deadline has passed.
    #[cfg(test)]
    pub async fn expired(&mut self) {
        std::future::poll_fn(|cx| self.poll_expired(cx)).await;
    }

    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.waits_for(cx.waker()) && !self.sleep.is_elapsed() {
            return Poll::Pending;
        }
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                if !self.waits_for(cx.waker()) {
                    self.waiting = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
            self.waiting = None;
            if self.sleep.deadline() >= self.deadline {
                return Poll::Ready(());
            }
            // Fired for an earlier step's deadline.
            let deadline = self.deadline;
            self.sleep.as_mut().reset(deadline);
        }
    }

    /// Whether the timer, pending, will wake the task `waker` wakes.
    fn waits_for(&self, waker: &Waker) -> bool {
        (self.waiting.as_ref()).is_some_and(|w| w.will_wake(waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;
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

    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Wakes>, Waker) {
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        (wakes.clone(), Waker::from(wakes))
    }

    #[tokio::test(start_paused = true)]
    async fn work_done_first_is_ok_and_work_outlasting_the_deadline_is_cut() {
        let start = Instant::now();
        let mut timer = StepTimer::new(start + Duration::from_secs(5));
        let quick = timer
            .bound(tokio::time::sleep(Duration::from_secs(1)))
            .await;
        assert_eq!(quick, Ok(()));
        timer.arm(start + Duration::from_secs(6));
        let stuck = timer.bound(std::future::pending::<()>()).await;
        assert_eq!(stuck, Err(()));
        assert_eq!(Instant::now() - start, Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn the_timer_wakes_the_task_that_polled_it_last() {
        let start = Instant::now();
        let mut timer = StepTimer::new(start + Duration::from_secs(5));
        let (first, first_waker) = counting();
        let (second, second_waker) = counting();
        {
            let mut work = std::pin::pin!(timer.bound(std::future::pending::<()>()));
            let mut cx = Context::from_waker(&first_waker);
            assert!(work.as_mut().poll(&mut cx).is_pending());
            // Polled again for the same task: left as it is.
            assert!(work.as_mut().poll(&mut cx).is_pending());
            // Then for another task: that one is woken when the deadline passes.
            let mut cx = Context::from_waker(&second_waker);
            assert!(work.as_mut().poll(&mut cx).is_pending());
            tokio::time::sleep(Duration::from_secs(6)).await;
            assert_eq!(second.0.load(Ordering::SeqCst), 1, "the last task is woken");
            assert_eq!(first.0.load(Ordering::SeqCst), 0);
            assert_eq!(work.as_mut().poll(&mut cx), Poll::Ready(Err(())));
        }
        // A later step on the same task, polled once: woken at its own deadline.
        timer.arm(start + Duration::from_secs(20));
        let mut work = std::pin::pin!(timer.bound(std::future::pending::<()>()));
        let mut cx = Context::from_waker(&second_waker);
        assert!(work.as_mut().poll(&mut cx).is_pending());
        tokio::time::sleep(Duration::from_secs(8)).await;
        assert_eq!(second.0.load(Ordering::SeqCst), 1, "not woken before 20 s");
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(second.0.load(Ordering::SeqCst), 2);
        assert_eq!(work.as_mut().poll(&mut cx), Poll::Ready(Err(())));
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
