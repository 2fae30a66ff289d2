//! The body of a non-101 answer, collected as bytes arrive: at most `max`
//! bytes of it are kept (and a bounded amount of chunked framing read),
//! whatever the server sends.

use super::{BodyFraming, ChunkedBody};

pub struct BodyReader {
    framing: BodyFraming,
    max: usize,
    body: Vec<u8>,
    chunked: Option<ChunkedBody>,
    done: bool,
}

impl BodyReader {
    pub fn new(framing: BodyFraming, max: usize) -> BodyReader {
        BodyReader {
            framing,
            max,
            body: Vec::new(),
            chunked: (framing == BodyFraming::Chunked).then(|| ChunkedBody::new(max)),
            done: framing == BodyFraming::Empty || max == 0,
        }
    }

    /// Take bytes from the front of `input`; returns how many.
    pub fn feed(&mut self, input: &[u8]) -> usize {
        if self.done {
            return 0;
        }
        if let Some(chunked) = &mut self.chunked {
            let used = chunked.feed(input);
            self.done = chunked.is_done();
            return used;
        }
        let wanted = match self.framing {
            BodyFraming::Length(n) => n.min(self.max),
            _ => self.max,
        };
        let take = input.len().min(wanted - self.body.len());
        self.body.extend_from_slice(&input[..take]);
        self.done = self.body.len() == wanted;
        take
    }

    /// The whole body (or as much as `max` allows) has arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The body so far: all of it once done, what came before the end of
    /// the stream or a deadline otherwise.
    pub fn into_body(self) -> Vec<u8> {
        match self.chunked {
            Some(chunked) => chunked.into_body(),
            None => self.body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_body_stops_at_its_length_or_the_limit() {
        let mut b = BodyReader::new(BodyFraming::Length(5), 100);
        assert_eq!(b.feed(b"hel"), 3);
        assert!(!b.is_done());
        assert_eq!(b.feed(b"lo, and more"), 2);
        assert!(b.is_done());
        assert_eq!(b.into_body(), b"hello");
        let mut b = BodyReader::new(BodyFraming::Length(1 << 30), 4);
        assert_eq!(b.feed(b"abcdef"), 4);
        assert!(b.is_done());
        assert_eq!(b.into_body(), b"abcd");
    }

    #[test]
    fn empty_chunked_and_until_close_bodies() {
        assert!(BodyReader::new(BodyFraming::Empty, 10).is_done());
        let mut b = BodyReader::new(BodyFraming::Chunked, 100);
        let wire = b"3\r\nabc\r\n0\r\n\r\n";
        b.feed(wire);
        assert!(
            b.is_done(),
            "the last chunk ends it (trailers are not read)"
        );
        assert_eq!(b.into_body(), b"abc");
        let mut b = BodyReader::new(BodyFraming::UntilClose, 100);
        b.feed(b"partial");
        assert!(!b.is_done(), "only the end of the stream ends it");
        assert_eq!(b.into_body(), b"partial");
    }
}
