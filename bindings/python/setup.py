"""Build hooks of the libwsclient wheel (metadata is in pyproject.toml).

- The Rust library is built by setuptools-rust as a plain cdylib (no Python
  binding: the package loads it with ctypes) and copied into the package as
  ``wsclient/_libwsclient.so``, the first place ``wsclient/_loader.py`` looks.
- The crate is the repository's (``../../Cargo.toml``) in a checkout; an
  sdist carries a copy of it under ``rust/``.
- The wheel is tagged ``py3-none-<platform>``: the library does not link
  libpython, so one wheel serves every Python 3 on the platform.
"""

import os
import shutil
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.sdist import sdist
from setuptools_rust import Binding, RustExtension, Strip
from setuptools_rust.build import build_rust

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]
SDIST_CRATE = "rust"
#: What cargo needs to build the library, and nothing else: the manifest,
#: the lock file (the sdist builds the crate versions that were tested), the
#: build script, the sources, and the bench target Cargo.toml declares (cargo
#: reads every target's path, even for `--lib`); the licence beside them.
#: `tests/test_install.py` builds the wheel from the sdist alone.
CRATE_FILES = ["Cargo.toml", "Cargo.lock", "build.rs", "src", "benches/echo.rs", "benches/support", "LICENSE"]


def crate_manifest() -> str:
    """Cargo.toml of the crate, relative to this directory."""
    if (HERE / SDIST_CRATE / "Cargo.toml").is_file():
        return f"{SDIST_CRATE}/Cargo.toml"
    if (CHECKOUT / "Cargo.toml").is_file() and (CHECKOUT / "src" / "ffi").is_dir():
        return os.path.relpath(CHECKOUT / "Cargo.toml", HERE)
    raise SystemExit("libwsclient: the Rust crate is missing (neither rust/ nor ../../Cargo.toml)")


class BuildRust(build_rust):  # type: ignore[misc]
    def get_dylib_ext_path(self, ext: RustExtension, target_fname: str) -> str:
        # _libwsclient.so, not _libwsclient.cpython-311-...so: it is no
        # extension module and serves every Python version.
        path = super().get_dylib_ext_path(ext, target_fname)
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        if path.endswith(suffix):
            path = path[: -len(suffix)] + ".so"
        return path


class BdistWheel(bdist_wheel):  # type: ignore[misc]
    def get_tag(self):  # type: ignore[no-untyped-def]
        _, _, plat = super().get_tag()
        return "py3", "none", plat


class SdistWithCrate(sdist):  # type: ignore[misc]
    def make_release_tree(self, base_dir, files):  # type: ignore[no-untyped-def]
        super().make_release_tree(base_dir, files)
        if (HERE / SDIST_CRATE / "Cargo.toml").is_file():
            return  # an sdist rebuilt from an sdist: rust/ is among `files`
        dest = Path(base_dir) / SDIST_CRATE
        for name in CRATE_FILES:
            src = CHECKOUT / name
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("target", "__pycache__"))
            elif src.is_file():
                shutil.copy2(src, dest / name)
            else:
                raise SystemExit(f"libwsclient sdist: {src} is missing")


setup(
    rust_extensions=[
        RustExtension(
            "wsclient._libwsclient",
            path=crate_manifest(),
            binding=Binding.NoBinding,
            strip=Strip.Debug,
            py_limited_api=False,
        )
    ],
    cmdclass={"build_rust": BuildRust, "bdist_wheel": BdistWheel, "sdist": SdistWithCrate},
    zip_safe=False,
)
