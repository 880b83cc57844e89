"""The building blocks of a clinical test protocol, as plain frozen data.

A :class:`Protocol` is data, not code: its steps (what the screen shows, what
is said, how long, whether the signal may start or stop it), its conditions,
how many attempts, which validity rules apply, which analysis of
:mod:`balance_mon.analysis.registry` scores each trial and which norms the
score is compared with. :mod:`.library` defines the clinical tests with these
pieces; :class:`~.runner.ProtocolRunner` walks one interactively and
:func:`~.scoring.score_session` scores recorded trials.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProtocolError
from .norms import Source, normalise_sex

__all__ = [
    "AGGREGATES",
    "OUTCOMES",
    "REPEATS",
    "RULE_CODES",
    "STEP_KINDS",
    "VALUE_KINDS",
    "Condition",
    "Patient",
    "Protocol",
    "ProtocolError",
    "Step",
    "ValidityRule",
]


#: Kinds of step. ``setup`` runs once before the first trial; the others per trial.
STEP_KINDS = ("setup", "position", "countdown", "perform", "rest")

#: What a trial's value is: seconds held, stands counted, seconds taken.
VALUE_KINDS = ("hold_s", "stands", "time_s")

#: How repeated attempts are given: ``none`` (practice attempts, then one scored
#: attempt), ``on_fail`` (repeat a failed condition up to ``max_attempts``).
REPEATS = ("none", "on_fail")

#: How a condition's attempts become its value.
AGGREGATES = ("single", "last", "mean", "best")

#: What a validity rule does to a trial when it fires.
OUTCOMES = ("invalid", "fail", "score_zero")

#: Known validity rules (the codes used in reasons and runner events).
RULE_CODES = (
    "sensor_gap",
    "too_short",
    "analysis_failed",
    "balance_lost",
    "support_used",
    "arms_used",
    "eyes_opened",
)


@dataclass(frozen=True)
class Patient:
    """Who is tested: the age and sex select the norm band.

    ``sex`` is normalised to ``"female"``/``"male"``; anything else (or None)
    means no sex-specific norm is applied. ``age_years`` may be None
    (no age-specific norm).
    """

    id: str | None = None
    age_years: float | None = None
    sex: str | None = None

    def __post_init__(self) -> None:
        if self.age_years is not None:
            a = self.age_years
            if isinstance(a, bool) or not isinstance(a, numbers.Real) or not math.isfinite(a):
                raise ProtocolError(f"patient age must be a number of years, got {a!r}")
            if not 0 <= a <= 130:
                raise ProtocolError(f"patient age must be 0-130 years, got {a!r}")
            object.__setattr__(self, "age_years", float(a) if not isinstance(a, int) else a)
        if self.sex is not None:
            object.__setattr__(self, "sex", normalise_sex(self.sex) or str(self.sex))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "age_years": self.age_years, "sex": self.sex}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Patient | None:
        if d is None:
            return None
        return cls(id=d.get("id"), age_years=d.get("age_years"), sex=d.get("sex"))


@dataclass(frozen=True)
class Step:
    """One screen of a protocol.

    Parameters
    ----------
    name : short identifier (``"position"``, ``"go"``...).
    kind : one of :data:`STEP_KINDS`.
    instruction : on-screen text; ``{instruction}`` is replaced by the
        condition's instruction and ``{title}`` by its title.
    cue : short spoken cue said when the step begins (``{cue}`` = the
        condition's cue); empty for none.
    duration_s : how long the step lasts (countdown, perform, rest); None =
        until the examiner confirms or the signal ends it.
    auto_start : the step may be ended by the signal reporting the patient
        ready (``"still"``: in position and quiet), not only by the examiner.
    auto_stop : how a ``perform`` step ends by itself: ``"duration"`` (after
        ``duration_s``) or ``"signal"`` (the analysis reports the task done,
        e.g. seated again after the TUG); the examiner can always stop it.
    max_duration_s : safety limit of an open-ended perform step, s.
    end_cue : spoken when a perform step ends normally ("Stop").
    """

    name: str
    kind: str
    instruction: str
    cue: str = ""
    duration_s: float | None = None
    auto_start: str | None = None
    auto_stop: str | None = None
    max_duration_s: float | None = None
    end_cue: str = ""

    def __post_init__(self) -> None:
        if self.kind not in STEP_KINDS:
            raise ProtocolError(f"step {self.name!r}: kind must be one of {STEP_KINDS}")
        for k in ("duration_s", "max_duration_s"):
            v = getattr(self, k)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ProtocolError(f"step {self.name!r}: {k} must be positive, got {v!r}")
        if self.auto_stop not in (None, "duration", "signal"):
            raise ProtocolError(f"step {self.name!r}: auto_stop must be duration, signal or None")
        if self.auto_stop == "duration" and self.duration_s is None:
            raise ProtocolError(f"step {self.name!r}: auto_stop 'duration' needs duration_s")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Condition:
    """One condition of a protocol (a stance, eyes open/closed, a surface).

    ``instruction`` and ``cue`` fill the ``{instruction}`` and ``{cue}``
    placeholders of the trial steps. ``eyes`` (``"open"``/``"closed"``),
    ``surface`` (``"firm"``/``"foam"``) and ``stance`` describe the condition
    for the analyses and for validity rules (``eyes_opened`` only applies with
    eyes closed).
    """

    name: str
    title: str
    instruction: str
    cue: str = ""
    eyes: str | None = None
    surface: str | None = None
    stance: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ValidityRule:
    """A reason a trial is invalid, failed or scored zero.

    ``code`` is one of :data:`RULE_CODES`; ``outcome`` one of :data:`OUTCOMES`:
    ``invalid`` (technical: the trial does not count and may be repeated),
    ``fail`` (the patient could not complete it: the time held so far is the
    result), ``score_zero`` (the trial counts with a score of 0, e.g. arms used
    in the chair stand). ``stops_trial``: the event ends the trial at once.
    ``limit`` is the rule's number (largest sensor gap, s; shortest trial as a
    fraction of the target). ``description`` and ``source`` explain it.
    """

    code: str
    outcome: str
    description: str
    stops_trial: bool = True
    limit: float | None = None
    source: Source | None = None

    def __post_init__(self) -> None:
        if self.code not in RULE_CODES:
            raise ProtocolError(f"unknown validity rule {self.code!r}; use one of {RULE_CODES}")
        if self.outcome not in OUTCOMES:
            raise ProtocolError(f"rule {self.code!r}: outcome must be one of {OUTCOMES}")

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["source"] = None if self.source is None else str(self.source)
        return d


@dataclass(frozen=True)
class Protocol:
    """A clinical test as data.

    Parameters
    ----------
    name : identifier (``steadi_four_stage``...).
    title, description : for people.
    value : what a trial yields (:data:`VALUE_KINDS`).
    analysis : registry analysis that scores each trial recording
        (:func:`balance_mon.analysis.registry.run_analysis`).
    whole_analysis : registry analysis for one recording of the whole test
        (e.g. ``"four-stage"``), or None.
    conditions : in test order.
    setup, trial_steps : the steps, once at the start and per trial.
    target_s : a hold trial passes when it lasts ``target_s - tolerance_s``;
        for other values None.
    max_attempts : attempts that count per condition (invalid ones excepted).
    repeat : :data:`REPEATS`.
    aggregate : :data:`AGGREGATES`.
    practice_attempts : leading attempts recorded but not scored.
    max_invalid : technical repeats allowed per condition.
    stop_on_fail : stop the test at the first condition not passed (STEADI).
    rules : validity rules.
    norms : norm keys compared by :func:`~.scoring.compare_norms`.
    sources : where the protocol comes from.
    """

    name: str
    title: str
    description: str
    value: str
    analysis: str
    conditions: tuple[Condition, ...]
    trial_steps: tuple[Step, ...]
    setup: tuple[Step, ...] = ()
    whole_analysis: str | None = None
    target_s: float | None = None
    tolerance_s: float = 0.3
    max_attempts: int = 1
    repeat: str = "none"
    aggregate: str = "single"
    practice_attempts: int = 0
    max_invalid: int = 2
    stop_on_fail: bool = False
    rules: tuple[ValidityRule, ...] = ()
    norms: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    notes: str = ""
    version: str = "1.0"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        where = f"protocol {self.name!r}"
        if self.value not in VALUE_KINDS:
            raise ProtocolError(f"{where}: value must be one of {VALUE_KINDS}")
        if self.repeat not in REPEATS:
            raise ProtocolError(f"{where}: repeat must be one of {REPEATS}")
        if self.aggregate not in AGGREGATES:
            raise ProtocolError(f"{where}: aggregate must be one of {AGGREGATES}")
        if not self.conditions:
            raise ProtocolError(f"{where}: needs at least one condition")
        names = [c.name for c in self.conditions]
        if len(set(names)) != len(names):
            raise ProtocolError(f"{where}: condition names must be unique, got {names}")
        for k in ("max_attempts",):
            if getattr(self, k) < 1:
                raise ProtocolError(f"{where}: {k} must be at least 1")
        if self.practice_attempts < 0 or self.max_invalid < 0:
            raise ProtocolError(f"{where}: practice_attempts and max_invalid must be >= 0")
        if self.value == "hold_s" and self.target_s is None:
            raise ProtocolError(f"{where}: a hold protocol needs target_s")
        if not any(s.kind == "perform" for s in self.trial_steps):
            raise ProtocolError(f"{where}: trial_steps need a 'perform' step")
        codes = [r.code for r in self.rules]
        if len(set(codes)) != len(codes):
            raise ProtocolError(f"{where}: each validity rule may appear once")

    # -- lookups ------------------------------------------------------------------

    def condition(self, name: str) -> Condition:
        for c in self.conditions:
            if c.name == name:
                return c
        raise ProtocolError(
            f"protocol {self.name!r} has no condition {name!r}; use one of "
            f"{', '.join(c.name for c in self.conditions)}"
        )

    def rule(self, code: str) -> ValidityRule | None:
        return next((r for r in self.rules if r.code == code), None)

    @property
    def perform_step(self) -> Step:
        return next(s for s in self.trial_steps if s.kind == "perform")

    def with_options(self, **changes: Any) -> Protocol:
        """A copy with some fields changed (e.g. ``practice_attempts=1``), re-validated."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Everything about the protocol, for JSON (e.g. to show or to store with results)."""
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "value": self.value,
            "analysis": self.analysis,
            "whole_analysis": self.whole_analysis,
            "conditions": [c.as_dict() for c in self.conditions],
            "setup": [s.as_dict() for s in self.setup],
            "trial_steps": [s.as_dict() for s in self.trial_steps],
            "target_s": self.target_s,
            "tolerance_s": self.tolerance_s,
            "max_attempts": self.max_attempts,
            "repeat": self.repeat,
            "aggregate": self.aggregate,
            "practice_attempts": self.practice_attempts,
            "max_invalid": self.max_invalid,
            "stop_on_fail": self.stop_on_fail,
            "rules": [r.as_dict() for r in self.rules],
            "norms": list(self.norms),
            "sources": [str(s) for s in self.sources],
            "notes": self.notes,
        }
