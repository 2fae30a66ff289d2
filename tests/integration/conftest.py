import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "servers"))
# The Python binding, for tests that drive the C API from Python (ctypes).
sys.path.insert(1, str(ROOT / "bindings" / "python"))

BUILD = Path(os.environ.get("WSCLIENT_BUILD", ROOT / "build"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes (a build from scratch); "
                            "`make test` runs it, `-m 'not slow'` leaves it out")
