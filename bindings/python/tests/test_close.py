"""Closing: codes and reasons both ways, use after close, and *fail*s
(the server breaks the protocol) through a raw scripted server."""

import gc
import weakref

import pytest
from wstest_helpers import read_client_frame, server_frame

import wsclient
import wsclient.exceptions
from wsclient import Frame, _ffi


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1008, 1011, 3000, 4001, 4999])
def test_peer_close_code_and_reason(echo_url, code):
    conn = wsclient.connect(echo_url + f"/close/{code}")
    with conn:
        assert conn.recv() is None
        assert conn.peer_close_code == code
        assert conn.peer_close_reason == "bye"
        assert conn.state == "closed"
        assert conn.recv() is None  # like EOF: None again
        with pytest.raises(wsclient.InvalidState):
            conn.recv_frame()
        with pytest.raises(wsclient.InvalidState):
            conn.send("x")
    assert conn.closed
    # Still readable after the connection was released.
    assert conn.peer_close_code == code and conn.peer_close_reason == "bye"


# The websockets server echoes the client's close frame: what we sent comes back.
@pytest.mark.parametrize(
    "args,kwargs,code,reason",
    [
        ((), {}, 1000, ""),
        (("normal-closure",), {}, 1000, ""),
        (("going-away",), {}, 1001, ""),
        (("policy-violation",), {}, 1008, ""),
        (("internal-server-error",), {}, 1011, ""),
        (("no-status-rcvd",), {}, 1005, ""),  # a close frame without a code
        (("done here",), {"code": 1000}, 1000, "done here"),
        (("ünïcode ✓",), {"code": 4000}, 4000, "ünïcode ✓"),
        ((), {"code": 3001}, 3001, ""),
        (("going-away",), {"code": 4002}, 4002, "going-away"),  # with code=, reason is text
    ],
)
def test_close_code_and_reason_sent(echo_url, args, kwargs, code, reason):
    conn = wsclient.connect(echo_url + "/")
    conn.close(*args, **kwargs)
    assert conn.closed and conn.state == "closed"
    assert conn.peer_close_code == code
    assert conn.peer_close_reason == reason


@pytest.mark.parametrize(
    "args,kwargs,exc",
    [
        (("because",), {}, ValueError),  # not a reason name, and no code=
        (("abnormal-closure",), {}, ValueError),  # 1006 may not be sent
        (("tls-handshake",), {}, ValueError),
        ((), {"code": 1005}, ValueError),
        ((), {"code": 2000}, ValueError),
        ((), {"code": 70000}, ValueError),
        ((), {"code": "1000"}, TypeError),
        ((1000,), {}, TypeError),
        (("x" * 124,), {"code": 1000}, ValueError),
        ((b"bytes",), {"code": 1000}, TypeError),
        ((), {"timeout": "1"}, TypeError),
        ((), {"timeout": -1}, ValueError),
    ],
)
def test_close_argument_errors_leave_the_connection_open(echo_url, args, kwargs, exc):
    with wsclient.connect(echo_url + "/") as conn:
        with pytest.raises(exc):
            conn.close(*args, **kwargs)
        assert conn.state == "open"
        conn.send("still open")
        assert conn.recv().data == "still open"


def test_send_close_then_receive(raw_server):
    """The egg's ws-close: send the close frame, then receive until None.
    The server sends one more message after it got our close."""

    def script(sock):
        got = read_client_frame(sock)
        sock.sendall(server_frame(1, b"in flight") + server_frame(8, got[3]))
        return got

    server = raw_server(script)
    with wsclient.connect(server.url) as conn:
        conn.send_close("going-away")
        assert conn.state == "closing"
        with pytest.raises(wsclient.InvalidState):
            conn.send("too late")
        with pytest.raises(wsclient.InvalidState):
            conn.send_close()
        assert conn.recv().data == "in flight"
        assert conn.recv() is None
        assert conn.peer_close_code == 1001
    assert server.join() == (True, 0, 8, b"\x03\xe9")


def test_use_after_close_raises(echo_url):
    conn = wsclient.connect(echo_url + "/")
    conn.close()
    conn.close()  # idempotent
    conn.close("going-away")
    for call in (
        lambda: conn.recv(),
        lambda: conn.recv(timeout=1),
        lambda: conn.send("x"),
        lambda: conn.send_text("x"),
        lambda: conn.send_binary(b"x"),
        lambda: conn.send_message(wsclient.Message("text", "x")),
        lambda: conn.ping(),
        lambda: conn.recv_frame(),
        lambda: conn.send_frame(Frame("text", b"x")),
        lambda: conn.send_close(),
        lambda: conn.fileno(),
        lambda: conn.header("Upgrade"),
        lambda: conn.set_nonblocking(True),
        lambda: next(iter(conn)),
    ):
        with pytest.raises(wsclient.InvalidState, match="closed"):
            call()
    assert conn.state == "closed" and conn.closed
    assert conn.subprotocol is None and conn.compression is False


def test_messages_outlive_their_connection(echo_url):
    with wsclient.connect(echo_url + "/") as conn:
        conn.send("keep me")
        msg = conn.recv()
    assert msg.data == "keep me" and msg.frames[0].payload_data == b"keep me"


def test_close_after_peer_close_is_quiet(echo_url):
    conn = wsclient.connect(echo_url + "/close/1000")
    assert conn.recv() is None
    conn.close()
    conn.close()


def test_garbage_collected_connection(raw_server, monkeypatch):
    """A connection nobody closes is freed by its finaliser: ws_conn_free
    runs on its handle and the server sees TCP end, without a close frame."""
    freed = []
    real_free = wsclient.Connection._free

    def free(ptr):
        freed.append(_ffi.address(ptr))
        real_free(ptr)

    monkeypatch.setattr(wsclient.Connection, "_free", staticmethod(free))

    def script(sock):
        got = read_client_frame(sock)
        sock.settimeout(20)  # a leaked handle keeps the socket open: fail, not hang
        return got, sock.recv(1)  # b"": the client closed TCP

    server = raw_server(script)
    conn = wsclient.connect(server.url)
    conn.send("x")
    handle = _ffi.address(conn._ptr)
    collected = []
    weakref.finalize(conn, collected.append, True)
    conn.self = conn  # a reference cycle: only the cycle collector frees it
    del conn
    gc.collect()
    assert collected == [True]
    assert freed == [handle]
    assert server.join() == ((True, 0, 1, b"x"), b"")


def test_close_waits_at_most_the_timeout(raw_server):
    """A server that never answers our close frame: close() gives up."""

    def script(sock):
        got = read_client_frame(sock)
        sock.recv(1)  # wait until the client closes TCP
        return got

    server = raw_server(script)
    conn = wsclient.connect(server.url)
    conn.close("going-away", timeout=0.2)
    assert conn.closed
    fin, rsv, opcode, payload = server.join()
    assert opcode == 8 and payload == wsclient.reason_to_close_code("going-away")


# ---------------------------------------------------------------- fails


def expect_fail(raw_server, frames, code, reason, **connect_kwargs):
    def script(sock):
        for f in frames:
            sock.sendall(f)
        return read_client_frame(sock)  # the client's close frame

    server = raw_server(script)
    conn = wsclient.connect(server.url, **connect_kwargs)
    with conn:
        with pytest.raises(wsclient.WebSocketFailure) as info:
            conn.recv()
        assert conn.state == "closed"
    e = info.value
    assert e.code == code and e.reason == reason
    assert isinstance(e, wsclient.exceptions.ProtocolError if code != 1009 else wsclient.exceptions.PayloadTooBig)
    assert e.message
    fin, rsv, opcode, payload = server.join()
    assert opcode == 8 and payload[:2] == code.to_bytes(2, "big")
    return e


def test_fail_masked_server_frame(raw_server):
    expect_fail(raw_server, [server_frame(1, b"hi", mask=b"abcd")], 1002, "protocol-error")


def test_fail_reserved_opcode(raw_server):
    expect_fail(raw_server, [server_frame(3, b"")], 1002, "protocol-error")


def test_fail_rsv_without_extension(raw_server):
    expect_fail(raw_server, [server_frame(1, b"x", rsv=4)], 1002, "protocol-error")


def test_fail_invalid_utf8(raw_server):
    e = expect_fail(raw_server, [server_frame(1, b"\xff\xfe")], 1007, "invalid-frame-payload-data")
    assert e.result == -41


def test_fail_message_too_big(raw_server):
    frames = [server_frame(2, b"x" * 2000)]
    e = expect_fail(raw_server, frames, 1009, "message-too-big", max_message_size=1000)
    assert e.result == -50


def test_fail_frame_too_big(raw_server):
    expect_fail(raw_server, [server_frame(2, b"x" * 2000)], 1009, "message-too-big", max_frame_size=1000)


def test_fragmented_message_frames(raw_server):
    def script(sock):
        sock.sendall(server_frame(1, b"frag", fin=False) + server_frame(9, b"p") + server_frame(0, b"ment"))
        pong = read_client_frame(sock)
        sock.sendall(server_frame(8, (1000).to_bytes(2, "big")))
        read_client_frame(sock)
        return pong

    server = raw_server(script)
    with wsclient.connect(server.url) as conn:
        msg = conn.recv()
        assert msg.data == "fragment" and msg.type == "text"
        assert [f.opcode for f in msg.frames] == [1, 0]
        assert [f.fin for f in msg.frames] == [False, True]
        assert [f.payload_data for f in msg.frames] == [b"frag", b"ment"]
        assert conn.recv() is None
        assert conn.peer_close_code == 1000 and conn.peer_close_reason == ""
    assert server.join() == (True, 0, 0xA, b"p")  # the auto-pong


def test_close_frame_without_code(raw_server):
    def script(sock):
        sock.sendall(server_frame(8, b""))
        return read_client_frame(sock)

    server = raw_server(script)
    with wsclient.connect(server.url) as conn:
        assert conn.recv() is None
        assert conn.peer_close_code == 1005
    assert server.join()[2] == 8


def test_connection_lost(raw_server):
    server = raw_server(lambda sock: None)  # handshake, then TCP close
    with wsclient.connect(server.url) as conn:
        with pytest.raises(wsclient.NetworkError) as info:
            conn.recv()
        assert info.value.result == -14
        assert conn.state == "closed"
    server.join()


def test_unoffered_subprotocol_is_a_protocol_failure(raw_server):
    # RFC 6455 §4.1: a protocol error (1002, WS_ERR_PROTOCOL); 1010 and
    # WS_ERR_NEGOTIATION are for extensions.
    server = raw_server(lambda sock: sock.recv(100), extra_headers=[("Sec-WebSocket-Protocol", "bogus")])
    with pytest.raises(wsclient.WebSocketFailure) as info:
        wsclient.connect(server.url, subprotocols=["chat"])
    assert info.value.result == -40
    assert info.value.code == 1002 and info.value.reason == "protocol-error"
    server.join()


def test_negotiation_failure_unoffered_extension(raw_server):
    extension = [("Sec-WebSocket-Extensions", "permessage-deflate")]
    server = raw_server(lambda sock: sock.recv(100), extra_headers=extension)
    with pytest.raises(wsclient.WebSocketFailure) as info:
        wsclient.connect(server.url)
    assert info.value.code == 1010 and info.value.reason == "mandatory-ext"
    server.join()


def test_fail_compressed_message_too_big_after_inflating(raw_server):
    """A small compressed frame that inflates beyond the limit (a zip bomb)."""
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = c.compress(b"\0" * (4 << 20)) + c.flush(zlib.Z_SYNC_FLUSH)
    assert body.endswith(b"\x00\x00\xff\xff") and len(body) < 10_000
    frames = [server_frame(2, body[:-4], rsv=4)]

    def script(sock):
        for f in frames:
            sock.sendall(f)
        return read_client_frame(sock)

    server = raw_server(script, extra_headers=[("Sec-WebSocket-Extensions", "permessage-deflate")])
    with wsclient.connect(server.url, deflate=True, max_message_size=1 << 20) as conn:
        assert conn.compression
        with pytest.raises(wsclient.WebSocketFailure) as info:
            conn.recv()
    assert info.value.code == 1009 and info.value.reason == "message-too-big"
    assert server.join()[3][:2] == (1009).to_bytes(2, "big")
