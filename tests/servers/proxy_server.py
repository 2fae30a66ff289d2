#!/usr/bin/env python3
"""An HTTP CONNECT proxy for the tests: PyPI's proxy.py on 127.0.0.1:0.

Prints ``PORT <n>`` on stdout once it listens, then ``CONNECT <host:port>``
for every tunnel it opens (after authentication), so a test can tell that
its connection really went through the proxy. ``--basic-auth user:pass``
requires credentials (407 without them or with wrong ones). Serves until
killed; its worker processes die with it.
"""

import argparse
import ctypes
import os
import signal
import sys
import threading

import proxy
from proxy.http.proxy import HttpProxyBasePlugin

PR_SET_PDEATHSIG = 1


class ReportTunnels(HttpProxyBasePlugin):
    """Print each CONNECT the proxy is about to open."""

    def before_upstream_connection(self, request):
        if request.is_https_tunnel:
            host = request.host.decode() if request.host else "?"
            print(f"CONNECT {host}:{request.port}", flush=True)
        return request


def die_with_parent():
    """proxy.py forks its acceptors: have them die when this process does,
    also on SIGKILL, so a killed test leaves nothing behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--basic-auth", help="user:password required from clients")
    args = p.parse_args()
    os.register_at_fork(after_in_child=die_with_parent)
    flags = [
        "--hostname", "127.0.0.1", "--port", "0",
        "--num-acceptors", "1", "--num-workers", "1", "--threaded",
        "--log-level", "WARNING",
    ]
    if args.basic_auth:
        flags += ["--basic-auth", args.basic_auth]
    with proxy.Proxy(flags, plugins=[ReportTunnels]) as server:
        print(f"PORT {server.flags.port}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
