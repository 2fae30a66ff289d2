"""Helpers for the tests: a raw scripted WebSocket server for cases the
websockets echo server cannot produce (protocol violations, frames on
demand)."""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple


GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def server_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask: Optional[bytes] = None) -> bytes:
    """Encode a frame as a server would send it (unmasked unless `mask`)."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 1 << 16:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def _recv_exact(sock: socket.socket, n: int, pause: float = 0.0) -> bytes:
    """`n` bytes; with `pause`, read 64 KiB at a time with `pause` seconds
    before each read (a slow reader)."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        if pause:
            time.sleep(pause)
        k = sock.recv_into(view[got:], min(65536, n - got) if pause else n - got)
        if not k:
            raise EOFError
        got += k
    return bytes(buf)


ClientFrame = Tuple[bool, int, int, bytes]


def read_client_frame(sock: socket.socket, pause: float = 0.0) -> ClientFrame:
    """Read one (masked) client frame: (fin, rsv, opcode, payload); with
    `pause`, its payload slowly (see _recv_exact)."""
    b0, b1 = _recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", _recv_exact(sock, 2))
    elif n == 127:
        (n,) = struct.unpack("!Q", _recv_exact(sock, 8))
    key = _recv_exact(sock, 4) if b1 & 0x80 else b"\0\0\0\0"
    masked = _recv_exact(sock, n, pause)
    # Unmasked as one big integer: megabytes in milliseconds.
    keys = (key * (n // 4 + 1))[:n]
    data = (int.from_bytes(masked, "little") ^ int.from_bytes(keys, "little")).to_bytes(n, "little")
    return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, data


def read_client_message(sock: socket.socket, pause: float = 0.0) -> Tuple[int, bytes, List[ClientFrame]]:
    """Read one client data message, whatever its frames (the library sends
    large ones in 128 KiB frames): (opcode, payload, control frames read
    between its frames). A close instead of a message gives opcode 8."""
    opcode = 0
    parts: List[bytes] = []
    control: List[ClientFrame] = []
    while True:
        frame = read_client_frame(sock, pause)
        fin, _, op, data = frame
        if op == 8 and not parts:
            return 8, data, control
        if op >= 8:
            control.append(frame)
            continue
        if not parts:
            opcode = op
        parts.append(data)
        if fin:
            return opcode, b"".join(parts), control


class RawServer:
    """One connection: handshake (101 with `extra_headers`, and `after_101`
    in the same send), then `script(sock)`.

    The script's return value lands in .result, an exception in .error.
    """

    def __init__(
        self,
        script: Callable[[socket.socket], Any],
        extra_headers: Sequence[Tuple[str, str]] = (),
        after_101: bytes = b"",
    ) -> None:
        self.script = script
        self.extra_headers = extra_headers
        self.after_101 = after_101
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/"
        self.request = b""
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(30)
                while b"\r\n\r\n" not in self.request:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    self.request += chunk
                key = ""
                for line in self.request.decode("latin-1").split("\r\n"):
                    if line.lower().startswith("sec-websocket-key:"):
                        key = line.split(":", 1)[1].strip()
                accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
                response = (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
                )
                for name, value in self.extra_headers:
                    response += f"{name}: {value}\r\n"
                conn.sendall((response + "\r\n").encode() + self.after_101)
                self.result = self.script(conn)
        except BaseException as e:  # noqa: BLE001 - reported through .error
            self.error = e
        finally:
            self.listener.close()

    def join(self) -> Any:
        self.thread.join(30)
        assert not self.thread.is_alive(), "raw server still running"
        if self.error is not None:
            raise self.error
        return self.result


class SilentServer:
    """Accepts TCP connections and never answers: a connect stays in its
    opening handshake until it times out or is cancelled."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/"
        self.accepted: List[socket.socket] = []
        self.thread = threading.Thread(target=self._run, name="silent server", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # close()
            self.accepted.append(conn)

    def closed_by_clients(self, count: int, timeout: float) -> bool:
        """Whether `count` connections were accepted and each was closed by
        its client (read to EOF) within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        if len(self.accepted) < count:
            return False
        for conn in self.accepted[:count]:
            conn.settimeout(max(0.0, deadline - time.monotonic()))
            try:
                while conn.recv(4096):
                    pass
            except OSError:  # a timeout: still open
                return False
        return True

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self.listener.close()
        self.thread.join(5)
        for conn in self.accepted:
            conn.close()


#: The raw_server fixture: start(script, extra_headers=(), after_101=b"") -> RawServer.
StartServer = Callable[..., RawServer]
