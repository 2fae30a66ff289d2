//! The echo benchmark (issue #2 item 7, issue #3): our client against
//! tungstenite's and against raw TCP, all three talking to servers in this
//! process in the same run, then the permessage-deflate figures.
//!
//! `cargo bench --bench echo` (or `make bench`) runs every section;
//! `cargo bench --bench echo -- latency memory` runs the named ones
//! (throughput, batched, latency, compression, memory, tls). Figures are printed,
//! never asserted: this is a report, not a test.

mod support;

use std::time::{Duration, Instant};

use support::clients::connect_wsclient;
use support::clients::{Echo, Ours, RawTcp, Tungstenite};
use support::codec::{self, Setting};
use support::report::{grouped, median, quantile, size_label, thread_cpu, Table};
use support::{json, memory, servers, tls};

const SIZES: &[usize] = &[16, 1 << 10, 64 << 10, 1 << 20];
/// Each measurement is repeated in this many rounds, each round running
/// every client once in a rotating order. Figures are medians over rounds
/// and ratios medians of the per-round ratios, which pair slices taken
/// close together: on a shared 2-core machine one slice can lose its core.
const ROUNDS: usize = 7;
const WARMUP: Duration = Duration::from_millis(30);
const THROUGHPUT_SLICE: Duration = Duration::from_millis(200);
const LATENCY_SLICE: Duration = Duration::from_millis(200);
const LATENCY_SIZE: usize = 16;
/// Pipelining: at most this many messages and bytes in flight, which stays
/// well inside loopback socket buffers (a blocking client that writes a
/// whole batch before reading would deadlock past them).
const MAX_IN_FLIGHT: usize = 64;
const MAX_IN_FLIGHT_BYTES: usize = 64 << 10;
const CORPUS_MESSAGES: usize = 1000;
const CODEC_PASSES: usize = 5;

fn in_flight(size: usize) -> usize {
    (MAX_IN_FLIGHT_BYTES / size).clamp(1, MAX_IN_FLIGHT)
}

/// One throughput slice of a client.
#[derive(Clone, Copy)]
struct Rate {
    per_second: f64,
    /// Client thread CPU µs per message echoed.
    cpu_us: f64,
}

/// Echo batches of `window` messages for at least `slice`.
fn echo_rate(client: &mut dyn Echo, size: usize, window: usize, slice: Duration) -> Rate {
    let (start, cpu) = (Instant::now(), thread_cpu());
    let mut messages = 0;
    while start.elapsed() < slice {
        for _ in 0..window {
            client.send();
        }
        for _ in 0..window {
            assert_eq!(
                client.recv(false),
                size,
                "{}: wrong echo size",
                client.name()
            );
        }
        messages += window;
    }
    Rate {
        per_second: messages as f64 / start.elapsed().as_secs_f64(),
        cpu_us: (thread_cpu() - cpu).as_secs_f64() * 1e6 / messages as f64,
    }
}

fn payload(size: usize) -> Vec<u8> {
    let mut rng = json::Rng::new(size as u64);
    (0..size).map(|_| rng.next() as u8).collect()
}

/// Printable ASCII (valid UTF-8), for text messages.
fn text_payload(size: usize) -> Vec<u8> {
    payload(size).iter().map(|b| b' ' + b % 95).collect()
}

/// Start a client on `payload`: one checked echo, then a short warm-up.
fn prepare(client: &mut dyn Echo, payload: &[u8]) {
    prepare_as(client, payload, false)
}

fn prepare_as(client: &mut dyn Echo, payload: &[u8], text: bool) {
    client.set_payload(payload, text);
    client.send();
    client.recv(true);
    echo_rate(client, payload.len(), in_flight(payload.len()), WARMUP);
}

/// Run `measure` on every client in each of the rounds, in a rotating
/// order; `results[client][round]`.
fn rounds<T>(
    clients: &mut [Box<dyn Echo>],
    mut measure: impl FnMut(&mut dyn Echo) -> T,
) -> Vec<Vec<T>> {
    let n = clients.len();
    let mut results: Vec<Vec<T>> = (0..n).map(|_| Vec::with_capacity(ROUNDS)).collect();
    for round in 0..ROUNDS {
        for k in 0..n {
            let i = (k + round) % n;
            results[i].push(measure(clients[i].as_mut()));
        }
    }
    results
}

/// The median over rounds of `ours[r] / theirs[r]`.
fn paired_ratio(ours: &[f64], theirs: &[f64]) -> String {
    let ratios: Vec<f64> = ours.iter().zip(theirs).map(|(a, b)| a / b).collect();
    format!("{:.2}", median(&ratios))
}

fn throughput(clients: &mut [Box<dyn Echo>]) {
    println!("\n## Echo throughput");
    println!(
        "Pipelined: batches of up to {MAX_IN_FLIGHT} messages / {} in flight, then their echoes. \
         Median of {ROUNDS} rounds of {} ms per client; MB/s = 10^6 payload bytes echoed per second.",
        size_label(MAX_IN_FLIGHT_BYTES),
        THROUGHPUT_SLICE.as_millis()
    );
    let names: Vec<&str> = clients.iter().map(|c| c.name()).collect();
    let header = |unit: &str| -> Vec<String> {
        let mut h = vec!["payload".to_string(), "in flight".to_string()];
        h.extend(names.iter().map(|n| format!("{n} {unit}")));
        h.extend(["ours/tungstenite".to_string(), "ours/raw TCP".to_string()]);
        h
    };
    let mut speed = Table::new(&header("msg/s (MB/s)"));
    let mut cpu = Table::new(&header("CPU µs/msg"));
    // Every size as binary, then 1 MiB again as text (UTF-8 checked both ways).
    let rows = SIZES.iter().map(|&s| (s, false)).chain([(1 << 20, true)]);
    for (size, text) in rows {
        let data = if text {
            text_payload(size)
        } else {
            payload(size)
        };
        let window = in_flight(size);
        let rates = rounds(clients, |client| {
            prepare_as(client, &data, text);
            echo_rate(client, size, window, THROUGHPUT_SLICE)
        });
        let per_second: Vec<Vec<f64>> = rates
            .iter()
            .map(|r| r.iter().map(|x| x.per_second).collect())
            .collect();
        let cpu_us: Vec<Vec<f64>> = rates
            .iter()
            .map(|r| r.iter().map(|x| x.cpu_us).collect())
            .collect();
        let label = format!("{}{}", size_label(size), if text { " text" } else { "" });
        let mut row = vec![label.clone(), window.to_string()];
        row.extend(per_second.iter().map(|r| {
            let rate = median(r);
            format!("{} ({:.1})", grouped(rate), rate * size as f64 / 1e6)
        }));
        row.push(paired_ratio(&per_second[0], &per_second[1]));
        row.push(paired_ratio(&per_second[0], &per_second[2]));
        speed.row(row);
        let mut row = vec![label, window.to_string()];
        row.extend(cpu_us.iter().map(|r| format!("{:.2}", median(r))));
        row.push(paired_ratio(&cpu_us[0], &cpu_us[1]));
        row.push(paired_ratio(&cpu_us[0], &cpu_us[2]));
        cpu.row(row);
    }
    speed.print();
    println!("Ratios are of messages/s: above 1.00 our client is faster.");
    println!(
        "\nClient CPU per message in the same slices: the client thread's user + system time \
         (its syscalls included, the server's work not), so less sensitive to other load on the machine."
    );
    cpu.print();
    println!("Ratios are of CPU time: below 1.00 our client is cheaper.");
}

/// Small messages in bursts: `BATCH` messages written, then their echoes
/// read; each client writes the burst its own best way (see
/// `Echo::send_batch`), so this measures batching, not one syscall a message.
const BATCH: usize = 256;
const BATCH_SIZE: usize = 128;

fn batched(clients: &mut [Box<dyn Echo>]) {
    println!("\n## Batched small messages");
    println!(
        "{BATCH} messages of {BATCH_SIZE} B written as one burst, then their {BATCH} echoes read; \
         median of {ROUNDS} rounds of {} ms per client.",
        THROUGHPUT_SLICE.as_millis()
    );
    let data = payload(BATCH_SIZE);
    let rates = rounds(clients, |client| {
        prepare(client, &data);
        let (start, cpu) = (Instant::now(), thread_cpu());
        let mut messages = 0;
        while start.elapsed() < THROUGHPUT_SLICE {
            client.send_batch(BATCH);
            for _ in 0..BATCH {
                client.recv(false);
            }
            messages += BATCH;
        }
        Rate {
            per_second: messages as f64 / start.elapsed().as_secs_f64(),
            cpu_us: (thread_cpu() - cpu).as_secs_f64() * 1e6 / messages as f64,
        }
    });
    let per_second: Vec<Vec<f64>> = rates
        .iter()
        .map(|r| r.iter().map(|x| x.per_second).collect())
        .collect();
    let mut table = Table::new(&["client", "msg/s", "CPU µs/msg", "ours/this msg/s"]);
    for ((client, r), rate) in clients.iter().zip(&rates).zip(&per_second) {
        let cpu: Vec<f64> = r.iter().map(|x| x.cpu_us).collect();
        table.row(vec![
            client.name().to_string(),
            grouped(median(rate)),
            format!("{:.2}", median(&cpu)),
            paired_ratio(&per_second[0], rate),
        ]);
    }
    table.print();
    println!("Ratios are of messages/s: above 1.00 our client is faster.");
}

fn latency(clients: &mut [Box<dyn Echo>]) {
    println!("\n## Round-trip latency");
    println!(
        "One {LATENCY_SIZE}-byte message at a time, from send to echo received; {ROUNDS} rounds of {} ms \
         per client. Percentiles over all round trips; the median ratio is the median of per-round ratios.",
        LATENCY_SLICE.as_millis()
    );
    let data = payload(LATENCY_SIZE);
    let samples = rounds(clients, |client| {
        prepare(client, &data);
        let mut s = Vec::new();
        let start = Instant::now();
        while start.elapsed() < LATENCY_SLICE {
            let t = Instant::now();
            client.send();
            client.recv(false);
            s.push(t.elapsed().as_secs_f64() * 1e6);
        }
        s
    });
    let round_medians: Vec<Vec<f64>> = samples
        .iter()
        .map(|rs| rs.iter().map(|s| median(s)).collect())
        .collect();
    let pooled: Vec<Vec<f64>> = samples
        .iter()
        .map(|rs| {
            let mut all = rs.concat();
            all.sort_by(f64::total_cmp);
            all
        })
        .collect();
    let mut table = Table::new(&[
        "client",
        "round trips",
        "median µs",
        "p99 µs",
        "ours/this median",
        "ours/this p99",
    ]);
    let ours_p99 = quantile(&pooled[0], 0.99);
    for ((client, all), medians) in clients.iter().zip(&pooled).zip(&round_medians) {
        let p99 = quantile(all, 0.99);
        table.row(vec![
            client.name().to_string(),
            grouped(all.len() as f64),
            format!("{:.1}", quantile(all, 0.5)),
            format!("{p99:.1}"),
            paired_ratio(&round_medians[0], medians),
            format!("{:.2}", ours_p99 / p99),
        ]);
    }
    table.print();
    println!("Ratios are of times: below 1.00 our client is faster.");
}

fn compression() {
    let corpus = json::corpus(CORPUS_MESSAGES);
    let raw: usize = corpus.iter().map(String::len).sum();
    let (min, max) = corpus.iter().fold((usize::MAX, 0), |(lo, hi), m| {
        (lo.min(m.len()), hi.max(m.len()))
    });
    println!(
        "\n## permessage-deflate codec (wsclient::deflate, zlib {})",
        zlib_version()
    );
    println!(
        "{CORPUS_MESSAGES} JSON messages of {min}-{max} B (mean {} B), compressed in order by one Deflater and \
         inflated by one Inflater, as on one connection. Wire = compressed payload without the \
         00 00 ff ff tail, frame headers not counted. CPU: thread time, best of {CODEC_PASSES} passes.",
        raw / corpus.len()
    );
    let settings = [
        (15, false, 6),
        (15, true, 6),
        (10, false, 6),
        (10, true, 6),
        (15, false, 1),
    ];
    let mut table = Table::new(&[
        "window, context, level",
        "wire/raw",
        "wire B/msg",
        "compress µs/msg",
        "inflate µs/msg",
        "total µs/msg",
    ]);
    for (window_bits, no_context_takeover, level) in settings {
        let f = codec::measure(
            &corpus,
            &Setting {
                window_bits,
                no_context_takeover,
                level,
            },
            CODEC_PASSES,
        );
        let context = if no_context_takeover {
            "no takeover"
        } else {
            "takeover"
        };
        table.row(vec![
            format!("{window_bits} bits, {context}, level {level}"),
            format!("{:.3}", f.wire_bytes as f64 / f.raw_bytes as f64),
            format!("{:.0}", f.wire_bytes as f64 / corpus.len() as f64),
            format!("{:.1}", f.compress_us),
            format!("{:.1}", f.inflate_us),
            format!("{:.1}", f.compress_us + f.inflate_us),
        ]);
    }
    table.print();
    println!(
        "Level 6 is the default (Options::compression_level); 15 bits is what a bare offer gets."
    );
}

fn memory_per_connection() {
    let n = memory::CONNECTIONS;
    println!("\n## Memory per connection (client side)");
    let server = match servers::PythonServer::start() {
        Ok(s) => s,
        Err(why) => {
            println!("Skipped: {why}.");
            return;
        }
    };
    println!(
        "A fresh process per row opens {n} connections to the Python websockets echo server \
         (tests/servers/echo_server.py --deflate); heap in use (mallinfo2) growth / {n}, in KiB, \
         each connection idle when measured; last column VmRSS growth / {n} at the end. zlib column: \
         its documented deflate + inflate state for the window (memLevel 8), without ~7 KiB of small objects each."
    );
    let mut table = Table::new(&[
        "configuration",
        "negotiated",
        "zlib documented",
        "opened",
        "after 1 msg",
        &format!("after {} msgs", memory::MESSAGES),
        "RSS at end",
    ]);
    for &(name, config, window_bits) in memory::CONFIGS {
        let documented = match window_bits {
            Some(bits) => {
                let (deflate, inflate) = codec::zlib_documented_bytes(bits);
                format!("{} + {}", deflate >> 10, inflate >> 10)
            }
            None => "-".into(),
        };
        match memory::run_child(config, server.port) {
            Ok(usage) => {
                let per =
                    |kib: u64| format!("{:.1}", kib.saturating_sub(usage.before) as f64 / n as f64);
                table.row(vec![
                    name.to_string(),
                    usage.negotiated.clone(),
                    documented,
                    per(usage.opened),
                    per(usage.one_message),
                    per(usage.all_messages),
                    format!("{:.1}", usage.rss_growth as f64 / n as f64),
                ]);
            }
            Err(why) => table.row(vec![
                name.to_string(),
                why,
                documented,
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]),
        }
    }
    table.print();
}

/// Connections per slice of the TLS section: at least this long each.
const TLS_SLICE: Duration = Duration::from_millis(300);

/// Open and drop connections to `url` for a slice: (client CPU µs, wall
/// µs) per connection, each checked to resume (or not) as expected.
fn handshakes(url: &str, options: &wsclient::Options, resumed: bool) -> (f64, f64) {
    drop(connect_wsclient(url, options)); // a session to resume, if any
    let (start, cpu) = (Instant::now(), thread_cpu());
    let mut n = 0;
    while start.elapsed() < TLS_SLICE {
        let conn = connect_wsclient(url, options);
        assert_eq!(conn.tls_resumed(), resumed, "{url}: resumed?");
        drop(conn);
        n += 1;
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    (per(thread_cpu() - cpu), per(start.elapsed()))
}

fn tls_handshakes() {
    println!("\n## TLS handshake: full vs resumed");
    println!(
        "wss:// connections opened and dropped one after the other (TCP, TLS with verification \
         against a CA file, the HTTP upgrade), to an OpenSSL server in this process that lets \
         sessions resume and to one that never does (ECDSA P-256 certificate signed by a CA). \
         Client thread CPU and wall time per connection; median of {ROUNDS} rounds of {} ms each, \
         ratios the median of per-round ratios.",
        TLS_SLICE.as_millis()
    );
    let dir = std::env::temp_dir().join(format!("wsclient-bench-tls-{}", std::process::id()));
    let pki = tls::Pki::new(&dir);
    let options = wsclient::Options {
        tls: wsclient::transport::TlsOptions {
            ca_file: Some(pki.ca_file.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut table = Table::new(&[
        "TLS",
        "full CPU µs",
        "resumed CPU µs",
        "full/resumed CPU",
        "full wall µs",
        "resumed wall µs",
        "full/resumed wall",
    ]);
    for (name, version) in [
        ("1.3", openssl::ssl::SslVersion::TLS1_3),
        ("1.2", openssl::ssl::SslVersion::TLS1_2),
    ] {
        let full = format!("wss://{}/", pki.server(version, false));
        let resumed = format!("wss://{}/", pki.server(version, true));
        let (mut cpu, mut wall) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
        for round in 0..ROUNDS {
            for k in 0..2 {
                let i = (k + round) % 2;
                let (url, resumes) = if i == 0 {
                    (&full, false)
                } else {
                    (&resumed, true)
                };
                let (c, w) = handshakes(url, &options, resumes);
                cpu[i].push(c);
                wall[i].push(w);
            }
        }
        table.row(vec![
            name.to_string(),
            format!("{:.0}", median(&cpu[0])),
            format!("{:.0}", median(&cpu[1])),
            paired_ratio(&cpu[0], &cpu[1]),
            format!("{:.0}", median(&wall[0])),
            format!("{:.0}", median(&wall[1])),
            paired_ratio(&wall[0], &wall[1]),
        ]);
    }
    table.print();
    println!(
        "Ratios above 1.00: a resumed handshake is cheaper. A resumed one skips the certificate \
         and its verification and the server's signature; TLS 1.3 still makes an ECDHE exchange."
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn zlib_version() -> String {
    // SAFETY: zlibVersion returns a pointer to a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(libz_sys::zlibVersion()) }
        .to_string_lossy()
        .into_owned()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--rss-child") {
        return memory::child(&args[1..]);
    }
    // cargo passes `--bench`; anything else that is not a flag names a section.
    let sections: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    const SECTIONS: &[&str] = &[
        "throughput",
        "batched",
        "latency",
        "compression",
        "memory",
        "tls",
    ];
    if let Some(unknown) = sections.iter().find(|s| !SECTIONS.contains(s)) {
        eprintln!("unknown section {unknown:?}; the sections are {SECTIONS:?}");
        std::process::exit(2);
    }
    let wanted = |name: &str| sections.is_empty() || sections.contains(&name);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "# libwsclient echo benchmark ({cpus} CPUs, load average {} at start; loopback, servers in this process)",
        load.join(" ")
    );
    let started = Instant::now();
    if wanted("throughput") || wanted("batched") || wanted("latency") {
        let ws = servers::ws_echo();
        let raw = servers::raw_echo();
        // The order matters: the report's ratios take the first as ours.
        let mut clients: Vec<Box<dyn Echo>> = vec![
            Box::new(Ours::connect(ws)),
            Box::new(Tungstenite::connect(ws)),
            Box::new(RawTcp::connect(raw)),
        ];
        println!("Both WebSocket clients talk to the same cheap WebSocket echo server (frames unmasked in place, one write per read); raw TCP to a length-prefixed echo of the same cost.");
        if wanted("throughput") {
            throughput(&mut clients);
        }
        if wanted("batched") {
            batched(&mut clients);
        }
        if wanted("latency") {
            latency(&mut clients);
        }
    }
    if wanted("compression") {
        compression();
    }
    if wanted("memory") {
        memory_per_connection();
    }
    if wanted("tls") {
        tls_handshakes();
    }
    println!("\nTotal {:.1} s.", started.elapsed().as_secs_f64());
}
