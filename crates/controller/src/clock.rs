//! Clock offset of an agent relative to the controller, from NTP-style probes.
//!
//! A probe gives four timestamps: the controller sends at `t0` (its clock), the agent receives at
//! `t1` and replies at `t2` (its clock), the controller receives at `t3`. If the network delay is
//! the same both ways, the agent's clock minus the controller's is
//! `offset = ((t1 − t0) + (t2 − t3)) / 2`, and whatever asymmetry there is can shift that by at
//! most half the round trip `(t3 − t0) − (t2 − t1)`. So the sample with the *smallest* round trip
//! bounds the error best: queueing delay only ever adds to a round trip, and it is what makes
//! the two directions differ. That is why the estimate takes the minimum-RTT sample rather than
//! averaging (an average mixes in the samples that queued).
//!
//! The offset lets every agent start a wave at the same instant: the controller hands out one
//! `start_at` in its clock and each agent adds its offset.

/// One probe's timestamps, Unix nanoseconds: `t0`, `t3` on the controller's clock, `t1`, `t2` on
/// the agent's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSample {
    pub t0: i64,
    pub t1: i64,
    pub t2: i64,
    pub t3: i64,
}

impl ClockSample {
    /// Network round trip (total minus the agent's processing time); `None` for an impossible
    /// sample (negative round trip or processing time), which a buggy or hostile peer could send.
    pub fn round_trip_ns(&self) -> Option<i64> {
        let total = i128::from(self.t3) - i128::from(self.t0);
        let processing = i128::from(self.t2) - i128::from(self.t1);
        let rtt = total - processing;
        (total >= 0 && processing >= 0 && rtt >= 0)
            .then(|| i64::try_from(rtt).ok())
            .flatten()
    }

    /// Agent clock minus controller clock, assuming symmetric delays.
    pub fn offset_ns(&self) -> i64 {
        let sum = (i128::from(self.t1) - i128::from(self.t0))
            + (i128::from(self.t2) - i128::from(self.t3));
        let offset = sum / 2;
        offset.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

/// The estimated offset of one agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockEstimate {
    /// Agent clock minus controller clock.
    pub offset_ns: i64,
    /// Round trip of the sample the offset comes from.
    pub round_trip_ns: i64,
    /// Valid samples considered.
    pub samples: usize,
}

impl ClockEstimate {
    /// The true offset is within this many nanoseconds of `offset_ns` (half the round trip).
    pub fn uncertainty_ns(&self) -> i64 {
        self.round_trip_ns / 2
    }

    /// A controller instant expressed in the agent's clock.
    pub fn to_agent_ns(&self, controller_ns: i64) -> i64 {
        controller_ns.saturating_add(self.offset_ns)
    }

    /// An agent instant expressed in the controller's clock.
    pub fn to_controller_ns(&self, agent_ns: i64) -> i64 {
        agent_ns.saturating_sub(self.offset_ns)
    }
}

/// No usable clock sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no valid clock sample ({given} given, all with impossible timestamps)")]
pub struct ClockError {
    pub given: usize,
}

/// The offset from the sample with the smallest round trip (the first one on a tie). Impossible
/// samples are skipped.
pub fn estimate(samples: &[ClockSample]) -> Result<ClockEstimate, ClockError> {
    let valid: Vec<(i64, &ClockSample)> = (samples.iter())
        .filter_map(|s| s.round_trip_ns().map(|rtt| (rtt, s)))
        .collect();
    let best = (valid.iter())
        .min_by_key(|(rtt, _)| *rtt)
        .ok_or(ClockError {
            given: samples.len(),
        })?;
    Ok(ClockEstimate {
        offset_ns: best.1.offset_ns(),
        round_trip_ns: best.0,
        samples: valid.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    /// A probe sent at controller time `send`, to an agent whose clock is `offset` ahead, with
    /// one-way delays `out` and `back` and `processing` on the agent.
    fn probe(send: i64, offset: i64, out: i64, back: i64, processing: i64) -> ClockSample {
        let t1 = send + out + offset;
        let t2 = t1 + processing;
        ClockSample {
            t0: send,
            t1,
            t2,
            t3: t2 - offset + back,
        }
    }

    /// xorshift, so the jitter is repeatable.
    fn jitter(state: &mut u64, max: i64) -> i64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state % max as u64) as i64
    }

    #[test]
    fn symmetric_delays_give_the_exact_offset() {
        for offset in [0, 1_500 * MS, -42 * MS, 7, -3_600_000 * MS] {
            let s = probe(1_700_000_000_000 * MS, offset, 2 * MS, 2 * MS, MS / 2);
            assert_eq!(s.offset_ns(), offset);
            assert_eq!(s.round_trip_ns(), Some(4 * MS));
            let e = estimate(&[s]).unwrap();
            assert_eq!(e.to_agent_ns(100), 100 + offset);
            assert_eq!(e.to_controller_ns(e.to_agent_ns(100)), 100);
        }
    }

    #[test]
    fn skew_with_jitter_is_recovered_within_half_the_best_round_trip() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for &offset in &[2_345 * MS, -987 * MS, 0] {
            let samples: Vec<ClockSample> = (0..32)
                .map(|i| {
                    let base = 300_000; // 0.3 ms of wire time each way
                    let out = base + jitter(&mut seed, 20 * MS);
                    let back = base + jitter(&mut seed, 20 * MS);
                    probe(i * 100 * MS, offset, out, back, jitter(&mut seed, MS))
                })
                .collect();
            let e = estimate(&samples).unwrap();
            let min_rtt = samples.iter().filter_map(|s| s.round_trip_ns()).min();
            assert_eq!(Some(e.round_trip_ns), min_rtt, "the min-RTT sample is used");
            assert!(
                (e.offset_ns - offset).abs() <= e.uncertainty_ns(),
                "offset {} vs true {offset}, uncertainty {}",
                e.offset_ns,
                e.uncertainty_ns()
            );
            // Much better than averaging every sample's estimate would be in the worst case.
            assert!(e.uncertainty_ns() < 20 * MS);
            assert_eq!(e.samples, 32);
        }
    }

    #[test]
    fn a_queued_sample_does_not_win_over_a_clean_one() {
        let offset = 50 * MS;
        let clean = probe(0, offset, MS, MS, 0);
        // 30 ms of queueing on the way back only: its own estimate is 15 ms off.
        let queued = probe(10 * MS, offset, MS, 31 * MS, 0);
        assert_eq!(queued.offset_ns(), offset - 15 * MS);
        let e = estimate(&[queued, clean]).unwrap();
        assert_eq!(e.offset_ns, offset);
    }

    #[test]
    fn impossible_samples_are_skipped_and_none_left_is_an_error() {
        let backwards = ClockSample {
            t0: 100,
            t1: 0,
            t2: 0,
            t3: 50,
        };
        let agent_time_travel = ClockSample {
            t0: 0,
            t1: 500,
            t2: 400,
            t3: 1_000,
        };
        let slow_agent = ClockSample {
            // Processing longer than the whole round trip.
            t0: 0,
            t1: 0,
            t2: 2_000,
            t3: 1_000,
        };
        for s in [backwards, agent_time_travel, slow_agent] {
            assert_eq!(s.round_trip_ns(), None, "{s:?}");
        }
        let err = estimate(&[backwards, slow_agent]).unwrap_err();
        assert_eq!(err, ClockError { given: 2 });
        assert!(estimate(&[]).is_err());
        let good = probe(0, 5, 10, 10, 1);
        assert_eq!(estimate(&[backwards, good]).unwrap().samples, 1);
        let extreme = ClockSample {
            t0: i64::MIN,
            t1: i64::MAX,
            t2: i64::MAX,
            t3: i64::MIN,
        };
        assert_eq!(extreme.offset_ns(), i64::MAX, "clamped, no overflow");
    }
}
