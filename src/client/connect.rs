//! Opening a connection: TCP (and TLS), the handshake, redirects.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use url::Url;

use crate::client::connection::{Agreed, Connection};
use crate::client::proxy::{open_tunnel, proxy_for};
use crate::client::Options;
use crate::deflate::{Deflater, Inflater};
use crate::error::{Error, ErrorKind, Result};
use crate::handshake::{
    new_key, parse_response, BodyFraming, ChunkedBody, HttpResponse, Parsed, Request, Target,
    Upgrade,
};
use crate::proto::close::CloseFrame;
use crate::proto::receiver::Receiver;
use crate::proto::sender::Sender;
use crate::proto::OpCode;
use crate::session::readbuf::ReadBuf;
use crate::session::{self, Session};
use crate::transport::{connect_tcp, connect_tls, Stream, TlsOptions};

/// What `connect` got back: a connection, or (as in the ws-client egg 1.0) the
/// server's non-101 HTTP response.
pub enum Connected {
    Upgraded(Box<Connection>),
    Response(HttpResponse),
}

/// Connect to `uri` and perform the opening handshake.
pub fn connect(uri: &str, options: &Options) -> Result<Connected> {
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
    // What a redirect to another origin gets: no credentials (made once,
    // used only if such a redirect comes).
    let mut elsewhere: Option<(Request, Options)> = None;
    let mut target = first.clone();
    let mut redirects = 0;
    loop {
        let (request, options) = if options.redirect_credentials || same_origin(&first, &target) {
            (&request, options)
        } else {
            let (r, o) = elsewhere.get_or_insert_with(|| without_credentials(&request, options));
            (&*r, &*o)
        };
        // A server name given for the URI's host is not another host's.
        let renamed;
        let options = if options.tls.server_name.is_some()
            && !first.host.eq_ignore_ascii_case(&target.host)
        {
            renamed = Options {
                tls: TlsOptions {
                    server_name: None,
                    ..options.tls.clone()
                },
                ..options.clone()
            };
            &renamed
        } else {
            options
        };
        match connect_once(&target, request, options)? {
            Connected::Response(r) if options.max_redirects > 0 && is_redirect(r.status) => {
                redirects += 1;
                if redirects > options.max_redirects {
                    return Err(Error::exn(
                        ErrorKind::Redirect,
                        format!("more than {} redirects", options.max_redirects),
                    ));
                }
                target = redirect_target(&target, &r)?;
            }
            other => return Ok(other),
        }
    }
}

/// Same scheme, host and port (RFC 6454): where credentials may go.
fn same_origin(a: &Target, b: &Target) -> bool {
    a.tls == b.tls && a.port == b.port && a.host.eq_ignore_ascii_case(&b.host)
}

/// Headers that carry credentials whatever the caller says.
const CREDENTIAL_HEADERS: [&str; 3] = ["Authorization", "Cookie", "Proxy-Authorization"];

/// The request and options for a redirect to another origin, as curl does
/// it: no `Authorization`, `Cookie` or header marked sensitive, and no
/// client certificate.
fn without_credentials(request: &Request, options: &Options) -> (Request, Options) {
    let secret = |name: &str| {
        CREDENTIAL_HEADERS
            .iter()
            .copied()
            .chain(options.sensitive_headers.iter().map(String::as_str))
            .any(|c| c.eq_ignore_ascii_case(name))
    };
    let mut request = request.clone();
    request.headers.retain(|(name, _)| !secret(name));
    let mut options = options.clone();
    options.tls.cert_file = None;
    options.tls.key_file = None;
    (request, options)
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Where a redirect points; never from wss to ws. An `http://` Location is
/// followed as `ws://` and `https://` as `wss://` (the same resource over
/// the same transport); any other scheme is refused.
fn redirect_target(from: &Target, response: &HttpResponse) -> Result<Target> {
    let location = response.header("Location").ok_or_else(|| {
        Error::exn(
            ErrorKind::Redirect,
            format!("HTTP {} without a Location", response.status),
        )
    })?;
    let mut url: Url = from.url.join(location).map_err(|e| {
        Error::exn(
            ErrorKind::Redirect,
            format!("bad Location {location:?}: {e}"),
        )
    })?;
    let scheme = match url.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => {
            return Err(Error::exn(
                ErrorKind::Redirect,
                format!("refusing to follow a redirect to a {other}: URI ({location})"),
            ))
        }
    };
    url.set_scheme(scheme)
        .map_err(|()| Error::exn(ErrorKind::Redirect, format!("bad Location {location:?}")))?;
    let next = Target::from_url(url)?;
    if from.tls && !next.tls {
        return Err(Error::exn(
            ErrorKind::Redirect,
            format!("refusing to follow a redirect from wss to {location}"),
        ));
    }
    Ok(next)
}

/// TCP (and TLS) within the handshake deadline: the whole of connect,
/// TLS handshake and HTTP exchange shares one deadline.
fn open_stream(target: &Target, options: &Options, deadline: Option<Instant>) -> Result<Stream> {
    let remaining = || -> Result<Option<Duration>> {
        match deadline.map(|d| d.saturating_duration_since(Instant::now())) {
            Some(t) if t.is_zero() => {
                Err(Error::exn(ErrorKind::Timeout, "the handshake timed out"))
            }
            other => Ok(other),
        }
    };
    let connect_timeout = match (options.connect_timeout, remaining()?) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let tcp = match proxy_for(target, options)? {
        Some(proxy) => open_tunnel(&proxy, target, options, connect_timeout, deadline)?,
        None => connect_tcp(&target.host, target.port, connect_timeout, &options.resolve)?,
    };
    let left = remaining()?;
    tcp.set_read_timeout(left)?;
    tcp.set_write_timeout(left)?;
    if target.tls {
        let tls_deadline = deadline.zip(options.handshake_timeout);
        Ok(Stream::Tls(Box::new(connect_tls(
            tcp,
            &target.host,
            &options.tls,
            tls_deadline,
        )?)))
    } else {
        Ok(Stream::Plain(tcp.into()))
    }
}

/// The handshake's reading side: one deadline for the whole response, so a
/// server that trickles bytes cannot hold `connect` past the timeout.
pub(super) struct ResponseReader<'a> {
    pub(super) stream: &'a mut Stream,
    pub(super) rbuf: ReadBuf,
    pub(super) deadline: Option<Instant>,
}

impl ResponseReader<'_> {
    /// One read; `Ok(0)` at end of stream.
    fn read_more(&mut self) -> Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::exn(ErrorKind::Timeout, "the handshake timed out"));
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        self.rbuf
            .fill(self.stream, 0)
            .map_err(|e| Error::from(e).context("reading the handshake response"))
    }

    /// Read until the response headers are complete.
    pub(super) fn head(&mut self, max: usize) -> Result<Parsed> {
        loop {
            if let Some((parsed, len)) = parse_response(self.rbuf.data(), max)? {
                self.rbuf.consume(len);
                return Ok(parsed);
            }
            if self.read_more()? == 0 {
                return Err(Error::exn(
                    ErrorKind::Handshake,
                    "the server closed the connection during the handshake",
                ));
            }
        }
    }

    /// The body of a non-101 response, up to `max` bytes; a slow or silent
    /// server ends it at the deadline. At most `max` bytes of body (and a
    /// bounded amount of chunked framing) are read, whatever the timeout.
    pub(super) fn body(&mut self, parsed: &Parsed, max: usize) -> Vec<u8> {
        if parsed.body_framing() == BodyFraming::Chunked {
            return self.chunked_body(max);
        }
        loop {
            let data = self.rbuf.data();
            let done = match parsed.body_framing() {
                BodyFraming::Empty => Some(Vec::new()),
                BodyFraming::Length(n) if data.len() >= n.min(max) => {
                    Some(data[..n.min(max)].to_vec())
                }
                BodyFraming::UntilClose if data.len() >= max => Some(data[..max].to_vec()),
                _ => None,
            };
            if let Some(body) = done {
                return body;
            }
            if !matches!(self.read_more(), Ok(n) if n > 0) {
                let data = self.rbuf.data();
                return data[..data.len().min(max)].to_vec();
            }
        }
    }

    /// A chunked body, decoded as it arrives: the read buffer holds at most
    /// one read and a partial chunk-size line.
    fn chunked_body(&mut self, max: usize) -> Vec<u8> {
        let mut decoder = ChunkedBody::new(max);
        loop {
            let used = decoder.feed(self.rbuf.data());
            self.rbuf.consume(used);
            if decoder.is_done() || !matches!(self.read_more(), Ok(n) if n > 0) {
                return decoder.into_body();
            }
        }
    }
}

/// On TLS, a failed write is often explained by an alert the server queued
/// before resetting (e.g. "certificate required"): read it to report that.
fn explain_write_failure(stream: &mut Stream, error: std::io::Error) -> Error {
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

fn connect_once(target: &Target, request: &Request, options: &Options) -> Result<Connected> {
    let deadline = options.handshake_timeout.map(|t| Instant::now() + t);
    let mut stream = open_stream(target, options, deadline)?;
    let key = new_key();
    if let Err(e) = stream.write_all(request.render(target, &key).as_bytes()) {
        return Err(explain_write_failure(&mut stream, e));
    }
    let mut reader = ResponseReader {
        stream: &mut stream,
        rbuf: ReadBuf::default(),
        deadline,
    };
    let parsed = reader.head(options.max_handshake_size)?;
    if parsed.status != 101 {
        let body = reader.body(&parsed, options.max_response_body);
        stream.shutdown();
        return Ok(Connected::Response(HttpResponse {
            status: parsed.status,
            reason: parsed.reason,
            headers: parsed.headers,
            body,
        }));
    }
    let leftover = reader.rbuf;
    let upgrade = match Upgrade::validate(
        &parsed,
        &key,
        &options.deflate_offers,
        &request.subprotocols,
    ) {
        Ok(u) => u,
        Err(e) => return Err(fail_handshake(stream, e, options.close_timeout)),
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
    let session = Session::new(
        Receiver::new(options.limits, inflater),
        Sender::new(deflater, options.fragment_size),
        leftover.data(),
        session::Config {
            close_timeout: options.close_timeout,
            auto_pong: options.auto_pong,
            keepalive: options.keepalive,
            send_queue_limit: options.send_queue_limit,
        },
        Instant::now(),
    );
    let connection = Connection::new(
        stream,
        session,
        Agreed {
            deflate: upgrade.deflate,
            subprotocol: upgrade.subprotocol,
            headers: parsed.headers,
            read_timeout: options.read_timeout,
            write_timeout: options.write_timeout,
        },
    )?;
    Ok(Connected::Upgraded(Box::new(connection)))
}

/// The server said 101 but agreed to something we cannot accept: the
/// WebSocket connection exists, so it is failed with a close frame, and the
/// server's answer awaited for the close timeout (not the handshake's).
fn fail_handshake(mut stream: Stream, error: Error, close_timeout: Duration) -> Error {
    if let Some(code) = error.close_code() {
        let mut wire = Vec::new();
        let payload = CloseFrame::payload(Some(code), error.message());
        Sender::new(None, 0).encode_frame(true, 0, OpCode::Close as u8, &payload, &mut wire);
        let timeout = Some(close_timeout.max(Duration::from_millis(1)));
        if stream.set_write_timeout(timeout).is_ok() && stream.write_all(&wire).is_ok() {
            let deadline = Instant::now() + close_timeout;
            let mut scratch = [0u8; 1024];
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
                    break;
                }
                if !matches!(stream.read(&mut scratch), Ok(n) if n > 0) {
                    break;
                }
            }
        }
    }
    stream.shutdown();
    error
}
