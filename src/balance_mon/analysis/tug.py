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
peak (3 %, at least 3 deg/s): for a bell-shaped rate profile (minimum jerk,
Flash & Hogan 1985, J Neurosci 5:1688) that is about 4.5 % of its duration in
from each end, 0.15 s for a slow 3.4 s turn (5 % and 5 deg/s, version 1.1,
cut 0.2-0.3 s off the ends of such turns at the sternum, whose thorax also
finishes turning before the pelvis). The detector's signals have the
gyroscope's offset removed (its median over the quiet samples), so that the
low floor stays above it.

**Turns without a gyroscope (fallback, less accurate).** An accelerometer
cannot sense a rotation about the vertical, so the turns are found from the
steps. Each step loads the trunk: the vertical acceleration (band-passed to
the step band, 0.7-4 Hz) peaks once per foot contact (Zijlstra & Hof 2003,
Gait Posture 18:1), and by the inverted-pendulum model of walking the size of
that peak grows with the step length (the centre of mass rises by about
L^2 / 8l over a step of length L on legs of length l). Turning on the spot,
or nearly so, takes short steps, so between rising and sitting the sequence
of step sizes is walk (large), turn (small), walk (large), turn to sit
(small). It is split into these four runs by least squares (a constant level
per run, every split searched, the turns lower than the walks beside them);
the mid-way turn must average under ``_TURN_STEP_FRACTION`` of the walking
steps or no turn is reported. A step's peak says when a foot landed, not
when the body began to rotate, so each edge between a walk and a turn is put
half a step period (the median walking step time) from the last (or first)
walking step: where the next foot contact would land at the walking rhythm,
half-way to it. If the rotation starts anywhere in that step, the edge is
off by at most half a step period (0.25-0.35 s at 85-120 steps/min). A turn
taken in stride, with steps as long as the walking ones, leaves no mark and
is not found (reported in ``problems``).

**The sit without a gyroscope.** The detector times a transfer's onset from
the trunk at rest before it; a TUG's sit follows the turn with no rest, and
an accelerometer alone can take a pause between two turning steps for rest,
so it may start the sit inside the turn. Without a gyroscope the start of the
sit is therefore re-timed from the trunk's forward lean, which starts every
stand-to-sit (Schenkman et al. 1990, Clin Biomech 5:83): the inclination of
the accelerometer's gravity direction (the detector's ``tilt_cutoff_hz``
low-pass) from the upright walking posture (the mean acceleration between
rising and sitting), signed in the plane of the lean (forward positive),
rises to its peak; the lean starts where its rate was last below the
detector's ``onset_fraction`` of its peak rate, moved back over any fast fall
just before it. That fall is physics, not noise: the lean's angular
acceleration pushes a trunk sensor forwards (tangential acceleration
h x alpha, h its height above the hips), which tilts the measured specific
force backwards before the lean tilts it forwards, so the apparent
inclination first dips. (Version 1.1 used the unsigned angle, which folds
such a dip back up where it passes the reference direction; its rate there
is near zero and the walk back stopped at the fold, 0.38 s late for a 2.6 s
sit.) The sit's end is the detector's: the person stays seated after the
test, so the detector integrates back from that rest (version 1.1 ended the
sit at the first rest after the lean's peak, which a 2.6 s sternum sit can
show inside the sit, 1.6 s early). The accelerometer still sees a slow lean
late (docs/transitions.md).**The sit that ends the test** is the last stand-to-sit before any later
rise (with or without a gyroscope): a sit the detector finds in the walk is
followed by more walking and the real sit.

**Scoring.** ``at_risk`` is ``total_s >= 12 s`` (CDC STEADI). The sensor's time
starts with the first movement of rising, not with the examiner's "go", so it
reads a reaction time (0.2-0.5 s) shorter than a stopwatch.
"""

from __future__ import annotations

import dataclasses
import math
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

#: Without a gyroscope only. Step band of the vertical trunk acceleration
#: (cadence 1.4-2.2 steps/s and its first harmonics).
_STEP_BAND_HZ = (0.7, 4.0)
#: Peaks of the step band closer than this are one step (a cadence of 200
#: steps/min, far above the 80-140 of a TUG; so a foot contact with a double
#: peak counts once).
_MIN_STEP_S = 0.3
#: The mid-way turn's steps must average below this fraction of the walking
#: steps' peaks. At a given cadence the inverted pendulum's vertical
#: acceleration grows with the square of the step length, so 0.7 means steps
#: about 15 % shorter on average, beyond the step-to-step variation of steady
#: walking; turning on the spot shortens them far more (in the simulated
#: TUGs of docs/transitions.md the mid-way turn averaged at most 0.51 of the
#: walking peaks).
_TURN_STEP_FRACTION = 0.7
#: Without a gyroscope, how far before the detector's start of the sit the
#: lean's onset is looked for (the detector's search window of version 1.0):
#: the detector may start the sit a turning step late, and a lean takes
#: 0.3-1 s.
_LEAN_SEARCH_S = 1.5
#: Fewest steps of a walk (the 3 m of a TUG take 4-8 steps).
_MIN_WALK_STEPS = 2


def _segment_steps(x: FloatArray) -> tuple[int, int, int] | None:
    """Split step sizes into walk [0, i), turn [i, j), walk [j, k), turn [k, n).

    Least squares with a constant level per segment, searched exhaustively
    over the change points, among splits whose turns are lower than the
    walks next to them. A walk has at least ``_MIN_WALK_STEPS`` steps, the
    mid-way turn at least one; the turn to sit may be empty.
    """
    n = x.size
    m = _MIN_WALK_STEPS
    c1 = np.concatenate(([0.0], np.cumsum(x)))
    c2 = np.concatenate(([0.0], np.cumsum(x * x)))

    def stats(a, b):  # mean and squared deviations of x[a:b] (broadcast)
        cnt = np.maximum(np.asarray(b) - np.asarray(a), 1)
        s = c1[b] - c1[a]
        return s / cnt, (c2[b] - c2[a]) - s * s / cnt

    best: tuple[float, int, int, int] | None = None
    for i in range(m, n - m):
        mw1, sw1 = stats(0, i)
        for j in range(i + 1, n - m + 1):
            mt1, st1 = stats(i, j)
            if mt1 >= mw1:
                continue
            ks = np.arange(j + m, n + 1)
            mw2, sw2 = stats(j, ks)
            mt2, st2 = stats(ks, n)
            ok = (mt1 < mw2) & ((ks == n) | (mt2 < mw2))
            if not ok.any():
                continue
            c = np.where(ok, sw1 + st1 + sw2 + st2, np.inf)
            q = int(np.argmin(c))
            if best is None or float(c[q]) < best[0]:
                best = (float(c[q]), i, j, int(ks[q]))
    return None if best is None else best[1:]


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
        this fraction of its peak (default 0.03; see the module notes).
    turn_rate_floor_dps : ... but never below this (default 3 deg/s: above
        a standing person's trunk yaw sway, about 1 deg/s, and the noise of
        a gyroscope whose offset is removed).
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
    transitions_ : every transfer the detector found (without a gyroscope the
        ``stand_to_sit`` phase starts at the trunk's lean, see the notes).
    """

    version = "1.2"

    def __init__(
        self,
        *,
        at_risk_s: float = STEADI_TUG_AT_RISK_S,
        min_turn_deg: float = 90.0,
        min_turn_rate_dps: float = 30.0,
        turn_rate_fraction: float = 0.03,
        turn_rate_floor_dps: float = 3.0,
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
        stretches = [(s.acc_mps2, s.gyr_dps, s.fs_hz, s.t0_s) for s in uniform_segments(rec)]
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
        # the test ends seated: the last sit before any later rise (a sit found
        # in the walk, if any, is followed by more walking and another sit)
        again = next(
            (
                t.start_s
                for t in self.transitions_
                if t.kind == "sit_to_stand" and t.start_s >= rise.end_s
            ),
            math.inf,
        )
        sits = [
            t
            for t in self.transitions_
            if t.kind == "stand_to_sit" and t.start_s >= rise.end_s and t.end_s <= again
        ]
        sit = sits[-1] if sits else None
        if sit is None:
            self.problems_.append(
                "no stand-to-sit after the rise: the recording must end with the person seated"
            )
            self.phases_["sit_to_stand"] = (rise.start_s, rise.end_s)
            return
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
                sit = self._acc_sit(acc, sig, rise, sit)
                turns = self._acc_turns(sig, rise, sit)
        self.total_s_ = sit.end_s - rise.start_s
        self.at_risk_ = bool(self.total_s_ >= self.at_risk_s)
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

    def _acc_sit(
        self, acc: FloatArray, sig: TransitionSignals, rise: Transition, sit: Transition
    ) -> Transition:
        """The sit re-timed from the trunk's lean (no gyroscope); see the module notes."""
        det = self._detector()
        t, fs = sig.time_s, sig.fs_hz
        frac = det.onset_fraction
        i_up, i_s, i_e = (int(i) for i in np.searchsorted(t, [rise.end_s, sit.start_s, sit.end_s]))
        i_e = min(i_e, t.size - 1)
        if i_s - i_up < int(fs) or i_e <= i_s:
            return sit
        ref = acc[i_up:i_s].mean(axis=0)
        ref /= np.linalg.norm(ref)
        g = sig.tilt_gravity
        incl = np.degrees(np.arccos(np.clip(g @ ref, -1.0, 1.0)))
        k = i_s + int(np.argmax(incl[i_s : i_e + 1]))
        # signed inclination in the plane of the lean (forward positive), so
        # that the apparent backward tilt is negative rather than folded
        fwd = g[k] - float(g[k] @ ref) * ref
        if not np.linalg.norm(fwd) > 0:
            return sit
        fwd /= np.linalg.norm(fwd)
        lo = max(i_s - int(round(_LEAN_SEARCH_S * fs)), i_up)
        seg = g[lo : k + 1]
        pitch = np.degrees(np.arctan2(seg @ fwd, seg @ ref))
        rate = np.gradient(pitch) * fs
        # the lean is the rise that ends at its peak (not a bump of the turn)
        falling = np.flatnonzero(rate[:-1] <= 0.0)
        r0 = int(falling[-1]) if falling.size else 0
        kr = r0 + int(np.argmax(rate[r0:]))  # the fastest forward lean
        thr = frac * float(rate[kr])
        below = np.flatnonzero(rate[:kr] <= thr)
        if below.size:
            r = int(below[-1])
            # back over the apparent backward tilt of the lean's first acceleration
            while r > 0 and rate[r - 1] < -thr:
                r -= 1
            start = lo + r
        else:
            start = i_s
        return dataclasses.replace(sit, start_s=float(t[start]))

    def _acc_turns(
        self, sig: TransitionSignals, rise: Transition, sit: Transition
    ) -> list[tuple[float, float]]:
        """The two turns from the sizes of the steps (no gyroscope); see the module notes."""
        t, fs = sig.time_s, sig.fs_hz
        i0, i1 = (int(i) for i in np.searchsorted(t, [rise.end_s, sit.start_s]))
        hi = min(_STEP_BAND_HZ[1], 0.4 * fs)
        band = highpass_zero_phase(
            lowpass_zero_phase(sig.vertical_acc_mps2, fs, cutoff_hz=hi),
            fs,
            cutoff_hz=_STEP_BAND_HZ[0],
        )[i0:i1]
        peaks, _ = signal.find_peaks(band, distance=max(int(round(_MIN_STEP_S * fs)), 1))
        peaks = peaks[band[peaks] > 0]  # a foot contact pushes the trunk up
        size = band[peaks]
        fit = _segment_steps(size)
        if fit is None:
            return []
        i, j, k = fit
        walking = np.concatenate((size[:i], size[j:k]))
        if float(size[i:j].mean()) > _TURN_STEP_FRACTION * float(walking.mean()):
            return []  # the steps never shorten: no turn to see
        tp = t[i0 + peaks]
        period = float(np.median(np.concatenate((np.diff(tp[:i]), np.diff(tp[j:k])))))
        half = 0.5 * period
        return [
            (float(tp[i - 1] + half), float(tp[j] - half)),
            (float(tp[k - 1] + half), float(sit.start_s)),
        ]

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
