//! The only code that owns sockets and OpenSSL.

mod pipe;
mod resolve;
mod sessions;
mod tcp;
mod tls;
mod wait;
mod waiter;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::Duration;

use openssl::ssl::SslStream;
use rustix::net::{RecvFlags, SendFlags};

use crate::error::{Error, ErrorKind};

pub use pipe::{Pipe, PIPE_CAP};
pub use resolve::Lookup;
pub use tcp::{authority, pinned, Race, ResolveEntry, ATTEMPT_DELAY};
pub use tls::{start_tls, tls_summary, TlsHandshake, TlsOptions, TlsStep, TlsVersion};
pub use wait::{wait_any, wait_fd};
pub use waiter::Waiter;

/// A TCP socket shared between the stream that reads and writes it and the
/// driver that waits on it (`poll` needs no lock on the stream).
#[derive(Clone, Debug)]
pub struct Socket(Arc<TcpStream>);

impl From<TcpStream> for Socket {
    fn from(tcp: TcpStream) -> Socket {
        Socket(Arc::new(tcp))
    }
}

impl Socket {
    pub fn tcp(&self) -> &TcpStream {
        &self.0
    }

    /// The TCP stream itself, when nothing else shares it (no copy of the
    /// descriptor is made: a copy would keep it in epoll sets after close).
    pub fn into_tcp(self) -> Option<TcpStream> {
        Arc::try_unwrap(self.0).ok()
    }

    /// Read into `data`'s spare capacity (its length grows by what was
    /// read), without initialising the room first; never waits.
    pub fn read_spare(&self, data: &mut Vec<u8>) -> io::Result<usize> {
        rustix::net::recv(
            self.as_fd(),
            rustix::buffer::spare_capacity(data),
            RecvFlags::DONTWAIT,
        )
        .map(|(n, _)| n)
        .map_err(io::Error::from)
    }

    /// [`Socket::read_spare`], but waiting for bytes (or the end of the
    /// stream): a blocking receive's one system call, where poll then read
    /// would be two. Needs the socket in blocking mode (see
    /// [`Stream::set_nonblocking`]).
    pub fn read_spare_waiting(&self, data: &mut Vec<u8>) -> io::Result<usize> {
        rustix::net::recv(
            self.as_fd(),
            rustix::buffer::spare_capacity(data),
            RecvFlags::empty(),
        )
        .map(|(n, _)| n)
        .map_err(io::Error::from)
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

// Reads and writes never wait, whether the socket is in blocking mode or
// not: an open connection's socket is blocking only for the one receive
// that chooses to wait in it (`Socket::read_spare_waiting`).
impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        rustix::net::recv(self.as_fd(), buf, RecvFlags::DONTWAIT)
            .map(|(n, _)| n)
            .map_err(io::Error::from)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
        rustix::net::send(self.as_fd(), buf, flags).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A plain or TLS byte stream, or the caller's transport.
pub enum Stream {
    Plain(Socket),
    Tls(Box<SslStream<Socket>>),
    /// Bytes moved by the caller (see [`Pipe`]): no socket to wait on.
    Caller(Pipe),
}

impl Stream {
    /// The socket underneath, to wait on (none for the caller's transport).
    pub fn socket(&self) -> Option<&Socket> {
        match self {
            Stream::Plain(s) => Some(s),
            Stream::Tls(s) => Some(s.get_ref()),
            Stream::Caller(_) => None,
        }
    }

    fn tcp(&self) -> Option<&TcpStream> {
        self.socket().map(Socket::tcp)
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().map_or(Ok(()), |t| t.set_read_timeout(timeout))
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().map_or(Ok(()), |t| t.set_write_timeout(timeout))
    }

    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.tcp()
            .map_or(Ok(()), |t| t.set_nonblocking(nonblocking))
    }

    /// Bytes already read from the socket and decrypted, waiting in TLS:
    /// polling the socket would not show them; for the caller's transport,
    /// bytes it gave.
    pub fn has_buffered_input(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(s) => s.ssl().pending() > 0,
            Stream::Caller(p) => p.has_input(),
        }
    }

    /// Whether the TLS handshake resumed a session (false for plain TCP
    /// and the caller's transport).
    pub fn tls_resumed(&self) -> bool {
        match self {
            Stream::Tls(s) => s.ssl().session_reused(),
            Stream::Plain(_) | Stream::Caller(_) => false,
        }
    }

    /// The plain socket, for reads that bypass a buffer; `None` for TLS,
    /// whose bytes must be decrypted first, and the caller's transport.
    pub fn plain(&self) -> Option<&Socket> {
        match self {
            Stream::Plain(s) => Some(s),
            _ => None,
        }
    }

    /// End the connection: TLS close_notify first, then both TCP
    /// directions; the caller's transport is marked for the caller to close.
    pub fn shutdown(&mut self) {
        match self {
            Stream::Tls(s) => {
                let _ = s.shutdown();
            }
            Stream::Caller(p) => p.shut(),
            Stream::Plain(_) => {}
        }
        if let Some(tcp) = self.tcp() {
            let _ = tcp.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// An OpenSSL failure surfacing through a read or write (an alert from the
/// server, a bad record) is a TLS error, not plain I/O: it travels on inside
/// the `io::Error` as an [`Error`] of kind `Tls`, which `Error::from` keeps.
fn tls_io_error(e: io::Error) -> io::Error {
    let ssl = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<openssl::ssl::Error>());
    match ssl.filter(|s| s.code() == openssl::ssl::ErrorCode::SSL) {
        Some(ssl) => Error::exn(
            ErrorKind::Tls,
            tls::plain_tls_failure("TLS failure", &ssl.to_string()),
        )
        .into(),
        None => e,
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf).map_err(tls_io_error),
            Stream::Caller(p) => p.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf).map_err(tls_io_error),
            Stream::Caller(p) => p.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush().map_err(tls_io_error),
            Stream::Caller(_) => Ok(()),
        }
    }
}
