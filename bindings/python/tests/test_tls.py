"""wss:// against the websockets server with certificates made by the
openssl CLI (see the `pki` fixture)."""

import pytest
from conftest import echo_server

import wsclient


def roundtrip(conn):
    conn.send("over tls ✓")
    assert conn.recv().data == "over tls ✓"
    conn.send(b"\x00" * 70_000)
    assert conn.recv().data == b"\x00" * 70_000


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_verify_ok_with_ca_file(pki, tls_port, host):
    with wsclient.connect(f"wss://{host}:{tls_port}/", ca_file=pki / "ca.pem") as conn:
        roundtrip(conn)
    assert conn.peer_close_code == 1000


def test_verify_ok_with_ca_dir(pki, tls_port):
    with wsclient.connect(f"wss://localhost:{tls_port}/", ca_dir=str(pki / "cadir")) as conn:
        roundtrip(conn)


def test_verify_fails_without_the_ca(tls_port):
    with pytest.raises(wsclient.CertificateVerifyError) as info:
        wsclient.connect(f"wss://localhost:{tls_port}/")
    e = info.value
    assert isinstance(e, wsclient.TLSError) and isinstance(e, wsclient.WebSocketException)
    assert e.result == -21
    assert "verif" in e.message.lower()


def test_verify_fails_with_another_ca(pki, tls_port):
    with pytest.raises(wsclient.CertificateVerifyError):
        wsclient.connect(f"wss://localhost:{tls_port}/", ca_file=pki / "other.pem")


def test_verify_fails_for_the_wrong_host_name(pki):
    with echo_server("--cert", pki / "wrongname.pem", "--key", pki / "wrongname.key") as port:
        with pytest.raises(wsclient.CertificateVerifyError):
            wsclient.connect(f"wss://localhost:{port}/", ca_file=pki / "ca.pem")
        # The insecure switch accepts it anyway.
        with wsclient.connect(f"wss://localhost:{port}/", danger_accept_invalid_certs=True) as conn:
            roundtrip(conn)


def test_danger_accept_invalid_certs(tls_port):
    with wsclient.connect(f"wss://localhost:{tls_port}/", danger_accept_invalid_certs=True) as conn:
        roundtrip(conn)


def test_missing_ca_file(tls_port, tmp_path):
    with pytest.raises(wsclient.WebSocketError):
        wsclient.connect(f"wss://localhost:{tls_port}/", ca_file=tmp_path / "nope.pem")


def test_client_certificate(pki):
    args = ("--cert", pki / "server.pem", "--key", pki / "server.key", "--client-ca", pki / "ca.pem")
    with echo_server(*args) as port:
        url = f"wss://localhost:{port}/"
        with wsclient.connect(
            url, ca_file=pki / "ca.pem", client_cert=pki / "client.pem", client_key=pki / "client.key"
        ) as conn:
            roundtrip(conn)
        # Without a client certificate the server refuses (during the TLS
        # handshake, or right after it with TLS 1.3).
        with pytest.raises(wsclient.WebSocketError):
            conn = wsclient.connect(url, ca_file=pki / "ca.pem", timeout=5)
            conn.send("x")
            conn.recv()


def test_timeouts_and_deflate_over_tls(pki):
    with echo_server("--deflate", "--cert", pki / "server.pem", "--key", pki / "server.key") as port:
        with wsclient.connect(
            f"wss://localhost:{port}/", ca_file=pki / "ca.pem", deflate=True, read_timeout=0.1
        ) as conn:
            assert conn.compression
            with pytest.raises(wsclient.WebSocketTimeout):
                conn.recv()
            roundtrip(conn)
            with pytest.raises(wsclient.WebSocketTimeout):
                conn.recv(timeout=0.05)
            conn.send("buffered by TLS?")
            assert conn.recv(timeout=10).data == "buffered by TLS?"
