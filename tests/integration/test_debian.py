"""The Debian packages (debian/, `make package-debs`): unpacked into a
scratch root with dpkg -x, a C program builds against them through
pkg-config and echoes a compressed message through a real server; the
symbols file lists every function of the header.

The .debs are built when missing if dpkg-buildpackage and debhelper are
installed: `make package-debs`, from the `make dist` tarball through a
source package, as a distribution builds them, with DEB_BUILD_OPTIONS=nocheck
(`make test` runs those suites itself; `make package` builds with them).
Then lintian on the source and binary packages, and the autopkgtest in a
throwaway mount namespace, when those tools are installed (slow: a minute
or two each)."""

import glob
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT
from harness import echo_server

DEBS = ROOT / "build" / "deb"

PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include <wsclient.h>

int main(int argc, char **argv) {
    ws_options *opts = ws_options_new();
    ws_conn *conn = NULL;
    ws_message *msg = NULL;
    int32_t rc;
    (void)argc;
    ws_options_add_deflate_offer(opts, "");
    rc = ws_connect(argv[1], opts, &conn, NULL);
    ws_options_free(opts);
    if (rc != WS_OK) { fprintf(stderr, "connect: %s\n", ws_last_error_message()); return 1; }
    if (ws_send_text(conn, "from the package", 16) != WS_OK) return 2;
    if (ws_recv_message(conn, &msg) != WS_OK) return 3;
    printf("%s %d %.*s\n", ws_version(), (int)ws_conn_compression(conn),
           (int)ws_message_size(msg), (const char *)ws_message_data(msg));
    ws_message_free(msg);
    ws_close(conn, 1000, NULL);
    while (ws_recv_message(conn, &msg) == WS_OK) ws_message_free(msg);
    ws_conn_free(conn);
    return 0;
}
"""


def test_symbols_file_lists_every_function():
    result = subprocess.run(["python3", str(ROOT / "scripts" / "debian-symbols.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def debs():
    return sorted(glob.glob(str(DEBS / "libwsclient*.deb")))


@pytest.fixture(scope="module")
def packages():
    if not [d for d in debs() if "dbgsym" not in d]:
        if not (shutil.which("dpkg-buildpackage") and shutil.which("dh")):
            pytest.skip("no .debs in build/deb and no dpkg-buildpackage/debhelper to build them")
        env = {**os.environ, "DEB_BUILD_OPTIONS": "nocheck"}
        result = subprocess.run(["make", "-s", "package-debs"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    found = {re.sub(r"_.*", "", os.path.basename(d)): d for d in debs()}
    assert {"libwsclient0.1", "libwsclient-dev"} <= set(found)
    return found


def test_the_packages_were_built_without_a_registry(packages):
    """cargo built them from the tarball's vendor/ alone: its home inside
    the package tree (debian/rules) never got a registry or a git checkout.
    (The build also ran without network where unshare(1) may.)"""
    tree = DEBS / f"libwsclient-{version_of_packages(packages)}"
    if not tree.is_dir():
        pytest.skip("the packages were built by an earlier run")
    home = tree / "debian" / "cargo_home"
    assert not (home / "registry").exists() and not (home / "git").exists()
    assert (tree / "vendor").is_dir()


def version_of_packages(packages):
    return re.sub(r"-[^-]*$", "", os.path.basename(packages["libwsclient0.1"]).split("_")[1])


def test_debs_install_into_a_scratch_root_and_work(packages, tmp_path):
    root = tmp_path / "root"
    for name in ("libwsclient0.1", "libwsclient-dev"):
        subprocess.run(["dpkg", "-x", packages[name], str(root)], check=True)
    multiarch = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                               text=True, check=True).stdout.strip()
    libdir = root / "usr" / "lib" / multiarch

    # The runtime package has the SONAME link; the -dev package the rest.
    assert os.readlink(libdir / "libwsclient.so.0.1") == "libwsclient.so.0.1.0"
    assert os.readlink(libdir / "libwsclient.so") == "libwsclient.so.0.1"
    assert (root / "usr" / "share" / "man" / "man3" / "ws_connect.3.gz").is_file()
    versions = {line.split()[-2] for line in subprocess.run(
        ["objdump", "-T", str(libdir / "libwsclient.so.0.1.0")], capture_output=True, text=True,
        check=True).stdout.splitlines() if " ws_" in line}
    # Every function at a node of wsclient.map (the release that added it).
    nodes = set(re.findall(r"^(WSCLIENT_[\d.]+)\s*\{", (ROOT / "wsclient.map").read_text(), re.M))
    assert versions == nodes and "WSCLIENT_0.1" in nodes

    env = {**os.environ, "PKG_CONFIG_LIBDIR": f"{libdir}/pkgconfig:/usr/lib/{multiarch}/pkgconfig:"
           "/usr/share/pkgconfig", "PKG_CONFIG_SYSROOT_DIR": str(root)}
    env.pop("PKG_CONFIG_PATH", None)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libwsclient"], env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    assert f"-I{root}/usr/include" in flags and f"-L{libdir}" in flags
    source = tmp_path / "prog.c"
    source.write_text(PROGRAM)
    exe = tmp_path / "prog"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", str(source), "-o", str(exe),
                    *flags], check=True)

    run_env = {**os.environ, "LD_LIBRARY_PATH": str(libdir)}
    loaded = subprocess.run(["ldd", str(exe)], env=run_env, capture_output=True, text=True).stdout
    assert f"{libdir}/libwsclient.so.0.1" in loaded
    with echo_server("--deflate") as port:
        result = subprocess.run([str(exe), f"ws://127.0.0.1:{port}/"], env=run_env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    version = re.search(r'^version = "(.*)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
    assert result.stdout.strip() == f"{version} 1 from the package"


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("lintian"), reason="lintian is not installed")
def test_lintian_finds_no_error_in_the_source_and_binary_packages(packages):
    """The source package (.dsc, from the `make dist` tarball) and the binary
    build (.changes): no error; the warnings kept are in debian/README.source."""
    files = sorted(glob.glob(str(DEBS / "*.dsc")) + glob.glob(str(DEBS / "*.changes")))
    assert len(files) == 2, files
    result = subprocess.run(["lintian", "--fail-on", "error", "--tag-display-limit", "0", *files],
                            capture_output=True, text=True, timeout=900)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    tags = {line.split(": ", 2)[2].split()[0] for line in result.stdout.splitlines()
            if re.match(r"[EW]: ", line)}
    assert tags <= {"initial-upload-closes-no-bugs", "newer-standards-version"}, result.stdout


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("autopkgtest") or os.geteuid() != 0,
                    reason="needs autopkgtest, and root for a private mount namespace")
def test_autopkgtest_passes_in_a_throwaway_namespace(packages):
    """debian/tests through autopkgtest's null virt server, installed into
    overlays that vanish afterwards (scripts/autopkgtest-isolated.sh)."""
    binaries = [d for d in debs() if "dbgsym" not in d]
    result = subprocess.run(["sh", str(ROOT / "scripts" / "autopkgtest-isolated.sh"),
                             str(DEBS / "autopkgtest"), *glob.glob(str(DEBS / "*.dsc")), *binaries],
                            capture_output=True, text=True, timeout=900)
    summary = DEBS / "autopkgtest" / "summary"
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert re.search(r"^c-echo\s+PASS", summary.read_text(), re.M), summary.read_text()
    # Nothing of it reached this machine.
    assert not glob.glob("/usr/lib/*/libwsclient.so*")
