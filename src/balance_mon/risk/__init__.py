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
- :func:`weekly_dose`: a week's strength, balance, posture and aerobic
  activity against the osteoporosis exercise guidelines (:mod:`.dose`).

Every :class:`Flag` explains itself in one sentence (``flag.message``).
See docs/risk.md.
"""

from .dose import (
    CATEGORIES,
    GUIDELINES,
    Activity,
    CategoryDose,
    Guideline,
    WeeklyDose,
    category_of,
    week_start,
    weekly_dose,
)
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
    "CATEGORIES",
    "CUTOFF_CODES",
    "GUIDELINES",
    "MEASURES",
    "SETTINGS",
    "Activity",
    "CategoryDose",
    "Flag",
    "Guideline",
    "MeasureInfo",
    "Point",
    "RiskError",
    "SessionValue",
    "TrendResult",
    "WeeklyDose",
    "category_of",
    "mdc95_from_sem",
    "measure_info",
    "sem_from_icc",
    "session_flags",
    "trend",
    "trend_by_setting",
    "week_start",
    "weekly_dose",
]
