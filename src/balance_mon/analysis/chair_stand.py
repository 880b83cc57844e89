"""The 30-second chair stand test (CDC STEADI) scored from one trunk sensor.

:class:`ChairStandTest` finds the sit-to-stand transfers with
:class:`~balance_mon.analysis.transitions.TransitionDetector`, starts the 30 s
at the first rise of a person who was seated (or at the recording's start if
the recording does not begin seated), counts the full stands completed within
the 30 s and applies the STEADI rule for the stand in progress at the end: if
the person is more than halfway up at 30 s, that stand counts. "Halfway up"
is measured as half of that transfer's vertical rise.

The norms (below-average scores by age and sex) are those of the CDC STEADI
"30-Second Chair Stand" assessment form (clinical.md section 2); they cover
ages 60-94. Scoring needs the person's age and sex: taken from the
recording's ``age_years`` (or ``age``) and ``sex`` metadata when present.

What a trunk sensor cannot see: whether the arms were used (STEADI scores 0
then), whether the seat was 43 cm high, and the examiner's "go". Without a
``go_s`` (metadata or argument) the 30 s start a typical reaction time
(``reaction_s``, 0.3 s) before the first rise; a stand about half done at 30 s
can be scored differently from a stopwatch when the person's reaction time is
far from that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..recording import Recording
from .transitions import Transition, TransitionDetector

__all__ = [
    "STEADI_CHAIR_STAND_BELOW_AVERAGE",
    "STEADI_SOURCE",
    "ChairStandTest",
    "chair_stand_norm",
    "parse_age",
    "parse_sex",
]

#: Source of the norms below.
STEADI_SOURCE = (
    "CDC STEADI, Assessment: 30-Second Chair Stand (Centers for Disease Control and "
    "Prevention, 2017); below-average scores by age and sex"
)

#: (lowest age, highest age) -> (men, women): a score *below* this is below
#: average (STEADI 30-Second Chair Stand form; clinical.md section 2).
STEADI_CHAIR_STAND_BELOW_AVERAGE: dict[tuple[int, int], tuple[int, int]] = {
    (60, 64): (14, 12),
    (65, 69): (12, 11),
    (70, 74): (12, 10),
    (75, 79): (11, 10),
    (80, 84): (10, 9),
    (85, 89): (8, 8),
    (90, 94): (7, 4),
}

_FEMALE = {"f", "female", "woman", "w", "femme", "frau"}
_MALE = {"m", "male", "man", "homme", "mann"}


def parse_age(metadata: Mapping[str, str]) -> float | None:
    """Age in years from ``age_years`` or ``age`` metadata (None if absent or not a number)."""
    for key in ("age_years", "age"):
        text = metadata.get(key)
        if text is None:
            continue
        try:
            age = float(str(text).strip().split()[0])
        except (ValueError, IndexError):
            continue
        if math.isfinite(age) and 0 < age < 130:
            return age
    return None


def parse_sex(metadata: Mapping[str, str]) -> str | None:
    """``"female"``, ``"male"`` or None from the ``sex`` metadata."""
    text = str(metadata.get("sex", "")).strip().lower()
    if text in _FEMALE:
        return "female"
    if text in _MALE:
        return "male"
    return None


def _parse_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        x = float(str(text).strip())
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _rise_fraction(t: Transition, time_s: float) -> float:
    """How far up a rise is at ``time_s``: 0 at its lowest point so far, 1 at its end."""
    p = np.asarray(t.position_m)
    x = (time_s - t.start_s) * t.fs_hz
    if x <= 0:
        return 0.0
    if x >= p.size - 1:
        return 1.0
    z = float(np.interp(x, np.arange(p.size), p))
    low = float(min(p[: int(x) + 1].min(), z))
    top = float(p[-1])
    return float(min(max((z - low) / (top - low), 0.0), 1.0)) if top > low else 0.0


def chair_stand_norm(age_years: float | None, sex: str | None) -> dict[str, Any] | None:
    """The STEADI below-average threshold for this age and sex, or None when not covered.

    Returns ``{"below": n, "age_band": "70-74", "sex": ..., "source": ...}``:
    a score lower than ``below`` is below average.
    """
    if age_years is None or sex not in ("female", "male"):
        return None
    age = int(math.floor(age_years))
    for (lo, hi), (men, women) in STEADI_CHAIR_STAND_BELOW_AVERAGE.items():
        if lo <= age <= hi:
            return {
                "below": men if sex == "male" else women,
                "age_band": f"{lo}-{hi}",
                "sex": sex,
                "source": STEADI_SOURCE,
            }
    return None


class ChairStandTest:
    """Score a 30-second chair stand recording.

    Parameters
    ----------
    test_s : test duration (default 30 s, STEADI).
    reaction_s : time between the examiner's "go" and the start of the first
        rise, subtracted from that start when no ``go_s`` is known (default
        0.3 s: the simple reaction time of adults over 65 is about 0.3 s, Der &
        Deary 2006, Psychol Aging 21:62 (verify); the STEADI 30 s start at "go",
        which a sensor cannot see).
    detector : the transition detector (default
        :class:`~balance_mon.analysis.transitions.TransitionDetector` with its
        defaults).

    Attributes
    ----------
    count_ : the score: full stands within the test, plus the last one if
        more than halfway up at the end.
    stands_ : the counted sit-to-stand transitions.
    stand_times_s_ : when each counted stand reached standing (its end; for a
        stand counted by the halfway rule, the test's end).
    test_start_s_, test_end_s_ : the scored window (``go_s`` when known, else
        the first rise's start less ``reaction_s``, else the recording's start).
    started_seated_ : whether the start is the first rise of a seated person
        (else the recording's start).
    partial_fraction_ : how far up the stand in progress at the end was: the
        sensor's rise from its lowest point so far, as a fraction of the rise
        to the end of that stand (None if none was in progress).
    partial_counted_ : whether that stand counted: it had passed its peak
        vertical speed, which a smooth rise reaches about half way up
        (STEADI: "more than halfway up at 30 s counts").
    complete_ : whether the recording covers the whole test.
    age_years_, sex_ : as given or read from the metadata.
    norm_ : :func:`chair_stand_norm` for them (None when not covered).
    below_norm_ : score below the STEADI threshold (None without a norm).
    transitions_ : every transition found.
    """

    version = "1.0"

    def __init__(
        self,
        *,
        test_s: float = 30.0,
        reaction_s: float = 0.3,
        detector: TransitionDetector | None = None,
    ) -> None:
        self.test_s = test_s
        self.reaction_s = reaction_s
        self.detector = detector

    def get_params(self) -> dict[str, Any]:
        return {
            "test_s": self.test_s,
            "reaction_s": self.reaction_s,
        }

    def _detector(self) -> TransitionDetector:
        """A fresh detector with the configured parameters (the given one is not touched)."""
        if self.detector is None:
            return TransitionDetector()
        return TransitionDetector(**self.detector.get_params())

    def analyze(
        self,
        acc_mps2: ArrayLike,
        fs_hz: float,
        *,
        gyr_dps: ArrayLike | None = None,
        t0_s: float = 0.0,
        age_years: float | None = None,
        sex: str | None = None,
        go_s: float | None = None,
    ) -> ChairStandTest:
        """Score evenly sampled (N, 3) acceleration at ``fs_hz`` starting at ``t0_s``.

        ``go_s``: the examiner's "go" on the same time axis, when known (the
        30 s then start there).
        """
        det = self._detector().detect(acc_mps2, fs_hz, gyr_dps=gyr_dps, t0_s=t0_s)
        n = np.asarray(acc_mps2).shape[0]
        t0 = float(t0_s)
        self._score(det.transitions_, t0, t0 + n / float(fs_hz), age_years, sex, go_s)
        return self

    def analyze_recording(
        self,
        rec: Recording,
        *,
        age_years: float | None = None,
        sex: str | None = None,
        go_s: float | None = None,
    ) -> ChairStandTest:
        """Score a recording; age, sex and "go" default to its metadata.

        Metadata read: ``age_years`` (or ``age``), ``sex``, and ``go_s`` (the
        examiner's "go" in seconds on the recording's time axis, as a
        recording app that knows it writes it).
        """
        det = self._detector().detect_recording(rec)
        age = age_years if age_years is not None else parse_age(rec.metadata)
        sx = sex if sex is not None else parse_sex(rec.metadata)
        if go_s is None:
            go_s = _parse_float(rec.metadata.get("go_s"))
        t_first = float(rec.time_s[0])
        self._score(det.transitions_, t_first, t_first + rec.duration_s, age, sx, go_s)
        return self

    def _score(
        self,
        transitions: list[Transition],
        rec_start: float,
        rec_end: float,
        age_years: float | None,
        sex: str | None,
        go_s: float | None = None,
    ) -> None:
        self.transitions_ = list(transitions)
        rises = [t for t in transitions if t.kind == "sit_to_stand"]
        first = transitions[0] if transitions else None
        # seated start: the first transfer found is a rise
        self.started_seated_ = first is not None and first.kind == "sit_to_stand"
        if go_s is not None:
            start = float(go_s)
        elif self.started_seated_ and first is not None:
            start = max(first.start_s - self.reaction_s, rec_start)
        else:
            start = rec_start
        end = start + self.test_s
        counted = [t for t in rises if t.start_s >= start - 0.5 and t.end_s <= end]
        times = [t.end_s for t in counted]
        self.partial_fraction_ = None
        self.partial_counted_ = False
        for t in rises:
            if t.start_s < end < t.end_s:
                # "more than halfway up": past the rise's peak vertical speed,
                # which a smooth rise reaches about half way up. (The sensor's
                # own height fraction is reported, not used: a sternum sensor
                # first dips as the trunk leans, and on simulated tests with a
                # known "go" the peak rule matched the STEADI score more often.)
                self.partial_fraction_ = _rise_fraction(t, end)
                if t.peak_s < end:
                    counted.append(t)
                    times.append(end)
                    self.partial_counted_ = True
                break
        self.test_start_s_ = start
        self.test_end_s_ = end
        self.complete_ = rec_end >= end
        self.stands_ = counted
        self.stand_times_s_ = times
        self.count_ = len(counted)
        self.age_years_ = age_years
        self.sex_ = sex
        self.norm_ = chair_stand_norm(age_years, sex)
        self.below_norm_ = None if self.norm_ is None else self.count_ < self.norm_["below"]

    def result(self) -> dict[str, Any]:
        """The ``chair_stand`` JSON block."""
        return {
            "count": self.count_,
            "below_norm": self.below_norm_,
            "norm": self.norm_,
            "age_years": self.age_years_,
            "sex": self.sex_,
            "stand_times_s": self.stand_times_s_,
            "stands": [t.as_dict() for t in self.stands_],
            "test_start_s": self.test_start_s_,
            "test_end_s": self.test_end_s_,
            "started_seated": self.started_seated_,
            "partial_fraction": self.partial_fraction_,
            "partial_counted": self.partial_counted_,
            "complete": self.complete_,
            "norm_table": {
                "source": STEADI_SOURCE,
                "below_average": [
                    {"age": f"{lo}-{hi}", "men": m, "women": w}
                    for (lo, hi), (m, w) in STEADI_CHAIR_STAND_BELOW_AVERAGE.items()
                ],
            },
            "algorithm": {
                "name": "ChairStandTest",
                "version": self.version,
                **self.get_params(),
                "detector": {
                    "name": "TransitionDetector",
                    "version": TransitionDetector.version,
                    **self._detector().get_params(),
                },
            },
        }
