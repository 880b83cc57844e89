"""Fall-risk flags of one session and trends across sessions.

- :func:`session_flags`: published cut-offs crossed by one
  :class:`~balance_mon.protocols.ProtocolResult` (STEADI tandem 10 s, chair
  stand age/sex norm, TUG 12 s; single-leg stance far below the Springer 2007
  mean (verify)).
- :func:`trend`: one measure's sessions in one setting (clinic or home):
  baseline, SEM and MDC95, reliable change or an EWMA chart, and flags for
  changes that exceed the MDC with a confidence interval excluding zero.
- :data:`MEASURES` / :func:`measure_info`: unit, direction of worse, MDC,
  ICC and practice effect of each measure, with sources.

Every :class:`Flag` explains itself in one sentence (``flag.message``).
See docs/risk.md.
"""

from .flags import CUTOFF_CODES, Flag, session_flags
from .measures import MEASURES, MeasureInfo, RiskError, measure_info
from .trend import (
    SETTINGS,
    Point,
    SessionValue,
    TrendResult,
    mdc95_from_sem,
    sem_from_icc,
    trend,
    trend_by_setting,
)

__all__ = [
    "CUTOFF_CODES",
    "MEASURES",
    "SETTINGS",
    "Flag",
    "MeasureInfo",
    "Point",
    "RiskError",
    "SessionValue",
    "TrendResult",
    "mdc95_from_sem",
    "measure_info",
    "sem_from_icc",
    "session_flags",
    "trend",
    "trend_by_setting",
]
