//! A virtual user's place for the connection to one origin, and how it gets filled: kept from the
//! previous request (`per_user`, `per_iteration`), or borrowed from the generator's pool
//! (`shared`) for one step at a time.

use super::conn::{Conn, Connector};
use super::error::Fail;
use super::pool::{Checkout, OriginPool, Ticket};
use crate::prepare::Origin;
use stampede_metrics::{ErrorKind, Timings};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The connection a user holds for one origin.
pub(crate) struct Slot {
    pub origin: Arc<Origin>,
    pub conn: Option<Conn>,
    /// The generator-wide pool the connection is borrowed from (`connections: shared`, origins of
    /// the plan only; redirect targets outside it get connections of their own).
    pool: Option<Arc<OriginPool>>,
    /// The pool place of a borrowed HTTP/1.1 connection.
    ticket: Option<Ticket>,
}

/// The phases of the step being executed.
#[derive(Debug, Default)]
pub(crate) struct StepTimings {
    connect_us: Option<u64>,
    tls_us: Option<u64>,
    ttfb_us: Option<u64>,
}

impl StepTimings {
    fn opened(&mut self, connect_us: u64, tls_us: Option<u64>) {
        *self.connect_us.get_or_insert(0) += connect_us;
        if let Some(tls_us) = tls_us {
            *self.tls_us.get_or_insert(0) += tls_us;
        }
    }

    /// A response head arrived `ttfb_us` after the start (the last one of a step stays).
    pub fn first_byte(&mut self, ttfb_us: u64) {
        self.ttfb_us = Some(ttfb_us);
    }

    /// The step's timings, when it got a response.
    pub fn get(&self) -> Option<Timings> {
        Some(Timings {
            connect_us: self.connect_us,
            tls_us: self.tls_us,
            ttfb_us: self.ttfb_us?,
        })
    }
}

impl Slot {
    pub fn new(origin: Arc<Origin>, pool: Option<Arc<OriginPool>>) -> Slot {
        Slot {
            origin,
            conn: None,
            pool,
            ticket: None,
        }
    }

    /// Makes sure the slot holds a usable connection; returns whether it was opened by this call
    /// (and adds its phases to `timings`). `started` (the start of the step's latency) is set,
    /// if still unset, just before the connection is opened or once one is in hand: time spent
    /// waiting for a shared pool's connection is not part of the latency. `now` is when the
    /// step began: a connection the user holds is in hand then.
    pub async fn acquire(
        &mut self,
        connector: &Connector,
        connect_timeout: Duration,
        now: Instant,
        started: &mut Option<Instant>,
        timings: &mut StepTimings,
    ) -> Result<bool, Fail> {
        if let Some(conn) = &mut self.conn {
            if conn.usable() {
                started.get_or_insert(now);
                return Ok(false);
            }
            self.discard();
        }
        let ticket = match &self.pool {
            None => None,
            Some(pool) => loop {
                match pool.checkout().await {
                    Checkout::Idle(mut conn, ticket) => {
                        if conn.usable() {
                            self.conn = Some(conn);
                            self.ticket = Some(ticket);
                            started.get_or_insert_with(Instant::now);
                            return Ok(false);
                        }
                        // Closed by the server while idle: its place is freed; try again.
                    }
                    Checkout::Shared(conn) => {
                        self.conn = Some(conn);
                        started.get_or_insert_with(Instant::now);
                        return Ok(false);
                    }
                    Checkout::Open(ticket) => break Some(ticket),
                }
            },
        };
        started.get_or_insert_with(Instant::now);
        // Boxed: opening a connection (TCP, TLS, the HTTP/2 handshake) is a large future, and
        // inline it would make every iteration's future that much bigger for a path most
        // requests never take.
        let open = Box::pin(connector.open(&self.origin));
        let opened = match tokio::time::timeout(connect_timeout, open).await {
            Ok(opened) => opened?,
            Err(_) => {
                return Err(Fail::text(ErrorKind::ConnectTimeout, "connect timed out"));
            }
        };
        timings.opened(opened.connect_us, opened.tls_us);
        let (conn, ticket) = match (&self.pool, ticket) {
            (Some(pool), Some(ticket)) => pool.opened(opened.conn, ticket),
            _ => (opened.conn, None),
        };
        self.conn = Some(conn);
        self.ticket = ticket;
        Ok(true)
    }

    /// Drops the connection (failed, or closed by the server).
    pub fn discard(&mut self) {
        self.conn = None;
        self.ticket = None;
    }

    /// A request on the connection failed: an HTTP/2 connection that is still open stays (only
    /// the stream failed); any other is dropped.
    pub fn failed(&mut self) {
        if let Some(conn) = &mut self.conn
            && conn.is_h2()
            && conn.usable()
        {
            conn.abandon();
        } else {
            self.discard();
        }
    }

    /// The step is over: a borrowed connection goes back to its pool (an HTTP/1.1 one only if
    /// its response was completely read). A connection of the user's own stays.
    pub fn release(&mut self) {
        let Some(pool) = &self.pool else {
            return;
        };
        match (self.conn.take(), self.ticket.take()) {
            (Some(conn @ Conn::H1(_)), Some(ticket)) if !conn.busy() => {
                pool.put_back(conn, ticket);
            }
            // An HTTP/2 handle (the connection stays in the pool), or a connection left
            // mid-response (dropped with its ticket, freeing the place).
            _ => {}
        }
    }

    /// The step's deadline passed with a request in flight: an HTTP/1.1 connection in the middle
    /// of a response cannot be reused; an HTTP/2 one can (hyper resets the stream).
    pub fn abandon(&mut self) {
        match &mut self.conn {
            Some(conn) if conn.busy() => self.discard(),
            Some(conn) => conn.abandon(),
            None => {}
        }
    }
}
