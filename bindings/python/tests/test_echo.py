"""Messages through the websockets echo server."""

import os

import pytest

import wsclient
from wsclient import Frame, Message


@pytest.fixture
def conn(echo_url):
    with wsclient.connect(echo_url + "/") as c:
        yield c


@pytest.mark.parametrize(
    "text",
    ["hello", "", "héllo wörld ✓ 日本語 🎉", "\u0000 nul inside", "x" * 125, "y" * 126, "z" * 70000],
)
def test_echo_text(conn, text):
    conn.send(text)
    msg = conn.recv()
    assert isinstance(msg, Message)
    assert msg.type == "text"
    assert msg.data == text
    assert msg.size == len(text.encode("utf-8"))


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 100_000])
def test_echo_binary(conn, size):
    data = os.urandom(size)
    conn.send(data)
    msg = conn.recv()
    assert msg.type == "binary"
    assert msg.data == data
    assert msg.data_bytes == data
    assert msg.size == size


@pytest.mark.parametrize("size", [3 << 20, 9 << 20])
def test_echo_multi_mib(conn, size):
    data = os.urandom(size)
    conn.send_binary(data)
    assert conn.recv().data == data
    text = "é✓" * (size // 5)
    conn.send_text(text)
    assert conn.recv().data == text


def test_send_accepts_bytes_like(conn):
    for data in (bytearray(b"ab"), memoryview(b"abcd")[1:3]):
        conn.send(data)
        assert conn.recv().data == bytes(data)


def test_frames_of_a_received_message(conn):
    conn.send("frames")
    msg = conn.recv()
    (frame,) = msg.frames
    assert frame.fin and frame.opcode == 1 and frame.optype == "text"
    assert not frame.mask  # received frames are never masked
    assert frame.payload_length == 6 and frame.payload_data == b"frames"
    assert frame.rsv == 0 and not frame.rsv_bit(4)


def test_echo_a_received_message(conn):
    conn.send(b"\x01\x02\x03")
    msg = conn.recv()
    conn.send_message(msg)  # the egg's way to echo
    again = conn.recv()
    assert again == msg and again.type == "binary"


def test_send_a_built_message(conn):
    conn.send_message(Message("text", "built"))
    assert conn.recv().data == "built"


def test_iteration(echo_url):
    with wsclient.connect(echo_url + "/") as conn:
        for i in range(3):
            conn.send(f"m{i}")
        got = []
        for msg in conn:
            got.append(msg.data)
            if len(got) == 3:
                break
        assert got == ["m0", "m1", "m2"]


def test_iteration_ends_when_the_server_closes(echo_url):
    with wsclient.connect(echo_url + "/close/1001") as conn:
        assert list(conn) == []
        assert list(conn) == []  # stays exhausted
        assert conn.peer_close_code == 1001


def test_recv_message_loop(echo_url):
    port = echo_url.rsplit(":", 1)[1]
    with wsclient.connect(f"ws://127.0.0.1:{port}/") as conn:
        conn.send("a")
        conn.send("b")
        seen = []

        def handler(msg):
            seen.append(msg.data)
            if len(seen) == 2:
                return "stop"
            return None

        assert conn.recv_message_loop(handler) == "stop"
        assert seen == ["a", "b"]
        with pytest.raises(TypeError):
            conn.recv_message_loop("not callable")


def test_recv_message_loop_until_close(echo_url):
    with wsclient.connect(echo_url + "/close/1000") as conn:
        assert conn.recv_message_loop(lambda m: None) is None


def test_fragmented_send_with_frames(conn):
    conn.send_frame(Frame("text", b"hel", fin=False))
    conn.send_frame(Frame("continuation", b"lo", fin=False))
    conn.send_frame(Frame(0, b"!"))
    assert conn.recv().data == "hello!"


def test_ping_pong_with_frames(conn):
    conn.send_frame(Frame("ping", b"are you there"))
    pong = conn.recv_frame()
    assert pong.optype == "pong" and pong.payload_data == b"are you there"
    conn.ping("text ping")
    pong = conn.recv_frame()
    assert pong.opcode == 0xA and pong.payload_data == b"text ping"


def test_recv_skips_pongs(conn):
    conn.ping(b"x")
    conn.send("after ping")
    assert conn.recv().data == "after ping"


def test_recv_frame_of_a_message(conn):
    conn.send("whole")
    f = conn.recv_frame()
    assert (f.fin, f.optype, f.payload_data) == (True, "text", b"whole")


def test_fragment_size_option(echo_url):
    with wsclient.connect(echo_url + "/", fragment_size=1000) as conn:
        data = os.urandom(10_000)
        conn.send(data)
        assert conn.recv().data == data


def test_ping_payload_limit(conn):
    conn.ping(b"x" * 125)
    with pytest.raises(ValueError):
        conn.ping(b"x" * 126)
    conn.send("still fine")
    assert conn.recv().data == "still fine"


def test_send_type_errors(conn):
    with pytest.raises(TypeError):
        conn.send(12)
    with pytest.raises(TypeError):
        conn.send(None)
    with pytest.raises(TypeError):
        conn.send_text(b"bytes")
    with pytest.raises(TypeError):
        conn.send_binary("str")
    with pytest.raises(TypeError):
        conn.send_message("str")
    with pytest.raises(TypeError):
        conn.send_frame(b"\x81\x00")
    with pytest.raises(TypeError):
        conn.send("x", compress=1)
    with pytest.raises(ValueError):
        conn.send_text("\udcff")
    with pytest.raises(TypeError):
        conn.ping(5)
    with pytest.raises(TypeError):
        conn.recv(timeout="1")
    with pytest.raises(ValueError):
        conn.recv(timeout=-1)
    with pytest.raises(TypeError):
        conn.header(b"name")
    # The connection is still fine after all that.
    conn.send("ok")
    assert conn.recv().data == "ok"


def test_properties(conn):
    assert conn.subprotocol is None
    assert conn.compression is False
    assert conn.state == "open" and not conn.closed
    assert conn.peer_close_code is None and conn.peer_close_reason is None
    assert isinstance(conn.fileno(), int) and conn.fileno() >= 0
    assert conn.header("upgrade").lower() == "websocket"
    assert conn.header("Sec-WebSocket-Accept")
    assert conn.header("X-Not-There") is None
    assert conn.url.startswith("ws://127.0.0.1:")
    assert "open" in repr(conn)


def test_sends_marked_more_are_queued_then_written_together(conn):
    from wsclient import _ffi

    for i in range(50):
        conn.send(f"message {i}", more=True)
    queued = _ffi.lib.ws_conn_queued_bytes(conn._ptr)
    assert queued >= 50 * len("message 0"), "sends marked more= were written at once"
    conn.send_binary(b"last")
    assert _ffi.lib.ws_conn_queued_bytes(conn._ptr) == 0
    assert [conn.recv().data for _ in range(51)] == [f"message {i}" for i in range(50)] + [b"last"]
    with pytest.raises(TypeError):
        conn.send("x", more="yes")


def test_a_long_batch_goes_out_in_64_kib_pieces(conn):
    from wsclient import _ffi

    payload = b"x" * 100  # a 106-byte frame with the client's header
    highest = 0
    for _ in range(1000):
        conn.send_binary(payload, more=True)
        highest = max(highest, _ffi.lib.ws_conn_queued_bytes(conn._ptr))
    # Corked up to 64 KiB, then written: never held whole (106 KB).
    assert 60000 < highest < 65536 + 200, f"queue reached {highest} bytes"
    conn.send_binary(b"last")
    assert [len(conn.recv().data) for _ in range(1001)] == [100] * 1000 + [4]
