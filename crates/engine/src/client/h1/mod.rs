//! One HTTP/1.1 connection, spoken by the engine itself over a plain or TLS stream.
//!
//! A virtual user is sequential, so its connection needs no task, channel or lock of its own:
//! the request is written and its response read in the user's task, with the parsing in
//! `head` and the body framing in `framing`. An idle connection is the socket and a few
//! words of state: buffers exist only while a request is written or a response read
//! (`buffer`). This is what makes a user that thinks between requests cheap (hyper keeps 16 KiB
//! of buffers, and a connection task, per connection for its whole life), and it removes
//! hyper's per-request machinery from the hot path.
//!
//! Not supported, on purpose: pipelining (a user sends one request at a time), `Expect:
//! 100-continue` (interim responses are skipped), and protocol upgrades (a `101` is an error).

mod buffer;
mod framing;
mod head;

use super::body::BodySink;
use super::stream::Stream;
use buffer::ReadBuf;
pub(crate) use buffer::WriteBuf;
use framing::Decoder;
pub(crate) use head::{RequestHead, encode_request, header_value};
use http::HeaderMap;
use stampede_metrics::ErrorKind;
use std::io;
use std::pin::Pin;
use std::task::{Context, Waker};
use tokio::io::{AsyncRead, AsyncReadExt};

/// A response head longer than this is refused.
const MAX_HEAD: usize = 512 * 1024;

/// The head of a response, as the client needs it.
#[derive(Debug)]
pub(crate) struct Head {
    pub status: u16,
    /// The headers kept (all of them when asked, else `Set-Cookie` and `Location`).
    pub headers: HeaderMap,
    /// Bytes of the head as received, interim (1xx) heads included.
    pub len: u64,
    /// The final head's bytes as received, when asked for ([`Keep::Raw`]); else empty.
    pub raw: Vec<u8>,
}

/// Which parts of a response head the caller keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keep {
    /// `Set-Cookie` and `Location` only (the cookie jar and redirects need them).
    Cookies,
    /// Every header, in a `HeaderMap` (header checks and extraction).
    All,
    /// `Set-Cookie` and `Location`, plus the head's bytes, for a script that may look a header
    /// up (a copy of a few hundred bytes instead of a header map built for every response).
    Raw,
}

/// Why a request on an HTTP/1.1 connection failed.
#[derive(Debug)]
pub(crate) struct H1Error {
    pub kind: ErrorKind,
    pub what: &'static str,
    pub io: Option<io::Error>,
    /// Nothing of a response arrived before the connection failed: on a reused connection the
    /// server most likely closed it while idle, and the request can be sent again.
    pub stale: bool,
}

impl H1Error {
    fn bad(what: &'static str) -> H1Error {
        H1Error {
            kind: ErrorKind::BadResponse,
            what,
            io: None,
            stale: false,
        }
    }

    fn closed(what: &'static str, stale: bool) -> H1Error {
        H1Error {
            kind: ErrorKind::Reset,
            what,
            io: None,
            stale,
        }
    }

    fn io(what: &'static str, e: io::Error, stale: bool) -> H1Error {
        let stale = stale
            && matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            );
        H1Error {
            kind: super::error::io_kind(&e),
            what,
            io: Some(e),
            stale,
        }
    }
}

/// A live HTTP/1.1 connection.
pub(crate) struct H1Conn {
    stream: Stream,
    /// The response being read, while a request is in flight.
    reading: Option<Reading>,
    /// A request was written and its response is not completely read.
    busy: bool,
    /// The connection cannot carry another request.
    done: bool,
}

/// A response whose head was read and whose body is not (completely).
struct Reading {
    buffer: ReadBuf,
    body: Decoder,
    /// The connection closes after this response.
    close: bool,
}

impl H1Conn {
    pub fn new(stream: Stream) -> H1Conn {
        H1Conn {
            stream,
            reading: None,
            busy: false,
            done: false,
        }
    }

    /// True while a request is in flight (its response not fully read).
    pub fn busy(&self) -> bool {
        self.busy
    }

    /// Whether the connection can take a request: not busy, not closed after the last response,
    /// and not closed by the server since (checked without blocking and without a system call
    /// when nothing happened on the socket).
    pub fn usable(&mut self) -> bool {
        if self.busy || self.done {
            return false;
        }
        // An idle connection becomes readable only if the server closed it or sent something
        // unasked: either way it cannot carry a request.
        let mut probe = [0u8; 1];
        let idle = match &mut self.stream {
            Stream::Plain(tcp) => {
                matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Stream::Tls(tls) => {
                // Also processes what TLS sends by itself (a session ticket), which is fine.
                let mut cx = Context::from_waker(Waker::noop());
                let mut probe = tokio::io::ReadBuf::new(&mut probe);
                Pin::new(tls.as_mut())
                    .poll_read(&mut cx, &mut probe)
                    .is_pending()
            }
        };
        self.done = !idle;
        idle
    }

    /// Writes a request: `head` as encoded, then `body`. Then [`read_head`](Self::read_head).
    pub async fn write_request(&mut self, head: &[u8], body: &[u8]) -> Result<(), H1Error> {
        self.busy = true;
        self.reading = None;
        let write = async {
            self.stream.send_all(head).await?;
            if !body.is_empty() {
                self.stream.send_all(body).await?;
            }
            Ok(())
        };
        // Whatever failed while sending, no response was seen: on a reused connection it is
        // the server having closed it.
        let result = write
            .await
            .map_err(|e| H1Error::io("send the request", e, true));
        self.done |= result.is_err();
        result
    }

    /// Reads the response head of the request just written. `keep` says what of it is kept;
    /// `head_request` says the response has no body.
    pub async fn read_head(&mut self, keep: Keep, head_request: bool) -> Result<Head, H1Error> {
        let result = self.receive_head(keep, head_request).await;
        self.done |= result.is_err();
        result
    }

    async fn receive_head(&mut self, keep: Keep, head_request: bool) -> Result<Head, H1Error> {
        // No buffer is taken before the response starts to arrive: a target that stalls with
        // thousands of requests in flight costs their futures, not their buffers.
        self.stream
            .readable()
            .await
            .map_err(|e| H1Error::io("read the response", e, true))?;
        let mut buffer = ReadBuf::take();
        let mut len = 0;
        loop {
            let parsed = match buffer.filled() {
                [] => None,
                received => head::parse_response(received, keep == Keep::All, head_request)
                    .map_err(|e| H1Error::bad(e.0))?,
            };
            if let Some(parsed) = parsed {
                let raw = match (keep, parsed.status) {
                    (Keep::Raw, 200..) => buffer.filled()[..parsed.len].to_vec(),
                    _ => Vec::new(),
                };
                buffer.consume(parsed.len);
                len += parsed.len as u64;
                match parsed.status {
                    101 => {
                        return Err(H1Error::bad(
                            "the server switched protocols (101) without being asked",
                        ));
                    }
                    // An interim response (103 Early Hints, an unasked 100 Continue): the real
                    // one follows, in what is left or still to be read.
                    status if status < 200 => continue,
                    status => {
                        self.reading = Some(Reading {
                            buffer,
                            body: parsed.body,
                            close: parsed.close,
                        });
                        return Ok(Head {
                            status,
                            headers: parsed.headers,
                            len,
                            raw,
                        });
                    }
                }
            }
            let first = len == 0 && buffer.filled().is_empty();
            let room = buffer
                .room(MAX_HEAD)
                .ok_or(H1Error::bad("response head larger than 512 KiB: refused"))?;
            match self.stream.read_buf(room).await {
                Ok(0) if first => {
                    return Err(H1Error::closed(
                        "the connection closed before any response",
                        true,
                    ));
                }
                Ok(0) => {
                    return Err(H1Error::closed(
                        "the connection closed in the middle of the response head",
                        false,
                    ));
                }
                Ok(_) => {}
                Err(e) => return Err(H1Error::io("read the response", e, first)),
            }
        }
    }

    /// Reads the body of the response whose head [`read_head`](Self::read_head) returned, into
    /// `sink`. Returns whether that took a read from the socket (else the body came in the
    /// read that completed the head).
    pub async fn read_body(&mut self, sink: &mut BodySink<'_>) -> Result<bool, H1Error> {
        let mut waited = false;
        let result = self.read_body_inner(sink, &mut waited).await;
        match &result {
            Ok(close) => {
                self.done |= *close;
                self.busy = false;
            }
            Err(_) => self.done = true,
        }
        // The buffer goes back to the pool: an idle connection holds none.
        self.reading = None;
        result.map(|_| waited)
    }

    /// Returns whether the connection must close after this response; sets `waited` once it
    /// reads from the socket.
    async fn read_body_inner(
        &mut self,
        sink: &mut BodySink<'_>,
        waited: &mut bool,
    ) -> Result<bool, H1Error> {
        let Some(reading) = &mut self.reading else {
            return Err(H1Error::bad("no response to read a body from"));
        };
        let bad = |e: framing::BadFraming| H1Error::bad(e.0);
        loop {
            let available = reading.buffer.filled();
            let used = reading
                .body
                .decode(available, &mut |data| sink.take(data))
                .map_err(bad)?;
            let leftover = used < available.len();
            reading.buffer.consume(used);
            if reading.body.is_done() {
                // Bytes after the response (nothing was asked for them): the connection is
                // out of step and is not reused.
                return Ok(reading.close || leftover);
            }
            // Everything buffered was decoded: there is room.
            let room = reading
                .buffer
                .room(buffer::READ_SIZE)
                .ok_or(H1Error::bad("response body buffer full"))?;
            *waited = true;
            match self.stream.read_buf(room).await {
                Ok(0) => {
                    reading.body.end_of_input().map_err(|e| H1Error {
                        kind: ErrorKind::Reset,
                        ..bad(e)
                    })?;
                    return Ok(true);
                }
                Ok(_) => {}
                Err(e) => return Err(H1Error::io("read the response body", e, false)),
            }
        }
    }
}

#[cfg(test)]
mod tests;
