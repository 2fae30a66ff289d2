//! The connection's protocol state, without I/O (tungstenite's
//! `WebSocketContext`, wslay's event context): the receiver, the sender, the
//! close handshake, every deadline and the output queue.
//!
//! Drivers only move bytes: they read into [`Session::read_space`], write
//! [`Session::pending_output`], and pass the time in. Nothing here blocks or
//! looks at a clock, so each deadline is tested with a made-up `now`.

mod control;
mod keepalive;
mod outqueue;
mod parts;
mod pongs;
pub(crate) mod readbuf;

use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::observe::{Field, Stats, Trace, TraceEvent, TraceKind};
use crate::proto::close::{self, CloseFrame};
use crate::proto::receiver::{Event, Mode, Receiver};
use crate::proto::sender::{FrameSink, Sender};
use crate::proto::{Frame, Message, MessageType, OpCode};

use control::{encode_control, ControlKind};
pub use keepalive::Keepalive;
use keepalive::KeepaliveTimer;
use outqueue::OutQueue;
pub use outqueue::{Fate, Ticket};
use parts::Parts;
pub use parts::PIECE;
pub use pongs::PongRecord;
use readbuf::ReadBuf;

/// The most read at once while a message is received in parts.
const PART_READ: u64 = 64 << 10;

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
    /// accepted into an empty queue, whatever its size; a message sent in
    /// parts has at most 64 KiB (or this limit) waiting at a time.
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
    /// Part mode: the next piece of a data message; `last` ends it.
    Part {
        kind: MessageType,
        data: Vec<u8>,
        last: bool,
    },
}

/// What [`Session::take_buffered`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffered {
    /// A message of this type and length, now in the caller's room.
    Taken(MessageType, usize),
    /// A whole message of this length that does not fit the room: left.
    TooBig(usize),
    /// Something else, for [`Session::receive`].
    Other,
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
    /// A message being sent in parts: given whole to a blocking send
    /// ([`Session::begin_message`]) or part by part by the caller
    /// ([`Session::send_part`], then `parts_by_caller`).
    parts: Option<Parts>,
    parts_by_caller: bool,
    keepalive: Option<KeepaliveTimer>,
    pongs: PongRecord,
    /// The counters (frames are counted by the receiver and the queue).
    stats: Stats,
    /// Our last ping and when it was queued, for the round trip time.
    ping_out: Option<(Vec<u8>, Instant)>,
    trace: Option<Trace>,
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
            parts: None,
            parts_by_caller: false,
            stats: Stats {
                bytes_in: leftover.len() as u64,
                ..Stats::default()
            },
            ping_out: None,
            trace: None,
        }
    }

    /// Report what the session does from now on (frames both ways, pings,
    /// pongs, closes, failures) to `trace`.
    pub fn set_trace(&mut self, trace: Option<Trace>) {
        self.receiver.set_trace(trace.clone());
        self.out.set_trace(trace.clone());
        self.trace = trace;
    }

    fn emit(&self, event: impl FnOnce() -> TraceEvent) {
        if let Some(t) = &self.trace {
            t.emit(event());
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        Stats {
            frames_in: self.receiver.frames(),
            frames_out: self.out.frames(),
            ..self.stats
        }
    }

    /// `n` bytes came from the socket (into either read space).
    pub fn count_read(&mut self, n: usize) {
        self.stats.bytes_in += n as u64;
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
        // A message received in parts is read a little at a time: memory
        // stays bounded whatever its size.
        let most = if self.partial == Some(Mode::Parts) {
            PART_READ
        } else {
            16 << 20
        };
        let want = self.receiver.frame_remaining().min(most) as usize;
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

    /// Bytes read by the driver into a buffer of its own, `landed`: taken
    /// (its storage may be swapped with the read buffer's), and `landed`
    /// left empty for the next read.
    pub fn on_landed(&mut self, landed: &mut Vec<u8>) {
        if self.state == State::Closed {
            landed.clear();
        } else {
            self.rbuf.adopt(landed);
        }
    }

    /// Payload bytes of the frame being received not yet read (0 between
    /// frames).
    pub fn frame_remaining(&self) -> u64 {
        self.receiver.frame_remaining()
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

    /// Part mode: hand out pieces of at most `size` bytes.
    pub fn set_part_size(&mut self, size: usize) {
        self.receiver.set_part_size(size);
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
            return Err(Error::invalid_state(match self.partial {
                Some(Mode::Frames) => {
                    "a message is partly received as frames; receive the rest of it as frames"
                }
                Some(Mode::Parts) => {
                    "a message is partly received in parts; receive the rest of it in parts"
                }
                _ => "a message is partly received; receive the rest of it as a message",
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
                Event::Message(m) => {
                    self.stats.messages_in += 1;
                    self.stats.payload_in += m.data.len() as u64;
                    return Ok(Some(Received::Message(m)));
                }
                Event::Part { kind, data, last } => {
                    self.stats.messages_in += last as u64;
                    self.stats.payload_in += data.len() as u64;
                    return Ok(Some(Received::Part { kind, data, last }));
                }
                Event::Ping(payload) => {
                    if self.config.auto_pong && self.state == State::Open {
                        self.queue_control(ControlKind::Pong, OpCode::Pong, &payload);
                    }
                }
                Event::Pong(payload) => self.on_pong(&payload, &mut now),
                Event::Close(frame) => {
                    self.on_peer_close(frame, true, now.now());
                    return Ok(Some(Received::Closed));
                }
                Event::Frame(frame) => {
                    if frame.opcode & 0x8 == 0 {
                        self.stats.payload_in += frame.payload.len() as u64;
                        self.stats.messages_in += frame.fin as u64;
                    }
                    match OpCode::from_u8(frame.opcode) {
                        Some(OpCode::Pong) => self.on_pong(&frame.payload, &mut now),
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

    /// A batch receive's step: the next message when it lies whole in the
    /// read buffer as one unfragmented, uncompressed frame, copied into
    /// `room` when it fits ([`Buffered::TooBig`] leaves it where it is).
    /// [`Buffered::Other`] for anything else (a control frame, a fragment,
    /// a compressed or partial frame, an error to report): nothing taken,
    /// for [`Session::receive`] to handle.
    pub fn take_buffered(&mut self, room: &mut [u8], mut now: impl Now) -> Result<Buffered> {
        if self.pending_error.is_some() || self.state == State::Closed || self.partial.is_some() {
            return Ok(Buffered::Other);
        }
        let Some(whole) = self.receiver.whole_message(self.rbuf.data()) else {
            return Ok(Buffered::Other);
        };
        let len = whole.payload.len();
        if len > room.len() {
            return Ok(Buffered::TooBig(len));
        }
        if let Err(e) = self.receiver.took(&whole, self.rbuf.data()) {
            return Err(self.fail(e, now.now()));
        }
        room[..len].copy_from_slice(&self.rbuf.data()[whole.payload.clone()]);
        self.rbuf.consume(whole.payload.end);
        self.rbuf.shrink();
        self.stats.messages_in += 1;
        self.stats.payload_in += len as u64;
        Ok(Buffered::Taken(whole.kind, len))
    }

    fn on_pong(&mut self, payload: &[u8], mut now: impl Now) {
        self.stats.pongs_received += 1;
        let rtt = match &self.ping_out {
            Some((sent, at)) if sent == payload => {
                let rtt = now.now().saturating_duration_since(*at);
                self.stats.on_rtt(rtt);
                self.ping_out = None;
                Some(rtt)
            }
            _ => None,
        };
        self.emit(|| {
            let e = TraceEvent::new(TraceKind::PongReceived, "pong received");
            match rtt {
                Some(rtt) => TraceEvent {
                    text: format!("pong received: round trip {} us", rtt.as_micros()),
                    ..e.number(Field::RttUs, rtt.as_micros())
                },
                None => e,
            }
        });
        self.pongs.on_pong(payload);
        if let Some(k) = self.keepalive.as_mut() {
            k.on_pong(payload);
        }
    }

    /// The server's close frame: answer it (echoing its code, as RFC 6455
    /// §5.5.1 suggests) unless we already sent ours or the caller answers.
    fn on_peer_close(&mut self, frame: CloseFrame, answer: bool, now: Instant) {
        self.emit(|| close_event(TraceKind::CloseReceived, "close received", &frame));
        if self.state == State::Open && answer {
            let payload = CloseFrame::payload(frame.code, "");
            self.queue_control(ControlKind::Close, OpCode::Close, &payload);
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
        self.emit(|| TraceEvent::failure(&error));
        if self.state == State::Open {
            if let Some(code) = error.close_code() {
                let payload = CloseFrame::payload(Some(code), error.message());
                self.queue_control(ControlKind::Close, OpCode::Close, &payload);
            }
        }
        self.end(now);
        error
    }

    /// The WebSocket is over; the server gets the close timeout to close TCP.
    fn end(&mut self, now: Instant) {
        self.state = State::Closed;
        self.partial = None;
        self.close_deadline = None;
        self.keepalive = None;
        self.linger_deadline = Some(now + self.config.close_timeout);
        if let Some(parts) = self.parts.take() {
            // A message in parts cannot be finished now; when one of its
            // frames is half written, nothing else (our close) can follow,
            // and waiting for the server's TCP close would wait for nothing.
            if !self.out.abort_message(parts.ticket()) {
                self.out.discard();
                self.linger_deadline = None;
                self.eof = true;
            }
        }
    }

    /// The transport broke: nothing more can be written or read.
    fn lose(&mut self, error: Error) -> Error {
        self.emit(|| TraceEvent::failure(&error));
        self.state = State::Closed;
        self.partial = None;
        self.parts = None;
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
            // A connection lost under queued output says so, not just "closed".
            State::Closed if self.out.was_discarded() => Err(self.lost()),
            State::Closed => Err(Error::invalid_state("the connection is closed")),
        }
    }

    /// Whether a message of `len` bytes fits in the send queue now.
    pub fn has_room_for(&self, len: usize) -> bool {
        self.out.is_idle() || self.out.backlog().saturating_add(len) <= self.config.send_queue_limit
    }

    /// What became of a queued message or control frame.
    pub fn fate(&self, ticket: Ticket) -> Fate {
        self.out.fate(ticket)
    }

    /// The error a sender whose bytes were lost gets: the connection's.
    pub fn lost(&self) -> Error {
        self.pending_error.clone().unwrap_or_else(|| {
            Error::exn(
                ErrorKind::ConnectionLost,
                "the connection was lost before the message was written",
            )
        })
    }

    /// Queue a data message whole (compressed when `compress` and
    /// permessage-deflate allow it).
    pub fn send(&mut self, kind: MessageType, data: &[u8], compress: bool) -> Result<Ticket> {
        self.check_message(kind, data)?;
        let ticket = self.out.issue();
        let mut lane = Lane {
            out: &mut self.out,
            ticket,
        };
        self.sender
            .encode_message(kind, data, compress, &mut lane)?;
        self.count_message(data.len());
        Ok(Ticket::Data(ticket))
    }

    /// Whether a message would go out compressed.
    pub fn compresses(&self, compress: bool) -> bool {
        self.sender.compresses(compress)
    }

    /// Whether a message in parts (ours or another thread's) is under way:
    /// another one cannot start, and data sent now waits behind it.
    pub fn message_open(&self) -> bool {
        self.out.in_message()
    }

    /// Start sending `data` in parts ([`Session::feed`]), for a message
    /// given whole whose text was checked here: it is never copied whole
    /// into the queue, and control frames pass between its frames.
    pub fn begin_message(
        &mut self,
        kind: MessageType,
        data: &[u8],
        compress: bool,
    ) -> Result<Ticket> {
        self.check_writable()?;
        if kind == MessageType::Text && !crate::proto::utf8::is_valid(data) {
            return Err(Error::invalid_argument("text message is not valid UTF-8"));
        }
        // Only a piece at a time is queued.
        self.check_room(data.len().min(PIECE))?;
        let ticket = self.begin_parts(kind, data.len() as u64, false, compress)?;
        self.count_message(data.len());
        Ok(ticket)
    }

    fn count_message(&mut self, len: usize) {
        self.stats.messages_out += 1;
        self.stats.payload_out += len as u64;
    }

    fn begin_parts(
        &mut self,
        kind: MessageType,
        total: u64,
        check_text: bool,
        compress: bool,
    ) -> Result<Ticket> {
        self.check_writable()?;
        if self.out.in_message() {
            return Err(Error::exn(
                ErrorKind::WouldBlock,
                "another message is being sent in parts; try again once it is written",
            ));
        }
        let (ticket, parts) = Parts::begin(
            kind,
            total,
            check_text,
            compress,
            &mut self.sender,
            &mut self.out,
        );
        self.parts = parts;
        self.parts_by_caller = check_text;
        Ok(Ticket::Data(ticket))
    }

    /// Feed the message under way from `data` (its next bytes): a piece at
    /// a time while less than a piece (and the queue limit) waits for the
    /// socket, all of it when `all`. Returns how many bytes were taken.
    pub fn feed(&mut self, data: &[u8], all: bool) -> Result<usize> {
        let Some(parts) = self.parts.as_mut() else {
            return Err(if self.out.was_discarded() {
                self.lost()
            } else {
                Error::invalid_state("no message is being sent in parts")
            });
        };
        let window = PIECE.min(self.config.send_queue_limit).max(1);
        let taken = parts.feed(data, &mut self.sender, &mut self.out, |out| {
            all || out.data_len() < window
        })?;
        if parts.is_done() {
            self.parts = None;
        }
        Ok(taken)
    }

    /// The next part of a message sent in parts, for a caller that must not
    /// have a large message copied whole: the first call (no such message
    /// under way) starts it, with its type and total size; later calls must
    /// give the same. Takes bytes of `data` as [`Session::feed`] does and
    /// returns how many it took and the message's ticket. The message goes
    /// out uncompressed; data frames queued meanwhile follow it. Text is
    /// checked piece by piece: a piece that cannot continue valid UTF-8 (or
    /// ends the message inside a character) is refused, with what came
    /// before it taken.
    pub fn send_part(
        &mut self,
        kind: MessageType,
        total: u64,
        data: &[u8],
        all: bool,
        compress: bool,
    ) -> Result<(usize, Ticket)> {
        if !self.can_send_part() {
            return Err(Error::exn(
                ErrorKind::WouldBlock,
                "another thread's large message is being written; try again",
            ));
        }
        let ticket = match &self.parts {
            None => {
                let ticket = self.begin_parts(kind, total, true, compress)?;
                self.stats.messages_out += 1;
                ticket
            }
            Some(p) if p.kind() != kind || p.total() != total => {
                return Err(Error::invalid_argument(format!(
                    "a {:?} message of {} bytes is being sent in parts ({} bytes of it not \
                     given yet): finish it first",
                    p.kind(),
                    p.total(),
                    p.remaining()
                )));
            }
            Some(p) => Ticket::Data(p.ticket()),
        };
        if self.parts.is_none() {
            // An empty message, queued whole at its start.
            return match data.len() {
                0 => Ok((0, ticket)),
                n => Err(Error::invalid_argument(format!(
                    "{n} bytes given where 0 of the message remain"
                ))),
            };
        }
        let taken = self.feed(data, all)?;
        self.stats.payload_out += taken as u64;
        Ok((taken, ticket))
    }

    /// Whether a message sent part by part by the caller is under way.
    pub fn sending_parts(&self) -> bool {
        self.parts.is_some() && self.parts_by_caller
    }

    /// Whether [`Session::send_part`] can go on now: no message is under
    /// way but the caller's own in parts.
    pub fn can_send_part(&self) -> bool {
        !self.out.in_message() || self.sending_parts()
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
                    self.out.backlog(),
                    self.config.send_queue_limit
                ),
            ))
        }
    }

    /// Low-level: queue one frame as given (RSV bits are never added).
    /// Sending a close frame starts (or completes) the close handshake. A
    /// well-formed ping, pong or close takes the control lane; anything else
    /// goes in order with the data.
    pub fn send_frame(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: u8,
        payload: &[u8],
        now: Instant,
    ) -> Result<Ticket> {
        self.check_writable()?;
        crate::proto::frame::check_bits(rsv, opcode)?;
        let lane = match OpCode::from_u8(opcode) {
            _ if !fin || rsv != 0 || payload.len() > 125 => None,
            Some(OpCode::Ping) => Some((ControlKind::Ping, OpCode::Ping)),
            Some(OpCode::Pong) => Some((ControlKind::Pong, OpCode::Pong)),
            Some(OpCode::Close) => Some((ControlKind::Close, OpCode::Close)),
            _ => None,
        };
        let ticket = match lane {
            Some((kind, op)) => self.queue_control(kind, op, payload),
            None => {
                if opcode & 0x8 == 0 {
                    self.check_room(payload.len())?;
                }
                // The frame is written when its ticket is, FIN or not.
                let ticket = self.out.issue();
                let (header, n, key) =
                    self.sender
                        .frame_header(fin, rsv, opcode, payload.len() as u64);
                self.out.push_frame(&header[..n], payload, key, ticket);
                if opcode & 0x8 == 0 {
                    self.stats.payload_out += payload.len() as u64;
                    self.stats.messages_out += fin as u64;
                }
                Ticket::Data(ticket)
            }
        };
        if opcode == OpCode::Close as u8 {
            self.close_sent(now);
        }
        Ok(ticket)
    }

    /// Queue a ping (at most 125 bytes of payload); a ping of ours still
    /// waiting is replaced.
    pub fn ping(&mut self, payload: &[u8], now: Instant) -> Result<Ticket> {
        self.check_writable()?;
        Sender::check_control_payload(payload)?;
        self.ping_queued(payload, now);
        Ok(self.queue_control(ControlKind::Ping, OpCode::Ping, payload))
    }

    /// A ping of ours goes out: its pong gives the round trip time.
    fn ping_queued(&mut self, payload: &[u8], now: Instant) {
        self.stats.pings_sent += 1;
        self.ping_out = Some((payload.to_vec(), now));
        self.emit(|| {
            TraceEvent::new(
                TraceKind::PingSent,
                format!("ping sent: {} bytes", payload.len()),
            )
            .number(Field::Length, payload.len())
        });
    }

    /// Start the close handshake with `code` (None: an empty close frame).
    /// The close timeout runs from now: by then our close must be written
    /// and the server's received, or the connection is abandoned.
    pub fn close(&mut self, code: Option<u16>, reason: &str, now: Instant) -> Result<Ticket> {
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
        let ticket = self.queue_control(ControlKind::Close, OpCode::Close, &payload);
        self.close_sent(now);
        Ok(ticket)
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

    fn queue_control(&mut self, kind: ControlKind, opcode: OpCode, payload: &[u8]) -> Ticket {
        if kind == ControlKind::Close && self.trace.is_some() {
            if let Ok(frame) = CloseFrame::parse(payload) {
                self.emit(|| close_event(TraceKind::CloseSent, "close sent", &frame));
            }
        }
        let frame = encode_control(opcode as u8, payload, self.sender.next_key());
        self.out.push_control(kind, frame)
    }

    // --- output ----------------------------------------------------------

    /// Bytes to write now (a control frame goes at the next frame boundary,
    /// ahead of queued data).
    pub fn pending_output(&mut self) -> &[u8] {
        self.out.pending()
    }

    /// `n` bytes of [`Session::pending_output`] were written.
    pub fn on_written(&mut self, n: usize) {
        self.stats.bytes_out += n as u64;
        self.out.advance(n);
    }

    /// The driver wrote all it could: an emptied output queue gives back
    /// memory it no longer uses.
    pub fn on_write_done(&mut self) {
        self.out.trim();
    }

    /// Bytes held for the socket (every lane).
    pub fn queued_bytes(&self) -> usize {
        self.out.backlog()
    }

    /// The most bytes ever held for the socket at once.
    pub fn queued_peak(&self) -> usize {
        self.out.high_water()
    }

    /// The pongs received so far.
    pub fn pongs(&self) -> &PongRecord {
        &self.pongs
    }

    pub fn wants_write(&self) -> bool {
        self.out.wants_write()
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
            let what = if self.out.is_idle() {
                "the server did not answer our close frame"
            } else {
                "our close frame could not be written (the server is not reading)"
            };
            let error = Error::exn(
                ErrorKind::Timeout,
                format!(
                    "close timeout: {what} within {} ms; the connection was abandoned",
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
                self.ping_queued(&payload, now);
                self.queue_control(ControlKind::KeepalivePing, OpCode::Ping, &payload);
                Ok(())
            }
            keepalive::Due::Failed(waited) => {
                let message = format!(
                    "keepalive: no pong within {} ms of our ping",
                    waited.as_millis()
                );
                let payload = CloseFrame::payload(Some(KEEPALIVE_CLOSE_CODE), "keepalive timeout");
                self.queue_control(ControlKind::Close, OpCode::Close, &payload);
                self.end(now);
                let error = Error::exn(ErrorKind::Timeout, message);
                self.emit(|| TraceEvent::failure(&error));
                self.pending_error = Some(error.clone());
                Err(error)
            }
        }
    }
}

/// A close frame sent or received.
fn close_event(kind: TraceKind, what: &str, frame: &CloseFrame) -> TraceEvent {
    let text = match frame.code {
        Some(code) if frame.reason.is_empty() => format!("{what}: {code}"),
        Some(code) => format!("{what}: {code} {:?}", frame.reason),
        None => format!("{what}: no code"),
    };
    let event = TraceEvent::new(kind, text).text(Field::Reason, frame.reason.clone());
    match frame.code {
        Some(code) => event.number(Field::CloseCode, code),
        None => event,
    }
}

/// The output queue as a frame sink for one message: its last frame
/// carries the message's ticket.
struct Lane<'a> {
    out: &'a mut OutQueue,
    ticket: u64,
}

impl FrameSink for Lane<'_> {
    fn frame(&mut self, header: &[u8], payload: &[u8], key: [u8; 4], last: bool) {
        let ticket = if last { self.ticket } else { 0 };
        self.out.push_frame(header, payload, key, ticket);
    }
}

#[cfg(test)]
mod tests;
