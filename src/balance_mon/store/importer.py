"""Import recordings into sessions: plan (check everything), then store trial by trial.

:func:`plan_import` reads every file and checks it (readable, plausible
units, a known protocol and condition, long enough for the protocol) before
anything is written: bad input changes nothing. :func:`run_import` then
stores one trial per file, each in its own transaction (raw recording,
trial, results and cut-off flags together), so an interrupted import keeps
every trial it finished and a repeated import skips the recordings already
stored (same SHA-256 for the same patient) and completes the rest.
After the trials, the patient's change and trend flags are re-evaluated.

Dates: ``--date``, else the recording's ``date`` / ``start_utc`` /
``start_unix_s`` metadata, else a ``YYYY-MM-DD`` prefix of the file name,
else the time of the import. Files of one date-time and setting form one
session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RecordingError, UnitsError
from ..recording import Recording, quality_report
from . import scoring
from .db import (
    Patient,
    Session,
    Store,
    StoreError,
    Trial,
    normalize_datetime,
    recording_to_bytes,
)

__all__ = ["ImportItem", "ImportSummary", "plan_import", "refresh_flags", "run_import"]

#: File suffixes a folder import picks up.
RECORDING_SUFFIXES = (".csv", ".bmr")

_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T_ ](\d{2})[-:h]?(\d{2}))?")


@dataclass
class ImportItem:
    """One file checked and ready to store."""

    path: Path
    recording: Recording
    raw: bytes
    sha256: str
    protocol: str
    condition: str
    started: str
    duplicate_of: Trial | None = None


@dataclass
class ImportSummary:
    sessions: list[Session] = field(default_factory=list)
    trials: list[Trial] = field(default_factory=list)
    skipped: list[tuple[Path, Trial]] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)


def _files(paths: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f for f in p.iterdir() if f.is_file() and f.suffix.lower() in RECORDING_SUFFIXES
            )
            if not found:
                raise StoreError(f"{p}: no recordings (.csv or .bmr files) in this folder")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise StoreError(f"{p}: no such file or folder")
    if not out:
        raise StoreError("no recording given")
    return out


def _started(rec: Recording, path: Path, date: str | None) -> str:
    if date:
        return normalize_datetime(date)
    meta = rec.metadata
    if meta.get("date"):
        return normalize_datetime(str(meta["date"]))
    if meta.get("start_utc"):
        return normalize_datetime(str(meta["start_utc"]).replace("Z", "+00:00"))
    if meta.get("start_unix_s"):
        try:
            t = float(meta["start_unix_s"])
            return dt.datetime.fromtimestamp(t).isoformat(timespec="seconds")
        except (ValueError, OverflowError, OSError):
            pass
    m = _DATE_PREFIX.match(path.name)
    if m:
        try:
            day = dt.date.fromisoformat(m.group(1)).isoformat()
        except ValueError:
            pass
        else:
            return f"{day}T{m.group(2)}:{m.group(3)}:00" if m.group(2) else day
    return dt.datetime.now().isoformat(timespec="seconds")


def plan_import(
    store: Store,
    patient: Patient,
    paths: Sequence[str | Path],
    *,
    protocol: str,
    condition: str | None = None,
    date: str | None = None,
) -> list[ImportItem]:
    """Read and check every file; raise a BalanceMonError naming the first bad one."""
    from ..io import load_recording

    auto = protocol.strip().lower() == "auto"
    fixed = None if auto else scoring.get_protocol(protocol)
    if fixed is not None and condition is not None:
        scoring.resolve_condition(fixed, condition)
    if date:
        normalize_datetime(date)
    items: list[ImportItem] = []
    for path in _files(paths):
        rec = load_recording(path)
        q = quality_report(rec)
        for problem in q.fatal:
            exc = UnitsError if problem.code.startswith(("units", "no_gravity")) else RecordingError
            msg = problem.message
            raise exc(msg if msg.startswith(str(path)) else f"{path}: {msg}")
        if fixed is None:
            name, meta_cond = scoring.infer_protocol(rec)
            p = scoring.get_protocol(name)
            cond = scoring.resolve_condition(p, condition if condition is not None else meta_cond)
        else:
            p = fixed
            meta_cond = scoring._condition_from_meta(p, str(rec.metadata.get("condition", "")))
            cond = scoring.resolve_condition(p, condition if condition is not None else meta_cond)
        scoring.check_duration(rec, p)
        raw = recording_to_bytes(rec)
        sha = hashlib.sha256(raw).hexdigest()
        items.append(
            ImportItem(
                path=path,
                recording=rec,
                raw=raw,
                sha256=sha,
                protocol=p.name,
                condition=cond,
                started=_started(rec, path, date),
                duplicate_of=store.find_recording(patient, sha),
            )
        )
    seen: dict[str, Path] = {}
    for it in items:
        if it.sha256 in seen:
            raise StoreError(f"{it.path}: same recording as {seen[it.sha256]}; give it once")
        seen[it.sha256] = it.path
    return items


def run_import(
    store: Store,
    patient: Patient,
    items: Sequence[ImportItem],
    *,
    setting: str = "clinic",
    device: str = "",
    operator: str = "",
    on_trial: Callable[[ImportItem, Trial | None], None] | None = None,
) -> ImportSummary:
    """Store ``items`` (from :func:`plan_import`): one transaction per trial."""
    summary = ImportSummary()
    groups: dict[str, list[ImportItem]] = {}
    for it in sorted(items, key=lambda i: (i.started, str(i.path))):
        groups.setdefault(it.started, []).append(it)
    for started, group in groups.items():
        todo = [it for it in group if it.duplicate_of is None]
        for it in group:
            if it.duplicate_of is not None:
                summary.skipped.append((it.path, it.duplicate_of))
                if on_trial:
                    on_trial(it, None)
        if not todo:  # e.g. an import killed after its last trial: finish the session
            done = store.find_session(patient, started, setting)
            if done is not None and done.status != "complete":
                store.complete_session(done.id)
            continue
        session = store.find_session(patient, started, setting)
        if session is None:
            dev = device or str(todo[0].recording.metadata.get("device", ""))
            session = store.add_session(
                patient, setting=setting, started=started, device=dev, operator=operator
            )
        summary.sessions.append(session)
        year = session.date.year
        for it in todo:
            trial = store_trial(
                store,
                session,
                it.recording,
                protocol=it.protocol,
                condition=it.condition,
                age=patient.age_in(year),
                sex=patient.sex,
                raw=it.raw,
                source=it.path.name,
            )
            summary.trials.append(trial)
            if on_trial:
                on_trial(it, trial)
        store.complete_session(session.id)
    summary.flags = refresh_flags(store, patient)
    return summary


def store_trial(
    store: Store,
    session: Session,
    rec: Recording,
    *,
    protocol: str,
    condition: str,
    age: int | None,
    sex: str | None,
    raw: bytes | None = None,
    source: str = "",
) -> Trial:
    """Score ``rec`` and store it with its results and cut-off flags (one transaction)."""
    scored = scoring.score(rec, protocol, condition, age=age, sex=sex)
    flags = scoring.cutoff_flags(protocol, scored, age=age, sex=sex)
    q = quality_report(rec)
    valid = scored.valid and q.valid
    reason = scored.reason or "; ".join(q.reasons)
    details = dict(scored.details)
    details["quality"] = {k: v for k, v in q.as_dict().items() if k != "gap_list"}
    return store.add_trial(
        session,
        protocol=protocol,
        condition=condition,
        valid=valid,
        invalid_reason="" if valid else reason,
        details=details,
        results=scored.metrics,
        recording=rec,
        raw=raw,
        source=source,
        flags=flags if valid else [],
    )


def series(
    store: Store, patient: Patient, *, setting: str | None = None
) -> dict[tuple[str, str, str, str], list[scoring.Point]]:
    """Every measure's series: key (setting, protocol, condition, metric) -> points.

    A point is the mean over a session's valid trials (attempts) of the
    measure; invalid trials are left out. Home and clinic series are kept apart
    (clinical.md section 4).
    """
    out: dict[tuple[str, str, str, str], dict[int, list[float]]] = {}
    dates: dict[int, str] = {}
    for s in store.sessions(patient):
        if setting is not None and s.setting != setting:
            continue
        dates[s.id] = s.started
        for t in store.trials(s):
            if not t.valid:
                continue
            for r in store.results(t):
                if r.value is None:
                    continue
                key = (s.setting, t.protocol, t.condition, r.metric)
                out.setdefault(key, {}).setdefault(s.id, []).append(r.value)
    return {
        key: [
            scoring.Point(date=dates[sid], value=sum(v) / len(v), session_id=sid)
            for sid, v in sorted(per.items(), key=lambda kv: (dates[kv[0]], kv[0]))
        ]
        for key, per in out.items()
    }


def attempts(
    store: Store, patient: Patient
) -> dict[tuple[str, str, str, str], list[scoring.Attempt]]:
    """Every valid result by (setting, protocol, condition, metric), attempt by attempt."""
    out: dict[tuple[str, str, str, str], list[scoring.Attempt]] = {}
    for s in store.sessions(patient):
        for t in store.trials(s):
            if not t.valid:
                continue
            for r in store.results(t):
                if r.value is None:
                    continue
                out.setdefault((s.setting, t.protocol, t.condition, r.metric), []).append(
                    scoring.Attempt(s.started, r.value, t.attempt, s.id, s.setting)
                )
    return out


def trend_of(
    key: tuple[str, str, str, str],
    points: list[scoring.Point],
    tries: list[scoring.Attempt],
) -> tuple[list[dict], dict]:
    """(flags, summary) of one series: ``balance_mon.risk`` when it knows the measure,
    else the built-in rules (:func:`scoring.trend_flags`)."""
    _setting, protocol, condition, metric = key
    via_risk = scoring.evaluate_trend(protocol, condition, metric, tries)
    if via_risk is not None:
        flags, summary = via_risk
        summary["ewma"] = [summary["ewma"].get(p.date[:10]) for p in points]
        return flags, summary
    if metric not in ("tug_s", "stands"):
        _, summary = scoring.trend_flags(metric, points)
        return [], summary
    return scoring.trend_flags(metric, points)


def refresh_flags(store: Store, patient: Patient) -> list[dict]:
    """Re-evaluate ``patient``'s change and trend flags from all stored results."""
    flags: list[dict] = []
    tries = attempts(store, patient)
    for key, points in series(store, patient).items():
        found, _ = trend_of(key, points, tries.get(key, []))
        flags.extend(found)
    store.set_patient_flags(patient, ("change", "trend"), flags)
    return flags


def check_patient_input(patient: Patient, setting: str) -> None:
    if setting == "home" and not patient.home_consent:
        raise StoreError(
            f"patient {patient.code} has not consented to home monitoring; sessions with "
            "--setting home need that consent (balance-mon patient add ... --home-consent)"
        )
