"""Reconnecting: ``async for ws in wsclient.asyncio.client.connect(...)`` and
``for ws in wsclient.sync.client.reconnect(...)`` against a real
``websockets`` server in this process, which drops connections, closes them
with 1012 or 1013, or answers 403 and 503, and notes when each request
came and each connection ended: the delays between connections are
measured on the server's side of the socket.

The delays are set small through the environment (``WEBSOCKETS_BACKOFF_*``,
``WSCLIENT_BACKOFF_*``) or ``reconnect_delays``. Bounds below a delay
(a lower bound) hold whatever the machine's load; bounds above are loose
(a second and more), there only to see that a 5 s default was not used.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type

import pytest
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from wsclient import CertificateVerifyError, HandshakeError, NetworkError, WebSocketTimeout
from wsclient._response import HTTPResponse
from wsclient.asyncio.client import connect as aconnect
from wsclient.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
from wsclient.sync.client import backoff, process_exception, reconnect

MODES = ["sync", "asyncio"]
ENV_NAMES = [
    prefix + name
    for prefix in ("WSCLIENT_BACKOFF_", "WEBSOCKETS_BACKOFF_")
    for name in ("INITIAL_DELAY", "MIN_DELAY", "MAX_DELAY", "FACTOR")
]
#: Room above an expected delay for a loaded machine (see the docstring).
SLACK = 1.0

Exit = Optional[Exception]
Process = Callable[[Exception], Exit]


# ---------------------------------------------------------------- the server


class Recorder:
    """A websockets server whose behaviour is chosen by the path:

    /drop/T         send "hello", then cut TCP (no close frame)
    /close/CODE/T   send "hello", then close with CODE
    /echo/T         echo until the client closes
    /status/N/T     answer HTTP N
    /flaky/N/K/T    answer HTTP N to the first K requests, then accept (echo)

    (T: a token that makes the path, and so its counts, the test's own.)
    Events: (what, path, time.monotonic()) with what in "request" (before
    the answer), "end" (just before the server drops or closes) and
    "closed CODE" (the client's close code, for /echo).
    """

    def __init__(self) -> None:
        self.events: List[Tuple[str, str, float]] = []
        self.lock = threading.Lock()
        self.requests: Dict[str, int] = {}
        self.server: Server = serve(
            self.handler, "127.0.0.1", 0, process_request=self.process_request, ping_interval=None
        )
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="reconnect server", daemon=True)
        self.thread.start()

    def note(self, what: str, path: str) -> None:
        with self.lock:
            self.events.append((what, path, time.monotonic()))

    def times(self, what: str, path: str) -> List[float]:
        with self.lock:
            return [t for w, p, t in self.events if w == what and p == path]

    def process_request(self, connection: ServerConnection, request: Request) -> Optional[Response]:
        path = request.path
        self.note("request", path)
        with self.lock:
            seen = self.requests[path] = self.requests.get(path, 0) + 1
        parts = path.split("/")
        if parts[1] == "status":
            return connection.respond(int(parts[2]), "no\n")
        if parts[1] == "flaky" and seen <= int(parts[3]):
            return connection.respond(int(parts[2]), "not yet\n")
        return None

    def handler(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        parts = path.split("/")
        if parts[1] == "drop":
            ws.send("hello")
            self.note("end", path)
            ws.socket.shutdown(socket.SHUT_RDWR)
        elif parts[1] == "close":
            ws.send("hello")
            self.note("end", path)
            ws.close(int(parts[2]), "come back later")
        else:
            for message in ws:
                ws.send(message)
            self.note(f"closed {ws.close_code}", path)

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.server.shutdown()
    r.thread.join(5)


_tokens = itertools.count()


@pytest.fixture
def token() -> str:
    return f"t{next(_tokens)}"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No BACKOFF variable from the caller's environment."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def small_delays(monkeypatch: pytest.MonkeyPatch, prefix: str = "WEBSOCKETS_BACKOFF_", **values: float) -> None:
    for name, value in values.items():
        monkeypatch.setenv(prefix + name.upper(), str(value))


def refused_url() -> str:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{s.getsockname()[1]}/"


# ---------------------------------------------------------------- the loops, sync and asyncio

def session(mode: str, url: str, connections: int, body: str = "closed", **kwargs: Any) -> List[Any]:
    """Iterate `url` (sync: reconnect(); asyncio: async for in connect())
    until `connections` connections were yielded; return what each gave.

    body "closed": receive the first message, then the ConnectionClosed
    (its code is noted), as websockets' documentation's loop does.
    body "echo": one echo, then let the iterator close the connection.
    body "none": nothing (the iterator closes it).
    """
    got: List[Any] = []
    if mode == "sync":
        for ws in reconnect(url, **kwargs):
            if body == "closed":
                first = ws.recv(timeout=5)
                try:
                    ws.recv(timeout=5)
                except ConnectionClosed as exc:
                    got.append((first, exc.code))
            elif body == "echo":
                ws.send("ping")
                got.append(ws.recv(timeout=5))
            else:
                got.append(None)
            if len(got) == connections:
                break
        return got

    async def main() -> None:
        async for ws in aconnect(url, **kwargs):
            if body == "closed":
                first = await asyncio.wait_for(ws.recv(), 5)
                try:
                    await asyncio.wait_for(ws.recv(), 5)
                except ConnectionClosed as exc:
                    got.append((first, exc.code))
            elif body == "echo":
                await ws.send("ping")
                got.append(await asyncio.wait_for(ws.recv(), 5))
            else:
                got.append(None)
            if len(got) == connections:
                break

    asyncio.run(main())
    return got


def gaps(ends: List[float], starts: List[float]) -> List[float]:
    """Seconds from each connection's end to the next request."""
    return [b - a for a, b in zip(ends, starts[1:])]


# ---------------------------------------------------------------- drops and 1012, 1013


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["drop", "close/1012"])
def test_reconnects_three_times_within_the_backoff_bounds(
    mode: str, how: str, recorder: Recorder, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After a lost connection or a 1012, the next connect waits a random
    # delay up to the initial delay (0.05 s here, 5 s by default).
    small_delays(monkeypatch, initial_delay=0.05, min_delay=0.05, max_delay=0.05)
    path = f"/{how}/{token}"
    got = session(mode, recorder.url(path), 4)
    code = 1006 if how == "drop" else 1012
    assert got == [("hello", code)] * 4
    starts, ends = recorder.times("request", path), recorder.times("end", path)
    assert len(starts) == 4 and len(ends) == 4
    for gap in gaps(ends, starts):
        assert 0 <= gap < 0.05 + SLACK


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["drop", "close/1012", "close/1013"])
def test_a_server_that_dropped_or_asked_to_come_back_later_gets_a_delay(
    mode: str, how: str, recorder: Recorder, token: str
) -> None:
    # Unlike websockets, which reconnects at once: the first delay of a new
    # series (here a fixed 0.15 s) before connecting again.
    path = f"/{how}/{token}"
    got = session(mode, recorder.url(path), 2, reconnect_delays=lambda: itertools.repeat(0.15))
    assert [code for _, code in got] == [1006 if how == "drop" else int(how[-4:])] * 2
    (gap,) = gaps(recorder.times("end", path), recorder.times("request", path))
    assert gap >= 0.15


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["echo", "close/1000"])
def test_after_a_normal_end_the_next_connect_is_made_at_once(
    mode: str, how: str, recorder: Recorder, token: str
) -> None:
    # As websockets: a body that ends with the connection open (the
    # iterator closes it), or a normal close by the server, is followed by
    # a connect without a delay (here the delay would be 5 s).
    path = f"/{how}/{token}"
    got = session(mode, recorder.url(path), 3, "echo" if how == "echo" else "closed",
                  reconnect_delays=lambda: itertools.repeat(5.0))
    assert got == (["ping"] * 3 if how == "echo" else [("hello", 1000)] * 3)
    starts = recorder.times("request", path)
    if how == "echo":
        # The iterator closed each connection (1000) before the next one.
        deadline = time.monotonic() + 5
        while len(recorder.times("closed 1000", path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        ends = recorder.times("closed 1000", path)
    else:
        ends = recorder.times("end", path)
    for gap in gaps(ends, starts)[:2]:
        assert gap < 5.0 - SLACK


@pytest.mark.parametrize("mode", MODES)
def test_leaving_the_loop_closes_the_connection(mode: str, recorder: Recorder, token: str) -> None:
    path = f"/echo/{token}"
    assert session(mode, recorder.url(path), 1, "echo") == ["ping"]
    deadline = time.monotonic() + 5
    while not recorder.times("closed 1000", path) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(recorder.times("closed 1000", path)) == 1
    assert len(recorder.times("request", path)) == 1


# ---------------------------------------------------------------- failed connects: backoff


@pytest.mark.parametrize("mode", MODES)
def test_503_is_retried_with_exponential_backoff(
    mode: str, recorder: Recorder, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Delays 0 (random x 0), then 0.1, 0.2 (x2), 0.25 (the maximum).
    small_delays(monkeypatch, initial_delay=0, min_delay=0.1, factor=2, max_delay=0.25)
    path = f"/flaky/503/4/{token}"
    assert session(mode, recorder.url(path), 1, "echo") == ["ping"]
    starts = recorder.times("request", path)
    assert len(starts) == 5
    waits = [b - a for a, b in zip(starts, starts[1:])]
    for wait, delay in zip(waits, [0, 0.1, 0.2, 0.25]):
        assert delay <= wait < delay + SLACK


@pytest.mark.parametrize("mode", MODES)
def test_wsclient_variables_win_over_websockets_ones(
    mode: str, recorder: Recorder, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_delays(monkeypatch, "WEBSOCKETS_BACKOFF_", initial_delay=0, min_delay=0.01, max_delay=0.01)
    small_delays(monkeypatch, "WSCLIENT_BACKOFF_", min_delay=0.2, max_delay=0.2)
    path = f"/flaky/502/3/{token}"
    assert session(mode, recorder.url(path), 1, "echo") == ["ping"]
    starts = recorder.times("request", path)
    assert len(starts) == 4
    # 0 (WEBSOCKETS_BACKOFF_INITIAL_DELAY, not overridden), then 0.2 twice.
    assert starts[2] - starts[1] >= 0.2 and starts[3] - starts[2] >= 0.2


def test_backoff_series_and_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    first, *rest = itertools.islice(backoff(), 12)
    assert 0 <= first < 5.0
    expected = [3.1 * 1.618**i for i in range(8)]  # 3.1 .. 89.99, then 90
    assert rest == pytest.approx(expected + [90.0] * 3)
    # websockets' names, ours, ours winning, an empty one ignored.
    small_delays(monkeypatch, "WEBSOCKETS_BACKOFF_", initial_delay=0, min_delay=1, factor=3, max_delay=20)
    assert list(itertools.islice(backoff(), 5)) == [0, 1, 3, 9, 20]
    small_delays(monkeypatch, "WSCLIENT_BACKOFF_", min_delay=2, factor=2, max_delay=5)
    monkeypatch.setenv("WSCLIENT_BACKOFF_INITIAL_DELAY", "")
    assert list(itertools.islice(backoff(), 4)) == [0, 2, 4, 5]
    # Read when the series starts; arguments win over the environment.
    monkeypatch.setenv("WSCLIENT_BACKOFF_INITIAL_DELAY", "0.5")
    values = list(itertools.islice(backoff(min_delay=1, max_delay=1), 3))
    assert 0 <= values[0] < 0.5 and values[1:] == [1, 1]
    monkeypatch.setenv("WSCLIENT_BACKOFF_FACTOR", "fast")
    with pytest.raises(ValueError, match="WSCLIENT_BACKOFF_FACTOR"):
        backoff()


# ---------------------------------------------------------------- what is retried


@pytest.mark.parametrize("mode", MODES)
def test_403_stops_the_iteration_with_the_exception(
    mode: str, recorder: Recorder, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_delays(monkeypatch, initial_delay=0.01, min_delay=0.01, max_delay=0.01)
    calls, process = spy()
    path = f"/status/403/{token}"
    with pytest.raises(InvalidStatus) as info:
        session(mode, recorder.url(path), 1, process_exception=process)
    assert info.value.response.status_code == 403
    assert len(recorder.times("request", path)) == 1
    assert calls == [(info.value, info.value)]


def spy(limit: int = 3) -> Tuple[List[Tuple[Exception, Exit]], Process]:
    """The default process_exception, noting each call, which gives up
    (RuntimeError) after `limit` retries."""
    calls: List[Tuple[Exception, Exit]] = []

    def process(exc: Exception) -> Exit:
        verdict = process_exception(exc)
        calls.append((exc, verdict))
        if verdict is None and len(calls) >= limit:
            return RuntimeError("retried")
        return verdict

    return calls, process


class ClosingListener:
    """Reads the upgrade request of each TCP connection and closes it
    without an answer (the server goes away in the middle of the
    handshake)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}/"
        threading.Thread(target=self.run, daemon=True).start()

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                request = b""
                try:
                    while b"\r\n\r\n" not in request:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        request += chunk
                except OSError:
                    pass


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("failure", ["refused", "timeout", "closed in the handshake", "500", "504"])
def test_default_retries_network_errors_timeouts_and_server_errors(
    mode: str, failure: str, recorder: Recorder, token: str, silent_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_delays(monkeypatch, initial_delay=0.01, min_delay=0.01, max_delay=0.01)
    calls, process = spy()
    kwargs: Dict[str, Any] = {"process_exception": process}
    listener = ClosingListener()
    kind: Type[Exception]
    if failure == "refused":
        url, kind = refused_url(), NetworkError
    elif failure == "timeout":
        url, kind = silent_server.url, WebSocketTimeout
        kwargs["open_timeout"] = 0.05
    elif failure == "closed in the handshake":
        url, kind = listener.url, HandshakeError
    else:
        url, kind = recorder.url(f"/status/{failure}/{token}"), InvalidStatus
    try:
        with pytest.raises(RuntimeError, match="retried"):
            session(mode, url, 1, **kwargs)
    finally:
        listener.listener.close()
    assert len(calls) == 3
    assert all(isinstance(exc, kind) and verdict is None for exc, verdict in calls)


@pytest.mark.parametrize("mode", MODES)
def test_a_certificate_that_does_not_verify_is_not_retried(
    mode: str, tls_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_delays(monkeypatch, initial_delay=0.01, min_delay=0.01, max_delay=0.01)
    calls, process = spy()
    with pytest.raises(CertificateVerifyError):
        session(mode, f"wss://localhost:{tls_port}/", 1, process_exception=process)
    assert len(calls) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_bad_uri_is_not_retried(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    small_delays(monkeypatch, initial_delay=0.01, min_delay=0.01, max_delay=0.01)
    calls, process = spy()
    with pytest.raises(InvalidURI):
        session(mode, "http://127.0.0.1:1/", 1, process_exception=process)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "status, retried", [(500, True), (501, False), (502, True), (503, True), (504, True), (505, False),
                        (400, False), (401, False), (404, False), (429, False)]
)
def test_default_policy_by_status(status: int, retried: bool) -> None:
    exc = InvalidStatus(HTTPResponse(status, "", [], b""))
    assert (process_exception(exc) is None) is retried
    assert process_exception(ValueError("x")) is not None


# ---------------------------------------------------------------- process_exception=


@pytest.mark.parametrize("mode", MODES)
def test_process_exception_can_retry_a_403(
    mode: str, recorder: Recorder, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_delays(monkeypatch, initial_delay=0, min_delay=0.01, max_delay=0.01)

    def retry_refusals(exc: Exception) -> Exit:
        return None if isinstance(exc, InvalidStatus) else exc

    path = f"/flaky/403/2/{token}"
    assert session(mode, recorder.url(path), 1, "echo", process_exception=retry_refusals) == ["ping"]
    assert len(recorder.times("request", path)) == 3


@pytest.mark.parametrize("mode", MODES)
def test_process_exception_can_make_network_errors_fatal(mode: str) -> None:
    calls: List[Exception] = []

    def no_retry(exc: Exception) -> Exit:
        calls.append(exc)
        return exc

    with pytest.raises(NetworkError) as info:
        session(mode, refused_url(), 1, process_exception=no_retry)
    assert calls == [info.value]


@pytest.mark.parametrize("mode", MODES)
def test_process_exception_returning_or_raising_another_exception(mode: str) -> None:
    def replace(exc: Exception) -> Exit:
        return LookupError("gone")

    with pytest.raises(LookupError, match="gone") as info:
        session(mode, refused_url(), 1, process_exception=replace)
    assert isinstance(info.value.__cause__, NetworkError)

    def explode(exc: Exception) -> Exit:
        raise KeyError("from process_exception")

    with pytest.raises(KeyError, match="from process_exception"):
        session(mode, refused_url(), 1, process_exception=explode)

    def wrong(exc: Exception) -> Exit:
        return True  # type: ignore[return-value]

    with pytest.raises(TypeError, match="process_exception must return None or an exception"):
        session(mode, refused_url(), 1, process_exception=wrong)
