//! Connection options. The defaults are safe: TLS verification on, limits
//! on frame, message and handshake sizes, automatic pongs.

use std::time::Duration;

use crate::client::proxy::Proxy;
use crate::deflate::DeflateOffer;
use crate::proto::receiver::Limits;
use crate::session::Keepalive;
use crate::transport::TlsOptions;

#[derive(Clone, Debug)]
pub struct Options {
    /// permessage-deflate offers, in order of preference (fallbacks last).
    pub deflate_offers: Vec<DeflateOffer>,
    /// The seed's `strip-host` flag: send the origin-form request-target.
    /// That is already the default (RFC 6455 §4.1), so the flag matters only
    /// together with `absolute_form`, which it overrides.
    pub strip_host: bool,
    /// Send the absolute-URI as request-target, as the seed egg 1.0 did.
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
    /// zlib compression level for outgoing messages.
    pub compression_level: i32,
    pub auto_pong: bool,
    /// Connect through this proxy (HTTP CONNECT or SOCKS5 tunnel).
    pub proxy: Option<Proxy>,
    /// Without `proxy`: take one from `http_proxy`/`https_proxy`/
    /// `all_proxy`, honouring `no_proxy` (off by default). As in curl,
    /// `HTTP_PROXY` in upper case is ignored (CGI's "httpoxy").
    pub use_env_proxy: bool,
    /// Ping every interval; fail when the pong is late (None: off).
    pub keepalive: Option<Keepalive>,
    /// Bound of the send queue (see `session::Config::send_queue_limit`).
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
