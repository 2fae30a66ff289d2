//! TLS through the system OpenSSL: verification on by default, SNI, and
//! host name or IP address checks.

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use openssl::error::ErrorStack;
use openssl::ssl::{
    HandshakeError, SslConnector, SslFiletype, SslMethod, SslStream, SslVerifyMode,
};
use openssl::x509::X509VerifyResult;

use crate::error::{Error, ErrorKind, Result};
use crate::transport::Socket;

/// TLS settings. The default verifies against the system trust store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    pub ca_file: Option<PathBuf>,
    pub ca_dir: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Accept any certificate for any name. Only for testing.
    pub insecure_skip_verify: bool,
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
/// building one parses the whole system CA store. The files' modification
/// times are part of the key, so a renewed certificate is picked up.
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

pub fn connect_tls(tcp: TcpStream, host: &str, options: &TlsOptions) -> Result<SslStream<Socket>> {
    let connector = shared_connector(options)?;
    let mut config = connector
        .configure()
        .map_err(|e| tls_error(e.to_string()))?;
    if options.insecure_skip_verify {
        config.set_verify_hostname(false);
        config.set_verify(SslVerifyMode::NONE);
    }
    config
        .connect(host, Socket::from(tcp))
        .map_err(handshake_error)
}

fn build_connector(options: &TlsOptions) -> Result<SslConnector> {
    let mut builder =
        SslConnector::builder(SslMethod::tls_client()).map_err(|e| tls_error(e.to_string()))?;
    if options.ca_file.is_some() || options.ca_dir.is_some() {
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
    Ok(builder.build())
}

fn handshake_error(e: HandshakeError<Socket>) -> Error {
    match e {
        HandshakeError::Failure(mid) => {
            let verify = mid.ssl().verify_result();
            if verify != X509VerifyResult::OK {
                Error::exn(ErrorKind::TlsVerify, verify_failure(verify))
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
}
