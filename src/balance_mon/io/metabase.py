"""MbientLab MetaBase CSV exports (MetaWear / MetaMotion sensors).

MetaBase, MbientLab's phone and desktop app, exports one CSV file per sensor
stream. The layout below is taken from MetaBase's own source
(mbientlab/MetaWear-Android-MetaBase-App, ``DataHandler.java`` writes the rows,
``StreamMonitorFragment.java`` names the files) and matches exports published
with public data sets (e.g. the "MetaMotion" barbell-exercise set, files like
``A-bench-heavy_MetaWear_2019-01-14T14.22.49.165_C42732BE255C_Accelerometer_12.500Hz_1.4.4.csv``)::

    <session>_<device>_<start YYYY-MM-DDTHH.MM.SS.mmm>_<MAC>_<Sensor>_<rate %.3f>Hz_<firmware>.csv

    epoch (ms),time (-05:00),elapsed (s),x-axis (g),y-axis (g),z-axis (g)
    1547839029453,2019-01-18T14:17:09.453,0.000,-0.290,0.887,-0.102

``epoch (ms)`` is Unix time in integer milliseconds; ``time (...)`` the same
instant as local wall-clock text, the header naming the UTC offset (written
without a plus sign: ``time (01:00)``); ``elapsed (s)`` seconds since the first
sample, and the three axes, in g for the accelerometer and deg/s for the
gyroscope (``x-axis (deg/s)``), all with three decimals. Lines end in LF
(Android) or CR LF (Windows); both are read, as is a UTF-8 byte-order mark.

How the reader turns an export into one :class:`~balance_mon.recording.Recording`
--------------------------------------------------------------------------------

- **Which file.** Open the *accelerometer* file. The gyroscope file of the same
  session is the one in the same folder whose name has the same prefix (all
  before ``_Gyroscope_``); it is read too and merged when its time span
  overlaps the accelerometer's. Opening the gyroscope file alone is an error
  that names the accelerometer file to open instead. Files named otherwise
  (renamed by hand) are read from their header alone, without a gyroscope
  and without a nominal rate.
- **Time.** From ``epoch (ms)`` (``elapsed (s)`` and the local time text are
  not used): ``time_s`` is seconds since the first kept accelerometer sample,
  whose Unix time is kept in the metadata as ``start_unix_s``.
- **Repeated and uneven timestamps.** MetaWear sensors pack several samples in
  one Bluetooth notification at higher rates, and the samples of a packet then
  carry one timestamp, the packet's (mbientlab/MetaWear-SDK-iOS-macOS-tvOS
  issue 1: "3 will be grouped together since they all arrive ... at the same
  time"; hbldh/pymetawear issue 63: epoch steps "between 0 ms and a couple
  hundred"). A run of ``k`` samples sharing one timestamp ``T`` is re-timed as
  the packet it was: the last sample keeps ``T`` and the earlier ones step
  back from it by the nominal sample interval, shrunk to ``(T - T_prev) / k``
  when the previous timestamp ``T_prev`` is closer than that, so time always
  strictly increases and never crosses the previous packet. Uneven but
  increasing steps are kept as they are (the rate estimator of
  :mod:`balance_mon.recording` copes with jitter and finds gaps). The number of
  re-timed samples is kept in the metadata (``metabase_retimed_samples``).
  Time going backwards is an error.
- **Merging the gyroscope.** The gyroscope stream (its own rate, often twice
  the accelerometer's) is linearly interpolated onto the accelerometer sample
  times over the span both cover. Accelerometer samples outside that span
  are dropped (interpolation has nothing there, and extrapolating angular
  rate would invent data); their number is kept as
  ``metabase_trimmed_samples``. Without a gyroscope file every accelerometer
  sample is kept. A gyroscope gap is bridged by the interpolation.
- **Units.** g is converted to m/s^2 with :data:`balance_mon.consts.GRAVITY_MPS2`;
  deg/s is kept.
- **Nominal rate** from the file name (``12.500Hz``).

Every malformed input raises :class:`~balance_mon.errors.FileFormatError`
naming the file (and the line where there is one) and the problem.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..consts import GRAVITY_MPS2
from ..errors import FileFormatError, RecordingError
from ..recording import Recording

__all__ = ["MetabaseName", "parse_metabase_name", "read_metabase", "retime_batches"]

_NAME = re.compile(
    r"^(?P<prefix>.+)_(?P<sensor>[A-Za-z][A-Za-z ]*?)_(?P<rate>\d+(?:\.\d+)?)Hz"
    r"(?:_(?P<firmware>[^_]*))?$",
    re.IGNORECASE,
)
_MAC = re.compile(r"^[0-9A-Fa-f]{12}$")
_TIME_COL = re.compile(r"^time\s*\((?P<tz>[^)]*)\)$", re.IGNORECASE)
_AXIS_COL = re.compile(r"^(?P<axis>[xyz])-axis\s*\((?P<unit>[^)]*)\)$", re.IGNORECASE)
_HEADER_HINT = "epoch (ms),time (...),elapsed (s),x-axis (g),y-axis (g),z-axis (g)"
_SNIFF_BYTES = 4096
_CHUNK = 1 << 24


@dataclass(frozen=True)
class MetabaseName:
    """The parts of a MetaBase export's file name."""

    prefix: str  #: everything before ``_<Sensor>_``: session, device, start, MAC
    sensor: str  #: e.g. ``Accelerometer``, ``Gyroscope``
    rate_hz: float  #: the configured rate
    firmware: str | None


def parse_metabase_name(path: str | Path) -> MetabaseName | None:
    """Split ``<prefix>_<Sensor>_<rate>Hz_<firmware>.csv``; None when not so named."""
    p = Path(path)
    if p.suffix.lower() != ".csv":
        return None
    m = _NAME.match(p.stem)
    if not m:
        return None
    rate = float(m.group("rate"))
    if not rate > 0:
        return None
    return MetabaseName(
        prefix=m.group("prefix"),
        sensor=m.group("sensor"),
        rate_hz=rate,
        firmware=m.group("firmware") or None,
    )


# ---------------------------------------------------------------------------
# One stream
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stream:
    path: Path
    kind: str  # "acc" | "gyr"
    unit: str
    utc_offset: str
    epoch_ms: np.ndarray  # (N,) as written, non-decreasing
    xyz: np.ndarray  # (N, 3) in the file's unit


def _open_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileFormatError(f"{path}: is a folder, not a recording file") from None
    except PermissionError:
        raise FileFormatError(f"{path}: permission denied") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def _header(path: Path, head: bytes) -> tuple[str, str, str]:
    """Check the header line; return (kind, unit, UTC offset text)."""
    if not head.strip():
        raise FileFormatError(f"{path}: the file is empty")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileFormatError(f"{path}: the file is UTF-16 text; save it as UTF-8")
    if b"\x00" in head:
        raise FileFormatError(f"{path}: this is not a text file (it contains NUL bytes)")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    line = head.split(b"\n", 1)[0]
    if b"\n" not in head and len(head) >= _SNIFF_BYTES:
        raise FileFormatError(f"{path}: the first line is not a MetaBase header ({_HEADER_HINT})")
    try:
        text = line.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise FileFormatError(f"{path}: the header line is not UTF-8 text") from None
    cols = [c.strip() for c in text.split(",")]
    if not cols or cols[0].lower() != "epoch (ms)":
        raise FileFormatError(
            f"{path}: not a MetaBase export: the first column is {cols[0]!r}, "
            f"expected 'epoch (ms)' (header {_HEADER_HINT})"
        )
    if len(cols) != 6:
        raise FileFormatError(
            f"{path}: MetaBase header has {len(cols)} columns ({text}); a three-axis "
            f"accelerometer or gyroscope export has 6: {_HEADER_HINT}"
        )
    tm = _TIME_COL.match(cols[1])
    if not tm or cols[2].lower() != "elapsed (s)":
        raise FileFormatError(
            f"{path}: MetaBase header columns 2 and 3 are {cols[1]!r}, {cols[2]!r}; "
            "expected 'time (<UTC offset>)', 'elapsed (s)'"
        )
    units = []
    for want, col in zip("xyz", cols[3:], strict=True):
        am = _AXIS_COL.match(col)
        if not am or am.group("axis").lower() != want:
            raise FileFormatError(
                f"{path}: MetaBase header column {col!r} should be '{want}-axis (<unit>)'"
            )
        units.append(am.group("unit").strip())
    if len({u.lower() for u in units}) != 1:
        raise FileFormatError(f"{path}: the three axes have different units {units}")
    unit = units[0].lower()
    if unit == "g":
        kind = "acc"
    elif unit in ("deg/s", "dps"):
        kind = "gyr"
    else:
        raise FileFormatError(
            f"{path}: MetaBase export of a stream in {units[0]!r}; balance_mon reads "
            "the accelerometer (g) export, with the gyroscope (deg/s) beside it"
        )
    return kind, unit, tm.group("tz").strip()


def _count_commas(path: Path) -> tuple[int, int]:
    """Commas in the file, and commas on its first (header) line."""
    total = 0
    first = None
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            if first is None:
                first = chunk.split(b"\n", 1)[0].count(b",")
            total += chunk.count(b",")
    return total, first or 0


def _first_bad_row(path: Path) -> tuple[int, int]:
    """Line number and column count of the first data row without 6 values."""
    with open(path, "rb") as fh:
        next(fh, None)
        for i, raw in enumerate(fh, start=2):
            line = raw.strip()
            if line and line.count(b",") != 5:
                return i, line.count(b",") + 1
    return 0, 0


def _loadtxt_error(path: Path, exc: ValueError) -> FileFormatError:
    text = str(exc)
    m = re.search(r"could not convert string '(.*?)' to float64 at row (\d+), column (\d+)", text)
    if m:
        value = m.group(1)
        shown = value if len(value) <= 24 else value[:24] + "..."
        what = "an empty value" if value == "" else f"{shown!r}, not a number"
        return FileFormatError(f"{path}: line {int(m.group(2)) + 2}, column {m.group(3)}: {what}")
    m = re.search(r"invalid column index \d+ at row (\d+) with (\d+) columns", text)
    if m:
        return FileFormatError(
            f"{path}: line {int(m.group(1)) + 2} has {m.group(2)} values; MetaBase rows have 6"
        )
    return FileFormatError(f"{path}: cannot read the data rows ({text.rstrip('.')})")


def _read_stream(path: Path, header: tuple[str, str, str] | None = None) -> _Stream:
    """Parse one MetaBase export (header checked, rows as numbers)."""
    kind, unit, tz = header or _header(path, _open_head(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            data = np.loadtxt(
                path,
                delimiter=",",
                skiprows=1,
                usecols=(0, 3, 4, 5),
                comments=None,
                dtype=np.float64,
                ndmin=2,
                encoding="utf-8",
            )
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{path}: the file is not UTF-8 text ({exc.reason})") from None
    except ValueError as exc:
        raise _loadtxt_error(path, exc) from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read the file ({exc})") from None
    n = data.shape[0]
    commas, header_commas = _count_commas(path)
    if commas != header_commas + 5 * n:
        line, ncols = _first_bad_row(path)
        where = f"line {line} has {ncols} values" if line else "a row has extra values"
        raise FileFormatError(f"{path}: {where}; MetaBase rows have 6")
    if n < 2:
        raise FileFormatError(
            f"{path}: {n} data row{'s' if n != 1 else ''}; a recording needs at least two"
        )
    bad = ~np.isfinite(data)
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        name = ("epoch (ms)", "x-axis", "y-axis", "z-axis")[col]
        raise FileFormatError(
            f"{path}: line {row + 2}: {name} is {data[row, col]}; values must be finite numbers"
        )
    epoch = data[:, 0]
    back = np.flatnonzero(np.diff(epoch) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise FileFormatError(
            f"{path}: line {i + 2}: time goes backwards (epoch {epoch[i]:.0f} ms after "
            f"{epoch[i - 1]:.0f} ms)"
        )
    return _Stream(path, kind, unit, tz, epoch, data[:, 1:4])


# ---------------------------------------------------------------------------
# Re-timing packets of samples that share a timestamp
# ---------------------------------------------------------------------------


def retime_batches(t: np.ndarray, dt: float) -> tuple[np.ndarray, int]:
    """Spread runs of equal times back from their stamp; returns (times, re-timed count).

    ``t`` must be non-decreasing. A run of ``k`` equal values ``T`` after the
    previous distinct value ``P`` becomes ``T - (k - 1 - j) * s`` for
    ``j = 0 .. k-1`` with ``s = min(dt, (T - P) / k)`` (``s = dt`` for the first
    run), so the result strictly increases and stays above ``P``.
    """
    t = np.asarray(t, dtype=np.float64)
    n = t.size
    if n == 0:
        return t.copy(), 0
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(t[1:], t[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    m = starts.size
    if m == n:
        return t.copy(), 0
    counts = np.diff(np.append(starts, n))
    stamps = t[starts]
    step = np.full(m, float(dt))
    if m > 1:
        step[1:] = np.minimum(dt, np.diff(stamps) / counts[1:])
    run = np.cumsum(new) - 1
    back = (starts + counts - 1)[run] - np.arange(n)  # samples after this one in its run
    return stamps[run] - back * step[run], n - m


# ---------------------------------------------------------------------------
# Session: accelerometer + gyroscope
# ---------------------------------------------------------------------------


def _siblings(path: Path, name: MetabaseName, sensor: str) -> list[Path]:
    """Files beside ``path`` with the same prefix and the given sensor name."""
    found = []
    try:
        entries = sorted(path.parent.iterdir())
    except OSError:
        return []
    for p in entries:
        if p == path or not p.is_file():
            continue
        other = parse_metabase_name(p)
        if other and other.prefix == name.prefix and other.sensor.lower() == sensor:
            found.append(p)
    return found


def _retimed_ms(stream: _Stream, rate_hz: float | None, origin_ms: float) -> tuple[np.ndarray, int]:
    """Times in ms after ``origin_ms`` with packets re-timed (see the module notes)."""
    t = stream.epoch_ms - origin_ms
    if rate_hz:
        dt = 1000.0 / rate_hz
    else:  # the mean sample interval
        span = float(t[-1] - t[0])
        if span <= 0:
            raise FileFormatError(f"{stream.path}: every sample has the same timestamp")
        dt = span / (t.size - 1)
    out, n = retime_batches(t, dt)
    if not np.all(np.diff(out) > 0):  # only conceivable with sub-ulp steps
        raise FileFormatError(f"{stream.path}: timestamps too close to tell samples apart")
    return out, n


def read_metabase(path: str | Path) -> Recording:
    """Read a MetaBase accelerometer export, merged with its session's gyroscope file.

    See the module documentation for the file layout and every rule applied.

    Raises
    ------
    FileFormatError
        For a gyroscope (or other) export given alone, a malformed file, or a
        gyroscope file of the same session that does not overlap in time.
    """
    path = Path(path)
    header = _header(path, _open_head(path))
    kind = header[0]
    name = parse_metabase_name(path)
    sensor = name.sensor.lower() if name else None
    if kind == "acc" and sensor in ("linear acceleration", "gravity"):
        raise FileFormatError(
            f"{path}: a MetaBase '{name.sensor}' export, derived by sensor fusion; "
            "balance_mon needs the raw 'Accelerometer' export (with gravity)"
        )
    if kind == "gyr":
        accs = _siblings(path, name, "accelerometer") if name else []
        hint = (
            f"open {accs[0].name} instead (its gyroscope data are read from this file)"
            if accs
            else "no accelerometer export of the same session (same name up to "
            "'_Accelerometer_') is in this folder"
        )
        raise FileFormatError(
            f"{path}: this is a MetaBase gyroscope export; an accelerometer file is needed: {hint}"
        )
    if sensor is not None and sensor != "accelerometer":
        raise FileFormatError(
            f"{path}: named as a MetaBase '{name.sensor}' export but holds values in g; "
            "expected an '_Accelerometer_' file"
        )
    acc = _read_stream(path, header)
    origin = float(acc.epoch_ms[0])
    rate = name.rate_hz if name else None
    ta, n_retimed = _retimed_ms(acc, rate, origin)
    meta: dict[str, str] = {
        "device": "MbientLab MetaWear",
        "source_format": "metabase",
        "metabase_utc_offset": acc.utc_offset,
        "metabase_accelerometer_file": path.name,
        "metabase_retimed_samples": str(n_retimed),
    }
    if name is not None:
        if name.firmware:
            meta["firmware"] = name.firmware
        mac = name.prefix.rsplit("_", 1)[-1]
        if _MAC.match(mac):
            meta["device_mac"] = mac.upper()

    gyr = None
    keep = slice(None)
    gyros = _siblings(path, name, "gyroscope") if name else []
    if gyros:
        ta, gyr, keep, gmeta = _merge_gyro(path, ta, origin, gyros)
        meta.update(gmeta)
    acc_xyz = acc.xyz[keep]
    start_ms = origin + float(ta[0])
    meta["start_unix_s"] = repr(start_ms / 1000.0)
    try:
        return Recording(
            time_s=(ta - ta[0]) / 1000.0,
            acc_mps2=acc_xyz * GRAVITY_MPS2,
            gyr_dps=gyr,
            fs_nominal_hz=rate,
            placement="other",
            metadata=meta,
            source=str(path),
        )
    except RecordingError as exc:  # e.g. fewer than two samples left after trimming
        msg = str(exc)
        raise FileFormatError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None


def _merge_gyro(
    path: Path, ta: np.ndarray, origin: float, gyros: list[Path]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, str]]:
    """Interpolate the overlapping gyroscope stream onto the accelerometer times."""
    overlapping = []
    for gpath in gyros:
        header = _header(gpath, _open_head(gpath))
        if header[0] != "gyr":
            raise FileFormatError(
                f"{gpath}: named as a gyroscope export but its values are in {header[1]!r}, "
                "not deg/s"
            )
        g = _read_stream(gpath, header)
        gname = parse_metabase_name(gpath)
        tg, n_g = _retimed_ms(g, gname.rate_hz if gname else None, origin)
        lo, hi = max(ta[0], tg[0]), min(ta[-1], tg[-1])
        if hi > lo:
            overlapping.append((gpath, gname, g, tg, n_g, lo, hi))
    if not overlapping:
        names = ", ".join(p.name for p in gyros)
        raise FileFormatError(
            f"{path}: the gyroscope file of this session ({names}) does not overlap it in "
            "time; move that file away to read the accelerometer alone"
        )
    if len(overlapping) > 1:
        names = ", ".join(o[0].name for o in overlapping)
        raise FileFormatError(
            f"{path}: several gyroscope files of this session overlap it ({names}); "
            "keep only the one that belongs to it in this folder"
        )
    gpath, gname, g, tg, n_g, lo, hi = overlapping[0]
    keep = np.flatnonzero((ta >= lo) & (ta <= hi))
    if keep.size < 2:
        raise FileFormatError(
            f"{path}: fewer than two accelerometer samples fall within the span of "
            f"{gpath.name}; nothing to merge"
        )
    tk = ta[keep]
    gyr = np.empty((tk.size, 3))
    for i in range(3):
        gyr[:, i] = np.interp(tk, tg, g.xyz[:, i])
    meta = {
        "metabase_gyroscope_file": gpath.name,
        "metabase_gyro_retimed_samples": str(n_g),
        "metabase_trimmed_samples": str(ta.size - keep.size),
    }
    if gname is not None:
        meta["gyro_fs_nominal_hz"] = repr(gname.rate_hz)
    return tk, gyr, keep, meta
