#!/usr/bin/env python3
"""Man pages for the C API, generated from include/wsclient.h alone.

The header is itself generated (cbindgen) from the Rust doc comments, so the
doc comments are the one source: this script writes one page per ws_*
function (ws_connect.3, ...) and an overview, wsclient.3, with the header's
API conventions, every function, and every result code with whether it is a
*fail*. A function added to the header gets its page on the next build.

Each function page also gets RETURN VALUE (from the prototype and the doc
comment: for a call that returns a result code, WS_OK and the codes its doc
names) and EXAMPLE: a whole C program from docs/man-examples, the file named
after the function or else the shortest one that calls it (a test compiles
every EXAMPLE section).

    gen-man.py HEADER OUTDIR [EXAMPLES_DIR]
"""

import re
import sys
from pathlib import Path

MANUAL = "libwsclient Manual"
# The non-negative result codes; every WS_ERR_* is one too.
RESULT_CODES = ("WS_OK", "WS_HTTP_RESPONSE", "WS_CLOSED", "WS_STOPPED")
# Functions whose int32_t is a result code (other int32_t results are values:
# a state, a file descriptor, an opcode, ...).
RESULT_FUNCTION = re.compile(r"^ws_(connect|connect_start|connect_continue|connect_transport|conn_transport_(?:out|in|eof)|conn_set_\w+|conn_flush|recv_\w+|send\w*|ping|close"
                             r"|options_(set|add|use)_\w+)$")
# What the other negative codes of the calls that connect mean: the
# non-blocking start only checks its arguments, its continuation connects.
CONNECT_FAILURES = {
    "ws_connect": ["reports why no connection was made (resolve, TCP, TLS, handshake, proxy)."],
    "ws_connect_start": ["reports a URI or option refused before anything went on the network",
                         "(e.g. \\fBWS_ERR_URI\\fR); a connect that fails later is reported by",
                         ".BR ws_connect_continue (3)."],
    "ws_connect_continue": ["reports why no connection was made (resolve, TCP, TLS, handshake,",
                            "proxy); calling it again after that gives \\fBWS_ERR_INVALID_STATE\\fR."],
}
# What any call that returns a result code may also return (see the header's
# "Robustness" convention).
ALWAYS = ("WS_ERR_NULL_ARGUMENT", "WS_ERR_INVALID_ARGUMENT", "WS_ERR_PANIC")


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
    """Escape text for roff, then turn `code` into bold and *word* into
    italics. Code spans are kept verbatim: a `*` in one stays a `*`."""
    out = []
    for k, part in enumerate(re.split(r"`([^`]+)`", text)):
        part = part.replace("\\", "\\e").replace("-", "\\-")
        if k % 2:
            out.append(f"\\fB{part}\\fR")
        else:
            out.append(re.sub(r"(?<![\w*])\*([A-Za-z][^*]*?)\*(?![\w*])", r"\\fI\1\\fR", part))
    return "".join(out)


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


# Abbreviations whose period does not end a sentence.
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.")


def first_sentence(text):
    """The text up to the first period that ends a sentence: not inside
    parentheses or a `code span`, not an abbreviation's (e.g.), not in a
    number (1.0)."""
    depth, code = 0, False
    for k, c in enumerate(text):
        if c == "`":
            code = not code
        elif code:
            continue
        elif c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif c == "." and depth == 0 and (k + 1 == len(text) or text[k + 1] == " "):
            if not text[:k + 1].lower().endswith(ABBREVIATIONS):
                return text[:k]
    return text.rstrip(".")


def summary(doc):
    """The first sentence of a doc comment's first paragraph, plain, for
    NAME and lists."""
    para = []
    for line in doc:
        if not line.strip() or line.startswith("#") or re.match(r"^- ", line):
            break
        para.append(line.strip())
    text = first_sentence(" ".join(para)).rstrip(":;, ")
    text = re.sub(r"(?<![\w*])\*([A-Za-z][^*]*?)\*(?![\w*])", r"\1", text)  # *fail* -> fail
    text = re.sub(r"`([^`]+)`", r"\1", text)
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


def is_result_function(item):
    return item["decl"].startswith("int32_t ") and bool(RESULT_FUNCTION.match(item["name"]))


def doc_parts(doc):
    """A doc comment as its '- ' list items (whole) and the sentences of
    its paragraphs."""
    blocks, current = [], None
    for line in doc + [""]:
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("- "):
            if current:
                blocks.append(" ".join(current))
            current = [line] if line.startswith("- ") else None
        elif current is None:
            current = [line]
        else:
            current.append(line)
    parts = []
    for block in blocks:
        while not block.startswith("- ") and block:
            sentence = first_sentence(block)
            parts.append(sentence)
            block = block[len(sentence):].lstrip(". ")
        if block:
            parts.append(block)
    return parts


def codes_returned(item, codes):
    """The result codes a call's doc says it returns: those in its list
    items, and in sentences that name no other function ("call
    ws_connect_continue until it returns WS_ERR_WOULD_BLOCK" is about the
    other call)."""
    named = []
    for part in doc_parts(item["doc"]):
        others = set(re.findall(r"\bws_\w+", part)) - {item["name"]}
        if part.startswith("- ") or not others:
            named += re.findall(r"\bWS_[A-Z_]+\b", part)
    return [c for c in dict.fromkeys(named) if c in codes and c != "WS_OK"]


def return_value(item, codes):
    """RETURN VALUE: from the prototype's type and the doc comment."""
    name = item["name"]
    if item["decl"].startswith("void "):
        return [f"\\fB{name}\\fR() returns no value."]
    if not is_result_function(item):
        return [esc(summary(item["doc"]) + ".")]
    named = codes_returned(item, codes)
    out = ["\\fBWS_OK\\fR (0) on success; otherwise one of these codes:"]
    for code in named + [c for c in ALWAYS if c not in named]:
        out += [".TP", f".BR {code} \" ({esc(codes[code]['value'])})\"",
                esc(summary(codes[code]["doc"]) + ".")]
    out += [".PP"]
    if name in CONNECT_FAILURES:
        out += ["Any other negative code of", ".BR wsclient (3)", *CONNECT_FAILURES[name]]
    elif "ws_conn *conn" in item["decl"]:
        out += ["A call on a connection that has failed returns that failure's code",
                "(any negative code of",
                ".BR wsclient (3))."]
    out += [".BR ws_result_string (3)",
            "describes a code;",
            ".BR ws_last_error_message (3)",
            "gives the detail of the last error on this thread."]
    return out


def find_example(name, examples):
    """The example for a function: NAME.c, else the shortest that calls it."""
    if name in examples:
        return examples[name]
    callers = [text for text in examples.values() if re.search(rf"\b{name}\s*\(", text)]
    return min(callers, key=len) if callers else None


def code_lines(text):
    """Roff for a C program shown as is (inside .nf/.fi)."""
    out = []
    for line in text.rstrip("\n").splitlines():
        line = line.replace("\\", "\\e").replace("-", "\\-")
        out.append("\\&" + line if line.startswith((".", "'")) or not line else line)
    return out


def function_page(item, functions, version, codes=None, examples=None):
    mentioned = [n for n in dict.fromkeys(re.findall(r"\bws_\w+", " ".join(item["doc"])))
                 if n in functions and n != item["name"]]
    page = title(item["name"], version)
    page += [".SH NAME", f"{item['name']} \\- {esc(summary(item['doc']))}",
             ".SH SYNOPSIS", ".nf", ".B #include <wsclient.h>", ".PP",
             *[f'.B "{esc(l)}"' for l in prototype_lines(item["decl"])], ".fi", ".PP",
             "Link with \\fI$(pkg\\-config \\-\\-libs libwsclient)\\fR.",
             ".SH DESCRIPTION"]
    page += body(item["doc"])
    page += [".SH RETURN VALUE"] + return_value(item, codes or {})
    example = find_example(item["name"], examples or {})
    if example is not None:
        page += [".SH EXAMPLE", ".nf", *code_lines(example), ".fi"]
    else:
        print(f"gen-man: no example calls {item['name']}", file=sys.stderr)
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
    codes = [d for d in defines if d["name"] in RESULT_CODES or d["name"].startswith("WS_ERR_")]
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
    exdir = Path(sys.argv[3]) if len(sys.argv) > 3 else header.parent.parent / "docs" / "man-examples"
    examples = {p.stem: p.read_text() for p in sorted(exdir.glob("*.c"))}
    text = header.read_text()
    version = re.search(r'#define WSCLIENT_VERSION "(.*)"', text).group(1)
    intro, items = parse(text)
    functions = {i["name"]: i for i in items if i["kind"] == "function"}
    codes = {i["name"]: i for i in items if i["kind"] == "define"
             and (i["name"] in RESULT_CODES or i["name"].startswith("WS_ERR_"))}
    if not functions:
        sys.exit(f"gen-man: no ws_* functions found in {header}")
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("*.3"):
        old.unlink()
    for name, item in functions.items():
        page = function_page(item, functions, version, codes, examples)
        (outdir / f"{name}.3").write_text(page)
    (outdir / "wsclient.3").write_text(overview_page(intro, items, version))
    print(f"gen-man: {len(functions) + 1} pages in {outdir}")


if __name__ == "__main__":
    main()
