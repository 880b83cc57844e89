"""Weekly exercise dose against the osteoporosis exercise guidelines.

Guideline doses (clinical.md section 5):

- **Strength** (resistance) training at least twice a week (Too Fit To
  Fracture: Giangregorio et al. 2014, Osteoporos Int 25:821, and the 2015
  Delphi follow-up; Osteoporosis Canada 2023; "Strong, Steady and Straight",
  Brooke-Wavell et al. 2022, Br J Sports Med 56:837: 2-3 times a week).
- **Balance** training daily, at least twice a week (Too Fit To Fracture;
  Osteoporosis Canada 2023): met from 2 days, "daily" noted from 7.
- **Posture** (back-extensor) exercises daily (Osteoporosis Canada 2023;
  Strong, Steady and Straight 2022): 7 days.
- **Weight-bearing aerobic** activity 150 minutes a week of moderate to
  vigorous intensity, in bouts of 10 minutes or more (Too Fit To Fracture;
  Osteoporosis Canada 2023); walking alone is not enough for bone, so impact
  loading is reported next to it by :mod:`balance_mon.analysis.loading`.

:func:`weekly_dose` adds up one week of :class:`Activity` records (from the
store, the GUI or a diary) per category: days, sessions, minutes (aerobic:
only bouts of ``min_bout_minutes`` or more count towards the 150) and
whether the guideline dose was met, with an encouraging plain-language
message for the patient (:attr:`WeeklyDose.patient_text`) and a one-line
adherence summary for the therapist (:attr:`WeeklyDose.therapist_text`).
:func:`category_of` maps a stored trial's protocol and condition (exercise)
onto a category. This module only counts what was recorded; an exercise done
without the sensor is not seen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .measures import RiskError

__all__ = [
    "CATEGORIES",
    "GUIDELINES",
    "Activity",
    "CategoryDose",
    "Guideline",
    "WeeklyDose",
    "category_of",
    "week_start",
    "weekly_dose",
]

#: Activity categories, in report order.
CATEGORIES = ("strength", "balance", "posture", "aerobic")


@dataclass(frozen=True)
class Guideline:
    """A category's weekly dose: ``min_days`` days, or ``min_minutes`` in bouts
    of at least ``min_bout_minutes``."""

    category: str
    title: str
    min_days: int | None
    min_minutes: float | None
    min_bout_minutes: float | None
    ideal_days: int | None
    target_text: str
    source: str


_TFTF = "Too Fit To Fracture (Giangregorio et al. 2014); Osteoporosis Canada 2023"
_SSS = "Strong, Steady and Straight (Brooke-Wavell et al. 2022)"

#: The guideline doses (module docstring).
GUIDELINES: dict[str, Guideline] = {
    g.category: g
    for g in (
        Guideline(
            "strength",
            "Strength training",
            2,
            None,
            None,
            3,
            "at least 2 days a week",
            f"{_TFTF}; {_SSS} (2-3 times a week)",
        ),
        Guideline(
            "balance",
            "Balance training",
            2,
            None,
            None,
            7,
            "daily, at least 2 days a week",
            _TFTF,
        ),
        Guideline(
            "posture",
            "Posture exercises",
            7,
            None,
            None,
            7,
            "daily",
            f"Osteoporosis Canada 2023; {_SSS}",
        ),
        Guideline(
            "aerobic",
            "Weight-bearing aerobic activity",
            None,
            150.0,
            10.0,
            None,
            "150 minutes a week in bouts of 10 minutes or more",
            _TFTF,
        ),
    )
}

#: Exercise words (a trial's condition or exercise name) per category; the
#: first category whose word the name contains wins, posture first so that
#: "posture_squat" is posture and "wall_push_up" strength.
_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "posture",
        (
            "posture",
            "back_extension",
            "extension",
            "prone",
            "chin_tuck",
            "wall_angel",
            "shoulder_blade",
            "scapular",
        ),
    ),
    (
        "aerobic",
        ("walk", "jog", "run", "aerobic", "stair", "march", "dance", "hike", "daily_living"),
    ),
    (
        "balance",
        ("stance", "tandem", "single_leg", "balance", "sway", "romberg", "ctsib", "heel_toe"),
    ),
    (
        "strength",
        (
            "squat",
            "sit_to_stand",
            "chair",
            "heel_raise",
            "lunge",
            "push_up",
            "band_row",
            "row",
            "arm_raise",
            "step_up",
            "deadlift",
            "hip_hinge",
            "lift",
            "strength",
        ),
    ),
)

#: Protocols whose trials are one category whatever the condition.
_PROTOCOL_CATEGORY = {
    "chair_stand_30s": "strength",
    "sit_to_stand": "strength",
    "steadi_four_stage": "balance",
    "romberg": "balance",
    "ctsib_m": "balance",
    "single_leg_stance": "balance",
    "sway": "balance",
}


def category_of(protocol: str, condition: str = "", exercise: str | None = None) -> str | None:
    """The category of a recorded trial, or None (a test such as TUG is not training).

    ``exercise`` (e.g. the recording's ``exercise`` metadata) and
    ``condition`` (e.g. ``squat/default``) are matched against exercise words;
    otherwise the protocol decides (chair stand and sit-to-stand: strength;
    stance and sway protocols: balance).
    """
    for text in (exercise, condition):
        name = str(text or "").strip().lower().replace("-", "_").replace(" ", "_")
        if not name:
            continue
        for cat, words in _WORDS:
            if any(w in name for w in words):
                return cat
    return _PROTOCOL_CATEGORY.get(str(protocol).strip().lower().replace("-", "_"))


@dataclass(frozen=True)
class Activity:
    """One recorded bout of exercise.

    ``day``: the local date; ``category``: one of :data:`CATEGORIES`;
    ``minutes``: its duration; ``session``: an id tying activities of one
    session together (sessions are counted per distinct id, default one per
    activity); ``source``: what it was (shown to the therapist).
    """

    day: dt.date
    category: str
    minutes: float
    session: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise RiskError(
                f"unknown activity category {self.category!r}; use one of {', '.join(CATEGORIES)}"
            )
        if not (self.minutes >= 0):
            raise RiskError(f"activity minutes must be zero or more, got {self.minutes!r}")


@dataclass(frozen=True)
class CategoryDose:
    """One category's week: ``days`` with it, ``sessions``, ``minutes`` (all
    bouts) and ``counted_minutes`` (aerobic: bouts of the minimum length),
    ``met`` the guideline dose, ``fraction`` of it reached (0-1)."""

    category: str
    title: str
    days: int
    sessions: int
    minutes: float
    counted_minutes: float
    met: bool
    fraction: float
    target_text: str
    source: str

    @property
    def amount_text(self) -> str:
        """``"3 days"`` or, for aerobic activity, ``"95 min"`` (bouts that count)."""
        if GUIDELINES[self.category].min_minutes is not None:
            return f"{self.counted_minutes:.0f} min"
        return _days(self.days)

    @property
    def goal_text(self) -> str:
        """``"goal 2 days"`` or ``"goal 150 min"``."""
        g = GUIDELINES[self.category]
        if g.min_minutes is not None:
            return f"goal {g.min_minutes:.0f} min"
        return f"goal {_days(g.min_days or 0)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "title": self.title,
            "days": self.days,
            "sessions": self.sessions,
            "minutes": self.minutes,
            "counted_minutes": self.counted_minutes,
            "met": self.met,
            "fraction": self.fraction,
            "target": self.target_text,
            "amount": self.amount_text,
            "goal": self.goal_text,
            "source": self.source,
        }


@dataclass(frozen=True)
class WeeklyDose:
    """A week's dose per category with the patient's and the therapist's texts."""

    week_start: dt.date
    categories: tuple[CategoryDose, ...]
    patient_text: str
    therapist_text: str

    @property
    def week_end(self) -> dt.date:
        return self.week_start + dt.timedelta(days=6)

    @property
    def met_count(self) -> int:
        return sum(1 for c in self.categories if c.met)

    @property
    def adherence(self) -> float:
        """Mean fraction of the guideline doses reached (0-1)."""
        return sum(c.fraction for c in self.categories) / len(self.categories)

    def category(self, name: str) -> CategoryDose:
        return next(c for c in self.categories if c.category == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "week_start": self.week_start.isoformat(),
            "week_end": self.week_end.isoformat(),
            "categories": [c.as_dict() for c in self.categories],
            "guidelines_met": self.met_count,
            "adherence": self.adherence,
            "patient_text": self.patient_text,
            "therapist_text": self.therapist_text,
        }


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week (ISO 8601 weeks)."""
    return day - dt.timedelta(days=day.weekday())


def weekly_dose(activities: Iterable[Activity], *, week_of: dt.date) -> WeeklyDose:
    """Sum the activities of the (Monday-to-Sunday) week containing ``week_of``."""
    start = week_start(week_of)
    end = start + dt.timedelta(days=6)
    acts = [a for a in activities if start <= a.day <= end]
    cats = []
    for name in CATEGORIES:
        g = GUIDELINES[name]
        mine = [a for a in acts if a.category == name]
        days = len({a.day for a in mine})
        sessions = len({a.session if a.session is not None else id(a) for a in mine})
        minutes = float(sum(a.minutes for a in mine))
        counted = minutes
        if g.min_bout_minutes is not None:
            counted = float(sum(a.minutes for a in mine if a.minutes >= g.min_bout_minutes))
        if g.min_minutes is not None:
            fraction = min(counted / g.min_minutes, 1.0)
        else:
            assert g.min_days is not None
            fraction = min(days / g.min_days, 1.0)
        cats.append(
            CategoryDose(
                category=name,
                title=g.title,
                days=days,
                sessions=sessions,
                minutes=minutes,
                counted_minutes=counted,
                met=fraction >= 1.0,
                fraction=fraction,
                target_text=g.target_text,
                source=g.source,
            )
        )
    cats_t = tuple(cats)
    return WeeklyDose(
        week_start=start,
        categories=cats_t,
        patient_text=_patient_text(cats_t),
        therapist_text=_therapist_text(start, cats_t),
    )


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _patient_line(c: CategoryDose) -> str:
    g = GUIDELINES[c.category]
    what = {
        "strength": "strength exercises",
        "balance": "balance exercises",
        "posture": "posture exercises",
        "aerobic": "walking or other weight-bearing activity",
    }[c.category]
    if c.category == "aerobic":
        assert g.min_minutes is not None and g.min_bout_minutes is not None
        short = c.minutes - c.counted_minutes
        if c.met:
            return (
                f"You did {c.counted_minutes:.0f} minutes of {what} - that reaches the "
                "150-minute goal. Excellent!"
            )
        rest = g.min_minutes - c.counted_minutes
        walks = max(1, int(-(-rest // 30)))
        line = (
            f"You did {c.counted_minutes:.0f} minutes of {what} in sessions of "
            f"{g.min_bout_minutes:.0f} minutes or more. {rest:.0f} more minutes reach the "
            f"150-minute goal: for example {walks} brisk {'walk' if walks == 1 else 'walks'} "
            "of 30 minutes."
        )
        if short > 0:
            line += (
                f" ({short:.0f} minutes came in shorter bouts; keep going for at least "
                f"{g.min_bout_minutes:.0f} minutes at a time so that they count.)"
            )
        return line
    assert g.min_days is not None
    if c.days == 0:
        return (
            f"No {what} recorded this week. Try to fit them in on {_days(g.min_days)} "
            f"({g.target_text})."
        )
    if c.met:
        extra = ""
        if g.ideal_days and c.days < g.ideal_days:
            extra = (
                " Daily practice is best."
                if g.ideal_days == 7
                else f" Up to {g.ideal_days} days a week helps even more."
            )
        return f"You did {what} on {_days(c.days)} - that meets the goal. Well done!{extra}"
    missing = g.min_days - c.days
    more = "One more day reaches" if missing == 1 else f"{missing} more days reach"
    return (
        f"You did {what} on {_days(c.days)}. {more} the goal ({g.target_text}) - "
        "you are on your way."
    )


def _patient_text(cats: tuple[CategoryDose, ...]) -> str:
    met = sum(1 for c in cats if c.met)
    if met == len(cats):
        head = "A great week: you reached every exercise goal for strong bones."
    elif met:
        head = f"Good work: you reached {met} of {len(cats)} exercise goals this week."
    elif any(c.days for c in cats):
        head = "You made a start this week - every session counts."
    else:
        head = "No exercise was recorded this week. A short session today is a good new start."
    return " ".join([head] + [_patient_line(c) for c in cats])


def _therapist_text(start: dt.date, cats: tuple[CategoryDose, ...]) -> str:
    parts = []
    for c in cats:
        status = "met" if c.met else f"{100 * c.fraction:.0f} %"
        parts.append(f"{c.category} {c.amount_text} ({c.goal_text}, {status})")
    met = sum(1 for c in cats if c.met)
    end = start + dt.timedelta(days=6)
    return (
        f"Week {start.isoformat()} to {end.isoformat()}: "
        + "; ".join(parts)
        + f". Guideline doses met: {met} of {len(cats)} (recorded sessions only)."
    )
