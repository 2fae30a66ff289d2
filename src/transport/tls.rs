//! TLS through the system OpenSSL: verification on by default, SNI, and
//! host name or IP address checks; TLS version floor, cipher lists,
//! public-key pinning and a server name other than the URI's host.

use std::collections::HashMap;
use std::ffi::CStr;
use std::net::{IpAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Public};
use openssl::ssl::{
    ErrorCode, HandshakeError, MidHandshakeSslStream, SslConnector, SslContext, SslFiletype,
    SslMethod, SslRef, SslStream, SslVerifyMode, SslVersion,
};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509VerifyResult;

use crate::error::{Error, ErrorKind, Result};
use crate::observe::{Field, TraceEvent, TraceKind};
use crate::transport::{sessions, Socket};

/// The lowest TLS version a connection may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    fn ssl_version(self) -> SslVersion {
        match self {
            TlsVersion::Tls12 => SslVersion::TLS1_2,
            TlsVersion::Tls13 => SslVersion::TLS1_3,
        }
    }
}

/// TLS settings. The default verifies against the system trust store.
///
/// Every field is part of the key under which connectors are shared (see
/// [`shared_connector`]), so connections with different settings never
/// share one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// Trust the CAs of this PEM file (with `ca_dir`: both) instead of
    /// OpenSSL's default trust store.
    pub ca_file: Option<PathBuf>,
    pub ca_dir: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Accept any certificate for any name. Only for testing.
    pub insecure_skip_verify: bool,
    /// Refuse TLS versions below this one (None: OpenSSL's floor).
    pub min_version: Option<TlsVersion>,
    /// OpenSSL cipher list for TLS 1.2 (None: the library's default); see
    /// [`TlsOptions::set_cipher_list`].
    pub cipher_list: Option<String>,
    /// TLS 1.3 cipher suites, `:`-separated (None: OpenSSL's default); see
    /// [`TlsOptions::set_ciphersuites`].
    pub ciphersuites: Option<String>,
    /// SHA-256 digests of the public keys (DER SubjectPublicKeyInfo) the
    /// server's certificate may have; empty: no pinning. See
    /// [`TlsOptions::set_pinned_public_key`].
    pub pinned_keys: Vec<[u8; 32]>,
    /// The name sent as SNI and checked against the certificate, instead
    /// of the URI's host (which is still the one connected to).
    pub server_name: Option<String>,
    /// Append the TLS secrets of each connection to this file, in the
    /// NSS key log format Wireshark reads. A debugging aid: anyone who can
    /// read the file can decrypt the traffic.
    pub keylog_file: Option<PathBuf>,
    /// Without `keylog_file`: use the `SSLKEYLOGFILE` environment variable
    /// (when it is set) as the key log file.
    pub keylog_from_env: bool,
}

impl TlsOptions {
    /// Refuse TLS versions below `version` (None: OpenSSL's floor).
    pub fn set_min_version(&mut self, version: Option<TlsVersion>) {
        self.min_version = version;
    }

    /// The cipher list for TLS 1.2, in OpenSSL's syntax
    /// (`"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"`,
    /// `"HIGH:!aNULL"`); None: the default. A list OpenSSL refuses (one
    /// that names no cipher it knows) is an invalid argument.
    pub fn set_cipher_list(&mut self, list: Option<&str>) -> Result<()> {
        if let Some(l) = list {
            check_cipher_list(l)?;
        }
        self.cipher_list = list.map(str::to_string);
        Ok(())
    }

    /// The TLS 1.3 cipher suites, `:`-separated
    /// (`"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"`); "" turns
    /// TLS 1.3 off; None: OpenSSL's default. A name OpenSSL does not know
    /// is an invalid argument (OpenSSL itself would skip it silently).
    pub fn set_ciphersuites(&mut self, list: Option<&str>) -> Result<()> {
        if let Some(l) = list {
            check_ciphersuites(l)?;
        }
        self.ciphersuites = list.map(str::to_string);
        Ok(())
    }

    /// Public-key pinning as curl's `CURLOPT_PINNEDPUBLICKEY`: either
    /// `sha256//<base64>` digests of the SubjectPublicKeyInfo, several
    /// separated by `;`, or the path of a PEM or DER public key file (read
    /// now). After the handshake the server certificate's key must be one
    /// of them. None or "": no pinning.
    pub fn set_pinned_public_key(&mut self, pin: Option<&str>) -> Result<()> {
        match pin {
            None | Some("") => {
                self.pinned_keys.clear();
                Ok(())
            }
            Some(p) if p.starts_with("sha256//") => {
                self.pinned_keys = parse_pins(p)?;
                Ok(())
            }
            Some(path) => self.set_pinned_public_key_file(Path::new(path)),
        }
    }

    /// Pin the public key in this PEM or DER file (read now), as
    /// [`TlsOptions::set_pinned_public_key`] with a path.
    pub fn set_pinned_public_key_file(&mut self, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::invalid_argument(format!(
                "cannot read the pinned public key file {}: {}",
                path.display(),
                crate::error::io_reason(&e)
            ))
        })?;
        let key = PKey::public_key_from_pem(&bytes)
            .or_else(|_| PKey::public_key_from_der(&bytes))
            .map_err(|_| {
                Error::invalid_argument(format!(
                    "the pinned public key file {} holds no PEM or DER public key \
                     (\"-----BEGIN PUBLIC KEY-----\"; `openssl x509 -pubkey -noout` prints one)",
                    path.display()
                ))
            })?;
        self.pinned_keys = vec![key_digest(&key)?];
        Ok(())
    }

    /// Send `name` as SNI and verify the certificate against it instead of
    /// the URI's host: a host name or an IP address (`[::1]` or `::1`).
    /// None or "": the URI's host.
    pub fn set_server_name(&mut self, name: Option<&str>) -> Result<()> {
        self.server_name = match name {
            None | Some("") => None,
            Some(n) => Some(check_server_name(n)?),
        };
        Ok(())
    }

    /// The checks of the setters, for fields set directly.
    pub fn validate(&self) -> Result<()> {
        if let Some(l) = &self.cipher_list {
            check_cipher_list(l)?;
        }
        if let Some(l) = &self.ciphersuites {
            check_ciphersuites(l)?;
        }
        if let Some(n) = &self.server_name {
            check_server_name(n)?;
        }
        Ok(())
    }
}

/// A context to try settings on: what it refuses, a connector would too.
fn scratch_context() -> Result<openssl::ssl::SslContextBuilder> {
    SslContext::builder(SslMethod::tls_client()).map_err(|e| tls_error(e.to_string()))
}

fn check_cipher_list(list: &str) -> Result<()> {
    scratch_context()?.set_cipher_list(list).map_err(|e| {
        Error::invalid_argument(format!(
            "OpenSSL refuses the TLS 1.2 cipher list {list:?}: it names no cipher OpenSSL \
             knows (OpenSSL: {e})"
        ))
    })
}

fn check_ciphersuites(list: &str) -> Result<()> {
    let mut ctx = scratch_context()?;
    // OpenSSL skips unknown names in a list that has a known one: try each.
    for name in list.split(':').filter(|n| !n.is_empty()) {
        ctx.set_ciphersuites(name).map_err(|e| {
            Error::invalid_argument(format!(
                "OpenSSL does not know the TLS 1.3 cipher suite {name:?} (names look like \
                 TLS_AES_128_GCM_SHA256) (OpenSSL: {e})"
            ))
        })?;
    }
    ctx.set_ciphersuites(list).map_err(|e| {
        Error::invalid_argument(format!(
            "OpenSSL refuses the TLS 1.3 cipher suites {list:?} (OpenSSL: {e})"
        ))
    })
}

/// `sha256//<base64>[;sha256//<base64>...]` into digests.
fn parse_pins(pins: &str) -> Result<Vec<[u8; 32]>> {
    pins.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let bad = |why: &str| {
                Error::invalid_argument(format!(
                    "bad public key pin {p:?}: {why} (expected sha256// and the base64 of a \
                     SHA-256 digest, as `openssl x509 -pubkey -noout | openssl pkey -pubin \
                     -outform der | openssl dgst -sha256 -binary | base64` prints)"
                ))
            };
            let b64 = p
                .strip_prefix("sha256//")
                .ok_or_else(|| bad("it does not start with sha256//"))?;
            let digest = BASE64.decode(b64).map_err(|_| bad("it is not base64"))?;
            digest
                .try_into()
                .map_err(|_| bad("the digest is not 32 bytes long"))
        })
        .collect()
}

/// SHA-256 of the DER SubjectPublicKeyInfo of `key`.
fn key_digest(key: &PKey<Public>) -> Result<[u8; 32]> {
    let der = key
        .public_key_to_der()
        .map_err(|e| tls_error(format!("cannot encode a public key: {e}")))?;
    Ok(openssl::sha::sha256(&der))
}

/// A host name (letters, digits, `-`, `_`, dots) or an IP address, without
/// brackets.
fn check_server_name(name: &str) -> Result<String> {
    let unbracketed = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    if unbracketed.parse::<IpAddr>().is_ok() {
        return Ok(unbracketed.to_string());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let host = name.strip_suffix('.').unwrap_or(name);
    if host.len() <= 253 && host.split('.').all(label_ok) {
        Ok(name.to_string())
    } else {
        Err(Error::invalid_argument(format!(
            "the TLS server name {name:?} is not a host name or IP address"
        )))
    }
}

fn tls_error(message: impl Into<String>) -> Error {
    Error::exn(ErrorKind::Tls, message)
}

/// A file OpenSSL could not use, in plain words with OpenSSL's own text
/// after them: "cannot read the CA file /x: no such file or directory
/// (OpenSSL: error:80000002:...)".
fn setup_error(what: &str, path: &Option<PathBuf>, e: ErrorStack) -> Error {
    let path = path
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let why = plain_setup_reason(&e).unwrap_or("OpenSSL cannot use it");
    tls_error(format!("cannot read {what} {path}: {why} (OpenSSL: {e})"))
}

/// The reason of the first OpenSSL error in `stack`, or for a system error
/// (a file that cannot be opened) the `errno` text.
fn plain_setup_reason(stack: &ErrorStack) -> Option<&'static str> {
    for e in stack.errors() {
        // ERR_LIB_SYS: OpenSSL 3 flags the code with the top bit and keeps
        // errno below it; OpenSSL 1.1 keeps errno as the reason.
        if e.library_code() == 2 {
            let errno = if e.code() & 0x8000_0000 != 0 {
                (e.code() & 0x7fff_ffff) as i32
            } else {
                e.reason_code()
            };
            return Some(match std::io::Error::from_raw_os_error(errno).kind() {
                std::io::ErrorKind::NotFound => "no such file or directory",
                std::io::ErrorKind::PermissionDenied => "permission denied",
                _ => "the system cannot read it",
            });
        }
        let reason = e.reason().unwrap_or_default().to_ascii_lowercase();
        let plain = PLAIN_SETUP_REASONS
            .iter()
            .find(|(raw, _)| reason.contains(raw))
            .map(|(_, plain)| *plain);
        if plain.is_some() {
            return plain;
        }
    }
    None
}

/// OpenSSL reasons (lower case, as substrings) met while loading files.
const PLAIN_SETUP_REASONS: &[(&str, &str)] = &[
    ("no such file", "no such file or directory"),
    ("no start line", "no PEM data of the expected kind in it"),
    ("no certificate or crl found", "no PEM certificate in it"),
    ("bad end line", "a PEM block in it is cut off"),
    ("bad base64 decode", "a PEM block in it is damaged"),
    (
        "bad decrypt",
        "the key is encrypted (keys with a passphrase are not supported)",
    ),
    (
        "bad password read",
        "the key is encrypted (keys with a passphrase are not supported)",
    ),
    (
        "interrupted or cancelled",
        "the key is encrypted (keys with a passphrase are not supported)",
    ),
    (
        "ee key too small",
        "its key is too small for OpenSSL's security level",
    ),
    (
        "ca md too weak",
        "its signature is too weak for OpenSSL's security level",
    ),
];

/// OpenSSL reasons (lower case, as substrings) of a failed handshake or
/// record, most specific first, in plain words.
const PLAIN_TLS_REASONS: &[(&str, &str)] = &[
    ("certificate required", "the server requires a client certificate"),
    ("unknown ca", "the server does not trust our client certificate's CA"),
    ("alert bad certificate", "the server refused our client certificate"),
    ("alert certificate expired", "the server says our client certificate has expired"),
    ("alert certificate revoked", "the server says our client certificate is revoked"),
    ("alert protocol version", "the server supports none of our TLS versions"),
    ("unsupported protocol", "the server supports none of our TLS versions"),
    ("no protocols available", "no TLS version is allowed"),
    ("alert handshake failure", "the server refused the TLS handshake (no cipher or version in common, or it wants a client certificate)"),
    ("wrong version number", "the server did not answer with TLS (is it a plain ws:// server?)"),
    ("packet length too long", "the server did not answer with TLS (is it a plain ws:// server?)"),
    ("record layer failure", "the server did not answer with TLS (is it a plain ws:// server?)"),
    ("unexpected eof", "the server closed the connection in the middle of TLS"),
    ("alert internal error", "the server reported an internal TLS error"),
    ("decryption failed or bad record mac", "a TLS record was damaged or forged"),
];

/// A TLS failure on the wire in plain words, OpenSSL's text after them:
/// "the server requires a client certificate (OpenSSL: error:0A00045C:...)".
pub(crate) fn plain_tls_failure(context: &str, raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    match PLAIN_TLS_REASONS.iter().find(|(r, _)| lower.contains(r)) {
        Some((_, plain)) => format!("{context}: {plain} (OpenSSL: {raw})"),
        None => format!("{context}: {raw}"),
    }
}

/// A certificate verification failure in plain words, with OpenSSL's
/// verify result after them.
fn verify_failure(result: X509VerifyResult) -> String {
    let raw = result.error_string();
    let plain = match result.as_raw() {
        9 => "the server's certificate is not valid yet (check this machine's clock)",
        10 => "the server's certificate has expired",
        18 => "the server's certificate is self-signed",
        19 => "self-signed certificate in the chain: its root CA is not trusted here",
        2 | 20 | 21 => "the server's certificate was issued by a CA not trusted here",
        62 => "the server's certificate is not for this host name",
        64 => "the server's certificate is not for this IP address",
        _ => return format!("certificate verify failed: {raw}"),
    };
    format!("certificate verify failed: {plain} (OpenSSL: {raw})")
}

/// Connectors are shared by every connection with the same settings:
/// building one parses the whole system CA store. The key is the whole
/// [`TlsOptions`] (every field: versions, ciphers, pins, server name, not
/// only files), so different settings never share a connector; the files'
/// modification times are part of it too, so a renewed certificate is
/// picked up.
type ConnectorKey = (TlsOptions, Vec<Option<SystemTime>>);

/// More distinct settings than this in one process: start over.
const MAX_CACHED: usize = 32;

fn shared_connector(options: &TlsOptions) -> Result<SslConnector> {
    static CACHE: OnceLock<Mutex<HashMap<ConnectorKey, SslConnector>>> = OnceLock::new();
    let mtime = |p: &Option<PathBuf>| {
        p.as_ref()
            .and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
    };
    let key = (
        options.clone(),
        [
            &options.ca_file,
            &options.ca_dir,
            &options.cert_file,
            &options.key_file,
        ]
        .into_iter()
        .map(mtime)
        .collect(),
    );
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(c);
    }
    let connector = build_connector(options)?;
    if let Ok(mut c) = cache.lock() {
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(key, connector.clone());
    }
    Ok(connector)
}

/// A TLS handshake in progress over a non-blocking socket: the caller
/// waits for what [`TlsHandshake::wants_read`] says, then calls
/// [`TlsHandshake::advance`] again. Its deadline is the caller's.
pub struct TlsHandshake {
    mid: MidHandshakeSslStream<Socket>,
    options: TlsOptions,
}

/// Where a handshake stands.
pub enum TlsStep {
    Done(Box<SslStream<Socket>>),
    Pending(Box<TlsHandshake>),
}

/// Start TLS over `tcp` (non-blocking) to `host`:`port`, as far as it goes
/// now, offering the session kept for that origin if there is one.
pub fn start_tls(tcp: TcpStream, host: &str, port: u16, options: &TlsOptions) -> Result<TlsStep> {
    let from_env;
    let options = match std::env::var_os("SSLKEYLOGFILE") {
        Some(path) if options.keylog_from_env && options.keylog_file.is_none() => {
            from_env = TlsOptions {
                keylog_file: Some(PathBuf::from(path)),
                ..options.clone()
            };
            &from_env
        }
        _ => options,
    };
    let connector = shared_connector(options)?;
    let mut config = connector
        .configure()
        .map_err(|e| tls_error(e.to_string()))?;
    if options.insecure_skip_verify {
        config.set_verify_hostname(false);
        config.set_verify(SslVerifyMode::NONE);
    }
    // SNI and the name (or address) verified: the override, else the host.
    let name = options.server_name.as_deref().unwrap_or(host);
    sessions::offer(&mut config, host, port)?;
    tcp.set_nonblocking(true)?;
    let attempt = config.connect(name, Socket::from(tcp));
    step(attempt, options)
}

fn step(
    attempt: std::result::Result<SslStream<Socket>, HandshakeError<Socket>>,
    options: &TlsOptions,
) -> Result<TlsStep> {
    match attempt {
        Ok(stream) => {
            check_pinned_key(stream.ssl(), &options.pinned_keys)?;
            Ok(TlsStep::Done(Box::new(stream)))
        }
        Err(HandshakeError::WouldBlock(mid)) => Ok(TlsStep::Pending(Box::new(TlsHandshake {
            mid,
            options: options.clone(),
        }))),
        Err(e) => Err(handshake_error(e, options)),
    }
}

impl TlsHandshake {
    /// Go on as far as the socket allows.
    pub fn advance(self: Box<Self>) -> Result<TlsStep> {
        let TlsHandshake { mid, options } = *self;
        step(mid.handshake(), &options)
    }

    /// OpenSSL waits for the server (else for room to write).
    pub fn wants_read(&self) -> bool {
        self.mid.error().code() == ErrorCode::WANT_READ
    }

    pub fn socket(&self) -> &Socket {
        self.mid.get_ref()
    }
}

/// With pins set, the server certificate's public key must be pinned
/// (checked even when verification is skipped, as curl does).
fn check_pinned_key(ssl: &SslRef, pins: &[[u8; 32]]) -> Result<()> {
    if pins.is_empty() {
        return Ok(());
    }
    let digest = match ssl.peer_certificate().map(|c| c.public_key()) {
        Some(Ok(key)) => key_digest(&key)?,
        _ => {
            return Err(Error::exn(
                ErrorKind::TlsVerify,
                "public key pin mismatch: the server sent no certificate with a public key",
            ))
        }
    };
    if pins.contains(&digest) {
        return Ok(());
    }
    Err(Error::exn(
        ErrorKind::TlsVerify,
        format!(
            "public key pin mismatch: the server's public key is sha256//{}, not one of the {} \
             pinned",
            BASE64.encode(digest),
            pins.len()
        ),
    ))
}

fn build_connector(options: &TlsOptions) -> Result<SslConnector> {
    let mut builder =
        SslConnector::builder(SslMethod::tls_client()).map_err(|e| tls_error(e.to_string()))?;
    if options.ca_file.is_some() || options.ca_dir.is_some() {
        // Instead of OpenSSL's default store (which the builder loaded),
        // not besides it.
        let empty = X509StoreBuilder::new().map_err(|e| tls_error(e.to_string()))?;
        builder.set_cert_store(empty.build());
        builder
            .load_verify_locations(options.ca_file.as_deref(), options.ca_dir.as_deref())
            .map_err(|e| {
                let (what, path) = match &options.ca_file {
                    Some(_) => ("the CA file", &options.ca_file),
                    None => ("the CA directory", &options.ca_dir),
                };
                setup_error(what, path, e)
            })?;
    }
    if let Some(cert) = &options.cert_file {
        builder
            .set_certificate_chain_file(cert)
            .map_err(|e| setup_error("the client certificate", &options.cert_file, e))?;
        let key = options.key_file.as_ref().unwrap_or(cert);
        builder
            .set_private_key_file(key, SslFiletype::PEM)
            .map_err(|e| setup_error("the client key", &Some(key.clone()), e))?;
        builder.check_private_key().map_err(|e| {
            tls_error(format!(
                "the client key {} does not match the certificate {} (OpenSSL: {e})",
                key.display(),
                cert.display()
            ))
        })?;
    }
    if let Some(v) = options.min_version {
        builder
            .set_min_proto_version(Some(v.ssl_version()))
            .map_err(|e| tls_error(format!("cannot set the minimum TLS version: {e}")))?;
    }
    if let Some(list) = &options.cipher_list {
        builder.set_cipher_list(list).map_err(|e| {
            tls_error(format!(
                "OpenSSL refuses the TLS 1.2 cipher list {list:?}: {e}"
            ))
        })?;
    }
    if let Some(list) = &options.ciphersuites {
        builder.set_ciphersuites(list).map_err(|e| {
            tls_error(format!(
                "OpenSSL refuses the TLS 1.3 cipher suites {list:?}: {e}"
            ))
        })?;
    }
    if let Some(path) = &options.keylog_file {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                tls_error(format!(
                    "cannot open the TLS key log file {}: {e}",
                    path.display()
                ))
            })?;
        let file = Mutex::new(file);
        builder.set_keylog_callback(move |_, line| {
            use std::io::Write;
            if let Ok(mut f) = file.lock() {
                // One write per line, so lines of concurrent connections
                // (and of other processes appending) never interleave.
                let _ = f.write_all(format!("{line}\n").as_bytes());
            }
        });
    }
    sessions::enable(&mut builder)?;
    Ok(builder.build())
}

/// What a finished TLS handshake agreed, for the trace.
pub fn tls_summary(ssl: &SslRef) -> TraceEvent {
    let version = ssl.version_str().to_string();
    let cipher = ssl
        .current_cipher()
        .map_or_else(String::new, |c| c.name().to_string());
    let alpn = ssl
        .selected_alpn_protocol()
        .map_or_else(String::new, |p| String::from_utf8_lossy(p).into_owned());
    let subject = ssl.peer_certificate().map_or_else(String::new, |c| {
        c.subject_name()
            .entries()
            .map(|e| {
                let key = e.object().nid().short_name().unwrap_or("?");
                let value = e.data().to_string().unwrap_or_default();
                format!("{key}={value}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    });
    let resumed = ssl.session_reused();
    let mut text = format!("TLS done: {version}, {cipher}");
    if resumed {
        text.push_str(", resumed");
    }
    if !subject.is_empty() {
        text.push_str(&format!(", server {subject}"));
    }
    TraceEvent::new(TraceKind::TlsDone, text)
        .text(Field::TlsVersion, version)
        .text(Field::TlsCipher, cipher)
        .text(Field::Alpn, alpn)
        .text(Field::PeerSubject, subject)
        .number(Field::Resumed, resumed as u8)
}

fn handshake_error(e: HandshakeError<Socket>, options: &TlsOptions) -> Error {
    match e {
        HandshakeError::Failure(mid) => {
            let verify = mid.ssl().verify_result();
            if verify != X509VerifyResult::OK {
                Error::exn(
                    ErrorKind::TlsVerify,
                    format!(
                        "{}; trust store: {}",
                        verify_failure(verify),
                        trust_store(options)
                    ),
                )
            } else {
                tls_error(plain_tls_failure(
                    "TLS handshake failed",
                    &mid.error().to_string(),
                ))
            }
        }
        HandshakeError::WouldBlock(_) => Error::exn(ErrorKind::Timeout, "TLS handshake timed out"),
        HandshakeError::SetupFailure(e) => tls_error(format!("TLS setup failed: {e}")),
    }
}

/// The CAs a verification used, for its error message: the CA file or
/// directory set, else OpenSSL's default locations.
fn trust_store(options: &TlsOptions) -> String {
    let shown = |p: &PathBuf| p.display().to_string();
    match (&options.ca_file, &options.ca_dir) {
        (Some(f), Some(d)) => format!("the CA file {} and the CA directory {}", shown(f), shown(d)),
        (Some(f), None) => format!("the CA file {}", shown(f)),
        (None, Some(d)) => format!("the CA directory {}", shown(d)),
        (None, None) => {
            let d = default_trust_store();
            let from = |var: &str, set: bool| {
                if set {
                    format!(" (from {var})")
                } else {
                    String::new()
                }
            };
            format!(
                "OpenSSL's default, the file {}{} and the directory {}{}",
                d.file,
                from(&d.file_env, d.file_from_env),
                d.dir,
                from(&d.dir_env, d.dir_from_env)
            )
        }
    }
}

/// Where OpenSSL's default trust store is, as `set_default_verify_paths`
/// reads it: the environment variable when set, else the built-in path.
struct DefaultTrustStore {
    file: String,
    file_env: String,
    file_from_env: bool,
    dir: String,
    dir_env: String,
    dir_from_env: bool,
}

fn default_trust_store() -> DefaultTrustStore {
    let text = |p: *const std::ffi::c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: non-NULL pointers from the X509_get_default_* calls
            // below point to NUL-terminated strings that libcrypto keeps
            // for the whole life of the process (constants compiled into
            // it); nothing frees or changes them.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    // SAFETY: these functions take no argument and only return pointers to
    // libcrypto's static strings (read by `text` above).
    let (file, file_env, dir, dir_env) = unsafe {
        (
            openssl_sys::X509_get_default_cert_file(),
            openssl_sys::X509_get_default_cert_file_env(),
            openssl_sys::X509_get_default_cert_dir(),
            openssl_sys::X509_get_default_cert_dir_env(),
        )
    };
    let (file, file_env, dir, dir_env) = (text(file), text(file_env), text(dir), text(dir_env));
    // Set but empty still counts for OpenSSL (it then loads nothing).
    let env = |var: &str| std::env::var_os(var).map(|v| v.to_string_lossy().into_owned());
    let (file_set, dir_set) = (env(&file_env), env(&dir_env));
    DefaultTrustStore {
        file_from_env: file_set.is_some(),
        file: file_set.unwrap_or(file),
        file_env,
        dir_from_env: dir_set.is_some(),
        dir: dir_set.unwrap_or(dir),
        dir_env,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup_failure(options: TlsOptions) -> String {
        let Err(e) = build_connector(&options) else {
            panic!("{options:?} accepted");
        };
        assert_eq!(e.kind(), ErrorKind::Tls);
        e.message().to_string()
    }

    #[test]
    fn file_errors_are_plain_words_then_openssls_text() {
        let dir = std::env::temp_dir().join(format!("wsclient-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let m = setup_failure(TlsOptions {
            ca_file: Some(missing.clone()),
            ..TlsOptions::default()
        });
        let start = format!(
            "cannot read the CA file {}: no such file or directory (OpenSSL: error:",
            missing.display()
        );
        assert!(m.starts_with(&start), "{m}");

        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "not PEM at all\n").unwrap();
        let m = setup_failure(TlsOptions {
            cert_file: Some(garbage.clone()),
            ..TlsOptions::default()
        });
        assert!(
            m.starts_with("cannot read the client certificate")
                && m.contains(": no PEM data of the expected kind in it (OpenSSL: "),
            "{m}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn handshake_and_verify_failures_are_plain_words_then_openssls_text() {
        let raw = "error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required";
        assert_eq!(
            plain_tls_failure("TLS failure", raw),
            format!("TLS failure: the server requires a client certificate (OpenSSL: {raw})")
        );
        let raw = "error:0A00010B:SSL routines:ssl3_get_record:wrong version number";
        assert!(plain_tls_failure("TLS handshake failed", raw).contains("did not answer with TLS"));
        // Unknown reasons pass through as they are.
        assert_eq!(plain_tls_failure("TLS failure", "odd"), "TLS failure: odd");

        // SAFETY: 19 is X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, a valid number.
        let chain = verify_failure(unsafe { X509VerifyResult::from_raw(19) });
        assert_eq!(
            chain,
            "certificate verify failed: self-signed certificate in the chain: its root CA is not \
             trusted here (OpenSSL: self-signed certificate in certificate chain)"
        );
        // SAFETY: 62 is X509_V_ERR_HOSTNAME_MISMATCH.
        let name = verify_failure(unsafe { X509VerifyResult::from_raw(62) });
        assert!(name.contains("not for this host name") && name.contains("hostname mismatch"));
    }

    fn refused(r: Result<()>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        e.message().to_string()
    }

    #[test]
    fn cipher_lists_are_tried_on_openssl_when_set() {
        let mut o = TlsOptions::default();
        assert!(refused(o.set_cipher_list(Some("NO-SUCH-CIPHER"))).contains("no cipher"));
        assert!(refused(o.set_cipher_list(Some(""))).contains("cipher list"));
        let m = refused(o.set_ciphersuites(Some("TLS_AES_128_GCM_SHA256:TLS_BOGUS")));
        assert!(m.contains("\"TLS_BOGUS\""), "{m}");
        refused(o.set_ciphersuites(Some("AES128-GCM-SHA256")));
        assert_eq!(o, TlsOptions::default(), "a refused list was kept");

        o.set_cipher_list(Some("ECDHE-ECDSA-AES128-GCM-SHA256:HIGH:!aNULL"))
            .unwrap();
        o.set_ciphersuites(Some("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"))
            .unwrap();
        o.set_ciphersuites(Some("")).unwrap(); // no TLS 1.3
        assert!(build_connector(&o).is_ok());
        o.set_cipher_list(None).unwrap();
        o.set_ciphersuites(None).unwrap();
        assert_eq!(o, TlsOptions::default());
        // Fields set directly get the same checks.
        let direct = TlsOptions {
            ciphersuites: Some("TLS_BOGUS".into()),
            ..TlsOptions::default()
        };
        assert_eq!(
            direct.validate().unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn pins_are_sha256_digests_or_a_public_key_file() {
        let mut o = TlsOptions::default();
        let digest = [7u8; 32];
        let pin = format!("sha256//{}", BASE64.encode(digest));
        o.set_pinned_public_key(Some(&pin)).unwrap();
        assert_eq!(o.pinned_keys, [digest]);
        let two = format!("sha256//{}; {pin}", BASE64.encode([1u8; 32]));
        o.set_pinned_public_key(Some(&two)).unwrap();
        assert_eq!(o.pinned_keys, [[1u8; 32], digest]);
        for bad in [
            "sha256//not base64!",
            "sha256//AAAA",
            &format!("{pin};sha1//AAAA"),
        ] {
            assert!(refused(o.set_pinned_public_key(Some(bad))).contains("bad public key pin"));
        }
        let m = refused(o.set_pinned_public_key(Some("/nonexistent/key.pem")));
        assert!(
            m.contains("/nonexistent/key.pem") && m.contains("no such file"),
            "{m}"
        );
        assert_eq!(o.pinned_keys, [[1u8; 32], digest], "a refused pin was kept");

        let dir = std::env::temp_dir().join(format!("wsclient-pin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
        let expected = openssl::sha::sha256(&key.public_key_to_der().unwrap());
        for (name, bytes) in [
            ("key.pem", key.public_key_to_pem().unwrap()),
            ("key.der", key.public_key_to_der().unwrap()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            o.set_pinned_public_key(Some(path.to_str().unwrap()))
                .unwrap();
            assert_eq!(o.pinned_keys, [expected], "{name}");
        }
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "no key here").unwrap();
        let m = refused(o.set_pinned_public_key(Some(garbage.to_str().unwrap())));
        assert!(m.contains("no PEM or DER public key"), "{m}");
        o.set_pinned_public_key(Some("")).unwrap();
        assert!(o.pinned_keys.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn server_names_are_host_names_or_addresses() {
        let mut o = TlsOptions::default();
        for bad in [
            "two words",
            "a..b",
            "evil\r\nX: 1",
            "a/b",
            "[::1",
            "host:443",
            ".",
            "ex\0ample",
        ] {
            assert!(
                refused(o.set_server_name(Some(bad))).contains("not a host name or IP address"),
                "{bad:?}"
            );
        }
        assert_eq!(o.server_name, None);
        for (given, kept) in [
            ("example.com", "example.com"),
            ("wrong.example.", "wrong.example."),
            ("127.0.0.1", "127.0.0.1"),
            ("[::1]", "::1"),
            ("::1", "::1"),
        ] {
            o.set_server_name(Some(given)).unwrap();
            assert_eq!(o.server_name.as_deref(), Some(kept));
        }
        o.set_server_name(Some("")).unwrap();
        assert_eq!(o.server_name, None);
    }

    #[test]
    fn the_trust_store_is_named_as_set_or_as_openssls_default() {
        let file = TlsOptions {
            ca_file: Some("/etc/app/ca.pem".into()),
            ..TlsOptions::default()
        };
        assert_eq!(trust_store(&file), "the CA file /etc/app/ca.pem");
        let dir = TlsOptions {
            ca_dir: Some("/etc/app/certs".into()),
            ..file.clone()
        };
        assert_eq!(
            trust_store(&dir),
            "the CA file /etc/app/ca.pem and the CA directory /etc/app/certs"
        );
        let d = default_trust_store();
        assert_eq!(
            (d.file_env.as_str(), d.dir_env.as_str()),
            ("SSL_CERT_FILE", "SSL_CERT_DIR")
        );
        assert!(!d.file.is_empty() && !d.dir.is_empty());
        let default = trust_store(&TlsOptions::default());
        assert!(
            default.starts_with("OpenSSL's default, the file ")
                && default.contains(&d.file)
                && default.contains(&format!(" and the directory {}", d.dir)),
            "{default}"
        );
    }

    #[test]
    fn a_ca_file_replaces_openssls_default_store() {
        let dir = std::env::temp_dir().join(format!("wsclient-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "only CA").unwrap();
        let name = name.build();
        let mut b = openssl::x509::X509Builder::new().unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, b.build().to_pem().unwrap()).unwrap();
        let connector = build_connector(&TlsOptions {
            ca_file: Some(ca),
            ..TlsOptions::default()
        })
        .unwrap();
        // Only that CA: none of the system's (OpenSSL loads its default
        // file, when there is one, into a fresh connector).
        let trusted = connector.context().cert_store().all_certificates();
        assert_eq!(trusted.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
