//! The TLS handshake section's peers: wss:// servers in this process, one
//! that lets clients resume their sessions and one that never does, with a
//! CA and a server certificate (ECDSA P-256, for 127.0.0.1) made here.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::thread;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod, SslOptions, SslSessionCacheMode, SslVersion};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

/// A CA (written to `dir/ca.pem`, for the client's CA file) and a server
/// certificate it signed for 127.0.0.1, with the server's key.
pub struct Pki {
    pub ca_file: PathBuf,
    cert: X509,
    key: PKey<Private>,
    ca: X509,
}

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn certificate(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    serial: u32,
) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    match issuer {
        None => {
            b.set_issuer_name(&name).unwrap();
            let ca = BasicConstraints::new().critical().ca().build().unwrap();
            b.append_extension(ca).unwrap();
            b.sign(key, MessageDigest::sha256()).unwrap();
        }
        Some((ca, ca_key)) => {
            b.set_issuer_name(ca.subject_name()).unwrap();
            let ip = SubjectAlternativeName::new()
                .ip("127.0.0.1")
                .build(&b.x509v3_context(Some(ca), None))
                .unwrap();
            b.append_extension(ip).unwrap();
            b.sign(ca_key, MessageDigest::sha256()).unwrap();
        }
    }
    b.build()
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        let ca_key = ec_key();
        let ca = certificate("bench CA", &ca_key, None, 1);
        let key = ec_key();
        let cert = certificate("127.0.0.1", &key, Some((&ca, &ca_key)), 2);
        std::fs::create_dir_all(dir).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca.to_pem().unwrap()).unwrap();
        Pki {
            ca_file,
            cert,
            key,
            ca,
        }
    }

    /// An acceptor for at most `max` (TLS 1.2 or 1.3) that lets sessions
    /// resume (tickets, and a session cache for TLS 1.2 ids) or never does
    /// (no tickets, no cache: every handshake is a full one).
    fn acceptor(&self, max: SslVersion, resume: bool) -> SslAcceptor {
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        b.set_certificate(&self.cert).unwrap();
        b.add_extra_chain_cert(self.ca.clone()).unwrap();
        b.set_private_key(&self.key).unwrap();
        b.set_max_proto_version(Some(max)).unwrap();
        if !resume {
            b.set_options(SslOptions::NO_TICKET);
            b.set_session_cache_mode(SslSessionCacheMode::OFF);
            b.set_num_tickets(0).unwrap();
        }
        b.build()
    }

    /// A wss:// server: each connection's TLS handshake and WebSocket
    /// upgrade, then reads until the client goes; one connection at a time.
    pub fn server(&self, max: SslVersion, resume: bool) -> SocketAddr {
        let acceptor = self.acceptor(max, resume);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                // A ticket written apart from the 101 must not hold it back.
                tcp.set_nodelay(true).expect("TCP_NODELAY");
                let Ok(tls) = acceptor.accept(tcp) else {
                    continue;
                };
                let Ok(mut ws) = tungstenite::accept(tls) else {
                    continue;
                };
                while ws.read().is_ok() {}
                let _ = ws.get_mut().shutdown();
            }
        });
        addr
    }
}
