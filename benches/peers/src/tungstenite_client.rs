//! The small-message benchmark's tungstenite client (benches/small.py runs
//! it beside benches/small_client.c and prints the table).
//!
//!     tungstenite_client URI text|binary SIZE COUNT INFLIGHT
//!
//! Echoes COUNT messages of SIZE bytes through the server at URI, INFLIGHT
//! at a time, as small_client.c does: `write` for each message of a batch,
//! then one `flush`, then `read` each echo (with INFLIGHT 1, a round trip:
//! `send`, then `read`). Every message is one `Message` built before the
//! clock starts and cloned per send, which only bumps a reference count
//! (tungstenite's cheapest way to send the same bytes again). One message
//! and its echo, checked, come first and are not counted.
//!
//! Prints "name value" lines: messages, seconds, user_s, sys_s (this
//! process's CPU time over the counted span, getrusage).

use std::net::TcpStream;
use std::time::Instant;

use tungstenite::Message;

/// Printable ASCII, the same bytes as small_client.c's payload().
fn payload(size: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..size)
        .map(|_| {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            b' ' + ((x >> 16) % 95) as u8
        })
        .collect()
}

/// (user, system) CPU seconds of this process so far.
fn cpu() -> (f64, f64) {
    // SAFETY: getrusage writes the whole struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (s(usage.ru_utime), s(usage.ru_stime))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: {} URI text|binary SIZE COUNT INFLIGHT", args[0]);
        std::process::exit(2);
    }
    let uri = &args[1];
    let text = args[2] == "text";
    let number = |i: usize| -> usize { args[i].parse().expect("a number") };
    let (size, count, inflight) = (number(3), number(4), number(5).max(1));

    let addr = uri.trim_start_matches("ws://").trim_end_matches('/');
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (mut ws, _) = tungstenite::client(uri.as_str(), stream).expect("tungstenite handshake");

    let data = payload(size);
    let message = if text {
        Message::text(String::from_utf8(data.clone()).expect("ASCII"))
    } else {
        Message::binary(data.clone())
    };
    ws.send(message.clone()).expect("tungstenite send");
    let echo = ws.read().expect("tungstenite read");
    assert!(
        echo.is_text() == text && echo.into_data() == data,
        "tungstenite: not the message sent"
    );

    let (t0, (user0, sys0)) = (Instant::now(), cpu());
    let mut done = 0;
    while done < count {
        let batch = (count - done).min(inflight);
        if inflight == 1 {
            ws.send(message.clone()).expect("tungstenite send");
        } else {
            for _ in 0..batch {
                ws.write(message.clone()).expect("tungstenite write");
            }
            ws.flush().expect("tungstenite flush");
        }
        for _ in 0..batch {
            let echo = ws.read().expect("tungstenite read");
            assert!(
                echo.is_text() == text && echo.len() == size,
                "tungstenite: not the message sent"
            );
        }
        done += batch;
    }
    let seconds = t0.elapsed().as_secs_f64();
    let (user, sys) = cpu();
    println!(
        "messages {count}\nseconds {seconds:.6}\nuser_s {:.6}\nsys_s {:.6}",
        user - user0,
        sys - sys0
    );
    let _ = ws.close(None);
    let _ = ws.flush();
}
