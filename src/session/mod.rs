//! The connection's protocol state, without I/O (tungstenite's
//! `WebSocketContext`, wslay's event context): the receiver, the sender, the
//! close handshake, every deadline and the output queue.
//!
//! Drivers only move bytes: they read into [`Session::read_space`], write
//! [`Session::pending_output`], and pass the time in. Nothing here blocks or
//! looks at a clock, so each deadline is tested with a made-up `now`.

mod keepalive;
mod outqueue;
mod pongs;
pub(crate) mod readbuf;

use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::proto::close::{self, CloseFrame};
use crate::proto::receiver::{Event, Mode, Receiver};
use crate::proto::sender::Sender;
use crate::proto::utf8::Utf8Validator;
use crate::proto::{Frame, Message, MessageType, OpCode};

pub use keepalive::Keepalive;
use keepalive::KeepaliveTimer;
pub use outqueue::WriteFn;
use outqueue::{OutQueue, STREAM_CHUNK};
pub use pongs::PongRecord;
use readbuf::ReadBuf;

/// The close code sent when a keepalive pong does not come back in time.
const KEEPALIVE_CLOSE_CODE: u16 = 1011;

/// The time, as the session asks for it: only when it needs it (a close, a
/// failure), so most receives and sends cost no clock read. Tests pass an
/// `Instant`; the driver passes a clock that reads the system time once,
/// on first use.
pub trait Now {
    fn now(&mut self) -> Instant;
}

impl Now for Instant {
    fn now(&mut self) -> Instant {
        *self
    }
}

impl<T: Now + ?Sized> Now for &mut T {
    fn now(&mut self) -> Instant {
        (**self).now()
    }
}

/// Session settings that the handshake does not negotiate.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// How long the server has to answer our close frame, and to close TCP
    /// after the close handshake.
    pub close_timeout: Duration,
    pub auto_pong: bool,
    pub keepalive: Option<Keepalive>,
    /// Queued output above which a new message waits (blocking) or is
    /// refused with `WouldBlock` (non-blocking). One message is always
    /// accepted into an empty queue, whatever its size.
    pub send_queue_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            close_timeout: Duration::from_secs(5),
            auto_pong: true,
            keepalive: None,
            send_queue_limit: 4 << 20,
        }
    }
}

/// Where the close handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Open,
    /// We sent a close frame; messages may still arrive until the server's.
    CloseSent,
    /// The close handshake finished or the connection failed. Queued output
    /// (our close frame) may still be written, and the server's TCP close
    /// awaited, until [`Session::finished`].
    Closed,
}

/// What a receive produced.
#[derive(Debug)]
pub enum Received {
    Message(Message),
    Frame(Frame),
    /// The server's close frame arrived (see [`Session::peer_close`]).
    Closed,
}

pub struct Session {
    receiver: Receiver,
    sender: Sender,
    rbuf: ReadBuf,
    out: OutQueue,
    state: State,
    config: Config,
    peer_close: Option<CloseFrame>,
    /// While `CloseSent`: when the server's close is overdue.
    close_deadline: Option<Instant>,
    /// While `Closed`: until when the server's TCP close is awaited.
    linger_deadline: Option<Instant>,
    /// The server closed TCP.
    eof: bool,
    /// A failure found outside a receive (a timer, a write), for the next
    /// receive to report.
    pending_error: Option<Error>,
    /// The mode in which a partly received message was started.
    partial: Option<Mode>,
    /// A message the caller is sending in parts ([`Session::send_part`]).
    sending_parts: Option<PartSend>,
    keepalive: Option<KeepaliveTimer>,
    pongs: PongRecord,
}

/// A message being sent in parts: what the caller declared, what it gave.
struct PartSend {
    kind: MessageType,
    total: u64,
    sent: u64,
    /// Text: the UTF-8 check carried from part to part.
    utf8: Option<Utf8Validator>,
}

impl Session {
    /// A session for a connection whose handshake just finished; `leftover`
    /// holds bytes read past the handshake response.
    pub fn new(
        receiver: Receiver,
        sender: Sender,
        leftover: &[u8],
        config: Config,
        now: Instant,
    ) -> Session {
        let mut rbuf = ReadBuf::default();
        rbuf.extend(leftover);
        Session {
            receiver,
            sender,
            rbuf,
            out: OutQueue::default(),
            state: State::Open,
            keepalive: config.keepalive.map(|k| KeepaliveTimer::new(k, now)),
            pongs: PongRecord::default(),
            config,
            peer_close: None,
            close_deadline: None,
            linger_deadline: None,
            eof: false,
            pending_error: None,
            partial: None,
            sending_parts: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The close frame the server sent, once it has.
    pub fn peer_close(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    // --- input -----------------------------------------------------------

    /// Where the driver reads to; sized for the rest of a large frame so it
    /// arrives in few system calls.
    pub fn read_space(&mut self) -> &mut [u8] {
        let want = self.receiver.frame_remaining().min(16 << 20) as usize;
        self.rbuf.space(want)
    }

    /// Where the driver may read instead of [`Session::read_space`]: the
    /// data of a message whose large frame is arriving (nothing else is
    /// buffered), so its payload is copied once, from the kernel into the
    /// message. Read into its spare capacity, then call
    /// [`Session::on_direct_read`] with the length it had before.
    pub fn direct_space(&mut self) -> Option<&mut Vec<u8>> {
        if self.state == State::Closed || !self.rbuf.data().is_empty() {
            return None;
        }
        self.receiver.direct_sink()
    }

    /// A read into [`Session::direct_space`] grew it from `before` bytes.
    pub fn on_direct_read(&mut self, before: usize) {
        let rbuf = &mut self.rbuf;
        self.receiver
            .direct_filled(before, |rest| rbuf.extend(rest));
    }

    /// `n` bytes were read into [`Session::read_space`].
    pub fn on_read(&mut self, n: usize) {
        self.rbuf.commit(n);
        if self.state == State::Closed {
            // Nothing after the close handshake matters.
            let all = self.rbuf.data().len();
            self.rbuf.consume(all);
        }
    }

    /// The server closed TCP (a read returned 0).
    pub fn on_eof(&mut self) {
        self.eof = true;
    }

    /// Whether the socket probably has more bytes now (the last read filled
    /// its room): then reading first saves a wait.
    pub fn more_input_likely(&self) -> bool {
        self.rbuf.last_read_filled()
    }

    /// The next message (or, in frame mode, frame) from the buffered input,
    /// answering pings and closes on the way. `Ok(None)`: more input needed.
    pub fn receive(&mut self, mode: Mode, mut now: impl Now) -> Result<Option<Received>> {
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        if self.state == State::Closed {
            return Err(Error::invalid_state("the connection is closed"));
        }
        if self.partial.is_some_and(|m| m != mode) {
            return Err(Error::invalid_state(match mode {
                Mode::Messages => {
                    "a message is partly received as frames; receive the rest of it as frames"
                }
                Mode::Frames => "a message is partly received; receive the rest of it as a message",
            }));
        }
        loop {
            let (used, event) = match self.receiver.read_as(self.rbuf.data(), mode) {
                Ok(r) => r,
                Err(e) => return Err(self.fail(e, now.now())),
            };
            self.rbuf.consume(used);
            if !self.receiver.in_message() {
                self.rbuf.shrink();
            }
            self.partial = self.receiver.in_message().then_some(mode);
            let Some(event) = event else {
                if self.eof {
                    return Err(self.lose(Error::exn(
                        ErrorKind::ConnectionLost,
                        "the server closed the TCP connection without a close frame",
                    )));
                }
                return Ok(None);
            };
            match event {
                Event::Message(m) => return Ok(Some(Received::Message(m))),
                Event::Ping(payload) => {
                    if self.config.auto_pong && self.state == State::Open {
                        self.queue_frame(true, 0, OpCode::Pong as u8, &payload);
                    }
                }
                Event::Pong(payload) => self.on_pong(&payload),
                Event::Close(frame) => {
                    self.on_peer_close(frame, true, now.now());
                    return Ok(Some(Received::Closed));
                }
                Event::Frame(frame) => {
                    match OpCode::from_u8(frame.opcode) {
                        Some(OpCode::Pong) => self.on_pong(&frame.payload),
                        Some(OpCode::Close) => {
                            // Frame mode answers nothing: the caller sends the close reply.
                            let parsed = CloseFrame::parse(&frame.payload)
                                .expect("the receiver validated it");
                            self.on_peer_close(parsed, false, now.now());
                        }
                        _ => {}
                    }
                    return Ok(Some(Received::Frame(frame)));
                }
            }
        }
    }

    fn on_pong(&mut self, payload: &[u8]) {
        self.pongs.on_pong(payload);
        if let Some(k) = self.keepalive.as_mut() {
            k.on_pong(payload);
        }
    }

    /// The server's close frame: answer it (echoing its code, as RFC 6455
    /// §5.5.1 suggests) unless we already sent ours or the caller answers.
    fn on_peer_close(&mut self, frame: CloseFrame, answer: bool, now: Instant) {
        if self.state == State::Open && answer {
            self.queue_frame(
                true,
                0,
                OpCode::Close as u8,
                &CloseFrame::payload(frame.code, ""),
            );
            self.state = State::CloseSent;
        }
        self.peer_close = Some(frame);
        if self.state == State::CloseSent {
            self.end(now);
        }
    }

    /// Fail the connection after a protocol error: queue the close code (for
    /// a *fail*) and stop.
    pub fn fail(&mut self, error: Error, now: Instant) -> Error {
        if self.state == State::Open {
            if let Some(code) = error.close_code() {
                let payload = CloseFrame::payload(Some(code), error.message());
                self.queue_frame(true, 0, OpCode::Close as u8, &payload);
            }
        }
        self.end(now);
        error
    }

    /// The WebSocket is over; the server gets the close timeout to close TCP.
    fn end(&mut self, now: Instant) {
        self.state = State::Closed;
        self.partial = None;
        self.sending_parts = None;
        self.close_deadline = None;
        self.keepalive = None;
        self.linger_deadline = Some(now + self.config.close_timeout);
    }

    /// The transport broke: nothing more can be written or read.
    fn lose(&mut self, error: Error) -> Error {
        self.state = State::Closed;
        self.partial = None;
        self.sending_parts = None;
        self.close_deadline = None;
        self.keepalive = None;
        self.linger_deadline = None;
        self.eof = true;
        self.out.discard();
        error
    }

    /// The connection is over with nothing left to do (the socket failed,
    /// or the server did not answer our close in time): drop what is queued,
    /// and keep the error for the next receive too.
    pub fn abandon(&mut self, error: Error) -> Error {
        let error = self.lose(error);
        self.pending_error = Some(error.clone());
        error
    }

    // --- commands --------------------------------------------------------

    fn check_writable(&self) -> Result<()> {
        match self.state {
            State::Open => Ok(()),
            State::CloseSent => Err(Error::invalid_state("the connection is closing")),
            State::Closed => Err(Error::invalid_state("the connection is closed")),
        }
    }

    /// Whether a message of `len` bytes fits in the send queue now.
    pub fn has_room_for(&self, len: usize) -> bool {
        self.out.is_idle() || self.out.backlog().saturating_add(len) <= self.config.send_queue_limit
    }

    /// Queue a data message. Returns the output offset at which it is fully
    /// written (compare with [`Session::written_total`]).
    pub fn send(&mut self, kind: MessageType, data: &[u8], compress: bool) -> Result<u64> {
        self.check_message(kind, data)?;
        self.sender
            .encode_message(kind, data, compress, &mut self.out)?;
        Ok(self.out.queued_total())
    }

    /// [`Session::send`], writing with `write` while encoding: a large
    /// payload is masked and written 32 KiB at a time (what the socket does
    /// not take stays queued), so it is not first copied whole.
    pub fn send_streaming(
        &mut self,
        kind: MessageType,
        data: &[u8],
        compress: bool,
        write: WriteFn<'_>,
    ) -> Result<u64> {
        self.check_message(kind, data)?;
        self.sender
            .encode_message(kind, data, compress, &mut self.out.streaming(write))?;
        Ok(self.out.queued_total())
    }

    /// Whether `data` can be sent paced ([`Session::open_message`]): one
    /// uncompressed frame, and no other paced message under way.
    pub fn can_pace(&self, len: usize, compress: bool) -> bool {
        self.sender.sends_whole(len, compress) && !self.out.is_open()
    }

    /// Start a message whose payload the caller feeds in pieces
    /// ([`Session::feed`]) as the socket takes them, so it is never queued
    /// whole. Returns the output offset at which it is fully written.
    pub fn open_message(&mut self, kind: MessageType, data: &[u8]) -> Result<u64> {
        self.check_message(kind, data)?;
        let (header, n, key) = self.sender.message_header(kind, data.len() as u64);
        self.out.open(&header[..n], key, data.len() as u64);
        Ok(self.out.queued_total())
    }

    /// The next part of a message sent in parts, for a caller that must not
    /// have a large message copied whole: the first call (no such message
    /// under way) starts it, with its type and total size; later calls must
    /// give the same. Takes bytes of `data` in 32 KiB pieces while less than
    /// one piece waits for the socket (all of them when `all`), and returns
    /// how many it took. The message goes out as one uncompressed frame;
    /// frames queued meanwhile follow it. Text is checked piece by piece: a
    /// piece that cannot continue valid UTF-8 (or ends the message inside a
    /// character) is refused, with what came before it taken.
    pub fn send_part(
        &mut self,
        kind: MessageType,
        total: u64,
        data: &[u8],
        all: bool,
    ) -> Result<usize> {
        match &self.sending_parts {
            None => self.begin_parts(kind, total)?,
            Some(_) if !self.out.is_open() => {
                // The connection was lost and the frame dropped with it.
                self.sending_parts = None;
                return Err(self.lost());
            }
            Some(p) if p.kind != kind || p.total != total => {
                return Err(Error::invalid_argument(format!(
                    "a {:?} message of {} bytes is being sent in parts: finish it first",
                    p.kind, p.total
                )));
            }
            Some(_) => {}
        }
        let mut taken = 0;
        if let Some(parts) = &mut self.sending_parts {
            if data.len() as u64 > parts.total - parts.sent {
                return Err(Error::invalid_argument(format!(
                    "{} bytes given where {} of the message remain",
                    data.len(),
                    parts.total - parts.sent
                )));
            }
            while taken < data.len() && (all || self.out.len() < STREAM_CHUNK) {
                let piece = &data[taken..data.len().min(taken + STREAM_CHUNK)];
                if let Some(utf8) = &mut parts.utf8 {
                    let mut next = utf8.clone();
                    let last = parts.sent + piece.len() as u64 == parts.total;
                    if !next.feed(piece) || (last && !next.is_complete()) {
                        if taken > 0 {
                            break; // the next call starts at this piece and is refused
                        }
                        return Err(Error::invalid_argument(
                            "the text message's part is not valid UTF-8",
                        ));
                    }
                    *utf8 = next;
                }
                self.out.put_open(piece);
                parts.sent += piece.len() as u64;
                taken += piece.len();
            }
            if parts.sent == parts.total {
                self.sending_parts = None;
            }
        }
        Ok(taken)
    }

    fn begin_parts(&mut self, kind: MessageType, total: u64) -> Result<()> {
        self.check_writable()?;
        if self.out.is_open() {
            return Err(Error::exn(
                ErrorKind::WouldBlock,
                "another thread's large message is being written; try again",
            ));
        }
        let (header, n, key) = self.sender.message_header(kind, total);
        self.out.open(&header[..n], key, total);
        if total > 0 {
            self.sending_parts = Some(PartSend {
                kind,
                total,
                sent: 0,
                utf8: (kind == MessageType::Text).then(Utf8Validator::default),
            });
        }
        Ok(())
    }

    /// Whether a frame is being written piece by piece (a paced send or a
    /// message in parts): frames queued now wait behind it.
    pub fn frame_open(&self) -> bool {
        self.out.is_open()
    }

    /// Whether a message sent in parts is under way.
    pub fn sending_parts(&self) -> bool {
        self.sending_parts.is_some()
    }

    fn lost(&self) -> Error {
        self.pending_error
            .clone()
            .unwrap_or_else(|| Error::exn(ErrorKind::ConnectionLost, "the connection was lost"))
    }

    /// Queue the payload of the open message from `at`: one 32 KiB piece
    /// when less than that waits for the socket (so the piece is still in
    /// cache when it is written), all of it when `all`. Returns where it
    /// stopped; an error when the connection was lost since.
    pub fn feed(&mut self, data: &[u8], at: usize, all: bool) -> Result<usize> {
        let mut at = at;
        while at < data.len() {
            if !self.out.is_open() {
                return Err(self.lost());
            }
            if !all && self.out.len() >= STREAM_CHUNK {
                break;
            }
            let end = data.len().min(at + STREAM_CHUNK);
            self.out.put_open(&data[at..end]);
            at = end;
        }
        Ok(at)
    }

    fn check_message(&self, kind: MessageType, data: &[u8]) -> Result<()> {
        self.check_writable()?;
        if kind == MessageType::Text && !crate::proto::utf8::is_valid(data) {
            return Err(Error::invalid_argument("text message is not valid UTF-8"));
        }
        self.check_room(data.len())
    }

    fn check_room(&self, len: usize) -> Result<()> {
        if self.has_room_for(len) {
            Ok(())
        } else {
            Err(Error::exn(
                ErrorKind::WouldBlock,
                format!(
                    "the send queue is full ({} bytes queued, limit {})",
                    self.out.len(),
                    self.config.send_queue_limit
                ),
            ))
        }
    }

    /// Low-level: queue one frame as given (RSV bits are never added).
    /// Sending a close frame starts (or completes) the close handshake.
    pub fn send_frame(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: u8,
        payload: &[u8],
        now: Instant,
    ) -> Result<u64> {
        self.check_writable()?;
        if rsv > 7 || opcode > 15 {
            return Err(Error::invalid_argument("rsv must be 0..7 and opcode 0..15"));
        }
        let control = opcode & 0x8 != 0;
        if !control {
            self.check_room(payload.len())?;
        }
        self.queue_frame(fin, rsv, opcode, payload);
        if opcode == OpCode::Close as u8 {
            self.close_sent(now);
        }
        Ok(self.out.queued_total())
    }

    /// Queue a ping (at most 125 bytes of payload).
    pub fn ping(&mut self, payload: &[u8]) -> Result<u64> {
        self.check_writable()?;
        Sender::check_control_payload(payload)?;
        self.queue_frame(true, 0, OpCode::Ping as u8, payload);
        Ok(self.out.queued_total())
    }

    /// Start the close handshake with `code` (None: an empty close frame).
    /// The server's close is due within the close timeout from now.
    pub fn close(&mut self, code: Option<u16>, reason: &str, now: Instant) -> Result<u64> {
        self.check_writable()?;
        if let Some(c) = code.filter(|&c| !close::is_sendable(c)) {
            return Err(Error::invalid_argument(format!(
                "close code {c} may not be sent"
            )));
        }
        if code.is_none() && !reason.is_empty() {
            return Err(Error::invalid_argument("a close reason needs a close code"));
        }
        let payload = CloseFrame::payload(code, reason);
        self.queue_frame(true, 0, OpCode::Close as u8, &payload);
        self.close_sent(now);
        Ok(self.out.queued_total())
    }

    fn close_sent(&mut self, now: Instant) {
        self.state = State::CloseSent;
        self.keepalive = None;
        if self.peer_close.is_some() {
            self.end(now);
        } else {
            self.close_deadline = Some(now + self.config.close_timeout);
        }
    }

    fn queue_frame(&mut self, fin: bool, rsv: u8, opcode: u8, payload: &[u8]) {
        self.sender
            .encode_frame(fin, rsv, opcode, payload, &mut self.out);
    }

    // --- output ----------------------------------------------------------

    /// Bytes waiting for the socket, oldest first.
    pub fn pending_output(&self) -> &[u8] {
        self.out.pending()
    }

    /// `n` bytes of [`Session::pending_output`] were written.
    pub fn on_written(&mut self, n: usize) {
        self.out.advance(n);
    }

    /// The driver wrote all it could: an emptied output queue gives back
    /// memory it no longer uses.
    pub fn on_write_done(&mut self) {
        self.out.trim();
    }

    pub fn queued_bytes(&self) -> usize {
        self.out.backlog()
    }

    /// The pongs received so far.
    pub fn pongs(&self) -> &PongRecord {
        &self.pongs
    }

    pub fn written_total(&self) -> u64 {
        self.out.written_total()
    }

    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Whether the socket is still worth reading: the WebSocket is open, or
    /// the server's TCP close is still awaited.
    pub fn wants_read(&self) -> bool {
        !self.eof && (self.state != State::Closed || self.linger_deadline.is_some())
    }

    /// Nothing is left to write or to wait for: the socket can be shut.
    pub fn finished(&self) -> bool {
        self.state == State::Closed && self.out.is_idle() && !self.wants_read()
    }

    // --- time ------------------------------------------------------------

    /// The earliest deadline: a keepalive ping or pong, the close timeout,
    /// the end of the wait for the server's TCP close.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.keepalive.as_ref().map(KeepaliveTimer::next_deadline),
            self.close_deadline,
            self.linger_deadline.filter(|_| self.wants_read()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Act on the deadlines that have passed: send a keepalive ping, fail a
    /// connection whose pong or close answer is overdue, stop waiting for
    /// the server's TCP close. An error is also kept for the next receive.
    pub fn on_timer(&mut self, now: Instant) -> Result<()> {
        if self.linger_deadline.is_some_and(|d| now >= d) {
            // The server had its time: whatever it did not read is dropped.
            self.linger_deadline = None;
            self.out.discard();
        }
        if self.close_deadline.is_some_and(|d| now >= d) {
            let error = Error::exn(
                ErrorKind::Timeout,
                format!(
                    "the server did not answer the close frame within {} ms",
                    self.config.close_timeout.as_millis()
                ),
            );
            return Err(self.abandon(error));
        }
        let Some(timer) = self.keepalive.as_mut() else {
            return Ok(());
        };
        match timer.on_timer(now) {
            keepalive::Due::Nothing => Ok(()),
            keepalive::Due::Ping(payload) => {
                self.queue_frame(true, 0, OpCode::Ping as u8, &payload);
                Ok(())
            }
            keepalive::Due::Failed(waited) => {
                let message = format!(
                    "keepalive: no pong within {} ms of our ping",
                    waited.as_millis()
                );
                let payload = CloseFrame::payload(Some(KEEPALIVE_CLOSE_CODE), "keepalive timeout");
                self.queue_frame(true, 0, OpCode::Close as u8, &payload);
                self.end(now);
                let error = Error::exn(ErrorKind::Timeout, message);
                self.pending_error = Some(error.clone());
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests;
