//! Helpers of the echo benchmark (`benches/echo.rs`). They live in a
//! subdirectory so that cargo does not take them for bench targets.

pub mod clients;
pub mod codec;
pub mod json;
pub mod memory;
pub mod report;
pub mod servers;
pub mod tls;
