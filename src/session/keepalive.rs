//! Keepalive: a ping every interval; a pong missing for longer than the
//! timeout fails the connection (as websockets and libwebsockets do).

use std::time::{Duration, Instant};

/// Keepalive settings: both must be non-zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    pub interval: Duration,
    pub timeout: Duration,
}

/// What a passed deadline asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Due {
    Nothing,
    Ping(Vec<u8>),
    /// The pong did not come; how long it was awaited.
    Failed(Duration),
}

pub struct KeepaliveTimer {
    config: Keepalive,
    next_ping: Instant,
    /// The payload of the ping whose pong is awaited, and its deadline.
    awaiting: Option<([u8; 8], Instant)>,
    count: u64,
}

impl KeepaliveTimer {
    pub fn new(config: Keepalive, now: Instant) -> KeepaliveTimer {
        KeepaliveTimer {
            config,
            next_ping: now + config.interval,
            awaiting: None,
            count: 0,
        }
    }

    pub fn next_deadline(&self) -> Instant {
        match self.awaiting {
            Some((_, deadline)) => deadline,
            None => self.next_ping,
        }
    }

    pub fn on_timer(&mut self, now: Instant) -> Due {
        if let Some((_, deadline)) = self.awaiting {
            if now >= deadline {
                return Due::Failed(self.config.timeout);
            }
            return Due::Nothing;
        }
        if now < self.next_ping {
            return Due::Nothing;
        }
        self.count += 1;
        let payload = self.count.to_be_bytes();
        self.awaiting = Some((payload, now + self.config.timeout));
        self.next_ping = now + self.config.interval;
        Due::Ping(payload.to_vec())
    }

    /// Only the pong for our ping counts: unsolicited pongs are allowed
    /// (RFC 6455 §5.5.3) and prove nothing about our ping.
    pub fn on_pong(&mut self, payload: &[u8]) {
        if self.awaiting.is_some_and(|(p, _)| p[..] == *payload) {
            self.awaiting = None;
        }
    }
}
