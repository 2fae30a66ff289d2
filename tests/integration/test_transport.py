"""The caller's transport (ws_connect_transport): tests/c/test_transport.c
(under ASan) carries a connection's bytes itself over TCP, a Unix socket and
one end of a socketpair, against Python websockets servers; and a Python
program through the C API with TLS done by Python's own ssl module on its side
of the pipe (as a binding with an ssl.SSLContext does)."""

import ctypes
import socket
import ssl
import subprocess
import threading

from conftest import BUILD
from harness import echo_server, make_pki, running
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.server import ServerProtocol
from websockets.sync.server import ServerConnection

from wsclient import _ffi

TEST = str(BUILD / "tests" / "test_transport")


def serve_socket(sock):
    """A websockets server on an already connected socket: echo, then end."""
    protocol = ServerProtocol(extensions=[ServerPerMessageDeflateFactory()])

    class NoServer:  # what ServerConnection asks of its server
        socket_closed = threading.Event()

    conn = ServerConnection(sock, protocol, NoServer())  # type: ignore[arg-type]
    conn.handshake()
    for message in conn:
        conn.send(message)


def test_c_over_tcp_unix_and_a_socketpair(tmp_path):
    path = tmp_path / "ws.sock"
    ours, theirs = socket.socketpair()
    server = threading.Thread(target=serve_socket, args=(theirs,), daemon=True)
    server.start()
    with echo_server("--deflate") as port, running("echo_server.py", "--unix", path, "--deflate"):
        result = subprocess.run([TEST, f"tcp:{port}", f"unix:{path}", f"fd:{ours.fileno()}"],
                                pass_fds=[ours.fileno()], capture_output=True, text=True, timeout=120)
    ours.close()
    server.join(timeout=10)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(", 0 failed")


def test_tls_by_pythons_ssl_on_the_callers_side(tmp_path):
    pki = make_pki(tmp_path)
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    with echo_server("--cert", pki / "server.pem", "--key", pki / "server.key", "--deflate") as port:
        with context.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                 server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            lib = _ffi.lib
            conn = _ffi.conn_p()
            opts = lib.ws_options_new()
            lib.ws_options_add_deflate_offer(opts, b"")
            lib.ws_connect_transport(f"wss://localhost:{port}/".encode(), opts, ctypes.byref(conn))
            lib.ws_options_free(opts)
            buf = ctypes.create_string_buffer(65536)
            n = ctypes.c_size_t()

            def pump():
                while True:
                    lib.ws_conn_transport_out(conn, buf, len(buf), ctypes.byref(n))
                    if not n.value:
                        break
                    tls.sendall(buf.raw[:n.value])
                tls.settimeout(0.05)
                try:
                    data = tls.recv(65536)
                except (socket.timeout, ssl.SSLWantReadError):
                    return
                if not data:
                    lib.ws_conn_transport_eof(conn)
                    return
                taken = ctypes.c_size_t()
                lib.ws_conn_transport_in(conn, data, len(data), ctypes.byref(taken))
                assert taken.value == len(data)

            def until(step):
                for _ in range(400):
                    try:
                        return step()
                    except BlockingIOError:
                        pump()
                raise AssertionError("no progress")

            until(lambda: lib.ws_connect_continue(conn, None))
            assert lib.ws_conn_compression(conn)
            lib.ws_send_text(conn, "secure, and ours".encode(), len("secure, and ours"))
            msg = _ffi.message_p()
            until(lambda: lib.ws_recv_message(conn, ctypes.byref(msg)))
            got = ctypes.string_at(lib.ws_message_data(msg), lib.ws_message_size(msg))
            lib.ws_message_free(msg)
            assert got == "secure, and ours".encode()
            lib.ws_close(conn, 1000, b"")
            assert until(lambda: lib.ws_recv_message(conn, ctypes.byref(msg))) == _ffi.WS_CLOSED
            for _ in range(200):
                if lib.ws_conn_transport_done(conn):
                    break
                pump()
            assert lib.ws_conn_transport_done(conn)
            lib.ws_conn_free(conn)
