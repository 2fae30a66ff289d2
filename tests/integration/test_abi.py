"""`make abi-check` (scripts/abi-check.py) against the committed baseline:
it passes on the build, and fails on a library that lost a function or moved
one out of WSCLIENT_0.1, and on a header whose prototype or constant changed.
The libraries it is pointed at are real shared objects, linked from stubs
with wsclient.map (or a map with one more node), so the check reads them the
way it reads the build: readelf on .dynsym and the version definitions."""

import re
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT

HEADER = ROOT / "include" / "wsclient.h"
VERSION = re.search(r'^version = "(.*)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
LIBRARY = BUILD / "lib" / f"libwsclient.so.{VERSION}"
FUNCTIONS = sorted(set(re.findall(r"^[a-z].*?\b(ws_\w+)\(", HEADER.read_text(), re.M)))
SONAME = "libwsclient.so.0." + VERSION.split(".")[1]


def abi_check(library=LIBRARY, header=HEADER):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "abi-check.py"), "--library", str(library),
                           "--header", str(header)], capture_output=True, text=True, cwd=ROOT)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


def fake_library(tmp_path, functions, version_script=None, soname=SONAME):
    """A shared library exporting a stub for each name, versioned by wsclient.map
    unless another version script is given."""
    source = tmp_path / "stubs.c"
    source.write_text("".join(f"void {f}(void) {{}}\n" for f in functions))
    script = tmp_path / "stubs.map"
    script.write_text(version_script or (ROOT / "wsclient.map").read_text())
    out = tmp_path / "libwsclient.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(out), str(source), f"-Wl,--version-script={script}",
                    f"-Wl,-soname,{soname}"], check=True)
    return out


def edited_header(tmp_path, old, new):
    text = HEADER.read_text()
    assert text.count(old) == 1, old
    path = tmp_path / "wsclient.h"
    path.write_text(text.replace(old, new))
    return path


def test_abi_check_passes_on_the_build():
    """No change, or additions only, each at a node of its own (no note)."""
    rc, out = abi_check()
    assert rc == 0, out
    assert re.search(r"passed, (no change|\d+ addition\(s\))", out), out
    assert "BREAK" not in out and "note" not in out, out
    plan = subprocess.run(["make", "-n", "abi-check"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert "scripts/abi-check.py" in plan


def test_abi_check_fails_on_a_library_without_one_function(tmp_path):
    # With every function the stubs pass, so what fails below is the one missing.
    rc, out = abi_check(fake_library(tmp_path, FUNCTIONS))
    assert rc == 0, out
    rc, out = abi_check(fake_library(tmp_path, [f for f in FUNCTIONS if f != "ws_send_text"]))
    assert rc == 1, out
    assert "BREAK: symbol ws_send_text@WSCLIENT_0.1 removed" in out
    assert "ERROR: function ws_send_text is declared in the header but the library does not export it" in out
    assert "FAILED: 1 change(s) break the ABI of" in out


def test_abi_check_fails_on_a_symbol_that_leaves_its_node(tmp_path):
    moved = ("WSCLIENT_0.1 { global: ws_*; local: *; };\n"
             "WSCLIENT_0.2 { global: ws_ping; } WSCLIENT_0.1;\n")
    rc, out = abi_check(fake_library(tmp_path, FUNCTIONS, moved))
    assert rc == 1, out
    assert "BREAK: symbol ws_ping@WSCLIENT_0.1 left its node: now ws_ping@WSCLIENT_0.2" in out


def test_abi_check_fails_on_a_changed_prototype(tmp_path):
    old = "int32_t ws_send_text(ws_conn *conn, const char *text, size_t len);"
    # A parameter's name is no part of the ABI.
    rc, out = abi_check(header=edited_header(tmp_path, old, old.replace("len)", "length)")))
    assert rc == 0, out
    rc, out = abi_check(header=edited_header(tmp_path, old, old.replace("size_t len", "uint32_t len")))
    assert rc == 1, out
    assert "BREAK: function ws_send_text changed" in out
    assert "now: int32_t ws_send_text(ws_conn *conn, const char *text, uint32_t len)" in out


def test_abi_check_fails_on_a_changed_constant(tmp_path):
    rc, out = abi_check(header=edited_header(tmp_path, "#define WS_ERR_TIMEOUT -11", "#define WS_ERR_TIMEOUT -16"))
    assert rc == 1, out
    assert "BREAK: constant WS_ERR_TIMEOUT changed" in out and "was: -11" in out and "now: -16" in out
    # The same value written another way is the same constant.
    rc, out = abi_check(header=edited_header(tmp_path, "#define WS_TLS_1_2 771", "#define WS_TLS_1_2 (0x300 + 3)"))
    assert rc == 0, out


def test_abi_check_lists_an_added_function(tmp_path):
    """A new function at a new node, as docs/abi-policy.md says: passes, listed."""
    header = edited_header(tmp_path, "void ws_response_free(ws_response *response);",
                           "void ws_response_free(ws_response *response);\n\n"
                           "int32_t ws_conn_set_nodelay(ws_conn *conn, bool on);\n\n#define WS_NEW_FLAG 8")
    # A node wsclient.map does not have yet (it may have WSCLIENT_0.2 already).
    script = (ROOT / "wsclient.map").read_text() + "WSCLIENT_0.9 { global: ws_conn_set_nodelay; } WSCLIENT_0.1;\n"
    rc, out = abi_check(fake_library(tmp_path, FUNCTIONS + ["ws_conn_set_nodelay"], script), header)
    assert rc == 0, out
    for line in ("added: node WSCLIENT_0.9 WSCLIENT_0.1", "added: symbol ws_conn_set_nodelay@WSCLIENT_0.9",
                 "added: function int32_t ws_conn_set_nodelay(ws_conn *conn, bool on)",
                 "added: constant WS_NEW_FLAG 8"):
        assert line in out
    # Those four, and what the tree added since the baseline.
    _, build = abi_check()
    since = int(m.group(1)) if (m := re.search(r"passed, (\d+) addition", build)) else 0
    assert f"passed, {since + 4} addition(s)" in out
    assert "BREAK" not in out and "note" not in out


def test_abi_check_notes_an_addition_to_a_released_node(tmp_path):
    header = edited_header(tmp_path, "void ws_response_free(ws_response *response);",
                           "void ws_response_free(ws_response *response);\nvoid ws_conn_set_nodelay(void);")
    rc, out = abi_check(fake_library(tmp_path, FUNCTIONS + ["ws_conn_set_nodelay"]), header)
    assert rc == 0, out
    assert "note: ws_conn_set_nodelay@WSCLIENT_0.1 was added to WSCLIENT_0.1, a released node" in out


def test_abi_check_takes_a_deprecated_function_as_unchanged(tmp_path):
    old = "int32_t ws_send_text(ws_conn *conn, const char *text, size_t len);"
    header = edited_header(tmp_path, old, 'WS_DEPRECATED("use ws_send") ' + old)
    rc, out = abi_check(header=header)
    assert rc == 0, out
    assert "note: function ws_send_text is deprecated" in out


@pytest.mark.parametrize("soname, rc", [(SONAME, 1), ("libwsclient.so.0.99", 0)])
def test_a_break_passes_only_with_a_new_soname(tmp_path, soname, rc):
    library = fake_library(tmp_path, [f for f in FUNCTIONS if f != "ws_ping"] + ["ws_pong"], soname=soname)
    code, out = abi_check(library, edited_header(tmp_path, "int32_t ws_ping(", "int32_t ws_pong("))
    assert code == rc, out
    assert "BREAK: symbol ws_ping@WSCLIENT_0.1 removed" in out
    assert ("allowed by the new SONAME libwsclient.so.0.99" in out) == (rc == 0)
