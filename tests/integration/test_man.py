"""Man pages are generated from the header (scripts/gen-man.py): one per
ws_* function plus wsclient(3), each renders with man(1) without warnings,
and wsclient(3) marks exactly the codes ws_result_is_fail() says are fails."""

import ctypes
import os
import re
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT

HEADER = ROOT / "include" / "wsclient.h"


def header_functions():
    return set(re.findall(r"^[a-z].*?\b(ws_\w+)\(", HEADER.read_text(), re.M))


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("man3")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-man.py"), str(HEADER), str(out)],
                   check=True, capture_output=True)
    return out


def test_every_function_has_a_page(pages):
    functions = header_functions()
    assert len(functions) > 50
    assert {p.stem for p in pages.glob("*.3")} == functions | {"wsclient"}
    overview = (pages / "wsclient.3").read_text()
    for name in functions:
        assert f".BR {name} (3)" in overview, name


def test_pages_render_without_warnings(pages):
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_STDERR": "1"}
    for page in sorted(pages.glob("*.3")):
        result = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True,
                                text=True, env=env)
        assert result.returncode == 0 and not result.stderr.strip(), f"{page.name}: {result.stderr}"
        if page.stem != "wsclient":
            assert "SYNOPSIS" in result.stdout and "DESCRIPTION" in result.stdout
            assert page.stem in result.stdout.split("DESCRIPTION")[0], page.name


def test_fail_codes_match_the_library(pages):
    lib = ctypes.CDLL(str(BUILD / "lib" / "libwsclient.so"))
    lib.ws_result_is_fail.restype = ctypes.c_bool
    lib.ws_result_is_fail.argtypes = [ctypes.c_int32]
    overview = (pages / "wsclient.3").read_text()
    entries = re.findall(r'^\.BR (WS_ERR_\w+) " \(\\-(\d+), (fail|exn)\)"$', overview, re.M)
    codes = re.findall(r"^#define (WS_ERR_\w+) -(\d+)$", HEADER.read_text(), re.M)
    assert sorted(e[:2] for e in entries) == sorted(codes)
    for name, value, kind in entries:
        assert (kind == "fail") == lib.ws_result_is_fail(-int(value)), name


def test_readme_lists_every_function():
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in header_functions() if f"`{name}`" not in readme)
    assert not missing, f"README.md's API table lacks {missing}"
