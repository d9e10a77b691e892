//! Readable connection errors: tonic reports a failed connection as `transport error`, with the
//! cause (refused connection, TLS alert, bad certificate) buried in the error's source chain.
//! [`explain`] spells the whole chain out and, when the cause is a TLS set-up mistake, says what
//! to change. Used by the agent and by `stampede run --controller`.

use std::error::Error;

/// Every message of an error's source chain, joined by `: ` (messages repeated by a wrapper are
/// shown once).
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        // A `Status` prints its code, message and source; its message is what matters.
        let message = match e.downcast_ref::<tonic::Status>() {
            Some(status) => status.message().to_owned(),
            None => e.to_string(),
        };
        if !parts.iter().any(|p| p.contains(&message)) {
            parts.push(message);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// What to do about a TLS set-up mistake seen in `chain` (from [`chain`]) while dialling `url`,
/// or `None` when the failure is not one.
pub fn tls_hint(url: &str, chain: &str) -> Option<String> {
    let https = url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    let has = |needle: &str| chain.contains(needle);
    let hint = if has("InvalidContentType") || has("corrupt message") {
        "the controller does not speak TLS on this port: use an http:// URL, or start the \
         controller with --tls-cert and --tls-key"
            .to_owned()
    } else if has("UnknownIssuer") || has("BadSignature") {
        "the controller's certificate is not signed by a CA this side trusts: give the CA \
         certificate that signed it with --ca-file"
            .to_owned()
    } else if has("not valid for name") || has("NotValidForName") {
        "the controller's certificate does not cover the host name in the URL: use a name (or \
         IP address) listed in the certificate's subjectAltName, or reissue the certificate"
            .to_owned()
    } else if has("certificate expired") || has("not valid yet") {
        "the controller's certificate is outside its validity period: renew it (or check this \
         machine's clock)"
            .to_owned()
    } else if has("CertificateRequired") || (has("HandshakeFailure") && https) {
        "the controller requires a client certificate (it was started with --client-ca): give \
         one signed by that CA with --tls-cert and --tls-key"
            .to_owned()
    } else if has("UnknownCA") || has("BadCertificate") || has("CertificateUnknown") {
        "the controller did not accept this client certificate: it must be signed by the CA \
         given to the controller's --client-ca"
            .to_owned()
    } else if !https && has("frame with invalid size") {
        // A TLS record read as an HTTP/2 frame header.
        format!(
            "the controller speaks TLS on this port: dial it with an https:// URL: {}",
            url.replacen("http://", "https://", 1)
        )
    } else {
        return None;
    };
    Some(hint)
}

/// A possible cause of a connection the controller closed during set-up, which is not clearly
/// a TLS mistake: a TLS port closes on a plain-text client, and a controller that rejects a client
/// certificate closes the connection (the alert saying so is often lost to the reset) — but a
/// restarting controller looks the same, so these are hints, not verdicts.
pub fn possible_tls_cause(url: &str, chain: &str) -> Option<String> {
    let https = url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    // "connection was not ready": hyper's HTTP/2 client saw its connection end before it could
    // send the request (a controller closing on a rejected client certificate, when the alert
    // is lost: seen in `stampede run --controller` against `--client-ca`).
    let closed = [
        "connection closed",
        "connection reset",
        "broken pipe",
        "unexpected end of file",
        "connection was not ready",
    ]
    .iter()
    .any(|m| chain.contains(m));
    if !closed {
        return None;
    }
    Some(if https {
        "if the controller was started with --client-ca, it needs a client certificate signed \
         by that CA: give it with --tls-cert and --tls-key"
            .to_owned()
    } else {
        format!(
            "if the controller uses TLS (--tls-cert), dial it with an https:// URL: {}",
            url.replacen("http://", "https://", 1)
        )
    })
}

/// The error's full chain, followed by what to do when it is (or may be) a TLS set-up mistake.
pub fn explain(url: &str, error: &(dyn Error + 'static)) -> String {
    let text = chain(error);
    match tls_hint(url, &text) {
        Some(hint) => format!("{text} ({hint})"),
        None => match possible_tls_cause(url, &text) {
            Some(hint) => format!("{text} ({hint})"),
            None => text,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);

    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for E {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    fn e(messages: &[&'static str]) -> E {
        let mut out: Option<E> = None;
        for m in messages.iter().rev() {
            out = Some(E(m, out.map(Box::new)));
        }
        out.expect("at least one message")
    }

    #[test]
    fn the_chain_is_spelled_out_once() {
        let err = e(&["transport error", "transport error", "connection refused"]);
        assert_eq!(chain(&err), "transport error: connection refused");
    }

    #[test]
    fn tls_mistakes_get_a_hint() {
        let cases = [
            (
                "https://c:1",
                "received corrupt message of type InvalidContentType",
                "does not speak TLS",
            ),
            (
                "https://c:1",
                "invalid peer certificate: UnknownIssuer",
                "--ca-file",
            ),
            (
                "https://c:1",
                "certificate not valid for name \"c\"",
                "subjectAltName",
            ),
            (
                "https://c:1",
                "received fatal alert: CertificateRequired",
                "requires a client certificate",
            ),
            (
                "https://c:1",
                "received fatal alert: UnknownCA",
                "--client-ca",
            ),
            (
                "http://c:1",
                "frame with invalid size",
                "speaks TLS on this port",
            ),
        ];
        for (url, message, hint) in cases {
            let text = explain(url, &e(&["transport error", message]));
            assert!(text.starts_with("transport error: "), "{text}");
            assert!(text.contains(hint), "{message}: {text}");
        }
    }

    #[test]
    fn a_closed_tls_connection_may_be_a_rejected_client_certificate() {
        let text = explain("https://c:1", &e(&["transport error", "connection closed"]));
        assert!(text.contains("--client-ca"), "{text}");
        assert!(
            text.contains("client certificate signed by that CA"),
            "{text}"
        );
        assert!(
            tls_hint("https://c:1", "connection closed").is_none(),
            "not certain"
        );
        let text = explain("https://c:1", &e(&["transport error", "broken pipe"]));
        assert!(text.contains("--tls-cert"), "{text}");
        let not_ready = [
            "operation was canceled",
            "transport error",
            "connection was not ready",
        ];
        let text = explain("https://c:1", &e(&not_ready));
        assert!(
            text.contains("client certificate signed by that CA"),
            "{text}"
        );
        let text = explain("http://c:1", &e(&["transport error", "connection closed"]));
        assert!(text.contains("if the controller uses TLS"), "{text}");
        assert!(text.contains("https://c:1"), "{text}");
        assert!(tls_hint("http://c:1", "connection closed").is_none());
    }

    #[test]
    fn other_failures_get_no_hint() {
        assert_eq!(
            explain("http://c:1", &e(&["transport error", "connection refused"])),
            "transport error: connection refused"
        );
    }
}
