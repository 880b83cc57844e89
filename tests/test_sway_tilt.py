"""Sway measures must not depend on how the sensor is tilted on the body.

A sensor mounted up to 30 degrees off in any direction (roll, pitch, yaw and
their combinations) must give sway measures within 2 % of the untilted ones,
through :class:`SwayAnalyzer`, with and without the ``axes`` metadata.

Findings (docs/balance.md, "Sensor tilt"):

- The 12 direction-free measures (RMS of the resultant, path, jerk, mean
  velocity, ellipse area, frequencies) are invariant to numerical precision
  when the same signal is rotated, and within 2 % on simulated sensors
  tilted on the body.
- The 4 per-axis measures (``rms_ap``, ``rms_ml``, ``range_ap``, ``range_ml``)
  are within 2 % only for a pure tilt (a rotation about a horizontal axis).
  A rotation of the sensor about the vertical (yaw) cannot be seen by an
  accelerometer in quiet standing: gravity does not change, so tilt
  correction cannot undo it, and AP and ML are mixed by the yaw angle. A
  roll-then-pitch (Euler) tilt also contains a small yaw (second order,
  about roll x pitch / 2). These cases fail the 2 % bound; the test below
  shows the failure is exactly that rotation (strict xfail keeps the bound).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from balance_mon.analysis.sway import SWAY_KEYS, SwayAnalyzer
from balance_mon.dsp.tilt import rotation_to_vertical
from balance_mon.io import load_recording
from balance_mon.recording import AxisMap

BDS = Path(__file__).resolve().parents[1] / "sample_data" / "real" / "bds"
PER_AXIS = ("rms_ap_mps2", "rms_ml_mps2", "range_ap_mps2", "range_ml_mps2")
DIRECTION_FREE = tuple(k for k in SWAY_KEYS if k not in PER_AXIS)
BOUND = 0.02


def rot_zyx(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Body-frame rotation (columns v, ml, ap): yaw about v, then pitch about ml, roll about ap."""
    return (
        axis_angle((1, 0, 0), yaw_deg)
        @ axis_angle((0, 1, 0), pitch_deg)
        @ axis_angle((0, 0, 1), roll_deg)
    )


def axis_angle(axis, angle_deg: float) -> np.ndarray:
    """Rotation by ``angle_deg`` about unit ``axis`` (Rodrigues)."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    a = math.radians(angle_deg)
    return np.eye(3) + math.sin(a) * kx + (1 - math.cos(a)) * kx @ kx


#: Tilts up to 30 degrees: single axes, pairs and triples, both signs.
EULER_TILTS = [
    t
    for t in itertools.product((-30, -15, 0, 15, 30), repeat=3)
    if (t != (0, 0, 0) and max(abs(a) for a in t) == 30) or t in ((15, 15, 15), (-15, 15, -15))
]


def rel_err(a: float, b: float) -> float:
    return abs(a / b - 1.0)


@pytest.fixture(scope="module")
def bds_trial():
    rec = load_recording(BDS / "bds_s04_eyes_open_firm.csv")
    return rec


def _body_matrix(axes: AxisMap) -> np.ndarray:
    """M with acc_body (v, ml, ap) = acc_sensor @ M.T ... as a sensor->body matrix."""
    return axes.to_body(np.eye(3)).T  # columns: sensor axes expressed in body axes


def tilted(acc: np.ndarray, axes: AxisMap, r_body: np.ndarray) -> np.ndarray:
    """The sensor's reading after rotating the sensor by ``r_body`` (body frame v, ml, ap)."""
    m = _body_matrix(axes)  # body <- sensor
    body = acc @ m.T  # (N, 3) in (v, ml, ap)
    # a sensor rotated by R (body frame) reads R^T applied to body vectors,
    # expressed in its nominal axes
    return (body @ r_body) @ m


def test_tilted_helper_is_a_rotation(bds_trial):
    rec = bds_trial
    r = rot_zyx(20, -10, 5)
    out = tilted(rec.acc_mps2, rec.axes, r)
    np.testing.assert_allclose(
        np.linalg.norm(out, axis=1), np.linalg.norm(rec.acc_mps2, axis=1), rtol=1e-12
    )
    assert not np.allclose(out, rec.acc_mps2)


@pytest.mark.parametrize("with_axes", [True, False], ids=["axes", "no-axes"])
def test_direction_free_measures_invariant_to_any_tilt(bds_trial, with_axes):
    rec = bds_trial
    axes = rec.axes if with_axes else None
    base = SwayAnalyzer().analyze(rec.acc_mps2, rec.fs_hz, axes=rec.axes).metrics_
    worst = dict.fromkeys(DIRECTION_FREE, 0.0)
    for yaw, pitch, roll in EULER_TILTS:
        acc = tilted(rec.acc_mps2, rec.axes, rot_zyx(yaw, pitch, roll))
        m = SwayAnalyzer().analyze(acc, rec.fs_hz, axes=axes).metrics_
        for k in DIRECTION_FREE:
            worst[k] = max(worst[k], rel_err(m[k], base[k]))
    bad = {k: v for k, v in worst.items() if v > BOUND}
    assert not bad, bad
    # in fact the same signal rotated gives the same numbers to rounding
    assert max(worst.values()) < 1e-6


def test_per_axis_measures_within_bound_for_pure_tilts(bds_trial):
    """Rotations about any horizontal axis by up to 30 degrees, axes known."""
    rec = bds_trial
    base = SwayAnalyzer().analyze(rec.acc_mps2, rec.fs_hz, axes=rec.axes).metrics_
    worst = dict.fromkeys(SWAY_KEYS, 0.0)
    for az in range(0, 360, 30):
        h = (0.0, math.cos(math.radians(az)), math.sin(math.radians(az)))  # (v, ml, ap)
        for ang in (10, 20, 30):
            acc = tilted(rec.acc_mps2, rec.axes, axis_angle(h, ang))
            m = SwayAnalyzer().analyze(acc, rec.fs_hz, axes=rec.axes).metrics_
            for k in SWAY_KEYS:
                worst[k] = max(worst[k], rel_err(m[k], base[k]))
    bad = {k: v for k, v in worst.items() if v > BOUND}
    assert not bad, bad


@pytest.mark.xfail(
    strict=True,
    reason="a yaw of the sensor is invisible to an accelerometer in quiet standing; "
    "AP/ML split measures rotate with it (docs/balance.md)",
)
def test_per_axis_measures_within_bound_for_any_tilt(bds_trial):
    rec = bds_trial
    base = SwayAnalyzer().analyze(rec.acc_mps2, rec.fs_hz, axes=rec.axes).metrics_
    for yaw, pitch, roll in EULER_TILTS:
        acc = tilted(rec.acc_mps2, rec.axes, rot_zyx(yaw, pitch, roll))
        m = SwayAnalyzer().analyze(acc, rec.fs_hz, axes=rec.axes).metrics_
        for k in PER_AXIS:
            assert rel_err(m[k], base[k]) <= BOUND, (k, yaw, pitch, roll)


def _twist_deg(r_body: np.ndarray, acc_body_mean: np.ndarray) -> float:
    """Yaw left after tilt correction: the rotation about v between the corrected frames."""
    q0 = rotation_to_vertical(acc_body_mean)
    q1 = rotation_to_vertical(acc_body_mean @ r_body)
    # corrected tilted = body @ r @ q1.T ; corrected untilted = body @ q0.T
    d = q0 @ np.linalg.inv(r_body @ q1.T)  # maps untilted-corrected -> tilted-corrected (rows)
    return math.degrees(math.atan2(d[2, 1] - d[1, 2], d[1, 1] + d[2, 2]))


@pytest.mark.parametrize("yaw,pitch,roll", [(30, 0, 0), (-30, 15, 0), (20, 20, 20), (0, 30, 30)])
def test_per_axis_failure_is_exactly_the_unobservable_yaw(bds_trial, yaw, pitch, roll):
    """The AP/ML signals of a tilted sensor are the untilted ones rotated about v."""
    rec = bds_trial
    base = SwayAnalyzer().analyze(rec.acc_mps2, rec.fs_hz, axes=rec.axes)
    r = rot_zyx(yaw, pitch, roll)
    tilt = SwayAnalyzer().analyze(tilted(rec.acc_mps2, rec.axes, r), rec.fs_hz, axes=rec.axes)
    x0 = np.column_stack([base.acc_ml_mps2_, base.acc_ap_mps2_])
    x1 = np.column_stack([tilt.acc_ml_mps2_, tilt.acc_ap_mps2_])
    # best rotation (2-D Procrustes) between the two horizontal signals
    u, _, vt = np.linalg.svd(x0.T @ x1)
    rot2 = u @ vt
    assert np.linalg.det(rot2) > 0
    np.testing.assert_allclose(x0 @ rot2, x1, atol=1e-9 * np.abs(x0).max() + 1e-12)
    ang = math.degrees(math.atan2(rot2[0, 1], rot2[0, 0]))
    expected = _twist_deg(r, rec.axes.to_body(rec.acc_mps2).mean(axis=0))
    assert abs(abs(ang) - abs(expected)) < 1e-2
    assert abs(ang) > 0.5  # these tilts do contain a yaw
    # the resultant RMS, which adds both axes, is unchanged
    assert rel_err(tilt.metrics_["rms_mps2"], base.metrics_["rms_mps2"]) < 1e-9


# -- the simulator: a sensor physically tilted on the body --------------------------------

SIM_TILTS = [(30, 0, 0), (0, 30, 0), (0, 0, 30), (21, 21, 0), (-20, 15, 20), (17, -17, -17)]


@pytest.fixture(scope="module")
def sim():
    return pytest.importorskip("balance_mon.sim")


@pytest.mark.parametrize("stance", ["feet_together", "tandem"])
def test_simulated_mounting_tilt_direction_free_within_bound(sim, stance):
    """Same movement, sensor mounted tilted (``SensorSpec.tilt_deg``), no sensor noise.

    With sensor noise on, the noise is a different projection for each
    mounting (it is added in the sensor frame), which moves the most
    noise-sensitive measure, jerk, by up to about 2 % on its own; see
    docs/balance.md.
    """
    spec = dict(noise_mps2=0.0)
    base_res = sim.simulate_stance(stance, duration_s=30, seed=3, sensor=sim.SensorSpec(**spec))
    base = SwayAnalyzer().analyze_recording(base_res.recording).metrics_
    for roll, pitch, yaw in SIM_TILTS:
        res = sim.simulate_stance(
            stance,
            duration_s=30,
            seed=3,
            sensor=sim.SensorSpec(tilt_deg=(roll, pitch, yaw), **spec),
        )
        for rec in (res.recording, res.recording.replace(axes=None)):
            m = SwayAnalyzer().analyze_recording(rec).metrics_
            bad = {
                k: rel_err(m[k], base[k]) for k in DIRECTION_FREE if rel_err(m[k], base[k]) > BOUND
            }
            assert not bad, (roll, pitch, yaw, bad)
