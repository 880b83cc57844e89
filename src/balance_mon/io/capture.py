"""Raw Bluetooth captures: every notification with its host receive time.

A capture is what a live recording saw, before any decoding: replaying it
through the same decoders and alignment (``balance-mon replay``) reproduces the
recording byte for byte, and it keeps the device's own bytes for debugging a
decoder. The format is line-oriented UTF-8 text, one record per line, so that
a capture cut short by a crash loses at most its last, incomplete line::

    # balance_mon capture v1
    H {"model": "polar-h10", "device_name": "Polar H10 A1B2C3D4", ...}
    E 1021000000 {"event": "connecting", "attempt": 1}
    N 1187250113 fb005c81-02e7-f387-1cad-8acd2d8df0c8 f00102000000
    N 1371015872 fb005c82-02e7-f387-1cad-8acd2d8df0c8 0200e4...

- line 1: the format line;
- line 2: ``H`` and one JSON object, the header (device model, name and
  address, requested settings, host clock at start ``t0_ns`` and wall clock
  ``start_unix_ns``, program version; readers keep unknown keys);
- then records in arrival order, fields separated by one space:

  - ``N <t_ns> <uuid> <hex>``: a notification or indication from the
    characteristic ``uuid`` received at host time ``t_ns`` (integer
    nanoseconds on the monotonic host clock of the header's ``t0_ns``), its
    bytes in lower-case hexadecimal (empty for an empty notification);
  - ``E <t_ns> <json>``: a session event (``connecting``, ``connected``,
    ``started``, ``battery``, ``disconnected``, ``reconnect_wait``,
    ``gave_up``, ``stop``...), a JSON object with at least ``"event"``.

Comment lines start with ``#``. Times never decrease.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..errors import FileFormatError

__all__ = [
    "CAPTURE_FORMAT_LINE",
    "Capture",
    "CaptureRecord",
    "CaptureWriter",
    "iter_capture",
    "read_capture",
]

CAPTURE_FORMAT_LINE = "# balance_mon capture v1"


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    """One line of a capture: a notification (``kind`` "N") or an event ("E")."""

    kind: str
    t_ns: int
    uuid: str | None = None
    data: bytes | None = None
    event: dict[str, Any] | None = None

    @classmethod
    def notification(cls, t_ns: int, uuid: str, data: bytes) -> CaptureRecord:
        return cls("N", int(t_ns), uuid.lower(), bytes(data), None)

    @classmethod
    def make_event(cls, t_ns: int, name: str, **fields: Any) -> CaptureRecord:
        return cls("E", int(t_ns), None, None, {"event": name, **fields})

    def to_line(self) -> str:
        if self.kind == "N":
            return f"N {self.t_ns} {self.uuid} {(self.data or b'').hex()}\n"
        text = json.dumps(self.event, separators=(",", ":"), sort_keys=True, allow_nan=False)
        return f"E {self.t_ns} {text}\n"


@dataclass
class Capture:
    """A whole capture: header, records, and whether the last line was cut short."""

    path: Path
    header: dict[str, Any]
    records: list[CaptureRecord] = field(default_factory=list)
    truncated: bool = False


class CaptureWriter:
    """Append records to a capture file as they arrive.

    Records are buffered; :meth:`flush` hands them to the operating system
    (a killed process then loses nothing flushed) and :meth:`sync` also asks
    the disk to store them (a power cut then loses nothing synced).
    """

    def __init__(self, path: str | Path, header: dict[str, Any]) -> None:
        self.path = Path(path)
        self._fh: TextIO | None = open(  # noqa: SIM115
            self.path, "w", encoding="utf-8", newline="\n"
        )
        head = json.dumps(header, separators=(",", ":"), sort_keys=True, allow_nan=False)
        self._fh.write(f"{CAPTURE_FORMAT_LINE}\nH {head}\n")
        self._fh.flush()
        self._last_t_ns: int | None = None
        self.n_records = 0

    def write(self, record: CaptureRecord) -> None:
        if self._fh is None:
            raise FileFormatError(f"{self.path}: capture is closed")
        if self._last_t_ns is not None and record.t_ns < self._last_t_ns:
            raise FileFormatError(
                f"{self.path}: capture times must not decrease "
                f"({record.t_ns} ns after {self._last_t_ns} ns)"
            )
        self._fh.write(record.to_line())
        self._last_t_ns = record.t_ns
        self.n_records += 1

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def sync(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_line(path: Path, n: int, line: str) -> CaptureRecord:
    kind, _, rest = line.partition(" ")
    t_text, _, rest = rest.partition(" ")
    try:
        t_ns = int(t_text)
    except ValueError:
        raise FileFormatError(f"{path}: line {n}: time {t_text!r} is not an integer") from None
    if kind == "N":
        uuid, _, hex_text = rest.partition(" ")
        if not uuid:
            raise FileFormatError(f"{path}: line {n}: notification without a characteristic")
        try:
            data = bytes.fromhex(hex_text)
        except ValueError:
            raise FileFormatError(f"{path}: line {n}: notification bytes are not hex") from None
        return CaptureRecord("N", t_ns, uuid.lower(), data, None)
    if kind == "E":
        try:
            event = json.loads(rest)
        except json.JSONDecodeError as exc:
            raise FileFormatError(f"{path}: line {n}: event is not JSON ({exc.msg})") from None
        if not isinstance(event, dict) or "event" not in event:
            raise FileFormatError(f"{path}: line {n}: event has no 'event' name")
        return CaptureRecord("E", t_ns, None, None, event)
    raise FileFormatError(f"{path}: line {n}: unknown record type {kind!r} (expected N or E)")


def iter_capture(path: str | Path) -> tuple[dict[str, Any], Iterator[CaptureRecord], list[bool]]:
    """Header and an iterator over the records; ``flag[0]`` turns True at a cut-short end."""
    path = Path(path)
    try:
        fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileFormatError(f"{path}: is a folder, not a capture file") from None
    except PermissionError:
        raise FileFormatError(f"{path}: permission denied") from None
    try:
        first = fh.readline()
        second = fh.readline()
    except UnicodeDecodeError:
        fh.close()
        raise FileFormatError(f"{path}: not a balance_mon capture (not UTF-8 text)") from None
    if first.rstrip("\r\n") != CAPTURE_FORMAT_LINE:
        fh.close()
        raise FileFormatError(
            f"{path}: not a balance_mon capture (first line should be {CAPTURE_FORMAT_LINE!r})"
        )
    if not second.startswith("H ") or not second.endswith("\n"):
        fh.close()
        raise FileFormatError(f"{path}: line 2 must be the capture header 'H {{...}}'")
    try:
        header = json.loads(second[2:])
    except json.JSONDecodeError as exc:
        fh.close()
        raise FileFormatError(f"{path}: line 2: header is not JSON ({exc.msg})") from None
    if not isinstance(header, dict):
        fh.close()
        raise FileFormatError(f"{path}: line 2: header must be a JSON object")
    flag = [False]

    def records() -> Iterator[CaptureRecord]:
        with fh:
            last = None
            for n, line in enumerate(fh, start=3):
                if not line.endswith("\n"):  # cut short by a crash: drop it
                    flag[0] = True
                    return
                line = line.rstrip("\r\n")
                if not line or line.startswith("#"):
                    continue
                rec = _parse_line(path, n, line)
                if last is not None and rec.t_ns < last:
                    raise FileFormatError(f"{path}: line {n}: time goes backwards")
                last = rec.t_ns
                yield rec

    return header, records(), flag


def read_capture(path: str | Path) -> Capture:
    """Read a whole capture (see the module docstring for the format).

    Raises
    ------
    FileFormatError
        If the file is not a capture or a complete line is malformed; a last
        line cut short (no newline) is dropped and flagged ``truncated``.
    """
    header, records, flag = iter_capture(path)
    try:
        recs = list(records)
    except UnicodeDecodeError:
        raise FileFormatError(f"{path}: not a balance_mon capture (not UTF-8 text)") from None
    return Capture(path=Path(path), header=header, records=recs, truncated=flag[0])
