//! A read buffer: bytes are appended at `end` and consumed from `start`;
//! the storage is initialised once and reused, never zeroed per read.

/// The smallest read; larger when a frame's remaining length is known.
const READ_CHUNK: usize = 4 << 10;
/// An emptied buffer up to this size is kept for the next reads; a larger
/// one is given back when it was underused (see [`ReadBuf::shrink`]).
const KEEP: usize = READ_CHUNK;
/// An emptied buffer larger than [`KEEP`] goes after this many times in a
/// row that it was found less than half used.
const UNDERUSED: u32 = 32;
/// The largest read.
const MAX_READ: usize = 16 << 20;
/// The largest read between frames.
const BETWEEN_FRAMES: usize = 64 << 10;

#[derive(Default)]
pub struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The most room offered to the next read: it doubles only after a read
    /// filled all the room it had, so the buffer grows with the bytes that
    /// actually arrive, not with a length a peer announced.
    read_size: usize,
    /// The room the last [`ReadBuf::space`] offered.
    offered: usize,
    /// The last read filled it.
    filled: bool,
    /// The most bytes held since the last [`ReadBuf::shrink`] that found
    /// the buffer empty (called between messages).
    peak: usize,
    /// How many times in a row [`ReadBuf::shrink`] found it underused.
    underused: u32,
}

impl ReadBuf {
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    pub fn extend(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Take the bytes of `landed`, read into a buffer of the caller's.
    /// When nothing is buffered, its storage becomes this buffer's (no
    /// copy), and this buffer's old storage goes back to the caller, empty,
    /// for its next read; else the bytes are appended.
    pub fn adopt(&mut self, landed: &mut Vec<u8>) {
        if self.start != self.end || landed.is_empty() {
            self.extend(landed);
            landed.clear();
            return;
        }
        std::mem::swap(&mut self.buf, landed);
        self.start = 0;
        self.end = self.buf.len();
        self.peak = self.peak.max(self.end);
        landed.clear();
    }

    /// Make room for `want` more bytes after `end`.
    fn reserve(&mut self, want: usize) {
        if self.buf.len() - self.end >= want {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < want {
            self.buf.resize(self.end + want, 0);
        }
    }

    /// Room for `want` more bytes (at least 4 KiB, at most 16 MiB and at
    /// most twice the previous read that filled its room): read into it,
    /// then [`ReadBuf::commit`] what was read.
    ///
    /// `want` 0 means "between frames": the read is then at most 64 KiB, so
    /// that the payload of a large frame that starts in it mostly goes
    /// straight into its message (`Session::direct_space`), while a batch
    /// of small frames still arrives in few reads.
    pub fn space(&mut self, want: usize) -> &mut [u8] {
        let cap = self.read_size.clamp(READ_CHUNK, MAX_READ);
        let room = if want == 0 {
            cap.min(BETWEEN_FRAMES)
        } else {
            want.clamp(READ_CHUNK, cap)
        };
        self.reserve(room);
        self.offered = room;
        &mut self.buf[self.end..self.end + room]
    }

    /// `n` bytes were read into [`ReadBuf::space`].
    pub fn commit(&mut self, n: usize) {
        assert!(self.end + n <= self.buf.len(), "committed past the space");
        self.end += n;
        self.peak = self.peak.max(self.end);
        let cap = self.read_size.clamp(READ_CHUNK, MAX_READ);
        self.filled = n == self.offered;
        self.read_size = if self.filled { cap * 2 } else { cap };
    }

    /// Whether the last read filled all the room it was offered: more is
    /// probably waiting in the socket.
    pub fn last_read_filled(&self) -> bool {
        self.filled
    }

    /// Give memory back once nothing is buffered (the caller asks between
    /// messages): a buffer above 4 KiB goes when it was never half full
    /// between the last [`UNDERUSED`] times. A stream of large messages
    /// keeps its buffer, and so does a stream of batches of small ones
    /// whose reads vary in size (going at the first underused time, it was
    /// freed and zeroed again nearly every batch: 7% of a client's time); a
    /// large message followed by small ones does not pin it. The read size
    /// learnt so far is kept, so the room comes back in one allocation.
    pub fn shrink(&mut self) {
        if self.start != self.end {
            return;
        }
        if self.buf.len() > KEEP && self.peak.saturating_mul(2) < self.buf.len() {
            self.underused += 1;
            if self.underused >= UNDERUSED {
                self.buf = Vec::new();
                self.start = 0;
                self.end = 0;
                self.underused = 0;
            }
        } else {
            self.underused = 0;
        }
        self.peak = 0;
    }

    /// One read from `source` into [`ReadBuf::space`]`(want)` (tests feed
    /// the buffer this way). Returns the number of bytes read (0 at end of
    /// stream).
    #[cfg(test)]
    pub fn fill(&mut self, source: &mut impl std::io::Read, want: usize) -> std::io::Result<usize> {
        let n = source.read(self.space(want))?;
        self.commit(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_consumes_and_compacts() {
        let mut rb = ReadBuf::default();
        let mut src: &[u8] = b"hello world";
        assert_eq!(rb.fill(&mut src, 1).unwrap(), 11);
        rb.consume(6);
        assert_eq!(rb.data(), b"world");
        rb.extend(b"!");
        assert_eq!(rb.data(), b"world!");
        rb.consume(6);
        assert!(rb.data().is_empty());
        assert_eq!(rb.fill(&mut src, 1).unwrap(), 0);
    }

    #[test]
    fn room_grows_with_bytes_received_not_bytes_wanted() {
        let mut rb = ReadBuf::default();
        let mut trickle: &[u8] = &[1; 100];
        rb.fill(&mut trickle, 64 << 20).unwrap();
        assert!(
            rb.buf.len() <= READ_CHUNK,
            "{} bytes allocated",
            rb.buf.len()
        );
        rb.consume(100);
        // A peer that fills every read gets reads that double.
        let mut flood = std::io::repeat(0);
        let mut sizes = Vec::new();
        for _ in 0..4 {
            sizes.push(rb.fill(&mut flood, 64 << 20).unwrap());
            rb.consume(rb.data().len());
        }
        assert_eq!(
            sizes,
            [READ_CHUNK, 2 * READ_CHUNK, 4 * READ_CHUNK, 8 * READ_CHUNK]
        );
    }

    #[test]
    fn a_large_message_does_not_pin_its_buffer_but_a_stream_of_them_does() {
        let mut rb = ReadBuf::default();
        let mut big = std::io::repeat(7);
        // Reads that fill their room grow it; a stream of large reads keeps
        // its buffer between messages.
        for _ in 0..5 {
            rb.fill(&mut big, 1 << 20).unwrap();
            rb.consume(rb.data().len());
        }
        let len = rb.buf.len();
        assert!(len >= 64 << 10, "{len}");
        rb.shrink();
        assert_eq!(rb.buf.len(), len);
        rb.fill(&mut big, len).unwrap();
        rb.consume(rb.data().len());
        rb.shrink();
        assert!(rb.buf.len() >= len);
        // Then small messages: the buffer is given back, not at the first.
        for i in 1..=UNDERUSED {
            let mut small: &[u8] = &[1; 10];
            rb.fill(&mut small, 1).unwrap();
            rb.consume(10);
            rb.shrink();
            if i < UNDERUSED {
                assert!(rb.buf.len() >= len, "given back after {i}");
            }
        }
        assert!(rb.buf.len() <= KEEP, "{} bytes kept", rb.buf.len());
    }
}
