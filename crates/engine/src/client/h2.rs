//! One HTTP/2 connection, as a cheap handle that can be cloned to multiplex requests.
//!
//! hyper drives an HTTP/2 connection from tasks of its own (the connection, and one per request),
//! so unlike HTTP/1.1 nothing is polled in the virtual user's task but the response. The
//! connection closes (with a GOAWAY) once every handle is dropped.

use super::body::{self, BodySink};
use super::error::Fail;
use super::h1::Head;
use super::request::{RequestBody, response_head_len};
use super::stream::Stream;
use http::Request;
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A handle on a live HTTP/2 connection.
pub(crate) struct H2Conn {
    sender: SendRequest<RequestBody>,
    /// Streams in flight on the connection, over every handle (the users of a shared pool pick
    /// the least busy connection by it).
    in_flight: Arc<AtomicUsize>,
    /// This handle has a stream counted in `in_flight`.
    active: bool,
    /// The body of the response whose head `send` returned.
    body: Option<Incoming>,
}

impl Clone for H2Conn {
    fn clone(&self) -> Self {
        H2Conn {
            sender: self.sender.clone(),
            in_flight: self.in_flight.clone(),
            active: false,
            body: None,
        }
    }
}

impl H2Conn {
    /// Sends the connection preface over `stream` and starts the connection's task.
    pub async fn handshake(stream: Stream) -> Result<H2Conn, Fail> {
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(stream))
            .await
            .map_err(Fail::http)?;
        // Its error, if any, also fails the requests in flight, which report it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(H2Conn {
            sender,
            in_flight: Arc::new(AtomicUsize::new(0)),
            active: false,
            body: None,
        })
    }

    /// Whether new requests can be sent (the connection is not closed or going away).
    pub fn usable(&self) -> bool {
        !self.sender.is_closed()
    }

    /// Streams in flight on the connection, over every handle.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Sends `request` (with an absolute URI) and waits for the response head. Its `len` is the
    /// size of the head in HTTP/1.1 form (HPACK-compressed heads are not measured).
    pub async fn send(&mut self, request: Request<RequestBody>) -> hyper::Result<Head> {
        if !self.active {
            self.active = true;
            self.in_flight.fetch_add(1, Ordering::Relaxed);
        }
        self.body = None;
        self.sender.ready().await?;
        let (head, body) = self.sender.send_request(request).await?.into_parts();
        self.body = Some(body);
        Ok(Head {
            status: head.status.as_u16(),
            len: response_head_len(&head),
            headers: head.headers,
            // hyper has parsed every header already: a script reads them from `headers`.
            raw: Vec::new(),
        })
    }

    /// Reads the body of the response whose head `send` returned into `sink`.
    pub async fn read_body(&mut self, sink: &mut BodySink<'_>) -> hyper::Result<()> {
        let result = match &mut self.body {
            Some(body) => poll_fn(|cx| body::poll_read(body, sink, cx)).await,
            None => Ok(()),
        };
        self.body = None;
        self.finish();
        result
    }

    /// The stream of this handle is over (read, failed or abandoned).
    pub fn finish(&mut self) {
        self.body = None;
        if self.active {
            self.active = false;
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for H2Conn {
    fn drop(&mut self) {
        self.finish();
    }
}
