"""Repetition counting for strength exercises, whatever the sensor's orientation.

One counter serves squats, sit-to-stands, push-ups, heel raises, lunges, band
rows, arm raises and stair climbing from a trunk (lower back, sternum), thigh
or wrist sensor at 12.5 Hz to 1 kHz, without being told how the sensor sits on
the body. docs/reps.md describes the method, the reasoning behind every
threshold, the measured accuracy and the limits; in short:

1. **Working rate.** Block means of ``k = floor(fs / 50)`` samples (the
   averaging's first null is at the working rate, so nothing aliases into the
   repetition band below 2.2 Hz); everything below runs at 12.5-52 Hz.
2. **Sets.** Movement intensity is the moving standard deviation of the
   acceleration (and angular rate) over ``activity_window_s``; samples above
   absolute thresholds are active, and active stretches less than
   ``max_pause_s`` apart are one bout (one set). Absolute thresholds need only
   local data, so the live counter finds the bouts the offline one finds.
3. **Exercise posture.** Movements into and out of the exercise posture
   (raising the arm to hold a band, leaning onto a wall) are not repetitions:
   leading and trailing postures (gravity's direction over 1 s) further than
   ``posture_tol_deg`` from every posture of the middle half of the bout are
   dropped.
4. **Two views of the movement.** *Vertical*: ``|a|`` minus its mean is the
   sensor's vertical acceleration to first order whatever its orientation
   (``|g + a| = g + a_v + |a_h|^2 / 2g + ...``); integrated twice it is the
   vertical displacement, one cycle per repetition of every exercise that
   raises and lowers a body part. *Orientation*: the three acceleration axes
   (gravity's projection follows the segment's tilt, plus the linear
   acceleration) and, when present, the angular rate.
5. **Period.** Normalised autocorrelations of both views (the vertical one of
   the velocity, which weighs the fundamental over the harmonics of movements
   with holds), high-passed below the slowest repetition. The period is the
   shortest lag at which every trusted view repeats nearly as well as at the
   best lag (``shorter_ratio``): a sit-to-stand tilts the trunk twice but
   lifts it once. The vertical view is ignored when it is below
   ``min_vertical_ratio`` of the orientation signal (what sensor bias, scale
   error and the ``|a|`` approximation make of a rotation) and only tells
   steps from strides below ``rotation_ratio`` (the repetition is then a
   rotation of the segment carrying the sensor). A vertical cycle every half
   cycle of the movement (``sub_ratio``) is steps of both legs or alternating
   lunges seen from one limb.
6. **Cycles.** The view that repeats best at the period (and least at half
   of it) is band-passed around the repetition frequency f0 (``band_low`` to
   ``band_high`` x f0, zero phase) and integrated (to displacement or angle),
   the ends held still for one period. Its first principal component is split
   into excursions beyond +/- ``hysteresis`` x its robust amplitude;
   excursions outside the active span (filter ringing) or smaller than
   ``min_excursion`` x the median (counter-movements) are dropped. The
   displacement is offset by the rest posture, so excursions alternate rest,
   away, return, ..., away, return: consecutive (away, return) pairs are the
   repetitions, and an odd number starts with the rest. With a gait hint
   (``exercise``) at a leg, every excursion of the leg's own cycle is a step.

The thresholds are physical (sensor noise and bias, the smallest vertical
movement of an exercise, tempo variation within a set) and were checked on
simulated sets across exercises, placements, rates and tempos with
``bench/validate_reps.py``; none was fit to one recording.

Published comparison (counts within +/- 1 of the truth): RecoFit (Morris et
al., CHI 2014) 93 % of sets; Soro et al. 2019 (Sensors 19:714) 91 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage, signal
from scipy.fft import next_fast_len

from ..dsp.filters import SAMPLE_RTOL, lowpass_zero_phase
from ..dsp.filters import block_mean as _block_mean
from ..dsp.filters import floor_samples as _floor_samples
from ..dsp.filters import moving_mean as _moving_mean
from ..dsp.filters import moving_sd as _moving_std
from ..dsp.filters import n_samples as _samples
from ..dsp.filters import snap_half as _snapped
from ..dsp.gaps import uniform_segments
from ..dsp.runs import true_runs as _runs
from ..errors import RecordingError
from ..recording import Recording

__all__ = [
    "GAIT_EXERCISES",
    "LIMB_PLACEMENTS",
    "LiveRepCounter",
    "Rep",
    "RepCounter",
    "RepSet",
    "decimation_factor",
]

FloatArray = NDArray[np.float64]

#: Exercise hints whose repetitions are steps of either leg.
GAIT_EXERCISES = frozenset({"stair_climb", "stairs", "walk", "walking", "step_up"})

#: Placements on one leg: in gait they see their own leg once per stride (two steps).
LIMB_PLACEMENTS = frozenset({"thigh", "shank"})

#: Working rate the input is averaged down to (at least this, below twice it), Hz.
WORK_HZ = 50.0

#: Tolerance, in samples, of comparisons between times on the sample grid: a tie
#: within it is a tie (times are sums of an offset and ``i / fs``, exact only to
#: units in the last place).
TIME_TOL_SAMPLES = 1e-3

#: Autocorrelations (and scores made of them) closer than this are equal: ties go
#: to a fixed order of the views (vertical, then orientation) or to the shorter lag.
SCORE_TOL = 1e-9


def _ratio_in(x: float, lo: float, hi: float) -> bool:
    """``lo <= x <= hi`` with ``SAMPLE_RTOL`` of slack (ratios of lags: ties are inside)."""
    return lo * (1 - SAMPLE_RTOL) <= x <= hi * (1 + SAMPLE_RTOL)


@dataclass(frozen=True)
class Rep:
    """One repetition.

    ``time_s`` is when the repetition became recognisable (its return half
    crossed the counting threshold; the live counter reports it then),
    ``start_s`` and ``end_s`` the extreme postures bounding it.
    """

    start_s: float
    end_s: float
    time_s: float
    amplitude: float  #: peak-to-peak of the counted signal (relative units, for consistency)
    vertical_m: float  #: peak-to-peak vertical displacement of the sensor, m
    tilt_deg: float  #: largest change of the sensor's inclination, deg (accelerometer)
    range_deg: float | None  #: angular range about the main rotation axis (gyroscope), deg

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "time_s": self.time_s,
            "duration_s": self.duration_s,
            "amplitude": self.amplitude,
            "vertical_m": self.vertical_m,
            "tilt_deg": self.tilt_deg,
            "range_deg": self.range_deg,
        }


def _cv(values: Sequence[float]) -> float | None:
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2 or not np.mean(v) > 0:
        return None
    return float(np.std(v) / np.mean(v))


@dataclass(frozen=True)
class RepSet:
    """A bout of repetitions (one set).

    ``signal`` names the view counted (``vertical`` or ``orientation``),
    ``periodicity`` is its autocorrelation at the period (0-1; 0 when the
    period was imposed).
    """

    start_s: float
    end_s: float
    period_s: float
    signal: str
    periodicity: float
    reps: tuple[Rep, ...]

    @property
    def count(self) -> int:
        return len(self.reps)

    def intervals_s(self) -> list[float]:
        """Time between consecutive repetitions."""
        t = [r.time_s for r in self.reps]
        return [float(x) for x in np.diff(t)] if len(t) > 1 else []

    def pauses_s(self, factor: float = 2.0) -> list[float]:
        """Intervals between repetitions longer than ``factor`` x the median interval."""
        d = self.intervals_s()
        if len(d) < 2:
            return []
        med = float(np.median(d))
        return [x for x in d if x > factor * med]

    def as_dict(self) -> dict[str, Any]:
        durations = [r.duration_s for r in self.reps]
        d = self.intervals_s()
        med = float(np.median(d)) if d else None
        steady = [x for x in d if med is not None and x <= 2.0 * med]
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "count": self.count,
            "period_s": self.period_s,
            "signal": self.signal,
            "periodicity": self.periodicity,
            "tempo_s_per_rep": med,
            "cadence_per_min": 60.0 / med if med else None,
            "mean_duration_s": float(np.mean(durations)) if durations else None,
            "pauses_s": self.pauses_s(),
            "interval_cv": _cv(steady),
            "duration_cv": _cv(durations),
            "amplitude_cv": _cv([r.amplitude for r in self.reps]),
            "vertical_cv": _cv([r.vertical_m for r in self.reps]),
            "reps": [r.as_dict() for r in self.reps],
        }


def _smoothed_moving_std(
    x: FloatArray, smooth: int, win: int, bufs: list[FloatArray]
) -> FloatArray:
    """``_moving_std(_moving_mean(x, smooth), win)``, same numbers, in two working arrays.

    The working arrays are kept in ``bufs`` and reused by the next call with the
    same shape (a day of data: fresh full-size temporaries cost more than the
    filtering itself). ``x`` is not modified.
    """
    x = np.asarray(x)
    if x.dtype != np.float64 or x.ndim != 2 or win <= 1:
        return _moving_std(_moving_mean(x, smooth), win)
    if len(bufs) != 2 or bufs[0].shape != x.shape:
        bufs[:] = [np.empty(x.shape), np.empty(x.shape)]
    a, b = bufs
    if smooth > 1:
        ndimage.uniform_filter1d(x, size=smooth, axis=0, mode="nearest", output=a)
    else:
        np.copyto(a, x)
    np.multiply(a, a, out=b)
    ndimage.uniform_filter1d(a, size=win, axis=0, mode="nearest", output=a)  # m
    ndimage.uniform_filter1d(b, size=win, axis=0, mode="nearest", output=b)  # m2
    np.multiply(a, a, out=a)
    np.subtract(b, a, out=b)
    np.maximum(b, 0.0, out=b)
    s = b.sum(axis=1)
    return np.sqrt(s, out=s)


def decimation_factor(fs_hz: float) -> int:
    """Samples averaged into one working sample (the working rate stays >= 50 Hz or = fs).

    A rate within ``SAMPLE_RTOL`` of a multiple of ``WORK_HZ`` is that multiple
    (99.99999999999999 Hz, estimated from time stamps, is averaged as 100 Hz).
    """
    return max(1, _floor_samples(fs_hz / WORK_HZ))


def _nfft(n: int, extra: int) -> int:
    """FFT length for ``n`` samples whose circular wrap must spare ``extra`` samples.

    (Autocorrelation lags up to ``extra``; a filter whose response has decayed
    within ``extra`` samples.)
    """
    return next_fast_len(n + max(extra, 1), real=True)


def _bandpass_gain(f: FloatArray, lo: float, hi: float) -> FloatArray:
    """Squared magnitude of a 4th-order Butterworth band-pass ``[lo, hi]`` Hz (analog prototype).

    Applied to a spectrum it is the zero-phase (forward-backward) band-pass.
    """
    f0sq, bw = lo * hi, hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(f > 0, (f * f - f0sq) / (np.maximum(f, 1e-12) * bw), np.inf)
    return 1.0 / (1.0 + x**4)


@dataclass(frozen=True)
class _Views:
    """One bout prepared for counting (working rate, low-passed, trimmed)."""

    lo: int  # working-rate index of the first sample, in the caller's array
    a: int  # the bout's active span [a, b), in the caller's array
    b: int
    vert: FloatArray  # (n, 1) |a| minus its mean
    orient: list[FloatArray]  # acceleration minus mean; angular rate minus mean
    acc: FloatArray  # low-passed acceleration
    gyr: FloatArray | None
    acfs: dict[str, FloatArray]
    v_ratio: float  # vertical / orientation RMS in the repetition band


class RepCounter:
    """Count repetitions in a recording of strength exercises.

    Parameters
    ----------
    lowpass_hz : low-pass before everything (default 5 Hz: repetitions and
        their first harmonics are below 2.5 Hz; capped at 0.4 x the working rate).
    min_rep_s, max_rep_s : shortest and longest repetition period (default
        0.45 s, a fast step; 10 s, a slow sit-to-stand).
    activity_window_s : window of the movement-intensity measure (default 1 s).
    active_acc_mps2 : moving SD of acceleration (after a 0.2 s moving average),
        summed in quadrature over the axes, above which a sample is active
        (default 0.1 m/s^2: the resting noise of body-worn MEMS parts, 0.01-0.05
        m/s^2 per axis, leaves at most about 0.06 m/s^2 at 12.5 Hz; the slowest
        movement counted, a heel raise seen from the trunk, reaches 0.15-0.3).
    active_gyr_dps : the same for angular rate (default 6 deg/s; resting noise
        and drift are below 1 deg/s).
    max_pause_s : rests shorter than this stay inside one set (default 8 s;
        rests between sets last 30 s or more).
    min_bout_s : shortest bout analysed (default 1.5 s).
    band_low, band_high : counting band as multiples of the repetition
        frequency (default 0.5 and 2.0: repetitions within a set vary in
        duration by tens of percent).
    hysteresis : counting threshold as a fraction of the counted signal's
        robust amplitude (default 0.3).
    min_excursion : excursions smaller than this fraction of the median
        excursion are counter-movements or filter transients (default 0.4).
    min_periodicity : a view whose autocorrelation never reaches this is
        noise (default 0.15).
    shorter_ratio : the period is the shortest lag repeating at least this
        well relative to the best lag (default 0.7).
    sub_ratio : vertical autocorrelation at half the period, relative to the
        full period, above which the vertical cycles are the repetitions
        (default 0.7).
    min_vertical_ratio, rotation_ratio : vertical/orientation signal ratios
        below which the vertical view is ignored (0.05) or used only to find
        steps (0.2); see the module docstring.
    posture_tol_deg : posture distance defining the exercise posture (default
        10 deg: larger than sway and sensor noise, smaller than the lean onto
        a wall).
    min_cycles : a period is estimated only if the bout holds this many
        (default 3).
    exercise : what is being done, if known (e.g. ``stair_climb``); only gait
        (:data:`GAIT_EXERCISES`) changes the counting, at a limb sensor.
    placement : where the sensor is, if known (``count_recording`` uses the
        recording's placement when this is None).
    use_metadata : take ``exercise`` from the recording's ``exercise``
        metadata when not given.

    Attributes
    ----------
    sets_ : list of :class:`RepSet`.
    count_ : total repetitions.
    times_s_ : when every repetition was recognised.
    """

    version = "2.1"

    def __init__(
        self,
        *,
        lowpass_hz: float = 5.0,
        min_rep_s: float = 0.45,
        max_rep_s: float = 10.0,
        activity_window_s: float = 1.0,
        active_acc_mps2: float = 0.1,
        active_gyr_dps: float = 6.0,
        max_pause_s: float = 8.0,
        min_bout_s: float = 1.5,
        band_low: float = 0.5,
        band_high: float = 2.0,
        hysteresis: float = 0.3,
        min_excursion: float = 0.4,
        min_periodicity: float = 0.15,
        shorter_ratio: float = 0.7,
        sub_ratio: float = 0.7,
        min_vertical_ratio: float = 0.05,
        rotation_ratio: float = 0.2,
        posture_tol_deg: float = 10.0,
        min_cycles: float = 3.0,
        exercise: str | None = None,
        placement: str | None = None,
        use_metadata: bool = True,
    ) -> None:
        self.lowpass_hz = lowpass_hz
        self.min_rep_s = min_rep_s
        self.max_rep_s = max_rep_s
        self.activity_window_s = activity_window_s
        self.active_acc_mps2 = active_acc_mps2
        self.active_gyr_dps = active_gyr_dps
        self.max_pause_s = max_pause_s
        self.min_bout_s = min_bout_s
        self.band_low = band_low
        self.band_high = band_high
        self.hysteresis = hysteresis
        self.min_excursion = min_excursion
        self.min_periodicity = min_periodicity
        self.shorter_ratio = shorter_ratio
        self.sub_ratio = sub_ratio
        self.min_vertical_ratio = min_vertical_ratio
        self.rotation_ratio = rotation_ratio
        self.posture_tol_deg = posture_tol_deg
        self.min_cycles = min_cycles
        self.exercise = exercise
        self.placement = placement
        self.use_metadata = use_metadata

    def get_params(self) -> dict[str, Any]:
        return {
            k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")
        }

    # -- public actions -------------------------------------------------------

    def count(
        self,
        acc_mps2: ArrayLike,
        fs_hz: float,
        *,
        gyr_dps: ArrayLike | None = None,
        t0_s: float = 0.0,
    ) -> RepCounter:
        """Count repetitions in evenly sampled (N, 3) acceleration at ``fs_hz``.

        Raises
        ------
        RecordingError
            On a wrong shape, a non-positive rate or non-finite values.
        """
        acc = self._checked(acc_mps2, "acceleration")
        gyr = None if gyr_dps is None else self._checked(gyr_dps, "angular rate")
        if gyr is not None and gyr.shape != acc.shape:
            raise RecordingError(
                f"angular rate has shape {gyr.shape}, acceleration {acc.shape}; they must match"
            )
        fs = float(fs_hz)
        if not (math.isfinite(fs) and fs > 0):
            raise RecordingError(
                f"repetition counting needs a positive sampling rate, got {fs_hz!r}"
            )
        gait = self.gait_limb(self.exercise, self.placement)
        self.sets_ = self._count_segment(acc, gyr, fs, float(t0_s), gait)
        self._finish()
        return self

    def count_recording(self, rec: Recording) -> RepCounter:
        """Count repetitions in every gap-free stretch of a recording."""
        exercise = self.exercise
        if exercise is None and self.use_metadata:
            exercise = rec.metadata.get("exercise")
        placement = self.placement if self.placement is not None else rec.placement
        gait = self.gait_limb(exercise, placement)
        sets: list[RepSet] = []
        for seg in uniform_segments(rec):
            t0 = seg.t0_s
            sets += self._count_segment(seg.acc_mps2, seg.gyr_dps, seg.fs_hz, t0, gait)
        self.sets_ = sets
        self._finish()
        return self

    def result(self) -> dict[str, Any]:
        return {
            "count": self.count_,
            "times_s": self.times_s_,
            "sets": [s.as_dict() for s in self.sets_],
            "algorithm": {"name": "RepCounter", "version": self.version, **self.get_params()},
        }

    @staticmethod
    def gait_limb(exercise: str | None, placement: str | None) -> bool:
        """Steps of both legs counted from a sensor on one leg (two per stride)."""
        return (exercise or "").lower() in GAIT_EXERCISES and (placement or "") in LIMB_PLACEMENTS

    # -- sets -------------------------------------------------------------------

    @staticmethod
    def _checked(x: ArrayLike, what: str) -> FloatArray:
        a = np.asarray(x, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != 3:
            raise RecordingError(f"repetition counting needs (N, 3) {what}, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            i = int(np.flatnonzero(~np.isfinite(a).all(axis=1))[0])
            raise RecordingError(
                f"{what} of sample {i} is not a finite number; split the data at gaps "
                "(count_recording does) instead of filling them with NaN"
            )
        return a

    def _finish(self) -> None:
        self.count_ = int(sum(s.count for s in self.sets_))
        self.times_s_ = [r.time_s for s in self.sets_ for r in s.reps]

    def activity(self, acc: FloatArray, gyr: FloatArray | None, fs: float) -> NDArray[np.bool_]:
        """Per-sample movement flag from finite windows only (the same live and offline).

        Acceleration (and angular rate) is smoothed by a 0.2 s moving average,
        then its moving standard deviation over ``activity_window_s``, summed
        over axes, is compared with the absolute thresholds.
        """
        smooth = max(_samples(0.2 * fs), 1)
        win = max(_samples(self.activity_window_s * fs), 2)
        bufs: list[FloatArray] = []
        active = _smoothed_moving_std(acc, smooth, win, bufs) > self.active_acc_mps2
        if gyr is not None:
            active |= _smoothed_moving_std(gyr, smooth, win, bufs) > self.active_gyr_dps
        return active

    def bouts_from_activity(self, active: NDArray[np.bool_], fs: float) -> list[tuple[int, int]]:
        """Active stretches merged across pauses shorter than ``max_pause_s``."""
        merged: list[list[int]] = []
        gap = _samples(self.max_pause_s * fs)
        for a, b in _runs(active):
            if merged and a - merged[-1][1] <= gap:
                merged[-1][1] = b
            else:
                merged.append([a, b])
        min_n = _samples(self.min_bout_s * fs)
        return [(a, b) for a, b in merged if b - a >= min_n]

    def margin_samples(self, fs: float) -> int:
        """Samples taken on each side of a bout when counting it."""
        return _samples(self.activity_window_s * fs)

    def _count_segment(self, acc, gyr, fs, t0, gait) -> list[RepSet]:
        k = decimation_factor(fs)
        acc_w = _block_mean(acc, k)
        gyr_w = None if gyr is None else _block_mean(gyr, k)
        fs_w = fs / k
        t0_w = t0 + (k - 1) / (2 * fs)  # time of the first block's centre
        n = acc_w.shape[0]
        if n < max(16, _floor_samples(self.min_bout_s * fs_w)):
            return []
        out = []
        for a, b in self.bouts_from_activity(self.activity(acc_w, gyr_w, fs_w), fs_w):
            rs = self.count_bout(acc_w, gyr_w, fs_w, a, b, t0_w, gait_limb=gait)
            if rs is not None:
                out.append(rs)
        return out

    # -- one bout ----------------------------------------------------------------

    def count_bout(
        self,
        acc: FloatArray,
        gyr: FloatArray | None,
        fs: float,
        a: int,
        b: int,
        t0: float,
        *,
        provisional: bool = False,
        gait_limb: bool = False,
    ) -> RepSet | None:
        """Count bout ``[a, b)`` of working-rate ``acc`` (sample ``i`` at ``t0 + i / fs``).

        ``provisional`` is the live counter's open bout, which may end anywhere:
        the exercise posture is the latest one; a period seen only twice is
        accepted (the longest such lag, unless it is a multiple of a period
        seen three times); before that the bout so far is taken as one
        repetition, kept only if its two halves are of similar size and it ends
        in the posture it started from; repetitions are paired from the first
        excursion. ``gait_limb``: steps of both legs from a sensor on one leg.
        """
        views = self._views(acc, gyr, fs, a, b, provisional=provisional)
        if views is None:
            return None
        got = self._period(views, fs, self.min_cycles, gait_limb)
        if provisional:
            # early in a set only short lags are seen three times; the longest lag
            # seen twice that repeats is the period unless it is a multiple of the
            # short one (below half the data only the period and its harmonics,
            # or the sub-movements of one repetition, repeat)
            got = self._prefer_longer(got, self._period(views, fs, 2.0, gait_limb, longest=True))
            if got is None:
                # before two cycles: the bout so far as one repetition, kept only if
                # it ends in the posture it started from (a set-up movement does not)
                period = min(max((b - a) / fs, self.min_rep_s), self.max_rep_s)
                got = (period, 0.0, self._main_view(views))
        if got is None:
            return None
        period, periodicity, name = got
        reps = self._cycles(
            views,
            name,
            fs,
            period,
            t0,
            half_cycles=gait_limb,
            strict=periodicity == 0.0,
            provisional=provisional,
        )
        t_a, t_b = t0 + a / fs, t0 + b / fs
        slack = 0.5 * period + TIME_TOL_SAMPLES / fs  # (a tie is inside)
        reps = [r for r in reps if t_a - slack <= r.time_s <= t_b + slack]
        if not reps:
            return None
        return RepSet(
            start_s=t_a,
            end_s=t_b,
            period_s=period,
            signal=name,
            periodicity=periodicity,
            reps=tuple(reps),
        )

    @staticmethod
    def _prefer_longer(
        three: tuple[float, float, str] | None, two: tuple[float, float, str] | None
    ) -> tuple[float, float, str] | None:
        """The period seen three times, or the longer one seen twice (:meth:`_period`
        results) if it is more than 1.5 times as long and not near a multiple of it."""
        if two is None or three is None:
            return three if two is None else two
        # (ratios of lags: a tie, to float error, is not longer and is near a multiple)
        ratio = two[0] / three[0]
        longer = ratio > 1.5 * (1 + SAMPLE_RTOL)
        near_multiple = abs(ratio - round(ratio)) <= 0.15 * (1 + SAMPLE_RTOL)
        return two if longer and not near_multiple else three

    def _main_view(self, views: _Views) -> str:
        """The view counted when no period tells: vertical unless the movement is
        mostly a rotation (``rotation_ratio``)."""
        return "vertical" if views.v_ratio >= self.rotation_ratio else "orientation"

    def _views(self, acc, gyr, fs, a, b, *, provisional: bool = False) -> _Views | None:
        """Low-pass, trim to the exercise posture and build both views of bout ``[a, b)``."""
        m = self.margin_samples(fs)
        lo, hi = max(a - m, 0), min(b + m, acc.shape[0])
        if hi - lo < 16:
            return None
        acc_f, gyr_f = self._lowpassed(acc, gyr, fs, lo, hi)
        s0, s1 = 0, hi - lo
        if self.posture_tol_deg:
            s0, s1 = self._exercise_span(acc_f, fs, a - lo, b - lo, latest=provisional)
        return self._make_views(acc_f, gyr_f, fs, lo, (s0, s1), (a, b))

    def _lowpassed(
        self, acc: FloatArray, gyr: FloatArray | None, fs: float, lo: int, hi: int
    ) -> tuple[FloatArray, FloatArray | None]:
        """Rows ``[lo, hi)`` of the acceleration (and angular rate), low-passed at
        ``lowpass_hz`` (at most 0.4 x the working rate ``fs``)."""
        cut = min(self.lowpass_hz, 0.4 * fs)
        acc_f = lowpass_zero_phase(acc[lo:hi], fs, cutoff_hz=cut)
        gyr_f = None if gyr is None else lowpass_zero_phase(gyr[lo:hi], fs, cutoff_hz=cut)
        return acc_f, gyr_f

    def _make_views(
        self,
        acc_f: FloatArray,
        gyr_f: FloatArray | None,
        fs: float,
        lo: int,
        keep: tuple[int, int],
        span: tuple[int, int],
    ) -> _Views | None:
        """Both views of rows ``keep = [s0, s1)`` of the low-passed data starting at ``lo``.

        ``span`` is the bout's active ``[a, b)`` in the caller's array. None if
        fewer than 16 samples are kept.
        """
        s0, s1 = keep
        if s1 - s0 < 16:
            return None
        acc_f = acc_f[s0:s1]
        gyr_f = None if gyr_f is None else gyr_f[s0:s1]
        mag = np.sqrt((acc_f**2).sum(axis=1))
        vert = (mag - mag.mean())[:, None]
        orient = [acc_f - acc_f.mean(axis=0)]
        if gyr_f is not None:
            orient.append(gyr_f - gyr_f.mean(axis=0))
        acfs, v_ratio = self._acfs(vert, orient, fs)
        return _Views(lo + s0, span[0], span[1], vert, orient, acc_f, gyr_f, acfs, v_ratio)

    def _acfs(
        self, vert: FloatArray, orient: list[FloatArray], fs: float
    ) -> tuple[dict[str, FloatArray], float]:
        """Weighted autocorrelations of both views, and the vertical / orientation
        RMS ratio in the repetition band (Parseval)."""
        n = vert.shape[0]
        nfft = _nfft(n, n // 2 + 1)  # lags up to half the bout are used
        f = np.fft.rfftfreq(nfft, 1.0 / fs)
        pv = self._power(vert, nfft)
        po = [self._power(x, nfft) for x in orient]
        acfs = {
            "vertical": self._weighted_acf(pv, f, n, 1),
            "orientation": np.mean([self._weighted_acf(p, f, n, 0) for p in po], axis=0),
        }
        band = _bandpass_gain(f, 1.0 / self.max_rep_s, 1.0 / self.min_rep_s)
        e_o = float((po[0] * band).sum())
        v_ratio = math.sqrt(float((pv * band).sum()) / e_o) if e_o > 0 else 1.0
        return acfs, v_ratio

    def _exercise_span(
        self, acc_f: FloatArray, fs: float, a: int, b: int, *, latest: bool = False
    ) -> tuple[int, int]:
        """Drop leading and trailing postures never taken in the middle of the bout.

        The posture is the direction of the acceleration averaged over 1 s, every
        0.25 s. A set often starts and ends with a movement into and out of the
        exercise posture (lifting the arm to hold a band, leaning onto a wall)
        that is not a repetition: samples before the first (after the last)
        posture within ``posture_tol_deg`` of a posture of the middle half of
        ``[a, b)`` (its last third if ``latest``: a set under way is in its
        exercise posture now) are dropped. Returns the kept ``[start, stop)``.
        """
        n = acc_f.shape[0]
        step = max(1, _samples(0.25 * fs))
        win = max(1, _samples(1.0 * fs))
        if n < 4 * win:
            return 0, n
        post = _directions(acc_f, win, step)
        mid = np.arange(0, n - win + 1, step) + win // 2
        q1, q3 = (b - (b - a) // 3, b) if latest else (a + (b - a) // 4, b - (b - a) // 4)
        core = post[(mid >= q1) & (mid <= q3)]
        if core.shape[0] == 0:
            return 0, n
        idx = np.flatnonzero(_near_any(post, core, self.posture_tol_deg))
        first, last = int(idx[0]), int(idx[-1])
        lo = 0 if first == 0 else int(mid[first])
        hi = n if last == mid.size - 1 else int(mid[last]) + 1
        return lo, hi

    @staticmethod
    def _power(x: FloatArray, nfft: int) -> FloatArray:
        spec = np.fft.rfft(x, nfft, axis=0)
        return (spec.real**2 + spec.imag**2).sum(axis=1)

    def _weighted_power(self, power: FloatArray, f: FloatArray, order: int) -> FloatArray:
        """``power`` (at frequencies ``f``, Hz) high-passed and integrated ``order`` times.

        Weighted by ``(w^2 / (w^2 + w_lo^2))^2 / (w^2 + w_lo^2)^order``,
        ``w_lo = 2 pi / max_rep_s`` (see :meth:`_weighted_acf`).
        """
        w2 = (2 * np.pi * f) ** 2
        wl2 = (2 * np.pi / self.max_rep_s) ** 2
        return power * (w2 / (w2 + wl2)) ** 2 / (w2 + wl2) ** order

    def _weighted_acf(self, power: FloatArray, f: FloatArray, n: int, order: int) -> FloatArray:
        """Normalised (biased) autocorrelation, from a power spectrum, integrated ``order`` times.

        The power spectrum is weighted by ``1 / (w^2 + w_lo^2)^order`` (leaky
        integration) and ``(w^2 / (w^2 + w_lo^2))^2`` (4th-order high-pass),
        ``w_lo = 2 pi / max_rep_s``: slower drift is not a repetition. The
        biased estimate tapers towards long lags, so a multiple of the period
        does not beat the period itself.
        """
        ac = np.fft.irfft(self._weighted_power(power, f, order))[:n]
        if not ac[0] > 0:
            return np.zeros(n)
        return ac / ac[0]

    def _peaks(
        self, ac: FloatArray, fs: float, cycles: float, strides: bool = False
    ) -> NDArray[np.intp]:
        """Autocorrelation peaks at lags from ``min_rep_s`` (twice that for ``strides``:
        two steps) to ``max_rep_s`` that the bout holds ``cycles`` times."""
        lo = max(_samples(self.min_rep_s * fs * (2 if strides else 1)), 1)
        hi = min(_samples(self.max_rep_s * fs), int(ac.size / cycles))
        if hi <= lo + 1:
            return np.zeros(0, dtype=np.intp)
        p, _ = signal.find_peaks(ac[lo : hi + 1])
        return lo + p

    @staticmethod
    def _near_lag(ac: FloatArray, lag: float, tol: float = 0.12) -> int:
        """The lag (samples) of the largest ``ac`` within +/- ``tol`` x ``lag`` of ``lag``.

        Repetition periods vary by some percent within a set; the tolerance
        covers that and the quantisation of short lags at low rates.
        """
        d = max(1, _samples(tol * lag))
        i = _samples(lag)
        lo, hi = max(i - d, 1), min(i + d + 1, ac.size)
        return lo + int(np.argmax(ac[lo:hi])) if hi > lo else -1

    @classmethod
    def _near(cls, ac: FloatArray, lag: float) -> float:
        """Largest value of ``ac`` near ``lag`` (see :meth:`_near_lag`); -1 out of range."""
        j = cls._near_lag(ac, lag)
        return float(ac[j]) if j >= 0 else -1.0

    def _period(
        self, views: _Views, fs: float, cycles: float, gait_limb: bool, *, longest: bool = False
    ) -> tuple[float, float, str] | None:
        """The repetition period (s), its periodicity and the view to count on.

        Lags are considered up to the bout's length / ``cycles``; ``longest``
        takes the longest well-supported lag instead of the shortest.
        """
        acfs = views.acfs
        strength = {}
        peaks = {}
        for k, ac in acfs.items():
            peaks[k] = self._peaks(ac, fs, cycles, strides=gait_limb)
            strength[k] = float(ac[peaks[k]].max()) if peaks[k].size else 0.0
        keep = [k for k in acfs if strength[k] >= self.min_periodicity]
        use_steps = "vertical" in keep and views.v_ratio >= self.min_vertical_ratio
        if "orientation" in keep and (views.v_ratio < self.rotation_ratio or gait_limb):
            # (steps seen from a leg: its own swing, once per stride, is counted)
            keep = [k for k in keep if k != "vertical"]
        if not keep:
            return None
        cands = np.unique(np.concatenate([peaks[k] for k in keep]))
        if cands.size == 0:
            return None

        def support(lag: float) -> float:
            # the movement repeats at a lag only if every view repeats there
            return min(self._near(acfs[k], lag) for k in keep)

        sup = np.array([support(c) for c in cands])
        top = float(sup.max())
        if not top > 0:
            return None
        # the shortest lag repeating nearly as well as the best one: a multiple of
        # the period, or a pause lining up two stretches of the set, can win by chance
        good = np.flatnonzero(sup >= self.shorter_ratio * top - SCORE_TOL)
        best = float(cands[good[-1] if longest else good[0]])
        # one vertical cycle per half cycle of the movement: steps of both legs, or
        # alternating lunges, seen from a limb (which sees its own side once per
        # cycle); not if the orientation reverses at the half cycle (then the two
        # vertical cycles are the two halves of one repetition)
        if use_steps and not gait_limb and best / 2 >= _snapped(self.min_rep_s * fs):
            acv = acfs["vertical"]
            half, full = self._near(acv, best / 2), self._near(acv, best)
            o_half = self._near(acfs["orientation"], best / 2)
            if half > 0.2 and half >= self.sub_ratio * full and o_half > -0.5:
                return self._near_lag(acv, best / 2) / fs, half, "vertical"
        # count on the view that repeats best at the period and least at its half
        # (scores within SCORE_TOL are a tie, won by the first view of ``keep``:
        # vertical, then orientation)
        score = {
            k: self._near(acfs[k], best) - max(self._near(acfs[k], best / 2), 0.0) for k in keep
        }
        top_score = max(score.values())
        name = next(k for k in keep if score[k] >= top_score - SCORE_TOL)
        return best / fs, self._near(acfs[name], best), name

    # -- cycles -----------------------------------------------------------------

    def _band_integrate(self, x: FloatArray, fs: float, period: float, order: int) -> FloatArray:
        """Band-pass around ``1 / period`` (zero phase), then integrate ``order`` times.

        In the frequency domain: the squared magnitude of a 4th-order Butterworth
        band-pass from ``band_low`` to ``band_high`` x f0 (a forward-backward
        filter), times a band-limited integrator ``-i w / (w^2 + w_l^2)`` per
        order, ``w_l`` the band's low edge (``1 / (i w)`` above it, zero at DC:
        drift is not amplified), scaled to unit gain at f0. Integration weighs
        the fundamental over the harmonics of movements with holds or two humps.
        The line joining the end samples is removed first, so the zero padding
        adds no step.
        """
        f0 = 1.0 / period
        lo = self.band_low * f0
        hi = min(self.band_high * f0, 0.45 * fs)
        n = x.shape[0]
        ramp = np.linspace(0.0, 1.0, n)[:, None]
        xd = x - (x[:1] + ramp * (x[-1:] - x[:1]))
        nfft = _nfft(n, _floor_samples(4 * period * fs))  # the band-pass rings for about a period
        f = np.fft.rfftfreq(nfft, 1.0 / fs)
        gain = _bandpass_gain(f, lo, hi).astype(np.complex128)
        if order:
            w = 2 * np.pi * f
            w0, wl = 2 * np.pi * f0, 2 * np.pi * lo
            gain *= (-1j * w / (w**2 + wl**2) * (w0**2 + wl**2) / w0) ** order
        return np.fft.irfft(np.fft.rfft(xd, nfft, axis=0) * gain[:, None], nfft, axis=0)[:n]

    def _cycles(
        self,
        views: _Views,
        name: str,
        fs: float,
        period: float,
        t0: float,
        *,
        half_cycles: bool,
        strict: bool = False,
        provisional: bool = False,
    ) -> list[Rep]:
        """Repetitions in the view ``name`` of a bout, given the period.

        ``strict`` (a period guessed, not measured) keeps only repetitions whose
        two halves are of similar size (within a factor 2) and which end in the
        posture they started from (``posture_tol_deg``, 0.5 s averages).
        """
        # hold the ends still for one period, as if the person had paused in the
        # exercise posture: a repetition ending at the edge of the data is completed
        npad = _samples(period * fs)
        pad = partial(_hold_ends, n=npad)

        got = self._counting_signal(views, name, fs, period, pad, posture_order=1)
        if got is None:
            return []
        pc, amp = got
        # movement lies within the active span; a zero-phase filter rings before
        # and after it, and the held ends (padding) are not data
        span = (views.a - views.lo + npad, views.b - views.lo + npad)
        starts, peaks, extremes = self._excursions(pc, self.hysteresis * amp, span)
        n_ex = starts.size
        if half_cycles:
            # every excursion is a step, but one already under way when the movement
            # starts is the posture of the leg at rest
            first = int(n_ex > 0 and starts[0] <= span[0] + _samples(0.25 * fs))
            pairs = [(j - 1, j) for j in range(first, n_ex)]
        else:
            # the displacement or angle is offset by the rest posture (the signal's
            # mean lies within the movement): excursions alternate rest, away,
            # return, ..., away, return. An odd number begins with the rest the set
            # started from. A set still under way (provisional) may end on either
            # kind: pairs from the first excursion, so a repetition is counted when
            # its second half begins at the latest. With a guessed period only the
            # last pair counts.
            if strict:
                first = n_ex - 1
            elif provisional:
                first = 1
            else:
                first = 1 + n_ex % 2
            pairs = [(j - 1, j) for j in range(max(first, 1), n_ex, 2)]
        if not pairs:
            return []
        vdisp: FloatArray | None = None  # computed for the first rep that needs it
        gyr = None if views.gyr is None else pad(views.gyr)
        acc = pad(views.acc)
        # provisional counts: the measures of a repetition only once it may be reported
        n_real = views.vert.shape[0] + npad
        measure_from = n_real - _samples(3 * period * fs) if provisional else 0
        t_first = t0 + (views.lo - npad) / fs
        half_period = _samples(0.5 * period * fs)
        reps: list[Rep] = []
        prev_end: int | None = None
        for j1, j2 in pairs:
            x2 = int(extremes[j2])  # the end posture
            x1 = int(extremes[j1]) if j1 >= 0 else max(x2 - half_period, 0)
            s0 = self._rep_start(x1, x2, prev_end, half_period, half_cycles)
            if strict and not half_cycles:
                p1, p2 = abs(pc[peaks[j1]]), abs(pc[peaks[j2]])
                if min(p1, p2) < 0.5 * max(p1, p2) or not _same_posture(
                    acc, s0, x2, fs, self.posture_tol_deg
                ):
                    continue
            measured = x2 >= measure_from
            if measured and vdisp is None:
                vdisp = self._displacement(pad(views.vert), fs, period)
            at, vd = (s0, x2, int(starts[j2])), vdisp if measured else None
            reps.append(_rep(t_first, fs, at, pc, acc, gyr, vd, angles=measured))
            prev_end = x2
        return reps

    def _counting_signal(
        self,
        views: _Views,
        name: str,
        fs: float,
        period: float,
        prepare: Callable[[FloatArray], FloatArray],
        *,
        posture_order: int,
    ) -> tuple[FloatArray, float] | None:
        """The signal counted in view ``name`` and its robust amplitude, or None.

        Each channel of the view (``prepare``d: the ends padded or continued) is
        band-passed around ``1 / period`` and integrated (:meth:`_band_integrate`;
        the vertical view twice, to displacement; the acceleration of the
        orientation view ``posture_order`` times, the angular rate once) and
        scaled to unit RMS; the counted signal is their first principal
        component, its amplitude the 75th percentile of its envelope. None if
        the band does not fit below 0.45 x ``fs`` or the signal is flat.
        """
        f0 = 1.0 / period
        if min(self.band_high * f0, 0.45 * fs) <= self.band_low * f0:
            return None
        if name == "vertical":
            chans, orders = [views.vert], [2]
        else:
            chans = views.orient
            orders = [posture_order] + [1] * (len(views.orient) - 1)
        parts = []
        for x, o in zip(chans, orders, strict=True):
            y = self._band_integrate(prepare(x), fs, period, o)
            s = float(np.sqrt((y**2).sum(axis=1).mean()))
            if s > 0:
                parts.append(y / s)
        if not parts:
            return None
        bp = np.column_stack(parts)
        if bp.shape[1] == 1:
            pc = bp[:, 0]
        else:
            _, vec = np.linalg.eigh(bp.T @ bp)
            pc = bp @ vec[:, -1]
        env = np.abs(signal.hilbert(pc, _nfft(pc.size, _floor_samples(period * fs)))[: pc.size])
        amp = float(np.percentile(env, 75))
        if not amp > 0:
            return None
        return pc, amp

    def _displacement(self, vert: FloatArray, fs: float, period: float) -> FloatArray:
        """Vertical displacement (m) from the (padded) vertical view, band-passed
        around ``1 / period``."""
        f0 = 1.0 / period
        vdisp = self._band_integrate(vert, fs, period, 2)[:, 0]
        vdisp /= (2 * np.pi * f0) ** 2
        return vdisp

    @staticmethod
    def _rep_start(x1: int, x2: int, prev_end: int | None, half_period: int, steps: bool) -> int:
        """Start of the repetition whose far and end postures are at ``x1`` and ``x2``.

        A step (``steps``: the legs' cycle) starts at its first turning point; a
        repetition less than 0.75 period after the previous one ended (at
        ``prev_end``) goes straight on from it; else it starts from rest, the
        away half as long as the return.
        """
        if steps:
            return x1
        if prev_end is not None and x1 - prev_end < 1.5 * half_period:
            return prev_end
        return max(2 * x1 - x2, 0)

    def _excursions(
        self, pc: FloatArray, h: float, span: tuple[int, int]
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
        """Alternating excursions of ``pc`` beyond +/- ``h``.

        Returns, per excursion, where it crosses the threshold, where it peaks
        and when it reaches its extreme posture: within its first stretch
        beyond the threshold, the first sample within 10 % of that stretch's
        largest value (a half repetition that ends in a rest stays near its
        extreme). Excursions peaking outside ``span`` (the movement: a
        zero-phase filter rings before and after it) or below
        ``min_excursion`` x the median peak (a counter-movement) are dropped;
        neighbours of equal sign merge.
        """
        empty = np.zeros(0, np.intp)
        label = np.where(pc > h, 1, np.where(pc < -h, -1, 0))
        idx = np.flatnonzero(label)
        if idx.size == 0:
            return empty, empty, empty
        lab = label[idx]
        change = np.concatenate(([True], lab[1:] != lab[:-1]))
        start, sign = idx[change], lab[change]
        ends = np.append(start[1:], pc.size)
        peak = np.empty(start.size, dtype=np.intp)
        extreme = np.empty(start.size, dtype=np.intp)
        beyond = np.abs(pc) > h
        for j, (s, e) in enumerate(zip(start, ends, strict=True)):
            peak[j] = s + int(np.argmax(np.abs(pc[s:e])))
            back = np.flatnonzero(~beyond[s:e])
            first = np.abs(pc[s : s + (int(back[0]) if back.size else e - s)])
            extreme[j] = s + int(np.argmax(first >= 0.9 * first.max()))
        inside = (peak >= span[0]) & (peak < span[1])
        if not inside.any():
            return empty, empty, empty
        start, sign, peak, extreme = start[inside], sign[inside], peak[inside], extreme[inside]
        size = np.abs(pc[peak])
        keep = size >= self.min_excursion * float(np.median(size))
        out: list[list[int]] = []
        last = 0
        for s, g, p, x in zip(start[keep], sign[keep], peak[keep], extreme[keep], strict=True):
            if g == last:
                if abs(pc[p]) > abs(pc[out[-1][1]]):
                    out[-1][1:] = [int(p), int(x)]
                continue
            out.append([int(s), int(p), int(x)])
            last = int(g)
        a = np.array(out, dtype=np.intp).reshape(-1, 3)
        return a[:, 0], a[:, 1], a[:, 2]


def _directions(acc: FloatArray, win: int, step: int = 1) -> FloatArray:
    """Unit vectors along the means of ``win`` consecutive rows of ``acc``, every ``step`` rows.

    Row ``i`` is the direction of ``acc[i * step : i * step + win]``'s mean (of
    the acceleration: gravity's direction, the posture).
    """
    c = np.cumsum(np.vstack([np.zeros((1, acc.shape[1])), acc]), axis=0)
    starts = np.arange(0, acc.shape[0] - win + 1, step)
    means = (c[starts + win] - c[starts]) / win
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)
    return means


def _near_any(post: FloatArray, ref: FloatArray, tol_deg: float) -> NDArray[np.bool_]:
    """Whether each unit vector of ``post`` is within ``tol_deg`` of one of ``ref``."""
    return (post @ ref.T).max(axis=1) >= math.cos(math.radians(tol_deg))


def _posture(acc: FloatArray, i: int, h: int) -> FloatArray:
    """Mean acceleration of rows ``i - h`` to ``i + h`` (clipped at the start)."""
    return acc[max(i - h, 0) : i + h + 1].mean(axis=0)


def _same_posture(acc: FloatArray, i: int, j: int, fs: float, tol_deg: float) -> bool:
    """Whether the acceleration directions averaged over 0.5 s around ``i`` and ``j`` agree."""
    h = max(1, _samples(0.25 * fs))
    u, v = _posture(acc, i, h), _posture(acc, j, h)
    cos = float(u @ v) / max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-12)
    return cos >= math.cos(math.radians(tol_deg))


def _rep(
    t_first: float,
    fs: float,
    at: tuple[int, int, int],
    pc: FloatArray,
    acc: FloatArray,
    gyr: FloatArray | None,
    vdisp: FloatArray | None,
    *,
    angles: bool,
) -> Rep:
    """The repetition from sample ``at[0]`` to ``at[1]``, recognised at ``at[2]``.

    Samples of the (padded) view, sample 0 at ``t_first``. Its vertical range
    is measured on ``vdisp`` (NaN if None), its tilt and rotation ranges only if
    ``angles`` (else NaN).
    """
    s0, x2, recognised = at
    seg = slice(s0, x2 + 1)
    tilt = _tilt_range_deg(acc[seg]) if angles else math.nan
    rot = None if gyr is None else (_rotation_range_deg(gyr[seg], fs) if angles else math.nan)
    return Rep(
        start_s=t_first + s0 / fs,
        end_s=t_first + x2 / fs,
        time_s=t_first + recognised / fs,
        amplitude=float(np.ptp(pc[seg])),
        vertical_m=math.nan if vdisp is None else float(np.ptp(vdisp[seg])),
        tilt_deg=tilt,
        range_deg=rot,
    )


def _hold_ends(x: FloatArray, n: int) -> FloatArray:
    """``x`` with its first and last rows repeated ``n`` times before and after."""
    return np.pad(x, ((n, n), (0, 0)), mode="edge")


def _tilt_range_deg(acc: FloatArray) -> float:
    """Largest angle between the acceleration direction at the start and during a rep."""
    if acc.shape[0] < 2:
        return 0.0
    u = acc / np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-9)
    c = np.clip(u @ u[0], -1.0, 1.0)
    return float(np.degrees(np.arccos(c.min())))


def _rotation_range_deg(gyr: FloatArray, fs: float) -> float:
    """Range of the integrated angular rate about its main axis (the rep's rotation), deg."""
    if gyr.shape[0] < 2:
        return 0.0
    ang = np.cumsum(gyr - gyr.mean(axis=0), axis=0) / fs
    ang -= ang.mean(axis=0)
    _, vec = np.linalg.eigh(ang.T @ ang)
    return float(np.ptp(ang @ vec[:, -1]))


@dataclass(frozen=True)
class _OpenCount:
    """The open bout counted by one live update (see :meth:`LiveRepCounter._open_count`)."""

    reps: list[Rep]
    period_s: float | None
    guessed: bool = False  # the bout so far taken as one repetition
    duration_s: float | None = None  # of the repetition found that way
    setup_at: int | None = None  # stream index where the exercise posture starts
    rest_dir: FloatArray | None = None  # gravity's direction at rest (orientation view)
    away_up: bool | None = None  # the repetitions go up from the rest (vertical view)


class LiveRepCounter:
    """Incremental repetition counting for a live stream, agreeing with :class:`RepCounter`.

    Samples arrive in chunks at a fixed rate and are averaged to the working
    rate as they come (blocks aligned with the stream's first sample, as the
    offline counter aligns them with the recording's). Every ``update_s`` the
    activity is recomputed; a bout followed by a pause of ``max_pause_s`` (or
    ended by :meth:`close`) is final and counted by the offline code on exactly
    the same samples, so the final total equals the offline count of the same
    stream (missing repetitions are reported then; an excess already reported
    is counted in ``corrections_``).

    The open bout (its last ``window_s``) is counted as it goes, and a
    repetition is reported once its *return* is complete -- it reached the far
    turning point and came back -- not when its second half begins:

    1. **Counting signal.** As offline (docs/reps.md, steps 3-6): the vertical
       displacement, or the posture (the acceleration's direction, not
       integrated) with the integrated angular rate -- both in phase with the
       movement, so their turning points are the movement's. The open bout is
       held still before its start and, once a period is known, continued by
       its last period after the data's end (the person goes on), so the
       repetition that ended just now is not distorted by a stop the data do
       not show. A set-up movement (the arm raised to hold a band, the lean
       onto a wall: the person left the posture they stood in and never came
       back) is trimmed where the posture first comes within ``sway_deg`` of
       one of the bout's last third, and the trim is kept once a repetition
       was reported.
    2. **Period.** None is believed before a first repetition is recognised:
       the bout so far is taken as one repetition (band-passed around the
       inverse of its duration) and a repetition is accepted only if it fills
       that time, is not more than twice as long as the movement's strongest
       period (its spectral peak), and is a movement away and back: its end posture is within
       ``return_frac`` of the range of its far posture, or, when the posture
       hardly changes (below ``posture_tol_deg``), its two halves are of
       similar size (within a factor 2), it ends no farther from the starting
       posture than its far point, and it lifts the sensor by ``min_lift_m``
       (sway and fidgeting are not repetitions). A period is also believed
       early if seen three times (twice with a periodicity of
       ``early_periodicity``) within the movement, in every view and within a
       factor 2 of the movement's strongest period (steps on stairs, which
       never return). The first repetition's duration (twice the time from
       its far turning point to its end) is then the period expected: later
       periods (from the autocorrelation, seen three times or twice) are
       believed within ``tempo_range`` of it and when every view repeats at
       them (a sit-to-stand tilts the trunk twice per repetition but is upside
       down in height half a period later; steps sway the trunk once per
       stride); one seen three times within 20-25 % of it becomes the period
       expected (tempo drifts within a set; a wider step could walk to a
       harmonic); otherwise the expected period is used.
    3. **Which side is the rest.** The turning points alternate rest
       (returns) and far postures. Posture signal: the returns are the turning
       points nearer gravity's direction at rest (by at least ``sway_deg``).
       Vertical signal: the zero-phase band-pass shows the rest before the
       first movement on the returns' side, so the pc's sign where the
       acceleration first leaves its resting spread (8 times it and 20 % of the
       largest departure) is the returns'. Both are learnt before the first
       repetition is reported and kept for the bout (after the counting
       window moved past the start they cannot be seen again). Steps (the
       ``exercise`` hint is a gait exercise, or a vertical cycle every step
       with the trunk or arm swaying once per stride) never return: each cycle
       is counted from the first excursion on.
    4. **Reporting.** A repetition is ready once its return's extreme posture
       is ``confirm_s`` old, and reported if the previous update saw it too
       (ready or not), or if the offline counter, run on the open bout as if it
       ended now, finds the period expected (within ``tempo_range``). The
       reported count never exceeds that offline count once the offline
       counter sees a period three times (if the set ended now, the final count
       would be that), and never goes down while the bout is open.
    5. **Pauses.** When the person has been still for half the activity
       window (the activity flags of real data only), the open bout is counted
       by the offline counter as if it were over, and if its period is the one
       expected, the repetitions missing are reported then.

    Parameters
    ----------
    fs_hz : the stream's sampling rate (required).
    counter : the offline counter whose parameters (and exercise/placement
        hints) are used.
    update_s : how often the open bout is re-counted (default 0.25 s; with
        0.1 s chunks an update every 0.3 s).
    confirm_s : a repetition is ready once its return's extreme posture is this
        old (default 0.2 s: the band-passed signal of a held end keeps rising
        for a moment; a shorter wait reports transients of the data's end).
    window_s : the open bout is counted over at most its last ``window_s``
        (default 60 s; keeps the cost bounded in long sets).
    t0_s : time of the first sample.
    sway_deg : change of gravity's direction (0.5 s means) that postural sway,
        sensor noise and the acceleration of slow movements do not reach
        (default 3 deg; they stay within 1-2 deg). Smaller posture
        differences tell nothing about which turning points are the rest.
    return_frac : a first repetition ends within this fraction of its range
        from the starting posture (default 0.3, the counting threshold
        ``hysteresis`` of the offline counter).
    early_periodicity : before a repetition is recognised, a period seen only
        twice is believed from this autocorrelation (default 0.5; the offline
        counter's ``min_periodicity``, 0.15, applies to periods seen three
        times).
    tempo_range : periods believed after the first repetition, as multiples
        of the period expected (default 0.6-1.7: tempo varies by tens of
        percent within a set, a harmonic is half or twice).
    min_lift_m : a first repetition that changes the posture by less than
        ``posture_tol_deg`` must move the sensor up and down by at least this
        (default 0.03 m; the smallest exercise, a heel raise, lifts the body
        5-10 cm; postural sway and fidgeting move the trunk by millimetres).

    Attributes
    ----------
    count_ : repetitions so far (final bouts plus reported provisional reps).
    sets_ : closed bouts as :class:`RepSet`.
    corrections_ : repetitions reported provisionally that the final count
        did not confirm (taken back).
    """

    version = "2.2"

    def __init__(
        self,
        fs_hz: float,
        *,
        counter: RepCounter | None = None,
        update_s: float = 0.25,
        confirm_s: float = 0.2,
        window_s: float = 60.0,
        t0_s: float = 0.0,
        sway_deg: float = 3.0,
        return_frac: float = 0.3,
        early_periodicity: float = 0.5,
        tempo_range: tuple[float, float] = (0.6, 1.7),
        min_lift_m: float = 0.03,
    ) -> None:
        fs = float(fs_hz)
        if not (math.isfinite(fs) and fs > 0):
            raise RecordingError(f"live repetition counting needs a positive rate, got {fs_hz!r}")
        self.fs_hz = fs
        self.counter = counter or RepCounter()
        self.update_s = update_s
        self.confirm_s = confirm_s
        self.window_s = window_s
        self.t0_s = t0_s
        self.sway_deg = sway_deg
        self.return_frac = return_frac
        self.early_periodicity = early_periodicity
        self.tempo_range = tempo_range
        self.min_lift_m = min_lift_m
        self._k = decimation_factor(fs)
        self._fs_w = fs / self._k
        self._gait = RepCounter.gait_limb(self.counter.exercise, self.counter.placement)
        self._steps_hint = (self.counter.exercise or "").lower() in GAIT_EXERCISES
        self._pend_acc = np.zeros((0, 3))
        self._pend_gyr: FloatArray | None = None
        self._acc: list[FloatArray] = []
        self._gyr: list[FloatArray] | None = None
        self._base = 0  # working-rate index (from the stream start) of the buffer's first sample
        self._n = 0
        self._since_update = 0
        self._open_reset()
        self._started = False
        self.sets_: list[RepSet] = []
        self.corrections_ = 0

    @property
    def count_(self) -> int:
        return sum(s.count for s in self.sets_) + self._open_reported

    def _open_reset(self) -> None:
        self._open_reported = 0  # reps of the open bout reported
        self._settled = 0  # reps of the open bout before the counting window
        self._cut: float | None = None  # time from which reps are still in the window
        self._prev: list[float] = []  # rep times of the previous update (in the window)
        self._prev_totals = [0, 0]  # reps (ready or not) seen by the last two updates
        self._expected: float | None = None  # period expected from the first repetition, s
        self._setup_at: int | None = None  # stream index where the exercise posture starts
        self._rest_dir: FloatArray | None = None  # gravity's direction at rest
        self._away_up: bool | None = None  # vertical view: the repetitions go up
        self._guess_s: float | None = None  # guessed period that found the first repetition
        self._still: tuple[int, int] | None = None  # (a, b) of the bout counted as ended
        self._learnt = False  # a repetition of the open bout was reported
        self._last_end: float | None = None  # end of the last repetition reported, s

    def _buffer(self) -> tuple[FloatArray, FloatArray | None]:
        if len(self._acc) > 1:
            self._acc = [np.concatenate(self._acc)]
            if self._gyr is not None:
                self._gyr = [np.concatenate(self._gyr)]
        acc = self._acc[0] if self._acc else np.zeros((0, 3))
        gyr = self._gyr[0] if self._gyr else None
        return acc, gyr

    def push(self, acc_mps2: ArrayLike, gyr_dps: ArrayLike | None = None) -> list[Rep]:
        """Add evenly sampled samples; returns the repetitions newly reported.

        Raises
        ------
        RecordingError
            If the gyroscope appears after the first samples, or the shapes differ.
        """
        a = RepCounter._checked(
            np.asarray(acc_mps2, dtype=np.float64).reshape(-1, 3), "acceleration"
        )
        if gyr_dps is not None:
            g = RepCounter._checked(
                np.asarray(gyr_dps, dtype=np.float64).reshape(-1, 3), "angular rate"
            )
            if g.shape != a.shape:
                raise RecordingError("angular rate and acceleration chunks differ in length")
            if self._pend_gyr is None:
                if self._started:
                    raise RecordingError("gyroscope data must be present from the first sample")
                self._pend_gyr = np.zeros((0, 3))
                self._gyr = []
            self._pend_gyr = np.concatenate([self._pend_gyr, g])
        elif self._pend_gyr is not None:
            raise RecordingError("gyroscope data stopped arriving; start a new counter")
        self._started = True
        self._pend_acc = np.concatenate([self._pend_acc, a])
        k = self._k
        m = self._pend_acc.shape[0] // k
        if m:
            self._acc.append(_block_mean(self._pend_acc[: m * k], k))
            self._pend_acc = self._pend_acc[m * k :]
            if self._pend_gyr is not None and self._gyr is not None:
                self._gyr.append(_block_mean(self._pend_gyr[: m * k], k))
                self._pend_gyr = self._pend_gyr[m * k :]
            self._n += m
            self._since_update += m
        if self._since_update < self.update_s * self._fs_w:
            return []
        self._since_update = 0
        return self._update(final=False)

    def close(self) -> list[Rep]:
        """End of stream: finalise the open bout; returns the repetitions newly reported."""
        return self._update(final=True)

    def _update(self, *, final: bool) -> list[Rep]:
        c, fs = self.counter, self._fs_w
        acc, gyr = self._buffer()
        n = acc.shape[0]
        if n < 16:
            return []
        bouts = c.bouts_from_activity(c.activity(acc, gyr, fs), fs)
        gap = _samples(c.max_pause_s * fs)
        half = c.margin_samples(fs)
        new: list[Rep] = []
        t0 = self.t0_s + (self._k - 1) / (2 * self.fs_hz) + self._base / fs
        trim_to = None
        for a, b in bouts:
            if not (final or n - b > gap + half):
                new += self._provisional(acc, gyr, fs, a, b, n, t0)
                break
            rs = c.count_bout(acc, gyr, fs, a, b, t0, gait_limb=self._gait)
            final_reps = list(rs.reps) if rs else []
            if len(final_reps) > self._open_reported:
                new += final_reps[self._open_reported :]
            elif len(final_reps) < self._open_reported:
                self.corrections_ += self._open_reported - len(final_reps)
            self._open_reset()
            if rs is not None:
                self.sets_.append(rs)
            trim_to = b + gap // 2
        if trim_to is not None and not final:
            self._trim(min(trim_to, n))
        elif not bouts and not final:
            keep = gap + 2 * half
            if n > 2 * keep:
                self._trim(n - keep)
        return new

    # -- the open bout -------------------------------------------------------------

    def _provisional(self, acc, gyr, fs, a, b, n, t0) -> list[Rep]:
        """Repetitions of the open bout ``[a, n)`` (active until ``b``) newly reported.

        The open bout is counted over its last ``window_s``; repetitions that
        leave the window (more than a period behind its start, where the cut no
        longer affects them) are kept as settled.
        """
        c = self.counter
        if b <= n - _samples((c.activity_window_s / 2 + 0.1) * fs):
            return self._paused(acc, gyr, fs, a, b, t0)
        a_w = max(a, n - _samples(self.window_s * fs))
        got = self._open_count(acc, gyr, fs, a, a_w, n, t0)
        reps = got.reps
        eps = TIME_TOL_SAMPLES / fs  # (ties of times on the sample grid)
        if a_w > a:
            cut = t0 + a_w / fs + (got.period_s or 0.0) - eps  # (a tie is in the window)
            lo = self._cut if self._cut is not None else -math.inf
            self._settled += sum(1 for t in self._prev if lo <= t < cut)
            self._cut = cut
            reps = [r for r in reps if r.time_s >= cut]
        self._prev = [r.time_s for r in reps]
        now = t0 + n / fs
        ready = [r for r in reps if r.end_s <= now - self.confirm_s + eps]
        total = self._settled + len(ready)
        # a repetition also seen by the previous update (ready or not) is no transient
        agreed = min(total, max(self._prev_totals))
        self._prev_totals = [self._prev_totals[1], self._settled + len(reps)]
        if total > self._open_reported:
            # never more than the offline counter would count if the set ended now
            # (once it sees a period three times); where its period is the one
            # expected, its count also confirms the repetitions
            rs = c.count_bout(acc, gyr, fs, a_w, n, t0, gait_limb=self._gait)
            if rs is not None:
                cut = self._cut
                cap = self._settled + sum(1 for r in rs.reps if cut is None or r.time_s >= cut)
                if self._expected is not None and self._in_tempo(rs.period_s, self._expected):
                    agreed = total
                agreed = min(agreed, max(cap, self._open_reported))
        k = agreed - self._open_reported
        if k <= 0:
            return []
        self._open_reported = agreed
        self._last_end = ready[-1].end_s if ready else self._last_end
        if self._away_up is None and got.away_up is not None:
            self._away_up = got.away_up
        if self._rest_dir is None and got.rest_dir is not None:
            self._rest_dir = got.rest_dir
        if not self._learnt:
            # the first repetition: what was learnt with it is kept for the bout
            self._learnt = True
            self._setup_at = got.setup_at
            if not got.guessed:
                self._expected = got.period_s
            elif self._gait:
                self._expected = 2 * (got.duration_s or got.period_s)  # a stride: two steps
            elif not self._steps_hint:
                # (the first step's two halves are the rest and the step: no period)
                self._expected = got.duration_s or got.period_s
        elif self._expected is None and not got.guessed:
            self._expected = got.period_s
        return ready[len(ready) - k :] if k <= len(ready) else ready

    def _paused(self, acc, gyr, fs, a, b, t0) -> list[Rep]:
        """The person is still: count the open bout ``[a, b)`` as if it were over.

        Done once per pause; the repetitions missing are reported if the
        offline counter's period is the one expected.
        """
        key = (a + self._base, b + self._base)
        if self._still == key or self._expected is None:
            return []
        self._still = key
        rs = self.counter.count_bout(acc, gyr, fs, a, b, t0, gait_limb=self._gait)
        if rs is None or not self._in_tempo(rs.period_s, self._expected):
            return []
        k = rs.count - self._open_reported
        if k <= 0:
            return []
        self._open_reported = rs.count
        self._last_end = rs.reps[-1].end_s
        return list(rs.reps[-k:])

    def _in_tempo(self, period_s: float, expected_s: float) -> bool:
        lo, hi = self.tempo_range
        return _ratio_in(period_s / expected_s, lo, hi)

    def _open_count(self, acc, gyr, fs, a, a_w, n, t0) -> _OpenCount:
        """Repetitions of the open bout (window ``[a_w, n)``, bout from ``a``)."""
        c = self.counter
        got = self._open_views(acc, gyr, fs, a, a_w, n)
        if got is None:
            return _OpenCount([], None)
        views, setup_at = got
        at_rest = a_w == a  # the view starts in the rest before the set (or its set-up)
        trimmed = views.lo > max(a_w - c.margin_samples(fs), 0)  # after a set-up movement
        name = c._main_view(views)
        three = c._period(views, fs, c.min_cycles, self._gait)
        two = c._period(views, fs, 2.0, self._gait, longest=True)
        learnt = {"setup_at": setup_at}
        if self._expected is None:
            chosen = self._early_period(views, fs, (n - a) / fs, name, three, two)
            if chosen is None and self._learnt:
                return _OpenCount([], None, **learnt)  # steps: wait for their period
            if chosen is None:
                # the bout so far as one repetition
                moving_s = (n - max(a, views.lo)) / fs  # since the exercise posture was reached
                period = min(max(moving_s, c.min_rep_s), c.max_rep_s)
                if self._guess_s is not None:
                    period = self._guess_s  # look again with the period that found one
                reps, durs, found = self._cycles(
                    views, name, fs, period, t0, at_rest=at_rest, trimmed=trimmed, first=True
                )
                t_move = t0 + max(a, views.lo) / fs
                eps = TIME_TOL_SAMPLES / fs
                keep = [i for i, r in enumerate(reps) if durs[i] >= 0.6 * (r.end_s - t_move) - eps]
                if keep:
                    # main frequency x duration: cycles of the movement in the repetition
                    cycles = self._main_hz(views, name, fs) * durs[keep[-1]]
                    if cycles > 2.0 * (1 + SAMPLE_RTOL):
                        keep = []  # the movement is mostly faster: several cycles, not one
                self._guess_s = period if keep and self._guess_s is None else None
                return _OpenCount(
                    [reps[i] for i in keep],
                    period,
                    guessed=True,
                    duration_s=durs[keep[-1]] if keep else None,
                    **learnt,
                    **found,
                )
        else:
            chosen = None
            for cand in (three, two):
                if (
                    cand is not None
                    and self._in_tempo(cand[0], self._expected)
                    and self._supported(views, cand[0], fs)
                ):
                    chosen = cand
                    if cand is three and _ratio_in(cand[0] / self._expected, 0.8, 1.25):
                        self._expected = cand[0]  # tempo drifts within a set
                    break
            if chosen is None:
                chosen = (self._expected, math.nan, name)
        period, _, name = chosen
        reps, _, found = self._cycles(views, name, fs, period, t0, at_rest=at_rest, trimmed=trimmed)
        return _OpenCount(reps, period, **learnt, **found)

    def _early_period(self, views, fs, active_s, name, three, two):
        """A period believed before any repetition was recognised, or None.

        It must repeat within the movement (three times, or twice with
        ``early_periodicity``), in every view, and be the movement's own rhythm
        (within a factor 2 of its strongest period: not a sub-movement of one
        repetition). The longer lag seen twice wins unless it is a multiple of
        the one seen three times.
        """
        c = self.counter
        f_main = self._main_hz(views, name, fs)

        def believed(cand, cycles, min_per):
            return (
                cand is not None
                and cand[1] >= min_per
                and active_s >= cycles * cand[0] - TIME_TOL_SAMPLES / fs
                and self._supported(views, cand[0], fs)
                and _ratio_in(cand[0] * f_main, 0.5, 2.0)
            )

        three = three if believed(three, c.min_cycles, c.min_periodicity) else None
        two = two if believed(two, 2.0, self.early_periodicity) else None
        return c._prefer_longer(three, two)

    def _supported(self, views: _Views, period_s: float, fs: float) -> bool:
        """Whether every usable view repeats at ``period_s`` (autocorrelation >= min_periodicity).

        With the vertical view in use, the orientation may repeat at twice the
        period instead (steps: the trunk or arm sways once per stride).
        """
        c = self.counter
        lag = period_s * fs
        vertical = views.v_ratio >= c.min_vertical_ratio
        support = c._near(views.acfs["orientation"], lag)
        if vertical:
            support = max(support, c._near(views.acfs["orientation"], 2 * lag))
            support = min(support, c._near(views.acfs["vertical"], lag))
        return support >= c.min_periodicity

    def _main_hz(self, views: _Views, name: str, fs: float) -> float:
        """The movement's strongest frequency, Hz (0 if none).

        Peak of the spectrum the period is searched in (:meth:`RepCounter._weighted_acf`:
        vertical velocity or posture, high-passed at ``1 / max_rep_s``) between
        ``1 / max_rep_s`` and ``1 / min_rep_s``.
        """
        c = self.counter
        x = views.vert if name == "vertical" else views.orient[0]
        nfft = _nfft(x.shape[0], 0)
        f = np.fft.rfftfreq(nfft, 1.0 / fs)
        p = c._weighted_power(c._power(x, nfft), f, int(name == "vertical"))
        band = np.flatnonzero(
            (f >= (1 - SAMPLE_RTOL) / c.max_rep_s) & (f <= (1 + SAMPLE_RTOL) / c.min_rep_s)
        )
        if band.size == 0 or not p[band].max() > 0:
            return 0.0
        return float(f[band[int(np.argmax(p[band]))]])

    def _open_views(self, acc, gyr, fs, a, a_w, n) -> tuple[_Views, int | None] | None:
        """Low-pass, trim a set-up movement and build both views of ``[a_w, n)``.

        Returns the views and, if the set-up was looked for, the stream index
        where the exercise posture starts.
        """
        c = self.counter
        lo = max(a_w - c.margin_samples(fs), 0)
        if n - lo < 16:
            return None
        acc_f, gyr_f = c._lowpassed(acc, gyr, fs, lo, n)
        s0 = 0
        setup_at = None
        if self._setup_at is not None:
            s0 = max(0, self._setup_at - self._base - lo)
        elif a_w == a and c.posture_tol_deg:
            s0 = self._setup_end(acc_f, fs, a - lo, n - lo)
            setup_at = self._base + lo + s0
        views = c._make_views(acc_f, gyr_f, fs, lo, (s0, n - lo), (a, n))
        return None if views is None else (views, setup_at)

    def _setup_end(self, acc_f: FloatArray, fs: float, a: int, b: int) -> int:
        """Where the exercise posture starts if the set began with a set-up movement, else 0.

        The person left the posture they stood in before the set and has not
        come back to it since (0.25 s means, ``posture_tol_deg``): what came
        before the first posture within ``sway_deg`` of one of the last third
        of the bout is a movement into the exercise posture. A set whose
        repetitions return to the starting posture is not trimmed.
        """
        c = self.counter
        if acc_f.shape[0] < 4 * max(1, _samples(fs)):
            return 0
        q = max(1, _samples(0.25 * fs))
        post = _directions(acc_f, q)
        near0 = _near_any(post, post[:1], c.posture_tol_deg)
        left = np.flatnonzero(~near0)
        if left.size == 0 or near0[left[0] :].any():
            return 0
        # where the set-up ends: the first posture within sway of one of the last third
        # of the bout (within the tolerance it may still be moving into it)
        core = post[max(b - (b - a) // 3 - q, 0) :]
        idx = np.flatnonzero(_near_any(post, core, self.sway_deg))
        return int(idx[0]) + q // 2 if idx.size else 0

    def _steps(self, views: _Views, fs: float, period_s: float, name: str) -> bool:
        """Steps (stairs, walking): every cycle goes on from the last; none returns.

        Told by the ``exercise`` hint, or seen as a vertical cycle every step
        while the trunk or arm sways once per stride (its autocorrelation
        higher, by 0.2, at two periods than at one).
        """
        if self._steps_hint:
            return True
        if name != "vertical":
            return False
        ao = views.acfs["orientation"]
        c = self.counter
        return c._near(ao, 2 * period_s * fs) >= c._near(ao, period_s * fs) + 0.2

    def _cycles(
        self,
        views: _Views,
        name: str,
        fs: float,
        period: float,
        t0: float,
        *,
        at_rest: bool,
        trimmed: bool = False,
        first: bool = False,
    ) -> tuple[list[Rep], list[float], dict[str, Any]]:
        """Repetitions in the view ``name`` of the open bout, given the period.

        As :meth:`RepCounter._cycles`, but the posture is not integrated (its
        turning points are the movement's), an excursion counts once its
        extreme posture is in the data (a held end), and repetitions are
        (away, return) pairs with the rest's side found by :meth:`_away_sign`.
        ``first``: the bout so far as one repetition (see the class docstring).
        Returns the repetitions, their durations (twice the time from the far
        turning point to the end) and what was learnt of the rest.
        """
        c = self.counter
        found: dict[str, Any] = {}
        npad = _samples(period * fs)
        pad = partial(_hold_ends, n=npad)

        def extend(x: FloatArray) -> FloatArray:
            # before: held still (the rest before the set); after: the last period
            # repeated (the person goes on), so the repetition that ended just now
            # is not distorted by a stop the data do not show
            if first or x.shape[0] <= npad + 1:
                return pad(x)
            nxt = x[-npad:] + (x[-1] - x[-npad - 1])
            return np.concatenate([np.repeat(x[:1], npad, axis=0), x, nxt])

        got = c._counting_signal(views, name, fs, period, extend, posture_order=0)
        if got is None:
            return [], [], found
        pc, amp = got
        n_real = views.vert.shape[0]
        span = (max(views.a - views.lo, 0) + npad, pc.size)
        starts, peaks, extremes = c._excursions(pc, c.hysteresis * amp, span)
        reached = extremes < n_real + npad
        starts, peaks, extremes = starts[reached], peaks[reached], extremes[reached]
        n_ex = starts.size
        if n_ex < 2:
            return [], [], found
        acc = pad(views.acc)
        steps = not self._gait and (
            self._steps_hint if first else self._steps(views, fs, period, name)
        )
        if self._gait:
            # every excursion of the leg's cycle is a step (as offline)
            j0 = int(starts[0] <= span[0] + _samples(0.25 * fs))
            pairs = [(j - 1, j) for j in range(max(j0, 1), n_ex)]
        elif steps:
            pairs = [(j - 1, j) for j in range(1, n_ex, 2)]
        else:
            away = self._away_sign(
                views, name, pc, acc, extremes, fs, npad, at_rest, trimmed, found
            )
            if away is None and self._last_end is not None:
                # (not learnt for this signal) the last repetition reported ended at a
                # return: the turning point nearest its end, if near, is one
                t_ex = t0 + (views.lo - npad + extremes) / fs
                j = int(np.argmin(np.abs(t_ex - self._last_end)))
                if abs(t_ex[j] - self._last_end) <= 0.25 * period + TIME_TOL_SAMPLES / fs:
                    away = -float(np.sign(pc[extremes[j]]))
            if away is None:
                return [], [], found
            sg = np.sign(pc[peaks])
            pairs = [(j, j + 1) for j in range(n_ex - 1) if sg[j] == away]
        h = max(1, _samples(0.25 * fs))
        p0 = acc[npad : npad + 2 * h].mean(axis=0)  # the posture the view starts in
        gyr = None if views.gyr is None else pad(views.gyr)
        vdisp: FloatArray | None = None
        measure_from = n_real + npad - _samples(3 * period * fs)
        t_first = t0 + (views.lo - npad) / fs
        half_period = _samples(0.5 * period * fs)
        reps: list[Rep] = []
        durs: list[float] = []
        prev_end: int | None = None
        for j1, j2 in pairs:
            x1, x2 = int(extremes[j1]), int(extremes[j2])
            s0 = c._rep_start(x1, x2, prev_end, half_period, self._gait)
            if first and not self._gait:
                p1, p2 = abs(pc[peaks[j1]]), abs(pc[peaks[j2]])
                similar = min(p1, p2) >= 0.5 * max(p1, p2)
                th1 = _angle_deg(_posture(acc, x1, h), p0)
                # the posture nearest the start during the return half
                th2 = _min_angle_deg(
                    acc[int(starts[j2]) : min(int(peaks[j2]) + h, n_real + npad)], p0, fs
                )
                if steps:
                    # (the first half is the rest before the climb: the band-pass makes
                    # it smaller than a step; the lift below is the check)
                    ok = True
                elif th1 >= c.posture_tol_deg:
                    ok = th2 <= max(self.return_frac * th1, self.sway_deg)
                else:
                    ok = similar and th2 <= max(th1, self.sway_deg)
                if not ok:
                    continue
            if not self._learnt and not self._gait:
                # before the first report: a movement, not sway or fidgeting (it turns
                # the segment by the posture tolerance or lifts it clearly)
                th1 = _angle_deg(_posture(acc, x1, h), p0)
                if th1 < c.posture_tol_deg:
                    if vdisp is None:
                        vdisp = c._displacement(pad(views.vert), fs, period)
                    if float(np.ptp(vdisp[s0 : x2 + 1])) < self.min_lift_m:
                        continue
            measured = x2 >= measure_from
            if measured and vdisp is None:
                vdisp = c._displacement(pad(views.vert), fs, period)
            at, vd = (s0, x2, int(starts[j2])), vdisp if measured else None
            reps.append(_rep(t_first, fs, at, pc, acc, gyr, vd, angles=True))
            durs.append(2 * (x2 - x1) / fs)
            prev_end = x2
        return reps, durs, found

    def _away_sign(
        self, views, name, pc, acc, extremes, fs, npad, at_rest, trimmed, found
    ) -> float | None:
        """The sign of the pc's excursions away from the rest (None if unknown).

        Posture signal: the turning points nearer gravity's direction at rest
        (by ``sway_deg``, medians of alternate turning points) are the returns.
        Vertical signal (the pc is the displacement, up positive): whether the
        repetitions go up is learnt at the start of the set, from the pc where
        the movement starts (see :meth:`_onset_sign`). What is learnt goes into
        ``found`` and is kept once a repetition was reported.
        """
        vertical = name == "vertical"
        if vertical and self._away_up is not None:
            return 1.0 if self._away_up else -1.0
        # the vertical signal: from the onset, if the view starts in the rest before the
        # set (after a set-up movement the view starts where it ended, maybe moving)
        sign = None
        if vertical and at_rest and not trimmed:
            sign = self._onset_sign(views, pc, fs, npad)
        if sign is None:
            h = max(1, _samples(0.25 * fs))
            rest = self._rest_dir
            if rest is None:
                rest = acc[npad : npad + 2 * h].mean(axis=0)
                found["rest_dir"] = rest / max(float(np.linalg.norm(rest)), 1e-12)
            ang = np.array([_angle_deg(_posture(acc, x, h), rest) for x in extremes])
            even, odd = float(np.median(ang[0::2])), float(np.median(ang[1::2]))
            if abs(even - odd) >= self.sway_deg:
                sign = float(np.sign(pc[extremes[0 if even > odd else 1]]))
            elif at_rest:
                sign = self._onset_sign(views, pc, fs, npad)
        if vertical and sign is not None:
            found["away_up"] = sign > 0
        return sign

    @staticmethod
    def _onset_sign(views: _Views, pc: FloatArray, fs: float, npad: int) -> float | None:
        """Sign of the excursions away from the rest: opposite to the pc where the movement starts.

        The zero-phase band-pass shows the rest before the first movement on
        the side of the returns. The movement starts at the first sample whose
        acceleration (or angular rate) departs from its mean over the view's
        first 0.5 s (at rest) by 8 times its spread there (at least 0.02 m/s^2,
        1 deg/s: quantisation) and by 20 % of its largest departure.
        """
        k0 = max(4, _samples(0.5 * fs))
        dev = []
        for x, floor in [(views.acc, 0.02)] + ([(views.gyr, 1.0)] if views.gyr is not None else []):
            r = x[:k0]
            d = np.linalg.norm(x - r.mean(axis=0), axis=1)
            sd = max(float(np.sqrt(((r - r.mean(axis=0)) ** 2).sum(axis=1).mean())), floor)
            dev.append(d / sd)
        d = np.max(dev, axis=0)
        i = int(np.argmax(d >= max(8.0, 0.2 * float(d.max()))))
        v = float(pc[i + npad])
        return -1.0 if v > 0 else (1.0 if v < 0 else None)

    def _trim(self, k: int) -> None:
        acc, gyr = self._buffer()
        self._acc = [acc[k:]]
        if gyr is not None and self._gyr is not None:
            self._gyr = [gyr[k:]]
        self._base += k
        self._n -= k


def _angle_deg(u: FloatArray, v: FloatArray) -> float:
    """Angle between two vectors, degrees."""
    c = float(u @ v) / max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-12)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def _min_angle_deg(acc: FloatArray, v: FloatArray, fs: float) -> float:
    """Smallest angle (deg) between ``v`` and the 0.2 s means of the rows of ``acc``."""
    m = max(1, _samples(0.2 * fs))
    if acc.shape[0] <= m:
        return _angle_deg(acc.mean(axis=0), v) if acc.shape[0] else 180.0
    u = _directions(acc, m)
    c = np.clip(u @ (v / max(float(np.linalg.norm(v)), 1e-12)), -1.0, 1.0)
    return float(np.degrees(np.arccos(c.max())))
