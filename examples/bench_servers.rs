//! The echo benchmark's servers as a program, for benchmarks written in
//! other languages (`bindings/python/bench.py`): a cheap WebSocket echo and
//! a length-prefixed raw TCP echo (see `benches/support/servers.rs`) on
//! 127.0.0.1. Prints `WS <port>` and `RAW <port>`, then serves until killed.

#[allow(dead_code)]
#[path = "../benches/support/servers.rs"]
mod servers;

use std::io::Write;

fn main() {
    let ws = servers::ws_echo();
    let raw = servers::raw_echo();
    let mut out = std::io::stdout().lock();
    writeln!(out, "WS {}\nRAW {}", ws.port(), raw.port()).expect("stdout");
    out.flush().expect("stdout");
    drop(out);
    loop {
        std::thread::park();
    }
}
