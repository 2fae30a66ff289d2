"""permessage-deflate negotiation against websockets servers with several settings."""

import json
import os

import pytest
from conftest import echo_server

import wsclient

# Server options -> client offers that each such server accepts.
SETTINGS = [
    ([], [True, {}, {"client_max_window_bits": True}, [{"server_max_window_bits": 10}, {}]]),
    (["--server-no-context-takeover"], [True, {"server_no_context_takeover": True}]),
    (["--client-no-context-takeover"], [True, {"client_no_context_takeover": True}]),
    (
        ["--server-no-context-takeover", "--client-no-context-takeover"],
        [{"client_no_context_takeover": True, "client_max_window_bits": True}],
    ),
    (["--server-max-window-bits", "10"], [True, {"server_max_window_bits": 10}]),
    (["--client-max-window-bits", "9"], [{"client_max_window_bits": True}, {"client_max_window_bits": 9}]),
]


def roundtrips(conn):
    """Repetitive data (so context takeover matters), several messages."""
    for i in range(5):
        text = f"message {i} " + "the quick brown fox " * 500
        conn.send(text)
        msg = conn.recv()
        assert msg.data == text
        assert msg.compressed
        assert msg.frames[0].rsv_bit(4)  # RSV1 marks a compressed message
        assert msg.frames[0].payload_length < len(text)
    data = os.urandom(200_000)
    conn.send(data)
    assert conn.recv().data == data


@pytest.mark.parametrize(
    "server_args,offer",
    [(args, offer) for args, offers in SETTINGS for offer in offers],
    ids=lambda v: json.dumps(v) if not isinstance(v, str) else v,
)
def test_negotiation(server_args, offer):
    with echo_server("--deflate", *server_args) as port:
        with wsclient.connect(f"ws://127.0.0.1:{port}/", deflate=offer) as conn:
            assert conn.compression
            assert "permessage-deflate" in conn.header("Sec-WebSocket-Extensions")
            roundtrips(conn)


def test_server_without_deflate(echo_url):
    with wsclient.connect(echo_url + "/", deflate=True) as conn:
        assert not conn.compression
        conn.send("plain")
        msg = conn.recv()
        assert msg.data == "plain" and not msg.compressed


def test_no_offer_no_compression(deflate_url):
    with wsclient.connect(deflate_url + "/headers") as conn:
        headers = json.loads(conn.recv().data)
        assert "Sec-WebSocket-Extensions" not in headers
        assert not conn.compression


@pytest.mark.parametrize(
    "deflate,header",
    [
        (True, "permessage-deflate"),
        (
            [{"server_max_window_bits": 10}, {}],
            "permessage-deflate; server_max_window_bits=10, permessage-deflate",
        ),
        # The egg's alist form: a list of (name, value) pairs is one offer.
        ([("server_max_window_bits", "10")], "permessage-deflate; server_max_window_bits=10"),
        ({"client_max_window_bits": True, "server_no_context_takeover": True},
         "permessage-deflate; server_no_context_takeover; client_max_window_bits"),
        ("client_no_context_takeover", "permessage-deflate; client_no_context_takeover"),
        ({"client_no_context_takeover": False}, "permessage-deflate"),
    ],
)
def test_offer_header(deflate_url, deflate, header):
    with wsclient.connect(deflate_url + "/headers", deflate=deflate) as conn:
        headers = json.loads(conn.recv().data)
        assert headers["Sec-WebSocket-Extensions"] == header
        assert conn.compression


def test_uncompressed_send(deflate_url):
    with wsclient.connect(deflate_url + "/", deflate=True, compression_level=1) as conn:
        conn.send("sent raw " * 100, compress=False)
        assert conn.recv().data == "sent raw " * 100
        conn.send_binary(b"\0" * 1000, compress=False)
        assert conn.recv().data == b"\0" * 1000


def test_autobahn_style_offer(deflate_url):
    with wsclient.connect(
        deflate_url + "/",
        deflate={"client_no_context_takeover": True, "client_max_window_bits": True},
        compression_level=1,
    ) as conn:
        assert conn.compression
        roundtrips(conn)


@pytest.mark.parametrize(
    "deflate,exc",
    [
        (5, TypeError),
        ([5], TypeError),
        ({"server_max_window_bits": 1.5}, TypeError),
        ({1: True}, TypeError),
        ({"bogus_parameter": True}, wsclient.InvalidArgument),
        ({"server_max_window_bits": 99}, wsclient.InvalidArgument),
        ("x\0y", ValueError),
    ],
)
def test_bad_offers(echo_url, deflate, exc):
    with pytest.raises(exc):
        wsclient.connect(echo_url + "/", deflate=deflate)


@pytest.mark.parametrize("level", [10, -2])
def test_bad_compression_level(echo_url, level):
    with pytest.raises(ValueError):
        wsclient.connect(echo_url + "/", deflate=True, compression_level=level)
