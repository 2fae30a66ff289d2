#!/usr/bin/env python3
"""Keep debian/libwsclient0.1.symbols in step with include/wsclient.h.

Every ws_* function of the header is listed at symbol version WSCLIENT_0.1
(see wsclient.map) with the upstream version that introduced it: entries
already in the file keep theirs, new functions get Cargo.toml's version.
Functions gone from the header are kept (removing one breaks the ABI: that
needs a new SONAME, not an edit here).

    debian-symbols.py          write the file (make debian-symbols)
    debian-symbols.py --check  exit 1 when a header function is missing
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = ROOT / "debian" / "libwsclient0.1.symbols"
NODE = "WSCLIENT_0.1"


def main():
    header = (ROOT / "include" / "wsclient.h").read_text()
    functions = set(re.findall(r"^[a-z].*?\b(ws_\w+)\(", header, re.M))
    version = re.search(r'^version = "(.*)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
    known = {}
    if SYMBOLS.exists():
        for line in SYMBOLS.read_text().splitlines():
            m = re.match(r"^ (\S+)@" + re.escape(NODE) + r" (\S+)$", line)
            if m:
                known[m.group(1)] = m.group(2)
    missing = sorted(functions - set(known))
    if "--check" in sys.argv[1:]:
        for name in missing:
            print(f"debian-symbols: {name} is not in {SYMBOLS.name}: run make debian-symbols",
                  file=sys.stderr)
        return 1 if missing else 0
    entries = {**{name: version for name in functions}, **known}
    entries.setdefault(NODE, version)
    lines = ["libwsclient.so.0.1 libwsclient0.1 #MINVER#",
             "* Build-Depends-Package: libwsclient-dev"]
    lines += [f" {name}@{NODE} {entries[name]}" for name in sorted(entries)]
    SYMBOLS.write_text("\n".join(lines) + "\n")
    print(f"debian-symbols: {len(entries)} symbols, {len(missing)} added")
    return 0


if __name__ == "__main__":
    sys.exit(main())
