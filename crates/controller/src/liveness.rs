//! Agent liveness as a pure state machine: `alive` → `missing` → `gone`, driven by heartbeats and
//! by the passage of time, which the caller passes in (no clock is read here, so tests step time
//! exactly and the async driver decides when to tick).
//!
//! Why two stages: one late heartbeat (a GC pause, a busy network) should be visible (`missing`)
//! without costing the run anything, while an agent that stays silent must be declared `gone` soon
//! enough that its share is re-assigned and the run's load stays close to plan. With the defaults
//! (heartbeat every 1 s, missing after 2 s, gone after 3 s) an agent is gone after missing about
//! three heartbeats in a row.
//!
//! `gone` is final for a registration: a heartbeat arriving later is ignored, because by then the
//! controller may have re-assigned the share. The agent has to register again (its dead man's
//! switch has stopped its load by then, see the agent crate).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Timings of the liveness machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LivenessConfig {
    /// How often agents send heartbeats (told to them at registration).
    pub heartbeat_interval: Duration,
    /// Silence after which an agent is `missing`.
    pub missing_after: Duration,
    /// Silence after which an agent is `gone`.
    pub gone_after: Duration,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        LivenessConfig {
            heartbeat_interval: Duration::from_secs(1),
            missing_after: Duration::from_secs(2),
            gone_after: Duration::from_secs(3),
        }
    }
}

/// An inconsistent [`LivenessConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "liveness timings must satisfy 0 < heartbeat ({heartbeat:?}) < missing ({missing:?}) < gone ({gone:?})"
)]
pub struct LivenessConfigError {
    pub heartbeat: Duration,
    pub missing: Duration,
    pub gone: Duration,
}

impl LivenessConfig {
    pub fn validate(&self) -> Result<(), LivenessConfigError> {
        let ok = !self.heartbeat_interval.is_zero()
            && self.heartbeat_interval < self.missing_after
            && self.missing_after < self.gone_after;
        if ok {
            Ok(())
        } else {
            Err(LivenessConfigError {
                heartbeat: self.heartbeat_interval,
                missing: self.missing_after,
                gone: self.gone_after,
            })
        }
    }
}

/// Where an agent stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentState {
    Alive,
    Missing,
    Gone,
}

/// A transition, emitted once when it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LivenessEvent<K> {
    /// Silent for `missing_after`: shown, nothing re-assigned yet.
    Missing { agent: K, silent_for: Duration },
    /// A missing agent was heard from again.
    Recovered { agent: K, silent_for: Duration },
    /// Silent for `gone_after`: its share should be re-assigned (or the run aborted).
    Gone { agent: K, silent_for: Duration },
}

#[derive(Clone, Debug)]
struct Entry {
    last_heard: Instant,
    state: AgentState,
    /// The agent's session is waiting on the controller (see [`Liveness::hold`]).
    held: bool,
}

/// The liveness of every registered agent, keyed by `K` (an agent id).
#[derive(Clone, Debug)]
pub struct Liveness<K> {
    config: LivenessConfig,
    agents: BTreeMap<K, Entry>,
}

impl<K: Ord + Clone> Liveness<K> {
    pub fn new(config: LivenessConfig) -> Self {
        Liveness {
            config,
            agents: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &LivenessConfig {
        &self.config
    }

    /// Starts tracking `agent` as alive (a new registration replaces any earlier one, gone or not).
    pub fn register(&mut self, agent: K, now: Instant) {
        let entry = Entry {
            last_heard: now,
            state: AgentState::Alive,
            held: false,
        };
        self.agents.insert(agent, entry);
    }

    /// Stops tracking `agent` (its session ended). Returns whether it was tracked.
    pub fn remove(&mut self, agent: &K) -> bool {
        self.agents.remove(agent).is_some()
    }

    pub fn state(&self, agent: &K) -> Option<AgentState> {
        self.agents.get(agent).map(|e| e.state)
    }

    /// Every tracked agent and its state, in key order.
    pub fn states(&self) -> impl Iterator<Item = (&K, AgentState)> {
        self.agents.iter().map(|(k, e)| (k, e.state))
    }

    /// `agent` was heard from (any message counts, not only heartbeats). Returns `Recovered` when
    /// it was missing. Unknown and gone agents are ignored.
    pub fn heard(&mut self, agent: &K, now: Instant) -> Option<LivenessEvent<K>> {
        let entry = self.agents.get_mut(agent)?;
        if entry.state == AgentState::Gone {
            return None;
        }
        let silent_for = now.saturating_duration_since(entry.last_heard);
        // Messages may be processed slightly out of order: never move backwards.
        entry.last_heard = entry.last_heard.max(now);
        if entry.state == AgentState::Missing {
            entry.state = AgentState::Alive;
            return Some(LivenessEvent::Recovered {
                agent: agent.clone(),
                silent_for,
            });
        }
        None
    }

    /// The controller, not `agent`, is behind: its session has a message in hand that the
    /// controller is not ready to take, so it is not reading what the agent sends. Until
    /// [`release`](Self::release), the agent's silence is the controller's and does not count: an
    /// overloaded controller slows down instead of declaring the agents that are talking to it
    /// gone (and moving their load to the others, which only adds to it).
    pub fn hold(&mut self, agent: &K) {
        if let Some(entry) = self.agents.get_mut(agent) {
            entry.held = true;
        }
    }

    /// Ends a [`hold`](Self::hold): the session reads again, so its silence counts from `now`.
    pub fn release(&mut self, agent: &K, now: Instant) -> Option<LivenessEvent<K>> {
        self.agents.get_mut(agent)?.held = false;
        self.heard(agent, now)
    }

    /// Applies the passage of time up to `now`, returning the transitions in agent order. A tick
    /// that comes late still reports `Missing` before `Gone`, so observers see every state.
    pub fn tick(&mut self, now: Instant) -> Vec<LivenessEvent<K>> {
        let mut events = Vec::new();
        for (agent, entry) in self.agents.iter_mut().filter(|(_, e)| !e.held) {
            let silent_for = now.saturating_duration_since(entry.last_heard);
            if entry.state == AgentState::Alive && silent_for >= self.config.missing_after {
                entry.state = AgentState::Missing;
                events.push(LivenessEvent::Missing {
                    agent: agent.clone(),
                    silent_for,
                });
            }
            if entry.state == AgentState::Missing && silent_for >= self.config.gone_after {
                entry.state = AgentState::Gone;
                events.push(LivenessEvent::Gone {
                    agent: agent.clone(),
                    silent_for,
                });
            }
        }
        events
    }

    /// The next instant at which [`tick`](Self::tick) could report something, so a driver can
    /// sleep until then instead of polling.
    pub fn next_deadline(&self) -> Option<Instant> {
        (self.agents.values())
            .filter(|e| !e.held)
            .filter_map(|e| match e.state {
                AgentState::Alive => Some(e.last_heard + self.config.missing_after),
                AgentState::Missing => Some(e.last_heard + self.config.gone_after),
                AgentState::Gone => None,
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn silence_goes_missing_then_gone_with_default_timings() {
        let t0 = Instant::now();
        let mut l = Liveness::new(LivenessConfig::default());
        l.register("a", t0);
        assert!(l.tick(t0 + ms(1_999)).is_empty());
        assert_eq!(l.next_deadline(), Some(t0 + ms(2_000)));
        assert_eq!(
            l.tick(t0 + ms(2_000)),
            [LivenessEvent::Missing {
                agent: "a",
                silent_for: ms(2_000)
            }]
        );
        assert!(l.tick(t0 + ms(2_500)).is_empty(), "emitted once");
        assert_eq!(l.next_deadline(), Some(t0 + ms(3_000)));
        assert_eq!(
            l.tick(t0 + ms(3_000)),
            [LivenessEvent::Gone {
                agent: "a",
                silent_for: ms(3_000)
            }]
        );
        assert_eq!(l.state(&"a"), Some(AgentState::Gone));
        assert_eq!(l.next_deadline(), None);
        assert!(l.tick(t0 + ms(10_000)).is_empty());
    }

    #[test]
    fn a_held_agent_is_not_timed_out_and_its_silence_counts_again_from_the_release() {
        let t0 = Instant::now();
        let mut l = Liveness::new(LivenessConfig::default());
        l.register("held", t0);
        l.register("quiet", t0);
        l.hold(&"held");
        assert_eq!(
            l.next_deadline(),
            Some(t0 + ms(2_000)),
            "only the quiet one"
        );
        let events = l.tick(t0 + ms(10_000));
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| matches!(
            e,
            LivenessEvent::Missing { agent: "quiet", .. }
                | LivenessEvent::Gone { agent: "quiet", .. }
        )));
        assert_eq!(l.state(&"held"), Some(AgentState::Alive));
        assert_eq!(l.next_deadline(), None);
        // Released at 10 s: silent from then on, not from t0.
        assert_eq!(l.release(&"held", t0 + ms(10_000)), None);
        assert!(l.tick(t0 + ms(11_999)).is_empty());
        assert_eq!(
            l.tick(t0 + ms(12_000)),
            [LivenessEvent::Missing {
                agent: "held",
                silent_for: ms(2_000)
            }]
        );
        // Unknown agents are ignored.
        l.hold(&"nobody");
        assert_eq!(l.release(&"nobody", t0), None);
    }

    #[test]
    fn heartbeats_keep_an_agent_alive_and_recover_a_missing_one() {
        let t0 = Instant::now();
        let mut l = Liveness::new(LivenessConfig::default());
        l.register("a", t0);
        for s in 1..=10 {
            assert_eq!(l.heard(&"a", t0 + ms(s * 1_000)), None);
            assert!(l.tick(t0 + ms(s * 1_000 + 999)).is_empty());
        }
        let last = t0 + ms(10_000);
        assert_eq!(l.tick(last + ms(2_100)).len(), 1);
        assert_eq!(
            l.heard(&"a", last + ms(2_200)),
            Some(LivenessEvent::Recovered {
                agent: "a",
                silent_for: ms(2_200)
            })
        );
        assert_eq!(l.state(&"a"), Some(AgentState::Alive));
        // The silence clock restarted at the recovery.
        assert!(l.tick(last + ms(4_100)).is_empty());
    }

    #[test]
    fn a_late_tick_reports_both_transitions_in_order() {
        let t0 = Instant::now();
        let mut l = Liveness::new(LivenessConfig::default());
        l.register("b", t0);
        l.register("a", t0 + ms(500));
        let events = l.tick(t0 + ms(60_000));
        let kinds: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(events.len(), 4, "{kinds:?}");
        assert!(kinds[0].starts_with("Missing { agent: \"a\""));
        assert!(kinds[1].starts_with("Gone { agent: \"a\""));
        assert!(kinds[2].starts_with("Missing { agent: \"b\""));
        assert!(kinds[3].starts_with("Gone { agent: \"b\""));
    }

    #[test]
    fn gone_is_final_until_the_agent_registers_again() {
        let t0 = Instant::now();
        let mut l = Liveness::new(LivenessConfig::default());
        l.register("a", t0);
        l.tick(t0 + ms(5_000));
        assert_eq!(l.heard(&"a", t0 + ms(5_001)), None);
        assert_eq!(l.state(&"a"), Some(AgentState::Gone));
        l.register("a", t0 + ms(6_000));
        assert_eq!(l.state(&"a"), Some(AgentState::Alive));
        assert!(l.remove(&"a"));
        assert_eq!(
            l.heard(&"a", t0 + ms(6_500)),
            None,
            "unknown agents are ignored"
        );
    }

    #[test]
    fn out_of_order_messages_do_not_move_the_clock_back() {
        let t0 = Instant::now();
        let mut l = Liveness::new(LivenessConfig::default());
        l.register("a", t0);
        l.heard(&"a", t0 + ms(1_500));
        l.heard(&"a", t0 + ms(1_000));
        assert!(l.tick(t0 + ms(3_400)).is_empty());
        assert_eq!(l.tick(t0 + ms(3_500)).len(), 1);
    }

    #[test]
    fn custom_timings_are_validated() {
        assert_eq!(LivenessConfig::default().validate(), Ok(()));
        let bad = LivenessConfig {
            heartbeat_interval: ms(500),
            missing_after: ms(400),
            gone_after: ms(1_000),
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("heartbeat (500ms) < missing (400ms)"), "{err}");
        let fast = LivenessConfig {
            heartbeat_interval: ms(50),
            missing_after: ms(100),
            gone_after: ms(150),
        };
        let t0 = Instant::now();
        let mut l = Liveness::new(fast);
        l.register(7u32, t0);
        assert_eq!(l.tick(t0 + ms(150)).len(), 2);
    }
}
