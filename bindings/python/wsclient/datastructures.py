"""HTTP headers as websockets has them (``websockets.datastructures``): a
case-insensitive mapping that keeps every value of a repeated name, for
``additional_headers=`` and the ``request``/``response`` of a connection.
It needs no library."""

from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Mapping, MutableMapping, Tuple, Union

__all__ = ["Headers", "HeadersLike", "MultipleValuesError"]


class MultipleValuesError(LookupError):
    """``headers[name]`` when the name has more than one value (use
    :meth:`Headers.get_all`)."""

    def __str__(self) -> str:
        return repr(self.args[0]) if len(self.args) == 1 else super().__str__()


class Headers(MutableMapping[str, str]):
    """HTTP headers: names compare without regard to case, and a name may
    have several values, kept in order with the others.

    - ``headers[name]``: the value; KeyError if there is none,
      :class:`MultipleValuesError` if there are several.
    - ``headers[name] = value`` *adds* a value (a repeated name is kept).
    - ``del headers[name]`` removes every value of the name.
    - :meth:`get_all` gives every value of a name, :meth:`raw_items` every
      (name, value) pair as given, in order.

    Iterating gives the names in lower case, once each; ``len()`` counts
    them. ``Headers(...)`` and :meth:`update` take what ``dict()`` takes
    (a mapping, another Headers, (name, value) pairs, keywords).
    """

    __slots__ = ("_values", "_items")

    def __init__(self, *args: "HeadersLike", **kwargs: str) -> None:
        self._values: Dict[str, List[str]] = {}
        self._items: List[Tuple[str, str]] = []
        self.update(*args, **kwargs)

    def __str__(self) -> str:
        return "".join(f"{name}: {value}\r\n" for name, value in self._items) + "\r\n"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"

    def copy(self) -> "Headers":
        return type(self)(self._items)

    def serialize(self) -> bytes:
        """The header block of an HTTP message (ends with an empty line)."""
        return str(self).encode()

    # Mapping

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, key: str) -> str:
        values = self._values[key.lower()]
        if len(values) > 1:
            raise MultipleValuesError(key)
        return values[0]

    def __setitem__(self, key: str, value: str) -> None:
        self._values.setdefault(key.lower(), []).append(value)
        self._items.append((key, value))

    def __delitem__(self, key: str) -> None:
        lower = key.lower()
        del self._values[lower]
        self._items = [(k, v) for k, v in self._items if k.lower() != lower]

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._values == other._values

    __hash__ = None  # type: ignore[assignment]

    def clear(self) -> None:
        self._values = {}
        self._items = []

    def update(self, *args: "HeadersLike", **kwargs: str) -> None:  # type: ignore[override]
        """Add the headers of `args` (at most one) and `kwargs`; a name
        already there keeps its values and gets the new ones too."""
        if len(args) > 1:
            raise TypeError(f"update expected at most 1 argument, got {len(args)}")
        for name, value in pairs(args[0] if args else None):
            self[name] = value
        for name, value in kwargs.items():
            self[name] = value

    # Repeated names

    def get_all(self, key: str) -> List[str]:
        """Every value of `key`, in order ([] if it has none)."""
        return list(self._values.get(key.lower(), []))

    def raw_items(self) -> Iterator[Tuple[str, str]]:
        """Every (name, value), as given and in order."""
        return iter(self._items)


HeadersLike = Union[Headers, Mapping[str, str], Iterable[Tuple[str, str]]]


def pairs(headers: Any) -> List[Tuple[str, str]]:
    """(name, value) pairs of anything :class:`Headers` takes, a repeated
    name kept: a Headers (or websockets' Headers: anything with
    ``raw_items()``), a mapping, or pairs."""
    if headers is None:
        return []
    raw_items = getattr(headers, "raw_items", None)
    if callable(raw_items):
        return [(n, v) for n, v in raw_items()]
    if isinstance(headers, Mapping):
        return list(headers.items())
    if isinstance(headers, (str, bytes)):
        raise TypeError("headers must be a mapping or (name, value) pairs, not str")
    try:
        items = [tuple(p) for p in headers]
    except TypeError:
        raise TypeError(f"headers must be a mapping or (name, value) pairs, not {type(headers).__name__}") from None
    if any(len(p) != 2 for p in items):
        raise TypeError("headers must be a mapping or (name, value) pairs")
    return [(n, v) for n, v in items]

