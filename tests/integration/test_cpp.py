"""The C++17 API (include/wsclient.hpp): its tests under ASan/UBSan and its
example, against real websockets servers started here; and that the header
stands alone with -Wpedantic."""

import subprocess

from conftest import BUILD, ROOT
from harness import echo_server, running


def run(cmd, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_cpp_api_suite_under_asan():
    with echo_server("--deflate") as port, echo_server("--subprotocol", "chat") as chat:
        result = run([str(BUILD / "tests" / "test_wsclient_cpp"),
                      f"ws://127.0.0.1:{port}", f"ws://127.0.0.1:{chat}"])
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(", 0 failed")


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
