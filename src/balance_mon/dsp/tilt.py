"""Tilt correction: express trunk acceleration in a frame whose first axis is vertical.

Moe-Nilssen (1998, Clin Biomech 13:320-327) estimates the gravity direction
from the mean acceleration over a quiet trial and rotates the signals so that
one axis is vertical and the two others horizontal. Here the rotation is the
smallest one that takes the measured gravity direction onto the vertical
(Rodrigues' formula): for a sensor mounted with its axes close to the body's,
it equals Moe-Nilssen's two successive plane rotations to first order, and it
keeps the horizontal axes as close as possible to the sensor's own, so AP and
ML keep their meaning when the ``axes`` metadata named them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import RecordingError

__all__ = ["rotation_to_vertical", "tilt_correct", "vertical_axis_guess"]


def rotation_to_vertical(gravity: ArrayLike) -> NDArray[np.float64]:
    """Rotation matrix R with ``R @ g_hat = [1, 0, 0]`` (first axis up), smallest angle.

    ``gravity`` is a 3-vector of the mean specific force in a frame whose first
    axis is roughly vertical-up (columns ordered v, h1, h2).
    """
    g = np.asarray(gravity, dtype=np.float64)
    norm = float(np.linalg.norm(g))
    if not np.isfinite(norm) or norm == 0:
        raise RecordingError("cannot find the vertical: the mean acceleration is zero")
    u = g / norm
    e = np.array([1.0, 0.0, 0.0])
    v = np.cross(u, e)
    s = float(np.linalg.norm(v))
    c = float(u @ e)
    if s < 1e-12:
        if c > 0:
            return np.eye(3)
        return np.diag([-1.0, -1.0, 1.0])  # upside down: half turn about the last axis
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * ((1 - c) / (s * s))


def vertical_axis_guess(acc: ArrayLike) -> tuple[int, int]:
    """Index of the sensor axis most aligned with gravity, and its sign (+1 up)."""
    m = np.asarray(acc, dtype=np.float64).mean(axis=0)
    i = int(np.argmax(np.abs(m)))
    return i, 1 if m[i] >= 0 else -1


def tilt_correct(
    acc_vhh: ArrayLike, *, gravity: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Rotate (N, 3) acceleration with columns (v, h1, h2) so that gravity is on v.

    Returns the rotated copy and the rotation matrix. ``gravity`` defaults to the
    mean of the signal (Moe-Nilssen); pass a quiet-period mean to use another.
    """
    a = np.asarray(acc_vhh, dtype=np.float64)
    g = a.mean(axis=0) if gravity is None else np.asarray(gravity, dtype=np.float64)
    r = rotation_to_vertical(g)
    return a @ r.T, r
