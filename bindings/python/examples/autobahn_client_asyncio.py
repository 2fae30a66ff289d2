#!/usr/bin/env python3
"""An Autobahn Testsuite testee through the asyncio API
(wsclient.asyncio.client): runs every case of a fuzzingserver, echoing each
message back, then asks the server to write its reports.

    autobahn_client_asyncio.py [BASE_URI] [AGENT]   (default ws://127.0.0.1:9001 wsclient-python-asyncio)

Like examples-c/autobahn_client.c and the egg testee, every connection
offers permessage-deflate ("client_no_context_takeover;
client_max_window_bits", compression level 1) so that sections 12 and 13
run (a bare offer leaves 13.2, 13.5 and 13.6 UNIMPLEMENTED). Keepalive is
on, as by default; no message size limit (some cases send 16 MiB) and no
read-ahead (max_queue=1): a message is echoed before the next one is
parsed, so a protocol error in a later frame of the same TCP segment fails
the connection only after the echo, as the strict cases expect.
"""

import asyncio
import sys
from pathlib import Path

if (Path(__file__).resolve().parents[1] / "wsclient").is_dir():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from the source tree

from wsclient.asyncio.client import connect
from wsclient.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

DEFLATE = {"client_no_context_takeover": True, "client_max_window_bits": True}


async def case_count(base: str) -> int:
    try:
        async with connect(f"{base}/getCaseCount") as ws:
            return int(await ws.recv())
    except (OSError, WebSocketException) as e:
        print(f"autobahn_client_asyncio: {e}", file=sys.stderr)
        return -1


async def run_and_wait(uri: str) -> None:
    try:
        # No keepalive: the suite checks every frame a testee sends, and a
        # ping in a long case would be an unexpected one.
        async with connect(
            uri, max_size=None, max_queue=1, deflate=DEFLATE, compression_level=1, ping_interval=None
        ) as ws:
            async for message in ws:
                await ws.send(message)
    except ConnectionClosed:
        pass  # a *fail* was answered with a close frame by the library
    except (InvalidStatus, OSError, WebSocketException) as e:
        print(f"autobahn_client_asyncio: {uri}: {e}", file=sys.stderr)


async def main() -> int:
    base = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:9001"
    agent = sys.argv[2] if len(sys.argv) > 2 else "wsclient-python-asyncio"
    count = await case_count(base)
    if count < 0:
        print("autobahn_client_asyncio: cannot get the case count", file=sys.stderr)
        return 1
    print(f"autobahn_client_asyncio: running {count} cases", flush=True)
    for i in range(1, count + 1):
        await run_and_wait(f"{base}/runCase?case={i}&agent={agent}")
    await run_and_wait(f"{base}/updateReports?agent={agent}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
