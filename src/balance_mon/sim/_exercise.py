"""Exercise sets and home exercise sessions."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..consts import GRAVITY_MPS2
from ..errors import SimulationError
from ._body import Body, Subject
from ._core import leg_fk, planar_ik
from ._primitives import reposition_feet, sit_to_stand, stair_flight, stand_to_sit, turn
from ._result import Context, SimResult, finish
from ._scenarios import _int, _num, _phase
from ._sensor import SensorSpec
from ._sway import stance_params
from ._timeline import R, Timeline, profile, seated_state, standing_state

G = GRAVITY_MPS2


@dataclass(frozen=True)
class ExerciseInfo:
    placement: str  # default sensor placement
    tempo_s: float  # default seconds per repetition
    posture: str  # starting posture: stand, sit, plank
    variants: tuple[str, ...]
    quantity: str  # what the rep amplitude measures
    unit: str
    signal: dict[str, str]  # per placement: how strong the rep signal is


_ALL = ("lower_back", "sternum", "thigh", "wrist")


def _sig(**kw: str) -> dict[str, str]:
    return {p: kw.get(p, "strong") for p in _ALL}


#: The exercises, their default placement and tempo, and how well each
#: placement sees the movement ("strong", "moderate", "weak": e.g. the thigh
#: barely moves in an arm raise, only the whole-body reaction shows).
EXERCISES: dict[str, ExerciseInfo] = {
    "squat": ExerciseInfo("thigh", 3.0, "stand", ("default",), "pelvis_drop", "m", _sig()),
    "sit_to_stand": ExerciseInfo(
        "lower_back", 4.0, "sit", ("default",), "pelvis_rise", "m", _sig()
    ),
    "heel_raise": ExerciseInfo(
        "lower_back",
        2.5,
        "stand",
        ("default",),
        "body_rise",
        "m",
        _sig(thigh="moderate", wrist="moderate"),
    ),
    "arm_raise": ExerciseInfo(
        "wrist",
        3.0,
        "stand",
        ("front", "side"),
        "shoulder_elevation",
        "deg",
        _sig(lower_back="weak", sternum="weak", thigh="weak"),
    ),
    "push_up": ExerciseInfo(
        "sternum",
        2.5,
        "wall",
        ("wall", "floor"),
        "elbow_flexion",
        "deg",
        _sig(thigh="moderate", wrist="moderate"),
    ),
    "lunge": ExerciseInfo(
        "thigh", 4.0, "stand", ("same", "alternating"), "pelvis_drop", "m", _sig(wrist="moderate")
    ),
    "band_row": ExerciseInfo(
        "wrist",
        2.5,
        "row",
        ("default",),
        "elbow_flexion",
        "deg",
        _sig(lower_back="weak", sternum="weak", thigh="weak"),
    ),
    "stair_climb": ExerciseInfo(
        "lower_back", 0.9, "stand", ("up", "down"), "stair_rise", "m", _sig(wrist="moderate")
    ),
}


def _scale(body: Body) -> float:
    return body.height / 1.65


def _rep(t0: float, t1: float, peak: float, amp: float, info: ExerciseInfo, **kw: Any):
    return {
        "start_s": t0,
        "end_s": t1,
        "peak_s": peak,
        "amplitude": amp,
        "amplitude_unit": info.unit,
        "quantity": info.quantity,
        **kw,
    }


# ---------------------------------------------------------------------------
# Repetitions (each returns its truth dict; the timeline is left at the rest pose)
# ---------------------------------------------------------------------------


def rep_squat(tl: Timeline, ctx: Context, a: float, d: float, i: int, variant: str, geo: Any):
    s0 = dict(tl.state)
    info = EXERCISES["squat"]
    th = s0["th_pitch"] - R(min(75.0 * a, 100.0))
    sk = s0["sk_pitch"] + R(min(25.0 * a, 35.0))
    t0 = tl.now
    tl.move(
        0.42 * d,
        {
            "th_pitch": th,
            "sk_pitch": sk,
            "tr_pitch": s0["tr_pitch"] + R(28.0 * a),
            "pel_pitch": s0["pel_pitch"] + R(18.0 * a),
            "sh_flex": R(75.0),
            "el_flex": R(5.0),
        },
        fk=True,
    )
    tb = tl.now
    tl.hold(0.08 * d)
    tc = tl.now
    tl.move(
        0.42 * d,
        {k: s0[k] for k in ("th_pitch", "sk_pitch", "tr_pitch", "pel_pitch", "sh_flex", "el_flex")},
        fk=True,
    )
    t1 = tl.now
    tl.hold(0.08 * d)
    _f0, z0 = leg_fk(s0["sk_pitch"], s0["th_pitch"], tl.body.l_shank, tl.body.l_thigh)
    _f1, z1 = leg_fk(sk, th, tl.body.l_shank, tl.body.l_thigh)
    return _rep(
        t0,
        t1,
        0.5 * (tb + tc),
        float(z0 - z1),
        info,
        thigh_rotation_deg=math.degrees(s0["th_pitch"] - th),
    )


def rep_sit_to_stand(
    tl: Timeline, ctx: Context, a: float, d: float, i: int, variant: str, geo: Any
):
    info = EXERCISES["sit_to_stand"]
    trunk = ctx.subject.trunk_flexion_deg * a
    up = sit_to_stand(tl, max(0.4 * d, 0.7), trunk, arms="crossed")
    tl.phase(**_phase(up))
    tl.hold(0.1 * d)
    down = stand_to_sit(tl, max(0.4 * d, 0.7), trunk, geo, arms="crossed")
    tl.phase(**_phase(down))
    tl.hold(0.1 * d)
    return _rep(
        up["start_s"],
        down["end_s"],
        up["end_s"],
        up["pelvis_rise_m"],
        info,
        trunk_flexion_deg=trunk,
    )


def rep_heel_raise(tl: Timeline, ctx: Context, a: float, d: float, i: int, variant: str, geo: Any):
    info = EXERCISES["heel_raise"]
    s0 = dict(tl.state)
    up = float(np.clip(0.065 * a, 0.03, 0.10)) * _scale(tl.body)
    fwd = 0.02 * a
    t0 = tl.now
    tl.move(0.3 * d, {"tr_pitch": s0["tr_pitch"] + R(1.5)}, offsets={"up": up, "fwd": fwd})
    tb = tl.now
    tl.hold(0.15 * d)
    tc = tl.now
    tl.move(0.35 * d, {"tr_pitch": s0["tr_pitch"]}, offsets={"up": -up, "fwd": -fwd})
    t1 = tl.now
    tl.impact(t1 - 0.02 * d, up=0.15 * G * a, sigma_s=0.02, freq_hz=8.0)  # heels land
    tl.hold(0.2 * d)
    return _rep(t0, t1, 0.5 * (tb + tc), up, info)


def rep_arm_raise(tl: Timeline, ctx: Context, a: float, d: float, i: int, variant: str, geo: Any):
    info = EXERCISES["arm_raise"]
    s0 = dict(tl.state)
    if variant == "side":
        ang = min(90.0 * a, 130.0)
        tgt = {"sh_abd": s0["sh_abd"] + R(ang), "el_flex": R(5.0)}
    else:
        ang = min(110.0 * a, 170.0)
        tgt = {"sh_flex": s0["sh_flex"] + R(ang), "el_flex": R(5.0)}
    tgt["tr_pitch"] = s0["tr_pitch"] - R(2.0 * a)  # the trunk leans back a little
    t0 = tl.now
    tl.move(0.38 * d, tgt)
    tb = tl.now
    tl.hold(0.1 * d)
    tc = tl.now
    tl.move(0.38 * d, {k: s0[k] for k in tgt})
    t1 = tl.now
    tl.hold(0.14 * d)
    return _rep(t0, t1, 0.5 * (tb + tc), ang, info)


def rep_band_row(tl: Timeline, ctx: Context, a: float, d: float, i: int, variant: str, geo: Any):
    info = EXERCISES["band_row"]
    s0 = dict(tl.state)
    el = min(90.0 * a, 130.0)
    # the upper arm swings back a little less than the elbow bends: the
    # forearm stays near horizontal but tilts up by ~15 deg at the end of the pull
    tgt = {
        "sh_flex": s0["sh_flex"] - R(min(75.0 * a, 110.0)),
        "el_flex": s0["el_flex"] + R(el),
        "tr_pitch": s0["tr_pitch"] - R(3.0),
    }
    t0 = tl.now
    tl.move(0.35 * d, tgt)
    tb = tl.now
    tl.hold(0.15 * d)
    tc = tl.now
    tl.move(0.4 * d, {k: s0[k] for k in tgt})
    t1 = tl.now
    tl.hold(0.1 * d)
    return _rep(t0, t1, 0.5 * (tb + tc), el, info)


def rep_lunge(tl: Timeline, ctx: Context, a: float, d: float, i: int, variant: str, geo: Any):
    info = EXERCISES["lunge"]
    s0 = dict(tl.state)
    k = _scale(tl.body)
    instrumented_front = variant == "same" or i % 2 == 0
    fwd = 0.35 * a * k
    drop = float(np.clip(0.36 * a, 0.15, 0.5)) * k
    th = s0["th_pitch"] + (-R(min(80.0 * a, 100.0)) if instrumented_front else R(20.0 * a))
    t0 = tl.now
    tl.move(
        0.45 * d,
        {"th_pitch": [(th, 0.05, 1.0)], "tr_pitch": s0["tr_pitch"] + R(5.0)},
        offsets={"fwd": [(fwd, 0.0, 0.6)], "up": [(-drop, 0.25, 1.0)]},
    )
    tl.impact(t0 + 0.45 * d * 0.45, up=0.5 * G, fwd=-0.3 * G, sigma_s=0.016, freq_hz=10.0)
    tb = tl.now
    tl.hold(0.1 * d)
    tc = tl.now
    tl.move(
        0.45 * d,
        {"th_pitch": [(s0["th_pitch"], 0.0, 0.95)], "tr_pitch": s0["tr_pitch"]},
        offsets={"up": [(drop, 0.0, 0.7)], "fwd": [(-fwd, 0.35, 1.0)]},
    )
    t1 = tl.now
    tl.impact(t1 - 0.1 * d, up=0.3 * G, sigma_s=0.018, freq_hz=9.0)
    return _rep(t0, t1, 0.5 * (tb + tc), drop, info, leading_leg_instrumented=instrumented_front)


# -- push-ups -------------------------------------------------------------------


@dataclass
class PlankGeometry:
    """Feet pivot, hand contact point and arm lengths of a wall or floor push-up."""

    variant: str
    ankle_x: float  # heading frame, relative to the pelvis x at set start
    ankle_z: float
    hand_x: float
    hand_z: float
    reach: float  # shoulder height above ankle along the plank
    l1: float
    l2: float
    gamma_up: float

    @classmethod
    def of(cls, body: Body, variant: str) -> PlankGeometry:
        l1, l2 = body.l_upper_arm, body.l_forearm
        reach = body.shoulder_h - body.ankle_h
        arm = l1 + l2
        if variant == "wall":
            g_up = R(15.0)
            sx = reach * math.sin(g_up)
            sz = body.ankle_h + reach * math.cos(g_up)
            hx, hz = sx + 0.97 * arm, sz - 0.05
        else:
            hz = 0.03
            c = (0.97 * arm + hz - body.ankle_h) / reach
            g_up = math.acos(min(max(c, 0.05), 0.95))
            hx = reach * math.sin(g_up)
        return cls(variant, 0.0, body.ankle_h, hx, hz, reach, l1, l2, g_up)

    def shoulder(self, gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            self.ankle_x + self.reach * np.sin(gamma),
            self.ankle_z + self.reach * np.cos(gamma),
        )

    def arm_angles(self, gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shoulder flexion, elbow flexion) relative to the thorax keeping the hand fixed."""
        sx, sz = self.shoulder(gamma)
        ex, ez = planar_ik(sx, sz, self.hand_x, self.hand_z, self.l1, self.l2, elbow_down=True)
        th_ua = np.arctan2(-(ex - sx), -(ez - sz))
        th_fa = np.arctan2(-(self.hand_x - ex), -(self.hand_z - ez))
        return gamma - th_ua, np.unwrap(th_ua - th_fa)

    def gamma_down(self, a: float) -> float:
        target = (self.l1 + self.l2) * (1.0 - 0.4 * min(max(a, 0.3), 1.4))
        gs = self.gamma_up + np.radians(np.linspace(0.0, 45.0, 4501))
        sx, sz = self.shoulder(gs)
        dist = np.hypot(self.hand_x - sx, self.hand_z - sz)
        j = int(np.argmax(dist <= target)) if np.any(dist <= target) else int(np.argmin(dist))
        return float(gs[j])


def plank_state(body: Body, geo: PlankGeometry) -> dict[str, float]:
    s = standing_state(body)
    g = np.array([geo.gamma_up])
    sh, el = geo.arm_angles(g)
    fwd, up = leg_fk(geo.gamma_up, geo.gamma_up, body.l_shank, body.l_thigh)
    s.update(
        px=float(fwd),
        pz=body.ankle_h + float(up),
        sk_pitch=geo.gamma_up,
        th_pitch=geo.gamma_up,
        pel_pitch=geo.gamma_up,
        tr_pitch=geo.gamma_up,
        sh_flex=float(sh[0]),
        el_flex=float(el[0]),
    )
    return s


def _plank_move(tl: Timeline, geo: PlankGeometry, duration: float, gamma_target: float) -> None:
    n = tl.nsamp(duration)
    u = np.arange(n + 1) / n
    st = tl.state
    g = profile(st["tr_pitch"], gamma_target, u)
    sh, el = geo.arm_angles(g)
    fwd, up = leg_fk(g, g, tl.body.l_shank, tl.body.l_thigh)
    f0, u0 = leg_fk(st["sk_pitch"], st["th_pitch"], tl.body.l_shank, tl.body.l_thigh)
    c, s = math.cos(st["yaw"]), math.sin(st["yaw"])
    # keep the arm angles continuous with the current state (setup ends exactly on IK)
    arrays = {
        "sk_pitch": g,
        "th_pitch": g,
        "tr_pitch": g,
        "pel_pitch": g,
        "sh_flex": sh,
        "el_flex": el,
        "px": st["px"] + c * (fwd - f0),
        "py": st["py"] + s * (fwd - f0),
        "pz": st["pz"] + (up - u0),
    }
    tl.append(n, arrays)


def rep_push_up(
    tl: Timeline, ctx: Context, a: float, d: float, i: int, variant: str, geo: PlankGeometry
):
    info = EXERCISES["push_up"]
    g_down = geo.gamma_down(a)
    t0 = tl.now
    _plank_move(tl, geo, 0.45 * d, g_down)
    tb = tl.now
    el_bottom = math.degrees(tl.state["el_flex"])
    tl.hold(0.1 * d)
    tc = tl.now
    _plank_move(tl, geo, 0.45 * d, geo.gamma_up)
    t1 = tl.now
    return _rep(
        t0,
        t1,
        0.5 * (tb + tc),
        el_bottom,
        info,
        body_rotation_deg=math.degrees(g_down - geo.gamma_up),
    )


REPS: dict[str, Callable[..., dict[str, Any]]] = {
    "squat": rep_squat,
    "sit_to_stand": rep_sit_to_stand,
    "heel_raise": rep_heel_raise,
    "arm_raise": rep_arm_raise,
    "push_up": rep_push_up,
    "lunge": rep_lunge,
    "band_row": rep_band_row,
}


# ---------------------------------------------------------------------------
# Sets
# ---------------------------------------------------------------------------


def _idle(tl: Timeline, ctx: Context, duration: float, posture: str) -> None:
    if duration <= 0:
        return
    t0 = tl.now
    tl.hold(duration)
    ap, ml = stance_params("feet_apart", "open", "firm", ctx.subject.sway_scale)
    if posture in ("stand", "row"):
        tl.add_sway(t0 - 0.3, tl.now + 0.3, ap, ml, rise_s=0.3)
    elif posture == "sit":
        tl.add_sway(t0 - 0.3, tl.now + 0.3, ap, ml, kind="sit", rise_s=0.3)


def _resolve(exercise: str, variant: str | None) -> tuple[ExerciseInfo, str]:
    if exercise not in EXERCISES:
        raise SimulationError(f"unknown exercise {exercise!r}; use one of {', '.join(EXERCISES)}")
    info = EXERCISES[exercise]
    v = variant or info.variants[0]
    if v not in info.variants:
        raise SimulationError(
            f"exercise {exercise!r} has no variant {variant!r}; "
            f"use one of {', '.join(info.variants)}"
        )
    return info, v


def _check_pauses(pauses: Any, reps: int) -> dict[int, float]:
    out: dict[int, float] = {}
    for item in pauses or ():
        try:
            after, dur = item
        except (TypeError, ValueError):
            raise SimulationError(
                f"pauses must be (after_rep, seconds) pairs, got {item!r}"
            ) from None
        if isinstance(after, bool) or not isinstance(after, int) or not 1 <= after < reps:
            raise SimulationError(f"a pause must follow rep 1 to {reps - 1}, got {after!r}")
        out[after] = out.get(after, 0.0) + _num("pause seconds", dur, 0.1, 600.0)
    return out


def posture_of(info: ExerciseInfo, variant: str) -> str:
    if info.posture == "wall" and variant == "floor":
        return "plank"
    return info.posture


def run_set(
    ctx: Context,
    tl: Timeline,
    exercise: str,
    variant: str,
    *,
    reps: int,
    tempo_s: float,
    amplitude: float,
    amplitude_cv: float,
    duration_cv: float,
    pauses: dict[int, float],
    set_index: int,
    seat_height_m: float | None,
    geo: PlankGeometry | None,
) -> tuple[float, float]:
    """Setup, repetitions and teardown of one set; returns its (start, end)."""
    info = EXERCISES[exercise]
    t_set = tl.now
    st0 = dict(tl.state)
    # setup
    if exercise == "band_row":
        tl.move(1.5, {"sh_flex": R(80.0), "el_flex": R(5.0)})
    elif exercise == "push_up" and variant == "wall":
        assert geo is not None
        g = np.array([geo.gamma_up])
        sh, el = geo.arm_angles(g)
        tl.move(
            2.0,
            {
                "sk_pitch": geo.gamma_up,
                "th_pitch": geo.gamma_up,
                "tr_pitch": geo.gamma_up,
                "pel_pitch": geo.gamma_up,
                "sh_flex": float(sh[0]),
                "el_flex": float(el[0]),
            },
            fk=True,
        )
        tl.impact(tl.now - 0.05, fwd=-0.2 * G, sigma_s=0.03, freq_hz=5.0)
    tl.phase("set_start", t_set, tl.now, exercise=exercise, set=set_index)
    if exercise == "stair_climb":
        _stairs(ctx, tl, variant, reps, tempo_s, duration_cv, pauses, set_index)
    else:
        fn = REPS[exercise]
        extra = seat_height_m if exercise == "sit_to_stand" else geo
        for i in range(reps):
            a = amplitude * ctx.vary(amplitude_cv)
            d = tempo_s * ctx.vary(duration_cv)
            r = fn(tl, ctx, a, d, i, variant, extra)
            r.update(exercise=exercise, set=set_index, rep_in_set=i + 1)
            tl.reps.append(r)
            if i + 1 in pauses:
                t_p = tl.now
                _idle(tl, ctx, pauses[i + 1], posture_of(info, variant))
                tl.phase("pause", t_p, tl.now, exercise=exercise, set=set_index, after_rep=i + 1)
    # teardown
    t_td = tl.now
    if exercise == "band_row":
        tl.move(1.5, {"sh_flex": st0["sh_flex"], "el_flex": st0["el_flex"]})
    elif exercise == "push_up" and variant == "wall":
        tl.move(
            2.0,
            {
                k: st0[k]
                for k in ("sk_pitch", "th_pitch", "tr_pitch", "pel_pitch", "sh_flex", "el_flex")
            },
            fk=True,
        )
    tl.phase("set_end", t_td, tl.now, exercise=exercise, set=set_index)
    return t_set, tl.now


def _stairs(
    ctx: Context,
    tl: Timeline,
    variant: str,
    reps: int,
    tempo_s: float,
    duration_cv: float,
    pauses: dict[int, float],
    set_index: int,
) -> None:
    info = EXERCISES["stair_climb"]
    rise = 0.17 if variant == "up" else -0.17
    first_left = bool(ctx.rng_motion.random() < 0.5)
    inst_left = ctx.sensor.side == "left"
    bounds = [0, *sorted(pauses), reps]
    done = 0
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        durs = [tempo_s * ctx.vary(duration_cv, 0.8, 1.25) for _ in range(b - a)]
        steps = stair_flight(
            tl,
            ctx.rng_motion,
            durs,
            rise_m=rise,
            tread_m=0.28,
            instrumented_left=inst_left,
            first_left=first_left if (done % 2 == 0) else not first_left,
        )
        for j, r in enumerate(steps):
            r.update(exercise="stair_climb", set=set_index, rep_in_set=done + j + 1)
            r["quantity"] = info.quantity if rise > 0 else "stair_drop"
            tl.reps.append(r)
        done = b
        if b in pauses:
            t_p = tl.now
            _idle(tl, ctx, pauses[b], "stand")
            tl.phase("pause", t_p, tl.now, exercise="stair_climb", set=set_index, after_rep=b)


def simulate_exercise_set(
    exercise: str = "squat",
    *,
    reps: int = 10,
    tempo_s: float | None = None,
    amplitude: float = 1.0,
    amplitude_cv: float = 0.12,
    duration_cv: float = 0.10,
    pauses: Sequence[tuple[int, float]] = (),
    idle_start_s: float = 3.0,
    idle_end_s: float = 3.0,
    variant: str | None = None,
    seat_height_m: float | None = None,
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult:
    """One set of an exercise.

    Parameters
    ----------
    exercise : one of :data:`EXERCISES` (squat, sit_to_stand, heel_raise,
        arm_raise, push_up, lunge, band_row, stair_climb).
    reps : repetitions (for stair_climb: stairs climbed).
    tempo_s : seconds per repetition (default per exercise).
    amplitude : depth/range scale (1.0 = typical).
    amplitude_cv, duration_cv : rep-to-rep coefficient of variation (stair
        height does not vary).
    pauses : ``(after_rep, seconds)`` rests inside the set.
    idle_start_s, idle_end_s : rest in the starting posture before/after.
    variant : arm_raise ``front``/``side``; push_up ``wall``/``floor``; lunge
        ``same`` (instrumented leg steps forward every rep) / ``alternating``;
        stair_climb ``up``/``down``.
    sensor : placement defaults to the exercise's usual one (squat and lunge:
        thigh; arm_raise and band_row: wrist; push_up: sternum; others: lower back).

    Truth ``reps``: per repetition ``start_s``, ``end_s``, ``peak_s``,
    ``amplitude`` (``quantity`` in ``amplitude_unit``) and the sensor's exact
    displacement and rotation during it.
    """
    info, v = _resolve(exercise, variant)
    ctx = Context.make("exercise_set", seed, sensor, subject, info.placement)
    _int("reps", reps, 1, 200)
    tempo = _num("tempo_s", info.tempo_s if tempo_s is None else tempo_s, 0.5, 30.0)
    amplitude = _num("amplitude", amplitude, 0.3, 1.5)
    a_cv = _num("amplitude_cv", amplitude_cv, 0.0, 0.3)
    d_cv = _num("duration_cv", duration_cv, 0.0, 0.3)
    if seat_height_m is not None:
        _num("seat_height_m", seat_height_m, 0.3, 0.7)
    pause_map = _check_pauses(pauses, reps)
    posture = posture_of(info, v)
    geo = PlankGeometry.of(ctx.body, v) if exercise == "push_up" else None
    if posture == "sit":
        state = seated_state(ctx.body, seat_height_m)
        state.update(sh_flex=R(10.0), el_flex=R(115.0))
    elif posture == "plank":
        assert geo is not None
        state = plank_state(ctx.body, geo)
    else:
        state = standing_state(ctx.body)
    tl = ctx.timeline(state)
    rest_posture = "stand" if posture in ("wall", "row") else posture
    start_idle = _num("idle_start_s", idle_start_s, 0.5, 600.0)
    t_i = tl.now
    tl.hold(start_idle)
    ap, ml = stance_params("feet_apart", "open", "firm", ctx.subject.sway_scale)
    if rest_posture in ("stand", "sit"):
        tl.add_sway(
            -tl.margin_s,
            t_i + start_idle + 0.3,
            ap,
            ml,
            kind="sit" if rest_posture == "sit" else "stand",
            rise_s=0.3,
        )
    t0, t1 = run_set(
        ctx,
        tl,
        exercise,
        v,
        reps=reps,
        tempo_s=tempo,
        amplitude=amplitude,
        amplitude_cv=a_cv,
        duration_cv=d_cv,
        pauses=pause_map,
        set_index=1,
        seat_height_m=seat_height_m,
        geo=geo,
    )
    tl.phase("set", t0, t1, exercise=exercise, set=1, reps=reps)
    end_idle = _num("idle_end_s", idle_end_s, 0.5, 600.0)
    t_e = tl.now
    tl.hold(end_idle)
    if rest_posture in ("stand", "sit"):
        tl.add_sway(
            t_e - 0.3,
            tl.now + tl.margin_s,
            ap,
            ml,
            kind="sit" if rest_posture == "sit" else "stand",
            rise_s=0.3,
        )
    return finish(
        ctx,
        tl,
        test="reps",
        condition=f"{exercise}/{v}",
        parameters={
            "exercise": exercise,
            "variant": v,
            "reps": reps,
            "tempo_s": tempo,
            "amplitude": amplitude,
            "amplitude_cv": a_cv,
            "duration_cv": d_cv,
            "pauses": [[k, pause_map[k]] for k in sorted(pause_map)],
            "idle_start_s": start_idle,
            "idle_end_s": end_idle,
            "seat_height_m": seat_height_m,
        },
        counts={
            "reps": len(tl.reps),
            "requested_reps": reps,
            "signal_strength_at_placement": info.signal[ctx.sensor.placement or ""],
        },
        metadata={"exercise": exercise},
    )


# ---------------------------------------------------------------------------
# Home session
# ---------------------------------------------------------------------------

DEFAULT_PROGRAM = ("squat", "heel_raise", "arm_raise", "band_row")


def _program_item(item: str | Mapping[str, Any], sets: int, reps: int) -> dict[str, Any]:
    if isinstance(item, str):
        d: dict[str, Any] = {"exercise": item}
    elif isinstance(item, Mapping):
        d = dict(item)
    else:
        raise SimulationError(f"program items are exercise names or dicts, got {item!r}")
    unknown = set(d) - {"exercise", "sets", "reps", "tempo_s", "variant", "amplitude"}
    if unknown or "exercise" not in d:
        raise SimulationError(
            f"program item {item!r}: keys are exercise, sets, reps, tempo_s, variant, amplitude"
        )
    info, v = _resolve(d["exercise"], d.get("variant"))
    if d["exercise"] == "push_up" and v == "floor":
        raise SimulationError(
            "home sessions use wall push-ups (variant 'floor' needs a plank start)"
        )
    d["variant"] = v
    d.setdefault("sets", sets)
    d.setdefault("reps", reps)
    d.setdefault("tempo_s", info.tempo_s)
    d.setdefault("amplitude", 1.0)
    return d


def simulate_home_session(
    *,
    exercises: Sequence[str | Mapping[str, Any]] = DEFAULT_PROGRAM,
    sets: int = 2,
    reps: int = 10,
    rest_s: float = 30.0,
    between_exercises_s: float = 20.0,
    amplitude_cv: float = 0.12,
    duration_cv: float = 0.10,
    idle_start_s: float = 5.0,
    idle_end_s: float = 5.0,
    seat_height_m: float | None = None,
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult:
    """A home exercise session: several sets of several exercises, one sensor.

    ``exercises`` items are names or dicts with ``exercise`` and optional
    ``sets``, ``reps``, ``tempo_s``, ``variant``, ``amplitude``. Rests of
    ``rest_s`` separate sets (seated for sit-to-stand, else standing); the
    person repositions between exercises. Sit-to-stand sets start with a
    stand-to-sit and end with a sit-to-stand that are not repetitions
    (phases ``transition``). Truth ``reps`` carry ``exercise`` and ``set``.
    """
    ctx = Context.make("home_session", seed, sensor, subject, "lower_back")
    _int("sets", sets, 1, 10)
    _int("reps", reps, 1, 100)
    program = [_program_item(x, sets, reps) for x in exercises]
    if len(program) < 1:
        raise SimulationError("a home session needs at least one exercise")
    rest_s = _num("rest_s", rest_s, 1.0, 600.0)
    between = _num("between_exercises_s", between_exercises_s, 1.0, 600.0)
    a_cv = _num("amplitude_cv", amplitude_cv, 0.0, 0.3)
    d_cv = _num("duration_cv", duration_cv, 0.0, 0.3)
    tl = ctx.timeline(standing_state(ctx.body))
    ap, ml = stance_params("feet_apart", "open", "firm", ctx.subject.sway_scale)
    idle0 = _num("idle_start_s", idle_start_s, 0.5, 600.0)
    tl.hold(idle0)
    tl.add_sway(-tl.margin_s, idle0 + 0.3, ap, ml, rise_s=0.3)
    counts: dict[str, int] = {}
    set_no = 0
    trunk = ctx.subject.trunk_flexion_deg
    for k, item in enumerate(program):
        ex, v = item["exercise"], item["variant"]
        geo = PlankGeometry.of(ctx.body, v) if ex == "push_up" else None
        if k > 0:
            t_b = tl.now
            reposition_feet(tl, ctx.rng_motion, 3.0, n_steps=3)
            _idle(tl, ctx, between, "stand")
            tl.phase("rest", t_b, tl.now, kind="between_exercises")
        posture = posture_of(EXERCISES[ex], v)
        if posture == "sit":
            down = stand_to_sit(tl, ctx.subject.sts_sit_s, trunk, seat_height_m)
            tl.phase("transition", down["start_s"], down["end_s"], kind="stand_to_sit")
            tl.move(1.0, {"sh_flex": R(10.0), "el_flex": R(115.0)})
        for s in range(item["sets"]):
            set_no += 1
            if s > 0:
                t_r = tl.now
                _idle(tl, ctx, rest_s, "sit" if posture == "sit" else "stand")
                tl.phase("rest", t_r, tl.now, kind="between_sets")
            n_before = len(tl.reps)
            t0, t1 = run_set(
                ctx,
                tl,
                ex,
                v,
                reps=item["reps"],
                tempo_s=item["tempo_s"],
                amplitude=item["amplitude"],
                amplitude_cv=a_cv,
                duration_cv=d_cv,
                pauses={},
                set_index=set_no,
                seat_height_m=seat_height_m,
                geo=geo,
            )
            tl.phase("set", t0, t1, exercise=ex, set=set_no, reps=len(tl.reps) - n_before)
            counts[ex] = counts.get(ex, 0) + len(tl.reps) - n_before
            if ex == "stair_climb":  # come back down (or up) the stairs: not repetitions
                t_b = tl.now
                turn(
                    tl,
                    ctx.rng_motion,
                    angle_deg=180.0,
                    duration_s=2.0,
                    cadence_hz=1.6,
                    instrumented_left=ctx.sensor.side == "left",
                )
                durs = [item["tempo_s"] * ctx.vary(d_cv, 0.8, 1.25) for _ in range(item["reps"])]
                stair_flight(
                    tl,
                    ctx.rng_motion,
                    durs,
                    rise_m=-0.17 if v == "up" else 0.17,
                    tread_m=0.28,
                    instrumented_left=ctx.sensor.side == "left",
                    first_left=True,
                )
                turn(
                    tl,
                    ctx.rng_motion,
                    angle_deg=180.0,
                    duration_s=2.0,
                    cadence_hz=1.6,
                    instrumented_left=ctx.sensor.side == "left",
                )
                tl.phase("transition", t_b, tl.now, kind="stairs_return")
        if posture == "sit":
            tl.move(1.0, {"sh_flex": R(20.0), "el_flex": R(70.0)})
            up = sit_to_stand(tl, ctx.subject.sts_rise_s, trunk)
            tl.phase("transition", up["start_s"], up["end_s"], kind="sit_to_stand")
    idle1 = _num("idle_end_s", idle_end_s, 0.5, 600.0)
    t_e = tl.now
    tl.hold(idle1)
    tl.add_sway(t_e - 0.3, tl.now + tl.margin_s, ap, ml, rise_s=0.3)
    return finish(
        ctx,
        tl,
        test="home-session",
        condition="+".join(p["exercise"] for p in program),
        parameters={
            "exercises": program,
            "sets": sets,
            "reps": reps,
            "rest_s": rest_s,
            "between_exercises_s": between,
            "amplitude_cv": a_cv,
            "duration_cv": d_cv,
            "idle_start_s": idle0,
            "idle_end_s": idle1,
            "seat_height_m": seat_height_m,
        },
        counts={"reps": len(tl.reps), "reps_per_exercise": counts, "sets": set_no},
    )


__all__ = ["EXERCISES", "simulate_exercise_set", "simulate_home_session"]
