"""debian/copyright (machine-readable, DEP-5) for the source release:
libwsclient's own files, then a paragraph for every vendored crate
(vendor/<name>-<version>/, as `make dist` lays them out), then the text of
each licence named. Used by scripts/licenses.py, which passes the packages
of `cargo metadata`.
"""

import re
import textwrap
from pathlib import Path

from vendor_prune import PRUNE

ROOT = Path(__file__).resolve().parents[1]
FORMAT = "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"

# SPDX identifiers (Cargo.toml `license`) to DEP-5 short names.
DEP5_NAMES = {
    "MIT": "Expat",
    "Apache-2.0": "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception": "Apache-2.0 with LLVM exception",
    "BSD-2-Clause": "BSD-2-clause",
    "BSD-3-Clause": "BSD-3-clause",
    "LGPL-2.1-or-later": "LGPL-2.1+",
    "MPL-2.0": "MPL-2.0",
    "Unicode-3.0": "Unicode-3.0",
    "Unlicense": "Unlicense",
    "Zlib": "Zlib",
    "ISC": "ISC",
}

# Files of a crate's top folder that carry its licence and notices.
LICENCE_FILE = re.compile(r"^(licen[cs]e|copying|copyright|notice|unlicense|authors)", re.I)
NOTICE = re.compile(r"^\s*Copyright(?:\s*\(c\)|\s*©)?\s+(\S.*?)\s*$", re.I)
NOT_A_HOLDER = re.compile(r"^(notice|licen[cs]e|and permission|assignment|holder|owner|statement)"
                          r"|[\[\]{}<>]", re.I)
YEARS_ONLY = re.compile(r"^[\d\s,.\-–]+$")

APACHE_REFERENCE = """\
 Licensed under the Apache License, Version 2.0 (the "License"); you may not
 use this file except in compliance with the License. You may obtain a copy
 of the License at http://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
 License for the specific language governing permissions and limitations
 under the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0
 can be found in /usr/share/common-licenses/Apache-2.0."""

TEXTS = {
    "Apache-2.0": APACHE_REFERENCE,
    "Apache-2.0 with LLVM exception": APACHE_REFERENCE + """
 .
 ---- LLVM Exceptions to the Apache 2.0 License ----
 .
 As an exception, if, as a result of your compiling your source code,
 portions of this Software are embedded into an Object form of such source
 code, you may redistribute such embedded portions in such Object form
 without complying with the conditions of Sections 4(a), 4(b) and 4(d) of
 the License.
 .
 In addition, if you combine or link compiled forms of this Software with
 software that is licensed under the GPLv2 ("Combined Software") and if a
 court of competent jurisdiction determines that the patent provision
 (Section 3), the indemnity provision (Section 9) or other Section of the
 License conflicts with the conditions of the GPLv2, you may retroactively
 and prospectively choose to deem waived or otherwise exclude such
 Section(s) of the License, but only in their entirety and only with
 respect to the Combined Software.""",
    "Expat": """\
 Permission is hereby granted, free of charge, to any person obtaining a
 copy of this software and associated documentation files (the "Software"),
 to deal in the Software without restriction, including without limitation
 the rights to use, copy, modify, merge, publish, distribute, sublicense,
 and/or sell copies of the Software, and to permit persons to whom the
 Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included
 in all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL
 THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
 FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
 DEALINGS IN THE SOFTWARE.""",
    "BSD-2-clause": """\
 Redistribution and use in source and binary forms, with or without
 modification, are permitted provided that the following conditions are met:
 .
 1. Redistributions of source code must retain the above copyright notice,
    this list of conditions and the following disclaimer.
 .
 2. Redistributions in binary form must reproduce the above copyright notice,
    this list of conditions and the following disclaimer in the documentation
    and/or other materials provided with the distribution.
 .
 THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
 AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
 IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
 ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE
 LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
 CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
 SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
 INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
 CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
 ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
 POSSIBILITY OF SUCH DAMAGE.""",
    "BSD-3-clause": """\
 Redistribution and use in source and binary forms, with or without
 modification, are permitted provided that the following conditions are met:
 .
 1. Redistributions of source code must retain the above copyright notice,
    this list of conditions and the following disclaimer.
 .
 2. Redistributions in binary form must reproduce the above copyright notice,
    this list of conditions and the following disclaimer in the documentation
    and/or other materials provided with the distribution.
 .
 3. Neither the name of the copyright holder nor the names of its
    contributors may be used to endorse or promote products derived from
    this software without specific prior written permission.
 .
 THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
 AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
 IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
 ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE
 LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
 CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
 SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
 INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
 CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
 ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
 POSSIBILITY OF SUCH DAMAGE.""",
    "LGPL-2.1+": """\
 This library is free software; you can redistribute it and/or modify it
 under the terms of the GNU Lesser General Public License as published by
 the Free Software Foundation; either version 2.1 of the License, or (at
 your option) any later version.
 .
 This library is distributed in the hope that it will be useful, but
 WITHOUT ANY WARRANTY; without even the implied warranty of MERCHANTABILITY
 or FITNESS FOR A PARTICULAR PURPOSE. See the GNU Lesser General Public
 License for more details.
 .
 On Debian systems, the complete text of the GNU Lesser General Public
 License version 2.1 can be found in /usr/share/common-licenses/LGPL-2.1.""",
    "MPL-2.0": """\
 This Source Code Form is subject to the terms of the Mozilla Public
 License, v. 2.0. If a copy of the MPL was not distributed with this file,
 You can obtain one at https://mozilla.org/MPL/2.0/.
 .
 On Debian systems, the complete text of the Mozilla Public License,
 version 2.0 can be found in /usr/share/common-licenses/MPL-2.0.""",
    "Unicode-3.0": """\
 UNICODE LICENSE V3
 .
 NOTICE TO USER: Carefully read the following legal agreement. BY
 DOWNLOADING, INSTALLING, COPYING OR OTHERWISE USING DATA FILES, AND/OR
 SOFTWARE, YOU UNEQUIVOCALLY ACCEPT, AND AGREE TO BE BOUND BY, ALL OF THE
 TERMS AND CONDITIONS OF THIS AGREEMENT. IF YOU DO NOT AGREE, DO NOT
 DOWNLOAD, INSTALL, COPY, DISTRIBUTE OR USE THE DATA FILES OR SOFTWARE.
 .
 Permission is hereby granted, free of charge, to any person obtaining a
 copy of data files and any associated documentation (the "Data Files") or
 software and any associated documentation (the "Software") to deal in the
 Data Files or Software without restriction, including without limitation
 the rights to use, copy, modify, merge, publish, distribute, and/or sell
 copies of the Data Files or Software, and to permit persons to whom the
 Data Files or Software are furnished to do so, provided that either (a)
 this copyright and permission notice appear with all copies of the Data
 Files or Software, or (b) this copyright and permission notice appear in
 associated Documentation.
 .
 THE DATA FILES AND SOFTWARE ARE PROVIDED "AS IS", WITHOUT WARRANTY OF ANY
 KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
 MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT OF
 THIRD PARTY RIGHTS.
 .
 IN NO EVENT SHALL THE COPYRIGHT HOLDER OR HOLDERS INCLUDED IN THIS NOTICE
 BE LIABLE FOR ANY CLAIM, OR ANY SPECIAL INDIRECT OR CONSEQUENTIAL DAMAGES,
 OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS,
 WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION,
 ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THE DATA
 FILES OR SOFTWARE.
 .
 Except as contained in this notice, the name of a copyright holder shall
 not be used in advertising or otherwise to promote the sale, use or other
 dealings in these Data Files or Software without prior written
 authorization of the copyright holder.""",
    "Unlicense": """\
 This is free and unencumbered software released into the public domain.
 .
 Anyone is free to copy, modify, publish, use, compile, sell, or distribute
 this software, either in source code form or as a compiled binary, for any
 purpose, commercial or non-commercial, and by any means.
 .
 In jurisdictions that recognize copyright laws, the author or authors of
 this software dedicate any and all copyright interest in the software to
 the public domain. We make this dedication for the benefit of the public
 at large and to the detriment of our heirs and successors. We intend this
 dedication to be an overt act of relinquishment in perpetuity of all
 present and future rights to this software under copyright law.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
 ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
 CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
 .
 For more information, please refer to <https://unlicense.org/>""",
}


def dep5_expression(spdx):
    """An SPDX expression in DEP-5 syntax: lower-case `or`/`and`, a comma
    before an `and` that applies to a group (`A or B, and C`)."""
    spdx = spdx.replace("/", " OR ")  # old crates.io style "MIT/Apache-2.0"
    group = re.fullmatch(r"\((.*)\)\s+AND\s+(.*)", spdx.strip())
    if group:
        return f"{dep5_expression(group.group(1))}, and {dep5_expression(group.group(2))}"
    if "(" in spdx:
        raise ValueError(f"cannot write {spdx!r} in DEP-5 syntax")
    return " or ".join(
        " and ".join(DEP5_NAMES[term.strip()] for term in re.split(r"\s+AND\s+", alternative))
        for alternative in re.split(r"\s+OR\s+", spdx.strip()))


def holders(package):
    """The copyright notices of the crate's licence files; a notice that
    names no holder gets the crate's authors; no notice: the authors."""
    folder = Path(package["manifest_path"]).parent
    authors = [re.sub(r"\s*<[^>]*>", "", a).strip() for a in package["authors"]]
    who = ", ".join(authors) or f"the {package['name']} authors"
    found = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not (path.is_file() and LICENCE_FILE.match(path.name)):
            continue
        for line in path.read_text(errors="replace").splitlines():
            match = NOTICE.match(line)
            if not match or NOT_A_HOLDER.search(match.group(1)):
                continue
            notice = match.group(1)
            if YEARS_ONLY.match(notice):
                notice = f"{notice} {who}"
            if notice not in found:
                found.append(notice)
    return found, authors


def upstream_url():
    return re.search(r'^repository = "(.*)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)


def crate_paragraph(package, linked):
    name, version = package["name"], package["version"]
    notices, authors = holders(package)
    comment = [f"{name} {version}: "
               + ("compiled into libwsclient." if linked else
                  "not compiled into libwsclient (used by its tests, its build, or on "
                  "another platform only).")]
    if not notices:
        notices = authors or [f"the {name} authors"]
        comment.append("The crate's licence files carry no copyright notice; the holders "
                       "above are its authors (Cargo.toml)." if authors else
                       "The crate names neither a copyright holder nor an author"
                       + (f" (see {package['repository']})." if package.get("repository") else "."))
    if name in PRUNE:
        patterns, why = PRUNE[name]
        comment.append(f"Left out of the tarball by scripts/vendor_prune.py "
                       f"({', '.join(patterns)}): {why}.")
    lines = [f"Files: vendor/{name}-{version}/*",
             "Copyright: " + "\n ".join(notices),
             f"License: {dep5_expression(package['license'])}",
             "\n".join(textwrap.wrap(" ".join(comment), 78, initial_indent="Comment: ",
                                     subsequent_indent=" "))]
    return "\n".join(lines)


def render(packages, linked_ids):
    url = upstream_url()
    paragraphs = [f"""Format: {FORMAT}
Upstream-Name: libwsclient
Upstream-Contact: {url}/issues
Source: {url}/releases
Comment:
 Written by scripts/licenses.py --write (`make licenses`) from cargo
 metadata and the crates' licence files; `make lint` fails when it is
 stale. The upstream tarball (`make dist`) vendors every crate of Cargo.lock
 in vendor/: each has a paragraph below, which says whether it is compiled
 into the library.""",
                  """Files: *
Copyright: 2026 The libwsclient developers
License: BSD-3-clause""",
                  """Files: debian/*
Copyright: 2026 The libwsclient developers
License: BSD-3-clause"""]
    names = {"BSD-3-clause"}
    for package in packages:
        paragraphs.append(crate_paragraph(package, package["id"] in linked_ids))
        names.update(re.split(r",? (?:or|and) ", dep5_expression(package["license"])))
    for name in sorted(names):
        paragraphs.append(f"License: {name}\n{TEXTS[name]}")
    return "\n\n".join(paragraphs) + "\n"
