//! Waiting for sockets with `poll(2)`: the only place a connection blocks
//! once it is open, so every wait has a deadline.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
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
    wait_any(&[socket.as_fd()], read, write, timeout).map(|_| ())
}

/// [`wait_fd`] for several sockets at once: which of them are ready
/// (readable or writable as asked, or in error or hung up), in order; none
/// when the timeout passed or a signal came.
pub fn wait_any(
    sockets: &[BorrowedFd<'_>],
    read: bool,
    write: bool,
    timeout: Option<Duration>,
) -> io::Result<Vec<bool>> {
    let mut flags = PollFlags::empty();
    if read {
        flags |= PollFlags::IN;
    }
    if write {
        flags |= PollFlags::OUT;
    }
    let mut fds: Vec<PollFd<'_>> = sockets.iter().map(|s| PollFd::new(s, flags)).collect();
    let timeout = timeout.map(|t| Timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: t.subsec_nanos() as _,
    });
    match poll(&mut fds, timeout.as_ref()) {
        Ok(_) => Ok(fds.iter().map(|f| !f.revents().is_empty()).collect()),
        Err(rustix::io::Errno::INTR) => Ok(vec![false; fds.len()]),
        Err(e) => Err(e.into()),
    }
}
