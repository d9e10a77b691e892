//! Buffers that exist only while a request is being written or its response read.
//!
//! An idle keep-alive connection holds no buffer at all: the request is encoded into a buffer taken
//! from a small per-thread pool and given back once written; a read buffer is taken only when the
//! response starts to arrive (the socket became readable) and given back once the response is
//! read. With thousands of users mostly thinking, or waiting on a stalled target, memory follows
//! the responses being received, not the connections open (hyper keeps an 8 KiB read and an 8 KiB
//! write buffer in every connection for its whole life).

use std::cell::RefCell;

/// Capacity of a read buffer: a typical response head and body in one read.
pub(crate) const READ_SIZE: usize = 16 * 1024;
/// Buffers that grew past this (a large request, a long response head) are freed, not pooled.
const KEEP_MAX: usize = 64 * 1024;
/// Buffers kept per thread and kind. Small on purpose: a user's task may move between threads
/// while a request is in flight, so a buffer is not always returned to the pool it came from, and
/// every pool drifts up to its cap over a long run. Missing the pool costs an allocation, not a
/// zeroing: buffers are read into through their spare capacity, never initialised in advance.
const POOL_MAX: usize = 16;

thread_local! {
    static READ_POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static WRITE_POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

type Pool = std::thread::LocalKey<RefCell<Vec<Vec<u8>>>>;

fn take_from(pool: &'static Pool, capacity: usize) -> Vec<u8> {
    let mut buffer = (pool.try_with(|p| p.borrow_mut().pop()).ok().flatten())
        .unwrap_or_else(|| Vec::with_capacity(capacity));
    buffer.clear();
    buffer
}

fn give_back(pool: &'static Pool, buffer: Vec<u8>) {
    if buffer.capacity() > KEEP_MAX {
        return;
    }
    // During thread teardown the pool may be gone: the buffer is then simply freed.
    let _ = pool.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(buffer);
        }
    });
}

/// A buffer to encode a request into (an ordinary `Vec`, empty when taken).
pub(crate) struct WriteBuf(Vec<u8>);

impl WriteBuf {
    pub fn take() -> WriteBuf {
        WriteBuf(take_from(&WRITE_POOL, 1024))
    }

    pub fn vec(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for WriteBuf {
    fn drop(&mut self) {
        give_back(&WRITE_POOL, std::mem::take(&mut self.0));
    }
}

/// A buffer to read a response into: `data[start..]` is received and not yet consumed; reads
/// append to `data` within its capacity.
pub(crate) struct ReadBuf {
    data: Vec<u8>,
    start: usize,
}

impl ReadBuf {
    pub fn take() -> ReadBuf {
        ReadBuf {
            data: take_from(&READ_POOL, READ_SIZE),
            start: 0,
        }
    }

    /// The bytes received and not consumed yet.
    pub fn filled(&self) -> &[u8] {
        &self.data[self.start..]
    }

    /// Marks the first `n` bytes of [`filled`](Self::filled) consumed.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.data.len());
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
    }

    /// Makes room to read into after the filled part: moves the filled part to the front when
    /// that makes room, and grows the buffer (doubling, up to `max` bytes) when it is full.
    /// Returns the buffer to read into (see [`tokio::io::AsyncReadExt::read_buf`]), or `None`
    /// when `max` bytes are filled already.
    pub fn room(&mut self, max: usize) -> Option<&mut Vec<u8>> {
        if self.data.len() == self.data.capacity() && self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        if self.data.len() == self.data.capacity() {
            let capacity = self.data.capacity();
            if capacity >= max {
                return None;
            }
            self.data
                .reserve_exact(capacity.max(1024).min(max - capacity));
        }
        Some(&mut self.data)
    }
}

impl Drop for ReadBuf {
    fn drop(&mut self) {
        give_back(&READ_POOL, std::mem::take(&mut self.data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `bytes` as reads would: within the room given, never past it.
    fn fill(buffer: &mut ReadBuf, bytes: &[u8], max: usize) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = buffer.room(max).expect("room");
            let n = (room.capacity() - room.len()).min(rest.len());
            assert!(n > 0);
            room.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
    }

    #[test]
    fn compacts_then_grows_up_to_the_limit() {
        let mut buffer = ReadBuf::take();
        let size = buffer.data.capacity();
        assert!(size >= READ_SIZE);
        let bytes: Vec<u8> = (0..size).map(|i| i as u8).collect();
        fill(&mut buffer, &bytes, size * 4);
        buffer.consume(100);
        // Full at the end but with room at the front: compacted, not grown.
        fill(&mut buffer, &[7; 100], size * 4);
        assert_eq!(buffer.data.capacity(), size);
        assert_eq!(&buffer.filled()[..size - 100], &bytes[100..]);
        assert_eq!(&buffer.filled()[size - 100..], &[7; 100]);
        // Full: grows, keeping what is filled.
        fill(&mut buffer, &[9; 10], size * 4);
        assert!(buffer.data.capacity() >= size * 2);
        assert_eq!(buffer.filled().len(), size + 10);
        // At the limit: no room.
        let mut small = ReadBuf::take();
        let limit = small.data.capacity();
        fill(&mut small, &vec![1; limit], limit);
        assert!(small.room(limit).is_none());
    }

    #[test]
    fn consuming_everything_rewinds() {
        let mut buffer = ReadBuf::take();
        fill(&mut buffer, b"hello", READ_SIZE);
        buffer.consume(5);
        assert_eq!((buffer.start, buffer.data.len()), (0, 0));
        assert!(buffer.filled().is_empty());
    }

    #[test]
    fn buffers_are_reused_on_the_same_thread_up_to_the_cap() {
        let first = WriteBuf::take();
        let address = first.0.as_ptr();
        drop(first);
        let mut again = WriteBuf::take();
        assert_eq!(again.vec().as_ptr(), address);
        assert!(again.bytes().is_empty());
        drop(again);
        let many: Vec<ReadBuf> = (0..POOL_MAX * 2).map(|_| ReadBuf::take()).collect();
        drop(many);
        assert_eq!(READ_POOL.with(|p| p.borrow().len()), POOL_MAX);
    }
}
