//! The safe Rust API: connect, then send and receive over a [`Connection`].

mod connect;
mod connection;
mod options;
pub mod proxy;

pub use connect::{connect, Connected};
pub use connection::{Connection, Interest, State};
pub use options::Options;
pub use proxy::Proxy;
