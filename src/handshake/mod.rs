//! The opening handshake without I/O: the URI, the request, and the response.

mod body;
mod chunked;
mod request;
mod response;
mod uri;

pub use body::BodyReader;
pub use chunked::ChunkedBody;
pub use request::{accept_key, new_key, Request};
pub use response::{parse_response, BodyFraming, HttpResponse, Parsed, Upgrade};
pub use uri::Target;
