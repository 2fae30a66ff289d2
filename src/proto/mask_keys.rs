//! Masking keys (RFC 6455 §5.3: "derived from a strong source of entropy",
//! unpredictable to anything between the page and the server).
//!
//! Each connection runs its own ChaCha20 keystream (RFC 8439), keyed once
//! from OpenSSL's CSPRNG when the connection is made. A frame then costs four
//! bytes of a 64-byte block computed here, not a call into libcrypto (whose
//! RAND_bytes also checks for a fork with a system call each time). The state
//! is 112 bytes; a fork does not matter, since a connection cannot be shared
//! between two processes anyway.

pub struct MaskKeys {
    /// The ChaCha20 input: constants, key, block counter, nonce.
    state: [u32; 16],
    block: [u8; 64],
    used: usize,
}

impl MaskKeys {
    pub fn new() -> MaskKeys {
        let mut material = [0u8; 44];
        openssl::rand::rand_bytes(&mut material).expect("OpenSSL CSPRNG failed");
        let mut key = [0u8; 32];
        let mut nonce = [0u8; 12];
        key.copy_from_slice(&material[..32]);
        nonce.copy_from_slice(&material[32..]);
        MaskKeys::from_key(key, nonce)
    }

    fn from_key(key: [u8; 32], nonce: [u8; 12]) -> MaskKeys {
        let mut state = [0u32; 16];
        state[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
        for (i, word) in key.chunks_exact(4).enumerate() {
            state[4 + i] = u32::from_le_bytes(word.try_into().unwrap());
        }
        for (i, word) in nonce.chunks_exact(4).enumerate() {
            state[13 + i] = u32::from_le_bytes(word.try_into().unwrap());
        }
        MaskKeys {
            state,
            block: [0; 64],
            used: 64,
        }
    }

    pub fn next(&mut self) -> [u8; 4] {
        if self.used == self.block.len() {
            self.refill();
        }
        let key = self.block[self.used..self.used + 4].try_into().unwrap();
        self.used += 4;
        key
    }

    fn refill(&mut self) {
        self.block = chacha20_block(&self.state);
        // 2^32 blocks of 16 keys before the counter wraps: the nonce's first
        // word moves on then, so no block ever repeats.
        self.state[12] = self.state[12].wrapping_add(1);
        if self.state[12] == 0 {
            self.state[13] = self.state[13].wrapping_add(1);
        }
        self.used = 0;
    }
}

fn quarter_round(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// One ChaCha20 block (RFC 8439 §2.3): 20 rounds over the input, added back
/// to it, serialized little-endian.
fn chacha20_block(input: &[u32; 16]) -> [u8; 64] {
    let mut s = *input;
    for _ in 0..10 {
        quarter_round(&mut s, 0, 4, 8, 12);
        quarter_round(&mut s, 1, 5, 9, 13);
        quarter_round(&mut s, 2, 6, 10, 14);
        quarter_round(&mut s, 3, 7, 11, 15);
        quarter_round(&mut s, 0, 5, 10, 15);
        quarter_round(&mut s, 1, 6, 11, 12);
        quarter_round(&mut s, 2, 7, 8, 13);
        quarter_round(&mut s, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for (i, chunk) in out.chunks_exact_mut(4).enumerate() {
        chunk.copy_from_slice(&s[i].wrapping_add(input[i]).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn block_function_matches_rfc_8439_test_vector() {
        // RFC 8439 §2.3.2: key 00..1f, nonce 000000090000004a00000000, counter 1.
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let nonce = [0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0];
        let mut keys = MaskKeys::from_key(key, nonce);
        keys.state[12] = 1;
        let expected = hex(
            "10f1e7e4d13b5915500fdd1fa32071c4 c7d1f4c733c068030422aa9ac3d46c4e
             d2826446079faa0914c2d705d98b02a2 b5129cd1de164eb9cbd083e8a2503c4e",
        );
        let mut stream = Vec::new();
        for _ in 0..16 {
            stream.extend_from_slice(&keys.next());
        }
        assert_eq!(stream, expected);
        // The counter moved on: the next block differs.
        assert_ne!(keys.next().to_vec(), expected[..4].to_vec());
    }

    #[test]
    fn two_connections_draw_different_keys() {
        let (mut a, mut b) = (MaskKeys::new(), MaskKeys::new());
        let ka: Vec<[u8; 4]> = (0..64).map(|_| a.next()).collect();
        let kb: Vec<[u8; 4]> = (0..64).map(|_| b.next()).collect();
        assert_ne!(ka, kb);
    }

    #[test]
    fn the_counter_carries_into_the_nonce() {
        let mut keys = MaskKeys::from_key([7; 32], [0; 12]);
        keys.state[12] = u32::MAX;
        keys.next();
        assert_eq!((keys.state[12], keys.state[13]), (0, 1));
    }
}
