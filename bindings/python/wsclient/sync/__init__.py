"""The blocking websockets-style client: :func:`wsclient.sync.client.connect`."""

from .client import ClientConnection, connect

__all__ = ["ClientConnection", "connect"]
