//! `ws_options`: everything `ws_connect` can be told.

use std::ffi::c_char;
use std::time::Duration;

use crate::client::Options;
use crate::error::Error;
use crate::ffi::error::{set_last_error, WS_OK};
use crate::ffi::handle::{self, c_path, c_str, tagged, try_code};
use crate::ffi::panic::guard;
use crate::transport::TlsVersion;

/// `ws_options_set_tls_min_version`: OpenSSL's own floor (the default).
pub const WS_TLS_DEFAULT: i32 = 0;
/// `ws_options_set_tls_min_version`: TLS 1.2 (its number on the wire, 0x0303).
pub const WS_TLS_1_2: i32 = 0x0303;
/// `ws_options_set_tls_min_version`: TLS 1.3 (its number on the wire, 0x0304).
pub const WS_TLS_1_3: i32 = 0x0304;

/// Connection options; create with `ws_options_new`, free with `ws_options_free`.
///
/// The tag comes first (`repr(C)`) so a handle of another type can be told
/// apart without reading past it. Declared opaque in cbindgen.toml.
/// cbindgen:ignore
#[repr(C)]
pub struct ws_options {
    tag: u64,
    pub(crate) inner: Options,
}
tagged!(ws_options, 0x7773_6f70_7469_6f6e);

/// New options with safe defaults: TLS verification on, 64 MiB message and
/// frame limits, 30 s connect and handshake timeouts, no read timeout,
/// automatic pongs, no compression offered, no redirects followed.
#[no_mangle]
pub extern "C" fn ws_options_new() -> *mut ws_options {
    handle::into_raw(ws_options {
        tag: <ws_options as handle::Tagged>::TAG,
        inner: Options::default(),
    })
}

/// Free options; NULL is a no-op. Connections made with them are unaffected.
///
/// # Safety
/// `opts` must be NULL or from `ws_options_new`, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn ws_options_free(opts: *mut ws_options) {
    // SAFETY: forwarded contract.
    unsafe { handle::free(opts) }
}

/// Apply `f` to the options behind `opts`.
unsafe fn with(opts: *mut ws_options, f: impl FnOnce(&mut Options) -> Result<(), Error>) -> i32 {
    // SAFETY: the caller passes NULL or a handle from ws_options_new.
    unsafe {
        handle::guarded_mut(opts, "opts", |o| match f(&mut o.inner) {
            Ok(()) => WS_OK,
            Err(e) => set_last_error(&e),
        })
    }
}

/// Change the options behind `opts` with `f`, which cannot fail.
pub(super) unsafe fn set(opts: *mut ws_options, f: impl FnOnce(&mut Options)) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with(opts, |o| {
            f(o);
            Ok(())
        })
    }
}

/// Apply `f` to the options and a string argument that may be NULL.
unsafe fn with_opt_str(
    opts: *mut ws_options,
    arg: *const c_char,
    name: &str,
    f: impl FnOnce(&mut Options, Option<&str>) -> Result<(), Error>,
) -> i32 {
    if arg.is_null() {
        // SAFETY: forwarded contract.
        return unsafe { with(opts, |o| f(o, None)) };
    }
    // SAFETY: forwarded contract.
    unsafe { with_str(opts, arg, name, |o, s| f(o, Some(s))) }
}

/// Apply `f` to the options and a string argument.
unsafe fn with_str(
    opts: *mut ws_options,
    arg: *const c_char,
    name: &str,
    f: impl FnOnce(&mut Options, &str) -> Result<(), Error>,
) -> i32 {
    guard(|| {
        // SAFETY: the caller passes NULL or a NUL-terminated string.
        let s = try_code!(unsafe { c_str(arg, name) });
        // SAFETY: forwarded contract.
        unsafe { with(opts, |o| f(o, s)) }
    })
}

fn millis(ms: u32) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms as u64))
}

/// Offer permessage-deflate with `params`, a `;`-separated list such as
/// `"server_max_window_bits=10; client_max_window_bits"` ("" for the bare
/// offer). Call again to add fallback offers; they are sent in order. A
/// malformed offer is `WS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts`: a live options handle; `params`: a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_add_deflate_offer(
    opts: *mut ws_options,
    params: *const c_char,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { with_str(opts, params, "params", |o, p| o.add_deflate_offer(p)) }
}

/// Send the origin-form request-target (`GET /path?query`), the ws-client
/// egg's `strip-host` flag. That is already the default (RFC 6455 §4.1), so
/// this only undoes `ws_options_set_absolute_form`.
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_strip_host(opts: *mut ws_options, on: bool) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.strip_host = on) }
}

/// Send the absolute URI as request-target (`GET ws://host:port/path`), as
/// the CHICKEN egg ws-client 1.0 did by default.
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_absolute_form(opts: *mut ws_options, on: bool) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.absolute_form = on) }
}

/// Add a request header (e.g. Authorization, Cookie, User-Agent). Names
/// must be HTTP tokens; values must not contain CR, LF or NUL. Headers the
/// handshake writes itself (Host, Upgrade, Connection, Origin,
/// Content-Length, Sec-WebSocket-*) are refused. A refused header is
/// `WS_ERR_INVALID_ARGUMENT` here, with the reason in
/// `ws_last_error_message`, and is not added.
///
/// # Safety
/// `opts`: a live options handle; `name`, `value`: NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn ws_options_add_header(
    opts: *mut ws_options,
    name: *const c_char,
    value: *const c_char,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { add_header(opts, name, value, false) }
}

/// Add a request header that carries a credential (an API token, say):
/// like `Authorization`, `Cookie` and the TLS client certificate, it is sent
/// only to the origin (scheme, host, port) of the URI given to `ws_connect`,
/// never to another origin a redirect leads to, unless
/// `ws_options_set_redirect_credentials` says otherwise. Checked as by
/// `ws_options_add_header`.
///
/// # Safety
/// `opts`: a live options handle; `name`, `value`: NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn ws_options_add_sensitive_header(
    opts: *mut ws_options,
    name: *const c_char,
    value: *const c_char,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { add_header(opts, name, value, true) }
}

/// Add a request header, remembered as a credential when `sensitive`.
unsafe fn add_header(
    opts: *mut ws_options,
    name: *const c_char,
    value: *const c_char,
    sensitive: bool,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let value = try_code!(unsafe { c_str(value, "value") }).to_string();
        // SAFETY: forwarded contract.
        unsafe {
            with_str(opts, name, "name", |o, n| {
                if sensitive {
                    o.add_sensitive_header(n, &value)
                } else {
                    o.add_header(n, &value)
                }
            })
        }
    })
}

/// Send credentials (`Authorization`, `Cookie`, sensitive headers, the
/// client certificate) to every origin a redirect leads to, not only to the
/// first one (default off, as in curl).
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_redirect_credentials(
    opts: *mut ws_options,
    on: bool,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.redirect_credentials = on) }
}

/// Send an `Origin` header: `scheme://host[:port]` (RFC 6454, e.g.
/// `"https://example.com"`) or `"null"`; anything else is
/// `WS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts`: a live options handle; `origin`: a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_origin(
    opts: *mut ws_options,
    origin: *const c_char,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { with_str(opts, origin, "origin", |o, s| o.set_origin(s)) }
}

/// Offer a subprotocol (call once per protocol, in order of preference).
/// A server that picks one not offered fails the connection. The name
/// must be an HTTP token (no spaces, commas or quotes), else
/// `WS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts`: a live options handle; `protocol`: a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_add_subprotocol(
    opts: *mut ws_options,
    protocol: *const c_char,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { with_str(opts, protocol, "protocol", |o, s| o.add_subprotocol(s)) }
}

/// Largest message accepted, after decompression (default 64 MiB; 1009 beyond).
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_max_message_size(
    opts: *mut ws_options,
    bytes: usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.limits.max_message_size = bytes) }
}

/// Largest frame payload accepted (default 64 MiB; 1009 beyond).
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_max_frame_size(opts: *mut ws_options, bytes: u64) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.limits.max_frame_size = bytes) }
}

/// Largest handshake response header block (default 64 KiB) and largest
/// body kept from a non-101 response (default 1 MiB).
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_handshake_limits(
    opts: *mut ws_options,
    max_header_bytes: usize,
    max_body_bytes: usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        set(opts, |o| {
            o.max_handshake_size = max_header_bytes;
            o.max_response_body = max_body_bytes;
        })
    }
}

/// Timeouts in milliseconds; 0 means none (block). Defaults: connect 30000,
/// handshake 30000, read 0, write 0. A read timeout makes `ws_recv_*`
/// return `WS_ERR_TIMEOUT` and leaves the connection usable: call again.
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_timeouts(
    opts: *mut ws_options,
    connect_ms: u32,
    handshake_ms: u32,
    read_ms: u32,
    write_ms: u32,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with(opts, |o| {
            o.connect_timeout = millis(connect_ms);
            o.handshake_timeout = millis(handshake_ms);
            o.read_timeout = millis(read_ms);
            o.write_timeout = millis(write_ms);
            Ok(())
        })
    }
}

/// The close timeout (default 5000 ms): how long the server has to answer
/// our close frame, counted from when we send it (`ws_close`, a close sent
/// with `ws_send_frame`, a *fail*), and then to close TCP.
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_close_timeout(opts: *mut ws_options, ms: u32) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.close_timeout = Duration::from_millis(ms as u64)) }
}

/// Keepalive (off by default): send a ping every `interval_ms`; when its
/// pong has not come back `timeout_ms` after the ping, the connection fails
/// with `WS_ERR_TIMEOUT` ("keepalive: no pong ...") and a close frame with
/// 1011 is sent. A blocking receive wakes up to ping; in non-blocking mode
/// the pings are due at `ws_conn_next_timeout_ms`. Both 0: off; only one
/// 0: `WS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_keepalive(
    opts: *mut ws_options,
    interval_ms: u32,
    timeout_ms: u32,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with(opts, |o| {
            o.set_keepalive(
                Duration::from_millis(interval_ms as u64),
                Duration::from_millis(timeout_ms as u64),
            )
        })
    }
}

/// Bound of a connection's send queue in bytes (default 4 MiB). A message
/// that would push the queued bytes past it waits for room (blocking mode)
/// or is refused whole with `WS_ERR_WOULD_BLOCK` (non-blocking mode). One
/// message always fits an empty queue, whatever its size; control frames
/// (ping, pong, close) are never refused. 0 is `WS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_send_queue_limit(
    opts: *mut ws_options,
    bytes: usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { with(opts, |o| o.set_send_queue_limit(bytes)) }
}

/// Follow up to `max` redirects (301, 302, 303, 307, 308); 0 (the default)
/// returns them to the caller as `WS_HTTP_RESPONSE`. wss is never
/// downgraded to ws. An `http://` Location is followed as `ws://`, an
/// `https://` one as `wss://`; other schemes are `WS_ERR_REDIRECT`. Each hop
/// gets the same timeouts and size limits as the first request.
/// Credentials (`Authorization`, `Cookie`, `Proxy-Authorization`, headers
/// added with `ws_options_add_sensitive_header`, the client certificate) go
/// only to the first URI's origin: see `ws_options_set_redirect_credentials`.
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_max_redirects(opts: *mut ws_options, max: u32) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.max_redirects = max) }
}

/// Trust the CA certificates in this PEM file (instead of the system store).
/// Paths are bytes, as on Unix: they need not be UTF-8. A file that does
/// not exist or cannot be read now is `WS_ERR_INVALID_ARGUMENT` ("cannot
/// read the CA file /x: no such file or directory"); its contents are read
/// by `ws_connect` (`WS_ERR_TLS` when they are not PEM certificates).
///
/// # Safety
/// `opts`: a live options handle; `path`: a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_tls_ca_file(
    opts: *mut ws_options,
    path: *const c_char,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let path = try_code!(unsafe { c_path(path, "path") });
        // SAFETY: forwarded contract.
        unsafe { with(opts, |o| o.set_tls_ca_file(path)) }
    })
}

/// Append the TLS secrets of each connection to the file at `path` (created
/// if missing), in the NSS key log format Wireshark reads to decrypt a
/// capture. A debugging aid, off by default: anyone who can read the file
/// can decrypt the traffic. NULL turns it off. The file is opened by
/// `ws_connect` (`WS_ERR_TLS` when it cannot be).
///
/// # Safety
/// `opts`: a live options handle; `path`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_tls_keylog_file(
    opts: *mut ws_options,
    path: *const c_char,
) -> i32 {
    guard(|| {
        let path = if path.is_null() {
            None
        } else {
            // SAFETY: forwarded contract.
            Some(try_code!(unsafe { c_path(path, "path") }))
        };
        // SAFETY: forwarded contract.
        unsafe { set(opts, |o| o.tls.keylog_file = path) }
    })
}

/// When `on` and no key log file is set: write the TLS secrets to the file
/// the `SSLKEYLOGFILE` environment variable names, when it is set at
/// connect time (as browsers and curl do). Off by default, so a variable
/// left in an environment never leaks a program's keys unless the program
/// opts in.
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_tls_keylog_env(opts: *mut ws_options, on: bool) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.tls.keylog_from_env = on) }
}

/// Trust the CA certificates in this hashed directory (as made by
/// `openssl rehash`). A directory that does not exist or cannot be read
/// now is `WS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts`: a live options handle; `path`: a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_tls_ca_dir(
    opts: *mut ws_options,
    path: *const c_char,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let path = try_code!(unsafe { c_path(path, "path") });
        // SAFETY: forwarded contract.
        unsafe { with(opts, |o| o.set_tls_ca_dir(path)) }
    })
}

/// Present a client certificate (PEM chain) and its key (PEM; NULL: the key
/// is in `cert_file`). A file that does not exist or cannot be read now is
/// `WS_ERR_INVALID_ARGUMENT`; a key that does not match the certificate is
/// found by `ws_connect` (`WS_ERR_TLS`).
///
/// # Safety
/// `opts`: a live options handle; `cert_file`: a NUL-terminated string;
/// `key_file`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_tls_client_cert(
    opts: *mut ws_options,
    cert_file: *const c_char,
    key_file: *const c_char,
) -> i32 {
    guard(|| {
        let key = if key_file.is_null() {
            None
        } else {
            // SAFETY: non-NULL, NUL-terminated per the contract.
            Some(try_code!(unsafe { c_path(key_file, "key_file") }))
        };
        // SAFETY: forwarded contract.
        let cert = try_code!(unsafe { c_path(cert_file, "cert_file") });
        // SAFETY: forwarded contract.
        unsafe { with(opts, |o| o.set_tls_client_cert(cert, key)) }
    })
}

/// DANGER: accept any server certificate for any host name. This removes
/// all protection TLS gives against an active attacker; for tests only.
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_tls_danger_accept_invalid_certs(
    opts: *mut ws_options,
    on: bool,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.tls.insecure_skip_verify = on) }
}

/// Refuse TLS versions below `version`. `version` is `WS_TLS_1_2`,
/// `WS_TLS_1_3`, or `WS_TLS_DEFAULT` (OpenSSL's own floor, the default).
/// A server that
/// offers only older versions fails `ws_connect` with `WS_ERR_TLS` ("the
/// server supports none of our TLS versions"). Any other value is
/// `WS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_tls_min_version(
    opts: *mut ws_options,
    version: i32,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with(opts, |o| {
            let v = match version {
                WS_TLS_DEFAULT => None,
                WS_TLS_1_2 => Some(TlsVersion::Tls12),
                WS_TLS_1_3 => Some(TlsVersion::Tls13),
                _ => {
                    return Err(Error::invalid_argument(format!(
                        "unknown TLS version {version} (WS_TLS_1_2, WS_TLS_1_3 or \
                         WS_TLS_DEFAULT)"
                    )))
                }
            };
            o.tls.set_min_version(v);
            Ok(())
        })
    }
}

/// Set the ciphers allowed with TLS 1.2. `list` is in OpenSSL's cipher
/// list syntax, as curl's `CURLOPT_SSL_CIPHER_LIST`:
/// `"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"`, say;
/// NULL: the default. TLS 1.3 has its own list: `ws_options_set_tls13_ciphersuites`.
/// A list OpenSSL refuses (no cipher in it that OpenSSL knows) is
/// `WS_ERR_INVALID_ARGUMENT`. A server with none of these ciphers fails
/// `ws_connect` with `WS_ERR_TLS`.
///
/// # Safety
/// `opts`: a live options handle; `list`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_tls_ciphers(
    opts: *mut ws_options,
    list: *const c_char,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { with_opt_str(opts, list, "list", |o, l| o.tls.set_cipher_list(l)) }
}

/// Set the TLS 1.3 cipher suites. `list` names them `:`-separated in order
/// of preference, as curl's `CURLOPT_TLS13_CIPHERS`:
/// `"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"`, say; "" allows
/// no TLS 1.3; NULL: OpenSSL's default. A name OpenSSL does not know is
/// `WS_ERR_INVALID_ARGUMENT` (OpenSSL itself would skip it silently).
///
/// # Safety
/// `opts`: a live options handle; `list`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_tls13_ciphersuites(
    opts: *mut ws_options,
    list: *const c_char,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { with_opt_str(opts, list, "list", |o, l| o.tls.set_ciphersuites(l)) }
}

/// Pin the server's public key, as curl's `CURLOPT_PINNEDPUBLICKEY` does.
/// `pins` is either digests written as curl writes them (`sha256`, two
/// slashes, then the base64 SHA-256 digest of a public key's DER
/// SubjectPublicKeyInfo; several separated by `;`: see EXAMPLE), or else
/// the path of a PEM or DER public key file, read by this call. After the
/// TLS handshake the server certificate's key must be one of them, else
/// `ws_connect` fails with `WS_ERR_TLS_VERIFY` ("public key pin mismatch:
/// ..."). This is checked besides the usual verification, and even when
/// that is turned off. NULL or "": no pinning (the default). A malformed digest or a file
/// without a public key is `WS_ERR_INVALID_ARGUMENT`. The digest of a
/// server's key: `openssl x509 -in cert.pem -pubkey -noout | openssl pkey
/// -pubin -outform der | openssl dgst -sha256 -binary | base64`.
///
/// # Safety
/// `opts`: a live options handle; `pins`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_tls_pinned_public_key(
    opts: *mut ws_options,
    pins: *const c_char,
) -> i32 {
    guard(|| {
        if pins.is_null() {
            // SAFETY: forwarded contract.
            return unsafe { with(opts, |o| o.tls.set_pinned_public_key(None)) };
        }
        // SAFETY: non-NULL and NUL-terminated per the contract.
        let bytes = unsafe { std::ffi::CStr::from_ptr(pins) }.to_bytes();
        if bytes.is_empty() || bytes.starts_with(b"sha256//") {
            // SAFETY: forwarded contract.
            return unsafe {
                with_str(opts, pins, "pins", |o, p| {
                    o.tls.set_pinned_public_key(Some(p))
                })
            };
        }
        // A path: bytes, as on Unix (need not be UTF-8).
        // SAFETY: forwarded contract.
        let path = try_code!(unsafe { c_path(pins, "pins") });
        // SAFETY: forwarded contract.
        unsafe { with(opts, |o| o.tls.set_pinned_public_key_file(&path)) }
    })
}

/// Set the TLS server name (SNI) and the name the certificate is verified
/// against, instead of the URI's host. The connection still goes to the
/// URI's host: `wss://127.0.0.1:8443/` with `"example.com"`, say. `name`
/// is a host name or an IP address (`"::1"` or `"[::1]"`, checked against
/// the certificate's IP addresses, with no SNI). It applies to the URI's host only: a redirect to another host
/// verifies that host's own name. NULL or "": the URI's host (the default).
/// Anything else is `WS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts`: a live options handle; `name`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_tls_server_name(
    opts: *mut ws_options,
    name: *const c_char,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { with_opt_str(opts, name, "name", |o, n| o.tls.set_server_name(n)) }
}

/// Split outgoing messages into frames of at most `bytes` (0, the default:
/// 128 KiB, so that pongs, pings and the close never wait behind more than
/// that of one frame; `SIZE_MAX`: never split).
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_fragment_size(opts: *mut ws_options, bytes: usize) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.fragment_size = bytes) }
}

/// zlib level (0-9, or -1 for zlib's default) for compressed messages.
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_compression_level(
    opts: *mut ws_options,
    level: i32,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { with(opts, |o| o.set_compression_level(level)) }
}

/// Answer pings automatically (default on).
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_auto_pong(opts: *mut ws_options, on: bool) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.auto_pong = on) }
}

/// Connect through a proxy: `"http://[user:password@]host[:port]"` (the
/// scheme may be left out; port 80) asks an HTTP proxy for a CONNECT tunnel
/// with Basic authentication; `"socks5://..."` (the server's name resolved
/// here) and `"socks5h://..."` (resolved by the proxy) use SOCKS5 with
/// username/password authentication (port 1080). User and password are
/// percent-encoded in the URL. For wss:// TLS runs inside the tunnel, end
/// to end with the server. The handshake timeout covers the proxy's answer.
/// A proxy that refuses makes `ws_connect` return `WS_ERR_PROXY`; an HTTP
/// proxy's answer goes to `*response_out`. NULL or "" connects directly
/// again. TLS to the proxy itself (`https://`) is not supported. A URL
/// that does not parse, or another scheme, is `WS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts`: a live options handle; `url`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_set_proxy(opts: *mut ws_options, url: *const c_char) -> i32 {
    if url.is_null() {
        // SAFETY: forwarded contract.
        return unsafe { with(opts, |o| o.set_proxy(None)) };
    }
    // SAFETY: forwarded contract.
    unsafe { with_str(opts, url, "url", |o, u| o.set_proxy(Some(u))) }
}

/// Pin the addresses of a host and port, as curl's `--resolve`
/// (`CURLOPT_RESOLVE`): `"example.com:443:[::1],127.0.0.1"`, IPv6
/// addresses in brackets. Connecting to that host and port then uses these
/// addresses and asks no resolver (DNS is skipped); with several, they are
/// raced as a resolved name's are (Happy Eyeballs: the next starts when the
/// last has not connected within 250 ms). As in curl, an entry applies to
/// every host the connection resolves: the URI's, a redirect's, a proxy's,
/// and the server's name a `socks5://` proxy is given (`socks5h://` sends
/// the name itself). Call it again for other hosts; an entry for a host and
/// port already pinned replaces the earlier one. A malformed entry is
/// `WS_ERR_INVALID_ARGUMENT`, with the reason in `ws_last_error_message`.
///
/// # Safety
/// `opts`: a live options handle; `entry`: a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_options_add_resolve(
    opts: *mut ws_options,
    entry: *const c_char,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { with_str(opts, entry, "entry", |o, e| o.add_resolve(e)) }
}

/// Without a proxy set by `ws_options_set_proxy`, take one from the
/// environment at connect time (off by default): `http_proxy` for ws://,
/// `https_proxy` for wss://, else `all_proxy` (lower case first, then upper
/// case), skipping hosts listed in `no_proxy` (`*`, domains with their
/// subdomains, IP addresses, CIDR blocks, each optionally with `:port`).
/// As in curl, `http_proxy` is read in lower case only: `HTTP_PROXY` is
/// ignored, because under CGI it carries a request's `Proxy:` header
/// ("httpoxy").
///
/// # Safety
/// `opts`: a live options handle.
#[no_mangle]
pub unsafe extern "C" fn ws_options_use_env_proxy(opts: *mut ws_options, on: bool) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { set(opts, |o| o.use_env_proxy = on) }
}
