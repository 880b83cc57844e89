"""Exports of a patient's results: CSV and FHIR R4 (Observations in a Bundle).

Both take the same rows (:func:`result_rows`): every *current* result of
every trial of the patient, with its session, trial, algorithm and the flags
raised on it.

De-identified exports (``deidentify=True``; docs/reports.md):

- the patient id is replaced by ``anon-`` + the first 16 hex digits of
  HMAC-SHA256(database key, patient id): stable across exports from one
  database (so a researcher can link them), not reversible without the key,
  which never leaves the database;
- every date is shifted by a per-patient offset of 1-365 days into the past
  (derived from the same key), intervals between sessions are kept, times of
  day are dropped;
- no birth year (an age band of 5 years instead, "90+" above 89), no notes,
  no operator, no device identifiers, no file names or recording metadata,
  and flag texts are replaced by a neutral form without the patient's age.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import uuid
from dataclasses import dataclass
from typing import Any

from ..store import Patient, Store, scoring
from .codes import (
    DEID_ID_SYSTEM,
    PATIENT_ID_SYSTEM,
    PROTOCOL_SYSTEM,
    UCUM,
    codings,
    ucum,
)

__all__ = ["CSV_COLUMNS", "Pseudonymizer", "fhir_bundle", "result_rows", "to_csv"]

_NS = uuid.UUID("6f1d4e2a-5b7c-4c1e-9a53-3d2b8f0c7e11")  # balance_mon export namespace


@dataclass(frozen=True)
class Pseudonymizer:
    """Keyed pseudonyms and date shifts for de-identified exports."""

    key: bytes

    def _mac(self, text: str) -> bytes:
        return hmac.new(self.key, text.encode(), hashlib.sha256).digest()

    def patient_id(self, code: str) -> str:
        return "anon-" + self._mac("patient:" + code).hex()[:16]

    def shift_days(self, code: str) -> int:
        return 1 + int.from_bytes(self._mac("shift:" + code)[:4], "big") % 365

    def date(self, code: str, started: str) -> str:
        day = dt.date.fromisoformat(started[:10])
        return (day - dt.timedelta(days=self.shift_days(code))).isoformat()


def age_band(age: int | None) -> str:
    if age is None:
        return ""
    if age >= 90:
        return "90+"
    lo = age // 5 * 5
    return f"{lo}-{lo + 4}"


def result_rows(
    store: Store, patient: Patient, *, deidentify: bool = False, session_id: int | None = None
) -> list[dict[str, Any]]:
    """One dict per current result of ``patient`` (of one session if given)."""
    pseudo = Pseudonymizer(store.secret()) if deidentify else None
    pid = pseudo.patient_id(patient.code) if pseudo else patient.code
    flags_by_trial: dict[int, list[Any]] = {}
    flags_by_session: dict[int, list[Any]] = {}
    for f in store.flags(patient):
        if f.trial_id is not None:
            flags_by_trial.setdefault(f.trial_id, []).append(f)
        elif f.session_id is not None:
            flags_by_session.setdefault(f.session_id, []).append(f)
    rows = []
    for s in store.sessions(patient):
        if session_id is not None and s.id != session_id:
            continue
        age = patient.age_in(s.date.year)
        date = pseudo.date(patient.code, s.started) if pseudo else s.started
        for t in store.trials(s):
            for r in store.results(t):
                info = scoring.measure_info(r.metric)
                fl = [f for f in flags_by_trial.get(t.id, []) if f.measure == r.metric] + [
                    f for f in flags_by_session.get(s.id, []) if f.measure == r.metric
                ]
                rows.append(
                    {
                        "patient": pid,
                        "age": age_band(age) if pseudo else ("" if age is None else age),
                        "sex": patient.sex or "",
                        "session": s.id,
                        "date": date,
                        "setting": s.setting,
                        "protocol": t.protocol,
                        "condition": t.condition,
                        "attempt": t.attempt,
                        "valid": t.valid,
                        "invalid_reason": t.invalid_reason,
                        "metric": r.metric,
                        "label": info.label,
                        "value": r.value,
                        "unit": r.unit,
                        "algorithm": r.algorithm,
                        "algorithm_version": r.algorithm_version,
                        "parameters": r.parameters,
                        "computed_utc": r.computed_utc,
                        "result_id": r.id,
                        "flags": [
                            {
                                "kind": f.kind,
                                "severity": f.severity,
                                "reason": _neutral(f) if pseudo else f.reason,
                                "threshold": f.threshold,
                            }
                            for f in fl
                        ],
                    }
                )
    return rows


def _neutral(f: Any) -> str:
    """A flag's text without personal details (for de-identified exports)."""
    kind = {
        "cutoff": "below/above the published cut-off",
        "change": "change beyond the MDC95",
        "trend": "trend beyond the MDC95",
    }.get(f.kind, f.kind)
    thr = "" if f.threshold is None else f" (threshold {f.threshold:.4g})"
    return f"{f.measure}: {kind}{thr}"


CSV_COLUMNS = (
    "patient",
    "age",
    "sex",
    "session",
    "date",
    "setting",
    "protocol",
    "condition",
    "attempt",
    "valid",
    "invalid_reason",
    "metric",
    "label",
    "value",
    "unit",
    "algorithm",
    "algorithm_version",
    "parameters",
    "flags",
)


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV text (``parameters`` as JSON, ``flags`` as 'kind: reason' joined by ' | ')."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        out = []
        for c in CSV_COLUMNS:
            v = r[c]
            if c == "parameters":
                v = json.dumps(v, sort_keys=True, separators=(",", ":"))
            elif c == "flags":
                v = " | ".join(f"{f['kind']}: {f['reason']}" for f in v)
            elif c == "valid":
                v = "yes" if v else "no"
            elif v is None:
                v = ""
            elif isinstance(v, float):
                v = repr(v)
            out.append(v)
        w.writerow(out)
    return buf.getvalue()


# ---------------------------------------------------------------------------
# FHIR R4
# ---------------------------------------------------------------------------


def _fhir_datetime(started: str, *, deidentified: bool) -> str:
    if deidentified or len(started) == 10:
        return started[:10]
    # a time needs a zone offset in FHIR: the session's local time in this computer's zone
    return dt.datetime.fromisoformat(started).astimezone().isoformat()


def fhir_bundle(
    store: Store,
    patient: Patient,
    *,
    deidentify: bool = False,
    session_id: int | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """A FHIR R4 ``collection`` Bundle: one Patient and one Observation per result."""
    rows = result_rows(store, patient, deidentify=deidentify, session_id=session_id)
    pid = (
        rows[0]["patient"]
        if rows
        else (
            Pseudonymizer(store.secret()).patient_id(patient.code) if deidentify else patient.code
        )
    )
    patient_uuid = uuid.uuid5(_NS, f"patient/{pid}")
    pat: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient_uuid),
        "identifier": [
            {"system": DEID_ID_SYSTEM if deidentify else PATIENT_ID_SYSTEM, "value": pid}
        ],
    }
    if patient.sex in ("female", "male", "other"):
        pat["gender"] = patient.sex
    if patient.birth_year is not None and not deidentify:
        pat["birthDate"] = f"{patient.birth_year:04d}"  # the year is all that is stored
    entries: list[dict[str, Any]] = [{"fullUrl": f"urn:uuid:{patient_uuid}", "resource": pat}]
    for r in rows:
        oid = uuid.uuid5(_NS, f"observation/{pid}/{r['result_id']}")
        code_list = codings(r["protocol"], r["metric"], r["label"])
        unit_code, unit_text = ucum(r["protocol"], r["metric"], r["unit"])
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": str(oid),
            "status": "final" if r["valid"] else "cancelled",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "exam",
                            "display": "Exam",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [
                    {"system": c.system, "code": c.code, "display": c.display} for c in code_list
                ],
                "text": r["label"],
            },
            "subject": {"reference": f"urn:uuid:{patient_uuid}"},
            "effectiveDateTime": _fhir_datetime(r["date"], deidentified=deidentify),
            "method": {
                "coding": [{"system": PROTOCOL_SYSTEM, "code": r["protocol"]}],
                "text": f"{r['protocol']} {r['condition']}".strip() + f", attempt {r['attempt']}",
            },
            "component": [
                {
                    "code": {"text": "algorithm"},
                    "valueString": f"{r['algorithm']} {r['algorithm_version']}".strip(),
                }
            ],
        }
        if r["condition"]:
            obs["component"].append({"code": {"text": "condition"}, "valueString": r["condition"]})
        if r["value"] is not None:
            q: dict[str, Any] = {"value": r["value"], "system": UCUM, "code": unit_code}
            if unit_text:
                q["unit"] = unit_text
            obs["valueQuantity"] = q
        else:
            obs["dataAbsentReason"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                        "code": "error",
                        "display": "Error",
                    }
                ]
            }
        notes = []
        if not r["valid"] and r["invalid_reason"] and not deidentify:
            notes.append({"text": f"invalid trial: {r['invalid_reason']}"})
        if r["flags"]:
            obs["interpretation"] = [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                            "code": "A",
                            "display": "Abnormal",
                        }
                    ]
                }
            ]
            notes.extend({"text": f"{f['kind']} flag: {f['reason']}"} for f in r["flags"])
        if notes:
            obs["note"] = notes
        entries.append({"fullUrl": f"urn:uuid:{oid}", "resource": obs})
    stamp = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(_NS, f"bundle/{pid}/{len(entries)}/{stamp.isoformat()}")),
        "type": "collection",
        "timestamp": stamp.isoformat().replace("+00:00", "Z"),
        "entry": entries,
    }
