"""Run the C programs (API tests under ASan, the examples) against a real
websockets server started here."""

import shutil
import subprocess

import pytest

from conftest import BUILD
from harness import echo_server, running


def run(cmd, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_c_api_suite():
    with echo_server("--deflate") as port:
        result = run([str(BUILD / "tests" / "test_api"), f"ws://127.0.0.1:{port}"])
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(", 0 failed")


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind is not installed")
def test_c_api_suite_under_valgrind():
    """No invalid access and no definite leak, through the real library."""
    with echo_server("--deflate") as port:
        result = run(
            [
                "valgrind", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite", "--quiet",
                str(BUILD / "tests-plain" / "test_api"), f"ws://127.0.0.1:{port}",
            ],
            timeout=600,
        )
    print(result.stdout, result.stderr[-4000:])
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().endswith(", 0 failed")


def test_the_egg_echo_example_echoes_every_text_message():
    greetings = ["one", "zwei", "трі"]
    args = [a for g in greetings for a in ("--greet", g)]
    with running("echo_server.py", *args) as (port, server):
        result = run([str(BUILD / "examples" / "echo_client"), f"ws://127.0.0.1:{port}/greet"])
        server.kill()
        out, _ = server.communicate(timeout=10)
    assert result.returncode == 0, result.stderr
    assert [line.split("got back ", 1)[1] for line in out.splitlines() if "got back" in line] == greetings
    assert "server closed with 1000 done" in result.stdout


def test_echo_example_reports_connection_refused():
    result = run([str(BUILD / "examples" / "echo_client"), "ws://127.0.0.1:1/"])
    assert result.returncode == 1
    assert "TCP connect failed" in result.stderr


def test_reconnect_example_comes_back_after_each_drop():
    """examples-c/reconnect_client.c against a server that drops each of its
    first three connections after one echo, then one that answers 403."""
    example = str(BUILD / "examples" / "reconnect_client")
    with running("flaky_server.py", "--echo", "--drops", "3") as (port, _server):
        result = run([example, f"ws://127.0.0.1:{port}/", "6", "50", "400"])
    assert result.returncode == 0, result.stderr
    echoes = [l for l in result.stdout.splitlines() if "echo " in l]
    assert echoes == [f"reconnect_client: echo message {i}" for i in range(1, 7)]
    waits = [int(l.split()[3]) for l in result.stdout.splitlines() if "reconnecting in" in l]
    assert len(waits) == 3 and all(0 <= w <= 50 for w in waits), result.stdout
    assert result.stderr.count("connection lost") == 3
    assert "6 messages echoed" in result.stdout
    with running("flaky_server.py", "--status", "403") as (port, _server):
        result = run([example, f"ws://127.0.0.1:{port}/", "6", "50", "400"])
    assert result.returncode == 1
    assert "HTTP 403" in result.stderr and "reconnecting" not in result.stdout


def test_poll_example_drives_several_connections_in_one_thread():
    with echo_server() as port:
        uris = [f"ws://127.0.0.1:{port}/" for _ in range(5)]
        result = run([str(BUILD / "examples" / "poll_client"), "hello over poll", *uris])
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("hello over poll") == 5
    assert result.stdout.count("closed: 1000") == 5
    assert "5 of 5 connections answered" in result.stdout


def test_duplex_example_reader_and_writer_threads_share_a_connection():
    with echo_server() as port:
        result = run([str(BUILD / "examples" / "duplex_client"), f"ws://127.0.0.1:{port}/", "2000"])
    assert result.returncode == 0, result.stderr
    lines = [l for l in result.stdout.splitlines() if l.startswith("reader: message ")]
    assert lines == [f"reader: message {i}" for i in range(2000)]
    assert "sent 2000, received 2000" in result.stdout
    assert "reader: closed: 1000" in result.stdout
