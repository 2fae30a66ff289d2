//! Opening a connection without blocking: one state machine for its whole
//! opening, resolving → connecting (TCP, addresses raced) → the proxy
//! tunnel → TLS → the HTTP upgrade (→ a redirect starts again) → open.
//!
//! [`Opening::advance`] goes as far as it can without waiting; then the
//! caller waits for [`Opening::fd`] to be readable, until
//! [`Opening::next_deadline`] at the latest. That descriptor is one epoll
//! instance (a [`Waiter`]) for the whole opening, watching what the step
//! waits for: the resolver's eventfd, the racing attempts, the socket. The
//! time comes in as an argument; one deadline (the handshake timeout)
//! covers every step of a hop, and the connect timeout the lookup and TCP.
//!
//! The parsers (HTTP answers, the CONNECT and SOCKS5 exchanges, the 101's
//! checks) are sans-I/O; this module only moves their bytes. The blocking
//! `connect` is a loop over it.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Instant;

use crate::client::connection::{Agreed, Connection, Interest};
use crate::client::proxy::{proxy_for, Address, Next, Proxy, ProxyKind, Tunnel};
use crate::client::redirect::{hop_settings, is_redirect, redirect_target};
use crate::client::Options;
use crate::deflate::{Deflater, Inflater};
use crate::error::{Error, ErrorKind, Result};
use crate::handshake::{
    new_key, parse_response, BodyReader, HttpResponse, Parsed, Request, Target, Upgrade,
};
use crate::observe::{
    next_conn_id, redacted_head, redacted_headers, Field, Timings, Trace, TraceEvent, TraceKind,
};
use crate::proto::receiver::Receiver;
use crate::proto::sender::Sender;
use crate::session::{self, Session};
use crate::transport::{
    pinned, start_tls, tls_summary, Lookup, Pipe, Race, Socket, Stream, TlsHandshake, TlsStep,
    Waiter,
};

/// How far an [`Opening::advance`] got.
pub enum Step {
    /// The WebSocket is open.
    Open(Box<Connection>),
    /// The server answered with another status (after any redirects
    /// followed), as the ws-client egg 1.0 hands it back.
    Response(HttpResponse),
    /// Wait for [`Opening::wants`] on the descriptor, then advance again.
    Pending,
}

/// A connection being opened (see the module's documentation).
pub struct Opening {
    /// The caller's options and request.
    options: Options,
    request: Request,
    /// The URI given, and the one this hop goes to (after redirects).
    first: Target,
    target: Target,
    redirects: u32,
    /// This hop's request and options (credentials only for the first
    /// origin), and its proxy.
    hop: Hop,
    /// The handshake deadline of this hop.
    deadline: Option<Instant>,
    phase: Phase,
    /// The connection will be used blocking: a fail during the handshake
    /// waits for the server's close, as any blocking close does.
    blocking: bool,
    /// Starts a name lookup (tests give a slow or failing resolver).
    lookup: fn(&str, u16) -> io::Result<Lookup>,
    /// What the caller waits on.
    waiter: Waiter,
    /// The connection's id, its trace (when the caller set a tracer), when
    /// the opening began and when its current step did, and when each step
    /// ended.
    id: u64,
    trace: Option<Trace>,
    began: Instant,
    mark: Instant,
    timings: Timings,
}

struct Hop {
    request: Request,
    options: Options,
    proxy: Option<Proxy>,
}

/// Where the opening is; each waiting phase holds what it waits on.
enum Phase {
    /// A hop begins (the first, or after a redirect).
    Start,
    /// Looking up `host`; for a `socks5://` proxy, first the origin's name
    /// (`for_socks`), then the proxy's.
    Resolving {
        lookup: Lookup,
        host: String,
        port: u16,
        for_socks: bool,
        socks: Option<Address>,
        tcp_deadline: Option<Instant>,
    },
    /// TCP attempts to the proxy or the origin.
    Connecting {
        race: Race,
        socks: Option<Address>,
        tcp_deadline: Option<Instant>,
    },
    /// The exchange with the proxy: `out[at..]` to send, `input` received.
    Tunnel {
        socket: Socket,
        tunnel: Tunnel,
        out: Vec<u8>,
        at: usize,
        input: Vec<u8>,
    },
    Tls(Box<TlsHandshake>),
    /// The upgrade request: `out[at..]` to send.
    Request {
        stream: Stream,
        out: Vec<u8>,
        at: usize,
        key: String,
    },
    /// The server's answer; `refused`: a status other than 101, whose body
    /// is arriving.
    Response {
        stream: Stream,
        input: Vec<u8>,
        key: String,
        refused: Option<(Parsed, BodyReader)>,
    },
    /// Open, answered, or failed.
    Over,
}

/// What a phase's step led to.
enum Flow {
    /// Go on with the next phase now.
    Next(Phase),
    /// Wait, then advance this phase again.
    Wait(Phase),
    Done(Step),
}

/// The smallest read while opening.
const READ_CHUNK: usize = 4 << 10;

fn timed_out(what: &str) -> Error {
    Error::exn(ErrorKind::Timeout, what)
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Read what the socket has (up to a few KiB) onto `input`.
fn read_some(stream: &mut impl Read, input: &mut Vec<u8>) -> io::Result<usize> {
    let at = input.len();
    input.resize(at + READ_CHUNK, 0);
    let result = stream.read(&mut input[at..]);
    input.truncate(at + *result.as_ref().unwrap_or(&0));
    result
}

/// A read or write that must wait for the socket.
fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// On TLS, a failed write is often explained by an alert the server queued
/// before resetting (e.g. "certificate required"): read it to report that.
fn explain_write_failure(stream: &mut Stream, error: io::Error) -> Error {
    if matches!(stream, Stream::Tls(_)) {
        if let Err(read_error) = stream.read(&mut [0u8; 1]) {
            let explained = Error::from(read_error);
            if explained.kind() == ErrorKind::Tls {
                return explained.context("sending the handshake request");
            }
        }
    }
    Error::from(error).context("sending the handshake request")
}

impl Opening {
    /// Check `uri` and `options` and get ready to open; nothing is done
    /// on the network yet. `blocking`: see [`Opening::blocking`].
    pub fn start(uri: &str, options: &Options, blocking: bool) -> Result<Opening> {
        options.validate()?;
        let first = Target::parse(uri)?;
        let request = Request {
            absolute_form: options.absolute_form && !options.strip_host,
            origin: options.origin.clone(),
            subprotocols: options.subprotocols.clone(),
            extensions: options
                .deflate_offers
                .iter()
                .map(|o| o.header_value())
                .collect(),
            headers: options.headers.clone(),
        };
        request.validate()?;
        let hop = Hop {
            request: request.clone(),
            options: options.clone(),
            proxy: None,
        };
        let id = next_conn_id();
        let began = Instant::now();
        Ok(Opening {
            id,
            trace: options.tracer.clone().map(|t| Trace::new(t, id, began)),
            began,
            mark: began,
            timings: Timings::default(),
            options: options.clone(),
            request,
            target: first.clone(),
            first,
            redirects: 0,
            hop,
            deadline: None,
            phase: Phase::Start,
            blocking,
            lookup: Lookup::start,
            waiter: Waiter::new()?,
        })
    }

    /// Open over the caller's transport (see [`Pipe`]): no lookup, TCP,
    /// proxy or TLS (the caller's, if any: a `wss://` URI only names the
    /// origin); the upgrade request goes into the pipe at the first
    /// [`Opening::advance`]; a redirect is an answer, not followed.
    pub fn over(uri: &str, options: &Options, pipe: Pipe) -> Result<Opening> {
        let mut opening = Opening::start(uri, options, false)?;
        opening.options.max_redirects = 0;
        opening.deadline = options.handshake_timeout.map(|t| opening.began + t);
        opening.phase = opening.request_phase(Stream::Caller(pipe));
        Ok(opening)
    }

    /// Go as far as possible without waiting. `Pending`: wait for
    /// [`Opening::wants`] on the descriptor (at most until
    /// [`Opening::next_deadline`]) and call again. After `Open`,
    /// `Response` or an error the opening is over.
    pub fn advance(&mut self, now: Instant) -> Result<Step> {
        loop {
            let phase = std::mem::replace(&mut self.phase, Phase::Over);
            let flow = self.step(phase, now).inspect_err(|e| {
                self.emit(|| TraceEvent::failure(e));
            })?;
            match flow {
                Flow::Next(next) => self.phase = next,
                Flow::Wait(same) => {
                    self.phase = same;
                    self.watch()?;
                    return Ok(Step::Pending);
                }
                Flow::Done(step) => return Ok(step),
            }
        }
    }

    fn emit(&self, event: impl FnOnce() -> TraceEvent) {
        if let Some(t) = &self.trace {
            t.emit(event());
        }
    }

    /// The time since the opening began, and since its step began (the
    /// next step begins now). Read from the clock: one `advance` may go
    /// through several steps after the time it was given.
    fn lap(&mut self) -> (std::time::Duration, std::time::Duration) {
        let now = Instant::now();
        let since = |t: Instant| now.saturating_duration_since(t);
        let lap = (since(self.began), since(self.mark));
        self.mark = now;
        lap
    }

    /// The connection's id, as its trace events carry it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// What to wait for on [`Opening::fd`]: readable, until it is over.
    pub fn wants(&self) -> Interest {
        Interest {
            read: !self.is_over(),
            write: false,
        }
    }

    /// Point the waiter at what this phase waits for (the racing attempts
    /// watch themselves).
    fn watch(&self) -> Result<()> {
        let socket = match &self.phase {
            Phase::Resolving { lookup, .. } => {
                self.waiter.watch(lookup.as_fd(), true, false)?;
                return Ok(());
            }
            Phase::Tunnel { socket, .. } => socket,
            Phase::Tls(h) => h.socket(),
            Phase::Request { stream, .. } | Phase::Response { stream, .. } => {
                match stream.socket() {
                    Some(socket) => socket,
                    // The caller's transport: the caller moves its bytes.
                    None => return Ok(()),
                }
            }
            Phase::Connecting { .. } | Phase::Start | Phase::Over => return Ok(()),
        };
        let (read, write) = match &self.phase {
            Phase::Tunnel { out, at, .. } => (*at == out.len(), *at < out.len()),
            Phase::Tls(h) => (h.wants_read(), !h.wants_read()),
            Phase::Request { .. } => (false, true),
            _ => (true, false),
        };
        self.waiter.watch(socket.as_fd(), read, write)?;
        Ok(())
    }

    /// When to advance at the latest, whatever the descriptor says.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Resolving { tcp_deadline, .. } => earliest(self.deadline, *tcp_deadline),
            Phase::Connecting {
                race, tcp_deadline, ..
            } => earliest(earliest(self.deadline, *tcp_deadline), race.next_start()),
            Phase::Over => None,
            _ => self.deadline,
        }
    }

    /// Whether the opening is over (open, answered or failed).
    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Over)
    }

    /// What the opening is doing, for a caller's message.
    pub fn doing(&self) -> String {
        match &self.phase {
            Phase::Start => "starting".into(),
            Phase::Resolving { host, .. } => format!("resolving {host}"),
            Phase::Connecting { .. } => "connecting".into(),
            Phase::Tunnel { .. } => "opening the proxy tunnel".into(),
            Phase::Tls(_) => "in the TLS handshake".into(),
            Phase::Request { .. } => "sending the upgrade request".into(),
            Phase::Response { .. } => "waiting for the server's answer".into(),
            Phase::Over => "over".into(),
        }
    }

    /// The proxy's name, for errors on the way to it.
    fn proxy_context(&self) -> Option<String> {
        self.hop
            .proxy
            .as_ref()
            .map(|p| format!("proxy {}", p.authority()))
    }

    fn in_proxy(&self, e: Error) -> Error {
        match self.proxy_context() {
            Some(context) => e.context(&context),
            None => e,
        }
    }

    fn step(&mut self, phase: Phase, now: Instant) -> Result<Flow> {
        let late = self.deadline.is_some_and(|d| now >= d);
        match phase {
            Phase::Start => self.start_hop(now).map(Flow::Next),
            Phase::Resolving {
                lookup,
                host,
                port,
                for_socks,
                socks,
                tcp_deadline,
            } => {
                let addrs = match lookup.answer() {
                    Some(Ok(addrs)) if addrs.is_empty() => Err(Error::exn(
                        ErrorKind::Resolve,
                        format!("{host} has no addresses"),
                    )),
                    Some(Ok(addrs)) => Ok(addrs),
                    Some(Err(e)) => Err(Error::exn(
                        ErrorKind::Resolve,
                        format!("cannot resolve {host}: {e}"),
                    )),
                    None if late || tcp_deadline.is_some_and(|d| now >= d) => {
                        Err(timed_out(&format!("resolving {host} timed out")))
                    }
                    None => {
                        return Ok(Flow::Wait(Phase::Resolving {
                            lookup,
                            host,
                            port,
                            for_socks,
                            socks,
                            tcp_deadline,
                        }))
                    }
                };
                let addrs = if for_socks {
                    addrs?
                } else {
                    addrs.map_err(|e| self.in_proxy(e))?
                };
                let (since, took) = self.lap();
                self.timings.resolve = Some(since);
                self.emit(|| {
                    let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                    TraceEvent::new(
                        TraceKind::Resolved,
                        format!("resolved {host} to {}", list.join(", ")),
                    )
                    .text(Field::Host, host.clone())
                    .text(Field::Address, list.join(", "))
                    .number(Field::DurationUs, took.as_micros())
                });
                if for_socks {
                    let socks = Some(Address::Ip(addrs[0].ip()));
                    let proxy = self.hop.proxy.clone().expect("resolved for a proxy");
                    return self
                        .dial(&proxy.host, proxy.port, socks, tcp_deadline, now)
                        .map(Flow::Next);
                }
                let mut race = Race::new(&host, port, &addrs, now)?;
                race.set_trace(self.trace.clone());
                Ok(Flow::Next(Phase::Connecting {
                    race,
                    socks,
                    tcp_deadline,
                }))
            }
            Phase::Connecting {
                mut race,
                socks,
                tcp_deadline,
            } => {
                if late || tcp_deadline.is_some_and(|d| now >= d) {
                    return Err(self.in_proxy(race.timed_out()));
                }
                match race.poll(now, &self.waiter).map_err(|e| self.in_proxy(e))? {
                    None => Ok(Flow::Wait(Phase::Connecting {
                        race,
                        socks,
                        tcp_deadline,
                    })),
                    Some(tcp) => match self.hop.proxy.clone() {
                        Some(proxy) => {
                            self.timings.connect = Some(self.lap().0);
                            let address =
                                socks.unwrap_or_else(|| Address::Domain(self.target.host.clone()));
                            let (tunnel, out) =
                                Tunnel::start(&proxy, &self.target, &address, &self.hop.options)
                                    .map_err(|e| self.in_proxy(e))?;
                            self.emit(|| {
                                let via = format!("{:?}", proxy.kind).to_ascii_lowercase();
                                TraceEvent::new(
                                    TraceKind::Proxy,
                                    format!(
                                        "asking {via} proxy {} for a tunnel to {}",
                                        proxy.authority(),
                                        crate::transport::authority(
                                            &self.target.host,
                                            self.target.port
                                        )
                                    ),
                                )
                                .text(Field::Proxy, proxy.authority())
                            });
                            Ok(Flow::Next(Phase::Tunnel {
                                socket: tcp.into(),
                                tunnel,
                                out,
                                at: 0,
                                input: Vec::new(),
                            }))
                        }
                        None => {
                            self.timings.connect = Some(self.lap().0);
                            self.secure(tcp).map(Flow::Next)
                        }
                    },
                }
            }
            Phase::Tunnel {
                socket,
                tunnel,
                out,
                at,
                input,
            } => {
                let flow = self.tunnel(socket, tunnel, out, at, input, late);
                flow.map_err(|e| self.in_proxy(e))
            }
            Phase::Tls(handshake) => {
                if late {
                    let ms = self
                        .options
                        .handshake_timeout
                        .unwrap_or_default()
                        .as_millis();
                    return Err(timed_out(&format!(
                        "the TLS handshake did not finish within {ms} ms"
                    )));
                }
                match handshake.advance()? {
                    TlsStep::Pending(h) => Ok(Flow::Wait(Phase::Tls(h))),
                    TlsStep::Done(stream) => {
                        self.tls_done(&stream);
                        Ok(Flow::Next(self.request_phase(Stream::Tls(stream))))
                    }
                }
            }
            Phase::Request {
                mut stream,
                out,
                mut at,
                key,
            } => {
                while at < out.len() {
                    if late {
                        return Err(timed_out("the handshake timed out"));
                    }
                    match stream.write(&out[at..]) {
                        Ok(0) => {
                            return Err(Error::exn(
                                ErrorKind::ConnectionLost,
                                "the server closed the connection during the handshake",
                            ))
                        }
                        Ok(n) => at += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            return Ok(Flow::Wait(Phase::Request {
                                stream,
                                out,
                                at,
                                key,
                            }))
                        }
                        Err(e) => return Err(explain_write_failure(&mut stream, e)),
                    }
                }
                self.lap();
                self.emit(|| {
                    let head = String::from_utf8_lossy(&out);
                    let line = head.lines().next().unwrap_or_default().to_string();
                    let sensitive = &self.hop.options.sensitive_headers;
                    TraceEvent::new(TraceKind::RequestSent, format!("request sent: {line}"))
                        .text(Field::Headers, redacted_head(&head, sensitive))
                });
                Ok(Flow::Next(Phase::Response {
                    stream,
                    input: Vec::new(),
                    key,
                    refused: None,
                }))
            }
            Phase::Response {
                stream,
                input,
                key,
                refused,
            } => self.response(stream, input, key, refused, late, now),
            Phase::Over => Err(Error::exn(
                ErrorKind::InvalidState,
                "the opening is over: it opened, was answered or failed",
            )),
        }
    }

    /// A hop begins: settings for its origin, its proxy, and the first
    /// lookup or connection attempts.
    fn start_hop(&mut self, now: Instant) -> Result<Phase> {
        let (request, options) =
            hop_settings(&self.first, &self.target, &self.request, &self.options);
        let proxy = proxy_for(&self.target, &options)?;
        self.mark = Instant::now();
        self.deadline = options.handshake_timeout.map(|t| now + t);
        let tcp_deadline = earliest(self.deadline, options.connect_timeout.map(|t| now + t));
        self.hop = Hop {
            request,
            options,
            proxy: proxy.clone(),
        };
        let Some(proxy) = proxy else {
            let (host, port) = (self.target.host.clone(), self.target.port);
            return self.dial(&host, port, None, tcp_deadline, now);
        };
        // Where a SOCKS5 proxy is asked to connect: an address, or the name
        // for a proxy that resolves it (socks5h://, and HTTP's CONNECT).
        let host = &self.target.host;
        let socks = if let Ok(ip) = host.parse::<IpAddr>() {
            Address::Ip(ip)
        } else if proxy.remote_dns() {
            Address::Domain(host.clone())
        } else if let Some(addrs) = pinned(&self.hop.options.resolve, host, self.target.port) {
            Address::Ip(addrs[0].ip())
        } else {
            // socks5://: the origin's name is looked up here first.
            return Ok(Phase::Resolving {
                lookup: (self.lookup)(host, self.target.port)?,
                host: host.clone(),
                port: self.target.port,
                for_socks: true,
                socks: None,
                tcp_deadline,
            });
        };
        if proxy.kind == ProxyKind::Http {
            return self.dial(&proxy.host, proxy.port, None, tcp_deadline, now);
        }
        self.dial(&proxy.host, proxy.port, Some(socks), tcp_deadline, now)
    }

    /// TCP to `host:port`: its pinned addresses or an IP literal at once,
    /// else a lookup first.
    fn dial(
        &self,
        host: &str,
        port: u16,
        socks: Option<Address>,
        tcp_deadline: Option<Instant>,
        now: Instant,
    ) -> Result<Phase> {
        let addrs = match pinned(&self.hop.options.resolve, host, port) {
            Some(addrs) => addrs,
            None => match host.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => {
                    return Ok(Phase::Resolving {
                        lookup: (self.lookup)(host, port)?,
                        host: host.to_string(),
                        port,
                        for_socks: false,
                        socks,
                        tcp_deadline,
                    })
                }
            },
        };
        let mut race = Race::new(host, port, &addrs, now)?;
        race.set_trace(self.trace.clone());
        Ok(Phase::Connecting {
            race,
            socks,
            tcp_deadline,
        })
    }

    /// TCP is through (to the origin, or the tunnel is open): TLS for
    /// wss://, then the request.
    fn secure(&mut self, tcp: TcpStream) -> Result<Phase> {
        tcp.set_nonblocking(true)?;
        if !self.target.tls {
            return Ok(self.request_phase(Stream::Plain(tcp.into())));
        }
        match start_tls(
            tcp,
            &self.target.host,
            self.target.port,
            &self.hop.options.tls,
        )? {
            TlsStep::Pending(h) => Ok(Phase::Tls(h)),
            TlsStep::Done(stream) => {
                self.tls_done(&stream);
                Ok(self.request_phase(Stream::Tls(stream)))
            }
        }
    }

    fn tls_done(&mut self, stream: &openssl::ssl::SslStream<Socket>) {
        let (since, took) = self.lap();
        self.timings.tls = Some(since);
        self.emit(|| tls_summary(stream.ssl()).number(Field::DurationUs, took.as_micros()));
    }

    fn request_phase(&self, stream: Stream) -> Phase {
        let key = new_key();
        let out = self.hop.request.render(&self.target, &key).into_bytes();
        Phase::Request {
            stream,
            out,
            at: 0,
            key,
        }
    }

    fn tunnel(
        &mut self,
        mut socket: Socket,
        mut tunnel: Tunnel,
        mut out: Vec<u8>,
        mut at: usize,
        mut input: Vec<u8>,
        late: bool,
    ) -> Result<Flow> {
        loop {
            if late {
                let why = timed_out("the handshake timed out");
                return Err(tunnel.cut_short(why));
            }
            while at < out.len() {
                match socket.write(&out[at..]) {
                    Ok(n) => at += n,
                    Err(e) if would_block(&e) => {
                        return Ok(Flow::Wait(Phase::Tunnel {
                            socket,
                            tunnel,
                            out,
                            at,
                            input,
                        }))
                    }
                    Err(e) => return Err(Error::from(e).context("sending to the proxy")),
                }
            }
            match tunnel.feed(&mut input)? {
                Next::Send(bytes) => (out, at) = (bytes, 0),
                Next::Open => {
                    let tcp = socket
                        .into_tcp()
                        .expect("the tunnel's socket is not shared");
                    let (since, took) = self.lap();
                    self.timings.proxy = Some(since);
                    self.emit(|| {
                        let proxy = self.proxy_context().unwrap_or_default();
                        TraceEvent::new(TraceKind::Proxy, format!("{proxy}: tunnel open"))
                            .number(Field::DurationUs, took.as_micros())
                    });
                    return self.secure(tcp).map(Flow::Next);
                }
                Next::Read => match read_some(&mut socket, &mut input) {
                    Ok(0) => {
                        let why = Error::exn(ErrorKind::Proxy, "the proxy closed the connection");
                        return Err(tunnel.cut_short(why));
                    }
                    Ok(_) => {}
                    Err(e) if would_block(&e) => {
                        return Ok(Flow::Wait(Phase::Tunnel {
                            socket,
                            tunnel,
                            out,
                            at,
                            input,
                        }))
                    }
                    Err(e) => return Err(tunnel.cut_short(e.into())),
                },
            }
        }
    }

    /// Read the server's answer: a 101 opens the WebSocket; any other
    /// status is read with its body (as much as arrives before the end of
    /// the stream or the deadline) and followed if it redirects.
    fn response(
        &mut self,
        mut stream: Stream,
        mut input: Vec<u8>,
        key: String,
        mut refused: Option<(Parsed, BodyReader)>,
        late: bool,
        now: Instant,
    ) -> Result<Flow> {
        loop {
            match &mut refused {
                None => {
                    let max = self.hop.options.max_handshake_size;
                    if let Some((parsed, len)) = parse_response(&input, max)? {
                        input.drain(..len);
                        let (since, took) = self.lap();
                        if parsed.status == 101 {
                            self.timings.http = Some(since);
                        }
                        self.emit(|| {
                            let headers = parsed.headers.iter().map(|(n, v)| (&n[..], &v[..]));
                            TraceEvent::new(
                                TraceKind::Response,
                                format!("response: {} {}", parsed.status, parsed.reason),
                            )
                            .number(Field::Status, parsed.status)
                            .number(Field::DurationUs, took.as_micros())
                            .text(
                                Field::Headers,
                                redacted_headers(headers, &self.hop.options.sensitive_headers),
                            )
                        });
                        if parsed.status == 101 {
                            return self.upgrade(stream, parsed, &key, &input, now);
                        }
                        let body =
                            BodyReader::new(parsed.body_framing(), self.options.max_response_body);
                        refused = Some((parsed, body));
                        continue;
                    }
                }
                Some((_, body)) => {
                    let used = body.feed(&input);
                    input.drain(..used);
                    if body.is_done() {
                        return self.answered(stream, refused);
                    }
                }
            }
            if late {
                if refused.is_some() {
                    return self.answered(stream, refused);
                }
                return Err(timed_out("the handshake timed out"));
            }
            match read_some(&mut stream, &mut input) {
                Ok(0) if refused.is_none() => {
                    return Err(Error::exn(
                        ErrorKind::Handshake,
                        "the server closed the connection during the handshake",
                    ))
                }
                Ok(0) => return self.answered(stream, refused),
                Ok(_) => {}
                Err(e) if would_block(&e) => {
                    return Ok(Flow::Wait(Phase::Response {
                        stream,
                        input,
                        key,
                        refused,
                    }))
                }
                Err(_) if refused.is_some() => return self.answered(stream, refused),
                Err(e) => return Err(Error::from(e).context("reading the handshake response")),
            }
        }
    }

    /// A status other than 101, with its body: followed when it redirects
    /// (a new hop), else the caller's.
    fn answered(
        &mut self,
        mut stream: Stream,
        refused: Option<(Parsed, BodyReader)>,
    ) -> Result<Flow> {
        stream.shutdown();
        let (parsed, body) = refused.expect("an answer");
        let response = HttpResponse {
            status: parsed.status,
            reason: parsed.reason,
            headers: parsed.headers,
            body: body.into_body(),
        };
        if self.options.max_redirects == 0 || !is_redirect(response.status) {
            return Ok(Flow::Done(Step::Response(response)));
        }
        self.redirects += 1;
        if self.redirects > self.options.max_redirects {
            return Err(Error::exn(
                ErrorKind::Redirect,
                format!("more than {} redirects", self.options.max_redirects),
            ));
        }
        self.target = redirect_target(&self.target, &response)?;
        self.timings.redirects = self.redirects;
        self.emit(|| {
            let to = self.target.absolute_form();
            TraceEvent::new(
                TraceKind::Redirect,
                format!("redirect ({}) to {to}", response.status),
            )
            .number(Field::Status, response.status)
            .text(Field::Location, to)
        });
        Ok(Flow::Next(Phase::Start))
    }

    /// The 101: check what the server agreed to and open the session. An
    /// agreement we cannot accept fails the WebSocket through the session's
    /// own close (a close frame with the code, then the close timeout).
    fn upgrade(
        &mut self,
        mut stream: Stream,
        parsed: Parsed,
        key: &str,
        leftover: &[u8],
        now: Instant,
    ) -> Result<Flow> {
        let options = &self.hop.options;
        let upgrade = Upgrade::validate(
            &parsed,
            key,
            &options.deflate_offers,
            &self.hop.request.subprotocols,
        );
        let config = session::Config {
            close_timeout: options.close_timeout,
            auto_pong: options.auto_pong,
            keepalive: options.keepalive,
            send_queue_limit: options.send_queue_limit,
        };
        self.timings.total = Some(self.began.elapsed());
        let agreed = |deflate, subprotocol| Agreed {
            deflate,
            subprotocol,
            headers: parsed.headers.clone(),
            read_timeout: options.read_timeout,
            write_timeout: options.write_timeout,
            id: self.id,
            timings: self.timings,
        };
        let upgrade = match upgrade {
            Ok(u) => u,
            Err(e) if e.close_code().is_some() => {
                let session = Session::new(
                    Receiver::new(options.limits, None),
                    Sender::new(None, options.fragment_size),
                    leftover,
                    config,
                    now,
                );
                let connection = Connection::new(stream, session, agreed(None, None))?;
                return Err(connection.fail_opening(e, self.blocking));
            }
            Err(e) => {
                stream.shutdown();
                return Err(e);
            }
        };
        let (inflater, deflater) = match upgrade.deflate {
            Some(p) => (
                Some(Inflater::new(
                    p.server_max_window_bits,
                    p.server_no_context_takeover,
                )?),
                Some(Deflater::new(
                    p.client_max_window_bits,
                    p.client_no_context_takeover,
                    options.compression_level,
                )?),
            ),
            None => (None, None),
        };
        let mut session = Session::new(
            Receiver::new(options.limits, inflater),
            Sender::new(deflater, options.fragment_size),
            leftover,
            config,
            now,
        );
        self.emit(|| {
            let mut text = String::from("open");
            let mut event = TraceEvent::new(TraceKind::Open, "");
            if let Some(p) = &upgrade.subprotocol {
                text.push_str(&format!(", subprotocol {p}"));
            }
            if upgrade.deflate.is_some() {
                text.push_str(", permessage-deflate");
            }
            if let Some(h) = parsed
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-extensions"))
            {
                event = event.text(Field::Headers, format!("{}: {}", h.0, h.1));
            }
            TraceEvent { text, ..event }
        });
        session.set_trace(self.trace.clone());
        let connection = Connection::new(
            stream,
            session,
            agreed(upgrade.deflate, upgrade.subprotocol),
        )?;
        Ok(Flow::Done(Step::Open(Box::new(connection))))
    }
}

impl Opening {
    /// The descriptor to wait on (readable) until the opening is over; the
    /// same one from start to end.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.waiter.as_fd()
    }

    /// [`Opening::fd`] as a number.
    pub fn raw_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.fd().as_raw_fd()
    }

    /// Wait (blocking) until the descriptor is ready or the next deadline.
    pub fn wait(&self, now: Instant) -> Result<()> {
        let left = self
            .next_deadline()
            .map(|d| d.saturating_duration_since(now));
        crate::transport::wait_fd(self.fd(), true, false, left)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
