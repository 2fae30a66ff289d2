//! libwsclient: a WebSocket client (RFC 6455) with permessage-deflate
//! (RFC 7692), over ws:// and wss://, with a C ABI.
//!
//! Three layers, one direction: [`proto`], [`handshake`] and [`deflate`] are
//! the protocol without I/O, and [`session`] the connection's state (close
//! handshake, deadlines, output queue) still without I/O; [`transport`] owns
//! sockets and OpenSSL; [`client`] drives a session over a transport; `ffi`
//! is the C ABI. Under them all, depending on nothing else in the crate:
//! [`error`], `close_code` and [`http`] (an HTTP answer as plain data).

pub mod client;
pub(crate) mod close_code;
pub mod deflate;
pub mod error;
pub mod handshake;
pub mod http;
pub mod proto;
pub mod session;
pub mod transport;

mod ffi;
pub mod observe;

pub use client::{connect, Connected, Connection, Options, Proxy, State};
pub use error::{Error, ErrorKind, Result};
pub use handshake::HttpResponse;
pub use proto::{Frame, Message, MessageType};
