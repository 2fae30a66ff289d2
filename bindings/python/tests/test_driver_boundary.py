"""The sync and asyncio clients drive their connection only through the
Driver (wsclient/_driver.py): they call no library function themselves and
touch no private member of another object (the egg-style Connection's
handle, lock or end-of-stream flag, its flush, ...). What a receive's
result means is decided in one place, the Driver."""

import ast
from pathlib import Path
from typing import List

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "wsclient"
CLIENTS = ["sync/client.py", "asyncio/client.py"]


def tree(relative: str) -> ast.AST:
    path = PACKAGE / relative
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def own_members(module: ast.AST) -> set:
    """The private members the module's classes assign to `self`: a
    connection of the module may read them on another connection of its
    class (the reconnect loop does), as Python's module privacy allows."""
    return {
        node.attr
        for node in ast.walk(module)
        if isinstance(node, ast.Attribute) and is_self(node.value)
        and isinstance(node.ctx, ast.Store)
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_client_touches_no_private_member_of_another_object(client: str) -> None:
    """`self._x` is the client's own; `self._conn._ptr`, `conn._lock`,
    `driver._out` reach around the driver's interface."""
    reached: List[str] = []
    module = tree(client)
    own = own_members(module)
    for node in ast.walk(module):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            # Another connection of the module's own class (a plain name,
            # not a member of self such as self._conn) may be read.
            mine = isinstance(node.value, ast.Name) and node.attr in own
            if not is_self(node.value) and not mine:
                reached.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert reached == []


@pytest.mark.parametrize("client", CLIENTS)
def test_client_calls_no_library_function(client: str) -> None:
    """No `lib` (the loaded library) and, from `_ffi`, only WS_* constants."""
    calls: List[str] = []
    for node in ast.walk(tree(client)):
        if isinstance(node, ast.Name) and node.id == "lib":
            calls.append(f"line {node.lineno}: lib")
        elif isinstance(node, ast.alias) and node.name == "lib":
            calls.append("imports lib")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "_ffi":
            if not node.attr.startswith("WS_"):
                calls.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert calls == []


@pytest.mark.parametrize("module", ["_connection.py", *CLIENTS])
def test_receive_results_are_read_in_the_driver_only(module: str) -> None:
    """WS_CLOSED (the server's close) and the receive calls appear in the
    driver only, not in the Connection or the clients."""
    names = {"WS_CLOSED", "recv_message_at", "recv_message_raw", "ws_recv_message", "recv_part_at", "ws_recv_part",
             "recv_messages_at", "ws_recv_messages"}
    found = [
        f"line {node.lineno}: {node.attr}"
        for node in ast.walk(tree(module))
        if isinstance(node, ast.Attribute) and node.attr in names
    ]
    assert found == []
