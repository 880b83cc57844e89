"""A patient's history: many sessions over weeks, balance slowly worsening.

The history itself is a cheap table (dates and the true test outcomes of each
session); the raw recordings of a session are generated only on request with
:meth:`HistorySession.simulate`, reproducibly from the seeds in its truth.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SimulationError
from ._body import Subject
from ._result import SIM_VERSION, SimResult, check_seed, jsonable
from ._scenarios import (
    _int,
    _num,
    simulate_chair_stand,
    simulate_four_stage,
    simulate_romberg,
    simulate_stance,
    simulate_tug,
    sub_seed,
)
from ._sensor import SensorSpec

__all__ = ["HISTORY_TESTS", "HistorySession", "SimHistory", "simulate_history"]

#: Tests a history session can produce recordings of.
HISTORY_TESTS = ("chair_stand", "tug", "romberg", "four_stage", "stance")


@dataclass(frozen=True)
class HistorySession:
    """One session of a simulated history (cheap: no raw data until :meth:`simulate`)."""

    index: int
    date: dt.date
    subject: Subject
    truth: dict[str, Any]

    def simulate(self, test: str, *, sensor: SensorSpec | None = None) -> SimResult:
        """The raw recording of one test of this session, matching ``truth``.

        ``test``: ``chair_stand`` (the session's stands and partial stand),
        ``tug`` (the session's TUG time), ``romberg`` (one recording),
        ``four_stage`` (all stances held), ``stance`` (30 s feet together, eyes open).
        """
        seeds = self.truth["seeds"]
        if test == "chair_stand":
            cs = self.truth["chair_stand"]
            r = simulate_chair_stand(
                cs["stands"],
                partial=cs["partial"],
                sensor=sensor,
                subject=self.subject,
                seed=seeds["chair_stand"],
            )
        elif test == "tug":
            r = simulate_tug(
                total_s=self.truth["tug_s"], sensor=sensor, subject=self.subject, seed=seeds["tug"]
            )
        elif test == "romberg":
            r = simulate_romberg(sensor=sensor, subject=self.subject, seed=seeds["romberg"])
            assert isinstance(r, SimResult)
        elif test == "four_stage":
            r = simulate_four_stage(sensor=sensor, subject=self.subject, seed=seeds["four_stage"])
        elif test == "stance":
            r = simulate_stance(
                "feet_together",
                duration_s=30.0,
                sensor=sensor,
                subject=self.subject,
                seed=seeds["stance"],
            )
        else:
            raise SimulationError(f"unknown history test {test!r}; use {', '.join(HISTORY_TESTS)}")
        r.truth["history"] = {
            "session": self.index,
            "date": self.date.isoformat(),
            "week": self.truth["week"],
        }
        meta = dict(r.recording.metadata)
        meta["date"] = self.date.isoformat()
        return SimResult(
            recording=r.recording.replace(metadata=meta), truth=r.truth, signals=r.signals
        )


@dataclass(frozen=True)
class SimHistory:
    """Sessions in date order plus the truth of the whole history (a sequence of sessions)."""

    sessions: tuple[HistorySession, ...]
    truth: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sessions)

    def __iter__(self) -> Iterator[HistorySession]:
        return iter(self.sessions)

    def __getitem__(self, i: int) -> HistorySession:
        return self.sessions[i]

    def write(
        self,
        folder: str | Path,
        *,
        tests: Sequence[str] = ("chair_stand", "tug"),
        sensor: SensorSpec | None = None,
    ) -> list[Path]:
        """Generate and write every session's recordings (``<date>_<test>.csv``) and
        ``history.truth.json``; returns the recording paths."""
        import json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for s in self.sessions:
            for test in tests:
                p = folder / f"{s.date.isoformat()}_{test}.csv"
                s.simulate(test, sensor=sensor).write(p)
                out.append(p)
        (folder / "history.truth.json").write_text(
            json.dumps(self.truth, indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        return out


def _weekday_offsets(per_week: int) -> list[int]:
    return sorted({int(round(7 * k / per_week)) for k in range(per_week)})


def simulate_history(
    *,
    weeks: int = 12,
    sessions_per_week: int = 2,
    start_date: str | dt.date = "2025-01-06",
    chair_stand_start: float = 12.0,
    chair_stand_end: float = 9.5,
    tug_start_s: float = 10.5,
    tug_end_s: float = 12.5,
    sway_scale_start: float = 1.0,
    sway_scale_end: float = 1.5,
    chair_stand_sd: float = 0.9,
    tug_sd_s: float = 0.6,
    sway_cv: float = 0.12,
    subject: Subject | None = None,
    seed: int = 0,
) -> SimHistory:
    """A patient's sessions over ``weeks`` weeks with slowly worsening balance.

    The true ability changes linearly from the ``*_start`` to the ``*_end``
    values; each session adds independent day-to-day noise (chair-stand SD
    ``chair_stand_sd`` stands, TUG SD ``tug_sd_s``, sway log-normal CV
    ``sway_cv``), comparable to published test-retest errors (chair stand MDC
    about 2.5 stands, TUG MDC about 1-2 s; clinical.md section 4). Returns a
    :class:`SimHistory`; each session's ``truth`` has its date, the trend
    values and the session's true outcomes, and ``simulate(test)`` produces
    its recordings on demand.
    """
    seed = check_seed(seed)
    _int("weeks", weeks, 1, 260)
    _int("sessions_per_week", sessions_per_week, 1, 7)
    if isinstance(start_date, str):
        try:
            start = dt.date.fromisoformat(start_date)
        except ValueError:
            raise SimulationError(f"start_date {start_date!r} is not a YYYY-MM-DD date") from None
    elif isinstance(start_date, dt.date):
        start = start_date
    else:
        raise SimulationError(f"start_date must be a date or YYYY-MM-DD text, got {start_date!r}")
    cs0 = _num("chair_stand_start", chair_stand_start, 2.0, 25.0)
    cs1 = _num("chair_stand_end", chair_stand_end, 2.0, 25.0)
    tug0 = _num("tug_start_s", tug_start_s, 9.0, 40.0)
    tug1 = _num("tug_end_s", tug_end_s, 9.0, 40.0)
    sw0 = _num("sway_scale_start", sway_scale_start, 0.3, 5.0)
    sw1 = _num("sway_scale_end", sway_scale_end, 0.3, 5.0)
    cs_sd = _num("chair_stand_sd", chair_stand_sd, 0.0, 5.0)
    tug_sd = _num("tug_sd_s", tug_sd_s, 0.0, 5.0)
    sway_cv = _num("sway_cv", sway_cv, 0.0, 1.0)
    subject = subject or Subject()
    rng = np.random.default_rng([seed, 4242])
    offsets = _weekday_offsets(sessions_per_week)
    total_days = 7 * weeks
    sessions = []
    for w in range(weeks):
        for off in offsets:
            i = len(sessions)
            day = 7 * w + off
            frac = day / max(total_days - 1, 1)
            cs_trend = cs0 + (cs1 - cs0) * frac
            tug_trend = tug0 + (tug1 - tug0) * frac
            sw_trend = sw0 * (sw1 / sw0) ** frac
            cs = float(np.clip(cs_trend + cs_sd * rng.standard_normal(), 1.0, 25.0))
            # floor: the fastest TUG the default subject's transition and turn
            # times allow at a walking speed of at most 1.6 m/s (simulate_tug)
            tug = float(np.clip(tug_trend + tug_sd * rng.standard_normal(), 10.1, 60.0))
            sway = float(
                np.clip(
                    sw_trend * math.exp(sway_cv * rng.standard_normal() - 0.5 * sway_cv**2),
                    0.2,
                    8.0,
                )
            )
            stands = int(math.floor(cs))
            partial = round(min(cs - stands, 0.95), 3)
            sess_seed = sub_seed(seed, 1000 + i)
            date = start + dt.timedelta(days=day)
            subj = replace(subject, sway_scale=sway)
            truth = {
                "session": i,
                "date": date.isoformat(),
                "week": w + 1,
                "trend": {"chair_stand": cs_trend, "tug_s": tug_trend, "sway_scale": sw_trend},
                "chair_stand": {
                    "stands": stands,
                    "partial": partial,
                    "score": stands + (1 if partial > 0.5 else 0),
                },
                "tug_s": tug,
                "sway_scale": sway,
                "expected_sway_angle_sd_deg": _expected_sway(sway),
                "seeds": {t: sub_seed(sess_seed, j) for j, t in enumerate(HISTORY_TESTS)},
            }
            sessions.append(HistorySession(index=i, date=date, subject=subj, truth=jsonable(truth)))
    truth = jsonable(
        {
            "simulator": {"name": "balance_mon.sim", "version": SIM_VERSION},
            "scenario": "history",
            "seed": seed,
            "parameters": {
                "weeks": weeks,
                "sessions_per_week": sessions_per_week,
                "start_date": start.isoformat(),
                "chair_stand_start": cs0,
                "chair_stand_end": cs1,
                "tug_start_s": tug0,
                "tug_end_s": tug1,
                "sway_scale_start": sw0,
                "sway_scale_end": sw1,
                "chair_stand_sd": cs_sd,
                "tug_sd_s": tug_sd,
                "sway_cv": sway_cv,
            },
            "subject": subject.as_dict(),
            "sessions": [s.truth for s in sessions],
        }
    )
    return SimHistory(sessions=tuple(sessions), truth=truth)


def _expected_sway(scale: float) -> dict[str, float]:
    from ._sway import stance_params

    ap, ml = stance_params("feet_together", "open", "firm", scale)
    return {"ap": ap.target_deg, "ml": ml.target_deg}
