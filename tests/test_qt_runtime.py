"""Guard against the PySide6 release that aborts CPython 3.11 (devices.md, pyqtgraph section).

PySide6-Essentials 6.12.0 decrements None's reference count on calls that
return None; after ~100,000 such calls (a live plot makes them within seconds)
the interpreter aborts with "deallocating None". The project pins <6.12 on
Python 3.11; this test fails if an install brings a broken build anyway.
"""

import subprocess
import sys

import pytest

SCRIPT = """
from PySide6.QtGui import QPainterPath
p = QPainterPath()
for i in range(200_000):
    p.lineTo(float(i), float(i % 7))
print("ok")
"""


def test_many_none_returning_qt_calls_do_not_abort_the_interpreter():
    pytest.importorskip("PySide6")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.strip() == "ok"
