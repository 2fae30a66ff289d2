//! Client-to-server masking (RFC 6455 §5.3).

/// XOR `data` with `key`, where `data` starts `offset` bytes into the payload.
/// Works a machine word at a time; `apply_mask_bytewise` is the reference.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset);
    let (head, words, tail) = {
        // Align to 8 bytes so that the middle is processed as u64 words.
        let prefix = data.as_ptr().align_offset(8).min(data.len());
        let (head, rest) = data.split_at_mut(prefix);
        let words_len = rest.len() / 8 * 8;
        let (words, tail) = rest.split_at_mut(words_len);
        (head, words, tail)
    };
    apply_mask_bytewise(head, key, 0);
    let key = rotate(key, head.len());
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    for word in words.chunks_exact_mut(8) {
        let value = u64::from_ne_bytes(word.try_into().unwrap()) ^ wide;
        word.copy_from_slice(&value.to_ne_bytes());
    }
    apply_mask_bytewise(tail, key, 0);
}

/// Write `src` masked with `key` into `dst` (the same length): copy and mask
/// in one pass, 32 bytes at a time, which the compiler turns into vector
/// instructions.
pub fn mask_into(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    assert_eq!(dst.len(), src.len(), "mask_into needs equal lengths");
    let mut wide = [0u8; 32];
    for (i, b) in wide.iter_mut().enumerate() {
        *b = key[i & 3];
    }
    let mut d = dst.chunks_exact_mut(32);
    let mut s = src.chunks_exact(32);
    for (d, s) in (&mut d).zip(&mut s) {
        for i in 0..32 {
            d[i] = s[i] ^ wide[i];
        }
    }
    for (i, (d, s)) in d.into_remainder().iter_mut().zip(s.remainder()).enumerate() {
        *d = s ^ key[i & 3];
    }
}

/// The byte-at-a-time definition from the RFC.
pub fn apply_mask_bytewise(data: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in data.iter_mut().enumerate() {
        *byte ^= key[(i + offset) & 3];
    }
}

fn rotate(key: [u8; 4], by: usize) -> [u8; 4] {
    let mut k = key;
    k.rotate_left(by & 3);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_into_matches_the_definition_for_every_length() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..200 {
            let src: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut expected = src.clone();
            apply_mask_bytewise(&mut expected, key, 0);
            let mut dst = vec![0xAA; len];
            mask_into(&mut dst, &src, key);
            assert_eq!(dst, expected, "length {len}");
        }
    }

    #[test]
    fn word_path_matches_byte_loop_for_all_lengths_offsets_alignments() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let source: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for align in 0..8 {
            for len in 0..(source.len() - align) {
                for offset in 0..4 {
                    let mut fast = source.clone();
                    let mut slow = source.clone();
                    apply_mask(&mut fast[align..align + len], key, offset);
                    apply_mask_bytewise(&mut slow[align..align + len], key, offset);
                    assert_eq!(fast, slow, "align {align} len {len} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn masking_twice_restores() {
        let mut data = b"Hello".to_vec();
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(data, b"Hello");
    }
}
