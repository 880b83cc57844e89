"""Recording CSV, version 1 (the stable format of interfaces.md section 1).

::

    # balance_mon: recording v1
    # fs_hz: 100
    # placement: lower_back
    # axes: x=v y=ml z=ap
    time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2
    0.00,9.79,0.02,-0.11

Required columns ``time_s`` and ``acc_{x,y,z}_mps2`` (or ``acc_{x,y,z}_g``,
converted with g = 9.80665 m/s^2); optional ``gyr_{x,y,z}_dps``. Other columns
are ignored. Metadata lines ``# key: value`` come before the header; unknown
keys are kept. Values are written with Python's shortest round-trip
representation, so CSV -> float64 -> CSV loses nothing.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import numpy as np

from ..consts import GRAVITY_MPS2
from ..errors import FileFormatError, RecordingError
from ..recording import AxisMap, Recording

__all__ = ["FORMAT_LINE", "CsvWriter", "read_csv_v1", "write_csv_v1"]

FORMAT_LINE = "# balance_mon: recording v1"
_META = re.compile(r"^#\s*([A-Za-z0-9_.\-]+)\s*:\s*(.*?)\s*$")
_ACC_MPS2 = ("acc_x_mps2", "acc_y_mps2", "acc_z_mps2")
_ACC_G = ("acc_x_g", "acc_y_g", "acc_z_g")
_GYR = ("gyr_x_dps", "gyr_y_dps", "gyr_z_dps")
_SNIFF_BYTES = 65536
#: Metadata keys the Recording holds in its own fields.
_OWN_KEYS = ("fs_hz", "placement", "axes")


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a byte-order mark: ASCII text with every other byte NUL."""
    even, odd = head[0::2], head[1::2]
    if len(odd) < 8:
        return False
    nul_even, nul_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    return (nul_even > 0.9 and nul_odd < 0.1) or (nul_odd > 0.9 and nul_even < 0.1)


def _check_text(path: Path, head: bytes) -> None:
    """Reject files that are not UTF-8 text before parsing them."""
    if not head:
        raise FileFormatError(f"{path}: the file is empty")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileFormatError(f"{path}: the file is UTF-16 text; save it as UTF-8")
    if b"\x00" in head:
        if path.suffix.lower() == ".bmr":
            raise FileFormatError(f"{path}: not a balance_mon binary recording (bad signature)")
        if _looks_utf16(head):
            raise FileFormatError(f"{path}: the file is UTF-16 text; save it as UTF-8")
        raise FileFormatError(
            f"{path}: this is not a text file (it contains NUL bytes); expected a CSV recording"
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the sniff boundary
            raise FileFormatError(
                f"{path}: the file is not UTF-8 text (byte 0x{head[exc.start]:02x} at "
                f"offset {exc.start}); save it as UTF-8"
            ) from None


def _all_numbers(fields: list[str]) -> bool:
    try:
        for f in fields:
            float(f)
    except ValueError:
        return False
    return True


def _parse_header(path: Path, lines: Iterable[str]) -> tuple[dict[str, str], list[str], int]:
    """Metadata, column names and the number of lines before the first data row."""
    meta: dict[str, str] = {}
    n = 0
    for raw in lines:
        n += 1
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        if line.startswith("#"):
            m = _META.match(line)
            if m:
                key, value = m.group(1), m.group(2)
                if key == "balance_mon":
                    if not value.startswith("recording v1"):
                        raise FileFormatError(
                            f"{path}: unsupported recording format {value!r} "
                            "(this version reads 'recording v1')"
                        )
                else:
                    meta[key] = value
            continue
        cols = [c.strip() for c in line.split(",")]
        if _all_numbers(cols):
            raise FileFormatError(
                f"{path}: line {n} is data, but the header row must come first "
                "(time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2)"
            )
        if len(cols) < 2:
            sep = next((s for s in ("\t", ";", " ") if s in line), None)
            hint = f" (columns seem separated by {sep!r}; use commas)" if sep else ""
            raise FileFormatError(
                f"{path}: header line {n} has {len(cols)} column(s){hint}; expected "
                "time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2"
            )
        return meta, cols, n
    raise FileFormatError(f"{path}: no header row (time_s,acc_x_mps2,...) and no data")


def _column_plan(path: Path, cols: list[str]) -> tuple[list[int], float, list[int] | None]:
    """Indices of time and acceleration columns, the acceleration scale, gyro indices."""
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise FileFormatError(f"{path}: column {dup[0]!r} appears more than once in the header")
    if "time_s" not in cols:
        raise FileFormatError(
            f"{path}: no 'time_s' column (header has {', '.join(cols[:8])}); "
            "expected time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2"
        )
    has_mps2 = [c in cols for c in _ACC_MPS2]
    has_g = [c in cols for c in _ACC_G]
    if (all(has_mps2) and any(has_g)) or (all(has_g) and any(has_mps2)):
        raise FileFormatError(f"{path}: acceleration is given both in m/s^2 and in g columns")
    if all(has_mps2):
        acc_names, scale = _ACC_MPS2, 1.0
    elif all(has_g):
        acc_names, scale = _ACC_G, GRAVITY_MPS2
    else:
        missing = [c for c in _ACC_MPS2 if c not in cols]
        raise FileFormatError(
            f"{path}: missing acceleration column(s) {', '.join(missing)} "
            f"(header has {', '.join(cols[:8])})"
        )
    idx = [cols.index("time_s")] + [cols.index(c) for c in acc_names]
    gyr_present = [c in cols for c in _GYR]
    if any(gyr_present) and not all(gyr_present):
        raise FileFormatError(f"{path}: gyroscope needs all of {', '.join(_GYR)}")
    gyr = [cols.index(c) for c in _GYR] if all(gyr_present) else None
    return idx, scale, gyr


#: Bytes the row check reads at a time.
_SCAN_CHUNK = 1 << 22
#: Longest line the row check accepts (a recording's rows are a few dozen bytes).
_MAX_LINE = 1 << 20


def _scan_rows(path: Path, header_lines: int, n_fields: int) -> tuple[int, list[int]]:
    """Check that every data line holds ``n_fields`` comma-separated values.

    numpy's reader takes only the columns it is asked for and ignores the rest of
    a row, so a row with an extra value would pass unnoticed; this check reads
    the bytes in large chunks and counts commas per line with numpy (about a
    second for 10 M rows). Returns the number of data rows and the (1-based)
    line numbers of the empty and comment lines among them, which the reader
    skips, so that a data row's index can be turned into its line number.
    """
    want = n_fields - 1
    skipped: list[int] = []
    n_rows = 0
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
        fh.seek(0)
        eol = b"\r" if b"\n" not in head and b"\r" in head else b"\n"  # CR-only files
        before = 0  # lines before the current chunk
        carry = b""
        while True:
            chunk = fh.read(_SCAN_CHUNK)
            final = not chunk
            buf = carry + chunk
            if final:
                if not buf:
                    break
                if not buf.endswith(eol):
                    buf += eol
            cut = buf.rfind(eol) + 1
            body, carry = buf[:cut], buf[cut:]
            if len(carry) > _MAX_LINE:
                raise FileFormatError(
                    f"{path}: line {before + 1} is longer than {_MAX_LINE} bytes; "
                    "this is not a recording file"
                )
            if body:
                arr = np.frombuffer(body, dtype=np.uint8)
                ends = np.flatnonzero(arr == eol[0])
                commas = np.searchsorted(np.flatnonzero(arr == ord(",")), ends)
                suspect = np.diff(commas, prepend=0) != want
                suspect[np.searchsorted(ends, np.flatnonzero(arr == ord("#")))] = True
                first = max(header_lines - before, 0)  # header and metadata lines
                suspect[:first] = False
                n_rows += max(ends.size - first, 0)
                for i in np.flatnonzero(suspect).tolist():
                    line_no = before + i + 1
                    start = int(ends[i - 1]) + 1 if i else 0
                    raw = body[start : int(ends[i])].strip(b"\r\n")
                    values = raw.split(b"#", 1)[0]
                    if not values:  # empty or comment line: the reader skips it
                        skipped.append(line_no)
                        n_rows -= 1
                        continue
                    if not values.strip():
                        raise FileFormatError(
                            f"{path}: line {line_no} holds only spaces; delete it"
                        )
                    n = values.count(b",") + 1
                    if n != n_fields:
                        raise FileFormatError(
                            f"{path}: line {line_no} has {n} value{'s' if n != 1 else ''} "
                            f"where the header has {n_fields}"
                        )
                before += ends.size
            if final:
                break
    return n_rows, skipped


def _line_of(row: int, first_data_line: int, skipped: list[int]) -> int:
    """File line number (1-based) of data row ``row`` (0-based)."""
    line = first_data_line + row
    for s in skipped:
        if s > line:
            break
        line += 1
    return line


def _loadtxt_error(
    path: Path, exc: ValueError, cols: list[str], first_data_line: int, skipped: list[int]
) -> FileFormatError:
    """Turn numpy's parse error into a message with the file's line number."""
    text = str(exc)
    m = re.search(r"could not convert string '(.*?)' to float64 at row (\d+), column (\d+)", text)
    if m:
        line = _line_of(int(m.group(2)), first_data_line, skipped)
        value = m.group(1)
        shown = value if len(value) <= 20 else value[:20] + "..."
        col = int(m.group(3))
        name = f" ({cols[col - 1]})" if 0 < col <= len(cols) else ""
        return FileFormatError(
            f"{path}: line {line}, column {col}{name}: {shown!r} is not a number"
        )
    return FileFormatError(f"{path}: cannot read the data rows ({text.rstrip('.')})")


def read_csv_v1(path: str | Path) -> Recording:
    """Read a recording CSV v1 file.

    Raises
    ------
    FileFormatError
        For anything that is not a well-formed recording file; the message
        names the file, the line and the problem.
    RecordingError
        For well-formed files with impossible content (time not increasing...).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fb:
            head = fb.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileFormatError(f"{path}: is a folder, not a recording file") from None
    except PermissionError:
        raise FileFormatError(f"{path}: permission denied") from None
    _check_text(path, head)

    with open(path, encoding="utf-8-sig", errors="strict", newline="") as fh:
        try:
            meta, cols, header_lines = _parse_header(path, fh)
        except UnicodeDecodeError as exc:
            raise FileFormatError(f"{path}: the file is not UTF-8 text ({exc.reason})") from None
    idx, scale, gyr_idx = _column_plan(path, cols)
    usecols = idx + (gyr_idx or [])
    first_data_line = header_lines + 1
    n_rows, skipped = _scan_rows(path, header_lines, len(cols))
    if n_rows == 0:
        raise FileFormatError(f"{path}: the file has a header but no data rows")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data" and the like
            data = np.loadtxt(
                path,
                delimiter=",",
                skiprows=header_lines,
                usecols=usecols,
                comments="#",
                dtype=np.float64,
                ndmin=2,
                encoding="utf-8",
            )
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{path}: the file is not UTF-8 text ({exc.reason})") from None
    except ValueError as exc:
        raise _loadtxt_error(path, exc, cols, first_data_line, skipped) from None
    except IndexError:
        raise FileFormatError(f"{path}: a data row has fewer values than the header") from None
    if data.shape[0] == 0:
        raise FileFormatError(f"{path}: the file has a header but no data rows")
    bad = ~np.isfinite(data)
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        name = cols[usecols[col]]
        raise RecordingError(
            f"{path}: line {_line_of(row, first_data_line, skipped)}: {name} is "
            f"{data[row, col]}; every value must be a finite number"
        )
    t = data[:, 0]
    with np.errstate(over="ignore"):
        back = np.flatnonzero(~(np.diff(t) > 0))
    if back.size:
        r = int(back[0]) + 1
        what = "repeats" if t[r] == t[r - 1] else "goes backwards"
        raise RecordingError(
            f"{path}: line {_line_of(r, first_data_line, skipped)}: time {what} "
            f"({float(t[r])!r} s after {float(t[r - 1])!r} s); times must strictly increase"
        )
    return _to_recording(path, meta, data, scale, gyr_idx is not None)


def _to_recording(
    path: Path, meta: dict[str, str], data: np.ndarray, scale: float, has_gyr: bool
) -> Recording:
    fs = None
    if "fs_hz" in meta and meta["fs_hz"] != "":
        try:
            fs = float(meta["fs_hz"])
        except ValueError:
            raise FileFormatError(f"{path}: fs_hz {meta['fs_hz']!r} is not a number") from None
        if not np.isfinite(fs) or fs <= 0:
            raise FileFormatError(f"{path}: fs_hz must be a positive number, got {fs}")
    axes = None
    if meta.get("axes"):
        try:
            axes = AxisMap.parse(meta["axes"])
        except RecordingError as exc:
            raise FileFormatError(f"{path}: {exc}") from None
    placement = meta.get("placement") or "other"
    extra = {k: v for k, v in meta.items() if k not in _OWN_KEYS}
    return Recording(
        time_s=data[:, 0],
        acc_mps2=data[:, 1:4] * scale if scale != 1.0 else data[:, 1:4],
        gyr_dps=data[:, 4:7] if has_gyr else None,
        fs_nominal_hz=fs,
        placement=placement,
        axes=axes,
        metadata=extra,
        source=str(path),
    )


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _header_lines(rec: Recording, metadata_overrides: dict[str, str] | None = None) -> list[str]:
    lines = [FORMAT_LINE]
    if rec.fs_nominal_hz is not None:
        lines.append(f"# fs_hz: {rec.fs_nominal_hz!r}")
    lines.append(f"# placement: {rec.placement}")
    if rec.axes is not None:
        lines.append(f"# axes: {rec.axes.format()}")
    meta = dict(rec.metadata)
    meta.update(metadata_overrides or {})
    for k, v in meta.items():
        if k in _OWN_KEYS or k == "balance_mon":
            continue
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", k):
            raise RecordingError(f"metadata key {k!r} cannot be written (letters, digits, _.-)")
        # line breaks would end the line; NUL would make the file unreadable as text
        value = str(v).replace("\r", " ").replace("\n", " ").replace("\x00", " ")
        lines.append(f"# {k}: {value}")
    cols = ["time_s", *_ACC_MPS2]
    if rec.gyr_dps is not None:
        cols += list(_GYR)
    lines.append(",".join(cols))
    return lines


def _rows(time_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None) -> str:
    block = np.column_stack([time_s, acc] if gyr is None else [time_s, acc, gyr])
    return "".join(",".join(map(repr, row)) + "\n" for row in block.tolist())


def write_csv_v1(rec: Recording, path: str | Path, *, chunk_rows: int = 200_000) -> None:
    """Write ``rec`` as CSV v1 (atomically: a temporary file renamed into place)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        _write(rec, fh, chunk_rows)
    tmp.replace(path)


def _write(rec: Recording, fh: TextIO, chunk_rows: int) -> None:
    fh.write("\n".join(_header_lines(rec)) + "\n")
    n = rec.n_samples
    for s in range(0, n, chunk_rows):
        e = min(s + chunk_rows, n)
        gyr = None if rec.gyr_dps is None else rec.gyr_dps[s:e]
        fh.write(_rows(rec.time_s[s:e], rec.acc_mps2[s:e], gyr))


def to_csv_text(rec: Recording) -> str:
    """The CSV v1 text of ``rec`` (small recordings; tests and previews)."""
    buf = io.StringIO()
    _write(rec, buf, 200_000)
    return buf.getvalue()


class CsvWriter:
    """Append samples to a CSV v1 file as they arrive (live recording).

    Each :meth:`append` writes and flushes its rows, and :meth:`flush` also
    fsyncs, so a crash loses at most what was not yet handed to the writer.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fs_nominal_hz: float | None = None,
        placement: str = "other",
        axes: AxisMap | None = None,
        metadata: dict[str, str] | None = None,
        with_gyro: bool = False,
    ) -> None:
        self.path = Path(path)
        self._with_gyro = with_gyro
        # A two-sample stand-in recording renders the header with the same code path.
        proto = Recording(
            time_s=np.array([0.0, 1.0]),
            acc_mps2=np.zeros((2, 3)),
            gyr_dps=np.zeros((2, 3)) if with_gyro else None,
            fs_nominal_hz=fs_nominal_hz,
            placement=placement,
            axes=axes,
            metadata=metadata or {},
        )
        self._fh: TextIO | None = open(self.path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        self._fh.write("\n".join(_header_lines(proto)) + "\n")
        self._fh.flush()
        self._last_t = -np.inf
        self.n_written = 0

    def append(self, time_s: np.ndarray, acc_mps2: np.ndarray, gyr_dps: np.ndarray | None = None):
        if self._fh is None:
            raise RecordingError(f"{self.path}: writer is closed")
        t = np.asarray(time_s, dtype=np.float64)
        if t.size == 0:
            return
        if t[0] <= self._last_t or np.any(np.diff(t) <= 0):
            raise RecordingError(f"{self.path}: appended times must strictly increase")
        if self._with_gyro and gyr_dps is None:
            raise RecordingError(f"{self.path}: this recording has gyroscope columns")
        gyr = np.asarray(gyr_dps, float) if self._with_gyro else None
        self._fh.write(_rows(t, np.asarray(acc_mps2, float), gyr))
        self._fh.flush()
        self._last_t = float(t[-1])
        self.n_written += int(t.size)

    def flush(self) -> None:
        if self._fh is not None:
            import os

            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self.flush()
            self._fh.close()
            self._fh = None

    def __enter__(self) -> CsvWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
