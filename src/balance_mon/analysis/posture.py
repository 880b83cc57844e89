"""Trunk alignment for spine-sparing movement: flexion, lateral lean, twisting, lifts.

People with osteoporosis, especially after a vertebral fracture, are advised
to avoid bending the spine forward or twisting it quickly, repeatedly, at
the end of its range or while lifting, and to hinge at the hips with a
neutral spine instead (Too Fit To Fracture: Giangregorio et al. 2014,
Osteoporos Int 25:821; Osteoporosis Canada 2023; Strong, Steady and
Straight: Brooke-Wavell et al. 2022, Br J Sports Med 56:837; clinical.md
section 5). :class:`TrunkPosture` measures how far and how often the trunk
(sternum sensor) or the pelvis (lower-back sensor) leaves the person's own
upright standing posture.

Pipeline (each gap-free stretch on its own, then pooled):

1. **Inclination from gravity.** The acceleration low-passed at
   ``gravity_cutoff_hz`` (1.5 Hz) and normalised is the direction of gravity
   in the sensor frame; a lean of the segment rotates it the other way. The
   inclination is the angle between it and the upright reference
   (clinical.md section 5). Linear accelerations of everyday movements are
   below 0.1 g after that low-pass (at most a few degrees of error; Evans et
   al. 2024, Heliyon 10:e32544, found a trunk accelerometer within about 5
   deg of a full IMU over whole flexion cycles).
2. **Upright reference** (``reference_source_``): given (a gravity vector
   or a time window), else the person's own upright standing found in the
   data: gait bouts (:class:`.loading.StepDetector`) are upright by
   definition, so the longest quiet stretch (moving SD of the acceleration
   below ``quiet_sd_mps2`` for at least ``min_quiet_s``) whose gravity
   direction is within ``upright_match_deg`` of the walking one is standing
   (sitting tilts the pelvis backwards 10-20 deg from standing; mobgap data);
   without such a stretch the walking direction itself; without gait the
   longest quiet stretch (near the axes metadata's vertical when known);
   without any quiet stretch the median gravity direction.
3. **Forward direction** (``forward_source_``): the direction the gravity
   vector moves in during large inclinations (> ``bend_min_deg``), weighted
   by angle: people bend forward far more often and further than backward
   or sideways, so the weighted mean of the tilt directions points forward.
   With ``axes`` metadata the metadata's forward (``ap``) axis is used, or
   the data's direction when the two agree within 45 deg (it corrects a
   sensor rotated on the skin). Without either, flexion is the total
   inclination and lateral lean is unknown (NaN).
4. **Angles.** Flexion = atan2(-g.f, g.u) (the angle in the sagittal
   plane), lateral lean = asin(-g.l) (the angle out of it: flexion first,
   then side bending, as in a pitch-roll sequence), with u the reference up,
   f forward and l = u x f (to the left of a person facing f; with axes
   metadata its sign follows the metadata's ml axis).
5. **Bends** are excursions of flexion above ``bend_min_deg`` (15 deg, above
   the 2-8 deg the pelvis and trunk pitch in walking and on stairs).
   **Timing.** With a gyroscope the bend starts and ends where the tilt rate
   (rotation perpendicular to the long axis, bias removed) falls below
   ``onset_fraction`` of its peak in the bend (floor ``rate_floor_dps``),
   extrapolated to the onset and end of a smooth minimum-jerk movement
   (Flash & Hogan 1985) through those crossings (:meth:`_timing_rate`).
   Without a gyroscope the rate would come from differentiating the gravity
   direction, which the sensor's own acceleration disturbs most exactly
   where the onset is sought (a squat moves the hips backwards as they drop,
   tilting the apparent gravity by 3-5 deg while the pelvis has barely
   turned), so the onset and end come from the angle itself: on each side of
   the peak a minimum-jerk rise is fitted by least squares to the 3 Hz
   flexion, together with the sensor's own acceleration during that movement
   (the rise's second derivative: the tangential acceleration of turning
   about the hips and a hip shift that keep the movement's time course; at
   large angles also the centripetal acceleration and the turning direction
   of the tangential one, fixed by the placement's lever arms below), and
   the onset and end are the fitted rise's (:func:`_fit_step`). Each side's
   window runs from the peak to the edge of the neighbouring rest
   (:func:`_valley`, on the flexion median-filtered over
   :data:`VALLEY_MEDIAN_S`), so the fit uses the whole rise, not its first
   few per cent. This is model-based: on synthetic bends that are not
   minimum-jerk (a raised cosine or a velocity peak at 40 % of the movement,
   3 s per side) or whose hip shift follows another time course than the
   trunk's, the onset or end is off by up to 0.35 s
   (``bench/validate_bone.py``, "shapes"); with a gyroscope up to 0.27 s.
   **Peak.** The low-passed accelerometer angle carries the sensor's own
   deceleration into and acceleration out of the bottom of a bend (up to
   5-7 deg in a bend of under a second). With a gyroscope the flexion
   inside each bend is recomputed from the gyroscope: the gravity direction
   is carried by the integrated rotation forwards from the accelerometer's
   direction before the bend and backwards from the one after it (at rest
   when there is rest), the two blended linearly in time, which cancels a
   constant residual gyroscope bias (:meth:`_gyro_angles`). Without a
   gyroscope, a still pause at the bottom (as when grasping an object) gives
   the exact angle: there the acceleration is gravity alone, so the peak is
   the largest angle of the 5 Hz acceleration at still samples near the
   bottom (:meth:`_still_peak`). A bend without a pause takes the level at
   the bottom of the minimum-jerk rises fitted for its timing: the fit
   separates the rotation (``A s``) from the sensor's own acceleration (the
   ``B s''`` and large-angle terms), so the mean of the two sides' levels is
   the rotation's peak when the two agree with each other better than with
   the low-passed maximum (:meth:`_fitted_peak`; on simulated bends of
   0.9-1.6 s down and up, 25-70 deg, the peak error fell from up to 16 deg to
   up to 6 deg); otherwise the low-passed maximum. **Flexion events** are
   bends reaching ``flexion_threshold_deg``.
6. **Squat or stoop.** A bend with rest before and after (moving SD of the
   5 Hz acceleration under 0.1 m/s^2 over 0.3 s) is integrated between them
   (vertical acceleration, ``|a| - g``, twice, zero velocity at both rests
   and at the deepest point; an offset growing with the
   inclination, the sensor's orientation-dependent bias, is removed on each
   half) to the sensor's vertical drop. Rotating the segment about the hip lowers
   the sensor by a known amount (lever arms below); what is left is the hip's
   own drop, which only bending the knees produces: at least
   ``min_hip_drop_fraction`` of body height (0.06 H = 0.1 m at 1.65 m, about
   50 deg of knee flexion) is a squat, less a stoop.
7. **Context.** ``in_repetition``: overlaps a repetition found by
   :class:`.reps.RepCounter`; ``lift_like``: a pause at the bottom (tilt
   rate below the onset threshold for ``lift_pause_s``) as when grasping an
   object; ``loaded`` = either (a trunk sensor cannot feel a weight in the
   hands: this is the movement pattern of a lift, not a measured load);
   ``quick``: peak tilt rate of at least ``quick_rate_dps``; ``repeated``:
   one of ``repeated_count`` flexion events within ``repeated_window_s``.
8. **Twisting** (gyroscope only): rotation about the segment's long axis
   (bias removed); rotations of at least ``twist_min_deg`` are twist events
   with their peak rate, marked ``during_gait`` when inside a gait bout
   (turning while walking is not a trunk twist, but one sensor cannot tell
   the trunk's rotation from the whole body's).

The default flexion threshold is 30 deg from the person's upright:
ISO 11226:2000 (static working postures) accepts trunk inclinations up to
20 deg without limit and calls more than 60 deg unacceptable, with 20-60 deg
acceptable only for limited holding times; Hoogendoorn et al. 2000 (Spine
25:3087) found low-back-pain risk from working with the trunk flexed 60 deg
or more (events at or beyond ``high_flexion_deg`` are ``severity: high``).
No osteoporosis guideline gives a number; 30 deg sits inside the band ISO
11226 limits and below the 30-45 deg trunk lean of a normal sit-to-stand at
the sternum, which is therefore reported (with ``transition`` context left
to the caller) (verify with the clinical team). A lower-back sensor reads
pelvic inclination, roughly half the trunk's in a stoop with a rounded back
and about all of it in a hip hinge.

Lever arms (Winter 2009 segment proportions of body height H, as in the
simulator, docs/simulator.md section 5): lower-back sensor 0.045 H above and
0.06 H behind the hip joints; sternum sensor 0.19 H above the hip joints
(0.045 H pelvis + 0.145 H thorax) and 0.06 H in front, the pelvis turning
0.75 times as far as the thorax (midway between a hip hinge and a rounded
back). H is the recording's ``height_m`` metadata, else 1.65 m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import median_filter
from scipy.optimize import least_squares
from scipy.signal import lfilter

from ..consts import GRAVITY_MPS2
from ..dsp.filters import block_mean, lowpass_zero_phase, moving_sd, working_factor
from ..dsp.gaps import Segment, uniform_segments
from ..dsp.runs import longest_run
from ..dsp.runs import true_runs as _runs
from ..errors import BalanceMonError, RecordingError, TooShortError
from ..recording import AxisMap, Recording
from .loading import StepDetector

__all__ = [
    "DEFAULT_HEIGHT_M",
    "AlignmentWarning",
    "Bend",
    "LiveTrunkInclination",
    "TrunkPosture",
    "Twist",
    "axes_vector",
    "peak_flexion_per_rep",
    "rep_alignment_text",
    "repetition_windows",
]

FloatArray = NDArray[np.float64]

#: Body height used for the lever arms when the recording does not say, m.
DEFAULT_HEIGHT_M = 1.65

#: Hysteresis of the bend detection: a bend lasts while flexion stays above
#: ``bend_min_deg`` minus this (noise near the threshold does not split it), deg.
BEND_HYSTERESIS_DEG = 3.0

#: Moving SD (over 0.3 s) of the 5 Hz acceleration below which the trunk is
#: still, m/s^2 (standing sway moves the lower back by 0.02-0.1 m/s^2, mostly
#: below 1 Hz, so over 0.3 s its SD stays far below this).
STILL_SD_MPS2 = 0.1

#: Start and end times of the minimum-jerk fit (:func:`_fit_step`) are searched
#: on a lattice this fine, then refined by least squares, s (a resolution, not
#: a tolerance: the refinement moves them off it).
FIT_GRID_S = 0.05

#: Shortest movement the fit considers, s (a fast voluntary trunk flexion takes
#: about half a second from upright to its end; shorter "steps" are noise).
FIT_MIN_DURATION_S = 0.2

#: How far past a side's largest sample its movement may end, s. A
#: minimum-jerk movement covers its last 1 % in its last 10 % of the time, so
#: the largest sample of a noisy plateau can come that long before the true
#: end: 10 % of a slow 4 s movement. On the simulated bends and lifts
#: (``bench/validate_bone.py``) 0.25-0.6 s gave the same timing; 0 made ends
#: early, 1 s let a few large-angle fits run into implausibly long movements.
FIT_END_MARGIN_S = 0.4

#: The window of the fit on each side of a bend ends where the flexion, going
#: away from the bend, has risen this far above its lowest value (the start of
#: another movement), deg (the bend detection's hysteresis).
VALLEY_CLIMB_DEG = BEND_HYSTERESIS_DEG

#: ... and starts at the first sample within this of that lowest value, deg
#: (the resting posture: standing still, the trunk's inclination varies by
#: tenths of a degree).
VALLEY_TOL_DEG = 1.0

#: The rest edges are found on the flexion median-filtered over this long, s:
#: a median keeps the edges of movements lasting longer than half of it but
#: removes briefer dips, such as the 0.2-0.3 s one the sensor's own
#: acceleration makes just before and after a quick bend. 0.5-2 s gave the
#: same timing on the simulated bends and lifts.
VALLEY_MEDIAN_S = 1.0

#: Without a gyroscope, the still pause at a bend's bottom gives its peak only
#: when the low-passed maximum exceeds the pause's angle by less than the
#: tilt this acceleration (g) makes, asin(0.2) = 11.5 deg: more than the
#: largest linear-acceleration error of the low-passed angle seen in quick
#: simulated bends (7 deg, 0.12 g), so a larger excess is the trunk truly
#: going further than where it paused.
STILL_PEAK_GUARD_G = 0.2

#: The analysis works at this rate or just above (block means of the samples),
#: Hz: five times the highest low-pass used (5 Hz, for the sensor's own
#: acceleration and the angular rate); trunk movements lie below 3 Hz. On the
#: simulated bends and lifts (``bench/validate_bone.py``) 25 Hz times them as
#: the native 25-200 Hz did. 12.5 Hz gave the same accuracy there at half the
#: cost on a day of data, but timed quick bends (under a second per side)
#: without a gyroscope up to 0.24 s off instead of 0.10 s.
WORK_RATE_HZ = 25.0

#: A bend's start and end are searched for this far from its excursion beyond
#: ``bend_min_deg``, s (a slow bend takes 2-3 s to reach the threshold).
BEND_SEARCH_S = 3.0

#: The detail signals of a stretch of bends are filtered with this much more
#: on each side, so the filters (at 3 Hz and above) have settled where the
#: bends are searched, s.
FILTER_PAD_S = 3.0

#: The gyroscope's bias is the median of at most this many quiet samples (a
#: median of 20 000 is within a few thousandths of a deg/s of the whole day's).
GYRO_BIAS_SAMPLES = 20000

#: Lever arms of the sensors, as fractions of body height (Winter 2009 segment
#: proportions, as in the simulator; module docstring): the lower-back sensor
#: sits PELVIS_H above and SKIN_H behind the hip joints, the sternum sensor
#: PELVIS_H + THORAX_H above and SKIN_H in front, the pelvis turning
#: PELVIS_SHARE times as far as the thorax. Used by the squat/stoop drop
#: (:meth:`TrunkPosture._rotation_drop`) and the fit's large-angle term
#: (:func:`_lever_terms`).
PELVIS_H = 0.045
THORAX_H = 0.145
SKIN_H = 0.06
PELVIS_SHARE = 0.75

#: What the sensor's inclination measures, per placement.
SEGMENT_OF_PLACEMENT = {"lower_back": "pelvis", "sternum": "trunk"}


@dataclass(frozen=True)
class Bend:
    """One excursion of forward flexion beyond ``bend_min_deg``.

    Times in s; angles in deg from the upright reference; ``drop_m`` is the
    sensor's vertical drop and ``hip_drop_m`` what is left after the
    segment's rotation (None when the bend did not start and end at rest or
    the placement has no lever-arm model); ``kind`` is ``squat``, ``stoop``
    or None; ``twist_peak_dps`` the largest rotation rate about the long
    axis during the bend (None without a gyroscope).
    """

    start_s: float
    end_s: float
    peak_s: float
    peak_deg: float
    lateral_peak_deg: float
    time_above_s: float
    peak_rate_dps: float
    complete: bool
    drop_m: float | None
    hip_drop_m: float | None
    kind: str | None
    in_repetition: bool
    lift_like: bool
    quick: bool
    twist_peak_dps: float | None
    event: bool
    severity: str | None
    repeated: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def loaded(self) -> bool:
        return self.in_repetition or self.lift_like

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "duration_s": self.duration_s,
            "peak_s": self.peak_s,
            "peak_deg": self.peak_deg,
            "lateral_peak_deg": self.lateral_peak_deg,
            "time_above_threshold_s": self.time_above_s,
            "peak_rate_dps": self.peak_rate_dps,
            "loaded": self.loaded,
            "in_repetition": self.in_repetition,
            "lift_like": self.lift_like,
            "quick": self.quick,
            "repeated": self.repeated,
            "severity": self.severity,
            "kind": self.kind,
            "drop_m": self.drop_m,
            "hip_drop_m": self.hip_drop_m,
            "twist_peak_dps": self.twist_peak_dps,
        }


@dataclass(frozen=True)
class Twist:
    """A rotation about the segment's long axis of at least ``twist_min_deg``."""

    start_s: float
    end_s: float
    angle_deg: float  #: signed (right-hand rule about the reference up: positive to the left)
    peak_rate_dps: float
    quick: bool
    during_gait: bool
    flexed: bool  #: flexion beyond the threshold at the same time

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "angle_deg": self.angle_deg,
            "peak_rate_dps": self.peak_rate_dps,
            "quick": self.quick,
            "during_gait": self.during_gait,
            "flexed": self.flexed,
        }


def rep_alignment_text(index: int, peak_deg: float, segment: str = "trunk") -> str:
    """``"rep 4: trunk flexed 52 degrees"`` (negative angles read "extended")."""
    word = "flexed" if peak_deg >= 0 else "extended"
    return f"rep {index}: {segment} {word} {abs(peak_deg):.0f} degrees"


def _unit(x: FloatArray) -> FloatArray:
    n = np.sqrt(np.einsum("...i,...i->...", x, x))[..., None]
    n[n == 0] = 1.0
    return x / n


def _unit_rows_inplace(x: FloatArray) -> FloatArray:
    """:func:`_unit` of an (N, 3) array written over it (the same numbers; no copy)."""
    n = np.sqrt(np.einsum("ij,ij->i", x, x))
    n[n == 0] = 1.0
    x /= n[:, None]
    return x


def _median_rate(bounds: list[tuple[int, int, float]]) -> float:
    """Median over samples of the working rate of stretches ``(first, stop, rate)``."""
    rates = np.array([f for _lo, _hi, f in bounds])
    counts = np.array([hi - lo for lo, hi, _f in bounds])
    order = np.argsort(rates, kind="stable")
    cum = np.cumsum(counts[order])
    n = int(cum[-1])
    lo_v = rates[order][np.searchsorted(cum, (n - 1) // 2, "right")]
    hi_v = rates[order][np.searchsorted(cum, n // 2, "right")]
    return 0.5 * float(lo_v + hi_v)


def _cat(parts: list[Any]) -> Any:
    """``np.concatenate`` without the copy of a single part."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _quat_mul(p: FloatArray, q: FloatArray) -> FloatArray:
    """Hamilton products ``p q`` of (n, 4) scalar-last quaternions (scipy's order):
    the rotation q followed by p, as ``Rotation(p) * Rotation(q)``."""
    x1, y1, z1, w1 = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    x2, y2, z2, w2 = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    out = np.empty(np.broadcast_shapes(p.shape, q.shape))
    out[:, 0] = w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2
    out[:, 1] = w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2
    out[:, 2] = w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2
    out[:, 3] = w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2
    return out


def _quat_from_rotvec(v: FloatArray) -> FloatArray:
    """Unit quaternions (n, 4), scalar last, of rotation vectors (n, 3) in rad."""
    th = np.sqrt(np.einsum("ij,ij->i", v, v))
    # sin(th / 2) / th, its series near 0 (error below 1e-16 for th < 1e-3)
    k = np.where(th > 1e-3, np.sin(0.5 * th) / np.where(th > 1e-3, th, 1.0), 0.5 - th * th / 48.0)
    out = np.empty((v.shape[0], 4))
    out[:, :3] = v * k[:, None]
    out[:, 3] = np.cos(0.5 * th)
    return out


def _quat_rotate_inv(q: FloatArray, v: FloatArray) -> FloatArray:
    """``v`` ((3,) or one row per quaternion) rotated by the inverse of each unit
    quaternion of ``q`` (n, 4): ``Rotation.from_quat(q).inv().apply(v)``."""
    # v + w t + u x t with t = 2 u x v, u the conjugate's vector part (-q's)
    ux, uy, uz, w = -q[:, 0], -q[:, 1], -q[:, 2], q[:, 3]
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    tx = 2.0 * (uy * vz - uz * vy)
    ty = 2.0 * (uz * vx - ux * vz)
    tz = 2.0 * (ux * vy - uy * vx)
    out = np.empty((q.shape[0], 3))
    out[:, 0] = vx + w * tx + (uy * tz - uz * ty)
    out[:, 1] = vy + w * ty + (uz * tx - ux * tz)
    out[:, 2] = vz + w * tz + (ux * ty - uy * tx)
    return out


def _angle_deg(a: FloatArray, b: FloatArray) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, float(np.dot(a, b))))))


def _valley(x: FloatArray, start: int, stop: int, step: int) -> int:
    """Edge of the rest next to a bend: walk from ``start`` towards ``stop``.

    The walk follows ``x`` down and across its lowest stretch and ends where
    ``x`` has climbed :data:`VALLEY_CLIMB_DEG` above the lowest value seen
    (another movement) or at ``stop``; the edge is the sample nearest that end
    still within :data:`VALLEY_TOL_DEG` of the lowest value. Bumps smaller
    than the climb (a squat's hip shift, sway) do not end the walk.
    """
    m = float(x[start])
    j = start
    while j != stop:
        v = float(x[j + step])
        if v > m + VALLEY_CLIMB_DEG:
            break
        m = min(m, v)
        j += step
    while j != start and float(x[j]) > m + VALLEY_TOL_DEG:
        j -= step
    return j


def _minjerk_basis(u: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Minimum-jerk step s(u) (0 before, 1 after) and its derivatives s'(u) and s''(u)."""
    uc = np.clip(u, 0.0, 1.0)
    inside = (u > 0.0) & (u < 1.0)
    step = uc * uc * uc * (10.0 + uc * (-15.0 + 6.0 * uc))
    vel = np.where(inside, 30.0 * (uc * (1.0 - uc)) ** 2, 0.0)
    acc = np.where(inside, uc * (60.0 + uc * (-180.0 + 120.0 * uc)), 0.0)
    return step, vel, acc


#: A sensor's horizontal position over the hips as terms ``(m, k, trig)`` of
#: ``m trig(k theta)``, theta the segment's inclination (:func:`_lever_terms`).
LeverTerms = tuple[tuple[float, float, str], ...]


def _large_angle_tilt(
    u: FloatArray, dur: FloatArray, theta0_deg: float, amp_deg: float, lever: LeverTerms
) -> FloatArray:
    """Apparent tilt (deg) of the large-angle part of the sensor turning about the hips.

    The sensor's horizontal position is ``x(theta) = sum m trig(k theta)``
    (``lever``), theta = theta0 + amp s(u) a minimum-jerk rotation of duration
    ``dur``; its horizontal acceleration ``x''`` tilts the apparent gravity by
    ``-x'' / g`` (rad). The tangential part at the starting angle, ``x'(theta0)
    amp s''``, has the time course of s'' and is left to the fit's B term (with
    a hip shift and any error of the lever arms); this is the rest: the
    tangential acceleration's changing direction as the segment leans
    (``f'(k theta) - f'(k theta0)``) and the centripetal acceleration
    (``k^2 amp^2 s'^2 f(k theta)``), which grow with the angle.
    """
    step, vel, acc = _minjerk_basis(u)
    amp = math.radians(amp_deg)
    th = math.radians(theta0_deg) + amp * step
    th0 = math.radians(theta0_deg)
    x2 = np.zeros_like(u)
    for m, k, trig in lever:
        if trig == "sin":
            f, d, d0 = np.sin(k * th), np.cos(k * th), math.cos(k * th0)
        else:
            f, d, d0 = np.cos(k * th), -np.sin(k * th), -math.sin(k * th0)
        x2 += m * (k * amp * acc * (d - d0) - k * k * amp * amp * vel * vel * f)
    return -np.degrees(x2 / (GRAVITY_MPS2 * dur * dur))


def _lever_terms(placement: str | None, height_m: float) -> LeverTerms:
    """The sensor's horizontal position over the hips, ``x(theta)``, per placement.

    The lever arms of the module docstring (Winter 2009 proportions, as
    :meth:`TrunkPosture._rotation_drop`): lower back 0.045 H above and 0.06 H
    behind the hips, ``x = 0.045 H sin(theta) - 0.06 H cos(theta)``; sternum
    0.045 H (pelvis, turning 0.75 theta) + 0.145 H (thorax) above and 0.06 H in
    front. Empty for other placements (no large-angle term).
    """
    h = height_m
    if placement == "lower_back":
        return ((PELVIS_H * h, 1.0, "sin"), (-SKIN_H * h, 1.0, "cos"))
    if placement == "sternum":
        return (
            (PELVIS_H * h, PELVIS_SHARE, "sin"),
            (THORAX_H * h, 1.0, "sin"),
            (SKIN_H * h, 1.0, "cos"),
        )
    return ()


def _plausible(beta: FloatArray, rise: float) -> NDArray[np.bool_]:
    """Fits (rows ``c, A, B``) whose step carries the rise and outweighs the acceleration term.

    The acceleration term returns to zero, so the net rise of the window
    (last sample minus first) is the step's: A at least half of it. And the
    sensor's own acceleration cannot tilt the apparent gravity further than
    the segment turns (peak of ``|B s''|`` = 5.77 |B| at most A): the
    tangential acceleration of a sensor r from the hips in a minimum-jerk
    movement of duration D peaks at 5.77 A r / D^2, under A g for r <= 0.35 m
    and D >= 0.5 s (a sternum sensor in a very quick bend).
    """
    a = beta[:, 1]
    return (a > 0.0) & (a >= 0.5 * rise) & (5.77 * np.abs(beta[:, 2]) <= a)


def _fit_step(t: FloatArray, y: FloatArray, lever: LeverTerms = ()) -> tuple[float, float] | None:
    """Start and duration (s) of a minimum-jerk rise fitted to ``y`` (deg) at ``t``
    (:func:`_fit_rise`, without its level)."""
    fit = _fit_rise(t, y, lever)
    return None if fit is None else (fit[0], fit[1])


def _fit_rise(
    t: FloatArray, y: FloatArray, lever: LeverTerms = ()
) -> tuple[float, float, float] | None:
    """Start, duration (s) and final level (deg) of a minimum-jerk rise fitted to ``y``.

    Model: ``y = c + A s(u) + B s''(u) + L(u)``, ``u = (t - start) /
    duration``, with s the minimum-jerk step (Flash & Hogan 1985, J Neurosci
    5:1688) and c, A, B solved linearly for each (start, duration). The B
    term is the apparent tilt of the sensor's own acceleration (rad ~ a / g):
    the tangential acceleration of a sensor turning about the hips and that
    of a hip shift with the same time course are both proportional to the
    movement's second derivative. L, fixed by the sensor's lever arms
    ``lever`` (:func:`_lever_terms`), is what turning about the hips adds at
    large angles (:func:`_large_angle_tilt`): mostly the centripetal
    acceleration, which tilts the apparent gravity further the more the
    segment leans and the faster it turns (5-10 deg in the middle of a 60-90
    deg stoop of a second at the sternum, where without L the fit took the
    rise for a longer, later one: onsets and ends 0.3 s off). theta in L
    runs from the window's first sample to its largest. The rise must
    contain the last crossing of half its range (``start`` <= t50 <= end),
    start within the window and end at most :data:`FIT_END_MARGIN_S` after
    its last sample. A grid of :data:`FIT_GRID_S` over start and end finds
    the best fit, least squares refines it. The level is the fitted ``c +
    A``, the rise's end without its acceleration terms (both zero there). None
    when ``y`` does not rise or the window is too short.
    """
    if y.size < 6:
        return None
    lo, hi = float(np.min(y)), float(np.max(y))
    if hi - lo <= 1e-9:
        return None
    below = np.flatnonzero(y < lo + 0.5 * (hi - lo))
    if not below.size:
        return None
    t50 = float(t[below[-1]])
    rise = float(y[-1] - y[0])
    theta0, amp = float(y[0]), hi - float(y[0])
    g0 = np.arange(float(t[0]), t50, FIT_GRID_S)
    g1 = np.arange(t50, float(t[-1]) + FIT_END_MARGIN_S + 1e-9, FIT_GRID_S)
    t0 = np.repeat(g0, g1.size)
    t1 = np.tile(g1, g0.size)
    ok = t1 - t0 >= FIT_MIN_DURATION_S
    t0, t1 = t0[ok], t1[ok]
    if not t0.size:
        return None
    # the grid search on at most ~50 samples per second (the angle is low-passed at 3 Hz)
    dec = max(int(y.size / max(float(t[-1] - t[0]) * 50.0, 1.0)), 1)
    tt, yy = t[::dec], y[::dec]
    best_sse, best = math.inf, (0.0, 0.0)
    chunk = max(int(2e6 // max(tt.size, 1)), 1)
    for c0 in range(0, t0.size, chunk):
        a0, a1 = t0[c0 : c0 + chunk], t1[c0 : c0 + chunk]
        u = (tt[None, :] - a0[:, None]) / (a1 - a0)[:, None]
        st, _sv, sa = _minjerk_basis(u)
        if lever:
            yc = yy[None, :] - _large_angle_tilt(u, (a1 - a0)[:, None], theta0, amp, lever)
        else:
            yc = np.broadcast_to(yy, u.shape)
        n1 = float(tt.size)
        # normal equations of [1, s, s''] for every candidate at once
        s1, s2 = st.sum(axis=1), sa.sum(axis=1)
        s11, s12, s22 = (st * st).sum(axis=1), (st * sa).sum(axis=1), (sa * sa).sum(axis=1)
        xtx = np.empty((a0.size, 3, 3))
        xtx[:, 0, 0] = n1
        xtx[:, 0, 1] = xtx[:, 1, 0] = s1
        xtx[:, 0, 2] = xtx[:, 2, 0] = s2
        xtx[:, 1, 1] = s11
        xtx[:, 1, 2] = xtx[:, 2, 1] = s12
        xtx[:, 2, 2] = s22
        xtx += 1e-9 * np.eye(3)
        xty = np.column_stack([yc.sum(axis=1), (st * yc).sum(axis=1), (sa * yc).sum(axis=1)])
        beta = np.linalg.solve(xtx, xty[..., None])[..., 0]
        sse = np.einsum("cs,cs->c", yc, yc) - np.einsum("sp,sp->s", beta, xty)
        sse = np.where(_plausible(beta, rise), sse, np.inf)
        i = int(np.argmin(sse))
        if sse[i] < best_sse:
            best_sse, best = float(sse[i]), (float(a0[i]), float(a1[i]))
    if not math.isfinite(best_sse):
        return None

    def fit_of(p: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Coefficients and residual at (start, end) ``p``."""
        u_ = (t - p[0]) / (p[1] - p[0])
        st_, _, sa_ = _minjerk_basis(u_)
        y_ = y - _large_angle_tilt(u_, p[1] - p[0], theta0, amp, lever) if lever else y
        x = np.column_stack([np.ones_like(st_), st_, sa_])
        beta_, *_ = np.linalg.lstsq(x, y_, rcond=None)
        return beta_, y_ - x @ beta_

    g = FIT_GRID_S
    try:
        r = least_squares(
            lambda p: fit_of(p)[1],
            best,
            bounds=([best[0] - g, best[1] - g], [best[0] + g, best[1] + g]),
            diff_step=1e-4,
        )
        start, end = float(r.x[0]), float(r.x[1])
    except ValueError:  # degenerate bounds on a tiny window
        start, end = best
    beta = fit_of(np.array([start, end]))[0]
    if end - start < 0.5 * FIT_MIN_DURATION_S or not bool(_plausible(beta[None, :], rise)[0]):
        start, end = best
        beta = fit_of(np.array([start, end]))[0]
    return start, end - start, float(beta[0] + beta[1])


@dataclass
class _Day:
    """Signals of every gap-free stretch at the working rate, pooled."""

    time_s: FloatArray
    bounds: list[tuple[int, int, float]]  # (first, stop, working rate) of each stretch
    acc: FloatArray  # block means of the acceleration, m/s^2
    gyr: list[tuple[FloatArray, int]] | None  # each stretch's angular rate (deg/s), block size
    g: FloatArray  # unit gravity direction (gravity_cutoff_hz)
    quiet: NDArray[np.bool_]
    gait: NDArray[np.bool_]
    rep_start_s: FloatArray  # repetition windows, sorted by start
    rep_end_s: FloatArray
    rep_max_s: float  # longest repetition window


@dataclass
class _Window:
    """Detail signals of one stretch of bends, at the working rate (local indices).

    ``fl``, ``lat`` and ``incl`` are views of the analyser's per-sample
    angles: what is written to them (the gyroscope's angles inside a bend)
    is the result.
    """

    time_s: FloatArray
    fs: float
    g: FloatArray
    acc_mag: FloatArray  # |a| low-passed at 5 Hz, m/s^2
    acc5: FloatArray  # acceleration low-passed at 5 Hz, m/s^2
    still: NDArray[np.bool_]  # moving SD (0.3 s) of acc5 below STILL_SD_MPS2
    gyr: FloatArray | None  # deg/s, low-passed at 5 Hz, bias removed
    rate: FloatArray  # tilt rate, deg/s
    flex_fast: FloatArray | None  # flexion from the 3 Hz gravity direction, deg (no gyroscope)
    fl: FloatArray
    lat: FloatArray
    incl: FloatArray


class TrunkPosture:
    """Trunk or pelvic alignment relative to the person's own upright (module docstring).

    Parameters
    ----------
    flexion_threshold_deg : a bend reaching this is a flexion event (default
        30 deg; module docstring).
    high_flexion_deg : events reaching this have ``severity`` "high" (default
        60 deg, Hoogendoorn et al. 2000; ISO 11226 "not acceptable").
    bend_min_deg : flexion that makes a bend (default 15 deg).
    gravity_cutoff_hz : low-pass of the gravity direction (default 1.5 Hz:
        keeps a 1 s bend's shape and peak, removes the 1.8-3 Hz step bounce).
    onset_fraction : fraction of the bend's peak tilt rate below which it has
        started or ended (default 0.05: a minimum-jerk movement reaches 5 %
        of its peak speed 6 % into its duration).
    rate_floor_dps : the onset threshold never goes below this (default
        3 deg/s with a gyroscope, twice that without: above bias residue and
        noise).
    quiet_sd_mps2, min_quiet_s : stillness for the upright reference (default
        0.2 m/s^2 moving SD over 1 s, for at least 2 s).
    upright_match_deg : quiet stretch vs walking posture (default 12 deg).
    reference : the upright gravity direction (3-vector, sensor frame) or a
        ``(start_s, end_s)`` window of upright standing; None finds it.
    forward : the forward direction (3-vector, sensor frame); None finds it.
    min_hip_drop_fraction : hip drop (fraction of body height) of a squat
        (default 0.06).
    height_m : body height for the lever arms (default: ``height_m``
        metadata, else :data:`DEFAULT_HEIGHT_M`).
    quick_rate_dps : peak tilt rate of a quick bend (default 90 deg/s:
        a 60 deg bend in 1.2 s; tuned, no published cut-off (verify)).
    lift_pause_s : still time at the bottom of a lift-like bend (default 0.2 s).
    repeated_count, repeated_window_s : repeated flexion (default 3 within 60 s).
    twist_min_deg : rotation about the long axis that is a twist event
        (default 30 deg, the trunk-rotation category of Hoogendoorn 2000).
    quick_twist_dps : peak rate of a quick twist (default 60 deg/s; tuned (verify)).
    use_reps : look for exercise repetitions with :class:`.reps.RepCounter`.
    use_gyro : use the gyroscope for rates and twisting when present.
    smooth_onset : time start and end as the onset and end of a smooth
        (minimum-jerk) movement: through the rate-threshold crossings with a
        gyroscope (:meth:`_timing_rate`), fitted to the angle without one
        (:func:`_fit_step`) (default True); False: the rate-threshold
        crossings themselves.
    work_rate_hz : the analysis runs on block means of the samples at this
        rate or just above (default :data:`WORK_RATE_HZ`); the per-sample
        attributes are at that rate.

    Attributes
    ----------
    time_s_, flexion_deg_, lateral_deg_, inclination_deg_ : per sample (with
        a gyroscope, flexion and lateral lean inside each bend come from
        :meth:`_gyro_angles`; everything else from the gravity direction).
    twist_rate_dps_ : rotation rate about the long axis (None without gyroscope).
    bends_ : list of :class:`Bend`; ``events_``: those reaching the threshold.
    twists_ : list of :class:`Twist`.
    sets_ : groups of consecutive complete bends with their majority kind.
    reference_source_, forward_source_ : how the reference and forward were found.
    segment_ : ``pelvis``, ``trunk`` or ``sensor``.
    """

    version = "1.4"

    def __init__(
        self,
        *,
        flexion_threshold_deg: float = 30.0,
        high_flexion_deg: float = 60.0,
        bend_min_deg: float = 15.0,
        gravity_cutoff_hz: float = 1.5,
        onset_fraction: float = 0.05,
        rate_floor_dps: float = 3.0,
        quiet_sd_mps2: float = 0.2,
        min_quiet_s: float = 2.0,
        upright_match_deg: float = 12.0,
        reference: Sequence[float] | None = None,
        forward: Sequence[float] | None = None,
        min_hip_drop_fraction: float = 0.06,
        height_m: float | None = None,
        quick_rate_dps: float = 90.0,
        lift_pause_s: float = 0.2,
        repeated_count: int = 3,
        repeated_window_s: float = 60.0,
        twist_min_deg: float = 30.0,
        quick_twist_dps: float = 60.0,
        use_reps: bool = True,
        use_gyro: bool = True,
        smooth_onset: bool = True,
        work_rate_hz: float = WORK_RATE_HZ,
    ) -> None:
        self.flexion_threshold_deg = flexion_threshold_deg
        self.high_flexion_deg = high_flexion_deg
        self.bend_min_deg = bend_min_deg
        self.gravity_cutoff_hz = gravity_cutoff_hz
        self.onset_fraction = onset_fraction
        self.rate_floor_dps = rate_floor_dps
        self.quiet_sd_mps2 = quiet_sd_mps2
        self.min_quiet_s = min_quiet_s
        self.upright_match_deg = upright_match_deg
        self.reference = reference
        self.forward = forward
        self.min_hip_drop_fraction = min_hip_drop_fraction
        self.height_m = height_m
        self.quick_rate_dps = quick_rate_dps
        self.lift_pause_s = lift_pause_s
        self.repeated_count = repeated_count
        self.repeated_window_s = repeated_window_s
        self.twist_min_deg = twist_min_deg
        self.quick_twist_dps = quick_twist_dps
        self.use_reps = use_reps
        self.use_gyro = use_gyro
        self.smooth_onset = smooth_onset
        self.work_rate_hz = work_rate_hz

    def get_params(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}
        for k in ("reference", "forward"):
            if out[k] is not None:
                out[k] = [float(x) for x in out[k]]
        return out

    # -- public actions -------------------------------------------------------------

    def analyze(
        self,
        acc_mps2: ArrayLike,
        fs_hz: float,
        *,
        gyr_dps: ArrayLike | None = None,
        axes: AxisMap | None = None,
        placement: str = "other",
        t0_s: float = 0.0,
    ) -> TrunkPosture:
        """Analyse evenly sampled (N, 3) acceleration (and angular rate) at ``fs_hz``."""
        acc = np.asarray(acc_mps2, dtype=np.float64)
        if acc.ndim != 2 or acc.shape[1] != 3:
            raise RecordingError(f"posture analysis needs (N, 3) acceleration, got {acc.shape}")
        if not np.all(np.isfinite(acc)):
            raise RecordingError("acceleration contains NaN or infinite values")
        fs = float(fs_hz)
        if not (math.isfinite(fs) and fs > 0):
            raise RecordingError(f"posture analysis needs a positive sampling rate, got {fs_hz!r}")
        gyr = None
        if gyr_dps is not None:
            gyr = np.asarray(gyr_dps, dtype=np.float64)
            if gyr.shape != acc.shape:
                raise RecordingError("angular rate and acceleration must have the same shape")
        seg = Segment(t0_s=float(t0_s), acc_mps2=acc, gyr_dps=gyr, fs_hz=fs)
        return self._run([seg], axes=axes, placement=placement, height_m=self.height_m)

    def analyze_recording(
        self,
        rec: Recording,
        *,
        rep_windows: Sequence[tuple[float, float]] | None = None,
        gait_spans: Sequence[tuple[float, float]] | None = None,
    ) -> TrunkPosture:
        """Analyse every gap-free stretch of ``rec`` (reference and forward pooled).

        ``rep_windows`` (repetition windows, :func:`repetition_windows`) and
        ``gait_spans`` (``(start_s, end_s)`` of gait bouts, as
        :class:`.loading.StepDetector` finds them) let a caller that already
        has them (:class:`.daily.DailyActivity`) save finding them again;
        None finds them here (``use_reps`` False: no repetitions).
        """
        segs = [s for s in uniform_segments(rec) if s.n_samples >= 4]
        if not segs:
            raise TooShortError(f"{rec.source or 'recording'}: no gap-free stretch to analyse")
        height = self.height_m
        if height is None:
            try:
                height = float(rec.metadata.get("height_m", "nan"))
            except ValueError:
                height = None
            if height is not None and not (1.0 <= height <= 2.5):
                height = None
        return self._run(
            segs,
            axes=rec.axes,
            placement=rec.placement,
            height_m=height,
            rep_windows=rep_windows,
            gait_spans=gait_spans,
        )

    def rep_alignment(self, windows: Sequence[tuple[float, float]]) -> list[dict[str, Any]]:
        """Peak flexion in each repetition window ``(start_s, end_s)``.

        Returns one dict per window: ``index`` (1-based), ``start_s``,
        ``end_s``, ``peak_flexion_deg`` (None when the window holds no
        sample), ``peak_s``, ``peak_lateral_deg`` and ``text`` such as
        ``"rep 4: trunk flexed 52 degrees"``.
        """
        if not hasattr(self, "flexion_deg_"):
            raise RecordingError("run analyze() or analyze_recording() before rep_alignment()")
        t = self.time_s_
        out = []
        for i, (a, b) in enumerate(windows, start=1):
            m = (t >= a) & (t <= b)
            if not m.any():
                out.append(
                    {
                        "index": i,
                        "start_s": a,
                        "end_s": b,
                        "peak_flexion_deg": None,
                        "peak_s": None,
                        "peak_lateral_deg": None,
                        "text": f"rep {i}: no data",
                    }
                )
                continue
            idx = np.flatnonzero(m)
            k = int(idx[np.argmax(self.flexion_deg_[idx])])
            lat = self.lateral_deg_[idx]
            peak_lat = float(lat[np.nanargmax(np.abs(lat))]) if np.isfinite(lat).any() else None
            peak = float(self.flexion_deg_[k])
            out.append(
                {
                    "index": i,
                    "start_s": float(a),
                    "end_s": float(b),
                    "peak_flexion_deg": peak,
                    "peak_s": float(t[k]),
                    "peak_lateral_deg": peak_lat,
                    "text": rep_alignment_text(i, peak, self.segment_),
                }
            )
        return out

    def result(self) -> dict[str, Any]:
        """The ``posture`` JSON block."""
        fl = self.flexion_deg_
        events = [b for b in self.bends_ if b.event]
        dt = np.diff(self.time_s_, append=self.time_s_[-1])
        dt = np.where(dt > 0, dt, 0.0)
        above = float(np.sum(dt[fl >= self.flexion_threshold_deg]))
        total = float(np.sum(dt)) or 1.0
        lat = self.lateral_deg_
        return {
            "peak_flexion_deg": float(fl.max()),
            "mean_flexion_deg": float(np.mean(fl)),
            "events": [b.as_dict() for b in events],
            "event_count": len(events),
            "loaded_events": sum(1 for b in events if b.loaded),
            "high_events": sum(1 for b in events if b.severity == "high"),
            "quick_events": sum(1 for b in events if b.quick),
            "repeated_events": sum(1 for b in events if b.repeated),
            "time_flexed_s": above,
            "percent_time_flexed": 100.0 * above / total,
            "flexion_threshold_deg": self.flexion_threshold_deg,
            "peak_lateral_deg": float(np.nanmax(np.abs(lat))) if np.isfinite(lat).any() else None,
            "peak_twist_rate_dps": (
                None
                if self.twist_rate_dps_ is None
                else float(np.max(np.abs(self.twist_rate_dps_)))
            ),
            "twists": [t.as_dict() for t in self.twists_],
            "twist_count": sum(1 for t in self.twists_ if not t.during_gait),
            "bends": [b.as_dict() for b in self.bends_],
            "sets": self.sets_,
            "segment": self.segment_,
            "reference_source": self.reference_source_,
            "forward_source": self.forward_source_,
            "reference_gravity": [float(x) for x in self.reference_],
            "forward_axis": None
            if self.forward_axis_ is None
            else [float(x) for x in self.forward_axis_],
            "height_m": self.height_used_m_,
            "analysed_s": total,
            "algorithm": {"name": "TrunkPosture", "version": self.version, **self.get_params()},
        }

    # -- the analysis -------------------------------------------------------------------

    def _run(
        self,
        segs: list[Segment],
        *,
        axes: AxisMap | None,
        placement: str,
        height_m: float | None,
        rep_windows: Sequence[tuple[float, float]] | None = None,
        gait_spans: Sequence[tuple[float, float]] | None = None,
    ) -> TrunkPosture:
        self.segment_ = SEGMENT_OF_PLACEMENT.get(placement, "sensor")
        self.height_used_m_ = float(height_m) if height_m else DEFAULT_HEIGHT_M
        day = self._day(segs, rep_windows, gait_spans)
        u = self._reference(day, axes)
        f, l_axis = self._forward(day, u, axes)
        g = day.g
        gu = g @ u
        # day-long series, each computed in its own array (no day-long temporaries;
        # the inclination last, in gu's)
        if f is None:
            self.flexion_deg_ = np.degrees(np.arccos(np.clip(gu, -1.0, 1.0)))
            self.lateral_deg_ = np.full(gu.size, np.nan)
        else:
            fl = g @ f
            np.negative(fl, out=fl)
            self.flexion_deg_ = np.degrees(np.arctan2(fl, gu, out=fl), out=fl)
            lat = g @ l_axis
            np.clip(np.negative(lat, out=lat), -1.0, 1.0, out=lat)
            self.lateral_deg_ = np.degrees(np.arcsin(lat, out=lat), out=lat)
        incl = np.clip(gu, -1.0, 1.0, out=gu)
        self.inclination_deg_ = np.degrees(np.arccos(incl, out=incl), out=incl)
        self.time_s_ = day.time_s
        self._frame = (u, f, l_axis)
        self._gyr_bias = None
        self.twist_rate_dps_ = None
        if day.gyr is not None:
            # bias: the median rate while quiet, from the first sample of quiet
            # working blocks (at most GYRO_BIAS_SAMPLES of them, evenly spread)
            still = []
            n_quiet = int(np.count_nonzero(day.quiet))
            every = max(n_quiet // GYRO_BIAS_SAMPLES, 1)
            for (w, k), (lo, hi, _f) in zip(day.gyr, day.bounds, strict=True):
                idx = np.flatnonzero(day.quiet[lo:hi])[::every]
                still.append(w[idx * k])
            quiet_rates = _cat(still)
            self._gyr_bias = np.median(quiet_rates, axis=0) if quiet_rates.shape[0] else np.zeros(3)
            # rotation about the long axis: block means of the projection (both
            # linear, so the same as projecting the block means), then the filter
            twist = []
            for (w, k), (lo, hi, fs) in zip(day.gyr, day.bounds, strict=True):
                m = hi - lo
                axial = np.einsum("mkj,j->m", w[: m * k].reshape(m, k, 3), u / k)
                axial -= float(self._gyr_bias @ u)
                twist.append(lowpass_zero_phase(axial, fs, cutoff_hz=min(5.0, 0.4 * fs)))
            self.twist_rate_dps_ = _cat(twist)
        self._day_reps = (day.rep_start_s, day.rep_end_s, day.rep_max_s)
        self.bends_ = self._bends(day, placement)
        self.events_ = [b for b in self.bends_ if b.event]
        self.twists_ = self._twists(day)
        self.sets_ = self._sets()
        return self

    def _day(
        self,
        segs: list[Segment],
        rep_windows: Sequence[tuple[float, float]] | None,
        gait_spans: Sequence[tuple[float, float]] | None,
    ) -> _Day:
        """The whole recording at the working rate: gravity, quiet and gait, repetitions."""
        has_gyro = self.use_gyro and all(s.gyr_dps is not None for s in segs)
        parts: dict[str, list[Any]] = {k: [] for k in ("t", "acc", "gyr", "g", "q")}
        bounds: list[tuple[int, int, float]] = []
        reps: list[tuple[float, float]] = []
        gait: list[tuple[float, float]] = []
        n_total = 0
        for s in segs:
            k = working_factor(s.fs_hz, self.work_rate_hz)
            n = s.acc_mps2.shape[0] // k
            if n < 4:
                continue
            fs = s.fs_hz / k
            acc = block_mean(s.acc_mps2, k)
            # block means are centred between their first and last sample
            t = np.arange(n, dtype=np.float64)  # t0 + (j k + (k - 1) / 2) / fs, in place
            t *= k
            t += 0.5 * (k - 1)
            t /= s.fs_hz
            t += s.t0_s
            parts["t"].append(t)
            parts["acc"].append(acc)
            if has_gyro:
                assert s.gyr_dps is not None
                parts["gyr"].append((s.gyr_dps, k))
            parts["g"].append(
                _unit_rows_inplace(
                    lowpass_zero_phase(acc, fs, cutoff_hz=min(self.gravity_cutoff_hz, 0.4 * fs))
                )
            )
            parts["q"].append(moving_sd(acc, max(int(round(fs)), 2)) < self.quiet_sd_mps2)
            bounds.append((n_total, n_total + n, fs))
            n_total += n
            if gait_spans is None:
                det = StepDetector().detect(s.acc_mps2, s.fs_hz, t0_s=s.t0_s)
                gait += [(b.start_s, b.end_s) for b in det.bouts_ if b.gait]
            if rep_windows is None and self.use_reps:
                reps += self._reps(s)
        if not bounds:
            raise TooShortError(
                "no gap-free stretch long enough for the posture analysis "
                f"(at least {4 / self.work_rate_hz:g} s are needed; record longer)"
            )
        t = _cat(parts["t"])
        gait_mask = np.zeros(t.size, dtype=bool)
        for a, b in gait if gait_spans is None else gait_spans:
            gait_mask[np.searchsorted(t, a, "left") : np.searchsorted(t, b, "right")] = True
        if rep_windows is not None and self.use_reps:
            reps = [(float(a), float(b)) for a, b in rep_windows]
        reps.sort()
        r = np.asarray(reps, dtype=np.float64).reshape(-1, 2)
        return _Day(
            time_s=t,
            bounds=bounds,
            acc=_cat(parts["acc"]),
            gyr=parts["gyr"] if has_gyro else None,
            g=_cat(parts["g"]),
            quiet=_cat(parts["q"]),
            gait=gait_mask,
            rep_start_s=r[:, 0],
            rep_end_s=r[:, 1],
            rep_max_s=float((r[:, 1] - r[:, 0]).max()) if r.size else 0.0,
        )

    @staticmethod
    def _reps(s: Segment) -> list[tuple[float, float]]:
        """Repetition windows of exercise sets in one stretch (RepCounter)."""
        from .reps import RepCounter

        try:
            rc = RepCounter().count(s.acc_mps2, s.fs_hz, gyr_dps=s.gyr_dps, t0_s=s.t0_s)
        except BalanceMonError:
            return []
        return repetition_windows(rc.sets_)

    def _reference(self, sig: _Day, axes: AxisMap | None) -> FloatArray:
        g = sig.g
        ref = self.reference
        if ref is not None:
            arr = np.asarray(ref, dtype=np.float64)
            if arr.shape == (3,) and np.linalg.norm(arr) > 0:
                self.reference_source_ = "given"
                self.reference_ = arr / np.linalg.norm(arr)
                return self.reference_
            if arr.shape == (2,):
                m = (sig.time_s >= arr[0]) & (sig.time_s <= arr[1])
                if not m.any():
                    raise RecordingError(
                        f"the upright reference window {arr[0]:g}-{arr[1]:g} s holds no sample"
                    )
                self.reference_source_ = "given window"
                self.reference_ = _unit(g[m].mean(axis=0))
                return self.reference_
            raise RecordingError(
                "reference must be a gravity 3-vector or a (start_s, end_s) window"
            )
        # quiet stretches, never across a gap
        stretches = []
        for lo, hi, fs in sig.bounds:
            for a, b in _runs(sig.quiet[lo:hi]):
                dur = (b - a) / fs
                if dur >= self.min_quiet_s:
                    stretches.append((dur, _unit(g[lo + a : lo + b].mean(axis=0))))
        stretches.sort(key=lambda x: -x[0])
        if sig.gait.sum() > 0:
            walk = _unit(g[sig.gait].mean(axis=0))
            near = [d for d in stretches if _angle_deg(d[1], walk) <= self.upright_match_deg]
            if near:
                self.reference_source_ = "standing near walking"
                self.reference_ = near[0][1]
            else:
                self.reference_source_ = "walking"
                self.reference_ = walk
            return self.reference_
        if stretches:
            pick = stretches
            if axes is not None:
                v = axes_vector(axes, "v")
                pick = [d for d in stretches if _angle_deg(d[1], v) <= 35.0] or stretches
            self.reference_source_ = "longest quiet stretch"
            self.reference_ = pick[0][1]
            return self.reference_
        self.reference_source_ = "median"
        self.reference_ = _unit(np.median(g, axis=0))
        return self.reference_

    def _forward(
        self, sig: _Day, u: FloatArray, axes: AxisMap | None
    ) -> tuple[FloatArray | None, FloatArray | None]:
        def flat(v: FloatArray) -> FloatArray | None:
            w = v - (v @ u) * u
            n = float(np.linalg.norm(w))
            return w / n if n > 0.3 else None

        self.forward_axis_ = None
        meta = flat(axes_vector(axes, "ap")) if axes is not None else None
        given = (
            flat(np.asarray(self.forward, dtype=np.float64)) if self.forward is not None else None
        )
        g = sig.g
        gu = g @ u
        # inclination >= bend_min_deg, as cos <= cos(bend_min_deg): no arccos of the day
        big = gu <= math.cos(math.radians(self.bend_min_deg))
        data = None
        if big.sum() >= 0.5 * _median_rate(sig.bounds):  # half a second of large inclination
            gb, gub = g[big], gu[big]
            incl = np.degrees(np.arccos(np.clip(gub, -1.0, 1.0)))
            h = gb - gub[:, None] * u
            d = -_unit(h) * incl[:, None]
            mean = np.einsum("ij->j", d)
            if np.linalg.norm(mean) >= 0.5 * float(incl.sum()):
                data = flat(mean)
        if given is not None:
            f, src = given, "given"
        elif meta is not None and data is not None:
            if _angle_deg(meta, data) <= 45.0:
                f, src = data, "movement (agrees with axes metadata)"
            else:
                f, src = meta, "axes metadata"
        elif meta is not None:
            f, src = meta, "axes metadata"
        elif data is not None:
            f, src = data, "movement"
        else:
            self.forward_source_ = "none"
            return None, None
        self.forward_source_ = src
        self.forward_axis_ = f
        left = np.cross(u, f)
        if axes is not None:
            ml = axes_vector(axes, "ml")
            if float(left @ ml) < 0:
                left = -left  # lateral lean positive towards the metadata's +ml
        return f, left

    def _window(self, day: _Day, p0: int, p1: int, stretch: int) -> _Window:
        """Detail signals of samples ``[p0, p1)`` of one stretch for the bends in it."""
        lo0, _hi0, fs = day.bounds[stretch]
        acc = day.acc[p0:p1]
        gyr = None
        if day.gyr is not None and self._gyr_bias is not None:
            raw, k = day.gyr[stretch]
            w = block_mean(raw[(p0 - lo0) * k : (p1 - lo0) * k], k)
            # one filter run for both (the same filter on each column)
            both = lowpass_zero_phase(np.hstack([acc, w]), fs, cutoff_hz=min(5.0, 0.4 * fs))
            acc5, gyr = both[:, :3], both[:, 3:] - self._gyr_bias
        else:
            acc5 = lowpass_zero_phase(acc, fs, cutoff_hz=min(5.0, 0.4 * fs))
        u, f, _l = self._frame
        flex_fast = None
        if gyr is not None:
            w_perp = gyr - np.outer(gyr @ u, u)
            rate = np.sqrt(np.einsum("ij,ij->i", w_perp, w_perp))
        else:
            # without a gyroscope: tilt rate and timing from the 3 Hz gravity direction
            g_fast = _unit_rows_inplace(lowpass_zero_phase(acc, fs, cutoff_hz=min(3.0, 0.4 * fs)))
            if f is None:
                flex_fast = np.degrees(np.arccos(np.clip(g_fast @ u, -1.0, 1.0)))
            else:
                flex_fast = np.degrees(np.arctan2(-(g_fast @ f), g_fast @ u))
            rate = np.degrees(np.linalg.norm(np.gradient(g_fast, axis=0), axis=1)) * fs
        return _Window(
            time_s=day.time_s[p0:p1],
            fs=fs,
            g=day.g[p0:p1],
            acc_mag=np.sqrt(np.einsum("ij,ij->i", acc5, acc5)),
            acc5=acc5,
            still=moving_sd(acc5, max(int(round(0.3 * fs)), 2)) < STILL_SD_MPS2,
            gyr=gyr,
            rate=rate,
            flex_fast=flex_fast,
            fl=self.flexion_deg_[p0:p1],
            lat=self.lateral_deg_[p0:p1],
            incl=self.inclination_deg_[p0:p1],
        )

    def _bends(self, day: _Day, placement: str) -> list[Bend]:
        """Bends of every stretch; the detail signals only around them.

        Excursions of flexion beyond ``bend_min_deg`` are found on the whole
        recording; each group of excursions whose search reaches
        (:data:`BEND_SEARCH_S`), padded by :data:`FILTER_PAD_S` for the
        filters, touch is analysed on its own stretch, so a day of sitting and
        standing costs nothing here.
        """
        fl = self.flexion_deg_
        out: list[Bend] = []
        windows: list[tuple[_Window, list[tuple[Any, ...]]]] = []
        for stretch, (lo0, hi0, fs) in enumerate(day.bounds):
            search = int(round(BEND_SEARCH_S * fs))
            pad = int(round(FILTER_PAD_S * fs))
            low = fl[lo0:hi0] >= self.bend_min_deg - BEND_HYSTERESIS_DEG
            exc = [
                (a + lo0, b + lo0)
                for a, b in _runs(low)
                if float(fl[lo0 + a : lo0 + b].max()) >= self.bend_min_deg
            ]
            groups: list[list[tuple[int, int]]] = []
            for a, b in exc:
                # one window while the padded stretches would touch (fewer, longer filter runs)
                if groups and a - groups[-1][-1][1] <= 2 * (search + pad):
                    groups[-1].append((a, b))
                else:
                    groups.append([(a, b)])
            for gi, grp in enumerate(groups):
                p0 = max(lo0, grp[0][0] - search - pad)
                p1 = min(hi0, grp[-1][1] + search + pad)
                nxt = groups[gi + 1][0][0] if gi + 1 < len(groups) else hi0
                win = self._window(day, p0, p1, stretch)
                local = [(a - p0, b - p0) for a, b in grp]
                found = self._window_timing(
                    win, local, max(lo0 - p0, 0), min(hi0, p1) - p0, nxt - p0, search, placement
                )
                windows.append((win, found))
        # the gyroscope's angles of every window's bends at once (windows do not overlap)
        if day.gyr is not None:
            self._gyro_angles([(w, [(f[3], f[4], f[9], f[10]) for f in fd]) for w, fd in windows])
        spans = np.array([(f[6], f[7]) for _w, fd in windows for f in fd]).reshape(-1, 2)
        in_rep = iter(self._in_repetitions(spans[:, 0], spans[:, 1]).tolist())
        for sig, found in windows:
            for a, b, k, j0, j1, thr, start, end, complete, _s0, _s1, levels in found:
                if sig.gyr is not None:
                    k = a + int(np.argmax(sig.fl[a:b]))
                bend = self._bend(
                    sig, thr, a, b, k, j0, j1, start, end, complete, placement, next(in_rep), levels
                )
                out.append(bend)
        self._mark_repeated(out)
        return out

    def _window_timing(
        self,
        sig: _Window,
        exc: list[tuple[int, int]],
        lo0: int,
        hi0: int,
        nxt_last: int,
        search: int,
        placement: str,
    ) -> list[tuple[Any, ...]]:
        """Timing and rests of the bends of excursions ``exc`` of one window (local
        indices; ``[lo0, hi0)`` the part of the stretch in it, ``nxt_last`` where the
        next excursion starts): ``(a, b, k, j0, j1, thr, start, end, complete,
        rest before, rest after, fitted levels)`` each, for :meth:`_bend` once the
        gyroscope's angles are in (:meth:`_gyro_angles`)."""
        fl = sig.fl
        rate = sig.rate
        fs = sig.fs
        floor = self.rate_floor_dps * (1.0 if sig.gyr is not None else 2.0)
        t = sig.time_s
        found: list[tuple[Any, ...]] = []
        prev_end = lo0
        if sig.gyr is None:
            # edges of the rests for the fit, on a median (keeps edges, drops brief dips)
            fl_med = median_filter(
                fl, size=max(int(round(VALLEY_MEDIAN_S * fs)) | 1, 1), mode="nearest"
            )
        for j, (a, b) in enumerate(exc):
            nxt = exc[j + 1][0] if j + 1 < len(exc) else nxt_last
            lo, hi = max(prev_end, a - search), min(nxt, b + search, hi0)
            thr = max(self.onset_fraction * float(rate[lo:hi].max()), floor)
            before = np.flatnonzero(rate[lo:a] <= thr)
            after = np.flatnonzero(rate[b:hi] <= thr)
            i0 = lo + int(before[-1]) if before.size else lo
            i1 = b + int(after[0]) if after.size else hi - 1
            complete = bool(before.size and after.size)
            k = a + int(np.argmax(fl[a:b]))
            start, end = float(t[i0]), float(t[i1])
            levels = None
            if self.smooth_onset:
                fit: tuple[float, ...] | None = None
                if sig.gyr is None:
                    assert sig.flex_fast is not None  # made whenever there is no gyroscope
                    left = _valley(fl_med, a, max(lo0, a - search), -1)
                    right = _valley(fl_med, b - 1, min(hi0 - 1, b + search), 1)
                    fit = self._timing_angle(
                        t,
                        sig.flex_fast,
                        left,
                        k,
                        right,
                        _lever_terms(placement, self.height_used_m_),
                    )
                    if fit is not None:
                        levels = (fit[2], fit[3])
                if fit is None:
                    fit = self._timing_rate(t, rate, thr, i0, k, i1)
                if fit is not None:
                    start = max(fit[0], float(t[lo]))
                    end = min(fit[1], float(t[hi - 1]))
            e0 = min(int(np.searchsorted(t, start)), i0)
            e1 = max(int(np.searchsorted(t, end)), i1)
            r0, r1 = self._rests(sig, lo, e0, e1, hi)
            pad = int(round(0.25 * fs))
            # integrate between rests: those found, else around the timing
            j0 = r0 if r0 is not None else max(int(np.searchsorted(t, start)) - pad, lo)
            j1 = r1 if r1 is not None else min(int(np.searchsorted(t, end)) + pad, hi - 1)
            complete = r0 is not None and r1 is not None
            found.append(
                (a, b, k, j0, j1, thr, start, end, complete, r0 is not None, r1 is not None, levels)
            )
            prev_end = max(i1, j1)
        return found

    @staticmethod
    def _rests(sig: _Window, lo: int, a: int, b: int, hi: int) -> tuple[int | None, int | None]:
        """The last still sample up to a bend's start ``a`` and the first from its end ``b``.

        Still: the moving SD (0.3 s) of the 5 Hz acceleration is under
        :data:`STILL_SD_MPS2`. The vertical drop is integrated between them,
        where the velocity is zero. None when there is none within [lo, hi).
        """
        before = np.flatnonzero(sig.still[lo : a + 1])
        after = np.flatnonzero(sig.still[b:hi])
        return (
            lo + int(before[-1]) if before.size else None,
            b + int(after[0]) if after.size else None,
        )

    @staticmethod
    def _timing_angle(
        t: FloatArray, angle: FloatArray, left: int, k: int, right: int, lever: LeverTerms = ()
    ) -> tuple[float, float, float, float] | None:
        """Onset and end of a bend from minimum-jerk rises fitted to ``angle``.

        The going-down side is ``[left, k]``, the coming-up side ``[k, right]``
        fitted as a rise in reversed time (:func:`_fit_rise`, with the
        sensor's lever arms ``lever``); ``k`` is the peak. Returns the onset,
        the end and the two sides' fitted levels at the bottom (going down,
        coming up; :meth:`_fitted_peak`). None when either fit fails.
        """
        down = _fit_rise(t[left : k + 1], angle[left : k + 1], lever)
        up = _fit_rise(-t[k : right + 1][::-1], angle[k : right + 1][::-1], lever)
        if down is None or up is None:
            return None
        return down[0], -up[0], down[2], up[2]

    def _gyro_angles(
        self, windows: list[tuple[_Window, list[tuple[int, int, bool, bool]]]]
    ) -> None:
        """Recompute flexion and lateral lean over each span ``(j0, j1, still0, still1)``
        of each window from the gyroscope (every span of every window at once).

        The gravity direction in the sensor frame turns against the sensor's
        rotation. It is carried forwards from the accelerometer's direction at
        ``j0`` and backwards from the one at ``j1`` by the integrated
        rotation (bias removed; midpoint rule, composed as quaternions), and
        the two are blended linearly in time, so a constant residual bias
        (a drift growing linearly) cancels. The anchors are the 5 Hz
        acceleration's direction when still there (exact: gravity alone),
        else the low-passed gravity direction.
        """
        parts: list[tuple[_Window, list[tuple[int, int, bool, bool]]]] = []
        for sig, spans in windows:
            spans = [sp for sp in spans if sp[1] - sp[0] + 1 >= 3]
            if sig.gyr is not None and spans:
                parts.append((sig, spans))
        if not parts:
            return
        lens = np.array([j1 - j0 + 1 for _sig, spans in parts for j0, j1, _s0, _s1 in spans])
        first = np.concatenate(([0], np.cumsum(lens)[:-1]))
        # the rotation vector of each sample (rad), span after span
        rv = _cat(
            [
                np.radians(
                    sig.gyr[np.concatenate([np.arange(j0, j1 + 1) for j0, j1, _a, _b in sp])]
                )
                / sig.fs
                for sig, sp in parts
            ]
        )
        local = np.arange(rv.shape[0]) - np.repeat(first, lens)  # sample index within its span
        steps = np.zeros_like(rv)
        inner = np.flatnonzero(local > 0)
        steps[inner] = 0.5 * (rv[inner] + rv[inner - 1])
        quat = _quat_from_rotvec(steps)
        d = 1
        while d < int(lens.max()):  # prefix products within each span, log2(n) passes
            sel = np.flatnonzero(local >= d)
            quat[sel] = _quat_mul(quat[sel - d], quat[sel])
            d *= 2
        quat /= np.sqrt(np.einsum("ij,ij->i", quat, quat))[:, None]

        def anchor(sig: _Window, j: int, still: bool) -> FloatArray:
            return _unit(sig.acc5[j]) if still else sig.g[j]

        g0 = np.array([anchor(sig, j0, s0) for sig, sp in parts for j0, _j1, s0, _s1 in sp])
        g1 = np.array([anchor(sig, j1, s1) for sig, sp in parts for _j0, j1, _s0, s1 in sp])
        last = quat[first + lens - 1]
        g1_at_j0 = _quat_rotate_inv(last * np.array([-1.0, -1.0, -1.0, 1.0]), g1)
        fwd = _quat_rotate_inv(quat, np.repeat(g0, lens, axis=0))  # carried forwards from j0
        bwd = _quat_rotate_inv(quat, np.repeat(g1_at_j0, lens, axis=0))  # backwards from j1
        wt = (local / np.repeat(lens - 1, lens))[:, None]
        g = _unit((1.0 - wt) * fwd + wt * bwd)
        u, f, l_axis = self._frame
        gu = g @ u
        if f is None or l_axis is None:
            fl = np.degrees(np.arccos(np.clip(gu, -1.0, 1.0)))
            lat = None
        else:
            fl = np.degrees(np.arctan2(-(g @ f), gu))
            lat = np.degrees(np.arcsin(np.clip(-(g @ l_axis), -1.0, 1.0)))
        at = iter(first.tolist())
        for sig, spans in parts:
            for j0, j1, _s0, _s1 in spans:
                a = next(at)
                sig.fl[j0 : j1 + 1] = fl[a : a + j1 - j0 + 1]
                if lat is not None:
                    sig.lat[j0 : j1 + 1] = lat[a : a + j1 - j0 + 1]

    def _still_peak(self, sig: _Window, a: int, b: int, k: int) -> float | None:
        """Largest flexion at still samples near a bend's bottom (no gyroscope), or None.

        Still: the moving SD (0.3 s) of the 5 Hz acceleration is under
        :data:`STILL_SD_MPS2`, so the acceleration is gravity alone and its
        direction gives the exact angle. Near the bottom: inside the
        excursion ``[a, b)`` and within 0.75 s of the low-passed peak ``k``
        (the lift-pause neighbourhood). None without such samples, or when the
        low-passed peak exceeds their angle by more than
        :data:`STILL_PEAK_GUARD_G` could explain (the trunk went further).
        """
        w = int(round(0.75 * sig.fs))
        lo, hi = max(a, k - w), min(b, k + w + 1)
        idx = np.flatnonzero(sig.still[lo:hi]) + lo
        u, f, _l = self._frame
        if not idx.size:
            return None
        g = _unit(sig.acc5[idx])
        if f is None:
            ang = np.degrees(np.arccos(np.clip(g @ u, -1.0, 1.0)))
        else:
            ang = np.degrees(np.arctan2(-(g @ f), g @ u))
        peak = float(ang.max())
        guard = math.degrees(math.asin(STILL_PEAK_GUARD_G))
        if float(sig.fl[k]) - peak > guard:
            return None
        return peak

    @staticmethod
    def _fitted_peak(low_passed: float, levels: tuple[float, float] | None) -> float:
        """A bend's peak without a gyroscope or a still pause: the fitted rises' level.

        The low-passed maximum ``low_passed`` carries the sensor's own
        deceleration into the bottom of the bend and acceleration out of it
        (10-16 deg in a 25-70 deg bend of about a second down and up). The
        minimum-jerk fit of each side (:func:`_fit_rise`) takes that
        acceleration out (its ``B s''`` and large-angle terms), so its level at
        the bottom, ``c + A``, is the segment's rotation alone: ``levels`` are
        those of the going-down and the coming-up side, two independent
        estimates of the same angle. Their mean is the peak when they differ
        from each other by less than from the low-passed maximum (the
        difference is then the acceleration the fits removed, not an error of
        the fits); otherwise, or without both fits, the low-passed maximum.
        """
        if levels is None:
            return low_passed
        down, up = levels
        mean = 0.5 * (down + up)
        if not (math.isfinite(mean) and abs(down - up) < abs(low_passed - mean)):
            return low_passed
        return mean

    @staticmethod
    def _timing_rate(
        t: FloatArray, rate: FloatArray, thr: float, i0: int, k: int, i1: int
    ) -> tuple[float, float] | None:
        """Start and end of a smooth movement from the tilt-rate threshold crossings.

        A smooth point-to-point movement follows the minimum-jerk profile
        (Flash & Hogan 1985, J Neurosci 5:1688): its speed reaches a fraction
        p of its peak at u = (1 - sqrt(1 - sqrt(p))) / 2 of its duration, that
        is u / (0.5 - u) of the time from there to the peak speed. The
        crossings are moved back (start) and forward (end) by that much, using
        the rate peaks of the going-down and the coming-up halves.
        """
        out = []
        for lo, hi, edge, inner, sign in ((i0, k, i0, i0 + 1, -1.0), (k, i1, i1, i1 - 1, 1.0)):
            # where the rate crosses the threshold, between the samples either side of it
            te = float(t[edge])
            if 0 <= inner < t.size and lo <= inner <= hi:
                r_e, r_i = float(rate[edge]), float(rate[inner])
                if r_i > thr >= r_e:
                    te += (float(t[inner]) - te) * (thr - r_e) / (r_i - r_e)
            if hi - lo < 3:
                out.append(te)
                continue
            j = lo + int(np.argmax(rate[lo : hi + 1]))
            p = min(max(thr / max(float(rate[j]), 1e-9), 1e-6), 0.5)
            u = 0.5 * (1.0 - math.sqrt(1.0 - math.sqrt(p)))
            out.append(te + sign * u / (0.5 - u) * abs(float(t[j]) - te))
        return out[0], out[1]

    def _bend(
        self,
        sig: _Window,
        thr: float,
        a: int,
        b: int,
        k: int,
        i0: int,
        i1: int,
        start: float,
        end: float,
        complete: bool,
        placement: str,
        in_rep: bool,
        levels: tuple[float, float] | None = None,
    ) -> Bend:
        fl = sig.fl
        t = sig.time_s
        fs = sig.fs
        rate = sig.rate
        peak = float(fl[k])
        if sig.gyr is None:
            still_peak = self._still_peak(sig, a, b, k)
            peak = still_peak if still_peak is not None else self._fitted_peak(peak, levels)
        lat = sig.lat[i0 : i1 + 1]
        j = int(np.argmax(np.abs(lat)))  # the first NaN if there is one
        if not math.isnan(lat[j]):
            lat_peak = float(lat[j])
        elif np.isfinite(lat).any():
            lat_peak = float(lat[np.nanargmax(np.abs(lat))])
        else:
            lat_peak = float("nan")
        above = float(np.sum(fl[i0 : i1 + 1] >= self.flexion_threshold_deg)) / fs
        peak_rate = float(rate[i0 : i1 + 1].max())
        # a pause at the bottom: the rate stays under the onset threshold near the peak
        w = int(round(0.75 * fs))
        still = rate[max(k - w, i0) : min(k + w, i1) + 1] <= max(thr, 2.0 * self.rate_floor_dps)
        pause = longest_run(still) / fs
        event = peak >= self.flexion_threshold_deg
        lift_like = bool(event and complete and pause >= self.lift_pause_s)
        drop = hip = None
        kind = None
        if complete and placement in SEGMENT_OF_PLACEMENT:
            drop = self._drop(sig.acc_mag[i0 : i1 + 1], sig.incl[i0 : i1 + 1], k - i0, fs)
            hip = drop - self._rotation_drop(peak, placement)
            kind = "squat" if hip >= self.min_hip_drop_fraction * self.height_used_m_ else "stoop"
        twist = None
        if sig.gyr is not None:
            twist = float(np.max(np.abs(sig.gyr[i0 : i1 + 1] @ self.reference_)))
        return Bend(
            start_s=start,
            end_s=end,
            peak_s=float(t[k]),
            peak_deg=peak,
            lateral_peak_deg=lat_peak,
            time_above_s=above,
            peak_rate_dps=peak_rate,
            complete=complete,
            drop_m=drop,
            hip_drop_m=hip,
            kind=kind,
            in_repetition=in_rep,
            lift_like=lift_like,
            quick=peak_rate >= self.quick_rate_dps,
            twist_peak_dps=twist,
            event=event,
            severity=(
                None if not event else ("high" if peak >= self.high_flexion_deg else "moderate")
            ),
        )

    @staticmethod
    def _drop(mag: FloatArray, incl: FloatArray, k: int, fs: float) -> float:
        """Sensor's vertical drop (m) from |a| - g integrated on each half of a bend.

        ``|a|`` is the vertical specific force to first order whatever the
        sensor's orientation (``|g + a| = g + a_v + |a_h|^2 / 2g + ...``).
        Its resting level is taken from the first (going down) or last
        (coming up, integrated backwards) 0.2 s, which are at rest. A sensor's
        bias and scale errors make that level depend on the orientation, so
        an offset proportional to the change of inclination ``incl`` since
        rest is removed too, its size set by the velocity being zero again at
        the deepest point ``k`` (where the sensor turns round). The two
        halves' drops are averaged.
        """
        n_rest = max(int(round(0.2 * fs)), 1)

        def half(a: FloatArray, th: FloatArray) -> float:
            if a.size < 3:
                return 0.0
            acc = a - float(np.mean(a[: min(n_rest, a.size - 1)]))
            s = np.abs(th - th[0])
            s_int = float(np.sum(0.5 * (s[1:] + s[:-1]))) / fs
            a_int = float(np.sum(0.5 * (acc[1:] + acc[:-1]))) / fs
            if s_int > 1e-9:
                acc = acc - (a_int / s_int) * s
            v = np.concatenate(([0.0], np.cumsum(0.5 * (acc[1:] + acc[:-1])) / fs))
            v -= v[-1] * np.arange(v.size) / (v.size - 1)  # what the model leaves
            z = np.concatenate(([0.0], np.cumsum(0.5 * (v[1:] + v[:-1])) / fs))
            return float(-z[-1])

        down = half(mag[: k + 1], incl[: k + 1])
        up = half(mag[k:][::-1], incl[k:][::-1])
        return 0.5 * (down + up)

    def _rotation_drop(self, peak_deg: float, placement: str) -> float:
        """How far rotating the segment about the hips lowers the sensor (m)."""
        h = self.height_used_m_
        th = math.radians(max(peak_deg, 0.0))
        if placement == "lower_back":
            return PELVIS_H * h * (1.0 - math.cos(th)) - SKIN_H * h * math.sin(th)
        tp = PELVIS_SHARE * th
        return (
            PELVIS_H * h * (1.0 - math.cos(tp))
            + THORAX_H * h * (1.0 - math.cos(th))
            + SKIN_H * h * math.sin(th)
        )

    def _mark_repeated(self, bends: list[Bend]) -> None:
        times = [b.peak_s for b in bends if b.event]
        n, w = self.repeated_count, self.repeated_window_s
        rep = set()
        for i in range(len(times)):
            j = i
            while j + 1 < len(times) and times[j + 1] - times[i] <= w:
                j += 1
            if j - i + 1 >= n:
                rep.update(times[i : j + 1])
        for i, b in enumerate(bends):
            if b.event and b.peak_s in rep:
                bends[i] = Bend(**{**b.__dict__, "repeated": True})

    def _in_repetitions(self, start: FloatArray, end: FloatArray) -> NDArray[np.bool_]:
        """Whether half of each ``[start, end]`` or more lies in one repetition window."""
        r0, r1, longest = self._day_reps
        out = np.zeros(start.size, dtype=bool)
        if not r0.size or not start.size:
            return out
        i1 = np.searchsorted(r0, end, "right")  # windows starting after the end cannot overlap
        i0 = np.searchsorted(r0, start - longest, "left")  # nor those ending before the start
        half = 0.5 * (end - start)
        for o in range(int((i1 - i0).max(initial=0))):  # the candidates, one offset at a time
            j = i0 + o
            ok = j < i1
            jj = np.minimum(j, r0.size - 1)
            over = np.minimum(end, r1[jj]) - np.maximum(start, r0[jj])
            out |= ok & (over >= half)
        return out

    def _twists(self, day: _Day) -> list[Twist]:
        ax = self.twist_rate_dps_
        if ax is None:
            return []
        out = []
        for lo, hi, fs in day.bounds:
            r = ax[lo:hi]
            t = day.time_s[lo:hi]
            moving = np.abs(r) > max(0.1 * self.quick_twist_dps, 2.0 * self.rate_floor_dps)
            for a, b in _runs(moving):
                if b - a < 2:
                    continue
                ang = float(np.sum(r[a:b]) / fs)
                if abs(ang) < self.twist_min_deg:
                    continue
                pk = float(np.max(np.abs(r[a:b])))
                out.append(
                    Twist(
                        start_s=float(t[a]),
                        end_s=float(t[b - 1]),
                        angle_deg=ang,
                        peak_rate_dps=pk,
                        quick=pk >= self.quick_twist_dps,
                        during_gait=bool(day.gait[lo + a : lo + b].mean() >= 0.5),
                        flexed=bool(
                            np.any(self.flexion_deg_[lo + a : lo + b] >= self.flexion_threshold_deg)
                        ),
                    )
                )
        return out

    def _sets(self) -> list[dict[str, Any]]:
        """Consecutive complete bends (gaps under 8 s) with at least two members."""
        groups: list[list[Bend]] = []
        for b in self.bends_:
            if not b.complete or b.kind is None:
                continue
            if groups and b.start_s - groups[-1][-1].end_s <= 8.0:
                groups[-1].append(b)
            else:
                groups.append([b])
        out = []
        for g in groups:
            if len(g) < 2:
                continue
            n_squat = sum(1 for b in g if b.kind == "squat")
            kind = "squat" if n_squat * 2 > len(g) else "stoop"
            out.append(
                {
                    "start_s": g[0].start_s,
                    "end_s": g[-1].end_s,
                    "bends": len(g),
                    "kind": kind,
                    "squat_bends": n_squat,
                    "stoop_bends": len(g) - n_squat,
                    "mean_peak_deg": float(np.mean([b.peak_deg for b in g])),
                    "max_peak_deg": float(max(b.peak_deg for b in g)),
                    "flexion_events": sum(1 for b in g if b.event),
                }
            )
        return out


def repetition_windows(sets: Sequence[Any]) -> list[tuple[float, float]]:
    """Each repetition of :class:`.reps.RepSet` s as ``(start_s, end_s)``, padded by half a period.

    A repetition spans one extreme posture to the next; half a period either
    side covers the movement into and out of it. :class:`TrunkPosture` marks
    bends overlapping these windows ``in_repetition``.
    """
    out = []
    for rs in sets:
        half = 0.5 * rs.period_s
        out += [(r.start_s - half, r.end_s + half) for r in rs.reps]
    return out


def axes_vector(axes: AxisMap, body_axis: str) -> FloatArray:
    """The sensor-frame unit vector of a body axis (``v``, ``ml`` or ``ap``) of an axis map."""
    v = np.zeros(3)
    for i, (b, s) in enumerate(zip(axes.body, axes.sign, strict=True)):
        if b == body_axis:
            v[i] = float(s)
    return v


def peak_flexion_per_rep(
    rec: Recording, windows: Sequence[tuple[float, float]], **params: Any
) -> list[dict[str, Any]]:
    """Convenience: analyse ``rec`` and return :meth:`TrunkPosture.rep_alignment` of ``windows``."""
    return TrunkPosture(**params).analyze_recording(rec).rep_alignment(windows)


# ---------------------------------------------------------------------------
# Live feedback
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AlignmentWarning:
    """One live warning of :class:`LiveTrunkInclination`.

    ``kind`` is ``flexion`` (``value`` the inclination, deg) or ``twist``
    (``value`` the rotation rate about the upright axis, deg/s).
    """

    time_s: float
    kind: str
    value: float


class LiveTrunkInclination:
    """Causal trunk (or pelvic) inclination from streamed acceleration, with warnings.

    The simple live counterpart of :class:`TrunkPosture` (steps 1-2 of the
    module docstring, made causal): gravity is the acceleration through a
    one-pole low-pass at ``cutoff_hz``; the upright reference is the mean
    acceleration of the first ``settle_s`` quiet seconds (moving SD below
    ``quiet_sd_mps2``) or whatever :meth:`set_upright` takes; the angle is
    the inclination from that reference (total inclination, or the sagittal
    flexion ``atan2(-g.f, g.u)`` when a ``forward`` sensor direction is
    given). A flexion warning fires when the angle rises above
    ``flexion_threshold_deg`` and re-arms only once it is back below the
    threshold minus ``hysteresis_deg``; with a gyroscope, a rotation about
    the upright axis faster than ``twist_rate_dps`` is a twist warning.
    Warnings of either kind are at most one per ``refractory_s`` (the
    on-screen state, :attr:`warning_`, follows the angle without one).

    Parameters
    ----------
    fs_hz : sampling rate of the pushed samples (required).
    flexion_threshold_deg : warning threshold (default 30 deg, module docstring).
    hysteresis_deg : re-arm margin below the threshold (default 5 deg).
    refractory_s : least time between two warnings (default 5 s).
    cutoff_hz : gravity low-pass (default 0.8 Hz).
    settle_s, quiet_sd_mps2 : upright reference window and its stillness
        (default 2 s, 0.3 m/s^2).
    twist_rate_dps : quick-twist rate (default 60 deg/s, as ``quick_twist_dps``).
    reference, forward : upright gravity direction and forward direction
        (sensor frame); None: found / total inclination.
    t0_s : time of the first sample.

    Attributes
    ----------
    angle_deg_ : latest angle (NaN until the reference is known).
    reference_ : unit upright direction or None.
    warning_ : the angle is above the threshold (with hysteresis).
    warnings_ : every :class:`AlignmentWarning` so far.
    """

    def __init__(
        self,
        fs_hz: float,
        *,
        flexion_threshold_deg: float = 30.0,
        hysteresis_deg: float = 5.0,
        refractory_s: float = 5.0,
        cutoff_hz: float = 0.8,
        settle_s: float = 2.0,
        quiet_sd_mps2: float = 0.3,
        twist_rate_dps: float = 60.0,
        reference: Sequence[float] | None = None,
        forward: Sequence[float] | None = None,
        t0_s: float = 0.0,
    ) -> None:
        fs = float(fs_hz)
        if not (math.isfinite(fs) and fs > 0):
            raise BalanceMonError(f"live inclination needs a positive sampling rate, got {fs_hz!r}")
        self.fs_hz = fs
        self.flexion_threshold_deg = float(flexion_threshold_deg)
        self.hysteresis_deg = float(hysteresis_deg)
        self.refractory_s = float(refractory_s)
        self.cutoff_hz = float(cutoff_hz)
        self.settle_s = float(settle_s)
        self.quiet_sd_mps2 = float(quiet_sd_mps2)
        self.twist_rate_dps = float(twist_rate_dps)
        self.forward = forward
        self._alpha = 1.0 - math.exp(-2.0 * math.pi * self.cutoff_hz / fs)
        self._alpha_rate = 1.0 - math.exp(-2.0 * math.pi * 5.0 / fs)
        self._t = float(t0_s)
        self._g: FloatArray | None = None
        self._rate = 0.0
        self._settle: list[FloatArray] = []
        self.reference_: FloatArray | None = None
        if reference is not None:
            self.reference_ = _unit(np.asarray(reference, dtype=np.float64).reshape(3))
        self.angle_deg_ = math.nan
        self.warning_ = False
        self.warnings_: list[AlignmentWarning] = []
        self._last_warn_s = -math.inf

    def set_upright(self) -> None:
        """Take the current gravity direction as upright (the "set upright" button)."""
        if self._g is not None:
            self.reference_ = _unit(self._g.copy())
            self.angle_deg_ = 0.0
            self.warning_ = False

    def reset_reference(self) -> None:
        """Find the upright again from the next quiet seconds."""
        self.reference_ = None
        self._settle = []
        self.angle_deg_ = math.nan
        self.warning_ = False

    def _angles(self, g: FloatArray) -> FloatArray:
        u = self.reference_
        assert u is not None
        gu = _unit(g)
        if self.forward is not None:
            f = np.asarray(self.forward, dtype=np.float64).reshape(3)
            f = f - (f @ u) * u
            if np.linalg.norm(f) > 1e-6:
                f = f / np.linalg.norm(f)
                # the gravity direction (as measured: pointing up) tilts backwards
                # in the sensor frame when the segment leans forward
                return np.degrees(np.arctan2(-(gu @ f), gu @ u))
        return np.degrees(np.arccos(np.clip(gu @ u, -1.0, 1.0)))

    def push(
        self,
        acc_mps2: ArrayLike,
        gyr_dps: ArrayLike | None = None,
        *,
        time_s: ArrayLike | None = None,
    ) -> tuple[FloatArray, FloatArray, list[AlignmentWarning]]:
        """Add (n, 3) samples; returns their times, angles (deg, NaN before the
        reference) and the new warnings."""
        acc = np.asarray(acc_mps2, dtype=np.float64).reshape(-1, 3)
        n = acc.shape[0]
        if time_s is None:
            t = self._t + np.arange(1, n + 1) / self.fs_hz
        else:
            t = np.asarray(time_s, dtype=np.float64).reshape(-1)
        if n == 0:
            return t, np.zeros(0), []
        self._t = float(t[-1])
        # one-pole low-pass, sample by sample (a few hundred samples per call)
        prev = acc[0].copy() if self._g is None else self._g
        a = self._alpha
        g, _ = lfilter([a], [1.0, a - 1.0], acc, axis=0, zi=((1.0 - a) * prev)[None, :])
        self._g = g[-1].copy()
        if self.reference_ is None:
            self._settle.append(acc)
            allacc = np.concatenate(self._settle)
            need = max(int(round(self.settle_s * self.fs_hz)), 2)
            allacc = allacc[-need:]
            self._settle = [allacc]
            if allacc.shape[0] >= need:
                sd = float(np.sqrt((allacc.std(axis=0) ** 2).sum()))
                if sd < self.quiet_sd_mps2:
                    self.reference_ = _unit(allacc.mean(axis=0))
                    self._settle = []
                    self._g = allacc.mean(axis=0)
            if self.reference_ is None:
                return t, np.full(n, math.nan), []
        ang = self._angles(g)
        rate = None
        if gyr_dps is not None:
            gyr = np.asarray(gyr_dps, dtype=np.float64).reshape(-1, 3)
            if gyr.shape[0] == n:
                rate = np.abs(gyr @ self.reference_)
        new: list[AlignmentWarning] = []
        thr = self.flexion_threshold_deg
        for i in range(n):
            x = float(ang[i])
            if not self.warning_ and x > thr:
                self.warning_ = True
                if t[i] - self._last_warn_s >= self.refractory_s:
                    self._last_warn_s = float(t[i])
                    new.append(AlignmentWarning(float(t[i]), "flexion", x))
            elif self.warning_ and x < thr - self.hysteresis_deg:
                self.warning_ = False
            if rate is not None:
                self._rate += self._alpha_rate * (float(rate[i]) - self._rate)
                if (
                    self._rate > self.twist_rate_dps
                    and t[i] - self._last_warn_s >= self.refractory_s
                ):
                    self._last_warn_s = float(t[i])
                    new.append(AlignmentWarning(float(t[i]), "twist", self._rate))
        self.angle_deg_ = float(ang[-1])
        self.warnings_ += new
        return t, ang, new
