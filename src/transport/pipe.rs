//! A transport the caller brings: the connection's bytes go through two
//! buffers instead of a socket. The caller moves them between the buffers
//! and its own transport (a socket it opened, a Unix socket, a TLS library
//! of its choice, a QUIC stream), as wslay and tungstenite's "any stream"
//! allow; the library never blocks on it and never sees a descriptor.
//!
//! The session reads the input buffer and writes the output buffer through
//! [`Stream::Caller`](super::Stream); both are bounded, so a caller that
//! stops draining sees the send queue fill (`WouldBlock`), as with a full
//! socket, and one that feeds faster than messages are received is told to
//! wait.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// How many bytes each buffer holds at most.
pub const PIPE_CAP: usize = 64 << 10;

#[derive(Default)]
struct Buffers {
    /// Received from the peer, not yet read by the session.
    input: Vec<u8>,
    input_at: usize,
    /// The peer closed its side: reads return 0 once `input` is read.
    input_eof: bool,
    /// Written by the session, not yet taken by the caller.
    output: Vec<u8>,
    output_at: usize,
    /// The session is done with the transport (it would shut a socket).
    shut: bool,
}

/// One end of the pipe: the session's (as a [`Stream`](super::Stream)) or
/// the caller's (through the handle). Clones share the buffers.
#[derive(Clone, Default)]
pub struct Pipe(Arc<Mutex<Buffers>>);

impl Pipe {
    pub fn new() -> Pipe {
        Pipe::default()
    }

    fn lock(&self) -> MutexGuard<'_, Buffers> {
        // The buffers hold plain bytes: a panic elsewhere leaves them usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    // --- the caller's side ------------------------------------------------

    /// Bytes the peer sent: takes as many as there is room for (0 when the
    /// input is full: receive messages first).
    pub fn push_input(&self, data: &[u8]) -> usize {
        let mut b = self.lock();
        if b.input_at == b.input.len() {
            b.input.clear();
            b.input_at = 0;
        }
        let pending = b.input.len() - b.input_at;
        let n = data.len().min(PIPE_CAP.saturating_sub(pending));
        b.input.extend_from_slice(&data[..n]);
        n
    }

    /// The peer closed its side of the transport.
    pub fn input_eof(&self) {
        self.lock().input_eof = true;
    }

    /// Copy bytes to send to the peer into `buf`; returns how many.
    pub fn pull_output(&self, buf: &mut [u8]) -> usize {
        let mut b = self.lock();
        let start = b.output_at;
        let n = buf.len().min(b.output.len() - start);
        buf[..n].copy_from_slice(&b.output[start..start + n]);
        b.output_at += n;
        if b.output_at == b.output.len() {
            b.output.clear();
            b.output_at = 0;
        }
        n
    }

    /// Bytes waiting for the caller to send.
    pub fn output_len(&self) -> usize {
        let b = self.lock();
        b.output.len() - b.output_at
    }

    /// Whether received bytes wait for the session.
    pub fn has_input(&self) -> bool {
        let b = self.lock();
        b.input_at < b.input.len()
    }

    /// Whether the session is done with the transport: once the output is
    /// sent, the caller closes it.
    pub fn is_shut(&self) -> bool {
        self.lock().shut
    }

    // --- the session's side -----------------------------------------------

    pub(crate) fn shut(&self) {
        self.lock().shut = true;
    }
}

impl io::Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut b = self.lock();
        let start = b.input_at;
        let n = buf.len().min(b.input.len() - start);
        if n == 0 && !buf.is_empty() {
            return if b.input_eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        buf[..n].copy_from_slice(&b.input[start..start + n]);
        b.input_at += n;
        Ok(n)
    }
}

impl io::Write for Pipe {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut b = self.lock();
        if b.shut {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let pending = b.output.len() - b.output_at;
        let n = data.len().min(PIPE_CAP.saturating_sub(pending));
        if n == 0 && !data.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        b.output.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn bytes_go_through_both_buffers_within_their_bound() {
        let caller = Pipe::new();
        let mut session = caller.clone();
        let mut buf = [0u8; 8];
        assert_eq!(
            session.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert_eq!(caller.push_input(b"hello"), 5);
        assert_eq!(session.read(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        // Input is bounded.
        let big = vec![1u8; PIPE_CAP + 10];
        assert_eq!(caller.push_input(&big), PIPE_CAP);
        assert_eq!(caller.push_input(b"x"), 0);
        // Output too.
        assert_eq!(session.write(&big).unwrap(), PIPE_CAP);
        assert_eq!(
            session.write(b"x").unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert_eq!(caller.output_len(), PIPE_CAP);
        let mut out = vec![0u8; PIPE_CAP];
        assert_eq!(caller.pull_output(&mut out), PIPE_CAP);
        assert_eq!(caller.output_len(), 0);
        // The end of the input, after what is buffered.
        let mut rest = vec![0u8; PIPE_CAP];
        assert_eq!(session.read(&mut rest).unwrap(), PIPE_CAP);
        caller.input_eof();
        assert_eq!(session.read(&mut buf).unwrap(), 0);
        session.shut();
        assert!(caller.is_shut());
        assert_eq!(
            session.write(b"late").unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    }
}
