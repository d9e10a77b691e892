//! Bodies generated as they are read: `/stream/{n}` (a large response that costs the server one
//! chunk of memory) and `/stall` (a response whose body never ends).

use bytes::Bytes;
use http::{Response, StatusCode};
use hyper::body::{Body, Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Size of each chunk of `/stream/{n}`.
const CHUNK: usize = 64 << 10;

static FILL: [u8; CHUNK] = [b'x'; CHUNK];

/// A body of `remaining` bytes of `x`, produced chunk by chunk; with `stall`, one byte and then
/// nothing, forever.
#[derive(Debug)]
pub struct LazyBody {
    remaining: u64,
    stall: bool,
}

/// The response of a lazy route, if `path` is one.
pub(crate) fn route(path: &str) -> Option<Response<LazyBody>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let body = match segments.as_slice() {
        ["stream", n] => LazyBody {
            remaining: n.parse().ok()?,
            stall: false,
        },
        ["stall"] => LazyBody {
            remaining: 1,
            stall: true,
        },
        _ => return None,
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    Some(response)
}

impl Body for LazyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            // Never woken again: the connection ends when the client gives up or the target
            // shuts down.
            return if self.stall {
                Poll::Pending
            } else {
                Poll::Ready(None)
            };
        }
        let n = self.remaining.min(CHUNK as u64) as usize;
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&FILL[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0 && !self.stall
    }

    fn size_hint(&self) -> SizeHint {
        if self.stall {
            SizeHint::default()
        } else {
            SizeHint::with_exact(self.remaining)
        }
    }
}
