"""What each monitored measure is: unit, which direction is worse, and what is
known about its measurement error, each number with its source
(``/work/shared/reference/clinical.md`` sections 1 and 4).

A measure name may carry a context after a colon, e.g.
``sway_rms_mps2:romberg/eyes_open``: the part before the colon selects the
:class:`MeasureInfo`; the context keeps unlike trials apart (a trend is only
computed over one measure name, context included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import RiskError
from ..protocols.norms import Source

__all__ = ["MEASURES", "MeasureInfo", "RiskError", "measure_info"]


@dataclass(frozen=True)
class MeasureInfo:
    """Metadata of one measure.

    ``worse``: ``"higher"`` or ``"lower"`` (the direction of a deterioration).
    ``mdc95``: published minimal detectable change (95 %) in ``unit``, or None;
    when None, the measurement error comes from the patient's own baseline
    spread, or from ``icc`` with a between-person SD (see :mod:`.trend`).
    ``icc``: a published test-retest ICC (the conservative end of a range).
    ``practice_effect``: (low, high) improvement from the first to the second
    attempt, in ``unit``, when one is known (the first attempt is then dropped).
    """

    name: str
    title: str
    unit: str
    worse: str
    mdc95: float | None = None
    mdc_source: Source | None = None
    icc: float | None = None
    icc_source: Source | None = None
    practice_effect: tuple[float, float] | None = None
    practice_source: Source | None = None
    decimals: int = 1

    def fmt(self, x: float, *, signed: bool = False) -> str:
        """``x`` rounded for this measure, with its unit."""
        s = f"{x:+.{self.decimals}f}" if signed else f"{x:.{self.decimals}f}"
        return f"{s} {self.unit}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "unit": self.unit,
            "worse": self.worse,
            "mdc95": self.mdc95,
            "mdc_source": None if self.mdc_source is None else str(self.mdc_source),
            "icc": self.icc,
            "icc_source": None if self.icc_source is None else str(self.icc_source),
            "practice_effect": None if self.practice_effect is None else list(self.practice_effect),
            "practice_source": None if self.practice_source is None else str(self.practice_source),
        }


_ALQAHTANI = "Alqahtani et al. 2020, BMC Geriatr, older adults, waist sensor"

#: Every measure risk knows, by base name.
MEASURES: dict[str, MeasureInfo] = {
    m.name: m
    for m in (
        MeasureInfo(
            "tug_s",
            "Timed Up and Go",
            "s",
            "higher",
            mdc95=2.08,
            mdc_source=Source("Donoghue et al. 2019, BMJ Open, adults 50+"),
        ),
        MeasureInfo(
            "chair_stand_stands",
            "30 s chair stand",
            "stands",
            "lower",
            mdc95=2.5,
            mdc_source=Source("Gill et al. 2022, about 2.5 stands for one person"),
            practice_effect=(0.5, 0.8),
            practice_source=Source("Gill et al. 2022"),
        ),
        MeasureInfo(
            "five_sts_s",
            "Five times sit-to-stand",
            "s",
            "higher",
            mdc95=2.5,
            mdc_source=Source("Goldberg et al. 2012, older women: ICC 0.95, SEM 0.9 s"),
        ),
        MeasureInfo(
            "sway_rms_mps2",
            "Sway RMS",
            "m/s^2",
            "higher",
            icc=0.41,
            icc_source=Source(f"{_ALQAHTANI}: RMS ICC 0.41-0.83, lower end"),
            decimals=3,
        ),
        MeasureInfo(
            "sway_norm_path_mps3",
            "Sway normalised path",
            "m/s^3",
            "higher",
            icc=0.49,
            icc_source=Source(f"{_ALQAHTANI}: normalised path ICC 0.49-0.82, lower end"),
            decimals=3,
        ),
        MeasureInfo("single_leg_stance_s", "Single-leg stance", "s", "lower"),
    )
}


def measure_info(name: str) -> MeasureInfo:
    """The :class:`MeasureInfo` of ``name`` (a context after ``:`` is allowed)."""
    base = str(name).split(":", 1)[0]
    info = MEASURES.get(base)
    if info is None:
        raise RiskError(f"unknown measure {name!r}; use one of {', '.join(MEASURES)}")
    return info
