"""Published norms and cut-offs of the clinical tests, as data, each with its source.

Every number here is copied from ``/work/shared/reference/clinical.md``
section 2 (and section 4 for the Timed Up and Go caveat) and carries a
:class:`Source`. Items clinical.md marks "(verify)" keep ``verify=True``; their
citation text then ends in ``(verify)`` wherever it is shown, so that nobody
presents them to a clinician as checked norms.

Tables
------
:data:`CHAIR_STAND_BELOW_AVERAGE`
    CDC STEADI 30-second chair stand: a score *below* the value for the
    person's age band and sex is below average (at risk), ages 60-94.
:data:`TUG_AT_RISK_S`
    CDC STEADI Timed Up and Go: 12 s or more is at risk.
:data:`TANDEM_HOLD_S`
    CDC STEADI four-stage balance test: not holding tandem stance 10 s is at
    increased risk of falling.
:data:`SINGLE_LEG_STANCE_MEAN_S`
    Springer et al. 2007 single-leg stance means by age band, sex and eyes
    (best of 3 trials), marked (verify).

The lookup functions return None when no band applies (an age outside the
table, or an unknown sex): the caller reports "no norm" instead of guessing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHAIR_STAND_BELOW_AVERAGE",
    "CHAIR_STAND_SOURCE",
    "FOUR_STAGE_SOURCE",
    "NORM_TABLES",
    "SINGLE_LEG_FAR_BELOW_FRACTION",
    "SINGLE_LEG_STANCE_MEAN_S",
    "SINGLE_LEG_STANCE_SOURCE",
    "TANDEM_HOLD_S",
    "TUG_AT_RISK_S",
    "TUG_SOURCE",
    "AgeBand",
    "Source",
    "chair_stand_band",
    "normalise_sex",
    "single_leg_band",
]


@dataclass(frozen=True)
class Source:
    """Where a number comes from.

    ``citation`` is a short human-readable reference ("CDC STEADI 30-Second
    Chair Stand"); ``verify`` is True for items clinical.md could not check
    against the original, and is then shown as a trailing "(verify)".
    """

    citation: str
    verify: bool = False

    def __str__(self) -> str:
        return f"{self.citation} (verify)" if self.verify else self.citation

    def as_dict(self) -> dict[str, Any]:
        return {"citation": self.citation, "verify": self.verify, "text": str(self)}


@dataclass(frozen=True)
class AgeBand:
    """Ages ``lo`` to ``hi`` years inclusive (whole years; ``hi`` None = open-ended)."""

    lo: int
    hi: int | None

    def contains(self, age_years: float) -> bool:
        a = math.floor(age_years)
        return a >= self.lo and (self.hi is None or a <= self.hi)

    def __str__(self) -> str:
        return f"{self.lo}+" if self.hi is None else f"{self.lo}-{self.hi}"


_SEX = {
    "f": "female",
    "female": "female",
    "woman": "female",
    "women": "female",
    "w": "female",
    "m": "male",
    "male": "male",
    "man": "male",
    "men": "male",
}


def normalise_sex(sex: str | None) -> str | None:
    """``"female"``, ``"male"`` or None (unknown/other: no sex-specific norm applies)."""
    if sex is None:
        return None
    return _SEX.get(str(sex).strip().lower())


# ---------------------------------------------------------------------------
# CDC STEADI
# ---------------------------------------------------------------------------

CHAIR_STAND_SOURCE = Source("CDC STEADI 30-Second Chair Stand, below-average scores by age and sex")
TUG_SOURCE = Source("CDC STEADI Timed Up and Go")
FOUR_STAGE_SOURCE = Source("CDC STEADI Four-Stage Balance Test")

#: STEADI 30-second chair stand: (age band, {"male": below, "female": below});
#: a score *below* the value is below average (clinical.md section 2).
CHAIR_STAND_BELOW_AVERAGE: tuple[tuple[AgeBand, dict[str, int]], ...] = (
    (AgeBand(60, 64), {"male": 14, "female": 12}),
    (AgeBand(65, 69), {"male": 12, "female": 11}),
    (AgeBand(70, 74), {"male": 12, "female": 10}),
    (AgeBand(75, 79), {"male": 11, "female": 10}),
    (AgeBand(80, 84), {"male": 10, "female": 9}),
    (AgeBand(85, 89), {"male": 8, "female": 8}),
    (AgeBand(90, 94), {"male": 7, "female": 4}),
)

#: STEADI TUG: a time at or above this is at risk, s.
TUG_AT_RISK_S = 12.0

#: STEADI four-stage: tandem stance must be held this long, s.
TANDEM_HOLD_S = 10.0


def chair_stand_band(age_years: float | None, sex: str | None) -> tuple[AgeBand, int] | None:
    """The STEADI band and below-average threshold for an age and sex, or None."""
    s = normalise_sex(sex)
    if age_years is None or s is None or not math.isfinite(float(age_years)):
        return None
    for band, by_sex in CHAIR_STAND_BELOW_AVERAGE:
        if band.contains(float(age_years)):
            return band, by_sex[s]
    return None


# ---------------------------------------------------------------------------
# Single-leg stance (Springer et al. 2007)
# ---------------------------------------------------------------------------

SINGLE_LEG_STANCE_SOURCE = Source(
    "Springer et al. 2007, J Geriatr Phys Ther 30:8 (single-leg stance, best of 3)", verify=True
)

#: Mean single-leg stance time, s: (age band, eyes, {"female": s, "male": s}).
#: clinical.md section 2 marks the table (verify); the eyes-closed row in particular.
SINGLE_LEG_STANCE_MEAN_S: tuple[tuple[AgeBand, str, dict[str, float]], ...] = (
    (AgeBand(18, 39), "open", {"female": 45.1, "male": 44.4}),
    (AgeBand(40, 49), "open", {"female": 42.1, "male": 41.6}),
    (AgeBand(50, 59), "open", {"female": 40.9, "male": 41.5}),
    (AgeBand(60, 69), "open", {"female": 30.4, "male": 33.8}),
    (AgeBand(70, 79), "open", {"female": 16.7, "male": 25.9}),
    (AgeBand(80, None), "open", {"female": 10.6, "male": 8.7}),
    (AgeBand(18, 39), "closed", {"female": 13.1, "male": 16.9}),
    (AgeBand(40, 49), "closed", {"female": 13.5, "male": 12.0}),
    (AgeBand(50, 59), "closed", {"female": 7.9, "male": 8.6}),
    (AgeBand(60, 69), "closed", {"female": 3.6, "male": 5.1}),
    (AgeBand(70, 79), "closed", {"female": 3.7, "male": 2.6}),
    (AgeBand(80, None), "closed", {"female": 2.1, "male": 1.8}),
)

#: A best time below this fraction of the age/sex mean is "far below" the norm.
#: balance_mon's own choice (Springer et al. report means, not a cut-off); shown
#: as such in every message that uses it.
SINGLE_LEG_FAR_BELOW_FRACTION = 0.5


def single_leg_band(
    age_years: float | None, sex: str | None, eyes: str
) -> tuple[AgeBand, float] | None:
    """The Springer 2007 band and mean time (s) for an age, sex and eyes, or None."""
    s = normalise_sex(sex)
    if age_years is None or s is None or not math.isfinite(float(age_years)):
        return None
    for band, e, by_sex in SINGLE_LEG_STANCE_MEAN_S:
        if e == eyes and band.contains(float(age_years)):
            return band, by_sex[s]
    return None


#: Every norm table with its source, for listing and for tests.
NORM_TABLES: dict[str, dict[str, Any]] = {
    "chair_stand_below_average": {
        "table": CHAIR_STAND_BELOW_AVERAGE,
        "source": CHAIR_STAND_SOURCE,
        "unit": "stands",
    },
    "tug_at_risk_s": {"table": ((None, TUG_AT_RISK_S),), "source": TUG_SOURCE, "unit": "s"},
    "tandem_hold_s": {
        "table": ((None, TANDEM_HOLD_S),),
        "source": FOUR_STAGE_SOURCE,
        "unit": "s",
    },
    "single_leg_stance_mean_s": {
        "table": SINGLE_LEG_STANCE_MEAN_S,
        "source": SINGLE_LEG_STANCE_SOURCE,
        "unit": "s",
    },
}
