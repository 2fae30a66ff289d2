//! TLS session resumption: each shared connector (one per TLS
//! configuration, see `tls::shared_connector`) keeps the latest session
//! the servers it talked to gave it, one per origin (host and port), and
//! offers it on the next connect there. A resumed handshake skips the
//! certificate exchange and its verification (the session carries the
//! verified chain), and the key exchange's signature.
//!
//! The cache lives in the connector's `SSL_CTX` (its ex data), so a session
//! is never offered under another configuration (another CA file, client
//! certificate, verification off). TLS 1.3 tickets arrive after the
//! handshake, during later reads (before the 101 answer, with OpenSSL and
//! most servers), and are meant for one use: a ticket is taken out when it
//! is offered, and the tickets that connection receives replace it. A TLS
//! 1.2 session (an id, or a ticket) can be offered again: it stays until a
//! full handshake brings a newer one.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::ex_data::Index;
use openssl::ssl::{
    ConnectConfiguration, Ssl, SslConnectorBuilder, SslContext, SslContextRef, SslSession,
    SslSessionCacheMode, SslSessionRef, SslVersion,
};

use crate::error::{Error, ErrorKind, Result};

/// Where a session may be offered again: the host as connected to (name
/// or address) and the port.
pub type Origin = (String, u16);

/// More origins than this under one configuration: the one used least
/// recently makes room.
const MAX_ORIGINS: usize = 128;

/// What the cache needs of a session (a trait so that the cache's rules
/// are tested without handshakes).
pub trait Resumable: Sized {
    /// Offered once only (a TLS 1.3 ticket), else again and again.
    fn single_use(&self) -> bool;
    /// Past its lifetime at `now_secs` (seconds since the epoch).
    fn expired(&self, now_secs: i64) -> bool;
    /// Another reference to the same session.
    fn share(&self) -> Self;
}

impl Resumable for SslSession {
    fn single_use(&self) -> bool {
        self.protocol_version() == SslVersion::TLS1_3
    }

    // `time()` is a C long: i64 here, i32 on 32-bit targets.
    #[allow(clippy::useless_conversion)]
    fn expired(&self, now_secs: i64) -> bool {
        let start = i64::from(self.time());
        start.saturating_add(self.timeout()) <= now_secs
    }

    fn share(&self) -> Self {
        SslSessionRef::to_owned(self)
    }
}

/// The sessions of one connector, one per origin.
pub struct SessionCache<S = SslSession> {
    inner: Mutex<Entries<S>>,
}

struct Entries<S> {
    by_origin: HashMap<Origin, Entry<S>>,
    /// Counts stores, to tell the least recently stored entry.
    clock: u64,
}

struct Entry<S> {
    session: S,
    stored: u64,
}

impl<S> Default for SessionCache<S> {
    fn default() -> Self {
        SessionCache {
            inner: Mutex::new(Entries {
                by_origin: HashMap::new(),
                clock: 0,
            }),
        }
    }
}

impl<S: Resumable> SessionCache<S> {
    /// Keep `session` for `origin`, in place of the one it had.
    pub fn store(&self, origin: Origin, session: S) {
        let Ok(mut e) = self.inner.lock() else {
            return;
        };
        e.clock += 1;
        let stored = e.clock;
        if e.by_origin.len() >= MAX_ORIGINS && !e.by_origin.contains_key(&origin) {
            let oldest = e
                .by_origin
                .iter()
                .min_by_key(|(_, v)| v.stored)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                e.by_origin.remove(&k);
            }
        }
        e.by_origin.insert(origin, Entry { session, stored });
    }

    /// The session to offer to `origin`, if one is kept and still within
    /// its lifetime: a TLS 1.3 ticket is taken out (single use), a TLS 1.2
    /// session stays.
    pub fn take(&self, origin: &Origin, now_secs: i64) -> Option<S> {
        let mut e = self.inner.lock().ok()?;
        let s = &e.by_origin.get(origin)?.session;
        if s.expired(now_secs) {
            e.by_origin.remove(origin);
            None
        } else if s.single_use() {
            e.by_origin.remove(origin).map(|e| e.session)
        } else {
            Some(s.share())
        }
    }

    /// How many origins have a session.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |e| e.by_origin.len())
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn setup_error(e: openssl::error::ErrorStack) -> Error {
    Error::exn(
        ErrorKind::Tls,
        format!("cannot set up TLS session resumption: {e}"),
    )
}

/// The slot of a context's session cache.
fn cache_index() -> Result<Index<SslContext, SessionCache>> {
    static INDEX: OnceLock<Option<Index<SslContext, SessionCache>>> = OnceLock::new();
    INDEX
        .get_or_init(|| SslContext::new_ex_index().ok())
        .ok_or_else(|| setup_error(openssl::error::ErrorStack::get()))
}

/// The slot of a connection's origin, for the new-session callback.
fn origin_index() -> Result<Index<Ssl, Origin>> {
    static INDEX: OnceLock<Option<Index<Ssl, Origin>>> = OnceLock::new();
    INDEX
        .get_or_init(|| Ssl::new_ex_index().ok())
        .ok_or_else(|| setup_error(openssl::error::ErrorStack::get()))
}

/// Give a connector being built its session cache: OpenSSL hands every new
/// session (a TLS 1.2 session at the end of a full handshake, each TLS 1.3
/// ticket as it arrives) to the cache, under the connection's origin.
pub fn enable(builder: &mut SslConnectorBuilder) -> Result<()> {
    let (caches, origins) = (cache_index()?, origin_index()?);
    // The client mode calls the callback; OpenSSL's own store (a server's
    // lookup table, which a client never reads) stays empty.
    builder.set_session_cache_mode(SslSessionCacheMode::CLIENT | SslSessionCacheMode::NO_INTERNAL);
    builder.set_ex_data(caches, SessionCache::default());
    builder.set_new_session_callback(move |ssl, session| {
        if let (Some(origin), Some(cache)) =
            (ssl.ex_data(origins), ssl.ssl_context().ex_data(caches))
        {
            cache.store(origin.clone(), session);
        }
    });
    Ok(())
}

/// The cache of a connector's context (None if it was built without one).
pub fn cache_of(context: &SslContextRef) -> Option<&SessionCache> {
    context.ex_data(cache_index().ok()?)
}

/// Before a handshake to `host`:`port`: name the origin for the sessions
/// the connection will receive, and offer the one kept for it.
pub fn offer(config: &mut ConnectConfiguration, host: &str, port: u16) -> Result<()> {
    let origin: Origin = (host.to_string(), port);
    let kept = cache_of(config.ssl_context()).and_then(|c| c.take(&origin, now_secs()));
    config.set_ex_data(origin_index()?, origin);
    if let Some(session) = kept {
        // SAFETY: the session comes from the cache in this connection's own
        // context, which only its new-session callback fills, with sessions
        // of connections made from that context: it is associated with the
        // same SslContext, as `set_session` requires.
        unsafe { config.set_session(&session) }.map_err(setup_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ssl::{SslConnector, SslMethod};

    /// A session as the cache sees it: its version's rule, its lifetime,
    /// and a name to tell it apart.
    #[derive(Debug, PartialEq)]
    struct Fake {
        tls13: bool,
        until: i64,
        name: &'static str,
    }

    impl Resumable for Fake {
        fn single_use(&self) -> bool {
            self.tls13
        }
        fn expired(&self, now_secs: i64) -> bool {
            self.until <= now_secs
        }
        fn share(&self) -> Self {
            Fake { ..*self }
        }
    }

    fn tls12(name: &'static str, until: i64) -> Fake {
        Fake {
            tls13: false,
            until,
            name,
        }
    }

    fn origin(n: u16) -> Origin {
        ("example.com".to_string(), n)
    }

    const NOW: i64 = 1_000_000;

    #[test]
    fn a_tls13_ticket_is_offered_once_a_tls12_session_again() {
        let cache = SessionCache::default();
        let ticket = Fake {
            tls13: true,
            until: NOW + 7200,
            name: "ticket",
        };
        cache.store(origin(1), ticket);
        cache.store(origin(2), tls12("session", NOW + 7200));
        assert_eq!(cache.take(&origin(1), NOW).unwrap().name, "ticket");
        assert_eq!(cache.take(&origin(1), NOW), None, "a ticket offered twice");
        assert_eq!(cache.take(&origin(2), NOW).unwrap().name, "session");
        assert_eq!(cache.take(&origin(2), NOW).unwrap().name, "session");
        // Another host on the same port is another origin.
        assert_eq!(cache.take(&("example.org".to_string(), 2), NOW), None);
    }

    #[test]
    fn a_newer_session_replaces_the_kept_one_and_old_ones_expire() {
        let cache = SessionCache::default();
        cache.store(origin(1), tls12("first", NOW + 7200));
        cache.store(origin(1), tls12("second", NOW + 60));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.take(&origin(1), NOW).unwrap().name, "second");
        assert_eq!(cache.take(&origin(1), NOW + 60), None, "expired");
        assert!(cache.is_empty(), "an expired session is dropped");
    }

    #[test]
    fn the_cache_is_bounded_and_drops_the_oldest_origin() {
        let cache = SessionCache::default();
        for port in 0..MAX_ORIGINS as u16 + 10 {
            cache.store(origin(port), tls12("s", NOW + 7200));
        }
        assert_eq!(cache.len(), MAX_ORIGINS);
        assert_eq!(cache.take(&origin(9), NOW), None);
        assert!(cache.take(&origin(10), NOW).is_some());
        // Storing again for a kept origin evicts nothing.
        cache.store(origin(10), tls12("again", NOW + 7200));
        assert_eq!(cache.len(), MAX_ORIGINS);
        assert!(cache.take(&origin(11), NOW).is_some());
    }

    #[test]
    fn each_connector_has_a_cache_of_its_own() {
        let build = || {
            let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
            enable(&mut b).unwrap();
            b.build()
        };
        let (a, b) = (build(), build());
        let (ca, cb) = (
            cache_of(a.context()).unwrap(),
            cache_of(b.context()).unwrap(),
        );
        assert!(!std::ptr::eq(ca, cb));
        let plain = SslConnector::builder(SslMethod::tls_client())
            .unwrap()
            .build();
        assert!(cache_of(plain.context()).is_none());
        // Nothing kept: nothing offered.
        let mut config = a.configure().unwrap();
        offer(&mut config, "example.com", 1).unwrap();
        assert!(config.session().is_none());
    }
}
