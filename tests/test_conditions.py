"""Romberg and CTSIB-M ratios; the real BDS force-plate trials as a snapshot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from balance_mon.analysis.conditions import (
    CONDITIONS,
    ConditionComparison,
    ConditionTrial,
    parse_condition,
    trial_from_recording,
)
from balance_mon.analysis.sway import SWAY_KEYS
from balance_mon.errors import RecordingError
from balance_mon.io import load_recording

BDS = Path(__file__).resolve().parents[1] / "sample_data" / "real" / "bds"


def trial(eyes, surface, rms, area, **kw):
    metrics = dict.fromkeys(SWAY_KEYS, 1.0)
    metrics.update(rms_mps2=rms, ellipse_area_m2ps4=area)
    return ConditionTrial(eyes=eyes, surface=surface, metrics=metrics, **kw)


def test_ratios_exact_on_synthetic_trials():
    trials = [
        trial("open", "firm", 0.02, 0.001),
        trial("closed", "firm", 0.03, 0.002),
        trial("open", "foam", 0.05, 0.004),
        trial("closed", "foam", 0.08, 0.010),
    ]
    c = ConditionComparison().compare(trials)
    assert c.romberg_ == pytest.approx({"rms_mps2": 1.5, "ellipse_area_m2ps4": 2.0})
    assert c.romberg_foam_ == pytest.approx({"rms_mps2": 1.6, "ellipse_area_m2ps4": 2.5})
    assert c.ratios_["rms_mps2"] == pytest.approx(
        {"visual_reliance": 1.5, "somatosensory_reliance": 2.5, "vestibular_reliance": 4.0}
    )
    assert c.ratios_["ellipse_area_m2ps4"] == pytest.approx(
        {"visual_reliance": 2.0, "somatosensory_reliance": 4.0, "vestibular_reliance": 10.0}
    )
    assert c.n_trials_ == {
        "eyes_open_firm": 1,
        "eyes_closed_firm": 1,
        "eyes_open_foam": 1,
        "eyes_closed_foam": 1,
    }


def test_repeated_attempts_are_averaged_before_dividing():
    trials = [
        trial("open", "firm", 0.02, 0.001),
        trial("open", "firm", 0.04, 0.003),
        trial("closed", "firm", 0.06, 0.002),
        trial("closed", "firm", 0.03, 0.004),
        trial("closed", "firm", 0.06, 0.006),
    ]
    c = ConditionComparison().compare(trials)
    assert c.means_["eyes_open_firm"]["rms_mps2"] == pytest.approx(0.03)
    assert c.means_["eyes_closed_firm"]["rms_mps2"] == pytest.approx(0.05)
    assert c.romberg_["rms_mps2"] == pytest.approx(0.05 / 0.03)  # ratio of means
    assert c.romberg_["ellipse_area_m2ps4"] == pytest.approx(0.004 / 0.002)
    assert c.n_trials_["eyes_closed_firm"] == 3


def test_more_than_three_attempts_is_an_error():
    trials = [trial("open", "foam", 0.05, 0.004)] * 4
    with pytest.raises(RecordingError, match="at most 3"):
        ConditionComparison().compare(trials)
    assert ConditionComparison(max_attempts=4).compare(trials).n_trials_["eyes_open_foam"] == 4


def test_missing_conditions_give_nan():
    c = ConditionComparison().compare([trial("open", "firm", 0.02, 0.001)])
    assert math.isnan(c.romberg_["rms_mps2"])
    assert all(math.isnan(v) for v in c.ratios_["rms_mps2"].values())
    assert set(c.means_) == {"eyes_open_firm"}


def test_chosen_measure_and_errors():
    trials = [trial("open", "firm", 0.02, 0.001), trial("closed", "firm", 0.03, 0.002)]
    c = ConditionComparison(measures=("rms_mps2",)).compare(trials)
    assert set(c.romberg_) == {"rms_mps2"}
    with pytest.raises(RecordingError, match="unknown sway measure"):
        ConditionComparison(measures=("nonsense",)).compare(trials)
    with pytest.raises(RecordingError):
        ConditionComparison().compare([])
    with pytest.raises(RecordingError):
        ConditionTrial(eyes="shut", surface="firm", metrics={})
    with pytest.raises(RecordingError):
        ConditionTrial(eyes="open", surface="sand", metrics={})


def test_zero_eyes_open_sway_gives_nan_not_infinity():
    c = ConditionComparison().compare(
        [trial("open", "firm", 0.0, 0.0), trial("closed", "firm", 0.1, 0.1)]
    )
    assert math.isnan(c.romberg_["rms_mps2"])


def test_result_is_json():
    trials = [trial(e, s, 0.02 + i * 0.01, 0.001 * (i + 1)) for i, (e, s) in enumerate(CONDITIONS)]
    res = ConditionComparison().compare(trials).result()
    assert res["algorithm"]["name"] == "ConditionComparison"
    assert set(res["ctsib"]["rms_mps2"]) == {
        "visual_reliance",
        "somatosensory_reliance",
        "vestibular_reliance",
    }
    json.dumps(res)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("eyes_closed_foam", ("closed", "foam")),
        ("eyes_open_firm", ("open", "firm")),
        ("feet_together/eyes_open/firm", ("open", "firm")),
        ("firm_eyes_closed", ("closed", "firm")),
        ("EC foam", ("closed", "foam")),
        ("eyes_open", ("open", None)),
        ("quiet standing", (None, None)),
    ],
)
def test_parse_condition(text, expected):
    assert parse_condition(text) == expected


def test_trial_needs_the_eyes_condition():
    rec = load_recording(BDS / "bds_s01_eyes_open_firm.csv")
    meta = {k: v for k, v in rec.metadata.items() if k != "condition"}
    with pytest.raises(RecordingError, match="eyes were open or closed"):
        trial_from_recording(rec.replace(metadata=meta))
    t = trial_from_recording(rec.replace(metadata=meta), eyes="open")
    assert t.condition == ("open", "firm")


# -- real force-plate trials (Santos & Duarte 2016, BDS) --------------------------------


@pytest.fixture(scope="module")
def bds():
    out = {}
    for subj in ("s01", "s04"):
        recs = [load_recording(f) for f in sorted(BDS.glob(f"bds_{subj}_*.csv"))]
        out[subj] = ConditionComparison().compare_recordings(recs)
    return out


def _orderings(c: ConditionComparison) -> dict[str, bool]:
    m = c.means_
    out = {}
    for meas in ("rms_mps2", "ellipse_area_m2ps4"):
        for surf in ("firm", "foam"):
            out[f"{meas}: EC > EO on {surf}"] = (
                m[f"eyes_closed_{surf}"][meas] > m[f"eyes_open_{surf}"][meas]
            )
        for eyes in ("open", "closed"):
            out[f"{meas}: foam > firm, eyes {eyes}"] = (
                m[f"eyes_{eyes}_foam"][meas] > m[f"eyes_{eyes}_firm"][meas]
            )
    return out


def test_bds_orderings_snapshot(bds):
    """The actual orderings of these particular trials (one trial per condition).

    Subject 1 (33-year-old woman) sways LESS with eyes closed on firm ground
    (also on the raw centre of pressure: RMS 0.34 cm EO vs 0.23 cm EC), and on
    foam her ellipse area is smaller eyes closed although her RMS is larger.
    Subject 4 (62-year-old man, one fall) shows the textbook pattern. Foam
    always sways more than firm. Real data; nothing is tuned to it.
    """
    assert _orderings(bds["s01"]) == {
        "rms_mps2: EC > EO on firm": False,
        "rms_mps2: EC > EO on foam": True,
        "rms_mps2: foam > firm, eyes open": True,
        "rms_mps2: foam > firm, eyes closed": True,
        "ellipse_area_m2ps4: EC > EO on firm": False,
        "ellipse_area_m2ps4: EC > EO on foam": False,
        "ellipse_area_m2ps4: foam > firm, eyes open": True,
        "ellipse_area_m2ps4: foam > firm, eyes closed": True,
    }
    assert all(_orderings(bds["s04"]).values())


def test_bds_ratio_snapshot(bds):
    s1, s4 = bds["s01"], bds["s04"]
    assert s1.romberg_["rms_mps2"] == pytest.approx(0.836, abs=0.005)
    assert s1.romberg_["ellipse_area_m2ps4"] == pytest.approx(0.790, abs=0.005)
    assert s4.romberg_["rms_mps2"] == pytest.approx(1.524, abs=0.005)
    assert s4.romberg_["ellipse_area_m2ps4"] == pytest.approx(2.201, abs=0.01)
    assert s4.ratios_["rms_mps2"]["vestibular_reliance"] == pytest.approx(4.67, abs=0.02)
    assert s1.ratios_["rms_mps2"]["somatosensory_reliance"] == pytest.approx(2.97, abs=0.02)


# -- the simulator ----------------------------------------------------------------------------


def test_simulated_romberg_and_ctsib():
    sim = pytest.importorskip("balance_mon.sim")
    rom = sim.simulate_romberg(separate=True, seed=1)
    c = ConditionComparison().compare_recordings([r.recording for r in rom])
    # the model's eyes-closed sway is 1.55 x (angle SD): ratios clearly above 1
    assert c.romberg_["rms_mps2"] > 1.2
    assert c.romberg_["ellipse_area_m2ps4"] > 1.4
    ct = sim.simulate_ctsib(separate=True, seed=2)
    c = ConditionComparison().compare_recordings([r.recording for r in ct])
    r = c.ratios_["rms_mps2"]
    assert r["vestibular_reliance"] > r["visual_reliance"] > 1.0
    assert r["vestibular_reliance"] > r["somatosensory_reliance"] > 1.0
