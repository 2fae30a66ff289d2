//! The output queue: encoded frames waiting for the socket, with a write
//! cursor, so a frame is never interleaved with another or lost when the
//! socket takes only part of it.
//!
//! Its memory is initialised once and reused: a frame is masked straight
//! into it (one pass over the payload, no zero-filling per message).

use crate::proto::mask::mask_into;
use crate::proto::sender::FrameSink;

/// An emptied queue keeps at most this much memory for the next messages;
/// above, it gives the memory back (large messages are streamed through a
/// small queue anyway), so an idle connection holds little.
const KEEP_CAPACITY: usize = 4 << 10;
/// A streamed payload is masked and written this much at a time, so the
/// bytes masked are still in cache when the kernel copies them. Measured on
/// 1 MiB echoes (one at a time, beside raw TCP, cheap servers): 32 KiB pieces
/// sent as fast as one raw write; 64-256 KiB pieces were 30-45% slower
/// than raw, 8 KiB pieces paid in system calls.
pub(super) const STREAM_CHUNK: usize = 32 << 10;

/// One write to the socket: bytes taken, or `None` when it takes no more
/// now (full, or failed: the driver's next write sees the error again).
pub type WriteFn<'a> = &'a mut dyn FnMut(&[u8]) -> Option<usize>;

#[derive(Default)]
pub struct OutQueue {
    /// Initialised memory; bytes `cursor..end` are queued.
    buf: Vec<u8>,
    end: usize,
    /// Bytes of `buf` already written.
    cursor: usize,
    /// Bytes written since the connection opened.
    written: u64,
    /// The most bytes queued since the queue was last empty.
    peak: usize,
    /// A frame whose payload is still being put, piece by piece, by a
    /// sender that waits for the socket between pieces (see [`OutQueue::open`]).
    open: Option<OpenFrame>,
    /// Frames queued while a frame is open: they follow it.
    deferred: Vec<u8>,
}

struct OpenFrame {
    key: [u8; 4],
    /// Payload bytes put so far: where the next piece's mask starts.
    put: u64,
    /// Payload bytes still to be put.
    left: u64,
}

impl OutQueue {
    /// Bytes that can be written now.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.cursor..self.end]
    }

    pub fn len(&self) -> usize {
        self.end - self.cursor
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held, counting frames that wait behind an open one.
    pub fn backlog(&self) -> usize {
        self.len() + self.deferred.len()
    }

    /// Nothing held and no frame open.
    pub fn is_idle(&self) -> bool {
        self.is_empty() && self.open.is_none() && self.deferred.is_empty()
    }

    /// Total bytes ever queued: the offset at which the last frame ends
    /// (an open frame counts whole).
    pub fn queued_total(&self) -> u64 {
        let open = self.open.as_ref().map_or(0, |f| f.left);
        self.written + self.backlog() as u64 + open
    }

    pub fn written_total(&self) -> u64 {
        self.written
    }

    /// `n` bytes of room after the queued ones.
    fn room(&mut self, n: usize) -> &mut [u8] {
        if self.cursor > 0 && self.cursor >= self.end / 2 {
            self.buf.copy_within(self.cursor..self.end, 0);
            self.end -= self.cursor;
            self.cursor = 0;
        }
        if self.buf.len() < self.end + n {
            self.buf.resize(self.end + n, 0);
        }
        let start = self.end;
        self.end += n;
        self.peak = self.peak.max(self.end);
        &mut self.buf[start..start + n]
    }

    /// `n` bytes from the front were written.
    pub fn advance(&mut self, n: usize) {
        assert!(n <= self.len(), "advanced past the queued bytes");
        self.cursor += n;
        self.written += n as u64;
        if self.cursor == self.end {
            self.cursor = 0;
            self.end = 0;
        }
    }

    /// A sink that writes as it encodes: a large payload is masked in
    /// 32 KiB pieces, each written (with what was queued before it) while
    /// the socket takes it; once it does not, the rest is only queued. The
    /// frame is whole in the queue or on the wire either way, so nothing
    /// can interleave with it.
    pub fn streaming<'a>(&'a mut self, write: WriteFn<'a>) -> Streaming<'a> {
        Streaming {
            queue: self,
            write,
            writable: true,
        }
    }

    /// Queue a frame's header; its `len` bytes of payload follow by
    /// [`OutQueue::put_open`], masked with `key`. Until the last of them,
    /// frames queued by anyone else wait in a side queue, so that a sender
    /// can release its lock between pieces without another frame slipping
    /// into the middle of its own.
    pub fn open(&mut self, header: &[u8], key: [u8; 4], len: u64) {
        assert!(self.open.is_none(), "a frame is already open");
        self.put(header);
        if len > 0 {
            self.open = Some(OpenFrame {
                key,
                put: 0,
                left: len,
            });
        }
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The next bytes of the open frame's payload, of any length. The last
    /// closes the frame and queues what waited behind it.
    pub fn put_open(&mut self, piece: &[u8]) {
        let frame = self.open.as_mut().expect("no frame is open");
        assert!(
            piece.len() as u64 <= frame.left,
            "more than the frame holds"
        );
        // The key continues where the previous piece left it.
        let mut key = frame.key;
        key.rotate_left((frame.put % 4) as usize);
        frame.put += piece.len() as u64;
        frame.left -= piece.len() as u64;
        let done = frame.left == 0;
        mask_into(self.room(piece.len()), piece, key);
        if done {
            self.open = None;
            let deferred = std::mem::take(&mut self.deferred);
            self.put(&deferred);
        }
    }

    /// Write from the front until empty; false when the socket took no more.
    fn write_out(&mut self, write: WriteFn<'_>) -> bool {
        while !self.is_empty() {
            match write(self.pending()) {
                Some(n) if n > 0 => self.advance(n.min(self.len())),
                _ => return false,
            }
        }
        true
    }

    /// Give memory back once everything is written (between messages, not
    /// between the pieces of a streamed one): above 4 KiB, when the last
    /// batch used less than half of it.
    pub fn trim(&mut self) {
        if !self.is_empty() || self.open.is_some() {
            return;
        }
        let underused = self.peak.saturating_mul(2) < self.buf.len();
        if self.buf.len() > KEEP_CAPACITY && underused {
            self.buf = Vec::new();
        }
        self.peak = 0;
    }

    /// Forget everything queued (the socket is gone).
    pub fn discard(&mut self) {
        let n = self.len();
        self.advance(n);
        self.buf = Vec::new();
        self.open = None;
        self.deferred = Vec::new();
    }
}

impl FrameSink for OutQueue {
    fn put(&mut self, bytes: &[u8]) {
        if self.open.is_some() {
            self.deferred.extend_from_slice(bytes);
        } else {
            self.room(bytes.len()).copy_from_slice(bytes);
        }
    }

    fn put_masked(&mut self, payload: &[u8], key: [u8; 4]) {
        if self.open.is_some() {
            self.deferred.put_masked(payload, key);
        } else {
            mask_into(self.room(payload.len()), payload, key);
        }
    }
}

pub struct Streaming<'a> {
    queue: &'a mut OutQueue,
    write: WriteFn<'a>,
    writable: bool,
}

impl FrameSink for Streaming<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.queue.put(bytes);
    }

    fn put_masked(&mut self, payload: &[u8], key: [u8; 4]) {
        // Pieces are a multiple of 4 bytes long: the key needs no rotation.
        for piece in payload.chunks(STREAM_CHUNK) {
            self.queue.put_masked(piece, key);
            if self.writable {
                self.writable = self.queue.write_out(self.write);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_writes_keep_order_and_offsets() {
        let mut q = OutQueue::default();
        q.put(b"hello ");
        let end = q.queued_total();
        q.put(b"world");
        assert_eq!((end, q.queued_total()), (6, 11));
        q.advance(4);
        assert_eq!(q.pending(), b"o world");
        q.put(b"!");
        assert_eq!(q.pending(), b"o world!");
        q.advance(8);
        assert!(q.is_empty());
        assert_eq!(q.written_total(), 12);
        // Reused memory holds no stale bytes in what is queued next.
        q.put_masked(b"abcd", [1, 2, 3, 4]);
        assert_eq!(q.pending(), [b'a' ^ 1, b'b' ^ 2, b'c' ^ 3, b'd' ^ 4]);
    }

    #[test]
    fn frames_queued_while_a_frame_is_open_follow_it() {
        let key = [1, 2, 3, 4];
        let mut q = OutQueue::default();
        q.put(b"before|");
        q.open(b"H", key, 8);
        assert!(q.is_open() && !q.is_idle());
        q.put(b"|ping");
        q.put_masked(b"abcd", key);
        assert_eq!(q.pending(), b"before|H", "nothing may enter the open frame");
        assert_eq!(q.backlog(), 8 + 9);
        assert_eq!(q.queued_total(), 8 + 8 + 9);
        q.advance(8);
        q.trim(); // an open frame keeps its memory
        q.put_open(&[0; 4]);
        assert_eq!(q.pending(), [1, 2, 3, 4]);
        q.put_open(&[0; 4]);
        assert!(!q.is_open());
        let mut expected = vec![1, 2, 3, 4, 1, 2, 3, 4];
        expected.extend_from_slice(b"|ping");
        expected.extend([b'a' ^ 1, b'b' ^ 2, b'c' ^ 3, b'd' ^ 4]);
        assert_eq!(q.pending(), expected.as_slice());
        assert_eq!(q.queued_total(), 8 + 8 + 9);
        // Pieces of any length continue the mask where the last one stopped.
        q.advance(q.len());
        q.open(b"", key, 7);
        q.put_open(&[0; 3]);
        q.put_open(&[0; 4]);
        assert_eq!(q.pending(), [1, 2, 3, 4, 1, 2, 3]);
        q.advance(7);
        // A lost connection forgets the open frame and what waited behind it.
        q.open(b"H", key, 4);
        q.put(b"late");
        q.discard();
        assert!(q.is_idle());
    }

    #[test]
    fn streaming_writes_as_it_masks_and_queues_what_the_socket_refuses() {
        use crate::proto::mask::mask_into;
        let payload: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let key = [9, 8, 7, 6];
        let mut expected = b"head".to_vec();
        expected.resize(4 + payload.len(), 0);
        mask_into(&mut expected[4..], &payload, key);
        for budget in [usize::MAX, 0, 100_000] {
            let mut q = OutQueue::default();
            let mut wire = Vec::new();
            let mut left = budget;
            let mut write = |bytes: &[u8]| {
                let n = bytes.len().min(left).min(30_000);
                left -= n;
                wire.extend_from_slice(&bytes[..n]);
                Some(n)
            };
            let mut sink = q.streaming(&mut write);
            sink.put(b"head");
            sink.put_masked(&payload, key);
            wire.extend_from_slice(q.pending());
            assert_eq!(wire, expected, "budget {budget}");
            if budget == usize::MAX {
                assert!(q.is_empty() && q.buf.len() <= STREAM_CHUNK + 4);
            }
        }
    }

    #[test]
    fn an_emptied_queue_keeps_memory_only_while_it_is_used() {
        let mut q = OutQueue::default();
        q.put(&[1; 50_000]);
        q.advance(50_000);
        q.trim();
        assert_eq!(q.buf.len(), 50_000, "a queue that was full is kept");
        q.put(b"small");
        q.advance(5);
        q.trim();
        assert!(q.buf.len() <= KEEP_CAPACITY, "{} bytes kept", q.buf.len());
    }
}
