//! Opening a connection (DNS, TCP, optional TLS with ALPN, the HTTP handshake), timing each phase,
//! and the connection itself: HTTP/1.1 or HTTP/2, whichever was agreed.

use super::body::BodySink;
use super::error::{Fail, HttpError};
use super::h1::{H1Conn, Head, Keep, WriteBuf, encode_request};
use super::h2::H2Conn;
use super::request::Hop;
use super::stream::{self, Stream};
use crate::prepare::Origin;
use http::{HeaderMap, Method};
use rustls::pki_types::ServerName;
use stampede_metrics::ErrorKind;
use stampede_scenario::HttpVersion;
use std::time::Instant;
use tokio_rustls::TlsConnector;

/// A request body up to this size is written with its head, in one system call.
const BODY_WITH_HEAD: usize = 16 * 1024;

/// The HTTP/1.1 request of a static step, encoded once when the plan is prepared by what
/// [`Conn::send`] would do for the step's own request when the user has no cookie to add; `None`
/// when the body is too large to go with the head. A plain `GET` is then written straight from
/// it, with no encoding and no buffer taken per request.
pub(crate) fn encoded_request(
    method: &Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    body: &bytes::Bytes,
    origin: &Origin,
) -> Option<Box<[u8]>> {
    let hop = Hop {
        slot: 0,
        method: method.clone(),
        uri: std::borrow::Cow::Borrowed(uri),
        body: body.clone(),
        cookie: None,
        body_dropped: false,
        cross_origin: false,
        redirected: false,
    };
    let mut out = Vec::new();
    let rest = encode_h1(&hop, headers, origin, &mut out);
    rest.is_empty().then(|| out.into_boxed_slice())
}

/// Appends `hop`'s HTTP/1.1 request to `out`: its head, and its body too when that is at most
/// [`BODY_WITH_HEAD`] bytes (one system call for both). Returns the body still to be written.
fn encode_h1<'h>(
    hop: &'h Hop<'_>,
    headers: &HeaderMap,
    origin: &Origin,
    out: &mut Vec<u8>,
) -> &'h [u8] {
    encode_request(&hop.h1_head(headers, origin), out);
    if hop.body.len() <= BODY_WITH_HEAD {
        out.extend_from_slice(&hop.body);
        return &[];
    }
    &hop.body
}

/// A live connection.
pub(crate) enum Conn {
    H1(H1Conn),
    H2(H2Conn),
}

/// A connection just opened, with how long its phases took.
pub(crate) struct Opened {
    pub conn: Conn,
    /// Name resolution + TCP connect.
    pub connect_us: u64,
    /// TLS handshake (`None` over plain TCP).
    pub tls_us: Option<u64>,
}

/// Opens connections the way the plan's `http_version` asks.
pub(crate) struct Connector {
    pub tls: TlsConnector,
    pub version: HttpVersion,
}

impl Connector {
    /// Resolves, connects, performs the TLS handshake for `https` (ALPN decides the protocol
    /// there) and the HTTP handshake. No timeout of its own.
    pub async fn open(&self, origin: &Origin) -> Result<Opened, Fail> {
        let start = Instant::now();
        let tcp = stream::connect_tcp(origin).await?;
        let _ = tcp.set_nodelay(true);
        let connected = Instant::now();
        let connect_us = micros(connected - start);
        let (stream, tls_us, h2) = if origin.is_https() {
            let name = ServerName::try_from(origin.host.to_string())
                .map_err(|_| Fail::text(ErrorKind::Tls, "tls: invalid server name"))?;
            let no_h2 = || {
                Fail::text(
                    ErrorKind::Tls,
                    "tls: the server does not offer HTTP/2 (ALPN h2)",
                )
            };
            let tls = match self.tls.connect(name, tcp).await {
                Ok(tls) => tls,
                // A server that knows ALPN but none of the offered protocols refuses the handshake.
                Err(e) if self.version == HttpVersion::Http2 && is_no_protocol_alert(&e) => {
                    return Err(no_h2());
                }
                Err(e) => return Err(Fail::tls(e)),
            };
            let tls_us = micros(connected.elapsed());
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            // A server that ignores ALPN speaks HTTP/1.1.
            if self.version == HttpVersion::Http2 && !h2 {
                return Err(no_h2());
            }
            (Stream::Tls(Box::new(tls)), Some(tls_us), h2)
        } else {
            // Cleartext HTTP/2 only with prior knowledge: no `Upgrade: h2c` dance.
            (Stream::Plain(tcp), None, self.version == HttpVersion::Http2)
        };
        let conn = if h2 {
            Conn::H2(H2Conn::handshake(stream).await?)
        } else {
            Conn::H1(H1Conn::new(stream))
        };
        Ok(Opened {
            conn,
            connect_us,
            tls_us,
        })
    }
}

impl Conn {
    pub fn is_h2(&self) -> bool {
        matches!(self, Conn::H2(_))
    }

    /// True while an HTTP/1.1 request is in flight (its response not fully read). An HTTP/2
    /// connection is never busy: it multiplexes.
    pub fn busy(&self) -> bool {
        match self {
            Conn::H1(c) => c.busy(),
            Conn::H2(_) => false,
        }
    }

    /// Whether the connection can take a request now.
    pub fn usable(&mut self) -> bool {
        match self {
            Conn::H1(c) => c.usable(),
            Conn::H2(c) => c.usable(),
        }
    }

    /// Sends the request of `hop` and waits for the response head. Returns the request's size
    /// as counted in `bytes_out` whatever happens. `keep` says what of the response head is kept
    /// (HTTP/2 responses always have every header). `encoded` is the hop's HTTP/1.1 request
    /// encoded in advance ([`encoded_request`]), when it is a static step's own.
    pub async fn send(
        &mut self,
        hop: &Hop<'_>,
        headers: &HeaderMap,
        origin: &Origin,
        keep: Keep,
        encoded: Option<&[u8]>,
    ) -> (u64, Result<Head, HttpError>) {
        match self {
            Conn::H1(c) => {
                let (size, written) = match encoded {
                    Some(request) => (request.len() as u64, c.write_request(request, &[]).await),
                    None => {
                        let mut out = WriteBuf::take();
                        let body = encode_h1(hop, headers, origin, out.vec());
                        let size = (out.bytes().len() + body.len()) as u64;
                        // The request buffer is not kept while the response is awaited.
                        (size, c.write_request(out.bytes(), body).await)
                    }
                };
                if let Err(e) = written {
                    return (size, Err(e.into()));
                }
                let head_request = hop.method == Method::HEAD;
                let result = c.read_head(keep, head_request).await;
                (size, result.map_err(HttpError::from))
            }
            Conn::H2(c) => {
                let (request, size) = hop.h2_request(headers, origin);
                (size, c.send(request).await.map_err(HttpError::from))
            }
        }
    }

    /// Reads the body of the response whose head `send` returned, to its end, into `sink`.
    /// Returns whether the body ended after its head arrived (always, over HTTP/2), not in the
    /// same read.
    pub async fn read_body(&mut self, sink: &mut BodySink<'_>) -> Result<bool, HttpError> {
        match self {
            Conn::H1(c) => c.read_body(sink).await.map_err(HttpError::from),
            Conn::H2(c) => (c.read_body(sink).await)
                .map(|()| true)
                .map_err(HttpError::from),
        }
    }

    /// The request in flight was given up (timeout): an HTTP/2 stream is reset by hyper and the
    /// connection stays usable; an HTTP/1.1 connection is not (the caller drops it).
    pub fn abandon(&mut self) {
        if let Conn::H2(c) = self {
            c.finish();
        }
    }
}

/// The server answered the handshake with a `no_application_protocol` alert.
fn is_no_protocol_alert(e: &std::io::Error) -> bool {
    let alert = rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol);
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|inner| *inner == alert)
}

pub(crate) fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
