"""The asyncio websockets-style client: :func:`wsclient.asyncio.client.connect`."""

from .client import ClientConnection, connect

__all__ = ["ClientConnection", "connect"]
