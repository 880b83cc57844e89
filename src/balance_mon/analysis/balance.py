"""Balance loss, stance segmentation and the STEADI four-stage balance test.

Three pieces, each usable alone (docs/balance.md has the reasoning behind
every threshold):

:class:`BalanceLossDetector`
    Finds the moment a stance is lost (a protective step, a grab, a large
    correction) in one stance trial of a trunk accelerometer. A loss shows as
    (1) a burst of jerk and acceleration well above the trial's own quiet sway
    and (2) a trunk tilt excursion (clinical.md section 2: "a step or grab
    shows as a burst of acceleration and jerk"). Both are judged against a
    robust baseline from the trial's first seconds (median + k x robust SD)
    with absolute floors, so that the normal sway of a very quiet person never
    counts as a loss. The onset is then traced back from the burst to the
    last moment the acceleration was still inside the quiet range.

:class:`StanceSegmenter`
    Splits a recording into quiet standing periods and movements (stepping
    into a new stance). Foot lifts and foot contacts move the trunk
    *vertically*, which quiet standing in any stance hardly does (an inverted
    pendulum sways horizontally), so movements are found on the vertical
    acceleration; their edges are then refined on the 3-D acceleration
    against the adjacent quiet level.

:class:`FourStageAnalyzer`
    The STEADI four-stage balance test (CDC STEADI; clinical.md section 2):
    feet together, semi-tandem, tandem, single leg, 10 s each, stopping at the
    first failure. Per stance: start, end, hold time, whether 10 s were held,
    the time of a loss of balance and the sway measures of the held part
    (:class:`~balance_mon.analysis.sway.SwayAnalyzer`). Not holding tandem
    stance for 10 s flags an increased fall risk.

Every signal used is invariant to the sensor's orientation (norms of 3-D
vectors, angles to the trial's own gravity direction), so nothing here needs
the ``axes`` metadata.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..dsp.filters import highpass_zero_phase, lowpass_zero_phase
from ..dsp.gaps import resample_uniform
from ..dsp.runs import true_runs as _runs
from ..errors import RecordingError, TooShortError
from ..recording import Recording
from .sway import SWAY_KEYS, SwayAnalyzer

__all__ = [
    "FOUR_STAGE_STANCES",
    "BalanceLossDetector",
    "FourStageAnalyzer",
    "QuietPeriod",
    "StanceSegmenter",
    "parse_times",
]

FloatArray = NDArray[np.float64]

#: STEADI stances in test order ("feet_together" is STEADI's "side by side").
FOUR_STAGE_STANCES = ("feet_together", "semi_tandem", "tandem", "single_leg")

#: Optional recording metadata read by :class:`FourStageAnalyzer`.
META_STARTS = "stance_starts_s"
META_ENDS = "stance_ends_s"


def _moving_rms(x: ArrayLike, n: int) -> FloatArray:
    """Centred moving RMS over ``n`` samples (shorter windows at the edges)."""
    a = np.asarray(x, dtype=np.float64)
    n = max(int(n), 1)
    c = np.concatenate(([0.0], np.cumsum(a * a)))
    i = np.arange(a.size)
    lo = np.clip(i - n // 2, 0, a.size)
    hi = np.clip(i - n // 2 + n, 0, a.size)
    return np.sqrt(np.maximum((c[hi] - c[lo]) / np.maximum(hi - lo, 1), 0.0))


def _robust(x: ArrayLike) -> tuple[float, float]:
    """Median and robust standard deviation (1.4826 x median absolute deviation)."""
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return math.nan, math.nan
    med = float(np.median(a))
    return med, 1.4826 * float(np.median(np.abs(a - med)))


def _safe_lowpass(x: ArrayLike, fs: float, cutoff_hz: float) -> FloatArray:
    """Low-pass at ``cutoff_hz``, or at 0.4 fs when the rate is too low for it."""
    return lowpass_zero_phase(x, fs, cutoff_hz=min(cutoff_hz, 0.4 * fs))


def parse_times(text: str, *, key: str = "times") -> list[float]:
    """Parse ``"3.0, 17.2 31.4"`` (commas and/or spaces) into increasing floats."""
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise RecordingError(
            f"metadata {key}: {text!r} is not a list of times in seconds (e.g. '3.0, 17.2')"
        ) from None
    if not values or not all(math.isfinite(v) for v in values):
        raise RecordingError(f"metadata {key}: {text!r} must hold finite times in seconds")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise RecordingError(f"metadata {key}: times must increase, got {text!r}")
    return values


# ---------------------------------------------------------------------------
# Balance loss
# ---------------------------------------------------------------------------


class BalanceLossDetector:
    """Find a loss of balance in one stance trial and time its onset.

    Signals, all from the 3-D specific force ``a`` low-passed at ``cutoff_hz``
    (zero phase) and therefore independent of how the sensor is worn:

    - *deviation* ``|a(t) - a0|``: departure of the specific force from the
      trial's quiet reference ``a0`` (median over the baseline). It contains
      the trunk's linear acceleration and the change of gravity's projection
      as the trunk leans (a 6 degree lean changes it by about 1 m/s^2).
    - *jerk*: moving RMS over ``window_s`` of ``|da/dt|``; a protective step
      or a grab ends in an impact with jerks of tens of m/s^3.
    - *tilt*: angle between ``a`` low-passed at ``tilt_cutoff_hz`` and ``a0``,
      degrees (the trunk's inclination change; linear acceleration is mostly
      filtered out).

    Baseline: the first ``baseline_s`` of the trial. Each signal's quiet level
    is its median plus ``k_sigma`` robust SDs (1.4826 x MAD) over the baseline
    samples that are below the absolute floors (samples above a floor are not
    quiet sway by definition, so an early loss cannot inflate the baseline).
    A sample is a *burst* when jerk exceeds ``max(floor_jerk, quiet level)``
    and the deviation (maximum within +/- ``window_s``) exceeds
    ``max(floor_acc, quiet level)``. The first burst followed (or preceded by
    at most 0.5 s) within ``confirm_s`` by a tilt above
    ``max(min_tilt_deg, median + k_tilt robust SDs)`` is the detection.
    The onset is traced back from the detection (at most ``max_lookback_s``):
    it is the end of the last stretch of at least 0.2 s in which the jerk
    (0.1 s window) was inside the trial's quiet range, median + ``k_onset``
    robust SDs over the quiet part before the loss. Jerk marks the onset
    sharply (the body starts to accelerate away); short lulls between the
    fall and the step are not taken for quiet.

    Parameters
    ----------
    baseline_s : length of the quiet reference at the start of the trial (s).
    cutoff_hz : low-pass of the acceleration (5 Hz keeps steps and sway, drops
        sensor noise).
    window_s : moving-RMS window of the jerk (s).
    k_sigma : robust SDs above the baseline median for a burst (8: far
        outside what a stationary sway process produces within a trial).
    k_onset : robust SDs above the quiet median of the jerk that still count
        as quiet when tracing the onset back.
    k_tilt : robust SDs above the baseline median of the tilt for a tilt
        excursion (tilt varies slowly, so fewer SDs than ``k_sigma``).
    min_acc_mps2 : absolute floor of the deviation (1.0 m/s^2, about 0.1 g or
        a 6 degree lean; quiet sway, even on one leg, stays below 0.5).
    min_jerk_mps3 : absolute floor of the jerk (5 m/s^3; quiet sway at the
        trunk is below about 1.5 m/s^3 including sensor noise, a protective
        step's foot contact is 10-50 m/s^3).
    min_tilt_deg : absolute floor of the tilt excursion (5 degrees: quiet
        sway of the trunk stays within about 1.5 degrees, deliberate trunk
        movements while repositioning the feet reach about 4 degrees at the
        sternum; people who lose their balance lean 6-10 degrees by the time
        they step and more while arresting the fall).
    tilt_cutoff_hz : low-pass of the tilt signal (Hz).
    confirm_s : the tilt must exceed its threshold within this time after a
        burst (s).
    max_lookback_s : furthest the onset is traced back from a detection (s).

    Attributes
    ----------
    lost_ : whether a loss of balance was found.
    onset_s_ : onset time, s from the first sample, or None.
    detected_s_ : time of the confirmed burst, s from the first sample, or None.
    thresholds_ : dict of the thresholds used (acc, jerk, tilt, onset level).
    baseline_ : dict of the baseline medians and robust SDs.
    peak_acc_mps2_, peak_jerk_mps3_, peak_tilt_deg_ : largest values in the trial.
    deviation_mps2_, jerk_mps3_, tilt_deg_ : the signals.
    fs_hz_ : their rate.
    """

    version = "1.0"

    def __init__(
        self,
        *,
        baseline_s: float = 2.0,
        cutoff_hz: float = 5.0,
        window_s: float = 0.25,
        k_sigma: float = 8.0,
        k_onset: float = 3.0,
        k_tilt: float = 4.0,
        min_acc_mps2: float = 1.0,
        min_jerk_mps3: float = 5.0,
        min_tilt_deg: float = 5.0,
        tilt_cutoff_hz: float = 1.0,
        confirm_s: float = 1.5,
        max_lookback_s: float = 1.5,
    ):
        self.baseline_s = baseline_s
        self.cutoff_hz = cutoff_hz
        self.window_s = window_s
        self.k_sigma = k_sigma
        self.k_onset = k_onset
        self.k_tilt = k_tilt
        self.min_acc_mps2 = min_acc_mps2
        self.min_jerk_mps3 = min_jerk_mps3
        self.min_tilt_deg = min_tilt_deg
        self.tilt_cutoff_hz = tilt_cutoff_hz
        self.confirm_s = confirm_s
        self.max_lookback_s = max_lookback_s

    def get_params(self) -> dict[str, Any]:
        return {
            "baseline_s": self.baseline_s,
            "cutoff_hz": self.cutoff_hz,
            "window_s": self.window_s,
            "k_sigma": self.k_sigma,
            "k_onset": self.k_onset,
            "k_tilt": self.k_tilt,
            "min_acc_mps2": self.min_acc_mps2,
            "min_jerk_mps3": self.min_jerk_mps3,
            "min_tilt_deg": self.min_tilt_deg,
            "tilt_cutoff_hz": self.tilt_cutoff_hz,
            "confirm_s": self.confirm_s,
            "max_lookback_s": self.max_lookback_s,
        }

    def detect(self, acc_mps2: ArrayLike, fs_hz: float) -> BalanceLossDetector:
        """Analyse evenly sampled (N, 3) acceleration of one stance trial at ``fs_hz``."""
        acc = np.asarray(acc_mps2, dtype=np.float64)
        if acc.ndim != 2 or acc.shape[1] != 3:
            raise RecordingError("balance-loss detection needs (N, 3) acceleration")
        fs = float(fs_hz)
        if not (math.isfinite(fs) and fs > 0):
            raise RecordingError(f"sampling rate must be positive, got {fs_hz}")
        n = acc.shape[0]
        if n < max(4, int(round(0.5 * fs))):
            raise TooShortError("balance-loss detection needs at least 0.5 s of data")
        lp = _safe_lowpass(acc, fs, self.cutoff_hz)
        nb = min(max(int(round(self.baseline_s * fs)), 2), n)
        a0 = np.median(lp[:nb], axis=0)
        dev = np.linalg.norm(lp - a0, axis=1)
        jerk = _moving_rms(
            np.linalg.norm(np.gradient(lp, axis=0), axis=1) * fs, round(self.window_s * fs)
        )
        slow = _safe_lowpass(acc, fs, self.tilt_cutoff_hz)
        cosang = (slow @ a0) / np.maximum(np.linalg.norm(slow, axis=1) * np.linalg.norm(a0), 1e-12)
        tilt = np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))

        quiet = (dev[:nb] < self.min_acc_mps2) & (jerk[:nb] < self.min_jerk_mps3)
        if quiet.sum() < max(0.25 * nb, 2):
            quiet = np.ones(nb, dtype=bool)
        d_med, d_sd = _robust(dev[:nb][quiet])
        j_med, j_sd = _robust(jerk[:nb][quiet])
        t_med, t_sd = _robust(tilt[:nb][quiet])
        thr_acc = max(self.min_acc_mps2, d_med + self.k_sigma * d_sd)
        thr_jerk = max(self.min_jerk_mps3, j_med + self.k_sigma * j_sd)
        thr_tilt = max(self.min_tilt_deg, t_med + self.k_tilt * t_sd)

        w = max(int(round(self.window_s * fs)), 1)
        dev_near = _moving_max(dev, 2 * w + 1)
        burst = (jerk > thr_jerk) & (dev_near > thr_acc)
        tilt_hi = tilt > thr_tilt
        detected = None
        nc = int(round(self.confirm_s * fs))
        nbk = int(round(0.5 * fs))
        for i in np.flatnonzero(burst):
            if tilt_hi[max(i - nbk, 0) : i + nc + 1].any():
                detected = int(i)
                break
        # jerk over a short window for timing the onset (less smear)
        jerk_short = _moving_rms(
            np.linalg.norm(np.gradient(lp, axis=0), axis=1) * fs, round(0.1 * fs)
        )
        onset = None
        onset_level = onset_jerk = math.nan
        if detected is not None:
            # quiet range for tracing the onset back: the trial's quiet part
            # before the loss (at least the baseline), its 99th percentiles
            ref = slice(0, max(nb, detected - int(round(self.max_lookback_s * fs))))
            r_med, r_sd = _robust(dev[ref])
            onset_level = min(r_med + self.k_onset * r_sd, 0.5 * thr_acc)
            r_med, r_sd = _robust(jerk_short[ref])
            onset_jerk = min(r_med + self.k_onset * r_sd, 0.5 * thr_jerk)
            # the onset is the last moment before the detection at which both the
            # acceleration and its rate of change were inside their quiet ranges
            # (the end of the last quiet stretch of at least 0.2 s: short dips
            # between the fall and the step do not count as quiet)
            lo = max(detected - int(round(self.max_lookback_s * fs)), 0)
            calm = jerk_short[lo : detected + 1] <= onset_jerk
            nq = max(int(round(0.2 * fs)), 1)
            onset = lo
            for a, b in reversed(_runs(calm)):
                if b - a >= nq or a == 0:
                    onset = lo + b
                    break

        self.fs_hz_ = fs
        self.deviation_mps2_ = dev
        self.jerk_mps3_ = jerk
        self.tilt_deg_ = tilt
        self.baseline_ = {
            "acc_median_mps2": d_med,
            "acc_sd_mps2": d_sd,
            "jerk_median_mps3": j_med,
            "jerk_sd_mps3": j_sd,
            "tilt_median_deg": t_med,
            "tilt_sd_deg": t_sd,
        }
        self.thresholds_ = {
            "acc_mps2": thr_acc,
            "jerk_mps3": thr_jerk,
            "tilt_deg": thr_tilt,
            "onset_acc_mps2": onset_level,
            "onset_jerk_mps3": onset_jerk,
        }
        self.peak_acc_mps2_ = float(dev.max())
        self.peak_jerk_mps3_ = float(jerk.max())
        self.peak_tilt_deg_ = float(tilt.max())
        self.lost_ = detected is not None
        self.detected_s_ = None if detected is None else detected / fs
        self.onset_s_ = None if onset is None else onset / fs
        return self

    def result(self) -> dict[str, Any]:
        """Detection, onset, thresholds and algorithm, for JSON."""
        return {
            "lost": self.lost_,
            "onset_s": self.onset_s_,
            "detected_s": self.detected_s_,
            "peak_acc_mps2": self.peak_acc_mps2_,
            "peak_jerk_mps3": self.peak_jerk_mps3_,
            "peak_tilt_deg": self.peak_tilt_deg_,
            "thresholds": dict(self.thresholds_),
            "algorithm": {
                "name": "BalanceLossDetector",
                "version": self.version,
                **self.get_params(),
            },
        }


def _moving_max(x: FloatArray, n: int) -> FloatArray:
    """Centred moving maximum over ``n`` samples."""
    from scipy.ndimage import maximum_filter1d

    return maximum_filter1d(x, size=max(int(n), 1), mode="nearest")


# ---------------------------------------------------------------------------
# Quiet periods and movements
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietPeriod:
    """A stretch of quiet standing, ``[start_s, end_s)`` on the analysed time axis."""

    start_s: float
    end_s: float
    level_mps2: float  #: median 3-D activity inside (its own sway level)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class StanceSegmenter:
    """Quiet standing periods separated by movements (stepping into a stance).

    1. *Activity*: the 3-D specific force band-passed between ``band_hz``
       (zero phase); ``activity_3d`` is its norm's moving RMS over
       ``window_s``, ``activity_v`` the moving RMS over ``core_window_s`` of
       its component along gravity (the median acceleration direction).
    2. *Movement cores*: vertical activity above ``max(min_vertical_mps2,
       k_vertical x median)``, or 3-D activity above ``min_move_mps2``. Quiet
       standing moves the trunk horizontally (inverted pendulum), so its
       vertical activity stays at the sensor's noise level in every stance;
       lifting and placing a foot moves it vertically. The median of the
       vertical activity over the recording is the noise level.
    3. *Runs*: a stretch between cores whose 3-D activity stays above
       ``k_run`` x the recording's quietest standing level (10th percentile)
       for more than three quarters of its length (its ``run_percentile``-th
       percentile, 25, is above that level) is a slow weight shift, not a
       stance. The band starts at 1.5 Hz because quiet sway, even on one leg,
       has most of its acceleration below 1 Hz, while stepping movements last
       0.5-1 s. A weight shift is active from one foot contact to the next; a
       stance, however short, is quiet for most of its length, but the
       stretch between cores also holds the settling end of the movement
       before it (the activity windows and the movement's own tail) and, when
       the stance ends in a loss of balance, the start of the fall. In a 2 s
       stance these parts can fill half of the stretch, so its median would
       judge them rather than the stance (version 1.0 used the median and
       dropped such stances); the lower quartile judges the stance as long as
       a quarter of the stretch is quiet standing.
    4. *Edges*: inside each remaining run, a core ``edge_margin_s`` from its
       edges gives the stance's own levels of the acceleration deviation
       (``edge_cutoff_hz`` low-pass, from the core's median) and of the jerk
       (``edge_window_s`` moving RMS). The start moves to where the jerk falls
       to median + ``k_edge`` robust SDs (a movement ends with its largest
       jerk: minimum-jerk profiles end with jerk 60 d/T^3), the end to where
       deviation or jerk first exceed the core's 99th percentile, at most
       ``edge_reach_s`` beyond the run.
    5. Quiet stretches shorter than ``min_quiet_s`` count as movement.

    Parameters
    ----------
    band_hz : band of the activity signals (Hz).
    window_s : moving-RMS window of the 3-D activity (s).
    core_window_s : moving-RMS window of the vertical activity (s).
    k_vertical : multiple of the median vertical activity that makes a core.
    min_vertical_mps2 : floor of the core threshold (0.05 m/s^2: five times
        the vertical noise of a typical MEMS sensor after the band-pass).
    min_move_mps2 : 3-D activity that is movement whatever the vertical (a
        sway acceleration RMS of 0.5 m/s^2 is ten times quiet standing).
    k_run : multiple of the quietest standing level above which a stretch
        between cores is movement.
    run_percentile : percentile of a stretch's 3-D activity compared with
        ``k_run`` x the quietest level (25: the stretch must be active for
        more than three quarters of its length to count as movement).
    k_edge : robust SDs above the stance's median jerk where its start is put.
    min_edge_mps2, min_edge_jerk_mps3 : floors of the edge levels.
    edge_cutoff_hz, edge_window_s : low-pass and jerk window of the edge signals.
    edge_margin_s : distance of the core from the run's edges (s).
    edge_reach_s : furthest an edge moves beyond the run (s).
    min_quiet_s : shortest quiet period kept (s).
    max_gap_s : gaps in the data up to this long are bridged (by linear
        interpolation, for timing only); longer ones count as movement (s).

    Attributes
    ----------
    periods_ : list of :class:`QuietPeriod`.
    moving_ : bool array, True where the person moves.
    activity_3d_mps2_, activity_v_mps2_ : the activity signals.
    time_s_ : their time axis; ``fs_hz_`` their rate.
    """

    version = "1.1"

    def __init__(
        self,
        *,
        band_hz: tuple[float, float] = (1.5, 10.0),
        window_s: float = 0.25,
        core_window_s: float = 0.5,
        k_vertical: float = 5.0,
        min_vertical_mps2: float = 0.05,
        min_move_mps2: float = 0.5,
        k_run: float = 3.0,
        run_percentile: float = 25.0,
        k_edge: float = 3.0,
        min_edge_mps2: float = 0.05,
        min_edge_jerk_mps3: float = 0.5,
        edge_cutoff_hz: float = 5.0,
        edge_window_s: float = 0.1,
        edge_margin_s: float = 0.5,
        edge_reach_s: float = 0.5,
        min_quiet_s: float = 1.0,
        max_gap_s: float = 0.5,
    ):
        self.band_hz = band_hz
        self.window_s = window_s
        self.core_window_s = core_window_s
        self.k_vertical = k_vertical
        self.min_vertical_mps2 = min_vertical_mps2
        self.min_move_mps2 = min_move_mps2
        self.k_run = k_run
        self.run_percentile = run_percentile
        self.k_edge = k_edge
        self.min_edge_mps2 = min_edge_mps2
        self.min_edge_jerk_mps3 = min_edge_jerk_mps3
        self.edge_cutoff_hz = edge_cutoff_hz
        self.edge_window_s = edge_window_s
        self.edge_margin_s = edge_margin_s
        self.edge_reach_s = edge_reach_s
        self.min_quiet_s = min_quiet_s
        self.max_gap_s = max_gap_s

    def get_params(self) -> dict[str, Any]:
        return {
            "band_hz": list(self.band_hz),
            "window_s": self.window_s,
            "core_window_s": self.core_window_s,
            "k_vertical": self.k_vertical,
            "min_vertical_mps2": self.min_vertical_mps2,
            "min_move_mps2": self.min_move_mps2,
            "k_run": self.k_run,
            "run_percentile": self.run_percentile,
            "k_edge": self.k_edge,
            "min_edge_mps2": self.min_edge_mps2,
            "min_edge_jerk_mps3": self.min_edge_jerk_mps3,
            "edge_cutoff_hz": self.edge_cutoff_hz,
            "edge_window_s": self.edge_window_s,
            "edge_margin_s": self.edge_margin_s,
            "edge_reach_s": self.edge_reach_s,
            "min_quiet_s": self.min_quiet_s,
            "max_gap_s": self.max_gap_s,
        }

    def segment(
        self, acc_mps2: ArrayLike, fs_hz: float, *, unknown: ArrayLike | None = None
    ) -> StanceSegmenter:
        """Segment evenly sampled (N, 3) acceleration.

        ``unknown`` marks samples to treat as movement (e.g. long gaps in the data).
        """
        acc = np.asarray(acc_mps2, dtype=np.float64)
        if acc.ndim != 2 or acc.shape[1] != 3:
            raise RecordingError("stance segmentation needs (N, 3) acceleration")
        fs = float(fs_hz)
        n = acc.shape[0]
        if n < max(8, int(round(1.0 * fs))):
            raise TooShortError("stance segmentation needs at least 1 s of data")
        lo_hz, hi_hz = self.band_hz
        band = highpass_zero_phase(_safe_lowpass(acc, fs, hi_hz), fs, cutoff_hz=lo_hz)
        up = np.median(acc, axis=0)
        up = up / max(float(np.linalg.norm(up)), 1e-12)
        act3 = _moving_rms(np.linalg.norm(band, axis=1), round(self.window_s * fs))
        actv = _moving_rms(band @ up, round(self.core_window_s * fs))
        thr_v = max(self.min_vertical_mps2, self.k_vertical * float(np.median(actv)))
        moving = (actv > thr_v) | (act3 > self.min_move_mps2)
        if unknown is not None:
            moving |= np.asarray(unknown, dtype=bool)
        # a stretch between cores that is active (several times the recording's
        # quietest standing) for more than 1 - run_percentile/100 of its length
        # is a slow weight shift, not a stance
        q_ref = float(np.percentile(act3[~moving], 10)) if (~moving).any() else 0.0
        for a, b in _runs(~moving):
            level = float(np.percentile(act3[a:b], self.run_percentile))
            if level > max(self.k_run * q_ref, self.min_edge_mps2):
                moving[a:b] = True
        lp = _safe_lowpass(acc, fs, self.edge_cutoff_hz)
        moving = self._refine_edges(moving, lp, fs)
        runs = _runs(~moving)
        min_n = int(round(self.min_quiet_s * fs))
        periods = []
        for a, b in runs:
            if b - a >= min_n:
                periods.append(QuietPeriod(a / fs, b / fs, float(np.median(act3[a:b]))))
            else:
                moving[a:b] = True
        self.fs_hz_ = fs
        self.time_s_ = np.arange(n) / fs
        self.activity_3d_mps2_ = act3
        self.activity_v_mps2_ = actv
        self.vertical_threshold_mps2_ = thr_v
        self.moving_ = moving
        self.periods_ = periods
        return self

    def _refine_edges(self, moving: np.ndarray, lp: FloatArray, fs: float) -> np.ndarray:
        """Move each quiet run's edges to where the acceleration leaves its own quiet range.

        Inside a run, the core (``edge_margin_s`` away from its edges) gives the
        reference specific force (median) and the quiet range of the deviation
        from it (median + ``k_edge`` robust SDs, at least ``min_edge_mps2``).
        From the core outwards, the run extends as long as the deviation stays
        inside that range, into movement-marked samples as well (the activity
        windows smear a movement's edges outwards) and up to the neighbouring
        runs; it is cut back where the deviation leaves the range.
        """
        out = np.ones_like(moving)
        jerk = _moving_rms(
            np.linalg.norm(np.gradient(lp, axis=0), axis=1) * fs, round(self.edge_window_s * fs)
        )
        runs = _runs(~moving)
        m = int(round(self.edge_margin_s * fs))
        n = moving.size
        reach = int(round(self.edge_reach_s * fs))
        for k, (a, b) in enumerate(runs):
            lo_lim = max(runs[k - 1][1] if k > 0 else 0, a - reach)
            hi_lim = min(runs[k + 1][0] if k + 1 < len(runs) else n, b + reach)
            ca, cb = a + m, b - m
            if cb - ca < max(int(round(0.2 * fs)), 2):
                mid = (a + b) // 2
                h = max((b - a) // 6, 1)
                ca, cb = mid - h, mid + h
            ref = np.median(lp[ca:cb], axis=0)
            dev = np.linalg.norm(lp - ref, axis=1)
            # start: a movement ends where its jerk and acceleration fall to
            # the stance's typical level (median + k_edge robust SDs) ...
            jmed, jrsd = _robust(jerk[ca:cb])
            start_ok = jerk <= max(self.min_edge_jerk_mps3, jmed + self.k_edge * jrsd)
            # ... the next one starts where they exceed the stance's largest
            # quiet values (99th percentile), so sway peaks do not end a stance
            end_ok = (dev <= max(self.min_edge_mps2, float(np.percentile(dev[ca:cb], 99)))) & (
                jerk <= max(self.min_edge_jerk_mps3, float(np.percentile(jerk[ca:cb], 99)))
            )
            i = ca
            while i > lo_lim and start_ok[i - 1]:
                i -= 1
            j = cb
            while j < hi_lim and end_ok[j]:
                j += 1
            if a == 0 and i <= 0:
                i = 0
            out[i:j] = False
        return out

    def result(self) -> dict[str, Any]:
        return {
            "periods": [
                {"start_s": p.start_s, "end_s": p.end_s, "level_mps2": p.level_mps2}
                for p in self.periods_
            ],
            "algorithm": {"name": "StanceSegmenter", "version": self.version, **self.get_params()},
        }


# ---------------------------------------------------------------------------
# The four-stage test
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    start_s: float  # stance start (recording time axis)
    quiet_end_s: float  # end of the quiet period (movement or end of data)
    search_end_s: float  # how far a loss of balance is looked for


class FourStageAnalyzer:
    """STEADI four-stage balance test from one trunk recording.

    Stances are found in one of two ways:

    - *metadata*: ``stance_starts_s`` (start times in seconds on the
      recording's time axis, in test order: feet together, semi-tandem,
      tandem, single leg; fewer values when the test stopped) and optionally
      ``stance_ends_s`` (when each stance was ended by the examiner or
      the person);
    - *movement*: otherwise, the quiet periods of :class:`StanceSegmenter` in
      order. Quiet periods before the first one that either lasts ``hold_s``
      (less ``tolerance_s``) or ends in a loss of balance are taken as
      standing about before the test, as long as such a period follows.

    Each stance ends at the first of: a loss of balance
    (:class:`BalanceLossDetector` on the stance from its start), the next
    movement (the feet moved), the metadata end, or the end of the data. The
    hold time is that duration, at most ``hold_s``; the stance is held when it
    reaches ``hold_s - tolerance_s`` (the timing uncertainty of the movement
    edges, comparable to a stopwatch's) without a loss of balance. The test
    stops at the first stance not held (STEADI protocol); later quiet
    periods are not stances.

    Parameters
    ----------
    hold_s : required hold time (STEADI: 10 s).
    tolerance_s : timing tolerance of a held stance (s).
    min_sway_s : shortest held part whose sway measures are reported (s);
        shorter holds give NaN measures.
    search_after_s : how long after the quiet period's end a loss of balance
        is still looked for (its burst may come after the movement started).
    segmenter, detector, sway : the algorithms used (defaults when None).

    Attributes
    ----------
    stances_ : list of per-stance dicts (stance, start_s, end_s, hold_s,
        held_10s, loss_of_balance_s, sway).
    tandem_10s_ : tandem stance held ``hold_s``.
    at_risk_ : STEADI increased fall risk (tandem not held).
    source_ : ``"metadata"`` or ``"movement"``.
    """

    version = "1.1"

    def __init__(
        self,
        *,
        hold_s: float = 10.0,
        tolerance_s: float = 0.3,
        min_sway_s: float = 1.0,
        search_after_s: float = 2.0,
        segmenter: StanceSegmenter | None = None,
        detector: BalanceLossDetector | None = None,
        sway: SwayAnalyzer | None = None,
    ):
        self.hold_s = hold_s
        self.tolerance_s = tolerance_s
        self.min_sway_s = min_sway_s
        self.search_after_s = search_after_s
        self.segmenter = segmenter
        self.detector = detector
        self.sway = sway

    def get_params(self) -> dict[str, Any]:
        seg = self.segmenter or StanceSegmenter()
        det = self.detector or BalanceLossDetector()
        sw = self.sway or SwayAnalyzer()
        return {
            "hold_s": self.hold_s,
            "tolerance_s": self.tolerance_s,
            "min_sway_s": self.min_sway_s,
            "search_after_s": self.search_after_s,
            "segmenter": {"name": "StanceSegmenter", "version": seg.version, **seg.get_params()},
            "detector": {
                "name": "BalanceLossDetector",
                "version": det.version,
                **det.get_params(),
            },
            "sway": {"name": "SwayAnalyzer", "version": sw.version, **sw.get_params()},
        }

    # -- entry points -----------------------------------------------------------

    def analyze_recording(self, rec: Recording) -> FourStageAnalyzer:
        """Analyse a recording; stance times from its metadata when present."""
        starts = ends = None
        if META_STARTS in rec.metadata:
            starts = parse_times(rec.metadata[META_STARTS], key=META_STARTS)
            if len(starts) > len(FOUR_STAGE_STANCES):
                raise RecordingError(
                    f"{rec.source or 'recording'}: metadata {META_STARTS} lists "
                    f"{len(starts)} stances; the four-stage test has four"
                )
        if META_ENDS in rec.metadata:
            if starts is None:
                raise RecordingError(
                    f"{rec.source or 'recording'}: metadata {META_ENDS} needs {META_STARTS}"
                )
            ends = parse_times(rec.metadata[META_ENDS], key=META_ENDS)
            if len(ends) != len(starts) or any(e <= s for s, e in zip(starts, ends, strict=True)):
                raise RecordingError(
                    f"{rec.source or 'recording'}: metadata {META_ENDS} must give one end "
                    f"after each start of {META_STARTS}"
                )
        t = rec.time_s
        fs = rec.fs_est_hz
        tu, acc = resample_uniform(t, rec.acc_mps2, fs)
        unknown = np.zeros(tu.size, dtype=bool)
        seg = self.segmenter or StanceSegmenter()
        for g in rec.rate.gaps:
            if g.duration_s > seg.max_gap_s:
                unknown |= (tu > g.start_s) & (tu < g.start_s + g.duration_s)
        return self._analyze(acc, fs, float(tu[0]), rec, starts, ends, unknown)

    def analyze(
        self,
        acc_mps2: ArrayLike,
        fs_hz: float,
        *,
        starts_s: Sequence[float] | None = None,
        ends_s: Sequence[float] | None = None,
    ) -> FourStageAnalyzer:
        """Analyse evenly sampled (N, 3) acceleration (time 0 at the first sample)."""
        acc = np.asarray(acc_mps2, dtype=np.float64)
        if acc.ndim != 2 or acc.shape[1] != 3:
            raise RecordingError("the four-stage analysis needs (N, 3) acceleration")
        fs = float(fs_hz)
        rec = Recording(time_s=np.arange(acc.shape[0]) / fs, acc_mps2=acc, fs_nominal_hz=fs)
        return self._analyze(
            acc,
            fs,
            0.0,
            rec,
            None if starts_s is None else [float(s) for s in starts_s],
            None if ends_s is None else [float(s) for s in ends_s],
            np.zeros(acc.shape[0], dtype=bool),
        )

    # -- core ---------------------------------------------------------------------

    def _analyze(
        self,
        acc: FloatArray,
        fs: float,
        t0: float,
        rec: Recording,
        starts: list[float] | None,
        ends: list[float] | None,
        unknown: np.ndarray,
    ) -> FourStageAnalyzer:
        seg = (self.segmenter or StanceSegmenter()).segment(acc, fs, unknown=unknown)
        det = self.detector or BalanceLossDetector()
        n = acc.shape[0]
        t_end = t0 + n / fs
        moving = seg.moving_

        def quiet_end_after(ts: float) -> float:
            """First movement at or after ``ts`` (recording time)."""
            i = int(np.clip(round((ts - t0) * fs), 0, n))
            nxt = np.flatnonzero(moving[i:])
            # ignore movement at the very start (the edge of the stance itself)
            if nxt.size and nxt[0] == 0:
                first_quiet = np.flatnonzero(~moving[i:])
                if not first_quiet.size:
                    return ts
                j = i + int(first_quiet[0])
                nxt2 = np.flatnonzero(moving[j:])
                return t0 + (j + int(nxt2[0])) / fs if nxt2.size else t_end
            return t0 + (i + int(nxt[0])) / fs if nxt.size else t_end

        windows: list[_Window] = []
        if starts is not None:
            self.source_ = "metadata"
            for k, s in enumerate(starts):
                limit = starts[k + 1] if k + 1 < len(starts) else t_end
                if ends is not None:
                    limit = min(limit, ends[k])
                qe = min(quiet_end_after(s), limit)
                windows.append(_Window(s, qe, limit))
        else:
            self.source_ = "movement"
            periods = [
                QuietPeriod(t0 + p.start_s, t0 + p.end_s, p.level_mps2) for p in seg.periods_
            ]
            for k, p in enumerate(periods):
                nxt = periods[k + 1].start_s if k + 1 < len(periods) else t_end
                windows.append(_Window(p.start_s, p.end_s, min(p.end_s + self.search_after_s, nxt)))
            windows = self._drop_leading_idle(windows, acc, fs, t0, det)
        stances = []
        for name, w in zip(FOUR_STAGE_STANCES, windows, strict=False):
            st = self._score(name, w, acc, fs, t0, det, rec)
            stances.append(st)
            if not st["held_10s"]:
                break
        if not stances:
            raise RecordingError(
                f"{rec.source or 'recording'}: no quiet standing period found; the four-stage "
                "analysis needs stances of at least "
                f"{(self.segmenter or StanceSegmenter()).min_quiet_s:g} s separated by movement"
            )
        self.segmenter_ = seg
        self.stances_ = stances
        self.tandem_10s_ = any(s["stance"] == "tandem" and s["held_10s"] for s in stances)
        self.at_risk_ = not self.tandem_10s_
        return self

    def _loss_in(
        self, w: _Window, acc: FloatArray, fs: float, t0: float, det: BalanceLossDetector
    ) -> float | None:
        """Onset (recording time) of a loss of balance in the stance window, or None."""
        i0 = int(np.clip(round((w.start_s - t0) * fs), 0, acc.shape[0]))
        i1 = int(np.clip(round((w.search_end_s - t0) * fs), 0, acc.shape[0]))
        if i1 - i0 < max(4, int(round(0.5 * fs))):
            return None
        d = BalanceLossDetector(**det.get_params()).detect(acc[i0:i1], fs)
        if not d.lost_ or d.onset_s_ is None:
            return None
        return w.start_s + d.onset_s_

    def _drop_leading_idle(
        self,
        windows: list[_Window],
        acc: FloatArray,
        fs: float,
        t0: float,
        det: BalanceLossDetector,
    ) -> list[_Window]:
        need = self.hold_s - self.tolerance_s

        def counts(w: _Window) -> bool:
            onset = self._loss_in(w, acc, fs, t0, det)
            if onset is not None and onset - w.start_s < need:
                return True
            return w.quiet_end_s - w.start_s >= need

        flags = [counts(w) for w in windows]
        if not any(flags):
            return windows
        first = flags.index(True)
        return windows[first:]

    def _score(
        self,
        name: str,
        w: _Window,
        acc: FloatArray,
        fs: float,
        t0: float,
        det: BalanceLossDetector,
        rec: Recording,
    ) -> dict[str, Any]:
        onset = self._loss_in(w, acc, fs, t0, det)
        end = w.quiet_end_s
        loss = None
        # a burst in the last tolerance_s of the hold is the step into the next
        # stance, not a loss (the stance was already held; same rule as the
        # protocols' scoring of hold trials)
        deadline = w.start_s + self.hold_s - self.tolerance_s
        if onset is not None and onset < deadline and onset <= end + 0.5:
            loss = onset
            end = onset
        dur = max(end - w.start_s, 0.0)
        hold = min(dur, self.hold_s)
        held = loss is None and dur >= self.hold_s - self.tolerance_s
        return {
            "stance": name,
            "start_s": w.start_s,
            "end_s": w.start_s + hold,
            "hold_s": hold,
            "held_10s": bool(held),
            "loss_of_balance_s": loss,
            "sway": self._sway(rec, w.start_s, w.start_s + hold),
        }

    def _sway(self, rec: Recording, a: float, b: float) -> dict[str, float]:
        nan = dict.fromkeys(SWAY_KEYS, math.nan)
        if b - a < self.min_sway_s:
            return nan
        part = rec.slice_time(a, b)
        if part.n_samples < 4:
            return nan
        sw = SwayAnalyzer(**(self.sway or SwayAnalyzer()).get_params())
        try:
            sw.analyze_recording(part)
        except (RecordingError, TooShortError):
            return nan
        return {k: sw.metrics_[k] for k in SWAY_KEYS}

    def result(self) -> dict[str, Any]:
        """The ``four_stage`` JSON block."""
        return {
            "stances": [dict(s, sway=dict(s["sway"])) for s in self.stances_],
            "tandem_10s": self.tandem_10s_,
            "at_risk": self.at_risk_,
            "stances_from": self.source_,
            "algorithm": {
                "name": "FourStageAnalyzer",
                "version": self.version,
                **self.get_params(),
            },
        }
