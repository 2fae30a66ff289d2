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

A wheel repaired by ``auditwheel`` carries its own OpenSSL (``libssl``,
``libcrypto`` in ``libwsclient.libs/`` beside the package), built on
Debian: its default trust store is Debian's (``/usr/lib/ssl/cert.pem``,
``/usr/lib/ssl/certs``). On a system without those paths (Fedora, RHEL,
openSUSE, Arch, ...) and with neither ``SSL_CERT_FILE`` nor
``SSL_CERT_DIR`` set, loading the bundled copy sets ``SSL_CERT_FILE`` to
the system's CA bundle, so that ``wss://`` verifies against the system's
CAs as it does with a library linked to the system's OpenSSL; see
:func:`bundled_openssl_ca_file`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import Iterator, List, Mapping, Optional, Sequence, Tuple

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


#: Where distributions keep the system's CA bundle (the files Go's
#: crypto/x509 searches on Linux), most common first.
SYSTEM_CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Arch, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/pki/tls/cacert.pem",  # OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # CentOS, RHEL 7
    "/etc/ssl/cert.pem",  # Alpine
)


def bundled_openssl_ca_file(
    environ: Mapping[str, str],
    default_file: str,
    default_dir: str,
    candidates: Sequence[str] = SYSTEM_CA_FILES,
) -> Optional[str]:
    """The CA file to give a bundled OpenSSL through ``SSL_CERT_FILE``, or
    None to leave it alone: when the user set ``SSL_CERT_FILE`` or
    ``SSL_CERT_DIR``, or the bundled copy's own default file or directory
    exists (it was built for this kind of system), or no candidate exists."""
    if "SSL_CERT_FILE" in environ or "SSL_CERT_DIR" in environ:
        return None
    if os.path.isfile(default_file) or os.path.isdir(default_dir):
        return None
    return next((c for c in candidates if os.path.isfile(c)), None)


def _point_bundled_openssl_at_system_cas(library: Path) -> None:
    """See the module's docstring: only for a wheel with its own OpenSSL."""
    libs = library.parent.parent / "libwsclient.libs"
    crypto = sorted(libs.glob("libcrypto*.so*"))
    if not crypto:
        return  # no OpenSSL in the wheel: the system's knows its trust store
    try:
        libcrypto = ctypes.CDLL(str(crypto[0]))  # already mapped: the same handle
        for name in ("X509_get_default_cert_file", "X509_get_default_cert_dir"):
            getattr(libcrypto, name).argtypes = []
            getattr(libcrypto, name).restype = ctypes.c_char_p
        default_file = os.fsdecode(libcrypto.X509_get_default_cert_file() or b"")
        default_dir = os.fsdecode(libcrypto.X509_get_default_cert_dir() or b"")
    except (OSError, AttributeError):
        return
    ca_file = bundled_openssl_ca_file(os.environ, default_file, default_dir)
    if ca_file is not None:
        os.environ["SSL_CERT_FILE"] = ca_file


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
        if how == "bundled":
            _point_bundled_openssl_at_system_cas(Path(name))
        return lib, name
    raise ImportError(
        "wsclient: cannot load libwsclient. Build it (make lib), install it, "
        f"or set {ENV_VAR} to its path. Tried:\n" + "\n".join(tried)
    )
