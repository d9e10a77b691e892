//! Phase timings of a request: how long opening the connection, the TLS handshake and the wait for
//! the first byte of the response took.
//!
//! They are nested (as in JMeter), so for one request `connect + tls <= ttfb <= latency`: every
//! phase runs from the same start as the request's latency. That makes them comparable with each
//! other and with the latency histogram, and tells apart a slow network (connect), a slow handshake
//! (tls) and a slow application (ttfb minus the two).

use crate::recorder::new_histogram;
use hdrhistogram::Histogram;

/// The phases of one request (a step, redirects included), as measured by the engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    /// Name resolution and TCP connect time of the connections the request opened (summed when a
    /// redirect or a reconnect opened more than one); `None` when it reused a connection.
    pub connect_us: Option<u64>,
    /// TLS handshake time of the connections the request opened; `None` when it opened none, or
    /// only plain-text ones.
    pub tls_us: Option<u64>,
    /// From the start of the request to its final response head.
    pub ttfb_us: u64,
}

/// Histograms of the phases of one request row, in microseconds. `connect` and `tls` only hold
/// requests that opened a connection, so their counts say how many did.
#[derive(Clone, Debug)]
pub struct PhaseStats {
    pub connect: Histogram<u64>,
    pub tls: Histogram<u64>,
    pub ttfb: Histogram<u64>,
}

impl Default for PhaseStats {
    fn default() -> Self {
        PhaseStats {
            connect: new_histogram(),
            tls: new_histogram(),
            ttfb: new_histogram(),
        }
    }
}

/// Largest phase the histograms track before clamping: one hour, in microseconds.
const MAX_PHASE_US: u64 = 3_600_000_000;

impl PhaseStats {
    pub fn record(&mut self, timings: &Timings) {
        if let Some(us) = timings.connect_us {
            record(&mut self.connect, us);
        }
        if let Some(us) = timings.tls_us {
            record(&mut self.tls, us);
        }
        record(&mut self.ttfb, timings.ttfb_us);
    }

    /// Adds `other` into `self`, exactly.
    pub fn merge(&mut self, other: &PhaseStats) {
        for (into, from) in [
            (&mut self.connect, &other.connect),
            (&mut self.tls, &other.tls),
            (&mut self.ttfb, &other.ttfb),
        ] {
            into.add(from)
                .expect("auto-resizing histograms always accept each other");
        }
    }

    /// Clears all counts, keeping allocations.
    pub fn reset(&mut self) {
        self.connect.reset();
        self.tls.reset();
        self.ttfb.reset();
    }
}

fn record(h: &mut Histogram<u64>, us: u64) {
    h.record(us.clamp(1, MAX_PHASE_US))
        .expect("auto-resizing histograms accept any clamped value");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_that_opened_a_connection_count_in_connect_and_tls() {
        let mut a = PhaseStats::default();
        a.record(&Timings {
            connect_us: Some(300),
            tls_us: Some(900),
            ttfb_us: 2000,
        });
        let mut b = PhaseStats::default();
        b.record(&Timings {
            connect_us: None,
            tls_us: None,
            ttfb_us: 500,
        });
        a.merge(&b);
        assert_eq!(a.connect.len(), 1);
        assert_eq!(a.tls.len(), 1);
        assert_eq!(a.ttfb.len(), 2);
        assert_eq!(a.ttfb.min(), 500);
        a.reset();
        assert!(a.ttfb.is_empty() && a.connect.is_empty());
    }
}
