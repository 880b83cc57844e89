"""What a protocol produces: per-trial results, per-condition values, scores,
norm comparisons and flags, all JSON round-trippable (:meth:`ProtocolResult.as_dict`
and :meth:`ProtocolResult.from_dict`) so the store can keep them and the risk
layer can read them back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import Patient

__all__ = [
    "CONDITION_STATUSES",
    "RESULT_SCHEMA",
    "TRIAL_STATUSES",
    "ConditionResult",
    "NormComparison",
    "ProtocolResult",
    "Reason",
    "TrialResult",
    "jsonable",
]

#: Schema name of :meth:`ProtocolResult.as_dict`.
RESULT_SCHEMA = "balance_mon.protocol_result/1"

#: ``completed``: done as required (held the full time, counted, timed);
#: ``failed``: the patient could not complete it (its value is what was achieved);
#: ``invalid``: technical failure, excluded from scoring.
TRIAL_STATUSES = ("completed", "failed", "invalid")

#: ``passed``: the condition's value reached its target (or it has no target and
#: a value); ``failed``; ``invalid``: no usable trial; ``not_attempted``: the
#: test stopped before it (STEADI stops at the first failure).
CONDITION_STATUSES = ("passed", "failed", "invalid", "not_attempted")


def jsonable(x: Any) -> Any:
    """``x`` with NaN/inf as None, tuples as lists and mappings as dicts."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy scalars
        return jsonable(x.item())
    return x


@dataclass(frozen=True)
class Reason:
    """Why a trial is not ``completed``: a rule code and a sentence for people."""

    code: str
    message: str
    time_s: float | None = None  #: when it happened, s from the trial start

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "time_s": jsonable(self.time_s)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Reason:
        return cls(code=d["code"], message=d["message"], time_s=d.get("time_s"))


@dataclass(frozen=True)
class TrialResult:
    """One trial of one condition.

    ``attempt`` numbers the trials of a condition from 1 (invalid ones
    included). ``value`` is the protocol's trial value (hold s, stands, s) or
    None; ``status`` one of :data:`TRIAL_STATUSES`; ``practice``: a
    familiarisation attempt, not scored; ``scored``: the value is part of the
    condition's value; ``metrics``: numbers from the analysis (sway measures...);
    ``analysis``: the analysis's JSON blocks as returned by the registry.
    """

    condition: str
    attempt: int
    status: str
    value: float | None
    reasons: tuple[Reason, ...] = ()
    practice: bool = False
    scored: bool = False
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    analysis: Mapping[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.status != "invalid"

    def as_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "attempt": self.attempt,
            "status": self.status,
            "value": jsonable(self.value),
            "reasons": [r.as_dict() for r in self.reasons],
            "practice": self.practice,
            "scored": self.scored,
            "metrics": jsonable(dict(self.metrics)),
            "analysis": jsonable(dict(self.analysis)),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrialResult:
        return cls(
            condition=d["condition"],
            attempt=int(d["attempt"]),
            status=d["status"],
            value=d.get("value"),
            reasons=tuple(Reason.from_dict(r) for r in d.get("reasons", ())),
            practice=bool(d.get("practice", False)),
            scored=bool(d.get("scored", False)),
            metrics=dict(d.get("metrics", {})),
            analysis=dict(d.get("analysis", {})),
        )


@dataclass(frozen=True)
class ConditionResult:
    """A condition's value from its scored trials (mean, best or single)."""

    condition: str
    status: str
    value: float | None
    n_trials: int
    n_scored: int
    metrics: Mapping[str, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "status": self.status,
            "value": jsonable(self.value),
            "n_trials": self.n_trials,
            "n_scored": self.n_scored,
            "metrics": jsonable(dict(self.metrics)),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConditionResult:
        return cls(
            condition=d["condition"],
            status=d["status"],
            value=d.get("value"),
            n_trials=int(d["n_trials"]),
            n_scored=int(d["n_scored"]),
            metrics=dict(d.get("metrics", {})),
        )


@dataclass(frozen=True)
class NormComparison:
    """A score against a published norm or cut-off.

    ``measure`` names the score; ``value`` its value; ``threshold`` the
    number compared against (a cut-off, or for ``rule == "fraction_of_mean"``
    the fraction times the mean); ``norm`` the published number itself;
    ``band`` the age/sex band used (empty when the norm has none);
    ``at_risk`` True/False, or None when no norm applies (``message`` says why);
    ``source`` the citation, ending in "(verify)" when clinical.md says so;
    ``message`` one sentence with the values, the threshold and the source.
    """

    measure: str
    value: float | None
    norm: float | None
    threshold: float | None
    rule: str
    at_risk: bool | None
    band: str
    source: str
    verify: bool
    message: str
    code: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "value": jsonable(self.value),
            "norm": jsonable(self.norm),
            "threshold": jsonable(self.threshold),
            "rule": self.rule,
            "at_risk": self.at_risk,
            "band": self.band,
            "source": self.source,
            "verify": self.verify,
            "message": self.message,
            "code": self.code,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NormComparison:
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass(frozen=True)
class ProtocolResult:
    """The outcome of one protocol session.

    Attributes
    ----------
    protocol, protocol_version : which protocol (see :mod:`.library`).
    patient : who (selects the norms), or None.
    trials : every trial in the order performed (invalid and practice ones too).
    conditions : condition name -> :class:`ConditionResult`, in protocol order.
    scores : the protocol's scores (e.g. ``stands``, ``tug_s``, ``stages_held``,
        ``tandem_hold_s``, ``total_s``, Romberg ratios); None when unavailable.
    norms : comparisons with published norms.
    flags : short codes: ``at_risk:<code>`` for each norm at risk,
        ``stopped_early``, ``incomplete``, ``aborted``.
    measures : session values for trend monitoring
        (:func:`balance_mon.risk.trend`), keyed by risk measure name, e.g.
        ``tug_s``, ``chair_stand_stands``,
        ``sway_rms_mps2:romberg/eyes_open``.
    complete : every condition was performed or legitimately skipped (stop on fail).
    stopped_reason : why the test stopped early, or None.
    """

    protocol: str
    protocol_version: str
    patient: Patient | None
    trials: tuple[TrialResult, ...]
    conditions: Mapping[str, ConditionResult]
    scores: Mapping[str, Any]
    norms: tuple[NormComparison, ...]
    flags: tuple[str, ...]
    measures: Mapping[str, float]
    complete: bool
    stopped_reason: str | None = None

    @property
    def at_risk(self) -> bool | None:
        """True if any norm comparison is at risk; None if no norm applied."""
        known = [n.at_risk for n in self.norms if n.at_risk is not None]
        return any(known) if known else None

    def trials_of(self, condition: str) -> list[TrialResult]:
        return [t for t in self.trials if t.condition == condition]

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``json.dumps(..., allow_nan=False)`` works)."""
        return {
            "schema": RESULT_SCHEMA,
            "protocol": self.protocol,
            "protocol_version": self.protocol_version,
            "patient": None if self.patient is None else self.patient.as_dict(),
            "complete": self.complete,
            "stopped_reason": self.stopped_reason,
            "scores": jsonable(dict(self.scores)),
            "measures": jsonable(dict(self.measures)),
            "norms": [n.as_dict() for n in self.norms],
            "flags": list(self.flags),
            "conditions": [c.as_dict() for c in self.conditions.values()],
            "trials": [t.as_dict() for t in self.trials],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProtocolResult:
        """Inverse of :meth:`as_dict`."""
        conds = [ConditionResult.from_dict(c) for c in d.get("conditions", ())]
        return cls(
            protocol=d["protocol"],
            protocol_version=d.get("protocol_version", ""),
            patient=Patient.from_dict(d.get("patient")),
            trials=tuple(TrialResult.from_dict(t) for t in d.get("trials", ())),
            conditions={c.condition: c for c in conds},
            scores=dict(d.get("scores", {})),
            norms=tuple(NormComparison.from_dict(n) for n in d.get("norms", ())),
            flags=tuple(d.get("flags", ())),
            measures={k: v for k, v in d.get("measures", {}).items() if v is not None},
            complete=bool(d.get("complete", False)),
            stopped_reason=d.get("stopped_reason"),
        )
