"""The blocking websockets-style client: :func:`wsclient.sync.client.connect`."""

from .client import ClientConnection, backoff, connect, process_exception, reconnect

__all__ = ["ClientConnection", "backoff", "connect", "process_exception", "reconnect"]
