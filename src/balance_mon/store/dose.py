"""A patient's weekly exercise dose from the stored sessions (docs/bone.md).

Every stored trial is an exercise bout: its category (strength, balance,
posture, weight-bearing aerobic) comes from its protocol and condition
(exercise) through :func:`balance_mon.risk.dose.category_of`, its length
from its raw recording, its day from its session. Tests that are not
training (TUG) are left out; invalid trials count (the patient exercised,
the recording was doubtful). :func:`patient_weekly_dose` adds one week up
with :func:`balance_mon.risk.dose.weekly_dose`.

This is the store's door to :mod:`balance_mon.risk.dose`, kept apart from
:mod:`.scoring` (which adapts the session-scoring parts of ``risk``).
"""

from __future__ import annotations

import datetime as dt

from ..risk.dose import Activity, WeeklyDose, category_of, weekly_dose
from .db import Patient, Store

__all__ = ["patient_activities", "patient_weekly_dose"]


def patient_activities(store: Store, patient: Patient) -> list[Activity]:
    """Every stored trial of ``patient`` that is exercise, as an :class:`Activity`."""
    rows = store._query(
        "SELECT t.protocol, t.condition, s.id AS sid, s.started, r.duration_s "
        "FROM trials t JOIN sessions s ON s.id = t.session_id "
        "LEFT JOIN recordings r ON r.id = t.recording_id "
        "WHERE s.patient_id = ? ORDER BY s.started, t.id",
        (patient.id,),
    )
    out = []
    for r in rows:
        cat = category_of(r["protocol"], r["condition"])
        if cat is None:
            continue
        out.append(
            Activity(
                day=dt.date.fromisoformat(str(r["started"])[:10]),
                category=cat,
                minutes=float(r["duration_s"] or 0.0) / 60.0,
                session=str(r["sid"]),
                source=f"{r['protocol']} {r['condition']}".strip(),
            )
        )
    return out


def patient_weekly_dose(
    store: Store, patient: Patient, *, week_of: dt.date | None = None
) -> WeeklyDose | None:
    """The dose of the week containing ``week_of`` (default: the latest session's week).

    None when the patient has no session.
    """
    if week_of is None:
        sessions = store.sessions(patient)
        if not sessions:
            return None
        week_of = max(s.date for s in sessions)
    return weekly_dose(patient_activities(store, patient), week_of=week_of)
