//! Opening a connection and waiting for it: the blocking driver over
//! [`Opening`], the one code path every connect takes.

use std::time::Instant;

use crate::client::connection::Connection;
use crate::client::opening::{Opening, Step};
use crate::client::Options;
use crate::error::Result;
use crate::handshake::HttpResponse;

/// What `connect` got back: a connection, or (as in the ws-client egg 1.0) the
/// server's non-101 HTTP response.
pub enum Connected {
    Upgraded(Box<Connection>),
    Response(HttpResponse),
}

/// Connect to `uri` and perform the opening handshake, waiting as long as
/// it takes (the handshake timeout bounds it).
pub fn connect(uri: &str, options: &Options) -> Result<Connected> {
    let mut opening = Opening::start(uri, options, true)?;
    loop {
        match opening.advance(Instant::now())? {
            Step::Open(c) => return Ok(Connected::Upgraded(c)),
            Step::Response(r) => return Ok(Connected::Response(r)),
            Step::Pending => opening.wait(Instant::now())?,
        }
    }
}
