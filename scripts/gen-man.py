#!/usr/bin/env python3
"""Man pages for the C API, generated from include/wsclient.h alone.

The header is itself generated (cbindgen) from the Rust doc comments, so the
doc comments are the one source: this script writes one page per ws_*
function (ws_connect.3, ...) and an overview, wsclient.3, with the header's
API conventions, every function, and every result code with whether it is a
*fail*. A function added to the header gets its page on the next build.

    gen-man.py HEADER OUTDIR
"""

import re
import sys
from pathlib import Path

MANUAL = "libwsclient Manual"


def parse(header_text):
    """(intro, items): the header's opening comment and, in order, each
    documented declaration as a dict: kind ('function', 'define',
    'typedef'), name, decl (the C text), doc (list of lines)."""
    lines = header_text.splitlines()
    intro, i = [], 0
    if lines and lines[0].startswith("/*"):
        while not lines[i].rstrip().endswith("*/"):
            i += 1
            intro.append(re.sub(r"^ \* ?|^ \*$", "", lines[i]))
        intro = intro[:-1]
    items, doc = [], None
    for line in lines[i + 1:]:
        if line == "/*":
            doc = []
        elif line == " */" and doc is not None:
            pass
        elif doc is not None and not _is_decl(line):
            doc.append(line[1:] if line.startswith(" ") else line)
        elif _is_decl(line):
            item = _decl(line)
            if item:
                item["doc"] = doc or []
                items.append(item)
            doc = None
    return intro, items


def _is_decl(line):
    return line.startswith(("#define WS", "typedef ")) or re.match(r"^[a-z].*\bws_\w+\(.*\);$", line)


def _decl(line):
    m = re.match(r"#define (WS_\w+) (.+)$", line)
    if m:
        return {"kind": "define", "name": m.group(1), "value": m.group(2), "decl": line}
    m = re.match(r"typedef .*\(\*(\w+)\)", line)
    if m:
        return {"kind": "typedef", "name": m.group(1), "decl": line}
    m = re.match(r"^[a-z].*?\b(ws_\w+)\(", line)
    if m:
        return {"kind": "function", "name": m.group(1), "decl": line}
    return None


def esc(text):
    """Escape text for roff, then turn `code` into bold and *word* into italics."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    text = re.sub(r"(?<![\w*])\*([A-Za-z][^*]*?)\*(?![\w*])", r"\\fI\1\\fR", text)
    return text


def line_out(text):
    """A text line that cannot be read as a roff request."""
    text = esc(text)
    return "\\&" + text if text.startswith((".", "'")) else text


def body(doc):
    """Roff for a doc comment: paragraphs, '- ' lists, '# Heading' sections."""
    out = []
    for raw in doc:
        line = raw.rstrip()
        heading = re.match(r"^# (.+)$", line)
        item = re.match(r"^- (.*)$", line)
        if not line:
            out.append(".PP")
        elif heading:
            out.append(f".SS {esc(heading.group(1))}")
        elif item:
            out += [".IP \\(bu 3", line_out(item.group(1))]
        else:  # a paragraph line, or the continuation of a list item
            out.append(line_out(line.strip()))
    # Tidy: no doubled, leading or trailing paragraph breaks.
    tidy = []
    for entry in out:
        if entry == ".PP" and (not tidy or tidy[-1] == ".PP" or tidy[-1].startswith(".SS")):
            continue
        if entry.startswith((".SS", ".IP")) and tidy and tidy[-1] == ".PP":
            tidy.pop()
        tidy.append(entry)
    while tidy and tidy[-1] == ".PP":
        tidy.pop()
    return tidy


def summary(doc):
    """The first sentence of a doc comment, plain, for NAME and lists."""
    text = " ".join(line.strip() for line in doc if line.strip() and not line.startswith("#"))
    text = text.split(". ")[0].rstrip(".")
    text = re.sub(r"`([^`]+)`", r"\1", text).replace("*", "")
    return text or "see DESCRIPTION"


def prototype_lines(decl, width=72):
    """A long prototype with one parameter per line, aligned after '('."""
    if len(decl) <= width:
        return [decl]
    head, params = decl.split("(", 1)
    parts = params.split(", ")
    indent = " " * (len(head) + 1)
    return [head + "(" + parts[0] + ","] + [indent + p + ("," if k < len(parts) - 2 else "")
                                            for k, p in enumerate(parts[1:])]


def title(name, version):
    return [f'.TH {name.upper()} 3 "" "libwsclient {version}" "{MANUAL}"']


def see_also(names):
    refs = [f".BR {n} (3)" for n in names]
    return [r + ("," if k < len(refs) - 1 else "") for k, r in enumerate(refs)]


def function_page(item, functions, version):
    mentioned = [n for n in dict.fromkeys(re.findall(r"\bws_\w+", " ".join(item["doc"])))
                 if n in functions and n != item["name"]]
    page = title(item["name"], version)
    page += [".SH NAME", f"{item['name']} \\- {esc(summary(item['doc']))}",
             ".SH SYNOPSIS", ".nf", ".B #include <wsclient.h>", ".PP",
             *[f'.B "{esc(l)}"' for l in prototype_lines(item["decl"])], ".fi", ".PP",
             "Link with \\fI$(pkg\\-config \\-\\-libs libwsclient)\\fR.",
             ".SH DESCRIPTION"]
    page += body(item["doc"])
    page += [".SH SEE ALSO"] + see_also(["wsclient"] + mentioned)
    return "\n".join(page) + "\n"


def result_kind(item):
    first = " ".join(item["doc"]).strip()
    if first.startswith("*fail*"):
        return "fail"
    if item["name"].startswith("WS_ERR_"):
        return "exn"
    return "success"


def overview_page(intro, items, version):
    functions = [i for i in items if i["kind"] == "function"]
    defines = [i for i in items if i["kind"] == "define"]
    codes = [d for d in defines if d["name"] in ("WS_OK", "WS_HTTP_RESPONSE", "WS_CLOSED")
             or d["name"].startswith("WS_ERR_")]
    others = [d for d in defines if d not in codes]
    page = title("wsclient", version)
    page += [".SH NAME", "wsclient \\- WebSocket client library (RFC 6455, RFC 7692) with a C API",
             ".SH SYNOPSIS", ".nf", ".B #include <wsclient.h>", ".PP",
             ".B cc prog.c $(pkg\\-config \\-\\-cflags \\-\\-libs libwsclient)", ".fi",
             ".SH DESCRIPTION"]
    # The header's opening comment: drop the "generated" note, keep the rest.
    keep = [l for l in intro if "Generated by cbindgen" not in l]
    paragraphs, current = [], []
    for l in keep:
        if not l.strip() or set(l.strip()) == {"-"}:
            if current:
                paragraphs.append(current)
            current = []
        else:
            current.append(l.strip())
    if current:
        paragraphs.append(current)
    for para in paragraphs:
        if len(para) == 1 and para[0] == "API conventions":
            page.append(".SS API conventions")
            continue
        page.append(".PP")
        page += [line_out(p) for p in para]
    page += [".SH RESULT CODES",
             "Each negative code is either a \\fIfail\\fR (the server broke the protocol; a close",
             "frame with the code shown was sent and the connection is closed;",
             ".BR ws_result_is_fail ()",
             "returns true) or an \\fIexn\\fR (no close frame is sent).",
             ".PP",
             "Fail codes: " + ", ".join(f"\\fB{c['name']}\\fR" for c in codes if result_kind(c) == "fail") + "."]
    for code in codes:
        page += [".TP", f".BR {code['name']} \" ({esc(code['value'])}, {result_kind(code)})\""]
        page += [line_out(l.strip()) for l in code["doc"] if l.strip()]
    page += [".SH CONSTANTS"]
    for define in others:
        page += [".TP", f".BR {define['name']} \" ({esc(define['value'])})\""]
        page += [line_out(l.strip()) for l in define["doc"] if l.strip()]
    page += [".SH FUNCTIONS"]
    for f in functions:
        page += [".TP", f".BR {f['name']} (3)", esc(summary(f["doc"]))]
    page += [".SH SEE ALSO", "The README of libwsclient; RFC 6455; RFC 7692."]
    return "\n".join(page) + "\n"


def main():
    header, outdir = Path(sys.argv[1]), Path(sys.argv[2])
    text = header.read_text()
    version = re.search(r'#define WSCLIENT_VERSION "(.*)"', text).group(1)
    intro, items = parse(text)
    functions = {i["name"]: i for i in items if i["kind"] == "function"}
    if not functions:
        sys.exit(f"gen-man: no ws_* functions found in {header}")
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("*.3"):
        old.unlink()
    for name, item in functions.items():
        (outdir / f"{name}.3").write_text(function_page(item, functions, version))
    (outdir / "wsclient.3").write_text(overview_page(intro, items, version))
    print(f"gen-man: {len(functions) + 1} pages in {outdir}")


if __name__ == "__main__":
    main()
