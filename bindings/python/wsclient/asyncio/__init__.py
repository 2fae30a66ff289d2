"""The asyncio websockets-style client: :func:`wsclient.asyncio.client.connect`."""

from .client import ClientConnection, backoff, connect, process_exception

__all__ = ["ClientConnection", "backoff", "connect", "process_exception"]
