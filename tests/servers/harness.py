"""Start the test servers as subprocesses and stop them reliably."""

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent


@contextmanager
def running(script, *args, timeout=30):
    """Run tests/servers/<script> with `args`; yield (port, process)."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            proc.kill()
            raise RuntimeError(f"{script} did not start: {line!r} {proc.stderr.read()}")
        yield int(line.split()[1]), proc
    finally:
        proc.kill()
        proc.wait(timeout=timeout)


@contextmanager
def echo_server(*args):
    """The websockets echo server; yields its port."""
    with running("echo_server.py", *args) as (port, _proc):
        yield port
