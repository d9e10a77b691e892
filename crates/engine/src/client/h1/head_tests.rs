use super::*;

fn parse(input: &str) -> ResponseHead {
    parse_response(input.as_bytes(), false, false)
        .expect("valid")
        .expect("complete")
}

#[test]
fn encodes_the_request_line_host_headers_cookie_and_length() {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("ignored"));
    headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert(header::COOKIE, HeaderValue::from_static("own=1"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("999"));
    headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    let host = HeaderValue::from_static("example.test:8080");
    let jar = HeaderValue::from_static("session=abc");
    let mut head = RequestHead {
        method: &Method::POST,
        target: "/cart?x=1",
        host: &host,
        headers: &headers,
        drop_authorization: false,
        drop_content_type: false,
        cookie: Some(&jar),
        body_len: 12,
    };
    let mut out = Vec::new();
    encode_request(&head, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "POST /cart?x=1 HTTP/1.1\r\nhost: example.test:8080\r\naccept: */*\r\n\
         authorization: Bearer t\r\ncontent-type: text/plain\r\n\
         cookie: own=1; session=abc\r\ncontent-length: 12\r\n\r\n"
    );

    // A redirect to another origin as a body-less GET.
    head.method = &Method::GET;
    head.drop_authorization = true;
    head.drop_content_type = true;
    head.cookie = None;
    head.body_len = 0;
    let mut out = Vec::new();
    encode_request(&head, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "GET /cart?x=1 HTTP/1.1\r\nhost: example.test:8080\r\naccept: */*\r\ncookie: own=1\r\n\r\n"
    );
}

#[test]
fn an_empty_post_still_says_its_length() {
    let headers = HeaderMap::new();
    let host = HeaderValue::from_static("h");
    let head = RequestHead {
        method: &Method::POST,
        target: "/",
        host: &host,
        headers: &headers,
        drop_authorization: false,
        drop_content_type: false,
        cookie: None,
        body_len: 0,
    };
    let mut out = Vec::new();
    encode_request(&head, &mut out);
    assert!(out.ends_with(b"content-length: 0\r\n\r\n"));
    let mut digits = [0; 20];
    assert_eq!(decimal(u64::MAX, &mut digits), b"18446744073709551615");
}

#[test]
fn a_head_is_complete_only_with_its_empty_line() {
    let full = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
    for end in 0..full.len() - 5 {
        assert!(
            parse_response(&full.as_bytes()[..end], false, false)
                .unwrap()
                .is_none(),
            "{end}"
        );
    }
    let head = parse(full);
    assert_eq!((head.status, head.len), (200, full.len() - 5));
    assert_eq!(head.body, Decoder::Length(5));
    assert!(!head.close);
    // Framing headers are read but not kept for a step that does not read headers.
    assert!(head.headers.is_empty());
}

#[test]
fn only_cookies_and_locations_are_kept_unless_all_are_wanted() {
    let input = "HTTP/1.1 302 Found\r\nServer: x\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\
                 Location: /next\r\nContent-Length: 0\r\n\r\n";
    let head = parse(input);
    assert_eq!(head.headers.len(), 3);
    let cookies: Vec<_> = head.headers.get_all(header::SET_COOKIE).iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(head.headers[header::LOCATION], "/next");
    let all = parse_response(input.as_bytes(), true, false)
        .unwrap()
        .unwrap();
    assert_eq!(all.headers.len(), 5);
    assert_eq!(all.headers[header::SERVER], "x");
    assert!(all.body.is_done());
}

#[test]
fn the_fields_the_client_reads_are_known_in_any_case_and_only_them() {
    let cases: [(&str, Field); 16] = [
        ("content-length", Field::ContentLength),
        ("Content-Length", Field::ContentLength),
        ("CONTENT-LENGTH", Field::ContentLength),
        ("Transfer-Encoding", Field::TransferEncoding),
        ("connection", Field::Connection),
        ("Set-Cookie", Field::SetCookie),
        ("LOCATION", Field::Location),
        // Same length and first letter, another name.
        ("content-lengtx", Field::Other),
        ("content_length", Field::Other),
        ("connectiom", Field::Other),
        ("cache-cont", Field::Other),
        ("set~cookie", Field::Other),
        ("set-cookie2", Field::Other),
        ("locations", Field::Other),
        ("content-type", Field::Other),
        ("", Field::Other),
    ];
    for (name, field) in cases {
        assert_eq!(Field::of(name.as_bytes()), field, "{name:?}");
    }
    // Read through the parser too: a mixed-case length frames the body.
    let head = parse("HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 3\r\ncOnNeCtIoN: ClOsE\r\n\r\n");
    assert!(head.close);
    assert!(!head.body.is_done());
}

#[test]
fn framing_follows_rfc_9112() {
    let chunked = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
    assert_eq!(chunked.body, Decoder::chunked());
    assert!(!chunked.close);
    // Both: chunked wins, and the connection is not reused.
    let both = parse("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n");
    assert_eq!((both.body, both.close), (Decoder::chunked(), true));
    // A coding that is not chunked, or no framing at all: read until the server closes.
    let gzip = parse("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n");
    assert_eq!((gzip.body, gzip.close), (Decoder::UntilClose, true));
    let bare = parse("HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!((bare.body, bare.close), (Decoder::UntilClose, true));
    // No body: 1xx, 204, 304, and any answer to HEAD.
    for status in ["103 Early Hints", "204 No Content", "304 Not Modified"] {
        let head = parse(&format!("HTTP/1.1 {status}\r\ncontent-length: 10\r\n\r\n"));
        assert!(head.body.is_done(), "{status}");
    }
    let to_head = parse_response(
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n",
        false,
        true,
    )
    .unwrap()
    .unwrap();
    assert!(to_head.body.is_done() && !to_head.close);
    // Identical repeated lengths are one length.
    let repeated = parse("HTTP/1.1 200 OK\r\ncontent-length: 4, 4\r\ncontent-length: 4\r\n\r\n");
    assert_eq!(repeated.body, Decoder::Length(4));
}

#[test]
fn connection_reuse_follows_the_version_and_connection_header() {
    assert!(
        parse("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\ncontent-length: 0\r\n\r\n")
            .close
    );
    assert!(parse("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").close);
    assert!(!parse("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n").close);
}

#[test]
fn invalid_heads_say_what_is_wrong() {
    let cases = [
        ("NOT HTTP\r\n\r\n", "not an HTTP/1.x status line"),
        ("HTTP/1.1 2x0 OK\r\n\r\n", "bad status code"),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: abc\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            "conflicting Content-Length headers",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\n",
            "conflicting Content-Length values",
        ),
        ("HTTP/1.1 200 OK\r\nbad header\r\n\r\n", "bad header name"),
    ];
    for (input, message) in cases {
        let error = parse_response(input.as_bytes(), false, false).unwrap_err();
        assert!(error.0.contains(message), "{input:?}: {error:?}");
    }
    let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: v\r\n")).collect();
    let error = parse_response(
        format!("HTTP/1.1 200 OK\r\n{many}\r\n").as_bytes(),
        false,
        false,
    )
    .unwrap_err();
    assert!(error.0.contains("more than 128"), "{error:?}");
}

#[test]
fn header_value_finds_the_first_value_in_any_case() {
    let head = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Id:  42 \r\nx-id: 43\r\n\
                 Empty:\r\n\r\n";
    assert_eq!(header_value(head, "x-id"), Some(&b"42"[..]));
    assert_eq!(header_value(head, "SERVER"), Some(&b"nginx"[..]));
    assert_eq!(header_value(head, "empty"), Some(&b""[..]));
    assert_eq!(header_value(head, "missing"), None);
    assert_eq!(
        header_value(head, "HTTP/1.1 200 OK"),
        None,
        "not the status line"
    );
    let lf = b"HTTP/1.1 204 No Content\nA: 1\n\nA: body";
    assert_eq!(header_value(lf, "a"), Some(&b"1"[..]));
}
