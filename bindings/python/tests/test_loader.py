"""wsclient._loader: the env override, the in-tree build, one clear ImportError, the library loaded on first use."""

import ctypes.util
import os
import subprocess
import sys

import pytest
from conftest import PACKAGE_ROOT, REPO

from wsclient import _loader


def run_import(env_changes):
    env = {k: v for k, v in os.environ.items() if k != "WSCLIENT_LIBRARY"}
    env.update(env_changes)
    env["PYTHONPATH"] = str(PACKAGE_ROOT)
    return subprocess.run(
        [sys.executable, "-c", "import wsclient; print(wsclient.library_path(), wsclient.library_version())"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_env_override_is_used(tmp_path):
    lib = REPO / "build" / "lib" / _loader.SONAME
    r = run_import({"WSCLIENT_LIBRARY": str(lib)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(lib), "0.1.0"]


def test_env_override_missing_file_is_an_import_error(tmp_path):
    missing = tmp_path / "libwsclient.so.0.1"
    r = run_import({"WSCLIENT_LIBRARY": str(missing)})
    assert r.returncode != 0
    assert "ImportError" in r.stderr
    assert "$WSCLIENT_LIBRARY" in r.stderr and str(missing) in r.stderr
    # An explicit override does not fall back to another copy.
    assert "in-tree" not in r.stderr


def test_env_override_not_libwsclient():
    libz = ctypes.util.find_library("z")
    if not libz:
        pytest.skip("no libz to load")
    r = run_import({"WSCLIENT_LIBRARY": libz})
    assert r.returncode != 0
    assert "not libwsclient" in r.stderr


def test_in_tree_build_without_env():
    r = run_import({})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == str(REPO / "build" / "lib" / _loader.SONAME)


def test_candidates_order(monkeypatch):
    monkeypatch.delenv("WSCLIENT_LIBRARY", raising=False)
    hows = [how for how, _ in _loader.candidates()]
    assert hows[0].startswith("in-tree build")
    assert hows[1] == "SONAME"
    assert hows[2] == "ctypes.util.find_library"
    monkeypatch.setenv("WSCLIENT_LIBRARY", "/x/libwsclient.so.0.1")
    assert list(_loader.candidates()) == [("$WSCLIENT_LIBRARY", "/x/libwsclient.so.0.1")]


def test_soname():
    if sys.platform.startswith("linux"):
        assert _loader.SONAME == "libwsclient.so.0.1"


@pytest.mark.parametrize(
    "version,ok",
    [("0.1.0", True), ("0.1.7", True), ("0.2.0", False), ("1.1.0", False), ("junk", False)],
)
def test_version_compatibility(version, ok):
    assert _loader._compatible(version) is ok


def test_installed_copy_uses_the_soname(tmp_path):
    """A copy outside the checkout has no in-tree candidate; the dynamic
    loader finds the SONAME (here through LD_LIBRARY_PATH)."""
    import shutil

    shutil.copytree(PACKAGE_ROOT / "wsclient", tmp_path / "wsclient")
    env = {k: v for k, v in os.environ.items() if k != "WSCLIENT_LIBRARY"}
    env["PYTHONPATH"] = str(tmp_path)
    code = "import wsclient; print(wsclient.library_path())"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    if r.returncode == 0:  # a system-wide install of libwsclient exists
        assert r.stdout.strip() in (_loader.SONAME, ctypes.util.find_library("wsclient"))
    else:
        assert "in-tree" not in r.stderr and "SONAME: libwsclient.so.0.1" in r.stderr
    env["LD_LIBRARY_PATH"] = str(REPO / "build" / "lib")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == _loader.SONAME


def test_bundled_copy_comes_first(tmp_path):
    """A wheel puts the library into the package: it is loaded before
    WSCLIENT_LIBRARY, the in-tree build and the SONAME."""
    import shutil

    pkg = tmp_path / "wsclient"
    shutil.copytree(PACKAGE_ROOT / "wsclient", pkg)
    shutil.copy(REPO / "build" / "lib" / _loader.SONAME, pkg / "_libwsclient.so")
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    env["WSCLIENT_LIBRARY"] = str(tmp_path / "missing.so")
    env["PYTHONPATH"] = str(tmp_path)
    code = "import wsclient; print(wsclient.library_path())"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(pkg / "_libwsclient.so")


LAZY = """
import sys
def loaded():
    with open("/proc/self/maps") as maps:
        return "libwsclient" in maps.read()
import wsclient.exceptions
from wsclient import HTTPResponse, WebSocketError
from wsclient.exceptions import ConnectionClosedOK, InvalidStatus
print("exceptions", loaded(), "wsclient._ffi" in sys.modules)
from wsclient import connect
print("connect", loaded(), connect is sys.modules["wsclient._connect"].connect)
"""


def test_exceptions_do_not_load_the_library():
    """`import wsclient.exceptions` (and wsclient's exception classes) does
    not load the library; the first name that needs it does."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    r = subprocess.run([sys.executable, "-c", LAZY], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["exceptions False False", "connect True True"]


def test_a_missing_library_is_an_import_error_at_first_use(tmp_path):
    missing = tmp_path / "libwsclient.so.0.1"
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "WSCLIENT_LIBRARY": str(missing)}
    code = "import wsclient.exceptions\nprint('imported')\nfrom wsclient import connect"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.stdout == "imported\n"
    assert r.returncode != 0 and "ImportError" in r.stderr and str(missing) in r.stderr


def test_bundled_openssl_ca_file(tmp_path):
    """A wheel's own OpenSSL (auditwheel) is given the system's CA bundle
    only when its built-in trust store is missing and the user chose none."""
    bundle = tmp_path / "ca-bundle.crt"
    bundle.write_text("")
    missing_file, missing_dir = str(tmp_path / "no" / "cert.pem"), str(tmp_path / "no" / "certs")
    candidates = [str(tmp_path / "absent.crt"), str(bundle)]
    pick = _loader.bundled_openssl_ca_file
    assert pick({}, missing_file, missing_dir, candidates) == str(bundle)
    # The built-in store exists (a Debian-like system): left alone.
    assert pick({}, str(bundle), missing_dir, candidates) is None
    assert pick({}, missing_file, str(tmp_path), candidates) is None
    # The user's choice wins, even an empty one (OpenSSL then loads nothing).
    assert pick({"SSL_CERT_FILE": ""}, missing_file, missing_dir, candidates) is None
    assert pick({"SSL_CERT_DIR": "/x"}, missing_file, missing_dir, candidates) is None
    # Nothing to offer.
    assert pick({}, missing_file, missing_dir, candidates[:1]) is None
    assert "/etc/ssl/certs/ca-certificates.crt" in _loader.SYSTEM_CA_FILES
