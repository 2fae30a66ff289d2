"""Observability from C (tests/c/test_trace.c under ASan): the trace of a wss
connection with permessage-deflate through an authenticating CONNECT proxy,
and its counters checked against what the server itself counted."""

import re
import subprocess
from contextlib import contextmanager

from conftest import BUILD
from harness import make_pki, proxy_server, running

USER, PASSWORD = "alice", "s3cret-proxy-pw"


@contextmanager
def counting_server(*args):
    """tests/servers/counting_server.py; yields (port, its COUNT lines)."""
    with running("counting_server.py", *args) as (port, proc):
        lines = []
        yield port, lines, proc


def read_counts(proc, want):
    """The first `want` COUNT lines the server printed."""
    counts = []
    while len(counts) < want:
        line = proc.stdout.readline()
        assert line, "the counting server ended early"
        if line.startswith("COUNT "):
            counts.append(dict(kv.split("=") for kv in line.split()[1:]))
    return counts


def test_trace_and_counters_agree_with_the_server(tmp_path):
    pki = make_pki(tmp_path)
    with counting_server("--cert", pki / "server.pem", "--key", pki / "server.key") \
            as (port, _, proc), proxy_server(f"{USER}:{PASSWORD}") as proxy:
        result = subprocess.run(
            [str(BUILD / "tests" / "test_trace"), str(port), str(pki / "ca.pem"),
             proxy.url(f"{USER}:{PASSWORD}"), str(tmp_path)],
            capture_output=True, text=True, timeout=120,
        )
        print(result.stdout, result.stderr)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(", 0 failed")
        assert proxy.tunnelled_to(f"localhost:{port}")
        # The first connection is the traced one (the key log's follow).
        server = read_counts(proc, 1)[0]
    stats = dict(kv.split("=") for kv in re.search(r"^STATS (.*)$", result.stdout, re.M)
                 .group(1).split())
    assert stats["bytes_out"] == server["in"]
    assert stats["bytes_in"] == server["out"]
    assert stats["frames_out"] == server["frames_in"]
    assert stats["frames_in"] == server["frames_out"]
    assert stats["messages_out"] == server["messages_in"]
    assert stats["messages_in"] == server["messages_out"]
    assert stats["pings_sent"] == server["pings"] == "1"
