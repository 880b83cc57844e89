"""Measure series of a patient with their baselines, MDC bands, EWMA and flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import scoring
from .db import Flag, Patient, Store
from .importer import attempts, series, trend_of

__all__ = ["MeasureTrend", "trends"]


@dataclass
class MeasureTrend:
    """One measure's series (one setting, protocol and condition)."""

    setting: str
    protocol: str
    condition: str
    metric: str
    label: str
    unit: str
    better: str | None
    points: list[scoring.Point]
    baseline: float | None = None
    mdc: float | None = None
    mdc_source: str = ""
    ewma: list[float | None] = field(default_factory=list)
    cutoff: float | None = None
    flags: list[Flag] = field(default_factory=list)
    status: str = ""  # worse | better | stable | insufficient (balance_mon.risk), or ""

    @property
    def primary(self) -> bool:
        return self.metric in scoring.get_protocol(self.protocol).primary

    def as_dict(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "protocol": self.protocol,
            "condition": self.condition,
            "metric": self.metric,
            "label": self.label,
            "unit": self.unit,
            "better": self.better,
            "baseline": self.baseline,
            "mdc": self.mdc,
            "mdc_source": self.mdc_source,
            "cutoff": self.cutoff,
            "status": self.status,
            "series": [
                {"date": p.date, "value": p.value, "session_id": p.session_id} for p in self.points
            ],
            "ewma": self.ewma,
            "flags": [flag_dict(f) for f in self.flags],
        }


def flag_dict(f: Flag) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "severity": f.severity,
        "measure": f.measure,
        "reason": f.reason,
        "value": f.value,
        "threshold": f.threshold,
        "session_id": f.session_id,
        "trial_id": f.trial_id,
        "source": f.source,
    }


def trends(store: Store, patient: Patient, *, primary_only: bool = False) -> list[MeasureTrend]:
    """Every measure's trend for ``patient`` (primary measures first)."""
    flags = store.flags(patient)
    sessions = {s.id: s for s in store.sessions(patient)}
    out = []
    tries = attempts(store, patient)
    for key, points in series(store, patient).items():
        setting, protocol, condition, metric = key
        info = scoring.measure_info(metric)
        _, summary = trend_of(key, points, tries.get(key, []))
        sids = {p.session_id for p in points}
        mine = [
            f
            for f in flags
            if f.measure == metric
            and (f.session_id in sids)
            and (f.session_id is None or sessions[f.session_id].setting == setting)
        ]
        t = MeasureTrend(
            setting=setting,
            protocol=protocol,
            condition=condition,
            metric=metric,
            label=info.label,
            unit=info.unit,
            better=info.better,
            points=points,
            baseline=summary["baseline"],
            mdc=summary["mdc"],
            mdc_source=summary["mdc_source"],
            ewma=summary["ewma"],
            cutoff=scoring.cutoff_value(protocol, metric, patient),
            flags=mine,
            status=str(summary.get("status", "")),
        )
        if primary_only and not t.primary:
            continue
        out.append(t)
    out.sort(
        key=lambda t: (not t.primary, t.mdc is None, t.setting, t.protocol, t.condition, t.metric)
    )
    return out
