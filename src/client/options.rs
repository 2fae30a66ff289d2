//! Connection options. The defaults are safe: TLS verification on, limits
//! on frame, message and handshake sizes, automatic pongs.

use std::time::Duration;

use crate::client::proxy::Proxy;
use crate::deflate::DeflateOffer;
use crate::error::{Error, Result};
use crate::proto::receiver::Limits;
use crate::session::Keepalive;
use crate::transport::TlsOptions;

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
        check_send_queue_limit(self.send_queue_limit)?;
        check_compression_level(self.compression_level)
    }
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

    #[test]
    fn validate_applies_the_setters_checks_to_fields_set_directly() {
        assert!(Options::default().validate().is_ok());
        let bad = [
            Options {
                compression_level: 42,
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
