//! An open WebSocket connection: the protocol core driven over a stream.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::client::readbuf::ReadBuf;
use crate::deflate::DeflateParams;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::close::{self, CloseFrame};
use crate::proto::receiver::{Event, Receiver};
use crate::proto::sender::Sender;
use crate::proto::{Frame, Message, MessageType, OpCode};
use crate::transport::Stream;

/// Where the close handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Open,
    /// We sent a close frame; messages may still arrive until the server's.
    CloseSent,
    /// The close handshake finished or the connection failed; the socket is shut.
    Closed,
}

pub struct Connection {
    stream: Stream,
    rbuf: ReadBuf,
    wbuf: Vec<u8>,
    receiver: Receiver,
    sender: Sender,
    state: State,
    peer_close: Option<CloseFrame>,
    deflate: Option<DeflateParams>,
    subprotocol: Option<String>,
    headers: Vec<(String, String)>,
    close_timeout: Duration,
    auto_pong: bool,
    nonblocking: bool,
}

/// Negotiated facts handed over by the handshake.
pub(crate) struct Agreed {
    pub deflate: Option<DeflateParams>,
    pub subprotocol: Option<String>,
    pub headers: Vec<(String, String)>,
    pub close_timeout: Duration,
    pub auto_pong: bool,
}

impl Connection {
    pub(crate) fn new(
        stream: Stream,
        leftover: &[u8],
        receiver: Receiver,
        sender: Sender,
        agreed: Agreed,
    ) -> Connection {
        let mut rbuf = ReadBuf::default();
        rbuf.extend(leftover);
        Connection {
            stream,
            rbuf,
            wbuf: Vec::new(),
            receiver,
            sender,
            state: State::Open,
            peer_close: None,
            deflate: agreed.deflate,
            subprotocol: agreed.subprotocol,
            headers: agreed.headers,
            close_timeout: agreed.close_timeout,
            auto_pong: agreed.auto_pong,
            nonblocking: false,
        }
    }

    /// Change the read and write timeouts (None: block). A read timeout
    /// leaves the connection usable.
    pub fn set_timeouts(&mut self, read: Option<Duration>, write: Option<Duration>) -> Result<()> {
        self.stream.set_read_timeout(read)?;
        self.stream.set_write_timeout(write)?;
        Ok(())
    }

    /// In non-blocking mode a receive that would wait returns an error of
    /// kind [`ErrorKind::WouldBlock`] and keeps what it has read so far; poll
    /// the socket and call again. Sends still complete (they block briefly).
    pub fn set_nonblocking(&mut self, nonblocking: bool) -> Result<()> {
        self.stream.set_nonblocking(nonblocking)?;
        self.nonblocking = nonblocking;
        Ok(())
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The close frame the server sent, once it has.
    pub fn peer_close(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The headers of the server's 101 response.
    pub fn response_headers(&self) -> &[(String, String)] {
        &self.headers
    }

    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// Receive the next message, answering pings on the way. `Ok(None)`: the
    /// server closed the connection (see [`Connection::peer_close`]).
    pub fn recv_message(&mut self) -> Result<Option<Message>> {
        self.check_readable()?;
        loop {
            let (used, event) = match self.receiver.read(self.rbuf.data()) {
                Ok(r) => r,
                Err(e) => return Err(self.fail(e)),
            };
            self.rbuf.consume(used);
            match event {
                None => {
                    // Read the rest of a large frame in few system calls.
                    let want = self.receiver.frame_remaining().min(16 << 20) as usize;
                    self.fill(want)?
                }
                Some(Event::Message(m)) => return Ok(Some(m)),
                Some(Event::Ping(payload)) => {
                    if self.auto_pong && self.state == State::Open {
                        self.write_frame(true, 0, OpCode::Pong as u8, &payload)?;
                    }
                }
                Some(Event::Pong(_)) => {}
                Some(Event::Close(frame)) => {
                    self.on_peer_close(frame);
                    return Ok(None);
                }
            }
        }
    }

    /// Low-level: the next whole frame, without reassembly or automatic
    /// replies. A close frame received here is the caller's to answer.
    pub fn recv_frame(&mut self) -> Result<Frame> {
        self.check_readable()?;
        loop {
            match self.receiver.read_frame(self.rbuf.data()) {
                Ok(Some((frame, used))) => {
                    self.rbuf.consume(used);
                    return Ok(frame);
                }
                Ok(None) => {
                    let need = Receiver::frame_len(self.rbuf.data())
                        .ok()
                        .flatten()
                        .unwrap_or(0) as usize;
                    self.fill(need.saturating_sub(self.rbuf.data().len()))?
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    pub fn send_text(&mut self, text: &str) -> Result<()> {
        self.send(MessageType::Text, text.as_bytes(), true)
    }

    pub fn send_binary(&mut self, data: &[u8]) -> Result<()> {
        self.send(MessageType::Binary, data, true)
    }

    pub fn send_message(&mut self, message: &Message) -> Result<()> {
        self.send(message.kind, &message.data, true)
    }

    /// Send a data message; `compress` = false sends it uncompressed even
    /// when permessage-deflate is in use.
    pub fn send(&mut self, kind: MessageType, data: &[u8], compress: bool) -> Result<()> {
        self.check_writable()?;
        if kind == MessageType::Text && std::str::from_utf8(data).is_err() {
            return Err(Error::invalid_argument("text message is not valid UTF-8"));
        }
        let mut wbuf = std::mem::take(&mut self.wbuf);
        wbuf.clear();
        let encoded = self.sender.encode_message(kind, data, compress, &mut wbuf);
        let result = encoded.and_then(|_| self.write_all(&wbuf));
        self.wbuf = wbuf;
        if self.wbuf.capacity() > 1 << 20 {
            self.wbuf = Vec::new();
        }
        result
    }

    /// Low-level: send one frame as given (RSV bits are never added). It is
    /// masked with a fresh key. Sending a close frame starts the close handshake.
    pub fn send_frame(&mut self, fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Result<()> {
        self.check_writable()?;
        if rsv > 7 || opcode > 15 {
            return Err(Error::invalid_argument("rsv must be 0..7 and opcode 0..15"));
        }
        self.write_frame(fin, rsv, opcode, payload)?;
        if opcode == OpCode::Close as u8 {
            self.state = State::CloseSent;
        }
        Ok(())
    }

    pub fn ping(&mut self, payload: &[u8]) -> Result<()> {
        self.check_writable()?;
        Sender::check_control_payload(payload)?;
        self.write_frame(true, 0, OpCode::Ping as u8, payload)
    }

    /// Start the close handshake with `code` (None: an empty close frame).
    /// Keep receiving until `recv_message` returns `Ok(None)`.
    pub fn close(&mut self, code: Option<u16>, reason: &str) -> Result<()> {
        self.check_writable()?;
        if let Some(c) = code.filter(|&c| !close::is_sendable(c)) {
            return Err(Error::invalid_argument(format!(
                "close code {c} may not be sent"
            )));
        }
        if code.is_none() && !reason.is_empty() {
            return Err(Error::invalid_argument("a close reason needs a close code"));
        }
        self.write_frame(
            true,
            0,
            OpCode::Close as u8,
            &CloseFrame::payload(code, reason),
        )?;
        self.state = State::CloseSent;
        // The server's answer is awaited for at most the close timeout.
        let current = self.stream.read_timeout().ok().flatten();
        let bounded = current.map_or(self.close_timeout, |t| t.min(self.close_timeout));
        self.stream
            .set_read_timeout(Some(bounded.max(Duration::from_millis(1))))?;
        Ok(())
    }

    /// Fail the connection after a protocol error: send the close code (for
    /// a *fail*), wait briefly for the server to close, shut the socket.
    pub fn fail(&mut self, error: Error) -> Error {
        if self.state == State::Open {
            if let Some(code) = error.close_code() {
                let payload = CloseFrame::payload(Some(code), error.message());
                let _ = self.write_frame(true, 0, OpCode::Close as u8, &payload);
            }
        }
        self.finish();
        error
    }

    fn on_peer_close(&mut self, frame: CloseFrame) {
        if self.state == State::Open {
            let payload = CloseFrame::payload(frame.code, "");
            let _ = self.write_frame(true, 0, OpCode::Close as u8, &payload);
        }
        self.peer_close = Some(frame);
        self.finish();
    }

    /// The server closes TCP first (RFC 6455 §7.1.1); wait for that, bounded.
    fn finish(&mut self) {
        self.state = State::Closed;
        let _ = self.stream.set_nonblocking(false);
        let deadline = Instant::now() + self.close_timeout;
        let mut scratch = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stream.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match self.stream.read(&mut scratch) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        self.stream.shutdown();
    }

    fn check_readable(&self) -> Result<()> {
        match self.state {
            State::Closed => Err(Error::invalid_state("the connection is closed")),
            _ => Ok(()),
        }
    }

    fn check_writable(&self) -> Result<()> {
        match self.state {
            State::Open => Ok(()),
            State::CloseSent => Err(Error::invalid_state("the connection is closing")),
            State::Closed => Err(Error::invalid_state("the connection is closed")),
        }
    }

    fn write_frame(&mut self, fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Result<()> {
        let mut wbuf = std::mem::take(&mut self.wbuf);
        wbuf.clear();
        self.sender
            .encode_frame(fin, rsv, opcode, payload, &mut wbuf);
        let result = self.write_all(&wbuf);
        self.wbuf = wbuf;
        result
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        if self.nonblocking {
            // A frame is written whole: a partial write cannot be resumed.
            self.stream.set_nonblocking(false)?;
        }
        let mut result = self
            .stream
            .write_all(bytes)
            .and_then(|_| self.stream.flush());
        if self.nonblocking {
            result = result.and_then(|_| self.stream.set_nonblocking(true));
        }
        // A write that failed part-way leaves a broken frame: the
        // connection cannot continue, whatever the cause.
        result.map_err(|e| {
            self.state = State::Closed;
            self.stream.shutdown();
            e.into()
        })
    }

    /// Read more bytes; the peer vanishing is an *exn* (no close to send).
    fn fill(&mut self, want: usize) -> Result<()> {
        match self.rbuf.fill(&mut self.stream, want) {
            Ok(0) => Err(self.io_failure(Error::exn(
                ErrorKind::ConnectionLost,
                "the server closed the TCP connection without a close frame",
            ))),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(()),
            Err(e) if self.nonblocking && e.kind() == std::io::ErrorKind::WouldBlock => {
                Err(Error::exn(ErrorKind::WouldBlock, "no data available yet"))
            }
            Err(e) => Err(self.io_failure(e.into())),
        }
    }

    /// A timeout leaves the connection usable; any other I/O error ends it.
    /// (A read timeout shows up as `WouldBlock` from the OS, hence `Timeout`.)
    fn io_failure(&mut self, error: Error) -> Error {
        if error.kind() == ErrorKind::Timeout && self.state == State::CloseSent {
            self.state = State::Closed;
            self.stream.shutdown();
            return Error::exn(
                ErrorKind::Timeout,
                "the server did not answer the close frame in time",
            );
        }
        if error.kind() != ErrorKind::Timeout {
            self.state = State::Closed;
            self.stream.shutdown();
        }
        error
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.state != State::Closed {
            self.stream.shutdown();
        }
    }
}
