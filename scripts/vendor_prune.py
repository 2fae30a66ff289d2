#!/usr/bin/env python3
"""Leave out of vendor/ what a build never reads and a distribution would
not keep (`make dist` runs this after `cargo vendor`):

- each crate's Cargo.toml.orig (the manifest as its authors wrote it,
  before `cargo publish` normalised it into Cargo.toml): dpkg-source drops
  files named *.orig when it unpacks a source package, after which cargo
  refused the crate (a listed file is missing);
- the C libraries that crates bundle but libwsclient never builds, because
  it links the system's copy instead;
- prebuilt binaries (objects and WebAssembly modules) that crates carry for
  targets libwsclient is not built for: a source package holds sources.

libz-sys carries zlib and zlib-ng sources (and zlib's contrib/, under several
more licences) for builds without a system zlib; libwsclient links the
system's libz (libz-sys without its `static` or `zlib-ng` features), so those
sources would only be unused code under licences debian/copyright would
have to list. Without them, a machine lacking the system zlib fails to build
instead of quietly building a bundled one.

cargo checks every file listed in a vendored crate's .cargo-checksum.json,
so the entries of the removed files are dropped from it (the crate's own
checksum, compared with Cargo.lock, stays).

    scripts/vendor_prune.py VENDOR_DIR
"""

import json
import shutil
import sys
from pathlib import Path

# crate name -> (what of its vendored copy is left out: paths or glob
# patterns, folders included whole; why, for debian/copyright).
PRUNE = {
    "libz-sys": (["src/zlib", "src/zlib-ng"],
                 "the zlib sources it bundles, as the library links the system's libz"),
    "wit-bindgen": (["src/rt/*.o", "*.wasm"],
                    "its prebuilt WebAssembly objects, used only when building for wasm32"),
}
# Left out of every crate.
EVERY_CRATE = ["Cargo.toml.orig"]


def crate_name(folder):
    """`cargo vendor --versioned-dirs` names folders <name>-<version>."""
    name, _, version = folder.name.rpartition("-")
    return name if version[:1].isdigit() else folder.name


def prune(vendor):
    pruned = []
    for crate in sorted(p for p in vendor.iterdir() if p.is_dir()):
        patterns = PRUNE.get(crate_name(crate), ([], ""))[0] + EVERY_CRATE
        gone = sorted({str(path.relative_to(crate)) for pattern in patterns
                       for path in crate.glob(pattern)})
        if not gone:
            continue
        for sub in gone:
            if (crate / sub).is_dir():
                shutil.rmtree(crate / sub)
            else:
                (crate / sub).unlink()
            if sub not in EVERY_CRATE:
                pruned.append(f"{crate.name}/{sub}")
        checksums = crate / ".cargo-checksum.json"
        data = json.loads(checksums.read_text())
        data["files"] = {f: h for f, h in data["files"].items()
                         if not any(f == sub or f.startswith(sub + "/") for sub in gone)}
        checksums.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")))
    return pruned


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    for path in prune(Path(sys.argv[1])):
        print(f"vendor-prune: left out {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
