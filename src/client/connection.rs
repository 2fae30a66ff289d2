//! An open WebSocket connection: a [`Session`] driven over a socket.
//!
//! Reads and writes never wait (`MSG_DONTWAIT`). A blocking call waits in
//! `poll`, or, a receive on a plain socket with no deadline to wake for, in
//! the read itself, without holding the connection's lock, so one thread
//! can wait for a message while others send, ping or close; every write
//! goes through the session's output queue under that lock, so frames never
//! interleave (an automatic pong cannot land inside a half-written message).
//! In non-blocking mode no call waits at all.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::deflate::DeflateParams;
use crate::error::{Error, ErrorKind, Result};
use crate::observe::{Stat, Stats, Timings};
use crate::proto::close::CloseFrame;
use crate::proto::receiver::Mode;
use crate::proto::{Frame, Message, MessageType};
use crate::session::{Buffered, Fate, Now, PongRecord, Received, Session, Ticket};
use crate::transport::{wait_fd, Pipe, Socket, Stream};

pub use crate::session::State;

/// Below this many queued bytes, a send marked "more to come" only queues:
/// a cork, as MSG_MORE is. Against a server that batches its writes
/// (`make bench-small`: 256 messages of 128 B in flight), a 4 KiB bound
/// wrote nine times a batch and cost the client and the server more than
/// the early start saved (1.4 M msg/s; 2.0 M at 64 KiB, one write a batch).
const CORK_LIMIT: usize = 64 << 10;
/// From this size on, an uncompressed message is sent in parts: masked and
/// written a piece at a time as the socket takes it, never queued whole.
const STREAM_MIN: usize = 128 << 10;
/// The most a blocking receive reads while it waits in the socket (see
/// [`Connection::receive_with`]); a frame with more than this to come is
/// waited for with poll, and read straight into its message.
const LANDING: usize = 16 << 10;
/// A call waiting for another thread's message to end looks again this
/// often, in case the signal was missed.
const RECHECK: Duration = Duration::from_millis(50);

/// The system time, read once and only if asked for.
#[derive(Default)]
struct LazyNow(Option<Instant>);

impl Now for LazyNow {
    fn now(&mut self) -> Instant {
        *self.0.get_or_insert_with(Instant::now)
    }
}

/// A piece of a message received with [`Connection::recv_part`]: its
/// length in the caller's buffer, the message's type, and whether it ends
/// the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub len: usize,
    pub kind: MessageType,
    pub last: bool,
}

/// What a caller can wait for on the socket (see [`Connection::wants`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    pub read: bool,
    pub write: bool,
}

pub struct Connection {
    core: Mutex<Core>,
    /// Signalled when a message sent in parts ends (written, or lost with
    /// the connection): the turn of the calls that wait behind it.
    turn: Condvar,
    /// One receiving thread at a time (senders never take it), with the
    /// buffer it reads into while it waits in the socket (see
    /// [`Connection::receive_with`]).
    receiving: Mutex<Vec<u8>>,
    /// The socket to wait on; none over the caller's transport, which
    /// never blocks.
    socket: Option<Socket>,
    /// The caller's transport, when it brings one.
    pipe: Option<Pipe>,
    nonblocking: AtomicBool,
    timeouts: Timeouts,
    deflate: Option<DeflateParams>,
    subprotocol: Option<String>,
    headers: Vec<(String, String)>,
    tls_resumed: bool,
    id: u64,
    timings: Timings,
}

/// The read and write timeouts, read by every call without a lock:
/// nanoseconds, `u64::MAX` for none.
struct Timeouts {
    read: AtomicU64,
    write: AtomicU64,
}

impl Timeouts {
    const NONE: u64 = u64::MAX;

    fn new(read: Option<Duration>, write: Option<Duration>) -> Timeouts {
        let t = Timeouts {
            read: AtomicU64::new(Self::NONE),
            write: AtomicU64::new(Self::NONE),
        };
        t.set(read, write);
        t
    }

    fn set(&self, read: Option<Duration>, write: Option<Duration>) {
        let nanos = |d: Option<Duration>| {
            d.map_or(Self::NONE, |d| {
                u64::try_from(d.as_nanos()).unwrap_or(Self::NONE - 1)
            })
        };
        self.read.store(nanos(read), Ordering::Relaxed);
        self.write.store(nanos(write), Ordering::Relaxed);
    }

    /// When a wait that starts now must end, for `which` timeout.
    fn deadline(which: &AtomicU64) -> Option<Instant> {
        match which.load(Ordering::Relaxed) {
            Self::NONE => None,
            nanos => Some(Instant::now() + Duration::from_nanos(nanos)),
        }
    }

    fn read_deadline(&self) -> Option<Instant> {
        Self::deadline(&self.read)
    }

    fn write_deadline(&self) -> Option<Instant> {
        Self::deadline(&self.write)
    }
}

/// The state the lock protects: the protocol and the stream it runs over.
struct Core {
    session: Session,
    stream: Stream,
    shut: bool,
    /// A message received for a batch whose buffer it did not fit: the
    /// next receive of a message hands it out.
    held: Option<Message>,
}

/// What [`Connection::recv_batch`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// This many messages, one after the other in the buffer.
    Messages(usize),
    /// The next message has this many bytes, more than the buffer holds:
    /// it is kept for the next receive.
    TooBig(usize),
    /// The server closed the connection (see [`Connection::peer_close`]).
    Closed,
}

/// Negotiated facts handed over by the handshake.
pub(crate) struct Agreed {
    pub deflate: Option<DeflateParams>,
    pub subprotocol: Option<String>,
    pub headers: Vec<(String, String)>,
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
    /// The connection's id (in its trace events) and its connect's timings.
    pub id: u64,
    pub timings: Timings,
}

fn would_block(what: &str) -> Error {
    Error::exn(ErrorKind::WouldBlock, what)
}

fn poisoned() -> Error {
    Error::exn(
        ErrorKind::Panic,
        "the connection is unusable: an earlier call panicked while using it",
    )
}

fn left(deadline: Option<Instant>, now: Instant) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(now))
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Core {
    /// Act on passed deadlines; most calls find none and read no clock.
    fn run_timers(&mut self, now: &mut LazyNow) -> Result<()> {
        if self.session.next_deadline().is_none() {
            return Ok(());
        }
        let now = now.now();
        self.session.on_timer(now)
    }

    /// Write queued output until it is gone or the socket is full.
    fn write_some(&mut self) -> Result<()> {
        while self.session.wants_write() && !self.shut {
            let bytes = self.session.pending_output();
            if bytes.is_empty() {
                break;
            }
            match std::io::Write::write(&mut self.stream, bytes) {
                Ok(0) => {
                    let e =
                        Error::exn(ErrorKind::ConnectionLost, "the socket accepts no more data");
                    return Err(self.session.abandon(e));
                }
                Ok(n) => self.session.on_written(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.session.abandon(e.into())),
            }
        }
        self.session.on_write_done();
        Ok(())
    }

    /// Bytes read outside the lock (`result` of a read into `landed`)
    /// join the session's input; `landed` is left empty.
    fn landed(&mut self, result: std::io::Result<usize>, landed: &mut Vec<u8>) -> Result<bool> {
        self.session.on_landed(landed);
        self.after_read(result)
    }

    /// One read into the session. `Ok(false)`: nothing to read now.
    fn read_some(&mut self) -> Result<bool> {
        if self.shut {
            return Ok(false);
        }
        // Over TLS the payload is decrypted into the read buffer first.
        if let Some(socket) = self.stream.plain() {
            if let Some(data) = self.session.direct_space() {
                let before = data.len();
                let result = socket.read_spare(data);
                self.session.on_direct_read(before);
                return self.after_read(result);
            }
        }
        let space = self.session.read_space();
        let result = std::io::Read::read(&mut self.stream, space);
        if let Ok(n) = result {
            self.session.on_read(n);
        }
        self.after_read(result)
    }

    fn after_read(&mut self, result: std::io::Result<usize>) -> Result<bool> {
        match result {
            Ok(0) => {
                self.session.on_eof();
                Ok(true)
            }
            Ok(n) => {
                self.session.count_read(n);
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(self.session.abandon(e.into())),
        }
    }

    /// Whether a blocking send of `len` bytes can start now: there is room,
    /// and no other message is being sent in parts (data sent now would
    /// wait behind it, beyond the queue's bound).
    fn can_start(&self, len: usize, paced: bool) -> bool {
        let room = if paced { crate::session::PIECE } else { len };
        self.session.has_room_for(room) && !self.session.message_open()
    }

    /// Queue a message given whole: in parts when `paced` (its first piece
    /// only; compressed piece by piece when it goes out compressed), else
    /// whole. Returns its ticket and how many bytes of `data` are still to
    /// be fed.
    fn start(
        &mut self,
        kind: MessageType,
        data: &[u8],
        compress: bool,
        paced: bool,
    ) -> Result<(Ticket, usize)> {
        if paced && !self.session.message_open() {
            let ticket = self.session.begin_message(kind, data, compress)?;
            return Ok((ticket, 0));
        }
        Ok((self.session.send(kind, data, compress)?, data.len()))
    }

    /// Where a queued message stands: `Some` once the call can return.
    fn settled(&self, ticket: Ticket, blocking: bool) -> Result<Option<()>> {
        match self.session.fate(ticket) {
            Fate::Written => Ok(Some(())),
            Fate::Lost => Err(self.session.lost()),
            Fate::Pending if blocking => Ok(None),
            Fate::Pending => Ok(Some(())),
        }
    }

    /// After the close handshake: write what is queued, read (and drop)
    /// what arrives, and shut the socket once nothing is left to wait for.
    /// An open session is not read here: its bytes are the receiving
    /// thread's (which may be reading the socket outside the lock).
    fn wind_down(&mut self, now: Instant) {
        let _ = self.session.on_timer(now);
        let _ = self.write_some();
        while self.session.state() == State::Closed
            && self.session.wants_read()
            && matches!(self.read_some(), Ok(true))
        {}
        if self.session.finished() && !self.shut {
            self.stream.shutdown();
            self.shut = true;
        }
    }
}

impl Connection {
    pub(crate) fn new(stream: Stream, session: Session, agreed: Agreed) -> Result<Connection> {
        let caller = stream.socket().is_none();
        let pipe = match &stream {
            Stream::Caller(p) => Some(p.clone()),
            _ => None,
        };
        // Reads and writes never wait (see transport::Socket): a plain
        // socket is left in blocking mode for the one receive that waits in
        // it; TLS is waited for with poll.
        stream.set_nonblocking(stream.plain().is_none())?;
        stream.set_read_timeout(None)?;
        stream.set_write_timeout(None)?;
        Ok(Connection {
            socket: stream.socket().cloned(),
            pipe,
            tls_resumed: stream.tls_resumed(),
            core: Mutex::new(Core {
                session,
                stream,
                shut: false,
                held: None,
            }),
            turn: Condvar::new(),
            receiving: Mutex::new(Vec::new()),
            // The caller's transport has nothing to wait on.
            nonblocking: AtomicBool::new(caller),
            timeouts: Timeouts::new(agreed.read_timeout, agreed.write_timeout),
            deflate: agreed.deflate,
            subprotocol: agreed.subprotocol,
            headers: agreed.headers,
            id: agreed.id,
            timings: agreed.timings,
        })
    }

    /// The server said 101 but agreed to something we cannot accept: the
    /// WebSocket exists, so it is failed as any other (a close frame with
    /// the code, then the close timeout for the server's TCP close when
    /// `blocking`; else what the socket takes now), and the error returned.
    pub(crate) fn fail_opening(self, error: Error, blocking: bool) -> Error {
        self.nonblocking.store(!blocking, Ordering::Relaxed);
        let Ok(mut core) = self.lock() else {
            return error;
        };
        let error = core.session.fail(error, Instant::now());
        self.wind_down(core);
        error
    }

    fn lock(&self) -> Result<MutexGuard<'_, Core>> {
        self.core.lock().map_err(|_| poisoned())
    }

    /// Change the read and write timeouts (None: wait as long as it takes).
    /// A timeout leaves the connection usable.
    pub fn set_timeouts(&self, read: Option<Duration>, write: Option<Duration>) -> Result<()> {
        self.timeouts.set(read, write);
        Ok(())
    }

    /// In non-blocking mode no call waits: receives return an error of kind
    /// [`ErrorKind::WouldBlock`] when no message is complete, and sends are
    /// queued and written as far as the socket takes them (see
    /// [`Connection::flush`], [`Connection::wants`]).
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        if !nonblocking && self.socket.is_none() {
            return Err(Error::invalid_argument(
                "a connection over the caller's transport never blocks",
            ));
        }
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
        Ok(())
    }

    fn is_nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    pub fn state(&self) -> State {
        self.lock().map_or(State::Closed, |c| c.session.state())
    }

    /// The close frame the server sent, once it has.
    pub fn peer_close(&self) -> Option<CloseFrame> {
        self.lock().ok()?.session.peer_close().cloned()
    }

    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Whether the TLS handshake resumed a session from an earlier
    /// connection to the same host and port with the same TLS settings
    /// (an abbreviated handshake); false for ws://.
    pub fn tls_resumed(&self) -> bool {
        self.tls_resumed
    }

    /// The connection's id: unique in the process, the one its trace
    /// events carry.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The counters so far (see [`crate::observe::Stat`]).
    pub fn stats(&self) -> Stats {
        self.lock()
            .map_or_else(|_| Stats::default(), |c| c.session.stats())
    }

    /// When each step of the connect ended.
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// One stat (see [`crate::observe::Stat`]).
    pub fn stat(&self, stat: Stat) -> u64 {
        crate::observe::stats::read(stat, &self.stats(), &self.timings)
    }

    /// The headers of the server's 101 response.
    pub fn response_headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The socket's file descriptor, for poll/epoll.
    pub fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.socket.as_ref().map_or(-1, |s| s.tcp().as_raw_fd())
    }

    /// Receive the next message, answering pings on the way. `Ok(None)`: the
    /// server closed the connection (see [`Connection::peer_close`]).
    pub fn recv_message(&self) -> Result<Option<Message>> {
        match self.receive(Mode::Messages, 0)? {
            Received::Message(m) => Ok(Some(m)),
            Received::Closed => Ok(None),
            _ => unreachable!("message mode yields messages"),
        }
    }

    /// Receive the next piece of a data message into `buf`, as it arrives:
    /// inflated and validated, a text piece ending on a character boundary
    /// (so `buf` must hold at least 4 bytes). Memory stays bounded by
    /// `buf.len()` plus a read buffer and the inflate window, whatever the
    /// message's size; the message and frame limits still apply (lift them
    /// for messages of any size). Pings are answered on the way. `Ok(None)`:
    /// the server closed the connection. Receiving a message partly in
    /// parts and partly otherwise is [`ErrorKind::InvalidState`].
    pub fn recv_part(&self, buf: &mut [u8]) -> Result<Option<Part>> {
        if buf.len() < 4 {
            return Err(Error::invalid_argument(
                "a buffer for parts holds at least 4 bytes (a character of text)",
            ));
        }
        match self.receive(Mode::Parts, buf.len())? {
            Received::Part { kind, data, last } => {
                buf[..data.len()].copy_from_slice(&data);
                Ok(Some(Part {
                    len: data.len(),
                    kind,
                    last,
                }))
            }
            Received::Closed => Ok(None),
            _ => unreachable!("part mode yields parts"),
        }
    }

    /// Low-level: the next frame, checked like any other and inflated when
    /// compressed, without reassembly or automatic replies (a close frame
    /// received here is the caller's to answer). While a message is partly
    /// received by [`Connection::recv_message`] it is refused with
    /// [`ErrorKind::InvalidState`], and the other way round.
    pub fn recv_frame(&self) -> Result<Frame> {
        match self.receive(Mode::Frames, 0)? {
            Received::Frame(f) => Ok(f),
            _ => unreachable!("frame mode yields only frames"),
        }
    }

    /// Receive in `mode` (pieces of at most `part_size` bytes in part mode).
    fn receive(&self, mode: Mode, part_size: usize) -> Result<Received> {
        self.receive_with(|core, clock| {
            if let Some(message) = core.held.take() {
                if mode == Mode::Messages {
                    return Ok(Some(Received::Message(message)));
                }
                core.held = Some(message);
                return Err(Error::invalid_state(
                    "a message is partly received; receive the rest of it as a message",
                ));
            }
            if mode == Mode::Parts {
                core.session.set_part_size(part_size);
            }
            core.session.receive(mode, clock)
        })
    }

    /// Receive every message that is complete now into `buf` (at least one:
    /// blocking, this waits for it as [`Connection::recv_message`] does),
    /// at most `max` of them, one after the other; `put` hears of each (its
    /// type and length). Never reads the socket after the first message.
    pub fn recv_batch(
        &self,
        buf: &mut [u8],
        max: usize,
        mut put: impl FnMut(MessageType, usize),
    ) -> Result<Batch> {
        if max == 0 {
            return Err(Error::invalid_argument("room for no message"));
        }
        self.receive_with(|core, clock| {
            let (mut count, mut used) = (0, 0);
            // First a message too large for an earlier call's buffer, else
            // anything but a whole frame in the buffer: the usual way, alone.
            let first = match core.held.take() {
                Some(message) => Some(message),
                None => match core.session.take_buffered(buf, &mut *clock)? {
                    Buffered::Taken(kind, len) => {
                        put(kind, len);
                        (count, used) = (1, len);
                        None
                    }
                    Buffered::TooBig(len) => return Ok(Some(Batch::TooBig(len))),
                    Buffered::Other => match core.session.receive(Mode::Messages, &mut *clock)? {
                        Some(Received::Message(message)) => Some(message),
                        Some(Received::Closed) => return Ok(Some(Batch::Closed)),
                        Some(_) => unreachable!("message mode yields messages"),
                        None => return Ok(None),
                    },
                },
            };
            if let Some(message) = first {
                let len = message.data.len();
                if len > buf.len() {
                    core.held = Some(message);
                    return Ok(Some(Batch::TooBig(len)));
                }
                buf[..len].copy_from_slice(&message.data);
                put(message.kind, len);
                (count, used) = (1, len);
            }
            // Then every message whole in the buffer that fits.
            while count < max {
                match core.session.take_buffered(&mut buf[used..], &mut *clock)? {
                    Buffered::Taken(kind, len) => {
                        put(kind, len);
                        count += 1;
                        used += len;
                    }
                    Buffered::TooBig(_) | Buffered::Other => break,
                }
            }
            Ok(Some(Batch::Messages(count)))
        })
    }

    /// The receive loop: `take` runs under the lock until it hands out
    /// something; between tries the call reads the socket, or waits for it
    /// (blocking) without the lock. A first try that finds something
    /// complete takes it without queueing behind another receiving thread.
    fn receive_with<R>(
        &self,
        mut take: impl FnMut(&mut Core, &mut LazyNow) -> Result<Option<R>>,
    ) -> Result<R> {
        let mut one_reader = None;
        let deadline = self.timeouts.read_deadline();
        let blocking = !self.is_nonblocking();
        // A blocking receive polls before reading unless bytes are probably
        // waiting: after a send, the answer is rarely there yet, and a read
        // that fails costs as much as the poll it saves.
        let mut polled = !blocking;
        let mut locked = None; // the lock, kept from the end of a round
        loop {
            let mut core = match locked.take() {
                Some(core) => core,
                None => self.lock()?,
            };
            let mut clock = LazyNow::default();
            let _ = core.run_timers(&mut clock); // failures come back from receive
            match take(&mut core, &mut clock) {
                Ok(Some(event)) => {
                    let _ = core.write_some();
                    return Ok(self.after_event(core, event));
                }
                Err(e) => {
                    // A fail gives the server the close timeout to close TCP
                    // first (RFC 6455 §7.1.1). Any other error (a keepalive
                    // timeout, a lost socket, a receive after the close) is
                    // reported at once: what is left of the close is done now
                    // as far as it goes, then by later calls or the free.
                    if e.close_code().is_some() {
                        self.wind_down(core);
                    } else {
                        core.wind_down(clock.now());
                    }
                    self.turn.notify_all();
                    return Err(e);
                }
                Ok(None) => {}
            }
            if one_reader.is_none() {
                // Nothing complete: from here on this is the one thread that
                // reads and waits; then look again, as another may have read.
                drop(core);
                one_reader = Some(self.receiving.lock().map_err(|_| poisoned())?);
                continue;
            }
            // Bytes queued for the socket go out before any wait (a pong, a
            // batch of sends marked "more").
            if polled || core.session.more_input_likely() || core.stream.has_buffered_input() {
                match core.read_some() {
                    Ok(true) | Err(_) => continue, // a read error comes back from receive
                    Ok(false) => {}
                }
            }
            if core.write_some().is_err() {
                continue;
            }
            if !blocking {
                return Err(would_block("no complete message yet"));
            }
            let now = clock.now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(Error::exn(
                    ErrorKind::Timeout,
                    "nothing arrived within the read timeout",
                ));
            }
            let wake = earliest(deadline, core.session.next_deadline());
            let write = core.session.wants_write();
            // Nothing to write and no deadline to wake for: a plain socket
            // is read waiting, one system call where poll then read are two
            // (a round trip's answer). The bytes land in the reader's own
            // buffer, outside the lock, and join the session's after it.
            let land = wake.is_none()
                && !write
                && !core.shut
                && core.stream.plain().is_some()
                && core.session.frame_remaining() < LANDING as u64;
            drop(core);
            if let (true, Some(socket), Some(landing)) = (land, &self.socket, one_reader.as_mut()) {
                if landing.capacity() > 4 * LANDING {
                    // A large read buffer swapped in (see ReadBuf::adopt):
                    // not kept for waiting reads.
                    **landing = Vec::new();
                }
                landing.reserve_exact(LANDING);
                let result = socket.read_spare_waiting(landing);
                polled = landing.len() == landing.capacity();
                let mut core = self.lock()?;
                let _ = core.landed(result, landing); // errors come back from receive
                locked = Some(core);
                continue;
            }
            self.wait_socket(true, write, left(wake, now))?;
            polled = true;
        }
    }

    /// Wait for the socket (a blocking call). Over the caller's transport
    /// there is nothing to wait on: the connection is never blocking.
    fn wait_socket(&self, read: bool, write: bool, timeout: Option<Duration>) -> Result<()> {
        match &self.socket {
            Some(socket) => Ok(wait_fd(socket, read, write, timeout).map(|_| ())?),
            None => Err(would_block(
                "the caller's transport has no bytes for this now",
            )),
        }
    }

    fn after_event<'a, R>(&'a self, core: MutexGuard<'a, Core>, event: R) -> R {
        if core.session.state() == State::Closed {
            self.wind_down(core);
        }
        event
    }

    /// The WebSocket is over: in blocking mode, get our close frame out and
    /// give the server the close timeout to close TCP first (RFC 6455
    /// §7.1.1); in non-blocking mode do what can be done now and leave the
    /// rest to [`Connection::flush`].
    fn wind_down<'a>(&'a self, mut core: MutexGuard<'a, Core>) {
        loop {
            let now = Instant::now();
            core.wind_down(now);
            if core.shut || self.is_nonblocking() {
                return;
            }
            let wake = core.session.next_deadline();
            let (read, write) = (core.session.wants_read(), core.session.wants_write());
            drop(core);
            if self.wait_socket(read, write, left(wake, now)).is_err() {
                return;
            }
            core = match self.lock() {
                Ok(c) => c,
                Err(_) => return,
            };
        }
    }

    pub fn send_text(&self, text: &str) -> Result<()> {
        self.send(MessageType::Text, text.as_bytes(), true)
    }

    pub fn send_binary(&self, data: &[u8]) -> Result<()> {
        self.send(MessageType::Binary, data, true)
    }

    pub fn send_message(&self, message: &Message) -> Result<()> {
        self.send(message.kind, &message.data, true)
    }

    /// Send a data message; `compress` = false sends it uncompressed even
    /// when permessage-deflate is in use.
    pub fn send(&self, kind: MessageType, data: &[u8], compress: bool) -> Result<()> {
        self.send_more(kind, data, compress, false)
    }

    /// [`Connection::send`], with `more` = true: more messages follow, so
    /// the message is only queued (until 64 KiB are) and goes out with the
    /// next send without `more`, a flush, or before a receive waits.
    ///
    /// Blocking: `Ok` once every byte of the message went to the kernel; an
    /// error when it could not be (the connection's error when it was lost,
    /// with the message). A large uncompressed message is sent in parts as
    /// the socket takes it: at most 64 KiB of it wait in the queue, and
    /// control frames pass between its frames. Non-blocking: `Ok` once it
    /// is queued; a message lost later is reported by the next call.
    pub fn send_more(
        &self,
        kind: MessageType,
        data: &[u8],
        compress: bool,
        more: bool,
    ) -> Result<()> {
        let blocking = !self.is_nonblocking();
        let paced = !more && data.len() >= STREAM_MIN;
        if more && !paced {
            if let Some(done) = self.send_corked(kind, data, compress, blocking) {
                return done;
            }
        }
        let mut sent: Option<(Ticket, usize)> = None;
        let result = self.drive("the message is queued", |core, _| {
            if sent.is_none() {
                if blocking && !core.can_start(data.len(), paced) {
                    core.write_some()?;
                    return Ok(None);
                }
                let (_, at) = *sent.insert(core.start(kind, data, compress, paced)?);
                if at == data.len() && more && core.session.queued_bytes() < CORK_LIMIT {
                    return Ok(Some(()));
                }
            }
            let (ticket, at) = sent.as_mut().expect("started above");
            loop {
                if *at < data.len() {
                    // Non-blocking: what the socket did not take is queued.
                    let all = !blocking && core.session.wants_write();
                    *at += core.session.feed(&data[*at..], all)?;
                }
                core.write_some()?;
                if *at < data.len() {
                    if !blocking || !core.session.wants_write() {
                        // The socket took it all: the next piece. Or
                        // non-blocking: the rest is queued next round.
                        continue;
                    }
                    return Ok(None);
                }
                return core.settled(*ticket, blocking);
            }
        });
        if let Some((_, at)) = sent.filter(|&(_, at)| at < data.len()) {
            // Timed out (or failed) in the middle of the message: its rest is
            // queued whole for later calls to write, when it is still ours.
            if let Ok(mut core) = self.lock() {
                let _ = core.session.feed(&data[at..], true);
            }
        }
        if paced {
            self.turn.notify_all();
        }
        result
    }

    /// Send `messages` in order, as [`Connection::send_more`] would one by
    /// one with all but the last marked "more" (the last too when `more`),
    /// queueing as many as it can in one hold of the lock: past the cork
    /// they are written as the socket takes them, and a message that needs
    /// more (a full queue to wait on, a large one to pace, a deadline due)
    /// goes the usual way. Returns how many were taken (queued or written)
    /// and the first error; the messages before an error stay queued.
    /// Blocking, without `more`: `Ok` once every byte reached the kernel.
    pub fn send_batch<'a>(
        &self,
        messages: impl IntoIterator<Item = (MessageType, &'a [u8])>,
        compress: bool,
        more: bool,
    ) -> (usize, Result<()>) {
        let mut messages = messages.into_iter().peekable();
        let mut sent = 0;
        while messages.peek().is_some() {
            if let Err(e) = self.queue_corked(&mut messages, &mut sent, compress) {
                return (sent, Err(e));
            }
            if let Some((kind, data)) = messages.next() {
                let more = more || messages.peek().is_some();
                if let Err(e) = self.send_more(kind, data, compress, more) {
                    return (sent, Err(e));
                }
                sent += 1;
            }
        }
        if more {
            return (sent, Ok(()));
        }
        match self.flush() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => (sent, Ok(())), // queued
            result => (sent, result),
        }
    }

    /// [`Connection::send_batch`]'s step under the lock: queue messages
    /// while none needs more than queueing.
    fn queue_corked<'a>(
        &self,
        messages: &mut std::iter::Peekable<impl Iterator<Item = (MessageType, &'a [u8])>>,
        sent: &mut usize,
        compress: bool,
    ) -> Result<()> {
        let mut core = self.lock()?;
        while let Some(&(kind, data)) = messages.peek() {
            let session = &mut core.session;
            if session.next_deadline().is_some()
                || session.message_open()
                || data.len() >= STREAM_MIN
                || !session.has_room_for(data.len())
            {
                break;
            }
            if let Err(e) = session.send(kind, data, compress) {
                if session.state() == State::Closed {
                    self.turn.notify_all();
                }
                return Err(e);
            }
            messages.next();
            *sent += 1;
            if core.session.queued_bytes() >= CORK_LIMIT {
                core.write_some()?;
            }
        }
        Ok(())
    }

    /// The usual send marked "more", in one short hold of the lock: queued,
    /// and written only once the cork is full. `None` when the send needs
    /// the general path (a deadline to act on, a message in parts under
    /// way, a full queue): nothing was queued then.
    fn send_corked(
        &self,
        kind: MessageType,
        data: &[u8],
        compress: bool,
        blocking: bool,
    ) -> Option<Result<()>> {
        let mut core = match self.lock() {
            Ok(core) => core,
            Err(e) => return Some(Err(e)),
        };
        let session = &mut core.session;
        if session.next_deadline().is_some()
            || session.message_open()
            || !session.has_room_for(data.len())
        {
            return None;
        }
        let ticket = match session.send(kind, data, compress) {
            Ok(ticket) => ticket,
            Err(e) => {
                if session.state() == State::Closed {
                    self.turn.notify_all();
                }
                return Some(Err(e));
            }
        };
        if session.queued_bytes() < CORK_LIMIT {
            return Some(Ok(()));
        }
        drop(core);
        Some(self.drive("the message is queued", |core, _| {
            core.write_some()?;
            core.settled(ticket, blocking)
        }))
    }

    /// Low-level: send one frame as given (RSV bits are never added), masked
    /// with a fresh key. A close frame starts the close handshake.
    pub fn send_frame(&self, fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Result<()> {
        let data = opcode & 0x8 == 0;
        self.submit(payload.len(), data, |c, now| {
            c.session.send_frame(fin, rsv, opcode, payload, now.now())
        })?;
        self.wind_down_if_closed()
    }

    /// Send a ping; blocking, `Ok` once it was written. A ping of ours not
    /// yet written is replaced.
    pub fn ping(&self, payload: &[u8]) -> Result<()> {
        self.submit(0, false, |c, _| c.session.ping(payload, Instant::now()))
    }

    /// Start the close handshake with `code` (None: an empty close frame).
    /// Keep receiving until `recv_message` returns `Ok(None)`. The close
    /// timeout runs from now and bounds the whole close: writing our close
    /// frame (behind queued data) and the server's answer. Past it the
    /// connection is abandoned (TCP closed) and an error of kind
    /// [`ErrorKind::Timeout`] says so.
    pub fn close(&self, code: Option<u16>, reason: &str) -> Result<()> {
        self.submit(0, false, |c, now| c.session.close(code, reason, now.now()))?;
        self.wind_down_if_closed()
    }

    fn wind_down_if_closed(&self) -> Result<()> {
        let core = self.lock()?;
        if core.session.state() == State::Closed {
            self.wind_down(core);
        }
        Ok(())
    }

    /// Queue what `op` encodes (a frame of `len` bytes; `data`: it waits for
    /// room in the queue) and write it: blocking, until it is written.
    fn submit(
        &self,
        len: usize,
        data: bool,
        op: impl FnOnce(&mut Core, &mut LazyNow) -> Result<Ticket>,
    ) -> Result<()> {
        let blocking = !self.is_nonblocking();
        let mut op = Some(op);
        let mut ticket = None;
        self.drive("the frame is queued", |core, clock| {
            let ticket = match ticket {
                Some(t) => t,
                None => {
                    if blocking && data && !core.can_start(len, false) {
                        core.write_some()?;
                        return Ok(None);
                    }
                    let op = op.take().expect("queued once");
                    *ticket.insert(op(core, clock)?)
                }
            };
            core.write_some()?;
            core.settled(ticket, blocking)
        })
    }

    /// The next part of a message sent in parts (see [`Session::send_part`]);
    /// `all`: take all of `data` now, queueing what the socket does not take
    /// (to finish a message that cannot wait). Returns the bytes taken, and
    /// an error when the call stopped early. Non-blocking: takes what fits
    /// now (`WouldBlock` when nothing did). Blocking: waits its turn behind
    /// another thread's large message, takes all of `data`, waiting for the
    /// socket (without the lock) until the write timeout; the last part
    /// returns once the whole message is written.
    pub fn send_part(
        &self,
        kind: MessageType,
        total: u64,
        data: &[u8],
        all: bool,
        compress: bool,
    ) -> (usize, Result<()>) {
        let blocking = !self.is_nonblocking();
        let mut taken = 0;
        let mut last: Option<Ticket> = None;
        let result = self.drive("the part is not all taken", |core, _| loop {
            if let Some(ticket) = last {
                // All given: only the wait for the message to be written is left.
                core.write_some()?;
                return core.settled(ticket, blocking);
            }
            if blocking && !core.session.can_send_part() {
                return Ok(None); // another thread's message first
            }
            let (n, ticket) = core
                .session
                .send_part(kind, total, &data[taken..], all, compress)?;
            taken += n;
            core.write_some()?;
            if taken < data.len() {
                if !core.session.wants_write() {
                    continue; // the socket took it all: the next piece
                }
                return match (blocking, taken) {
                    (true, _) => Ok(None),
                    (false, 0) => Err(would_block("the socket takes no more now")),
                    (false, _) => Ok(Some(())),
                };
            }
            if core.session.sending_parts() {
                return Ok(Some(())); // taken; more parts are due
            }
            last = Some(ticket);
        });
        if !self.lock().is_ok_and(|c| c.session.sending_parts()) {
            self.turn.notify_all();
        }
        (taken, result)
    }

    /// The one place where a call that writes waits. `step` runs under the
    /// lock until it returns `Some`; between tries the call waits without
    /// the lock (so a reader thread goes on) for the socket to take bytes,
    /// or, when nothing of its own can be written, for another thread's
    /// message to end; never past the write timeout, and waking for the
    /// session's own deadlines (the close timeout, keepalive), which may
    /// abandon the connection and so end the wait. Non-blocking: `step`
    /// runs once, and `None` is `WouldBlock`.
    fn drive<T>(
        &self,
        what: &str,
        mut step: impl FnMut(&mut Core, &mut LazyNow) -> Result<Option<T>>,
    ) -> Result<T> {
        let blocking = !self.is_nonblocking();
        let deadline = self.timeouts.write_deadline();
        let mut core = self.lock()?;
        loop {
            let mut clock = LazyNow::default();
            if let Err(e) = core.run_timers(&mut clock) {
                // A keepalive failure queued our close: it goes out now.
                let _ = core.write_some();
                self.turn.notify_all();
                return Err(e);
            }
            match step(&mut core, &mut clock) {
                Ok(Some(done)) => return Ok(done),
                Ok(None) => {}
                Err(e) => {
                    if core.session.state() == State::Closed {
                        self.turn.notify_all();
                    }
                    return Err(e);
                }
            }
            if !blocking {
                return Err(would_block(what));
            }
            let now = clock.now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(Error::exn(
                    ErrorKind::Timeout,
                    format!("write timeout: {what}; it is written by later calls"),
                ));
            }
            let wake = earliest(deadline, core.session.next_deadline());
            if core.session.wants_write() && !core.shut {
                drop(core);
                self.wait_socket(false, true, left(wake, now))?;
                core = self.lock()?;
            } else {
                let wait = left(wake, now).map_or(RECHECK, |l| l.min(RECHECK));
                core = self
                    .turn
                    .wait_timeout(core, wait)
                    .map_err(|_| poisoned())?
                    .0;
            }
        }
    }

    /// Write what is queued and act on due deadlines (keepalive, close
    /// timeout, the wait for the server's TCP close). Non-blocking: an error
    /// of kind `WouldBlock` when bytes remain queued. Blocking: waits until
    /// the queue is empty or the write timeout passes.
    pub fn flush(&self) -> Result<()> {
        self.drive("bytes remain queued", |core, clock| {
            core.write_some()?;
            if core.session.state() == State::Closed {
                core.wind_down(clock.now());
            }
            Ok((!core.session.wants_write()).then_some(()))
        })
    }

    /// What to wait for on [`Connection::fd`] before calling again: read
    /// (then receive), write (then flush).
    pub fn wants(&self) -> Interest {
        // Over the caller's transport, bytes in the pipe are to be sent,
        // the close frame too once the session is over.
        let piped = self.pipe.as_ref().is_some_and(|p| p.output_len() > 0);
        match self.lock() {
            Ok(c) if !c.shut => Interest {
                read: c.session.wants_read(),
                write: c.session.wants_write() || piped,
            },
            _ => Interest {
                read: false,
                write: piped,
            },
        }
    }

    /// The caller's transport: `data` arrived from the peer. Returns how
    /// many bytes were taken (fewer when 64 KiB wait already: receive
    /// first). Then receive as in non-blocking mode.
    pub fn transport_in(&self, data: &[u8]) -> Result<usize> {
        Ok(self.caller_pipe()?.push_input(data))
    }

    /// The caller's transport: the peer closed its side.
    pub fn transport_eof(&self) -> Result<()> {
        self.caller_pipe()?.input_eof();
        Ok(())
    }

    /// The caller's transport: copy bytes to send to the peer into `buf`
    /// (what is queued goes into the pipe first, and the due timers run,
    /// as [`Connection::flush`] does). Returns how many.
    pub fn transport_out(&self, buf: &mut [u8]) -> Result<usize> {
        let pipe = self.caller_pipe()?;
        let mut n = 0;
        loop {
            if let Ok(mut core) = self.lock() {
                let mut clock = LazyNow::default();
                let _ = core.run_timers(&mut clock);
                if core.shut {
                } else if core.session.state() == State::Closed {
                    // Our close reply out, the peer's end awaited (its EOF
                    // given by transport_eof), then the pipe is shut.
                    core.wind_down(clock.now());
                } else {
                    let _ = core.write_some();
                }
            }
            let got = pipe.pull_output(&mut buf[n..]);
            n += got;
            if got == 0 || n == buf.len() {
                return Ok(n);
            }
        }
    }

    /// Whether the connection runs over the caller's transport, and the
    /// caller should close it: the session is done and its bytes are out.
    pub fn transport_done(&self) -> bool {
        self.pipe
            .as_ref()
            .is_some_and(|p| p.is_shut() && p.output_len() == 0)
    }

    fn caller_pipe(&self) -> Result<&Pipe> {
        self.pipe.as_ref().ok_or_else(|| {
            Error::invalid_state(
                "the connection runs over its own socket, not the caller's transport",
            )
        })
    }

    /// Time until the next deadline (keepalive, close timeout); then call
    /// [`Connection::flush`]. `None`: no deadline.
    pub fn next_timeout(&self) -> Option<Duration> {
        let core = self.lock().ok()?;
        let deadline = core.session.next_deadline()?;
        Some(deadline.saturating_duration_since(Instant::now()))
    }

    /// Bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.lock().map_or(0, |c| c.session.queued_bytes())
    }

    /// The most bytes ever queued at once on this connection.
    pub fn queued_peak(&self) -> usize {
        self.lock().map_or(0, |c| c.session.queued_peak())
    }

    /// The pongs received so far (how many, the last payload).
    pub fn pongs(&self) -> PongRecord {
        self.lock()
            .map_or_else(|_| PongRecord::default(), |c| c.session.pongs().clone())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let core = self
            .core
            .get_mut()
            .unwrap_or_else(|poison| poison.into_inner());
        if !core.shut {
            // A close reply still queued gets one chance to go out.
            let _ = core.write_some();
            core.stream.shutdown();
        }
    }
}
