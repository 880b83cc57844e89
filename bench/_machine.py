"""One-line description of this machine, for the headers of the bench and validation reports.

Import it from a script in this folder (run as ``python bench/X.py``, the
script's folder is on ``sys.path``)::

    from _machine import machine
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

__all__ = ["machine"]


def _proc_field(path: str, key: str) -> str | None:
    """The value of the first ``key: value`` line of a /proc file (None if absent or unreadable)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine(full: bool = False) -> str:
    """Cores, CPU model, Python and numpy versions.

    ``full`` adds the memory, the operating system and the scipy version:
    ``"2 cores (AMD EPYC), 24 GiB RAM; Linux 6.1; Python 3.11.7, numpy 2.4.6,
    scipy 1.17.1"`` instead of ``"2 cores (AMD EPYC), Python 3.11.7, numpy
    2.4.6"``. The CPU model is /proc/cpuinfo's ``model name``, else what
    :mod:`platform` knows.
    """
    model = _proc_field("/proc/cpuinfo", "model name")
    if model is None:
        model = platform.processor() or platform.machine()
    cpu = f"{os.cpu_count()} cores ({model})"
    versions = f"Python {platform.python_version()}, numpy {np.__version__}"
    if not full:
        return f"{cpu}, {versions}"
    import scipy

    mem = _proc_field("/proc/meminfo", "MemTotal")
    ram = f", {int(mem.split()[0]) / 2**20:.0f} GiB RAM" if mem else ""
    return (
        f"{cpu}{ram}; {platform.system()} {platform.release()}; "
        f"{versions}, scipy {scipy.__version__}"
    )
