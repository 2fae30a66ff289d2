//! The chunked body of a non-101 response (RFC 9112 §7.1), decoded as it
//! arrives with `httparse`'s chunk-size parser. Memory and the bytes read
//! are bounded by the body limit, whatever the timeout: a size line without
//! an end, endless chunk extensions or an endless body all end the body.

use httparse::{parse_chunk_size, Status};

/// The longest chunk-size line (with extensions) accepted.
const MAX_SIZE_LINE: usize = 4 << 10;

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data: this many bytes to go.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    Done,
}

/// Decodes a chunked body into at most `max` bytes.
#[derive(Debug)]
pub struct ChunkedBody {
    state: State,
    body: Vec<u8>,
    max: usize,
    /// Bytes the framing may still take (sizes, extensions, CRLFs) beyond
    /// the body: a peer cannot keep the client reading without progress.
    overhead_left: usize,
}

impl ChunkedBody {
    pub fn new(max: usize) -> ChunkedBody {
        ChunkedBody {
            state: State::Size,
            body: Vec::new(),
            max,
            overhead_left: max.saturating_add(64 << 10),
        }
    }

    /// Consume bytes from the front of `input`; returns how many. Call
    /// again with more input until [`ChunkedBody::is_done`].
    pub fn feed(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        while !self.is_done() {
            let rest = &input[pos..];
            let used = match self.state {
                State::Size => match parse_chunk_size(rest) {
                    Ok(Status::Complete((used, 0))) => {
                        // The last chunk; trailers are not needed.
                        self.state = State::Done;
                        used
                    }
                    Ok(Status::Complete((used, size))) => {
                        self.state = State::Data(size);
                        used
                    }
                    Ok(Status::Partial) if rest.len() <= MAX_SIZE_LINE => break,
                    // Malformed or endless: the body ends here.
                    _ => {
                        self.state = State::Done;
                        break;
                    }
                },
                State::Data(left) => {
                    let take =
                        (left.min(rest.len() as u64) as usize).min(self.max - self.body.len());
                    self.body.extend_from_slice(&rest[..take]);
                    self.state = match left - take as u64 {
                        _ if self.body.len() == self.max => State::Done,
                        0 => State::DataEnd,
                        n => State::Data(n),
                    };
                    if take == 0 {
                        break;
                    }
                    pos += take;
                    continue;
                }
                State::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        self.state = State::Size;
                        2
                    }
                    [] | [b'\r'] => break,
                    _ => {
                        self.state = State::Done;
                        break;
                    }
                },
                State::Done => break,
            };
            pos += used;
            self.overhead_left = self.overhead_left.saturating_sub(used);
            if self.overhead_left == 0 {
                self.state = State::Done;
            }
        }
        pos
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The body so far (all of it once done).
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `input` in pieces of `step` bytes, as reads would deliver it.
    fn decode(input: &[u8], step: usize, max: usize) -> (Vec<u8>, bool, usize) {
        let mut dec = ChunkedBody::new(max);
        let mut buf = Vec::new();
        let mut read = 0;
        for piece in input.chunks(step) {
            read += piece.len();
            buf.extend_from_slice(piece);
            let used = dec.feed(&buf);
            buf.drain(..used);
            assert!(
                buf.len() <= MAX_SIZE_LINE + step,
                "{} bytes kept",
                buf.len()
            );
            if dec.is_done() {
                break;
            }
        }
        let done = dec.is_done();
        (dec.into_body(), done, read)
    }

    #[test]
    fn decodes_in_any_chunking_and_stops_at_the_last_chunk() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
        for step in 1..body.len() {
            let (got, done, _) = decode(body, step, 100);
            assert_eq!(
                (got.as_slice(), done),
                (&b"hello world"[..], true),
                "step {step}"
            );
        }
        for cut in 0..body.len() - 4 {
            assert!(!decode(&body[..cut], 3, 100).1, "cut {cut}");
        }
        assert_eq!(decode(body, 4, 7).0, b"hello w");
    }

    #[test]
    fn malformed_or_endless_framing_ends_the_body() {
        assert_eq!(decode(b"zz\r\n", 1, 100), (Vec::new(), true, 1));
        assert_eq!(decode(b"3\r\nabcX", 1, 100).0, b"abc");
        // A size line that never ends.
        let endless = vec![b'1'; 1 << 20];
        let (_, done, read) = decode(&endless, 1000, 100);
        assert!(done && read <= MAX_SIZE_LINE + 1000, "read {read}");
        // Extensions that never end.
        let mut ext = b"1;".to_vec();
        ext.extend(std::iter::repeat_n(b'a', 1 << 20));
        assert!(decode(&ext, 1000, 100).1);
        // Endless empty-looking progress: a chunk of 1 byte with a long
        // extension each time, past the overhead budget.
        let unit = format!("1;{}\r\nx\r\n", "e".repeat(4000));
        let many = unit.repeat(100);
        let (body, done, read) = decode(many.as_bytes(), 4096, 1000);
        assert!(
            done && body.len() < 100 && read < 100 << 10,
            "{} {read}",
            body.len()
        );
    }
}
