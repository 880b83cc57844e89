"""Timed Up and Go (STEADI) from one trunk sensor: total time and phases.

:class:`TugAnalyzer` times the test from the start of rising (the trunk's
forward lean) to the end of sitting down, with the transfers found by
:class:`~balance_mon.analysis.transitions.TransitionDetector`, and splits the
time between them into the instrumented-TUG phases (Salarian et al. 2010,
IEEE TNSRE 18:303; Mancini 2012): ``sit_to_stand``, ``walk_out``, ``turn``
(the 180 deg turn at the 3 m mark), ``walk_back``, ``turn_to_sit`` (the turn
in front of the chair) and ``stand_to_sit``. The phases are contiguous.

**Turns with a gyroscope.** The rotation rate about the vertical (the
gyroscope projected on the gravity direction, so no axis mapping is needed) is
low-passed (the detector's ``tilt_cutoff_hz``) and every stretch where it stays
above ``turn_rate_fraction`` of its peak (at least ``turn_rate_floor_dps``)
around a peak above ``min_turn_rate_dps`` is a turn if it turns by at least
``min_turn_deg``. The largest such turn between rising and sitting is the
mid-way turn; the last one before sitting (or reaching into it) is the turn to
sit. A turn's edges are where its rate falls to ``turn_rate_fraction`` of its
peak: for a smooth turn that is about 9 % of its duration in from each end.

**Turns without a gyroscope (fallback, less accurate).** An accelerometer
cannot sense a rotation about the vertical, so a turn is found as an
interruption of the walking pattern: people turn with shorter, slower, softer
steps (and pause), so the step intensity (moving RMS over about one stride of
the vertical acceleration in the 0.7-4 Hz step band) falls to well under half
its walking level. The longest such interruption between the walks is the
mid-way turn; one that lasts until sitting down is the turn to sit. Its edges
are the crossings half-way between the walking and the turning levels,
smeared by the moving window:
expect phase edges within about 0.3-0.6 s, and a turn taken briskly in
stride can be missed (the phases then report it in ``problems``).

**Scoring.** ``at_risk`` is ``total_s >= 12 s`` (CDC STEADI). The sensor's time
starts with the first movement of rising, not with the examiner's "go", so it
reads a reaction time (0.2-0.5 s) shorter than a stopwatch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import signal

from ..dsp.filters import highpass_zero_phase, lowpass_zero_phase
from ..dsp.gaps import uniform_segments
from ..errors import RecordingError
from ..recording import Recording
from .transitions import Transition, TransitionDetector, TransitionSignals

__all__ = ["TUG_PHASES", "TugAnalyzer"]

FloatArray = NDArray[np.float64]

#: Phase names, in order.
TUG_PHASES = ("sit_to_stand", "walk_out", "turn", "walk_back", "turn_to_sit", "stand_to_sit")

#: STEADI: a TUG of 12 s or more means a risk of falling.
STEADI_TUG_AT_RISK_S = 12.0

#: Step band of the vertical trunk acceleration (cadence 1.4-2.2 steps/s and
#: its first harmonics), its moving-RMS window (about one stride), the largest
#: ratio of the lowest (10th percentile) to the walking (75th percentile) step
#: intensity for an interruption to exist (the edges are then where it crosses
#: half-way between them), and the shortest interruption that is a turn.
#: Without a gyroscope only.
_STEP_BAND_HZ = (0.7, 4.0)
_STEP_WINDOW_S = 0.8
_TURN_STEP_FRACTION = 0.5
_MIN_TURN_S = 0.5


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Half-open [start, stop) index ranges where ``mask`` is true."""
    edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


class TugAnalyzer:
    """Time a Timed Up and Go recording and split it into phases.

    Parameters
    ----------
    at_risk_s : STEADI cut-off (default 12 s).
    min_turn_deg : least rotation of a turn (default 90 deg: the TUG turns are
        180 deg; people who turn in two halves still turn 90 deg at once).
    min_turn_rate_dps : least peak yaw rate of a turn (default 30 deg/s; the
        pelvis yaws by +/- 4-8 deg at stride frequency while walking, peaking
        at about 20-30 deg/s).
    turn_rate_fraction : a turn's edges are where its yaw rate falls below
        this fraction of its peak (default 0.1).
    turn_rate_floor_dps : ... but never below this (default 5 deg/s).
    detector : transition detector (default :class:`TransitionDetector`).

    Attributes
    ----------
    total_s_ : from the start of rising to the end of sitting (None if either
        is missing).
    phases_ : dict phase name -> (start_s, end_s), contiguous; turns are
        missing when not found.
    at_risk_ : ``total_s_ >= at_risk_s`` (None without a total).
    turn_method_ : ``"gyroscope"``, ``"accelerometer"`` or None.
    turn_angles_deg_ : rotation of each turn (gyroscope only).
    problems_ : what could not be found, in words.
    transitions_ : every transfer found.
    """

    version = "1.0"

    def __init__(
        self,
        *,
        at_risk_s: float = STEADI_TUG_AT_RISK_S,
        min_turn_deg: float = 90.0,
        min_turn_rate_dps: float = 30.0,
        turn_rate_fraction: float = 0.05,
        turn_rate_floor_dps: float = 5.0,
        detector: TransitionDetector | None = None,
    ) -> None:
        self.at_risk_s = at_risk_s
        self.min_turn_deg = min_turn_deg
        self.min_turn_rate_dps = min_turn_rate_dps
        self.turn_rate_fraction = turn_rate_fraction
        self.turn_rate_floor_dps = turn_rate_floor_dps
        self.detector = detector

    def get_params(self) -> dict[str, Any]:
        return {
            "at_risk_s": self.at_risk_s,
            "min_turn_deg": self.min_turn_deg,
            "min_turn_rate_dps": self.min_turn_rate_dps,
            "turn_rate_fraction": self.turn_rate_fraction,
            "turn_rate_floor_dps": self.turn_rate_floor_dps,
        }

    def _detector(self) -> TransitionDetector:
        if self.detector is None:
            return TransitionDetector()
        return TransitionDetector(**self.detector.get_params())

    # -- public actions -------------------------------------------------------

    def analyze(
        self,
        acc_mps2: ArrayLike,
        fs_hz: float,
        *,
        gyr_dps: ArrayLike | None = None,
        t0_s: float = 0.0,
    ) -> TugAnalyzer:
        """Analyse evenly sampled (N, 3) acceleration (and angular rate) at ``fs_hz``."""
        acc = np.asarray(acc_mps2, dtype=np.float64)
        if acc.ndim != 2 or acc.shape[1] != 3:
            raise RecordingError("TUG analysis needs (N, 3) acceleration")
        det = self._detector()
        det.detect(acc, fs_hz, gyr_dps=gyr_dps, t0_s=t0_s)
        self._analyze(
            det,
            [
                (
                    acc,
                    None if gyr_dps is None else np.asarray(gyr_dps, float),
                    float(fs_hz),
                    float(t0_s),
                )
            ],
        )
        return self

    def analyze_recording(self, rec: Recording) -> TugAnalyzer:
        """Analyse a recording (each gap-free stretch; the test must lie in one)."""
        det = self._detector().detect_recording(rec)
        stretches = [
            (s.acc_mps2, s.gyr_dps, s.fs_hz, float(s.time_s[0])) for s in uniform_segments(rec)
        ]
        self._analyze(det, stretches)
        return self

    def result(self) -> dict[str, Any]:
        """The ``tug`` JSON block."""
        return {
            "total_s": self.total_s_,
            "at_risk": self.at_risk_,
            "phases": {
                name: {"start_s": a, "end_s": b, "duration_s": b - a}
                for name, (a, b) in self.phases_.items()
            },
            "turn_method": self.turn_method_,
            "turn_angles_deg": self.turn_angles_deg_,
            "problems": self.problems_,
            "algorithm": {
                "name": "TugAnalyzer",
                "version": self.version,
                **self.get_params(),
                "detector": {
                    "name": "TransitionDetector",
                    "version": TransitionDetector.version,
                    **self._detector().get_params(),
                },
            },
        }

    # -- internals --------------------------------------------------------------

    def _analyze(self, det: TransitionDetector, stretches: list[tuple]) -> None:
        self.transitions_ = list(det.transitions_)
        self.phases_: dict[str, tuple[float, float]] = {}
        self.turn_angles_deg_: list[float] = []
        self.turn_method_: str | None = None
        self.problems_: list[str] = []
        self.total_s_: float | None = None
        self.at_risk_: bool | None = None
        rise = next((t for t in self.transitions_ if t.kind == "sit_to_stand"), None)
        if rise is None:
            self.problems_.append(
                "no sit-to-stand found: the recording must start with the person seated"
            )
            return
        sit = next(
            (t for t in self.transitions_ if t.kind == "stand_to_sit" and t.start_s >= rise.end_s),
            None,
        )
        if sit is None:
            self.problems_.append(
                "no stand-to-sit after the rise: the recording must end with the person seated"
            )
            self.phases_["sit_to_stand"] = (rise.start_s, rise.end_s)
            return
        self.total_s_ = sit.end_s - rise.start_s
        self.at_risk_ = bool(self.total_s_ >= self.at_risk_s)
        stretch = next(
            (
                s
                for s in stretches
                if s[3] <= rise.start_s and rise.start_s < s[3] + len(s[0]) / s[2]
            ),
            None,
        )
        turns: list[tuple[float, float]] = []
        if stretch is None or sit.end_s > stretch[3] + len(stretch[0]) / stretch[2]:
            self.problems_.append("the test spans a gap in the data: turns not timed")
        else:
            acc, gyr, fs, t0 = stretch
            sig = det.signals(acc, fs, gyr_dps=gyr, t0_s=t0)
            if sig.yaw_rate_dps is not None:
                self.turn_method_ = "gyroscope"
                turns = self._gyro_turns(sig, rise, sit)
            else:
                self.turn_method_ = "accelerometer"
                turns = self._acc_turns(acc, fs, sig, rise, sit)
        self._phases(rise, sit, turns)

    def _gyro_turns(
        self, sig: TransitionSignals, rise: Transition, sit: Transition
    ) -> list[tuple[float, float]]:
        """Turns (start, end) between the end of rising and the end of sitting."""
        assert sig.yaw_rate_dps is not None
        t, fs = sig.time_s, sig.fs_hz
        i0, i1 = np.searchsorted(t, [rise.end_s, sit.end_s])
        r = sig.yaw_rate_dps[i0:i1]
        if r.size < 3:
            return []
        heading = np.concatenate(([0.0], np.cumsum(0.5 * (r[1:] + r[:-1])) / fs))
        a = np.abs(r)
        peaks, _ = signal.find_peaks(a, height=self.min_turn_rate_dps)
        found: list[tuple[int, int, float]] = []
        for p in peaks.tolist():
            if found and found[-1][0] <= p <= found[-1][1]:
                continue
            thr = max(self.turn_rate_fraction * float(a[p]), self.turn_rate_floor_dps)
            below = np.flatnonzero(a[:p] <= thr)
            s = int(below[-1]) if below.size else 0
            above = np.flatnonzero(a[p:] <= thr)
            e = p + int(above[0]) if above.size else a.size - 1
            angle = abs(float(heading[e] - heading[s]))
            if angle >= self.min_turn_deg:
                found.append((s, e, angle))
        self.turn_angles_deg_ = [ang for _, _, ang in found]
        return [(float(t[i0 + s]), float(t[i0 + e])) for s, e, _ in found]

    def _acc_turns(
        self,
        acc: FloatArray,
        fs: float,
        sig: TransitionSignals,
        rise: Transition,
        sit: Transition,
    ) -> list[tuple[float, float]]:
        """Turns as interruptions of the walking pattern (no gyroscope); see the module notes."""
        t = sig.time_s
        i0, i1 = (int(i) for i in np.searchsorted(t, [rise.end_s, sit.start_s]))
        if i1 - i0 < int(2 * fs):
            return []
        # step intensity: moving RMS of the vertical acceleration in the step band
        hi = min(_STEP_BAND_HZ[1], 0.4 * fs)
        a_v = sig.vertical_acc_mps2
        band = highpass_zero_phase(
            lowpass_zero_phase(a_v, fs, cutoff_hz=hi), fs, cutoff_hz=_STEP_BAND_HZ[0]
        )
        win = max(int(round(_STEP_WINDOW_S * fs)), 1)
        step = np.sqrt(np.convolve(band**2, np.ones(win) / win, mode="same"))[i0:i1]
        walking = float(np.percentile(step, 75))
        turning = float(np.percentile(step, 10))
        if walking <= 0 or turning > _TURN_STEP_FRACTION * walking:
            return []  # no interruption of the walking pattern
        low = step < 0.5 * (walking + turning)
        runs = _runs(low)
        min_n = int(round(_MIN_TURN_S * fs))
        runs = [(a, b) for a, b in runs if b - a >= min_n]
        if not runs:
            return []
        out = []
        last = runs[-1]
        # walking that stops for good before sitting (the window smears the
        # lean's onset over half a window): the turn to sit
        to_sit = last[1] >= low.size - win
        before = runs[:-1] if to_sit else runs
        if before:
            mid = max(before, key=lambda r: r[1] - r[0])
            out.append((float(t[i0 + mid[0]]), float(t[i0 + mid[1] - 1])))
        if to_sit:
            out.append((float(t[i0 + last[0]]), float(sit.start_s)))
        return out

    def _phases(self, rise: Transition, sit: Transition, turns: list[tuple[float, float]]) -> None:
        ph: dict[str, tuple[float, float]] = {"sit_to_stand": (rise.start_s, rise.end_s)}
        t_up, t_down = rise.end_s, sit.start_s
        turns = [(max(a, t_up), min(b, t_down)) for a, b in turns if a < t_down]
        turns = [(a, b) for a, b in turns if b > a]
        mid = to_sit = None
        if turns:
            # the turn to sit: the last one, if it ends near the sitting down
            last = turns[-1]
            gap_after = t_down - last[1]
            if len(turns) >= 2 or gap_after < 0.25 * (t_down - t_up):
                to_sit = last
                rest = turns[:-1]
            else:
                rest = turns
            if rest:
                mid = max(rest, key=lambda ab: ab[1] - ab[0])
        if mid is not None:
            ph["walk_out"] = (t_up, mid[0])
            ph["turn"] = mid
            if to_sit is not None:
                ph["walk_back"] = (mid[1], to_sit[0])
                ph["turn_to_sit"] = (to_sit[0], t_down)
            else:
                ph["walk_back"] = (mid[1], t_down)
                self.problems_.append("no turn found before sitting down")
        elif to_sit is not None:
            ph["walk_out"] = (t_up, to_sit[0])
            ph["turn_to_sit"] = (to_sit[0], t_down)
            self.problems_.append("no mid-way turn found")
        else:
            ph["walk_out"] = (t_up, t_down)
            self.problems_.append("no turns found")
        ph["stand_to_sit"] = (sit.start_s, sit.end_s)
        self.phases_ = {k: ph[k] for k in TUG_PHASES if k in ph}
