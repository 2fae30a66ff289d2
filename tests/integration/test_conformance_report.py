"""tests/autobahn/report.py on a real (small) gate run: a few cases of
sections 1 and 12 through gate.py and kosoku, then the report from them."""

import json
import subprocess
import sys

from conftest import BUILD, ROOT


def test_report_from_a_small_gate_run(tmp_path):
    name = "c-report-test"
    gate = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "autobahn" / "gate.py"), "--name", name,
         "--case", "1.1.1", "--case", "1.1.2", "--case", "12.1.1", "--",
         str(BUILD / "examples" / "autobahn_client"), "{url}", "{agent}"],
        capture_output=True, text=True, timeout=300,
    )
    assert gate.returncode == 0, gate.stdout + gate.stderr
    out = tmp_path / "conformance"
    report = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "autobahn" / "report.py"), "--out", str(out), name],
        capture_output=True, text=True, timeout=60,
    )
    assert report.returncode == 0, report.stderr
    text = (out / "README.md").read_text()
    assert f"| {name} | 3 | **3/3** |" in text
    assert "| 1 | Framing | 2 | 2 |" in text
    assert "| 12 | WebSocket Compression (different payloads) | 1 | 1 |" in text
    assert "commit `" in text and " UTC " in text
    results = json.loads((out / name / "index.json").read_text())[f"libwsclient-{name}"]
    assert sorted(results) == ["1.1.1", "1.1.2", "12.1.1"]
    # A missing testee fails the report.
    missing = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "autobahn" / "report.py"), "--out", str(out), name,
         "no-such-gate"],
        capture_output=True, text=True, timeout=60,
    )
    assert missing.returncode == 1
