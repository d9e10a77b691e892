//! Keep-alive connections the server closes: reconnecting is transparent, never an error.
//!
//! These use a minimal raw HTTP/1.1 server (real sockets on 127.0.0.1:0) that misbehaves the way
//! real servers do with idle keep-alive connections.

use crate::support::{get, ms, plan, run};
use stampede_scenario::ThinkTime;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy)]
enum Close {
    /// Answer one request (advertising keep-alive), then close the connection.
    AfterFirstResponse,
    /// Answer one request; on the next one, close without answering (the race a client hits when
    /// the server's idle timeout fires as it sends).
    OnSecondRequest,
}

struct RawServer {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
    heads: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RawServer {
    async fn start(close: Close) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicU64::new(0));
        let heads = Arc::new(AtomicU64::new(0));
        let (c, h) = (connections.clone(), heads.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, close, h.clone()));
            }
        });
        RawServer {
            addr,
            connections,
            heads,
            task,
        }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, close: Close, heads: Arc<AtomicU64>) {
    if !read_head(&mut stream).await {
        return;
    }
    heads.fetch_add(1, Ordering::SeqCst);
    let response = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    if stream.write_all(response).await.is_err() {
        return;
    }
    match close {
        Close::AfterFirstResponse => {}
        Close::OnSecondRequest => {
            if read_head(&mut stream).await {
                heads.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    // Dropping the stream closes the connection.
}

/// Reads one request head (no body expected). False on EOF.
async fn read_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&byte[..n]),
        }
    }
    true
}

async fn run_against(close: Close) -> (u64, u64, u64, u64) {
    let server = RawServer::start(close).await;
    let builder = plan(server.addr).users(1, ms(1000)).scenario(
        "ka",
        1,
        ThinkTime::Constant(ms(50)),
        vec![get("ping", "/ping")],
    );
    let row = builder.row("ka", "ping");
    let out = run(builder.build()).await;
    let stats = out.row(row);
    assert_eq!(stats.error_count(), 0, "{:?}", stats.error_samples);
    assert_eq!(stats.status, vec![(200, stats.requests)]);
    (
        stats.requests,
        server.connections.load(Ordering::SeqCst),
        server.heads.load(Ordering::SeqCst),
        stats.bytes_out,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closing_idle_connections_is_not_an_error() {
    let (requests, connections, heads, _) = run_against(Close::AfterFirstResponse).await;
    assert!(requests >= 10, "{requests} requests");
    // Every request needed a new connection; at most one more was opened for a request that was
    // in flight at the end.
    assert!(connections >= requests && connections <= requests + 1);
    assert!(heads >= requests && heads <= requests + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_on_a_connection_closed_under_it_is_retried_once() {
    let (requests, connections, heads, _) = run_against(Close::OnSecondRequest).await;
    assert!(requests >= 10, "{requests} requests");
    // Each request after the first was sent twice: on the reused connection the server dropped,
    // then on a fresh one.
    assert!(connections >= requests && connections <= requests + 1);
    assert!(
        heads >= 2 * requests - 1 && heads <= 2 * requests + 1,
        "{heads} heads"
    );
}
