"""Bone-health and spine-safety scenarios: lifts, forward bends, twists and impacts.

Three scenario functions, all with the ground truth the posture and loading
analyses are validated against (docs/bone.md):

- :func:`simulate_lifts`: a set of lifts from the floor, ``squat`` (knees
  bent, the pelvis drops 0.25-0.4 m) or ``stoop`` (knees nearly straight, the
  hips move back), each with a ``neutral`` spine (hip hinge: pelvis and thorax
  incline together) or a ``flexed`` one (the lumbar spine flexes: the pelvis
  inclines 35-55 % as much as the thorax). Ranges of trunk inclination follow
  the lifting-technique literature: squat lifts keep the trunk at about
  20-55 deg, stoop lifts take it to 45-95 deg (van Dieen et al. 1999, Clin
  Biomech 14:685, "Stoop or squat: a review of biomechanical studies on
  lifting technique"; Burgess-Limerick 2003, Int J Ind Ergon 31:143) (verify
  the exact ranges).
- :func:`simulate_bends`: forward bends (and lateral leans, trunk twists) with
  chosen onset, end and peak inclination of the instrumented segment.
- :func:`simulate_impacts`: walking, jogging, stairs, jumps in place and heel
  drops with foot-contact impacts of chosen peak resultant acceleration (g,
  gravity included) at the lower back; saturation follows from
  ``SensorSpec(range_g=...)``.

Kinematic notes. The lower-back sensor rides on the pelvis, the sternum
sensor on the thorax (docs/simulator.md section 5); the thorax angle is its
absolute inclination, not relative to the pelvis. Knee flexion k is split
into a shank inclination 0.3 k and a thigh inclination -0.7 k, and the
pelvis follows by leg forward kinematics (feet fixed). A jump is C2 by
construction: a quintic push-off ending at the take-off velocity with
acceleration -g, a ballistic flight (specific force zero), a quintic landing
starting from the touch-down velocity and acceleration -g, plus a
foot-contact impact at touch-down (Gabor wavelet, docs/simulator.md section 1).

Truth added to the usual keys:

- ``bends``: per bend ``onset_s``, ``bottom_s``, ``return_s``, ``end_s``,
  ``style``/``spine`` (lifts), ``thorax_deg``, ``pelvis_deg``,
  ``knee_flexion_deg``, ``lateral_deg``, ``twist_deg``, and from the
  noise-free simulated sensor: ``peak_inclination_deg`` (angle between the
  sensor's up-axis and its upright standing direction, the quantity the
  posture analysis reports), ``peak_inclination_s``,
  ``peak_axial_rate_dps`` (rotation rate about the segment's long axis),
  ``sensor_drop_m`` (largest fall of the sensor below its standing height).
- ``impacts``: per foot contact / landing ``time_s``, ``kind``,
  ``requested_peak_g``, ``peak_g`` (largest resultant specific force of the
  noise-free, band-limited signal within 50 ms, in g, gravity included),
  ``saturated`` (any axis beyond ``range_g`` there).
- ``counts``: ``steps`` (walking, jogging and stair foot contacts),
  ``stair_steps``, ``jumps``, ``heel_drops``, ``impacts``,
  ``impacts_over_2g``, ``impacts_over_4g``, ``saturated_impacts``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..consts import GRAVITY_MPS2
from ..errors import SimulationError
from ._body import Subject
from ._core import leg_fk, minjerk, quintic
from ._primitives import stair_flight, walk
from ._result import Context, SimResult, finish
from ._scenarios import _choice, _int, _num
from ._sensor import SensorSpec
from ._sway import stance_params
from ._timeline import R, Timeline, standing_state

__all__ = [
    "IMPACT_ACTIVITIES",
    "LIFT_STYLES",
    "SPINE_STYLES",
    "simulate_bends",
    "simulate_impacts",
    "simulate_lifts",
]

G = GRAVITY_MPS2

#: Lifting techniques: knees bent (``squat``) or nearly straight (``stoop``).
LIFT_STYLES = ("squat", "stoop")

#: Spine during the lift: hip hinge with a neutral spine, or a flexed (rounded) back.
SPINE_STYLES = ("neutral", "flexed")

#: Activities of :func:`simulate_impacts`.
IMPACT_ACTIVITIES = ("walk", "jog", "stairs_up", "stairs_down", "jump", "heel_drop", "rest")

#: Thorax inclination (deg) and knee flexion (deg) ranges drawn per lift.
_LIFT_RANGES: dict[tuple[str, str], tuple[tuple[float, float], tuple[float, float]]] = {
    ("squat", "neutral"): ((20.0, 40.0), (80.0, 110.0)),
    ("squat", "flexed"): ((35.0, 55.0), (70.0, 100.0)),
    ("stoop", "neutral"): ((45.0, 70.0), (0.0, 15.0)),
    ("stoop", "flexed"): ((65.0, 95.0), (0.0, 15.0)),
}

#: Pelvis inclination as a fraction of the thorax's, per spine style.
_PELVIS_RATIO = {"neutral": (0.85, 1.0), "flexed": (0.35, 0.55)}

#: Default pelvis / thorax ratio of a bend (lumbopelvic rhythm of a free forward bend).
BEND_PELVIS_RATIO = 0.55


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _stand(ctx: Context, tl: Timeline, duration_s: float) -> None:
    """Quiet standing with postural sway (feet apart, eyes open)."""
    t0 = tl.now
    tl.hold(duration_s)
    ap, ml = stance_params("feet_apart", "open", "firm", ctx.subject.sway_scale)
    tl.add_sway(t0, tl.now, ap, ml, kind="stand", rise_s=min(0.3, 0.3 * duration_s))


def _legs(knee_deg: float) -> tuple[float, float]:
    """(shank pitch, thigh pitch) in radians for a knee flexion (shank 0.3 k, thigh -0.7 k)."""
    return R(0.3 * knee_deg), -R(0.7 * knee_deg)


def _bend(
    tl: Timeline,
    *,
    down_s: float,
    hold_s: float,
    up_s: float,
    thorax_deg: float,
    pelvis_deg: float,
    knee_deg: float = 0.0,
    hips_back_m: float = 0.0,
    lateral_deg: float = 0.0,
    twist_deg: float = 0.0,
    reach: bool = True,
) -> dict[str, Any]:
    """Bend down, hold, come back up; returns the timing truth."""
    s0 = dict(tl.state)
    sk, th = _legs(knee_deg)
    down: dict[str, Any] = {
        "tr_pitch": s0["tr_pitch"] + R(thorax_deg),
        "pel_pitch": s0["pel_pitch"] + R(pelvis_deg),
        "sk_pitch": s0["sk_pitch"] + sk,
        "th_pitch": s0["th_pitch"] + th,
        "tr_roll": s0["tr_roll"] + R(lateral_deg),
        "pel_roll": s0["pel_roll"] + R(0.4 * lateral_deg),
        "tr_yaw": s0["tr_yaw"] + R(twist_deg),
        "pel_yaw": s0["pel_yaw"] + R(0.3 * twist_deg),
    }
    if reach:
        down["sh_flex"] = R(min(40.0 + 0.6 * thorax_deg, 110.0))
        down["el_flex"] = R(10.0)
    t0 = tl.now
    tl.move(down_s, down, offsets={"fwd": -hips_back_m} if hips_back_m else None, fk=True)
    tb = tl.now
    if hold_s > 0:
        tl.hold(hold_s)
    tr = tl.now
    tl.move(
        up_s,
        {k: s0[k] for k in down},
        offsets={"fwd": hips_back_m} if hips_back_m else None,
        fk=True,
    )
    t1 = tl.now
    return {
        "onset_s": t0,
        "bottom_s": tb,
        "return_s": tr,
        "end_s": t1,
        "thorax_deg": thorax_deg,
        "pelvis_deg": pelvis_deg,
        "knee_flexion_deg": knee_deg,
        "lateral_deg": lateral_deg,
        "twist_deg": twist_deg,
    }


def _segment_axis(ctx: Context) -> np.ndarray:
    """The instrumented segment's long (up) axis in sensor coordinates."""
    mount = ctx.sensor.mount()  # sensor -> segment
    return mount.T @ np.array([0.0, 0.0, 1.0])


def _bend_truth(res: SimResult, ctx: Context, bends: list[dict[str, Any]], ref_s: float) -> None:
    """Add the noise-free sensor quantities of each bend to ``res.truth['bends']``."""
    sig = res.signals
    t = sig["time_s"]
    rot = sig["orientation"]
    up = rot[:, 2, :]  # world up in sensor coordinates, per sample (rows of R^T e_z)
    i_ref = int(np.searchsorted(t, ref_s))
    ref = up[max(min(i_ref, t.size - 1), 0)]
    incl = np.degrees(np.arccos(np.clip(up @ ref, -1.0, 1.0)))
    axial = sig["gyr_dps"] @ _segment_axis(ctx)
    z = sig["position_m"][:, 2]
    z_ref = z[max(min(i_ref, t.size - 1), 0)]
    out = []
    for b in bends:
        i0, i1 = np.searchsorted(t, [b["onset_s"] - 0.05, b["end_s"] + 0.05])
        i1 = max(int(i1), int(i0) + 1)
        k = int(i0) + int(np.argmax(incl[i0:i1]))
        b = dict(b)
        b["peak_inclination_deg"] = float(incl[k])
        b["peak_inclination_s"] = float(t[k])
        b["peak_axial_rate_dps"] = float(np.max(np.abs(axial[i0:i1])))
        b["sensor_drop_m"] = float(z_ref - z[i0:i1].min())
        out.append(b)
    res.truth["bends"] = out


def _check_sensor_placement(ctx: Context, allowed: Sequence[str]) -> None:
    if ctx.sensor.placement not in allowed:
        raise SimulationError(
            f"this scenario models a sensor on the {' or '.join(allowed)}; "
            f"got placement {ctx.sensor.placement!r}"
        )


# ---------------------------------------------------------------------------
# Lifts
# ---------------------------------------------------------------------------


def simulate_lifts(
    style: str = "squat",
    *,
    spine: str = "neutral",
    lifts: int = 6,
    tempo_s: float = 4.0,
    hold_s: float = 0.6,
    rest_s: float = 1.5,
    trunk_deg: float | None = None,
    knee_deg: float | None = None,
    variability: float = 0.1,
    idle_start_s: float = 4.0,
    idle_end_s: float = 3.0,
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult:
    """A set of lifts from the floor with one technique.

    Parameters
    ----------
    style : ``"squat"`` (knees bent 70-110 deg) or ``"stoop"`` (knees 0-15 deg,
        hips moved back 8-12 cm).
    spine : ``"neutral"`` (pelvis inclines 85-100 % as much as the thorax) or
        ``"flexed"`` (35-55 %).
    lifts : number of lifts (1-50).
    tempo_s : seconds from the start of the bend to upright again (2-15).
    hold_s : pause at the bottom (grasping the object), s.
    rest_s : standing between lifts, s.
    trunk_deg, knee_deg : thorax inclination and knee flexion at the bottom;
        None draws each lift from the technique's range (module docstring).
    variability : lift-to-lift coefficient of variation of given angles and durations.
    sensor : placement ``lower_back`` (default) or ``sternum``.

    Truth: ``bends`` (one per lift, see the module docstring) and ``reps``
    (one per lift), ``counts.lifts``, ``style``, ``spine``.
    """
    _choice("style", style, LIFT_STYLES)
    _choice("spine", spine, SPINE_STYLES)
    _int("lifts", lifts, 1, 50)
    tempo = _num("tempo_s", tempo_s, 2.0, 15.0)
    hold = _num("hold_s", hold_s, 0.0, 5.0)
    rest = _num("rest_s", rest_s, 0.0, 60.0)
    cv = _num("variability", variability, 0.0, 0.3)
    if trunk_deg is not None:
        _num("trunk_deg", trunk_deg, 0.0, 110.0)
    if knee_deg is not None:
        _num("knee_deg", knee_deg, 0.0, 130.0)
    idle0 = _num("idle_start_s", idle_start_s, 2.0, 600.0)
    idle1 = _num("idle_end_s", idle_end_s, 0.5, 600.0)
    ctx = Context.make("lifts", seed, sensor, subject, "lower_back")
    _check_sensor_placement(ctx, ("lower_back", "sternum"))
    rng = ctx.rng_motion
    tl = ctx.timeline(standing_state(ctx.body))
    _stand(ctx, tl, idle0)
    (tr_lo, tr_hi), (kn_lo, kn_hi) = _LIFT_RANGES[(style, spine)]
    ratio_lo, ratio_hi = _PELVIS_RATIO[spine]
    bends = []
    for i in range(lifts):
        thorax = (
            trunk_deg * ctx.vary(cv) if trunk_deg is not None else float(rng.uniform(tr_lo, tr_hi))
        )
        knee = knee_deg * ctx.vary(cv) if knee_deg is not None else float(rng.uniform(kn_lo, kn_hi))
        pelvis = thorax * float(rng.uniform(ratio_lo, ratio_hi))
        d = tempo * ctx.vary(cv)
        hold_i = min(hold * ctx.vary(cv), 0.4 * d)
        move = 0.5 * (d - hold_i)
        back = float(rng.uniform(0.08, 0.12)) * ctx.body.height / 1.65 if style == "stoop" else 0.0
        b = _bend(
            tl,
            down_s=move,
            hold_s=hold_i,
            up_s=move,
            thorax_deg=thorax,
            pelvis_deg=pelvis,
            knee_deg=knee,
            hips_back_m=back,
        )
        b.update(index=i + 1, style=style, spine=spine, kind="lift")
        bends.append(b)
        tl.reps.append(
            {
                "start_s": b["onset_s"],
                "end_s": b["end_s"],
                "peak_s": 0.5 * (b["bottom_s"] + b["return_s"]),
                "amplitude": thorax,
                "amplitude_unit": "deg",
                "quantity": "thorax_inclination",
            }
        )
        if i < lifts - 1 and rest > 0:
            _stand(ctx, tl, rest)
    _stand(ctx, tl, idle1)
    res = finish(
        ctx,
        tl,
        test="posture",
        condition=f"lift/{style}/{spine}",
        parameters={
            "style": style,
            "spine": spine,
            "lifts": lifts,
            "tempo_s": tempo,
            "hold_s": hold,
            "rest_s": rest,
            "trunk_deg": trunk_deg,
            "knee_deg": knee_deg,
            "variability": cv,
            "idle_start_s": idle0,
            "idle_end_s": idle1,
        },
        counts={"lifts": lifts},
        extra={"style": style, "spine": spine},
        metadata={"exercise": f"{style}_lift"},
    )
    _bend_truth(res, ctx, bends, ref_s=0.5 * idle0)
    return res


# ---------------------------------------------------------------------------
# Bends, leans and twists with chosen timing
# ---------------------------------------------------------------------------

_BEND_KEYS = (
    "onset_s",
    "end_s",
    "peak_deg",
    "hold_s",
    "lateral_deg",
    "twist_deg",
    "knee_deg",
    "pelvis_ratio",
)


def simulate_bends(
    bends: Sequence[Mapping[str, float]],
    *,
    duration_s: float | None = None,
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult:
    """Standing with forward bends, lateral leans or trunk twists at chosen times.

    Parameters
    ----------
    bends : each a mapping with ``onset_s`` and ``end_s`` (start of the
        movement and return to upright, s on the recording's axis; the first
        onset at least 2 s in, bends not overlapping), ``peak_deg`` (forward
        inclination of the instrumented segment at the bottom: the pelvis for
        a lower-back sensor, the thorax for a sternum sensor; the other
        segment inclines ``pelvis_ratio`` (default 0.55) times the thorax) and
        optionally ``hold_s`` (time at the bottom, default 30 % of the bend),
        ``lateral_deg`` (thorax lean to the right; pelvis 0.4 x),
        ``twist_deg`` (thorax rotation about the vertical to the left; pelvis
        0.3 x), ``knee_deg`` (knee flexion, default 0).
    duration_s : recording length (default: 3 s after the last bend).
    sensor : placement ``lower_back`` (default) or ``sternum``.

    Truth: ``bends`` with the requested values and the sensor's exact
    ``peak_inclination_deg`` (module docstring).
    """
    ctx = Context.make("bends", seed, sensor, subject, "lower_back")
    _check_sensor_placement(ctx, ("lower_back", "sternum"))
    if isinstance(bends, Mapping) or not isinstance(bends, Sequence) or not bends:
        raise SimulationError("bends must be a non-empty list of mappings")
    specs = []
    prev_end = 2.0
    for i, b in enumerate(bends):
        if not isinstance(b, Mapping):
            raise SimulationError(f"bend {i + 1} must be a mapping, got {b!r}")
        unknown = set(b) - set(_BEND_KEYS)
        if unknown:
            raise SimulationError(f"bend {i + 1}: unknown keys {', '.join(sorted(unknown))}")
        for key in ("onset_s", "end_s", "peak_deg"):
            if key not in b:
                raise SimulationError(f"bend {i + 1} needs {key}")
        onset = _num(f"bend {i + 1} onset_s", b["onset_s"], prev_end, 1e5)
        end = _num(f"bend {i + 1} end_s", b["end_s"], onset + 0.6, onset + 60.0)
        peak = _num(f"bend {i + 1} peak_deg", b["peak_deg"], 0.0, 110.0)
        dur = end - onset
        hold = _num(f"bend {i + 1} hold_s", b.get("hold_s", 0.3 * dur), 0.0, dur - 0.4)
        ratio = _num(
            f"bend {i + 1} pelvis_ratio", b.get("pelvis_ratio", BEND_PELVIS_RATIO), 0.1, 1.0
        )
        lat = _num(f"bend {i + 1} lateral_deg", b.get("lateral_deg", 0.0), -45.0, 45.0)
        twist = _num(f"bend {i + 1} twist_deg", b.get("twist_deg", 0.0), -90.0, 90.0)
        knee = _num(f"bend {i + 1} knee_deg", b.get("knee_deg", 0.0), 0.0, 130.0)
        if ctx.sensor.placement == "lower_back":
            pelvis, thorax = peak, min(peak / ratio, 120.0)
        else:
            thorax, pelvis = peak, peak * ratio
        specs.append((onset, end, hold, thorax, pelvis, lat, twist, knee, peak))
        prev_end = end
    total = _num(
        "duration_s", duration_s if duration_s is not None else prev_end + 3.0, prev_end + 0.5, 1e5
    )
    tl = ctx.timeline(standing_state(ctx.body))
    out = []
    for i, (onset, end, hold, thorax, pelvis, lat, twist, knee, peak) in enumerate(specs):
        _stand(ctx, tl, onset - tl.now)
        move = 0.5 * (end - onset - hold)
        b = _bend(
            tl,
            down_s=move,
            hold_s=hold,
            up_s=move,
            thorax_deg=thorax,
            pelvis_deg=pelvis,
            knee_deg=knee,
            lateral_deg=lat,
            twist_deg=twist,
            reach=thorax > 20.0,
        )
        b.update(index=i + 1, requested_peak_deg=peak, kind="bend")
        out.append(b)
    _stand(ctx, tl, total - tl.now)
    res = finish(
        ctx,
        tl,
        test="posture",
        condition="bends",
        parameters={"bends": [dict(b) for b in bends], "duration_s": total},
        counts={"bends": len(out)},
    )
    _bend_truth(res, ctx, out, ref_s=1.0)
    return res


# ---------------------------------------------------------------------------
# Impacts
# ---------------------------------------------------------------------------

_DEFAULT_PEAK_G = {
    "walk": 1.5,
    "jog": 3.0,
    "stairs_up": 1.5,
    "stairs_down": 1.8,
    "jump": 4.8,
    "heel_drop": 2.6,
}


def _activity(item: str | Mapping[str, Any]) -> dict[str, Any]:
    d = {"kind": item} if isinstance(item, str) else dict(item)
    kind = _choice("activity kind", d.get("kind"), IMPACT_ACTIVITIES)
    allowed = {
        "rest": {"kind", "duration_s"},
        "walk": {"kind", "steps", "peak_g", "cadence_spm", "speed_mps"},
        "jog": {"kind", "steps", "peak_g", "cadence_spm", "speed_mps"},
        "stairs_up": {"kind", "steps", "peak_g", "step_s"},
        "stairs_down": {"kind", "steps", "peak_g", "step_s"},
        "jump": {"kind", "count", "peak_g", "height_m", "interval_s"},
        "heel_drop": {"kind", "count", "peak_g", "interval_s"},
    }[kind]
    unknown = set(d) - allowed
    if unknown:
        raise SimulationError(f"{kind}: unknown keys {', '.join(sorted(unknown))}")
    return d


def _filtered_fraction(tl: Timeline, ctx: Context, sigma_s: float, freq_hz: float) -> float:
    """Fraction of an impact's peak acceleration left after the sensor's anti-alias filter.

    The impact is a Gabor wavelet in position (docs/simulator.md section 1);
    the ideal IMU low-passes it with the FIR filter of ``_imu.ideal_imu``
    (cut-off 0.4 x the output rate) before sampling, which shaves the peak of
    short impacts at low output rates.
    """
    from scipy.signal import firwin

    k = ctx.k
    if k <= 1:
        return 1.0
    tau = np.arange(-int(6 * sigma_s * tl.fs), int(6 * sigma_s * tl.fs) + 1) / tl.fs
    w = 2.0 * np.pi * freq_hz
    env = np.exp(-0.5 * (tau / sigma_s) ** 2)
    # second derivative of exp(-tau^2 / 2 s^2) cos(w tau), normalised to 1 at tau = 0
    d2 = env * (
        ((tau / sigma_s**2) ** 2 - 1.0 / sigma_s**2 - w * w) * np.cos(w * tau)
        + 2.0 * w * tau / sigma_s**2 * np.sin(w * tau)
    )
    d2 = -d2 / (1.0 / sigma_s**2 + w * w)
    h = firwin(8 * k + 1, 0.8 / k)
    return float(np.max(np.convolve(d2, h, mode="same")))


def _body_vertical_g(tl: Timeline, t_s: float) -> float:
    """Vertical acceleration of the pelvis (g) at ``t_s`` from the timeline built so far."""
    pz = np.concatenate(tl.parts["pz"])
    i = tl.n_margin + int(round(t_s * tl.fs))
    i = min(max(i, 1), pz.size - 2)
    return float((pz[i + 1] - 2.0 * pz[i] + pz[i - 1]) * tl.fs * tl.fs / G)


def _set_impacts(
    tl: Timeline, ctx: Context, first: int, kind: str, peak_g: float
) -> list[dict[str, Any]]:
    """Scale the impacts appended since ``first`` so that the resultant peaks near ``peak_g``.

    At each contact the movement alone gives a specific force of about 1 g
    plus the pelvis's own vertical acceleration there (zero in free fall);
    the impact supplies the rest, mostly upwards with a little braking, divided
    by what the anti-alias filter leaves of its peak.
    """
    rng = ctx.rng_motion
    out = []
    for imp in tl.impacts[first:]:
        k = float(rng.uniform(0.96, 1.04))
        base = 1.0 + _body_vertical_g(tl, imp.t)
        frac = _filtered_fraction(tl, ctx, imp.sigma_s, imp.freq_hz)
        extra = max(peak_g * k - base, 0.05) * G / max(frac, 0.2)
        imp.up = 0.98 * extra
        imp.fwd = -0.15 * extra
        imp.left = 0.1 * extra * (1.0 if imp.left >= 0 else -1.0)
        out.append({"time_s": imp.t, "kind": kind, "requested_peak_g": peak_g})
    return out


def _jump(
    tl: Timeline, ctx: Context, *, height_m: float, peak_g: float
) -> tuple[dict[str, Any], float]:
    """One countermovement jump in place; returns (impact truth, touch-down time)."""
    body = tl.body
    s0 = dict(tl.state)
    v_to = math.sqrt(2.0 * G * height_m)
    t_flight = 2.0 * v_to / G
    knee_c = 70.0
    sk_c, th_c = _legs(knee_c)
    # crouch (countermovement)
    tl.move(
        0.5,
        {"sk_pitch": sk_c, "th_pitch": th_c, "tr_pitch": R(20.0), "pel_pitch": R(12.0)},
        fk=True,
    )
    z_c = tl.state["pz"]
    z_s = s0["pz"]
    # push-off: quintic from rest to take-off (v = v_to, a = -g) at standing height
    t_push = 0.7
    n = tl.nsamp(t_push)
    u = np.arange(n + 1) / tl.fs
    t_push = n / tl.fs
    pz = quintic(u, t_push, z_c, 0.0, 0.0, z_s, v_to, -G)
    w = minjerk(u / t_push)
    tl.append(
        n,
        {
            "pz": pz,
            "sk_pitch": sk_c * (1 - w),
            "th_pitch": th_c * (1 - w),
            "tr_pitch": R(20.0) * (1 - w),
            "pel_pitch": R(12.0) * (1 - w),
        },
    )
    # flight
    n = tl.nsamp(t_flight)
    u = np.arange(n + 1) / tl.fs
    tl.append(n, {"pz": z_s + v_to * u - 0.5 * G * u * u})
    t_td = tl.now
    v_td = v_to - G * n / tl.fs
    z_td = tl.state["pz"]
    # landing: quintic from touch-down to a shallow crouch at rest
    knee_l = 35.0
    sk_l, th_l = _legs(knee_l)
    f0, u0 = leg_fk(0.0, 0.0, body.l_shank, body.l_thigh)
    f1, u1 = leg_fk(sk_l, th_l, body.l_shank, body.l_thigh)
    z_l = z_s + float(u1 - u0)
    t_land = 0.35
    n = tl.nsamp(t_land)
    u = np.arange(n + 1) / tl.fs
    t_land = n / tl.fs
    w = minjerk(u / t_land)
    tl.append(
        n,
        {
            "pz": quintic(u, t_land, z_td, v_td, -G, z_l, 0.0, 0.0),
            "px": tl.state["px"] + float(f1 - f0) * w,
            "sk_pitch": sk_l * w,
            "th_pitch": th_l * w,
            "tr_pitch": R(10.0) * w,
            "pel_pitch": R(6.0) * w,
        },
    )
    # stand up again
    tl.move(0.6, {k: s0[k] for k in ("sk_pitch", "th_pitch", "tr_pitch", "pel_pitch")}, fk=True)
    tl.impact(t_td + 0.015, up=1.0, sigma_s=0.015, freq_hz=10.0)
    tl.event("landing", t_td)
    del ctx
    return {"time_s": t_td + 0.015, "kind": "jump", "requested_peak_g": peak_g}, t_td


def _heel_drop(tl: Timeline, *, peak_g: float) -> dict[str, Any]:
    """Rise onto the toes, hold, drop onto the heels (impact at heel contact)."""
    rise = 0.06 * tl.body.height / 1.65
    s0 = dict(tl.state)
    tl.move(0.8, {"tr_pitch": s0["tr_pitch"] + R(1.5)}, offsets={"up": rise, "fwd": 0.02})
    tl.hold(0.4)
    tl.move(0.22, {"tr_pitch": s0["tr_pitch"]}, offsets={"up": -rise, "fwd": -0.02})
    t = tl.now - 0.01
    tl.impact(t, up=1.0, sigma_s=0.015, freq_hz=10.0)
    tl.event("heel_contact", t)
    return {"time_s": t, "kind": "heel_drop", "requested_peak_g": peak_g}


def simulate_impacts(
    activities: Sequence[str | Mapping[str, Any]] = (
        "walk",
        "rest",
        "jog",
        "rest",
        "stairs_up",
        "rest",
        "jump",
        "rest",
        "heel_drop",
    ),
    *,
    idle_start_s: float = 3.0,
    idle_end_s: float = 3.0,
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult:
    """Weight-bearing activities with foot-contact impacts of chosen peak acceleration.

    Parameters
    ----------
    activities : in order, each a kind (:data:`IMPACT_ACTIVITIES`) or a
        mapping with ``kind`` and options:

        - ``walk`` / ``jog``: ``steps`` (default 20 / 30), ``cadence_spm``
          (110 / 160), ``speed_mps`` (subject's gait speed / 2.5), ``peak_g``
          (1.5 / 3.0). Jogging uses the walking model (inverted-pendulum
          pelvis path, no flight phase) at running cadence with larger impacts.
        - ``stairs_up`` / ``stairs_down``: ``steps`` (10), ``step_s`` (0.9),
          ``peak_g`` (1.5 / 1.8); riser 0.17 m, tread 0.28 m.
        - ``jump``: ``count`` (10), ``height_m`` (0.08), ``interval_s``
          (pause between jumps, 1.0), ``peak_g`` (4.8).
        - ``heel_drop``: ``count`` (10), ``interval_s`` (0.8), ``peak_g`` (2.6).
        - ``rest``: ``duration_s`` (4) of quiet standing.

        ``peak_g`` is the resultant specific force (gravity included) at the
        lower back at contact; the truth's ``peak_g`` is what the noise-free
        band-limited sensor sees.
    sensor : placement ``lower_back`` (default) or ``sternum``; ``range_g``
        below the peaks makes the sensor saturate (truth ``saturated``).

    Truth: ``impacts``, ``bouts`` (kind, start_s, end_s, steps) and
    ``counts`` (module docstring).
    """
    ctx = Context.make("impacts", seed, sensor, subject, "lower_back")
    _check_sensor_placement(ctx, ("lower_back", "sternum"))
    items = [_activity(a) for a in activities]
    if not items:
        raise SimulationError("activities must not be empty")
    rng = ctx.rng_motion
    tl = ctx.timeline(standing_state(ctx.body))
    _stand(ctx, tl, _num("idle_start_s", idle_start_s, 1.0, 600.0))
    impacts: list[dict[str, Any]] = []
    bouts: list[dict[str, Any]] = []
    left_first = True
    for d in items:
        kind = d["kind"]
        t0 = tl.now
        first = len(tl.impacts)
        if kind == "rest":
            _stand(ctx, tl, _num("rest duration_s", d.get("duration_s", 4.0), 0.5, 3600.0))
            continue
        peak = _num(f"{kind} peak_g", d.get("peak_g", _DEFAULT_PEAK_G[kind]), 1.05, 30.0)
        if kind in ("walk", "jog"):
            steps = int(
                _num(f"{kind} steps", d.get("steps", 20 if kind == "walk" else 30), 2, 5000)
            )
            cadence = _num(
                f"{kind} cadence_spm",
                d.get("cadence_spm", ctx.subject.cadence_spm if kind == "walk" else 160.0),
                40.0,
                220.0,
            )
            speed = _num(
                f"{kind} speed_mps",
                d.get("speed_mps", ctx.subject.gait_speed_mps if kind == "walk" else 2.5),
                0.2,
                6.0,
            )
            dur = (steps + 0.5) * 60.0 / cadence
            walk(
                tl,
                rng,
                distance_m=speed * dur,
                duration_s=dur,
                n_steps=steps,
                first_left=left_first,
                instrumented_left=True,
            )
            left_first = not left_first
            # the pelvis's own vertical acceleration at contact is about +0.2 g
            impacts += _set_impacts(tl, ctx, first, kind, peak)
            bouts.append({"kind": kind, "start_s": t0, "end_s": tl.now, "steps": steps})
        elif kind in ("stairs_up", "stairs_down"):
            steps = int(_num(f"{kind} steps", d.get("steps", 10), 2, 200))
            step_s = _num(f"{kind} step_s", d.get("step_s", 0.9), 0.5, 3.0)
            rise = 0.17 if kind == "stairs_up" else -0.17
            durations = [step_s * ctx.vary(0.05, 0.85, 1.15) for _ in range(steps)]
            stair_flight(
                tl,
                rng,
                durations,
                rise_m=rise,
                tread_m=0.28,
                instrumented_left=True,
                first_left=left_first,
            )
            impacts += _set_impacts(tl, ctx, first, kind, peak)
            bouts.append(
                {
                    "kind": kind,
                    "start_s": t0,
                    "end_s": tl.now,
                    "steps": steps,
                    "rise_m": rise * steps,
                }
            )
        elif kind == "jump":
            count = int(_num("jump count", d.get("count", 10), 1, 500))
            height = _num("jump height_m", d.get("height_m", 0.08), 0.02, 0.4)
            gap = _num("jump interval_s", d.get("interval_s", 1.0), 0.0, 60.0)
            for j in range(count):
                _jump(tl, ctx, height_m=height, peak_g=peak)
                if gap > 0 and j < count - 1:
                    _stand(ctx, tl, gap)
            impacts += _set_impacts(tl, ctx, first, kind, peak)
            bouts.append({"kind": kind, "start_s": t0, "end_s": tl.now, "jumps": count})
        else:  # heel_drop
            count = int(_num("heel_drop count", d.get("count", 10), 1, 500))
            gap = _num("heel_drop interval_s", d.get("interval_s", 0.8), 0.0, 60.0)
            for j in range(count):
                _heel_drop(tl, peak_g=peak)
                if gap > 0 and j < count - 1:
                    _stand(ctx, tl, gap)
            impacts += _set_impacts(tl, ctx, first, kind, peak)
            bouts.append({"kind": kind, "start_s": t0, "end_s": tl.now, "drops": count})
    _stand(ctx, tl, _num("idle_end_s", idle_end_s, 1.0, 600.0))
    res = finish(
        ctx,
        tl,
        test="loading",
        condition="+".join(d["kind"] for d in items if d["kind"] != "rest"),
        parameters={"activities": items},
        extra={"bouts": bouts},
    )
    _impact_truth(res, ctx, impacts, bouts)
    return res


def _impact_truth(
    res: SimResult, ctx: Context, impacts: list[dict[str, Any]], bouts: list[dict[str, Any]]
) -> None:
    sig = res.signals
    t = sig["time_s"]
    acc = sig["acc_mps2"]
    mag = np.linalg.norm(acc, axis=1) / G
    full = ctx.sensor.range_g * G
    out = []
    for imp in sorted(impacts, key=lambda x: x["time_s"]):
        i0, i1 = np.searchsorted(t, [imp["time_s"] - 0.05, imp["time_s"] + 0.05])
        i1 = max(int(i1), int(i0) + 1)
        k = int(i0) + int(np.argmax(mag[i0:i1]))
        out.append(
            {
                **imp,
                "peak_g": float(mag[k]),
                "peak_s": float(t[k]),
                "saturated": bool(np.any(np.abs(acc[i0:i1]) >= full)),
            }
        )
    steps = sum(b.get("steps", 0) for b in bouts)
    stair = sum(b.get("steps", 0) for b in bouts if b["kind"].startswith("stairs"))
    res.truth["impacts"] = out
    res.truth["counts"] = {
        "steps": steps,
        "stair_steps": stair,
        "jumps": sum(b.get("jumps", 0) for b in bouts),
        "heel_drops": sum(b.get("drops", 0) for b in bouts),
        "impacts": len(out),
        "impacts_over_2g": sum(1 for x in out if x["peak_g"] >= 2.0),
        "impacts_over_4g": sum(1 for x in out if x["peak_g"] >= 4.0),
        "saturated_impacts": sum(1 for x in out if x["saturated"]),
        "peak_g": max((x["peak_g"] for x in out), default=1.0),
    }
