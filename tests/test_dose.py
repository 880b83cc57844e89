"""Weekly exercise dose (risk.dose), its store adapter and its report section."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from balance_mon.risk import (
    CATEGORIES,
    GUIDELINES,
    Activity,
    RiskError,
    category_of,
    week_start,
    weekly_dose,
)
from balance_mon.store import (
    Store,
    patient_activities,
    patient_weekly_dose,
    plan_import,
    run_import,
)

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / "sample_data" / "simulated" / "home"
CLINIC = ROOT / "sample_data" / "simulated" / "clinic"
MON = dt.date(2025, 3, 3)  # a Monday


def _day(n: int) -> dt.date:
    return MON + dt.timedelta(days=n)


def test_week_start_is_monday() -> None:
    assert week_start(dt.date(2025, 3, 9)) == MON  # Sunday
    assert week_start(MON) == MON
    assert week_start(dt.date(2025, 3, 10)) == dt.date(2025, 3, 10)


def test_guideline_doses_follow_clinical_reference() -> None:
    assert GUIDELINES["strength"].min_days == 2
    assert GUIDELINES["balance"].min_days == 2
    assert GUIDELINES["posture"].min_days == 7
    assert GUIDELINES["aerobic"].min_minutes == 150
    assert GUIDELINES["aerobic"].min_bout_minutes == 10
    assert tuple(GUIDELINES) == CATEGORIES


def test_weekly_dose_counts_days_sessions_and_bouts() -> None:
    acts = [
        Activity(_day(0), "strength", 20, session="a"),
        Activity(_day(0), "balance", 10, session="a"),
        Activity(_day(2), "strength", 15, session="b"),
        Activity(_day(2), "strength", 5, session="b"),  # same session, same day
        Activity(_day(1), "aerobic", 35, session="c"),
        Activity(_day(3), "aerobic", 8, session="d"),  # too short to count
        Activity(_day(4), "aerobic", 40, session="e"),
        Activity(_day(7), "strength", 30, session="f"),  # next week
        Activity(_day(-1), "posture", 10, session="g"),  # previous week
    ]
    w = weekly_dose(acts, week_of=_day(5))
    assert w.week_start == MON and w.week_end == _day(6)
    s = w.category("strength")
    assert (s.days, s.sessions, s.minutes, s.met) == (2, 2, 40.0, True)
    b = w.category("balance")
    assert (b.days, b.met, b.fraction) == (1, False, 0.5)
    p = w.category("posture")
    assert (p.days, p.met) == (0, False)
    a = w.category("aerobic")
    assert a.minutes == 83.0 and a.counted_minutes == 75.0
    assert a.fraction == pytest.approx(0.5) and not a.met
    assert w.met_count == 1
    assert w.adherence == pytest.approx((1.0 + 0.5 + 0.0 + 0.5) / 4)
    # the texts carry the numbers
    assert "strength 2 days (goal 2 days, met)" in w.therapist_text
    assert "aerobic 75 min (goal 150 min, 50 %)" in w.therapist_text
    assert "Guideline doses met: 1 of 4" in w.therapist_text
    assert "75 more minutes" in w.patient_text
    assert "8 minutes came in shorter bouts" in w.patient_text
    assert "One more day reaches the goal" in w.patient_text  # balance
    assert w.as_dict()["guidelines_met"] == 1


def test_everything_met_and_nothing_done() -> None:
    acts = [Activity(_day(d), c, 30) for d in range(7) for c in CATEGORIES]
    full = weekly_dose(acts, week_of=MON)
    assert full.met_count == 4 and full.adherence == 1.0
    assert full.patient_text.startswith("A great week")
    empty = weekly_dose([], week_of=MON)
    assert empty.met_count == 0 and empty.adherence == 0.0
    assert empty.patient_text.startswith("No exercise was recorded")


def test_activity_validation() -> None:
    with pytest.raises(RiskError):
        Activity(MON, "yoga", 10)
    with pytest.raises(RiskError):
        Activity(MON, "strength", -1)


@pytest.mark.parametrize(
    ("protocol", "condition", "expected"),
    [
        ("reps", "squat/default", "strength"),
        ("reps", "push_up/wall", "strength"),
        ("reps", "stair_climb/up", "aerobic"),
        ("reps", "straight_walking_at_comfortable_speed", "aerobic"),
        ("reps", "back_extension", "posture"),
        ("reps", "posture/wall_angel", "posture"),
        ("sway", "tandem/eyes_open/firm", "balance"),
        ("steadi_four_stage", "whole", "balance"),
        ("chair_stand_30s", "standard", "strength"),
        ("tug", "standard", None),
        ("reps", "", None),
    ],
)
def test_category_of(protocol: str, condition: str, expected: str | None) -> None:
    assert category_of(protocol, condition) == expected


@pytest.fixture(scope="module")
def dose_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dose") / "bm.sqlite3"
    plan = [
        (HOME / "set_squat_thigh.csv", 0),
        (HOME / "set_heel_raise_lower_back.csv", 2),
        (HOME / "set_stair_climb_lower_back.csv", 2),
        (CLINIC / "stance_tandem.csv", 3),
        (CLINIC / "tug.csv", 4),  # a test, not training
        (HOME / "set_push_up_sternum.csv", 9),  # the next week
    ]
    with Store(path, create=True) as st:
        p = st.add_patient("D001", birth_year=1950, sex="female", home_consent=True)
        for f, d in plan:
            items = plan_import(st, p, [f], protocol="auto", date=_day(d).isoformat())
            run_import(st, p, items, setting="home")
    return path


def test_store_activities_and_weekly_dose(dose_db: Path) -> None:
    with Store(dose_db) as st:
        p = st.patient("D001")
        acts = patient_activities(st, p)
        assert [a.category for a in acts] == [
            "strength",
            "strength",
            "aerobic",
            "balance",
            "strength",
        ]
        assert all(a.minutes > 0.1 for a in acts)
        first = patient_weekly_dose(st, p, week_of=MON)
        latest = patient_weekly_dose(st, p)
    assert first is not None and latest is not None
    assert first.category("strength").days == 2 and first.category("strength").met
    assert first.category("balance").days == 1
    assert first.category("aerobic").counted_minutes == 0.0  # a 20-s stair set is no 10-min bout
    assert latest.week_start == dt.date(2025, 3, 10)
    assert latest.category("strength").days == 1


def test_no_session_no_dose(tmp_path: Path) -> None:
    with Store(tmp_path / "e.sqlite3", create=True) as st:
        p = st.add_patient("E001")
        assert patient_weekly_dose(st, p) is None


def test_longitudinal_report_has_weekly_dose_section(dose_db: Path, tmp_path: Path) -> None:
    pypdfium2 = pytest.importorskip("pypdfium2")
    from balance_mon.report.pdf import longitudinal_report

    with Store(dose_db) as st:
        out = longitudinal_report(st, st.patient("D001"), tmp_path / "l.pdf", invariant=True)
    pdf = pypdfium2.PdfDocument(out)
    try:
        text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()
    text = " ".join(text.split())
    assert "Weekly exercise dose (2025-03-10 to 2025-03-16)" in text
    assert "Posture exercises" in text and "Strength training" in text
    # that week: one push-up set, so no dose met yet
    assert "strength 1 day (goal 2 days, 50 %)" in text
    assert "Guideline doses met: 0 of 4" in text
    assert "For the patient:" in text
