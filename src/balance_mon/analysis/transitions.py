"""Sit-to-stand and stand-to-sit transitions from one trunk accelerometer.

:class:`TransitionDetector` finds postural transitions in a recording from a
sensor on the lower back or the sternum, whatever its orientation on the body.
It follows the published approach of Adamowicz et al. 2020 (Sensors 20:6618,
doi:10.3390/s20226618; implemented in scikit-digital-health ``skdh.sit2stand``):
the acceleration along the gravity direction is integrated to vertical
velocity and position, with the integration drift removed between two moments
when the trunk is known to be at rest, and a transfer must reach a peak
vertical velocity of at least 0.2 m/s, rise or drop more than 0.125 m and last
less than 4.5 s. Unlike that method it finds both directions (the sign of the
vertical displacement tells rising from lowering), needs no long stillness
around a transfer (so the back-to-back transfers of a 30 s chair stand and the
sit-to-walk of a Timed Up and Go are found), and times each transfer from the
trunk's own movement (the forward lean that starts every transfer), not from
the velocity alone.

Pipeline, for every gap-free stretch of the recording (dsp.gaps; nothing is
filtered or integrated across a gap), processed in overlapping blocks so that
a day-long recording needs little memory:

1. **Vertical acceleration.** Gravity direction ``g_hat`` is the acceleration
   low-passed at ``gravity_cutoff_hz`` (0.8 Hz, Adamowicz 2020) and normalised;
   the vertical specific force is the ``lowpass_hz`` (5 Hz, Adamowicz 2020)
   low-passed acceleration projected on it. No axis mapping is needed.
2. **Candidates.** The vertical acceleration, integrated and high-passed at
   ``highpass_hz``, gives a drift-free (but slightly distorted) vertical
   velocity. Each of its lobes between zero crossings whose peak and
   integral (displacement) are large enough is a candidate
   (``candidate_fraction`` of the final thresholds, to allow for the
   high-pass distortion). Walking steps (3-5 cm) rarely qualify, and never
   survive the checks of step 6.
3. **Rest on either side.** Within ``search_s`` of the candidate's lobe, the
   last sample before and the first after its peak where the trunk is at
   rest: vertical acceleration, 3-axis jerk and (gyroscope) rotation rate
   below ``onset_fraction`` of the transfer's own peaks (with floors), and
   the high-passed velocity small. The transfer's own peaks are those of the
   candidate's lobe and of its faster neighbour (the main lobe when the
   candidate is a counter-movement): not those of the whole window, whose
   walking or turning next to a slow transfer raised the thresholds above
   the slow lean itself, so that a moment inside the lean passed for rest.
   Without a gyroscope the rest before a transfer must also last
   ``min_still_s`` (the jerk of a slow lean can dip below its floor for a
   few hundredths of a second), and held stillness just after a brief one is
   preferred as the rest after it (:meth:`_held`); with a gyroscope the
   measured rotation rules such lulls out, and a rest may rotate by up to
   ``_ANCHOR_ROT_DPS`` (it anchors the integration, which needs zero
   vertical velocity, not complete stillness). A transfer that follows the
   previous one within ``_CHAIN_GAP_S`` (a brisk chair stand with no pause)
   starts from where that one ended, if it has a rest after it. Walking
   integrated from a pause or through a quiet turn produced most of the
   false transfers of the development runs: the span (the lobe and the
   fastest lobe within ``_NEIGHBOUR_S``) sets the peaks and where the
   velocity peak is looked for.
4. **Drift-free integration.** Between two rest samples the vertical velocity
   is zero at both, so the vertical acceleration is integrated between them
   and the linear drift removed (the "drift removal between still periods" of
   Adamowicz 2020). With rest on one side only (walking or turning straight
   into a chair, walking off after rising) it is integrated away from that
   side after removing the resting offset, up to where the transfer stops
   (see :func:`_first_stop`); the gait beyond is not trusted (its
   accelerometer-only vertical acceleration is biased by 0.1-0.3 m/s^2:
   the gravity estimate follows the steps' horizontal accelerations), except
   that its vertical velocity averages zero over a stride, which fixes the
   drift of the transfer itself (``_GAIT_WINDOW_S``).
5. **Timing.** The transfer runs between the last and first moments around
   its velocity peak when vertical speed, vertical acceleration and rotation
   (gyroscope tilt rate, else 3-axis jerk: a lean rotates gravity's
   projection) all stay below ``onset_fraction`` of their peaks for
   ``min_still_s``, looked for within ``settle_s`` of where the speed drops
   and not past another transfer the other way; where the trunk never
   settles (a turn just before sitting), the least active moment there.
   The trunk flexes forward 20-45 deg before the pelvis leaves the seat
   (Schenkman et al. 1990, Clin Biomech 5:83), so the start is the onset of
   the lean, as a clinician times it, not the seat-off. Without a gyroscope,
   next to a rest the search reaches back to (on to) that rest and a quiet
   moment counts only within ``min_tilt_deg`` of the resting posture (a
   moment tilted by the least lean of a transfer is inside the lean): a slow
   lean (a 2-3 s rise) can look still to an accelerometer for a while when
   already tilted, and start more than ``settle_s`` before the pelvis
   moves. The peak vertical velocity and the displacement are
   read from the drift-free velocity.
6. **Checks.** A transfer needs peak vertical speed >= ``min_velocity_mps``
   (0.2 m/s), displacement >= ``min_rise_m`` (0.125 m), duration between
   ``min_duration_s`` and ``max_duration_s`` (4.5 s), all from Adamowicz 2020,
   a trunk inclination excursion of at least ``min_tilt_deg`` away from
   both the starting and the final posture (see its note), a posture change
   between start and end of at most ``max_posture_change_deg`` (sitting and
   standing are both upright; a span starting in a deep bend is not a
   transfer) and a vertical velocity that is one movement (at most
   ``_MAX_EXTREMA`` extrema: no steps inside). The sign of the displacement
   tells a sit-to-stand (up) from a stand-to-sit (down).

Version 1.1 (random simulated subjects, validated by bench/validate.py
section f): thresholds from the transfer's own peaks, one-sided integration
up to the stop with the gait's mean velocity as the second anchor, the
counter-movement rule of :func:`_other_transfers`, the posture and
one-movement checks. Version 1.0 missed the sit after a turn or the rise
before walking in 10 of 64 random-subject TUGs and started slow rises up to
0.8 s late without a gyroscope.

Limitations: a squat without a seat, jumping and lifting the body onto a
step with a forward lean look like transfers to a trunk sensor; lying down and
getting up are not modelled; transfers closer than about 0.2 s to a gap or to
the end of the recording are not reported (their integration window is cut).
Without a gyroscope the slowest part of a lean (under about 6 deg/s, the jerk
floor) is invisible, so slow transfers start up to about 0.3 s late and end
up to about 0.2 s early (TUGs of random simulated subjects, docs/transitions.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..consts import GRAVITY_MPS2
from ..dsp.filters import highpass_zero_phase, lowpass_zero_phase
from ..dsp.gaps import uniform_segments
from ..dsp.runs import run_bounds
from ..dsp.runs import true_runs as _runs
from ..errors import RecordingError
from ..recording import Recording

__all__ = ["KINDS", "Transition", "TransitionDetector", "TransitionSignals"]

FloatArray = NDArray[np.float64]

#: The two kinds of transition, in the order of the JSON blocks.
KINDS = ("sit_to_stand", "stand_to_sit")

#: Floors of the stillness thresholds: a seated or standing person's trunk
#: acceleration (breathing, sway) stays within about 0.05 m/s^2 and its jerk
#: within about 0.5 m/s^3 (5 Hz low-pass); twice that still counts as still.
_ACC_FLOOR_MPS2 = 0.1
_JERK_FLOOR_MPS3 = 1.0

#: With a gyroscope, a rest that anchors the integration may still rotate by
#: up to this much (or ``onset_fraction`` of the transfer's peak rotation): the
#: integration needs zero vertical velocity, not complete stillness. A trunk
#: turning at 10 deg/s about the hips moves a sensor 0.1-0.45 m above them at
#: 0.02-0.08 m/s, mostly horizontally while upright; right after a hard
#: landing on a seat the trunk settles back at about that rate (9.5 deg/s in
#: the mobgap daily-living recording at 52.5 s, the only quiet moment there).
_ANCHOR_ROT_DPS = 10.0

#: A transfer that starts within this of the previous one's end (a brisk
#: chair stand with no pause; less than a walking step) is integrated from that
#: end: the vertical velocity passes through zero between a rise and a sit.
_CHAIN_GAP_S = 0.5

#: With rest on one side only, the transfer's velocity peak is looked for in the
#: candidate's lobe and this much either side (the high-pass shifts the lobe's
#: edges by a fraction of a second).
_PEAK_TOL_S = 0.25

#: A candidate lobe's span takes in the fastest lobe within this of its ends:
#: the high-pass splits a transfer's velocity pulse into a main lobe, small
#: over- and undershoots (a zero-phase filter rings on both sides) and the
#: sensor's own counter-movements, all within a few tenths of a second.
_NEIGHBOUR_S = 0.5

#: The resting posture: the mean gravity direction over this much of the rest.
_POSTURE_HOLD_S = 0.3

#: One transfer is one movement: its vertical velocity has one main extremum,
#: with at most a counter-movement on each side (a sternum sensor dips as the
#: trunk leans before rising and rises as it straightens after sitting) and a
#: rebound on landing, so at most this many extrema whose prominence exceeds
#: ``_EXTREMUM_PROMINENCE`` of the peak speed. Walking or turning steps inside
#: the span add two per step: the trunk rises and falls 2-5 cm each step
#: (Zijlstra & Hof 2003), +/- 0.1-0.3 m/s, a fifth or more of the slow
#: transfers' 0.2-0.6 m/s peaks that a drifting integration through the
#: gait could fake.
_MAX_EXTREMA = 4
_EXTREMUM_PROMINENCE = 0.2

#: A still sample's high-passed vertical velocity is below this fraction of
#: the candidate's peak: the high-pass leaves over- and undershoots of up to
#: about a fifth of a transfer's peak around it, so the bound is loose.
_STILL_VELOCITY_FRACTION = 0.3

#: A movement the other way whose vertical velocity exceeds this fraction of a
#: transfer's peak and whose displacement exceeds ``_OTHER_TRANSFER_M`` and half
#: the transfer's own may be another transfer (a brisk chair stand's next rise
#: or sit); :func:`_other_transfers` also requires the two to cancel.
_OTHER_TRANSFER_FRACTION = 0.6
_OTHER_TRANSFER_M = 0.1


@dataclass(frozen=True)
class Transition:
    """One postural transition.

    Attributes
    ----------
    kind : ``"sit_to_stand"`` or ``"stand_to_sit"``.
    start_s, end_s : onset and end of the movement (trunk lean onset to still).
    peak_s : time of the peak vertical velocity.
    peak_velocity_mps : peak vertical speed, m/s, always positive (upwards for
        a sit-to-stand, downwards for a stand-to-sit).
    displacement_m : vertical displacement of the sensor, m (positive up).
    tilt_deg : largest trunk inclination away from both the starting and the
        final posture during the transfer, degrees.
    fs_hz : rate of ``position_m``.
    position_m : vertical position of the sensor from ``start_s`` on, one value
        per sample at ``fs_hz`` (0 at the start), for partial-transfer scoring.
    """

    kind: str
    start_s: float
    end_s: float
    peak_s: float
    peak_velocity_mps: float
    displacement_m: float
    tilt_deg: float
    fs_hz: float = field(repr=False)
    position_m: tuple[float, ...] = field(repr=False)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def fraction_at(self, time_s: float) -> float:
        """Fraction (0-1) of this transfer's vertical displacement reached at ``time_s``."""
        if time_s <= self.start_s:
            return 0.0
        if time_s >= self.end_s or self.displacement_m == 0:
            return 1.0
        p = np.asarray(self.position_m)
        x = (time_s - self.start_s) * self.fs_hz
        z = float(np.interp(x, np.arange(p.size), p))
        return float(min(max(z / self.displacement_m, 0.0), 1.0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "duration_s": self.duration_s,
            "peak_velocity_mps": self.peak_velocity_mps,
            "peak_s": self.peak_s,
            "displacement_m": self.displacement_m,
            "tilt_deg": self.tilt_deg,
        }


@dataclass(frozen=True)
class TransitionSignals:
    """The intermediate signals of one stretch, for the TUG phases and for plots.

    ``time_s`` is uniform at ``fs_hz``; ``gravity`` the unit gravity
    direction in the sensor frame (``gravity_cutoff_hz`` low-pass);
    ``tilt_gravity`` the same at ``tilt_cutoff_hz`` (follows the trunk lean);
    ``vertical_acc_mps2`` the vertical linear acceleration (less its resting
    offset: the median over the samples whose jerk is below the floor, taken
    every 0.1 s, at least a second of them, else over all); ``jerk_mps3`` the
    magnitude of the derivative of the (low-passed) 3-axis acceleration, which
    any trunk rotation (through gravity's projection) or change of linear
    acceleration raises; ``velocity_mps``
    the high-passed vertical velocity; ``tilt_rate_dps`` the trunk tilt rate;
    ``tilt_vector_dps`` the gyroscope's rotation rate about horizontal axes
    (sensor frame) and ``yaw_rate_dps`` the one about the vertical (both None
    without a gyroscope; the gyroscope less its median over the same quiet
    samples, its offset).
    """

    time_s: FloatArray
    fs_hz: float
    gravity: FloatArray
    tilt_gravity: FloatArray
    vertical_acc_mps2: FloatArray
    jerk_mps3: FloatArray
    velocity_mps: FloatArray
    tilt_rate_dps: FloatArray
    tilt_vector_dps: FloatArray | None
    yaw_rate_dps: FloatArray | None


def _angle_deg(a: FloatArray, b: FloatArray) -> FloatArray:
    """Angle between unit vectors (rows of ``a`` and the vector ``b``), degrees."""
    return np.degrees(np.arccos(np.clip(a @ b, -1.0, 1.0)))


def _cumtrapz(x: FloatArray, fs: float) -> FloatArray:
    """Cumulative trapezoidal integral starting at 0."""
    return np.concatenate(([0.0], np.cumsum(0.5 * (x[1:] + x[:-1])) / fs))


def _cumtrapz_rows(x: FloatArray, fs: float) -> FloatArray:
    """Cumulative trapezoidal integral of each column, starting at 0."""
    out = np.zeros_like(x)
    out[1:] = np.cumsum(0.5 * (x[1:] + x[:-1]), axis=0) / fs
    return out


def _drop_short_runs(mask: NDArray[np.bool_], min_len: int) -> NDArray[np.bool_]:
    """``mask`` with its runs of True shorter than ``min_len`` samples set to False."""
    if min_len <= 1:
        return mask
    out = mask.copy()
    for a, b in _runs(mask):
        if b - a < min_len:
            out[a:b] = False
    return out


def _other_transfers(v: FloatArray, kpk: int, fs: float, min_rise_m: float) -> NDArray[np.bool_]:
    """Samples of velocity lobes the other way from ``v[kpk]`` that are transfers themselves.

    Besides its speed and size (``_OTHER_TRANSFER_FRACTION``,
    ``_OTHER_TRANSFER_M``), a transfer the other way must bring the sensor
    back: from the start of the earlier of the two to the end of the later
    the height changes by less than ``min_rise_m`` (two transfers return to
    the same posture). A lobe that does not is this transfer's own
    counter-movement: a sternum sensor drops by r (1 - cos theta) as the
    trunk leans before rising, up to about 0.2 m for a 55 deg lean at
    r = 0.45 m above the hips, and rises as much as the trunk straightens
    after sitting down, but the posture still changes by the pelvis'
    0.2-0.45 m.
    """
    sgn = 1.0 if v[kpk] > 0 else -1.0
    same = sgn * v > 0
    # displacement of this transfer's own velocity lobe
    a0 = kpk - int(np.argmin(same[kpk::-1])) if not same[: kpk + 1].all() else 0
    b0 = kpk + int(np.argmin(same[kpk:])) if not same[kpk:].all() else v.size
    own = float(np.sum(sgn * v[a0:b0])) / fs
    out = np.zeros(v.size, dtype=bool)
    starts, stops = run_bounds(~same)
    if starts.size == 0:
        return out
    vpk = abs(float(v[kpk]))
    peaks = np.maximum.reduceat(-sgn * v, starts)
    csum = np.concatenate(([0.0], np.cumsum(v))) / fs
    for i in np.flatnonzero(peaks > _OTHER_TRANSFER_FRACTION * vpk).tolist():
        a, b = int(starts[i]), int(stops[i])
        size = -sgn * float(csum[b] - csum[a])
        net = float(csum[b0] - csum[a]) if a < a0 else float(csum[b] - csum[a0])
        if size > max(_OTHER_TRANSFER_M, 0.5 * own) and abs(net) < min_rise_m:
            out[a:b] = True
    return out


#: Drift removal of a transfer with rest on one side only: the vertical velocity
#: of the gait (or stance) on the other side averages zero over this window,
#: about a stride (1-1.3 s at 90-120 steps/min), over which the step-periodic
#: vertical oscillation (Zijlstra & Hof 2003) largely cancels.
_GAIT_WINDOW_S = 1.0

#: A transfer integrated from one rest stops at a trough of its speed below
#: this fraction of the peak: the pelvis has reached its new height and the
#: gait began (the speed of a single smooth movement falls monotonically from
#: its peak; the drift accumulated during the transfer, up to about 15 % of the
#: peak in the simulated sessions, keeps it from reaching zero).
_STOP_TROUGH_FRACTION = 0.5


def _first_stop(x: FloatArray, frac: float, trough: bool = True) -> int | None:
    """First index after 0 where ``x`` (a speed from its peak at 0 on) has stopped.

    Stopped: fallen to ``frac`` of the peak, or (``trough``) a local minimum
    below ``_STOP_TROUGH_FRACTION`` of the peak (the movement ended and
    another one, a step, began).
    """
    pk = float(x[0])
    if x.size < 3:
        return None
    low = np.flatnonzero(x[1:] <= frac * pk)
    j_low = int(low[0]) + 1 if low.size else x.size
    mid = x[1:-1]
    mins = np.flatnonzero((mid <= x[:-2]) & (mid < x[2:]) & (mid < _STOP_TROUGH_FRACTION * pk))
    j_min = int(mins[0]) + 1 if mins.size and trough else x.size
    j = min(j_low, j_min)
    return None if j >= x.size else j


def _n_extrema(v: FloatArray, prominence: float) -> int:
    """Number of local maxima and minima of ``v`` once swings smaller than
    ``prominence`` are ignored (a zigzag filter; the ends do not count).

    With ``_MAX_EXTREMA`` turning points or fewer, their number (an upper
    bound, enough for the check and cheaper).
    """
    nz = np.flatnonzero(np.diff(v) != 0)
    if nz.size == 0:
        return 0
    d = np.sign(np.diff(v)[nz])
    turns = nz[np.flatnonzero(d[1:] != d[:-1]) + 1]
    if turns.size <= _MAX_EXTREMA:  # never more extrema than turning points
        return int(turns.size)
    pts = v[np.concatenate((turns, [v.size - 1]))].tolist()  # turning points, end
    count, state = 0, 0
    lo = hi = ext = float(v[0])
    for x in pts:
        if state == 0:  # direction not yet known
            lo, hi = min(lo, x), max(hi, x)
            if hi - lo >= prominence:
                state, ext = (1 if x == hi else -1), x
        elif state * (x - ext) > 0:  # further the same way
            ext = x
        elif abs(x - ext) >= prominence:  # a turn
            count += 1
            state, ext = -state, x
    return count


def _unit(x: FloatArray) -> FloatArray:
    n = np.linalg.norm(x, axis=1)
    n[n == 0] = 1.0
    return x / n[:, None]


class TransitionDetector:
    """Find sit-to-stand and stand-to-sit transitions (trunk sensor, any orientation).

    Parameters
    ----------
    lowpass_hz : low-pass of the acceleration before projection (default 5 Hz,
        Adamowicz 2020; capped at 0.4 x the sampling rate).
    gravity_cutoff_hz : low-pass giving the gravity direction (default 0.8 Hz,
        Adamowicz 2020; lower cut-offs lag behind the 20-45 deg trunk lean,
        higher ones let the transfer's own horizontal acceleration tilt it).
    tilt_cutoff_hz : low-pass of the rotation signals (gyroscope, and the
        gravity direction used for the inclination; default 2 Hz: a trunk lean
        lasting 0.3-1 s keeps its shape while the 0.15-0.3 s pauses between
        the transfers of a brisk chair stand stay visible; 1.5 Hz merged them
        at 25 Hz, 3 Hz let the jolt of a hard landing on a seat hide the rest
        before it).
    highpass_hz : high-pass of the candidate vertical velocity (default 0.2 Hz:
        removes integration drift within 1-2 s while keeping most of a
        0.6-4.5 s transfer's velocity pulse).
    min_velocity_mps : least peak vertical speed of a transfer (0.2 m/s,
        Adamowicz 2020).
    min_rise_m : least vertical displacement (0.125 m, Adamowicz 2020; the
        pelvis rises 0.25-0.45 m from a 43-46 cm seat, walking moves it 3-5 cm).
    min_duration_s, max_duration_s : plausible duration (0.5 s, the fastest
        healthy rise, Schenkman 1990 report 1-2 s; 4.5 s, Adamowicz 2020).
    min_tilt_deg : least trunk inclination away from both the starting and the
        final posture (default 8 deg). Physical reasoning: every sit-to-stand
        and stand-to-sit moves the trunk's centre of mass over the feet by a
        forward lean (30-45 deg at the thorax, about half of it at the pelvis,
        Schenkman 1990); walking pitches the trunk by 2-4 deg and stair steps
        by 5-8 deg, so 8 deg rejects stairs and hops with a wide margin while
        keeping transfers with a lean of 15 deg or more at the pelvis.
    onset_fraction : fraction of the local peaks (vertical speed, vertical
        acceleration, jerk, rotation rate) below which the trunk counts as
        still (default 0.1: a smooth movement reaches 10 % of its peak speed
        about 9 % into its duration, so the onset is found 0.05-0.1 s late).
    tilt_rate_floor_dps : the still threshold never goes below this (default
        2 deg/s, above the tilt-rate noise of an accelerometer-only estimate).
    max_posture_change_deg : largest angle between the trunk's posture at the
        start and at the end (default 60 deg). Sitting and standing are both
        upright: sitting back against a backrest reclines the trunk by up to
        about 40 deg (21-42 deg in the real recordings of the tests), while a
        span that starts inside a deep forward bend (70-90 deg of flexion,
        as in the mobgap daily-living recording) is the return from the bend.
    search_s : how far before and after the velocity lobe rest is looked for
        (default 2 s: the lean precedes seat-off by 0.3-0.8 s in healthy
        adults, Schenkman 1990, and by up to 1.2 s in a 3 s rise; after a
        slow sit the trunk straightens for up to 1.5 s after the velocity
        lobe; a wider window lets rests found during walking or turning
        anchor more integrations through the gait).
    min_still_s : shortest stillness that ends or starts a transfer (default
        0.08 s, at least 2 samples; shorter quiet moments are chance crossings
        of all thresholds inside one movement, while even a brisk 30 s chair
        stand pauses 0.15-0.3 s seated and standing).
    settle_s : how long after the vertical speed has dropped (and before it
        rises) the trunk may take to settle (default 1 s: the trunk goes on
        straightening after the pelvis has stopped rising).
    candidate_fraction : fraction of ``min_velocity_mps`` and ``min_rise_m``
        that a high-passed velocity lobe needs to become a candidate
        (default 0.6; the high-pass shrinks a slow transfer's pulse by up to
        about a quarter).
    use_gyro : use the gyroscope for the tilt rate when present (default True).
    block_s, overlap_s : long stretches are processed in blocks of ``block_s``
        with ``overlap_s`` of context on each side (default 600 s and 20 s);
        results do not depend on them except within filter transients.

    Attributes
    ----------
    transitions_ : list of :class:`Transition`, in time order.
    sit_to_stand_, stand_to_sit_ : the same split by kind.
    analysed_s_ : total duration of the gap-free stretches analysed.
    segments_ : number of gap-free stretches analysed.
    """

    version = "1.1"

    def __init__(
        self,
        *,
        lowpass_hz: float = 5.0,
        gravity_cutoff_hz: float = 0.8,
        tilt_cutoff_hz: float = 2.0,
        highpass_hz: float = 0.2,
        min_velocity_mps: float = 0.2,
        min_rise_m: float = 0.125,
        min_duration_s: float = 0.5,
        max_duration_s: float = 4.5,
        min_tilt_deg: float = 8.0,
        max_posture_change_deg: float = 60.0,
        onset_fraction: float = 0.1,
        tilt_rate_floor_dps: float = 2.0,
        search_s: float = 2.0,
        min_still_s: float = 0.08,
        settle_s: float = 1.0,
        candidate_fraction: float = 0.6,
        use_gyro: bool = True,
        block_s: float = 600.0,
        overlap_s: float = 20.0,
    ) -> None:
        self.lowpass_hz = lowpass_hz
        self.gravity_cutoff_hz = gravity_cutoff_hz
        self.tilt_cutoff_hz = tilt_cutoff_hz
        self.highpass_hz = highpass_hz
        self.min_velocity_mps = min_velocity_mps
        self.min_rise_m = min_rise_m
        self.min_duration_s = min_duration_s
        self.max_duration_s = max_duration_s
        self.min_tilt_deg = min_tilt_deg
        self.max_posture_change_deg = max_posture_change_deg
        self.onset_fraction = onset_fraction
        self.tilt_rate_floor_dps = tilt_rate_floor_dps
        self.search_s = search_s
        self.min_still_s = min_still_s
        self.settle_s = settle_s
        self.candidate_fraction = candidate_fraction
        self.use_gyro = use_gyro
        self.block_s = block_s
        self.overlap_s = overlap_s

    def get_params(self) -> dict[str, Any]:
        return {
            k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")
        }

    # -- public actions -------------------------------------------------------

    def detect(
        self,
        acc_mps2: ArrayLike,
        fs_hz: float,
        *,
        gyr_dps: ArrayLike | None = None,
        t0_s: float = 0.0,
    ) -> TransitionDetector:
        """Find transitions in evenly sampled (N, 3) acceleration at ``fs_hz``."""
        acc, gyr, fs = self._check(acc_mps2, gyr_dps, fs_hz)
        self.transitions_ = self._detect_stretch(acc, gyr, fs, float(t0_s))
        self.analysed_s_ = acc.shape[0] / fs
        self.segments_ = 1
        self._split()
        return self

    def detect_recording(self, rec: Recording) -> TransitionDetector:
        """Find transitions in every gap-free stretch of a recording."""
        found: list[Transition] = []
        analysed = 0.0
        segs = uniform_segments(rec)
        for seg in segs:
            acc, gyr, fs = self._check(seg.acc_mps2, seg.gyr_dps, seg.fs_hz)
            found += self._detect_stretch(acc, gyr, fs, seg.t0_s)
            analysed += seg.duration_s
        self.transitions_ = found
        self.analysed_s_ = analysed
        self.segments_ = len(segs)
        self._split()
        return self

    def result(self) -> dict[str, Any]:
        """The ``sit_to_stand`` and ``stand_to_sit`` JSON blocks plus provenance."""
        return {
            "sit_to_stand": {
                "count": len(self.sit_to_stand_),
                "events": [t.as_dict() for t in self.sit_to_stand_],
            },
            "stand_to_sit": {
                "count": len(self.stand_to_sit_),
                "events": [t.as_dict() for t in self.stand_to_sit_],
            },
            "transitions_info": {
                "analysed_s": self.analysed_s_,
                "segments": self.segments_,
                "algorithm": {
                    "name": "TransitionDetector",
                    "version": self.version,
                    **self.get_params(),
                },
            },
        }

    def signals(
        self,
        acc_mps2: ArrayLike,
        fs_hz: float,
        *,
        gyr_dps: ArrayLike | None = None,
        t0_s: float = 0.0,
    ) -> TransitionSignals:
        """The intermediate signals of one evenly sampled stretch (nothing is stored)."""
        acc, gyr, fs = self._check(acc_mps2, gyr_dps, fs_hz)
        return self._signals(acc, gyr, fs, float(t0_s))

    # -- internals ------------------------------------------------------------

    def _split(self) -> None:
        self.transitions_.sort(key=lambda t: t.start_s)
        self.sit_to_stand_ = [t for t in self.transitions_ if t.kind == "sit_to_stand"]
        self.stand_to_sit_ = [t for t in self.transitions_ if t.kind == "stand_to_sit"]

    def _check(self, acc_mps2, gyr_dps, fs_hz) -> tuple[FloatArray, FloatArray | None, float]:
        acc = np.asarray(acc_mps2, dtype=np.float64)
        if acc.ndim != 2 or acc.shape[1] != 3:
            raise RecordingError("transition detection needs (N, 3) acceleration")
        gyr = None
        if gyr_dps is not None and self.use_gyro:
            gyr = np.asarray(gyr_dps, dtype=np.float64)
            if gyr.shape != acc.shape:
                raise RecordingError("transition detection: gyroscope and accelerometer differ")
        fs = float(fs_hz)
        if not (math.isfinite(fs) and fs > 0):
            raise RecordingError(f"transition detection: sampling rate must be positive, got {fs}")
        if not (np.all(np.isfinite(acc)) and (gyr is None or np.all(np.isfinite(gyr)))):
            raise RecordingError("transition detection: the signals contain NaN or infinite values")
        return acc, gyr, fs

    def _min_samples(self, fs: float) -> int:
        # shortest stretch worth analysing: one shortest transfer with still ends
        return max(int(math.ceil((self.min_duration_s + 1.0) * fs)), 16)

    def _detect_stretch(
        self, acc: FloatArray, gyr: FloatArray | None, fs: float, t0: float
    ) -> list[Transition]:
        n = acc.shape[0]
        if n < self._min_samples(fs):
            return []
        block = max(int(round(self.block_s * fs)), 1)
        over = int(round(self.overlap_s * fs))
        if n <= block + 2 * over:
            return self._detect_block(acc, gyr, fs, t0, 0, n, n)
        out: list[Transition] = []
        for core0 in range(0, n, block):
            core1 = min(core0 + block, n)
            a, b = max(core0 - over, 0), min(core1 + over, n)
            out += self._detect_block(
                acc[a:b],
                None if gyr is None else gyr[a:b],
                fs,
                t0 + a / fs,
                core0 - a,
                core1 - a,
                n - a,
            )
        return out

    def _signals(
        self, acc: FloatArray, gyr: FloatArray | None, fs: float, t0: float
    ) -> TransitionSignals:
        n = acc.shape[0]
        cut = min(self.lowpass_hz, 0.4 * fs)
        acc_f = lowpass_zero_phase(acc, fs, cutoff_hz=cut)
        g_hat = _unit(lowpass_zero_phase(acc, fs, cutoff_hz=min(self.gravity_cutoff_hz, 0.4 * fs)))
        a_v = np.einsum("ij,ij->i", acc_f, g_hat) - GRAVITY_MPS2
        jerk = np.linalg.norm(np.gradient(acc_f, axis=0), axis=1) * fs
        # the resting offset (accelerometer bias and scale error, 0.1-0.3 m/s^2
        # for a consumer sensor) from the quiet samples, so that rest reads 0
        # (medians of every 0.1 s: the offsets drift slowly, and it is cheaper)
        step = max(int(fs / 10), 1)
        quiet = jerk <= _JERK_FLOOR_MPS3
        sub = quiet[::step]
        enough = np.count_nonzero(sub) * step >= fs
        rest = a_v[::step][sub] if enough else a_v[::step]
        a_v = a_v - float(np.median(rest))
        vel = np.cumsum(a_v) / fs
        vel = highpass_zero_phase(vel, fs, cutoff_hz=min(self.highpass_hz, 0.4 * fs), order=2)
        tcut = min(self.tilt_cutoff_hz, 0.4 * fs)
        yaw = tilt_vec = None
        g_fast = _unit(lowpass_zero_phase(acc, fs, cutoff_hz=tcut))
        if gyr is not None:
            # the gyroscope's offset (0.5-3 deg/s for a consumer sensor) from the
            # same quiet samples: a trunk at rest does not rotate
            if enough:
                gyr = gyr - np.median(gyr[::step][sub], axis=0)
            w = lowpass_zero_phase(gyr, fs, cutoff_hz=tcut)
            w_v = np.einsum("ij,ij->i", w, g_hat)
            tilt_vec = w - w_v[:, None] * g_hat
            tilt = np.linalg.norm(tilt_vec, axis=1)
            yaw = w_v
        else:
            d = np.gradient(g_fast, axis=0) * fs
            tilt = np.degrees(np.linalg.norm(d, axis=1))
        time = t0 + np.arange(n) / fs
        return TransitionSignals(
            time_s=time,
            fs_hz=fs,
            gravity=g_hat,
            tilt_gravity=g_fast,
            vertical_acc_mps2=a_v,
            jerk_mps3=jerk,
            velocity_mps=vel,
            tilt_rate_dps=tilt,
            tilt_vector_dps=tilt_vec,
            yaw_rate_dps=yaw,
        )

    def _candidates(self, vel: FloatArray, fs: float) -> list[tuple[int, int, int, int, int]]:
        """Lobes of the high-passed velocity worth a closer look.

        Each as (start, stop, peak index, start, stop of the transfer's
        span): the span is the lobe and, if faster, its neighbour (a sternum
        sensor's dip as the trunk leans before rising is a lobe of its own,
        the rise is its neighbour), the transfer whose own peaks set the
        stillness thresholds (:meth:`_still`).
        """
        n = vel.size
        s = np.signbit(vel)
        zc = np.flatnonzero(s[1:] != s[:-1]) + 1
        bounds = np.concatenate(([0], zc, [n]))
        starts, stops = bounds[:-1], bounds[1:]
        keep = stops > starts
        starts, stops = starts[keep], stops[keep]
        if starts.size == 0:
            return []
        absv = np.abs(vel)
        peak_v = np.maximum.reduceat(absv, starts)
        csum = np.concatenate(([0.0], np.cumsum(vel))) / fs
        disp = np.abs(csum[stops] - csum[starts])
        f = self.candidate_fraction
        ok = (
            (peak_v >= f * self.min_velocity_mps)
            & (disp >= f * self.min_rise_m)
            & ((stops - starts) <= self.max_duration_s * fs)
        )
        out = []
        near = int(round(_NEIGHBOUR_S * fs))
        for i in np.flatnonzero(ok).tolist():
            a, b = int(starts[i]), int(stops[i])
            k = a + int(np.argmax(absv[a:b]))
            # the fastest lobe that starts or ends within _NEIGHBOUR_S of this one
            j0 = int(np.searchsorted(stops, a - near, side="left"))
            j1 = int(np.searchsorted(starts, b + near, side="right"))
            m = j0 + int(np.argmax(peak_v[j0:j1]))
            out.append((a, b, k, min(a, int(starts[m])), max(b, int(stops[m]))))
        return out

    def _detect_block(
        self,
        acc: FloatArray,
        gyr: FloatArray | None,
        fs: float,
        t0: float,
        core0: int,
        core1: int,
        n_total: int,
    ) -> list[Transition]:
        """Transitions whose velocity peak lies in ``[core0, core1)`` of this block."""
        sig = self._signals(acc, gyr, fs, t0)
        n = acc.shape[0]
        at_stretch_end = n == n_total
        cands = self._candidates(sig.velocity_mps, fs)
        g_tilt = sig.tilt_gravity
        ext = int(round(self.search_s * fs))
        gap = int(round(_CHAIN_GAP_S * fs))
        out: list[Transition] = []
        prev_end = 0
        for a, b, k, pa, pb in cands:
            lo = max(prev_end, a - ext, 0)
            hi = min(b + ext, n)
            if k <= lo or hi <= k + 1:
                continue
            still = self._still(sig, lo, hi, k, pa, pb)
            kk = k - lo
            before = np.flatnonzero(still[:kk])
            after = np.flatnonzero(still[kk:])
            if sig.yaw_rate_dps is None:
                before, after = self._held(sig, still, after, kk, k, pa, pb, fs)
            i0 = lo + int(before[-1]) if before.size else None
            i1 = k + int(after[0]) if after.size else None
            pseudo0 = i0 is None and i1 is not None and lo == prev_end > 0
            pseudo0 = pseudo0 and min(a, pa) - prev_end <= gap
            if pseudo0:
                i0 = prev_end  # the previous transfer ended right there, at rest speed
            if i0 is None and i1 is None:
                continue  # never still on either side: not a transfer between postures
            if (i0 is not None and i0 <= 0) or (i1 is not None and i1 >= n - 1 and at_stretch_end):
                continue  # cut by the start or end of the stretch
            ev = self._measure(sig, g_tilt, i0, i1, lo, a, b, pa, pb, fs, pseudo0)
            if ev is None or not ev.start_s <= sig.time_s[k] <= ev.end_s:
                continue  # nothing, or another transfer that has its own candidate
            prev_end = int(round((ev.end_s - t0) * fs))
            if core0 <= k < core1:
                out.append(ev)
        return out

    def _held(
        self,
        sig: TransitionSignals,
        still: NDArray[np.bool_],
        after: NDArray[np.intp],
        kk: int,
        k: int,
        a: int,
        b: int,
        fs: float,
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Without a gyroscope: rest before a transfer must be held, rest after may not.

        A slow lean can look still to an accelerometer for a few hundredths of
        a second (its jerk, about g times the tilt rate, dips below the floor
        while the vertical acceleration crosses zero), so the rest before a
        transfer must last ``min_still_s``; a brisk chair stand's pauses are
        too short for that and its transfers are chained instead (see
        ``_CHAIN_GAP_S``). After the transfer the first still moment is
        taken, unless held stillness follows within ``settle_s`` with the
        vertical velocity small in between (the trunk finishing a slow
        straightening), not another transfer.
        """
        m = max(int(math.ceil(self.min_still_s * fs)), 2)
        before = np.flatnonzero(_drop_short_runs(still[:kk], m))
        held = np.flatnonzero(_drop_short_runs(still[kk:], m))
        if after.size and held.size and held[0] > after[0]:
            jb, jh = k + int(after[0]), k + int(held[0])
            vmax = _STILL_VELOCITY_FRACTION * float(np.abs(sig.velocity_mps[a:b]).max())
            settle = int(round(self.settle_s * fs))
            if jh - jb <= settle and float(np.abs(sig.velocity_mps[jb:jh]).max()) <= vmax:
                after = held
        return before, after

    def _still(
        self, sig: TransitionSignals, lo: int, hi: int, k: int, a: int, b: int
    ) -> NDArray[np.bool_]:
        """Samples of [lo, hi) where the trunk is still.

        Still: vertical acceleration, 3-axis jerk and (with a gyroscope)
        rotation rate all below ``onset_fraction`` of their peaks over the
        transfer's span [a, b) (not over [lo, hi), where walking or turning
        may be faster than a slow transfer), with floors for the noise of a
        seated or standing person (``_ANCHOR_ROT_DPS`` for the rotation), and
        the high-passed vertical velocity below ``_STILL_VELOCITY_FRACTION``
        of its peak over the span (acceleration and jerk can cross zero
        together in the middle of a movement, the velocity there cannot be
        small). Without a gyroscope see :meth:`_held`.
        """
        frac = self.onset_fraction
        acc = np.abs(sig.vertical_acc_mps2[lo:hi])
        jerk = sig.jerk_mps3[lo:hi]
        acc_pk = float(np.abs(sig.vertical_acc_mps2[a:b]).max())
        jerk_pk = float(sig.jerk_mps3[a:b].max())
        still = (
            (acc <= max(frac * acc_pk, _ACC_FLOOR_MPS2))
            & (jerk <= max(frac * jerk_pk, _JERK_FLOOR_MPS3))
            & (
                np.abs(sig.velocity_mps[lo:hi])
                <= _STILL_VELOCITY_FRACTION * float(np.abs(sig.velocity_mps[a:b]).max())
            )
        )
        if sig.yaw_rate_dps is not None:  # rotation measured by the gyroscope
            rot = np.hypot(sig.tilt_rate_dps[lo:hi], sig.yaw_rate_dps[lo:hi])
            rot_pk = float(np.hypot(sig.tilt_rate_dps[a:b], sig.yaw_rate_dps[a:b]).max())
            return still & (rot <= max(frac * rot_pk, _ANCHOR_ROT_DPS))
        return still

    def _tilt_excursion(
        self, sig: TransitionSignals, g_hat: FloatArray, i0: int, i1: int, fs: float
    ) -> tuple[float, float]:
        """Trunk inclination during a transfer, degrees: (excursion, posture change).

        The excursion is the largest inclination away from both the posture
        before and after; the posture change the angle between those two.
        With a gyroscope, from the rotation about horizontal axes integrated
        from the start and to the end of the transfer (exact for a lean
        about one axis; free of the linear accelerations that make an
        accelerometer under-read a fast lean). Without, from the gravity
        direction and its mean over 0.5 s before the start and after the end.
        """
        if sig.tilt_vector_dps is not None:
            w = sig.tilt_vector_dps[i0 : i1 + 1]
            ang = _cumtrapz_rows(w, fs)
            from_start = np.linalg.norm(ang, axis=1)
            to_end = np.linalg.norm(ang[-1] - ang, axis=1)
            return float(np.max(np.minimum(from_start, to_end))), float(from_start[-1])
        m = max(int(round(0.5 * fs)), 1)
        pre = g_hat[max(i0 - m, 0) : i0 + 1].mean(axis=0)
        post = g_hat[i1 : i1 + m + 1].mean(axis=0)
        pre /= np.linalg.norm(pre)
        post /= np.linalg.norm(post)
        g = g_hat[i0 : i1 + 1]
        excursion = float(np.max(np.minimum(_angle_deg(g, pre), _angle_deg(g, post))))
        return excursion, float(_angle_deg(g[:1], g[-1])[0])

    def _settle(
        self,
        sig: TransitionSignals,
        v: FloatArray,
        kpk: int,
        e0: int,
        e1: int,
        fs: float,
        rests: tuple[int | None, int | None] = (None, None),
    ) -> tuple[int, int]:
        """Start and end of the transfer within [e0, e1] (indices relative to e0).

        Activity is the largest of the vertical speed, vertical acceleration
        and rotation (gyroscope tilt rate; without one, the 3-axis jerk, since
        a lean rotates gravity's projection) as fractions of their peaks in the
        window. The transfer runs between the last and the first moments
        around its velocity peak when activity stays below ``onset_fraction``
        for ``min_still_s`` (a momentary crossing happens inside a movement
        too), looked for within ``settle_s`` of where the vertical speed
        falls below ``onset_fraction`` of its peak. Where the trunk never
        settles there (a turn before sitting down, walking off after rising)
        the least active moment in that stretch is taken. This trims the
        turn or the steps and finds the lean's onset even when the
        accelerometer alone looked still inside it. ``rests``: the rest
        samples (absolute indices) before and after, or None; without a
        gyroscope the start (end) is then looked for back to (on to) the
        rest and must be within ``min_tilt_deg`` of its posture.
        """
        frac = self.onset_fraction
        vpk = abs(float(v[kpk]))
        acc = np.abs(sig.vertical_acc_mps2[e0 : e1 + 1])
        if sig.tilt_vector_dps is not None:
            rot, floor = sig.tilt_rate_dps[e0 : e1 + 1], self.tilt_rate_floor_dps
        else:
            rot, floor = sig.jerk_mps3[e0 : e1 + 1], _JERK_FLOOR_MPS3
        activity = np.maximum.reduce(
            [
                np.abs(v) / vpk,
                acc / max(float(acc.max()), _ACC_FLOOR_MPS2 / frac),
                rot / max(float(rot.max()), floor / frac),
            ]
        )
        m = max(int(math.ceil(self.min_still_s * fs)), 2)
        quiet = _drop_short_runs(activity <= frac, m)
        # next to a rest, the transfer starts (ends) where the trunk leaves
        # (reaches) the resting posture: a quiet moment already the least lean
        # away from it is a lull inside a slow lean
        g = sig.tilt_gravity[e0 : e1 + 1]
        hold = max(int(round(_POSTURE_HOLD_S * fs)), 1)
        q_start = q_end = quiet
        lull = sig.tilt_vector_dps is None  # accelerometer only: lulls inside a slow lean
        if not lull:
            rests = (None, None)
        if rests[0] is not None:
            ref = sig.tilt_gravity[max(rests[0] - hold, 0) : rests[0] + 1].mean(axis=0)
            near = _angle_deg(g, ref / np.linalg.norm(ref)) <= self.min_tilt_deg
            q_start = _drop_short_runs(quiet & near, m)
        if rests[1] is not None:
            ref = sig.tilt_gravity[rests[1] : rests[1] + hold + 1].mean(axis=0)
            near = _angle_deg(g, ref / np.linalg.norm(ref)) <= self.min_tilt_deg
            q_end = _drop_short_runs(quiet & near, m)
        settle = int(round(self.settle_s * fs))
        slow = np.abs(v) <= frac * vpk
        # a movement the other way nearly as fast as this one: the next (or
        # previous) transfer of a brisk chair stand, with no pause between
        other = _other_transfers(v, kpk, fs, self.min_rise_m)
        # start: look back from the peak, not past the previous transfer
        before = np.flatnonzero(slow[:kpk])
        if before.size:
            r = int(before[-1])
            prev = np.flatnonzero(other[:r])
            a = r - settle
            if rests[0] is not None:  # a slow lean can take longer: back to the rest
                a = min(a, rests[0] - e0)
            a = max(a, int(prev[-1]) + 1 if prev.size else 0, 0)
        else:
            a = 0
        q = np.flatnonzero(q_start[a:kpk])
        c0 = a + int(q[-1]) if q.size else a + int(np.argmin(activity[a : kpk + 1]))
        # end: look ahead from the peak, not into the next transfer
        after = np.flatnonzero(slow[kpk:])
        if after.size:
            r = kpk + int(after[0])
            nxt = np.flatnonzero(other[r:])
            b = r + settle
            if rests[1] is not None:  # the trunk may straighten slowly: on to the rest
                b = max(b, rests[1] - e0)
            b = min(b, r + int(nxt[0]) - 1 if nxt.size else v.size - 1, v.size - 1)
        else:
            b = v.size - 1
        q = np.flatnonzero(q_end[kpk : b + 1])
        c1 = kpk + int(q[0]) if q.size else kpk + int(np.argmin(activity[kpk : b + 1]))
        return c0, c1

    def _one_sided(
        self, v: FloatArray, xr: int, lobe: tuple[int, int], d: int, fs: float
    ) -> tuple[FloatArray, int, int] | None:
        """Velocity integrated away from one still sample ``xr``, corrected with the gait.

        ``d`` is +1 when the rest is before the transfer (integrated
        forwards), -1 when after. The transfer's peak is the largest speed
        within ``lobe``; it stops (see :func:`_first_stop`) where the gait
        or the next posture begins. The vertical velocity of walking,
        turning or standing averages zero over a stride, so the drift is
        removed as a linear trend from zero at the rest to the mean
        velocity over the ``_GAIT_WINDOW_S`` beyond the stop; then the
        peak is found again and the stop must be a return to
        ``onset_fraction`` of it (a walk integrated from a pause, whose
        "transfer" was only the drift, has none). Returns (velocity, peak,
        stop) or None.
        """
        frac = self.onset_fraction
        w = max(int(round(_GAIT_WINDOW_S * fs)), 1)
        idx = np.arange(v.size)
        for it in range(2):
            a, b = lobe
            if b <= a:
                return None
            kpk = a + int(np.argmax(np.abs(v[a:b])))
            sgn = 1.0 if v[kpk] > 0 else -1.0
            j = _first_stop(sgn * (v[kpk:] if d > 0 else v[kpk::-1]), frac, it == 0)
            if j is None:
                return None
            xs = kpk + d * j
            if it == 1:
                break
            g = v[xs : xs + w] if d > 0 else v[max(xs - w + 1, 0) : xs + 1]
            tg = xs + d * 0.5 * (g.size - 1)
            if g.size and tg != xr:
                v = v - float(g.mean()) * (idx - xr) / (tg - xr)
        return v, kpk, xs

    def _measure(
        self,
        sig: TransitionSignals,
        g_hat: FloatArray,
        i0: int | None,
        i1: int | None,
        lo: int,
        a_lobe: int,
        b: int,
        pa: int,
        pb: int,
        fs: float,
        pseudo0: bool = False,
    ) -> Transition | None:
        """Drift-free vertical velocity and position of a transfer, and the checks.

        With still samples on both sides the vertical acceleration is
        integrated between them and the linear drift removed so that the
        velocity is zero at both (Adamowicz 2020); the peak is the largest
        speed between them. With only one still side (walking or turning
        straight into a chair, or walking off after rising) it is integrated
        away from that side, after removing the resting offset (see
        :meth:`_one_sided`); the velocity beyond the stop, in the gait, is
        set to zero. ``pseudo0``: ``i0`` is the end of the previous transfer,
        not a rest.
        """
        a_all = sig.vertical_acc_mps2
        n = a_all.size
        rests = (None if pseudo0 else i0, i1)
        rest = max(int(round(0.3 * fs)), 1)
        margin = int(round(0.5 * fs))
        span = int(round(self.max_duration_s * fs))
        tol = int(round(_PEAK_TOL_S * fs))
        if i0 is not None and i1 is not None:
            e0, e1 = max(i0 - margin, lo), min(i1 + margin, n - 1)
            v = _cumtrapz(a_all[e0 : e1 + 1], fs)
            x0, x1 = i0 - e0, i1 - e0
            drift = v[x0] + (v[x1] - v[x0]) * (np.arange(v.size) - x0) / max(x1 - x0, 1)
            v = v - drift  # zero velocity at both still samples
            kpk = x0 + int(np.argmax(np.abs(v[x0 : x1 + 1])))
        elif i0 is not None:  # still before: integrate forwards
            e0, e1 = max(i0 - margin, lo), min(i0 + span, n - 1)
            a = a_all[e0 : e1 + 1] - float(np.mean(a_all[max(i0 - rest, 0) : i0 + 1]))
            x0 = i0 - e0
            v = _cumtrapz(a, fs)
            v = v - v[x0]
            lobe = (max(min(a_lobe, pa) - tol, i0 + 1) - e0, min(max(b, pb) + tol, e1) - e0)
            found = self._one_sided(v, x0, lobe, +1, fs)
            if found is None:
                return None
            v, kpk, x1 = found
            e1 = min(e0 + x1 + margin, e1)
            v = v[: e1 - e0 + 1]
            v[x1:] = 0.0  # beyond the stop the integration drifts into the gait
        else:  # still after: integrate backwards from it
            assert i1 is not None
            e0, e1 = max(i1 - span, lo), min(i1 + margin, n - 1)
            a = a_all[e0 : e1 + 1] - float(np.mean(a_all[i1 : i1 + rest]))
            x1 = i1 - e0
            v = _cumtrapz(a, fs)
            v = v - v[x1]
            lobe = (max(min(a_lobe, pa) - tol, e0) - e0, min(max(b, pb) + tol, i1) - e0)
            found = self._one_sided(v, x1, lobe, -1, fs)
            if found is None:
                return None
            v, kpk, x0 = found
            cut = max(x0 - margin, 0)
            e0 += cut
            v = v[cut:]
            kpk -= cut
            v[: x0 - cut] = 0.0  # before the stop the integration drifts into the gait
        if v.size < 4 or v[kpk] == 0:
            return None
        c0, c1 = self._settle(sig, v, kpk, e0, e1, fs, rests)
        v = v[c0 : c1 + 1]
        i0, i1 = e0 + c0, e0 + c1
        if v.size < 4:
            return None
        p = _cumtrapz(v, fs)
        disp = float(p[-1])
        sgn = 1.0 if disp > 0 else -1.0
        kpk = int(np.argmax(sgn * v))
        vpk = float(sgn * v[kpk])
        dur = (i1 - i0) / fs
        if (
            vpk < self.min_velocity_mps
            or abs(disp) < self.min_rise_m
            or not self.min_duration_s <= dur <= self.max_duration_s
        ):
            return None
        tilt_deg, posture_deg = self._tilt_excursion(sig, g_hat, i0, i1, fs)
        if (
            tilt_deg < self.min_tilt_deg
            or posture_deg > self.max_posture_change_deg
            or _n_extrema(v, _EXTREMUM_PROMINENCE * vpk) > _MAX_EXTREMA
        ):
            return None
        t = sig.time_s
        return Transition(
            kind="sit_to_stand" if sgn > 0 else "stand_to_sit",
            start_s=float(t[i0]),
            end_s=float(t[i1]),
            peak_s=float(t[i0 + kpk]),
            peak_velocity_mps=vpk,
            displacement_m=disp,
            tilt_deg=tilt_deg,
            fs_hz=fs,
            position_m=tuple(p.tolist()),
        )
