"""The source release (`make dist`): the tarball holds the tracked files, the
vendored crates and the source replacement.

That it builds offline is test_debian.py's part: `make package-debs` builds
the library and the packages from this tarball with cargo's home inside the
package tree and, where unshare(1) may, in a network namespace without
network; the autopkgtest builds an example against them and runs it. (One
build from the tarball rather than two: each is a few minutes of make
test's two cores.)
"""

import hashlib
import re
import subprocess
import tarfile

import pytest

from conftest import ROOT

VERSION = re.search(r'^version = "(.*)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
NAME = f"libwsclient-{VERSION}"
DIST = ROOT / "build" / "dist"


@pytest.fixture(scope="module")
def tarball():
    result = subprocess.run(["make", "-s", "dist"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return DIST / f"{NAME}.tar.gz"


def locked_crates():
    lock = (ROOT / "Cargo.lock").read_text()
    return {f"{name}-{version}" for name, version, rest in
            re.findall(r'\[\[package\]\]\nname = "(.*)"\nversion = "(.*)"\n(source = .*)?', lock)
            if rest}


def test_tarball_has_the_tracked_files_the_vendored_crates_and_a_checksum(tarball):
    digest, name = (DIST / f"{NAME}.tar.gz.sha256").read_text().split()
    assert name == tarball.name
    assert digest == hashlib.sha256(tarball.read_bytes()).hexdigest()

    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        config = tar.extractfile(f"{NAME}/.cargo/config.toml").read().decode()
    assert all(n == NAME or n.startswith(NAME + "/") for n in names)
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split("\n")
    # debian/ is the Debian packaging's (its debian.tar.xz), not upstream's.
    assert {f"{NAME}/{f}" for f in tracked if f and not f.startswith("debian/")} <= set(names)
    assert not [n for n in names if n.startswith(f"{NAME}/debian/")]
    vendored = {n.split("/")[2] for n in names if n.startswith(f"{NAME}/vendor/") and n.count("/") >= 2}
    assert vendored - {""} == locked_crates()
    assert 'replace-with = "vendored-sources"' in config and 'directory = "vendor"' in config
    # Nothing built or local, and no bundled zlib (the system's is linked).
    assert not [n for n in names if re.match(rf"{NAME}/(target|build|\.venv|\.git)/", n)]
    assert not [n for n in names if re.search(r"/vendor/libz-sys-[^/]*/src/zlib", n)]


def test_one_project_url_everywhere():
    """Cargo.toml's repository is the home that debian/ and the Python
    project name; debian/watch looks for the tarball among its releases."""
    cargo = (ROOT / "Cargo.toml").read_text()
    url = re.search(r'^repository = "(.*)"', cargo, re.M).group(1)
    assert re.search(r'^homepage = "(.*)"', cargo, re.M).group(1) == url
    owner_repo = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", url).group(1)

    control = (ROOT / "debian" / "control").read_text()
    assert f"\nHomepage: {url}\n" in control
    assert f"\nVcs-Git: {url}.git\n" in control
    assert f"\nVcs-Browser: {url}/" in control
    assert "example.org" not in control + (ROOT / "debian" / "changelog").read_text()
    metadata = (ROOT / "debian" / "upstream" / "metadata").read_text()
    assert f"Repository-Browse: {url}\n" in metadata and f"Repository: {url}.git\n" in metadata
    watch = (ROOT / "debian" / "watch").read_text()
    assert f"https://api.github.com/repos/{owner_repo}/releases" in watch
    assert f"{url}/releases/download/" in watch and "libwsclient-@ANY_VERSION@@ARCHIVE_EXT@" in watch

    pyproject = (ROOT / "bindings" / "python" / "pyproject.toml").read_text()
    urls = re.search(r"^\[project\.urls\]\n((?:.+\n?)*)", pyproject, re.M)
    for line in (urls.group(1).splitlines() if urls else []):
        assert re.search(r'=\s*"' + re.escape(url), line), line
