"""Balance and mobility scenarios: stances, sit-to-stand, chair stand, TUG, protocols."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..consts import GRAVITY_MPS2
from ..errors import SimulationError
from ._body import Subject
from ._core import leg_fk
from ._primitives import reposition_feet, sit_to_stand, stand_to_sit, turn, walk
from ._result import Context, SimResult, finish
from ._sensor import SensorSpec
from ._sway import STANCES, PendulumParams, stance_params
from ._timeline import BalanceLoss, R, Timeline, profile, seated_hip, seated_state, standing_state

G = GRAVITY_MPS2
LOSS_DIRECTIONS = ("forward", "backward", "left", "right")
FOUR_STAGE = ("feet_together", "semi_tandem", "tandem", "single_leg")
CTSIB_CONDITIONS = (
    ("firm", "open"),
    ("firm", "closed"),
    ("foam", "open"),
    ("foam", "closed"),
)


def _num(name: str, v: Any, lo: float, hi: float) -> float:
    if (
        isinstance(v, bool)
        or not isinstance(v, int | float)
        or not math.isfinite(v)
        or not (lo <= v <= hi)
    ):
        raise SimulationError(f"{name} must be a number between {lo:g} and {hi:g}, got {v!r}")
    return float(v)


def _int(name: str, v: Any, lo: int, hi: int) -> int:
    """``v`` checked to be an integer (not a bool) from ``lo`` to ``hi``."""
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise SimulationError(f"{name} must be an integer from {lo} to {hi}, got {v!r}")
    return v


def _choice(name: str, v: Any, options: Sequence[str]) -> str:
    """``v`` checked to be one of ``options``."""
    if v not in options:
        raise SimulationError(f"{name} must be one of {', '.join(options)}, got {v!r}")
    return v


def sub_seed(seed: int, part: int) -> int:
    """A reproducible seed for part ``part`` of a multi-recording scenario."""
    return int(np.random.default_rng([int(seed), 7919, int(part)]).integers(0, 2**31 - 1))


def condition_name(stance: str, eyes: str, surface: str) -> str:
    return f"{stance}/eyes_{eyes}/{surface}"


# ---------------------------------------------------------------------------
# Balance loss
# ---------------------------------------------------------------------------


def add_balance_loss(
    ctx: Context,
    tl: Timeline,
    t_loss: float,
    direction: str,
    *,
    stepping_instrumented: bool | None = None,
) -> BalanceLoss:
    """Schedule a loss of balance at ``t_loss``: fall, protective step, recovery."""
    _choice("loss_direction", direction, LOSS_DIRECTIONS)
    rng = ctx.rng_motion
    tf = float(rng.uniform(0.45, 0.7))
    loss = BalanceLoss(
        t_loss=t_loss,
        t_step=t_loss + tf,
        direction=direction,
        angle_deg=float(rng.uniform(6.0, 10.0)),
        step_m=float(rng.uniform(0.30, 0.45)),
        recovery_s=float(rng.uniform(1.0, 1.5)),
        stepping_instrumented=bool(rng.random() < 0.5),
    )
    if stepping_instrumented is not None:
        loss.stepping_instrumented = stepping_instrumented
    tl.losses.append(loss)
    k = float(rng.uniform(0.9, 1.3))
    h = -0.9 * G * k
    fwd = {"forward": h, "backward": -h}.get(direction, 0.0)
    left = {"left": h, "right": -h}.get(direction, 0.0)
    tl.impact(loss.t_step, up=1.3 * G * k, fwd=fwd, left=left, sigma_s=0.012, freq_hz=12.0)
    tl.event("loss_of_balance", t_loss, direction=direction)
    side = (
        ctx.sensor.side
        if loss.stepping_instrumented
        else ("right" if ctx.sensor.side == "left" else "left")
    )
    tl.event("step", loss.t_step, direction=direction, leg=side)
    return loss


def loss_end(loss: BalanceLoss) -> float:
    """Time by which the body is upright again after a loss of balance."""
    return loss.t_step + 0.22 + loss.recovery_s


# ---------------------------------------------------------------------------
# Stance
# ---------------------------------------------------------------------------


def simulate_stance(
    stance: str = "feet_together",
    *,
    eyes: str = "open",
    surface: str = "firm",
    duration_s: float = 30.0,
    lose_balance_at_s: float | None = None,
    loss_direction: str = "forward",
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult:
    """Quiet standing in one stance, optionally ending in a loss of balance.

    Parameters
    ----------
    stance : ``feet_apart``, ``feet_together``, ``semi_tandem``, ``tandem``, ``single_leg``.
    eyes : ``open`` or ``closed``.
    surface : ``firm`` or ``foam``.
    duration_s : recording length (extended to show the recovery if a loss
        happens near the end).
    lose_balance_at_s : time of the loss-of-balance onset, or None.
    loss_direction : ``forward``, ``backward``, ``left``, ``right``.

    Truth: ``events`` ``loss_of_balance`` (onset) and ``step`` (protective
    foot contact); ``conditions[0]`` with ``held_s``; ``sway`` the model
    parameters and expected body-angle SD per direction.
    """
    ctx = Context.make("stance", seed, sensor, subject, "lower_back")
    duration_s = _num("duration_s", duration_s, 2.0, 3600.0)
    ap, ml = stance_params(stance, eyes, surface, ctx.subject.sway_scale)
    tl = ctx.timeline(standing_state(ctx.body))
    end = duration_s
    loss = None
    if lose_balance_at_s is not None:
        t_l = _num("lose_balance_at_s", lose_balance_at_s, 0.5, duration_s - 0.5)
        loss = add_balance_loss(ctx, tl, t_l, loss_direction)
        end = max(duration_s, loss_end(loss) + 1.0)
    tl.hold(end)
    if loss is None:
        tl.add_sway(-tl.margin_s, end + tl.margin_s, ap, ml)
    else:
        tl.add_sway(-tl.margin_s, loss.t_loss + 0.3, ap, ml, rise_s=0.3)
        ap2, ml2 = stance_params("feet_apart", "open", surface, ctx.subject.sway_scale)
        tl.add_sway(loss.t_step + 0.1, end + tl.margin_s, ap2, ml2, rise_s=0.8)
    cond = condition_name(stance, eyes, surface)
    held = duration_s if loss is None else loss.t_loss
    tl.phase("stance", 0.0, held, stance=stance, eyes=eyes, surface=surface)
    return finish(
        ctx,
        tl,
        test="sway",
        condition=cond,
        parameters={
            "stance": stance,
            "eyes": eyes,
            "surface": surface,
            "duration_s": duration_s,
            "lose_balance_at_s": lose_balance_at_s,
            "loss_direction": loss_direction,
        },
        counts={"losses_of_balance": 0 if loss is None else 1},
        conditions=[
            {
                "stance": stance,
                "eyes": eyes,
                "surface": surface,
                "start_s": 0.0,
                "end_s": held,
                "held_s": held,
                "failed": loss is not None,
            }
        ],
        extra={
            "sway": {
                "ap": ap.as_dict(),
                "ml": ml.as_dict(),
                "expected_angle_sd_deg": {"ap": ap.target_deg, "ml": ml.target_deg},
            },
            "balance_loss": None if loss is None else _loss_truth(loss),
        },
    )


def _loss_truth(loss: BalanceLoss) -> dict[str, Any]:
    return {
        "onset_s": loss.t_loss,
        "step_s": loss.t_step,
        "direction": loss.direction,
        "lean_at_step_deg": loss.angle_deg,
        "step_length_m": loss.step_m,
        "recovered_s": loss_end(loss),
        "stepping_leg_instrumented": loss.stepping_instrumented,
    }


# ---------------------------------------------------------------------------
# Sit-to-stand
# ---------------------------------------------------------------------------


def _arms_state(arms: str) -> dict[str, float]:
    if arms == "crossed":
        return {"sh_flex": R(10.0), "sh_abd": 0.0, "el_flex": R(115.0)}
    if arms == "free":
        return {}
    raise SimulationError(f"arms must be 'crossed' or 'free', got {arms!r}")


def simulate_sit_to_stand(
    *,
    seated_before_s: float = 3.0,
    standing_s: float = 5.0,
    seated_after_s: float = 3.0,
    sit_down: bool = True,
    rise_s: float | None = None,
    sit_s: float | None = None,
    trunk_flexion_deg: float | None = None,
    seat_height_m: float | None = None,
    arms: str = "crossed",
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult:
    """One sit-to-stand (and, with ``sit_down``, the stand-to-sit after it).

    Durations and trunk flexion default to the subject's. ``seat_height_m``
    None is a seat at knee height (thighs horizontal). The truth phases carry
    the pelvis rise and the sensor's exact vertical change, peak vertical
    velocity and its time.
    """
    ctx = Context.make("sit_to_stand", seed, sensor, subject, "lower_back")
    subj = ctx.subject
    rise = _num("rise_s", subj.sts_rise_s if rise_s is None else rise_s, 0.6, 6.0)
    sit = _num("sit_s", subj.sts_sit_s if sit_s is None else sit_s, 0.6, 6.0)
    trunk = _num(
        "trunk_flexion_deg",
        subj.trunk_flexion_deg if trunk_flexion_deg is None else trunk_flexion_deg,
        5.0,
        70.0,
    )
    if seat_height_m is not None:
        _num("seat_height_m", seat_height_m, 0.3, 0.7)
    before = _num("seated_before_s", seated_before_s, 1.0, 600.0)
    stand = _num("standing_s", standing_s, 0.5, 600.0)
    after = _num("seated_after_s", seated_after_s, 0.5, 600.0)
    state = seated_state(ctx.body, seat_height_m)
    state.update(_arms_state(arms))
    tl = ctx.timeline(state)
    ap, ml = stance_params("feet_apart", "open", "firm", subj.sway_scale)
    tl.hold(before)
    tl.add_sway(-tl.margin_s, before, ap, ml, kind="sit")
    up = sit_to_stand(tl, rise, trunk, arms=arms)
    tl.phase(**_phase(up))
    tl.event("seat_off", up["seat_off_s"])
    t_st = tl.now
    tl.hold(stand)
    tl.add_sway(t_st, tl.now, ap, ml)
    down = None
    if sit_down:
        down = stand_to_sit(tl, sit, trunk, seat_height_m, arms=arms)
        tl.phase(**_phase(down))
        tl.event("seat_contact", down["seat_contact_s"])
        t_s = tl.now
        tl.hold(after)
        tl.add_sway(t_s, tl.now + tl.margin_s, ap, ml, kind="sit")
    else:
        tl.add_sway(t_st, tl.now + tl.margin_s, ap, ml)
    return finish(
        ctx,
        tl,
        test="sit-to-stand",
        condition=f"seat_{'knee_height' if seat_height_m is None else f'{seat_height_m:.2f}m'}",
        parameters={
            "seated_before_s": before,
            "standing_s": stand,
            "seated_after_s": after,
            "sit_down": sit_down,
            "rise_s": rise,
            "sit_s": sit,
            "trunk_flexion_deg": trunk,
            "seat_height_m": seat_height_m,
            "arms": arms,
        },
        counts={"sit_to_stand": 1, "stand_to_sit": 1 if down else 0},
    )


def _seated_start(
    ctx: Context, seat_height_m: float | None, arms: str, seated_before_s: float, reaction_s: float
) -> tuple[Timeline, PendulumParams, PendulumParams, float, float]:
    """The start of a timed test from sitting (chair stand, TUG).

    Seated (seat ``seat_height_m``, arms ``crossed`` or ``free``) with
    postural sway for ``seated_before_s``, the examiner's "go" (event
    ``test_start``), then ``reaction_s`` still seated. Returns the timeline,
    the (AP, ML) sway parameters of sitting, ``seated_before_s`` checked and
    the time of "go".
    """
    state = seated_state(ctx.body, seat_height_m)
    state.update(_arms_state(arms))
    tl = ctx.timeline(state)
    ap, ml = stance_params("feet_apart", "open", "firm", ctx.subject.sway_scale)
    before = _num("seated_before_s", seated_before_s, 1.0, 600.0)
    tl.hold(before)
    tl.add_sway(-tl.margin_s, before + reaction_s, ap, ml, kind="sit")
    t_go = tl.now
    tl.event("test_start", t_go)
    tl.hold(reaction_s)
    return tl, ap, ml, before, t_go


def _phase(d: dict[str, Any]) -> dict[str, Any]:
    out = dict(d)
    out["t0"] = out.pop("start_s")
    out["t1"] = out.pop("end_s")
    return out


def sts_time_fraction(ctx: Context, seat_height_m: float | None, fraction: float) -> float:
    """Fraction of a sit-to-stand's duration at which ``fraction`` of its pelvis rise is reached."""
    if fraction <= 0:
        return 0.0
    u = np.linspace(0.0, 1.0, 2001)
    sk0, th0, _ = seated_hip(ctx.body, seat_height_m)
    sk = profile(sk0, [(sk0 + R(6.0), 0.30, 0.55), (0.0, 0.55, 0.97)], u)
    th = profile(th0, [(0.0, 0.33, 0.97)], u)
    _, z = leg_fk(sk, th, ctx.body.l_shank, ctx.body.l_thigh)
    z = (z - z[0]) / (z[-1] - z[0])
    return float(u[np.argmax(z >= fraction)])


# ---------------------------------------------------------------------------
# 30 s chair stand
# ---------------------------------------------------------------------------

_CYCLE = (0.40, 0.08, 0.40, 0.12)  # rise, standing pause, sit, seated pause (fractions)


def simulate_chair_stand(
    stands: int = 12,
    *,
    partial: float = 0.0,
    test_s: float = 30.0,
    seat_height_m: float | None = 0.43,
    reaction_s: float = 0.4,
    seated_before_s: float = 3.0,
    seated_after_s: float = 3.0,
    duration_cv: float = 0.06,
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult:
    """30-second chair stand (STEADI): ``stands`` full stands, then a last partial one.

    The test starts at the ``test_start`` event ("go"), the first rise begins
    ``reaction_s`` later, and the full stands are paced so that the last
    (partial) rise has reached ``partial`` of its height exactly at
    ``test_end`` (go + ``test_s``). The person then finishes that stand and
    sits down. Score: full stands, plus one if the partial stand is more than
    halfway up (``counts.score``). Arms are crossed on the chest.
    """
    ctx = Context.make("chair_stand", seed, sensor, subject, "lower_back")
    _int("stands", stands, 1, 30)
    partial = _num("partial", partial, 0.0, 0.95)
    test_s = _num("test_s", test_s, 5.0, 120.0)
    reaction_s = _num("reaction_s", reaction_s, 0.0, 3.0)
    duration_cv = _num("duration_cv", duration_cv, 0.0, 0.3)
    if seat_height_m is not None:
        _num("seat_height_m", seat_height_m, 0.3, 0.7)
    tau_p = sts_time_fraction(ctx, seat_height_m, partial)
    cycle = (test_s - reaction_s) / (stands + _CYCLE[0] * tau_p)
    if cycle < 1.6:
        raise SimulationError(
            f"{stands} stands do not fit in {test_s:g} s at a humanly possible pace "
            f"(each stand-and-sit would take {cycle:.2f} s; at least 1.6 s is needed)"
        )
    if cycle > 20.0:
        raise SimulationError(f"{stands} stands in {test_s:g} s is too slow to simulate")
    factors = np.array([ctx.vary(duration_cv, 0.8, 1.2) for _ in range(stands)])
    factors *= stands / factors.sum()
    subj = ctx.subject
    tl, ap, ml, before, t_go = _seated_start(
        ctx, seat_height_m, "crossed", seated_before_s, reaction_s
    )
    stands_truth = []
    trunk0 = subj.trunk_flexion_deg
    for i in range(stands):
        c = cycle * float(factors[i])
        trunk = trunk0 * ctx.vary(0.1)
        up = sit_to_stand(tl, _CYCLE[0] * c, trunk, arms="crossed")
        tl.phase(**_phase(up), index=i + 1)
        tl.hold(_CYCLE[1] * c)
        down = stand_to_sit(tl, _CYCLE[2] * c, trunk, seat_height_m, arms="crossed")
        tl.phase(**_phase(down), index=i + 1)
        if i < stands - 1 or partial > 0:
            tl.hold(_CYCLE[3] * c)
        tl.reps.append(
            {
                "start_s": up["start_s"],
                "end_s": down["end_s"],
                "peak_s": up["end_s"],
                "standing_s": up["end_s"],
                "amplitude": up["pelvis_rise_m"],
                "amplitude_unit": "m",
                "quantity": "pelvis_rise",
            }
        )
        stands_truth.append(up["end_s"])
    t_end = t_go + test_s
    # The partial stand: starts so that it reaches `partial` of its rise at t_end.
    if partial > 0:
        c = cycle
        rise_d = _CYCLE[0] * c
        start = t_end - tau_p * rise_d
        gap = start - tl.now
        if gap > 0:
            tl.hold(gap)
        up = sit_to_stand(tl, rise_d, trunk0, arms="crossed")
        tl.phase(**_phase(up), index=stands + 1, partial_at_test_end=partial)
        tl.hold(_CYCLE[1] * c)
        down = stand_to_sit(tl, _CYCLE[2] * c, trunk0, seat_height_m, arms="crossed")
        tl.phase(**_phase(down), index=stands + 1)
    else:
        if tl.now < t_end:
            tl.hold(t_end - tl.now)
    t_sit = tl.now
    tl.hold(max(seated_after_s, t_end + 0.5 - tl.now))
    tl.add_sway(t_sit, tl.now + tl.margin_s, ap, ml, kind="sit")
    tl.event("test_end", t_end)
    score = stands + (1 if partial > 0.5 else 0)
    return finish(
        ctx,
        tl,
        test="chair-stand",
        condition=f"{test_s:g}s",
        parameters={
            "stands": stands,
            "partial": partial,
            "test_s": test_s,
            "seat_height_m": seat_height_m,
            "reaction_s": reaction_s,
            "seated_before_s": before,
            "seated_after_s": seated_after_s,
            "duration_cv": duration_cv,
            "mean_cycle_s": cycle,
        },
        counts={
            "full_stands": stands,
            "partial_fraction": partial,
            "score": score,
            "stand_times_s": stands_truth,
        },
        extra={"test_start_s": t_go, "test_end_s": t_end},
    )


# ---------------------------------------------------------------------------
# Timed Up and Go
# ---------------------------------------------------------------------------


def simulate_tug(
    *,
    walk_distance_m: float = 3.0,
    total_s: float | None = None,
    gait_speed_mps: float | None = None,
    turn_s: float = 1.6,
    turn_direction: str = "left",
    seat_height_m: float | None = 0.46,
    reaction_s: float = 0.3,
    seated_before_s: float = 3.0,
    seated_after_s: float = 3.0,
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult:
    """Timed Up and Go: rise, walk, turn 180 deg, walk back, turn, sit.

    The stopwatch time (``tug_time_s``) runs from ``test_start`` ("go") to
    the end of the stand-to-sit. With ``total_s`` the walking speed is chosen
    to give that time; otherwise ``gait_speed_mps`` (default the subject's)
    sets it. Truth phases: ``sit_to_stand``, ``walk_out``, ``turn_1``,
    ``walk_back``, ``turn_2``, ``stand_to_sit``; events ``heel_strike``.
    """
    ctx = Context.make("tug", seed, sensor, subject, "lower_back")
    subj = ctx.subject
    dist = _num("walk_distance_m", walk_distance_m, 1.0, 20.0)
    turn_s = _num("turn_s", turn_s, 0.8, 6.0)
    reaction_s = _num("reaction_s", reaction_s, 0.0, 3.0)
    if turn_direction not in ("left", "right"):
        raise SimulationError(f"turn_direction must be 'left' or 'right', got {turn_direction!r}")
    if seat_height_m is not None:
        _num("seat_height_m", seat_height_m, 0.3, 0.7)
    # brisk, test-mode transitions (a little faster than the subject's usual)
    rise, sit = 0.9 * subj.sts_rise_s, 0.9 * subj.sts_sit_s
    turn2 = 0.9 * turn_s
    fixed = reaction_s + rise + turn_s + turn2 + sit
    if total_s is not None:
        total_s = _num("total_s", total_s, 4.0, 120.0)
        walk_each = (total_s - fixed) / 2.0
        if walk_each < dist / 1.6:
            raise SimulationError(
                f"a TUG of {total_s:g} s needs walking faster than 1.6 m/s "
                f"with these transition and turn times ({fixed:.1f} s)"
            )
    else:
        v = _num(
            "gait_speed_mps",
            subj.gait_speed_mps if gait_speed_mps is None else gait_speed_mps,
            0.2,
            2.0,
        )
        walk_each = dist / (0.95 * v)
    speed = dist / walk_each
    cadence_hz = subj.cadence_spm / 60.0 * min(max(speed / subj.gait_speed_mps, 0.7), 1.2) ** 0.5
    n_steps = max(3, int(round(walk_each * cadence_hz - 0.5)))
    tl, ap, ml, before, t_go = _seated_start(
        ctx, seat_height_m, "free", seated_before_s, reaction_s
    )
    trunk = subj.trunk_flexion_deg * ctx.vary(0.08)
    up = sit_to_stand(tl, rise, trunk)
    tl.phase(**_phase(up))
    tl.event("seat_off", up["seat_off_s"])
    inst_left = ctx.sensor.side == "left"
    first_left = bool(ctx.rng_motion.random() < 0.5)
    sgn = 1.0 if turn_direction == "left" else -1.0
    legs = (
        ("walk_out", "turn_1", first_left, turn_s),
        ("walk_back", "turn_2", not first_left, turn2),
    )
    walking_steps = turning_steps = 0
    for walk_name, turn_name, left_first, turn_dur in legs:
        w = walk(
            tl,
            ctx.rng_motion,
            distance_m=dist,
            duration_s=walk_each,
            n_steps=n_steps,
            first_left=left_first,
            instrumented_left=inst_left,
        )
        tl.phase(
            walk_name,
            w["start_s"],
            w["end_s"],
            steps=w["steps"],
            distance_m=dist,
            mean_speed_mps=w["mean_speed_mps"],
        )
        walking_steps += w["steps"]
        tr = turn(
            tl,
            ctx.rng_motion,
            angle_deg=180.0 * sgn,
            duration_s=turn_dur,
            cadence_hz=cadence_hz,
            instrumented_left=inst_left,
        )
        tl.phase(
            turn_name,
            tr["start_s"],
            tr["end_s"],
            angle_deg=180.0 * sgn,
            peak_yaw_rate_dps=tr["peak_yaw_rate_dps"],
        )
        turning_steps += tr["steps"]
    down = stand_to_sit(tl, sit, trunk, seat_height_m)
    tl.phase(**_phase(down))
    tl.event("seat_contact", down["seat_contact_s"])
    t_end = tl.now
    tl.event("test_end", t_end)
    tl.hold(_num("seated_after_s", seated_after_s, 0.5, 600.0))
    tl.add_sway(t_end, tl.now + tl.margin_s, ap, ml, kind="sit")
    return finish(
        ctx,
        tl,
        test="tug",
        condition=f"{dist:g}m",
        parameters={
            "walk_distance_m": dist,
            "total_s": total_s,
            "gait_speed_mps": gait_speed_mps,
            "turn_s": turn_s,
            "turn_direction": turn_direction,
            "seat_height_m": seat_height_m,
            "reaction_s": reaction_s,
            "seated_before_s": before,
            "seated_after_s": seated_after_s,
        },
        counts={
            "steps": walking_steps + turning_steps,
            "walking_steps": walking_steps,
        },
        extra={
            "tug_time_s": t_end - t_go,
            "test_start_s": t_go,
            "test_end_s": t_end,
            "mean_walking_speed_mps": speed,
        },
    )


# ---------------------------------------------------------------------------
# Composite balance protocols
# ---------------------------------------------------------------------------


def _lift_leg(tl: Timeline, ctx: Context, lifted_instrumented: bool, stance_left: bool) -> None:
    """Shift the weight over the stance leg and lift the other foot (single-leg stance)."""
    side = 1.0 if stance_left else -1.0
    targets = {"pel_roll": -side * R(3.0), "tr_roll": side * R(2.0)}
    if lifted_instrumented:
        targets["th_pitch"] = [(tl.state["th_pitch"] - R(30.0), 0.3, 1.0)]
    tl.move(1.6, targets, offsets={"left": side * 0.07 * ctx.body.height / 1.65})
    tl.impact(tl.now - 1.0, up=0.1 * G, sigma_s=0.03, freq_hz=5.0)


def simulate_four_stage(
    *,
    hold_s: float = 10.0,
    transition_s: float = 4.0,
    fail_stance: str | None = None,
    fail_at_s: float = 5.0,
    loss_direction: str | None = None,
    idle_start_s: float = 3.0,
    idle_end_s: float = 2.0,
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult:
    """STEADI four-stage balance test in one recording.

    Feet together, semi-tandem, tandem, single leg, ``hold_s`` each, with
    ``transition_s`` of foot repositioning before each. With ``fail_stance``
    the person loses balance ``fail_at_s`` into that stance and the test stops
    (protocol: stop at the first failure). Truth ``conditions`` has one entry
    per attempted stance (``held_s``, ``passed``); phases ``stance`` mark the
    timed holds.
    """
    ctx = Context.make("four_stage", seed, sensor, subject, "lower_back")
    hold_s = _num("hold_s", hold_s, 2.0, 120.0)
    transition_s = _num("transition_s", transition_s, 1.5, 30.0)
    if fail_stance is not None and fail_stance not in FOUR_STAGE:
        raise SimulationError(
            f"fail_stance must be one of {', '.join(FOUR_STAGE)} or None, got {fail_stance!r}"
        )
    if fail_stance is not None:
        fail_at_s = _num("fail_at_s", fail_at_s, 0.5, hold_s - 0.2)
    subj = ctx.subject
    tl = ctx.timeline(standing_state(ctx.body))
    ap0, ml0 = stance_params("feet_apart", "open", "firm", subj.sway_scale)
    idle = _num("idle_start_s", idle_start_s, 1.0, 600.0)
    tl.hold(idle)
    tl.add_sway(-tl.margin_s, idle, ap0, ml0)
    conditions = []
    passed = 0
    failed = None
    inst_left = ctx.sensor.side == "left"
    stance_left = True
    for stance in FOUR_STAGE:
        tr0 = tl.now
        if stance == "single_leg":
            reposition_feet(tl, ctx.rng_motion, max(transition_s - 1.6, 1.0), n_steps=1)
            stance_left = bool(ctx.rng_motion.random() < 0.5)
            _lift_leg(
                tl, ctx, lifted_instrumented=(stance_left != inst_left), stance_left=stance_left
            )
        else:
            reposition_feet(tl, ctx.rng_motion, transition_s)
        tl.phase("transition", tr0, tl.now, to=stance)
        t0 = tl.now
        tl.event("stance_start", t0, stance=stance)
        ap, ml = stance_params(stance, "open", "firm", subj.sway_scale)
        if stance == fail_stance:
            direction = loss_direction or (
                "forward"
                if stance == "feet_together"
                else str(ctx.rng_motion.choice(["left", "right"]))
            )
            single = stance == "single_leg"
            loss = add_balance_loss(
                ctx,
                tl,
                t0 + fail_at_s,
                direction,
                stepping_instrumented=(stance_left != inst_left) if single else None,
            )
            end = loss_end(loss) + 2.0
            if single:  # the lifted foot comes down as the protective step
                tl.hold(loss.t_step - 0.3 - t0)
                tl.move(0.35, {"th_pitch": 0.0, "pel_roll": 0.0, "tr_roll": 0.0})
                tl.hold(end - tl.now)
            else:
                tl.hold(end - t0)
            tl.add_sway(t0 - 0.3, loss.t_loss + 0.3, ap, ml, rise_s=0.3)
            tl.add_sway(loss.t_step + 0.1, end + tl.margin_s, ap0, ml0, rise_s=0.8)
            tl.phase("stance", t0, loss.t_loss, stance=stance, failed=True)
            conditions.append(
                {
                    "stance": stance,
                    "start_s": t0,
                    "end_s": loss.t_loss,
                    "held_s": fail_at_s,
                    "passed": False,
                }
            )
            failed = stance
            break
        tl.hold(hold_s)
        tl.add_sway(t0 - 0.3, tl.now + 0.3, ap, ml, rise_s=0.3)
        tl.phase("stance", t0, tl.now, stance=stance, failed=False)
        tl.event("stance_end", tl.now, stance=stance)
        conditions.append(
            {"stance": stance, "start_s": t0, "end_s": tl.now, "held_s": hold_s, "passed": True}
        )
        passed += 1
    if failed is None:
        # back to both feet and relax
        t_r = tl.now
        tl.move(
            1.2,
            {"pel_roll": 0.0, "tr_roll": 0.0, "th_pitch": 0.0},
            offsets={"left": -(tl.state["py"])},
        )
        tl.impact(tl.now - 0.3, up=0.3 * G, sigma_s=0.02, freq_hz=8.0)
        t_i = tl.now
        tl.hold(_num("idle_end_s", idle_end_s, 0.5, 600.0))
        tl.phase("transition", t_r, t_i, to="feet_apart")
        tl.add_sway(t_i - 0.3, tl.now + tl.margin_s, ap0, ml0)
    tandem_ok = any(c["stance"] == "tandem" and c["passed"] for c in conditions)
    return finish(
        ctx,
        tl,
        test="four-stage",
        condition="steadi",
        parameters={
            "hold_s": hold_s,
            "transition_s": transition_s,
            "fail_stance": fail_stance,
            "fail_at_s": fail_at_s if fail_stance else None,
            "loss_direction": loss_direction,
            "idle_start_s": idle,
            "idle_end_s": idle_end_s,
        },
        counts={
            "stages_passed": passed,
            "failed_stance": failed,
            "tandem_held": tandem_ok,
            "increased_fall_risk": not tandem_ok,
        },
        conditions=conditions,
    )


def _stance_sequence(
    ctx: Context,
    tl: Timeline,
    trials: list[tuple[str, str, str, float | None]],
    duration_s: float,
    transition_s: float,
    foam_height_m: float,
) -> list[dict[str, Any]]:
    """Consecutive stance trials with transitions (eyes closing, stepping onto foam)."""
    subj = ctx.subject
    conds = []
    surface_now = "firm"
    for i, (stance, eyes, surface, fail_at) in enumerate(trials):
        if i > 0 or surface != "firm":
            tr0 = tl.now
            if surface != surface_now:
                rise = foam_height_m if surface == "foam" else -foam_height_m
                reposition_feet(tl, ctx.rng_motion, max(transition_s, 3.0), rise_m=rise)
            else:
                tl.hold(transition_s)
                ap_t, ml_t = stance_params(stance, "open", surface_now, subj.sway_scale)
                tl.add_sway(tr0 - 0.3, tl.now + 0.3, ap_t, ml_t, rise_s=0.3)
            tl.phase("transition", tr0, tl.now, to=condition_name(stance, eyes, surface))
            surface_now = surface
        t0 = tl.now
        ap, ml = stance_params(stance, eyes, surface, subj.sway_scale)
        entry = {"stance": stance, "eyes": eyes, "surface": surface, "start_s": t0}
        if fail_at is not None:
            fail_at = _num("fail time", fail_at, 0.5, duration_s - 0.2)
            loss = add_balance_loss(
                ctx,
                tl,
                t0 + fail_at,
                "forward"
                if eyes == "open"
                else str(ctx.rng_motion.choice(["forward", "backward", "left", "right"])),
            )
            end = loss_end(loss) + 1.5
            tl.hold(end - t0)
            tl.add_sway(t0 - 0.3, loss.t_loss + 0.3, ap, ml, rise_s=0.3)
            ap2, ml2 = stance_params("feet_apart", "open", surface, subj.sway_scale)
            tl.add_sway(loss.t_step + 0.1, tl.now + 0.3, ap2, ml2, rise_s=0.8)
            entry.update(end_s=loss.t_loss, held_s=fail_at, failed=True)
        else:
            tl.hold(duration_s)
            tl.add_sway(t0 - 0.3, tl.now + 0.3, ap, ml, rise_s=0.3)
            entry.update(end_s=tl.now, held_s=duration_s, failed=False)
        tl.phase(
            "stance",
            t0,
            entry["end_s"],
            stance=stance,
            eyes=eyes,
            surface=surface,
            failed=entry["failed"],
        )
        conds.append(entry)
    return conds


def simulate_romberg(
    *,
    duration_s: float = 30.0,
    separate: bool = False,
    transition_s: float = 5.0,
    fail_eyes_closed_at_s: float | None = None,
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult | list[SimResult]:
    """Romberg test: feet together, eyes open then eyes closed, ``duration_s`` each.

    One recording (with a ``transition_s`` pause while the eyes close) or,
    with ``separate``, a list of two recordings (each reproducible from the
    seed in its truth). ``truth.counts.expected_romberg_ratio`` is the model's
    eyes-closed / eyes-open ratio of body-angle SD.
    """
    duration_s = _num("duration_s", duration_s, 5.0, 600.0)
    if separate:
        out = []
        for i, eyes in enumerate(("open", "closed")):
            fail = fail_eyes_closed_at_s if eyes == "closed" else None
            r = simulate_stance(
                "feet_together",
                eyes=eyes,
                duration_s=duration_s,
                lose_balance_at_s=fail,
                sensor=sensor,
                subject=subject,
                seed=sub_seed(seed, i),
            )
            r.truth.update(protocol="romberg", part=i + 1, parent_seed=int(seed))
            out.append(_retag(r, "romberg", f"eyes_{eyes}"))
        return out
    ctx = Context.make("romberg", seed, sensor, subject, "lower_back")
    tl = ctx.timeline(standing_state(ctx.body))
    ap0, ml0 = stance_params("feet_together", "open", "firm", ctx.subject.sway_scale)
    tl.add_sway(-tl.margin_s, 0.3, ap0, ml0, rise_s=0.3)
    conds = _stance_sequence(
        ctx,
        tl,
        [
            ("feet_together", "open", "firm", None),
            ("feet_together", "closed", "firm", fail_eyes_closed_at_s),
        ],
        duration_s,
        _num("transition_s", transition_s, 1.0, 60.0),
        0.1,
    )
    t = tl.now
    tl.hold(1.0)
    tl.add_sway(t - 0.3, tl.now + tl.margin_s, ap0, ml0, rise_s=0.3)
    apc, _ = stance_params("feet_together", "closed", "firm", ctx.subject.sway_scale)
    return finish(
        ctx,
        tl,
        test="romberg",
        condition="eyes_open+eyes_closed",
        parameters={
            "duration_s": duration_s,
            "separate": False,
            "transition_s": transition_s,
            "fail_eyes_closed_at_s": fail_eyes_closed_at_s,
        },
        conditions=conds,
        counts={"expected_romberg_ratio": apc.target_deg / ap0.target_deg},
    )


def _retag(r: SimResult, test: str, condition: str) -> SimResult:
    meta = dict(r.recording.metadata)
    meta.update(test=test, condition=condition)
    r.truth.update(test=test, condition=condition)
    return SimResult(recording=r.recording.replace(metadata=meta), truth=r.truth, signals=r.signals)


def simulate_ctsib(
    *,
    duration_s: float = 30.0,
    separate: bool = False,
    fail: dict[str, float] | None = None,
    transition_s: float = 5.0,
    foam_height_m: float = 0.08,
    sensor: SensorSpec | None = None,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimResult | list[SimResult]:
    """CTSIB-M: feet together, arms crossed; firm/eyes open, firm/closed, foam/open, foam/closed.

    ``fail`` maps a condition name (``firm_eyes_open``, ``firm_eyes_closed``,
    ``foam_eyes_open``, ``foam_eyes_closed``) to the time into that trial of a
    loss of balance (the trial stops; the next one follows). One recording
    with transitions (stepping onto the foam pad raises the body by
    ``foam_height_m``) or, with ``separate``, four recordings.
    """
    duration_s = _num("duration_s", duration_s, 5.0, 600.0)
    names = [f"{s}_eyes_{e}" for s, e in CTSIB_CONDITIONS]
    fail = dict(fail or {})
    unknown = set(fail) - set(names)
    if unknown:
        raise SimulationError(
            f"unknown CTSIB condition(s) {', '.join(sorted(unknown))}; use {', '.join(names)}"
        )
    if separate:
        out = []
        for i, (surface, eyes) in enumerate(CTSIB_CONDITIONS):
            r = simulate_stance(
                "feet_together",
                eyes=eyes,
                surface=surface,
                duration_s=duration_s,
                lose_balance_at_s=fail.get(names[i]),
                sensor=sensor,
                subject=subject,
                seed=sub_seed(seed, i),
            )
            r.truth.update(protocol="ctsib", part=i + 1, parent_seed=int(seed))
            out.append(_retag(r, "ctsib", names[i]))
        return out
    ctx = Context.make("ctsib", seed, sensor, subject, "lower_back")
    state = standing_state(ctx.body)
    state.update(_arms_state("crossed"))
    tl = ctx.timeline(state)
    ap0, ml0 = stance_params("feet_together", "open", "firm", ctx.subject.sway_scale)
    tl.add_sway(-tl.margin_s, 0.3, ap0, ml0, rise_s=0.3)
    trials = [
        ("feet_together", e, s, fail.get(n))
        for (s, e), n in zip(CTSIB_CONDITIONS, names, strict=True)
    ]
    conds = _stance_sequence(
        ctx,
        tl,
        trials,
        duration_s,
        _num("transition_s", transition_s, 1.0, 60.0),
        _num("foam_height_m", foam_height_m, 0.0, 0.2),
    )
    t = tl.now
    tl.hold(1.0)
    ap1, ml1 = stance_params("feet_together", "open", "foam", ctx.subject.sway_scale)
    tl.add_sway(t - 0.3, tl.now + tl.margin_s, ap1, ml1, rise_s=0.3)
    for c, n in zip(conds, names, strict=True):
        c["condition"] = n
    return finish(
        ctx,
        tl,
        test="ctsib",
        condition="+".join(names),
        parameters={
            "duration_s": duration_s,
            "separate": False,
            "fail": fail,
            "transition_s": transition_s,
            "foam_height_m": foam_height_m,
        },
        conditions=conds,
        counts={"failed_conditions": [n for c, n in zip(conds, names, strict=True) if c["failed"]]},
    )


__all__ = [
    "FOUR_STAGE",
    "LOSS_DIRECTIONS",
    "STANCES",
    "simulate_chair_stand",
    "simulate_ctsib",
    "simulate_four_stage",
    "simulate_romberg",
    "simulate_sit_to_stand",
    "simulate_stance",
    "simulate_tug",
]
