//! One descriptor to wait on while a connection opens, whatever the step:
//! an epoll instance holding what the step waits for (the resolver's
//! eventfd, the racing connection attempts, then the socket). A caller's
//! event loop registers it once and waits for it to be readable; it never
//! changes while connecting, so a loop cannot be fooled by a descriptor
//! number that was closed and reused under it.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::io::Errno;

pub struct Waiter {
    epoll: OwnedFd,
}

fn flags(read: bool, write: bool) -> EventFlags {
    let mut flags = EventFlags::empty();
    if read {
        flags |= EventFlags::IN;
    }
    if write {
        flags |= EventFlags::OUT;
    }
    flags
}

impl Waiter {
    pub fn new() -> io::Result<Waiter> {
        Ok(Waiter {
            epoll: epoll::create(CreateFlags::CLOEXEC)?,
        })
    }

    /// Wake for `fd` being readable (`read`) or writable (`write`), whether
    /// or not it was watched before. A descriptor closed (its last copy)
    /// leaves the set by itself.
    pub fn watch(&self, fd: BorrowedFd<'_>, read: bool, write: bool) -> io::Result<()> {
        let data = EventData::new_u64(0);
        match epoll::modify(&self.epoll, fd, data, flags(read, write)) {
            Err(Errno::NOENT) => epoll::add(&self.epoll, fd, data, flags(read, write))?,
            other => other?,
        }
        Ok(())
    }
}

impl AsFd for Waiter {
    /// Readable when something watched is ready.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::wait_fd;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    fn ready(w: &Waiter) -> bool {
        wait_fd(w, true, false, Some(Duration::ZERO)).unwrap();
        rustix::event::poll(
            &mut [rustix::event::PollFd::new(w, rustix::event::PollFlags::IN)],
            Some(&rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }),
        )
        .unwrap()
            > 0
    }

    #[test]
    fn it_wakes_for_what_is_watched_and_forgets_closed_descriptors() {
        let w = Waiter::new().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        w.watch(tcp.as_fd(), true, false).unwrap();
        assert!(!ready(&w), "nothing to read yet");
        w.watch(tcp.as_fd(), false, true).unwrap();
        assert!(ready(&w), "a connected socket is writable");
        drop(tcp);
        assert!(!ready(&w), "a closed socket leaves the set");
    }
}
