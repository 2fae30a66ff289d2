//! Incremental UTF-8 validation that fails as soon as a byte cannot start or
//! continue a valid sequence, even inside a fragmented message. Each byte
//! is looked at once, with SIMD (simdutf8).

/// Validates a byte stream delivered in arbitrary chunks.
#[derive(Default, Debug, Clone)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: usize,
}

impl Utf8Validator {
    /// Feed the next chunk. Returns `false` as soon as the stream so far can
    /// no longer be the prefix of valid UTF-8.
    pub fn feed(&mut self, mut data: &[u8]) -> bool {
        // Complete a sequence split across the previous chunk boundary.
        while self.pending_len > 0 {
            let Some((&byte, rest)) = data.split_first() else {
                return true;
            };
            data = rest;
            self.pending[self.pending_len] = byte;
            self.pending_len += 1;
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_some() => return false,
                Err(_) if self.pending_len == 4 => return false,
                Err(_) => {}
            }
        }
        // simdutf8's compat API reports where and why like std's, at
        // memory speed.
        match simdutf8::compat::from_utf8(data) {
            Ok(_) => true,
            Err(e) if e.error_len().is_some() => false,
            Err(e) => {
                let tail = &data[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
                true
            }
        }
    }

    /// True when the stream ended on a character boundary.
    pub fn is_complete(&self) -> bool {
        self.pending_len == 0
    }

    pub fn reset(&mut self) {
        self.pending_len = 0;
    }
}

/// Whether a whole buffer is UTF-8 (e.g. text we are asked to send).
pub fn is_valid(bytes: &[u8]) -> bool {
    simdutf8::basic::from_utf8(bytes).is_ok()
}

/// Whole-buffer conversion for short payloads such as close reasons.
pub fn to_string(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).ok().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_chunks(data: &[u8], chunk: usize) -> Option<bool> {
        let mut v = Utf8Validator::default();
        for c in data.chunks(chunk.max(1)) {
            if !v.feed(c) {
                return None;
            }
        }
        Some(v.is_complete())
    }

    #[test]
    fn agrees_with_std_for_every_chunk_size() {
        let samples: Vec<Vec<u8>> = vec![
            "Hello-µ@ßöäüàá-UTF-8!!".into(),
            "κόσμε".into(),
            vec![0xF0, 0x9F, 0x98, 0x80],
            vec![
                0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80,
            ],
            vec![0xF4, 0x90, 0x80, 0x80],
            vec![0xC0, 0xAF],
            vec![0xE0, 0x80],
            vec![0xEF, 0xBF, 0xBF],
            vec![0xF0, 0x9F],
        ];
        for s in &samples {
            let expected = std::str::from_utf8(s).is_ok();
            assert_eq!(is_valid(s), expected, "{s:x?}");
            for chunk in 1..=s.len() {
                assert_eq!(
                    feed_chunks(s, chunk) == Some(true),
                    expected,
                    "{s:x?} / {chunk}"
                );
            }
        }
    }

    #[test]
    fn fails_fast_on_first_bad_byte() {
        let mut v = Utf8Validator::default();
        assert!(v.feed(&[0xCE, 0xBA, 0xE1]));
        // 0xF4 0x90 can never start a valid sequence: fail at the second byte.
        let mut v2 = Utf8Validator::default();
        assert!(v2.feed(&[0xF4]));
        assert!(!v2.feed(&[0x90]));
        assert!(!v.is_complete());
    }
}
