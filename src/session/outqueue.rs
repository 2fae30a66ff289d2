//! The output queue: encoded frames waiting for the socket, with a write
//! cursor, so a frame is never interleaved with another or lost when the
//! socket takes only part of it.

/// Above this capacity an emptied queue gives its memory back.
const KEEP_CAPACITY: usize = 256 << 10;

#[derive(Default)]
pub struct OutQueue {
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    cursor: usize,
    /// Bytes written since the connection opened.
    written: u64,
}

impl OutQueue {
    /// Bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.cursor..]
    }

    pub fn len(&self) -> usize {
        self.buf.len() - self.cursor
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total bytes ever queued: the offset at which the next frame ends up.
    pub fn queued_total(&self) -> u64 {
        self.written + self.len() as u64
    }

    pub fn written_total(&self) -> u64 {
        self.written
    }

    /// Where new frames are appended.
    pub fn tail(&mut self) -> &mut Vec<u8> {
        if self.cursor > 0 && self.cursor >= self.buf.len() / 2 {
            self.buf.drain(..self.cursor);
            self.cursor = 0;
        }
        &mut self.buf
    }

    /// `n` bytes from the front were written.
    pub fn advance(&mut self, n: usize) {
        assert!(n <= self.len(), "advanced past the queued bytes");
        self.cursor += n;
        self.written += n as u64;
        if self.cursor == self.buf.len() {
            self.buf.clear();
            self.cursor = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            }
        }
    }

    /// Forget everything queued (the socket is gone).
    pub fn discard(&mut self) {
        let n = self.len();
        self.advance(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_writes_keep_order_and_offsets() {
        let mut q = OutQueue::default();
        q.tail().extend_from_slice(b"hello ");
        let end = q.queued_total();
        q.tail().extend_from_slice(b"world");
        assert_eq!((end, q.queued_total()), (6, 11));
        q.advance(4);
        assert_eq!(q.pending(), b"o world");
        q.tail().extend_from_slice(b"!");
        assert_eq!(q.pending(), b"o world!");
        q.advance(8);
        assert!(q.is_empty());
        assert_eq!(q.written_total(), 12);
    }
}
