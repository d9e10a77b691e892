//! Transport errors that need a special local server: TLS handshake failure, connect timeout.

use crate::support::{get, ms, plan, run};
use stampede_metrics::ErrorKind;
use stampede_scenario::ThinkTime;
use stampede_testkit::TestTarget;
use tokio::net::{TcpSocket, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plain_http_server_is_a_tls_error() {
    let target = TestTarget::start().await;
    let url = format!("https://{}/secure", target.addr());
    let builder = plan(target.addr()).users(1, ms(600)).scenario(
        "tls",
        1,
        ThinkTime::Constant(ms(200)),
        vec![get("secure", &url)],
    );
    let row = builder.row("tls", "secure");
    let out = run(builder.build()).await;
    let stats = out.row(row);
    assert!(stats.requests >= 2);
    assert_eq!(
        stats.errors[ErrorKind::Tls.index()],
        stats.requests,
        "{:?}",
        stats.error_samples
    );
    assert_eq!(target.count("/secure"), 0, "no HTTP request got through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_that_never_completes_is_a_connect_timeout() {
    // A listener that never accepts, with its accept queue filled: further SYNs are dropped, so
    // connecting hangs (all on 127.0.0.1).
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(ms(100), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => queued.push(stream),
            _ => break,
        }
    }
    let builder = plan(addr)
        .users(1, ms(700))
        .http(|h| h.connect_timeout = ms(150))
        .scenario(
            "hang",
            1,
            ThinkTime::Constant(ms(100)),
            vec![get("hang", "/")],
        );
    let row = builder.row("hang", "hang");
    let out = run(builder.build()).await;
    let stats = out.row(row);
    assert!(stats.requests >= 2);
    assert_eq!(
        stats.errors[ErrorKind::ConnectTimeout.index()],
        stats.requests,
        "{:?}",
        stats.error_samples
    );
    drop((queued, listener));
}
