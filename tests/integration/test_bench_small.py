"""The small-message benchmark's harness (benches/small.py, `make
bench-small`) runs end to end: every client of every workload with a few
messages and one round, a line per client in each table, figures that are
there and not zero. Nothing about speed is checked. About 10 s.

The clients are built by `make test-c` (build/benches/small_client and
small_server, target/bench-peers/release/tungstenite_client)."""

import json
import os
import re
import subprocess
import sys

from conftest import BUILD, ROOT

TARGET = os.environ.get("CARGO_TARGET_DIR", ROOT / "target")
SERVER = BUILD / "benches" / "small_server"
C_CLIENT = BUILD / "benches" / "small_client"
TUNGSTENITE = os.path.join(TARGET, "bench-peers", "release", "tungstenite_client")

NATIVE = ["raw TCP, same bytes", "tungstenite", "libwsclient C"]
PYTHON = ["libwsclient Python sync", "libwsclient Python asyncio", "libwsclient Python more=True",
          "websockets sync", "websockets asyncio", "websocket-client"]
SECTIONS = {
    "### 512 text messages of 128 bytes, 256 in flight":
        NATIVE + ["libwsclient C, ws_recv_messages", "libwsclient C, ws_send_messages + ws_recv_messages",
                  "libwsclient C, traced"] + PYTHON,
    "### Round trip: 40 text messages of 32 bytes, one at a time": NATIVE,
    "### 2 text messages of 1 MiB, one at a time": NATIVE,
    "### 2 binary messages of 1 MiB, one at a time": NATIVE,
}


def tables(stdout):
    """{section heading: {client: its table row's cells}}."""
    found, heading = {}, None
    for line in stdout.splitlines():
        if line.startswith("### "):
            heading = line
            found[heading] = {}
        elif heading and line.startswith("| ") and not line.startswith("| client") and "---" not in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            found[heading][cells[0]] = cells
    return found


def test_every_client_runs_and_reports(tmp_path):
    for path in (SERVER, C_CLIENT, TUNGSTENITE):
        assert os.access(path, os.X_OK), f"{path} is missing: make test-c builds it"
    figures = tmp_path / "runs.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benches" / "small.py"), "--server", str(SERVER), "--c-client", str(C_CLIENT),
         "--tungstenite", str(TUNGSTENITE), "--rounds", "1", "--messages", "512", "--rtt-messages", "40",
         "--large-messages", "2", "--json", str(figures)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

    found = tables(result.stdout)
    assert list(found) == list(SECTIONS), result.stdout
    for heading, clients in SECTIONS.items():
        assert list(found[heading]) == clients, heading
        for client, cells in found[heading].items():
            rate = re.fullmatch(r"([0-9.]+)( [kM])?", cells[1])
            assert rate and float(rate.group(1)) > 0, (heading, cells)
            assert cells[-3:] != ["-", "-", "-"], (heading, cells)  # user, sys, server µs/msg

    runs = json.loads(figures.read_text())
    assert sorted(runs) == ["large-binary", "large-text", "rtt", "small"]
    for workload, clients in runs.items():
        for client, [run] in clients.items():
            assert run["messages"] > 0 and run["seconds"] > 0, (workload, client, run)
            assert run["user_s"] + run["sys_s"] > 0, (workload, client, run)
            assert run["process_user_s"] + run["process_sys_s"] > 0 and run["server_s"] > 0, (workload, client)
    assert "Goals of issue 24" in result.stdout and "Load average" in result.stdout
