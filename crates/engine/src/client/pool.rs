//! The generator-wide connection pool of `connections: shared`: per origin, at most `pool_size`
//! connections (open, or being opened) that virtual users borrow for one step at a time.
//!
//! An HTTP/1.1 connection is borrowed exclusively: a user takes an idle one, else opens one while
//! the pool is not full, else waits for one to come back. An HTTP/2 connection multiplexes: it stays
//! in the pool while borrowed, and a user takes one with no stream in flight, else opens one while
//! the pool is not full, else shares the least busy one. With `http_version: auto` over TLS, ALPN
//! decides per connection, so one pool may hold both kinds.

use super::conn::Conn;
use super::h2::H2Conn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// The pool of one origin.
#[derive(Debug)]
pub(crate) struct OriginPool {
    size: usize,
    state: Mutex<State>,
    /// Signalled when an HTTP/1.1 connection comes back or a connection goes away.
    freed: Notify,
}

#[derive(Default)]
struct State {
    /// HTTP/1.1 connections only.
    idle: Vec<Conn>,
    h2: Vec<H2Conn>,
    /// Connections alive (idle, borrowed, or HTTP/2) or being opened: never above `size`.
    open: usize,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (idle, h2, open) = (self.idle.len(), self.h2.len(), self.open);
        write!(f, "State {{ idle: {idle}, h2: {h2}, open: {open} }}")
    }
}

/// What a user got from the pool.
pub(crate) enum Checkout {
    /// An idle HTTP/1.1 connection, now the user's until returned (it may have been closed by
    /// the server meanwhile: check before use).
    Idle(Conn, Ticket),
    /// A handle on a pooled HTTP/2 connection.
    Shared(Conn),
    /// Room for one more connection: the user opens it.
    Open(Ticket),
}

/// One counted connection of a pool. Dropping it means the connection is gone (closed, failed,
/// or never opened) and frees its place.
#[derive(Debug)]
pub(crate) struct Ticket {
    pool: Arc<OriginPool>,
    /// False once the connection's place is accounted for elsewhere (in the pool's lists).
    armed: bool,
}

impl Ticket {
    /// The connection joined the pool's lists, which now hold its place.
    fn settle(mut self) {
        self.armed = false;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.armed {
            self.pool.lock().open -= 1;
            self.pool.freed.notify_one();
        }
    }
}

impl OriginPool {
    pub fn new(size: u32) -> Arc<OriginPool> {
        Arc::new(OriginPool {
            size: size.max(1) as usize,
            state: Mutex::new(State::default()),
            freed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connections alive or being opened.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.lock().open
    }

    /// Waits until a connection (or room for one) is available.
    pub async fn checkout(self: &Arc<Self>) -> Checkout {
        loop {
            let freed = self.freed.notified();
            let mut freed = std::pin::pin!(freed);
            // Registered before looking, so a connection freed in between is not missed.
            freed.as_mut().enable();
            if let Some(checkout) = self.try_checkout() {
                return checkout;
            }
            freed.await;
        }
    }

    fn try_checkout(self: &Arc<Self>) -> Option<Checkout> {
        let mut state = self.lock();
        let before = state.h2.len();
        state.h2.retain(H2Conn::usable);
        let gone = before - state.h2.len();
        if gone > 0 {
            state.open -= gone;
            // Places were freed: let every waiting user look again.
            self.freed.notify_waiters();
        }
        let full = state.open >= self.size;
        let least_busy = state.h2.iter().min_by_key(|c| c.in_flight());
        if let Some(conn) = least_busy
            && (conn.in_flight() == 0 || full)
        {
            return Some(Checkout::Shared(Conn::H2(conn.clone())));
        }
        if let Some(conn) = state.idle.pop() {
            return Some(Checkout::Idle(conn, self.ticket()));
        }
        if !full {
            state.open += 1;
            return Some(Checkout::Open(self.ticket()));
        }
        None
    }

    /// A ticket for a place already counted in `open`.
    fn ticket(self: &Arc<Self>) -> Ticket {
        Ticket {
            pool: self.clone(),
            armed: true,
        }
    }

    /// Adds a connection opened with `ticket`: an HTTP/2 one joins the pool at once (and the
    /// returned handle is the user's); an HTTP/1.1 one stays the user's until [`Self::put_back`].
    pub fn opened(&self, conn: Conn, ticket: Ticket) -> (Conn, Option<Ticket>) {
        match conn {
            Conn::H2(h2) => {
                self.lock().h2.push(h2.clone());
                ticket.settle();
                // Every waiting user can share it.
                self.freed.notify_waiters();
                (Conn::H2(h2), None)
            }
            conn @ Conn::H1(_) => (conn, Some(ticket)),
        }
    }

    /// Returns a borrowed HTTP/1.1 connection whose response was completely read.
    pub fn put_back(&self, conn: Conn, ticket: Ticket) {
        self.lock().idle.push(conn);
        ticket.settle();
        self.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn room_is_counted_and_freed_by_tickets() {
        let pool = OriginPool::new(2);
        let Checkout::Open(a) = pool.checkout().await else {
            panic!("room for a first connection");
        };
        let Checkout::Open(b) = pool.checkout().await else {
            panic!("room for a second connection");
        };
        assert_eq!(pool.open(), 2);
        // Full: a third user waits until a place is freed.
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { matches!(pool.checkout().await, Checkout::Open(_)) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(a);
        assert!(
            waiting.await.unwrap(),
            "the freed place went to the waiting user"
        );
        drop(b);
        assert_eq!(pool.open(), 0);
    }
}
