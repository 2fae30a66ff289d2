//! Every close and keepalive path, driven with a made-up clock.

use super::*;
use crate::proto::frame::FrameHeader;
use crate::proto::mask::apply_mask;
use crate::proto::receiver::Limits;

const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

fn session(keepalive: Option<Keepalive>, t0: Instant) -> Session {
    let config = Config {
        close_timeout: CLOSE_TIMEOUT,
        keepalive,
        ..Config::default()
    };
    Session::new(
        Receiver::new(Limits::default(), None),
        Sender::new(None, 0),
        &[],
        config,
        t0,
    )
}

/// A server frame (unmasked).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        mask: None,
        payload_len: payload.len() as u64,
    }
    .encode(&mut out);
    out.extend_from_slice(payload);
    out
}

fn feed(s: &mut Session, bytes: &[u8]) {
    let space = s.read_space();
    space[..bytes.len()].copy_from_slice(bytes);
    s.on_read(bytes.len());
}

/// Take everything queued, as the server would read it: (opcode, payload).
fn drain(s: &mut Session) -> Vec<(u8, Vec<u8>)> {
    let mut wire = Vec::new();
    write_out(s, &mut wire);
    parse(wire)
}

/// Write what is queued to `wire`.
fn write_out(s: &mut Session, wire: &mut Vec<u8>) {
    while !s.pending_output().is_empty() {
        let bytes = s.pending_output();
        let n = bytes.len();
        wire.extend_from_slice(bytes);
        s.on_written(n);
    }
}

/// Client frames on the wire, unmasked: (opcode, payload).
fn parse(mut wire: Vec<u8>) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let (h, n) = FrameHeader::parse(&wire[at..]).unwrap().unwrap();
        let body = at + n..at + n + h.payload_len as usize;
        apply_mask(&mut wire[body.clone()], h.mask.expect("masked"), 0);
        frames.push((h.opcode, wire[body.clone()].to_vec()));
        at = body.end;
    }
    frames
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    CloseFrame::payload(Some(code), reason)
}

#[test]
fn peer_closes_first_we_echo_its_code_then_wait_for_tcp_close() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    feed(&mut s, &frame(8, &close_payload(1001, "bye")));
    assert!(matches!(
        s.receive(Mode::Messages, t0),
        Ok(Some(Received::Closed))
    ));
    assert_eq!(s.peer_close().unwrap().code, Some(1001));
    assert_eq!(s.state(), State::Closed);
    assert_eq!(drain(&mut s), vec![(8, 1001u16.to_be_bytes().to_vec())]);
    // The server's TCP close is awaited for the close timeout, no longer.
    assert!(s.wants_read() && !s.finished());
    assert_eq!(s.next_deadline(), Some(t0 + CLOSE_TIMEOUT));
    s.on_eof();
    assert!(s.finished());
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn peer_silent_after_close_handshake_is_dropped_at_the_deadline() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    feed(&mut s, &frame(8, &close_payload(1000, "")));
    s.receive(Mode::Messages, t0).unwrap();
    s.on_timer(t0 + CLOSE_TIMEOUT - Duration::from_nanos(1))
        .unwrap();
    assert!(!s.finished());
    s.on_timer(t0 + CLOSE_TIMEOUT).unwrap();
    assert!(s.finished(), "queued reply dropped and no more waiting");
}

#[test]
fn we_close_first_and_the_server_answers() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    s.close(Some(1000), "done", t0).unwrap();
    assert_eq!(s.state(), State::CloseSent);
    assert_eq!(drain(&mut s), vec![(8, close_payload(1000, "done"))]);
    assert_eq!(s.next_deadline(), Some(t0 + CLOSE_TIMEOUT));
    // Sending is over; receiving goes on until the server's close.
    assert_eq!(
        s.send(MessageType::Text, b"late", true).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    let t1 = t0 + Duration::from_secs(1);
    feed(&mut s, &frame(1, b"in flight"));
    feed(&mut s, &frame(8, &close_payload(1000, "")));
    assert!(matches!(
        s.receive(Mode::Messages, t1),
        Ok(Some(Received::Message(_)))
    ));
    assert!(matches!(
        s.receive(Mode::Messages, t1),
        Ok(Some(Received::Closed))
    ));
    assert!(drain(&mut s).is_empty(), "no second close frame");
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.next_deadline(), Some(t1 + CLOSE_TIMEOUT));
}

#[test]
fn server_never_answers_our_close_closed_at_the_deadline_exactly() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    s.close(None, "", t0).unwrap();
    drain(&mut s);
    s.on_timer(t0 + CLOSE_TIMEOUT - Duration::from_nanos(1))
        .unwrap();
    assert_eq!(s.state(), State::CloseSent);
    let e = s.on_timer(t0 + CLOSE_TIMEOUT).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(s.finished());
    // The receiver hears of it too.
    assert_eq!(
        s.receive(Mode::Messages, t0 + CLOSE_TIMEOUT)
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
}

#[test]
fn frames_trickling_during_closing_do_not_extend_the_deadline() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    s.close(Some(1000), "", t0).unwrap();
    for i in 1..5 {
        let now = t0 + Duration::from_secs(i);
        feed(&mut s, &frame(9, b"still here"));
        feed(&mut s, &frame(2, b"x"));
        assert!(s.receive(Mode::Messages, now).unwrap().is_some());
        s.on_timer(now).unwrap();
        assert_eq!(s.next_deadline(), Some(t0 + CLOSE_TIMEOUT));
    }
    // No pong while closing (RFC 6455 §5.5.1: nothing after our close).
    assert_eq!(drain(&mut s).len(), 1);
    assert!(s.on_timer(t0 + CLOSE_TIMEOUT).is_err());
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn protocol_error_queues_the_close_code_and_waits_for_tcp_close() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    feed(&mut s, &frame(3, b"")); // reserved opcode
    let e = s.receive(Mode::Messages, t0).unwrap_err();
    assert_eq!(e.close_code(), Some(1002));
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, &out[0].1[..2]), (8, &1002u16.to_be_bytes()[..]));
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.next_deadline(), Some(t0 + CLOSE_TIMEOUT));
}

#[test]
fn keepalive_pings_on_time_and_a_timely_pong_keeps_the_connection() {
    let t0 = Instant::now();
    let k = Keepalive {
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
    };
    let mut s = session(Some(k), t0);
    assert_eq!(s.next_deadline(), Some(t0 + k.interval));
    s.on_timer(t0 + Duration::from_secs(9)).unwrap();
    assert!(drain(&mut s).is_empty());
    let t10 = t0 + k.interval;
    s.on_timer(t10).unwrap();
    let ping = drain(&mut s);
    assert_eq!(ping.len(), 1);
    assert_eq!(ping[0].0, 9);
    assert_eq!(s.next_deadline(), Some(t10 + k.timeout));
    // An unsolicited pong proves nothing; ours does.
    feed(&mut s, &frame(10, b"other"));
    feed(&mut s, &frame(10, &ping[0].1));
    assert!(s.receive(Mode::Messages, t10).unwrap().is_none());
    s.on_timer(t10 + k.timeout).unwrap();
    assert_eq!(s.state(), State::Open);
    assert_eq!(s.next_deadline(), Some(t10 + k.interval));
}

#[test]
fn keepalive_missing_pong_fails_with_a_timeout_and_close_1011() {
    let t0 = Instant::now();
    let k = Keepalive {
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
    };
    let mut s = session(Some(k), t0);
    s.on_timer(t0 + k.interval).unwrap();
    let ping = drain(&mut s);
    let deadline = t0 + k.interval + k.timeout;
    s.on_timer(deadline - Duration::from_millis(1)).unwrap();
    let e = s.on_timer(deadline).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.message().contains("keepalive"), "{e}");
    let out = drain(&mut s);
    assert_eq!((out[0].0, &out[0].1[..2]), (8, &1011u16.to_be_bytes()[..]));
    assert_eq!(s.state(), State::Closed);
    // The late pong changes nothing; the receiver is told why.
    feed(&mut s, &frame(10, &ping[0].1));
    let e = s.receive(Mode::Messages, deadline).unwrap_err();
    assert!(e.message().contains("keepalive"), "{e}");
}

#[test]
fn frame_and_message_receives_cannot_be_mixed_inside_a_message() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    let mut first = frame(1, b"part");
    first[0] &= 0x7F; // not FIN
    feed(&mut s, &first);
    let Some(Received::Frame(f)) = s.receive(Mode::Frames, t0).unwrap() else {
        panic!("a frame")
    };
    assert_eq!((f.fin, f.payload.as_slice()), (false, &b"part"[..]));
    assert_eq!(
        s.receive(Mode::Messages, t0).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    assert_eq!(
        s.state(),
        State::Open,
        "refusing does not fail the connection"
    );
    feed(&mut s, &frame(0, b" two"));
    let Some(Received::Frame(f)) = s.receive(Mode::Frames, t0).unwrap() else {
        panic!("a frame")
    };
    assert_eq!((f.fin, f.opcode), (true, 0));
    // Between messages either is fine; half a frame counts as inside.
    let whole = frame(2, b"abcdef");
    feed(&mut s, &whole[..4]);
    assert!(s.receive(Mode::Messages, t0).unwrap().is_none());
    assert_eq!(
        s.receive(Mode::Frames, t0).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
}

#[test]
fn frame_mode_close_is_the_callers_to_answer() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    feed(&mut s, &frame(9, b"p"));
    feed(&mut s, &frame(8, &close_payload(4000, "")));
    assert!(matches!(
        s.receive(Mode::Frames, t0),
        Ok(Some(Received::Frame(_)))
    ));
    assert!(matches!(
        s.receive(Mode::Frames, t0),
        Ok(Some(Received::Frame(_)))
    ));
    assert!(drain(&mut s).is_empty(), "no automatic pong or close");
    assert_eq!(s.state(), State::Open);
    s.send_frame(true, 0, 8, &4000u16.to_be_bytes(), t0)
        .unwrap();
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn the_send_queue_bound_refuses_whole_messages_only() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    s.config.send_queue_limit = 100;
    // One message always fits an empty queue, however large.
    s.send(MessageType::Binary, &[0; 1000], false).unwrap();
    let e = s.send(MessageType::Binary, &[0; 10], false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    // Control frames are never refused.
    s.ping(b"p", Instant::now()).unwrap();
    drain(&mut s);
    s.send(MessageType::Binary, &[0; 10], false).unwrap();
}

#[test]
fn a_flood_of_pings_from_a_server_that_never_reads_queues_a_bounded_few_pongs() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    s.send(MessageType::Binary, &[1; 1000], false).unwrap();
    for i in 0..10_000u32 {
        feed(&mut s, &frame(0x9, &i.to_be_bytes()));
        assert!(s.receive(Mode::Messages, t0).unwrap().is_none());
    }
    // The data, and pongs within their budget, the last for the latest ping.
    let budget = control::PONG_BUDGET;
    assert!(
        s.queued_bytes() <= 1000 + 14 + budget,
        "{}",
        s.queued_bytes()
    );
    let frames = drain(&mut s);
    let pongs: Vec<_> = frames.iter().filter(|f| f.0 == 0xA).collect();
    assert!(pongs.len() < 100, "{} pongs", pongs.len());
    assert_eq!(pongs.last().unwrap().1, 9999u32.to_be_bytes());
}

#[test]
fn pongs_and_pings_go_ahead_of_queued_data_but_the_close_goes_last() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    for _ in 0..3 {
        s.send(MessageType::Text, b"data", false).unwrap();
    }
    s.ping(b"mine", Instant::now()).unwrap();
    feed(&mut s, &frame(0x9, b"theirs"));
    assert!(s.receive(Mode::Messages, t0).unwrap().is_none());
    s.close(Some(1000), "", t0).unwrap();
    let opcodes: Vec<u8> = drain(&mut s).into_iter().map(|f| f.0).collect();
    assert_eq!(opcodes, [0x9, 0xA, 1, 1, 1, 0x8]);
}

#[test]
fn control_frames_pass_between_the_frames_of_a_large_message() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    let data = vec![5u8; 3 * crate::proto::sender::MAX_FRAME];
    let ticket = s.begin_message(MessageType::Binary, &data, false).unwrap();
    let taken = s.feed(&data, false).unwrap();
    // The first frame is partly written when a ping arrives: the next frame
    // boundary lets the pong out before the rest of the message.
    let mut at = taken;
    let mut wire = s.pending_output()[..100].to_vec();
    s.on_written(100);
    feed(&mut s, &frame(0x9, b"hi"));
    assert!(s.receive(Mode::Messages, t0).unwrap().is_none());
    while at < data.len() || s.wants_write() {
        write_out(&mut s, &mut wire);
        at += s.feed(&data[at..], false).unwrap_or(0);
    }
    let opcodes: Vec<u8> = parse(wire).into_iter().map(|f| f.0).collect();
    assert_eq!(opcodes, [2, 0xA, 0, 0]);
    assert_eq!(s.fate(ticket), Fate::Written);
}

#[test]
fn a_lost_connection_loses_the_tickets_it_did_not_write() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    let written = s.send(MessageType::Text, b"first", false).unwrap();
    drain(&mut s);
    let queued = s.send(MessageType::Text, b"second", false).unwrap();
    let data = vec![0u8; 1 << 20];
    // Another message under way, and one sent meanwhile behind it.
    let paced = {
        let mut other = session(None, t0);
        let t = other
            .begin_message(MessageType::Binary, &data, false)
            .unwrap();
        other.feed(&data, false).unwrap();
        other.abandon(Error::exn(ErrorKind::ConnectionLost, "reset"));
        assert_eq!(other.fate(t), Fate::Lost);
        assert_eq!(
            other
                .send_part(MessageType::Binary, 1, b"x", false, false)
                .unwrap_err()
                .kind(),
            ErrorKind::ConnectionLost
        );
        t
    };
    let _ = paced;
    s.abandon(Error::exn(ErrorKind::ConnectionLost, "reset by peer"));
    assert_eq!(
        (s.fate(written), s.fate(queued)),
        (Fate::Written, Fate::Lost)
    );
    // The next send says why, not just "closed".
    let e = s.send(MessageType::Text, b"third", false).unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::ConnectionLost, "reset by peer")
    );
}

#[test]
fn the_close_timeout_bounds_writing_our_close_too() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    s.send(MessageType::Binary, &[0; 10_000], false).unwrap();
    let close = s.close(Some(1000), "bye", t0).unwrap();
    // The server reads nothing: our close never gets out.
    assert_eq!(s.next_deadline(), Some(t0 + CLOSE_TIMEOUT));
    assert!(s
        .on_timer(t0 + CLOSE_TIMEOUT - Duration::from_millis(1))
        .is_ok());
    let e = s.on_timer(t0 + CLOSE_TIMEOUT).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(
        e.message().contains("could not be written"),
        "{}",
        e.message()
    );
    assert_eq!(s.fate(close), Fate::Lost);
    assert!(s.finished());
}

#[test]
fn a_failure_during_a_message_in_parts_drops_its_unsent_frames_and_still_closes() {
    let t0 = Instant::now();
    let mut s = session(None, t0);
    let data = vec![1u8; 4 * crate::proto::sender::MAX_FRAME];
    let ticket = s.begin_message(MessageType::Binary, &data, false).unwrap();
    let taken = s.feed(&data, true).unwrap();
    assert_eq!(taken, data.len());
    // Nothing written yet: a protocol error drops the message and sends the close.
    let mut s2 = session(None, t0);
    let t2 = s2.begin_message(MessageType::Binary, &data, false).unwrap();
    s2.feed(&data[..100], false).unwrap();
    feed(&mut s2, &[0x83, 0x00]); // a reserved opcode
    assert!(s2.receive(Mode::Messages, t0).is_err());
    assert_eq!(s2.fate(t2), Fate::Lost);
    let opcodes: Vec<u8> = drain(&mut s2).into_iter().map(|f| f.0).collect();
    assert_eq!(opcodes, [0x8]);
    let _ = (ticket, s);
}
