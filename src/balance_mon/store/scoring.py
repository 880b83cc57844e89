"""The store's one door to scoring and risk: protocols, measures, flags.

Everything the store, the reports and the command line need from
``balance_mon.protocols`` (protocol definitions, ``score_session``) and
``balance_mon.risk`` (cut-off flags, minimal detectable change, EWMA trends)
goes through the functions of this module, so that the rest of the store
does not depend on how those packages spell things.

Switches (automatic, per call):

- :func:`score`: ``protocols.score_session`` for a protocol of
  ``protocols.library`` whose analyses are registered in
  ``analysis.registry`` (:func:`_protocols_api`); its norm comparisons at risk
  become the trial's cut-off flags (:func:`cutoff_flags`);
- :func:`evaluate_trend`: ``risk.trend`` for the measures risk knows
  (:func:`risk_measure`).

Otherwise a small built-in implementation answers, named
``balance_mon.store.fallback`` in the provenance of every result and flag it
produces, so that stored results say which code made them and
``balance-mon recompute`` replaces them once the real implementations cover
them (e.g. when the chair-stand and TUG analyses are registered).

Built-in rules (clinical.md sections 2 and 4), used only as that fallback:

- cut-offs: 30-s chair stand below the STEADI age/sex table; TUG >= 12 s;
  four-stage tandem stance not held 10 s.
- change: the latest session differs from the baseline (mean of the first
  two valid sessions) by more than the published MDC95 (TUG 2.08 s, chair
  stand 2.5 stands) in the worse direction.
- trend: an EWMA (lambda 0.3) of the series crosses baseline +/- MDC95 in the
  worse direction (Baldewijns et al. 2016 used EWMA charts on home transfers).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import TooShortError, UnsupportedTestError
from ..recording import Recording
from .db import MetricValue

__all__ = [
    "FALLBACK",
    "MeasureInfo",
    "ProtocolInfo",
    "Scored",
    "cutoff_flags",
    "get_protocol",
    "infer_protocol",
    "measure_info",
    "protocols",
    "resolve_condition",
    "score",
    "trend_flags",
]

#: Provenance name of the built-in implementations.
FALLBACK = "balance_mon.store.fallback"
FALLBACK_VERSION = "0.2"


@dataclass(frozen=True)
class ProtocolInfo:
    """A test protocol as the store sees it."""

    name: str
    title: str
    conditions: tuple[str, ...] | None  # None: free text (validated by ``condition_rx``)
    default_condition: str
    min_duration_s: float
    tests: tuple[str, ...]  # recording ``test`` metadata values that mean this protocol
    primary: tuple[str, ...]  # headline measures, in display order
    condition_rx: str | None = None


@dataclass(frozen=True)
class MeasureInfo:
    """What a stored measure means and how a change in it is judged."""

    name: str
    label: str
    unit: str
    better: str | None = None  # "higher" | "lower" | None
    mdc: float | None = None
    mdc_source: str = ""


@dataclass
class Scored:
    """One trial's scoring."""

    protocol: str
    condition: str
    valid: bool
    reason: str
    metrics: list[MetricValue] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def value(self, metric: str) -> float | None:
        return next((m.value for m in self.metrics if m.metric == metric), None)


_SWAY_COND = r"^[a-z0-9_]+(/[a-z0-9_]+)*$"
_FREE_COND = r"^[a-z0-9_/+-]*$"
_SWAY_PRIMARY = ("rms_mps2", "norm_path_mps3", "ellipse_area_m2ps4")
_STANCES = ("feet_together", "semi_tandem", "tandem", "single_leg")

#: Protocol names follow ``balance_mon.protocols.library``; ``sway``,
#: ``sit_to_stand`` and ``reps`` are analyses the store also keeps as trials.
_PROTOCOLS: dict[str, ProtocolInfo] = {
    p.name: p
    for p in (
        ProtocolInfo(
            "steadi_four_stage",
            "STEADI four-stage balance test",
            ("whole", *_STANCES),
            "whole",
            10.0,
            ("four-stage", "four_stage"),
            ("stages_held", "tandem_hold_s", "hold_s"),
        ),
        ProtocolInfo(
            "chair_stand_30s",
            "30-second chair stand",
            ("standard",),
            "standard",
            25.0,
            ("chair-stand", "chair_stand"),
            ("stands",),
        ),
        ProtocolInfo(
            "tug", "Timed Up and Go", ("standard",), "standard", 3.0, ("tug",), ("tug_s",)
        ),
        ProtocolInfo(
            "romberg",
            "Romberg",
            ("eyes_open", "eyes_closed"),
            "eyes_open",
            5.0,
            ("romberg",),
            _SWAY_PRIMARY,
        ),
        ProtocolInfo(
            "ctsib_m",
            "CTSIB-M",
            ("eyes_open_firm", "eyes_closed_firm", "eyes_open_foam", "eyes_closed_foam"),
            "eyes_open_firm",
            5.0,
            ("ctsib",),
            _SWAY_PRIMARY,
        ),
        ProtocolInfo(
            "single_leg_stance",
            "Single-leg stance",
            ("eyes_open", "eyes_closed"),
            "eyes_open",
            2.0,
            ("single-leg", "single_leg", "single_leg_stance"),
            ("hold_s", "rms_mps2"),
        ),
        ProtocolInfo(
            "sway",
            "Quiet standing (sway)",
            None,
            "feet_together/eyes_open/firm",
            5.0,
            ("sway", "stance"),
            _SWAY_PRIMARY,
            condition_rx=_SWAY_COND,
        ),
        ProtocolInfo(
            "sit_to_stand",
            "Sit-to-stand transfers",
            None,
            "",
            2.0,
            ("sit-to-stand", "sit_to_stand"),
            ("sit_to_stand_count", "sit_to_stand_mean_s"),
            condition_rx=_FREE_COND,
        ),
        ProtocolInfo(
            "reps",
            "Exercise repetitions",
            None,
            "",
            2.0,
            ("reps", "home-session", "home_session", "walk", "daily-living", "daily_living"),
            ("reps",),
            condition_rx=_FREE_COND,
        ),
    )
}

#: Other names accepted for protocols.
ALIASES = {
    "four-stage": "steadi_four_stage",
    "four_stage": "steadi_four_stage",
    "chair-stand": "chair_stand_30s",
    "chair_stand": "chair_stand_30s",
    "ctsib": "ctsib_m",
    "sit-to-stand": "sit_to_stand",
    "single-leg": "single_leg_stance",
}

#: Condition texts of recordings' metadata that mean a protocol's condition.
_CONDITION_ALIASES = {
    "chair_stand_30s": {"30s": "standard"},
    "tug": {"3m": "standard", "10ft": "standard"},
    "steadi_four_stage": {"steadi": "whole", "all": "whole"},
}

_MEASURES: dict[str, MeasureInfo] = {
    m.name: m
    for m in (
        MeasureInfo("tug_s", "TUG time", "s", "lower", 2.08, "Donoghue et al. 2019 (adults 50+)"),
        MeasureInfo(
            "stands",
            "30-s chair stands",
            "{stands}",
            "higher",
            2.5,
            "Gill et al. 2022 (one person)",
        ),
        MeasureInfo("stages_held", "Four-stage: stances held", "{stances}", "higher"),
        MeasureInfo("tandem_hold_s", "Tandem stance held", "s", "higher"),
        MeasureInfo("hold_s", "Time held", "s", "higher"),
        MeasureInfo("rms_mps2", "Sway RMS", "m/s2", "lower"),
        MeasureInfo("ellipse_area_m2ps4", "Sway 95 % ellipse area", "m2/s4", "lower"),
        MeasureInfo("path_mps2", "Sway path", "m/s2", "lower"),
        MeasureInfo("norm_path_mps3", "Sway normalised path", "m/s3", "lower"),
        MeasureInfo("jerk_m2ps5", "Sway jerk", "m2/s5", "lower"),
        MeasureInfo("sit_to_stand_count", "Sit-to-stand transfers", "{transfers}", None),
        MeasureInfo("sit_to_stand_mean_s", "Sit-to-stand duration", "s", "lower"),
        MeasureInfo("reps", "Repetitions", "{reps}", "higher"),
        MeasureInfo("rep_peak_flexion_deg", "Largest trunk flexion in a repetition", "deg", None),
    )
}

#: STEADI 30-s chair stand: below these scores is below average (at risk),
#: by age band: (lowest age, men, women). clinical.md section 2.
CHAIR_STAND_BELOW = (
    (60, 14, 12),
    (65, 12, 11),
    (70, 12, 10),
    (75, 11, 10),
    (80, 10, 9),
    (85, 8, 8),
    (90, 7, 4),
)
TUG_AT_RISK_S = 12.0
EWMA_LAMBDA = 0.3


# ---------------------------------------------------------------------------
# Switchable back-ends
# ---------------------------------------------------------------------------


def _protocols_api(protocol: str, condition: str = "") -> Any | None:
    """The ``protocols`` library protocol for ``protocol`` when ``score_session`` can
    score it (the protocol exists there and the analyses it names are registered),
    else None (the built-in scorer answers)."""
    try:
        from ..analysis.registry import ANALYSES
        from ..protocols import PROTOCOLS, score_session  # noqa: F401
    except ImportError:  # pragma: no cover - protocols not installed
        return None
    lib = PROTOCOLS.get(protocol)
    if lib is None or lib.analysis not in ANALYSES:
        return None
    if condition == "whole" and (lib.whole_analysis is None or lib.whole_analysis not in ANALYSES):
        return None
    return lib


# ---------------------------------------------------------------------------
# Protocols and measures
# ---------------------------------------------------------------------------


def protocols() -> dict[str, ProtocolInfo]:
    return dict(_PROTOCOLS)


def get_protocol(name: str) -> ProtocolInfo:
    key = str(name).strip().lower()
    key = ALIASES.get(key, key.replace("-", "_"))
    if key not in _PROTOCOLS:
        raise UnsupportedTestError(
            f"unknown protocol {name!r}; choose one of {', '.join(_PROTOCOLS)} or auto"
        )
    return _PROTOCOLS[key]


def measure_info(metric: str) -> MeasureInfo:
    if metric in _MEASURES:
        return _MEASURES[metric]
    return MeasureInfo(metric, metric.replace("_", " "), unit_of(metric))


def unit_of(metric: str) -> str:
    """The unit a metric's name ends in (SI suffix convention of the project)."""
    for suffix, unit in (
        ("_m2ps5", "m2/s5"),
        ("_m2ps4", "m2/s4"),
        ("_mps3", "m/s3"),
        ("_mps2", "m/s2"),
        ("_mps", "m/s"),
        ("_hz", "Hz"),
        ("_deg", "deg"),
        ("_s", "s"),
        ("_m", "m"),
    ):
        if metric.endswith(suffix):
            return unit
    return _MEASURES[metric].unit if metric in _MEASURES else "1"


def infer_protocol(rec: Recording) -> tuple[str, str]:
    """(protocol, condition) from a recording's ``test`` and ``condition`` metadata."""
    test = str(rec.metadata.get("test", "")).strip().lower()
    cond = str(rec.metadata.get("condition", "")).strip().lower()
    where = rec.source or "recording"
    for p in _PROTOCOLS.values():
        if test in p.tests:
            return p.name, _condition_from_meta(p, cond)
    raise UnsupportedTestError(
        f"{where}: cannot tell the protocol (metadata 'test' is {test or 'missing'!r}); "
        f"name it with --protocol ({', '.join(_PROTOCOLS)})"
    )


def _condition_from_meta(p: ProtocolInfo, cond: str) -> str:
    cond = _CONDITION_ALIASES.get(p.name, {}).get(cond, cond)
    if p.conditions is None:
        c = re.sub(r"[^a-z0-9_/+-]+", "_", cond).strip("_")
        return c or p.default_condition
    if cond in p.conditions:
        return cond
    if p.name in ("romberg", "ctsib_m", "single_leg_stance"):
        from ..analysis.conditions import parse_condition

        eyes, surface = parse_condition(cond)
        if eyes:
            name = f"eyes_{eyes}" if p.name != "ctsib_m" else f"eyes_{eyes}_{surface or 'firm'}"
            if name in p.conditions:
                return name
    return p.default_condition


def resolve_condition(protocol: ProtocolInfo, condition: str | None) -> str:
    """Check ``condition`` against ``protocol`` (its default when None)."""
    if condition is None or condition == "":
        return protocol.default_condition
    c = condition.strip().lower()
    if protocol.conditions is not None:
        c = _CONDITION_ALIASES.get(protocol.name, {}).get(c, c)
        if c not in protocol.conditions:
            raise UnsupportedTestError(
                f"unknown condition {condition!r} for {protocol.name}; use one of "
                f"{', '.join(protocol.conditions)}"
            )
        return c
    if protocol.condition_rx and not re.match(protocol.condition_rx, c):
        raise UnsupportedTestError(
            f"condition {condition!r} is not valid for {protocol.name}: use lower-case words "
            f"joined by '_' and '/', e.g. {protocol.default_condition or 'squat'}"
        )
    return c


def check_duration(rec: Recording, protocol: ProtocolInfo) -> None:
    """Raise TooShortError when ``rec`` is too short for ``protocol``."""
    if rec.duration_s < protocol.min_duration_s:
        raise TooShortError(
            f"{rec.source or 'recording'}: too short for {protocol.title}: "
            f"{rec.duration_s:.1f} s, at least {protocol.min_duration_s:g} s needed"
        )


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def score(
    rec: Recording, protocol: str, condition: str, *, age: int | None = None, sex: str | None = None
) -> Scored:
    """Score one recorded trial with ``balance_mon.protocols.score_session`` when it
    covers the protocol, else with the built-in scorer. Analysis failures give an
    invalid trial with the reason (a property of the recording, not a user error)."""
    from ..errors import BalanceMonError

    p = get_protocol(protocol)
    lib = _protocols_api(p.name, condition)
    try:
        if lib is not None:
            return _score_with_protocols(lib, rec, p, condition, age=age, sex=sex)
        return _FALLBACK_SCORERS[p.name](rec, p, condition)
    except BalanceMonError as exc:
        return Scored(p.name, condition, False, " ".join(str(exc).split()))


#: The trial value of a protocol (``Protocol.value``) as a stored metric.
_VALUE_METRIC = {"hold_s": "hold_s", "stands": "stands", "time_s": "tug_s"}


def _algorithm_of(blocks: Mapping[str, Any]) -> dict[str, Any]:
    """The ``algorithm`` entry of an analysis's JSON blocks (or of its ``*_info``)."""
    for v in blocks.values():
        if isinstance(v, Mapping) and isinstance(v.get("algorithm"), Mapping):
            return dict(v["algorithm"])
    return {}


def _score_with_protocols(
    lib: Any, rec: Recording, p: ProtocolInfo, condition: str, *, age: int | None, sex: str | None
) -> Scored:
    """One recording through ``protocols.score_session`` (one trial, or the stances
    of a whole four-stage test)."""
    from ..protocols import Patient, score_session

    patient = Patient(
        age_years=age if age is not None and 0 <= age <= 130 else None,
        sex=sex if sex in ("female", "male") else None,
    )
    whole = condition == "whole"
    res = score_session(lib, [(None if whole else condition, 1, rec)], patient)
    proto_alg = {
        "name": f"balance_mon.protocols.{lib.name}",
        "version": lib.version,
        "target_s": lib.target_s,
        "tolerance_s": lib.tolerance_s,
        "rules": [r.code for r in lib.rules],
    }
    metrics: list[MetricValue] = []
    trials = list(res.trials)
    if whole:
        blocks_alg: dict[str, Any] = {}
        for t in trials:
            blocks_alg = blocks_alg or _algorithm_of(t.analysis)
        proto_alg["analysis"] = lib.whole_analysis
        scores = {k: v for k, v in res.scores.items() if not isinstance(v, bool)}
        metrics += _metrics_from_block(scores, proto_alg, list(scores))
        valid = any(t.valid for t in trials)
        reason = "" if valid else "; ".join(r.message for t in trials for r in t.reasons)
    else:
        t = trials[0]
        alg = _algorithm_of(t.analysis)
        proto_alg["analysis"] = {"name": lib.analysis, **alg}
        vm = _VALUE_METRIC[lib.value]
        metrics += _metrics_from_block({vm: t.value}, proto_alg, [vm])
        if lib.name == "steadi_four_stage" and condition == "tandem":
            metrics += _metrics_from_block({"tandem_hold_s": t.value}, proto_alg, ["tandem_hold_s"])
        extra = {k: v for k, v in t.metrics.items() if k != vm}
        metrics += _metrics_from_block(extra, alg or proto_alg, list(extra))
        valid = t.valid
        reason = "; ".join(r.message for r in t.reasons) if not valid else ""
    details = {
        "scored_by": "balance_mon.protocols.score_session",
        "status": [
            {
                "condition": t.condition,
                "status": t.status,
                "reasons": [r.message for r in t.reasons],
            }
            for t in trials
        ],
        "norms": [n.as_dict() for n in res.norms],
        "protocol_flags": list(res.flags),
        "measures": dict(res.measures),
    }
    return Scored(p.name, condition, valid, reason, metrics, details)


def _metrics_from_block(
    block: Mapping[str, Any], algorithm: Mapping[str, Any], keys: Sequence[str]
) -> list[MetricValue]:
    params = {k: v for k, v in algorithm.items() if k not in ("name", "version")}
    return [
        MetricValue(
            metric=k,
            value=_num(block.get(k)),
            unit=unit_of(k),
            algorithm=str(algorithm.get("name", "")),
            algorithm_version=str(algorithm.get("version", "")),
            parameters=params,
        )
        for k in keys
        if k in block
    ]


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None if v is None else float(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _score_sway(rec: Recording, p: ProtocolInfo, condition: str) -> Scored:
    from ..analysis.registry import run_analysis
    from ..analysis.sway import SWAY_KEYS

    out = run_analysis("sway", rec)
    metrics = _metrics_from_block(out["sway"], out["sway_info"]["algorithm"], SWAY_KEYS)
    info = {k: v for k, v in out["sway_info"].items() if k != "algorithm"}
    return Scored(p.name, condition, True, "", metrics, {"sway_info": info})


def _score_hold(rec: Recording, p: ProtocolInfo, condition: str, target_s: float) -> Scored:
    """One stance held as a trial of its own: hold time (at most ``target_s``) and sway."""
    sc = _score_sway(rec, p, condition)
    hold = min(rec.duration_s, target_s)
    alg = {
        "name": f"{FALLBACK}.hold",
        "version": FALLBACK_VERSION,
        "rule": "recording duration, at most the target",
        "target_s": target_s,
    }
    sc.metrics = _metrics_from_block({"hold_s": hold}, alg, ["hold_s"]) + sc.metrics
    return sc


def _score_single_leg(rec: Recording, p: ProtocolInfo, condition: str) -> Scored:
    return _score_hold(rec, p, condition, 30.0)


def _score_four_stage(rec: Recording, p: ProtocolInfo, condition: str) -> Scored:
    from ..analysis.balance import FourStageAnalyzer

    if condition != "whole":
        sc = _score_hold(rec, p, condition, 10.0)
        if condition == "tandem":
            sc.metrics.append(
                dataclasses.replace(
                    next(m for m in sc.metrics if m.metric == "hold_s"), metric="tandem_hold_s"
                )
            )
        return sc

    fa = FourStageAnalyzer().analyze_recording(rec)
    res = fa.result()
    alg = res.get("algorithm", {"name": "FourStageAnalyzer", "version": fa.version})
    stances = res.get("stances", [])
    block: dict[str, Any] = {"stages_held": sum(1 for s in stances if s.get("held_10s"))}
    for s in stances:
        block[f"{s['stance']}_hold_s"] = s.get("hold_s")
    keys = ["stages_held"] + [f"{s['stance']}_hold_s" for s in stances]
    metrics = _metrics_from_block(block, alg, keys)
    details = {
        "stances": [
            {k: v for k, v in s.items() if k != "sway"} | {"sway_rms_mps2": s["sway"]["rms_mps2"]}
            for s in stances
        ],
        "at_risk": bool(getattr(fa, "at_risk_", False)),
    }
    if not stances:
        return Scored(p.name, condition, False, "no stance found in the recording", [], details)
    return Scored(p.name, condition, True, "", metrics, details)


def _transitions(rec: Recording) -> tuple[dict[str, Any], dict[str, Any]]:
    from ..analysis.transitions import TransitionDetector

    det = TransitionDetector().detect_recording(rec)
    res = det.result()
    return res, res["transitions_info"]["algorithm"]


def _activity_span(rec: Recording, threshold_mps2: float = 0.35) -> tuple[float, float] | None:
    """First and last time the 0.5-s moving SD of |acc| exceeds ``threshold_mps2``."""
    fs = rec.fs_hz
    mag = np.linalg.norm(rec.acc_mps2, axis=1)
    n = max(int(round(0.5 * fs)), 2)
    if mag.size < n:
        return None
    kernel = np.ones(n) / n
    mean = np.convolve(mag, kernel, mode="same")
    sd = np.sqrt(np.maximum(np.convolve(mag**2, kernel, mode="same") - mean**2, 0.0))
    idx = np.flatnonzero(sd > threshold_mps2)
    if idx.size == 0:
        return None
    t = rec.time_s
    half = 0.5 * n / fs
    return float(t[idx[0]] + half), float(t[idx[-1]] - half)


def _score_chair_stand(rec: Recording, p: ProtocolInfo, condition: str) -> Scored:
    res, alg = _transitions(rec)
    ups = res["sit_to_stand"]["events"]
    if not ups:
        return Scored(p.name, condition, False, "no sit-to-stand transfer found", [], {})
    t0 = float(ups[0]["start_s"])
    # STEADI: a stand more than halfway up at 30 s counts; the velocity peak
    # of a transfer is near its halfway point.
    counted = [e for e in ups if float(e["peak_s"]) <= t0 + 30.0]
    durations = [float(e["duration_s"]) for e in counted]
    alg2 = {
        "name": f"{FALLBACK}.chair_stand",
        "version": FALLBACK_VERSION,
        "window_s": 30.0,
        "count_rule": "transfers whose velocity peak is within 30 s of the first one's start",
        "detector": alg,
    }
    block = {
        "stands": float(len(counted)),
        "sit_to_stand_mean_s": float(np.mean(durations)) if durations else None,
    }
    metrics = _metrics_from_block(block, alg2, ["stands", "sit_to_stand_mean_s"])
    return Scored(p.name, condition, True, "", metrics, {"test_start_s": t0})


def _score_tug(rec: Recording, p: ProtocolInfo, condition: str) -> Scored:
    res, alg = _transitions(rec)
    ups = res["sit_to_stand"]["events"]
    downs = res["stand_to_sit"]["events"]
    span = _activity_span(rec)
    if span is None:
        return Scored(p.name, condition, False, "no movement found in the recording", [], {})
    start = float(ups[0]["start_s"]) if ups else span[0]
    # the end: the last stand-to-sit; else the last transfer of any kind after the
    # rise (a sit-down the detector got the direction of wrong); else movement end
    later = [float(e["end_s"]) for e in ups[1:] if float(e["start_s"]) > start]
    end = float(downs[-1]["end_s"]) if downs else (max(later) if later else span[1])
    if end <= start:
        return Scored(p.name, condition, False, "could not find the end of the test", [], {})
    alg2 = {
        "name": f"{FALLBACK}.tug",
        "version": FALLBACK_VERSION,
        "rule": "first sit-to-stand start (else movement onset) to last stand-to-sit end "
        "(else the last later transfer's end, else movement end); movement = 0.5-s moving "
        "SD of |acc| > 0.35 m/s^2",
        "detector": alg,
    }
    metrics = _metrics_from_block({"tug_s": end - start}, alg2, ["tug_s"])
    details = {"start_s": start, "end_s": end, "from_transfers": [bool(ups), bool(downs)]}
    return Scored(p.name, condition, True, "", metrics, details)


def _score_sit_to_stand(rec: Recording, p: ProtocolInfo, condition: str) -> Scored:
    res, alg = _transitions(rec)
    ups = res["sit_to_stand"]["events"]
    block = {
        "sit_to_stand_count": float(len(ups)),
        "sit_to_stand_mean_s": float(np.mean([e["duration_s"] for e in ups])) if ups else None,
    }
    metrics = _metrics_from_block(block, alg, ["sit_to_stand_count", "sit_to_stand_mean_s"])
    return Scored(p.name, condition, True, "", metrics, {})


def _score_reps(rec: Recording, p: ProtocolInfo, condition: str) -> Scored:
    from ..analysis.registry import run_analysis

    out = run_analysis("reps", rec)["reps"]
    metrics = _metrics_from_block({"reps": out["count"]}, out["algorithm"], ["reps"])
    details: dict[str, Any] = {"sets": out.get("sets", [])}
    align = _rep_alignment(rec, out)
    if align is not None:
        reps_align, alg = align
        details["rep_alignment"] = {"reps": reps_align, "algorithm": alg}
        peaks = [r["peak_flexion_deg"] for r in reps_align if r["peak_flexion_deg"] is not None]
        if peaks:
            metrics += _metrics_from_block(
                {"rep_peak_flexion_deg": max(peaks)}, alg, ["rep_peak_flexion_deg"]
            )
    return Scored(p.name, condition, True, "", metrics, details)


def _rep_alignment(
    rec: Recording, reps_block: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """Per-repetition trunk flexion ("rep 4: trunk flexed 52 degrees"; each rep's
    bend paired by :func:`balance_mon.analysis.alignment.pair_bends`) for a
    trunk sensor (lower back or sternum); None for other placements (a thigh or wrist
    sensor's inclination says nothing about the spine) or without repetitions."""
    from ..analysis.alignment import BendPeak, pair_bends
    from ..analysis.posture import SEGMENT_OF_PLACEMENT, TrunkPosture, rep_alignment_text
    from ..errors import BalanceMonError

    if rec.placement not in SEGMENT_OF_PLACEMENT:
        return None
    windows = [
        (float(r["start_s"]), float(r["end_s"]))
        for s in reps_block.get("sets", [])
        for r in s.get("reps", [])
    ]
    if not windows:
        return None
    try:
        post = TrunkPosture().analyze_recording(rec)
    except BalanceMonError:
        return None
    alg = {"name": "TrunkPosture", "version": post.version, **post.get_params()}
    in_window = post.rep_alignment(windows)
    bends = [BendPeak(b.start_s, b.peak_s, b.end_s, b.peak_deg) for b in post.bends_]
    out = []
    for r, b in zip(in_window, pair_bends(windows, bends), strict=True):
        if b is not None:
            r = dict(r, peak_flexion_deg=b.peak_deg, peak_s=b.peak_s)
            r["text"] = rep_alignment_text(r["index"], b.peak_deg, post.segment_)
        out.append(r)
    return out, alg


_FALLBACK_SCORERS = {
    "steadi_four_stage": _score_four_stage,
    "chair_stand_30s": _score_chair_stand,
    "tug": _score_tug,
    "romberg": _score_sway,
    "ctsib_m": _score_sway,
    "single_leg_stance": _score_single_leg,
    "sway": _score_sway,
    "sit_to_stand": _score_sit_to_stand,
    "reps": _score_reps,
}


# ---------------------------------------------------------------------------
# Flags
# ---------------------------------------------------------------------------


def chair_stand_threshold(age: int | None, sex: str | None) -> int | None:
    """STEADI below-average score for ``age`` and ``sex`` (None outside 60-94 or unknown)."""
    if age is None or sex not in ("female", "male") or not 60 <= age <= 94:
        return None
    row = [r for r in CHAIR_STAND_BELOW if r[0] <= age][-1]
    return row[1] if sex == "male" else row[2]


#: ``protocols`` norm measure names -> stored metric names.
_NORM_MEASURE = {"chair_stand_stands": "stands"}


def cutoff_value(protocol: str, metric: str, patient: Any) -> float | None:
    """The cut-off line of a measure for charts (None when there is none)."""
    p = get_protocol(protocol).name
    if p == "tug" and metric == "tug_s":
        return TUG_AT_RISK_S
    if p == "chair_stand_30s" and metric == "stands":
        import datetime as _dt

        age = patient.age_in(_dt.date.today().year) if patient is not None else None
        thr = chair_stand_threshold(age, getattr(patient, "sex", None))
        return None if thr is None else float(thr)
    if p == "steadi_four_stage" and metric == "tandem_hold_s":
        return 10.0
    return None


def cutoff_flags(
    protocol: str, scored: Scored, *, age: int | None, sex: str | None
) -> list[dict[str, Any]]:
    """Flags of one trial against published cut-offs (each with its reason)."""
    if not scored.valid:
        return []
    if "norms" in scored.details:  # scored by balance_mon.protocols: its norm comparisons
        return [
            {
                "measure": _NORM_MEASURE.get(n["measure"], n["measure"]),
                "kind": "cutoff",
                "severity": "warning",
                "reason": n["message"],
                "value": n.get("value"),
                "threshold": n.get("threshold"),
                "source": n.get("source") or "balance_mon.protocols",
            }
            for n in scored.details["norms"]
            if n.get("at_risk")
        ]
    src = f"{FALLBACK} {FALLBACK_VERSION}"
    out: list[dict[str, Any]] = []
    if protocol == "chair_stand_30s":
        v = scored.value("stands")
        thr = chair_stand_threshold(age, sex)
        if v is not None and thr is not None and v < thr:
            out.append(
                {
                    "measure": "stands",
                    "kind": "cutoff",
                    "severity": "warning",
                    "reason": f"30-s chair stand {v:.0f} is below average for a {sex} aged "
                    f"{age} (below {thr}; CDC STEADI): fall risk",
                    "value": v,
                    "threshold": float(thr),
                    "source": src,
                }
            )
    elif protocol == "tug":
        v = scored.value("tug_s")
        if v is not None and v >= TUG_AT_RISK_S:
            out.append(
                {
                    "measure": "tug_s",
                    "kind": "cutoff",
                    "severity": "warning",
                    "reason": f"TUG {v:.1f} s is at or above {TUG_AT_RISK_S:g} s (CDC STEADI): "
                    "fall risk; use with other findings (sensitivity is low)",
                    "value": v,
                    "threshold": TUG_AT_RISK_S,
                    "source": src,
                }
            )
    elif protocol == "steadi_four_stage" and scored.condition in ("whole", "tandem"):
        tandem = scored.value("tandem_hold_s")
        held = tandem is not None and tandem >= 9.7
        if not held:
            out.append(
                {
                    "measure": "tandem_hold_s",
                    "kind": "cutoff",
                    "severity": "warning",
                    "reason": "tandem stance not held for 10 s (CDC STEADI four-stage test): "
                    "increased fall risk",
                    "value": tandem,
                    "threshold": 10.0,
                    "source": src,
                }
            )
    return out


@dataclass(frozen=True)
class Point:
    """One value of a measure's series: the mean of a session's valid trials."""

    date: str
    value: float
    session_id: int


def trend_flags(measure: str, points: Sequence[Point]) -> tuple[list[dict[str, Any]], dict]:
    """Change and trend flags of one measure's series (dates ascending).

    Returns (flags, summary) where ``summary`` holds the baseline, the MDC
    band and the EWMA series for charts.
    """
    info = measure_info(measure)
    summary: dict[str, Any] = {
        "baseline": None,
        "mdc": info.mdc,
        "mdc_source": info.mdc_source,
        "better": info.better,
        "ewma": [],
    }
    if len(points) < 2:
        return [], summary
    values = np.array([p.value for p in points], dtype=np.float64)
    baseline = float(values[:2].mean())
    summary["baseline"] = baseline
    ewma = [baseline]
    for v in values[1:]:
        ewma.append(EWMA_LAMBDA * float(v) + (1 - EWMA_LAMBDA) * ewma[-1])
    summary["ewma"] = ewma
    if info.mdc is None or info.better is None or len(points) < 3:
        return [], summary
    sign = -1.0 if info.better == "higher" else 1.0  # direction of worsening
    src = f"{FALLBACK} {FALLBACK_VERSION}"
    flags: list[dict[str, Any]] = []
    last = points[-1]
    change = float(last.value) - baseline
    if sign * change > info.mdc:
        flags.append(
            {
                "measure": measure,
                "kind": "change",
                "severity": "warning",
                "reason": f"{info.label} worsened by {abs(change):.2g} {info.unit} from the "
                f"baseline {baseline:.3g} (more than the MDC95 {info.mdc:g} {info.unit}; "
                f"{info.mdc_source})",
                "value": float(last.value),
                "threshold": baseline + sign * info.mdc,
                "source": src,
                "session_id": last.session_id,
            }
        )
    for i in range(2, len(points)):
        drift = ewma[i] - baseline
        if sign * drift > info.mdc:
            flags.append(
                {
                    "measure": measure,
                    "kind": "trend",
                    "severity": "alert",
                    "reason": f"{info.label} is declining: its EWMA trend (lambda {EWMA_LAMBDA}) "
                    f"moved {abs(drift):.2g} {info.unit} from the baseline {baseline:.3g}, "
                    f"beyond the MDC95 {info.mdc:g} {info.unit}, by {points[i].date}",
                    "value": float(ewma[i]),
                    "threshold": baseline + sign * info.mdc,
                    "source": src,
                    "session_id": points[i].session_id,
                }
            )
            break
    return flags, summary


# ---------------------------------------------------------------------------
# Trends through balance_mon.risk
# ---------------------------------------------------------------------------

#: Stored metric -> ``balance_mon.risk`` measure name (sway ones get a context).
_RISK_MEASURE = {
    ("tug", "tug_s"): "tug_s",
    ("chair_stand_30s", "stands"): "chair_stand_stands",
    ("single_leg_stance", "hold_s"): "single_leg_stance_s",
}
_RISK_SWAY = {"rms_mps2": "sway_rms_mps2", "norm_path_mps3": "sway_norm_path_mps3"}
_SWAY_TRIALS = ("sway", "romberg", "ctsib_m", "single_leg_stance")


def risk_measure(protocol: str, condition: str, metric: str) -> str | None:
    """The ``balance_mon.risk`` measure of a stored series, or None."""
    if (protocol, metric) in _RISK_MEASURE:
        return _RISK_MEASURE[(protocol, metric)]
    if metric in _RISK_SWAY and protocol in _SWAY_TRIALS:
        return f"{_RISK_SWAY[metric]}:{protocol}/{condition}"
    return None


@dataclass(frozen=True)
class Attempt:
    """One stored result for trends: the session, its date and setting, the attempt."""

    date: str
    value: float
    attempt: int
    session_id: int
    setting: str


def evaluate_trend(
    protocol: str, condition: str, metric: str, attempts: Sequence[Attempt]
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """Flags and chart summary of one series via ``balance_mon.risk.trend``, or None
    when risk does not know the measure (the built-in :func:`trend_flags` is then used).

    The summary has ``baseline``, ``mdc``, ``mdc_source``, ``better`` and ``ewma``
    keyed by session date (None for baseline and practice sessions), and ``status``.
    """
    name = risk_measure(protocol, condition, metric)
    if name is None or not attempts:
        return None
    try:
        from .. import risk
    except ImportError:  # pragma: no cover
        return None
    setting = attempts[0].setting
    pts = [risk.Point(a.date[:10], float(a.value), a.setting, a.attempt) for a in attempts]
    try:
        res = risk.trend(pts, name, setting=setting)
    except risk.RiskError:
        return None
    by_date: dict[str, int] = {}
    for a in attempts:
        by_date.setdefault(a.date[:10], a.session_id)
    kind = "trend" if res.method == "ewma" else "change"
    flags = [
        {
            "measure": metric,
            "kind": kind,
            "severity": "alert" if f.direction == "worse" else "info",
            "reason": f.message,
            "value": f.value,
            "threshold": f.threshold,
            "source": f"balance_mon.risk ({f.source})" if f.source else "balance_mon.risk",
            "session_id": by_date.get(f.date.isoformat()) if f.date else None,
        }
        for f in res.flags
    ]
    info = measure_info(metric)
    summary = {
        "baseline": res.baseline_mean,
        "mdc": res.mdc95,
        "mdc_source": res.mdc_source,
        "better": info.better,
        "ewma": {s.date.isoformat(): e for s, e in zip(res.sessions, res.ewma, strict=False)},
        "status": res.status,
        "method": res.method,
        "risk_measure": name,
    }
    return flags, summary
