//! The dead man's switch: the runs in progress and when the controller was last heard from, and a
//! watchdog task that cancels every run once the controller has been silent for too long.
//!
//! It lives outside the session on purpose: the switch must fire whether the session is open but
//! silent, broken, or the agent is between reconnection attempts, and a new session must find the
//! runs that survived a short blip (its heartbeats list them to the controller).

use crate::AgentEvent;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct State {
    runs: BTreeMap<String, CancellationToken>,
    last_heard: Option<Instant>,
    /// The `last_heard` the switch last fired for, so one silence fires once.
    fired_for: Option<Instant>,
}

/// Runs in progress and the controller's last sign of life.
#[derive(Default)]
pub(crate) struct Runs {
    state: Mutex<State>,
}

impl Runs {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The controller was heard from.
    pub fn heard(&self, now: Instant) {
        let mut s = self.state();
        s.last_heard = Some(s.last_heard.map_or(now, |t| t.max(now)));
    }

    pub fn contains(&self, run_id: &str) -> bool {
        self.state().runs.contains_key(run_id)
    }

    pub fn insert(&self, run_id: String, cancel: CancellationToken) {
        self.state().runs.insert(run_id, cancel);
    }

    /// Cancels a run (a `Stop`); it stays listed until its runner reports it finished.
    pub fn cancel(&self, run_id: &str) -> bool {
        match self.state().runs.get(run_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// The run reported that it finished.
    pub fn remove(&self, run_id: &str) {
        self.state().runs.remove(run_id);
    }

    pub fn ids(&self) -> Vec<String> {
        self.state().runs.keys().cloned().collect()
    }

    /// Cancels every run (the agent is shutting down).
    pub fn cancel_all(&self) {
        for token in std::mem::take(&mut self.state().runs).into_values() {
            token.cancel();
        }
    }

    /// When the switch fires unless the controller is heard from first.
    fn deadline(&self, timeout: Duration) -> Option<Instant> {
        let s = self.state();
        let last = s.last_heard?;
        (s.fired_for != Some(last)).then(|| last + timeout)
    }

    /// Fires the switch if the silence has lasted `timeout` at `now`: cancels and forgets every
    /// run. Returns how long the silence was and which runs were cancelled.
    fn fire(&self, now: Instant, timeout: Duration) -> Option<(Duration, Vec<String>)> {
        let mut s = self.state();
        let last = s.last_heard?;
        let silent_for = now.saturating_duration_since(last);
        if silent_for < timeout || s.fired_for == Some(last) {
            return None;
        }
        s.fired_for = Some(last);
        let runs = std::mem::take(&mut s.runs);
        let ids = runs.keys().cloned().collect();
        for token in runs.into_values() {
            token.cancel();
        }
        Some((silent_for, ids))
    }
}

/// Watches `runs` until the task is aborted: fires the switch at each silence of `timeout`.
pub(crate) async fn watchdog(
    runs: Arc<Runs>,
    timeout: Duration,
    events: Option<mpsc::UnboundedSender<AgentEvent>>,
) {
    loop {
        let wake = runs
            .deadline(timeout)
            .unwrap_or_else(|| Instant::now() + timeout);
        tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
        if let Some((silent_for, cancelled_runs)) = runs.fire(Instant::now(), timeout) {
            tracing::warn!(
                ?silent_for,
                ?cancelled_runs,
                "dead man's switch: no word from the controller, load cancelled"
            );
            if let Some(tx) = &events {
                let _ = tx.send(AgentEvent::DeadManSwitch {
                    silent_for,
                    cancelled_runs,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_per_silence_and_cancels_every_run() {
        let runs = Runs::default();
        let t0 = Instant::now();
        let timeout = Duration::from_secs(5);
        let (a, b) = (CancellationToken::new(), CancellationToken::new());
        runs.insert("a".into(), a.clone());
        runs.insert("b".into(), b.clone());
        assert_eq!(
            runs.fire(t0 + timeout * 10, timeout),
            None,
            "never heard: nothing to time"
        );
        runs.heard(t0);
        assert_eq!(runs.deadline(timeout), Some(t0 + timeout));
        assert_eq!(runs.fire(t0 + Duration::from_millis(4_999), timeout), None);
        assert!(!a.is_cancelled());
        let (silent, ids) = runs.fire(t0 + timeout, timeout).unwrap();
        assert_eq!(
            (silent, ids),
            (timeout, vec!["a".to_owned(), "b".to_owned()])
        );
        assert!(a.is_cancelled() && b.is_cancelled());
        assert!(runs.ids().is_empty());
        assert_eq!(
            runs.fire(t0 + timeout * 2, timeout),
            None,
            "once per silence"
        );
        assert_eq!(runs.deadline(timeout), None);
        runs.heard(t0 + timeout * 3);
        assert_eq!(runs.deadline(timeout), Some(t0 + timeout * 4));
    }
}
