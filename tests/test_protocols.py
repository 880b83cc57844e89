"""Protocols as data, their norms (each with its source) and the scoring rules."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from balance_mon.analysis import registry
from balance_mon.consts import GRAVITY_MPS2
from balance_mon.protocols import (
    PROTOCOLS,
    Patient,
    ProtocolError,
    ProtocolResult,
    TrialEvent,
    TrialObservation,
    compare_norms,
    evaluate_trial,
    get_protocol,
    score_session,
    summarise,
)
from balance_mon.protocols.norms import (
    CHAIR_STAND_BELOW_AVERAGE,
    NORM_TABLES,
    SINGLE_LEG_STANCE_MEAN_S,
    Source,
    chair_stand_band,
    single_leg_band,
)
from balance_mon.recording import Recording
from balance_mon.sim import simulate_stance

# Independent transcription of clinical.md section 2 (STEADI 30 s chair stand,
# below-average scores): age band -> (men, women).
STEADI_TABLE = {
    (60, 64): (14, 12),
    (65, 69): (12, 11),
    (70, 74): (12, 10),
    (75, 79): (11, 10),
    (80, 84): (10, 9),
    (85, 89): (8, 8),
    (90, 94): (7, 4),
}
CHAIR_CASES = [
    (lo_hi, sex, thr)
    for lo_hi, (men, women) in STEADI_TABLE.items()
    for sex, thr in (("male", men), ("female", women))
]


# ---------------------------------------------------------------------------
# Norm tables and sources
# ---------------------------------------------------------------------------


def test_every_norm_table_cites_a_source():
    assert set(NORM_TABLES) == {
        "chair_stand_below_average",
        "tug_at_risk_s",
        "tandem_hold_s",
        "single_leg_stance_mean_s",
    }
    for name, entry in NORM_TABLES.items():
        src = entry["source"]
        assert isinstance(src, Source), name
        assert len(src.citation) > 10, name
        assert entry["table"], name
    assert "STEADI" in str(NORM_TABLES["chair_stand_below_average"]["source"])
    assert "STEADI" in str(NORM_TABLES["tug_at_risk_s"]["source"])
    assert "STEADI" in str(NORM_TABLES["tandem_hold_s"]["source"])
    sls = NORM_TABLES["single_leg_stance_mean_s"]["source"]
    assert "Springer" in str(sls) and "2007" in str(sls)


def test_verify_mark_is_kept_on_single_leg_norms():
    src = NORM_TABLES["single_leg_stance_mean_s"]["source"]
    assert src.verify and str(src).endswith("(verify)")
    for key in ("chair_stand_below_average", "tug_at_risk_s", "tandem_hold_s"):
        assert not NORM_TABLES[key]["source"].verify


def test_every_protocol_cites_sources_and_known_norms():
    assert set(PROTOCOLS) == {
        "steadi_four_stage",
        "chair_stand_30s",
        "tug",
        "romberg",
        "ctsib_m",
        "single_leg_stance",
    }
    for p in PROTOCOLS.values():
        assert p.sources, p.name
        assert all(str(s) for s in p.sources)
        for key in p.norms:
            assert key in NORM_TABLES, (p.name, key)
        assert p.analysis in registry.MIN_DURATION_S, p.name  # a registry analysis name
        assert p.as_dict()["name"] == p.name
        json.dumps(p.as_dict(), allow_nan=False)


def test_norm_comparisons_carry_the_table_source():
    pat = Patient(age_years=72, sex="female")
    cases = {
        "steadi_four_stage": {"tandem_hold_s": 4.0},
        "chair_stand_30s": {"stands": 8},
        "tug": {"tug_s": 14.0},
        "single_leg_stance": {"best_eyes_open_s": 3.0, "best_eyes_closed_s": 1.0},
    }
    expected = {
        "steadi_four_stage": "tandem_hold_s",
        "chair_stand_30s": "chair_stand_below_average",
        "tug": "tug_at_risk_s",
        "single_leg_stance": "single_leg_stance_mean_s",
    }
    for name, scores in cases.items():
        comps = compare_norms(name, scores, pat)
        assert comps, name
        src = str(NORM_TABLES[expected[name]]["source"])
        for c in comps:
            assert c.source == src
            assert c.at_risk is True
            assert src in c.message
            assert c.message.endswith(".")


def test_chair_stand_table_matches_clinical_reference():
    got = {(b.lo, b.hi): (d["male"], d["female"]) for b, d in CHAIR_STAND_BELOW_AVERAGE}
    assert got == STEADI_TABLE


def test_chair_stand_table_matches_the_analysis_module():
    cs = pytest.importorskip("balance_mon.analysis.chair_stand")
    assert dict(cs.STEADI_CHAIR_STAND_BELOW_AVERAGE) == STEADI_TABLE


@pytest.mark.parametrize(("band", "sex", "thr"), CHAIR_CASES)
def test_chair_stand_every_band_and_boundary(band, sex, thr):
    lo, hi = band
    for age in (lo, (lo + hi) / 2, hi, hi + 0.99):
        got = chair_stand_band(age, sex)
        assert got is not None and got[1] == thr and (got[0].lo, got[0].hi) == band
        pat = Patient(age_years=age, sex=sex)
        below = compare_norms("chair_stand_30s", {"stands": thr - 1}, pat)[0]
        at = compare_norms("chair_stand_30s", {"stands": thr}, pat)[0]
        assert below.at_risk is True and at.at_risk is False
        assert below.threshold == thr
        assert f"{thr} stands" in below.message and f"aged {lo}-{hi}" in below.message
        assert ("women" if sex == "female" else "men") in below.message


@pytest.mark.parametrize("age", [59, 59.99, 95, 101])
def test_chair_stand_outside_the_table_has_no_norm(age):
    assert chair_stand_band(age, "female") is None
    c = compare_norms("chair_stand_30s", {"stands": 3}, Patient(age_years=age, sex="female"))[0]
    assert c.at_risk is None and "outside" in c.message and "60-94" in c.message


def test_chair_stand_needs_sex_and_age():
    for pat in (Patient(age_years=70), Patient(sex="f"), None):
        c = compare_norms("chair_stand_30s", {"stands": 3}, pat)[0]
        assert c.at_risk is None
        assert "not compared" in c.message
    assert chair_stand_band(70, "x") is None
    assert chair_stand_band(70, "F") == chair_stand_band(70, "woman")


def test_tug_cutoff_is_12_s():
    assert compare_norms("tug", {"tug_s": 11.99}, None)[0].at_risk is False
    c = compare_norms("tug", {"tug_s": 12.0}, None)[0]
    assert c.at_risk is True and "12.0 s" in c.message and "12 s" in c.message
    assert compare_norms("tug", {"tug_s": None}, None)[0].at_risk is None


def test_tandem_under_10_s_is_at_risk():
    p = get_protocol("steadi_four_stage")
    assert compare_norms(p, {"tandem_hold_s": 9.69}, None)[0].at_risk is True
    # held within the stopwatch tolerance (0.3 s) counts as held
    assert compare_norms(p, {"tandem_hold_s": 9.7}, None)[0].at_risk is False
    assert compare_norms(p, {"tandem_hold_s": 10.0}, None)[0].at_risk is False


def test_single_leg_norms_by_age_sex_and_eyes():
    assert single_leg_band(72, "female", "open")[1] == 16.7
    assert single_leg_band(72, "male", "open")[1] == 25.9
    assert single_leg_band(85, "female", "closed")[1] == 2.1
    assert single_leg_band(18, "male", "closed")[1] == 16.9
    assert single_leg_band(17, "male", "open") is None
    assert len(SINGLE_LEG_STANCE_MEAN_S) == 12
    pat = Patient(age_years=72, sex="female")
    far, ok = (
        compare_norms("single_leg_stance", {"best_eyes_open_s": v}, pat)[0] for v in (8.3, 8.4)
    )
    assert far.at_risk is True and ok.at_risk is False
    assert far.threshold == pytest.approx(8.35) and far.norm == 16.7
    assert "(verify)" in far.message and "balance_mon's choice" in far.message


# ---------------------------------------------------------------------------
# Protocol data
# ---------------------------------------------------------------------------


def test_protocol_lookup_and_options():
    assert get_protocol("chair-stand-30s").name == "chair_stand_30s"
    with pytest.raises(ProtocolError, match="unknown protocol"):
        get_protocol("nope")
    p = get_protocol("chair_stand_30s", practice_attempts=1)
    assert p.practice_attempts == 1 and PROTOCOLS["chair_stand_30s"].practice_attempts == 0
    with pytest.raises(ProtocolError):
        get_protocol("tug", repeat="sometimes")
    with pytest.raises(ProtocolError, match="no condition"):
        get_protocol("romberg").condition("foam")


def test_protocol_definitions_follow_the_reference():
    ctsib = PROTOCOLS["ctsib_m"]
    assert [c.name for c in ctsib.conditions] == [
        "eyes_open_firm",
        "eyes_closed_firm",
        "eyes_open_foam",
        "eyes_closed_foam",
    ]
    assert ctsib.max_attempts == 3 and ctsib.aggregate == "mean" and ctsib.target_s == 30
    fs = PROTOCOLS["steadi_four_stage"]
    assert [c.name for c in fs.conditions] == [
        "feet_together",
        "semi_tandem",
        "tandem",
        "single_leg",
    ]
    assert fs.stop_on_fail and fs.target_s == 10
    assert PROTOCOLS["single_leg_stance"].aggregate == "best"
    assert PROTOCOLS["chair_stand_30s"].perform_step.duration_s == 30
    assert PROTOCOLS["tug"].perform_step.auto_stop == "signal"
    assert [c.eyes for c in PROTOCOLS["romberg"].conditions] == ["open", "closed"]
    for p in PROTOCOLS.values():
        codes = {r.code for r in p.rules}
        assert {"sensor_gap", "too_short"} <= codes, p.name
        for s in p.trial_steps:
            assert s.instruction, (p.name, s.name)


# ---------------------------------------------------------------------------
# Trial rules (shared by the runner and score_session)
# ---------------------------------------------------------------------------


def obs(cond, attempt=1, dur=30.0, events=(), **kw):
    return TrialObservation(cond, attempt, dur, tuple(events), **kw)


def test_hold_trial_rules():
    p = get_protocol("romberg")
    t = evaluate_trial(p, obs("eyes_open"))
    assert (t.status, t.value, t.reasons) == ("completed", 30.0, ())
    t = evaluate_trial(p, obs("eyes_closed", dur=12.5, events=[TrialEvent("balance_lost", 12.5)]))
    assert (t.status, t.value) == ("failed", 12.5) and t.reasons[0].code == "balance_lost"
    # eyes opening matters only with eyes closed
    t = evaluate_trial(p, obs("eyes_open", events=[TrialEvent("eyes_opened", 5.0)]))
    assert t.status == "completed"
    t = evaluate_trial(p, obs("eyes_closed", dur=5.0, events=[TrialEvent("eyes_opened", 5.0)]))
    assert (t.status, t.value, t.reasons[0].code) == ("failed", 5.0, "eyes_opened")
    # ended early without a reason: invalid
    t = evaluate_trial(p, obs("eyes_open", dur=20.0))
    assert (t.status, t.value, t.reasons[0].code) == ("invalid", None, "too_short")
    assert "20.0 s of the required 30.0 s" in t.reasons[0].message
    # a long sensor gap invalidates, a short one does not
    t = evaluate_trial(p, obs("eyes_open", events=[TrialEvent("sensor_gap", 3.0, 0.8)]))
    assert (t.status, t.reasons[0].code) == ("invalid", "sensor_gap")
    assert "0.8 s" in t.reasons[0].message and "limit 0.5 s" in t.reasons[0].message
    t = evaluate_trial(p, obs("eyes_open", events=[TrialEvent("sensor_gap", 3.0, 0.2)]))
    assert t.status == "completed"
    # a loss after the stance was held does not fail it
    t = evaluate_trial(p, obs("eyes_open", events=[TrialEvent("balance_lost", 29.8)]))
    assert t.status == "completed"
    # an event without a rule in the protocol is ignored (TUG has no eyes rule)
    t = evaluate_trial(
        get_protocol("tug"),
        obs(
            "standard",
            dur=11.0,
            blocks={"tug": {"total_s": 11.0}},
            events=[TrialEvent("eyes_opened", 1.0)],
        ),
    )
    assert (t.status, t.value) == ("completed", 11.0)


def test_count_and_time_trial_rules():
    cs = get_protocol("chair_stand_30s")
    t = evaluate_trial(cs, obs("standard", blocks={"chair_stand": {"count": 11}}))
    assert (t.status, t.value) == ("completed", 11.0)
    t = evaluate_trial(
        cs,
        obs("standard", blocks={"chair_stand": {"count": 11}}, events=[TrialEvent("arms_used", 4)]),
    )
    assert (t.status, t.value, t.reasons[0].code) == ("failed", 0.0, "arms_used")
    assert "STEADI scores the chair stand 0" in t.reasons[0].message
    t = evaluate_trial(cs, obs("standard", blocks={"chair_stand": {"count": 5, "complete": False}}))
    assert (t.status, t.reasons[0].code) == ("invalid", "too_short")
    t = evaluate_trial(cs, obs("standard", analysis_error="boom"))
    assert (t.status, t.reasons[0].code) == ("invalid", "analysis_failed")
    t = evaluate_trial(cs, obs("standard", dur=12.0, blocks={"chair_stand": {"count": 5}}))
    assert (t.status, t.reasons[0].code) == ("invalid", "too_short")
    t = evaluate_trial(cs, obs("standard", manual_value=13))
    assert (t.status, t.value) == ("completed", 13)
    tug = get_protocol("tug")
    t = evaluate_trial(tug, obs("standard", dur=2.0, blocks={"tug": {"total_s": 2.0}}))
    assert t.status == "invalid"
    t = evaluate_trial(tug, obs("standard", dur=14.0, ended_by="signal"))
    assert (t.status, t.value) == ("completed", 14.0)
    t = evaluate_trial(
        tug, obs("standard", dur=8.0, events=[TrialEvent("balance_lost", 6.0)], ended_by="event")
    )
    assert (t.status, t.value) == ("failed", None)


def test_summarise_ctsib_averages_attempts_and_totals():
    p = get_protocol("ctsib_m")
    trials = [
        evaluate_trial(p, obs("eyes_open_firm")),
        evaluate_trial(p, obs("eyes_closed_firm")),
        evaluate_trial(p, obs("eyes_open_foam")),
        evaluate_trial(p, obs("eyes_closed_foam", 1, 12.0, [TrialEvent("balance_lost", 12.0)])),
        evaluate_trial(p, obs("eyes_closed_foam", 2, 21.0, [TrialEvent("support_used", 21.0)])),
        evaluate_trial(p, obs("eyes_closed_foam", 3)),
    ]
    res = summarise(p, trials)
    c = res.conditions["eyes_closed_foam"]
    assert c.value == pytest.approx((12 + 21 + 30) / 3) and c.status == "passed"
    assert c.n_scored == 3
    assert res.scores["total_s"] == pytest.approx(90 + 21)
    assert res.complete and all(t.scored for t in res.trials)


# ---------------------------------------------------------------------------
# score_session on recordings
# ---------------------------------------------------------------------------


def quiet_recording(duration_s=35.0, fs=50.0, gap_at_s=None, gap_s=1.0, **meta):
    """Still sensor with tiny noise; optionally a gap (missing samples)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(duration_s * fs)) / fs
    if gap_at_s is not None:
        keep = ~((t > gap_at_s) & (t < gap_at_s + gap_s))
        t = t[keep]
    acc = np.zeros((t.size, 3))
    acc[:, 0] = GRAVITY_MPS2
    acc += 0.01 * rng.standard_normal(acc.shape)
    return Recording(
        time_s=t, acc_mps2=acc, fs_nominal_hz=fs, metadata={k: str(v) for k, v in meta.items()}
    )


@pytest.fixture
def fake_chair_stand(monkeypatch):
    """A stand-in chair-stand analysis reading the count from metadata (rules under test)."""

    def fake(rec):
        return {"chair_stand": {"count": int(rec.metadata.get("true_count", 0)), "complete": True}}

    monkeypatch.setitem(registry.ANALYSES, "chair-stand", fake)


def test_score_session_chair_stand_last_attempt_counts(fake_chair_stand):
    pat = Patient(age_years=67, sex="male")
    res = score_session(
        "chair_stand_30s",
        [
            (None, 1, quiet_recording(true_count=10)),
            ("standard", 2, quiet_recording(true_count=11)),
        ],
        pat,
    )
    assert res.scores["stands"] == 11 and res.measures == {"chair_stand_stands": 11.0}
    assert [t.scored for t in res.trials] == [False, True]
    n = res.norms[0]
    assert n.at_risk is True and n.threshold == 12 and "men aged 65-69" in n.message
    assert res.flags == ("at_risk:chair_stand_below_norm",)
    # a practice attempt declared by the protocol is not scored even when better
    p = get_protocol("chair_stand_30s", practice_attempts=1)
    res = score_session(
        p, [(None, 1, quiet_recording(true_count=14)), (None, 2, quiet_recording(true_count=11))]
    )
    assert res.trials[0].practice and not res.trials[0].scored and res.scores["stands"] == 11


def test_score_session_arms_used_and_gaps(fake_chair_stand):
    res = score_session(
        "chair_stand_30s", [(None, 1, quiet_recording(true_count=12, arms_used="yes"))]
    )
    assert res.scores["stands"] == 0 and res.trials[0].reasons[0].code == "arms_used"
    res = score_session(
        "chair_stand_30s", [(None, 1, quiet_recording(true_count=12, gap_at_s=10.0))]
    )
    t = res.trials[0]
    assert t.status == "invalid" and t.reasons[0].code == "sensor_gap"
    assert res.scores["stands"] is None and not res.complete and "incomplete" in res.flags


def test_score_session_romberg_from_simulated_stances():
    eo = simulate_stance("feet_together", eyes="open", duration_s=30, seed=2).recording
    ec = simulate_stance(
        "feet_together", eyes="closed", duration_s=30, lose_balance_at_s=12, seed=3
    ).recording
    res = score_session("romberg", [("eyes_open", 1, eo), ("eyes_closed", 1, ec)])
    a, b = res.trials
    assert (a.status, a.value) == ("completed", 30.0)
    assert b.status == "failed" and b.value == pytest.approx(12.0, abs=0.5)
    assert b.reasons[0].code == "balance_lost"
    assert res.scores["romberg_ratio_rms_mps2"] > 1.0
    assert "sway_rms_mps2:romberg/eyes_open" in res.measures
    # sway of the failed trial is measured on the held part only
    assert b.analysis["sway_info"]["analysed_s"] <= 12.5


def test_score_session_four_stage_per_stance():
    recs = [
        ("feet_together", 1, simulate_stance("feet_together", duration_s=10, seed=4).recording),
        ("semi_tandem", 1, simulate_stance("semi_tandem", duration_s=10, seed=5).recording),
        (
            "tandem",
            1,
            simulate_stance("tandem", duration_s=10, lose_balance_at_s=5, seed=6).recording,
        ),
    ]
    res = score_session("steadi_four_stage", recs, Patient(age_years=80, sex="f"))
    assert res.scores["stages_held"] == 2
    assert res.scores["tandem_hold_s"] == pytest.approx(5.0, abs=0.5)
    assert res.conditions["single_leg"].status == "not_attempted"
    assert res.complete and "stopped_early" in res.flags and res.at_risk is True


def test_score_session_too_short_stance_is_invalid():
    rec = quiet_recording(duration_s=20.0)
    res = score_session("romberg", [("eyes_open", 1, rec)])
    assert res.trials[0].status == "invalid" and res.trials[0].reasons[0].code == "too_short"


def test_score_session_rejects_bad_trial_lists(fake_chair_stand):
    r = quiet_recording(true_count=10)
    with pytest.raises(ProtocolError, match="no condition"):
        score_session("romberg", [("foam", 1, r)])
    with pytest.raises(ProtocolError, match="name the trial's condition"):
        score_session("romberg", [(None, 1, r)])
    with pytest.raises(ProtocolError, match="given twice"):
        score_session("chair_stand_30s", [(None, 1, r), ("standard", 1, r)])
    with pytest.raises(ProtocolError, match="at most"):
        score_session("chair_stand_30s", [(None, i, r) for i in range(1, 6)])
    with pytest.raises(ProtocolError, match="attempt"):
        score_session("chair_stand_30s", [(None, 0, r)])
    with pytest.raises(ProtocolError, match="Recording"):
        score_session("chair_stand_30s", [(None, 1, "file.csv")])


def test_unavailable_analysis_gives_an_invalid_trial_not_a_crash(monkeypatch):
    monkeypatch.delitem(registry.ANALYSES, "tug", raising=False)
    res = score_session("tug", [(None, 1, quiet_recording())])
    t = res.trials[0]
    assert t.status == "invalid" and t.reasons[0].code == "analysis_failed"
    assert "tug" in t.reasons[0].message


def test_result_json_round_trip(fake_chair_stand):
    res = score_session(
        "chair_stand_30s",
        [(None, 1, quiet_recording(true_count=9))],
        Patient(id="p1", age_years=81, sex="female"),
    )
    d = res.as_dict()
    text = json.dumps(d, allow_nan=False)
    back = ProtocolResult.from_dict(json.loads(text))
    assert back.as_dict() == d
    assert back.norms == res.norms and back.patient == res.patient


# ---------------------------------------------------------------------------
# With the real analyses, when present in the registry
# ---------------------------------------------------------------------------


def real_analysis(monkeypatch, name):
    """The registered analysis, or (until it is registered) the module's own class."""
    if name in registry.ANALYSES:
        return
    if name == "chair-stand":
        from balance_mon.analysis.chair_stand import ChairStandTest

        def fn(rec):
            return {"chair_stand": ChairStandTest().analyze_recording(rec).result()}
    elif name == "four-stage":
        from balance_mon.analysis.balance import FourStageAnalyzer

        def fn(rec):
            return {"four_stage": FourStageAnalyzer().analyze_recording(rec).result()}
    else:
        tug = pytest.importorskip("balance_mon.analysis.tug")

        def fn(rec):
            return {"tug": tug.TugAnalyzer().analyze_recording(rec).result()}

    monkeypatch.setitem(registry.ANALYSES, name, fn)


def test_real_chair_stand_analysis(monkeypatch):
    real_analysis(monkeypatch, "chair-stand")
    from balance_mon.sim import simulate_chair_stand

    sim = simulate_chair_stand(11, seed=7)
    res = score_session(
        "chair_stand_30s", [(None, 1, sim.recording)], Patient(age_years=70, sex="male")
    )
    assert res.scores["stands"] == sim.truth["counts"]["score"] == 11
    assert res.norms[0].at_risk is True and res.trials[0].status == "completed"


def test_real_tug_analysis(monkeypatch):
    real_analysis(monkeypatch, "tug")
    from balance_mon.sim import simulate_tug

    rec = simulate_tug(total_s=13.0, seed=8).recording
    res = score_session("tug", [(None, 1, rec)])
    assert res.scores["tug_s"] == pytest.approx(13.0, abs=1.0)
    assert res.trials[0].status == "completed"


def test_real_four_stage_whole_recording(monkeypatch):
    real_analysis(monkeypatch, "four-stage")
    from balance_mon.sim import simulate_four_stage

    rec = simulate_four_stage(fail_stance="tandem", fail_at_s=4.0, seed=9).recording
    res = score_session("steadi_four_stage", [("all", 1, rec)])
    assert res.scores["stages_held"] == 2
    assert res.scores["tandem_hold_s"] == pytest.approx(4.0, abs=1.0)
    assert res.at_risk is True and res.complete
    assert [t.condition for t in res.trials] == ["feet_together", "semi_tandem", "tandem"]
    assert math.isfinite(res.trials[0].metrics["rms_mps2"])


def test_patient_validation():
    assert Patient(age_years=np.int64(70), sex="F").sex == "female"
    assert Patient(sex="other").sex == "other"
    for bad in (-1, 200, math.nan, "70", True):
        with pytest.raises(ProtocolError, match="age"):
            Patient(age_years=bad)
