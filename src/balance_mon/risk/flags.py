"""Flags: one finding each, explained in one sentence with its values and source.

:func:`session_flags` turns one session's :class:`~balance_mon.protocols.ProtocolResult`
into single-result flags from published cut-offs (cannot hold tandem 10 s,
STEADI; chair stand below the STEADI age/sex norm; TUG 12 s or more, STEADI;
single-leg stance below half the Springer 2007 age/sex mean (verify)). Trend
flags come from :func:`balance_mon.risk.trend`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..protocols.library import PROTOCOLS
from ..protocols.model import Patient
from ..protocols.results import ProtocolResult
from ..protocols.scoring import compare_norms

__all__ = ["CUTOFF_CODES", "Flag", "session_flags"]

#: Codes of the single-result flags.
CUTOFF_CODES = (
    "tandem_under_10s",
    "chair_stand_below_norm",
    "tug_at_risk",
    "single_leg_far_below_norm",
)


@dataclass(frozen=True)
class Flag:
    """A finding for the clinician.

    ``code``: a :data:`CUTOFF_CODES` value for a cut-off, ``worse`` or
    ``better`` for a change; ``kind``: ``cutoff`` or ``change``;
    ``measure``; ``value`` (the result, or the EWMA level); ``threshold``
    (the cut-off or the MDC95); ``source`` (citation; "(verify)" kept);
    ``message``: ONE sentence with the measure, the values, the threshold and
    the source; ``direction``: ``worse`` or ``better``; ``date`` and
    ``setting`` when known; ``details``: numbers behind the message.
    """

    code: str
    kind: str
    measure: str
    value: float | None
    threshold: float | None
    source: str
    message: str
    direction: str = "worse"
    date: dt.date | None = None
    setting: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "measure": self.measure,
            "value": self.value,
            "threshold": self.threshold,
            "source": self.source,
            "message": self.message,
            "direction": self.direction,
            "date": None if self.date is None else self.date.isoformat(),
            "setting": self.setting,
            "details": dict(self.details),
        }


def session_flags(
    result: ProtocolResult | Mapping[str, Any],
    patient: Patient | None = None,
    *,
    date: dt.date | None = None,
    setting: str | None = None,
) -> list[Flag]:
    """Published cut-off flags of one session's result.

    ``result`` may be a :class:`ProtocolResult` or its :meth:`as_dict` form
    (as stored). With ``patient``, the norms are compared again for that
    patient (e.g. an age recorded after the session); otherwise the result's
    own comparisons are used. Returns one :class:`Flag` per cut-off crossed.
    """
    res = result if isinstance(result, ProtocolResult) else ProtocolResult.from_dict(result)
    norms = res.norms
    if patient is not None and res.protocol in PROTOCOLS:
        norms = compare_norms(PROTOCOLS[res.protocol], res.scores, patient)
    out = []
    for n in norms:
        if not n.at_risk:
            continue
        out.append(
            Flag(
                code=n.code,
                kind="cutoff",
                measure=n.measure,
                value=n.value,
                threshold=n.threshold,
                source=n.source,
                message=n.message,
                direction="worse",
                date=date,
                setting=setting,
                details={"norm": n.norm, "band": n.band, "rule": n.rule, "verify": n.verify},
            )
        )
    return out
