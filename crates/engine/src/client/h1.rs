//! One HTTP/1.1 connection: hyper's client connection over a plain or TLS stream.
//!
//! The hyper connection future is driven *inside the virtual user's task* (polled alongside the
//! response and body futures) instead of being spawned: a request then costs no cross-task wake-ups,
//! and dropping the connection drops the socket at once. An idle connection (in a user's slot or
//! a shared pool) is not polled; a close by the server is noticed when it is next taken.

use super::body::{self, BodySink};
use super::error::Fail;
use super::stream::Stream;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

pub(crate) type RequestBody = Full<Bytes>;
type Driver = Connection<TokioIo<Stream>, RequestBody>;

/// A live HTTP/1.1 connection.
pub(crate) struct H1Conn {
    sender: SendRequest<RequestBody>,
    /// `None` once hyper finished with the connection (closed by either side, or failed).
    driver: Option<Driver>,
    /// The error the driver ended with, if any: more precise than what the body reports.
    driver_error: Option<hyper::Error>,
    /// A request was handed over and its response is not completely read.
    busy: bool,
}

impl H1Conn {
    pub async fn handshake(stream: Stream) -> Result<H1Conn, Fail> {
        let (sender, driver) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(Fail::http)?;
        Ok(H1Conn {
            sender,
            driver: Some(driver),
            driver_error: None,
            busy: false,
        })
    }

    /// True while a request is in flight (its response not fully read).
    pub fn busy(&self) -> bool {
        self.busy
    }

    /// Whether the connection can take a request: not busy, and not closed by the peer while idle
    /// (checked by polling the connection once).
    pub async fn usable(&mut self) -> bool {
        if self.busy {
            return false;
        }
        let (driver, error) = (&mut self.driver, &mut self.driver_error);
        poll_fn(|cx| {
            poll_driver(driver, error, cx);
            Poll::Ready(())
        })
        .await;
        self.driver.is_some() && !self.sender.is_closed()
    }

    /// Sends `request` and waits for the response head.
    pub async fn send(
        &mut self,
        request: Request<RequestBody>,
    ) -> hyper::Result<Response<Incoming>> {
        self.busy = true;
        let H1Conn {
            sender,
            driver,
            driver_error,
            ..
        } = self;
        poll_fn(|cx| {
            poll_driver(driver, driver_error, cx);
            sender.poll_ready(cx)
        })
        .await?;
        let mut response = pin!(sender.send_request(request));
        poll_fn(|cx| {
            poll_driver(driver, driver_error, cx);
            response.as_mut().poll(cx)
        })
        .await
    }

    /// Reads `body` to its end into `sink`.
    pub async fn read_body(
        &mut self,
        body: &mut Incoming,
        sink: &mut BodySink<'_>,
    ) -> hyper::Result<()> {
        let (driver, driver_error) = (&mut self.driver, &mut self.driver_error);
        let result = poll_fn(|cx| {
            body::poll_read(body, sink, cx, |cx| poll_driver(driver, driver_error, cx))
        })
        .await;
        // The body only sees a generic "connection error"; the driver has the cause.
        result.map_err(|e| self.driver_error.take().unwrap_or(e))?;
        self.busy = false;
        Ok(())
    }
}

/// Polls hyper's connection future once; drops it when it completes (which fails whatever still
/// waits on it), keeping its error.
fn poll_driver(
    driver: &mut Option<Driver>,
    error: &mut Option<hyper::Error>,
    cx: &mut Context<'_>,
) {
    if let Some(d) = driver
        && let Poll::Ready(result) = Pin::new(d).poll(cx)
    {
        *driver = None;
        if let Err(e) = result {
            *error = Some(e);
        }
    }
}
