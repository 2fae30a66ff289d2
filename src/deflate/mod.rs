//! permessage-deflate (RFC 7692): negotiation and the zlib codec.

mod codec;
mod params;

pub use codec::{Deflater, Inflater};
pub use params::{negotiate, DeflateOffer, DeflateParams};
