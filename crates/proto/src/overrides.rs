//! `stampede_scenario::Overrides` ⇄ `pb::Overrides`: the command-line values the controller was
//! given travel with the scenario text, so every agent builds the same plan from it.

use crate::pb;
use stampede_scenario::Overrides;
use std::time::Duration;

/// Encodes overrides; durations travel as nanoseconds (lossless up to 584 years).
pub fn overrides_to_wire(o: &Overrides) -> pb::Overrides {
    pb::Overrides {
        users: o.users,
        spawn_rate: o.spawn_rate,
        duration_ns: o
            .duration
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        target: o.target.clone(),
        iterations: o.iterations,
        max_requests: o.max_requests,
        env: o.env.clone(),
    }
}

/// Decodes overrides. Every value is re-validated when the agent loads the scenario with them.
pub fn overrides_from_wire(o: &pb::Overrides) -> Overrides {
    Overrides {
        users: o.users,
        spawn_rate: o.spawn_rate,
        duration: o.duration_ns.map(Duration::from_nanos),
        target: o.target.clone(),
        iterations: o.iterations,
        max_requests: o.max_requests,
        env: o.env.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_round_trip() {
        let all = Overrides {
            users: Some(200),
            spawn_rate: Some(12.5),
            duration: Some(Duration::from_micros(90_000_123)),
            target: Some("http://127.0.0.1:9000".into()),
            iterations: Some(1_000),
            max_requests: Some(u64::MAX),
            env: Some("staging".into()),
        };
        assert_eq!(overrides_from_wire(&overrides_to_wire(&all)), all);
        let none = Overrides::default();
        assert_eq!(overrides_from_wire(&overrides_to_wire(&none)), none);
    }
}
