"""A scenario as a timeline of body-channel samples on the fine grid.

The body is described by a few channels (all angles in radians, positions in
metres, world frame z up; "heading frame" = forward/left at the current yaw):

- ``px, py, pz``: hip-joint centre (pelvis) position.
- ``yaw``: heading. ``pel_yaw``/``tr_yaw``: pelvis/thorax rotation about it.
- ``pel_pitch, pel_roll``: pelvis (lower-back sensor segment) tilt.
- ``tr_pitch, tr_roll``: thorax (sternum) tilt; the thorax pivots at the
  lumbar level.
- ``th_pitch, th_roll``: instrumented thigh (0 upright, -90 deg horizontal,
  hip behind the knee); ``sk_pitch``: shank (knee ahead of ankle when
  positive), used for leg forward kinematics.
- ``sh_flex, sh_abd, el_flex``: instrumented arm, relative to the thorax.

Primitives append samples with minimum-jerk transitions, so every channel is
twice continuously differentiable; overlays (postural sway, balance loss,
foot-contact impacts) are added when the timeline is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._body import Body
from ._core import FloatArray, impact_gain, impact_shape, leg_fk, minjerk, quintic, window
from ._sway import PendulumParams, simulate_angle

__all__ = ["CHANNELS", "Kinematics", "Timeline", "seated_state", "standing_state"]

CHANNELS = (
    "px",
    "py",
    "pz",
    "yaw",
    "pel_pitch",
    "pel_roll",
    "pel_yaw",
    "tr_pitch",
    "tr_roll",
    "tr_yaw",
    "th_pitch",
    "th_roll",
    "sk_pitch",
    "sh_flex",
    "sh_abd",
    "el_flex",
)

R = math.radians


def standing_state(body: Body, *, x: float = 0.0, y: float = 0.0, yaw: float = 0.0):
    """Upright, arms hanging with the elbow slightly bent."""
    s = dict.fromkeys(CHANNELS, 0.0)
    s.update(px=x, py=y, pz=body.hip_h, yaw=yaw, el_flex=R(10.0))
    return s


def seated_hip(body: Body, seat_height_m: float | None) -> tuple[float, float, float]:
    """(shank pitch, thigh pitch, hip height) when seated with the feet under the knees."""
    sk = R(10.0)
    knee_z = body.ankle_h + body.l_shank * math.cos(sk)
    if seat_height_m is None:
        th = R(-88.0)
    else:
        hip_z = seat_height_m + 0.055 * body.height
        c = (hip_z - knee_z) / body.l_thigh
        c = min(max(c, -0.5), 0.6)
        th = -math.acos(c)
    return sk, th, knee_z + body.l_thigh * math.cos(th)


def seated_state(body: Body, seat_height_m: float | None = None, *, yaw: float = 0.0):
    """Seated upright, hands resting on the thighs; the ankles at x = 0."""
    sk, th, _hip_z = seated_hip(body, seat_height_m)
    fwd, up = leg_fk(sk, th, body.l_shank, body.l_thigh)
    s = dict.fromkeys(CHANNELS, 0.0)
    s.update(
        px=float(fwd) * math.cos(yaw),
        py=float(fwd) * math.sin(yaw),
        pz=body.ankle_h + float(up),
        yaw=yaw,
        sk_pitch=sk,
        th_pitch=th,
        sh_flex=R(20.0),
        el_flex=R(70.0),
    )
    return s


@dataclass
class SwayWindow:
    t0: float
    t1: float
    kind: str  # "stand" (whole-body pendulum) or "sit" (trunk only)
    ap: PendulumParams
    ml: PendulumParams
    rise_s: float = 0.5


@dataclass
class BalanceLoss:
    t_loss: float
    t_step: float
    direction: str  # forward, backward, left, right
    angle_deg: float
    step_m: float
    recovery_s: float
    stepping_instrumented: bool


@dataclass
class Impact:
    t: float
    fwd: float  # peak acceleration, m/s^2, heading frame
    left: float
    up: float
    sigma_s: float = 0.015
    freq_hz: float = 10.0


@dataclass
class Kinematics:
    """Built body channels on the fine grid (``t`` in seconds, 0 = first output sample)."""

    t: FloatArray
    ch: dict[str, FloatArray]
    fs: float
    n_margin: int
    duration_s: float  #: recording length (the trailing margin excluded)


@dataclass
class Timeline:
    body: Body
    fs: float
    state: dict[str, float]
    margin_s: float = 1.0
    n: int = 0
    parts: dict[str, list[FloatArray]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    reps: list[dict[str, Any]] = field(default_factory=list)
    impacts: list[Impact] = field(default_factory=list)
    sway: list[SwayWindow] = field(default_factory=list)
    losses: list[BalanceLoss] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = {ch: float(self.state.get(ch, 0.0)) for ch in CHANNELS}
        self.parts = {ch: [] for ch in CHANNELS}
        self.dt = 1.0 / self.fs
        self.n_margin = int(round(self.margin_s * self.fs))
        self.hold(self.n_margin / self.fs)
        self.n_start = self.n

    # -- time ----------------------------------------------------------------

    @property
    def now(self) -> float:
        """Current end of the timeline, seconds on the recording's axis."""
        return (self.n - self.n_margin) * self.dt

    def nsamp(self, duration_s: float) -> int:
        return max(1, int(round(duration_s * self.fs)))

    # -- appending -----------------------------------------------------------

    def append(self, n: int, arrays: dict[str, FloatArray]) -> tuple[float, float]:
        """Append ``n`` samples; ``arrays`` hold n + 1 values (the last is the new state)."""
        t0 = self.now
        for ch in CHANNELS:
            if ch in arrays:
                a = np.asarray(arrays[ch], dtype=np.float64)
                self.parts[ch].append(a[:n])
                self.state[ch] = float(a[n])
            else:
                self.parts[ch].append(np.full(n, self.state[ch]))
        self.n += n
        return t0, self.now

    def hold(self, duration_s: float) -> tuple[float, float]:
        return self.append(self.nsamp(duration_s), {})

    def move(
        self,
        duration_s: float,
        targets: dict[str, Any] | None = None,
        *,
        offsets: dict[str, Any] | None = None,
        fk: bool = False,
    ) -> tuple[float, float]:
        """Minimum-jerk transition of some channels.

        ``targets`` maps a channel to an absolute target, or to a list of
        ``(target, u0, u1)`` waypoints reached in turn over the normalised time
        windows [u0, u1] of this move. ``offsets`` does the same for pelvis
        displacements ``fwd``, ``left``, ``up`` (relative, heading frame).
        With ``fk`` the pelvis also follows the legs' forward kinematics
        (ankles fixed) as ``sk_pitch``/``th_pitch`` change.
        """
        n = self.nsamp(duration_s)
        u = np.arange(n + 1) / n
        arrays: dict[str, FloatArray] = {}
        for ch, spec in (targets or {}).items():
            arrays[ch] = profile(self.state[ch], spec, u)
        disp = {k: profile(0.0, spec, u) for k, spec in (offsets or {}).items()}
        fwd = disp.get("fwd", np.zeros(n + 1))
        left = disp.get("left", np.zeros(n + 1))
        up = disp.get("up", np.zeros(n + 1))
        if fk:
            sk = arrays.get("sk_pitch", np.full(n + 1, self.state["sk_pitch"]))
            th = arrays.get("th_pitch", np.full(n + 1, self.state["th_pitch"]))
            f1, u1 = leg_fk(sk, th, self.body.l_shank, self.body.l_thigh)
            f0, u0 = leg_fk(
                self.state["sk_pitch"], self.state["th_pitch"], self.body.l_shank, self.body.l_thigh
            )
            fwd = fwd + (f1 - f0)
            up = up + (u1 - u0)
        if offsets or fk:
            yaw = arrays.get("yaw", np.full(n + 1, self.state["yaw"]))
            c, s = np.cos(yaw), np.sin(yaw)
            arrays["px"] = self.state["px"] + c * fwd - s * left
            arrays["py"] = self.state["py"] + s * fwd + c * left
            arrays["pz"] = self.state["pz"] + up
        return self.append(n, arrays)

    # -- annotations -----------------------------------------------------------

    def event(self, name: str, t: float, **extra: Any) -> dict[str, Any]:
        e = {"name": name, "time_s": float(t), **extra}
        self.events.append(e)
        return e

    def phase(self, name: str, t0: float, t1: float, **extra: Any) -> dict[str, Any]:
        p = {"name": name, "start_s": float(t0), "end_s": float(t1), **extra}
        self.phases.append(p)
        return p

    def impact(
        self,
        t: float,
        *,
        fwd: float = 0.0,
        left: float = 0.0,
        up: float = 0.0,
        sigma_s: float = 0.015,
        freq_hz: float = 10.0,
    ) -> None:
        self.impacts.append(Impact(t, fwd, left, up, sigma_s, freq_hz))

    def add_sway(
        self,
        t0: float,
        t1: float,
        ap: PendulumParams,
        ml: PendulumParams,
        *,
        kind: str = "stand",
        rise_s: float = 0.5,
    ) -> None:
        if t1 - t0 > 2 * self.dt:
            self.sway.append(SwayWindow(t0, t1, kind, ap, ml, rise_s))

    # -- build -----------------------------------------------------------------

    def build(self, rng: np.random.Generator, tail_s: float | None = None) -> Kinematics:
        """Concatenate, add a trailing margin, and apply the overlays."""
        duration = self.now
        self.hold(self.margin_s if tail_s is None else tail_s)
        ch = {k: np.concatenate(v) for k, v in self.parts.items()}
        t = (np.arange(self.n) - self.n_margin) * self.dt
        for w in self.sway:
            _apply_sway(t, ch, w, self.body, rng)
        for loss in self.losses:
            _apply_loss(t, ch, loss, self.body)
        for imp in self.impacts:
            _apply_impact(t, ch, imp)
        return Kinematics(t=t, ch=ch, fs=self.fs, n_margin=self.n_margin, duration_s=duration)


def profile(v0: float, spec: Any, u: FloatArray) -> FloatArray:
    """Channel values over normalised time ``u`` from ``v0`` through waypoints."""
    if isinstance(spec, int | float):
        spec = [(float(spec), 0.0, 1.0)]
    elif isinstance(spec, tuple):
        spec = [spec]
    out = np.full(u.shape, float(v0))
    prev = float(v0)
    for tgt, a, b in spec:
        out += (float(tgt) - prev) * minjerk((u - a) / max(b - a, 1e-9))
        prev = float(tgt)
    return out


# ---------------------------------------------------------------------------
# Overlays
# ---------------------------------------------------------------------------


def _span(t: FloatArray, t0: float, t1: float) -> slice:
    i0, i1 = np.searchsorted(t, [t0, t1])
    return slice(int(i0), int(i1))


def _rotate_body(
    ch: dict[str, FloatArray], sl: slice, pitch: FloatArray, roll: FloatArray, pivot_len: float
) -> None:
    """Tilt the whole body about the ankles by (pitch forward, roll right)."""
    for seg in ("pel", "tr", "th", "sk"):
        ch[f"{seg}_pitch"][sl] += pitch
    for seg in ("pel", "tr", "th"):
        ch[f"{seg}_roll"][sl] += roll
    fwd = pivot_len * np.sin(pitch)
    left = -pivot_len * np.sin(roll)
    up = pivot_len * (np.cos(pitch) * np.cos(roll) - 1.0)
    yaw = ch["yaw"][sl]
    c, s = np.cos(yaw), np.sin(yaw)
    ch["px"][sl] += c * fwd - s * left
    ch["py"][sl] += s * fwd + c * left
    ch["pz"][sl] += up


def _apply_sway(
    t: FloatArray, ch: dict[str, FloatArray], w: SwayWindow, body: Body, rng: np.random.Generator
) -> None:
    sl = _span(t, w.t0, w.t1)
    tt = t[sl]
    if tt.size < 4:
        return
    win = window(tt, w.t0, w.t1, w.rise_s)
    ap = simulate_angle(w.ap, body, tt - tt[0], rng) * win
    ml = simulate_angle(w.ml, body, tt - tt[0], rng) * win
    if w.kind == "stand":
        _rotate_body(ch, sl, ap, ml, body.hip_h - body.ankle_h)
    else:  # seated: the trunk sways a little above the pelvis
        ch["tr_pitch"][sl] += 0.3 * ap
        ch["tr_roll"][sl] += 0.3 * ml
        ch["pel_pitch"][sl] += 0.1 * ap


def loss_angle(t: FloatArray, loss: BalanceLoss, body: Body) -> FloatArray:
    """Extra body lean (rad) of a loss of balance: fall, arrest at the step, recovery."""
    omega = math.sqrt(body.mgh / body.pend_inertia)
    tf = loss.t_step - loss.t_loss
    th_f = R(loss.angle_deg)
    den = math.cosh(omega * tf) - 1.0
    v_s = th_f * omega * math.sinh(omega * tf) / den
    a_s = th_f * omega**2 * math.cosh(omega * tf) / den
    t_arrest = 0.22
    th_peak = th_f + 0.45 * v_s * t_arrest
    out = np.zeros_like(t)
    m1 = (t >= loss.t_loss) & (t < loss.t_step)
    out[m1] = th_f * (np.cosh(omega * (t[m1] - loss.t_loss)) - 1.0) / den
    m2 = (t >= loss.t_step) & (t < loss.t_step + t_arrest)
    out[m2] = quintic(t[m2] - loss.t_step, t_arrest, th_f, v_s, a_s, th_peak, 0.0, 0.0)
    m3 = t >= loss.t_step + t_arrest
    out[m3] = th_peak * (1.0 - minjerk((t[m3] - loss.t_step - t_arrest) / loss.recovery_s))
    return out


def _apply_loss(t: FloatArray, ch: dict[str, FloatArray], loss: BalanceLoss, body: Body) -> None:
    sl = _span(t, loss.t_loss - 0.5, t[-1] + 1.0)
    tt = t[sl]
    ang = loss_angle(tt, loss, body)
    sign = 1.0 if loss.direction in ("forward", "right") else -1.0
    zero = np.zeros_like(ang)
    if loss.direction in ("forward", "backward"):
        _rotate_body(ch, sl, sign * ang, zero, body.hip_h - body.ankle_h)
    else:
        _rotate_body(ch, sl, zero, sign * ang, body.hip_h - body.ankle_h)
    # the base of support moves half a step in the fall direction; the body dips
    total = 0.22 + loss.recovery_s
    shift = 0.5 * loss.step_m * minjerk((tt - loss.t_step + 0.08) / total)
    dip = -0.025 * (
        minjerk((tt - loss.t_step + 0.25) / 0.35) - minjerk((tt - loss.t_step - 0.3) / 0.8)
    )
    if loss.direction in ("forward", "backward"):
        fwd, left = sign * shift, zero
    else:
        fwd, left = zero, -sign * shift
    yaw = ch["yaw"][sl]
    c, s = np.cos(yaw), np.sin(yaw)
    ch["px"][sl] += c * fwd - s * left
    ch["py"][sl] += s * fwd + c * left
    ch["pz"][sl] += dip
    # the stepping leg swings; the arms fly out (protective reaction)
    swing = minjerk((tt - loss.t_step + 0.38) / 0.2) - minjerk((tt - loss.t_step - 0.05) / 0.4)
    if loss.stepping_instrumented:
        if loss.direction == "forward":
            ch["th_pitch"][sl] -= R(30.0) * swing
        elif loss.direction == "backward":
            ch["th_pitch"][sl] += R(15.0) * swing
        else:
            ch["th_roll"][sl] += sign * R(15.0) * swing
    arms = minjerk((tt - loss.t_loss - 0.2) / 0.35) - minjerk((tt - loss.t_step - 0.6) / 1.0)
    ch["sh_abd"][sl] += R(40.0) * arms
    ch["sh_flex"][sl] += R(25.0) * arms


def _apply_impact(t: FloatArray, ch: dict[str, FloatArray], imp: Impact) -> None:
    half = 5.0 * imp.sigma_s
    sl = _span(t, imp.t - half, imp.t + half)
    if sl.stop <= sl.start:
        return
    shape = impact_shape(t[sl], imp.t, imp.sigma_s, imp.freq_hz)
    gain = impact_gain(imp.sigma_s, imp.freq_hz)
    # a position dip of amplitude A gives a peak acceleration of +A * gain
    fwd, left, up = (-v / gain * shape for v in (imp.fwd, imp.left, imp.up))
    i = min(int(np.searchsorted(t, imp.t)), t.size - 1)
    yaw = ch["yaw"][i]
    c, s = math.cos(yaw), math.sin(yaw)
    ch["px"][sl] += c * fwd - s * left
    ch["py"][sl] += s * fwd + c * left
    ch["pz"][sl] += up
