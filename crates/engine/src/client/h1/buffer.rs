//! Buffers that exist only while a request is in flight.
//!
//! An idle keep-alive connection holds no buffer at all: the request is encoded into a buffer taken
//! from a small per-thread pool, the response is read into another, and both go back to the pool
//! as soon as the response is read. With thousands of users mostly thinking, memory follows the
//! requests in flight, not the connections open (hyper keeps an 8 KiB read and an 8 KiB write
//! buffer in every connection for its whole life).

use std::cell::RefCell;

/// Size of a read buffer: a typical response head and body in one read.
pub(crate) const READ_SIZE: usize = 16 * 1024;
/// Buffers that grew past this (a large request, a long response head) are freed, not pooled.
const KEEP_MAX: usize = 64 * 1024;
/// Buffers kept per thread and kind; more than this in flight at once are allocated and freed.
const POOL_MAX: usize = 128;

thread_local! {
    static READ_POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static WRITE_POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

type Pool = std::thread::LocalKey<RefCell<Vec<Vec<u8>>>>;

fn take_from(pool: &'static Pool) -> Option<Vec<u8>> {
    pool.try_with(|p| p.borrow_mut().pop()).ok().flatten()
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
        let mut buffer = take_from(&WRITE_POOL).unwrap_or_else(|| Vec::with_capacity(1024));
        buffer.clear();
        WriteBuf(buffer)
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

/// A buffer to read a response into: `data[start..end]` is received and not yet consumed.
/// `data` is always fully initialised (its length is its size), so reads go into a plain slice.
pub(crate) struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    pub fn take() -> ReadBuf {
        let data = take_from(&READ_POOL).unwrap_or_else(|| vec![0; READ_SIZE]);
        ReadBuf {
            data,
            start: 0,
            end: 0,
        }
    }

    /// The bytes received and not consumed yet.
    pub fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Marks the first `n` bytes of [`filled`](Self::filled) consumed.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Room to read into after the filled part: moves the filled part to the front when that
    /// makes room, and grows the buffer (doubling, up to `max` bytes) when it is full. `None`
    /// when `max` bytes are filled already.
    pub fn spare(&mut self, max: usize) -> Option<&mut [u8]> {
        if self.end == self.data.len() && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.data.len() {
            if self.data.len() >= max {
                return None;
            }
            let size = (self.data.len() * 2).min(max);
            self.data.resize(size, 0);
        }
        Some(&mut self.data[self.end..])
    }

    /// `n` bytes were read into the start of the last [`spare`](Self::spare) slice.
    pub fn filled_more(&mut self, n: usize) {
        self.end += n;
        debug_assert!(self.end <= self.data.len());
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

    fn fill(buffer: &mut ReadBuf, bytes: &[u8], max: usize) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = buffer.spare(max).expect("room");
            let n = room.len().min(rest.len());
            room[..n].copy_from_slice(&rest[..n]);
            buffer.filled_more(n);
            rest = &rest[n..];
        }
    }

    #[test]
    fn compacts_then_grows_up_to_the_limit() {
        let mut buffer = ReadBuf::take();
        let bytes: Vec<u8> = (0..READ_SIZE).map(|i| i as u8).collect();
        fill(&mut buffer, &bytes, READ_SIZE * 4);
        buffer.consume(100);
        // Full at the end but with room at the front: compacted, not grown.
        fill(&mut buffer, &[7; 100], READ_SIZE * 4);
        assert_eq!(buffer.data.len(), READ_SIZE);
        assert_eq!(&buffer.filled()[..READ_SIZE - 100], &bytes[100..]);
        assert_eq!(&buffer.filled()[READ_SIZE - 100..], &[7; 100]);
        // Full: grows, keeping what is filled.
        fill(&mut buffer, &[9; 10], READ_SIZE * 4);
        assert_eq!(buffer.data.len(), READ_SIZE * 2);
        assert_eq!(buffer.filled().len(), READ_SIZE + 10);
        // At the limit: no room.
        let mut small = ReadBuf::take();
        fill(&mut small, &vec![1; READ_SIZE], READ_SIZE);
        assert!(small.spare(READ_SIZE).is_none());
    }

    #[test]
    fn consuming_everything_rewinds() {
        let mut buffer = ReadBuf::take();
        fill(&mut buffer, b"hello", READ_SIZE);
        buffer.consume(5);
        assert_eq!((buffer.start, buffer.end), (0, 0));
        assert!(buffer.filled().is_empty());
    }

    #[test]
    fn buffers_are_reused_on_the_same_thread() {
        let first = WriteBuf::take();
        let address = first.0.as_ptr();
        drop(first);
        let mut again = WriteBuf::take();
        assert_eq!(again.vec().as_ptr(), address);
        assert!(again.bytes().is_empty());
    }
}
