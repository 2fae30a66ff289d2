"""Read timeouts, per-call timeouts, non-blocking mode, and threads (the GIL
is released while the library blocks)."""

import select
import signal
import sys
import threading
import time

import ctypes

import pytest
from wstest_helpers import read_client_frame, server_frame

import wsclient
from wsclient import _ffi
from wsclient._ffi import lib


def test_read_timeout_on_silent_server_then_usable(echo_url):
    with wsclient.connect(echo_url + "/silent", read_timeout=0.2) as conn:
        with pytest.raises(wsclient.WebSocketTimeout) as info:
            conn.recv()
        assert isinstance(info.value, TimeoutError)
        assert info.value.result == -11
        assert conn.state == "open"
        # Still usable: the server's library answers our ping.
        conn.ping(b"alive?")
        pong = conn.recv_frame()
        assert pong.optype == "pong" and pong.payload_data == b"alive?"
        with pytest.raises(wsclient.WebSocketTimeout):
            conn.recv()
        with pytest.raises(wsclient.WebSocketTimeout):
            conn.recv_frame()
    assert conn.peer_close_code == 1000  # the close handshake completed


def test_read_timeout_then_echo(echo_url):
    with wsclient.connect(echo_url + "/", timeout=5, read_timeout=0.1) as conn:
        with pytest.raises(wsclient.WebSocketTimeout):
            conn.recv()
        conn.send("after the timeout")
        assert conn.recv().data == "after the timeout"


def test_per_call_timeout(echo_url):
    with wsclient.connect(echo_url + "/") as conn:  # no read timeout: recv() would block
        with pytest.raises(wsclient.WebSocketTimeout):
            conn.recv(timeout=0.1)
        with pytest.raises(wsclient.WebSocketTimeout):
            conn.recv(timeout=0)
        conn.send("x" * 100_000)
        assert conn.recv(timeout=10).data == "x" * 100_000
        conn.send("blocking again")
        assert conn.recv().data == "blocking again"  # blocking mode restored


def test_per_call_timeout_sees_buffered_messages(raw_server):
    """Two messages in one TCP segment: after the first is received, the
    second is in the library's buffer and the socket is not readable."""

    def script(sock):
        sock.sendall(server_frame(1, b"one") + server_frame(1, b"two"))
        read_client_frame(sock)  # our close
        sock.sendall(server_frame(8, (1000).to_bytes(2, "big")))

    server = raw_server(script)
    with wsclient.connect(server.url) as conn:
        assert conn.recv().data == "one"
        assert conn.recv(timeout=0).data == "two"
    server.join()


def test_nonblocking_mode(echo_url):
    with wsclient.connect(echo_url + "/") as conn:
        conn.set_nonblocking(True)
        with pytest.raises(wsclient.WouldBlock) as info:
            conn.recv()
        assert isinstance(info.value, BlockingIOError)
        with pytest.raises(wsclient.WouldBlock):
            conn.recv_frame()
        conn.send("polled")
        while True:
            try:
                msg = conn.recv()
                break
            except wsclient.WouldBlock:
                select.select([conn.fileno()], [], [], 10)
        assert msg.data == "polled"
        with pytest.raises(wsclient.WebSocketTimeout):
            conn.recv(timeout=0.05)  # a timeout in non-blocking mode
        with pytest.raises(wsclient.WouldBlock):
            conn.recv()  # still non-blocking
        conn.set_nonblocking(False)
        conn.send("blocking")
        assert conn.recv().data == "blocking"
        with pytest.raises(TypeError):
            conn.set_nonblocking(1)


def main_thread_runs_while_blocked_in_library(dll, url):
    """Block one thread inside ws_recv_message (the library in blocking
    mode, a silent server, a 1.5 s read timeout) and count how long this
    thread keeps running Python meanwhile. True iff this thread ran for
    0.4 s while the other was still inside the library call."""
    recv = dll["ws_recv_message"]  # a fresh function object: no errcheck
    recv.argtypes = [_ffi.conn_p, ctypes.POINTER(_ffi.message_p)]
    recv.restype = ctypes.c_int32
    conn = wsclient.connect(url)
    try:
        ptr = conn._ptr
        lib.ws_conn_set_nonblocking(ptr, False)
        lib.ws_conn_set_timeouts(ptr, 1500, 0)
        state = {}
        started = threading.Event()

        def reader():
            out = _ffi.message_p()
            started.set()
            state["rc"] = recv(ptr, ctypes.byref(out))

        t = threading.Thread(target=reader)
        t.start()
        started.wait(10)
        deadline = time.monotonic() + 0.4
        spins = 0
        while time.monotonic() < deadline:
            spins += 1
        ran_meanwhile = "rc" not in state and spins > 0
        t.join(30)
        assert state["rc"] == _ffi.WS_ERR_TIMEOUT
        lib.ws_conn_set_nonblocking(ptr, True)
        return ran_meanwhile
    finally:
        conn.close()


def test_gil_released_while_blocked_in_a_library_call(echo_url):
    """The binding's library (CDLL) releases the GIL during a call that
    blocks in the kernel; the same probe with PyDLL (the GIL held) shows the
    probe can tell."""
    assert main_thread_runs_while_blocked_in_library(lib, echo_url + "/silent")
    held = ctypes.PyDLL(wsclient.library_path())
    assert not main_thread_runs_while_blocked_in_library(held, echo_url + "/silent")


def test_connection_shared_between_threads(echo_url):
    """Calls are serialised: threads taking turns on one connection."""
    with wsclient.connect(echo_url + "/") as conn:
        errors = []

        def worker(n):
            try:
                for _ in range(50):
                    conn.send_binary(bytes([n]) * 1000)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors
        counts = {}
        for _ in range(200):
            msg = conn.recv(timeout=10)
            assert msg.size == 1000 and len(set(msg.data)) == 1  # never interleaved
            counts[msg.data[0]] = counts.get(msg.data[0], 0) + 1
        assert counts == {0: 50, 1: 50, 2: 50, 3: 50}


class Alarm(Exception):
    pass


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_a_signal_interrupts_a_blocking_recv(echo_url):
    """A wait in recv() (no timeout) can be interrupted, e.g. by Ctrl-C: the
    handler's exception propagates and the connection stays usable."""

    def on_alarm(signum, frame):
        raise Alarm

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        with wsclient.connect(echo_url + "/silent") as conn:
            with pytest.raises(Alarm):
                signal.setitimer(signal.ITIMER_REAL, 0.1)
                conn.recv()
            conn.ping(b"still here")
            assert conn.recv_frame(timeout=10).payload_data == b"still here"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_send_while_another_thread_waits_in_recv(echo_url):
    """The reader waits in poll() without the connection's lock: the main
    thread sends meanwhile, and the reader gets the echoes."""
    with wsclient.connect(echo_url + "/") as conn:
        got = []

        def reader():
            for msg in conn:
                got.append(msg.data)
                if len(got) == 3:
                    return

        t = threading.Thread(target=reader)
        t.start()
        for i in range(3):
            conn.send(f"from main {i}")
        t.join(30)
        assert not t.is_alive()
        assert got == ["from main 0", "from main 1", "from main 2"]


def wait_until_polling(thread):
    """Wait until `thread` sits in wsclient's poll() (no sleeps to tune)."""
    while True:
        frame = sys._current_frames().get(thread.ident)
        while frame is not None:
            if frame.f_code.co_name == "_readable":
                return
            frame = frame.f_back
        time.sleep(0.001)


def test_close_from_another_thread_ends_a_waiting_recv(echo_url):
    conn = wsclient.connect(echo_url + "/silent")
    results = []

    def reader():
        results.append(list(conn))  # iterates until the connection ends

    t = threading.Thread(target=reader)
    t.start()
    wait_until_polling(t)
    conn.close("going-away")
    t.join(30)
    assert not t.is_alive()
    assert results == [[]]
    assert conn.closed and conn.peer_close_code == 1001
    with pytest.raises(wsclient.InvalidState):
        conn.recv()


@pytest.mark.skipif(not _ffi.available("ws_conn_flush"), reason="sends block inside the library")
def test_write_timeout_bounds_a_send_to_a_server_that_does_not_read(raw_server):
    stop = threading.Event()
    server = raw_server(lambda sock: stop.wait(60))
    try:
        conn = wsclient.connect(server.url, write_timeout=0.3, close_timeout=0.2, max_message_size=1 << 27)
        with pytest.raises(wsclient.WebSocketTimeout):
            conn.send_binary(bytes(64 << 20))
        assert conn.state == "open"  # nothing was half-sent: the message waits in the queue
        conn.close()
    finally:
        stop.set()
    server.join()
