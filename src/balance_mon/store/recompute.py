"""Re-run today's algorithms on the stored raw recordings and report what changed.

For every trial with a stored recording (optionally of one patient), the
recording is loaded (its SHA-256 checked), scored again with the current
protocol implementation, and compared with the stored current results: a
change is a metric whose value differs (beyond ``rtol``), whose algorithm
name or version differs, that appeared or that disappeared, or a change of
validity. With ``apply`` the new results replace the old ones, which stay in
the database as superseded history (``results.superseded_utc``), cut-off
flags are re-derived and the change and trend flags re-evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from . import scoring
from .db import Patient, Store, Trial
from .importer import refresh_flags

__all__ = ["Change", "TrialChanges", "recompute"]


@dataclass(frozen=True)
class Change:
    metric: str
    old_value: float | None
    new_value: float | None
    old_algorithm: str
    new_algorithm: str

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "old": self.old_value,
            "new": self.new_value,
            "old_algorithm": self.old_algorithm,
            "new_algorithm": self.new_algorithm,
        }


@dataclass
class TrialChanges:
    trial: Trial
    patient: str
    changes: list[Change] = field(default_factory=list)
    validity: tuple[bool, bool] | None = None  # (old, new) when it changed
    error: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.validity or self.error)


def _same(a: float | None, b: float | None, rtol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-12)


def recompute(
    store: Store,
    *,
    patient: Patient | None = None,
    apply: bool = True,
    rtol: float = 1e-9,
    on_trial: Callable[[TrialChanges], None] | None = None,
) -> list[TrialChanges]:
    """Recompute every stored trial (of ``patient``); returns one entry per trial."""
    patients = {p.id: p for p in ([patient] if patient else store.patients())}
    out: list[TrialChanges] = []
    touched: set[int] = set()
    for trial in store.all_trials(patient):
        if trial.recording_id is None:
            continue
        session = store.session(trial.session_id)
        pat = patients.get(session.patient_id) or store.patient_by_id(session.patient_id)
        tc = TrialChanges(trial=trial, patient=pat.code)
        rec = store.load_recording(trial.recording_id)
        age = pat.age_in(session.date.year)
        scored = scoring.score(rec, trial.protocol, trial.condition, age=age, sex=pat.sex)
        old = {r.metric: r for r in store.results(trial)}
        new = {m.metric: m for m in scored.metrics}
        for metric in sorted(set(old) | set(new)):
            o, n = old.get(metric), new.get(metric)
            o_alg = f"{o.algorithm} {o.algorithm_version}" if o else ""
            n_alg = f"{n.algorithm} {n.algorithm_version}" if n else ""
            ov = o.value if o else None
            nv = n.value if n else None
            if o is None or n is None or not _same(ov, nv, rtol) or o_alg != n_alg:
                tc.changes.append(Change(metric, ov, nv, o_alg, n_alg))
        new_valid = scored.valid and bool(trial.details.get("quality", {}).get("valid", True))
        if new_valid != trial.valid:
            tc.validity = (trial.valid, new_valid)
        if apply and tc.changed:
            details = dict(trial.details)
            details.update(scored.details)
            store.replace_results(
                trial,
                scored.metrics,
                valid=new_valid,
                invalid_reason="" if new_valid else (scored.reason or trial.invalid_reason),
                details=details,
            )
            flags = scoring.cutoff_flags(trial.protocol, scored, age=age, sex=pat.sex)
            store.replace_trial_flags(trial, session, flags if new_valid else [])
            touched.add(pat.id)
        out.append(tc)
        if on_trial:
            on_trial(tc)
    for pid in touched:
        refresh_flags(store, patients.get(pid) or store.patient_by_id(pid))
    return out
