"""Trunk alignment (analysis.posture): exact synthetic answers, simulated truth, real data."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from balance_mon.analysis.posture import (
    TrunkPosture,
    _fit_rise,
    _fit_step,
    _minjerk_basis,
    _valley,
    rep_alignment_text,
)
from balance_mon.analysis.registry import MIN_DURATION_S, run_analysis
from balance_mon.consts import GRAVITY_MPS2
from balance_mon.errors import RecordingError
from balance_mon.io import load_recording
from balance_mon.recording import AxisMap, Recording
from balance_mon.sim import LIFT_STYLES, SPINE_STYLES, SensorSpec, simulate_bends, simulate_lifts

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "sample_data" / "real"
LOWER_BACK_REAL = [
    REAL / "mobgap" / "mobgap_ha001_test11_daily_living.csv",
    REAL / "mobgap" / "mobgap_ha001_test5_straight_walk.csv",
    REAL / "mobgap" / "mobgap_ms001_test5_straight_walk.csv",
    REAL / "sit2standpy" / "sit2standpy_sample.csv",
]


def _minjerk(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u**3 * (10 - 15 * u + 6 * u * u)


def _bend_signal(fs: float = 100.0, peak_deg: float = 50.0, lateral_deg: float = 0.0):
    """Gravity seen by a lower-back sensor (x=v y=ml z=-ap) while the pelvis pitches
    forward by a minimum-jerk bend 3-4.5 s, holds to 5.5 s, returns by 7 s."""
    t = np.arange(0, 12.0, 1 / fs)
    down = _minjerk((t - 3.0) / 1.5)
    up = _minjerk((t - 5.5) / 1.5)
    th = np.radians(peak_deg) * (down - up)
    ph = np.radians(lateral_deg) * (down - up)
    # body frame (v, ml, ap): world up seen by a segment pitched forward by th and
    # leaning towards -ml by ph: up = cos th cos ph v - sin th ap + sin ph ml
    v = np.cos(th) * np.cos(ph)
    ap = -np.sin(th) * np.cos(ph)
    ml = np.sin(ph)
    acc = GRAVITY_MPS2 * np.column_stack([v, ml, -ap])  # sensor x=v, y=ml, z=-ap
    return t, acc


def test_synthetic_bend_exact_peak_and_timing() -> None:
    _t, acc = _bend_signal(peak_deg=50.0)
    p = TrunkPosture(use_reps=False).analyze(
        acc, 100.0, axes=AxisMap.parse("x=v y=ml z=-ap"), placement="lower_back"
    )
    assert len(p.events_) == 1
    e = p.events_[0]
    assert e.peak_deg == pytest.approx(50.0, abs=0.3)
    assert e.start_s == pytest.approx(3.0, abs=0.15)
    assert e.end_s == pytest.approx(7.0, abs=0.15)
    assert e.severity == "moderate" and e.lift_like
    assert p.reference_source_ == "longest quiet stretch"
    assert p.forward_source_.startswith("movement")
    assert p.segment_ == "pelvis"
    assert p.result()["peak_flexion_deg"] == pytest.approx(50.0, abs=0.3)
    # the same bend with the threshold above it is a bend but not an event
    high = TrunkPosture(use_reps=False, flexion_threshold_deg=55.0).analyze(acc, 100.0)
    assert len(high.bends_) == 1 and high.events_ == []


def test_lateral_lean_separated_from_flexion() -> None:
    _t, acc = _bend_signal(peak_deg=40.0, lateral_deg=10.0)
    p = TrunkPosture(use_reps=False, forward=[0.0, 0.0, -1.0]).analyze(
        acc, 100.0, axes=AxisMap.parse("x=v y=ml z=-ap")
    )
    e = p.events_[0]
    assert p.forward_source_ == "given"
    assert e.peak_deg == pytest.approx(40.0, abs=0.3)
    # the lean was towards -ml; lateral is signed along the metadata's +ml
    assert e.lateral_peak_deg == pytest.approx(-10.0, abs=0.5)


def test_no_movement_no_events_and_flexion_zero() -> None:
    acc = np.tile([GRAVITY_MPS2, 0.0, 0.0], (1000, 1))
    p = TrunkPosture(use_reps=False).analyze(acc, 100.0)
    res = p.result()
    assert res["events"] == [] and res["bends"] == []
    assert res["peak_flexion_deg"] == pytest.approx(0.0, abs=1e-6)
    assert res["forward_source"] == "none"


def test_reference_window_and_vector_given() -> None:
    _t, acc = _bend_signal(peak_deg=40.0)
    tilted = TrunkPosture(use_reps=False, reference=(5.0, 5.4)).analyze(acc, 100.0)
    # the reference is now the bent posture: standing reads as 40 deg "away"
    assert tilted.reference_source_ == "given window"
    assert tilted.inclination_deg_[0] == pytest.approx(40.0, abs=0.5)
    p = TrunkPosture(use_reps=False, reference=[1.0, 0.0, 0.0]).analyze(acc, 100.0)
    assert p.inclination_deg_.max() == pytest.approx(40.0, abs=0.5)
    with pytest.raises(RecordingError):
        TrunkPosture(reference=(100.0, 101.0)).analyze(acc, 100.0)


@pytest.mark.parametrize(
    ("acc", "fs"),
    [
        (np.zeros((10, 2)), 100.0),
        (np.full((10, 3), np.nan), 100.0),
        (np.ones((10, 3)), 0.0),
    ],
)
def test_bad_input_raises(acc: np.ndarray, fs: float) -> None:
    with pytest.raises(RecordingError):
        TrunkPosture().analyze(acc, fs)


def test_rep_alignment_text_and_windows() -> None:
    assert rep_alignment_text(4, 52.4) == "rep 4: trunk flexed 52 degrees"
    assert rep_alignment_text(1, -3.0, "pelvis") == "rep 1: pelvis extended 3 degrees"
    with pytest.raises(RecordingError):
        TrunkPosture().rep_alignment([(0.0, 1.0)])
    _t, acc = _bend_signal(peak_deg=35.0)
    p = TrunkPosture(use_reps=False).analyze(acc, 100.0, placement="sternum")
    out = p.rep_alignment([(2.0, 8.0), (9.0, 11.0), (50.0, 60.0)])
    assert out[0]["peak_flexion_deg"] == pytest.approx(35.0, abs=0.5)
    assert out[0]["text"] == "rep 1: trunk flexed 35 degrees"
    assert abs(out[1]["peak_flexion_deg"]) < 1.0
    assert out[2]["peak_flexion_deg"] is None


@pytest.mark.parametrize(
    ("placement", "gyro", "fs", "tilt"),
    [
        ("lower_back", True, 100.0, (0.0, 0.0, 0.0)),
        ("sternum", False, 50.0, (12.0, -8.0, 15.0)),
        ("lower_back", False, 200.0, (-10.0, 10.0, -20.0)),
    ],
)
def test_simulated_bends_onset_end_and_peak(placement, gyro, fs, tilt) -> None:
    spec = [
        {"onset_s": 3.0, "end_s": 6.0, "peak_deg": 45.0},
        {"onset_s": 9.0, "end_s": 11.0, "peak_deg": 35.0, "hold_s": 0.2},
        {"onset_s": 14.0, "end_s": 19.0, "peak_deg": 60.0, "lateral_deg": 8.0},
    ]
    res = simulate_bends(
        spec,
        sensor=SensorSpec(placement=placement, gyro=gyro, fs_hz=fs, tilt_deg=tilt),
        seed=3,
    )
    p = TrunkPosture().analyze_recording(res.recording)
    assert len(p.bends_) == len(spec)
    for b, truth in zip(p.bends_, res.truth["bends"], strict=True):
        assert abs(b.start_s - truth["onset_s"]) <= 0.3
        assert abs(b.end_s - truth["end_s"]) <= 0.3
        assert abs(b.peak_deg - truth["peak_inclination_deg"]) <= 5.0
    assert [b.event for b in p.bends_] == [
        t["peak_inclination_deg"] >= 30.0 for t in res.truth["bends"]
    ]


def test_fit_step_recovers_a_minimum_jerk_rise_with_its_acceleration_term() -> None:
    t = np.arange(0.0, 4.0, 0.01)
    step, _vel, acc = _minjerk_basis((t - 1.3) / 1.1)
    y = 2.0 + 30.0 * step + 1.5 * acc  # the sensor's own acceleration adds B s''
    y += np.random.default_rng(0).normal(0.0, 0.1, t.size)
    fit = _fit_step(t, y)
    assert fit is not None
    assert fit[0] == pytest.approx(1.3, abs=0.02)
    assert fit[1] == pytest.approx(1.1, abs=0.03)
    assert _fit_step(t, np.full(t.size, 5.0)) is None  # nothing rises
    assert _fit_step(t[:4], y[:4]) is None  # too short


def test_fit_step_with_lever_arm_times_a_large_fast_rotation() -> None:
    """A sensor 0.33 m above the pivot turning 70 deg in 1 s: the centripetal and
    tangential acceleration tilt the apparent gravity (exact, not the fit's model);
    with the lever arm the fit recovers the timing, better than without it."""
    t = np.arange(0.0, 4.0, 0.04)
    step, _vel, _acc = _minjerk_basis((t - 1.3) / 1.0)
    th = np.radians(70.0) * step
    r = 0.33
    ax = np.gradient(np.gradient(r * np.sin(th), t), t)
    az = np.gradient(np.gradient(r * np.cos(th), t), t)
    y = np.degrees(th - np.arctan2(ax, 9.80665 + az))
    y += np.random.default_rng(0).normal(0.0, 0.1, t.size)
    fit = _fit_step(t, y, ((r, 1.0, "sin"),))
    plain = _fit_step(t, y)
    assert fit is not None and plain is not None
    assert fit[0] == pytest.approx(1.3, abs=0.02)
    assert fit[0] + fit[1] == pytest.approx(2.3, abs=0.02)
    assert abs(fit[0] + fit[1] - 2.3) < abs(plain[0] + plain[1] - 2.3)


def test_valley_crosses_small_bumps_and_stops_at_the_next_movement() -> None:
    x = np.array([10.0, 6.0, 2.0, 0.0, 1.5, 0.2, 0.1, 0.0, 0.3, 2.0, 5.0, 9.0])
    # forwards: through the 1.5 deg bump, stops before the 5 deg climb, back to within 1 deg
    assert _valley(x, 0, x.size - 1, 1) == 8
    # backwards from the end: the climb from the start of the array stops it at index 2
    assert _valley(x, x.size - 1, 0, -1) == 3
    assert _valley(x, 3, 3, 1) == 3


@pytest.mark.parametrize("fs", [25.0, 100.0])
def test_squat_lifts_timed_without_gyroscope(fs: float) -> None:
    """Without a gyroscope the squat's hip shift tilts the apparent gravity before the
    pelvis turns; the fitted minimum-jerk timing stays within 0.3 s (the rate-threshold
    timing of version 1.0 was 0.3-0.6 s off on these)."""
    res = simulate_lifts(
        "squat",
        spine="neutral",
        lifts=4,
        tempo_s=3.5,
        sensor=SensorSpec(placement="lower_back", gyro=False, fs_hz=fs, noise_mps2=0.03),
        seed=0,
    )
    p = TrunkPosture().analyze_recording(res.recording)
    assert p.sets_[0]["kind"] == "squat"
    for truth in res.truth["bends"]:
        near = [b for b in p.bends_ if abs(b.peak_s - truth["peak_inclination_s"]) < 1.0]
        assert len(near) == 1
        assert abs(near[0].start_s - truth["onset_s"]) <= 0.3
        assert abs(near[0].end_s - truth["end_s"]) <= 0.3
        assert abs(near[0].peak_deg - truth["peak_inclination_deg"]) <= 5.0


@pytest.mark.parametrize("placement", ["sternum", "lower_back"])
@pytest.mark.parametrize("gyro", [True, False])
def test_quick_bends_peak_from_gyroscope_or_still_pause(placement: str, gyro: bool) -> None:
    """Down in 0.5 s with a 0.6 s pause: the low-passed accelerometer angle overshoots
    by 5-7 deg (the sensor's deceleration); the gyroscope, or without one the still
    pause, gives the peak within 1.5 deg."""
    spec = [
        {"onset_s": 3.0, "end_s": 4.6, "peak_deg": 45.0, "hold_s": 0.6},
        {"onset_s": 9.0, "end_s": 10.6, "peak_deg": 60.0, "hold_s": 0.6},
    ]
    p = _two_bends_timed(spec, placement, gyro, peak_tol_deg=1.5)
    assert p.result()["algorithm"]["version"] == TrunkPosture.version


def _two_bends_timed(
    spec: list[dict], placement: str, gyro: bool, *, peak_tol_deg: float
) -> TrunkPosture:
    """Simulate ``spec`` (100 Hz, seed 4); both bends found, peaks within
    ``peak_tol_deg``, onset and end within 0.15 s."""
    res = simulate_bends(
        spec, sensor=SensorSpec(placement=placement, gyro=gyro, fs_hz=100.0), seed=4
    )
    p = TrunkPosture().analyze_recording(res.recording)
    assert len(p.bends_) == 2
    for b, truth in zip(p.bends_, res.truth["bends"], strict=True):
        assert b.peak_deg == pytest.approx(truth["peak_inclination_deg"], abs=peak_tol_deg)
        assert abs(b.start_s - truth["onset_s"]) <= 0.15
        assert abs(b.end_s - truth["end_s"]) <= 0.15
    return p


def test_fit_rise_level_is_the_rotation_without_the_acceleration_term() -> None:
    t = np.arange(0.0, 2.4, 0.04)
    step, _vel, acc = _minjerk_basis((t - 0.5) / 0.6)
    y = 2.0 + 40.0 * step + 2.5 * acc  # the acceleration term peaks at 14 deg
    fit = _fit_rise(t, y)
    assert fit is not None
    assert fit[2] == pytest.approx(42.0, abs=0.1)
    assert _fit_step(t, y) == pytest.approx(fit[:2])


def test_fitted_peak_only_when_both_sides_agree() -> None:
    fitted = TrunkPosture._fitted_peak
    assert fitted(60.0, (49.0, 51.0)) == pytest.approx(50.0)  # agree: their mean
    assert fitted(60.0, (44.0, 56.0)) == 60.0  # disagree more than with the maximum
    assert fitted(60.0, None) == 60.0  # no fit


@pytest.mark.parametrize("placement", ["sternum", "lower_back"])
def test_quick_bends_without_gyroscope_or_pause_peak_from_fitted_rises(placement: str) -> None:
    """About a second down and up, no still pause: the low-passed accelerometer angle
    overshoots by 7-12 deg (the sensor's deceleration at the turn; version 1.3 reported
    it); the level of the fitted minimum-jerk rises gives the peak within 5 deg."""
    spec = [
        {"onset_s": 3.0, "end_s": 4.1, "peak_deg": 55.0},
        {"onset_s": 8.0, "end_s": 9.2, "peak_deg": 40.0, "hold_s": 0.1},
    ]
    _two_bends_timed(spec, placement, gyro=False, peak_tol_deg=5.0)


def test_lift_sets_classified_across_placements_and_spines() -> None:
    """Squat (knees bent) versus stoop (knees straight) with a neutral or flexed spine."""
    right = total = 0
    i = 0
    for placement in ("lower_back", "sternum"):
        for style in LIFT_STYLES:
            for spine in SPINE_STYLES:
                i += 1
                res = simulate_lifts(
                    style,
                    spine=spine,
                    lifts=4,
                    tempo_s=3.5,
                    sensor=SensorSpec(
                        placement=placement,
                        gyro=i % 2 == 0,
                        fs_hz=(50.0, 100.0)[i % 2],
                        tilt_deg=(10.0 * (i % 3 - 1), 8.0, -12.0),
                        noise_mps2=0.03,
                    ),
                    seed=100 + i,
                )
                p = TrunkPosture().analyze_recording(res.recording)
                assert len(p.sets_) == 1, (placement, style, spine)
                total += 1
                right += p.sets_[0]["kind"] == style
                # every lift of the set is seen as a loaded bend
                assert all(b.loaded for b in p.bends_)
    assert right / total >= 0.95


def test_stoop_lifts_are_high_flexion_events_and_repeated() -> None:
    res = simulate_lifts(
        "stoop", spine="flexed", lifts=4, sensor=SensorSpec(placement="sternum"), seed=7
    )
    out = TrunkPosture().analyze_recording(res.recording).result()
    assert len(out["events"]) == 4
    assert all(e["severity"] == "high" and e["repeated"] for e in out["events"])
    assert out["high_events"] == 4 and out["repeated_events"] == 4
    assert out["sets"][0]["kind"] == "stoop"


def test_quick_bend_and_twist_events() -> None:
    res = simulate_bends(
        [
            {"onset_s": 3.0, "end_s": 4.4, "peak_deg": 60.0, "hold_s": 0.1},
            {"onset_s": 8.0, "end_s": 12.0, "peak_deg": 40.0},
            {"onset_s": 15.0, "end_s": 17.0, "peak_deg": 0.0, "twist_deg": 60.0},
        ],
        sensor=SensorSpec(placement="sternum"),
        seed=5,
    )
    p = TrunkPosture().analyze_recording(res.recording)
    quick = [b.quick for b in p.bends_]
    assert quick == [True, False]
    # turning 60 deg to the left and back: two twists
    twists = [t for t in p.twists_ if not t.during_gait]
    assert len(twists) == 2
    assert twists[0].angle_deg == pytest.approx(60.0, abs=6.0)
    assert twists[1].angle_deg == pytest.approx(-60.0, abs=6.0)
    assert all(t.quick and not t.flexed for t in twists)
    assert p.result()["peak_twist_rate_dps"] == pytest.approx(
        res.truth["bends"][2]["peak_axial_rate_dps"], rel=0.1
    )


def test_forward_found_from_movement_without_axes_metadata() -> None:
    res = simulate_bends(
        [
            {"onset_s": 3.0, "end_s": 6.0, "peak_deg": 50.0},
            {"onset_s": 9.0, "end_s": 12.0, "peak_deg": 30.0},
        ],
        sensor=SensorSpec(placement="lower_back", tilt_deg=(40.0, 0.0, 0.0)),  # turned on the skin
        seed=9,
    )
    rec = res.recording.replace(axes=None)
    p = TrunkPosture().analyze_recording(rec)
    assert p.forward_source_ == "movement"
    for b, truth in zip(p.bends_, res.truth["bends"], strict=True):
        assert b.peak_deg == pytest.approx(truth["peak_inclination_deg"], abs=3.0)
        assert abs(b.lateral_peak_deg) < 5.0


def test_gaps_are_not_bridged() -> None:
    res = simulate_bends(
        [
            {"onset_s": 3.0, "end_s": 6.0, "peak_deg": 45.0},
            {"onset_s": 12.0, "end_s": 15.0, "peak_deg": 45.0},
        ],
        sensor=SensorSpec(placement="lower_back"),
        seed=2,
    )
    rec = res.recording
    keep = (rec.time_s < 8.0) | (rec.time_s > 9.0)
    gapped = Recording(
        time_s=rec.time_s[keep],
        acc_mps2=rec.acc_mps2[keep],
        gyr_dps=rec.gyr_dps[keep],
        fs_nominal_hz=rec.fs_nominal_hz,
        placement=rec.placement,
        axes=rec.axes,
    )
    p = TrunkPosture().analyze_recording(gapped)
    assert len(p.events_) == 2
    assert all(abs(e.peak_deg - 45.0) < 3.0 for e in p.events_)


@pytest.mark.parametrize("path", LOWER_BACK_REAL, ids=lambda p: p.stem)
def test_real_lower_back_recordings(path: Path) -> None:
    rec = load_recording(path)
    assert rec.duration_s >= MIN_DURATION_S["posture"]
    out = run_analysis("posture", rec)["posture"]
    assert -30.0 < out["mean_flexion_deg"] < 30.0
    json.dumps(out, allow_nan=True)  # serialisable
    if "straight_walk" in path.name:
        # walking upright: no forward flexion beyond the threshold
        assert out["events"] == []
        assert out["peak_flexion_deg"] < 30.0
    if "sit2standpy" in path.name:
        # the forward bends seen by inspection at 53-56 s and 61-62 s (sample_data/README.md)
        bends = [(e["start_s"], e["end_s"]) for e in out["events"]]
        for t in (54.5, 61.5):
            assert any(a <= t <= b for a, b in bends), (t, bends)
    if "daily_living" in path.name:
        # large inclinations at 4 s and 123-127 s (sample_data/README.md)
        assert any(e["start_s"] <= 4.5 <= e["end_s"] for e in out["events"])
        assert any(e["start_s"] <= 124.0 <= e["end_s"] for e in out["events"])


def test_cli_analyze_posture_json() -> None:
    path = REAL / "sit2standpy" / "sit2standpy_sample.csv"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "balance_mon.cli",
            "analyze",
            str(path),
            "--test",
            "posture",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)["posture"]
    for key in ("peak_flexion_deg", "mean_flexion_deg", "events"):
        assert key in out
    for e in out["events"]:
        assert {"start_s", "end_s", "peak_deg", "loaded"} <= set(e)
        assert isinstance(e["loaded"], bool)
        assert math.isfinite(e["peak_deg"])


def test_given_repetitions_and_gait_give_the_same_analysis() -> None:
    """A caller that already has the repetition sets and gait bouts (the day's
    analysis) gets what the posture analysis finds on its own; the per-sample
    angles are at the working rate."""
    from balance_mon.analysis.loading import StepDetector
    from balance_mon.analysis.posture import repetition_windows
    from balance_mon.analysis.reps import RepCounter

    res = simulate_lifts("squat", lifts=6, sensor=SensorSpec(placement="lower_back"), seed=3)
    rec = res.recording
    own = TrunkPosture().analyze_recording(rec)
    reps = RepCounter().count(rec.acc_mps2, rec.fs_hz, gyr_dps=rec.gyr_dps)
    gait = StepDetector().detect(rec.acc_mps2, rec.fs_hz).bouts_
    given = TrunkPosture().analyze_recording(
        rec,
        rep_windows=repetition_windows(reps.sets_),
        gait_spans=[(b.start_s, b.end_s) for b in gait if b.gait],
    )
    assert given.result() == own.result()
    assert len(own.bends_) == 6
    assert sum(b.in_repetition for b in own.bends_) == sum(b.in_repetition for b in given.bends_)
    assert np.diff(own.time_s_).mean() == pytest.approx(4.0 / rec.fs_hz)  # 100 Hz -> 25 Hz
    none = TrunkPosture().analyze_recording(rec, rep_windows=[], gait_spans=[])
    assert not any(b.in_repetition for b in none.bends_)


def test_quaternion_helpers_match_scipy_rotation() -> None:
    """The gyroscope integration's own quaternion arithmetic is scipy's, in scipy's order."""
    from scipy.spatial.transform import Rotation

    from balance_mon.analysis.posture import _quat_from_rotvec, _quat_mul, _quat_rotate_inv

    def same(a: np.ndarray, b: np.ndarray) -> bool:  # q and -q are one rotation
        return bool(np.allclose(a * np.sign(a[:, 3:]), b * np.sign(b[:, 3:]), atol=1e-12))

    rng = np.random.default_rng(3)
    v = rng.normal(size=(60, 3)) * rng.choice([1e-6, 1e-3, 0.1, 2.0], size=(60, 1))
    assert same(_quat_from_rotvec(v), Rotation.from_rotvec(v).as_quat())
    p, q = Rotation.random(40, random_state=1), Rotation.random(40, random_state=2)
    assert same(_quat_mul(p.as_quat(), q.as_quat()), (p * q).as_quat())
    g = np.array([0.1, -0.9, 0.3])
    assert np.allclose(_quat_rotate_inv(q.as_quat(), g), q.inv().apply(g), atol=1e-12)
    rows = rng.normal(size=(40, 3))
    assert np.allclose(_quat_rotate_inv(q.as_quat(), rows), q.inv().apply(rows), atol=1e-12)
