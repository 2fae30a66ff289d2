"""`make install` gives what a distribution packages: a .so with SONAME and
symlinks that needs only system OpenSSL and zlib, the .a, the header, and a
pkg-config file a C program can build against."""

import os
import re
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

    dynamic = sh("readelf", "-d", str(lib / f"libwsclient.so.{version}"))
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


def test_install_puts_wsclient_cat_in_bindir_linked_to_the_installed_library(tmp_path):
    prefix = tmp_path / "usr"
    sh("make", "-s", "install", f"PREFIX={prefix}")
    tool = prefix / "bin" / "wsclient-cat"
    assert os.access(tool, os.X_OK)
    out = subprocess.run([str(tool), "--version"], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"})
    assert "libwsclient" in out.stdout
    ldd = sh("ldd", str(tool))
    assert str(prefix / "lib" / "libwsclient.so") in ldd


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
