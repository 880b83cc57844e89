"""A day of home monitoring: transfers, repetition bouts, sway over quiet standing, bone.

:class:`DailyActivity` runs, on a long recording (hours to a day), the
analyses a day of wear needs: sit-to-stand and stand-to-sit transfers
(:class:`~.transitions.TransitionDetector`), repetition bouts
(:class:`~.reps.RepCounter`), the sway of every quiet-standing bout
(:func:`quiet_standing_bouts`, then :class:`~.sway.SwayAnalyzer` on each) and,
for bone health and spine safety, impact loading
(:class:`~.loading.ImpactLoading`: steps, impacts) and trunk alignment
(:class:`~.posture.TrunkPosture`, given the day's repetition sets and gait
bouts so they are not found twice).
Standing is known from the transfers (from the end of a rise to the start of
the next sit); within it, quiet stretches are those where the movement
intensity of :meth:`RepCounter.activity` stays at quiet-stance levels.

``balance-mon analyze FILE --test daily --json`` gives its ``daily`` block;
bench/bench_analysis.py times it on 24 h at 100 Hz.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import uniform_filter1d

from ..dsp.filters import block_mean
from ..dsp.gaps import gap_free_segments, resample_uniform
from ..dsp.runs import true_runs as _runs
from ..errors import TooShortError
from ..recording import Recording
from .loading import ImpactLoading
from .posture import TrunkPosture, repetition_windows
from .reps import RepCounter, RepSet, decimation_factor
from .sway import SwayAnalyzer
from .transitions import Transition, TransitionDetector

__all__ = [
    "QUIET_ACC_MPS2",
    "QUIET_GYR_DPS",
    "DailyActivity",
    "intensity",
    "quiet_standing_bouts",
    "standing_spans",
]

#: Movement intensity of quiet standing, as :meth:`RepCounter.activity` measures it
#: (moving SD over 1 s of the 0.2 s-smoothed signal, summed over the 3 axes), at the
#: working rate. Simulated quiet stance at the lower back / sternum: 99th
#: percentile 0.13-0.15 m/s^2 feet together eyes open, 0.24-0.28 single leg, 0.43-0.48
#: tandem on foam with eyes closed, 0.5-0.65 single leg on foam eyes closed; walking
#: never below 1.2 m/s^2 and 26 deg/s; quiet stance below 5 deg/s.
QUIET_ACC_MPS2 = 0.4
QUIET_GYR_DPS = 10.0


def intensity(x: NDArray[np.float64], fs: float, window_s: float = 1.0) -> NDArray[np.float64]:
    """Movement intensity as :meth:`RepCounter.activity` defines it, before the threshold.

    0.2 s centred moving mean, then the centred moving SD over ``window_s`` of
    each column, summed in quadrature; edges padded with the edge value. Same
    numbers as ``reps._moving_std(reps._moving_mean(x, ...), ...)`` (to 1e-7)
    with scipy.ndimage's running filters, which need no padded copies or
    cumulative sums: about 4 x faster on a day of data.
    """
    smooth = max(int(round(0.2 * fs)), 1)
    win = max(int(round(window_s * fs)), 2)
    xs = uniform_filter1d(x, smooth, axis=0, mode="nearest") if smooth > 1 else x
    m2 = xs * xs
    uniform_filter1d(m2, win, axis=0, mode="nearest", output=m2)  # in place: same numbers
    if smooth > 1:
        m = uniform_filter1d(xs, win, axis=0, mode="nearest", output=xs)
    else:
        m = uniform_filter1d(xs, win, axis=0, mode="nearest")
    np.multiply(m, m, out=m)
    np.subtract(m2, m, out=m2)
    np.maximum(m2, 0.0, out=m2)
    s = m2.sum(axis=1)
    return np.sqrt(s, out=s)


def uniform_stretches(rec: Recording):
    """Gap-free stretches as (t0, fs, acc, gyr); views when the stamps already lie on the grid.

    Same as :func:`balance_mon.dsp.gaps.uniform_segments` except that a stretch
    whose time stamps are already uniform (within 0.1 % of a sample interval)
    is not interpolated onto the grid it is on: no copy, no ``np.interp``.
    """
    fs = rec.fs_est_hz
    for a, b in gap_free_segments(rec):
        if b - a < 2:
            continue
        t = rec.time_s[a:b]
        grid = t[0] + np.arange(b - a) / fs
        if np.abs(t - grid).max() <= 1e-3 / fs and (t[-1] - t[0]) * fs < b - a:
            yield (
                float(t[0]),
                fs,
                rec.acc_mps2[a:b],
                None if rec.gyr_dps is None else rec.gyr_dps[a:b],
            )
        else:
            tu, acc = resample_uniform(t, rec.acc_mps2[a:b], fs)
            gyr = None if rec.gyr_dps is None else resample_uniform(t, rec.gyr_dps[a:b], fs)[1]
            yield float(tu[0]), fs, acc, gyr


def standing_spans(
    transitions: list[Transition], t_start: float, t_end: float
) -> list[tuple[float, float]]:
    """Spans of ``[t_start, t_end)`` in which the person stands, from the transfers.

    Standing from the end of each sit-to-stand to the start of the next
    stand-to-sit; before a first stand-to-sit the person was standing. Without
    a transfer the posture is unknown and nothing is returned.
    """
    ev = sorted((t for t in transitions if t_start <= t.start_s < t_end), key=lambda t: t.start_s)
    if not ev:
        return []
    spans = []
    up_from = t_start if ev[0].kind == "stand_to_sit" else None
    for t in ev:
        if t.kind == "sit_to_stand":
            up_from = t.end_s
        elif up_from is not None:
            spans.append((up_from, t.start_s))
            up_from = None
    if up_from is not None:
        spans.append((up_from, t_end))
    return [(a, b) for a, b in spans if b > a]


def quiet_standing_bouts(
    rec: Recording,
    transitions: list[Transition],
    rep_sets: list[RepSet],
    *,
    min_s: float = 10.0,
    margin_s: float = 1.0,
    max_acc_mps2: float = QUIET_ACC_MPS2,
    max_gyr_dps: float = QUIET_GYR_DPS,
) -> list[tuple[float, float, SwayAnalyzer]]:
    """Quiet-standing bouts of a long recording, each with its sway analysed.

    A bout is a stretch of at least ``min_s`` (after ``margin_s`` is dropped at
    each end) in which the person stands (:func:`standing_spans`), is not in a
    repetition set, and moves little: movement :func:`intensity` (the measure of
    :meth:`RepCounter.activity`, at its working rate) at most ``max_acc_mps2``
    and, with a gyroscope, ``max_gyr_dps``. Each gap-free stretch is analysed
    on its own (:func:`uniform_stretches`). Returns (start_s, end_s, analyser)
    with the sway of the bout from :class:`SwayAnalyzer` (the recording's axes).
    """
    out = []
    for t0, fs, acc, gyr in uniform_stretches(rec):
        n = acc.shape[0]
        k = decimation_factor(fs)
        fs_w = fs / k
        m = int(round(margin_s * fs_w))
        # only the standing spans are looked at (the rest of the day costs nothing)
        for a_s, b_s in standing_spans(transitions, t0, t0 + n / fs):
            i0 = int(np.clip(np.ceil((a_s - t0) * fs), 0, n))
            i1 = int(np.clip(np.floor((b_s - t0) * fs), 0, n))
            if (i1 - i0) / fs < min_s + 2 * margin_s:
                continue
            acc_w = block_mean(acc[i0:i1], k)
            ok = intensity(acc_w, fs_w) <= max_acc_mps2
            if gyr is not None:
                ok &= intensity(block_mean(gyr[i0:i1], k), fs_w) <= max_gyr_dps
            t_w = t0 + (i0 + (np.arange(acc_w.shape[0]) + 0.5) * k) / fs
            for s in rep_sets:
                if s.end_s > t_w[0] and s.start_s < t_w[-1]:
                    ok[np.searchsorted(t_w, s.start_s) : np.searchsorted(t_w, s.end_s)] = False
            for a, b in _runs(ok):
                a, b = a + m, b - m
                if (b - a) / fs_w < min_s:
                    continue
                j0, j1 = i0 + a * k, min(i0 + b * k, n)
                sw = SwayAnalyzer().analyze(acc[j0:j1], fs, axes=rec.axes)
                out.append((t0 + j0 / fs, t0 + j1 / fs, sw))
    return out


class DailyActivity:
    """Transfers, repetition bouts and quiet-standing sway of a long recording.

    Parameters
    ----------
    min_quiet_s : shortest quiet-standing bout analysed for sway (default 10 s:
        the shortest clinical stance trial is 10 s, STEADI four-stage).
    margin_s : dropped at each end of a quiet stretch (default 1 s: settling
        after a movement).
    quiet_acc_mps2, quiet_gyr_dps : movement intensity of quiet standing
        (defaults :data:`QUIET_ACC_MPS2`, :data:`QUIET_GYR_DPS`).
    bone : also run impact loading and trunk alignment (default True).

    Attributes
    ----------
    transitions_ : every transfer (:class:`~.transitions.Transition`).
    rep_sets_ : repetition bouts (:class:`~.reps.RepSet`).
    rep_count_ : repetitions in all bouts.
    quiet_bouts_ : (start_s, end_s, :class:`~.sway.SwayAnalyzer`) of each bout.
    loading_ : :class:`~.loading.ImpactLoading` of the day (None when ``bone``
        is False).
    posture_ : :class:`~.posture.TrunkPosture` of the day (None when ``bone``
        is False or the recording is too short for it).
    """

    version = "1.1"

    def __init__(
        self,
        *,
        min_quiet_s: float = 10.0,
        margin_s: float = 1.0,
        quiet_acc_mps2: float = QUIET_ACC_MPS2,
        quiet_gyr_dps: float = QUIET_GYR_DPS,
        bone: bool = True,
    ) -> None:
        self.min_quiet_s = min_quiet_s
        self.margin_s = margin_s
        self.quiet_acc_mps2 = quiet_acc_mps2
        self.quiet_gyr_dps = quiet_gyr_dps
        self.bone = bone

    def get_params(self) -> dict[str, Any]:
        return {
            "min_quiet_s": self.min_quiet_s,
            "margin_s": self.margin_s,
            "quiet_acc_mps2": self.quiet_acc_mps2,
            "quiet_gyr_dps": self.quiet_gyr_dps,
            "bone": self.bone,
        }

    def analyze_recording(self, rec: Recording) -> DailyActivity:
        """Run the three analyses on ``rec`` (not modified)."""
        det = TransitionDetector().detect_recording(rec)
        reps = RepCounter().count_recording(rec)
        self.transitions_ = list(det.transitions_)
        self.rep_sets_ = list(reps.sets_)
        self.rep_count_ = int(reps.count_)
        self.quiet_bouts_ = self.quiet_bouts(rec, self.transitions_, self.rep_sets_)
        self._algorithms = {
            "transitions": {"name": "TransitionDetector", "version": det.version},
            "reps": {"name": "RepCounter", "version": reps.version},
        }
        self.loading_ = self.posture_ = None
        if self.bone:
            self.loading_ = self.loading(rec)
            self.posture_ = self.posture(rec, self.rep_sets_, self.loading_)
            self._algorithms["loading"] = {
                "name": "ImpactLoading",
                "version": ImpactLoading.version,
            }
            self._algorithms["posture"] = {"name": "TrunkPosture", "version": TrunkPosture.version}
        return self

    @staticmethod
    def loading(rec: Recording) -> ImpactLoading:
        """Impact loading of the day (steps, impacts, osteogenic index)."""
        return ImpactLoading().analyze_recording(rec)

    @staticmethod
    def posture(
        rec: Recording, rep_sets: list[RepSet], loading: ImpactLoading
    ) -> TrunkPosture | None:
        """Trunk alignment of the day, reusing the day's repetition sets and gait bouts.

        None when no stretch of the recording is long enough for it.
        """
        gait = [(b.start_s, b.end_s) for b in loading.bouts_ if b.gait]
        try:
            return TrunkPosture().analyze_recording(
                rec, rep_windows=repetition_windows(rep_sets), gait_spans=gait
            )
        except TooShortError:
            return None

    def quiet_bouts(
        self, rec: Recording, transitions: list[Transition], rep_sets: list[RepSet]
    ) -> list[tuple[float, float, SwayAnalyzer]]:
        """:func:`quiet_standing_bouts` with this analyser's parameters."""
        return quiet_standing_bouts(
            rec,
            transitions,
            rep_sets,
            min_s=self.min_quiet_s,
            margin_s=self.margin_s,
            max_acc_mps2=self.quiet_acc_mps2,
            max_gyr_dps=self.quiet_gyr_dps,
        )

    def _bone_blocks(self) -> dict[str, Any]:
        """``loading`` and ``posture`` blocks, without their per-bout and per-bend lists
        (``balance-mon analyze --test loading`` / ``posture`` gives those)."""
        out: dict[str, Any] = {}
        if self.loading_ is not None:
            out["loading"] = {k: v for k, v in self.loading_.result().items() if k != "bouts"}
        if self.posture_ is not None:
            out["posture"] = {k: v for k, v in self.posture_.result().items() if k != "bends"}
        return out

    def result(self) -> dict[str, Any]:
        """The ``daily`` JSON block."""
        ups = [t for t in self.transitions_ if t.kind == "sit_to_stand"]
        downs = [t for t in self.transitions_ if t.kind == "stand_to_sit"]
        bouts = []
        for a, b, sw in self.quiet_bouts_:
            m = sw.metrics_
            bouts.append(
                {
                    "start_s": a,
                    "end_s": b,
                    "rms_mps2": m["rms_mps2"],
                    "ellipse_area_m2ps4": m["ellipse_area_m2ps4"],
                    "norm_path_mps3": m["norm_path_mps3"],
                }
            )
        return {
            "sit_to_stand_count": len(ups),
            "stand_to_sit_count": len(downs),
            "transitions": [
                {"kind": t.kind, "start_s": t.start_s, "end_s": t.end_s} for t in self.transitions_
            ],
            "rep_sets": [
                {"start_s": s.start_s, "end_s": s.end_s, "count": s.count} for s in self.rep_sets_
            ],
            "rep_count": self.rep_count_,
            "quiet_standing_bouts": bouts,
            "quiet_standing_s": float(sum(b["end_s"] - b["start_s"] for b in bouts)),
            **self._bone_blocks(),
            "algorithm": {
                "name": "DailyActivity",
                "version": self.version,
                **self.get_params(),
                "uses": self._algorithms,
            },
        }
