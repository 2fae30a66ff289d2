"""The egg's maps, Message and Frame, and argument checking (no network)."""

import pytest

import wsclient
from wsclient import Frame, Message

OPTYPES = {
    0x0: "continuation",
    0x1: "text",
    0x2: "binary",
    0x8: "connection-close",
    0x9: "ping",
    0xA: "pong",
}

REASONS = {
    1000: "normal-closure",
    1001: "going-away",
    1002: "protocol-error",
    1003: "unsupported-data",
    1005: "no-status-rcvd",
    1006: "abnormal-closure",
    1007: "invalid-frame-payload-data",
    1008: "policy-violation",
    1009: "message-too-big",
    1010: "mandatory-ext",
    1011: "internal-server-error",
    1015: "tls-handshake",
}


@pytest.mark.parametrize("opcode,optype", sorted(OPTYPES.items()))
def test_opcode_optype_round_trip(opcode, optype):
    assert wsclient.opcode_to_optype(opcode) == optype
    assert wsclient.optype_to_opcode(optype) == opcode


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_are_not_found(opcode):
    with pytest.raises(wsclient.NotFound) as info:
        wsclient.opcode_to_optype(opcode)
    assert isinstance(info.value, wsclient.WebSocketException)
    assert isinstance(info.value, LookupError)
    assert info.value.result == -5
    assert "opcode" in str(info.value)


def test_unknown_optype():
    with pytest.raises(wsclient.NotFound, match="optype"):
        wsclient.optype_to_opcode("telegram")


@pytest.mark.parametrize("code,reason", sorted(REASONS.items()))
def test_reason_close_code_round_trip(code, reason):
    # The egg returns a u8vector; here 2 big-endian bytes.
    assert wsclient.reason_to_close_code(reason) == bytes([code >> 8, code & 0xFF])
    assert wsclient.reason_to_close_code_int(reason) == code
    assert wsclient.close_code_to_reason(code) == reason
    assert wsclient.close_code_to_reason(wsclient.reason_to_close_code(reason)) == reason


def test_egg_table_examples():
    assert wsclient.reason_to_close_code("normal-closure") == bytes([3, 232])
    assert wsclient.reason_to_close_code("tls-handshake") == bytes([3, 247])


@pytest.mark.parametrize("code", [0, 999, 1004, 1012, 3000, 4999, 65535])
def test_codes_outside_the_table(code):
    with pytest.raises(wsclient.NotFound):
        wsclient.close_code_to_reason(code)


def test_unknown_reason():
    with pytest.raises(wsclient.NotFound):
        wsclient.reason_to_close_code("because")


@pytest.mark.parametrize(
    "call",
    [
        lambda: wsclient.opcode_to_optype("1"),
        lambda: wsclient.opcode_to_optype(1.0),
        lambda: wsclient.opcode_to_optype(True),
        lambda: wsclient.opcode_to_optype(None),
        lambda: wsclient.optype_to_opcode(1),
        lambda: wsclient.optype_to_opcode(b"text"),
        lambda: wsclient.reason_to_close_code(1000),
        lambda: wsclient.close_code_to_reason("1000"),
        lambda: wsclient.close_code_to_reason(None),
    ],
)
def test_map_type_errors(call):
    with pytest.raises(TypeError):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: wsclient.opcode_to_optype(16),
        lambda: wsclient.opcode_to_optype(-1),
        lambda: wsclient.opcode_to_optype(256 + 1),  # would wrap to 1 in C
        lambda: wsclient.close_code_to_reason(65536 + 1000),  # would wrap to 1000
        lambda: wsclient.close_code_to_reason(b"\x03"),
        lambda: wsclient.optype_to_opcode("te\0xt"),
        lambda: wsclient.reason_to_close_code("normal-closure\0x"),
    ],
)
def test_map_value_errors(call):
    with pytest.raises(ValueError):
        call()


def test_text_message():
    m = Message("text", "héllo ✓")
    assert m.type == "text"
    assert m.data == "héllo ✓"
    assert m.data_bytes == "héllo ✓".encode()
    assert m.size == len("héllo ✓".encode())
    assert m.frames == ()
    assert not m.compressed
    assert m == Message("text", "héllo ✓")
    assert m != Message("binary", "héllo ✓".encode())


def test_binary_message():
    for data in (b"\x00\xff", bytearray(b"\x00\xff"), memoryview(b"\x00\xff")):
        m = Message("binary", data)
        assert m.type == "binary" and m.data == b"\x00\xff" and m.size == 2


def test_empty_messages():
    assert Message("text", "").data == ""
    assert Message("binary", b"").data == b""


@pytest.mark.parametrize(
    "args,exc",
    [
        (("text", b"bytes"), TypeError),
        (("binary", "str"), TypeError),
        (("binary", 5), TypeError),
        (("utf8", "x"), ValueError),
        ((1, "x"), TypeError),
        (("text", "\udc80"), ValueError),  # a lone surrogate is not UTF-8
    ],
)
def test_message_argument_errors(args, exc):
    with pytest.raises(exc):
        Message(*args)


def test_frame_construction():
    f = Frame("ping", b"hi")
    assert (f.fin, f.rsv, f.opcode, f.optype, f.mask) == (True, 0, 9, "ping", True)
    assert (f.payload_length, f.payload_data) == (2, b"hi")
    g = Frame(0x1, b"part", fin=False, rsv=5)
    assert (g.fin, g.rsv, g.optype) == (False, 5, "text")
    assert g.rsv_bit(4) and not g.rsv_bit(2) and g.rsv_bit(1)
    assert Frame(3).optype is None  # reserved opcode: allowed, no optype
    assert Frame("text", b"x") == Frame(1, bytearray(b"x"))


@pytest.mark.parametrize(
    "kwargs,exc",
    [
        (dict(opcode=16), ValueError),
        (dict(opcode=-1), ValueError),
        (dict(opcode="texts"), ValueError),
        (dict(opcode=1.0), TypeError),
        (dict(opcode=1, payload_data="str"), TypeError),
        (dict(opcode=1, rsv=8), ValueError),
        (dict(opcode=1, rsv=True), TypeError),
        (dict(opcode=1, fin=1), TypeError),
    ],
)
def test_frame_argument_errors(kwargs, exc):
    with pytest.raises(exc):
        Frame(**kwargs)


def test_exception_hierarchy():
    assert issubclass(wsclient.WebSocketFailure, wsclient.WebSocketError)
    # One root, websockets' name: the egg's *exn* is any other class than
    # WebSocketFailure (see test_exceptions.py).
    assert wsclient.WebSocketException is wsclient.WebSocketError
    assert issubclass(wsclient.WebSocketFailure, wsclient.WebSocketException)
    assert issubclass(wsclient.WebSocketTimeout, TimeoutError)
    assert issubclass(wsclient.WouldBlock, BlockingIOError)
    assert issubclass(wsclient.NetworkError, ConnectionError)
    assert issubclass(wsclient.InvalidArgument, ValueError)
    assert issubclass(wsclient.CertificateVerifyError, wsclient.TLSError)
    assert issubclass(wsclient.HandshakeRejected, wsclient.HandshakeError)
    e = wsclient.WebSocketTimeout("timed out", result=-11)
    assert str(e) == "timed out" and e.result == -11 and e.message == "timed out"


def test_library_version():
    assert wsclient.library_version() == "0.1.0"
    assert "libwsclient" in wsclient.library_path()


def test_all_is_exported():
    for name in wsclient.__all__:
        assert hasattr(wsclient, name), name


def test_pong_record_of_null_is_empty():
    from wsclient._ffi import lib

    assert lib.ws_conn_pong_count(None) == 0
    assert lib.ws_conn_last_pong(None, None, 0) == 0


def test_pong_record_counts_and_copies_at_most_cap(echo_url):
    import ctypes

    from wsclient._ffi import lib

    with wsclient.connect(echo_url + "/") as conn:
        conn.ping(b"first")
        conn.ping(b"second pong")
        conn.send("x")
        assert conn.recv().data == "x"  # the pongs came before the echo
        assert lib.ws_conn_pong_count(conn._ptr) == 2
        buf = ctypes.create_string_buffer(4)
        assert lib.ws_conn_last_pong(conn._ptr, buf, 4) == len(b"second pong")
        assert buf.raw == b"seco"
