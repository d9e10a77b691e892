//! One HTTP/1.1 connection of a virtual user: DNS, TCP, optional TLS, and hyper's client
//! connection.
//!
//! The hyper connection future is driven *inside the virtual user's task* (polled alongside the
//! response and body futures) instead of being spawned: a request then costs no cross-task wake-ups,
//! and dropping the user drops the socket at once.

use super::error::Fail;
use crate::prepare::Origin;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use stampede_metrics::ErrorKind;
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub(crate) type RequestBody = Full<Bytes>;
type Driver = Connection<TokioIo<Stream>, RequestBody>;

/// A live connection.
pub(crate) struct Conn {
    sender: SendRequest<RequestBody>,
    /// `None` once hyper finished with the connection (closed by either side, or failed).
    driver: Option<Driver>,
    /// The error the driver ended with, if any: more precise than what the body reports.
    driver_error: Option<hyper::Error>,
    /// A request was handed over and its response is not completely read.
    busy: bool,
    /// At least one response was completely read on it.
    reused: bool,
}

impl Conn {
    /// Resolves, connects and (for `https`) performs the TLS handshake. No timeout of its own.
    pub async fn open(origin: &Origin, tls: &TlsConnector) -> Result<Conn, Fail> {
        let tcp = connect_tcp(origin).await?;
        let _ = tcp.set_nodelay(true);
        let stream = if origin.is_https() {
            let name = ServerName::try_from(origin.host.to_string())
                .map_err(|_| Fail::text(ErrorKind::Tls, "tls: invalid server name"))?;
            let tls = tls.connect(name, tcp).await.map_err(Fail::tls)?;
            Stream::Tls(Box::new(tls))
        } else {
            Stream::Plain(tcp)
        };
        let (sender, driver) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(Fail::http)?;
        Ok(Conn {
            sender,
            driver: Some(driver),
            driver_error: None,
            busy: false,
            reused: false,
        })
    }

    /// True when a response was fully read on this connection before.
    pub fn reused(&self) -> bool {
        self.reused
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
        let Conn {
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

    /// Reads `body` to its end without keeping it; returns the number of body bytes.
    pub async fn read_body(&mut self, body: &mut Incoming) -> hyper::Result<u64> {
        let mut received = 0u64;
        let (driver, driver_error) = (&mut self.driver, &mut self.driver_error);
        poll_fn(|cx| {
            loop {
                poll_driver(driver, driver_error, cx);
                match Pin::new(&mut *body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Some(data) = frame.data_ref() {
                            received += data.len() as u64;
                        }
                    }
                    // The body only sees a generic "connection error"; the driver has the cause.
                    Poll::Ready(Some(Err(e))) => {
                        return Poll::Ready(Err(driver_error.take().unwrap_or(e)));
                    }
                    Poll::Ready(None) => return Poll::Ready(Ok(())),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await?;
        self.busy = false;
        self.reused = true;
        Ok(received)
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

async fn connect_tcp(origin: &Origin) -> Result<TcpStream, Fail> {
    let addrs: Vec<SocketAddr> = match origin.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, origin.port)],
        Err(_) => tokio::net::lookup_host((&*origin.host, origin.port))
            .await
            .map_err(Fail::dns)?
            .collect(),
    };
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => Fail::connect(e),
        None => Fail::text(ErrorKind::Dns, "dns: no addresses"),
    })
}

/// A plain or TLS byte stream.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
