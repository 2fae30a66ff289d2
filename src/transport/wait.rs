//! Waiting for a socket with `poll(2)`: the only place a connection blocks
//! once it is open, so every wait has a deadline.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// Wait until `socket` is readable (if `read`) or writable (if `write`), or
/// `timeout` passes (None: no limit). Returns early on a signal (EINTR), so
/// callers recompute their deadlines and go round again.
pub fn wait_fd(
    socket: impl AsFd,
    read: bool,
    write: bool,
    timeout: Option<Duration>,
) -> io::Result<()> {
    let mut flags = PollFlags::empty();
    if read {
        flags |= PollFlags::IN;
    }
    if write {
        flags |= PollFlags::OUT;
    }
    let mut fds = [PollFd::new(&socket, flags)];
    let timeout = timeout.map(|t| Timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: t.subsec_nanos() as _,
    });
    match poll(&mut fds, timeout.as_ref()) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
