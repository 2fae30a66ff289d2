//! Connect without blocking, racing a host's addresses (IPv6 and IPv4, or
//! those pinned with [`ResolveEntry`]) as Happy Eyeballs (RFC 8305) does.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, SocketFlags, SocketType};

use crate::error::{Error, ErrorKind, Result};
use crate::observe::{Field, Trace, TraceEvent, TraceKind};
use crate::transport::wait::wait_any;
use crate::transport::Waiter;

/// Addresses pinned for a `host:port`, as curl's `--resolve`: connecting
/// to that host and port uses them and asks no resolver.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResolveEntry {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<IpAddr>,
}

impl ResolveEntry {
    /// Parse `host:port:addr[,addr...]`, IPv6 addresses in brackets
    /// (`example.com:443:[::1],127.0.0.1`), as curl's `--resolve`.
    pub fn parse(entry: &str) -> Result<ResolveEntry> {
        let bad = |why: String| {
            Error::invalid_argument(format!(
                "resolve entry {entry:?}: {why} (the form is host:port:address[,address...], \
                 as in \"example.com:443:[::1],127.0.0.1\")"
            ))
        };
        // The host, which may be an IPv6 literal in brackets.
        let (host, rest) = match entry.strip_prefix('[') {
            Some(v6) => match v6.split_once("]:") {
                Some((h, rest)) => (h, rest),
                None => return Err(bad("no \"]:\" after the bracketed host".into())),
            },
            None => entry.split_once(':').ok_or_else(|| bad("no port".into()))?,
        };
        if host.is_empty()
            || host
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "/?#@[]".contains(c))
        {
            return Err(bad(format!("{host:?} is not a host name")));
        }
        let (port, list) = rest
            .split_once(':')
            .ok_or_else(|| bad("no address".into()))?;
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
            _ => return Err(bad(format!("the port {port:?} is not 1..65535"))),
        };
        let addrs = list
            .split(',')
            .map(|a| {
                let ip = match a.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
                    Some(v6) => v6.parse::<std::net::Ipv6Addr>().map(IpAddr::V6).ok(),
                    None => a.parse::<IpAddr>().ok(),
                };
                ip.ok_or_else(|| {
                    bad(format!(
                        "{a:?} is not an IP address (IPv6 addresses go in brackets: [::1])"
                    ))
                })
            })
            .collect::<Result<Vec<IpAddr>>>()?;
        Ok(ResolveEntry {
            host: host.to_string(),
            port,
            addrs,
        })
    }

    /// Whether this entry is for `host:port` (host names compare without
    /// regard to case).
    pub fn matches(&self, host: &str, port: u16) -> bool {
        self.port == port && self.host.eq_ignore_ascii_case(host)
    }
}

/// The addresses pinned for `host:port` in `pins`, if any.
pub fn pinned(pins: &[ResolveEntry], host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    pins.iter().find(|e| e.matches(host, port)).map(|e| {
        e.addrs
            .iter()
            .map(|ip| SocketAddr::new(*ip, port))
            .collect()
    })
}

/// `host:port`, with an IPv6 host in brackets (`[::1]:443`), as in a URI
/// and as `SocketAddr` prints itself.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// RFC 8305's connection-attempt delay: how long an attempt has alone
/// before the next address is tried beside it.
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// When to start which connection attempt (RFC 8305 §5), without I/O: the
/// first address at once, the next when [`ATTEMPT_DELAY`] has passed since
/// the last start or at once when an attempt fails, and so on until every
/// address has been tried. The caller runs the attempts and reports
/// failures; time comes in as an argument.
#[derive(Debug)]
struct Racer {
    /// The addresses in the order they are tried (see [`interleave`]).
    order: Vec<SocketAddr>,
    /// How many of `order` have been started.
    started: usize,
    in_flight: usize,
    /// When the next address is due (if nothing fails before).
    next_at: Instant,
}

impl Racer {
    fn new(addrs: &[SocketAddr], now: Instant) -> Racer {
        Racer {
            order: interleave(addrs),
            started: 0,
            in_flight: 0,
            next_at: now,
        }
    }

    /// The next attempt to start now, if one is due: its index in `order`.
    fn start(&mut self, now: Instant) -> Option<usize> {
        let due = now >= self.next_at || self.in_flight == 0;
        if self.started == self.order.len() || !due {
            return None;
        }
        self.started += 1;
        self.in_flight += 1;
        self.next_at = now + ATTEMPT_DELAY;
        Some(self.started - 1)
    }

    /// An attempt failed: the next one is due at once.
    fn failed(&mut self, now: Instant) {
        self.in_flight -= 1;
        self.next_at = now;
    }

    /// When the next attempt is due; None once all have started.
    fn next_start(&self) -> Option<Instant> {
        (self.started < self.order.len()).then_some(self.next_at)
    }

    /// Every attempt has started and failed.
    fn all_failed(&self) -> bool {
        self.started == self.order.len() && self.in_flight == 0
    }
}

/// The order of attempts (RFC 8305 §4): the resolver's (or the pinned)
/// order within each family, alternating families, starting with the
/// family of the first address (the resolver's preference: IPv6 first,
/// normally).
fn interleave(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let (mut same, mut other): (Vec<_>, Vec<_>) = addrs
        .iter()
        .copied()
        .partition(|a| a.is_ipv6() == first.is_ipv6());
    same.reverse();
    other.reverse();
    let mut order = Vec::with_capacity(addrs.len());
    loop {
        match (same.pop(), other.pop()) {
            (None, None) => return order,
            (a, b) => order.extend(a.into_iter().chain(b)),
        }
    }
}

/// Start a non-blocking connect to `addr`: the socket, and whether it is
/// already connected.
fn start_attempt(addr: SocketAddr) -> io::Result<(OwnedFd, bool)> {
    let family = if addr.is_ipv6() {
        AddressFamily::INET6
    } else {
        AddressFamily::INET
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    match rustix::net::connect(&fd, &addr) {
        Ok(()) => Ok((fd, true)),
        Err(rustix::io::Errno::INPROGRESS) | Err(rustix::io::Errno::INTR) => Ok((fd, false)),
        Err(e) => Err(e.into()),
    }
}

/// The outcome of an attempt the poll said was ready.
fn finish_attempt(fd: &OwnedFd) -> io::Result<()> {
    match rustix::net::sockopt::socket_error(fd) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) | Err(e) => Err(e.into()),
    }
}

/// The winner: non-blocking, without Nagle's delay (a WebSocket frame is
/// written whole, and small ones must not wait for an ACK).
fn connected(fd: OwnedFd) -> Result<TcpStream> {
    let stream = TcpStream::from(fd);
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Connection attempts to a host's addresses, raced as [`Racer`] says,
/// without blocking: each attempt is watched in the caller's [`Waiter`];
/// when it wakes, or at [`Race::next_start`], the caller calls
/// [`Race::poll`] again. Dropping it closes every attempt.
pub struct Race {
    host: String,
    port: u16,
    racer: Racer,
    /// Why each address failed, in `racer.order`.
    failures: Vec<Option<String>>,
    /// In flight: index in `racer.order`, socket.
    attempts: Vec<(usize, OwnedFd)>,
    /// Who hears of each attempt, and when the race began.
    trace: Option<Trace>,
    began: Instant,
}

impl Race {
    pub fn new(host: &str, port: u16, addrs: &[SocketAddr], now: Instant) -> Result<Race> {
        let racer = Racer::new(addrs, now);
        Ok(Race {
            host: host.to_string(),
            port,
            failures: vec![None; racer.order.len()],
            racer,
            attempts: Vec::new(),
            trace: None,
            began: now,
        })
    }

    /// Report each attempt's start and end to `trace`.
    pub fn set_trace(&mut self, trace: Option<Trace>) {
        self.trace = trace;
    }

    /// Tell the trace about attempt `i`.
    fn note(&self, kind: TraceKind, i: usize, why: Option<&str>) {
        let Some(trace) = &self.trace else { return };
        let addr = self.racer.order[i];
        let text = match kind {
            TraceKind::TcpAttempt => format!("connecting to {addr}"),
            TraceKind::TcpConnected => format!("connected to {addr}"),
            _ => format!("cannot connect to {addr}: {}", why.unwrap_or("")),
        };
        let mut event = TraceEvent::new(kind, text)
            .text(Field::Host, self.host.clone())
            .number(Field::Port, self.port)
            .text(Field::Address, addr.to_string());
        if kind == TraceKind::TcpConnected {
            event = event.number(Field::DurationUs, self.began.elapsed().as_micros());
        }
        if let Some(why) = why {
            event = event.text(Field::Message, why);
        }
        trace.emit(event);
    }

    /// Start the attempts that are due and collect those that finished:
    /// `Some` once one connected (the others are closed), `None` while
    /// attempts are in flight or due, an error once all failed.
    pub fn poll(&mut self, now: Instant, waiter: &Waiter) -> Result<Option<TcpStream>> {
        loop {
            while let Some(i) = self.racer.start(now) {
                self.note(TraceKind::TcpAttempt, i, None);
                match start_attempt(self.racer.order[i]) {
                    Ok((fd, true)) => {
                        self.note(TraceKind::TcpConnected, i, None);
                        return connected(fd).map(Some);
                    }
                    Ok((fd, false)) => {
                        waiter.watch(fd.as_fd(), false, true)?;
                        self.attempts.push((i, fd));
                    }
                    Err(e) => {
                        self.note(TraceKind::TcpFailed, i, Some(&e.to_string()));
                        self.failures[i] = Some(e.to_string());
                        self.racer.failed(now);
                    }
                }
            }
            let fds: Vec<BorrowedFd<'_>> = self.attempts.iter().map(|(_, fd)| fd.as_fd()).collect();
            let ready = wait_any(&fds, false, true, Some(Duration::ZERO))?;
            let mut failed = false;
            for j in (0..self.attempts.len()).rev().filter(|&j| ready[j]) {
                let (i, fd) = self.attempts.swap_remove(j);
                match finish_attempt(&fd) {
                    Ok(()) => {
                        self.note(TraceKind::TcpConnected, i, None);
                        return connected(fd).map(Some);
                    }
                    Err(e) => {
                        self.note(TraceKind::TcpFailed, i, Some(&e.to_string()));
                        self.failures[i] = Some(e.to_string());
                        self.racer.failed(now);
                        failed = true;
                    }
                }
            }
            if self.racer.all_failed() {
                return Err(self.failure(ErrorKind::Connect));
            }
            if !failed {
                return Ok(None);
            }
            // A failure makes the next address due at once.
        }
    }

    /// When the next address is due, if one is still to be tried.
    pub fn next_start(&self) -> Option<Instant> {
        self.racer.next_start()
    }

    /// The deadline passed: the error naming every address's fate.
    pub fn timed_out(mut self) -> Error {
        for (i, _) in std::mem::take(&mut self.attempts) {
            self.failures[i] = Some("timed out".into());
        }
        self.failure(ErrorKind::Timeout)
    }

    fn failure(&self, kind: ErrorKind) -> Error {
        let failures: Vec<String> = self
            .racer
            .order
            .iter()
            .zip(&self.failures)
            .map(|(addr, f)| format!("{addr}: {}", f.as_deref().unwrap_or("not tried, timed out")))
            .collect();
        let kind = if kind == ErrorKind::Connect && failures.iter().all(|f| f.contains("timed out"))
        {
            ErrorKind::Timeout
        } else {
            kind
        };
        Error::exn(
            kind,
            format!(
                "cannot connect to {} ({})",
                authority(&self.host, self.port),
                failures.join("; ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Race to the end, waiting as a caller's event loop would.
    fn race(addrs: &[SocketAddr], deadline: Option<Instant>) -> Result<TcpStream> {
        let mut race = Race::new("h", 0, addrs, Instant::now())?;
        let waiter = Waiter::new()?;
        loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(race.timed_out());
            }
            if let Some(stream) = race.poll(now, &waiter)? {
                return Ok(stream);
            }
            let wake = [deadline, race.next_start()].into_iter().flatten().min();
            crate::transport::wait_fd(&waiter, true, false, wake.map(|w| w - now)).unwrap();
        }
    }

    #[test]
    fn an_ipv6_address_in_a_message_is_bracketed() {
        assert_eq!(authority("::1", 42434), "[::1]:42434");
        assert_eq!(authority("example.org", 80), "example.org:80");
        // Port 0 can never be connected to: the attempt fails at once.
        let mut race = Race::new("::1", 0, &["[::1]:0".parse().unwrap()], Instant::now()).unwrap();
        let e = race
            .poll(Instant::now(), &Waiter::new().unwrap())
            .unwrap_err();
        assert!(
            e.message().starts_with("cannot connect to [::1]:0 ("),
            "{e}"
        );
    }

    #[test]
    fn the_first_address_that_answers_wins() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let addrs = [
            SocketAddr::from(([127, 0, 0, 1], 0)),
            SocketAddr::from(([127, 0, 0, 1], port)),
        ];
        let stream = race(&addrs, Some(Instant::now() + Duration::from_secs(10))).unwrap();
        assert_eq!(stream.peer_addr().unwrap().port(), port);
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn families_alternate_starting_with_the_first_address() {
        let mixed = addrs(&["[::1]:1", "[::2]:1", "[::3]:1", "10.0.0.1:1", "10.0.0.2:1"]);
        let want = addrs(&["[::1]:1", "10.0.0.1:1", "[::2]:1", "10.0.0.2:1", "[::3]:1"]);
        assert_eq!(interleave(&mixed), want);
        let v4_first = addrs(&["10.0.0.1:1", "10.0.0.2:1", "[::1]:1"]);
        let want = addrs(&["10.0.0.1:1", "[::1]:1", "10.0.0.2:1"]);
        assert_eq!(interleave(&v4_first), want);
        let one_family = addrs(&["10.0.0.2:1", "10.0.0.1:1"]);
        assert_eq!(interleave(&one_family), one_family);
        assert!(interleave(&[]).is_empty());
    }

    #[test]
    fn attempts_start_one_per_delay_and_at_once_after_a_failure() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut r = Racer::new(
            &addrs(&["[::1]:1", "10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]),
            t0,
        );
        assert_eq!(r.start(t0), Some(0));
        assert_eq!(r.start(t0), None, "the second waits for the delay");
        assert_eq!(r.next_start(), Some(ms(250)));
        assert_eq!(r.start(ms(249)), None);
        assert_eq!(r.start(ms(250)), Some(1), "the first goes on beside it");
        assert_eq!(r.next_start(), Some(ms(500)));
        // The second fails at 300 ms: the third starts at once.
        r.failed(ms(300));
        assert_eq!(r.start(ms(300)), Some(2));
        assert_eq!(r.start(ms(300)), None);
        assert_eq!(r.next_start(), Some(ms(550)));
        assert_eq!(r.start(ms(550)), Some(3));
        assert_eq!(r.next_start(), None, "every address has started");
        assert_eq!(r.start(ms(10_000)), None);
        assert!(!r.all_failed());
        for _ in 0..3 {
            r.failed(ms(600));
        }
        assert!(r.all_failed());
    }

    #[test]
    fn when_nothing_is_in_flight_the_next_starts_whatever_the_clock() {
        let t0 = Instant::now();
        let mut r = Racer::new(&addrs(&["10.0.0.1:1", "10.0.0.2:1"]), t0);
        assert_eq!(r.start(t0), Some(0));
        r.failed(t0);
        assert_eq!(r.start(t0), Some(1));
        r.failed(t0);
        assert!(r.all_failed());
    }

    #[test]
    fn resolve_entries_parse_as_curl_writes_them() {
        let e = ResolveEntry::parse("Example.com:443:[::1],127.0.0.1").unwrap();
        assert_eq!(e.port, 443);
        assert_eq!(
            e.addrs,
            [
                "::1".parse::<IpAddr>().unwrap(),
                "127.0.0.1".parse().unwrap()
            ]
        );
        assert!(e.matches("example.COM", 443) && !e.matches("example.com", 80));
        let pins = [e];
        assert_eq!(
            pinned(&pins, "example.com", 443).unwrap(),
            addrs(&["[::1]:443", "127.0.0.1:443"])
        );
        assert_eq!(pinned(&pins, "other.example", 443), None);
        assert_eq!(ResolveEntry::parse("h:1:::1").unwrap().addrs.len(), 1);
        assert_eq!(
            ResolveEntry::parse("[::1]:80:10.0.0.1").unwrap().host,
            "::1"
        );
        for bad in [
            "",
            "example.com",
            "example.com:443",
            "example.com:443:",
            ":443:127.0.0.1",
            "example.com:0:127.0.0.1",
            "example.com:65536:127.0.0.1",
            "example.com:+1:127.0.0.1",
            "example.com:443:localhost",
            "example.com:443:127.0.0.1,",
            "example.com:443:[127.0.0.1]",
            "exa mple.com:443:127.0.0.1",
            "[::1:80:127.0.0.1",
        ] {
            let e = ResolveEntry::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}");
            assert!(e.message().starts_with("resolve entry"), "{e}");
        }
    }

    #[test]
    fn a_refused_and_an_unstarted_address_are_both_listed() {
        // Port 0 fails at once; the second is tried at once after it.
        let both = addrs(&["[::1]:0", "127.0.0.1:0"]);
        let e = race(&both, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
        assert!(e.message().contains("[::1]:0: "), "{e}");
        assert!(e.message().contains("; 127.0.0.1:0: "), "{e}");
        let e = Race::new("h", 0, &both, Instant::now())
            .unwrap()
            .timed_out();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.message().contains("127.0.0.1:0: not tried"), "{e}");
    }
}
