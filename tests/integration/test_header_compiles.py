"""include/wsclient.h compiles cleanly as C89 (pedantic), C11 and C++17 with
warnings as errors: a distribution's users build with all of these."""

import subprocess

import pytest

from conftest import ROOT

PROGRAM = """#include <wsclient.h>
#include <wsclient.h> /* twice: the include guard covers everything */
#include <stdio.h>
int main(void) {
    ws_options *opts = ws_options_new();
    int32_t codes[3];
    codes[0] = WS_ERR_PROTOCOL;
    codes[1] = WS_ERR_TIMEOUT;
    codes[2] = WS_OK;
    printf("%s %d %d %d\\n", ws_version(), (int)ws_result_is_fail(codes[0]),
           (int)ws_result_is_fail(codes[1]), (int)codes[2]);
    ws_options_free(opts);
    return 0;
}
"""

DIALECTS = {
    "c89": ["cc", "-x", "c", "-std=c89", "-pedantic", "-Wall", "-Wextra", "-Werror"],
    "c11": ["cc", "-x", "c", "-std=c11", "-Wall", "-Wextra", "-Werror"],
    "c++17": ["g++", "-x", "c++", "-std=c++17", "-Wall", "-Wextra", "-Werror"],
}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_header_compiles(dialect, tmp_path):
    source = tmp_path / "use_header.txt"
    source.write_text(PROGRAM)
    cmd = [*DIALECTS[dialect], f"-I{ROOT / 'include'}", "-c", str(source), "-o", str(tmp_path / "o.o")]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"


def test_header_has_no_line_comments():
    """C89 has no // comments; URLs (ws://) are the only // allowed."""
    for number, line in enumerate((ROOT / "include" / "wsclient.h").read_text().splitlines(), 1):
        assert "//" not in line.replace("://", ""), f"wsclient.h:{number}: {line}"
