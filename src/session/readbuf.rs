//! A read buffer: bytes are appended at `end` and consumed from `start`;
//! the storage is initialised once and reused, never zeroed per read.

use std::io::{self, Read};

/// The smallest read; larger when a frame's remaining length is known.
const READ_CHUNK: usize = 16 << 10;

#[derive(Default)]
pub struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
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

    /// Room for at least `want` more bytes (at least one chunk, at most 16
    /// MiB): read into it, then [`ReadBuf::commit`] what was read.
    pub fn space(&mut self, want: usize) -> &mut [u8] {
        self.reserve(want.clamp(READ_CHUNK, 16 << 20));
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into [`ReadBuf::space`].
    pub fn commit(&mut self, n: usize) {
        assert!(self.end + n <= self.buf.len(), "committed past the space");
        self.end += n;
    }

    /// Give memory back after a large message, once nothing is buffered.
    pub fn shrink(&mut self) {
        if self.start == self.end && self.buf.len() > 4 * READ_CHUNK {
            *self = ReadBuf::default();
        }
    }

    /// One read from `source` into room for at least `want` bytes (capped at
    /// 16 MiB a read). Returns the number of bytes read (0 at end of stream).
    pub fn fill(&mut self, source: &mut impl Read, want: usize) -> io::Result<usize> {
        self.reserve(want.clamp(READ_CHUNK, 16 << 20));
        let n = source.read(&mut self.buf[self.end..])?;
        self.end += n;
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
}
