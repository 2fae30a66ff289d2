"""Find and load the libwsclient shared library.

Modelled on python-magic's ``magic/loader.py``: a list of candidates is
tried in order and one :class:`ImportError` names every one that failed.

Order:

1. The bundled copy: ``_libwsclient.so`` inside this package, put there by
   the wheel build (``pip install``). It is the library this package was
   built and tested with, so it comes first.
2. ``WSCLIENT_LIBRARY``: an explicit path, for a package without a bundled
   copy (in-tree, or a distribution's package that uses the system
   library). When it is set, nothing after it is tried: an override that
   silently falls back to another copy of the library would hide mistakes.
3. The in-tree build: ``build/lib/`` of the libwsclient checkout this package
   lives in (``bindings/python/wsclient`` -> ``../../../build/lib``).
4. The SONAME (``libwsclient.so.0.1``), found by the dynamic loader
   (``LD_LIBRARY_PATH``, ``/etc/ld.so.cache``, ...).
5. :func:`ctypes.util.find_library` (``wsclient``).

Whatever is loaded must report a compatible version through
``ws_version()`` (same major.minor before 1.0, same major after).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

#: The ABI this binding is written against (the header's WSCLIENT_VERSION_*).
ABI_MAJOR = 0
ABI_MINOR = 1

ENV_VAR = "WSCLIENT_LIBRARY"


def _soname() -> str:
    version = f"{ABI_MAJOR}.{ABI_MINOR}" if ABI_MAJOR == 0 else f"{ABI_MAJOR}"
    if sys.platform == "darwin":
        return f"libwsclient.{version}.dylib"
    if sys.platform == "win32":
        return "wsclient.dll"
    return f"libwsclient.so.{version}"


SONAME = _soname()


def _in_tree_dir() -> Optional[Path]:
    """<checkout>/build/lib when this package sits in a libwsclient checkout
    (<checkout>/bindings/python/wsclient), else None (an installed copy)."""
    here = Path(__file__).resolve()
    if len(here.parents) < 4:
        return None
    root = here.parents[3]
    if here.parents[1] != root / "bindings" / "python" or not (root / "include" / "wsclient.h").is_file():
        return None
    return root / "build" / "lib"


def _bundled() -> List[Path]:
    """The copies a wheel build put into this package (normally one)."""
    here = Path(__file__).resolve().parent
    return sorted(here.glob("_libwsclient*.so")) + sorted(here.glob("_libwsclient*.dylib"))


def candidates() -> Iterator[Tuple[str, str]]:
    """Yield (how it was found, what to pass to CDLL) in the order tried."""
    for path in _bundled():
        yield "bundled", str(path)
    override = os.environ.get(ENV_VAR)
    if override:
        yield f"${ENV_VAR}", override
        return
    tree = _in_tree_dir()
    if tree is not None:
        in_tree = tree / SONAME
        if in_tree.exists():
            yield "in-tree build", str(in_tree)
        else:
            # Listed so that the error message says where we looked.
            yield "in-tree build (missing)", str(in_tree)
    yield "SONAME", SONAME
    found = ctypes.util.find_library("wsclient")
    if found:
        yield "ctypes.util.find_library", found
    else:
        yield "ctypes.util.find_library", "wsclient (not found)"


def _compatible(version: str) -> bool:
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    if ABI_MAJOR == 0:
        return (major, minor) == (ABI_MAJOR, ABI_MINOR)
    return major == ABI_MAJOR


def load() -> Tuple[ctypes.CDLL, str]:
    """Load libwsclient; return (the library, the path or name it came from).

    ``ctypes.CDLL`` (not ``PyDLL``) is used on purpose: every call releases
    the GIL, so a thread blocked in a receive does not stop the others.
    """
    tried: List[str] = []
    for how, name in candidates():
        if name.endswith("(missing)") or name.endswith("(not found)") or how.endswith("(missing)"):
            tried.append(f"  {how}: {name}")
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            tried.append(f"  {how}: {name}: {e}")
            continue
        try:
            fn = lib.ws_version
        except AttributeError:
            tried.append(f"  {how}: {name}: not libwsclient (no ws_version)")
            continue
        fn.argtypes = []
        fn.restype = ctypes.c_char_p
        version = (fn() or b"").decode("ascii", "replace")
        if not _compatible(version):
            tried.append(
                f"  {how}: {name}: version {version} is not compatible "
                f"with {ABI_MAJOR}.{ABI_MINOR}"
            )
            continue
        return lib, name
    raise ImportError(
        "wsclient: cannot load libwsclient. Build it (make lib), install it, "
        f"or set {ENV_VAR} to its path. Tried:\n" + "\n".join(tried)
    )
