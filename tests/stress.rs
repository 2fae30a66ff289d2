//! Issue #20: a stress run of the write path over real loopback sockets.
//!
//! Connection after connection, one receiving thread and four sending
//! threads share a blocking [`Connection`] with a 256 KiB send-queue limit
//! and no write timeout. They send messages of 1 B to 4 MiB (log-uniform
//! sizes, text and binary; some with `send_more`, some with `send_part` in
//! several parts) to a raw server written here. The server pings every
//! millisecond, reads slowly, checks every message it gets, sometimes stops
//! reading for a while, and after 0.3-3 s resets the TCP connection, sends
//! FIN and stops reading, or closes cleanly. Checked for every connection:
//!
//! - every message that arrived is intact and in its sender's order, and a
//!   send that returned `Ok` was received (see [`evaluate`] for what "was
//!   received" can mean after a reset, which throws away what the kernels
//!   still held);
//! - every call returns within a second of the server dropping the
//!   connection (a watchdog turns a hang into a failure, never a stuck run);
//! - while every sender waits on a server that does not read, the process
//!   uses a small fraction of a core (no spinning);
//! - the send queue never holds more than its limit plus 1 KiB.
//!
//! `make stress` runs [`stress`] for `STRESS_SECONDS` (300 by default;
//! `STRESS_SEED` repeats a run's connection plans, `STRESS_ENDINGS`, e.g.
//! `fin,clean`, limits the endings); [`stress_short`] is a fixed
//! five-second script that `make test` runs.

mod common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{accept_ws, close_frame, expect_upgraded, frame, read_frame, watchdog, RawServer};
use wsclient::{connect, Connection, ErrorKind, MessageType, Options};

const SENDERS: usize = 4;
/// The send-queue limit, and how far above it the queue may go.
const QUEUE_LIMIT: usize = 256 << 10;
const QUEUE_SLACK: usize = 1 << 10;
/// Every message starts with this many bytes naming it (see [`header`]).
const HEADER: usize = 32;
const MAX_MESSAGE: usize = 4 << 20;
/// `send_more` is for batches of small messages: a message marked "more"
/// is queued whole, so it stays below the queue limit.
const MAX_MORE: usize = 64 << 10;

// ---------------------------------------------------------------------------
// Limits, plans

/// What the checks allow. Time limits are about a library that waits
/// forever or spins, so they are generous next to loopback latencies.
#[derive(Clone, Copy)]
struct Limits {
    /// From the server's drop to the return of every call.
    return_after_drop: Duration,
    /// Past this, a call is stuck: the run stops (the thread cannot be
    /// freed) and fails.
    hang: Duration,
    /// Process CPU time over wall time while every sender is blocked.
    cpu_while_blocked: f64,
    /// After a reset, a send that returned `Ok` later than this was told
    /// `Ok` for bytes that were thrown away (before it, the bytes may have
    /// reached the kernel and died there with the reset).
    reset_grace: Duration,
}

const LIMITS: Limits = Limits {
    return_after_drop: Duration::from_secs(1),
    hang: Duration::from_secs(5),
    cpu_while_blocked: 0.20,
    reset_grace: Duration::from_millis(200),
};

/// The short run shares the machine with whatever `make test` runs.
const SHORT_LIMITS: Limits = Limits {
    return_after_drop: Duration::from_secs(2),
    hang: Duration::from_secs(5),
    cpu_while_blocked: 0.50,
    reset_grace: Duration::from_millis(500),
};

/// How the server drops the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// SO_LINGER 0, then close: an RST.
    Reset,
    /// shutdown(SHUT_WR), then no reading for a while; then the server
    /// drains what the kernels still hold, until the client's EOF.
    Fin,
    /// A close frame (1000); the server reads on until the client's close
    /// frame, then closes TCP.
    Clean,
}

/// One connection's script.
#[derive(Clone, Copy, Debug)]
struct Plan {
    id: u32,
    seed: u64,
    /// When the server drops the connection, from its start.
    life: Duration,
    /// A window in which the server does not read (the CPU check).
    stall: Option<(Duration, Duration)>,
    ending: Ending,
}

const STALL: (Duration, Duration) = (Duration::from_millis(400), Duration::from_millis(1600));
/// After a FIN the server reads nothing for this long, so that a call can
/// only return by noticing the FIN, not because bytes drained.
const FIN_SILENCE: Duration = Duration::from_millis(1500);

impl Plan {
    /// Endings in proportion 45 resets : 40 FINs : 15 clean closes, among
    /// those allowed.
    fn random(id: u32, rng: &mut Rng, endings: &[Ending]) -> Plan {
        let mut life = Duration::from_millis(300 + rng.below(2700));
        let stall = (rng.below(100) < 35).then(|| {
            life = life.max(STALL.1 + Duration::from_millis(200 + rng.below(1200)));
            STALL
        });
        let weight = |e: &Ending| match e {
            Ending::Reset => 45,
            Ending::Fin => 40,
            Ending::Clean => 15,
        };
        let mut pick = rng.below(endings.iter().map(weight).sum());
        let ending = *endings
            .iter()
            .find(|e| pick.checked_sub(weight(e)).map(|p| pick = p).is_none())
            .unwrap();
        Plan {
            id,
            seed: rng.next(),
            life,
            stall,
            ending,
        }
    }
}

// ---------------------------------------------------------------------------
// Randomness and messages

/// xorshift64*: deterministic, so `STRESS_SEED` repeats a run's plans.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How a message is handed to the library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `send`.
    Whole,
    /// `send_more` with more = true.
    More,
    /// `send_part`, in this many parts.
    Parts(usize),
}

/// `W<sender>.<seq>.<length>.<connection>.<t|b>`, 32 bytes of ASCII (so
/// that text messages are UTF-8 from the first byte).
fn header(conn: u32, sender: u32, seq: u32, len: usize, kind: MessageType) -> String {
    let k = if kind == MessageType::Text { 't' } else { 'b' };
    format!("W{sender:02x}.{seq:08x}.{len:08x}.{conn:08x}.{k}")
}

/// The whole message: the header, then a body that the header's fields
/// decide byte for byte. Text bodies mix ASCII with two-byte characters,
/// so that parts split characters too.
fn message(conn: u32, sender: u32, seq: u32, len: usize, kind: MessageType) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    out.extend_from_slice(header(conn, sender, seq, len, kind).as_bytes());
    let mut rng = Rng::new(((conn as u64) << 40) ^ ((sender as u64) << 32) ^ (seq as u64));
    match kind {
        MessageType::Binary => {
            while out.len() < len {
                out.extend_from_slice(&rng.next().to_le_bytes());
            }
            out.truncate(len);
        }
        MessageType::Text => {
            while out.len() < len {
                for b in rng.next().to_le_bytes() {
                    if out.len() + 2 <= len && b < 24 {
                        out.extend_from_slice("é".as_bytes());
                    } else if out.len() < len {
                        out.push(b' ' + b % 95);
                    }
                }
            }
        }
    }
    out
}

/// Check a received message; (sender, seq) or what is wrong with it.
fn check_message(conn: u32, opcode: u8, data: &[u8]) -> Result<(u32, u32), String> {
    let head = data
        .get(..HEADER)
        .ok_or(format!("{} bytes: no header", data.len()))?;
    let shown = String::from_utf8_lossy(head);
    let field = |at: usize, n: usize| {
        let text = std::str::from_utf8(&head[at..at + n]).ok()?;
        u32::from_str_radix(text, 16).ok()
    };
    let parsed = (|| Some((field(1, 2)?, field(4, 8)?, field(13, 8)?)))();
    let (sender, seq, len) = parsed.ok_or(format!("bad header {shown:?}"))?;
    if len as usize != data.len() {
        return Err(format!("{shown}: {} bytes arrived", data.len()));
    }
    let kind = if opcode == 1 {
        MessageType::Text
    } else {
        MessageType::Binary
    };
    let expected = message(conn, sender, seq, len as usize, kind);
    if expected[..HEADER] != data[..HEADER] {
        return Err(format!("header {shown:?} with opcode {opcode}"));
    }
    if expected != data {
        let at = expected.iter().zip(data).position(|(a, b)| a != b);
        return Err(format!("{shown}: the body differs from byte {at:?}"));
    }
    Ok((sender, seq))
}

/// Size classes of the report, by message length.
const CLASSES: [(usize, &str); 5] = [
    (128, "32 B-127 B"),
    (4 << 10, "128 B-4 KiB"),
    (128 << 10, "4-128 KiB"),
    (1 << 20, "128 KiB-1 MiB"),
    (usize::MAX, "1-4 MiB"),
];

fn class(len: usize) -> usize {
    CLASSES.iter().position(|&(below, _)| len < below).unwrap()
}

// ---------------------------------------------------------------------------
// What the client threads share with the watchdog

/// Nanoseconds since `base`, plus one (0 means "not yet").
fn stamp(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64 + 1
}

fn unstamp(base: Instant, s: u64) -> Option<Instant> {
    (s != 0).then(|| base + Duration::from_nanos(s - 1))
}

/// One client thread, as the watchdog and the CPU probe see it.
#[derive(Default)]
struct Slot {
    tid: AtomicI32,
    /// When the call in progress started (0: none).
    in_call: AtomicU64,
    /// Calls returned so far.
    calls: AtomicU64,
    /// When the thread's last call returned and it ended (0: running).
    finished: AtomicU64,
    /// The call in progress, for the report of a hang.
    current: Mutex<String>,
}

struct Shared {
    base: Instant,
    /// When the server dropped the connection (see [`stamp`]).
    dropped: AtomicU64,
    /// Slots 0..SENDERS are the senders, SENDERS the receiver.
    slots: Vec<Slot>,
    /// What each sender sent.
    sent: Vec<Mutex<Vec<Sent>>>,
    /// A thread still sending this long after the drop stops (and is
    /// reported).
    hang: Duration,
    /// Threads that send in parts take turns (the header says so: the
    /// library cannot tell whose part a call gives).
    parts_turn: Mutex<()>,
}

impl Shared {
    fn dropped_at(&self) -> Option<Instant> {
        unstamp(self.base, self.dropped.load(Ordering::SeqCst))
    }

    fn mark_dropped(&self) {
        let _ =
            self.dropped
                .compare_exchange(0, stamp(self.base), Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Run `call` as a call of thread `slot`, seen by the watchdog.
    fn call<T>(&self, slot: usize, what: impl FnOnce() -> String, call: impl FnOnce() -> T) -> T {
        let s = &self.slots[slot];
        *s.current.lock().unwrap() = what();
        s.in_call.store(stamp(self.base), Ordering::SeqCst);
        let result = call();
        s.in_call.store(0, Ordering::SeqCst);
        s.calls.fetch_add(1, Ordering::SeqCst);
        result
    }

    fn finish(&self, slot: usize) {
        self.slots[slot]
            .finished
            .store(stamp(self.base), Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// The client

/// One send, as its thread saw it.
struct Sent {
    seq: u32,
    len: usize,
    mode: Mode,
    result: Result<(), (ErrorKind, String)>,
    returned: Instant,
}

fn sender(conn: Arc<Connection>, shared: Arc<Shared>, plan: Plan, id: usize) {
    shared.slots[id].tid.store(gettid(), Ordering::SeqCst);
    let mut rng = Rng::new(plan.seed ^ ((id as u64 + 1) << 56));
    for seq in 0.. {
        // Log-uniform lengths: the body is 1 B to 4 MiB - 32 B.
        let body = ((MAX_MESSAGE - HEADER) as f64).powf(rng.unit()) as usize;
        let len = HEADER + body.clamp(1, MAX_MESSAGE - HEADER);
        let kind = if rng.below(2) == 0 {
            MessageType::Text
        } else {
            MessageType::Binary
        };
        let mode = match rng.below(100) {
            0..=19 if len <= MAX_MORE => Mode::More,
            0..=44 => Mode::Parts(2 + rng.below(5) as usize),
            _ => Mode::Whole,
        };
        let data = message(plan.id, id as u32, seq, len, kind);
        let what = || format!("sender {id}: {mode:?} {kind:?} #{seq} of {len} bytes");
        let result = match mode {
            Mode::Whole => shared.call(id, what, || conn.send(kind, &data, true)),
            Mode::More => shared.call(id, what, || conn.send_more(kind, &data, true, true)),
            Mode::Parts(n) => {
                // Waiting for the turn counts as blocked, like a call.
                let turn = || format!("sender {id}: waiting for the turn to send in parts");
                let _turn = shared.call(id, turn, || shared.parts_turn.lock().unwrap());
                shared.call(id, what, || send_in_parts(&conn, kind, &data, n, &mut rng))
            }
        };
        let failed = result.is_err();
        shared.sent[id].lock().unwrap().push(Sent {
            seq,
            len,
            mode,
            result: result.map_err(|e| (e.kind(), e.to_string())),
            returned: Instant::now(),
        });
        if failed {
            if shared.dropped_at().is_some() {
                break;
            }
            // A failure while the connection stands is reported; do not
            // spin on it.
            thread::sleep(Duration::from_millis(5));
        }
        if shared
            .dropped_at()
            .is_some_and(|d| d.elapsed() > shared.hang)
        {
            break; // still sending Ok long after the drop: reported
        }
    }
    shared.finish(id);
}

/// `data` through `send_part` in `n` parts of random sizes.
fn send_in_parts(
    conn: &Connection,
    kind: MessageType,
    data: &[u8],
    n: usize,
    rng: &mut Rng,
) -> wsclient::Result<()> {
    let mut cuts: Vec<usize> = (1..n)
        .map(|_| rng.below(data.len() as u64) as usize)
        .collect();
    cuts.push(data.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut at = 0;
    for end in cuts.into_iter().filter(|&c| c > 0) {
        let (taken, result) = conn.send_part(kind, data.len() as u64, &data[at..end], false, false);
        result?;
        if taken != end - at {
            return Err(wsclient::Error::exn(
                ErrorKind::InvalidState,
                format!(
                    "stress: a blocking send_part took {taken} of {} bytes",
                    end - at
                ),
            ));
        }
        at = end;
    }
    Ok(())
}

/// What the receiving thread saw.
struct ReceiverLog {
    unexpected: Vec<String>,
    /// How its last receive ended, and when.
    end: String,
    returned: Instant,
}

fn receiver(conn: Arc<Connection>, shared: Arc<Shared>) -> ReceiverLog {
    let slot = SENDERS;
    shared.slots[slot].tid.store(gettid(), Ordering::SeqCst);
    let mut log = ReceiverLog {
        unexpected: Vec::new(),
        end: String::new(),
        returned: Instant::now(),
    };
    loop {
        match shared.call(
            slot,
            || "receiver: recv_message".into(),
            || conn.recv_message(),
        ) {
            Ok(Some(m)) => {
                log.unexpected
                    .push(format!("a {:?} message of {} bytes", m.kind, m.data.len()))
            }
            Ok(None) => {
                log.end = "closed".into();
                break;
            }
            Err(e) => {
                log.end = format!("{:?}", e.kind());
                break;
            }
        }
    }
    log.returned = Instant::now();
    shared.finish(slot);
    log
}

fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// This process's user + system CPU time.
fn process_cpu() -> Duration {
    // SAFETY: getrusage writes one rusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A thread's CPU time from /proc (clock ticks), None once it is gone.
fn thread_cpu(tid: i32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_micros(ticks * 1_000_000 / hz))
}

/// CPU use over a window in which every sender was blocked in a call.
#[derive(Clone, Copy)]
struct CpuSample {
    /// The process's CPU time over the window's wall time.
    process: f64,
    /// The busiest client thread's.
    thread: f64,
}

/// During the plan's stall: measure from 400 ms into it to its end; the
/// sample counts only if every sender was in one and the same call
/// throughout (None otherwise).
fn probe_cpu(shared: Arc<Shared>, stall: (Duration, Duration)) -> Option<CpuSample> {
    let snapshot = |shared: &Shared| {
        let calls: Vec<(u64, u64)> = shared.slots[..SENDERS]
            .iter()
            .map(|s| {
                (
                    s.in_call.load(Ordering::SeqCst),
                    s.calls.load(Ordering::SeqCst),
                )
            })
            .collect();
        let threads: Vec<Option<Duration>> = shared
            .slots
            .iter()
            .map(|s| thread_cpu(s.tid.load(Ordering::SeqCst)))
            .collect();
        (Instant::now(), process_cpu(), calls, threads)
    };
    let sleep_until = |t: Instant| thread::sleep(t.saturating_duration_since(Instant::now()));
    sleep_until(shared.base + stall.0 + Duration::from_millis(400));
    let (t0, cpu0, calls0, threads0) = snapshot(&shared);
    sleep_until(shared.base + stall.1 - Duration::from_millis(50));
    let (t1, cpu1, calls1, threads1) = snapshot(&shared);
    let blocked = calls0 == calls1 && calls0.iter().all(|&(since, _)| since != 0);
    if !blocked || shared.dropped_at().is_some() {
        return None;
    }
    let wall = (t1 - t0).as_secs_f64();
    let thread = threads0
        .iter()
        .zip(&threads1)
        .filter_map(|(a, b)| Some((b.as_ref()?.saturating_sub(*a.as_ref()?)).as_secs_f64()))
        .fold(0.0, f64::max);
    Some(CpuSample {
        process: (cpu1 - cpu0).as_secs_f64() / wall,
        thread: thread / wall,
    })
}

// ---------------------------------------------------------------------------
// The server

/// What the server saw on one connection.
#[derive(Default)]
struct ServerLog {
    /// Per sender, the sequence numbers that arrived, in arrival order.
    arrived: Vec<Vec<u32>>,
    /// Corrupt messages and protocol trouble.
    bad: Vec<String>,
    pings: u64,
    pongs: u64,
    /// The client's close frame came back (clean ending).
    client_close: bool,
}

/// The error [`SlowReader`] returns when the plan says "reset now".
#[derive(Debug)]
struct ResetNow;

impl std::fmt::Display for ResetNow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the plan resets the connection now")
    }
}

impl std::error::Error for ResetNow {}

/// Pings every millisecond until stopped.
struct Pinger {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<u64>>,
    sent: u64,
}

impl Pinger {
    fn start(stream: Arc<TcpStream>) -> Pinger {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    if (&*stream)
                        .write_all(&frame(true, 0, 9, &n.to_be_bytes()))
                        .is_err()
                    {
                        break;
                    }
                    thread::sleep(Duration::from_millis(1));
                }
                n
            })
        };
        Pinger {
            stop,
            handle: Some(handle),
            sent: 0,
        }
    }

    /// Stop and join; the pings sent (its handle on the socket is gone).
    fn stop(&mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            self.sent = h.join().unwrap_or(0);
        }
        self.sent
    }
}

/// The server's side of the socket as `read_frame` reads it: small reads
/// with a pause after each, no reads during the plan's stall, and the
/// plan's ending carried out when its time comes (a FIN or a close frame
/// here, between any two bytes; a reset by returning [`ResetNow`]).
struct SlowReader {
    stream: Arc<TcpStream>,
    pinger: Pinger,
    shared: Arc<Shared>,
    plan: Plan,
    rng: Rng,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    stalled: bool,
    dropped: bool,
    /// Read as fast as possible (after a FIN or a close frame: draining).
    fast: bool,
}

impl SlowReader {
    fn on_schedule(&mut self) -> io::Result<()> {
        let t = self.shared.base.elapsed();
        if let Some((from, to)) = self.plan.stall {
            if !self.stalled && t >= from && t < to {
                self.stalled = true;
                thread::sleep(to - t);
            }
        }
        if self.dropped || self.shared.base.elapsed() < self.plan.life {
            return Ok(());
        }
        match self.plan.ending {
            Ending::Reset => return Err(io::Error::other(ResetNow)),
            Ending::Fin => {
                self.pinger.stop();
                self.shared.mark_dropped();
                let _ = self.stream.shutdown(Shutdown::Write);
                thread::sleep(FIN_SILENCE);
            }
            Ending::Clean => {
                self.pinger.stop();
                self.shared.mark_dropped();
                let _ = (&*self.stream).write_all(&close_frame(1000, "stress"));
            }
        }
        self.dropped = true;
        self.fast = true;
        Ok(())
    }
}

impl Read for SlowReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut idle = Duration::ZERO;
        while self.pos == self.len {
            self.on_schedule()?;
            let want = if self.fast {
                self.buf.len()
            } else {
                256 + self.rng.below(16 << 10) as usize
            };
            match (&*self.stream).read(&mut self.buf[..want]) {
                Ok(0) => return Ok(0),
                Ok(n) => {
                    (self.pos, self.len) = (0, n);
                    if !self.fast {
                        thread::sleep(Duration::from_micros(300));
                    }
                }
                // The socket's read timeout: look at the schedule again.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    idle += READ_TICK;
                    if idle > Duration::from_secs(15) {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

const READ_TICK: Duration = Duration::from_millis(50);

fn serve(stream: TcpStream, plan: Plan, shared: Arc<Shared>) -> ServerLog {
    let mut stream = stream;
    accept_ws(&mut stream, "");
    stream.set_read_timeout(Some(READ_TICK)).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let stream = Arc::new(stream);
    let mut reader = SlowReader {
        pinger: Pinger::start(stream.clone()),
        stream,
        shared,
        plan,
        rng: Rng::new(plan.seed ^ 0x5E12),
        buf: vec![0; 256 << 10],
        pos: 0,
        len: 0,
        stalled: false,
        dropped: false,
        fast: false,
    };
    let mut log = ServerLog {
        arrived: vec![Vec::new(); SENDERS],
        ..ServerLog::default()
    };
    let mut message: Option<(u8, Vec<u8>)> = None;
    loop {
        let f = match read_frame(&mut reader) {
            Ok(Some(f)) => f,
            Ok(None) => {
                if !reader.dropped {
                    log.bad
                        .push("the client closed TCP before the server dropped".into());
                }
                break;
            }
            Err(e) if e.get_ref().is_some_and(|r| r.is::<ResetNow>()) => {
                log.pings = reader.pinger.stop();
                let linger = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                // SAFETY: a valid socket and a linger of the right size.
                unsafe {
                    libc::setsockopt(
                        reader.stream.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        &linger as *const libc::linger as *const libc::c_void,
                        std::mem::size_of::<libc::linger>() as libc::socklen_t,
                    )
                };
                reader.shared.mark_dropped();
                drop(reader); // the last handle: close, RST
                return log;
            }
            Err(e) => {
                if !reader.dropped {
                    log.bad.push(format!("server: reading: {e}"));
                }
                break;
            }
        };
        if !f.masked || f.rsv != 0 {
            log.bad
                .push(format!("a frame with mask {} rsv {}", f.masked, f.rsv));
        }
        match f.opcode {
            10 => log.pongs += 1,
            9 => {}
            8 => {
                if !(reader.dropped && plan.ending == Ending::Clean) {
                    log.bad.push("the client closed unprompted".into());
                }
                log.client_close = true;
                let _ = reader.stream.shutdown(Shutdown::Write);
            }
            0..=2 => {
                if log.client_close {
                    log.bad
                        .push("a data frame after the client's close frame".into());
                }
                match (&mut message, f.opcode) {
                    (None, 1 | 2) => message = Some((f.opcode, f.payload)),
                    (Some((_, data)), 0) => data.extend_from_slice(&f.payload),
                    _ => log.bad.push(format!("opcode {} out of place", f.opcode)),
                }
                if f.fin {
                    if let Some((opcode, data)) = message.take() {
                        match check_message(plan.id, opcode, &data) {
                            Ok((sender, seq)) if (sender as usize) < SENDERS => {
                                log.arrived[sender as usize].push(seq)
                            }
                            Ok((sender, _)) => log.bad.push(format!("sender {sender}?")),
                            Err(e) => log.bad.push(format!("corrupt message: {e}")),
                        }
                    }
                }
            }
            op => log.bad.push(format!("opcode {op}")),
        }
    }
    log.pings = reader.pinger.stop();
    log
}

// ---------------------------------------------------------------------------
// One connection

/// What one connection showed.
#[derive(Default)]
struct Outcome {
    violations: Vec<(&'static str, String)>,
    hang: bool,
    /// Per size class: sent Ok, failed, Ok and arrived, bytes sent Ok.
    classes: [[u64; 4]; 5],
    /// Ok sends that need not have arrived: lost with the kernels' buffers
    /// in a reset, or marked "more" and never followed by a send.
    unconfirmed: u64,
    max_return: Duration,
    max_return_who: String,
    peak: usize,
    cpu: Option<CpuSample>,
    pings: u64,
    pongs: u64,
}

fn run_connection(plan: Plan, limits: Limits) -> Outcome {
    let mut out = Outcome::default();
    let shared = Arc::new(Shared {
        base: Instant::now(),
        dropped: AtomicU64::new(0),
        slots: (0..=SENDERS).map(|_| Slot::default()).collect(),
        sent: (0..SENDERS).map(|_| Mutex::default()).collect(),
        hang: limits.hang,
        parts_turn: Mutex::new(()),
    });
    let server = {
        let shared = shared.clone();
        RawServer::start(move |s| serve(s, plan, shared))
    };
    let options = Options {
        send_queue_limit: QUEUE_LIMIT,
        write_timeout: None,
        ..Options::default()
    };
    let conn: Arc<Connection> = Arc::new(*expect_upgraded(connect(&server.url("/"), &options)));
    let probe = plan.stall.map(|stall| {
        let shared = shared.clone();
        thread::spawn(move || probe_cpu(shared, stall))
    });
    let receiving = {
        let (conn, shared) = (conn.clone(), shared.clone());
        thread::spawn(move || receiver(conn, shared))
    };
    let senders: Vec<_> = (0..SENDERS)
        .map(|id| {
            let (conn, shared) = (conn.clone(), shared.clone());
            thread::spawn(move || sender(conn, shared, plan, id))
        })
        .collect();

    // The watchdog: every call must have returned soon after the drop.
    let give_up = shared.base + plan.life + Duration::from_secs(30);
    loop {
        thread::sleep(Duration::from_millis(5));
        let done = shared
            .slots
            .iter()
            .all(|s| s.finished.load(Ordering::SeqCst) != 0);
        match shared.dropped_at() {
            Some(_) if done => break,
            Some(d) if d.elapsed() > limits.hang => {
                out.hang = true;
                break;
            }
            None if Instant::now() > give_up => {
                out.violations
                    .push(("server never dropped", format!("{plan:?}")));
                out.hang = true;
                break;
            }
            _ => {}
        }
    }
    let dropped = shared.dropped_at().unwrap_or_else(Instant::now);
    for (i, slot) in shared.slots.iter().enumerate() {
        let who = if i < SENDERS {
            format!("sender {i}")
        } else {
            "receiver".to_string()
        };
        match unstamp(shared.base, slot.finished.load(Ordering::SeqCst)) {
            Some(t) => {
                let took = t.saturating_duration_since(dropped);
                if took > out.max_return {
                    out.max_return = took;
                    out.max_return_who = format!("{who}, conn {} ({:?})", plan.id, plan.ending);
                }
                if took > limits.return_after_drop {
                    out.violations.push((
                        "a call returned late after the drop",
                        format!("{who} returned {took:.2?} after the drop"),
                    ));
                }
            }
            None => {
                let since = unstamp(shared.base, slot.in_call.load(Ordering::SeqCst));
                let call = slot.current.lock().unwrap().clone();
                let state = match since {
                    Some(s) => format!("in `{call}` for {:.2?}", s.elapsed()),
                    None => format!("between calls (last: `{call}`)"),
                };
                out.violations.push((
                    "a call never returned after the drop (hang)",
                    format!(
                        "{who} still {state}, {:.2?} after the {:?} (CPU {:?})",
                        dropped.elapsed(),
                        plan.ending,
                        thread_cpu(slot.tid.load(Ordering::SeqCst))
                    ),
                ));
            }
        }
    }
    out.peak = conn.queued_peak();
    if out.hang {
        // The stuck threads keep the connection; the run stops here.
        for sent in &shared.sent {
            tally(&sent.lock().unwrap(), &mut out);
        }
        return out;
    }
    for h in senders {
        h.join().unwrap();
    }
    let sent: Vec<Vec<Sent>> = shared
        .sent
        .iter()
        .map(|s| std::mem::take(&mut *s.lock().unwrap()))
        .collect();
    for s in &sent {
        tally(s, &mut out);
    }
    let received = receiving.join().unwrap();
    drop(conn); // the server drains until the client's EOF
    let log = server.join();
    out.cpu = probe.and_then(|p| p.join().unwrap());
    evaluate(plan, limits, dropped, &sent, &received, &log, &mut out);
    out
}

/// Count one sender's sends by size class (not what arrived).
fn tally(sent: &[Sent], out: &mut Outcome) {
    for s in sent {
        let c = &mut out.classes[class(s.len)];
        match s.result {
            Ok(()) => (c[0], c[3]) = (c[0] + 1, c[3] + s.len as u64),
            Err(_) => c[1] += 1,
        }
    }
}

/// The checks that need both sides' records.
///
/// A send that returned `Ok` must have been received, but "received" has a
/// limit: `Ok` means the bytes reached the kernel, and a reset throws away
/// what the two kernels still held. So after a FIN (the server drains
/// everything afterwards) and a clean close every `Ok` must have arrived;
/// after a reset only those that returned well after it, when no byte can
/// have reached the kernel any more. In every case a missing `Ok` before a
/// message of the same sender that did arrive is lost, and a message marked
/// "more" counts as confirmed once a later send of its thread returns `Ok`.
fn evaluate(
    plan: Plan,
    limits: Limits,
    dropped: Instant,
    sent: &[Vec<Sent>],
    received: &ReceiverLog,
    log: &ServerLog,
    out: &mut Outcome,
) {
    let mut v = |kind: &'static str, detail: String| {
        out.violations.push((
            kind,
            format!("conn {} ({:?}): {detail}", plan.id, plan.ending),
        ))
    };
    for bad in &log.bad {
        v("the server saw a bad frame or message", bad.clone());
    }
    for m in &received.unexpected {
        v("the receiver got a message", m.clone());
    }
    if received.returned < dropped {
        v(
            "the receiver ended before the drop",
            format!(
                "{:.2?} before: {}",
                dropped - received.returned,
                received.end
            ),
        );
    }
    for (id, (sends, arrived)) in sent.iter().zip(&log.arrived).enumerate() {
        if let Some(w) = arrived.windows(2).find(|w| w[1] <= w[0]) {
            v(
                "messages out of order",
                format!("sender {id}: #{} after #{}", w[1], w[0]),
            );
        }
        let last_arrived = arrived.iter().max().copied();
        let mut got = vec![false; sends.len()];
        for &seq in arrived {
            match got.get_mut(seq as usize) {
                Some(g) => *g = true,
                None => v(
                    "a message never sent arrived",
                    format!("sender {id} #{seq}"),
                ),
            }
        }
        // The latest `Ok` that vouches for the sends before it.
        let mut vouched_from: Option<&Sent> = None;
        for s in sends.iter().rev() {
            let c = class(s.len);
            let arrived = got[s.seq as usize];
            match &s.result {
                Err((kind, e)) => {
                    if *kind == ErrorKind::WouldBlock {
                        v(
                            "a blocking send returned WouldBlock",
                            format!("sender {id} #{} ({:?}): {e}", s.seq, s.mode),
                        );
                    } else if s.returned < dropped {
                        v(
                            "a send failed before the drop",
                            format!("sender {id} #{} ({:?}): {kind:?}: {e}", s.seq, s.mode),
                        );
                    }
                }
                Ok(()) => {
                    if arrived {
                        out.classes[c][2] += 1;
                    }
                    if s.mode != Mode::More && vouched_from.is_none() {
                        vouched_from = Some(s);
                    }
                    let voucher = if s.mode == Mode::More {
                        vouched_from.filter(|w| w.seq > s.seq)
                    } else {
                        Some(s)
                    };
                    let must = match (plan.ending, voucher) {
                        _ if last_arrived.is_some_and(|l| l > s.seq) => true,
                        (_, None) => false,
                        (Ending::Fin | Ending::Clean, Some(_)) => true,
                        (Ending::Reset, Some(w)) => w.returned > dropped + limits.reset_grace,
                    };
                    if arrived {
                        continue;
                    }
                    if !must {
                        out.unconfirmed += 1;
                        continue;
                    }
                    let when = match s.returned.checked_duration_since(dropped) {
                        Some(d) => format!("{d:.2?} after the drop"),
                        None => format!("{:.2?} before the drop", dropped - s.returned),
                    };
                    v(
                        "a send returned Ok but its message never arrived",
                        format!(
                            "sender {id} #{} ({:?}, {} bytes) returned Ok {when}",
                            s.seq, s.mode, s.len
                        ),
                    );
                }
            }
        }
    }
    if out.peak > QUEUE_LIMIT + QUEUE_SLACK {
        v(
            "the send queue went past its limit + 1 KiB",
            format!("{} bytes queued (limit {QUEUE_LIMIT})", out.peak),
        );
    }
    if let Some(cpu) = out.cpu.filter(|c| c.process > limits.cpu_while_blocked) {
        v(
            "CPU used while every sender was blocked",
            format!(
                "{:.0}% of a core (busiest client thread {:.0}%)",
                cpu.process * 100.0,
                cpu.thread * 100.0
            ),
        );
    }
    out.pings = log.pings;
    out.pongs = log.pongs;
}

// ---------------------------------------------------------------------------
// The run and its report

#[derive(Default)]
struct Totals {
    connections: u64,
    endings: [u64; 3],
    classes: [[u64; 4]; 5],
    unconfirmed: u64,
    max_return: Duration,
    max_return_who: String,
    peak: usize,
    cpu: Vec<CpuSample>,
    stalls: u64,
    pings: u64,
    pongs: u64,
    violations: Vec<(&'static str, String)>,
    hang: bool,
}

impl Totals {
    fn add(&mut self, plan: Plan, o: Outcome) {
        self.connections += 1;
        self.endings[plan.ending as usize] += 1;
        for (t, c) in self.classes.iter_mut().zip(o.classes) {
            for (a, b) in t.iter_mut().zip(c) {
                *a += b;
            }
        }
        self.unconfirmed += o.unconfirmed;
        if o.max_return >= self.max_return {
            self.max_return = o.max_return;
            self.max_return_who = o.max_return_who;
        }
        self.peak = self.peak.max(o.peak);
        self.stalls += plan.stall.is_some() as u64;
        self.cpu.extend(o.cpu);
        self.pings += o.pings;
        self.pongs += o.pongs;
        self.violations.extend(o.violations);
        self.hang |= o.hang;
    }

    fn report(&self, elapsed: Duration, seed: u64) -> String {
        let mut r = format!(
            "stress: {} connections in {:.1} s (seed {seed})\n\
             endings: {} resets, {} FINs, {} clean closes\n\
             {:<14} {:>8} {:>8} {:>8} {:>12}\n",
            self.connections,
            elapsed.as_secs_f64(),
            self.endings[Ending::Reset as usize],
            self.endings[Ending::Fin as usize],
            self.endings[Ending::Clean as usize],
            "size",
            "sent Ok",
            "failed",
            "arrived",
            "bytes Ok",
        );
        for (c, &(_, name)) in self.classes.iter().zip(&CLASSES) {
            r += &format!(
                "{name:<14} {:>8} {:>8} {:>8} {:>12}\n",
                c[0], c[1], c[2], c[3]
            );
        }
        let cpu = |f: fn(&CpuSample) -> f64| self.cpu.iter().map(f).fold(0.0, f64::max) * 100.0;
        r += &format!(
            "Ok but not confirmed (lost with a reset's kernel buffers, or \"more\" never followed): {}\n\
             max time to return after a drop: {:.3?} ({})\n\
             max queued: {} bytes (limit {QUEUE_LIMIT} + {QUEUE_SLACK})\n\
             CPU while every sender was blocked: max {:.1}% of a core, busiest client thread \
             {:.1}% ({} windows of {} stalls)\n\
             pings sent {}, pongs received {}\n",
            self.unconfirmed,
            self.max_return,
            self.max_return_who,
            self.peak,
            cpu(|c| c.process),
            cpu(|c| c.thread),
            self.cpu.len(),
            self.stalls,
            self.pings,
            self.pongs,
        );
        let mut kinds: Vec<&'static str> = self.violations.iter().map(|(k, _)| *k).collect();
        kinds.sort_unstable();
        kinds.dedup();
        r += &format!("violations: {}\n", self.violations.len());
        for kind in kinds {
            let all: Vec<&String> = self
                .violations
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, d)| d)
                .collect();
            r += &format!("  {} x {kind}\n", all.len());
            for d in all.iter().take(4) {
                r += &format!("      {d}\n");
            }
        }
        if self.hang {
            r += "the run stopped at the first hang (a stuck thread cannot be freed); \
                  what arrived on that connection is not counted\n";
        }
        r
    }
}

fn run(plans: impl Iterator<Item = Plan>, seconds: f64, seed: u64, limits: Limits) {
    let started = Instant::now();
    let mut totals = Totals::default();
    for plan in plans {
        if started.elapsed().as_secs_f64() >= seconds {
            break;
        }
        let outcome = run_connection(plan, limits);
        totals.add(plan, outcome);
        if totals.hang {
            break;
        }
    }
    let report = totals.report(started.elapsed(), seed);
    println!("{report}");
    assert!(
        totals.violations.is_empty(),
        "{} violations: see the report above",
        totals.violations.len()
    );
}

/// `make stress`: connections with random plans for `STRESS_SECONDS`.
#[test]
#[ignore = "minutes long: run by `make stress`"]
fn stress() {
    let seconds: f64 = std::env::var("STRESS_SECONDS")
        .ok()
        .map(|s| s.parse().expect("STRESS_SECONDS: a number of seconds"))
        .unwrap_or(300.0);
    let seed: u64 = std::env::var("STRESS_SEED")
        .ok()
        .map(|s| s.parse().expect("STRESS_SEED: an integer"))
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let endings: Vec<Ending> = std::env::var("STRESS_ENDINGS")
        .unwrap_or_else(|_| "reset,fin,clean".into())
        .split(',')
        .map(|e| match e.trim() {
            "reset" => Ending::Reset,
            "fin" => Ending::Fin,
            "clean" => Ending::Clean,
            other => panic!("STRESS_ENDINGS: {other:?} is not reset, fin or clean"),
        })
        .collect();
    let limit = seconds as u64 + 60;
    watchdog(limit, move || {
        let mut rng = Rng::new(seed);
        let plans = (0..).map(move |id| Plan::random(id, &mut rng, &endings));
        run(plans, seconds, seed, LIMITS);
    });
}

/// A fixed five-second script: one connection of each ending, the clean
/// one with a stall.
#[test]
fn stress_short() {
    let plan = |id, life_ms, stall, ending| Plan {
        id,
        seed: 0x5EED + id as u64,
        life: Duration::from_millis(life_ms),
        stall,
        ending,
    };
    let plans = [
        plan(0, 700, None, Ending::Reset),
        plan(1, 600, None, Ending::Fin),
        plan(2, 1800, Some(STALL), Ending::Clean),
    ];
    watchdog(60, move || {
        run(plans.into_iter(), f64::INFINITY, 0x5EED, SHORT_LIMITS)
    });
}
