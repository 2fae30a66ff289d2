"""The event-library examples (libuv, libevent, GLib): each opens 5
connections with ws_connect_start from one loop, gets one echo on each and
closes each cleanly, against the websockets echo server."""

import shutil
import subprocess

import pytest

from conftest import BUILD
from harness import echo_server

N = 5
# (example, pkg-config name, Debian package, word in its messages)
EXAMPLES = [
    ("libuv_client", "libuv", "libuv1-dev", "libuv"),
    ("libevent_client", "libevent", "libevent-dev", "libevent"),
    ("glib_client", "glib-2.0", "libglib2.0-dev", "GLib"),
]


def library_found(name):
    return shutil.which("pkg-config") is not None and (
        subprocess.run(["pkg-config", "--exists", name]).returncode == 0
    )


@pytest.mark.parametrize("example,pkg,package,word", EXAMPLES, ids=[e[0] for e in EXAMPLES])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_event_library_example_echoes_on_every_connection(example, pkg, package, word, host):
    if not library_found(pkg):
        pytest.skip(f"{pkg} not found by pkg-config (Debian: apt-get install {package}); "
                    f"make does not build {example} without it")
    # localhost goes through the name lookup: one more descriptor change.
    with echo_server() as port:
        result = subprocess.run(
            [str(BUILD / "examples" / example), f"ws://{host}:{port}/", str(N)],
            capture_output=True, text=True, timeout=60,
        )
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    echoes = sorted(line for line in result.stdout.splitlines() if line.split(":")[0].isdigit())
    assert echoes == sorted(f'{i}: echoed "hello from {word}, connection {i}"' for i in range(N))
    assert f"{N} of {N} connections echoed" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("example,pkg,package,word", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_event_library_example_fails_when_nothing_listens(example, pkg, package, word):
    if not library_found(pkg):
        pytest.skip(f"{pkg} not found by pkg-config (Debian: apt-get install {package})")
    result = subprocess.run(
        [str(BUILD / "examples" / example), "ws://127.0.0.1:1/", "2"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.count("Connection refused") == 2
    assert "0 of 2 connections echoed" in result.stdout
