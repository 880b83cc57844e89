"""Analyses by name, for `balance-mon analyze --test NAME`, the protocols and the store.

:func:`run_analysis` runs one analysis on a recording and returns the JSON
blocks it contributes (``{"sway": {...}}``, ``{"reps": {...}}``, ...). Every
block carries an ``algorithm`` entry (name, version, parameters) or sits next
to an ``*_info`` block that does, so stored results can be recomputed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import UnsupportedTestError
from ..recording import Recording

__all__ = ["ANALYSES", "AUTO_TESTS", "MIN_DURATION_S", "run_analysis"]

AnalysisFn = Callable[[Recording], dict[str, Any]]


def _sway(rec: Recording) -> dict[str, Any]:
    from .sway import SWAY_KEYS, SwayAnalyzer

    res = SwayAnalyzer().analyze_recording(rec).result()
    metrics = {k: res.pop(k) for k in SWAY_KEYS}
    return {"sway": metrics, "sway_info": res}


def _reps(rec: Recording) -> dict[str, Any]:
    from .reps import RepCounter

    return {"reps": RepCounter().count_recording(rec).result()}


def _four_stage(rec: Recording) -> dict[str, Any]:
    from .balance import FourStageAnalyzer

    res = FourStageAnalyzer().analyze_recording(rec).result()
    return {"four_stage": res, "sway": dict(res["stances"][0]["sway"])}


def _sit_to_stand(rec: Recording) -> dict[str, Any]:
    from .transitions import TransitionDetector

    return TransitionDetector().detect_recording(rec).result()


def _chair_stand(rec: Recording) -> dict[str, Any]:
    from .chair_stand import ChairStandTest

    return {"chair_stand": ChairStandTest().analyze_recording(rec).result()}


def _tug(rec: Recording) -> dict[str, Any]:
    from .tug import TugAnalyzer

    return {"tug": TugAnalyzer().analyze_recording(rec).result()}


def _daily(rec: Recording) -> dict[str, Any]:
    from .daily import DailyActivity

    return {"daily": DailyActivity().analyze_recording(rec).result()}


def _posture(rec: Recording) -> dict[str, Any]:
    from .posture import TrunkPosture

    return {"posture": TrunkPosture().analyze_recording(rec).result()}


def _loading(rec: Recording) -> dict[str, Any]:
    from .loading import ImpactLoading

    return {"loading": ImpactLoading().analyze_recording(rec).result()}


#: Which analysis ``auto`` runs for a recording's ``test`` metadata.
AUTO_TESTS = {
    "sway": "sway",
    "romberg": "sway",
    "ctsib": "sway",
    "stance": "sway",
    "four-stage": "four-stage",
    "chair-stand": "chair-stand",
    "tug": "tug",
    "sit-to-stand": "sit-to-stand",
    "daily-living": "sit-to-stand",
    "walk": "reps",
    "reps": "reps",
    "home-session": "reps",
}


def _auto(rec: Recording) -> dict[str, Any]:
    """The analysis the recording's ``test`` metadata names; else transitions and reps."""
    key = str(rec.metadata.get("test", "")).strip().lower().replace("_", "-")
    named = AUTO_TESTS.get(key)
    chosen = [named] if named else ["sit-to-stand", "reps"]
    out: dict[str, Any] = {}
    ran = []
    for name in chosen:
        fn = ANALYSES.get(name)
        if fn is None or rec.duration_s < MIN_DURATION_S[name]:
            continue
        out.update(fn(rec))
        ran.append(name)
    if not ran:
        out.update(_reps(rec))
        ran.append("reps")
    out["auto"] = {"tests": ran, "from_metadata": named is not None}
    return out


#: Shortest recording (s) each analysis accepts.
MIN_DURATION_S: dict[str, float] = {
    "sway": 5.0,
    "reps": 2.0,
    "sit-to-stand": 2.0,
    "chair-stand": 25.0,
    "tug": 3.0,
    "four-stage": 10.0,
    "posture": 2.0,
    "loading": 2.0,
    "daily": 2.0,
    "auto": 2.0,
}

#: Analyses available in this version.
ANALYSES: dict[str, AnalysisFn] = {
    "sway": _sway,
    "reps": _reps,
    "sit-to-stand": _sit_to_stand,
    "chair-stand": _chair_stand,
    "tug": _tug,
    "four-stage": _four_stage,
    "posture": _posture,
    "loading": _loading,
    "daily": _daily,
    "auto": _auto,
}


def run_analysis(name: str, rec: Recording) -> dict[str, Any]:
    """Run analysis ``name`` on ``rec``; raises UnsupportedTestError if unknown."""
    fn = ANALYSES.get(name)
    if fn is None:
        raise UnsupportedTestError(
            f"the '{name}' analysis is not available; choose one of {', '.join(ANALYSES)}"
        )
    return fn(rec)
