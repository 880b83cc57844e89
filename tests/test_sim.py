"""Tests of balance_mon.sim: reproducibility, physics, ground truth and the sensor model."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from balance_mon.consts import GRAVITY_MPS2
from balance_mon.errors import SimulationError
from balance_mon.io.binary import read_binary
from balance_mon.io.csv_v1 import read_csv_v1
from balance_mon.recording import Recording, detect_clipping, estimate_rate
from balance_mon.sim import (
    EXERCISES,
    STANCES,
    SensorSpec,
    SimResult,
    Subject,
    simulate_chair_stand,
    simulate_ctsib,
    simulate_exercise_set,
    simulate_four_stage,
    simulate_history,
    simulate_home_session,
    simulate_romberg,
    simulate_sit_to_stand,
    simulate_stance,
    simulate_tug,
)

G = GRAVITY_MPS2
CLEAN = {
    "noise_mps2": 0.0,
    "bias_mps2": (0.0, 0.0, 0.0),
    "gyro_noise_dps": 0.0,
    "gyro_bias_dps": (0.0, 0.0, 0.0),
    "resolution_bits": None,
}


def clean(**kw) -> SensorSpec:
    return SensorSpec(**{**CLEAN, **kw})


def horizontal_rms(acc: np.ndarray) -> float:
    """RMS of the acceleration orthogonal to its mean direction (orientation-free)."""
    up = acc.mean(axis=0)
    up /= np.linalg.norm(up)
    h = acc - np.outer(acc @ up, up)
    h -= h.mean(axis=0)
    return float(np.sqrt((h**2).sum(axis=1).mean()))


def check_times(res: SimResult) -> None:
    """Events, phases and reps lie inside the recording; events are ordered."""
    tr = res.truth
    end = tr["duration_s"]
    times = [e["time_s"] for e in tr["events"]]
    assert times == sorted(times)
    assert all(0.0 <= x <= end for x in times)
    for p in tr["phases"]:
        assert 0.0 <= p["start_s"] <= p["end_s"] <= end, p
    for r in tr["reps"]:
        assert 0.0 <= r["start_s"] < r["peak_s"] < r["end_s"] <= end, r


# ---------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda s: simulate_stance("tandem", duration_s=10, seed=s),
        lambda s: simulate_exercise_set("squat", reps=3, seed=s),
        lambda s: simulate_tug(seed=s, sensor=SensorSpec(dropout_rate=0.05, jitter_s=0.001)),
    ],
)
def test_same_seed_is_bit_identical_and_other_seed_differs(make):
    a, b, c = make(3), make(3), make(4)
    for x in (b,):
        assert np.array_equal(a.recording.time_s, x.recording.time_s)
        assert np.array_equal(a.recording.acc_mps2, x.recording.acc_mps2)
        assert np.array_equal(a.recording.gyr_dps, x.recording.gyr_dps)
        assert a.truth == x.truth
    same_len = c.recording.n_samples == a.recording.n_samples
    assert not same_len or not np.array_equal(a.recording.acc_mps2, c.recording.acc_mps2)


def test_sensor_settings_do_not_change_the_movement():
    a = simulate_exercise_set("arm_raise", reps=3, seed=5, sensor=SensorSpec(noise_mps2=0.01))
    b = simulate_exercise_set("arm_raise", reps=3, seed=5, sensor=SensorSpec(noise_mps2=0.05))
    assert np.array_equal(a.signals["position_m"], b.signals["position_m"])
    assert a.truth["reps"] == b.truth["reps"]
    assert not np.array_equal(a.recording.acc_mps2, b.recording.acc_mps2)


# ---------------------------------------------------------------------------
# Physics of the ideal IMU
# ---------------------------------------------------------------------------


def test_rest_reads_gravity():
    res = simulate_stance("feet_apart", duration_s=20, sensor=clean(), seed=1)
    mag = np.linalg.norm(res.recording.acc_mps2, axis=1)
    assert abs(mag.mean() - G) < 0.005
    # lower back mounting "x=v": gravity on +x
    assert res.recording.acc_mps2[:, 0].mean() > 9.7
    noisy = simulate_stance("feet_apart", duration_s=20, seed=1)
    assert abs(np.linalg.norm(noisy.recording.acc_mps2, axis=1).mean() - G) < 0.25


def test_world_acceleration_matches_position_and_gyro_matches_orientation():
    res = simulate_tug(sensor=clean(fs_hz=200.0), seed=2)
    s = res.signals
    dt_s = 1.0 / 200.0
    aw = np.einsum("nij,nj->ni", s["orientation"], s["acc_mps2"]) - [0.0, 0.0, G]
    a_pos = (s["position_m"][2:] - 2 * s["position_m"][1:-1] + s["position_m"][:-2]) / dt_s**2
    # the anti-alias filter smooths impacts; compare after a light low-pass of both
    k = np.ones(9) / 9
    lp = lambda x: np.convolve(x, k, mode="valid")  # noqa: E731
    for ax in range(3):
        d = lp(aw[1:-1, ax]) - lp(a_pos[:, ax])
        assert np.sqrt(np.mean(d**2)) < 0.15, ax
    # integrating the gyro (sensor frame) reproduces the orientation change
    r = s["orientation"]
    w = np.radians(s["gyr_dps"])
    i0, i1 = 500, 900
    rr = r[i0].copy()
    for i in range(i0, i1):
        wx, wy, wz = 0.5 * (w[i] + w[i + 1]) * dt_s
        om = np.array([[0, -wz, wy], [wz, 0, -wx], [-wy, wx, 0]])
        rr = rr @ (np.eye(3) + om + 0.5 * om @ om)
    ang = np.degrees(np.arccos(np.clip((np.trace(rr.T @ r[i1]) - 1) / 2, -1, 1)))
    assert ang < 1.0


def test_sit_to_stand_double_integration_matches_truth():
    for placement in ("lower_back", "sternum", "thigh", "wrist"):
        res = simulate_sit_to_stand(
            sit_down=False, seed=1, sensor=SensorSpec(placement=placement, bias_mps2=(0, 0, 0))
        )
        rec, r = res.recording, res.signals["orientation"]
        ph = res.truth["phases"][0]
        assert ph["name"] == "sit_to_stand"
        t = rec.time_s
        m = (t >= ph["start_s"] - 0.5) & (t <= ph["end_s"] + 0.5)
        a = np.einsum("nij,nj->ni", r, rec.acc_mps2)[m, 2] - G
        dt_s = np.diff(t[m])
        v = np.concatenate(([0.0], np.cumsum(0.5 * (a[1:] + a[:-1]) * dt_s)))
        z = np.concatenate(([0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * dt_s)))
        assert abs(z[-1] - ph["sensor_vertical_change_m"]) < 0.03, placement


def test_sit_to_stand_kinematics_are_plausible():
    res = simulate_sit_to_stand(sensor=SensorSpec(placement="lower_back"), seed=0)
    up, down = res.truth["phases"]
    assert (up["name"], down["name"]) == ("sit_to_stand", "stand_to_sit")
    assert 0.35 <= up["pelvis_rise_m"] <= 0.5
    assert 0.5 <= up["sensor_peak_vertical_velocity_mps"] <= 1.0
    assert up["start_s"] < up["sensor_peak_vertical_velocity_s"] < up["end_s"]
    assert 1.0 <= up["duration_s"] <= 2.0
    assert up["start_s"] < up["seat_off_s"] < up["end_s"]
    assert down["sensor_peak_vertical_velocity_mps"] < -0.4
    sternum = simulate_sit_to_stand(sensor=SensorSpec(placement="sternum"), seed=0)
    assert 30.0 <= sternum.truth["phases"][0]["sensor_max_rotation_deg"] <= 45.0  # trunk lean
    thigh = simulate_sit_to_stand(sensor=SensorSpec(placement="thigh"), seed=0)
    assert 70.0 <= thigh.truth["phases"][0]["sensor_max_rotation_deg"] <= 95.0


def test_tilt_changes_axes_not_magnitude():
    a = simulate_exercise_set("squat", reps=2, sensor=clean(placement="lower_back"), seed=3)
    b = simulate_exercise_set(
        "squat", reps=2, sensor=clean(placement="lower_back", tilt_deg=(20.0, -35.0, 50.0)), seed=3
    )
    ra, rb = a.recording, b.recording
    assert np.abs(ra.acc_mps2 - rb.acc_mps2).max() > 1.0
    na, nb = np.linalg.norm(ra.acc_mps2, axis=1), np.linalg.norm(rb.acc_mps2, axis=1)
    assert np.abs(na - nb).max() < 1e-9
    ga, gb = np.linalg.norm(ra.gyr_dps, axis=1), np.linalg.norm(rb.gyr_dps, axis=1)
    assert np.abs(ga - gb).max() < 1e-9
    assert ra.axes == rb.axes  # nominal mounting is what the metadata declares


# ---------------------------------------------------------------------------
# Sensor model
# ---------------------------------------------------------------------------


def test_saturation_clips_at_range():
    small = simulate_tug(sensor=SensorSpec(range_g=1.5), seed=1)
    big = simulate_tug(sensor=SensorSpec(range_g=16.0), seed=1)
    assert np.abs(big.recording.acc_mps2).max() > 1.5 * G  # heel strikes exceed 1.5 g
    assert np.abs(small.recording.acc_mps2).max() <= 1.5 * G
    # full scale of int16 is 32767 LSB: just under 1.5 g, so lower detect_clipping's floor
    assert detect_clipping(small.recording.acc_mps2, min_level_mps2=G, min_run=2) > 0
    assert detect_clipping(big.recording.acc_mps2, min_level_mps2=G, min_run=2) == 0


def test_quantization_to_int16_steps():
    res = simulate_stance(duration_s=5, sensor=SensorSpec(range_g=8.0, resolution_bits=16))
    lsb = 8.0 * G / 32768
    codes = res.recording.acc_mps2 / lsb
    assert np.allclose(codes, np.round(codes), atol=1e-6)
    raw = simulate_stance(duration_s=5, sensor=SensorSpec(range_g=8.0, resolution_bits=None))
    codes = raw.recording.acc_mps2 / lsb
    assert not np.allclose(codes, np.round(codes), atol=1e-6)


def test_dropouts_leave_gaps_listed_in_truth_and_found_by_estimate_rate():
    res = simulate_stance(
        duration_s=60,
        seed=4,
        sensor=SensorSpec(dropout_rate=0.05, packet_samples=12, jitter_s=0.001),
    )
    tr, rec = res.truth, res.recording
    assert tr["gaps"], "expected some dropped packets"
    assert rec.n_samples + tr["dropped_samples"] == tr["n_samples_nominal"]
    rate = estimate_rate(rec.time_s, nominal_hz=100.0)
    assert [g.index for g in rate.gaps] == [g["index"] for g in tr["gaps"]]
    assert [g.missing_samples for g in rate.gaps] == [g["missing_samples"] for g in tr["gaps"]]
    assert all(g["missing_samples"] % 12 == 0 for g in tr["gaps"])
    assert abs(rate.fs_hz - 100.0) < 0.05
    assert not simulate_stance(duration_s=60, seed=4).truth["gaps"]


def test_clock_drift_shows_in_rate_estimate():
    res = simulate_stance(duration_s=20, sensor=SensorSpec(drift_ppm=20000.0))
    assert abs(res.recording.rate.drift_ppm - 20000.0) < 50.0


@pytest.mark.parametrize("fs", [12.5, 52.0, 100.0, 1000.0])
def test_output_rates(fs):
    res = simulate_stance(duration_s=10, sensor=SensorSpec(fs_hz=fs))
    assert res.recording.fs_nominal_hz == fs
    assert abs(res.recording.rate.fs_hz - fs) < 1e-6 * fs
    assert res.recording.n_samples == round(10 * fs)
    assert abs(np.linalg.norm(res.recording.acc_mps2, axis=1).mean() - G) < 0.25


# ---------------------------------------------------------------------------
# Stance
# ---------------------------------------------------------------------------


def _mean_sway(stance="feet_together", eyes="open", surface="firm", n=4) -> float:
    return float(
        np.mean(
            [
                horizontal_rms(
                    simulate_stance(
                        stance, eyes=eyes, surface=surface, duration_s=20, seed=s
                    ).recording.acc_mps2
                )
                for s in range(n)
            ]
        )
    )


def test_sway_grows_with_stance_difficulty_vision_and_surface():
    by_stance = [_mean_sway(st) for st in STANCES]
    assert by_stance == sorted(by_stance), by_stance
    assert _mean_sway(eyes="closed") > 1.2 * _mean_sway(eyes="open")
    assert _mean_sway(surface="foam") > 1.2 * _mean_sway(surface="firm")
    assert _mean_sway(eyes="closed", surface="foam") > _mean_sway(eyes="closed")


def test_sway_scale_and_plausible_magnitude():
    base = _mean_sway("feet_apart")
    assert 0.02 < base < 0.12  # m/s^2, horizontal, lower back
    sway = np.mean(
        [
            horizontal_rms(
                simulate_stance(
                    "feet_apart", duration_s=20, seed=s, subject=Subject(sway_scale=2.0)
                ).recording.acc_mps2
            )
            for s in range(4)
        ]
    )
    assert 1.6 * base < sway < 2.4 * base


def test_sternum_sways_more_than_lower_back():
    lb = simulate_stance(duration_s=20, seed=2, sensor=clean(placement="lower_back"))
    st = simulate_stance(duration_s=20, seed=2, sensor=clean(placement="sternum"))
    assert horizontal_rms(st.recording.acc_mps2) > horizontal_rms(lb.recording.acc_mps2)
    # same body motion: the pelvis trajectories are identical
    assert np.array_equal(lb.signals["pelvis_position_m"], st.signals["pelvis_position_m"])


def test_loss_of_balance_has_excursion_step_and_impact():
    res = simulate_stance("tandem", duration_s=25, lose_balance_at_s=12.0, seed=3)
    tr = res.truth
    check_times(res)
    names = [e["name"] for e in tr["events"]]
    assert names == ["loss_of_balance", "step"]
    onset, step = (e["time_s"] for e in tr["events"])
    assert onset == 12.0 and 0.3 < step - onset < 1.0
    t, acc = res.recording.time_s, res.recording.acc_mps2
    mag = np.linalg.norm(acc, axis=1)
    quiet = np.abs(mag[t < 11.5] - G).max()
    burst = np.abs(mag[(t > step - 0.1) & (t < step + 0.2)] - G).max()
    assert burst > 5.0 and burst > 10 * quiet
    # the trunk tilts forward by several degrees before the step
    r = res.signals["orientation"]
    tilt = np.degrees(np.arccos(np.clip(r[:, 2, 0], -1, 1)))
    assert tilt[(t > step - 0.05) & (t < step)].max() > 4.0
    assert tilt[t < 11.5].max() < 2.0
    assert tr["conditions"][0]["held_s"] == 12.0 and tr["conditions"][0]["failed"]


# ---------------------------------------------------------------------------
# Transitions and clinical tests
# ---------------------------------------------------------------------------


def test_chair_stand_count_and_partial():
    res = simulate_chair_stand(11, partial=0.6, sensor=clean(), seed=2)
    tr = res.truth
    check_times(res)
    assert len(tr["reps"]) == tr["counts"]["full_stands"] == 11
    assert tr["counts"]["score"] == 12
    t0, t1 = tr["test_start_s"], tr["test_end_s"]
    assert t1 - t0 == pytest.approx(30.0)
    assert all(t0 < r["standing_s"] < t1 for r in tr["reps"])
    last = [p for p in tr["phases"] if p["name"] == "sit_to_stand"][-1]
    assert last["start_s"] < t1 < last["end_s"]
    t, z = res.signals["time_s"], res.signals["pelvis_position_m"][:, 2]
    i0, i1, ie = np.searchsorted(t, [last["start_s"], last["end_s"], t1])
    assert (z[ie] - z[i0]) / (z[i1] - z[i0]) == pytest.approx(0.6, abs=0.05)
    assert simulate_chair_stand(9, partial=0.3).truth["counts"]["score"] == 9


def test_chair_stand_rejects_impossible_counts():
    with pytest.raises(SimulationError, match="do not fit"):
        simulate_chair_stand(25)


def test_tug_phases_turns_and_time():
    res = simulate_tug(total_s=11.0, sensor=clean(), seed=1)
    tr = res.truth
    check_times(res)
    assert tr["tug_time_s"] == pytest.approx(11.0, abs=0.05)
    names = [p["name"] for p in tr["phases"]]
    assert names == ["sit_to_stand", "walk_out", "turn_1", "walk_back", "turn_2", "stand_to_sit"]
    t, gyr = res.recording.time_s, res.recording.gyr_dps
    for p in tr["phases"]:
        if p["name"].startswith("turn"):
            assert 1.2 <= p["end_s"] - p["start_s"] <= 2.5
            m = (t >= p["start_s"]) & (t <= p["end_s"])
            yaw = np.trapezoid(gyr[m, 0], t[m])  # lower back x is vertical
            assert abs(abs(yaw) - 180.0) < 10.0
    hs = [e["time_s"] for e in tr["events"] if e["name"] == "heel_strike"]
    assert len(hs) == tr["counts"]["walking_steps"] >= 6


def test_walking_kinematics():
    res = simulate_tug(walk_distance_m=12.0, sensor=clean(), seed=0)
    walk = next(p for p in res.truth["phases"] if p["name"] == "walk_out")
    t, pos = res.signals["time_s"], res.signals["position_m"]
    m = (t > walk["start_s"] + 3.0) & (t < walk["end_s"] - 3.0)
    assert 0.025 <= np.ptp(pos[m, 2]) <= 0.06  # vertical excursion of the lower back
    hs = np.array(
        [
            e["time_s"]
            for e in res.truth["events"]
            if e["name"] == "heel_strike" and walk["start_s"] <= e["time_s"] <= walk["end_s"]
        ]
    )
    assert 1.5 <= 1.0 / np.median(np.diff(hs)) <= 2.1  # steps per second
    acc_v = res.recording.acc_mps2[m, 0]
    assert acc_v.max() > 1.3 * G  # heel-strike impacts


def test_four_stage_passes_and_fails():
    ok = simulate_four_stage(seed=1)
    check_times(ok)
    assert ok.truth["counts"]["stages_passed"] == 4
    assert [c["stance"] for c in ok.truth["conditions"]] == [
        "feet_together",
        "semi_tandem",
        "tandem",
        "single_leg",
    ]
    holds = [p for p in ok.truth["phases"] if p["name"] == "stance"]
    assert all(p["end_s"] - p["start_s"] == pytest.approx(10.0, abs=0.01) for p in holds)
    bad = simulate_four_stage(fail_stance="tandem", fail_at_s=6.0, seed=1)
    check_times(bad)
    c = bad.truth["counts"]
    assert c["stages_passed"] == 2 and c["failed_stance"] == "tandem"
    assert c["increased_fall_risk"] is True
    assert bad.truth["conditions"][-1]["held_s"] == 6.0
    loss = next(e for e in bad.truth["events"] if e["name"] == "loss_of_balance")
    tandem = bad.truth["conditions"][-1]
    assert loss["time_s"] == pytest.approx(tandem["start_s"] + 6.0)
    assert bad.truth["duration_s"] < ok.truth["duration_s"]  # the test stops


def test_romberg_and_ctsib():
    one = simulate_romberg(duration_s=20, seed=2)
    assert isinstance(one, SimResult)
    check_times(one)
    eo, ec = one.truth["conditions"]
    assert (eo["eyes"], ec["eyes"]) == ("open", "closed")
    sep = simulate_romberg(duration_s=20, separate=True, seed=2)
    assert [r.recording.metadata["condition"] for r in sep] == ["eyes_open", "eyes_closed"]
    ct = simulate_ctsib(duration_s=15, fail={"foam_eyes_closed": 8.0}, seed=3)
    check_times(ct)
    assert [c["condition"] for c in ct.truth["conditions"]] == [
        "firm_eyes_open",
        "firm_eyes_closed",
        "foam_eyes_open",
        "foam_eyes_closed",
    ]
    assert ct.truth["counts"]["failed_conditions"] == ["foam_eyes_closed"]
    assert [e["name"] for e in ct.truth["events"]].count("loss_of_balance") == 1
    with pytest.raises(SimulationError, match="unknown CTSIB"):
        simulate_ctsib(fail={"foam": 3.0})


# ---------------------------------------------------------------------------
# Exercise sets
# ---------------------------------------------------------------------------

VARIANTS = [(e, v) for e, info in EXERCISES.items() for v in info.variants]


@pytest.mark.parametrize(("exercise", "variant"), VARIANTS)
def test_exercise_set_truth(exercise, variant):
    res = simulate_exercise_set(exercise, reps=7, variant=variant, pauses=[(3, 4.0)], seed=2)
    tr = res.truth
    check_times(res)
    reps = tr["reps"]
    assert len(reps) == tr["counts"]["reps"] == 7
    for a, b in zip(reps[:-1], reps[1:], strict=True):
        assert a["end_s"] <= b["start_s"]
    pause = next(p for p in tr["phases"] if p["name"] == "pause")
    assert pause["end_s"] - pause["start_s"] == pytest.approx(4.0, abs=0.01)
    assert reps[2]["end_s"] <= pause["start_s"] and pause["end_s"] <= reps[3]["start_s"]
    assert res.recording.placement == EXERCISES[exercise].placement
    assert res.recording.metadata["test"] == "reps"
    assert res.recording.metadata["exercise"] == exercise
    # the sensor really moves during every repetition
    assert all(
        r["sensor_max_displacement_m"] > 0.01 or r["sensor_max_rotation_deg"] > 5 for r in reps
    )


@pytest.mark.parametrize("placement", ["lower_back", "sternum", "thigh", "wrist"])
@pytest.mark.parametrize("exercise", list(EXERCISES))
def test_every_exercise_works_at_every_placement(exercise, placement):
    res = simulate_exercise_set(
        exercise,
        reps=2,
        idle_start_s=1.0,
        idle_end_s=1.0,
        sensor=SensorSpec(placement=placement, side="right"),
        seed=1,
    )
    assert res.recording.placement == placement
    assert res.truth["counts"]["reps"] == 2
    assert res.truth["counts"]["signal_strength_at_placement"] in ("strong", "moderate", "weak")


def test_rep_variability_and_amplitudes():
    res = simulate_exercise_set("squat", reps=30, amplitude_cv=0.12, duration_cv=0.10, seed=4)
    amp = np.array([r["amplitude"] for r in res.truth["reps"]])
    dur = np.array([r["duration_s"] for r in res.truth["reps"]])
    assert 0.3 <= np.median(amp) <= 0.5  # pelvis drop, m
    assert 0.04 < amp.std() / amp.mean() < 0.25
    assert 0.04 < dur.std() / dur.mean() < 0.2
    thigh = np.array([r["thigh_rotation_deg"] for r in res.truth["reps"]])
    assert 60 <= np.median(thigh) <= 95
    fixed = simulate_exercise_set("squat", reps=5, amplitude_cv=0.0, duration_cv=0.0, seed=4)
    a = [r["amplitude"] for r in fixed.truth["reps"]]
    assert max(a) - min(a) < 1e-12


def test_heel_raise_and_stairs_heights():
    hr = simulate_exercise_set("heel_raise", reps=5, sensor=clean(), seed=1)
    for r in hr.truth["reps"]:
        assert 0.04 <= r["sensor_vertical_range_m"] <= 0.10
    st = simulate_exercise_set("stair_climb", reps=6, sensor=clean(), seed=1)
    z = st.signals["position_m"][:, 2]
    assert np.ptp(z) == pytest.approx(6 * 0.17, abs=0.03)
    assert len([e for e in st.truth["events"] if e["name"] == "foot_contact"]) == 6


def test_home_session():
    res = simulate_home_session(
        exercises=["squat", {"exercise": "sit_to_stand", "reps": 5}, "arm_raise"],
        sets=2,
        reps=6,
        rest_s=10.0,
        between_exercises_s=5.0,
        seed=3,
    )
    tr = res.truth
    check_times(res)
    assert tr["counts"]["reps_per_exercise"] == {"squat": 12, "sit_to_stand": 10, "arm_raise": 12}
    assert len(tr["reps"]) == 34
    sets = [p for p in tr["phases"] if p["name"] == "set"]
    assert len(sets) == 6
    rests = [p for p in tr["phases"] if p["name"] == "rest" and p["kind"] == "between_sets"]
    assert len(rests) == 3
    starts = [r["start_s"] for r in tr["reps"]]
    assert starts == sorted(starts)


# ---------------------------------------------------------------------------
# Files, history, validation
# ---------------------------------------------------------------------------


def test_write_csv_bmr_and_truth(tmp_path):
    res = simulate_exercise_set("arm_raise", reps=2, seed=1, sensor=SensorSpec(dropout_rate=0.05))
    csv_path, truth_path = res.write(tmp_path / "arm.csv")
    assert truth_path == tmp_path / "arm.truth.json"
    back = read_csv_v1(csv_path)
    assert np.array_equal(back.time_s, res.recording.time_s)
    assert np.array_equal(back.acc_mps2, res.recording.acc_mps2)
    assert np.array_equal(back.gyr_dps, res.recording.gyr_dps)
    assert back.placement == "wrist" and back.axes == res.recording.axes
    for key in ("test", "condition", "subject", "sim_seed"):
        assert back.metadata[key] == res.recording.metadata[key]
    assert json.loads(truth_path.read_text(encoding="utf-8")) == res.truth
    bmr, _ = res.write(tmp_path / "arm.bmr")
    assert np.array_equal(read_binary(bmr).acc_mps2, res.recording.acc_mps2)


def test_truth_is_plain_json_with_parameters():
    res = simulate_stance("semi_tandem", eyes="closed", duration_s=5, seed=9)
    text = json.dumps(res.truth, allow_nan=False)
    tr = json.loads(text)
    assert tr["seed"] == 9 and tr["simulator"]["name"] == "balance_mon.sim"
    assert tr["parameters"]["stance"] == "semi_tandem"
    assert tr["sensor"]["placement"] == "lower_back"
    assert len(tr["sensor"]["bias_mps2_used"]) == 3
    assert isinstance(res.recording, Recording)
    assert res.recording.metadata["condition"] == "semi_tandem/eyes_closed/firm"


def test_history_worsens_and_sessions_match_truth():
    h = simulate_history(weeks=12, sessions_per_week=2, seed=1)
    assert len(h) == 24
    dates = [s.date for s in h]
    assert dates == sorted(dates) and dates[0] == dt.date(2025, 1, 6)
    assert (dates[-1] - dates[0]).days < 12 * 7
    cs = np.array([s.truth["chair_stand"]["stands"] + s.truth["chair_stand"]["partial"] for s in h])
    tug = np.array([s.truth["tug_s"] for s in h])
    sway = np.array([s.truth["sway_scale"] for s in h])
    assert cs[:6].mean() > cs[-6:].mean() + 1.0
    assert tug[:6].mean() < tug[-6:].mean() - 0.8
    assert sway[:6].mean() < sway[-6:].mean()
    assert np.std(np.diff(cs)) > 0.3  # session-to-session noise
    s = h[7]
    chair = s.simulate("chair_stand")
    assert chair.truth["counts"]["score"] == s.truth["chair_stand"]["score"]
    assert chair.recording.metadata["date"] == s.date.isoformat()
    assert simulate_history(seed=1).truth == h.truth


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: simulate_stance("crossed_legs"), "unknown stance"),
        (lambda: simulate_stance(eyes="shut"), "eyes"),
        (lambda: SensorSpec(placement="shank"), "does not model"),
        (lambda: SensorSpec(fs_hz=5.0), "fs_hz"),
        (lambda: SensorSpec(axes="x=v y=ml z=ap"), "left-handed"),
        (lambda: simulate_exercise_set("yoga"), "unknown exercise"),
        (lambda: simulate_exercise_set("squat", reps=0), "reps"),
        (lambda: simulate_exercise_set("squat", reps=5, pauses=[(5, 2.0)]), "pause"),
        (lambda: simulate_exercise_set("push_up", variant="knee"), "variant"),
        (lambda: simulate_stance(duration_s=10, lose_balance_at_s=12.0), "lose_balance_at_s"),
        (lambda: simulate_stance(seed=-1), "seed"),
        (lambda: simulate_tug(total_s=5.0), "faster"),
    ],
)
def test_bad_parameters_raise_simulation_error(call, match):
    with pytest.raises(SimulationError, match=match):
        call()
