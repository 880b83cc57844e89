"""The GUI's door to the patient database (:mod:`balance_mon.store`).

Everything the screens need from the store goes through :class:`AppStore`:
patients, saving a finished test or home session (scored by the store's own
``store_trial``, so results, cut-off flags and the raw recording land in one
transaction per trial), the measure series with their baselines and minimal
detectable change (MDC) bands, and flags. Scoring and writing run in a
background thread with its own SQLite connection (:meth:`AppStore.submit`),
so a long analysis never freezes the window.

Home programmes have no table in the store (yet): they are
:mod:`balance_mon.protocols.home` TOML files in ``programmes/`` next to the
database, one per patient code.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..recording import Recording
from .plans import DEFAULT_PROGRAMME, ExerciseItem

__all__ = ["AppStore", "SavedTrial", "SeriesView", "TrialToSave"]

log = logging.getLogger(__name__)


@dataclass
class TrialToSave:
    """One trial of a finished run, for the store."""

    recording: Recording
    protocol: str  #: store protocol name
    condition: str
    attempt: int | None = None
    valid: bool = True
    invalid_reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    score: bool = True  #: False: store as given (e.g. an interrupted attempt)


@dataclass
class SavedTrial:
    """A stored trial as read back from the database."""

    trial_id: int
    session_id: int
    protocol: str
    condition: str
    attempt: int
    valid: bool
    invalid_reason: str
    details: dict[str, Any]
    results: list[Any]  #: store Result rows
    flags: list[Any]  #: store Flag rows of this trial

    def value(self, metric: str) -> float | None:
        return next((r.value for r in self.results if r.metric == metric), None)


@dataclass
class SeriesView:
    """One measure's history, ready for a trend chart."""

    setting: str
    protocol: str
    condition: str
    metric: str
    label: str
    unit: str
    dates: list[str]
    values: list[float]
    baseline: float | None
    mdc: float | None
    mdc_source: str
    better: str | None
    ewma: list[float]
    flags: list[dict[str, Any]]
    cutoff: float | None = None
    status: str = ""


class AppStore:
    """Patients and results for the GUI (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        from ..store import Store

        self.path = Path(path)
        self.store = Store(self.path, create=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="balance_mon store")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.store.close()

    # -- patients ----------------------------------------------------------------------

    def patients(self) -> list[Any]:
        return self.store.patients()

    def patient(self, code: str) -> Any:
        return self.store.patient(code)

    def add_patient(
        self,
        code: str,
        *,
        birth_year: int | None = None,
        sex: str | None = None,
        height_m: float | None = None,
        notes: str = "",
        home_consent: bool = True,
    ) -> Any:
        return self.store.add_patient(
            code,
            birth_year=birth_year,
            sex=sex,
            height_m=height_m,
            notes=notes,
            home_consent=home_consent,
        )

    @staticmethod
    def age(patient: Any) -> int | None:
        return patient.age_in(dt.date.today().year)

    # -- programmes (protocols.home TOML files next to the database) ---------------

    def programme_path(self, patient: Any) -> Path:
        """``programmes/<code>.toml`` next to the database (the store has no programme table)."""
        return self.path.parent / "programmes" / f"{patient.code}.toml"

    def programme(self, patient: Any) -> list[ExerciseItem]:
        """The patient's programme (:func:`balance_mon.protocols.load_programme`), as the
        repetition exercises home mode runs; :data:`DEFAULT_PROGRAMME` when none is set."""
        from ..protocols import ProgrammeError, load_programme

        path = self.programme_path(patient)
        if not path.exists():
            return list(DEFAULT_PROGRAMME)
        try:
            prog = load_programme(path)
        except ProgrammeError as exc:
            log.warning("%s", exc)
            return list(DEFAULT_PROGRAMME)
        items = [
            ExerciseItem(e.name, e.sets, e.reps, float(e.rest_s))
            for e in prog.exercises
            if e.reps is not None  # hold exercises are not run in home mode yet
        ]
        return items or list(DEFAULT_PROGRAMME)

    def _stored_limit(self, patient: Any) -> float | None:
        from ..protocols import ProgrammeError, load_programme

        path = self.programme_path(patient)
        if not path.exists():
            return None
        try:
            return load_programme(path).trunk_flexion_limit_deg
        except ProgrammeError:
            return None

    def trunk_flexion_limit(self, patient: Any) -> float:
        """The patient's trunk flexion warning limit, deg: the programme's
        ``trunk_flexion_limit_deg``, else the default (30 deg)."""
        from ..protocols import ProgrammeError, load_programme
        from ..protocols.home import DEFAULT_TRUNK_FLEXION_LIMIT_DEG

        path = self.programme_path(patient)
        if not path.exists():
            return DEFAULT_TRUNK_FLEXION_LIMIT_DEG
        try:
            return load_programme(path).flexion_limit_deg
        except ProgrammeError as exc:
            log.warning("%s", exc)
            return DEFAULT_TRUNK_FLEXION_LIMIT_DEG

    def set_trunk_flexion_limit(self, patient: Any, limit_deg: float | None) -> Path:
        """Set the limit in the patient's programme file (None: back to the default);
        a patient without a file gets the default programme with it."""
        from dataclasses import replace

        from ..protocols import load_programme, save_programme

        path = self.programme_path(patient)
        if not path.exists():
            self.set_programme(patient, list(DEFAULT_PROGRAMME))
        prog = replace(load_programme(path), trunk_flexion_limit_deg=limit_deg)
        return save_programme(prog, path)  # checked by reading it back: 10-90 deg

    def set_programme(self, patient: Any, items: list[ExerciseItem]) -> Path:
        """Write the patient's programme (:func:`balance_mon.protocols.save_programme`);
        keeps the trunk flexion limit of the file it replaces."""
        from ..protocols import HomeProgramme, PlannedExercise, save_programme

        prog = HomeProgramme(
            name=f"Home programme of {patient.code}",
            exercises=tuple(
                PlannedExercise(i.exercise, sets=i.sets, reps=i.reps, rest_s=i.rest_s)
                for i in items
            ),
            patient=patient.code,
            created=dt.date.today(),
            trunk_flexion_limit_deg=self._stored_limit(patient),
        )
        path = self.programme_path(patient)
        path.parent.mkdir(parents=True, exist_ok=True)
        return save_programme(prog, path)

    # -- saving a run -----------------------------------------------------------------------

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run ``fn`` on the store thread."""
        return self._pool.submit(fn)

    def save_run(
        self,
        patient_code: str,
        *,
        setting: str,
        started: str,
        device: str,
        trials: list[TrialToSave],
        operator: str = "",
    ) -> tuple[int, list[SavedTrial], list[dict[str, Any]]]:
        """Store a session and its trials (call on the store thread: opens its own connection).

        Returns (session id, the stored trials read back, change/trend flags refreshed).
        """
        from ..store import Store
        from ..store.importer import refresh_flags

        with self._lock, Store(self.path) as st:
            patient = st.patient(patient_code)
            session = st.add_session(
                patient, setting=setting, started=started, device=device, operator=operator
            )
            age = patient.age_in(session.date.year)
            stored = []
            for t in trials:
                if t.score:
                    trial = _score_and_add(st, session, t, age=age, sex=patient.sex)
                else:
                    trial = st.add_trial(
                        session,
                        protocol=t.protocol,
                        condition=t.condition,
                        attempt=t.attempt,
                        valid=t.valid,
                        invalid_reason=t.invalid_reason,
                        details={"run": t.details},
                        recording=t.recording,
                        source=t.source,
                    )
                stored.append(trial.id)
            st.complete_session(session.id)
            trend = refresh_flags(st, patient)
            flags = st.flags(patient)
            out = []
            for tid in stored:
                tr = st.trial(tid)
                out.append(
                    SavedTrial(
                        trial_id=tr.id,
                        session_id=tr.session_id,
                        protocol=tr.protocol,
                        condition=tr.condition,
                        attempt=tr.attempt,
                        valid=tr.valid,
                        invalid_reason=tr.invalid_reason,
                        details=tr.details,
                        results=st.results(tr),
                        flags=[f for f in flags if f.trial_id == tr.id],
                    )
                )
            return session.id, out, trend

    # -- history ----------------------------------------------------------------------------

    def sessions(self, patient: Any) -> list[tuple[Any, list[tuple[Any, list[Any]]]]]:
        """Every session of ``patient`` with its trials and their current results."""
        out = []
        for s in self.store.sessions(patient):
            trials = [(t, self.store.results(t)) for t in self.store.trials(s)]
            out.append((s, trials))
        return out

    def flags(self, patient: Any) -> list[Any]:
        return self.store.flags(patient)

    def series(self, patient: Any) -> list[SeriesView]:
        """Headline measures with at least two sessions, as the store's trends see them
        (:func:`balance_mon.store.trends.trends`: baseline, MDC band, EWMA, flags)."""
        from ..store.trends import trends

        views = []
        for t in trends(self.store, patient, primary_only=True):
            if len(t.points) < 2:
                continue
            views.append(
                SeriesView(
                    setting=t.setting,
                    protocol=t.protocol,
                    condition=t.condition,
                    metric=t.metric,
                    label=t.label,
                    unit=t.unit,
                    dates=[p.date for p in t.points],
                    values=[p.value for p in t.points],
                    baseline=t.baseline,
                    mdc=t.mdc,
                    mdc_source=t.mdc_source,
                    better=t.better,
                    ewma=[math.nan if v is None else float(v) for v in t.ewma],
                    flags=[
                        {"reason": f.reason, "kind": f.kind}
                        for f in t.flags
                        if f.kind in ("change", "trend")
                    ],
                    cutoff=t.cutoff,
                    status=t.status,
                )
            )
        return views

    def load_recording(self, recording_id: int) -> Recording:
        return self.store.load_recording(recording_id)

    def measure_label(self, metric: str) -> tuple[str, str]:
        from ..store import scoring

        info = scoring.measure_info(metric)
        return info.label, info.unit


def _score_and_add(st: Any, session: Any, t: TrialToSave, *, age: Any, sex: Any) -> Any:
    """``store.importer.store_trial`` plus the runner's marks in the trial details.

    Same steps as store_trial (score through ``store.scoring``, cut-off flags,
    quality report, one ``add_trial`` transaction); the runner's own record of
    the trial (step times, interruptions, live counts) goes under ``run``.
    """
    from ..recording import quality_report
    from ..store import scoring

    scored = scoring.score(t.recording, t.protocol, t.condition, age=age, sex=sex)
    flags = scoring.cutoff_flags(t.protocol, scored, age=age, sex=sex)
    q = quality_report(t.recording)
    valid = scored.valid and q.valid and t.valid
    reason = t.invalid_reason or scored.reason or "; ".join(q.reasons)
    details = dict(scored.details)
    details["quality"] = {k: v for k, v in q.as_dict().items() if k != "gap_list"}
    if t.details:
        details["run"] = t.details
    return st.add_trial(
        session,
        protocol=t.protocol,
        condition=t.condition,
        attempt=t.attempt,
        valid=valid,
        invalid_reason="" if valid else reason,
        details=details,
        results=scored.metrics,
        recording=t.recording,
        source=t.source,
        flags=flags if valid else [],
    )
