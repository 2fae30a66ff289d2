"""The C++17 API (include/wsclient.hpp): its tests under ASan/UBSan and its
example, against real websockets servers started here; that the header
stands alone with -Wpedantic, refuses C++14 in plain words, and wraps every
ws_options_* function."""

import re
import subprocess
import threading
from contextlib import contextmanager

from conftest import BUILD, ROOT
from harness import echo_server, running


def run(cmd, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@contextmanager
def close_recording_server():
    """An echo server (websockets, in a thread) that records, per request
    path, the close code and reason the client's close frame carried
    (1006 and "" when the connection ended without one)."""
    from websockets.sync.server import serve

    closes = {}

    def handler(ws):
        try:
            for message in ws:
                ws.send(message)
        except Exception:  # noqa: BLE001 - an abrupt end is what 1006 records
            pass
        rcvd = ws.protocol.close_rcvd
        closes[ws.request.path] = (rcvd.code, rcvd.reason) if rcvd else (1006, "")

    with serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.socket.getsockname()[1], closes
        finally:
            server.shutdown()
            thread.join(timeout=10)


def test_cpp_api_suite_under_asan():
    with echo_server("--deflate") as port, echo_server("--subprotocol", "chat") as chat, \
            close_recording_server() as (recording, closes):
        result = run([str(BUILD / "tests" / "test_wsclient_cpp"),
                      f"ws://127.0.0.1:{port}", f"ws://127.0.0.1:{chat}", f"ws://127.0.0.1:{recording}"])
        # The server's handlers finish once each connection has ended.
        deadline = 100
        while len(closes) < 6 and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(", 0 failed")
    # What the server saw: the destructor's close frame, not a dropped TCP
    # connection (1006).
    assert closes == {
        "/destroyed-open": (1001, "going away"),
        "/assigned-over": (1001, "going away"),
        "/assigned-then-destroyed": (1001, "going away"),
        "/destroyed-nonblocking": (1001, "going away"),
        "/closed-first": (4000, "mine"),
        "/no-goodbye": (1006, ""),
    }


def test_cpp_echo_example():
    words = ["eins", "двa"]
    with echo_server("--deflate") as port:
        result = run([str(BUILD / "examples-cpp" / "echo_client"), f"ws://127.0.0.1:{port}/", *words])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "connected (permessage-deflate)", "got back: eins", "got back: двa",
        "server closed with 1000 bye",
    ]
    with running("echo_server.py") as (port, _):
        result = run([str(BUILD / "examples-cpp" / "echo_client"), f"ws://127.0.0.1:{port}/status/404"])
    assert result.returncode == 1 and "HTTP 404" in result.stderr


def test_header_compiles_alone_with_pedantic_warnings(tmp_path):
    source = tmp_path / "alone.cpp"
    source.write_text('#include "wsclient.hpp"\nint main() { return 0; }\n')
    result = run(["c++", "-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only",
                  f"-I{ROOT / 'include'}", str(source)])
    assert result.returncode == 0, result.stderr


def test_header_under_cpp14_is_a_clear_error(tmp_path):
    source = tmp_path / "old.cpp"
    source.write_text('#include "wsclient.hpp"\nint main() { return 0; }\n')
    for std in ("c++11", "c++14"):
        result = run(["c++", f"-std={std}", "-fsyntax-only", f"-I{ROOT / 'include'}", str(source)])
        assert result.returncode != 0
        assert "wsclient.hpp needs C++17; use wsclient.h from C++11/14" in result.stderr
        # Only that error: no raw std::optional / string_view errors after it.
        assert result.stderr.count("error:") == 1, result.stderr


def test_every_options_function_is_wrapped():
    """Every ws_options_* function of the C header is called by the C++
    wrapper (test_wsclient.cpp calls each wrapper setter)."""
    header = (ROOT / "include" / "wsclient.h").read_text()
    wrapper = (ROOT / "include" / "wsclient.hpp").read_text()
    functions = set(re.findall(r"^[a-z].*?\b(ws_options_\w+)\(", header, re.M))
    assert len(functions) > 20
    missing = sorted(f for f in functions if not re.search(rf"\b{f}\b", wrapper))
    assert not missing, f"not reachable from wsclient.hpp: {missing}"
