"""Romberg ratio and CTSIB-M condition ratios from several sway trials.

The modified Clinical Test of Sensory Interaction on Balance (CTSIB-M; Cohen,
Blatchly & Gombash 1993, Phys Ther 73:346, from Shumway-Cook & Horak 1986,
Phys Ther 66:1548) has four conditions, 30 s each: firm/eyes open (EO firm),
firm/eyes closed (EC firm), foam/eyes open (EO foam), foam/eyes closed (EC
foam). A failed condition may be repeated up to twice and the attempts
averaged (clinical.md section 2). The Romberg test compares eyes closed with
eyes open, feet together on a firm floor; the Romberg ratio is a sway measure
EC / EO (no validated cut-off).

Ratios (sway-based, so a larger ratio means more sway when the input is taken
away, i.e. more *reliance* on it), as computed by APDM Mobility Lab for its
instrumented CTSIB ("How are the CTSIB scores calculated and reported", APDM
support article; there with the 95 % sway ellipse area):

- ``visual_reliance``        = EC firm / EO firm  (the Romberg ratio on firm ground)
- ``somatosensory_reliance`` = EO foam / EO firm
- ``vestibular_reliance``    = EC foam / EO firm

They mirror the sensory-analysis ratios of computerised dynamic posturography
(NeuroCom SOT; e.g. Frontiers in Neurology 2022, 13:856946, table 1), which
divide *equilibrium scores* (higher = steadier) of SOT conditions 2, 4 and 5 by
condition 1 and name each ratio after the input left to the patient: the
SOT "somatosensory ratio" C2/C1 corresponds to our ``visual_reliance``
(both compare eyes closed with eyes open on a fixed floor), the SOT "visual
ratio" C4/C1 to ``somatosensory_reliance`` (foam standing in for a
sway-referenced floor), the SOT "vestibular ratio" C5/C1 to
``vestibular_reliance``. Because equilibrium scores fall as sway rises, an SOT
ratio below 1 goes with a reliance ratio above 1. No validated cut-offs exist
for the sway-based ratios; compare a patient with their own earlier results.

Repeated attempts of a condition are averaged per measure before dividing
(ratio of means, not mean of ratios).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import RecordingError
from ..recording import Recording
from .sway import SWAY_KEYS, SwayAnalyzer

__all__ = [
    "CONDITIONS",
    "ConditionComparison",
    "ConditionTrial",
    "parse_condition",
    "trial_from_recording",
]

#: CTSIB-M conditions in test order: (eyes, surface).
CONDITIONS = (("open", "firm"), ("closed", "firm"), ("open", "foam"), ("closed", "foam"))

#: Condition names used in results.
CONDITION_NAMES = {c: f"eyes_{c[0]}_{c[1]}" for c in CONDITIONS}

#: CTSIB-M: the first attempt and up to two repeats.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class ConditionTrial:
    """One sway trial: its condition and its sway measures.

    ``eyes`` is ``"open"`` or ``"closed"``, ``surface`` ``"firm"`` or
    ``"foam"``; ``metrics`` maps sway keys (:data:`~balance_mon.analysis.sway.SWAY_KEYS`)
    to values; ``source`` names the trial in messages.
    """

    eyes: str
    surface: str
    metrics: Mapping[str, float]
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"{self.source}: " if self.source else ""
        if self.eyes not in ("open", "closed"):
            raise RecordingError(f"{where}eyes must be 'open' or 'closed', got {self.eyes!r}")
        if self.surface not in ("firm", "foam"):
            raise RecordingError(f"{where}surface must be 'firm' or 'foam', got {self.surface!r}")

    @property
    def condition(self) -> tuple[str, str]:
        return (self.eyes, self.surface)


_EYES = (
    (re.compile(r"(eyes[_\s-]*closed|\bec\b|(^|[_/\s-])ec([_/\s-]|$))", re.I), "closed"),
    (re.compile(r"(eyes[_\s-]*open|\beo\b|(^|[_/\s-])eo([_/\s-]|$))", re.I), "open"),
)
_SURFACE = (
    (re.compile(r"(foam|compliant|soft)", re.I), "foam"),
    (re.compile(r"(firm|floor|hard|rigid)", re.I), "firm"),
)


def parse_condition(text: str) -> tuple[str | None, str | None]:
    """(eyes, surface) named in a condition text such as ``eyes_closed_foam``,
    ``feet_together/eyes_open/firm`` or ``EC foam``; None for what is not named."""
    eyes = next((v for rx, v in _EYES if rx.search(text)), None)
    surface = next((v for rx, v in _SURFACE if rx.search(text)), None)
    return eyes, surface


def trial_from_recording(
    rec: Recording,
    *,
    eyes: str | None = None,
    surface: str | None = None,
    analyzer: SwayAnalyzer | None = None,
) -> ConditionTrial:
    """Analyse a quiet-standing recording with :class:`SwayAnalyzer` into a trial.

    The condition comes from ``eyes`` and ``surface`` when given, else from
    the recording's ``condition`` metadata (e.g. ``eyes_closed_foam``); a
    missing surface defaults to firm (Romberg trials rarely state it).
    """
    where = rec.source or "recording"
    m_eyes, m_surface = parse_condition(rec.metadata.get("condition", ""))
    eyes = eyes or m_eyes
    surface = surface or m_surface or "firm"
    if eyes is None:
        raise RecordingError(
            f"{where}: cannot tell whether the eyes were open or closed; set the "
            "'condition' metadata (e.g. eyes_closed_firm) or pass eyes="
        )
    sw = SwayAnalyzer(**(analyzer or SwayAnalyzer()).get_params()).analyze_recording(rec)
    return ConditionTrial(
        eyes=eyes,
        surface=surface,
        metrics={k: sw.metrics_[k] for k in SWAY_KEYS},
        source=rec.source or "",
        extra={"analysed_s": sw.analysed_s_},
    )


def _ratio(num: float, den: float) -> float:
    if not (math.isfinite(num) and math.isfinite(den)) or den <= 0:
        return math.nan
    return num / den


class ConditionComparison:
    """Romberg and CTSIB-M ratios of sway measures across conditions.

    Parameters
    ----------
    measures : sway keys to compare (default RMS and 95 % ellipse area, the
        measures most used for Romberg quotients and by instrumented CTSIB).
    max_attempts : most trials accepted per condition (CTSIB-M: 3).

    Attributes
    ----------
    n_trials_ : condition name -> number of trials.
    means_ : condition name -> measure -> mean over the condition's trials
        (only conditions with trials).
    romberg_ : measure -> EC / EO on firm ground (NaN without both).
    romberg_foam_ : measure -> EC / EO on foam (NaN without both).
    ratios_ : measure -> {visual_reliance, somatosensory_reliance,
        vestibular_reliance} (NaN where a condition is missing).
    """

    version = "1.0"

    def __init__(
        self,
        *,
        measures: Sequence[str] = ("rms_mps2", "ellipse_area_m2ps4"),
        max_attempts: int = MAX_ATTEMPTS,
    ):
        self.measures = measures
        self.max_attempts = max_attempts

    def get_params(self) -> dict[str, Any]:
        return {"measures": list(self.measures), "max_attempts": self.max_attempts}

    def compare(self, trials: Iterable[ConditionTrial]) -> ConditionComparison:
        """Average each condition's trials and form the ratios."""
        for m in self.measures:
            if m not in SWAY_KEYS:
                raise RecordingError(
                    f"unknown sway measure {m!r}; use one of {', '.join(SWAY_KEYS)}"
                )
        groups: dict[tuple[str, str], list[ConditionTrial]] = {c: [] for c in CONDITIONS}
        for tr in trials:
            if not isinstance(tr, ConditionTrial):
                raise RecordingError("compare() needs ConditionTrial objects")
            groups[tr.condition].append(tr)
        if not any(groups.values()):
            raise RecordingError("no trials to compare")
        for cond, trs in groups.items():
            if len(trs) > self.max_attempts:
                raise RecordingError(
                    f"{len(trs)} trials of {CONDITION_NAMES[cond]}; at most "
                    f"{self.max_attempts} attempts per condition are averaged"
                )
        means: dict[str, dict[str, float]] = {}
        for cond, trs in groups.items():
            if not trs:
                continue
            means[CONDITION_NAMES[cond]] = {
                m: math.fsum(float(t.metrics[m]) for t in trs) / len(trs) for m in self.measures
            }
        nan = dict.fromkeys(self.measures, math.nan)

        def get(cond: tuple[str, str]) -> Mapping[str, float]:
            return means.get(CONDITION_NAMES[cond], nan)

        eo_firm, ec_firm = get(("open", "firm")), get(("closed", "firm"))
        eo_foam, ec_foam = get(("open", "foam")), get(("closed", "foam"))
        self.n_trials_ = {CONDITION_NAMES[c]: len(t) for c, t in groups.items()}
        self.means_ = means
        self.romberg_ = {m: _ratio(ec_firm[m], eo_firm[m]) for m in self.measures}
        self.romberg_foam_ = {m: _ratio(ec_foam[m], eo_foam[m]) for m in self.measures}
        self.ratios_ = {
            m: {
                "visual_reliance": _ratio(ec_firm[m], eo_firm[m]),
                "somatosensory_reliance": _ratio(eo_foam[m], eo_firm[m]),
                "vestibular_reliance": _ratio(ec_foam[m], eo_firm[m]),
            }
            for m in self.measures
        }
        return self

    def compare_recordings(
        self, recordings: Iterable[Recording], *, analyzer: SwayAnalyzer | None = None
    ) -> ConditionComparison:
        """:meth:`compare` on recordings whose ``condition`` metadata names the condition."""
        return self.compare(trial_from_recording(r, analyzer=analyzer) for r in recordings)

    def result(self) -> dict[str, Any]:
        """Means, ratios and algorithm, for JSON."""
        return {
            "n_trials": dict(self.n_trials_),
            "means": {k: dict(v) for k, v in self.means_.items()},
            "romberg": dict(self.romberg_),
            "romberg_foam": dict(self.romberg_foam_),
            "ctsib": {m: dict(v) for m, v in self.ratios_.items()},
            "algorithm": {
                "name": "ConditionComparison",
                "version": self.version,
                **self.get_params(),
            },
        }
