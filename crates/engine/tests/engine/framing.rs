//! HTTP/1.1 wire behaviour the client must keep: message framing (chunked with extensions and
//! trailers, close-delimited, `content-length`, bodiless responses), connection reuse decisions,
//! interim responses, and which error kind a malformed response is.
//!
//! Every test runs one user for a fixed number of iterations against a raw server on
//! 127.0.0.1:0 that answers with exact bytes, and checks what the engine reported and what the
//! server saw (connections opened, requests received byte for byte).
//!
//! `bytes_in` of a response is its head as received (`HTTP/1.1 NNN reason\r\n` +
//! `name: value\r\n` per header + `\r\n`) plus the *decoded* body: chunk-size lines, chunk
//! extensions and trailers are not counted. `bytes_out` is the exact size of each request as
//! written, which the servers here check against what they received.

use crate::support::{RunOutput, StepSpec, get, ms, plan, run};
use stampede_metrics::{ErrorKind, StepStats};
use stampede_scenario::{Action, Expr, Method, Part, Scenario, Template, ThinkTime};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a [`Server`] answers.
#[derive(Clone, Default)]
struct Reply {
    /// Responses given in turn to the requests, in the order they arrive (cycled).
    responses: Vec<Vec<u8>>,
    /// Close the connection after each response (the end of a close-delimited body, or a
    /// truncated one). Otherwise the server keeps reading requests until the client closes.
    close: bool,
    /// Write each response this many bytes at a time, flushing each piece and pausing 1 ms every
    /// 4 pieces; 0 writes it at once.
    piece: usize,
}

impl Reply {
    /// Always `response`, on a connection kept open.
    fn always(response: impl Into<Vec<u8>>) -> Reply {
        Reply {
            responses: vec![response.into()],
            ..Reply::default()
        }
    }
}

/// A raw HTTP/1.1 server: reads request heads (up to `\r\n\r\n`) and, when they have a
/// `content-length`, their bodies, and answers each with the next canned response.
struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
    /// Every request received (head and body), in order.
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(reply: Reply) -> Server {
        assert!(!reply.responses.is_empty(), "a response to give");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (c, r) = (connections.clone(), requests.clone());
        let reply = Arc::new(reply);
        let next = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, reply.clone(), next.clone(), r.clone()));
            }
        });
        Server {
            addr,
            connections,
            requests,
            task,
        }
    }

    fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().unwrap().clone()
    }

    /// Bytes of every request received.
    fn received(&self) -> u64 {
        self.requests().iter().map(|r| r.len() as u64).sum()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    reply: Arc<Reply>,
    next: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
) {
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        requests.lock().unwrap().push(request);
        let i = next.fetch_add(1, Ordering::SeqCst) % reply.responses.len();
        if write(&mut stream, &reply.responses[i], reply.piece)
            .await
            .is_err()
            || reply.close
        {
            return;
        }
    }
}

/// Reads one request (head, then `content-length` bytes of body) from `buffer` and `stream`;
/// `None` at EOF. Bytes read past the request stay in `buffer`.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let len = end + 4 + content_length(&buffer[..end]);
            if buffer.len() >= len {
                return Some(buffer.drain(..len).collect());
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

fn content_length(head: &[u8]) -> usize {
    header(head, "content-length").map_or(0, |v| v.parse().expect("a numeric content-length"))
}

/// The value of the first header `name` in a request's head, if any.
fn header(request: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(request);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n").find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

async fn write(stream: &mut TcpStream, bytes: &[u8], piece: usize) -> std::io::Result<()> {
    if piece == 0 {
        return stream.write_all(bytes).await;
    }
    for (i, part) in bytes.chunks(piece).enumerate() {
        stream.write_all(part).await?;
        stream.flush().await?;
        if i % 4 == 3 {
            tokio::time::sleep(ms(1)).await;
        }
    }
    Ok(())
}

/// One user runs `steps` (scenario `f`, rows 0, 1... in step order) `iterations` times against
/// `server`, with no think time. Bounded: a 2 s profile, 1 s request timeout, 0.5 s grace.
/// Checks that `bytes_out` is exactly what the server received (no request sent twice).
async fn run_steps(server: &Server, iterations: u64, steps: Vec<StepSpec>) -> RunOutput {
    run_edited(server, iterations, steps, |_| {}).await
}

/// [`run_steps`], with the scenario edited before the run.
async fn run_edited(
    server: &Server,
    iterations: u64,
    steps: Vec<StepSpec>,
    edit: impl FnOnce(&mut Scenario),
) -> RunOutput {
    let builder = plan(server.addr)
        .users(1, ms(2000))
        .load(|l| {
            l.limits.iterations_per_user = Some(iterations);
            l.graceful_stop = ms(500);
        })
        .http(|h| h.request_timeout = ms(1000))
        .scenario("f", 1, ThinkTime::None, steps)
        .edit_scenario(edit);
    let out = run(builder.build()).await;
    let bytes_out: u64 = out.rows.values().map(|s| s.bytes_out).sum();
    assert_eq!(bytes_out, server.received(), "bytes_out is what was sent");
    out
}

/// `n` responses of `status`, and no error.
fn assert_responses(stats: &StepStats, status: u16, n: u64) {
    assert_eq!(stats.error_count(), 0, "{:?}", stats.error_samples);
    assert_eq!(stats.requests, n);
    assert_eq!(stats.status, vec![(status, n)]);
}

/// `n` errors of `kind`, and no response.
fn assert_errors(stats: &StepStats, kind: ErrorKind, n: u64) {
    assert_eq!(stats.requests, n);
    assert_eq!(stats.errors[kind.index()], n, "{:?}", stats.error_samples);
    assert_eq!(stats.error_count(), n, "{:?}", stats.error_samples);
    assert!(stats.status.is_empty(), "{:?}", stats.status);
}

const CHUNKED_HEAD: &str = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";

/// A chunked body with extensions (one quoted), an uppercase hex size with leading zeros, and a
/// trailer section of two fields; it decodes to `CHUNKED_DECODED`.
const CHUNKED_BODY: &str = "5;name=value\r\nhello\r\n7\r\n, world\r\n\
    1;a=b;c=\"d e\"\r\n!\r\n000A\r\n0123456789\r\n\
    0;last\r\nx-trailer: done\r\nx-other: 1\r\n\r\n";
const CHUNKED_DECODED: u64 = 5 + 7 + 1 + 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_with_extensions_and_trailers_counts_its_decoded_bytes() {
    // The same head; the second body has one more chunk of 100 bytes.
    let longer = format!("64;pad\r\n{}\r\n{CHUNKED_BODY}", "x".repeat(100));
    let mut per_request = Vec::new();
    for body in [CHUNKED_BODY, &longer] {
        let server = Server::start(Reply::always(format!("{CHUNKED_HEAD}{body}"))).await;
        let out = run_steps(&server, 5, vec![get("c", "/chunked")]).await;
        let stats = out.row(0);
        assert_responses(stats, 200, 5);
        // Keep-alive is kept: the whole body, trailers included, was consumed.
        assert_eq!(server.connections(), 1);
        assert_eq!(server.requests().len(), 5);
        per_request.push(stats.bytes_in / 5);
    }
    // Only decoded body bytes count: 100 more, not the 100 + "64;pad\r\n" + "\r\n" on the wire.
    assert_eq!(per_request[1] - per_request[0], 100);
    assert_eq!(per_request[0], CHUNKED_HEAD.len() as u64 + CHUNKED_DECODED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_response_in_tiny_delayed_writes_is_read_whole() {
    // Head and body 3 bytes at a time: every boundary (status line, header, chunk size,
    // extension, CRLF, trailer) is split somewhere.
    let server = Server::start(Reply {
        piece: 3,
        ..Reply::always(format!("{CHUNKED_HEAD}{CHUNKED_BODY}"))
    })
    .await;
    let out = run_steps(&server, 4, vec![get("c", "/slow")]).await;
    let stats = out.row(0);
    assert_responses(stats, 200, 4);
    assert_eq!(
        stats.bytes_in,
        4 * (CHUNKED_HEAD.len() as u64 + CHUNKED_DECODED)
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_delimited_body_is_read_to_eof_and_takes_a_new_connection_each_time() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n";
    let body = "no length: the body ends when the server closes";
    let server = Server::start(Reply {
        close: true,
        ..Reply::always(format!("{head}{body}"))
    })
    .await;
    let out = run_steps(&server, 4, vec![get("c", "/eof")]).await;
    let stats = out.row(0);
    assert_responses(stats, 200, 4);
    assert_eq!(stats.bytes_in, 4 * (head.len() + body.len()) as u64);
    assert_eq!(server.connections(), 4);
    assert_eq!(server.requests().len(), 4);
}

/// A response the client must not reuse the connection after, from a server that would happily
/// go on reading requests on it: only the client's own decision gives a connection per request.
async fn not_reused_after(response: &str) {
    let server = Server::start(Reply::always(response)).await;
    let out = run_steps(&server, 4, vec![get("c", "/once")]).await;
    let stats = out.row(0);
    assert_responses(stats, 200, 4);
    assert_eq!(stats.bytes_in, 4 * response.len() as u64);
    assert_eq!(server.connections(), 4, "{response:?}");
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_response_is_not_reused() {
    not_reused_after("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_1_0_response_without_keep_alive_is_not_reused() {
    not_reused_after("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_response_has_no_body_whatever_its_content_length() {
    let head = "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n";
    let server = Server::start(Reply::always(head)).await;
    let out = run_steps(&server, 4, vec![get("h", "/head").method(Method::Head)]).await;
    let stats = out.row(0);
    assert_responses(stats, 200, 4);
    assert_eq!(stats.bytes_in, 4 * head.len() as u64);
    assert_eq!(server.connections(), 1);
    for request in server.requests() {
        assert!(request.starts_with(b"HEAD /head HTTP/1.1\r\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_204_and_304_have_no_body_and_keep_the_connection() {
    let no_content = "HTTP/1.1 204 No Content\r\n\r\n";
    // A 304 may carry the length of the representation it stands for: never a body.
    let not_modified = "HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\ncontent-length: 50\r\n\r\n";
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nafter";
    let server = Server::start(Reply {
        responses: vec![no_content.into(), not_modified.into(), ok.into()],
        ..Reply::default()
    })
    .await;
    let steps = vec![get("a", "/a"), get("b", "/b"), get("c", "/c")];
    let out = run_steps(&server, 3, steps).await;
    for (row, status, response) in [(0, 204, no_content), (1, 304, not_modified), (2, 200, ok)] {
        let stats = out.row(row);
        assert_responses(stats, status, 3);
        assert_eq!(stats.bytes_in, 3 * response.len() as u64, "{status}");
    }
    assert_eq!(server.connections(), 1);
    assert_eq!(server.requests().len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_103_is_skipped_and_the_final_status_reported() {
    let response = "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\n\r\n\
        HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let server = Server::start(Reply::always(response)).await;
    let out = run_steps(&server, 3, vec![get("e", "/early")]).await;
    assert_responses(out.row(0), 200, 3);
    assert_eq!(server.connections(), 1);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_shorter_than_its_content_length_is_a_reset() {
    let server = Server::start(Reply {
        close: true,
        ..Reply::always("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello")
    })
    .await;
    let out = run_steps(&server, 3, vec![get("s", "/short")]).await;
    assert_errors(out.row(0), ErrorKind::Reset, 3);
    assert_eq!(server.connections(), 3);
}

/// `response` is answered to every request on a connection left open; each is a `BadResponse`
/// error, and the connection is not used again.
async fn bad_response(response: impl Into<Vec<u8>>) {
    let server = Server::start(Reply::always(response)).await;
    let out = run_steps(&server, 3, vec![get("b", "/bad")]).await;
    assert_errors(out.row(0), ErrorKind::BadResponse, 3);
    assert_eq!(server.connections(), 3);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_a_status_line_is_a_bad_response() {
    bad_response("NOT HTTP\r\n\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_content_length_is_a_bad_response() {
    bad_response("HTTP/1.1 200 OK\r\ncontent-length: abc\r\n\r\nok").await;
}

/// A head of `fields` header fields of `size` bytes each, then a 2-byte body.
fn big_head(fields: usize, size: usize) -> String {
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    for i in 0..fields {
        head.push_str(&format!("x-big-{i}: {}\r\n", "v".repeat(size)));
    }
    head + "content-length: 2\r\n\r\nok"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_response_head_is_read_and_a_huge_one_is_a_bad_response() {
    // Today's limit is hyper's read buffer (~400 KiB; heads of 420 KiB pass, 500 KiB fail): these
    // two sizes are far on either side of it. Few fields, so it is the size that matters (hyper
    // also refuses more than 100 fields).
    let large = big_head(30, 10 * 1024);
    let server = Server::start(Reply::always(large.as_str())).await;
    let out = run_steps(&server, 2, vec![get("l", "/large")]).await;
    assert_responses(out.row(0), 200, 2);
    assert_eq!(out.row(0).bytes_in, 2 * large.len() as u64);
    assert_eq!(server.connections(), 1);

    bad_response(big_head(64, 16 * 1024)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_set_on_a_chunked_response_is_sent_back() {
    let response = "HTTP/1.1 200 OK\r\nset-cookie: a=1; Path=/\r\n\
        transfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    let server = Server::start(Reply::always(response)).await;
    let out = run_steps(&server, 1, vec![get("set", "/set"), get("use", "/use")]).await;
    assert_responses(out.row(0), 200, 1);
    assert_responses(out.row(1), 200, 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(header(&requests[0], "cookie"), None);
    assert_eq!(header(&requests[1], "cookie").as_deref(), Some("a=1"));
    assert_eq!(server.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_body_arrives_whole_and_its_response_body_is_read() {
    let body = br#"{"name":"stampede","tags":["load","test"]}"#;
    let response = "HTTP/1.1 201 Created\r\ncontent-length: 7\r\n\r\ncreated";
    let server = Server::start(Reply::always(response)).await;
    let step = get("p", "/items")
        .method(Method::Post)
        .body("application/json", body);
    let out = run_steps(&server, 3, vec![step]).await;
    let stats = out.row(0);
    assert_responses(stats, 201, 3);
    assert_eq!(stats.bytes_in, 3 * response.len() as u64);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert!(request.starts_with(b"POST /items HTTP/1.1\r\n"));
        let length = header(request, "content-length");
        assert_eq!(length, Some(body.len().to_string()));
        let content_type = header(request, "content-type");
        assert_eq!(content_type.as_deref(), Some("application/json"));
        assert!(
            request.ends_with(body),
            "{}",
            String::from_utf8_lossy(request)
        );
    }
    assert_eq!(server.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_templated_step_sends_the_host_the_plan_sets() {
    let server = Server::start(Reply::always(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    ))
    .await;
    let steps = vec![get("own host", "/own/"), get("url host", "/plain/")];
    let out = run_edited(&server, 1, steps, |scenario| {
        for (i, action) in scenario.steps.iter_mut().enumerate() {
            let Action::Request(step) = action else {
                continue;
            };
            // `/own/{{ vu }}` and `/plain/{{ vu }}`: rendered per request.
            let path = step.url.source.clone();
            step.url = Template {
                source: format!("{path}{{{{ vu }}}}"),
                parts: vec![Part::Text(path), Part::Expr(Expr::Vu)],
            };
            if i == 0 {
                step.headers
                    .push(("Host".into(), Template::text("virtual.example")));
            }
        }
    })
    .await;
    assert_responses(out.row(0), 200, 1);
    assert_responses(out.row(1), 200, 1);
    let requests = server.requests();
    assert!(requests[0].starts_with(b"GET /own/1 HTTP/1.1\r\n"));
    assert_eq!(
        header(&requests[0], "host").as_deref(),
        Some("virtual.example")
    );
    let url_host = server.addr.to_string();
    assert_eq!(
        header(&requests[1], "host").as_deref(),
        Some(url_host.as_str())
    );
}
