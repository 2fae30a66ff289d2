//! Opcodes and the ws-client egg's opcode <-> optype map.

use std::ffi::CStr;

/// The six opcodes RFC 6455 defines. Reserved opcodes are rejected on receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OpCode {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// (opcode, optype) pairs exactly as in the ws-client egg's table, as C strings for
/// the C ABI.
const OPTYPES: [(OpCode, &CStr); 6] = [
    (OpCode::Continuation, c"continuation"),
    (OpCode::Text, c"text"),
    (OpCode::Binary, c"binary"),
    (OpCode::Close, c"connection-close"),
    (OpCode::Ping, c"ping"),
    (OpCode::Pong, c"pong"),
];

impl OpCode {
    pub fn from_u8(value: u8) -> Option<OpCode> {
        OPTYPES
            .iter()
            .map(|&(op, _)| op)
            .find(|&op| op as u8 == value)
    }

    /// Control frames have the high bit of the opcode set.
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }

    /// The ws-client egg's symbol for this opcode.
    pub fn optype(self) -> &'static str {
        self.optype_cstr().to_str().expect("ASCII table")
    }

    pub fn optype_cstr(self) -> &'static CStr {
        OPTYPES.iter().find(|&&(op, _)| op == self).unwrap().1
    }

    pub fn from_optype(name: &str) -> Option<OpCode> {
        OPTYPES
            .iter()
            .find(|&&(_, n)| n.to_bytes() == name.as_bytes())
            .map(|&(op, _)| op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optype_round_trip_matches_the_egg_table() {
        assert_eq!(OpCode::from_u8(0xA).unwrap().optype(), "pong");
        assert_eq!(OpCode::from_optype("connection-close"), Some(OpCode::Close));
        for &(op, name) in OPTYPES.iter() {
            assert_eq!(OpCode::from_optype(name.to_str().unwrap()), Some(op));
            assert_eq!(OpCode::from_u8(op as u8), Some(op));
        }
        for reserved in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xF] {
            assert_eq!(OpCode::from_u8(reserved), None);
        }
        assert!(OpCode::Ping.is_control() && !OpCode::Binary.is_control());
    }
}
