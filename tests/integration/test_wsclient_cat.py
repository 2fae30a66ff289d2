"""wsclient-cat (tools/wsclient-cat.c) driven over pipes against the
websockets echo server (and proxy.py) started here."""

import base64
import json
import os
import re
import subprocess
from pathlib import Path

from conftest import BUILD, ROOT
from harness import echo_server, make_pki, proxy_server, running

CAT = str(BUILD / "bin" / "wsclient-cat")


def cat(*args, stdin="", timeout=60):
    return subprocess.run([CAT, *map(str, args)], input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def events(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def test_lines_are_echoed_and_the_close_is_shown():
    with echo_server() as port:
        result = cat(f"ws://127.0.0.1:{port}/", stdin="one\nzwei\nтрі\nno newline at the end")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["one", "zwei", "трі", "no newline at the end"]
    assert "closed: 1000 (normal-closure)" in result.stderr


def test_binary_lines_come_back_as_binary_messages():
    with echo_server() as port:
        result = cat("--json", "--binary", f"ws://127.0.0.1:{port}/", stdin="\x01\x02 bytes\n")
    got = [e for e in events(result.stdout) if e["event"] == "message"]
    assert got == [{"event": "message", "type": "binary",
                    "base64": base64.b64encode(b"\x01\x02 bytes").decode()}]


def test_the_servers_close_code_and_reason_are_shown():
    # stdin stays open: the server, not the end of input, ends the session.
    with echo_server() as port:
        proc = subprocess.Popen([CAT, f"ws://127.0.0.1:{port}/close/4001"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.wait(timeout=30)
        err = proc.stderr.read()
        proc.stdin.close()
    assert proc.returncode == 0, err
    assert "closed: 4001 bye" in err


def test_json_events_for_a_whole_session():
    with echo_server("--deflate", "--subprotocol", "chat") as port:
        url = f"ws://127.0.0.1:{port}/headers"
        result = cat("--json", "-p", "other", "-p", "chat", "--deflate=server_max_window_bits=10",
                     "-H", "X-Trace: abc 123", "--origin", "http://example.test", url,
                     stdin='quote " and \\ and\ttab\n')
    assert result.returncode == 0, result.stderr
    evs = events(result.stdout)
    assert evs[0] == {"event": "open", "url": url, "subprotocol": "chat", "compression": True}
    request_headers = json.loads(evs[1]["data"])
    assert request_headers["X-Trace"] == "abc 123"
    assert request_headers["Origin"] == "http://example.test"
    assert "server_max_window_bits=10" in request_headers["Sec-WebSocket-Extensions"]
    assert evs[2] == {"event": "message", "type": "text", "data": 'quote " and \\ and\ttab'}
    assert evs[3] == {"event": "close", "code": 1000, "reason": ""}
    assert len(evs) == 4


def test_json_close_from_the_server():
    with echo_server() as port:
        proc = subprocess.Popen([CAT, "--json", f"ws://127.0.0.1:{port}/close/1008"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        proc.wait(timeout=30)  # stdin stays open: the server ends the session
        out = proc.stdout.read()
        proc.stdin.close()
    assert events(out)[-1] == {"event": "close", "code": 1008, "reason": "bye"}


def test_a_non_101_answer_is_reported_with_exit_status_1():
    with echo_server() as port:
        result = cat("--json", f"ws://127.0.0.1:{port}/status/403")
    assert result.returncode == 1
    (ev,) = events(result.stdout)
    assert (ev["event"], ev["from"], ev["status"]) == ("http_response", "server", 403)
    assert base64.b64decode(ev["body_base64"]) == b"status 403\n"


def test_errors_and_usage():
    result = cat("--json", "ws://127.0.0.1:1/")
    assert result.returncode == 1
    (ev,) = events(result.stdout)
    assert ev["event"] == "error" and ev["code"] == -13
    assert "TCP connect failed" in result.stderr
    for bad in (["-H", "no colon", "ws://x/"], [], ["ws://a/", "ws://b/"], ["--nope", "ws://x/"],
                ["--ping-interval", "soon", "ws://x/"], ["--proxy", "ftp://h", "ws://x/"],
                ["--ping-timeout", "1", "ws://x/"]):
        assert cat(*bad).returncode == 2, bad


def test_tls_with_cacert_or_insecure(tmp_path):
    pki = make_pki(tmp_path)
    with echo_server("--cert", pki / "server.pem", "--key", pki / "server.key") as port:
        url = f"wss://localhost:{port}/"
        ok = cat("--cacert", pki / "ca.pem", url, stdin="secure\n")
        insecure = cat("-k", url, stdin="anyway\n")
        refused = cat(url, stdin="never\n")
    assert (ok.returncode, ok.stdout) == (0, "secure\n"), ok.stderr
    assert (insecure.returncode, insecure.stdout) == (0, "anyway\n"), insecure.stderr
    assert refused.returncode == 1 and "certificate verify failed" in refused.stderr


def test_through_a_proxy():
    with echo_server() as port, proxy_server("u:pw") as proxy:
        ok = cat("--proxy", proxy.url("u:pw"), f"ws://localhost:{port}/", stdin="proxied\n")
        assert proxy.tunnelled_to(f"localhost:{port}")
        denied = cat("--json", "-x", proxy.url("u:bad"), f"ws://localhost:{port}/")
    assert (ok.returncode, ok.stdout) == (0, "proxied\n"), ok.stderr
    assert denied.returncode == 1
    kinds = [(e["event"], e.get("status"), e.get("code")) for e in events(denied.stdout)]
    assert kinds == [("error", None, -34), ("http_response", 407, None)]


PING_SERVER = (
    "import sys\n"
    "from websockets.sync.server import serve\n"
    "from websockets.frames import Opcode\n"
    "drop = sys.argv[1:] == ['drop']\n"
    "def handler(ws):\n"
    "    orig = ws.protocol.recv_frame\n"
    "    def spy(frame):\n"
    "        if frame.opcode is Opcode.PING:\n"
    "            print('PING', flush=True)\n"
    "            if drop:\n"
    "                return\n"
    "        return orig(frame)\n"
    "    ws.protocol.recv_frame = spy\n"
    "    for m in ws:\n"
    "        ws.send(m)\n"
    "with serve(handler, '127.0.0.1', 0) as s:\n"
    "    print('PORT', s.socket.getsockname()[1], flush=True)\n"
    "    s.serve_forever()\n"
)


def test_pings_at_the_interval(tmp_path):
    """A server that records the pings it gets (and answers them)."""
    script = tmp_path / "ping_counter.py"
    script.write_text(PING_SERVER)
    with running(script, timeout=10) as (port, server):
        result = cat("--ping-interval", "0.1", "--ping-timeout", "5", "--linger", "0.6",
                     f"ws://127.0.0.1:{port}/", stdin="x\n")
        server.kill()
        out, _ = server.communicate(timeout=10)
    assert result.returncode == 0, result.stderr
    assert out.count("PING") >= 2, out


def test_a_missing_pong_ends_the_session(tmp_path):
    """A server that swallows pings: the keepalive fails the connection."""
    script = tmp_path / "ping_eater.py"
    script.write_text(PING_SERVER)
    with running(script, "drop", timeout=10) as (port, _):
        proc = subprocess.Popen([CAT, "--ping-interval", "0.2", "--ping-timeout", "0.3",
                                 f"ws://127.0.0.1:{port}/"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # stdin stays open: only the keepalive can end this session.
        proc.wait(timeout=30)
        err = proc.stderr.read()
        proc.stdin.close()
    assert proc.returncode == 1
    assert "timed out" in err and "pong" in err, err


def test_big_and_many_lines_go_through_the_send_queue():
    """Megabytes in: the queue fills, stdin waits, nothing is lost or reordered."""
    lines = [f"{i:06d} " + "x" * 200 for i in range(20000)] + ["y" * (3 << 20)]
    with echo_server() as port:
        result = cat(f"ws://127.0.0.1:{port}/", stdin="\n".join(lines) + "\n", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == lines


def test_help_documents_every_flag():
    source = (ROOT / "tools" / "wsclient-cat.c").read_text()
    table = source[source.index("long_options[]"):source.index("{NULL, 0, NULL, 0}")]
    longs = re.findall(r'\{"([a-z-]+)",', table)
    shorts = re.findall(r"NULL, '(\w)'\}", table)
    assert len(longs) >= 20
    help_text = cat("--help").stdout
    for name in longs:
        assert f"--{name}" in help_text, name
    for letter in shorts:
        assert f"-{letter}, --" in help_text, letter


def test_version():
    result = cat("--version")
    assert result.returncode == 0 and "libwsclient" in result.stdout


def test_verbose_traces_every_step_without_secrets(tmp_path):
    pki = make_pki(tmp_path)
    with echo_server("--cert", pki / "server.pem", "--key", pki / "server.key",
                     "--deflate") as port:
        result = cat("-v", "--deflate", "--cacert", pki / "ca.pem",
                     "-H", "Authorization: Bearer top-secret", "-H", "Cookie: id=also-secret",
                     f"wss://localhost:{port}/", stdin="traced\n")
        failed = cat("-v", "ws://127.0.0.1:1/")
    assert result.returncode == 0, result.stderr
    err = result.stderr
    trace = [line.split(" ms ", 1)[1] for line in err.splitlines() if line.startswith("* ")]
    at = 0
    for step in ("resolved localhost to", "connecting to", "connected to", "TLS done",
                 "request sent", "response: 101", "open, permessage-deflate", "frame sent",
                 "frame received", "close sent", "close received"):
        later = [i for i, line in enumerate(trace) if i >= at and line.startswith(step)]
        assert later, (step, trace)
        at = later[0]
    assert "> Authorization: [redacted]" in err and "> Cookie: [redacted]" in err
    assert "top-secret" not in err and "also-secret" not in err
    assert "< Sec-WebSocket-Extensions: permessage-deflate" in err
    assert re.search(r"frame sent: text, \d+ bytes, FIN, RSV1", err)
    assert "TLSv1.3" in err and "CN=localhost" in err
    assert failed.returncode == 1
    assert re.search(r"^\*.*cannot connect to 127\.0\.0\.1:1: .*refused", failed.stderr, re.M)
    assert re.search(r"^\*.*failed: cannot connect", failed.stderr, re.M)


def test_stats_and_ping_rtts(tmp_path):
    script = tmp_path / "ping_counter.py"
    script.write_text(PING_SERVER)
    with running(script, timeout=10) as (port, _):
        result = cat("--stats", "--print-ping-rtts", "--ping-interval", "0.1", "--linger", "0.5",
                     f"ws://127.0.0.1:{port}/", stdin="abc\ndefg\n")
        as_json = cat("--json", "--stats", "--print-ping-rtts", "--ping-interval", "0.1",
                      "--linger", "0.5", f"ws://127.0.0.1:{port}/", stdin="abc\n")
    assert result.returncode == 0, result.stderr
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stderr, re.M))
    assert stats["messages_out"] == stats["messages_in"] == "2"
    assert stats["payload_out"] == stats["payload_in"] == "7"
    assert int(stats["pings_sent"]) >= 2 and int(stats["pongs_received"]) >= 2
    rtts = re.findall(r"^rtt (\d+\.\d+) ms$", result.stderr, re.M)
    assert len(rtts) >= 2 and int(stats["rtt_last_us"]) > 0
    assert abs(float(rtts[-1]) * 1000 - int(stats["rtt_last_us"])) < 2
    evs = events(as_json.stdout)
    assert [e for e in evs if e["event"] == "ping_rtt"]
    (final,) = [e for e in evs if e["event"] == "stats"]
    assert final["messages_in"] == 1 and final["bytes_in"] > 0 and final["time_total_us"] > 0


def test_keylog(tmp_path):
    pki = make_pki(tmp_path)
    keys = tmp_path / "keys.log"
    with echo_server("--cert", pki / "server.pem", "--key", pki / "server.key") as port:
        result = cat("--keylog", keys, "--cacert", pki / "ca.pem", f"wss://localhost:{port}/",
                     stdin="k\n")
    assert result.returncode == 0, result.stderr
    assert "CLIENT_TRAFFIC_SECRET_0 " in keys.read_text()


# --reconnect, against tests/servers/flaky_server.py: the first three
# connections each get one message, then the server drops them (or closes
# with --end's code); the fourth gets its message and a close with 1000.

def reconnecting_cat(port, *args):
    """wsclient-cat --json --reconnect with short delays, stdin left open so
    that the server alone ends the session; (returncode, events, stderr)."""
    stdin, held = os.pipe()  # `held` stays open until the end: no EOF
    try:
        proc = subprocess.Popen([CAT, "--json", "--reconnect", "--reconnect-delay", "0.05",
                                 "--reconnect-max-delay", "0.2", *args, f"ws://127.0.0.1:{port}/"],
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        os.close(stdin)
        try:
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    finally:
        os.close(held)
    return proc.returncode, events(out), err


def test_reconnect_after_each_drop_until_the_server_closes_normally():
    with running("flaky_server.py", "--drops", "3") as (port, server):
        code, evs, err = reconnecting_cat(port)
        server.kill()
        connections = [l for l in server.communicate(timeout=10)[0].splitlines() if l.startswith("CONN")]
    assert code == 0, err
    assert len(connections) == 4
    assert [e["event"] for e in evs] == ["open", "message", "error", "reconnect"] * 3 + \
        ["open", "message", "close"]
    assert [e["data"] for e in evs if e["event"] == "message"] == [f"message {k}" for k in range(1, 5)]
    assert {e["code"] for e in evs if e["event"] == "error"} == {-14}  # WS_ERR_CONNECTION_LOST
    # Each drop follows a connection that opened: attempt 1, at most the
    # first delay (full jitter: anywhere from 0).
    for e in (e for e in evs if e["event"] == "reconnect"):
        assert e["attempt"] == 1 and 0 <= e["delay"] <= 0.05, e
    assert evs[-1] == {"event": "close", "code": 1000, "reason": "done"}


def test_reconnect_after_a_service_restart_close():
    with running("flaky_server.py", "--drops", "3", "--end", "1012") as (port, _server):
        code, evs, err = reconnecting_cat(port)
    assert code == 0, err
    closes = [e for e in evs if e["event"] == "close"]
    assert [c["code"] for c in closes] == [1012, 1012, 1012, 1000]
    assert len([e for e in evs if e["event"] == "reconnect"]) == 3


def test_reconnect_stops_at_a_403():
    with running("flaky_server.py", "--status", "403") as (port, server):
        code, evs, err = reconnecting_cat(port)
        server.kill()
        out = server.communicate(timeout=10)[0]
    assert code == 1, err
    assert [(e["event"], e.get("status")) for e in evs] == [("http_response", 403)]
    assert "CONNECTION" not in out


def test_reconnect_backs_off_and_gives_up_after_the_attempts_allowed():
    # 503 is retried; every attempt fails: the delays' caps double (0.05,
    # 0.1, 0.2) up to the maximum (0.2).
    with running("flaky_server.py", "--status", "503") as (port, _server):
        code, evs, err = reconnecting_cat(port, "--reconnect-attempts", "4")
    assert code == 1
    assert "giving up: 4 attempts to reconnect failed" in err
    waits = [e for e in evs if e["event"] == "reconnect"]
    assert [e["attempt"] for e in waits] == [1, 2, 3, 4]
    for e, cap in zip(waits, [0.05, 0.1, 0.2, 0.2]):
        assert 0 <= e["delay"] <= cap, e
    assert [e.get("status") for e in evs if e["event"] == "http_response"] == [503] * 5
    # A refused connection is retried too.
    result = cat("--reconnect", "--reconnect-delay", "0.01", "--reconnect-attempts", "2",
                 "ws://127.0.0.1:1/")
    assert result.returncode == 1
    assert result.stderr.count("TCP connect failed") == 3


def test_reconnect_goes_on_with_stdin_on_the_next_connection():
    # An echo server that drops each of its first three connections after one
    # echo. A line sent just as the server drops is lost with the connection
    # (the library cannot hand it back), so each line is written once the
    # cat says it is connected again.
    lines = [f"line {i}" for i in range(1, 6)]
    with running("flaky_server.py", "--echo", "--drops", "3") as (port, _server):
        proc = subprocess.Popen([CAT, "--reconnect", "--reconnect-delay", "0.05",
                                 f"ws://127.0.0.1:{port}/"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        got, connects, status = [], 0, []
        try:
            for i, line in enumerate(lines, 1):
                while connects < min(i, 4):
                    status.append(proc.stderr.readline())
                    connects += status[-1].startswith("wsclient-cat: connected to")
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
                got.append(proc.stdout.readline().rstrip("\n"))
            proc.stdin.close()
            proc.wait(timeout=30)
        finally:
            proc.kill()
        err = "".join(status) + proc.stderr.read()
    assert got == lines
    assert proc.returncode == 0, err
    assert err.count("reconnecting in") == 3
