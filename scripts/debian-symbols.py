#!/usr/bin/env python3
"""Keep debian/libwsclient0.1.symbols in step with include/wsclient.h.

Every ws_* function of the header is listed at its symbol version (the node
wsclient.map names it in, else WSCLIENT_0.1, whose ws_* pattern takes the
rest) with the upstream version that introduced it: entries
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


def explicit_nodes():
    """{function: node} for the names wsclient.map lists in a node."""
    text = re.sub(r"/\*.*?\*/", "", (ROOT / "wsclient.map").read_text(), flags=re.S)
    nodes = {}
    for node, body in re.findall(r"([\w.]+)\s*\{(.*?)\}", text, re.S):
        for name in re.findall(r"\b(ws_\w+)\s*;", body):
            nodes[name] = node
    return nodes


def main():
    header = (ROOT / "include" / "wsclient.h").read_text()
    functions = set(re.findall(r"^[a-z].*?\b(ws_\w+)\(", header, re.M))
    version = re.search(r'^version = "(.*)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
    node_of = explicit_nodes()

    def where(name):
        """The node of a function, or of a node's own entry."""
        return name if name.startswith("WSCLIENT_") else node_of.get(name, NODE)

    known = {}
    if SYMBOLS.exists():
        for line in SYMBOLS.read_text().splitlines():
            m = re.match(r"^ (\S+)@(WSCLIENT_\S+) (\S+)$", line)
            if m and where(m.group(1)) == m.group(2):
                known[m.group(1)] = m.group(3)
    missing = sorted(functions - set(known))
    if "--check" in sys.argv[1:]:
        for name in missing:
            print(f"debian-symbols: {name} is not in {SYMBOLS.name}: run make debian-symbols",
                  file=sys.stderr)
        return 1 if missing else 0
    entries = {**{name: version for name in functions}, **known}
    for node in {NODE, *node_of.values()}:
        entries.setdefault(node, version)
    lines = ["libwsclient.so.0.1 libwsclient0.1 #MINVER#",
             "* Build-Depends-Package: libwsclient-dev"]
    lines += [f" {name}@{where(name)} {entries[name]}" for name in sorted(entries)]
    SYMBOLS.write_text("\n".join(lines) + "\n")
    print(f"debian-symbols: {len(entries)} symbols, {len(missing)} added")
    return 0


if __name__ == "__main__":
    sys.exit(main())
