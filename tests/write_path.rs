//! The write path over real sockets, against servers that misbehave on
//! purpose: sends that never lie about what reached the socket, control
//! frames ahead of data, a bounded control lane, a close that is a deadline.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use wsclient::{connect, Connection, ErrorKind, MessageType, Options};

const WATCHDOG_SECS: u64 = 60;

fn open(url: &str, opts: &Options) -> Arc<Connection> {
    Arc::new(*expect_upgraded(connect(url, opts)))
}

/// CPU time (user + system) this process has used.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes one rusage struct.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Reset the TCP connection (RST, not FIN).
fn reset(s: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket and a linger struct of the right size.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(s);
}

/// The payload sizes of the next `n` data messages the client sends.
fn message_sizes(s: &mut TcpStream, n: usize) -> Vec<usize> {
    (0..n)
        .map(|_| read_message(s).0.iter().map(|f| f.payload.len()).sum())
        .collect()
}

/// Issue 20, item 1: a send waiting behind another thread's large message
/// when the server resets the connection returns the connection's error at
/// once, without spinning, and so does the large send.
#[test]
fn sends_waiting_when_the_server_resets_return_at_once_without_spinning() {
    watchdog(WATCHDOG_SECS, || {
        let (reset_tx, reset_rx) = mpsc::channel();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            thread::sleep(Duration::from_millis(1000)); // never read: the client's socket fills
            reset_tx.send(Instant::now()).unwrap();
            reset(s);
        });
        let conn = open(&server.url("/"), &Options::default());
        let big = {
            let conn = conn.clone();
            thread::spawn(move || conn.send_binary(&vec![1u8; 64 << 20]))
        };
        thread::sleep(Duration::from_millis(300));
        let small = {
            let conn = conn.clone();
            thread::spawn(move || {
                let r = conn.send_text("hi");
                (r, Instant::now())
            })
        };
        let reset_at = reset_rx.recv().unwrap();
        let cpu_before = cpu_time();
        let waited_from = Instant::now();
        let (small_result, small_done) = small.join().unwrap();
        let big_result = big.join().unwrap();
        let wall = waited_from.elapsed();
        let cpu = cpu_time() - cpu_before;
        server.join();
        assert!(big_result.is_err(), "the 64 MiB send said Ok");
        let e = small_result.expect_err("a message that never left said Ok");
        assert_eq!(e.kind(), ErrorKind::ConnectionLost, "{e}");
        let late = small_done.saturating_duration_since(reset_at);
        assert!(
            late < Duration::from_secs(1),
            "returned {late:?} after the reset"
        );
        assert!(
            cpu < wall / 2 + Duration::from_millis(50),
            "{cpu:?} of CPU in {wall:?} of waiting: the sender spun"
        );
    });
}

/// Issue 20, item 2: a blocking send whose bytes are dropped because the
/// server went away (FIN, then nothing read) returns an error, never Ok.
#[test]
fn a_send_whose_bytes_were_dropped_with_the_connection_is_an_error() {
    const LEN: usize = 120 << 10;
    watchdog(WATCHDOG_SECS, || {
        let (fin_tx, fin_rx) = mpsc::channel();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            thread::sleep(Duration::from_millis(800));
            fin_tx.send(Instant::now()).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            thread::sleep(Duration::from_millis(1500)); // read nothing, then go
        });
        let conn = open(&server.url("/"), &Options::default());
        let receiver = {
            let conn = conn.clone();
            thread::spawn(move || conn.recv_message().map(|_| ()))
        };
        let sender = {
            let conn = conn.clone();
            thread::spawn(move || {
                let mut sends = Vec::new();
                loop {
                    let started = Instant::now();
                    let r = conn.send_binary(&[7; LEN]);
                    sends.push((started, Instant::now(), r.clone()));
                    if r.is_err() {
                        return sends;
                    }
                }
            })
        };
        let fin_at = fin_rx.recv().unwrap();
        let received = receiver.join().unwrap();
        assert_eq!(received.unwrap_err().kind(), ErrorKind::ConnectionLost);
        let sends = sender.join().unwrap();
        server.join();
        let blocked: Vec<_> = sends
            .iter()
            .filter(|(start, end, _)| *start < fin_at && *end > fin_at)
            .collect();
        assert!(
            !blocked.is_empty(),
            "no send was waiting when the server left: {} sends, the last {:?}, ended {:?} after the FIN",
            sends.len(),
            sends.last().map(|s| &s.2),
            sends.last().map(|s| s.1.saturating_duration_since(fin_at))
        );
        for (_, _, r) in blocked {
            let e = r.as_ref().expect_err("a dropped message was reported sent");
            assert_eq!(e.kind(), ErrorKind::ConnectionLost, "{e}");
        }
    });
}

/// Issue 20, item 3: a server that sends pings and never reads costs at most
/// one pending pong, however many pings it sends.
#[test]
fn a_ping_flood_from_a_server_that_never_reads_queues_one_pong() {
    const PINGS: usize = 100_000;
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            let ping = frame(true, 0, 9, &[b'p'; 125]);
            let mut burst = Vec::new();
            for _ in 0..1000 {
                burst.extend_from_slice(&ping);
            }
            for _ in 0..PINGS / 1000 {
                s.write_all(&burst).unwrap();
            }
            s.write_all(&frame(true, 0, 1, b"end")).unwrap();
            // Only now read: the pongs that were queued.
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut pongs = 0;
            while let Ok(Some(f)) = read_frame(&mut s) {
                if f.opcode == 10 {
                    pongs += 1;
                }
            }
            pongs
        });
        let conn = open(&server.url("/"), &Options::default());
        let m = conn.recv_message().unwrap().unwrap();
        assert_eq!(m.data, b"end");
        let peak = conn.queued_peak();
        drop(conn);
        let pongs = server.join();
        // 12.7 MB of pings; the pongs waiting stay within their 512-byte
        // budget (a pong is 131 bytes here).
        assert!(peak <= 512, "{peak} bytes were queued for {PINGS} pings");
        assert!((1..PINGS / 10).contains(&pongs), "{pongs} pongs");
    });
}

/// Issue 20, item 4: a pong goes out ahead of messages queued before the
/// ping arrived, at the next frame boundary.
#[test]
fn a_pong_jumps_the_queued_messages() {
    watchdog(WATCHDOG_SECS, || {
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (found_tx, found_rx) = mpsc::channel();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            go_rx.recv().unwrap();
            s.write_all(&frame(true, 0, 9, b"are you there")).unwrap();
            // Now read: where among the messages does the pong come?
            let mut data_frames = 0;
            loop {
                let f = read_frame(&mut s).unwrap().expect("EOF before the pong");
                if f.opcode == 10 {
                    found_tx.send(data_frames).unwrap();
                    break;
                }
                data_frames += 1;
            }
            go_rx.recv().unwrap(); // the socket stays until the test is done
        });
        let conn = open(&server.url("/"), &Options::default());
        conn.set_nonblocking(true).unwrap();
        // Small messages until the send queue is full (4 MiB by default).
        let mut sent = 0;
        while conn.send(MessageType::Binary, &[3; 1024], false).is_ok() {
            sent += 1;
        }
        let waiting = conn.queued_bytes() / 1030;
        assert!(waiting > 1000, "only {waiting} messages wait");
        go_tx.send(()).unwrap();
        // Receive the ping (the pong is queued) and write, as an event loop would.
        let before_pong = loop {
            match conn.recv_message() {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                other => panic!("{other:?}"),
            }
            let _ = conn.flush();
            if let Ok(n) = found_rx.recv_timeout(Duration::from_millis(1)) {
                break n;
            }
        };
        go_tx.send(()).unwrap();
        server.join();
        // Before it: what the kernel held when the ping came, and what was
        // being written then; not the messages still waiting in our queue.
        assert!(
            before_pong < sent - waiting + 64,
            "the pong came after {before_pong} of {sent} messages ({waiting} were queued)"
        );
    });
}

/// Issue 20, item 5: a blocking `send_part` while another thread's large
/// blocking send is under way waits its turn instead of `WouldBlock`.
#[test]
fn a_blocking_send_in_parts_waits_for_another_threads_large_message() {
    const BIG: usize = 16 << 20;
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            thread::sleep(Duration::from_millis(300));
            message_sizes(&mut s, 2)
        });
        let conn = open(&server.url("/"), &Options::default());
        let big = {
            let conn = conn.clone();
            thread::spawn(move || conn.send_binary(&vec![1u8; BIG]))
        };
        thread::sleep(Duration::from_millis(100));
        let part = [2u8; 1000];
        let (taken, r) = conn.send_part(MessageType::Binary, 2000, &part, false, false);
        assert_eq!((taken, r), (1000, Ok(())));
        let (taken, r) = conn.send_part(MessageType::Binary, 2000, &part, false, false);
        assert_eq!((taken, r), (1000, Ok(())));
        big.join().unwrap().unwrap();
        assert_eq!(server.join(), [BIG, 2000]);
    });
}

/// Issue 20, item 6: the close timeout bounds the whole close, writing our
/// close frame behind queued data included; past it the connection is
/// abandoned and the call says so.
#[test]
fn a_close_behind_data_the_server_never_reads_ends_at_the_close_timeout() {
    watchdog(WATCHDOG_SECS, || {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            done_rx.recv().unwrap(); // read nothing until the test is over
        });
        let opts = Options {
            close_timeout: Duration::from_secs(1),
            ..Options::default()
        };
        let conn = open(&server.url("/"), &opts);
        conn.set_nonblocking(true).unwrap();
        while conn.queued_bytes() < 3 << 20 {
            conn.send(MessageType::Binary, &[0; 64 << 10], false)
                .unwrap();
        }
        conn.set_nonblocking(false).unwrap();
        let started = Instant::now();
        let e = conn.close(Some(1000), "").unwrap_err();
        let took = started.elapsed();
        done_tx.send(()).unwrap();
        server.join();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.message().contains("abandoned"), "{e}");
        assert!(took < Duration::from_secs(3), "the close took {took:?}");
        assert_eq!(conn.state(), wsclient::State::Closed);
        assert_eq!(conn.queued_bytes(), 0);
    });
}

/// A non-blocking send says `WouldBlock` only for a message it did not
/// queue: large messages to a server that reads late all arrive, exactly
/// those that were accepted.
#[test]
fn nonblocking_large_sends_queue_exactly_what_they_accept() {
    const LEN: usize = 256 << 10;
    watchdog(WATCHDOG_SECS, || {
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            go_rx.recv().unwrap();
            let mut messages = 0;
            loop {
                let (data, control) = read_message(&mut s);
                let len: usize = data.iter().map(|f| f.payload.len()).sum();
                if control.iter().any(|f| f.is_close()) || len == 3 {
                    return messages; // "end"
                }
                assert_eq!(len, LEN);
                messages += 1;
            }
        });
        let opts = Options {
            send_queue_limit: LEN,
            ..Options::default()
        };
        let conn = open(&server.url("/"), &opts);
        conn.set_nonblocking(true).unwrap();
        let (mut accepted, mut refused) = (0, 0);
        while refused < 3 {
            match conn.send(MessageType::Binary, &[9; LEN], false) {
                Ok(()) => accepted += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        go_tx.send(()).unwrap();
        conn.set_nonblocking(false).unwrap();
        conn.send_text("end").unwrap();
        let _ = conn.close(Some(1000), "");
        assert_eq!(
            server.join(),
            accepted,
            "{accepted} accepted, {refused} refused"
        );
    });
}

/// A last part that has to wait for the socket ends its message: the next
/// message in parts starts cleanly (no empty message is left open behind it).
#[test]
fn a_last_part_that_waits_for_the_socket_ends_its_message() {
    const BIG: usize = 16 << 20;
    watchdog(WATCHDOG_SECS, || {
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            thread::sleep(Duration::from_millis(300)); // the client's socket fills
            message_sizes(&mut s, 2)
        });
        let conn = open(&server.url("/"), &Options::default());
        let data = vec![4u8; BIG];
        let total = BIG as u64;
        assert_eq!(
            conn.send_part(MessageType::Binary, total, &data[..10], false, false),
            (10, Ok(()))
        );
        assert_eq!(
            conn.send_part(MessageType::Binary, total, &data[10..], false, false),
            (BIG - 10, Ok(()))
        );
        assert_eq!(
            conn.send_part(MessageType::Binary, 3, b"abc", false, false),
            (3, Ok(()))
        );
        assert_eq!(server.join(), [BIG, 3]);
    });
}

/// Issue 24: sends marked "more" are a cork. Below 64 KiB queued nothing is
/// written (the server sees no byte); past it the queue goes out at once,
/// so a long batch never waits whole in memory.
#[test]
fn sends_marked_more_are_written_only_past_64_kib_or_at_a_flush() {
    watchdog(WATCHDOG_SECS, || {
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (count_tx, count_rx) = mpsc::channel();
        let server = RawServer::start(move |mut s: TcpStream| {
            accept_ws(&mut s, "");
            loop {
                go_rx.recv().unwrap();
                s.set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                let mut frames = 0;
                while let Ok(Some(_)) = read_frame(&mut s) {
                    frames += 1;
                }
                count_tx.send(frames).unwrap();
            }
        });
        let conn = open(&server.url("/"), &Options::default());
        let payload = [b'x'; 128]; // 134 bytes a frame on the wire
        let frames_seen = |n: usize| {
            for _ in 0..n {
                conn.send_more(MessageType::Text, &payload, true, true)
                    .unwrap();
            }
            go_tx.send(()).unwrap();
            count_rx.recv().unwrap()
        };
        // 400 frames, 53,600 bytes: all still queued.
        assert_eq!(frames_seen(400), 0);
        assert!(conn.queued_bytes() >= 400 * 134);
        // 100 more pass 64 KiB (at the 482nd): the queue was written, and
        // the sends after it wait again.
        let written = frames_seen(100);
        assert!(
            (400..500).contains(&written),
            "{written} frames reached the server"
        );
        assert!(conn.queued_bytes() < 64 << 10);
        conn.flush().unwrap();
        assert_eq!(conn.queued_bytes(), 0);
    });
}
