"""Turning trials into a :class:`~.results.ProtocolResult`: validity rules, aggregation,
scores and norm comparisons.

One set of rules serves both ways of running a test:

- the interactive :class:`~.runner.ProtocolRunner` observes a trial (its
  timing, the examiner's and the signal's events, the analysis result) and
  calls :func:`evaluate_trial` and :func:`summarise`;
- :func:`score_session` scores recorded trials non-interactively (the store's
  ``session import``): it builds the same :class:`TrialObservation` from each
  recording (sensor gaps from the recording's timing, loss of balance from
  :class:`~balance_mon.analysis.balance.BalanceLossDetector`, examiner events
  from the recording's metadata) and runs the protocol's analysis.

Recording metadata read by :func:`score_session` (all optional; times in s
from the trial recording's first sample): ``balance_lost_s``,
``support_used_s``, ``eyes_opened_s``, ``arms_used`` (``yes``/``true``/``1``
or a time), ``practice`` (``yes``: a familiarisation attempt), ``value``
(a manual score that overrides the analysis, e.g. a stopwatch time).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..analysis.registry import MIN_DURATION_S, run_analysis
from ..errors import BalanceMonError
from ..recording import Recording
from .library import get_protocol
from .model import Patient, Protocol, ProtocolError
from .norms import (
    CHAIR_STAND_SOURCE,
    FOUR_STAGE_SOURCE,
    SINGLE_LEG_FAR_BELOW_FRACTION,
    SINGLE_LEG_STANCE_SOURCE,
    TANDEM_HOLD_S,
    TUG_AT_RISK_S,
    TUG_SOURCE,
    chair_stand_band,
    single_leg_band,
)
from .results import ConditionResult, NormComparison, ProtocolResult, Reason, TrialResult

__all__ = [
    "TrialEvent",
    "TrialObservation",
    "compare_norms",
    "evaluate_trial",
    "score_session",
    "summarise",
]

#: Sway measures passed to risk trends (ICCs in older adults: Alqahtani et al. 2020).
TREND_SWAY_MEASURES = ("rms_mps2", "norm_path_mps3")

#: The JSON block of each trial analysis that holds the trial's numbers.
_MAIN_BLOCK = {"sway": "sway", "chair-stand": "chair_stand", "tug": "tug"}


@dataclass(frozen=True)
class TrialEvent:
    """Something that happened during a trial, ``time_s`` after its start.

    ``code`` is a validity rule code (``balance_lost``, ``support_used``,
    ``eyes_opened``, ``arms_used``, ``sensor_gap``); ``duration_s`` the
    length of a sensor gap.
    """

    code: str
    time_s: float
    duration_s: float | None = None


@dataclass(frozen=True)
class TrialObservation:
    """Everything known about one trial before the rules are applied.

    ``duration_s``: how long the trial ran (from the start of the perform step
    or the recording's first sample); ``blocks``: the analysis result (JSON
    blocks of :func:`~balance_mon.analysis.registry.run_analysis`) or None;
    ``analysis_error``: why the analysis failed; ``manual_value``: a value
    entered by the examiner, which overrides the analysis; ``ended_by``:
    ``duration``, ``signal``, ``examiner``, ``event`` or ``timeout``.
    """

    condition: str
    attempt: int
    duration_s: float | None
    events: tuple[TrialEvent, ...] = ()
    blocks: Mapping[str, Any] | None = None
    analysis_error: str | None = None
    manual_value: float | None = None
    practice: bool = False
    ended_by: str = "duration"
    metrics: Mapping[str, float | None] = field(default_factory=dict)


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _fmt(x: float | None, unit: str = "") -> str:
    """Numbers for messages: seconds with 1 decimal (2 when needed), counts as integers."""
    if x is None:
        return "n/a"
    if unit == "s":
        s = f"{x:.1f}" if abs(x * 10 - round(x * 10)) < 1e-6 else f"{x:.2f}"
    else:
        s = f"{x:.1f}" if abs(x - round(x)) > 1e-9 else f"{round(x):d}"
    return f"{s} {unit}".strip()


def _metrics(protocol: Protocol, blocks: Mapping[str, Any] | None) -> dict[str, float | None]:
    if not blocks:
        return {}
    block = blocks.get(_MAIN_BLOCK.get(protocol.analysis, protocol.analysis.replace("-", "_")))
    if not isinstance(block, Mapping):
        return {}
    out: dict[str, float | None] = {}
    for k, v in block.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, int | float) or v is None:
            out[k] = _f(v)
        elif isinstance(v, Mapping) and k in ("phases",):
            for k2, v2 in v.items():
                if isinstance(v2, int | float) and not isinstance(v2, bool):
                    out[f"{k}.{k2}"] = _f(v2)
    return out


def _analysis_value(protocol: Protocol, blocks: Mapping[str, Any] | None) -> float | None:
    if not blocks:
        return None
    if protocol.value == "stands":
        b = blocks.get("chair_stand") or {}
        return _f(b.get("count", b.get("stands"))) if isinstance(b, Mapping) else None
    if protocol.value == "time_s":
        b = blocks.get("tug") or {}
        return _f(b.get("total_s")) if isinstance(b, Mapping) else None
    return None


_EVENT_TEXT = {
    "balance_lost": "balance was lost (a step or the feet moved)",
    "support_used": "support was needed",
    "eyes_opened": "the eyes opened",
    "arms_used": "the arms were used",
}


def evaluate_trial(protocol: Protocol, obs: TrialObservation) -> TrialResult:
    """Apply the protocol's validity rules to one observed trial.

    Events without a rule in the protocol are ignored, and so is
    ``eyes_opened`` in an eyes-open condition. For hold trials, events at or
    after ``target_s - tolerance_s`` come after the stance was already held
    and do not fail it. An ``invalid`` outcome (sensor gap, too short, analysis
    failed) makes the value None; ``fail`` keeps the time held (hold trials)
    or gives no value (others); ``score_zero`` gives 0.
    """
    cond = protocol.condition(obs.condition)
    target, tol = protocol.target_s, protocol.tolerance_s
    hold = protocol.value == "hold_s"
    invalid: list[Reason] = []
    fail: Reason | None = None
    zero: Reason | None = None
    notes: list[Reason] = []
    stop_t: float | None = None
    for ev in sorted(obs.events, key=lambda e: e.time_s):
        rule = protocol.rule(ev.code)
        if rule is None or (ev.code == "eyes_opened" and cond.eyes != "closed"):
            continue
        if stop_t is not None and ev.time_s > stop_t:
            break
        if hold and target is not None and ev.time_s >= target - tol and ev.code != "sensor_gap":
            continue
        t = max(float(ev.time_s), 0.0)
        if ev.code == "sensor_gap":
            d = ev.duration_s
            if d is not None and rule.limit is not None and d <= rule.limit:
                continue
            invalid.append(
                Reason(
                    "sensor_gap",
                    f"sensor data were missing for {_fmt(d, 's')} at {_fmt(t, 's')} "
                    f"(limit {rule.limit:g} s)",
                    t,
                )
            )
            break
        text = _EVENT_TEXT.get(ev.code, ev.code)
        if rule.outcome == "fail" and fail is None:
            fail = Reason(ev.code, f"{text} at {_fmt(t, 's')}", t)
        elif rule.outcome == "score_zero" and zero is None:
            zero = Reason(ev.code, f"{text}; {rule.description}", t)
        elif rule.outcome == "invalid":
            invalid.append(Reason(ev.code, f"{text} at {_fmt(t, 's')}", t))
        if rule.stops_trial:
            stop_t = t
    if obs.analysis_error:
        r = Reason("analysis_failed", f"the analysis failed: {obs.analysis_error}")
        # a hold trial's value comes from its timing; the analysis adds sway only
        (notes if hold else invalid).append(r)

    value: float | None = None
    dur = obs.duration_s
    perform = protocol.perform_step
    too_short_rule = protocol.rule("too_short")
    if hold:
        assert target is not None
        end = stop_t if (fail is not None or zero is not None) and stop_t is not None else dur
        if end is None:
            invalid.append(Reason("too_short", "the trial has no timing"))
        elif fail is None and zero is None and end < target - tol and too_short_rule is not None:
            invalid.append(
                Reason(
                    "too_short",
                    f"the trial lasted {_fmt(end, 's')} of the required {_fmt(target, 's')} "
                    "with no recorded reason",
                )
            )
        else:
            value = min(max(end, 0.0), target)
        if obs.manual_value is not None and not invalid:
            value = min(obs.manual_value, target)
    else:
        need = perform.duration_s if perform.auto_stop == "duration" else None
        min_s = protocol.extra.get("min_duration_s")
        if (
            too_short_rule is not None
            and fail is None
            and zero is None
            and dur is not None
            and obs.manual_value is None
            and (
                (need is not None and dur < need - tol)
                or (min_s is not None and dur < float(min_s))
            )
        ):
            invalid.append(
                Reason(
                    "too_short",
                    f"the trial lasted {_fmt(dur, 's')}, shorter than the "
                    f"{_fmt(need if need is not None else float(min_s), 's')} required",
                )
            )
        block = (obs.blocks or {}).get("chair_stand")
        if (
            too_short_rule is not None
            and isinstance(block, Mapping)
            and block.get("complete") is False
            and obs.manual_value is None
            and zero is None
        ):
            invalid.append(
                Reason(
                    "too_short", "the recording does not cover the full 30 s after the first rise"
                )
            )
        if obs.manual_value is not None:
            value = obs.manual_value
        else:
            value = _analysis_value(protocol, obs.blocks)
            if (
                value is None
                and protocol.value == "time_s"
                and obs.ended_by in ("signal", "examiner")
                and not obs.blocks
            ):
                value = dur
        if zero is not None:
            value = 0.0
        elif fail is not None:
            value = None
        elif value is None and not invalid:
            invalid.append(Reason("analysis_failed", "the analysis gave no score for the trial"))

    if invalid:
        status, value = "invalid", None
    elif fail is not None or zero is not None or (hold and (value is None or value < target - tol)):
        status = "failed"
    else:
        status = "completed"
    reasons = tuple(invalid) + tuple(r for r in (fail, zero) if r is not None) + tuple(notes)
    metrics = dict(_metrics(protocol, obs.blocks))
    metrics.update(obs.metrics)
    return TrialResult(
        condition=obs.condition,
        attempt=obs.attempt,
        status=status,
        value=value,
        reasons=reasons,
        practice=obs.practice,
        scored=False,
        metrics=metrics,
        analysis=dict(obs.blocks or {}),
    )


# ---------------------------------------------------------------------------
# Aggregation, scores, norms
# ---------------------------------------------------------------------------


def _aggregate(protocol: Protocol, trials: list[TrialResult]) -> tuple[float | None, list[int]]:
    """Condition value and the indices (into ``trials``) of the scored trials."""
    idx = [i for i, t in enumerate(trials) if t.valid and not t.practice and t.value is not None]
    if not idx:
        return None, []
    agg = protocol.aggregate
    if agg in ("single", "last"):
        return trials[idx[-1]].value, [idx[-1]]
    if agg == "mean":
        return math.fsum(trials[i].value for i in idx) / len(idx), idx  # type: ignore[misc]
    # best: longest hold / most stands / fastest time
    key = (
        (lambda i: -trials[i].value) if protocol.value == "time_s" else (lambda i: trials[i].value)
    )
    best = max(idx, key=key)  # type: ignore[arg-type]
    return trials[best].value, [best]


def _mean_metrics(trials: Sequence[TrialResult]) -> dict[str, float | None]:
    keys: list[str] = []
    for t in trials:
        keys += [k for k in t.metrics if k not in keys]
    out: dict[str, float | None] = {}
    for k in keys:
        vals = [_f(t.metrics.get(k)) for t in trials]
        vals2 = [v for v in vals if v is not None]
        out[k] = math.fsum(vals2) / len(vals2) if vals2 else None
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def _scores(
    protocol: Protocol, conds: Mapping[str, ConditionResult], stopped: bool
) -> tuple[dict[str, Any], dict[str, float]]:
    scores: dict[str, Any] = {}
    measures: dict[str, float] = {}
    name = protocol.name

    def sway_measures(prefix: str) -> None:
        for c in conds.values():
            for m in TREND_SWAY_MEASURES:
                v = _f(c.metrics.get(m))
                if v is not None and c.status in ("passed", "failed"):
                    measures[f"sway_{m}:{prefix}/{c.condition}"] = v

    if name == "steadi_four_stage":
        held = 0
        for c in conds.values():
            scores[f"{c.condition}_hold_s"] = c.value
            if c.status != "passed":
                break
            held += 1
        scores["stages_held"] = held
        tandem = conds.get("tandem")
        tval: float | None
        if tandem is not None and tandem.status in ("passed", "failed"):
            tval = tandem.value
        elif tandem is not None and tandem.status == "not_attempted" and stopped:
            # stopped at an earlier stance: tandem cannot be held (STEADI stops there)
            tval = 0.0
        else:
            tval = None
        scores["tandem_hold_s"] = tval
        scores["tandem_attempted"] = tandem is not None and tandem.status in ("passed", "failed")
        scores["tandem_10s"] = (
            None if tval is None else bool(tval >= TANDEM_HOLD_S - protocol.tolerance_s)
        )
        sway_measures(name)
    elif name == "chair_stand_30s":
        scores["stands"] = conds["standard"].value
        if scores["stands"] is not None:
            measures["chair_stand_stands"] = float(scores["stands"])
    elif name == "tug":
        scores["tug_s"] = conds["standard"].value
        if scores["tug_s"] is not None:
            measures["tug_s"] = float(scores["tug_s"])
    elif name in ("romberg", "ctsib_m"):
        for c in conds.values():
            scores[f"{c.condition}_hold_s"] = c.value
        if name == "romberg":
            eo, ec = conds["eyes_open"], conds["eyes_closed"]
        else:
            eo, ec = conds["eyes_open_firm"], conds["eyes_closed_firm"]
        for m in ("rms_mps2", "ellipse_area_m2ps4"):
            scores[f"romberg_ratio_{m}"] = _ratio(_f(ec.metrics.get(m)), _f(eo.metrics.get(m)))
        if name == "ctsib_m":
            vals = [c.value for c in conds.values()]
            scores["total_s"] = None if any(v is None for v in vals) else math.fsum(vals)  # type: ignore[arg-type]
            base = _f(eo.metrics.get("ellipse_area_m2ps4"))
            for key, cname in (
                ("visual_reliance", "eyes_closed_firm"),
                ("somatosensory_reliance", "eyes_open_foam"),
                ("vestibular_reliance", "eyes_closed_foam"),
            ):
                scores[f"{key}_ellipse_area"] = _ratio(
                    _f(conds[cname].metrics.get("ellipse_area_m2ps4")), base
                )
        sway_measures(name)
    elif name == "single_leg_stance":
        for c in conds.values():
            scores[f"best_{c.condition}_s"] = c.value
            if c.value is not None:
                measures[f"single_leg_stance_s:{c.condition}"] = float(c.value)
    else:  # a custom protocol: each condition's value
        for c in conds.values():
            scores[f"{c.condition}_{protocol.value}"] = c.value
    return scores, measures


def compare_norms(
    protocol: Protocol | str, scores: Mapping[str, Any], patient: Patient | None
) -> tuple[NormComparison, ...]:
    """Compare a protocol's scores with its published norms (:data:`Protocol.norms`).

    Every comparison carries its source and a one-sentence message with the
    value, the threshold and the source; ``at_risk`` is None when no norm
    applies (no score, age outside the table, sex unknown).
    """
    p = get_protocol(protocol) if isinstance(protocol, str) else protocol
    out: list[NormComparison] = []
    age = None if patient is None else patient.age_years
    sex = None if patient is None else patient.sex
    who_sex = "women" if sex == "female" else "men"
    for key in p.norms:
        if key == "tandem_hold_s":
            out.append(
                _tandem_norm(
                    p, _f(scores.get("tandem_hold_s")), scores.get("tandem_attempted", True)
                )
            )
        elif key == "chair_stand_below_average":
            out.append(_chair_norm(_f(scores.get("stands")), age, sex, who_sex))
        elif key == "tug_at_risk_s":
            out.append(_tug_norm(_f(scores.get("tug_s"))))
        elif key == "single_leg_stance_mean_s":
            for eyes in ("open", "closed"):
                v = _f(scores.get(f"best_eyes_{eyes}_s"))
                if v is not None:
                    out.append(_single_leg_norm(v, eyes, age, sex, who_sex))
        else:
            raise ProtocolError(f"protocol {p.name!r}: unknown norm {key!r}")
    return tuple(out)


def _tandem_norm(p: Protocol, v: float | None, attempted: Any = True) -> NormComparison:
    src = FOUR_STAGE_SOURCE
    if v is not None and attempted is False:
        risk = v < TANDEM_HOLD_S - p.tolerance_s
        msg = (
            "Tandem stance was not attempted because an earlier stance was not held, so it "
            f"was not held the 10 s that STEADI requires, which means an increased risk of "
            f"falling ({src})."
        )
    elif v is None:
        risk = None
        msg = (
            "Tandem stance could not be timed, so the STEADI 10 s criterion "
            f"was not applied ({src})."
        )
    else:
        risk = v < TANDEM_HOLD_S - p.tolerance_s
        msg = (
            f"Tandem stance was held {_fmt(v, 's')}, "
            + ("less than" if risk else "at least")
            + " the 10 s that STEADI requires"
            + (", which means an increased risk of falling" if risk else "")
            + f" ({src})."
        )
    return NormComparison(
        "tandem_hold_s",
        v,
        TANDEM_HOLD_S,
        TANDEM_HOLD_S,
        "below",
        risk,
        "",
        str(src),
        src.verify,
        msg,
        "tandem_under_10s",
    )


def _no_band_reason(age: float | None, sex: str | None, lo: int, hi: int | None) -> str:
    if age is None:
        return "the patient's age is not recorded"
    a = math.floor(age)
    if a < lo or (hi is not None and a > hi):
        rng = f"{lo}-{hi}" if hi is not None else f"{lo}+"
        return f"age {_fmt(float(a))} is outside the table's {rng} years"
    return "the patient's sex is not recorded"


def _chair_norm(
    v: float | None, age: float | None, sex: str | None, who_sex: str
) -> NormComparison:
    src = CHAIR_STAND_SOURCE
    code = "chair_stand_below_norm"
    if v is None:
        msg = f"The chair stand has no valid score, so the STEADI norm was not applied ({src})."
        return NormComparison(
            "chair_stand_stands",
            None,
            None,
            None,
            "below",
            None,
            "",
            str(src),
            src.verify,
            msg,
            code,
        )
    band = chair_stand_band(age, sex)
    if band is None:
        why = _no_band_reason(age, sex, 60, 94)
        msg = (
            f"The chair stand score of {_fmt(v, 'stands')} was not compared with the STEADI "
            f"norm because {why} ({src})."
        )
        return NormComparison(
            "chair_stand_stands", v, None, None, "below", None, "", str(src), src.verify, msg, code
        )
    b, thr = band
    who = f"{who_sex} aged {b}"
    risk = v < thr
    msg = (
        f"The 30 s chair stand score of {_fmt(v, 'stands')} is "
        + ("below" if risk else "not below")
        + f" the below-average threshold of {thr} stands for {who} ({src})."
    )
    return NormComparison(
        "chair_stand_stands",
        v,
        float(thr),
        float(thr),
        "below",
        risk,
        who,
        str(src),
        src.verify,
        msg,
        code,
    )


def _tug_norm(v: float | None) -> NormComparison:
    src = TUG_SOURCE
    if v is None:
        risk = None
        msg = (
            "The Timed Up and Go has no valid time, so the STEADI "
            f"{TUG_AT_RISK_S:g} s cut-off was not applied ({src})."
        )
    else:
        risk = v >= TUG_AT_RISK_S
        msg = (
            f"The Timed Up and Go took {_fmt(v, 's')}, "
            + ("at or above" if risk else "below")
            + f" the {TUG_AT_RISK_S:g} s at-risk cut-off ({src})."
        )
    return NormComparison(
        "tug_s",
        v,
        TUG_AT_RISK_S,
        TUG_AT_RISK_S,
        "at_or_above",
        risk,
        "",
        str(src),
        src.verify,
        msg,
        "tug_at_risk",
    )


def _single_leg_norm(
    v: float, eyes: str, age: float | None, sex: str | None, who_sex: str
) -> NormComparison:
    src = SINGLE_LEG_STANCE_SOURCE
    code = "single_leg_far_below_norm"
    measure = f"single_leg_stance_s:eyes_{eyes}"
    band = single_leg_band(age, sex, eyes)
    if band is None:
        why = _no_band_reason(age, sex, 18, None)
        msg = (
            f"The best eyes-{eyes} single-leg stance of {_fmt(v, 's')} was not compared with "
            f"a norm because {why} ({src})."
        )
        return NormComparison(
            measure, v, None, None, "fraction_of_mean", None, "", str(src), src.verify, msg, code
        )
    b, mean = band
    thr = SINGLE_LEG_FAR_BELOW_FRACTION * mean
    who = f"{who_sex} aged {b}"
    risk = v < thr
    msg = (
        f"The best eyes-{eyes} single-leg stance of {_fmt(v, 's')} is "
        + ("less than" if risk else "at least")
        + f" {thr:.1f} s, {SINGLE_LEG_FAR_BELOW_FRACTION:.0%} of the mean of {_fmt(mean, 's')}"
        + f" for {who} (fraction: balance_mon's choice; mean: {src})."
    )
    return NormComparison(
        measure, v, mean, thr, "fraction_of_mean", risk, who, str(src), src.verify, msg, code
    )


def summarise(
    protocol: Protocol,
    trials: Sequence[TrialResult],
    patient: Patient | None = None,
    *,
    aborted: str | None = None,
) -> ProtocolResult:
    """Aggregate evaluated trials into the protocol's result.

    Conditions are taken in protocol order; with ``stop_on_fail`` every
    condition after the first one not passed is ``not_attempted``.
    ``aborted`` (a reason) marks the result incomplete.
    """
    by_cond: dict[str, list[int]] = {c.name: [] for c in protocol.conditions}
    for i, t in enumerate(trials):
        protocol.condition(t.condition)
        by_cond[t.condition].append(i)
    trials_out = list(trials)
    conds: dict[str, ConditionResult] = {}
    stopped = False
    stopped_reason = None
    for c in protocol.conditions:
        ids = by_cond[c.name]
        if stopped or not ids:
            conds[c.name] = ConditionResult(c.name, "not_attempted", None, len(ids), 0)
            continue
        mine = [trials_out[i] for i in ids]
        value, scored = _aggregate(protocol, mine)
        for k in scored:
            t = mine[k]
            trials_out[ids[k]] = dataclasses.replace(t, scored=True)
        scored_trials = [mine[k] for k in scored]
        if not scored:
            status = "invalid"
        else:
            # the condition passes when its deciding trial (the last scored one; for
            # "best" the best one) was completed as required
            last = max(scored_trials, key=lambda t: t.attempt)
            status = "passed" if last.status == "completed" else "failed"
        # metrics of every valid non-practice attempt (CTSIB-M: averaged)
        valid = [t for t in mine if t.valid and not t.practice]
        metrics = _mean_metrics(valid if protocol.aggregate == "mean" else scored_trials)
        conds[c.name] = ConditionResult(c.name, status, value, len(ids), len(scored), metrics)
        if protocol.stop_on_fail and status in ("failed", "invalid"):
            stopped = True
            how = "not held" if status == "failed" else "not scorable"
            stopped_reason = f"stopped after {c.title.lower()} was {how}"
    scores, measures = _scores(protocol, conds, stopped)
    norms = compare_norms(protocol, scores, patient)
    flags = [f"at_risk:{n.code}" for n in norms if n.at_risk]
    if stopped:
        flags.append("stopped_early")
    complete = aborted is None and all(
        v.status in ("passed", "failed") or (stopped and v.status == "not_attempted")
        for v in conds.values()
    )
    if aborted is not None:
        flags.append("aborted")
    if not complete:
        flags.append("incomplete")
    return ProtocolResult(
        protocol=protocol.name,
        protocol_version=protocol.version,
        patient=patient,
        trials=tuple(trials_out),
        conditions=conds,
        scores=scores,
        norms=norms,
        flags=tuple(flags),
        measures=measures,
        complete=complete,
        stopped_reason=aborted if aborted is not None else stopped_reason,
    )


# ---------------------------------------------------------------------------
# Non-interactive scoring of recordings
# ---------------------------------------------------------------------------

_TRUE = {"1", "yes", "true", "y", "on"}


def _meta_time(meta: Mapping[str, str], key: str) -> float | None:
    if key not in meta:
        return None
    v = _f(meta[key])
    if v is None:
        raise ProtocolError(f"metadata {key} must be a time in seconds, got {meta[key]!r}")
    return v


def _events_from(rec: Recording, protocol: Protocol, hold_limit: float | None) -> list[TrialEvent]:
    meta = rec.metadata
    t0 = float(rec.time_s[0])
    ev: list[TrialEvent] = []
    for key, code in (
        ("balance_lost_s", "balance_lost"),
        ("support_used_s", "support_used"),
        ("eyes_opened_s", "eyes_opened"),
    ):
        t = _meta_time(meta, key)
        if t is not None:
            ev.append(TrialEvent(code, t))
    if "arms_used" in meta:
        raw = str(meta["arms_used"]).strip().lower()
        t = _f(raw)
        if raw in _TRUE:
            ev.append(TrialEvent("arms_used", 0.0))
        elif t is not None:
            ev.append(TrialEvent("arms_used", t))
    for g in rec.rate.gaps:
        ev.append(TrialEvent("sensor_gap", float(g.start_s) - t0, float(g.duration_s)))
    if protocol.value == "hold_s" and "balance_lost_s" not in meta:
        onset = _detect_loss(rec, hold_limit)
        if onset is not None:
            ev.append(TrialEvent("balance_lost", onset))
    return ev


def _detect_loss(rec: Recording, limit_s: float | None) -> float | None:
    """Onset (s from the first sample) of a loss of balance, or None."""
    from ..analysis.balance import BalanceLossDetector
    from ..dsp.gaps import resample_uniform

    fs = rec.fs_est_hz
    _tu, acc = resample_uniform(rec.time_s, rec.acc_mps2, fs)
    if limit_s is not None:
        acc = acc[: int(round(limit_s * fs)) + 1]
    if acc.shape[0] < max(8, int(round(3.0 * fs))):
        return None
    try:
        det = BalanceLossDetector().detect(acc, fs)
    except BalanceMonError:
        return None
    return float(det.onset_s_) if det.lost_ and det.onset_s_ is not None else None


def _observe_recording(
    protocol: Protocol, condition: str, attempt: int, rec: Recording
) -> TrialObservation:
    meta = rec.metadata
    practice = str(meta.get("practice", "")).strip().lower() in _TRUE
    manual = _meta_time(meta, "value")
    dur = float(rec.duration_s)
    target = protocol.target_s
    events = _events_from(rec, protocol, None if target is None else target + 2.0)
    blocks: dict[str, Any] | None = None
    error: str | None = None
    if protocol.value == "hold_s":
        assert target is not None
        stops = [
            e.time_s
            for e in events
            if e.code != "sensor_gap"
            and protocol.rule(e.code)
            and e.time_s < target - protocol.tolerance_s
        ]
        end = min([dur, target, *stops])
        t0 = float(rec.time_s[0])
        if end >= MIN_DURATION_S.get(protocol.analysis, 0.0):
            try:
                part = rec.slice_time(t0, t0 + end) if end < dur else rec
                blocks = run_analysis(protocol.analysis, part)
            except BalanceMonError as e:
                error = str(e)
    else:
        try:
            blocks = run_analysis(protocol.analysis, rec)
        except BalanceMonError as e:
            error = str(e)
    return TrialObservation(
        condition=condition,
        attempt=attempt,
        duration_s=dur,
        events=tuple(events),
        blocks=blocks,
        analysis_error=error,
        manual_value=manual,
        practice=practice,
        ended_by="duration",
    )


def _observe_whole(protocol: Protocol, rec: Recording) -> list[TrialObservation]:
    """One recording of a whole four-stage test, split into per-stance observations."""
    assert protocol.whole_analysis is not None
    try:
        blocks = run_analysis(protocol.whole_analysis, rec)
    except BalanceMonError as e:
        first = protocol.conditions[0].name
        return [TrialObservation(first, 1, None, analysis_error=str(e))]
    block = blocks.get(protocol.whole_analysis.replace("-", "_"), {})
    out = []
    for st in block.get("stances", []):
        name = st.get("stance")
        if name not in {c.name for c in protocol.conditions}:
            continue
        start, end = _f(st.get("start_s")), _f(st.get("end_s"))
        hold = _f(st.get("hold_s"))
        dur = (
            hold
            if hold is not None
            else (end - start if start is not None and end is not None else None)
        )
        events: list[TrialEvent] = []
        loss = _f(st.get("loss_of_balance_s"))
        if loss is not None and start is not None:
            events.append(TrialEvent("balance_lost", loss - start))
        elif not st.get("held_10s", False) and dur is not None:
            events.append(TrialEvent("balance_lost", dur))  # the feet moved before 10 s
        if start is not None and end is not None:
            for g in rec.rate.gaps:
                if start <= g.start_s < end:
                    events.append(TrialEvent("sensor_gap", g.start_s - start, g.duration_s))
        sway = st.get("sway")
        out.append(
            TrialObservation(
                name,
                1,
                dur,
                tuple(events),
                blocks={"sway": dict(sway)} if isinstance(sway, Mapping) else None,
                ended_by="event" if events else "duration",
            )
        )
    if not out:
        first = protocol.conditions[0].name
        out.append(TrialObservation(first, 1, None, analysis_error="no stance found"))
    return out


def score_session(
    protocol: Protocol | str,
    trials: Sequence[tuple[str | None, int, Recording]],
    patient: Patient | None = None,
) -> ProtocolResult:
    """Score recorded trials of one protocol session.

    Parameters
    ----------
    protocol : a :class:`Protocol` or its name.
    trials : ``(condition, attempt, recording)`` per trial recording. The
        condition may be None for a one-condition protocol; for
        ``steadi_four_stage`` a condition of None or ``"all"`` means one
        recording of the whole test, scored with the protocol's
        ``whole_analysis`` and split into stances. Attempts number a
        condition's trials from 1 (unique per condition).
    patient : age and sex for the norms.

    Each recording is analysed with the protocol's analysis (on the held part
    for hold trials); sensor gaps longer than the rule's limit make a trial
    invalid; for hold trials a loss of balance found by
    :class:`~balance_mon.analysis.balance.BalanceLossDetector` (or given as
    ``balance_lost_s`` metadata) ends the hold. See the module docstring for
    the metadata read. Returns a :class:`ProtocolResult`; unusable trials are
    kept with ``status == "invalid"`` and their reasons.
    """
    p = get_protocol(protocol) if isinstance(protocol, str) else protocol
    names = {c.name for c in p.conditions}
    seen: set[tuple[str, int]] = set()
    obs: list[TrialObservation] = []
    for item in trials:
        try:
            condition, attempt, rec = item
        except (TypeError, ValueError):
            raise ProtocolError(
                f"each trial must be (condition, attempt, Recording), got {item!r}"
            ) from None
        if not isinstance(rec, Recording):
            raise ProtocolError(f"trial {condition!r} attempt {attempt!r}: not a Recording")
        if isinstance(attempt, bool) or not isinstance(attempt, int | np.integer) or attempt < 1:
            raise ProtocolError(
                f"trial {condition!r}: attempt must be a whole number >= 1, got {attempt!r}"
            )
        if condition in (None, "", "all") and p.whole_analysis is not None:
            for o in _observe_whole(p, rec):
                key = (o.condition, o.attempt)
                if key in seen:
                    raise ProtocolError(f"{rec.source or 'recording'}: {o.condition} scored twice")
                seen.add(key)
                obs.append(o)
            continue
        if condition in (None, ""):
            if len(p.conditions) != 1:
                raise ProtocolError(
                    f"{rec.source or 'recording'}: protocol {p.name} has several conditions "
                    f"({', '.join(names)}); name the trial's condition"
                )
            condition = p.conditions[0].name
        if condition not in names:
            raise ProtocolError(
                f"{rec.source or 'recording'}: protocol {p.name} has no condition {condition!r}; "
                f"use one of {', '.join(names)}"
            )
        key = (str(condition), int(attempt))
        if key in seen:
            raise ProtocolError(
                f"{rec.source or 'recording'}: {condition} attempt {attempt} given twice"
            )
        seen.add(key)
        obs.append(_observe_recording(p, str(condition), int(attempt), rec))
    limit = p.practice_attempts + p.max_attempts + p.max_invalid
    for c in names:
        n = sum(1 for o in obs if o.condition == c)
        if n > limit:
            raise ProtocolError(
                f"protocol {p.name}: {n} trials of {c}; at most {limit} are allowed "
                f"({p.max_attempts} attempts, {p.practice_attempts} practice, "
                f"{p.max_invalid} repeats of invalid trials)"
            )
    obs.sort(key=lambda o: ([c.name for c in p.conditions].index(o.condition), o.attempt))
    # leading practice attempts by count when the protocol asks for them
    results = []
    for o in obs:
        first_attempts = sorted(x.attempt for x in obs if x.condition == o.condition)
        is_practice = o.practice or (
            p.practice_attempts > 0 and o.attempt in first_attempts[: p.practice_attempts]
        )
        if is_practice != o.practice:
            o = dataclasses.replace(o, practice=is_practice)
        results.append(evaluate_trial(p, o))
    return summarise(p, results, patient)
