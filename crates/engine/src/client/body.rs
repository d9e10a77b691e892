//! Reading a response body as a stream: every byte is counted as it arrives, at most a capped
//! prefix is kept, and the rest is dropped at once. A response of any size therefore costs the
//! generator at most `max_body` bytes of memory plus one frame in flight.

use bytes::BytesMut;
use hyper::body::Body;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Where a body goes while it is read.
#[derive(Debug)]
pub(crate) struct BodySink<'a> {
    /// Body bytes received so far (after transfer decoding).
    pub received: u64,
    /// The kept prefix, when the step reads its body; `None` when only counting.
    kept: Option<&'a mut BytesMut>,
    /// How many bytes `kept` may hold.
    cap: usize,
}

impl<'a> BodySink<'a> {
    /// Counts only.
    pub fn count() -> BodySink<'static> {
        BodySink {
            received: 0,
            kept: None,
            cap: 0,
        }
    }

    /// Counts, and keeps the first `cap` bytes in `buffer` (cleared first).
    pub fn keep(buffer: &'a mut BytesMut, cap: usize) -> BodySink<'a> {
        buffer.clear();
        BodySink {
            received: 0,
            kept: Some(buffer),
            cap,
        }
    }

    /// Whether more was received than kept (only meaningful when keeping).
    pub fn truncated(&self) -> bool {
        self.kept
            .as_ref()
            .is_some_and(|k| (k.len() as u64) < self.received)
    }

    pub fn take(&mut self, data: &[u8]) {
        self.received += data.len() as u64;
        if let Some(kept) = &mut self.kept {
            let room = self.cap.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..room.min(data.len())]);
        }
    }
}

/// Polls `body` (an HTTP/2 response body) until it ends or has nothing ready, feeding every data
/// frame to `sink`.
pub(crate) fn poll_read<B>(
    body: &mut B,
    sink: &mut BodySink<'_>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), B::Error>>
where
    B: Body + Unpin,
{
    loop {
        match Pin::new(&mut *body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    sink.take(bytes::Buf::chunk(data));
                }
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
            Poll::Ready(None) => return Poll::Ready(Ok(())),
            Poll::Pending => return Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hyper::body::Frame;
    use std::convert::Infallible;
    use std::future::poll_fn;

    /// A body of `left` frames of `size` bytes each, frame `i` filled with `i`, made one at a
    /// time as it is polled.
    struct Lazy {
        left: usize,
        size: usize,
        next: u8,
    }

    impl Body for Lazy {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            if self.left == 0 {
                return Poll::Ready(None);
            }
            self.left -= 1;
            let frame = Frame::data(Bytes::from(vec![self.next; self.size]));
            self.next = self.next.wrapping_add(1);
            Poll::Ready(Some(Ok(frame)))
        }
    }

    #[tokio::test]
    async fn counts_everything_and_keeps_at_most_the_cap() {
        let mut body = Lazy {
            left: 100,
            size: 1000,
            next: 0,
        };
        let mut buffer = BytesMut::new();
        let mut sink = BodySink::keep(&mut buffer, 2500);
        poll_fn(|cx| poll_read(&mut body, &mut sink, cx))
            .await
            .unwrap();
        assert_eq!(sink.received, 100_000);
        assert_eq!(buffer.len(), 2500);
        assert_eq!(&buffer[..1000], &[0u8; 1000][..]);
        assert_eq!(&buffer[2000..], &[2u8; 500][..]);

        let mut body = Lazy {
            left: 10,
            size: 7,
            next: 0,
        };
        let mut sink = BodySink::count();
        poll_fn(|cx| poll_read(&mut body, &mut sink, cx))
            .await
            .unwrap();
        assert_eq!(sink.received, 70);
    }
}
