"""Movement primitives: transitions, walking, turning, stairs, stance changes.

Each primitive appends to a :class:`~balance_mon.sim._timeline.Timeline`
starting from its current state and returns a dict of ground truth (times on
the recording's axis).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..consts import GRAVITY_MPS2
from ._core import FloatArray, minjerk, ramp
from ._timeline import R, Timeline, seated_hip

G = GRAVITY_MPS2


def keyframes(t: FloatArray, times: list[float], values: list[float]) -> FloatArray:
    """Piecewise minimum-jerk interpolation through (time, value) keyframes (C2)."""
    out = np.full(t.shape, float(values[0]))
    for i in range(1, len(times)):
        out += (values[i] - values[i - 1]) * minjerk(
            (t - times[i - 1]) / max(times[i] - times[i - 1], 1e-9)
        )
    return out


def heading_xy(tl: Timeline, fwd: FloatArray, left: FloatArray, yaw: float | FloatArray):
    c, s = np.cos(yaw), np.sin(yaw)
    return tl.state["px"] + c * fwd - s * left, tl.state["py"] + s * fwd + c * left


# ---------------------------------------------------------------------------
# Sit-to-stand and stand-to-sit
# ---------------------------------------------------------------------------


def sit_to_stand(
    tl: Timeline, duration_s: float, trunk_deg: float, *, arms: str = "free"
) -> dict[str, Any]:
    """Rise from a chair: trunk flexion, seat-off, extension (Schenkman et al. 1990 phases).

    Normalised time u: trunk flexes to its peak by u = 0.45 while the pelvis
    stays seated; seat-off at u ~ 0.36 when the thighs start to lift; hips and
    knees extend over u = 0.33-0.97 while the trunk returns upright (u = 0.42-1).
    Pelvis motion follows from shank and thigh rotation with the feet fixed.
    """
    st = tl.state
    t0 = tl.now
    z0 = st["pz"]
    targets: dict[str, Any] = {
        "tr_pitch": [(R(trunk_deg), 0.0, 0.45), (R(2.0), 0.42, 1.0)],
        "pel_pitch": [(R(0.55 * trunk_deg), 0.0, 0.45), (0.0, 0.42, 1.0)],
        "sk_pitch": [(st["sk_pitch"] + R(6.0), 0.30, 0.55), (0.0, 0.55, 0.97)],
        "th_pitch": [(0.0, 0.33, 0.97)],
        "tr_roll": 0.0,
        "pel_roll": 0.0,
    }
    if arms == "free":
        targets["sh_flex"] = [(R(35.0), 0.1, 0.45), (0.0, 0.5, 1.0)]
        targets["el_flex"] = [(R(30.0), 0.1, 0.45), (R(10.0), 0.5, 1.0)]
    _, t1 = tl.move(duration_s, targets, fk=True)
    d = t1 - t0
    return {
        "name": "sit_to_stand",
        "start_s": t0,
        "end_s": t1,
        "duration_s": d,
        "seat_off_s": t0 + 0.38 * d,
        "peak_trunk_flexion_s": t0 + 0.43 * d,
        "pelvis_rise_m": tl.state["pz"] - z0,
    }


def stand_to_sit(
    tl: Timeline,
    duration_s: float,
    trunk_deg: float,
    seat_height_m: float | None,
    *,
    arms: str = "free",
) -> dict[str, Any]:
    """Sit down: trunk flexes, hips and knees flex, seat contact at u = 0.8, trunk back upright."""
    sk_s, th_s, _ = seated_hip(tl.body, seat_height_m)
    t0 = tl.now
    z0 = tl.state["pz"]
    targets: dict[str, Any] = {
        "tr_pitch": [(R(0.85 * trunk_deg), 0.0, 0.5), (0.0, 0.6, 1.0)],
        "pel_pitch": [(R(0.45 * trunk_deg), 0.0, 0.5), (0.0, 0.6, 1.0)],
        "sk_pitch": [(sk_s + R(6.0), 0.05, 0.45), (sk_s, 0.5, 0.85)],
        "th_pitch": [(th_s, 0.08, 0.80)],
        "tr_roll": 0.0,
        "pel_roll": 0.0,
    }
    if arms == "free":
        targets["sh_flex"] = [(R(30.0), 0.1, 0.5), (R(20.0), 0.7, 1.0)]
        targets["el_flex"] = [(R(70.0), 0.3, 1.0)]
    _, t1 = tl.move(duration_s, targets, fk=True)
    d = t1 - t0
    contact = t0 + 0.80 * d
    tl.impact(contact, up=0.25 * G, fwd=-0.05 * G, sigma_s=0.025, freq_hz=6.0)
    return {
        "name": "stand_to_sit",
        "start_s": t0,
        "end_s": t1,
        "duration_s": d,
        "seat_contact_s": contact,
        "pelvis_drop_m": z0 - tl.state["pz"],
    }


# ---------------------------------------------------------------------------
# Walking and turning
# ---------------------------------------------------------------------------


def walk(
    tl: Timeline,
    rng: np.random.Generator,
    *,
    distance_m: float,
    duration_s: float,
    n_steps: int,
    first_left: bool,
    instrumented_left: bool,
) -> dict[str, Any]:
    """Straight walking bout along the current heading, starting and ending at rest.

    Centre-of-mass motion follows the inverted-pendulum pattern of walking
    (Zijlstra & Hof 2003): lowest just after each heel strike, highest at
    mid-stance (vertical excursion about 3-5 cm at comfortable speed), a
    lateral shift towards the stance leg at stride frequency, forward speed
    fastest around double support. Each heel strike adds an impact (upward and
    braking acceleration burst). Pelvis and thorax rotate, the thigh swings
    (+25 deg flexion at its own heel strike, -10 deg extension at the other's)
    and the arms swing opposite to the legs.
    """
    body = tl.body
    n = tl.nsamp(duration_s)
    big_t = n / tl.fs
    p = big_t / (n_steps + 0.5)
    t = np.arange(n + 1) / tl.fs
    hs = p * (0.6 + np.arange(n_steps))
    env = ramp(t, 0.0, 1.1 * p) * (1.0 - ramp(t, hs[-1] - 0.2 * p, big_t))
    ph = 2.0 * np.pi * (t - hs[0] - 0.1 * p) / p
    v = env * (1.0 + 0.08 * np.cos(ph))
    x = np.concatenate(([0.0], np.cumsum(0.5 * (v[1:] + v[:-1])) / tl.fs))
    x *= distance_m / x[-1]
    speed = distance_m / big_t
    az = float(np.clip(0.042 * math.sqrt(speed / 1.1), 0.015, 0.06)) * float(rng.uniform(0.9, 1.1))
    ay = 0.04 * float(rng.uniform(0.85, 1.15))
    side0 = 1.0 if first_left else -1.0
    half = np.pi * (t - hs[0]) / p  # stride phase (pi per step)
    z = -0.5 * az * np.cos(ph) * env
    y = 0.5 * ay * side0 * np.sin(half) * env
    yaw = tl.state["yaw"]
    px, py = heading_xy(tl, x, y, yaw)
    st = tl.state
    own = 0 if first_left == instrumented_left else 1  # first heel strike of the instrumented leg
    t_own = hs[own] if own < n_steps else hs[0] + p
    t_other = t_own + p
    arrays = {
        "px": px,
        "py": py,
        "pz": st["pz"] + z,
        "tr_pitch": st["tr_pitch"] + env * (R(3.0) + R(1.0) * np.cos(ph)),
        "pel_pitch": st["pel_pitch"] + env * (R(2.0) + R(1.5) * np.cos(ph)),
        "tr_roll": st["tr_roll"] - env * R(2.0) * side0 * np.sin(half),
        "pel_roll": st["pel_roll"] + env * R(4.0) * side0 * np.sin(half),
        "pel_yaw": st["pel_yaw"] + env * R(4.0) * side0 * np.cos(half),
        "tr_yaw": st["tr_yaw"] - env * R(2.0) * side0 * np.cos(half),
        "th_pitch": st["th_pitch"] - env * (R(7.5) + R(17.5) * np.cos(np.pi * (t - t_own) / p)),
        "sh_flex": st["sh_flex"] + env * R(15.0) * np.cos(np.pi * (t - t_other) / p),
        "el_flex": st["el_flex"] + env * (R(10.0) + R(8.0) * np.cos(np.pi * (t - t_other) / p)),
    }
    t0, t1 = tl.append(n, arrays)
    steps = []
    for k, th in enumerate(hs):
        left = (k % 2 == 0) == first_left
        e = float(np.interp(th, t, env))
        scale = e * float(rng.uniform(0.8, 1.2)) * speed / 1.1
        side = 1.0 if left else -1.0
        tl.impact(
            t0 + th,
            up=0.75 * G * scale,
            fwd=-0.25 * G * scale,
            left=0.3 * G * scale * side,
            sigma_s=0.014,
            freq_hz=11.0,
        )
        ev = tl.event("heel_strike", t0 + th, side="left" if left else "right")
        steps.append(ev)
    del body
    return {
        "name": "walk",
        "start_s": t0,
        "end_s": t1,
        "distance_m": distance_m,
        "steps": len(steps),
        "mean_speed_mps": speed,
        "cadence_spm": 60.0 / p,
        "vertical_excursion_m": az,
    }


def turn(
    tl: Timeline,
    rng: np.random.Generator,
    *,
    angle_deg: float,
    duration_s: float,
    cadence_hz: float,
    instrumented_left: bool,
) -> dict[str, Any]:
    """Turn on the spot by ``angle_deg`` (positive = to the left) with small stepping."""
    n = tl.nsamp(duration_s)
    big_t = n / tl.fs
    t = np.arange(n + 1) / tl.fs
    u = t / big_t
    n_steps = max(2, int(round(big_t * cadence_hz)))
    p = big_t / (n_steps + 0.5)
    hs = p * (0.5 + np.arange(n_steps))
    env = ramp(t, 0.0, 0.6 * p) * (1.0 - ramp(t, hs[-1], big_t))
    st = tl.state
    sign = 1.0 if angle_deg > 0 else -1.0
    ph = 2.0 * np.pi * (t - hs[0] - 0.1 * p) / p
    yaw = st["yaw"] + R(angle_deg) * minjerk(u)
    lean = R(3.0) * sign * np.sin(np.pi * np.clip(u, 0, 1)) ** 2  # lean into the turn
    arrays = {
        "yaw": yaw,
        "pz": st["pz"] - 0.005 * np.cos(ph) * env,
        "tr_roll": st["tr_roll"] - lean,
        "pel_roll": st["pel_roll"] - 0.5 * lean,
        "tr_yaw": st["tr_yaw"] + R(6.0) * sign * np.sin(np.pi * np.clip(u, 0, 1)),
        "th_pitch": st["th_pitch"] - env * (R(10.0) + R(8.0) * np.cos(np.pi * (t - hs[0]) / p)),
        "sh_flex": st["sh_flex"] + env * R(5.0) * np.cos(np.pi * (t - hs[0]) / p),
    }
    t0, t1 = tl.append(n, arrays)
    first_left = sign > 0
    for k, th in enumerate(hs):
        left = (k % 2 == 0) == first_left
        e = float(np.interp(th, t, env))
        tl.impact(
            t0 + th, up=0.35 * G * e * float(rng.uniform(0.8, 1.2)), sigma_s=0.016, freq_hz=10.0
        )
        tl.event("foot_contact", t0 + th, side="left" if left else "right", during="turn")
    del instrumented_left
    return {
        "name": "turn",
        "start_s": t0,
        "end_s": t1,
        "angle_deg": angle_deg,
        "steps": n_steps,
        "peak_yaw_rate_dps": abs(angle_deg) * 1.875 / big_t,
    }


# ---------------------------------------------------------------------------
# Stance changes
# ---------------------------------------------------------------------------


def reposition_feet(
    tl: Timeline,
    rng: np.random.Generator,
    duration_s: float,
    *,
    rise_m: float = 0.0,
    n_steps: int = 2,
) -> dict[str, Any]:
    """Shuffle the feet into a new stance (weight shifts, foot lifts, placements).

    With ``rise_m`` the person steps up onto (positive) or down from
    (negative) a surface such as a foam pad.
    """
    n = tl.nsamp(duration_s)
    big_t = n / tl.fs
    t = np.arange(n + 1) / tl.fs
    st = tl.state
    side = 1.0 if rng.random() < 0.5 else -1.0
    shift = np.zeros(n + 1)
    times = []
    roll = np.zeros(n + 1)
    seg = big_t / n_steps
    for k in range(n_steps):
        a = k * seg
        # weight onto the stance foot, lift the other, put it down, re-centre
        s = side * (1 if k % 2 == 0 else -1)
        ramp_s = min(0.42 * seg, 0.6)  # weight shifts take about half a second
        bump = minjerk((t - a - 0.04 * seg) / ramp_s) - minjerk((t - a - 0.54 * seg) / ramp_s)
        shift += s * 0.04 * bump
        roll += -s * R(2.5) * bump
        times.append(a + 0.55 * seg)
    up = rise_m * minjerk((t - 0.15 * big_t) / (0.7 * big_t))
    arrays = {
        "py": st["py"] + shift * np.cos(st["yaw"]),
        "px": st["px"] - shift * np.sin(st["yaw"]),
        "pz": st["pz"] + up,
        "tr_roll": st["tr_roll"] + roll,
        "pel_roll": st["pel_roll"] - 0.5 * roll,
        "tr_pitch": st["tr_pitch"] + R(4.0) * np.sin(np.pi * t / big_t) ** 2,
    }
    t0, t1 = tl.append(n, arrays)
    for tc in times:
        tl.impact(t0 + tc, up=(0.25 + (0.3 if rise_m < 0 else 0.0)) * G, sigma_s=0.02, freq_hz=8.0)
        tl.event("foot_contact", t0 + tc, during="reposition")
    return {"name": "reposition", "start_s": t0, "end_s": t1, "rise_m": rise_m}


# ---------------------------------------------------------------------------
# Stairs
# ---------------------------------------------------------------------------


def stair_flight(
    tl: Timeline,
    rng: np.random.Generator,
    durations: list[float],
    *,
    rise_m: float,
    tread_m: float,
    instrumented_left: bool,
    first_left: bool,
) -> list[dict[str, Any]]:
    """Consecutive steps up (rise > 0) or down (rise < 0), step-over-step.

    Each step: foot contact on the next stair (impact, larger going down),
    the pelvis rises (or drops) by the stair height mostly in single support,
    the trunk leans forward; the instrumented thigh flexes to about 60 deg
    (ascent; 35 deg descent) before its own contacts and extends during its stance.
    Returns one dict per step (the repetition truth).
    """
    lead_in = 0.45 * durations[0]
    big_t = lead_in + sum(durations) + 0.3 * durations[-1]
    n = tl.nsamp(big_t)
    big_t = n / tl.fs
    t = np.arange(n + 1) / tl.fs
    contacts = lead_in + np.concatenate(([0.0], np.cumsum(durations)[:-1]))
    st = tl.state
    z = np.zeros(n + 1)
    for c, d in zip(contacts, durations, strict=True):
        z += rise_m * minjerk((t - c - 0.1 * d) / (0.85 * d))
    n_st = len(durations)
    env = ramp(t, 0.0, lead_in + 0.3 * durations[0]) * (
        1.0 - ramp(t, contacts[-1] + 0.3 * durations[-1], big_t)
    )
    v = env + 1e-9
    x = np.concatenate(([0.0], np.cumsum(0.5 * (v[1:] + v[:-1])) / tl.fs))
    x *= n_st * tread_m / x[-1]
    up = rise_m > 0
    flex = R(60.0 if up else 35.0)
    # instrumented thigh keyframes
    times = [0.0]
    vals = [st["th_pitch"]]
    for i, c in enumerate(contacts):
        mine = ((i % 2 == 0) == first_left) == instrumented_left
        if mine:
            if c - 0.5 * durations[i] > times[-1] + 0.05:
                times.append(c - 0.5 * durations[i])
                vals.append(st["th_pitch"] + R(5.0))
            times.append(c)
            vals.append(st["th_pitch"] - flex)
            times.append(c + 0.95 * durations[i])
            vals.append(st["th_pitch"] + R(5.0))
    times.append(big_t)
    vals.append(st["th_pitch"])
    order = np.argsort(times, kind="stable")
    th = keyframes(t, [times[i] for i in order], [vals[i] for i in order])
    sway = 0.5 * 0.03 * np.sin(np.pi * (t - contacts[0]) / np.mean(durations)) * env
    px, py = heading_xy(tl, x, sway * (1 if first_left else -1), st["yaw"])
    arrays = {
        "px": px,
        "py": py,
        "pz": st["pz"] + z,
        "th_pitch": th,
        "tr_pitch": st["tr_pitch"] + env * R(8.0 if up else 3.0),
        "pel_pitch": st["pel_pitch"] + env * R(6.0 if up else 2.0),
        "sh_flex": st["sh_flex"]
        + env * R(8.0) * np.sin(np.pi * (t - contacts[0]) / np.mean(durations)),
    }
    t0, _ = tl.append(n, arrays)
    out = []
    for i, (c, d) in enumerate(zip(contacts, durations, strict=True)):
        left = (i % 2 == 0) == first_left
        k = float(rng.uniform(0.8, 1.2))
        tl.impact(
            t0 + c, up=(0.35 if up else 0.9) * G * k, fwd=-0.1 * G * k, sigma_s=0.016, freq_hz=10.0
        )
        tl.event("foot_contact", t0 + c, side="left" if left else "right", during="stairs")
        out.append(
            {
                "start_s": t0 + c,
                "end_s": t0 + c + d,
                "peak_s": t0 + c + 0.1 * d + 0.425 * d,
                "amplitude": abs(rise_m),
                "amplitude_unit": "m",
                "quantity": "stair_rise" if up else "stair_drop",
                "leading_leg": "left" if left else "right",
            }
        )
    return out
