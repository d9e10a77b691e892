//! What a single request attempt produced. Outcomes are data: a status code, or one of a small
//! set of error kinds counted in an array — never a free-form string used as a key.

use std::fmt;

/// Why a request produced no HTTP response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The target actively refused the TCP connection.
    ConnectRefused,
    /// The TCP connection (or TLS handshake) did not complete within the connect timeout.
    ConnectTimeout,
    /// The host name could not be resolved.
    Dns,
    /// The TLS handshake failed (bad certificate, protocol mismatch...).
    Tls,
    /// The request was sent but no complete response arrived within the request timeout.
    Timeout,
    /// The connection was reset or closed by the peer mid-request.
    Reset,
    /// The peer answered with something that is not valid HTTP.
    BadResponse,
    /// Any other I/O failure.
    Io,
    /// A script step failed: a runtime error, or the script called `fail(...)`.
    Script,
    /// The request was not sent: a variable it uses is not set (an extraction that failed with
    /// `on_failure: continue`, or one that has not run yet).
    Variable,
}

impl ErrorKind {
    /// Number of kinds: the length of the per-kind counter arrays.
    pub const COUNT: usize = 10;
    /// Every kind, in index order.
    pub const ALL: [ErrorKind; Self::COUNT] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::Dns,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::Reset,
        ErrorKind::BadResponse,
        ErrorKind::Io,
        ErrorKind::Script,
        ErrorKind::Variable,
    ];

    /// Position in the per-kind counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Stable snake_case name used in JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Dns => "dns",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::BadResponse => "bad_response",
            ErrorKind::Io => "io",
            ErrorKind::Script => "script",
            ErrorKind::Variable => "unset_variable",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed `expect` check: which check, and what was received instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailure {
    /// The check's name, e.g. `status in [200, 201]`.
    pub check: String,
    /// What was received, e.g. `got 500`.
    pub detail: String,
}

/// The result of one request attempt, as handed to [`crate::IntervalRecorder::record`].
///
/// Borrowed so that the success path allocates nothing.
#[derive(Clone, Copy)]
pub enum Outcome<'a> {
    /// An HTTP response arrived. `failed_check` is set when an `expect` check failed, which makes the
    /// request a *failure*; its latency is still recorded.
    ///
    /// `latency_us` is the response time the user saw: in the open model it runs from when the
    /// request *should* have been sent (the iteration's scheduled start for its first request),
    /// so a slow target or an overloaded generator cannot hide queueing (coordinated omission).
    /// `service_us` runs from when the request was actually sent. In the closed model both are
    /// the same figure.
    Response {
        status: u16,
        latency_us: u64,
        service_us: u64,
        bytes_in: u64,
        bytes_out: u64,
        failed_check: Option<&'a CheckFailure>,
    },
    /// A step that sends no request failed a check (a script's `fail(...)`): counted as a
    /// request that *failed*, with the check, and no latency, status or bytes.
    Failed { failed_check: &'a CheckFailure },
    /// No response: a transport-level *error*. Its latency is not recorded in the histogram (a
    /// timeout would otherwise show up as a 30 s "response").
    Error {
        kind: ErrorKind,
        bytes_out: u64,
        message: &'a dyn fmt::Display,
    },
}

impl fmt::Debug for Outcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Response {
                status, latency_us, ..
            } => write!(f, "Response({status}, {latency_us}us)"),
            Outcome::Failed { failed_check } => write!(f, "Failed({})", failed_check.check),
            Outcome::Error { kind, message, .. } => write!(f, "Error({kind}: {message})"),
        }
    }
}
