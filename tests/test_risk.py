"""Risk: per-session cut-off flags and measure metadata, each with its source."""

from __future__ import annotations

import json
import math
import re

import pytest

from balance_mon.protocols import (
    Patient,
    TrialEvent,
    TrialObservation,
    evaluate_trial,
    get_protocol,
    summarise,
)
from balance_mon.risk import (
    CUTOFF_CODES,
    MEASURES,
    RiskError,
    mdc95_from_sem,
    measure_info,
    sem_from_icc,
    session_flags,
)

SENTENCE_END = re.compile(r"[.!?]\s+(?=[A-Z])")


def one_sentence(msg: str) -> bool:
    """Ends with a full stop and has no sentence break inside ("et al. 2019" is fine)."""
    return msg.endswith(".") and not SENTENCE_END.search(msg[:-1])


def result_of(protocol: str, observations, patient=None):
    p = get_protocol(protocol)
    return summarise(p, [evaluate_trial(p, o) for o in observations], patient)


def four_stage_failing_tandem(patient=None):
    return result_of(
        "steadi_four_stage",
        [
            TrialObservation("feet_together", 1, 10.0),
            TrialObservation("semi_tandem", 1, 10.0),
            TrialObservation("tandem", 1, 6.2, (TrialEvent("balance_lost", 6.2),)),
        ],
        patient,
    )


def test_tandem_flag():
    flags = session_flags(four_stage_failing_tandem())
    assert [f.code for f in flags] == ["tandem_under_10s"]
    f = flags[0]
    assert f.kind == "cutoff" and f.direction == "worse"
    assert f.value == pytest.approx(6.2) and f.threshold == 10.0
    assert "6.2 s" in f.message and "10 s" in f.message
    assert "CDC STEADI Four-Stage Balance Test" in f.message and f.source in f.message
    assert one_sentence(f.message)


def test_chair_stand_flag_uses_age_and_sex():
    obs = [TrialObservation("standard", 1, 30.0, blocks={"chair_stand": {"count": 9}})]
    res = result_of("chair_stand_30s", obs, Patient(age_years=71, sex="female"))
    (f,) = session_flags(res)
    assert f.code == "chair_stand_below_norm" and f.value == 9 and f.threshold == 10
    for part in ("9 stands", "10 stands", "women aged 70-74", "CDC STEADI"):
        assert part in f.message
    assert one_sentence(f.message)
    # a different patient (e.g. the age entered later): compared again
    assert session_flags(res, Patient(age_years=86, sex="female")) == []  # 9 >= 8
    assert session_flags(res, Patient(age_years=50, sex="female")) == []  # no norm < 60
    # the stored (dict) form gives the same flags
    assert session_flags(json.loads(json.dumps(res.as_dict()))) == session_flags(res)


def test_tug_flag():
    obs = [TrialObservation("standard", 1, 12.4, blocks={"tug": {"total_s": 12.4}})]
    (f,) = session_flags(result_of("tug", obs))
    assert f.code == "tug_at_risk" and "12.4 s" in f.message and "12 s" in f.message
    assert "CDC STEADI Timed Up and Go" in f.message and one_sentence(f.message)
    obs = [TrialObservation("standard", 1, 11.9, blocks={"tug": {"total_s": 11.9}})]
    assert session_flags(result_of("tug", obs)) == []


def test_single_leg_flag_keeps_the_verify_mark():
    obs = [
        TrialObservation("eyes_open", 1, 4.0, (TrialEvent("balance_lost", 4.0),)),
        TrialObservation("eyes_closed", 1, 3.0, (TrialEvent("balance_lost", 3.0),)),
    ]
    flags = session_flags(result_of("single_leg_stance", obs, Patient(age_years=65, sex="m")))
    # eyes open: 4.0 < 0.5 * 33.8; eyes closed: 3.0 >= 0.5 * 5.1
    assert [f.measure for f in flags] == ["single_leg_stance_s:eyes_open"]
    f = flags[0]
    assert f.code == "single_leg_far_below_norm"
    assert f.source.endswith("(verify)") and "(verify)" in f.message
    for part in ("4.0 s", "16.9 s", "33.8 s", "men aged 60-69", "Springer et al. 2007"):
        assert part in f.message
    assert one_sentence(f.message)


def test_every_cutoff_flag_explains_itself():
    pat = Patient(age_years=70, sex="male")
    results = [
        four_stage_failing_tandem(pat),
        result_of(
            "chair_stand_30s",
            [TrialObservation("standard", 1, 30.0, blocks={"chair_stand": {"count": 5}})],
            pat,
        ),
        result_of(
            "tug", [TrialObservation("standard", 1, 20.0, blocks={"tug": {"total_s": 20.0}})]
        ),
        result_of(
            "single_leg_stance",
            [TrialObservation("eyes_open", 1, 1.0, (TrialEvent("balance_lost", 1.0),))],
            pat,
        ),
    ]
    codes = set()
    for res in results:
        for f in session_flags(res):
            codes.add(f.code)
            assert one_sentence(f.message), f.message
            assert f.source and f.source in f.message
            assert f.value is not None and f.threshold is not None
            json.dumps(f.as_dict(), allow_nan=False)
    assert codes == set(CUTOFF_CODES)


def test_no_flags_for_results_without_norms():
    res = result_of(
        "romberg",
        [TrialObservation("eyes_open", 1, 30.0), TrialObservation("eyes_closed", 1, 30.0)],
    )
    assert res.norms == () and session_flags(res) == []


def test_measures_carry_units_directions_and_sources():
    for name, m in MEASURES.items():
        assert m.name == name and m.unit and m.worse in ("higher", "lower")
        assert m.mdc95 is None or (m.mdc95 > 0 and m.mdc_source is not None)
        assert m.icc is None or (0 < m.icc < 1 and m.icc_source is not None)
        json.dumps(m.as_dict())
    assert (MEASURES["tug_s"].mdc95, MEASURES["tug_s"].worse) == (2.08, "higher")
    assert "Donoghue et al. 2019" in str(MEASURES["tug_s"].mdc_source)
    cs = MEASURES["chair_stand_stands"]
    assert (cs.mdc95, cs.worse, cs.practice_effect) == (2.5, "lower", (0.5, 0.8))
    assert "Gill et al. 2022" in str(cs.practice_source)
    assert MEASURES["five_sts_s"].mdc95 == 2.5 and "Goldberg" in str(
        MEASURES["five_sts_s"].mdc_source
    )
    assert MEASURES["sway_rms_mps2"].icc == 0.41 and MEASURES["sway_norm_path_mps3"].icc == 0.49
    assert "Alqahtani et al. 2020" in str(MEASURES["sway_rms_mps2"].icc_source)
    assert MEASURES["sway_rms_mps2"].worse == "higher"
    assert measure_info("sway_rms_mps2:romberg/eyes_open") is MEASURES["sway_rms_mps2"]
    with pytest.raises(RiskError, match="unknown measure"):
        measure_info("grip_kg")


def test_sem_and_mdc_formulas():
    assert sem_from_icc(2.0, 0.75) == pytest.approx(1.0)
    assert mdc95_from_sem(1.0) == pytest.approx(1.959964 * math.sqrt(2), rel=1e-6)
    # Goldberg 2012: SEM 0.9 s gives an MDC95 of 2.5 s
    assert mdc95_from_sem(0.9) == pytest.approx(2.5, abs=0.01)
    with pytest.raises(RiskError):
        sem_from_icc(1.0, 1.5)
