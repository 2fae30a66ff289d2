#!/usr/bin/env python3
"""Guard the ABI of libwsclient.so against the release baseline in abi/.

A program built against a release must keep working with every later build
that has the same SONAME. This compares what such a program depends on:

  - the library's exported symbols and their version nodes (readelf
    --dyn-syms / -V on the .so): a symbol gone, or moved out of its node;
  - the header's function prototypes and types (parameter names aside) and
    its constants' values (#define and enum; WSCLIENT_VERSION* excepted).

Why not libabigail's abidiff: the release build has line tables only
(debug = 1), so abidw sees every ws_* function as void(void); with full
DWARF it sees the Rust types, not the header's (the private fields of the
opaque handles, pointees without const). See docs/abi-policy.md.

Additions pass and are listed. Anything else that changed is a break and
fails, unless the SONAME changed too (a new SONAME is a new ABI: old programs
do not load it); the breaks are then listed, and the baseline is rewritten
at the release.

    abi-check.py [--baseline F] [--header H] [--library SO]   compare
    abi-check.py --write [...]     rewrite the baseline (make abi-baseline)
    abi-check.py --dump [...]      print what the build has, baseline format
"""

import argparse
import ast
import operator
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICY = "docs/abi-policy.md"
KINDS = ("soname", "node", "symbol", "type", "function", "variable", "constant")

# ---- the library ------------------------------------------------------------


def library_abi(path):
    """soname, {node: parent}, {name@node} of the defined dynamic symbols."""
    dynamic = run("readelf", "-d", "-W", path)
    m = re.search(r"\(SONAME\)\s+Library soname: \[(.*?)\]", dynamic)
    soname = m.group(1) if m else Path(path).name
    nodes = {}
    versions = run("readelf", "-V", "-W", path)
    section = versions.partition("Version definition section")[2].partition("Version needs section")[0]
    for m in re.finditer(r"Flags: (\S+)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)(?:\s+\S+: Parent \d+: (\S+))?",
                         section):
        if m.group(1) != "BASE":
            nodes[m.group(2)] = m.group(3) or ""
    symbols = set()
    for line in run("readelf", "--dyn-syms", "-W", path).splitlines():
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(f) < 8 or not f[0].endswith(":") or f[6] == "UND" or f[4] not in ("GLOBAL", "WEAK"):
            continue
        name = f[7]
        if f[6] == "ABS" and name in nodes:
            continue  # a version node's own definition
        base, _, version = name.replace("@@", "@").partition("@")
        symbols.add(f"{base}@{version}" if version else base)
    return soname, nodes, symbols


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"abi-check: {' '.join(cmd)}: {getattr(e, 'stderr', '') or e}")


# ---- the header -------------------------------------------------------------

TOKEN = re.compile(r"[A-Za-z_]\w*|0[xX][0-9a-fA-F]+\w*|\d\w*|\.\.\.|<<|>>|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\S")
QUALIFIERS = {"const", "volatile", "restrict"}
TYPE_WORDS = QUALIFIERS | {"void", "char", "short", "int", "long", "float", "double", "signed", "unsigned",
                           "_Bool", "struct", "enum", "union"}
# Deprecation marks (docs/abi-policy.md): not part of a prototype.
DEPRECATED = re.compile(r"\bWS_DEPRECATED\b\s*(\((?:[^()]|\([^()]*\))*\))?|\[\[\s*deprecated[^\]]*\]\]"
                        r"|__attribute__\s*\(\(\s*(?:__)?deprecated(?:__)?\s*(\((?:[^()]|\([^()]*\))*\))?\s*\)\)")


def header_abi(path):
    """{(kind, name): (display, key, deprecated)} of the header's types,
    functions, variables and constants (key: what is compared)."""
    text = Path(path).read_text()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"\\\n", " ", text)
    items = {}
    constants = {}
    body = []
    for line in text.splitlines():
        m = re.match(r"\s*#\s*define\s+(\w+)(\(?)\s*(.*)", line)
        if m and not m.group(2) and m.group(3).strip() and not m.group(1).startswith("WSCLIENT_VERSION"):
            constants[m.group(1)] = " ".join(tokens(m.group(3)))
        if not line.lstrip().startswith("#"):
            body.append(line)
    text = re.sub(r'extern\s+"C"\s*\{', " ", "\n".join(body))
    for statement in statements(text):
        deprecated = bool(DEPRECATED.search(statement))
        toks = tokens(DEPRECATED.sub(" ", statement))
        if not toks:
            continue
        display = " ".join(DEPRECATED.sub(" ", statement).split())
        if "enum" in toks[:3] and "{" in toks:
            enum_constants(toks, constants)
        if toks[0] == "typedef" or toks[0] in ("struct", "union", "enum") and "(" not in toks:
            name = declarator_name(toks) if toks[0] == "typedef" else toks[1]
            items[("type", name)] = (display, " ".join(key(toks)), deprecated)
        elif "(" in toks:
            name = toks[toks.index("(") - 1]
            items[("function", name)] = (display, " ".join(key(toks)), deprecated)
        else:
            items[("variable", declarator_name(toks))] = (display, " ".join(key(toks)), deprecated)
    for name, expr in constants.items():
        value = evaluate(expr, constants)
        items[("constant", name)] = (value, value, False)
    return items


def tokens(text):
    return TOKEN.findall(text)


def statements(text):
    """Split at ';' outside braces; a '}' closing the extern "C" block is skipped."""
    out, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                text = text[:i] + " " + text[i + 1:]
                continue
            depth -= 1
        elif c == ";" and depth == 0:
            out.append(text[start:i])
            start = i + 1
    return [s for s in (s.strip() for s in out) if s]


def declarator_name(toks):
    """The declared name: inside (*name) for a function pointer, else the last identifier."""
    for i in range(len(toks) - 2):
        if toks[i] == "(" and toks[i + 1] == "*" and re.fullmatch(r"[A-Za-z_]\w*", toks[i + 2]):
            return toks[i + 2]
    idents = [t for t in toks if re.fullmatch(r"[A-Za-z_]\w*", t) and t not in TYPE_WORDS]
    return idents[-1] if idents else toks[-1]


def key(toks):
    """The tokens with parameter names dropped: (*name) -> (*), `int n` -> `int`."""
    out, i = [], 0
    while i < len(toks):
        if toks[i] != "(":
            out.append(toks[i])
            i += 1
            continue
        j = matching(toks, i)
        inner = toks[i + 1:j]
        if inner and inner[0] == "*":
            inner = [t for t in inner if t == "*" or t in QUALIFIERS or not re.fullmatch(r"[A-Za-z_]\w*", t)]
            out += ["(", *inner, ")"]
        else:
            params, depth, cur = [], 0, []
            for t in inner:
                depth += t in "([{" and len(t) == 1
                depth -= t in ")]}" and len(t) == 1
                if t == "," and depth == 0:
                    params.append(cur)
                    cur = []
                else:
                    cur.append(t)
            if cur:
                params.append(cur)
            joined = []
            for p in params:
                joined += [",", *strip_name(key(p))] if joined else strip_name(key(p))
            out += ["(", *joined, ")"]
        i = j + 1
    return out


def matching(toks, i):
    depth = 0
    for j in range(i, len(toks)):
        depth += toks[j] == "("
        depth -= toks[j] == ")"
        if depth == 0:
            return j
    return len(toks) - 1


def strip_name(param):
    if "(" in param:
        return param  # a function pointer: key() dropped its name
    cut = param.index("[") if "[" in param else len(param)
    head, tail = param[:cut], param[cut:]
    if (len(head) >= 2 and re.fullmatch(r"[A-Za-z_]\w*", head[-1]) and head[-1] not in TYPE_WORDS
            and head[-2] not in ("struct", "enum", "union")
            and any(t not in QUALIFIERS for t in head[:-1])):
        head = head[:-1]
    return head + tail


def enum_constants(toks, constants):
    """enum [tag] { A = 1, B, ... }: each member's value, as C counts them."""
    inner = toks[toks.index("{") + 1:len(toks) - toks[::-1].index("}") - 1]
    members, cur = [], []
    for t in inner + [","]:
        if t == ",":
            if cur:
                members.append(cur)
            cur = []
        else:
            cur.append(t)
    previous = "-1"
    for m in members:
        if "=" in m:
            previous = " ".join(m[m.index("=") + 1:])
        else:
            previous = f"({previous}) + 1"
        constants[m[0]] = previous


OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
       ast.Mod: operator.mod, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
       ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.BitXor: operator.xor,
       ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}


def evaluate(expr, constants, depth=0):
    """An integer constant expression's value (other macros resolved), else its
    tokens: `(128 << 10)` and `131072` are the same constant."""
    toks = []
    for t in tokens(expr):
        if re.fullmatch(r"(0[xX][0-9a-fA-F]+|\d+)[uUlL]*", t):
            t = str(int(t.rstrip("uUlL"), 0 if t[:2].lower() == "0x" else 10))
        elif t in constants and depth < 10:
            t = f"({evaluate(constants[t], constants, depth + 1)})"
        elif t == "/":
            t = "//"
        toks.append(t)
    try:
        return str(calc(ast.parse(" ".join(toks), mode="eval").body))
    except (SyntaxError, ValueError, KeyError, ZeroDivisionError):
        return " ".join(tokens(expr))


def calc(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp):
        return OPS[type(node.op)](calc(node.left), calc(node.right))
    if isinstance(node, ast.UnaryOp):
        return OPS[type(node.op)](calc(node.operand))
    raise ValueError(node)


# ---- the comparison ---------------------------------------------------------


def current(header, library):
    """{(kind, name): (display, key, deprecated)} of the build."""
    soname, nodes, symbols = library_abi(library)
    items = header_abi(header)
    items[("soname", "")] = (soname, soname, False)
    for node, parent in nodes.items():
        items[("node", node)] = (f"{node} {parent}".strip(), parent, False)
    for s in symbols:
        items[("symbol", s)] = (s, s, False)
    return items


def dump(items):
    order = {k: i for i, k in enumerate(KINDS)}
    lines = []
    for (kind, name), (display, _, _) in sorted(items.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        lines.append(f"{kind} {name} {display}" if kind == "constant" else f"{kind} {display}")
    return "\n".join(lines) + "\n"


def load(path):
    """The baseline: lines `kind text`, as dump() writes them."""
    text = "\n".join(line for line in Path(path).read_text().splitlines() if not line.startswith("#"))
    items = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        kind, _, rest = line.partition(" ")
        if kind == "constant":
            name, _, value = rest.partition(" ")
            items[(kind, name)] = (value, value, False)
        elif kind in ("soname", "node", "symbol"):
            name, _, parent = rest.partition(" ")
            items[(kind, "" if kind == "soname" else name)] = (rest, parent if kind == "node" else name, False)
        else:
            toks = tokens(rest)
            name = declarator_name(toks) if kind in ("type", "variable") else toks[toks.index("(") - 1]
            items[(kind, name)] = (rest, " ".join(key(toks)), False)
    return items


def compare(old, new):
    """(breaks, additions, notes, errors) as lines to print; errors are
    mismatches of the header and the library, whatever the SONAME."""
    breaks, added, notes, errors = [], [], [], []
    exported = {name.partition("@")[0] for kind, name in new if kind == "symbol"}
    for k in sorted(old.keys() | new.keys(), key=lambda k: (KINDS.index(k[0]), k[1])):
        kind, name = k
        if k in old and k not in new:
            if kind == "symbol" and name.partition("@")[0] in exported:
                now = sorted(n for kk, n in new if kk == "symbol" and n.partition("@")[0] == name.partition("@")[0])
                breaks.append(f"symbol {name} left its node: now {', '.join(now)}")
            elif kind in ("node", "symbol"):
                breaks.append(f"{kind} {name} removed")
            elif kind != "soname":
                breaks.append(f"{kind} {name} removed (was: {old[k][0]})")
        elif k not in old:
            if kind != "soname":
                added.append(f"{kind} {new[k][0]}" if kind != "constant" else f"constant {name} {new[k][0]}")
        elif old[k][1] != new[k][1]:
            if kind == "soname":
                notes.append(f"SONAME {old[k][0]} -> {new[k][0]}")
            else:
                breaks.append(f"{kind} {name} changed:\n    was: {old[k][0]}\n    now: {new[k][0]}")
        if k in new and new[k][2]:
            notes.append(f"{kind} {name} is deprecated (kept until the SONAME changes)")
    old_nodes = {n for kk, n in old if kk == "node"}
    for kind, name in new:
        if kind == "symbol" and (kind, name) not in old and name.partition("@")[2] in old_nodes:
            notes.append(f"{name} was added to {name.partition('@')[2]}, a released node: "
                         f"new functions go into a new node ({POLICY})")
    for kind, name in new:
        if kind == "function" and name not in exported:
            errors.append(f"function {name} is declared in the header but the library does not export it")
    return breaks, added, sorted(notes), errors


def show(path):
    """A path as short as it can be said from here."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=ROOT / "abi" / "libwsclient.abi")
    ap.add_argument("--header", default=ROOT / "include" / "wsclient.h")
    ap.add_argument("--library", default=None, help="default: build/lib/libwsclient.so.<SOVERSION>")
    ap.add_argument("--write", action="store_true", help="rewrite the baseline from the build")
    ap.add_argument("--dump", action="store_true", help="print the build's ABI in the baseline's format")
    args = ap.parse_args()
    library = args.library or next(iter(sorted((ROOT / "build" / "lib").glob("libwsclient.so.*.*"))), None)
    if library is None or not Path(library).exists():
        sys.exit(f"abi-check: no library {library or 'in build/lib'}: run make lib")
    new = current(args.header, library)
    if args.dump or args.write:
        errors = compare({}, new)[3]
        if args.write and errors:
            sys.exit("abi-check: not written: " + "; ".join(errors))
        text = dump(new)
        if args.write:
            Path(args.baseline).write_text(
                f"# The ABI of {new[('soname', '')][0]} as released: exported symbols and their version\n"
                f"# nodes, the header's types, prototypes and constant values. scripts/abi-check.py\n"
                f"# compares the build with it (make abi-check); `make abi-baseline` rewrites it,\n"
                f"# at a release only ({POLICY}).\n" + text)
            print(f"abi-check: wrote {show(args.baseline)} ({len(new)} items)")
        else:
            sys.stdout.write(text)
        return 0
    old = load(args.baseline)
    breaks, added, notes, errors = compare(old, new)
    soname, old_soname = new[("soname", "")][0], old.get(("soname", ""), ("?",))[0]
    counts = {kind: sum(1 for k, _ in new if k == kind) for kind in ("symbol", "function", "type", "constant")}
    print(f"abi-check: {show(library)} and {show(args.header)} against {show(args.baseline)} "
          f"({', '.join(f'{n} {k}s' for k, n in counts.items())})")
    for line in added:
        print(f"  added: {line}")
    for line in notes:
        print(f"  note: {line}")
    for line in breaks:
        print(f"  BREAK: {line}")
    for line in errors:
        print(f"  ERROR: {line}")
    failed = []
    if breaks and soname == old_soname:
        failed.append(f"{len(breaks)} change(s) break the ABI of {soname}: restore them, or make a release "
                      f"with a new SONAME ({POLICY})")
    if errors:
        failed.append("the header and the library disagree")
    if failed:
        print(f"abi-check: FAILED: {'; '.join(failed)}")
        return 1
    if breaks:
        print(f"abi-check: passed: {len(breaks)} break(s), allowed by the new SONAME {soname} "
              f"(baseline: {old_soname}); rewrite the baseline at the release (make abi-baseline)")
    elif added:
        print(f"abi-check: passed, {len(added)} addition(s); the baseline takes them at the release "
              f"(make abi-baseline)")
    else:
        print("abi-check: passed, no change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
