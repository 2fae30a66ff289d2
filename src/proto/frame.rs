//! Frame headers: parse and encode all three payload-length forms.

use crate::error::{Error, Result};

/// RSV bit values as the ws-client egg counts them: RSV1 = 4, RSV2 = 2, RSV3 = 1.
pub(crate) const RSV1: u8 = 4;

/// A frame header as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    /// The three RSV bits as an integer (RSV1 = 4, RSV2 = 2, RSV3 = 1).
    pub rsv: u8,
    /// The raw 4-bit opcode; reserved values are kept so callers can see them.
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parse a header from the start of `buf`. `Ok(None)` means more bytes
    /// are needed; on success returns the header and its length in bytes.
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>> {
        if buf.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (buf[0], buf[1]);
        let masked = b1 & 0x80 != 0;
        let (len_bytes, short_len) = match b1 & 0x7F {
            126 => (2, None),
            127 => (8, None),
            n => (0, Some(n as u64)),
        };
        let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
        if buf.len() < header_len {
            return Ok(None);
        }
        let payload_len = match short_len {
            Some(n) => n,
            None if len_bytes == 2 => u16::from_be_bytes([buf[2], buf[3]]) as u64,
            None => {
                let n = u64::from_be_bytes(buf[2..10].try_into().unwrap());
                if n >> 63 != 0 {
                    return Err(Error::protocol(
                        "64-bit payload length with the most significant bit set",
                    ));
                }
                n
            }
        };
        let mask = masked.then(|| {
            let at = 2 + len_bytes;
            [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]
        });
        Ok(Some((
            FrameHeader {
                fin: b0 & 0x80 != 0,
                rsv: (b0 >> 4) & 0x7,
                opcode: b0 & 0x0F,
                mask,
                payload_len,
            },
            header_len,
        )))
    }

    /// Append the encoded header to `out`, using the shortest length form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (bytes, len) = self.to_bytes();
        out.extend_from_slice(&bytes[..len]);
    }

    /// The header's bytes (at most 14) and how many there are.
    pub fn to_bytes(&self) -> ([u8; 14], usize) {
        let mut b = [0u8; 14];
        b[0] = (self.fin as u8) << 7 | (self.rsv & 0x7) << 4 | (self.opcode & 0x0F);
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = match self.payload_len {
            n if n < 126 => {
                b[1] = mask_bit | n as u8;
                2
            }
            n if n <= u16::MAX as u64 => {
                b[1] = mask_bit | 126;
                b[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                4
            }
            n => {
                b[1] = mask_bit | 127;
                b[2..10].copy_from_slice(&n.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            b[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        (b, len)
    }
}

/// A whole frame: header plus (unmasked) payload, as the low-level API sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    /// Whether the MASK bit was set on the wire (outbound frames always are).
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl Frame {
    /// A frame to send, with exactly these bits (no RSV bit is added for
    /// you): `rsv` must fit three bits and `opcode` four. Reserved opcodes
    /// and RSV bits are allowed here, for tests of other peers.
    pub fn new(fin: bool, rsv: u8, opcode: u8, payload: Vec<u8>) -> Result<Frame> {
        check_bits(rsv, opcode)?;
        Ok(Frame {
            fin,
            rsv,
            opcode,
            masked: true,
            payload,
        })
    }
}

/// Do `rsv` and `opcode` fit their fields (3 and 4 bits)? What a frame
/// made by the caller must pass before it is encoded.
pub fn check_bits(rsv: u8, opcode: u8) -> Result<()> {
    if rsv > 7 || opcode > 15 {
        return Err(Error::invalid_argument("rsv must be 0..7 and opcode 0..15"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(h: FrameHeader) {
        let mut out = Vec::new();
        h.encode(&mut out);
        // Whole buffer.
        assert_eq!(FrameHeader::parse(&out).unwrap(), Some((h, out.len())));
        // Every strict prefix asks for more bytes.
        for n in 0..out.len() {
            assert_eq!(FrameHeader::parse(&out[..n]).unwrap(), None, "prefix {n}");
        }
    }

    #[test]
    fn all_three_length_forms_round_trip() {
        for len in [0u64, 1, 125, 126, 127, 65535, 65536, 1 << 32, (1 << 63) - 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                round_trip(FrameHeader {
                    fin: len % 2 == 0,
                    rsv: (len % 8) as u8,
                    opcode: 0x2,
                    mask,
                    payload_len: len,
                });
            }
        }
    }

    #[test]
    fn shortest_form_is_used() {
        let mut out = Vec::new();
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: 1,
            mask: None,
            payload_len: 126,
        };
        h.encode(&mut out);
        assert_eq!(out, [0x81, 126, 0, 126]);
    }

    #[test]
    fn top_bit_of_64_bit_length_is_a_protocol_error() {
        let buf = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        let e = FrameHeader::parse(&buf).unwrap_err();
        assert_eq!(e.close_code(), Some(1002));
    }

    #[test]
    fn frames_to_send_must_fit_the_header_fields() {
        let f = Frame::new(true, 7, 0xF, b"x".to_vec()).unwrap();
        assert_eq!((f.fin, f.rsv, f.opcode, f.masked), (true, 7, 0xF, true));
        for (rsv, opcode) in [(8, 1), (0, 16), (255, 255)] {
            let e = Frame::new(true, rsv, opcode, Vec::new()).unwrap_err();
            assert_eq!(e.kind(), crate::error::ErrorKind::InvalidArgument);
            assert!(check_bits(rsv, opcode).is_err());
        }
        assert!(check_bits(0, 0).is_ok());
    }

    #[test]
    fn reserved_bits_and_opcodes_are_reported_raw() {
        let (h, n) = FrameHeader::parse(&[0x7B, 0x00]).unwrap().unwrap();
        assert_eq!((h.fin, h.rsv, h.opcode, n), (false, 7, 0xB, 2));
    }
}
