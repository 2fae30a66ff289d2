#!/usr/bin/env python3
"""The egg's example: connect and echo back every text message until the
server closes the connection.

    echo_client.py [URI]        (default ws://localhost:9001)

The Scheme original:

    (let ((conn (ws-connect "ws://localhost:9001")))
      (recv-message-loop conn
        (lambda (m) (if (eq? 'text (message-type m))
                        (send-text-message conn (message-data m))))))
"""

import sys
from pathlib import Path

if (Path(__file__).resolve().parents[1] / "wsclient").is_dir():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from the source tree

import wsclient


def main() -> int:
    uri = sys.argv[1] if len(sys.argv) > 1 else "ws://localhost:9001"
    try:
        conn = wsclient.connect(uri)
    except wsclient.WebSocketError as e:
        print(f"echo_client: {e}", file=sys.stderr)
        return 1
    if isinstance(conn, wsclient.HTTPResponse):
        print(f"echo_client: server answered HTTP {conn.status} {conn.reason}", file=sys.stderr)
        return 1
    with conn:

        def echo(m: wsclient.Message) -> None:
            if isinstance(m.data, str):
                print(f"echo_client: echoing {m.data}", flush=True)
                conn.send_text(m.data)

        try:
            conn.recv_message_loop(echo)
        except wsclient.WebSocketError as e:
            print(f"echo_client: {e}", file=sys.stderr)
            return 1
        print(f"echo_client: server closed with {conn.peer_close_code} {conn.peer_close_reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
