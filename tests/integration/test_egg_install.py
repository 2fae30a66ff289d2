"""The CHICKEN egg installs the egg way: with libwsclient installed in
/usr/local, plain `chicken-install` in bindings/chicken (no variable set)
builds and installs it, `(import ws-client)` works without
LD_LIBRARY_PATH, and `csc -static` links a program with no extra option. Runs in a private mount namespace (egg_system_install.sh),
so the machine's /usr/local and CHICKEN repository are left alone."""

import os
import shutil
import subprocess

import pytest

from conftest import ROOT


def can_unshare():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("chicken-install"):
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not can_unshare(), reason="needs root, unshare and CHICKEN")
def test_plain_chicken_install_against_usr_local(tmp_path):
    result = subprocess.run(
        ["unshare", "--mount", "sh", str(ROOT / "tests" / "integration" / "egg_system_install.sh"),
         str(ROOT), str(tmp_path)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    version = (ROOT / "include" / "wsclient.h").read_text().split('WSCLIENT_VERSION "')[1].split('"')[0]
    # a program built with csc -static (ws-client.link: libwsclient.a and its libraries)
    assert f"static {version}" in result.stdout.splitlines()
    assert result.stdout.strip().splitlines()[-1] == f"ws-client {version}"
