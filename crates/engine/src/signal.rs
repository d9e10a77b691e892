//! A one-way signal: a cancellation token to wait on, and the same fact as a flag to read.

use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;

/// A one-way signal (a user's stops, the run's end of requests). Users check them on every
/// iteration and every request; a token's own check takes and releases a lock (~60
/// instructions under callgrind), where the flag is one load.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    token: CancellationToken,
    fired: AtomicBool,
}

impl Signal {
    /// Fires the signal (once; later calls change nothing).
    pub fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        self.token.cancel();
    }

    pub fn is_fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    /// Cancelled when the signal fires, and only then.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}
