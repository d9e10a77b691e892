//! The byte stream under a connection: TCP, optionally wrapped in TLS, and opening the TCP part.

use super::error::Fail;
use crate::prepare::Origin;
use stampede_metrics::ErrorKind;
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Resolves the origin's host (unless it is an IP address) and connects to the first address
/// that accepts. No timeout of its own.
pub(crate) async fn connect_tcp(origin: &Origin) -> Result<TcpStream, Fail> {
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

impl Stream {
    /// Waits until the socket under the stream has something to read (or is closed), without
    /// reading it.
    ///
    /// Through `poll_read_ready`, the socket's single reader slot (the one a read waits in
    /// anyway), not `TcpStream::readable`, whose future links a waiter into a list and unlinks
    /// it: one user's task is the only reader of its connection.
    pub async fn readable(&self) -> io::Result<()> {
        let tcp = match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
        };
        std::future::poll_fn(|cx| tcp.poll_read_ready(cx)).await
    }

    /// Writes all of `buf`, flushed. Over plain TCP the socket usually takes a request whole,
    /// at once: that is one `try_write`, without `write_all`'s future and its polls through
    /// the stream (~200 instructions per request under callgrind); the rest, if any, goes
    /// through `write_all`. Not counted against the task's cooperative budget: the request's
    /// wait for its response is.
    pub async fn send_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        if let Stream::Plain(tcp) = self {
            match tcp.try_write(buf) {
                Ok(n) if n == buf.len() => return Ok(()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        self.write_all(buf).await?;
        self.flush().await
    }
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
