"""`make install` gives what a distribution packages: a .so with SONAME and
symlinks that needs only system OpenSSL and zlib, the .a, the header, and a
pkg-config file a C program can build against."""

import os
import re
import shutil
import subprocess

from conftest import ROOT


def sh(*cmd, env=None):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, cwd=ROOT).stdout


def test_install_layout_soname_and_pkg_config(tmp_path):
    prefix = tmp_path / "usr"
    sh("make", "-s", "install", f"PREFIX={prefix}")
    lib = prefix / "lib"
    version = re.search(r'^version = "(.*)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
    major, minor, _ = version.split(".")
    soname = f"libwsclient.so.0.{minor}" if major == "0" else f"libwsclient.so.{major}"
    assert (lib / f"libwsclient.so.{version}").is_file()
    assert os.readlink(lib / soname) == f"libwsclient.so.{version}"
    assert os.readlink(lib / "libwsclient.so") == soname
    assert (lib / "libwsclient.a").is_file()
    assert (prefix / "include" / "wsclient.h").is_file()
    # `man 3 ws_connect` finds the installed page.
    page = sh("man", "-M", str(prefix / "share" / "man"), "3", "ws_connect",
              env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"})
    assert "ws_connect" in page and "SYNOPSIS" in page

    so = lib / f"libwsclient.so.{version}"
    dynamic = sh("readelf", "-d", str(so))
    assert f"Library soname: [{soname}]" in dynamic
    needed = set(re.findall(r"Shared library: \[(.*?)\]", dynamic))
    assert {"libssl.so.3", "libcrypto.so.3", "libz.so.1"} <= needed

    env = {**os.environ, "PKG_CONFIG_PATH": str(lib / "pkgconfig")}
    flags = sh("pkg-config", "--cflags", "--libs", "libwsclient", env=env).split()
    assert f"-I{prefix}/include" in flags and "-lwsclient" in flags
    assert sh("pkg-config", "--modversion", "libwsclient", env=env).strip() == version

    program = tmp_path / "v.c"
    program.write_text(
        '#include <stdio.h>\n#include <string.h>\n#include <wsclient.h>\n'
        'int main(void) { puts(ws_version()); return strcmp(ws_version(), WSCLIENT_VERSION); }\n'
    )
    exe = tmp_path / "v"
    sh("cc", "-Wall", "-Wextra", "-Werror", str(program), "-o", str(exe), *flags, f"-Wl,-rpath,{lib}")
    assert sh(str(exe)).strip() == version


def test_install_uses_the_built_files():
    """`make install` after `make` installs, it does not build (a packager
    runs it as root in a tree built by a user)."""
    plan = sh("make", "-n", "install", "PREFIX=/nonexistent")
    assert "cargo" not in plan and "link-lib" not in plan, plan


def test_exported_symbols_are_versioned_ws_only(tmp_path):
    """Every dynamic symbol the .so defines is a ws_* function at the node
    wsclient.map names it in (WSCLIENT_0.1 for the rest), plus the nodes' own
    definitions; the installed .so has no debug info; the .a defines no
    global symbol other than ws_*."""
    prefix = tmp_path / "usr"
    sh("make", "-s", "install", f"PREFIX={prefix}")
    version = re.search(r'^version = "(.*)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
    so = prefix / "lib" / f"libwsclient.so.{version}"
    defined = [line.split() for line in sh("objdump", "-T", str(so)).splitlines()
               if re.match(r"^[0-9a-f]{16} ", line) and "*UND*" not in line]
    names = {fields[-1]: fields[-2] for fields in defined}
    functions = set(re.findall(r"\b(ws_\w+)\(", (ROOT / "include" / "wsclient.h").read_text()))
    text = re.sub(r"/\*.*?\*/", "", (ROOT / "wsclient.map").read_text(), flags=re.S)
    listed = {name: node for node, body in re.findall(r"([\w.]+)\s*\{(.*?)\}", text, re.S)
              for name in re.findall(r"\b(ws_\w+)\s*;", body)}
    for node in {"WSCLIENT_0.1", *listed.values()}:
        assert names.pop(node) == node
    assert set(names) == functions
    assert names == {name: listed.get(name, "WSCLIENT_0.1") for name in functions}

    sections = sh("readelf", "-S", "-W", str(so))
    assert ".debug_info" not in sections and ".symtab" not in sections

    for archive in (ROOT / "build" / "lib" / "libwsclient.a", prefix / "lib" / "libwsclient.a"):
        symbols = sh("nm", "-g", "--defined-only", str(archive)).split()
        globals_ = {symbols[i + 2] for i in range(len(symbols) - 2)
                    if re.fullmatch(r"[0-9a-f]{16}", symbols[i]) and symbols[i + 1] in "TDBRVWi"}
        assert globals_ == functions, archive


def test_install_puts_wsclient_cat_in_bindir(tmp_path):
    prefix = tmp_path / "usr"
    sh("make", "-s", "install", f"PREFIX={prefix}")
    tool = prefix / "bin" / "wsclient-cat"
    assert os.access(tool, os.X_OK)
    # No RUNPATH into the build tree: it loads the library installed beside it.
    assert str(ROOT / "build") not in sh("readelf", "-d", str(tool))
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    out = subprocess.run([str(tool), "--version"], capture_output=True, text=True, check=True, env=env)
    assert "libwsclient" in out.stdout
    ldd = subprocess.run(["ldd", str(tool)], capture_output=True, text=True, check=True, env=env).stdout
    loaded = re.search(r"libwsclient\.so\S* => (\S+)", ldd).group(1)
    assert os.path.realpath(loaded).startswith(str((prefix / "lib").resolve()) + "/"), ldd


def test_install_does_not_depend_on_an_earlier_install(tmp_path):
    """Each install's wsclient-cat finds the library of its own prefix
    (RUNPATH $ORIGIN/../lib), whatever was installed before and even once
    that is gone; into a system LIBDIR (Debian's) it has no RUNPATH."""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}

    def runpath(tool):
        return re.findall(r"\((?:RUNPATH|RPATH)\).*\[(.*)\]", sh("readelf", "-d", str(tool)))

    first, second, third = tmp_path / "first", tmp_path / "second", tmp_path / "third"
    sh("make", "-s", "install", f"PREFIX={first}")
    sh("make", "-s", "install", f"PREFIX={second}")
    staged = tmp_path / "stage"
    sh("make", "-s", "install", "PREFIX=/usr", "LIBDIR=/usr/lib/x86_64-linux-gnu", f"DESTDIR={staged}")
    sh("make", "-s", "install", f"PREFIX={third}")
    shutil.rmtree(first)
    for prefix in (second, third):
        tool = prefix / "bin" / "wsclient-cat"
        assert runpath(tool) == ["$ORIGIN/../lib"]
        out = subprocess.run([str(tool), "--version"], capture_output=True, text=True, env=env)
        assert out.returncode == 0 and "libwsclient" in out.stdout, (prefix, out.stderr)
    assert runpath(staged / "usr" / "bin" / "wsclient-cat") == []


def test_install_puts_the_cpp_header_beside_the_c_header(tmp_path):
    prefix = tmp_path / "usr"
    sh("make", "-s", "install", f"PREFIX={prefix}")
    assert (prefix / "include" / "wsclient.hpp").is_file()
    env = {**os.environ, "PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig")}
    flags = sh("pkg-config", "--cflags", "--libs", "libwsclient", env=env).split()
    program = tmp_path / "v.cpp"
    program.write_text(
        '#include <wsclient.hpp>\n#include <iostream>\n'
        'int main() { ws::options o; o.deflate(); std::cout << ws_version() << "\\n"; }\n'
    )
    exe = tmp_path / "v"
    sh("c++", "-std=c++17", "-Wall", "-Wextra", "-Werror", str(program), "-o", str(exe), *flags,
       f"-Wl,-rpath,{prefix / 'lib'}")
    assert sh(str(exe)).strip() == sh("sed", "-n", 's/^version = "\\(.*\\)"/\\1/p', "Cargo.toml").splitlines()[0]
