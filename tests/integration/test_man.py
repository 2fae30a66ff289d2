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


# --- Issue 27, item 6: whole NAME lines, RETURN VALUE and EXAMPLE sections,
# examples that compile, no "seed" where users read.

def name_line(page):
    lines = page.read_text().splitlines()
    return lines[lines.index(".SH NAME") + 1]


def sections(text):
    """{heading: roff lines} of a page."""
    out, current = {}, None
    for line in text.splitlines():
        if line.startswith(".SH "):
            current = line[4:].strip('"')
            out[current] = []
        elif current:
            out[current].append(line)
    return out


def test_name_lines_are_whole_sentences(pages):
    """A NAME line is the doc comment's whole first sentence: not cut at the
    period of "e.g." or inside parentheses, and no `*` lost from it."""
    for page in sorted(pages.glob("*.3")):
        name = name_line(page)
        text = name.split(" \\- ", 1)[1]
        assert text.count("(") == text.count(")"), f"{page.name}: cut inside parentheses: {name}"
        assert not re.search(r"\b(e\.g|i\.e|etc|cf|vs)\.?$", text), f"{page.name}: cut: {name}"
        assert not text.endswith((":", ",", ";")), f"{page.name}: cut: {name}"
        assert "(," not in text and "( " not in text, f"{page.name}: lost a character: {name}"
    assert "no_proxy (*, domains" in name_line(pages / "ws_options_use_env_proxy.3")
    assert name_line(pages / "ws_send_message.3").endswith("(e.g. echo a received message)")


def test_result_codes_section_has_every_result_code(pages):
    found = sections((pages / "wsclient.3").read_text())
    codes = " ".join(found["RESULT CODES"])
    constants = " ".join(found["CONSTANTS"])
    for name in ("WS_OK", "WS_HTTP_RESPONSE", "WS_CLOSED", "WS_STOPPED"):
        assert f".BR {name} " in codes, name
        assert f".BR {name} " not in constants, name


def test_every_function_page_has_return_value_and_example(pages):
    """RETURN VALUE says what comes back (WS_OK and codes for a call that
    returns a result code); EXAMPLE is a program that calls the function."""
    header = HEADER.read_text()
    for name in sorted(header_functions()):
        found = sections((pages / f"{name}.3").read_text())
        assert found.get("RETURN VALUE"), f"{name}: no RETURN VALUE"
        assert found.get("EXAMPLE"), f"{name}: no EXAMPLE"
        example = example_source(found["EXAMPLE"])
        assert re.search(rf"\b{name}\s*\(", example), f"{name}: its EXAMPLE does not call it"
        returns = " ".join(found["RETURN VALUE"])
        decl = re.search(rf"^(.*?)\b{name}\(", header, re.M).group(1)
        if decl.startswith("int32_t") and re.match(r"ws_(send|recv|options_set|connect|close)", name):
            assert "WS_OK" in returns and "WS_ERR_NULL_ARGUMENT" in returns, name
        if decl.startswith("void"):
            assert "returns no value" in returns, name
    returns = " ".join(sections((pages / "ws_connect.3").read_text())["RETURN VALUE"])
    assert "WS_HTTP_RESPONSE" in returns and "WS_ERR_PROXY" in returns
    returns = " ".join(sections((pages / "ws_recv_message_loop.3").read_text())["RETURN VALUE"])
    assert "WS_STOPPED" in returns and "WS_CLOSED" in returns


def example_source(roff_lines):
    """The C text of an EXAMPLE section (between .nf and .fi), unescaped."""
    assert roff_lines[0] == ".nf" and roff_lines[-1] == ".fi", roff_lines[:1] + roff_lines[-1:]
    text = "\n".join(roff_lines[1:-1]) + "\n"
    text = re.sub(r"^\\&", "", text, flags=re.M)
    return text.replace("\\-", "-").replace("\\e", "\\")


def test_every_example_compiles(pages, tmp_path):
    """Each page's EXAMPLE, as a reader copies it from the page, compiles
    against include/wsclient.h with -Wall -Wextra -Werror (C99 and C11)."""
    examples = {}
    for page in sorted(pages.glob("ws_*.3")):
        source = example_source(sections(page.read_text())["EXAMPLE"])
        examples.setdefault(source, page.stem)
    assert len(examples) >= 10
    for k, (source, name) in enumerate(sorted(examples.items(), key=lambda e: e[1])):
        path = tmp_path / f"{name}.c"
        path.write_text(source)
        for std in ("c99", "c11"):
            result = subprocess.run(
                ["cc", f"-std={std}", "-Wall", "-Wextra", "-Werror",
                 "-I", str(ROOT / "include"), "-c", str(path), "-o", str(tmp_path / f"{k}.o")],
                capture_output=True, text=True)
            assert result.returncode == 0, f"EXAMPLE of {name}.3 ({std}):\n{result.stderr}"


def test_closed_result_string_does_not_say_who_closed():
    """WS_CLOSED also ends a close we started: its text names no side."""
    lib = ctypes.CDLL(str(BUILD / "lib" / "libwsclient.so"))
    lib.ws_result_string.restype = ctypes.c_char_p
    lib.ws_result_string.argtypes = [ctypes.c_int32]
    text = lib.ws_result_string(2).decode()
    assert "closed" in text and "server" not in text, text


SEED = re.compile(r"\bseed\b", re.I)


def test_no_seed_in_installed_files(tmp_path):
    """Nothing installed (header, C++ header, pages, pkg-config file, the
    tool's --help) says "seed", a word from the project's history that no
    user knows."""
    dest = tmp_path / "dest"
    subprocess.run(["make", "-s", "install", f"DESTDIR={dest}", "PREFIX=/usr"], cwd=ROOT,
                   check=True, capture_output=True)
    found = []
    files = [p for p in dest.rglob("*") if p.is_file() and not p.is_symlink()]
    assert any(p.name == "wsclient.hpp" for p in files)
    assert any(p.name == "ws_connect.3" for p in files)
    for path in files:
        if path.suffix in (".so", ".a") or ".so." in path.name or path.parent.name == "bin":
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if SEED.search(line):
                found.append(f"{path.relative_to(dest)}:{n}: {line.strip()}")
    tool = next(p for p in files if p.name == "wsclient-cat")
    env = {**os.environ, "LD_LIBRARY_PATH": str(dest / "usr" / "lib")}
    usage = subprocess.run([str(tool), "--help"], capture_output=True, text=True, env=env)
    assert usage.returncode == 0 and "--help" in usage.stdout + usage.stderr
    if SEED.search(usage.stdout + usage.stderr):
        found.append("wsclient-cat --help")
    assert not found, "\n".join(found)


def test_no_seed_in_what_users_read():
    """The same for the documentation, examples and bindings in the tree
    (fuzzing's seed corpora are another meaning and stay)."""
    globs = ["README.md", "CHANGELOG.md", "include/*", "docs/man-examples/*", "examples-c/*",
             "examples-cpp/*", "tools/*", "bindings/*/README.md", "bindings/chicken/*.wiki",
             "bindings/chicken/*.scm", "bindings/chicken/examples/*", "bindings/python/wsclient/*.py",
             "src/ffi/*.rs"]
    found = []
    for pattern in globs:
        for path in sorted(ROOT.glob(pattern)):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if SEED.search(line) and "seed corpora" not in line:
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)
