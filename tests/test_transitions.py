"""TransitionDetector: synthetic transfers with known answers, edge cases, simulated
sessions against their ground truth, and snapshots of the real recordings.

Hand counts behind the real-data snapshots (docs/transitions.md, "Validation"):
the vertical velocity and displacement, the trunk pitch and the raw axes of each
file were plotted and every sitting-down / standing-up read off them.

- sit2standpy_sample.csv (91 s, lumbar, no gyroscope): stand-to-sit at about
  7.5, 31, 69 and 88.7 s (the last one ends in a hard landing on the seat, a
  12 m/s^2 spike at 88.8 s, and is followed by 2 s of sitting); sit-to-stand
  at about 24, 37.5 and 82.5 s. The person walks between them and bends
  forward twice (53-56 s, 61-62 s) without sitting.
- mobgap_ha001_test11_daily_living.csv (138 s, lower back, gyroscope):
  sit-to-stand at about 4.5 and 76.5 s, stand-to-sit at about 52 and 136 s
  (the last one right after a turn); two deep forward bends at 123-128 s and
  quiet standing with the trunk more upright (88-93 s, 100-120 s) are not
  transfers (no vertical displacement).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from balance_mon.analysis.transitions import (
    KINDS,
    Transition,
    TransitionDetector,
    _first_stop,
    _n_extrema,
    _other_transfers,
)
from balance_mon.cli import main
from balance_mon.consts import GRAVITY_MPS2
from balance_mon.errors import RecordingError
from balance_mon.io import load_recording
from balance_mon.recording import Recording
from balance_mon.sim import (
    SensorSpec,
    Subject,
    simulate_chair_stand,
    simulate_exercise_set,
    simulate_sit_to_stand,
    simulate_tug,
)

REAL = Path(__file__).resolve().parents[1] / "sample_data" / "real"
S2S = REAL / "sit2standpy" / "sit2standpy_sample.csv"
MOBGAP_DL = REAL / "mobgap" / "mobgap_ha001_test11_daily_living.csv"
MOBGAP_WALK = REAL / "mobgap" / "mobgap_ha001_test5_straight_walk.csv"


# ---------------------------------------------------------------------------
# synthetic transfers
# ---------------------------------------------------------------------------


def minjerk(u):
    u = np.clip(u, 0.0, 1.0)
    return u**3 * (10 - 15 * u + 6 * u**2)


def rot(axis, angle):
    """Rotation matrices (N, 3, 3) about a fixed unit axis by angles (N,)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array(
        [[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]], dtype=float
    )
    a = np.asarray(angle, float)[:, None, None]
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


def synthetic(
    fs,
    *,
    rise_m=0.4,
    t0=3.0,
    dur=1.6,
    lean_deg=30.0,
    total=10.0,
    mount=(0.3, -0.5, 0.8),
    mount_deg=70.0,
):
    """A trunk sensor, mounted in any orientation, doing one transfer.

    The sensor rises by ``rise_m`` (negative: lowers) with a minimum-jerk
    profile over [t0 + 0.3 dur, t0 + dur] while the trunk leans forward by
    ``lean_deg`` and back over [t0, t0 + dur] (no horizontal motion).
    Returns (acc (N, 3), gyr (N, 3) deg/s, truth dict).
    """
    n = int(round(total * fs))
    t = np.arange(n) / fs
    z_t0, z_d = t0 + 0.3 * dur, 0.7 * dur
    u = (t - z_t0) / z_d
    acc_z = rise_m * (60 * u - 180 * u**2 + 120 * u**3) / z_d**2 * ((u >= 0) & (u <= 1))
    lean = np.radians(lean_deg) * np.sin(np.pi * np.clip((t - t0) / dur, 0, 1)) ** 2
    dlean = np.gradient(lean, t)
    world = np.column_stack([np.zeros(n), np.zeros(n), GRAVITY_MPS2 + acc_z])
    # body leans about the world y axis; the sensor is mounted at a fixed rotation
    r_body = rot([0.0, 1.0, 0.0], lean)
    r_mount = rot(mount, np.full(1, np.radians(mount_deg)))[0]
    r = r_body @ r_mount  # sensor -> world
    acc = np.einsum("nji,nj->ni", r, world)  # R^T f
    w_world = np.column_stack([np.zeros(n), dlean, np.zeros(n)])
    gyr = np.degrees(np.einsum("nji,nj->ni", r, w_world))
    peak_v = 1.875 * rise_m / z_d
    return acc, gyr, {"start_s": t0, "end_s": t0 + dur, "rise_m": rise_m, "peak_v": peak_v}


@pytest.mark.parametrize("fs", [12.5, 50.0, 100.0, 1000.0])
@pytest.mark.parametrize("gyro", [True, False])
def test_synthetic_sit_to_stand(fs, gyro):
    acc, gyr, truth = synthetic(fs)
    det = TransitionDetector().detect(acc, fs, gyr_dps=gyr if gyro else None)
    assert len(det.transitions_) == 1
    ev = det.transitions_[0]
    assert ev.kind == "sit_to_stand"
    assert ev.displacement_m == pytest.approx(truth["rise_m"], abs=0.03)
    assert ev.peak_velocity_mps == pytest.approx(truth["peak_v"], abs=0.06)
    assert abs(ev.start_s - truth["start_s"]) < 0.25
    assert abs(ev.end_s - truth["end_s"]) < 0.25
    assert ev.tilt_deg > 15.0
    assert det.sit_to_stand_ == [ev] and det.stand_to_sit_ == []


@pytest.mark.parametrize("gyro", [True, False])
def test_synthetic_stand_to_sit(gyro):
    acc, gyr, truth = synthetic(100.0, rise_m=-0.35, dur=1.8)
    det = TransitionDetector().detect(acc, 100.0, gyr_dps=gyr if gyro else None, t0_s=50.0)
    assert [e.kind for e in det.transitions_] == ["stand_to_sit"]
    ev = det.transitions_[0]
    assert ev.displacement_m == pytest.approx(-0.35, abs=0.03)
    assert ev.peak_velocity_mps > 0  # a speed, whatever the direction
    assert abs(ev.start_s - (50.0 + truth["start_s"])) < 0.25


@pytest.mark.parametrize(
    "mount, deg",
    [((1, 0, 0), 0.0), ((0, 1, 0), 90.0), ((1, 1, 0), 180.0), ((0.2, 0.7, -0.4), 123.0)],
)
def test_orientation_does_not_matter(mount, deg):
    acc, _, truth = synthetic(100.0, mount=mount, mount_deg=deg)
    det = TransitionDetector().detect(acc, 100.0)
    assert len(det.transitions_) == 1
    assert det.transitions_[0].displacement_m == pytest.approx(truth["rise_m"], abs=0.03)


@pytest.mark.parametrize("gyro", [True, False])
@pytest.mark.parametrize("dur, rise", [(2.8, 0.25), (2.0, 0.3)])
def test_sensor_offsets_do_not_matter(dur, rise, gyro):
    """A consumer sensor's offsets (0.3 m/s^2 along gravity, 2 deg/s): slow rises are
    still found, at the same times (version 1.0 lost both at 0.2 m/s^2)."""
    acc, gyr, truth = synthetic(100.0, rise_m=rise, dur=dur, total=12.0)
    up = acc[:300].mean(axis=0) / np.linalg.norm(acc[:300].mean(axis=0))
    g = gyr + np.array([2.0, -1.5, 1.0]) if gyro else None
    clean = TransitionDetector().detect(acc, 100.0, gyr_dps=gyr if gyro else None)
    det = TransitionDetector().detect(acc + 0.3 * up, 100.0, gyr_dps=g)
    assert [e.kind for e in det.transitions_] == ["sit_to_stand"]
    ev, ref = det.transitions_[0], clean.transitions_[0]
    assert abs(ev.start_s - truth["start_s"]) < 0.25 and abs(ev.end_s - truth["end_s"]) < 0.25
    assert ev.start_s == pytest.approx(ref.start_s, abs=0.05)
    assert ev.displacement_m == pytest.approx(rise, abs=0.03)


def test_no_lean_is_not_a_transfer():
    """A 0.4 m rise without trunk lean (a lift, a jump onto a step) is rejected."""
    acc, _, _ = synthetic(100.0, lean_deg=0.0)
    assert TransitionDetector().detect(acc, 100.0).transitions_ == []
    # and is found once the lean threshold is lowered to zero: the gate is what rejects it
    assert len(TransitionDetector(min_tilt_deg=0.0).detect(acc, 100.0).transitions_) == 1


def test_small_rise_is_not_a_transfer():
    acc, _, _ = synthetic(100.0, rise_m=0.08)
    assert TransitionDetector().detect(acc, 100.0).transitions_ == []


def bend_return(fs, *, bend_deg=80.0, rise_m=0.2, t0=3.0, dur=1.5, total=8.0):
    """Straightening up from a deep forward bend: the trunk turns from ``bend_deg``
    to upright while the sensor rises ``rise_m`` (minimum jerk), still before and
    after (the lower-back sensor above the hips rises as the trunk straightens)."""
    n = int(round(total * fs))
    t = np.arange(n) / fs
    u = np.clip((t - t0) / dur, 0.0, 1.0)
    acc_z = rise_m * (60 * u - 180 * u**2 + 120 * u**3) / dur**2 * ((t >= t0) & (t <= t0 + dur))
    lean = np.radians(bend_deg) * (1.0 - minjerk(u))
    world = np.column_stack([np.zeros(n), np.zeros(n), GRAVITY_MPS2 + acc_z])
    r = rot([0.0, 1.0, 0.0], lean)
    acc = np.einsum("nji,nj->ni", r, world)
    gyr = np.degrees(
        np.einsum("nji,nj->ni", r, np.column_stack([0 * t, np.gradient(lean, t), 0 * t]))
    )
    return acc, gyr


@pytest.mark.parametrize("gyro", [True, False])
def test_straightening_from_a_bend_is_not_a_sit_to_stand(gyro):
    """It rises like one and turns the trunk, but starts 80 deg from upright."""
    acc, gyr = bend_return(100.0)
    g = gyr if gyro else None
    assert TransitionDetector().detect(acc, 100.0, gyr_dps=g).transitions_ == []
    # the posture gate is what rejects it
    found = TransitionDetector(max_posture_change_deg=180.0).detect(acc, 100.0, gyr_dps=g)
    assert [e.kind for e in found.transitions_] == ["sit_to_stand"]


def test_counter_movement_is_not_another_transfer():
    """A sternum dip as the trunk leans is part of the rise; a sit before a rise is not."""
    fs = 100.0
    t = np.arange(0, 2.0, 1 / fs)

    def pulse(t0, dur, disp):
        u = np.clip((t - t0) / dur, 0, 1)
        return disp / dur * 30 * u**2 * (1 - u) ** 2

    dip_rise = pulse(0.2, 0.5, -0.2) + pulse(0.7, 1.0, 0.4)  # net +0.2 m: one rise
    sit_rise = pulse(0.0, 0.9, -0.35) + pulse(0.9, 0.9, 0.35)  # net 0: two transfers
    for v, other in ((dip_rise, False), (sit_rise, True)):
        kpk = int(np.argmax(v))
        mask = _other_transfers(v, kpk, fs, 0.125)
        assert mask[int(np.argmin(v))] is np.bool_(other)


def test_one_movement_has_few_velocity_extrema():
    fs = 100.0
    t = np.arange(0, 3.0, 1 / fs)
    bell = 0.6 * np.exp(-0.5 * ((t - 1.0) / 0.25) ** 2)
    steps = bell + 0.15 * np.sin(2 * np.pi * 1.8 * t) * (t > 1.4)
    assert _n_extrema(bell, 0.2 * 0.6) == 1
    assert _n_extrema(steps, 0.2 * 0.6) > 4


def test_first_stop():
    x = np.array([1.0, 0.8, 0.5, 0.3, 0.25, 0.3, 0.6, 0.2, 0.05])
    assert _first_stop(x, 0.1) == 4  # a trough below half the peak: the gait began
    assert _first_stop(x, 0.1, trough=False) == 8  # back to 10 % of the peak
    assert _first_stop(np.array([1.0, 0.8, 0.6, 0.4]), 0.1) is None


def test_fraction_at():
    acc, _, _ = synthetic(100.0)
    ev = TransitionDetector().detect(acc, 100.0).transitions_[0]
    assert ev.fraction_at(ev.start_s - 1) == 0.0
    assert ev.fraction_at(ev.end_s + 1) == 1.0
    mid = ev.fraction_at(ev.peak_s)
    assert 0.3 < mid < 0.7  # a smooth rise is about half way up at its peak speed


# ---------------------------------------------------------------------------
# edge cases
# ---------------------------------------------------------------------------


def test_quiet_recording_has_no_transitions():
    rng = np.random.default_rng(1)
    acc = np.tile([0.3, 9.7, 1.2], (6000, 1)) + rng.normal(0, 0.03, (6000, 3))
    det = TransitionDetector().detect(acc, 100.0)
    assert det.transitions_ == [] and det.sit_to_stand_ == [] and det.stand_to_sit_ == []
    res = det.result()
    assert res["sit_to_stand"] == {"count": 0, "events": []}
    assert res["stand_to_sit"] == {"count": 0, "events": []}


def test_too_short_gives_nothing():
    acc = np.tile([0.0, 0.0, 9.81], (20, 1))
    assert TransitionDetector().detect(acc, 100.0).transitions_ == []


def test_bad_input_raises():
    with pytest.raises(RecordingError):
        TransitionDetector().detect(np.zeros((100, 2)), 100.0)
    acc = np.tile([0.0, 0.0, 9.81], (500, 1))
    acc[10, 1] = np.nan
    with pytest.raises(RecordingError):
        TransitionDetector().detect(acc, 100.0)
    with pytest.raises(RecordingError):
        TransitionDetector().detect(np.tile([0.0, 0.0, 9.81], (500, 1)), 0.0)


def test_inputs_and_parameters_unchanged():
    acc, gyr, _ = synthetic(100.0)
    acc0, gyr0 = acc.copy(), gyr.copy()
    det = TransitionDetector(min_rise_m=0.1)
    params = det.get_params()
    det.detect(acc, 100.0, gyr_dps=gyr)
    assert np.array_equal(acc, acc0) and np.array_equal(gyr, gyr0)
    assert det.get_params() == params


def test_never_integrates_across_a_gap():
    """A transfer cut by a gap is not reported; one after it is, at the right time."""
    fs = 100.0
    acc1, _, _ = synthetic(fs, total=10.0)
    acc2, _, truth2 = synthetic(fs, rise_m=-0.4, total=10.0)
    t = np.concatenate([np.arange(acc1.shape[0]), np.arange(acc2.shape[0]) + 1500]) / fs
    acc = np.concatenate([acc1, acc2])
    # drop samples in the middle of the first transfer (t = 3.9-4.3 s)
    keep = ~((t >= 3.9) & (t < 4.3))
    rec = Recording(time_s=t[keep], acc_mps2=acc[keep], fs_nominal_hz=fs)
    assert len(rec.rate.gaps) == 2
    det = TransitionDetector().detect_recording(rec)
    assert [e.kind for e in det.transitions_] == ["stand_to_sit"]
    assert abs(det.transitions_[0].start_s - (15.0 + truth2["start_s"])) < 0.25
    assert det.segments_ == 3


def test_blocks_do_not_change_results():
    res = simulate_chair_stand(stands=10, seed=3, sensor=SensorSpec(fs_hz=50.0))
    whole = TransitionDetector().detect_recording(res.recording).transitions_
    blocks = TransitionDetector(block_s=7.0, overlap_s=5.0).detect_recording(res.recording)
    assert len(blocks.transitions_) == len(whole) == 20
    for a, b in zip(whole, blocks.transitions_, strict=True):
        assert a.kind == b.kind
        assert abs(a.start_s - b.start_s) < 0.05 and abs(a.end_s - b.end_s) < 0.05


def test_result_contract():
    acc, _, _ = synthetic(100.0)
    res = TransitionDetector().detect(acc, 100.0).result()
    assert set(res) == {"sit_to_stand", "stand_to_sit", "transitions_info"}
    ev = res["sit_to_stand"]["events"][0]
    for key in ("start_s", "end_s", "duration_s", "peak_velocity_mps"):
        assert isinstance(ev[key], float) and math.isfinite(ev[key])
    assert ev["duration_s"] == pytest.approx(ev["end_s"] - ev["start_s"])
    algo = res["transitions_info"]["algorithm"]
    assert algo["name"] == "TransitionDetector" and algo["min_rise_m"] == 0.125
    json.dumps(res)


# ---------------------------------------------------------------------------
# simulated sessions against the truth
# ---------------------------------------------------------------------------


def _match(found: list[Transition], truth: list[dict]) -> tuple[int, list[tuple[float, float]]]:
    tp, errs, used = 0, [], set()
    for p in truth:
        for i, e in enumerate(found):
            if (
                i not in used
                and e.kind == p["name"]
                and e.start_s < p["end_s"]
                and e.end_s > p["start_s"]
            ):
                used.add(i)
                tp += 1
                errs.append((e.start_s - p["start_s"], e.end_s - p["end_s"]))
                break
    return tp, errs


def test_simulated_sessions_precision_recall_timing():
    """Across placements, rates, mounting tilt, noise and with/without gyroscope."""
    tp = n_found = n_true = 0
    errs = []
    cases = [
        ("lower_back", 25.0, True, 0.05, (0, 0, 0)),
        ("lower_back", 100.0, False, 0.02, (10, -15, 20)),
        ("lower_back", 200.0, True, 0.02, (-5, 10, 0)),
        ("sternum", 50.0, False, 0.05, (0, 0, 0)),
        ("sternum", 100.0, True, 0.02, (10, -15, 20)),
        ("sternum", 25.0, False, 0.02, (5, 5, -30)),
    ]
    for i, (pl, fs, gyro, noise, tilt) in enumerate(cases):
        spec = SensorSpec(placement=pl, fs_hz=fs, gyro=gyro, noise_mps2=noise, tilt_deg=tilt)
        for res in (
            simulate_sit_to_stand(sensor=spec, seed=i),
            simulate_chair_stand(stands=8 + i, sensor=spec, seed=i),
            simulate_tug(sensor=spec, seed=i),
        ):
            truth = [p for p in res.truth["phases"] if p["name"] in KINDS]
            found = TransitionDetector().detect_recording(res.recording).transitions_
            m, e = _match(found, truth)
            tp += m
            n_found += len(found)
            n_true += len(truth)
            errs += e
    assert tp / n_found >= 0.97, "precision"
    assert tp / n_true >= 0.97, "recall"
    errs_a = np.abs(np.array(errs))
    assert np.percentile(errs_a, 95) < 0.3
    assert errs_a.max() < 0.5


def test_brisk_chair_stand_without_pauses():
    """Sits that follow a rise with no standing pause (sternum, accelerometer only)."""
    subject = Subject(sts_rise_s=1.538, sts_sit_s=1.736, trunk_flexion_deg=37.367)
    spec = SensorSpec(placement="sternum", fs_hz=25.0, gyro=False, noise_mps2=0.05)
    res = simulate_chair_stand(stands=13, sensor=spec, subject=subject, seed=3)
    truth = [p for p in res.truth["phases"] if p["name"] in KINDS]
    found = TransitionDetector().detect_recording(res.recording).transitions_
    assert _match(found, truth)[0] == len(truth) == len(found) == 26


def test_stairs_and_heel_raises_are_not_transfers():
    for ex, variant in (("stair_climb", "up"), ("stair_climb", "down"), ("heel_raise", None)):
        res = simulate_exercise_set(ex, variant=variant, reps=6, seed=2)
        assert TransitionDetector().detect_recording(res.recording).transitions_ == [], ex


# ---------------------------------------------------------------------------
# real recordings (snapshots of the hand counts in the module docstring)
# ---------------------------------------------------------------------------


def _kinds_times(det):
    return [(e.kind, e.start_s, e.end_s) for e in det.transitions_]


def test_sit2standpy_matches_hand_count():
    det = TransitionDetector().detect_recording(load_recording(S2S))
    hand = [
        ("stand_to_sit", 7.5),
        ("sit_to_stand", 24.0),
        ("stand_to_sit", 31.0),
        ("sit_to_stand", 37.5),
        ("stand_to_sit", 69.0),
        ("sit_to_stand", 82.5),
        ("stand_to_sit", 88.7),
    ]
    found = _kinds_times(det)
    assert [k for k, *_ in found] == [k for k, _ in hand]
    for (_, a, b), (_, t) in zip(found, hand, strict=True):
        assert a - 0.5 <= t <= b + 0.5


@pytest.mark.parametrize("gyro", [True, False])
def test_mobgap_daily_living_matches_hand_count(gyro):
    det = TransitionDetector(use_gyro=gyro).detect_recording(load_recording(MOBGAP_DL))
    hand = [
        ("sit_to_stand", 4.5),
        ("stand_to_sit", 52.0),
        ("sit_to_stand", 76.5),
        ("stand_to_sit", 136.0),
    ]
    found = _kinds_times(det)
    assert [k for k, *_ in found] == [k for k, _ in hand]
    for (_, a, b), (_, t) in zip(found, hand, strict=True):
        assert a - 0.5 <= t <= b + 0.5


def test_walking_has_no_transitions():
    assert TransitionDetector().detect_recording(load_recording(MOBGAP_WALK)).transitions_ == []


def test_cli_sit_to_stand_json(capsys):
    assert main(["analyze", str(S2S), "--test", "sit-to-stand", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sit_to_stand"]["count"] == 3
    assert out["stand_to_sit"]["count"] == 4
    ev = out["sit_to_stand"]["events"][0]
    assert set(ev) >= {"start_s", "end_s", "duration_s", "peak_velocity_mps"}
