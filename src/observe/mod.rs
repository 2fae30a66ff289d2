//! What a connection did, for the people running it: a trace of events
//! handed to a callback the caller sets ([`Tracer`]), and counters and
//! connect timings read at any time ([`Stats`], [`Timings`]).
//!
//! Nothing here is on the way unless asked for: without a tracer, each
//! place that could report an event tests one `Option`; the counters are
//! plain integers bumped under the connection's lock.

pub(crate) mod stats;
mod trace;

pub use stats::{Stat, Stats, Timings};
pub use trace::{
    frame_event, next_conn_id, redacted_head, redacted_headers, Field, Trace, TraceEvent,
    TraceKind, Tracer, Value,
};
