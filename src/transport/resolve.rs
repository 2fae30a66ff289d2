//! Name lookups that never block the caller. The system resolver
//! (getaddrinfo) can be neither cancelled nor given a timeout, so each
//! lookup runs on a helper thread and signals an eventfd when its answer
//! is in: the caller waits on that descriptor in its own event loop. A
//! lookup dropped before its answer is abandoned: the thread finishes on
//! its own and its answer is thrown away; nobody waits for it.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::thread;

use rustix::event::{eventfd, EventfdFlags};

/// getaddrinfo and the NSS modules it loads run in this much stack.
const STACK: usize = 256 << 10;

type Answer = io::Result<Vec<SocketAddr>>;

/// What the helper thread and the lookup share.
struct Shared {
    answer: Mutex<Option<Answer>>,
    /// Readable once `answer` is set; the thread holds it too, so it is
    /// never closed (and its number reused) while the thread may write.
    ready: OwnedFd,
}

/// A name being looked up.
pub struct Lookup {
    shared: Arc<Shared>,
}

impl Lookup {
    /// Look up `host:port` on a helper thread.
    pub fn start(host: &str, port: u16) -> io::Result<Lookup> {
        let host = host.to_string();
        Lookup::with(move || {
            (host.as_str(), port)
                .to_socket_addrs()
                .map(Iterator::collect)
        })
    }

    /// Run `resolve` on a helper thread (tests give a slow or failing one).
    pub fn with<F>(resolve: F) -> io::Result<Lookup>
    where
        F: FnOnce() -> Answer + Send + 'static,
    {
        let ready = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        let shared = Arc::new(Shared {
            answer: Mutex::new(None),
            ready,
        });
        let theirs = Arc::clone(&shared);
        thread::Builder::new()
            .name("wsclient-resolve".into())
            .stack_size(STACK)
            .spawn(move || {
                let answer = resolve();
                if let Ok(mut slot) = theirs.answer.lock() {
                    *slot = Some(answer);
                }
                let _ = rustix::io::write(&theirs.ready, &1u64.to_ne_bytes());
            })?;
        Ok(Lookup { shared })
    }

    /// The answer, once it is in (taken: later calls get `None`). Taking
    /// it reads the eventfd, so the descriptor is quiet from then on.
    pub fn answer(&self) -> Option<Answer> {
        // The thread signals after storing the answer: a signal read means
        // the answer is there.
        let mut count = [0u8; 8];
        rustix::io::read(&self.shared.ready, &mut count).ok()?;
        self.shared.answer.lock().ok()?.take()
    }
}

impl AsFd for Lookup {
    /// Readable once the answer is in.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.shared.ready.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::wait_fd;
    use std::time::{Duration, Instant};

    #[test]
    fn the_answer_wakes_the_descriptor() {
        let lookup = Lookup::with(|| {
            thread::sleep(Duration::from_millis(50));
            Ok(vec!["127.0.0.1:80".parse().unwrap()])
        })
        .unwrap();
        assert!(lookup.answer().is_none(), "not yet");
        wait_fd(&lookup, true, false, Some(Duration::from_secs(10))).unwrap();
        let addrs = lookup.answer().unwrap().unwrap();
        assert_eq!(addrs[0].port(), 80);
    }

    #[test]
    fn a_dropped_lookup_is_not_waited_for() {
        let started = Instant::now();
        let lookup = Lookup::with(|| {
            thread::sleep(Duration::from_secs(3));
            Ok(Vec::new())
        })
        .unwrap();
        drop(lookup);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn localhost_resolves() {
        let lookup = Lookup::start("localhost", 9).unwrap();
        wait_fd(&lookup, true, false, Some(Duration::from_secs(10))).unwrap();
        assert!(!lookup.answer().unwrap().unwrap().is_empty());
    }
}
