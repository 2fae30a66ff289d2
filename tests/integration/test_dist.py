"""The source release (`make dist`): the tarball holds the tracked files, the
vendored crates and the source replacement, and the library and examples
build from it offline: an empty CARGO_HOME, CARGO_NET_OFFLINE=true, only
the toolchain's own bin/ added to the system PATH (not ~/.cargo/bin), and,
where unshare(1) may, in a network namespace without network.

Its cargo output goes to target/dist-check, kept between runs: the first
run builds every crate (a few minutes on 2 cores), later ones only what
changed. The Debian packages are built from the same tarball, checked by
lintian and their autopkgtest run, by test_debian.py (`make package-debs`,
without the package's own tests) and by `make package` (with them).
"""

import hashlib
import os
import re
import shutil
import subprocess
import tarfile

import pytest

from conftest import ROOT

VERSION = re.search(r'^version = "(.*)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
NAME = f"libwsclient-{VERSION}"
DIST = ROOT / "build" / "dist"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


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


def rust_bin():
    """The rustup toolchain's bin/ (not its ~/.cargo/bin proxies), or None
    when cargo is the system's."""
    if shutil.which("rustup") is None:
        return None
    rustc = subprocess.run(["rustup", "which", "rustc"], capture_output=True, text=True)
    return os.path.dirname(rustc.stdout.strip()) if rustc.returncode == 0 else None


@pytest.mark.slow
def test_library_and_examples_build_offline_from_the_tarball(tarball, tmp_path):
    tree = ROOT / "build" / "dist-check"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(tree)
    src = tree / NAME
    cargo_home = tmp_path / "cargo-home"
    cargo_home.mkdir()
    toolchain = rust_bin()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CARGO", "RUSTUP", "WSCLIENT_"))}
    env.update(CARGO_HOME=str(cargo_home), CARGO_NET_OFFLINE="true",
               CARGO_TARGET_DIR=str(ROOT / "target" / "dist-check"),
               PATH=f"{toolchain}:{SYSTEM_PATH}" if toolchain else SYSTEM_PATH)
    # --frozen: Cargo.lock as shipped, and no network whatever the config says;
    # as root, in a network namespace that has no network at all.
    no_net = ["unshare", "--net"] if subprocess.run(
        ["unshare", "--net", "true"], capture_output=True).returncode == 0 else []
    result = subprocess.run([*no_net, "make", "lib", "examples", "CARGO=cargo --frozen"], cwd=src,
                            env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # cargo kept its hands off any registry: the empty home holds no crate.
    assert not (cargo_home / "registry").exists() and not (cargo_home / "git").exists()

    lib = src / "build" / "lib" / f"libwsclient.so.{VERSION}"
    needed = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True,
                            check=True).stdout
    assert "libz.so" in needed and "libssl.so" in needed
    assert (src / "build" / "examples" / "echo_client").is_file()

    # The offline check the Debian build and autopkgtest run, on this build.
    check = subprocess.run(["sh", "tests/c/echo_check.sh", "--build-tree"], cwd=src, env=env,
                           capture_output=True, text=True, timeout=180)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "echo_check: passed" in check.stdout


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
