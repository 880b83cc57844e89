"""Rotations and smooth motion profiles used by every scenario.

Conventions (world frame): x forward at heading 0, y left, z up, metres.
A segment's orientation is ``Rz(yaw) @ Ry(pitch) @ Rx(roll)``; positive pitch
tilts the segment's long (up) axis forward, positive roll tilts it to the right.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


# ---------------------------------------------------------------------------
# Rotations
# ---------------------------------------------------------------------------


def rot_x(a: ArrayLike) -> FloatArray:
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    r = np.zeros((*a.shape, 3, 3))
    r[..., 0, 0] = 1.0
    r[..., 1, 1] = c
    r[..., 1, 2] = -s
    r[..., 2, 1] = s
    r[..., 2, 2] = c
    return r


def rot_y(a: ArrayLike) -> FloatArray:
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    r = np.zeros((*a.shape, 3, 3))
    r[..., 0, 0] = c
    r[..., 0, 2] = s
    r[..., 1, 1] = 1.0
    r[..., 2, 0] = -s
    r[..., 2, 2] = c
    return r


def rot_z(a: ArrayLike) -> FloatArray:
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    r = np.zeros((*a.shape, 3, 3))
    r[..., 0, 0] = c
    r[..., 0, 1] = -s
    r[..., 1, 0] = s
    r[..., 1, 1] = c
    r[..., 2, 2] = 1.0
    return r


def rot_zyx(yaw: ArrayLike, pitch: ArrayLike, roll: ArrayLike) -> FloatArray:
    """``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` for arrays of angles (radians)."""
    yaw, pitch, roll = np.broadcast_arrays(
        np.asarray(yaw, float), np.asarray(pitch, float), np.asarray(roll, float)
    )
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    r = np.empty((*yaw.shape, 3, 3))
    r[..., 0, 0] = cy * cp
    r[..., 0, 1] = cy * sp * sr - sy * cr
    r[..., 0, 2] = cy * sp * cr + sy * sr
    r[..., 1, 0] = sy * cp
    r[..., 1, 1] = sy * sp * sr + cy * cr
    r[..., 1, 2] = sy * sp * cr - cy * sr
    r[..., 2, 0] = -sp
    r[..., 2, 1] = cp * sr
    r[..., 2, 2] = cp * cr
    return r


def apply(r: FloatArray, v: ArrayLike) -> FloatArray:
    """Rotate vectors: ``r`` (N, 3, 3) times ``v`` (3,) or (N, 3)."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 1:
        return r @ v
    return np.einsum("nij,nj->ni", r, v)


def rotation_angle_deg(r0: FloatArray, r: FloatArray) -> FloatArray:
    """Angle (deg) of the rotation taking ``r0`` (3, 3) to each of ``r`` (N, 3, 3)."""
    rel = np.einsum("ji,njk->nik", r0, r)
    tr = np.clip((np.trace(rel, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    return np.degrees(np.arccos(tr))


# ---------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------


def minjerk(u: ArrayLike) -> FloatArray:
    """Minimum-jerk step 0 -> 1 on u in [0, 1] (Flash & Hogan 1985), clipped outside.

    ``10u^3 - 15u^4 + 6u^5``: zero velocity and acceleration at both ends, so
    sums of such steps are twice continuously differentiable. Peak velocity is
    1.875 / duration at u = 0.5.
    """
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    return u * u * u * (10.0 + u * (-15.0 + 6.0 * u))


def ramp(t: ArrayLike, t0: float, t1: float) -> FloatArray:
    """Minimum-jerk step from 0 at ``t0`` to 1 at ``t1`` (a step at t0 when t1 <= t0)."""
    t = np.asarray(t, dtype=np.float64)
    if t1 <= t0:
        return (t >= t0).astype(np.float64)
    return minjerk((t - t0) / (t1 - t0))


def window(t: ArrayLike, t0: float, t1: float, rise_s: float) -> FloatArray:
    """Smooth 0 -> 1 -> 0 window: ramps up over [t0, t0+rise], down over [t1-rise, t1]."""
    rise = max(min(rise_s, 0.5 * (t1 - t0)), 1e-9)
    return ramp(t, t0, t0 + rise) * (1.0 - ramp(t, t1 - rise, t1))


def quintic(
    t: ArrayLike, duration: float, p0: float, v0: float, a0: float, p1: float, v1: float, a1: float
) -> FloatArray:
    """Quintic on [0, duration] matching position, velocity and acceleration at both ends."""
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, duration)
    big_t = duration
    c0, c1, c2 = p0, v0, a0 / 2.0
    m = np.array(
        [
            [big_t**3, big_t**4, big_t**5],
            [3 * big_t**2, 4 * big_t**3, 5 * big_t**4],
            [6 * big_t, 12 * big_t**2, 20 * big_t**3],
        ]
    )
    rhs = np.array(
        [
            p1 - (c0 + c1 * big_t + c2 * big_t**2),
            v1 - (c1 + 2 * c2 * big_t),
            a1 - 2 * c2,
        ]
    )
    c3, c4, c5 = np.linalg.solve(m, rhs)
    return c0 + t * (c1 + t * (c2 + t * (c3 + t * (c4 + t * c5))))


def impact_shape(t: ArrayLike, t0: float, sigma_s: float, freq_hz: float) -> FloatArray:
    """Unit Gabor wavelet ``exp(-tau^2 / 2 sigma^2) cos(2 pi f tau)``, tau = t - t0.

    Used as a *position* perturbation: it returns to zero on both sides, so an
    impact leaves no net displacement or velocity. Its second derivative at
    tau = 0 is ``-(1/sigma^2 + (2 pi f)^2)``; see :func:`impact_gain`.
    """
    tau = np.asarray(t, dtype=np.float64) - t0
    env = np.exp(-0.5 * (tau / sigma_s) ** 2)
    return env * np.cos(2.0 * np.pi * freq_hz * tau)


def impact_gain(sigma_s: float, freq_hz: float) -> float:
    """|d^2/dt^2 impact_shape| at its centre: position amplitude x gain = peak acceleration."""
    return 1.0 / sigma_s**2 + (2.0 * np.pi * freq_hz) ** 2


def leg_fk(shank_pitch: ArrayLike, thigh_pitch: ArrayLike, l_shank: float, l_thigh: float):
    """Hip position (forward, up) relative to the ankle from segment pitches (radians).

    Positive shank pitch puts the knee ahead of the ankle; a thigh pitch of
    -90 deg is a horizontal thigh with the hip behind the knee (sitting).
    """
    sk = np.asarray(shank_pitch, dtype=np.float64)
    th = np.asarray(thigh_pitch, dtype=np.float64)
    fwd = l_shank * np.sin(sk) + l_thigh * np.sin(th)
    up = l_shank * np.cos(sk) + l_thigh * np.cos(th)
    return fwd, up


def planar_ik(
    sx: ArrayLike, sz: ArrayLike, wx: float, wz: float, l1: float, l2: float, elbow_down: bool
):
    """Elbow (x, z) of a two-link arm from shoulder (sx, sz) to a fixed hand (wx, wz)."""
    sx = np.asarray(sx, dtype=np.float64)
    sz = np.asarray(sz, dtype=np.float64)
    dx, dz = wx - sx, wz - sz
    d = np.clip(np.hypot(dx, dz), abs(l1 - l2) + 1e-6, l1 + l2 - 1e-6)
    a = (l1 * l1 - l2 * l2 + d * d) / (2.0 * d)
    h = np.sqrt(np.maximum(l1 * l1 - a * a, 0.0))
    ux, uz = dx / d, dz / d
    # perpendicular pointing "down" of the shoulder->hand line (rotate by -90 deg)
    px, pz = uz, -ux
    if not elbow_down:
        px, pz = -px, -pz
    return sx + a * ux + h * px, sz + a * uz + h * pz
