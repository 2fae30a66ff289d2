//! TLS through the system OpenSSL: verification on by default, SNI, and
//! host name or IP address checks.

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

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

fn setup_error(what: &str, path: &Option<PathBuf>, e: openssl::error::ErrorStack) -> Error {
    let path = path
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    tls_error(format!("{what} {path}: {e}"))
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
                setup_error(
                    "cannot load CA",
                    &options.ca_file.clone().or(options.ca_dir.clone()),
                    e,
                )
            })?;
    }
    if let Some(cert) = &options.cert_file {
        builder
            .set_certificate_chain_file(cert)
            .map_err(|e| setup_error("cannot load client certificate", &options.cert_file, e))?;
        let key = options.key_file.as_ref().unwrap_or(cert);
        builder
            .set_private_key_file(key, SslFiletype::PEM)
            .map_err(|e| setup_error("cannot load client key", &Some(key.clone()), e))?;
        builder
            .check_private_key()
            .map_err(|e| tls_error(format!("client key does not match certificate: {e}")))?;
    }
    Ok(builder.build())
}

fn handshake_error(e: HandshakeError<Socket>) -> Error {
    match e {
        HandshakeError::Failure(mid) => {
            let verify = mid.ssl().verify_result();
            if verify != X509VerifyResult::OK {
                Error::exn(
                    ErrorKind::TlsVerify,
                    format!("certificate verify failed: {}", verify.error_string()),
                )
            } else {
                tls_error(format!("TLS handshake failed: {}", mid.error()))
            }
        }
        HandshakeError::WouldBlock(_) => Error::exn(ErrorKind::Timeout, "TLS handshake timed out"),
        HandshakeError::SetupFailure(e) => tls_error(format!("TLS setup failed: {e}")),
    }
}
