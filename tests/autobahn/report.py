#!/usr/bin/env python3
"""Write the published conformance report from the Autobahn gates' results.

    report.py --out docs/conformance c python chicken

reads target/autobahn/<name>/index.json (written by gate.py for the agent
libwsclient-<name>) and writes <out>/README.md (a summary per testee and per
section, with the date and the library version and commit) and
<out>/<name>/index.json. Exits 1 unless every testee has results and every
case is OK or INFORMATIONAL in both behavior and behaviorClose.
"""

import argparse
import collections
import datetime
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSING = {"OK", "INFORMATIONAL"}
VERDICTS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]

# The Autobahn Testsuite's section titles (sections 8 and 11 do not exist).
SECTIONS = {
    "1": "Framing",
    "2": "Pings/Pongs",
    "3": "Reserved Bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8 Handling",
    "7": "Close Handling",
    "9": "Limits/Performance",
    "10": "Misc",
    "12": "WebSocket Compression (different payloads)",
    "13": "WebSocket Compression (different parameters)",
}

TESTEES = {
    "c": "C (`examples-c/autobahn_client.c`)",
    "c-poll": "C, non-blocking (`examples-c/poll_client.c`)",
    "c-parts": "C, every message received with `ws_recv_part` in 100-byte pieces "
               "(`examples-c/autobahn_client.c --parts=100`)",
    "c-transport": "C over the caller's transport, each socket driven by the example "
                   "(`examples-c/autobahn_client.c --transport`)",
    "python": "Python binding (`bindings/python/examples/autobahn_client.py`)",
    "python-asyncio": "Python asyncio (`bindings/python/examples/autobahn_client_asyncio.py`)",
    "chicken": "CHICKEN egg (`bindings/chicken`, `run-autobahn.sh`)",
    "c-proxy": "C through an HTTP proxy (proxy.py, Basic auth)",
}


def case_key(case):
    return [int(x) for x in case.split(".")]


def load(name):
    index = ROOT / "target" / "autobahn" / name / "index.json"
    if not index.exists():
        return index, {}
    return index, json.loads(index.read_text()).get(f"libwsclient-{name}", {})


def section_rows(results):
    """Per section: counts of each behavior, closes OK, failures."""
    rows = collections.OrderedDict()
    for case in sorted(results, key=case_key):
        r = results[case]
        row = rows.setdefault(case.split(".")[0], collections.Counter())
        row["cases"] += 1
        row[r["behavior"]] += 1
        row["close ok"] += r["behaviorClose"] in PASSING
        row["passed"] += r["behavior"] in PASSING and r["behaviorClose"] in PASSING
        row["duration"] += r.get("duration", 0)
    return rows


def version():
    text = (ROOT / "Cargo.toml").read_text()
    return re.search(r'^version = "(.*)"', text, re.M).group(1)


def commit():
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def kosoku_version():
    try:
        from importlib.metadata import version as dist_version

        return dist_version("kosoku")
    except Exception:  # noqa: BLE001 - any failure means "unknown"
        return "unknown"


def markdown(names, data, when, made_from):
    source = made_from or f"commit `{commit()}`"
    lines = [
        "# Autobahn conformance report",
        "",
        f"libwsclient **{version()}** ({source}), made {when} UTC by `make conformance`.",
        "",
        "Every client case of the Autobahn Testsuite (sections 1-13, compression included) is run",
        f"against `kosoku -m fuzzingserver` (kosoku {kosoku_version()}, the Autobahn case files), once per",
        "testee. A case passes when both its behavior and its close behavior are OK or INFORMATIONAL;",
        "NON-STRICT counts as a miss. The raw results are the `index.json` files beside this page.",
        "",
        "## Summary",
        "",
        "| Testee | Cases | Passed | OK | INFORMATIONAL | NON-STRICT | FAILED | Results |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in names:
        results = data[name]
        counts = collections.Counter(r["behavior"] for r in results.values())
        passed = sum(r["behavior"] in PASSING and r["behaviorClose"] in PASSING for r in results.values())
        lines.append(
            f"| {TESTEES.get(name, name)} | {len(results)} | **{passed}/{len(results)}** | "
            f"{counts['OK']} | {counts['INFORMATIONAL']} | {counts['NON-STRICT']} | "
            f"{counts['FAILED'] + counts['UNIMPLEMENTED']} | [{name}/index.json]({name}/index.json) |"
        )
    for name in names:
        results = data[name]
        lines += [
            "",
            f"## {TESTEES.get(name, name)}",
            "",
            "| Section | Title | Cases | Passed | OK | NON-STRICT | INFORMATIONAL | UNIMPLEMENTED | FAILED | Close OK | Time (ms) |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        if not results:
            lines.append("| - | no results | 0 | 0 | | | | | | | |")
            continue
        for section, row in section_rows(results).items():
            verdicts = " | ".join(str(row[v]) for v in VERDICTS)
            lines.append(
                f"| {section} | {SECTIONS.get(section, '')} | {row['cases']} | {row['passed']} | "
                f"{verdicts} | {row['close ok']} | {row['duration']} |"
            )
        misses = [
            f"- {case}: behavior {r['behavior']}, close {r['behaviorClose']}"
            for case, r in sorted(results.items(), key=lambda kv: case_key(kv[0]))
            if r["behavior"] not in PASSING or r["behaviorClose"] not in PASSING
        ]
        if misses:
            lines += ["", "Cases that did not pass:", "", *misses]
    lines += [
        "",
        "## Reproduce",
        "",
        "```sh",
        "make conformance   # runs the three gates (about 8 minutes on 2 cores), rewrites this folder",
        "```",
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--made-from", help="what the library was built from, if not this commit")
    parser.add_argument("names", nargs="+", help="gate names (target/autobahn/<name>)")
    args = parser.parse_args()
    out = args.out if args.out.is_absolute() else ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    data = {}
    ok = True
    for name in args.names:
        index, results = load(name)
        data[name] = results
        if not results:
            print(f"report: no results for {name} ({index})", file=sys.stderr)
            ok = False
            continue
        (out / name).mkdir(exist_ok=True)
        shutil.copy(index, out / name / "index.json")
        if any(r["behavior"] not in PASSING or r["behaviorClose"] not in PASSING for r in results.values()):
            ok = False
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    (out / "README.md").write_text(markdown(args.names, data, when, args.made_from))
    print(f"report: wrote {out / 'README.md'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
