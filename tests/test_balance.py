"""Balance-loss detection, stance segmentation and the four-stage test."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from balance_mon.analysis.balance import (
    FOUR_STAGE_STANCES,
    BalanceLossDetector,
    FourStageAnalyzer,
    StanceSegmenter,
    parse_times,
)
from balance_mon.analysis.sway import SWAY_KEYS
from balance_mon.consts import GRAVITY_MPS2
from balance_mon.errors import RecordingError, TooShortError
from balance_mon.io import load_recording
from balance_mon.recording import Recording

BDS = Path(__file__).resolve().parents[1] / "sample_data" / "real" / "bds"
FS = 100.0
G = GRAVITY_MPS2


# -- synthetic signals ----------------------------------------------------------------


def quiet(duration_s: float, *, sway_mps2: float = 0.05, noise_mps2: float = 0.01, seed: int = 0):
    """Upright trunk (z up) with sinusoidal sway and white noise, (N, 3)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration_s * FS))) / FS
    acc = np.zeros((t.size, 3))
    acc[:, 2] = G
    acc[:, 0] = sway_mps2 * np.sin(2 * np.pi * 0.4 * t) + 0.5 * sway_mps2 * np.sin(
        2 * np.pi * 1.1 * t
    )
    acc[:, 1] = 0.7 * sway_mps2 * np.sin(2 * np.pi * 0.3 * t + 1.0)
    return acc + noise_mps2 * rng.standard_normal(acc.shape)


def add_fall(acc: np.ndarray, t_onset: float, *, lean_deg: float = 8.0, fall_s: float = 0.6):
    """A lean growing from ``t_onset`` for ``fall_s``, then a step impact and recovery."""
    out = acc.copy()
    t = np.arange(acc.shape[0]) / FS
    u = np.clip((t - t_onset) / fall_s, 0.0, None)
    lean = np.radians(lean_deg) * np.where(u <= 1, u**2, np.exp(-(u - 1) * 2.0))
    out[:, 0] += G * np.sin(lean) + 3.0 * np.exp(-(((t - t_onset - fall_s) / 0.03) ** 2))
    out[:, 2] += -G * (1 - np.cos(lean)) + 8.0 * np.exp(-(((t - t_onset - fall_s) / 0.03) ** 2))
    return out


def test_quiet_trial_has_no_loss():
    det = BalanceLossDetector().detect(quiet(12.0), FS)
    assert det.lost_ is False
    assert det.onset_s_ is None and det.detected_s_ is None
    assert det.peak_acc_mps2_ < det.thresholds_["acc_mps2"]


def test_fall_detected_and_onset_timed():
    acc = add_fall(quiet(12.0), 6.0)
    det = BalanceLossDetector().detect(acc, FS)
    assert det.lost_
    assert abs(det.onset_s_ - 6.0) < 0.3
    assert det.onset_s_ <= det.detected_s_ <= 6.0 + 0.6 + 0.5
    assert det.peak_tilt_deg_ > 5.0


def test_detection_independent_of_sensor_orientation():
    acc = add_fall(quiet(12.0), 5.0)
    a = math.radians(35.0)
    r = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    r = r @ np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    d0 = BalanceLossDetector().detect(acc, FS)
    d1 = BalanceLossDetector().detect(acc @ r, FS)
    assert d1.lost_ and d0.lost_
    assert d1.onset_s_ == pytest.approx(d0.onset_s_, abs=1e-9)


def test_floors_keep_a_very_quiet_persons_correction_from_counting():
    # quiet sway of 0.005 m/s^2: a 0.5 m/s^2, 2-degree correction is 100 x the baseline
    # spread but below the absolute floors (1 m/s^2, 5 degrees)
    acc = add_fall(quiet(12.0, sway_mps2=0.005, noise_mps2=0.002), 6.0, lean_deg=2.0)
    t = np.arange(acc.shape[0]) / FS
    acc[:, 0] -= 3.0 * np.exp(-(((t - 6.6) / 0.03) ** 2))  # remove the step impact
    acc[:, 2] -= 8.0 * np.exp(-(((t - 6.6) / 0.03) ** 2))
    det = BalanceLossDetector().detect(acc, FS)
    assert not det.lost_
    # the same person really falling is found
    assert BalanceLossDetector().detect(add_fall(quiet(12.0, sway_mps2=0.005), 6.0), FS).lost_


def test_burst_without_tilt_is_not_a_loss():
    acc = quiet(10.0)
    t = np.arange(acc.shape[0]) / FS
    acc[:, 2] += 15.0 * np.exp(-(((t - 5.0) / 0.02) ** 2))  # a bump (e.g. a knock on the sensor)
    assert not BalanceLossDetector().detect(acc, FS).lost_


def test_detector_input_errors():
    with pytest.raises(RecordingError):
        BalanceLossDetector().detect(np.zeros((100, 2)), FS)
    with pytest.raises(TooShortError):
        BalanceLossDetector().detect(quiet(0.2), FS)
    with pytest.raises(RecordingError):
        BalanceLossDetector().detect(quiet(2.0), 0.0)


def test_detector_does_not_mutate_and_reports_params():
    acc = add_fall(quiet(10.0), 5.0)
    before = acc.copy()
    det = BalanceLossDetector(min_tilt_deg=4.0)
    res = det.detect(acc, FS).result()
    np.testing.assert_array_equal(acc, before)
    assert det.min_tilt_deg == 4.0
    assert res["algorithm"]["name"] == "BalanceLossDetector"
    assert res["algorithm"]["min_tilt_deg"] == 4.0
    assert res["lost"] is True
    json.dumps(res)


def test_bds_force_plate_trials_have_no_loss_of_balance():
    """Specificity on real quiet standing (8 trials, 60 s, incl. foam eyes closed)."""
    files = sorted(BDS.glob("*.csv"))
    assert len(files) == 8
    for f in files:
        rec = load_recording(f)
        det = BalanceLossDetector().detect(rec.acc_mps2, rec.fs_hz)
        assert not det.lost_, f.name


def stepping(acc: np.ndarray, t0: float, dur: float = 3.0) -> np.ndarray:
    """Weight shifts and two foot contacts between t0 and t0 + dur (repositioning)."""
    out = acc.copy()
    t = np.arange(acc.shape[0]) / FS
    w = (t >= t0) & (t < t0 + dur)
    out[w, 1] += 0.6 * np.sin(np.pi * 2 * (t[w] - t0) / dur)
    for tc in (t0 + dur / 3, t0 + 2 * dur / 3):
        out[:, 2] += 2.5 * np.exp(-(((t - tc) / 0.02) ** 2)) * np.cos(2 * np.pi * 8 * (t - tc))
    return out


def test_segmenter_finds_quiet_periods_between_movements():
    acc = quiet(30.0, seed=2)
    acc = stepping(acc, 8.0)
    acc = stepping(acc, 20.0)
    seg = StanceSegmenter().segment(acc, FS)
    spans = [(p.start_s, p.end_s) for p in seg.periods_]
    assert len(spans) == 3, spans
    assert spans[0][0] == pytest.approx(0.0, abs=0.05)
    assert spans[0][1] == pytest.approx(8.0, abs=0.4)
    assert spans[1][0] == pytest.approx(11.0, abs=0.4)
    assert spans[1][1] == pytest.approx(20.0, abs=0.4)
    assert spans[2][0] == pytest.approx(23.0, abs=0.4)
    assert spans[2][1] == pytest.approx(30.0, abs=0.05)


def test_parse_times():
    assert parse_times("3.0, 17.2 31.4") == [3.0, 17.2, 31.4]
    with pytest.raises(RecordingError):
        parse_times("3, x")
    with pytest.raises(RecordingError):
        parse_times("5, 4")


# -- the four-stage test on the simulator ----------------------------------------------


@pytest.fixture(scope="module")
def sim():
    return pytest.importorskip("balance_mon.sim")


#: (seed, failing stance, seconds into it, sway scale): losses in tandem and single leg
ACCEPTANCE = [
    (0, "tandem", 3.0, 1.0),
    (1, "tandem", 6.5, 1.0),
    (2, "tandem", 8.0, 1.6),
    (0, "single_leg", 6.5, 1.0),
    (1, "single_leg", 3.0, 0.7),
    (2, "single_leg", 5.0, 1.0),
    (3, "semi_tandem", 4.0, 1.0),
    (4, None, 5.0, 1.0),
]


def check_four_stage_against_truth(res, fs):
    """Stance list, hold times, verdicts, starts and losses of balance as simulated."""
    truth = res.truth["conditions"]
    got = fs.stances_
    assert [s["stance"] for s in got] == [c["stance"] for c in truth]
    for s, c in zip(got, truth, strict=True):
        assert abs(s["hold_s"] - c["held_s"]) <= 0.3, (s, c)
        assert s["held_10s"] is c["passed"]
        assert abs(s["start_s"] - c["start_s"]) <= 0.3
        if c["passed"]:
            assert s["loss_of_balance_s"] is None
        else:
            assert abs(s["loss_of_balance_s"] - c["end_s"]) <= 0.3
        assert set(s["sway"]) == set(SWAY_KEYS)
    counts = res.truth["counts"]
    assert fs.tandem_10s_ is counts["tandem_held"]
    assert fs.at_risk_ is counts["increased_fall_risk"]
    assert fs.source_ == "movement"


@pytest.mark.parametrize("seed,fail_stance,fail_at,scale", ACCEPTANCE)
def test_four_stage_hold_times_match_simulated_truth(sim, seed, fail_stance, fail_at, scale):
    res = sim.simulate_four_stage(
        seed=seed, fail_stance=fail_stance, fail_at_s=fail_at, subject=sim.Subject(sway_scale=scale)
    )
    check_four_stage_against_truth(res, FourStageAnalyzer().analyze_recording(res.recording))


#: (seed, failing stance, sway scale, placement): a stance lost 2 s after it started. Found on
#: a grid of such tests (seeds 500-619) as ones where StanceSegmenter 1.0, which judged the
#: stretch between movements by its median activity, took the short stance for a weight
#: shift and scored the standing after the recovery instead.
EARLY_FAILURES = [
    (518, "tandem", 1.1, "lower_back"),
    (564, "feet_together", 1.4, "sternum"),
    (603, "single_leg", 1.4, "lower_back"),
    (613, "semi_tandem", 0.8, "sternum"),
]


def simulate_early_failure(sim, seed, fail_stance, scale, placement):
    return sim.simulate_four_stage(
        seed=seed,
        fail_stance=fail_stance,
        fail_at_s=2.0,
        subject=sim.Subject(sway_scale=scale),
        sensor=sim.SensorSpec(placement=placement),
    )


@pytest.mark.parametrize("seed,fail_stance,scale,placement", EARLY_FAILURES)
def test_four_stage_stance_lost_two_seconds_in(sim, seed, fail_stance, scale, placement):
    res = simulate_early_failure(sim, seed, fail_stance, scale, placement)
    check_four_stage_against_truth(res, FourStageAnalyzer().analyze_recording(res.recording))


@pytest.mark.parametrize("seed,fail_stance,scale,placement", EARLY_FAILURES)
def test_short_stance_is_judged_by_its_quiet_part(sim, seed, fail_stance, scale, placement):
    """The lower quartile of a stretch's activity keeps a 2 s stance; the median dropped it."""
    res = simulate_early_failure(sim, seed, fail_stance, scale, placement)
    c = res.truth["conditions"][-1]
    mid = 0.5 * (c["start_s"] + c["end_s"])
    rec = res.recording
    t0 = float(rec.time_s[0])

    def covered(seg):
        return any(p.start_s + t0 <= mid < p.end_s + t0 for p in seg.periods_)

    assert covered(StanceSegmenter().segment(rec.acc_mps2, rec.fs_hz))
    assert not covered(StanceSegmenter(run_percentile=50.0).segment(rec.acc_mps2, rec.fs_hz))


def test_four_stage_from_metadata(sim):
    res = sim.simulate_four_stage(seed=5, fail_stance="single_leg", fail_at_s=4.0)
    truth = res.truth["conditions"]
    meta = dict(res.recording.metadata)
    meta["stance_starts_s"] = ", ".join(f"{c['start_s']:.2f}" for c in truth)
    fs = FourStageAnalyzer().analyze_recording(res.recording.replace(metadata=meta))
    assert fs.source_ == "metadata"
    assert [s["start_s"] for s in fs.stances_] == pytest.approx([c["start_s"] for c in truth])
    for s, c in zip(fs.stances_, truth, strict=True):
        assert abs(s["hold_s"] - c["held_s"]) <= 0.3
        assert s["held_10s"] is c["passed"]
    assert fs.tandem_10s_ and not fs.at_risk_


def test_four_stage_metadata_errors(sim):
    rec = sim.simulate_four_stage(seed=0).recording
    bad = [
        {"stance_starts_s": "1, 2, 3, 4, 5"},
        {"stance_starts_s": "3, 2"},
        {"stance_ends_s": "5"},
        {"stance_starts_s": "3", "stance_ends_s": "2"},
    ]
    for extra in bad:
        meta = {**rec.metadata, **extra}
        with pytest.raises(RecordingError):
            FourStageAnalyzer().analyze_recording(rec.replace(metadata=meta))


def test_four_stage_needs_a_quiet_stance():
    rng = np.random.default_rng(1)
    t = np.arange(2000) / FS
    acc = np.column_stack(
        [
            2.0 * np.sin(2 * np.pi * 1.8 * t),
            1.0 * np.sin(2 * np.pi * 0.9 * t),
            G + 3.0 * np.sin(2 * np.pi * 1.8 * t),
        ]
    ) + 0.05 * rng.standard_normal((t.size, 3))
    with pytest.raises(RecordingError, match="no quiet standing"):
        FourStageAnalyzer().analyze(acc, FS)


def test_four_stage_result_json_shape(sim):
    res = sim.simulate_four_stage(seed=2, fail_stance="tandem", fail_at_s=5.0)
    out = FourStageAnalyzer().analyze_recording(res.recording).result()
    assert set(out) >= {"stances", "tandem_10s", "at_risk", "algorithm"}
    assert out["tandem_10s"] is False and out["at_risk"] is True
    assert out["algorithm"]["segmenter"]["run_percentile"] == 25.0
    for s in out["stances"]:
        assert set(s) == {
            "stance",
            "start_s",
            "end_s",
            "hold_s",
            "held_10s",
            "loss_of_balance_s",
            "sway",
        }
        assert s["stance"] in FOUR_STAGE_STANCES
        assert s["end_s"] == pytest.approx(s["start_s"] + s["hold_s"])
        assert 0 <= s["hold_s"] <= 10.0
    json.dumps(out, allow_nan=False)


def test_cli_four_stage_json(sim, tmp_path, capsys):
    from balance_mon.cli import main

    res = sim.simulate_four_stage(seed=3, fail_stance="tandem", fail_at_s=4.0)
    path, _ = res.write(tmp_path / "four.csv")
    assert main(["analyze", str(path), "--test", "four-stage", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    fs = out["four_stage"]
    assert [s["stance"] for s in fs["stances"]] == ["feet_together", "semi_tandem", "tandem"]
    assert fs["tandem_10s"] is False and fs["at_risk"] is True
    assert abs(fs["stances"][2]["hold_s"] - 4.0) <= 0.3
    assert fs["stances"][2]["loss_of_balance_s"] == pytest.approx(
        res.truth["conditions"][2]["end_s"], abs=0.3
    )
    assert set(out["sway"]) == set(SWAY_KEYS)
    assert out["sway"] == fs["stances"][0]["sway"]


@pytest.mark.parametrize(
    "stance,eyes,surface,direction,at",
    [
        ("feet_together", "closed", "foam", "forward", 7.3),
        ("semi_tandem", "open", "firm", "left", 4.1),
        ("tandem", "closed", "firm", "backward", 5.2),
        ("single_leg", "open", "firm", "right", 3.4),
    ],
)
def test_loss_onset_on_simulated_stance(sim, stance, eyes, surface, direction, at):
    res = sim.simulate_stance(
        stance,
        eyes=eyes,
        surface=surface,
        duration_s=12.0,
        lose_balance_at_s=at,
        loss_direction=direction,
        seed=4,
    )
    rec = res.recording
    det = BalanceLossDetector().detect(rec.acc_mps2, rec.fs_hz)
    assert det.lost_
    assert abs(det.onset_s_ - res.truth["balance_loss"]["onset_s"]) <= 0.3


def test_simulated_quiet_stances_have_no_loss(sim):
    for stance in ("feet_together", "tandem", "single_leg"):
        for surface in ("firm", "foam"):
            res = sim.simulate_stance(
                stance, eyes="closed", surface=surface, duration_s=20.0, seed=7
            )
            assert not BalanceLossDetector().detect(res.recording.acc_mps2, 100.0).lost_


def test_four_stage_analyze_array_matches_recording(sim):
    res = sim.simulate_four_stage(seed=1)
    rec = res.recording
    a = FourStageAnalyzer().analyze(rec.acc_mps2, rec.fs_hz)
    b = FourStageAnalyzer().analyze_recording(rec)
    assert [s["hold_s"] for s in a.stances_] == pytest.approx([s["hold_s"] for s in b.stances_])
    assert isinstance(rec, Recording)
