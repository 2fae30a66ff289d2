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
