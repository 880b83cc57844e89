"""30-second chair stand: STEADI norms, the scoring rules, simulated tests with truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from balance_mon.analysis.chair_stand import (
    STEADI_CHAIR_STAND_BELOW_AVERAGE,
    ChairStandTest,
    chair_stand_norm,
    parse_age,
    parse_sex,
)
from balance_mon.cli import main
from balance_mon.io import save_recording
from balance_mon.sim import SensorSpec, simulate_chair_stand


def test_norm_table_is_steadi():
    # clinical.md section 2 (CDC STEADI), age band -> (men, women) below average
    assert STEADI_CHAIR_STAND_BELOW_AVERAGE == {
        (60, 64): (14, 12),
        (65, 69): (12, 11),
        (70, 74): (12, 10),
        (75, 79): (11, 10),
        (80, 84): (10, 9),
        (85, 89): (8, 8),
        (90, 94): (7, 4),
    }


@pytest.mark.parametrize(
    "age, sex, below",
    [
        (60, "male", 14),
        (64.9, "female", 12),
        (72, "female", 10),
        (79, "male", 11),
        (85, "female", 8),
        (94, "female", 4),
        (59.9, "male", None),
        (95, "female", None),
        (70, None, None),
        (None, "male", None),
    ],
)
def test_norm_lookup(age, sex, below):
    norm = chair_stand_norm(age, sex)
    assert (norm["below"] if norm else None) == below
    if norm:
        assert "STEADI" in norm["source"]


def test_metadata_parsing():
    assert parse_age({"age_years": "72"}) == 72.0
    assert parse_age({"age": "68.5 years"}) == 68.5
    assert parse_age({"age": "old"}) is None
    assert parse_age({}) is None
    assert parse_sex({"sex": "F"}) == "female"
    assert parse_sex({"sex": "Male"}) == "male"
    assert parse_sex({"sex": "x"}) is None


def _sim(stands, partial, seed=0, **spec):
    return simulate_chair_stand(
        stands=stands, partial=partial, seed=seed, sensor=SensorSpec(**spec) if spec else None
    )


@pytest.mark.parametrize(
    "stands, partial, spec",
    [
        (5, 0.0, {"placement": "lower_back", "fs_hz": 100.0}),
        (8, 0.3, {"placement": "sternum", "fs_hz": 50.0, "gyro": False}),
        (12, 0.7, {"placement": "lower_back", "fs_hz": 25.0, "tilt_deg": (10, -15, 20)}),
        (15, 0.0, {"placement": "sternum", "fs_hz": 200.0}),
        (10, 0.85, {"placement": "lower_back", "fs_hz": 100.0, "gyro": False, "noise_mps2": 0.05}),
    ],
)
def test_simulated_count_exact(stands, partial, spec):
    """With the examiner's "go" known the score equals the truth's STEADI score."""
    res = _sim(stands, partial, **spec)
    test = ChairStandTest().analyze_recording(res.recording, go_s=res.truth["test_start_s"])
    assert test.count_ == res.truth["counts"]["score"]
    full = test.stand_times_s_[: res.truth["counts"]["full_stands"]]
    assert np.allclose(full, res.truth["counts"]["stand_times_s"], atol=0.3)
    assert test.complete_


def test_halfway_rule():
    below = ChairStandTest().analyze_recording(
        (r := _sim(9, 0.3)).recording, go_s=r.truth["test_start_s"]
    )
    above = ChairStandTest().analyze_recording(
        (r2 := _sim(9, 0.75)).recording, go_s=r2.truth["test_start_s"]
    )
    assert below.count_ == 9 and not below.partial_counted_ and below.partial_fraction_ < 0.5
    assert above.count_ == 10 and above.partial_counted_


def test_starts_at_first_rise_without_go():
    res = _sim(10, 0.0)
    test = ChairStandTest().analyze_recording(res.recording)
    first = next(p for p in res.truth["phases"] if p["name"] == "sit_to_stand")
    assert test.started_seated_
    # "go" is taken a reaction time (0.3 s) before the first movement
    assert abs(test.test_start_s_ - (first["start_s"] - 0.3)) < 0.2
    assert test.test_end_s_ == pytest.approx(test.test_start_s_ + 30.0)
    assert test.count_ == 10
    t2 = ChairStandTest(reaction_s=0.0).analyze_recording(res.recording)
    assert t2.test_start_s_ == pytest.approx(test.test_start_s_ + 0.3)


def test_go_from_metadata_and_norm_from_age_sex():
    res = _sim(8, 0.0)
    rec = res.recording.replace(
        metadata={
            **res.recording.metadata,
            "age_years": "72",
            "sex": "female",
            "go_s": str(res.truth["test_start_s"]),
        }
    )
    test = ChairStandTest().analyze_recording(rec)
    assert test.test_start_s_ == pytest.approx(res.truth["test_start_s"])
    assert test.count_ == 8
    assert test.norm_["below"] == 10 and test.norm_["age_band"] == "70-74"
    assert test.below_norm_ is True
    rec_m = rec.replace(metadata={**rec.metadata, "sex": "male", "age_years": "90"})
    assert ChairStandTest().analyze_recording(rec_m).below_norm_ is False  # men 90-94: below 7


def test_no_norm_without_age_or_sex():
    res = _sim(6, 0.0)
    out = ChairStandTest().analyze_recording(res.recording).result()
    assert out["below_norm"] is None and out["norm"] is None
    assert out["norm_table"]["below_average"][0] == {"age": "60-64", "men": 14, "women": 12}
    json.dumps(out)


def test_recording_shorter_than_test():
    res = _sim(10, 0.0)
    rec = res.recording.slice_time(0.0, 20.0)
    test = ChairStandTest().analyze_recording(rec)
    assert not test.complete_
    assert 0 < test.count_ < 10


def test_quiet_recording_scores_zero():
    acc = np.tile([0.0, 0.5, 9.79], (4000, 1)) + np.random.default_rng(0).normal(0, 0.02, (4000, 3))
    test = ChairStandTest().analyze(acc, 100.0)
    assert test.count_ == 0 and not test.started_seated_ and test.stand_times_s_ == []


def test_cli_chair_stand(tmp_path, capsys):
    res = _sim(11, 0.0)
    rec = res.recording.replace(metadata={**res.recording.metadata, "age": "66", "sex": "male"})
    path = tmp_path / "cs.csv"
    save_recording(rec, path)
    assert main(["analyze", str(path), "--test", "chair-stand", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["chair_stand"]
    assert out["count"] == 11
    assert out["below_norm"] is True  # men 65-69: below 12
    assert len(out["stand_times_s"]) == 11
