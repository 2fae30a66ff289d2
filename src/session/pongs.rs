//! The pongs received, so that a binding can tell when the pong for its
//! ping arrived (websockets' `ping()` returns a waiter for it).

/// How many pongs arrived and the payload of the last one.
#[derive(Default, Clone)]
pub struct PongRecord {
    count: u64,
    last: Vec<u8>,
}

impl PongRecord {
    pub fn on_pong(&mut self, payload: &[u8]) {
        self.count += 1;
        self.last.clear();
        self.last.extend_from_slice(payload);
    }

    /// Pongs received so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The payload of the last pong (empty before the first).
    pub fn last(&self) -> &[u8] {
        &self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_keeps_the_last_payload() {
        let mut r = PongRecord::default();
        assert_eq!((r.count(), r.last()), (0, &b""[..]));
        r.on_pong(b"first");
        r.on_pong(b"2nd");
        assert_eq!((r.count(), r.last()), (2, &b"2nd"[..]));
    }
}
