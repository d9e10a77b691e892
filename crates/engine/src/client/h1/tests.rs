//! The connection against real sockets on 127.0.0.1: what it holds between requests, how it
//! notices a server that closed it, and how failures are classified.

use super::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// A connection to a server that runs `serve` on the one connection it accepts.
async fn connect<F, Fut>(serve: F) -> (H1Conn, tokio::task::JoinHandle<()>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        serve(stream).await;
    });
    let stream = TcpStream::connect(addr).await.unwrap();
    (H1Conn::new(Stream::Plain(stream)), server)
}

/// Reads one request head (no body) from `stream`; false at end of stream.
async fn read_request(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 512];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&byte[..n]),
        }
    }
    true
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: t\r\n\r\n";

async fn exchange(conn: &mut H1Conn) -> Result<(u16, u64, u64), H1Error> {
    conn.write_request(GET, &[]).await?;
    let head = conn.read_head(Keep::Cookies, false).await?;
    let mut sink = BodySink::count();
    conn.read_body(&mut sink).await?;
    Ok((head.status, head.len, sink.received))
}

#[tokio::test]
async fn an_idle_connection_holds_no_buffer_and_notices_a_close() {
    let (mut conn, server) = connect(|mut s| async move {
        for _ in 0..2 {
            assert!(read_request(&mut s).await);
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
                .await
                .unwrap();
        }
        // Closes while the client is idle.
    })
    .await;
    for _ in 0..2 {
        assert!(conn.usable());
        let (status, head_len, body) = exchange(&mut conn).await.unwrap();
        assert_eq!((status, head_len, body), (200, 38, 5));
        assert!(conn.reading.is_none(), "a buffer is kept while idle");
        assert!(!conn.busy());
    }
    server.await.unwrap();
    // The FIN has arrived once the server task is done; the readiness event may lag a little.
    let mut usable = true;
    for _ in 0..100 {
        usable = conn.usable();
        if !usable {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!usable, "a connection closed by the server looks usable");
}

#[tokio::test]
async fn a_close_before_any_response_is_stale_but_not_after_part_of_it() {
    let (mut conn, _) = connect(|mut s| async move {
        read_request(&mut s).await;
    })
    .await;
    let error = exchange(&mut conn).await.unwrap_err();
    assert_eq!((error.kind, error.stale), (ErrorKind::Reset, true));
    assert!(!conn.usable());

    let (mut conn, _) = connect(|mut s| async move {
        read_request(&mut s).await;
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-le").await.unwrap();
    })
    .await;
    let error = exchange(&mut conn).await.unwrap_err();
    assert_eq!((error.kind, error.stale), (ErrorKind::Reset, false));
    assert!(
        error.what.contains("middle of the response head"),
        "{error:?}"
    );

    let (mut conn, _) = connect(|mut s| async move {
        read_request(&mut s).await;
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort")
            .await
            .unwrap();
    })
    .await;
    let error = exchange(&mut conn).await.unwrap_err();
    assert_eq!((error.kind, error.stale), (ErrorKind::Reset, false));
    assert!(error.what.contains("before the end of the response body"));
}

#[tokio::test]
async fn interim_responses_are_skipped_and_counted() {
    let (mut conn, _) = connect(|mut s| async move {
        read_request(&mut s).await;
        // The interim head alone, then the final one with its body in one write.
        s.write_all(b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n")
            .await
            .unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        s.write_all(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok",
        )
        .await
        .unwrap();
        read_request(&mut s).await;
    })
    .await;
    let (status, head_len, body) = exchange(&mut conn).await.unwrap();
    assert_eq!(status, 201);
    assert_eq!(head_len, (44 + 25 + 43) as u64);
    assert_eq!(body, 2);
    assert!(conn.usable());
}

#[tokio::test]
async fn oversized_heads_and_protocol_switches_are_bad_responses() {
    let (mut conn, _) = connect(|mut s| async move {
        read_request(&mut s).await;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
        // 100 fields (under the field limit) of 6 KB: 600 KB in all.
        let field = format!("x-big: {}\r\n", "a".repeat(6000));
        for _ in 0..100 {
            if s.write_all(field.as_bytes()).await.is_err() {
                break;
            }
        }
    })
    .await;
    let error = exchange(&mut conn).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::BadResponse);
    assert!(error.what.contains("larger than 512 KiB"), "{error:?}");

    let (mut conn, _) = connect(|mut s| async move {
        read_request(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
            .await;
        read_request(&mut s).await;
    })
    .await;
    let error = exchange(&mut conn).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::BadResponse);
    assert!(!conn.usable());
}

#[tokio::test]
async fn bytes_after_the_body_make_the_connection_unusable() {
    let (mut conn, _) = connect(|mut s| async move {
        read_request(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA")
            .await;
        read_request(&mut s).await;
    })
    .await;
    let (status, _, body) = exchange(&mut conn).await.unwrap();
    assert_eq!((status, body), (200, 2));
    assert!(!conn.usable());
}
