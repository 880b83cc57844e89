"""Patients, sessions, trials, results and raw recordings in one SQLite file.

See docs/store.md. The main entry points:

- :class:`Store` (``with Store(path, create=True) as st: ...``),
  :func:`default_db_path`;
- :func:`plan_import` / :func:`run_import`: recordings into sessions;
- :func:`recompute`: today's algorithms on the stored raw data;
- :func:`series` / :func:`refresh_flags` / :func:`trends`: measure series, their
  flags and chart data;
- :mod:`.scoring`: the adapter to ``protocols`` and ``risk``;
- :func:`patient_weekly_dose`: the week's exercise dose against the
  osteoporosis guidelines (:mod:`.dose`).
"""

from .db import (
    DB_ENV,
    Flag,
    MetricValue,
    Patient,
    Result,
    Session,
    Store,
    StoreError,
    Trial,
    default_db_path,
)
from .dose import patient_activities, patient_weekly_dose
from .importer import ImportItem, ImportSummary, plan_import, refresh_flags, run_import, series
from .recompute import Change, TrialChanges, recompute
from .trends import MeasureTrend, trends

__all__ = [
    "DB_ENV",
    "Change",
    "Flag",
    "ImportItem",
    "ImportSummary",
    "MeasureTrend",
    "MetricValue",
    "Patient",
    "Result",
    "Session",
    "Store",
    "StoreError",
    "Trial",
    "TrialChanges",
    "default_db_path",
    "patient_activities",
    "patient_weekly_dose",
    "plan_import",
    "recompute",
    "refresh_flags",
    "run_import",
    "series",
    "trends",
]
