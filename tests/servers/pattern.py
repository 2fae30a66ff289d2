"""Deterministic message data for the streaming tests, so that a server can
send (or check) a message of any size without anyone holding it whole: the
message is a repeated period, and any slice of it can be computed from its
offset.

- binary: a period of 65,537 bytes from SHA-256 in counter mode (more than
  deflate's 32 KiB window: it does not compress);
- text: a period of exactly 4,099 bytes of UTF-8 mixing 1-, 2-, 3- and
  4-byte characters (it compresses well). A text message is a whole number
  of periods, so it ends between characters.

Neither period divides 64 KiB, so pieces cut by a 64 KiB buffer fall at
every offset of the period (for text: inside characters too).
"""

import hashlib

BINARY_PERIOD = 65537
TEXT_PERIOD = 4099


def _binary_period():
    out = bytearray()
    counter = 0
    while len(out) < BINARY_PERIOD:
        out += hashlib.sha256(b"wsclient stream %d" % counter).digest()
        counter += 1
    return bytes(out[:BINARY_PERIOD])


def _text_period():
    words = ["stream ", "é", "ñandú ", "€", "𝄞", "κόσμε ", "漢字 ", "x"]
    out, size, i = [], 0, 0
    while True:
        word = words[i % len(words)]
        n = len(word.encode())
        if size + n > TEXT_PERIOD - 8:
            break
        out.append(word)
        size += n
        i += 1
    out.append("." * (TEXT_PERIOD - size))  # ASCII fills it exactly
    text = "".join(out)
    assert len(text.encode()) == TEXT_PERIOD
    return text


BINARY = _binary_period()
TEXT = _text_period()
TEXT_BYTES = TEXT.encode()


def text_size(size):
    """The size of the text message made for about `size` bytes: whole periods."""
    return size // TEXT_PERIOD * TEXT_PERIOD


class Expected:
    """The bytes of a message of `kind` ("text" or "binary") at any offset,
    `most` bytes at a time at most."""

    def __init__(self, kind, most=1 << 20):
        self.period = TEXT_BYTES if kind == "text" else BINARY
        n = len(self.period)
        self.tiled = self.period * (most // n + 2)
        self.most = most

    def at(self, offset, length):
        assert length <= self.most
        start = offset % len(self.period)
        return self.tiled[start : start + length]


def chunks(kind, size, chunk=1 << 20):
    """The message of `kind` and `size` bytes (text: `text_size(size)`) as
    str or bytes fragments of about `chunk` bytes, made as they are asked for."""
    if kind == "text":
        periods = text_size(size) // TEXT_PERIOD
        per_chunk = max(1, chunk // TEXT_PERIOD)
        while periods > 0:
            k = min(per_chunk, periods)
            yield TEXT * k
            periods -= k
        return
    expected = Expected("binary", chunk)
    offset = 0
    while offset < size:
        n = min(chunk, size - offset)
        yield expected.at(offset, n)
        offset += n


def whole(kind, size):
    """The whole message (for a server that sends it in one frame)."""
    if kind == "text":
        return TEXT * (text_size(size) // TEXT_PERIOD)
    return b"".join(chunks(kind, size))
