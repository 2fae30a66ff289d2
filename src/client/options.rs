//! Connection options. The defaults are safe: TLS verification on, limits
//! on frame, message and handshake sizes, automatic pongs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::proxy::Proxy;
use crate::deflate::DeflateOffer;
use crate::error::{io_reason, Error, Result};
use crate::handshake::Request;
use crate::observe::Tracer;
use crate::proto::receiver::Limits;
use crate::session::Keepalive;
use crate::transport::{ResolveEntry, TlsOptions};

#[derive(Clone, Debug)]
pub struct Options {
    /// permessage-deflate offers, in order of preference (fallbacks last).
    pub deflate_offers: Vec<DeflateOffer>,
    /// The ws-client egg's `strip-host` flag: send the origin-form request-target.
    /// That is already the default (RFC 6455 §4.1), so the flag matters only
    /// together with `absolute_form`, which it overrides.
    pub strip_host: bool,
    /// Send the absolute-URI as request-target, as the ws-client egg 1.0 did.
    pub absolute_form: bool,
    pub origin: Option<String>,
    pub subprotocols: Vec<String>,
    pub headers: Vec<(String, String)>,
    /// Names of headers that carry credentials (besides `Authorization`,
    /// `Cookie` and `Proxy-Authorization`): like those and the client
    /// certificate, they go only to the origin of the URI given to `connect`.
    pub sensitive_headers: Vec<String>,
    /// Send credentials to other origins reached by redirects too.
    pub redirect_credentials: bool,
    pub limits: Limits,
    /// Largest handshake response header block accepted.
    pub max_handshake_size: usize,
    /// Largest body kept from a non-101 response.
    pub max_response_body: usize,
    pub connect_timeout: Option<Duration>,
    pub handshake_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
    /// How long to wait for the server to close TCP after the close handshake.
    pub close_timeout: Duration,
    /// Follow up to this many redirects (0: return them to the caller).
    pub max_redirects: u32,
    pub tls: TlsOptions,
    /// Split outgoing messages into frames of at most this size (0: never).
    pub fragment_size: usize,
    /// zlib compression level for outgoing messages: 0..9, or -1 for
    /// zlib's default (see [`Options::set_compression_level`]).
    pub compression_level: i32,
    pub auto_pong: bool,
    /// Connect through this proxy (HTTP CONNECT or SOCKS5 tunnel).
    pub proxy: Option<Proxy>,
    /// Without `proxy`: take one from `http_proxy`/`https_proxy`/
    /// `all_proxy`, honouring `no_proxy` (off by default). As in curl,
    /// `HTTP_PROXY` in upper case is ignored (CGI's "httpoxy").
    pub use_env_proxy: bool,
    /// Ping every interval; fail when the pong is late (None: off). Both
    /// durations must be non-zero (see [`Options::set_keepalive`]).
    pub keepalive: Option<Keepalive>,
    /// Bound of the send queue (see `session::Config::send_queue_limit`);
    /// must be positive (see [`Options::set_send_queue_limit`]).
    pub send_queue_limit: usize,
    /// Addresses pinned for `host:port`s, as curl's `--resolve` (see
    /// [`Options::add_resolve`]).
    pub resolve: Vec<ResolveEntry>,
    /// Called with each trace event of connections made with these
    /// options (see [`crate::observe`]); None: no trace, no cost.
    pub tracer: Option<Tracer>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            deflate_offers: Vec::new(),
            strip_host: false,
            absolute_form: false,
            origin: None,
            subprotocols: Vec::new(),
            headers: Vec::new(),
            sensitive_headers: Vec::new(),
            redirect_credentials: false,
            limits: Limits::default(),
            max_handshake_size: 64 << 10,
            max_response_body: 1 << 20,
            connect_timeout: Some(Duration::from_secs(30)),
            handshake_timeout: Some(Duration::from_secs(30)),
            read_timeout: None,
            write_timeout: None,
            close_timeout: Duration::from_secs(5),
            max_redirects: 0,
            tls: TlsOptions::default(),
            fragment_size: 0,
            compression_level: 6,
            auto_pong: true,
            proxy: None,
            use_env_proxy: false,
            keepalive: None,
            send_queue_limit: 4 << 20,
            resolve: Vec::new(),
            tracer: None,
        }
    }
}

impl Options {
    /// Keepalive: a ping every `interval`; the connection fails when its
    /// pong has not come back `timeout` after the ping. Both zero: off;
    /// only one zero is an invalid argument.
    pub fn set_keepalive(&mut self, interval: Duration, timeout: Duration) -> Result<()> {
        self.keepalive = match (interval.is_zero(), timeout.is_zero()) {
            (true, true) => None,
            (false, false) => Some(Keepalive { interval, timeout }),
            _ => {
                return Err(Error::invalid_argument(
                    "keepalive needs both an interval and a timeout (or neither)",
                ))
            }
        };
        Ok(())
    }

    /// Pin the addresses of a `host:port` as curl's `--resolve` does:
    /// `"example.com:443:[::1],127.0.0.1"`, IPv6 addresses in brackets.
    /// Connecting to that host and port then uses these addresses (raced
    /// as any name's are) and asks no resolver. It applies to every host
    /// this connection resolves: the URI's, a redirect's, the proxy's and,
    /// for `socks5://`, the one the proxy is asked for. An entry for a
    /// `host:port` already pinned replaces the earlier one. A malformed
    /// entry is an invalid argument.
    pub fn add_resolve(&mut self, entry: &str) -> Result<()> {
        let entry = ResolveEntry::parse(entry)?;
        self.resolve.retain(|e| !e.matches(&entry.host, entry.port));
        self.resolve.push(entry);
        Ok(())
    }

    /// Bound of the send queue in bytes; 0 is an invalid argument.
    pub fn set_send_queue_limit(&mut self, bytes: usize) -> Result<()> {
        check_send_queue_limit(bytes)?;
        self.send_queue_limit = bytes;
        Ok(())
    }

    /// zlib level for compressed messages: 0..9, or -1 for zlib's default.
    pub fn set_compression_level(&mut self, level: i32) -> Result<()> {
        check_compression_level(level)?;
        self.compression_level = level;
        Ok(())
    }

    /// Offer permessage-deflate with `params` (`"server_max_window_bits=10;
    /// client_max_window_bits"`, "" for the bare offer), after the offers
    /// already made.
    pub fn add_deflate_offer(&mut self, params: &str) -> Result<()> {
        self.deflate_offers.push(DeflateOffer::parse(params)?);
        Ok(())
    }

    /// Add a request header. The name must be an HTTP token, the value
    /// free of CR, LF and NUL, and the header not one the handshake writes
    /// itself (Host, Upgrade, Connection, Origin, Content-Length,
    /// Sec-WebSocket-*).
    pub fn add_header(&mut self, name: &str, value: &str) -> Result<()> {
        check_header(name, value)?;
        self.headers.push((name.to_string(), value.to_string()));
        Ok(())
    }

    /// Add a request header that carries a credential: checked as by
    /// [`Options::add_header`], and listed in `sensitive_headers`.
    pub fn add_sensitive_header(&mut self, name: &str, value: &str) -> Result<()> {
        self.add_header(name, value)?;
        self.sensitive_headers.push(name.to_string());
        Ok(())
    }

    /// Send `Origin: origin`: `scheme://host[:port]` (RFC 6454) or `null`.
    pub fn set_origin(&mut self, origin: &str) -> Result<()> {
        check_origin(origin)?;
        self.origin = Some(origin.to_string());
        Ok(())
    }

    /// Offer a subprotocol (an HTTP token) after those already offered.
    pub fn add_subprotocol(&mut self, protocol: &str) -> Result<()> {
        Request {
            subprotocols: vec![protocol.to_string()],
            ..Request::default()
        }
        .validate()?;
        self.subprotocols.push(protocol.to_string());
        Ok(())
    }

    /// Connect through the proxy at `url` (see [`Proxy::parse`]); `None`
    /// or "" connects directly.
    pub fn set_proxy(&mut self, url: Option<&str>) -> Result<()> {
        self.proxy = match url {
            None | Some("") => None,
            Some(u) => Some(Proxy::parse(u)?),
        };
        Ok(())
    }

    /// Trust the CA certificates of this PEM file, which must exist and be
    /// readable now (its contents are read at connect time).
    pub fn set_tls_ca_file(&mut self, path: impl Into<PathBuf>) -> Result<()> {
        let path = path.into();
        check_readable_file("the CA file", &path)?;
        self.tls.ca_file = Some(path);
        Ok(())
    }

    /// Trust the CA certificates of this hashed directory, which must exist
    /// and be readable now.
    pub fn set_tls_ca_dir(&mut self, path: impl Into<PathBuf>) -> Result<()> {
        let path = path.into();
        check_readable_dir("the CA directory", &path)?;
        self.tls.ca_dir = Some(path);
        Ok(())
    }

    /// Present this client certificate chain, with its key from `key` (or,
    /// without one, from the certificate's file). Both files must exist and
    /// be readable now.
    pub fn set_tls_client_cert(
        &mut self,
        cert: impl Into<PathBuf>,
        key: Option<PathBuf>,
    ) -> Result<()> {
        let cert = cert.into();
        check_readable_file("the client certificate", &cert)?;
        if let Some(key) = &key {
            check_readable_file("the client key", key)?;
        }
        self.tls.cert_file = Some(cert);
        self.tls.key_file = key;
        Ok(())
    }

    /// The checks of the setters, for fields set directly; `connect` runs
    /// them before anything goes on the wire.
    pub fn validate(&self) -> Result<()> {
        if let Some(k) = self.keepalive {
            if k.interval.is_zero() || k.timeout.is_zero() {
                return Err(Error::invalid_argument(
                    "keepalive needs a non-zero interval and timeout (None turns it off)",
                ));
            }
        }
        if let Some(origin) = &self.origin {
            check_origin(origin)?;
        }
        check_send_queue_limit(self.send_queue_limit)?;
        check_compression_level(self.compression_level)?;
        self.tls.validate()
    }
}

/// A header as the handshake request checks it (one rule, one place).
fn check_header(name: &str, value: &str) -> Result<()> {
    Request {
        headers: vec![(name.to_string(), value.to_string())],
        ..Request::default()
    }
    .validate()
}

/// `null`, or a serialised origin: `scheme://host[:port]`, nothing after.
fn check_origin(origin: &str) -> Result<()> {
    Request {
        origin: Some(origin.to_string()),
        ..Request::default()
    }
    .validate()?;
    if origin == "null" {
        return Ok(());
    }
    let bad = || {
        Error::invalid_argument(format!(
            "origin {origin:?} is not scheme://host[:port] (as in \"https://example.com\") or \"null\""
        ))
    };
    let (scheme, authority) = origin.split_once("://").ok_or_else(bad)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let host = match authority.rsplit_once(':') {
        // An IPv6 literal ("[::1]") has colons of its own.
        Some((host, port)) if !port.contains(']') => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            host
        }
        _ => authority,
    };
    let host_ok = !host.is_empty()
        && !host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/?#@\\".contains(c));
    if scheme_ok && host_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// `path` names a file this process can open for reading.
fn check_readable_file(what: &str, path: &Path) -> Result<()> {
    let fail = |why: String| {
        Error::invalid_argument(format!("cannot read {what} {}: {why}", path.display()))
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(fail("it is a directory".to_string()));
    }
    std::fs::File::open(path).map_err(|e| fail(io_reason(&e)))?;
    Ok(())
}

/// `path` names a directory this process can list.
fn check_readable_dir(what: &str, path: &Path) -> Result<()> {
    let fail = |why: String| {
        Error::invalid_argument(format!("cannot read {what} {}: {why}", path.display()))
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(io_reason(&e)))?;
    if !meta.is_dir() {
        return Err(fail("it is not a directory".to_string()));
    }
    std::fs::read_dir(path).map_err(|e| fail(io_reason(&e)))?;
    Ok(())
}

fn check_send_queue_limit(bytes: usize) -> Result<()> {
    if bytes == 0 {
        return Err(Error::invalid_argument(
            "the send queue limit must be positive",
        ));
    }
    Ok(())
}

fn check_compression_level(level: i32) -> Result<()> {
    if !(-1..=9).contains(&level) {
        return Err(Error::invalid_argument("compression level must be -1..9"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn keepalive_needs_both_durations_or_neither() {
        let mut o = Options::default();
        o.set_keepalive(10 * MS, 5 * MS).unwrap();
        assert_eq!(
            o.keepalive,
            Some(Keepalive {
                interval: 10 * MS,
                timeout: 5 * MS
            })
        );
        for (i, t) in [(Duration::ZERO, 5 * MS), (10 * MS, Duration::ZERO)] {
            let e = o.set_keepalive(i, t).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        }
        // A refused call leaves the setting as it was.
        assert_eq!(o.keepalive.unwrap().interval, 10 * MS);
        o.set_keepalive(Duration::ZERO, Duration::ZERO).unwrap();
        assert_eq!(o.keepalive, None);
    }

    #[test]
    fn send_queue_limit_must_be_positive() {
        let mut o = Options::default();
        assert!(o.set_send_queue_limit(0).is_err());
        assert_eq!(o.send_queue_limit, 4 << 20);
        o.set_send_queue_limit(1).unwrap();
        assert_eq!(o.send_queue_limit, 1);
    }

    #[test]
    fn compression_level_is_zlibs_range() {
        let mut o = Options::default();
        for bad in [-2, 10, i32::MIN, i32::MAX] {
            assert!(o.set_compression_level(bad).is_err(), "{bad}");
        }
        for good in [-1, 0, 9] {
            o.set_compression_level(good).unwrap();
            assert_eq!(o.compression_level, good);
        }
    }

    fn refused(r: Result<()>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        e.message().to_string()
    }

    #[test]
    fn headers_subprotocols_and_origins_are_checked_when_set() {
        let mut o = Options::default();
        assert!(refused(o.add_header("Bad Name", "v")).contains("not an HTTP token"));
        assert!(refused(o.add_header("", "v")).contains("not an HTTP token"));
        assert!(refused(o.add_header("X-A", "v\r\nX-Evil: 1")).contains("CR, LF"));
        assert!(refused(o.add_header("host", "evil")).contains("handshake itself"));
        assert!(refused(o.add_header("Sec-WebSocket-Key", "k")).contains("handshake itself"));
        assert!(refused(o.add_sensitive_header("X Token", "s")).contains("HTTP token"));
        assert!(refused(o.add_subprotocol("two words")).contains("not an HTTP token"));
        assert!(refused(o.add_subprotocol("")).contains("not an HTTP token"));
        for bad in [
            "",
            "example.com",
            "https://",
            "https://a b",
            "https://a/path",
            "https://a:",
            "https://a:80x",
            "1http://a",
            "https://a\r\nX-Evil: 1",
        ] {
            refused(o.set_origin(bad));
        }
        // Refused calls leave nothing behind.
        assert!(o.headers.is_empty() && o.sensitive_headers.is_empty());
        assert!(o.subprotocols.is_empty() && o.origin.is_none());

        o.add_header("X-Token", "a b; c=d").unwrap();
        o.add_sensitive_header("X-Api-Key", "s").unwrap();
        o.add_subprotocol("chat.v2").unwrap();
        for good in [
            "null",
            "https://app.example",
            "http://127.0.0.1:8080",
            "http://[::1]:80",
        ] {
            o.set_origin(good).unwrap();
            assert_eq!(o.origin.as_deref(), Some(good));
        }
        assert_eq!(o.headers.len(), 2);
        assert_eq!(o.sensitive_headers, ["X-Api-Key"]);
        assert!(o.validate().is_ok());
    }

    #[test]
    fn tls_files_must_be_readable_when_set() {
        let dir = std::env::temp_dir().join(format!("wsclient-opts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ca.pem");
        std::fs::write(&file, "not checked until connect").unwrap();
        let missing = dir.join("missing.pem");

        let mut o = Options::default();
        let m = refused(o.set_tls_ca_file(&missing));
        assert!(
            m.contains("missing.pem") && m.contains("no such file"),
            "{m}"
        );
        assert!(refused(o.set_tls_ca_file(&dir)).contains("is a directory"));
        assert!(refused(o.set_tls_ca_dir(&missing)).contains("no such file"));
        assert!(refused(o.set_tls_ca_dir(&file)).contains("not a directory"));
        assert!(refused(o.set_tls_client_cert(&missing, None)).contains("client certificate"));
        let m = refused(o.set_tls_client_cert(&file, Some(missing.clone())));
        assert!(m.contains("client key") && m.contains("missing.pem"), "{m}");
        assert_eq!(o.tls, TlsOptions::default());

        o.set_tls_ca_file(&file).unwrap();
        o.set_tls_ca_dir(&dir).unwrap();
        o.set_tls_client_cert(&file, Some(file.clone())).unwrap();
        assert_eq!(o.tls.ca_file.as_deref(), Some(file.as_path()));
        assert_eq!(o.tls.key_file.as_deref(), Some(file.as_path()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn proxy_and_deflate_offers_are_parsed_when_set() {
        let mut o = Options::default();
        refused(o.set_proxy(Some("ftp://h:1")));
        refused(o.add_deflate_offer("bogus"));
        assert!(o.proxy.is_none() && o.deflate_offers.is_empty());
        o.set_proxy(Some("http://proxy.example:3128")).unwrap();
        assert!(o.proxy.is_some());
        o.set_proxy(Some("")).unwrap();
        assert!(o.proxy.is_none());
        o.add_deflate_offer("").unwrap();
        assert_eq!(o.deflate_offers.len(), 1);
    }

    #[test]
    fn validate_applies_the_setters_checks_to_fields_set_directly() {
        assert!(Options::default().validate().is_ok());
        let bad = [
            Options {
                compression_level: 42,
                ..Options::default()
            },
            Options {
                origin: Some("not an origin".into()),
                ..Options::default()
            },
            Options {
                send_queue_limit: 0,
                ..Options::default()
            },
            Options {
                keepalive: Some(Keepalive {
                    interval: Duration::ZERO,
                    timeout: MS,
                }),
                ..Options::default()
            },
        ];
        for o in bad {
            assert_eq!(o.validate().unwrap_err().kind(), ErrorKind::InvalidArgument);
        }
    }
}
