"""Recording file formats: CSV v1, MetaBase CSV exports, binary; format sniffing.

:func:`load_recording` opens any supported file and returns a
:class:`~balance_mon.recording.Recording`; :func:`save_recording` writes one in
the format its file name asks for (``.csv`` CSV v1, ``.bmr`` binary).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import FileFormatError
from ..recording import Recording
from .csv_v1 import read_csv_v1, write_csv_v1

__all__ = ["FORMATS", "detect_format", "load_recording", "save_recording"]

#: Names accepted by ``--format`` options.
FORMATS = ("csv", "binary", "metabase")


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its first bytes and name."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileFormatError(f"{path}: is a folder, not a recording file") from None
    except PermissionError:
        raise FileFormatError(f"{path}: permission denied") from None
    from .binary import MAGIC

    if head.startswith(MAGIC):
        return "binary"
    first = head.split(b"\n", 1)[0].lstrip(b"\xef\xbb\xbf").strip().lower()
    if first.startswith(b"epoch (ms)"):
        return "metabase"
    return "csv"


def load_recording(path: str | Path, *, fmt: str | None = None) -> Recording:
    """Read a recording in any supported format (sniffed unless ``fmt`` is given)."""
    fmt = fmt or detect_format(path)
    if fmt == "csv":
        return read_csv_v1(path)
    if fmt == "binary":
        from .binary import read_binary

        return read_binary(path)
    if fmt == "metabase":
        from .metabase import read_metabase

        return read_metabase(path)
    raise FileFormatError(f"{path}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def save_recording(rec: Recording, path: str | Path, *, fmt: str | None = None) -> None:
    """Write ``rec``; the format follows ``fmt`` or the suffix (.bmr binary, else CSV v1)."""
    path = Path(path)
    fmt = fmt or ("binary" if path.suffix.lower() == ".bmr" else "csv")
    if fmt == "csv":
        write_csv_v1(rec, path)
    elif fmt == "binary":
        from .binary import write_binary

        write_binary(rec, path)
    else:
        raise FileFormatError(f"{path}: cannot write format {fmt!r}; use csv or binary")
