//! Request failures as data: an [`ErrorKind`] plus a short message that is only formatted when the
//! recorder keeps it as the interval's sample (so an error storm does not allocate per error).

use super::h1::H1Error;
use stampede_metrics::ErrorKind;
use std::error::Error as _;
use std::fmt;
use std::io;

/// Why a step produced no response.
#[derive(Debug)]
pub(crate) struct Fail {
    pub kind: ErrorKind,
    pub message: FailMsg,
}

/// The message of a [`Fail`], formatted lazily.
#[derive(Debug)]
pub(crate) enum FailMsg {
    Text(&'static str),
    /// A message built for this failure (rare paths only: a rendered URL that does not parse).
    Owned(String),
    /// An I/O error during a phase (`connect`, `dns`, `tls`, or a step of an HTTP/1.1 exchange).
    Io(&'static str, io::Error),
    /// An error of hyper's HTTP/2 client.
    Http(hyper::Error),
}

/// A request that failed on a connection: on HTTP/1.1 (the engine's own client) or HTTP/2
/// (hyper's).
#[derive(Debug)]
pub(crate) enum HttpError {
    H1(H1Error),
    Hyper(hyper::Error),
}

impl From<H1Error> for HttpError {
    fn from(e: H1Error) -> Self {
        HttpError::H1(e)
    }
}

impl From<hyper::Error> for HttpError {
    fn from(e: hyper::Error) -> Self {
        HttpError::Hyper(e)
    }
}

impl fmt::Display for FailMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailMsg::Text(text) => f.write_str(text),
            FailMsg::Owned(text) => f.write_str(text),
            FailMsg::Io(phase, e) => write!(f, "{phase}: {e}"),
            FailMsg::Http(e) => match e.source() {
                Some(source) => write!(f, "{e}: {source}"),
                None => write!(f, "{e}"),
            },
        }
    }
}

impl Fail {
    pub fn text(kind: ErrorKind, text: &'static str) -> Fail {
        Fail {
            kind,
            message: FailMsg::Text(text),
        }
    }

    /// A TCP connect failure.
    pub fn connect(e: io::Error) -> Fail {
        let kind = match e.kind() {
            io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
            _ => io_kind(&e),
        };
        Fail {
            kind,
            message: FailMsg::Io("connect", e),
        }
    }

    pub fn dns(e: io::Error) -> Fail {
        Fail {
            kind: ErrorKind::Dns,
            message: FailMsg::Io("dns", e),
        }
    }

    /// A TLS handshake failure (whatever the cause, it is reported as `Tls`).
    pub fn tls(e: io::Error) -> Fail {
        Fail {
            kind: ErrorKind::Tls,
            message: FailMsg::Io("tls", e),
        }
    }

    /// A failure while sending a request or receiving its response.
    pub fn http(e: impl Into<HttpError>) -> Fail {
        match e.into() {
            HttpError::H1(e) => Fail {
                kind: e.kind,
                message: match e.io {
                    Some(io) => FailMsg::Io(e.what, io),
                    None => FailMsg::Text(e.what),
                },
            },
            HttpError::Hyper(e) => Fail {
                kind: http_kind(&e),
                message: FailMsg::Http(e),
            },
        }
    }
}

/// True when `e`, on a reused keep-alive connection, means the peer closed it before answering:
/// the request can be sent again on a fresh connection.
pub(crate) fn is_stale_connection(e: &HttpError) -> bool {
    match e {
        HttpError::H1(e) => e.stale,
        HttpError::Hyper(e) => is_stale_hyper(e),
    }
}

fn is_stale_hyper(e: &hyper::Error) -> bool {
    if e.is_canceled() || e.is_closed() || e.is_incomplete_message() {
        return true;
    }
    // HTTP/2: the server is going away, or refused the stream before processing it.
    if let Some(h2) = h2_source(e)
        && (h2.is_go_away() || h2.reason() == Some(h2::Reason::REFUSED_STREAM))
    {
        return true;
    }
    io_source(e).is_some_and(|io| {
        matches!(
            io.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
        )
    })
}

fn http_kind(e: &hyper::Error) -> ErrorKind {
    if e.is_parse() || e.is_parse_status() {
        ErrorKind::BadResponse
    } else if let Some(io) = io_source(e) {
        io_kind(io)
    } else if let Some(h2) = h2_source(e) {
        h2_kind(h2)
    } else if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        ErrorKind::Reset
    } else if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Io
    }
}

pub(crate) fn io_kind(e: &io::Error) -> ErrorKind {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => ErrorKind::ConnectRefused,
        K::ConnectionReset
        | K::ConnectionAborted
        | K::BrokenPipe
        | K::UnexpectedEof
        | K::NotConnected => ErrorKind::Reset,
        K::TimedOut => ErrorKind::Timeout,
        K::InvalidData if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
            ErrorKind::Tls
        }
        K::InvalidData => ErrorKind::BadResponse,
        _ => ErrorKind::Io,
    }
}

/// An HTTP/2 error from the peer: a stream reset or the connection going away is a reset (the
/// peer gave up on the request); a protocol violation is a bad response.
fn h2_kind(e: &h2::Error) -> ErrorKind {
    use h2::Reason;
    match e.reason() {
        Some(Reason::PROTOCOL_ERROR | Reason::COMPRESSION_ERROR | Reason::FRAME_SIZE_ERROR) => {
            ErrorKind::BadResponse
        }
        _ if e.is_reset() || e.is_go_away() => ErrorKind::Reset,
        _ => ErrorKind::Io,
    }
}

fn h2_source(e: &hyper::Error) -> Option<&h2::Error> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(h2) = s.downcast_ref::<h2::Error>() {
            return Some(h2);
        }
        source = s.source();
    }
    None
}

fn io_source(e: &hyper::Error) -> Option<&io::Error> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}
