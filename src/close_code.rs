//! Close codes (RFC 6455 §7.4.1): the bottom layer, with no imports, so
//! that `error` and the protocol both build on it. The rules about codes
//! (which may be sent, the ws-client egg's reason names) are in `proto::close`.
//! Crate-private: public constants would land in the C header too.

/// 1000: the purpose of the connection was fulfilled.
pub(crate) const NORMAL_CLOSURE: u16 = 1000;
/// 1001: the endpoint is going away (server shutdown, page left).
pub(crate) const GOING_AWAY: u16 = 1001;
/// 1002: a protocol error.
pub(crate) const PROTOCOL_ERROR: u16 = 1002;
/// 1003: a data type the endpoint cannot accept.
pub(crate) const UNSUPPORTED_DATA: u16 = 1003;
/// 1005: no status code was present (never sent on the wire).
pub(crate) const NO_STATUS_RCVD: u16 = 1005;
/// 1006: the connection closed without a close frame (never sent).
pub(crate) const ABNORMAL_CLOSURE: u16 = 1006;
/// 1007: a message's data is inconsistent with its type (invalid UTF-8).
pub(crate) const INVALID_PAYLOAD: u16 = 1007;
/// 1008: a message violates the endpoint's policy.
pub(crate) const POLICY_VIOLATION: u16 = 1008;
/// 1009: a message is too big to process.
pub(crate) const MESSAGE_TOO_BIG: u16 = 1009;
/// 1010: the client expected the server to negotiate an extension.
pub(crate) const MANDATORY_EXT: u16 = 1010;
/// 1011: an unexpected condition on the server (also our keepalive failure).
pub(crate) const INTERNAL_ERROR: u16 = 1011;
/// 1012: the server is restarting (IANA registry).
pub(crate) const SERVICE_RESTART: u16 = 1012;
/// 1013: the server is overloaded: try again later (IANA registry).
pub(crate) const TRY_AGAIN_LATER: u16 = 1013;
/// 1014: a gateway's upstream server answered badly (IANA registry).
pub(crate) const BAD_GATEWAY: u16 = 1014;
/// 1015: the TLS handshake failed (never sent).
pub(crate) const TLS_HANDSHAKE: u16 = 1015;
