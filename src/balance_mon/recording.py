"""The Recording model: one sensor's samples, their timing, and a quality report.

A :class:`Recording` holds strictly increasing sample times in seconds, the
specific force in m/s^2 in the sensor frame (a sensor at rest reads about
9.81 m/s^2 on the axis pointing up), optionally the angular rate in deg/s, the
nominal sampling rate, the sensor's placement, how its axes map onto the body
and free-form metadata. It validates itself on construction, so every
Recording in the program is well formed; whether it is *fit for a purpose*
(gaps, clipping, wrong units, long enough) is what :func:`quality_report` says.

Rate estimation (:func:`estimate_rate`) works over the whole recording: BLE
streams arrive with timing jitter and dropped packets, so the rate is the total
time spanned by gap-free stretches divided by the number of sample intervals in
them. Jitter cancels in that sum; gaps are excluded; drift is the estimate's
departure from the nominal rate in parts per million.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .consts import BODY_AXES, GRAVITY_MPS2, PLACEMENTS, SENSOR_AXES
from .errors import RecordingError, TooShortError

__all__ = [
    "AxisMap",
    "Gap",
    "QualityProblem",
    "QualityReport",
    "RateEstimate",
    "Recording",
    "detect_clipping",
    "estimate_rate",
    "quality_report",
]

FloatArray = NDArray[np.float64]

#: Fewest samples any recording may hold (two are needed to know a rate).
MIN_SAMPLES = 2

#: Plausible sampling rates of a body-worn accelerometer, Hz. Outside them the
#: time column is almost surely not in seconds (milliseconds give 1000 x too slow).
PLAUSIBLE_FS_HZ = (1.0, 20_000.0)

#: Largest acceleration any body-worn sensor measures (high-g parts reach 400 g);
#: beyond it a value is damage or a unit error, m/s^2.
MAX_PLAUSIBLE_ACC_MPS2 = 1000.0 * GRAVITY_MPS2

#: Largest plausible angular rate (gyroscope ranges reach 4000-5000 deg/s), deg/s.
MAX_PLAUSIBLE_GYR_DPS = 20_000.0

#: Estimated and nominal rates further apart than this fraction mean the declared
#: fs_hz (or the time unit) is wrong, not that a clock drifts.
MAX_RATE_MISMATCH = 0.25

#: Largest sample time, s, from whatever origin (about 317 years; Unix time in
#: seconds is 1.7e9). Larger values are milliseconds or nanoseconds, or damage.
MAX_ABS_TIME_S = 1e10


# ---------------------------------------------------------------------------
# Axis mapping
# ---------------------------------------------------------------------------

_AXES_TOKEN = re.compile(r"^\s*([xyz])\s*=\s*(-?)\s*(v|ml|ap)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class AxisMap:
    """How the sensor's x, y, z axes map onto the body's v (up), ml and ap axes.

    ``body[i]`` is the body axis of sensor axis ``i`` and ``sign[i]`` is +1 or -1.
    Parsed from and written as the ``axes`` metadata value, e.g. ``x=-v y=ml z=ap``.
    """

    body: tuple[str, str, str]
    sign: tuple[int, int, int]

    def __post_init__(self) -> None:
        if sorted(self.body) != sorted(BODY_AXES):
            raise RecordingError(
                f"axis mapping must name each of v, ml and ap exactly once, got {self.body}"
            )
        if any(s not in (1, -1) for s in self.sign):
            raise RecordingError(f"axis signs must be +1 or -1, got {self.sign}")

    @classmethod
    def parse(cls, text: str) -> AxisMap:
        """Parse ``"x=v y=ml z=ap"`` (tokens separated by spaces or commas)."""
        tokens = [t for t in re.split(r"[,\s]+(?=[xyzXYZ]\s*=)", text.strip()) if t]
        found: dict[str, tuple[str, int]] = {}
        for tok in tokens:
            m = _AXES_TOKEN.match(tok)
            if not m:
                raise RecordingError(
                    f"cannot read axis mapping {text!r}: expected e.g. 'x=v y=ml z=ap' "
                    "(each of x, y, z mapped to v, ml or ap, optionally negated)"
                )
            axis, neg, body = m.group(1).lower(), m.group(2), m.group(3).lower()
            if axis in found:
                raise RecordingError(f"axis mapping {text!r} names sensor axis {axis} twice")
            found[axis] = (body, -1 if neg else 1)
        if set(found) != set(SENSOR_AXES):
            raise RecordingError(f"axis mapping {text!r} must map all three sensor axes x, y and z")
        body = tuple(found[a][0] for a in SENSOR_AXES)
        sign = tuple(found[a][1] for a in SENSOR_AXES)
        return cls(body=body, sign=sign)  # type: ignore[arg-type]

    def format(self) -> str:
        """The ``axes`` metadata text of this mapping."""
        return " ".join(
            f"{a}={'-' if s < 0 else ''}{b}"
            for a, b, s in zip(SENSOR_AXES, self.body, self.sign, strict=True)
        )

    def to_body(self, xyz: ArrayLike) -> FloatArray:
        """Columns of ``xyz`` (N, 3) re-ordered and signed into (v, ml, ap)."""
        arr = np.asarray(xyz, dtype=np.float64)
        out = np.empty_like(arr)
        for i, (b, s) in enumerate(zip(self.body, self.sign, strict=True)):
            out[:, BODY_AXES.index(b)] = s * arr[:, i]
        return out


# ---------------------------------------------------------------------------
# Rate estimation and gaps
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """A stretch of missing samples: starts after the sample at ``start_s``."""

    index: int  #: index of the last sample before the gap
    start_s: float  #: time of the last sample before the gap
    duration_s: float  #: time between the samples either side of the gap
    missing_samples: int  #: samples that should have been there

    def as_dict(self) -> dict[str, float | int]:
        return {
            "index": self.index,
            "start_s": self.start_s,
            "duration_s": self.duration_s,
            "missing_samples": self.missing_samples,
        }


@dataclass(frozen=True)
class RateEstimate:
    """Sampling rate estimated over a whole recording.

    Attributes
    ----------
    fs_hz : estimated rate (1 / mean sample interval over gap-free stretches).
    dt_s : the corresponding sample interval.
    jitter_s : robust spread (1.4826 x MAD) of the sample intervals.
    drift_ppm : (fs_hz / nominal - 1) x 1e6, or None without a nominal rate.
    gaps : every interval longer than the gap threshold.
    """

    fs_hz: float
    dt_s: float
    jitter_s: float
    drift_ppm: float | None
    gaps: tuple[Gap, ...]

    @property
    def dropped_samples(self) -> int:
        return int(sum(g.missing_samples for g in self.gaps))


def estimate_rate(
    time_s: ArrayLike,
    *,
    nominal_hz: float | None = None,
    gap_factor: float = 1.5,
    jitter_factor: float = 6.0,
) -> RateEstimate:
    """Estimate the sampling rate of strictly increasing ``time_s`` and find its gaps.

    An interval counts as a gap when it exceeds both ``gap_factor`` sample
    intervals and the median interval plus ``jitter_factor`` robust standard
    deviations of the intervals (so a jittery BLE stream does not show false
    gaps, while a single dropped sample of a clean stream does show).
    The rate is then refined as (sum of gap-free intervals) / (their number),
    which is the least-biased whole-recording estimate under jitter.

    Parameters
    ----------
    time_s : sample times in seconds, strictly increasing, at least two.
    nominal_hz : the rate the device was set to, if known (for drift).
    gap_factor : minimum gap length in sample intervals (default 1.5: one
        dropped sample makes an interval of 2).
    jitter_factor : robust standard deviations of jitter tolerated before an
        interval counts as a gap.
    """
    t = np.asarray(time_s, dtype=np.float64)
    if t.ndim != 1 or t.size < MIN_SAMPLES:
        raise TooShortError("at least two samples are needed to estimate a sampling rate")
    with np.errstate(over="ignore"):  # absurd times give infinite intervals, not warnings
        d = np.diff(t)
    if not np.all(d > 0):
        raise RecordingError("sample times must be strictly increasing")
    dt_med = float(np.median(d))
    mad = float(np.median(np.abs(d - dt_med))) * 1.4826
    threshold = max(gap_factor * dt_med, dt_med + jitter_factor * mad)
    is_gap = d > threshold
    inside = d[~is_gap]
    dt = float(inside.mean()) if inside.size else dt_med
    gap_idx = np.flatnonzero(is_gap)
    gaps = tuple(
        Gap(
            index=int(i),
            start_s=float(t[i]),
            duration_s=float(d[i]),
            missing_samples=max(int(round(min(float(d[i]) / dt, 2.0**62))) - 1, 1),
        )
        for i in gap_idx
    )
    fs = 1.0 / dt
    drift = None if not nominal_hz else (fs / float(nominal_hz) - 1.0) * 1e6
    return RateEstimate(fs_hz=fs, dt_s=dt, jitter_s=mad, drift_ppm=drift, gaps=gaps)


# ---------------------------------------------------------------------------
# The Recording
# ---------------------------------------------------------------------------


def _readonly(a: NDArray[Any]) -> NDArray[Any]:
    v = a.view()
    v.flags.writeable = False
    return v


def _first_bad_time(t: FloatArray) -> int | None:
    d = np.diff(t)
    bad = np.flatnonzero(~(d > 0))
    return int(bad[0]) + 1 if bad.size else None


@dataclass(frozen=True, eq=False)
class Recording:
    """One sensor's samples.

    Parameters
    ----------
    time_s : (N,) sample times in seconds, strictly increasing, any origin.
    acc_mps2 : (N, 3) specific force along the sensor's x, y, z axes, m/s^2.
    gyr_dps : (N, 3) angular rate about x, y, z in deg/s, or None.
    fs_nominal_hz : the rate the device was configured for, if known.
    placement : one of :data:`balance_mon.consts.PLACEMENTS`.
    axes : sensor-to-body axis mapping, if known.
    metadata : other key/value text (device, subject, test, condition, ...).
    source : where the recording came from (file path), for messages.

    Raises
    ------
    RecordingError
        On wrong shapes, non-finite values, or time that does not strictly
        increase (the message names the first offending sample).
    TooShortError
        With fewer than two samples.
    """

    time_s: FloatArray
    acc_mps2: FloatArray
    gyr_dps: FloatArray | None = None
    fs_nominal_hz: float | None = None
    placement: str = "other"
    axes: AxisMap | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None

    def __post_init__(self) -> None:
        where = f"{self.source}: " if self.source else ""
        t = np.asarray(self.time_s, dtype=np.float64)
        acc = np.asarray(self.acc_mps2, dtype=np.float64)
        if t.ndim != 1:
            raise RecordingError(f"{where}time must be one-dimensional")
        if t.size < MIN_SAMPLES:
            raise TooShortError(
                f"{where}only {t.size} sample{'s' if t.size != 1 else ''}; "
                "a recording needs at least two"
            )
        if acc.shape != (t.size, 3):
            raise RecordingError(
                f"{where}acceleration must have shape ({t.size}, 3), got {acc.shape}"
            )
        if not np.all(np.isfinite(t)):
            i = int(np.flatnonzero(~np.isfinite(t))[0])
            raise RecordingError(f"{where}time of sample {i} is not a finite number")
        if np.abs(t).max() > MAX_ABS_TIME_S:
            i = int(np.argmax(np.abs(t) > MAX_ABS_TIME_S))
            raise RecordingError(
                f"{where}time of sample {i} ({float(t[i])!r} s) is out of range (more "
                "than 1e10 s, about 300 years, from zero); time_s must be in seconds"
            )
        if not np.all(np.isfinite(acc)):
            i = int(np.flatnonzero(~np.isfinite(acc).all(axis=1))[0])
            raise RecordingError(
                f"{where}acceleration of sample {i} (t={t[i]:.6g} s) is not a finite number"
            )
        bad = _first_bad_time(t)
        if bad is not None:
            what = "repeats" if t[bad] == t[bad - 1] else "goes backwards"
            raise RecordingError(
                f"{where}time {what} at sample {bad} ({float(t[bad])!r} s after "
                f"{float(t[bad - 1])!r} s); times must strictly increase"
            )
        gyr = None
        if self.gyr_dps is not None:
            gyr = np.asarray(self.gyr_dps, dtype=np.float64)
            if gyr.shape != (t.size, 3):
                raise RecordingError(
                    f"{where}gyroscope must have shape ({t.size}, 3), got {gyr.shape}"
                )
            if not np.all(np.isfinite(gyr)):
                i = int(np.flatnonzero(~np.isfinite(gyr).all(axis=1))[0])
                raise RecordingError(
                    f"{where}angular rate of sample {i} (t={t[i]:.6g} s) is not a finite number"
                )
            gyr = _readonly(gyr)
        if self.fs_nominal_hz is not None:
            fs = float(self.fs_nominal_hz)
            if not (math.isfinite(fs) and fs > 0):
                raise RecordingError(f"{where}nominal rate must be a positive number, got {fs}")
            object.__setattr__(self, "fs_nominal_hz", fs)
        if self.placement not in PLACEMENTS:
            raise RecordingError(
                f"{where}unknown placement {self.placement!r}; use one of {', '.join(PLACEMENTS)}"
            )
        object.__setattr__(self, "time_s", _readonly(t))
        object.__setattr__(self, "acc_mps2", _readonly(acc))
        object.__setattr__(self, "gyr_dps", gyr)
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    # -- derived properties -------------------------------------------------

    @property
    def n_samples(self) -> int:
        return int(self.time_s.size)

    @property
    def duration_s(self) -> float:
        """Time from the first to the last sample plus one sample interval."""
        return float(self.time_s[-1] - self.time_s[0]) + self.rate.dt_s

    @property
    def has_gyro(self) -> bool:
        return self.gyr_dps is not None

    @cached_property
    def rate(self) -> RateEstimate:
        """Rate estimated from the sample times, gaps, jitter and drift."""
        return estimate_rate(self.time_s, nominal_hz=self.fs_nominal_hz)

    @property
    def fs_est_hz(self) -> float:
        return self.rate.fs_hz

    @property
    def fs_hz(self) -> float:
        """The nominal rate when declared, else the estimated one."""
        return self.fs_nominal_hz if self.fs_nominal_hz is not None else self.fs_est_hz

    # -- derived recordings ---------------------------------------------------

    def slice_time(self, start_s: float, end_s: float) -> Recording:
        """Samples with ``start_s <= t < end_s`` (half-open), as a new Recording."""
        i0, i1 = np.searchsorted(self.time_s, [start_s, end_s], side="left")
        return self.slice_index(int(i0), int(i1))

    def slice_index(self, start: int, stop: int) -> Recording:
        """Samples ``start:stop`` as a new Recording (arrays are shared, read-only)."""
        return Recording(
            time_s=self.time_s[start:stop],
            acc_mps2=self.acc_mps2[start:stop],
            gyr_dps=None if self.gyr_dps is None else self.gyr_dps[start:stop],
            fs_nominal_hz=self.fs_nominal_hz,
            placement=self.placement,
            axes=self.axes,
            metadata=dict(self.metadata),
            source=self.source,
        )

    def replace(self, **changes: Any) -> Recording:
        """A copy with some fields changed (validated again)."""
        fields = {
            "time_s": self.time_s,
            "acc_mps2": self.acc_mps2,
            "gyr_dps": self.gyr_dps,
            "fs_nominal_hz": self.fs_nominal_hz,
            "placement": self.placement,
            "axes": self.axes,
            "metadata": dict(self.metadata),
            "source": self.source,
        }
        fields.update(changes)
        return Recording(**fields)

    def acc_body_mps2(self) -> FloatArray | None:
        """Acceleration as (v, ml, ap) columns when the axis mapping is known."""
        return None if self.axes is None else self.axes.to_body(self.acc_mps2)

    def __repr__(self) -> str:
        return (
            f"Recording(n={self.n_samples}, fs_hz={self.fs_hz:.4g}, "
            f"duration_s={self.duration_s:.4g}, placement={self.placement!r}, "
            f"gyro={self.has_gyro}, source={self.source!r})"
        )


# ---------------------------------------------------------------------------
# Quality report
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityProblem:
    """One finding of the quality report.

    ``code`` is stable (for programs), ``message`` is for people; ``fatal``
    problems make any analysis of the recording meaningless (wrong units,
    too short), the others make it doubtful (``valid`` false) or are merely
    noted (``severity`` "warning").
    """

    code: str
    message: str
    severity: str = "invalid"  # "fatal" | "invalid" | "warning"

    @property
    def fatal(self) -> bool:
        return self.severity == "fatal"


@dataclass(frozen=True)
class QualityReport:
    """What :func:`quality_report` found; ``as_dict`` is the ``quality`` JSON block."""

    n_samples: int
    duration_s: float
    fs_nominal_hz: float | None
    fs_est_hz: float
    drift_ppm: float | None
    jitter_ms: float
    gaps: tuple[Gap, ...]
    dropped_samples: int
    clipped_samples: int
    median_magnitude_mps2: float
    units_guess: str
    problems: tuple[QualityProblem, ...]

    @property
    def valid(self) -> bool:
        return not any(p.severity in ("fatal", "invalid") for p in self.problems)

    @property
    def fatal(self) -> tuple[QualityProblem, ...]:
        return tuple(p for p in self.problems if p.fatal)

    @property
    def reasons(self) -> list[str]:
        return [p.message for p in self.problems if p.severity != "warning"]

    @property
    def warnings(self) -> list[str]:
        return [p.message for p in self.problems if p.severity == "warning"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "reasons": self.reasons,
            "gaps": len(self.gaps),
            "dropped_samples": self.dropped_samples,
            "clipped_samples": self.clipped_samples,
            "warnings": self.warnings,
            "codes": [p.code for p in self.problems],
            "n_samples": self.n_samples,
            "duration_s": self.duration_s,
            "fs_nominal_hz": self.fs_nominal_hz,
            "fs_est_hz": self.fs_est_hz,
            "drift_ppm": self.drift_ppm,
            "jitter_ms": self.jitter_ms,
            "longest_gap_s": max((g.duration_s for g in self.gaps), default=0.0),
            "gap_list": [g.as_dict() for g in self.gaps[:100]],
            "median_magnitude_mps2": self.median_magnitude_mps2,
            "units_guess": self.units_guess,
        }


#: Full-scale ranges of common MEMS accelerometers, in g.
FULL_SCALES_G = (2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 100.0, 200.0, 400.0)


def detect_clipping(
    acc_mps2: ArrayLike,
    *,
    min_level_mps2: float = 1.5 * GRAVITY_MPS2,
    min_run: int = 3,
    min_run_at_full_scale: int = 2,
    full_scale_tolerance: float = 0.03,
) -> int:
    """Count samples stuck at an axis's extreme value (sensor saturation).

    A saturated accelerometer repeats its full-scale reading: per axis and per
    sign, the samples equal to that axis's extreme are counted when the extreme
    is at least ``min_level_mps2`` in magnitude (no body-worn sensor's range is
    below 2 g; a quiet signal's repeated maximum is not clipping) and the value
    is held for ``min_run`` consecutive samples, or for ``min_run_at_full_scale``
    when it lies within ``full_scale_tolerance`` of a common full-scale range
    (:data:`FULL_SCALES_G`). Two equal samples at a smooth peak of a quantised
    signal are common; three at an arbitrary level, or two at a full scale, are not.
    """
    acc = np.asarray(acc_mps2, dtype=np.float64)
    scales = np.asarray(FULL_SCALES_G) * GRAVITY_MPS2
    at = None  # one mask reused for every axis and sign (a day of data is 8.6 M samples)
    runs: list[tuple[int, int]] = []
    for col in acc.T:
        for extreme in (col.max(), col.min()):
            level = abs(float(extreme))
            if level < min_level_mps2:
                continue
            at_scale = bool(np.any(np.abs(level / scales - 1.0) <= full_scale_tolerance))
            need = min_run_at_full_scale if at_scale else min_run
            if at is None:
                at = np.empty(acc.shape[0], dtype=bool)
            idx = np.flatnonzero(np.equal(col, extreme, out=at))
            if idx.size < need:
                continue
            # runs of consecutive samples at the extreme
            cut = np.flatnonzero(np.diff(idx) != 1) + 1
            starts = idx[np.concatenate(([0], cut))]
            ends = idx[np.concatenate((cut - 1, [idx.size - 1]))] + 1
            keep = ends - starts >= need
            runs += zip(starts[keep].tolist(), ends[keep].tolist(), strict=True)
    # samples in any run (a sample clipped on two axes counts once)
    total, reach = 0, 0
    for s, e in sorted(runs):
        if e > reach:
            total += e - max(s, reach)
            reach = e
    return total


def _impossible_values(rec: Recording) -> list[QualityProblem]:
    """Values no body-worn sensor can produce (damaged files, unit mix-ups)."""
    found = []
    for what, arr, limit, unit in (
        ("acceleration", rec.acc_mps2, MAX_PLAUSIBLE_ACC_MPS2, "m/s^2"),
        ("angular rate", rec.gyr_dps, MAX_PLAUSIBLE_GYR_DPS, "deg/s"),
    ):
        if arr is None:
            continue
        peak = np.abs(arr).max(axis=1)
        if peak.max() > limit:
            i = int(np.argmax(peak > limit))
            found.append(
                QualityProblem(
                    "impossible_value",
                    f"{what} of {float(peak[i]):.4g} {unit} at sample {i} "
                    f"(t={float(rec.time_s[i]):.6g} s) is beyond what any body-worn sensor "
                    f"measures (limit {limit:.6g} {unit}); the file is damaged or in other units",
                    "fatal",
                )
            )
    return found


def _guess_units(median_mag: float) -> str:
    """Which unit a body-worn accelerometer's median magnitude suggests."""
    g = GRAVITY_MPS2
    if 0.6 * g <= median_mag <= 1.6 * g:
        return "m/s^2"
    if 0.6 <= median_mag <= 1.6:
        return "g"
    if 600.0 <= median_mag <= 1600.0:
        return "mG"
    if 0.6 * g * g <= median_mag <= 1.6 * g * g:
        return "m/s^2 read as g"
    if median_mag < 0.6:
        return "no gravity"
    return "unknown"


def quality_report(
    rec: Recording,
    *,
    min_duration_s: float | None = None,
    purpose: str | None = None,
    max_gap_s: float = 0.5,
    max_dropped_fraction: float = 0.02,
) -> QualityReport:
    """Check a recording for what would make its analysis wrong.

    Findings (``code``, severity):

    - ``units_g`` / ``units_mg`` / ``units_scaled_twice`` / ``no_gravity`` /
      ``units_unknown`` (fatal): the median acceleration magnitude of a body-worn
      sensor is about 9.81 m/s^2 whatever it does (walking and exercise move it
      by tens of percent, not by a factor of ten); outside 0.6-1.6 g the unit is
      named from the magnitude: about 1 means g, about 1000 means mG.
    - ``impossible_value`` (fatal): acceleration beyond
      :data:`MAX_PLAUSIBLE_ACC_MPS2` (1000 g) or angular rate beyond
      :data:`MAX_PLAUSIBLE_GYR_DPS`; no sensor measures that.
    - ``time_units`` (fatal): estimated rate outside :data:`PLAUSIBLE_FS_HZ`
      (time in milliseconds makes a 100 Hz recording look like 0.1 Hz).
    - ``rate_mismatch`` (fatal): estimated rate more than
      :data:`MAX_RATE_MISMATCH` (25 %) off the declared ``fs_hz``; analyses
      use the declared rate, so one of the two is wrong.
    - ``too_short`` (fatal): shorter than ``min_duration_s`` for ``purpose``.
    - ``gap`` (invalid if any gap is longer than ``max_gap_s`` or more than
      ``max_dropped_fraction`` of samples are missing, else a warning).
    - ``clipped`` (invalid): samples stuck at the sensor's full scale.
    - ``drift`` (warning): estimated rate more than 2 % (and at most 25 %) off the
      nominal one.
    """
    rate = rec.rate
    with np.errstate(over="ignore"):  # huge values are reported below, not warned about
        mag = np.sqrt(np.einsum("ij,ij->i", rec.acc_mps2, rec.acc_mps2))
    median_mag = float(np.median(mag))
    units = _guess_units(median_mag)
    problems: list[QualityProblem] = []

    unit_msgs = {
        "g": (
            "units_g",
            f"acceleration looks like it is in g, not m/s^2 (median magnitude "
            f"{median_mag:.3g}, expected about 9.81); name the columns acc_x_g, "
            "acc_y_g, acc_z_g or convert the values to m/s^2",
        ),
        "mG": (
            "units_mg",
            f"acceleration looks like it is in milli-g, not m/s^2 (median magnitude "
            f"{median_mag:.4g}, expected about 9.81); divide by 1000 and name the "
            "columns acc_x_g ... or convert to m/s^2",
        ),
        "m/s^2 read as g": (
            "units_scaled_twice",
            f"acceleration looks already in m/s^2 but was declared in g (median magnitude "
            f"{median_mag:.4g} m/s^2 after conversion); name the columns acc_x_mps2 ...",
        ),
        "no gravity": (
            "no_gravity",
            f"acceleration has no gravity component (median magnitude {median_mag:.3g} "
            "m/s^2); raw accelerometer data are needed, not gravity-removed "
            "'linear acceleration'",
        ),
        "unknown": (
            "units_unknown",
            f"acceleration values are implausible for a body-worn sensor (median "
            f"magnitude {median_mag:.4g} m/s^2, expected about 9.81); check the units",
        ),
    }
    if units in unit_msgs:
        code, msg = unit_msgs[units]
        problems.append(QualityProblem(code, msg, "fatal"))

    problems.extend(_impossible_values(rec))

    lo_hz, hi_hz = PLAUSIBLE_FS_HZ
    if not lo_hz <= rate.fs_hz <= hi_hz:
        guess = "milliseconds" if rate.fs_hz < lo_hz else "another unit"
        problems.append(
            QualityProblem(
                "time_units",
                f"samples are {rate.dt_s:.4g} s apart ({rate.fs_hz:.4g} Hz), implausible "
                f"for a body-worn accelerometer; time_s must be in seconds (is it in {guess}?)",
                "fatal",
            )
        )

    if min_duration_s is not None and rec.duration_s < min_duration_s:
        what = f" for {purpose}" if purpose else ""
        problems.append(
            QualityProblem(
                "too_short",
                f"recording is too short{what}: {rec.duration_s:.3g} s, "
                f"at least {min_duration_s:.3g} s needed",
                "fatal",
            )
        )

    if rate.gaps:
        longest = max(g.duration_s for g in rate.gaps)
        dropped = rate.dropped_samples
        expected = rec.n_samples + dropped
        serious = longest > max_gap_s or dropped > max_dropped_fraction * expected
        first = max(rate.gaps, key=lambda g: g.duration_s)
        problems.append(
            QualityProblem(
                "gap",
                f"{len(rate.gaps)} gap{'s' if len(rate.gaps) > 1 else ''} in the data, "
                f"{dropped} sample{'s' if dropped != 1 else ''} missing; longest "
                f"{longest:.3g} s after t={first.start_s:.4g} s",
                "invalid" if serious else "warning",
            )
        )

    clipped = detect_clipping(rec.acc_mps2)
    if clipped:
        peak = float(np.abs(rec.acc_mps2).max())
        problems.append(
            QualityProblem(
                "clipped",
                f"{clipped} sample{'s' if clipped != 1 else ''} clipped at the sensor's "
                f"range (about {peak:.4g} m/s^2); peaks there are not measured, use a "
                "larger range",
                "invalid",
            )
        )

    if rate.drift_ppm is not None and abs(rate.drift_ppm) > MAX_RATE_MISMATCH * 1e6:
        problems.append(
            QualityProblem(
                "rate_mismatch",
                f"fs_hz says {rec.fs_nominal_hz:.4g} Hz but the sample times say "
                f"{rate.fs_hz:.4g} Hz; correct fs_hz or the time_s column",
                "fatal",
            )
        )
    elif rate.drift_ppm is not None and abs(rate.drift_ppm) > 20_000:
        problems.append(
            QualityProblem(
                "drift",
                f"sampling rate estimated at {rate.fs_hz:.4g} Hz, "
                f"{rate.drift_ppm / 1e4:+.1f} % off the nominal {rec.fs_nominal_hz:.4g} Hz",
                "warning",
            )
        )

    return QualityReport(
        n_samples=rec.n_samples,
        duration_s=rec.duration_s,
        fs_nominal_hz=rec.fs_nominal_hz,
        fs_est_hz=rate.fs_hz,
        drift_ppm=rate.drift_ppm,
        jitter_ms=rate.jitter_s * 1e3,
        gaps=rate.gaps,
        dropped_samples=rate.dropped_samples,
        clipped_samples=clipped,
        median_magnitude_mps2=median_mag,
        units_guess=units,
        problems=tuple(problems),
    )
