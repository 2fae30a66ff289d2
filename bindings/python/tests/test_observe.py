"""Observability from Python (issue 23) over real sockets: the trace in the
``wsclient`` logger (or ``logger=``) at DEBUG, ``latency``, ``stats``, and
no trace callback at all when the logger does not take DEBUG records."""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from wstest_helpers import ClientFrame, StartServer, read_client_frame, server_frame

import wsclient
from wsclient import _ffi, _pings
from wsclient._connection import driver_of
from wsclient.asyncio.client import connect as async_connect
from wsclient.exceptions import ConnectionClosedError
from wsclient.sync.client import connect, reconnect

needs_pongs = pytest.mark.skipif(not _pings.SUPPORTED, reason="the library does not record pongs")


def messages(records: List[logging.LogRecord], conn_id: int) -> List[str]:
    """The messages of `conn_id`'s trace records, without the "[conn N] "."""
    prefix = f"[conn {conn_id}] "
    out = []
    for r in records:
        if getattr(r, "ws_conn_id", None) == conn_id:
            assert r.levelno == logging.DEBUG
            msg = r.getMessage()
            assert msg.startswith(prefix)
            out.append(msg[len(prefix):])
    return out


def events(records: List[logging.LogRecord], conn_id: int) -> List[str]:
    """The kinds of `conn_id`'s trace events, in order, one per event."""
    kinds: List[str] = []
    last: Optional[Dict[str, Any]] = None
    for r in records:
        fields = getattr(r, "ws_fields", None)
        if getattr(r, "ws_conn_id", None) == conn_id and fields is not last:
            kinds.append(getattr(r, "ws_event"))
            last = fields
    return kinds


class SetTrace:
    """A spy on ws_options_set_trace: how many callbacks were installed."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = _ffi.lib.ws_options_set_trace

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        return self.real(*args)


@pytest.fixture
def set_trace(monkeypatch: pytest.MonkeyPatch) -> SetTrace:
    spy = SetTrace()
    monkeypatch.setattr(_ffi.lib, "ws_options_set_trace", spy)
    return spy


@pytest.fixture
def quiet_wsclient() -> Iterator[logging.Logger]:
    """The wsclient logger at WARNING (as without any logging set up)."""
    log = logging.getLogger("wsclient")
    level = log.level
    log.setLevel(logging.WARNING)
    yield log
    log.setLevel(level)


# ---------------------------------------------------------------- the trace


def test_the_wsclient_logger_gets_the_handshake_frames_and_close(
    echo_url: str, caplog: pytest.LogCaptureFixture, set_trace: SetTrace
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsclient")
    with connect(echo_url + "/path?q=1", additional_headers={"Authorization": "Bearer s3cret-t0ken"}) as ws:
        ws.send("hello")
        assert ws.recv() == "hello"
        ws.send(b"\x00" * 300)
        assert ws.recv() == b"\x00" * 300
        conn_id = ws.conn_id
    assert set_trace.calls == 1
    assert conn_id > 0 and isinstance(ws.id, uuid.UUID)
    assert all(r.name == "wsclient" for r in caplog.records if hasattr(r, "ws_conn_id"))
    lines = messages(caplog.records, conn_id)
    # The handshake, as websockets.client logs it.
    assert "> GET /path?q=1 HTTP/1.1" in lines
    assert any(line.startswith("> Host: 127.0.0.1:") for line in lines)
    assert "> Authorization: [redacted]" in lines
    assert "< HTTP/1.1 101 Switching Protocols" in lines
    assert "< Upgrade: websocket" in lines
    assert any(line.startswith("= connection is OPEN") for line in lines)
    # Frames both ways (the echo server does not compress).
    assert lines.count("> TEXT [5 bytes]") == 1 and lines.count("< TEXT [5 bytes]") == 1
    assert "> BINARY [300 bytes]" in lines and "< BINARY [300 bytes]" in lines
    # The close, both ways.
    assert "= close sent: 1000" in lines and "= close received: 1000" in lines
    assert "> CLOSE [2 bytes]" in lines and "< CLOSE [2 bytes]" in lines
    kinds = events(caplog.records, conn_id)
    assert kinds[0] == "tcp-attempt"
    order = ["tcp-connected", "request-sent", "response", "open", "frame-sent", "frame-received", "close-sent",
             "close-received"]
    assert list(dict.fromkeys(k for k in kinds if k in order)) == order  # each kind's first event
    # The fields of an event, by name.
    sent = [getattr(r, "ws_fields") for r in caplog.records if getattr(r, "ws_event", "") == "frame-sent"]
    assert {"opcode": 1, "length": 5, "fin": 1, "rsv1": 0}.items() <= sent[0].items()
    assert "elapsed_us" in sent[0]
    # No secret in any record.
    assert not any("s3cret" in r.getMessage() or "s3cret" in str(r.__dict__) for r in caplog.records)


def test_a_failure_and_a_refusal_are_logged(
    raw_server: StartServer, echo_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsclient")

    def script(sock: Any) -> ClientFrame:
        sock.sendall(server_frame(1, b"\xff\xfe"))  # invalid UTF-8
        return read_client_frame(sock)

    server = raw_server(script)
    with connect(server.url) as ws:
        with pytest.raises(ConnectionClosedError):
            ws.recv()
        conn_id = ws.conn_id
    server.join()
    lines = messages(caplog.records, conn_id)
    assert "< TEXT [2 bytes]" in lines
    assert any(line.startswith("! failed: ") for line in lines)
    assert any(line.startswith("= close sent: 1007") for line in lines)

    caplog.clear()
    r = wsclient.connect(echo_url + "/status/403")
    assert isinstance(r, wsclient.HTTPResponse) and r.status == 403
    assert any(m.endswith("< HTTP/1.1 403 Forbidden") for m in caplog.messages)


def test_logger_argument_a_logger_a_name_or_an_adapter(echo_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tests.observe")
    mine = logging.getLogger("tests.observe")
    with wsclient.connect(echo_url + "/", logger=mine) as conn:
        assert conn.logger is mine
        conn.send("one")
        assert conn.recv() is not None
        by_object = conn.conn_id
    assert "> TEXT [3 bytes]" in messages(caplog.records, by_object)
    assert {r.name for r in caplog.records if getattr(r, "ws_conn_id", 0) == by_object} == {"tests.observe"}

    with connect(echo_url + "/", logger="tests.observe") as ws:
        assert ws.logger is mine
        ws.send("two")
        ws.recv()
        by_name = ws.conn_id
    assert "> TEXT [3 bytes]" in messages(caplog.records, by_name)
    assert not any(r.name == "wsclient" for r in caplog.records)

    adapter = logging.LoggerAdapter(mine, {"who": "adapter"})
    with wsclient.connect(echo_url + "/", logger=adapter) as conn:
        conn.send("three")
        conn.recv()
        by_adapter = conn.conn_id
    assert any(getattr(r, "who", None) == "adapter" for r in caplog.records)
    assert any(m.endswith("> TEXT [5 bytes]") and f"[conn {by_adapter}]" in m for m in caplog.messages)

    with pytest.raises(TypeError):
        wsclient.connect(echo_url + "/", logger=42)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["sync", "asyncio"])
def test_reconnecting_is_logged_to_the_logger_given(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tests.observe")
    failures: List[Exception] = []

    def once_more(exc: Exception) -> Optional[Exception]:
        failures.append(exc)
        return None if len(failures) == 1 else exc  # one retry, then give up

    def delays() -> Iterator[float]:
        return iter([0.0, 0.0])

    url = "ws://127.0.0.1:1/"  # nothing listens there
    with pytest.raises(OSError):
        if mode == "sync":
            for _ in reconnect(url, logger="tests.observe", process_exception=once_more, reconnect_delays=delays):
                pass
        else:
            async def main() -> None:
                async for _ in async_connect(url, logger="tests.observe", process_exception=once_more,
                                             reconnect_delays=delays):
                    pass

            asyncio.run(asyncio.wait_for(main(), 30))
    assert len(failures) == 2
    retry = [r for r in caplog.records if r.getMessage().startswith("connect failed; reconnecting in 0.0 seconds")]
    assert [r.name for r in retry] == ["tests.observe"]
    assert any(r.name == "tests.observe" and r.getMessage().endswith("= connecting to 127.0.0.1:1")
               for r in caplog.records)


def test_no_trace_callback_unless_the_logger_takes_debug(
    echo_url: str, caplog: pytest.LogCaptureFixture, set_trace: SetTrace, quiet_wsclient: logging.Logger
) -> None:
    caplog.set_level(logging.DEBUG, logger="tests.observe")  # another logger is verbose: no matter
    with connect(echo_url + "/") as ws:
        conn = ws._conn
        assert conn._trace is None and driver_of(conn).trace is None
        quiet_wsclient.setLevel(logging.DEBUG)  # too late for this connection
        ws.send("hello")
        assert ws.recv() == "hello"
        quiet_wsclient.setLevel(logging.WARNING)
    assert set_trace.calls == 0
    assert not any(hasattr(r, "ws_conn_id") for r in caplog.records)
    assert ws.stats["messages_in"] == 1  # the counters need no callback

    conn2 = wsclient.connect(echo_url + "/")
    assert isinstance(conn2, wsclient.Connection)
    with conn2:
        assert conn2._trace is None
    assert set_trace.calls == 0

    quiet_wsclient.setLevel(logging.DEBUG)
    with connect(echo_url + "/") as ws:
        assert ws._conn._trace is not None and driver_of(ws._conn).trace is ws._conn._trace
    assert set_trace.calls == 1


def test_the_callback_outlives_the_collector_and_a_failing_handler(
    echo_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tests.observe")
    seen: List[str] = []
    inside: List[BaseException] = []
    target: List[wsclient.Connection] = []

    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())
            if target and getattr(record, "ws_conn_id", 0) == target[0].conn_id:
                try:
                    target[0].stats  # the library holds the connection's lock here
                except RuntimeError as e:
                    inside.append(e)
            raise ZeroDivisionError("a handler bug")

    log = logging.getLogger("tests.observe.broken")
    log.propagate = False
    log.addHandler(Broken())
    log.setLevel(logging.DEBUG)
    try:
        conn = wsclient.connect(echo_url + "/", logger=log)
        assert isinstance(conn, wsclient.Connection)
        target.append(conn)
        gc.collect()  # the ctypes callback is the connection's: still alive
        for i in range(20):
            conn.send(f"message {i}")
            msg = conn.recv()
            assert msg is not None and msg.data == f"message {i}"
        conn.close()
        stats = conn.stats  # outside the callback: fine, also after the close
        assert stats["messages_in"] == 20
    finally:
        log.handlers.clear()
    assert any(m.endswith("> TEXT [9 bytes]") for m in seen)
    assert inside and "while it logs" in str(inside[0])


# ---------------------------------------------------------------- counters


def test_stats_count_messages_and_bytes(echo_url: str) -> None:
    sizes = [0, 5, 125, 126, 1000]  # header sizes 2 (server), 2+4 (client), +2 from 126 on
    conn = wsclient.connect(echo_url + "/")
    assert isinstance(conn, wsclient.Connection)
    with conn:
        before = conn.stats
        assert before["messages_out"] == 0 and before["bytes_out"] == 0
        assert before["time_total_us"] >= before["time_http_us"] >= before["time_connect_us"]
        assert before["time_total_us"] > 0  # a round trip to the server at least
        assert before["time_tls_us"] == 0 and before["time_proxy_us"] == 0 and before["redirects"] == 0
        for n in sizes:
            conn.send_binary(b"x" * n)
            got = conn.recv()
            assert got is not None and got.size == n
        stats = conn.stats
        assert stats["messages_out"] == stats["messages_in"] == len(sizes)
        assert stats["frames_out"] == stats["frames_in"] == len(sizes)
        assert stats["payload_out"] == stats["payload_in"] == sum(sizes)
        assert stats["bytes_in"] == sum(n + (2 if n < 126 else 4) for n in sizes)
        assert stats["bytes_out"] == sum(n + (6 if n < 126 else 8) for n in sizes)
        assert stats["pings_sent"] == stats["pongs_received"] == 0 and conn.latency == 0.0
        with pytest.raises(TypeError):
            stats["bytes_in"] = 0  # type: ignore[index]
        assert stats == dict(stats) and "rtt_smoothed_us" in stats and "time_tls_us" in stats
    after = conn.stats  # the values at the close
    assert after["frames_out"] == len(sizes) + 1 and after["messages_out"] == len(sizes)


@needs_pongs
def test_sync_latency_is_set_after_a_ping(echo_url: str) -> None:
    with connect(echo_url + "/") as ws:
        assert ws.latency == 0.0
        assert ws.stats["pings_sent"] == 0
        pong = ws.ping()
        ws.send("after the ping")
        assert ws.recv() == "after the ping"  # the pong came first
        assert pong.wait(10)
        assert ws.latency > 0
        stats = ws.stats
        assert stats["pings_sent"] == stats["pongs_received"] == 1
        assert stats["rtt_last_us"] == stats["rtt_smoothed_us"] == round(ws.latency * 1e6)
        assert stats["messages_out"] == stats["messages_in"] == 1
    assert ws.latency > 0  # still readable after the close


@needs_pongs
def test_asyncio_latency_stats_and_trace(echo_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wsclient")

    async def main() -> int:
        async with async_connect(echo_url + "/", logger="wsclient") as ws:
            assert ws.latency == 0.0 and isinstance(ws.id, uuid.UUID) and ws.logger.name == "wsclient"
            waiter = await ws.ping()
            await asyncio.wait_for(waiter, 10)
            assert ws.latency > 0
            await ws.send("hello")
            assert await ws.recv() == "hello"
            stats = ws.stats
            assert stats["pings_sent"] == stats["pongs_received"] == 1
            assert stats["messages_in"] == stats["messages_out"] == 1
            assert stats["payload_in"] == stats["payload_out"] == 5
            return ws.conn_id

    conn_id = asyncio.run(asyncio.wait_for(main(), 30))
    lines = messages(caplog.records, conn_id)
    assert "> GET / HTTP/1.1" in lines and "< HTTP/1.1 101 Switching Protocols" in lines
    assert "> PING [4 bytes]" in lines and "< PONG [4 bytes]" in lines
    assert any(line.startswith("= pong received: round trip ") for line in lines)
    assert "> TEXT [5 bytes]" in lines and "< TEXT [5 bytes]" in lines
    assert "= close sent: 1000" in lines and "= close received: 1000" in lines


def test_tls_and_deflate_show_in_trace_and_stats(pki: Path, tls_port: int, deflate_url: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wsclient")
    with connect(f"wss://localhost:{tls_port}/", ca_file=pki / "ca.pem") as ws:
        ws.send("over TLS")
        assert ws.recv() == "over TLS"
        stats, conn_id = ws.stats, ws.conn_id
    assert stats["time_total_us"] >= stats["time_http_us"] >= stats["time_tls_us"] > 0
    lines = messages(caplog.records, conn_id)
    assert any(line.startswith("= TLS done: TLSv1.3") for line in lines)

    with connect(deflate_url + "/") as ws:
        ws.send("a" * 1000)
        assert ws.recv() == "a" * 1000
        stats, conn_id = ws.stats, ws.conn_id
    assert stats["payload_out"] == stats["payload_in"] == 1000
    assert stats["bytes_out"] < 100 and stats["bytes_in"] < 100  # compressed on the wire
    assert any(line.startswith("> TEXT [") and line.endswith(" bytes, compressed]")
               for line in messages(caplog.records, conn_id))
