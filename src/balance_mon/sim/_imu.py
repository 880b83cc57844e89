"""From body channels to what an ideal IMU on a given segment measures.

For the sensor's world position p(t) and orientation R(t) (sensor -> world) on
the fine grid, the ideal accelerometer reads the specific force
``f = R^T (p'' + [0, 0, g])`` and the ideal gyroscope the body-frame angular
rate ``omega = vee(R^T R')``. Derivatives are central differences on the fine
grid (second order; the trajectories are C2 by construction). The result is
low-passed with a linear-phase FIR filter (cut-off 0.4 x output rate, unit DC
gain so gravity is exact) and decimated by an integer factor to the output
rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve, firwin

from ..consts import GRAVITY_MPS2
from ._body import Body
from ._core import FloatArray, apply, rot_x, rot_y, rot_zyx
from ._timeline import Kinematics

__all__ = ["IdealImu", "fine_factor", "ideal_imu", "sensor_pose"]

_CHUNK = 65536


def fine_factor(fs_out: float) -> int:
    """Integer oversampling so that the fine grid runs at about 1 kHz or more."""
    return max(1, math.ceil(1000.0 / fs_out - 1e-9))


def sensor_pose(
    ch: dict[str, FloatArray], idx: slice | np.ndarray, body: Body, placement: str, side: str
) -> tuple[FloatArray, FloatArray]:
    """World position (N, 3) and segment orientation (N, 3, 3) of the sensor's segment."""
    s = 1.0 if side == "left" else -1.0
    yaw = ch["yaw"][idx]
    pel = np.stack([ch["px"][idx], ch["py"][idx], ch["pz"][idx]], axis=1)
    r_pel = rot_zyx(yaw + ch["pel_yaw"][idx], ch["pel_pitch"][idx], ch["pel_roll"][idx])
    up_l = body.lumbar_h - body.hip_h
    if placement == "lower_back":
        return pel + apply(r_pel, (-body.back_depth, 0.0, up_l)), r_pel
    if placement == "thigh":
        hip = pel + apply(r_pel, (0.0, s * body.half_hip, 0.0))
        r_th = rot_zyx(yaw + ch["pel_yaw"][idx], ch["th_pitch"][idx], ch["th_roll"][idx])
        return hip + apply(r_th, (body.thigh_depth, 0.0, -0.5 * body.l_thigh)), r_th
    lumbar = pel + apply(r_pel, (0.0, 0.0, up_l))
    r_tr = rot_zyx(yaw + ch["tr_yaw"][idx], ch["tr_pitch"][idx], ch["tr_roll"][idx])
    if placement == "sternum":
        return lumbar + apply(r_tr, (body.chest_depth, 0.0, body.sternum_h - body.lumbar_h)), r_tr
    if placement == "wrist":
        shoulder = lumbar + apply(
            r_tr, (0.0, s * body.half_shoulder, body.shoulder_h - body.lumbar_h)
        )
        r_ua = r_tr @ rot_y(-ch["sh_flex"][idx]) @ rot_x(s * ch["sh_abd"][idx])
        r_fa = r_ua @ rot_y(-ch["el_flex"][idx])
        pos = (
            shoulder
            + apply(r_ua, (0.0, 0.0, -body.l_upper_arm))
            + apply(r_fa, (0.0, 0.0, -body.l_forearm))
        )
        return pos, r_fa
    raise ValueError(placement)


@dataclass
class IdealImu:
    """Band-limited true signals at the output sample instants (no sensor errors)."""

    t: FloatArray  # true sample times, s
    acc: FloatArray  # specific force, sensor frame, m/s^2
    gyr: FloatArray  # angular rate, sensor frame, deg/s
    pos: FloatArray  # sensor position, world, m
    rot: FloatArray  # sensor orientation (sensor -> world)
    pelvis: FloatArray  # hip-joint centre position, world, m


def ideal_imu(
    kin: Kinematics, body: Body, placement: str, side: str, mount: FloatArray, k: int
) -> IdealImu:
    """Ideal IMU signals of a sensor at ``placement``, decimated by ``k`` from the fine grid."""
    dt = 1.0 / kin.fs
    n_out = max(int(math.ceil(kin.duration_s * kin.fs / k - 1e-9)), 2)
    out_idx = kin.n_margin + k * np.arange(n_out)
    m = 4 * k if k > 1 else 0
    lo, hi = int(out_idx[0]) - m, int(out_idx[-1]) + m  # inclusive fine range needed
    if lo < 1 or hi > kin.t.size - 2:
        raise RuntimeError("timeline margin too short for the anti-alias filter")
    n = hi - lo + 1
    f = np.empty((n, 3))
    w = np.empty((n, 3))
    for s0 in range(lo, hi + 1, _CHUNK):
        s1 = min(s0 + _CHUNK, hi + 1)  # fine samples s0..s1-1
        sl = slice(s0 - 1, s1 + 1)
        pos, rot = sensor_pose(kin.ch, sl, body, placement, side)
        rot = rot @ mount
        acc = (pos[2:] - 2.0 * pos[1:-1] + pos[:-2]) / (dt * dt)
        acc[:, 2] += GRAVITY_MPS2
        rm = rot[1:-1]
        f[s0 - lo : s1 - lo] = np.einsum("nji,nj->ni", rm, acc)
        drot = (rot[2:] - rot[:-2]) / (2.0 * dt)
        om = np.einsum("nji,njk->nik", rm, drot)
        w[s0 - lo : s1 - lo, 0] = 0.5 * (om[:, 2, 1] - om[:, 1, 2])
        w[s0 - lo : s1 - lo, 1] = 0.5 * (om[:, 0, 2] - om[:, 2, 0])
        w[s0 - lo : s1 - lo, 2] = 0.5 * (om[:, 1, 0] - om[:, 0, 1])
    if k > 1:
        h = firwin(2 * m + 1, 0.8 / k)[:, None]
        f = fftconvolve(f, h, mode="valid", axes=0)[::k]
        w = fftconvolve(w, h, mode="valid", axes=0)[::k]
    pos, rot = sensor_pose(kin.ch, out_idx, body, placement, side)
    return IdealImu(
        t=kin.t[out_idx],
        acc=f[:n_out],
        gyr=np.degrees(w[:n_out]),
        pos=pos,
        rot=rot @ mount,
        pelvis=np.stack([kin.ch["px"][out_idx], kin.ch["py"][out_idx], kin.ch["pz"][out_idx]], 1),
    )
