//! The safe Rust API: connect, then send and receive over a [`Connection`].

mod connect;
mod connection;
mod opening;
mod options;
pub mod proxy;
mod redirect;

pub use connect::{connect, Connected};
pub use connection::{Batch, Connection, Interest, Part, State};
pub use opening::{Opening, Step};
pub use options::Options;
pub use proxy::Proxy;
