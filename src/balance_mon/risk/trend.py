"""Is a patient's change real? Reliable change against a baseline, and an EWMA chart.

Rules (clinical.md section 4, "Is a change real?"):

1. **Settings apart.** Home and clinic results are never mixed: a trend is
   computed for one setting (:func:`trend_by_setting` splits a mixed series).
2. **Practice.** For measures with a known practice effect (30 s chair stand:
   +0.5-0.8 stands from the first to the second attempt, Gill et al. 2022):
   within a session, the first attempt is dropped when a later one exists;
   and the first session of a series (the patient's first exposure), when it
   has a single attempt, is kept out of the baseline if at least two baseline
   sessions and one more session remain.
3. **Session value.** The mean of a session's remaining attempts.
4. **Baseline.** The first ``baseline_sessions`` sessions (default 4, at least
   2; fewer when the series is short, always leaving one session to compare).
5. **Measurement error (SEM) and MDC95 = 1.96 * sqrt(2) * SEM.**
   - published MDC (TUG 2.08 s, Donoghue 2019; chair stand 2.5 stands, Gill
     2022; 5xSTS 2.5 s, Goldberg 2012): SEM = MDC95 / (1.96 * sqrt(2));
   - otherwise (sway, single-leg stance) with at least 3 baseline sessions:
     SEM = the SD of the patient's own baseline values (ddof = 1). For one
     person, the spread of repeated results *is* the within-person error that
     SEM = SD * sqrt(1 - ICC) estimates from a group;
   - otherwise, with a between-person SD supplied (``population_sd``, e.g. a
     clinic's own records) and a published ICC (sway: Alqahtani et al. 2020,
     lower end of the range): SEM = SD * sqrt(1 - ICC);
   - otherwise the MDC is unknown and no change is flagged.
6. **Change and its confidence interval.** Short series (fewer than
   ``ewma_min_sessions`` sessions after the baseline) compare each session
   with the baseline mean: change = x - mean, SE = SEM * sqrt(1 + 1/n_b).
   Longer series use an EWMA (Roberts 1959; Baldewijns et al. 2016 found EWMA
   charts better than CUSUM on home transfer times) started at the baseline
   mean: z_k = lambda * x_k + (1 - lambda) * z_(k-1); change = z_k - mean
   with SE = SEM * sqrt(lambda/(2-lambda) * (1-(1-lambda)^(2k)) +
   (1-(1-lambda)^k)^2 / n_b). The 95 % CI uses Student's t with n_b - 1
   degrees of freedom when the SEM comes from the patient's baseline, else
   the normal 1.96.
7. **Flag** a session when the change is in one direction, at least the
   MDC95, its CI excludes zero, and (EWMA) the EWMA lies outside its control
   limits mean +/- L * SEM * sqrt(lambda/(2-lambda) * (1-(1-lambda)^(2k))).
   One flag per episode (its first session); ``worse`` and ``better`` alike.

EWMA parameters: lambda = 0.3, L = 3.0 (balance_mon's choice: lambda 0.2-0.3
is the usual range for detecting sustained shifts of about one SD; 0.3 lags
less on a few sessions a week; L = 3 gives the textbook in-control run length
of several hundred sessions. Baldewijns 2016 do not fix these for us). The
MDC criterion is much stricter than the control limit, so false alarms are
governed by the MDC: see docs/risk.md for the rates measured on simulated
histories.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from .flags import Flag
from .measures import MeasureInfo, RiskError, measure_info

__all__ = [
    "SETTINGS",
    "Point",
    "SessionValue",
    "TrendResult",
    "mdc95_from_sem",
    "sem_from_icc",
    "trend",
    "trend_by_setting",
]

#: Where a result was measured.
SETTINGS = ("clinic", "home")

#: Sources of a patient's own measurement error (measures without a published MDC).
SPREADS = ("successive", "baseline")

Z95 = 1.959963984540054
SQRT2 = math.sqrt(2.0)


def sem_from_icc(sd: float, icc: float) -> float:
    """SEM = SD * sqrt(1 - ICC) (SD: between-person SD of the sample the ICC comes from)."""
    if not (0.0 <= icc <= 1.0) or not sd >= 0:
        raise RiskError(f"need SD >= 0 and 0 <= ICC <= 1, got SD {sd!r}, ICC {icc!r}")
    return sd * math.sqrt(1.0 - icc)


def mdc95_from_sem(sem: float) -> float:
    """MDC95 = 1.96 * sqrt(2) * SEM."""
    return Z95 * SQRT2 * sem


@dataclass(frozen=True)
class Point:
    """One result: when, what, where (``clinic`` or ``home``) and which attempt
    of that day (1 = first)."""

    date: dt.date
    value: float
    setting: str = "clinic"
    attempt: int = 1

    def __post_init__(self) -> None:
        d = self.date
        if isinstance(d, str):
            try:
                d = dt.date.fromisoformat(d[:10])
            except ValueError:
                raise RiskError(f"point date {self.date!r} is not YYYY-MM-DD") from None
            object.__setattr__(self, "date", d)
        elif isinstance(d, dt.datetime):
            object.__setattr__(self, "date", d.date())
        elif not isinstance(d, dt.date):
            raise RiskError(f"point date must be a date, got {self.date!r}")
        if self.setting not in SETTINGS:
            raise RiskError(f"point setting must be one of {SETTINGS}, got {self.setting!r}")
        v = self.value
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise RiskError(f"point value must be a finite number, got {v!r} on {self.date}")
        a = self.attempt
        if isinstance(a, bool) or not isinstance(a, int) or a < 1:
            raise RiskError(f"point attempt must be a whole number >= 1, got {a!r}")


@dataclass(frozen=True)
class SessionValue:
    """One session of a trend: its date, value (mean of the attempts kept),
    attempts kept and dropped, and role (``practice``, ``baseline``, ``follow_up``)."""

    date: dt.date
    value: float
    n_attempts: int
    dropped_attempts: int
    role: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "value": self.value,
            "n_attempts": self.n_attempts,
            "dropped_attempts": self.dropped_attempts,
            "role": self.role,
        }


def _nan_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class TrendResult:
    """Trend of one measure in one setting.

    ``status``: ``worse``, ``better`` or ``stable`` at the last session, or
    ``insufficient`` (``reason`` says why). ``method``: ``ewma``,
    ``reliable_change`` or ``none``. Per-session series (``ewma``,
    ``ucl``/``lcl`` control limits, ``change``, ``ci_low``/``ci_high``) are
    aligned with ``sessions`` and None where not computed (practice and
    baseline sessions).
    """

    measure: str
    title: str
    unit: str
    worse: str
    setting: str | None
    status: str
    method: str
    reason: str
    sessions: tuple[SessionValue, ...]
    baseline_mean: float | None
    baseline_sd: float | None
    n_baseline: int
    sem: float | None
    mdc95: float | None
    mdc_source: str
    lambda_: float
    L: float
    ewma: tuple[float | None, ...] = ()
    ucl: tuple[float | None, ...] = ()
    lcl: tuple[float | None, ...] = ()
    change: tuple[float | None, ...] = ()
    ci_low: tuple[float | None, ...] = ()
    ci_high: tuple[float | None, ...] = ()
    mdc: tuple[float | None, ...] = ()
    flags: tuple[Flag, ...] = field(default_factory=tuple)

    @property
    def baseline(self) -> tuple[SessionValue, ...]:
        return tuple(s for s in self.sessions if s.role == "baseline")

    def as_dict(self) -> dict[str, Any]:
        def ser(xs: Iterable[float | None]) -> list[float | None]:
            return [_nan_none(x) for x in xs]

        return {
            "measure": self.measure,
            "title": self.title,
            "unit": self.unit,
            "worse": self.worse,
            "setting": self.setting,
            "status": self.status,
            "method": self.method,
            "reason": self.reason,
            "sessions": [s.as_dict() for s in self.sessions],
            "baseline_mean": _nan_none(self.baseline_mean),
            "baseline_sd": _nan_none(self.baseline_sd),
            "n_baseline": self.n_baseline,
            "sem": _nan_none(self.sem),
            "mdc95": _nan_none(self.mdc95),
            "mdc_source": self.mdc_source,
            "lambda": self.lambda_,
            "L": self.L,
            "ewma": ser(self.ewma),
            "ucl": ser(self.ucl),
            "lcl": ser(self.lcl),
            "change": ser(self.change),
            "ci_low": ser(self.ci_low),
            "ci_high": ser(self.ci_high),
            "mdc": ser(self.mdc),
            "flags": [f.as_dict() for f in self.flags],
        }


def _sessions(points: Sequence[Point], info: MeasureInfo) -> list[SessionValue]:
    by_date: dict[dt.date, list[Point]] = {}
    for p in points:
        by_date.setdefault(p.date, []).append(p)
    out = []
    for d in sorted(by_date):
        pts = sorted(by_date[d], key=lambda p: p.attempt)
        kept = pts
        if info.practice_effect is not None and len(pts) > 1:
            first = pts[0].attempt
            kept = [p for p in pts if p.attempt != first] or pts
        v = math.fsum(p.value for p in kept) / len(kept)
        out.append(SessionValue(d, v, len(kept), len(pts) - len(kept), "follow_up"))
    return out


def _insufficient(
    name: str,
    info: MeasureInfo,
    setting: str | None,
    sessions: list[SessionValue],
    reason: str,
    lam: float,
    L: float,
    **kw: Any,
) -> TrendResult:
    n = len(sessions)
    return TrendResult(
        measure=name,
        title=info.title,
        unit=info.unit,
        worse=info.worse,
        setting=setting,
        status="insufficient",
        method="none",
        reason=reason,
        sessions=tuple(sessions),
        baseline_mean=kw.get("mean"),
        baseline_sd=kw.get("sd"),
        n_baseline=kw.get("n_b", 0),
        sem=None,
        mdc95=None,
        mdc_source="",
        lambda_=lam,
        L=L,
        ewma=(None,) * n,
        ucl=(None,) * n,
        lcl=(None,) * n,
        change=(None,) * n,
        ci_low=(None,) * n,
        ci_high=(None,) * n,
        mdc=(None,) * n,
    )


def _check_args(baseline_sessions: int, lam: float, L: float, spread: str) -> None:
    if (
        isinstance(baseline_sessions, bool)
        or not isinstance(baseline_sessions, int)
        or baseline_sessions < 2
    ):
        raise RiskError(f"baseline_sessions must be a whole number >= 2, got {baseline_sessions!r}")
    if not 0.0 < lam <= 1.0 or not L > 0:
        raise RiskError(f"EWMA needs 0 < lambda <= 1 and L > 0, got {lam!r}, {L!r}")
    if spread not in SPREADS:
        raise RiskError(f"spread must be one of {SPREADS}, got {spread!r}")


def _successive_sem(values: Sequence[float]) -> tuple[float, float]:
    """SEM from consecutive-session differences and its approximate degrees of freedom.

    SEM = sqrt(sum(d^2) / (2 m)) over the m differences d between consecutive
    sessions: the test-retest SEM = SD(differences) / sqrt(2) with the mean
    difference taken as 0, so a slow trend hardly inflates it. The mean square
    successive difference estimates a variance with about 2/3 of the
    efficiency of the usual estimator (von Neumann et al. 1941), hence
    df = 2 m / 3.
    """
    d2 = [(b - a) ** 2 for a, b in zip(values[:-1], values[1:], strict=True)]
    return math.sqrt(math.fsum(d2) / (2 * len(d2))), max(1.0, 2.0 * len(d2) / 3.0)


def trend(
    series: Sequence[Point],
    measure: str,
    *,
    setting: str | None = None,
    baseline_sessions: int = 4,
    lam: float = 0.3,
    L: float = 3.0,
    ewma_min_sessions: int = 5,
    spread: str = "successive",
    population_sd: float | None = None,
) -> TrendResult:
    """Trend of one measure in one setting, with flags for real changes.

    Parameters
    ----------
    series : the patient's results of ``measure`` (:class:`Point`), any order.
    measure : a name of :data:`~.measures.MEASURES`, optionally with a
        ``:context`` (e.g. ``sway_rms_mps2:romberg/eyes_open``).
    setting : ``clinic`` or ``home``; only those points are used. None: the
        series must hold one setting only (mixing raises :class:`RiskError`).
    baseline_sessions : sessions in the baseline (at least 2).
    lam, L : EWMA weight and control-limit width (see the module docstring).
    ewma_min_sessions : sessions after the baseline needed for the EWMA;
        shorter series compare each session with the baseline.
    spread : for measures without a published MDC, where the patient's SEM
        comes from: ``successive`` (consecutive-session differences of all
        sessions before the one judged; default) or ``baseline`` (the SD of
        the baseline sessions, needs 3 or more).
    population_sd : between-person SD of the measure: with the measure's
        published ICC, SEM = SD * sqrt(1 - ICC) when the patient's own data
        are too few.

    Returns
    -------
    TrendResult
    """
    info = measure_info(measure)
    _check_args(baseline_sessions, lam, L, spread)
    pts = list(series)
    for p in pts:
        if not isinstance(p, Point):
            raise RiskError(f"trend needs Point objects, got {p!r}")
    if setting is not None:
        if setting not in SETTINGS:
            raise RiskError(f"setting must be one of {SETTINGS}, got {setting!r}")
        pts = [p for p in pts if p.setting == setting]
    else:
        found = sorted({p.setting for p in pts})
        if len(found) > 1:
            raise RiskError(
                f"the {info.title} series mixes {' and '.join(found)} results; home and clinic "
                "are kept apart: pass setting= or use trend_by_setting()"
            )
        setting = found[0] if found else None
    sessions = _sessions(pts, info)
    n = len(sessions)

    def insufficient(reason: str, **kw: Any) -> TrendResult:
        return _insufficient(measure, info, setting, sessions, reason, lam, L, **kw)

    if n < 3:
        return insufficient(f"{n} session(s); a trend needs a baseline of 2 and one more")
    start = 0
    if (
        info.practice_effect is not None
        and sessions[0].n_attempts + sessions[0].dropped_attempts == 1
        and n - 1 >= 3
    ):
        start = 1
        sessions[0] = _with_role(sessions[0], "practice")
    n_b = max(2, min(baseline_sessions, n - start - 1))
    for i in range(start, start + n_b):
        sessions[i] = _with_role(sessions[i], "baseline")
    vals = [s.value for s in sessions[start : start + n_b]]
    mean = math.fsum(vals) / n_b
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (n_b - 1))
    follow = list(range(start + n_b, n))
    # -- measurement error: fixed (published, ICC, baseline) or per session (successive)
    fixed: tuple[float, float] | None = None  # (sem, df)
    if info.mdc95 is not None:
        fixed = (info.mdc95 / (Z95 * SQRT2), math.inf)
        mdc_src = str(info.mdc_source)
    elif spread == "successive" and follow[-1] - start >= 3:
        mdc_src = (
            "from this patient's session-to-session differences, "
            "SEM = sqrt(mean squared difference / 2), MDC95 = 1.96 x sqrt(2) x SEM"
        )
    elif spread == "baseline" and n_b >= 3 and sd > 0:
        fixed = (sd, n_b - 1.0)
        mdc_src = (
            f"from this patient's {n_b} baseline sessions, SEM = their SD, "
            "MDC95 = 1.96 x sqrt(2) x SEM"
        )
    elif population_sd is not None and info.icc is not None:
        fixed = (sem_from_icc(float(population_sd), info.icc), math.inf)
        mdc_src = (
            f"SEM = SD x sqrt(1 - ICC) with SD {population_sd:g} {info.unit} and ICC "
            f"{info.icc:g}, {info.icc_source}"
        )
    else:
        return insufficient(
            f"no published MDC for {info.title}, and too few sessions for the patient's own "
            "measurement error (3 before the session judged)",
            mean=mean,
            sd=sd,
            n_b=n_b,
        )
    use_ewma = len(follow) >= ewma_min_sessions
    ew: list[float | None] = [None] * n
    ucl: list[float | None] = [None] * n
    lcl: list[float | None] = [None] * n
    chg: list[float | None] = [None] * n
    lo: list[float | None] = [None] * n
    hi: list[float | None] = [None] * n
    mdcs: list[float | None] = [None] * n
    hit = [0] * n  # +1 worse, -1 better
    worse_sign = 1.0 if info.worse == "higher" else -1.0
    z = mean
    sem = mdc = math.nan
    for k, i in enumerate(follow, start=1):
        x = sessions[i].value
        if use_ewma:
            z = lam * x + (1.0 - lam) * z
            ew[i] = z
        if fixed is not None:
            sem, df = fixed
        elif i - start >= 3:
            sem, df = _successive_sem([sv.value for sv in sessions[start:i]])
        else:
            continue
        if not sem > 0:
            continue
        mdc = mdc95_from_sem(sem)
        mdcs[i] = mdc
        q = Z95 if math.isinf(df) else float(stats.t.ppf(0.975, df))
        if use_ewma:
            w = lam / (2.0 - lam) * (1.0 - (1.0 - lam) ** (2 * k))
            half = L * sem * math.sqrt(w)
            ucl[i], lcl[i] = mean + half, mean - half
            c = z - mean
            se = sem * math.sqrt(w + (1.0 - (1.0 - lam) ** k) ** 2 / n_b)
            outside = abs(c) > half
        else:
            c = x - mean
            se = sem * math.sqrt(1.0 + 1.0 / n_b)
            outside = True
        chg[i], lo[i], hi[i] = c, c - q * se, c + q * se
        if outside and abs(c) >= mdc and (c - q * se > 0 or c + q * se < 0):
            hit[i] = 1 if c * worse_sign > 0 else -1
    if all(m is None for m in mdcs):
        return insufficient(
            "the patient's sessions have no spread, so the measurement error is unknown",
            mean=mean,
            sd=sd,
            n_b=n_b,
        )
    method = "ewma" if use_ewma else "reliable_change"
    flags = [
        _flag(
            measure,
            info,
            setting,
            sessions[i],
            hit[i],
            mean,
            n_b,
            chg[i],
            lo[i],
            hi[i],
            mdcs[i],
            mdc_src,
            method,
            ew[i],
        )
        for i in follow
        if hit[i] != 0 and (i == follow[0] or hit[i - 1] != hit[i])
    ]
    status = {1: "worse", -1: "better", 0: "stable"}[hit[follow[-1]]]
    return TrendResult(
        measure=measure,
        title=info.title,
        unit=info.unit,
        worse=info.worse,
        setting=setting,
        status=status,
        method=method,
        reason="",
        sessions=tuple(sessions),
        baseline_mean=mean,
        baseline_sd=sd,
        n_baseline=n_b,
        sem=sem,
        mdc95=mdc,
        mdc_source=mdc_src,
        lambda_=lam,
        L=L,
        ewma=tuple(ew),
        ucl=tuple(ucl),
        lcl=tuple(lcl),
        change=tuple(chg),
        ci_low=tuple(lo),
        ci_high=tuple(hi),
        mdc=tuple(mdcs),
        flags=tuple(flags),
    )


def _with_role(s: SessionValue, role: str) -> SessionValue:
    return SessionValue(s.date, s.value, s.n_attempts, s.dropped_attempts, role)


def _flag(
    measure: str,
    info: MeasureInfo,
    setting: str | None,
    s: SessionValue,
    direction: int,
    mean: float,
    n_b: int,
    change: float | None,
    lo: float | None,
    hi: float | None,
    mdc: float | None,
    mdc_src: str,
    method: str,
    ewma: float | None,
) -> Flag:
    assert change is not None and lo is not None and hi is not None and mdc is not None
    word = "worsened" if direction > 0 else "improved"
    if info.mdc95 is not None:
        mdc_text = f"{info.mdc95:g} {info.unit}"
    else:
        mdc_text = f"{mdc:.{info.decimals + 1}f} {info.unit}"
    level = f"an EWMA level of {info.fmt(ewma)}" if ewma is not None else info.fmt(s.value)
    msg = (
        f"{info.title} ({setting}) {word} from a baseline of {info.fmt(mean)} "
        f"({n_b} sessions) to {level} on {s.date.isoformat()}, a change of "
        f"{info.fmt(change, signed=True)} (95 % CI {lo:+.{info.decimals}f} to "
        f"{hi:+.{info.decimals}f}) that exceeds the MDC95 of {mdc_text} "
        f"({mdc_src})."
    )
    return Flag(
        code="worse" if direction > 0 else "better",
        kind="change",
        measure=measure,
        value=float(ewma if ewma is not None else s.value),
        threshold=mdc,
        source=mdc_src,
        message=msg,
        direction="worse" if direction > 0 else "better",
        date=s.date,
        setting=setting,
        details={
            "baseline_mean": mean,
            "n_baseline": n_b,
            "change": change,
            "ci_low": lo,
            "ci_high": hi,
            "method": method,
            "session_value": s.value,
        },
    )


def trend_by_setting(series: Sequence[Point], measure: str, **kw: Any) -> dict[str, TrendResult]:
    """:func:`trend` for each setting present in ``series`` (clinic and home apart)."""
    found = [s for s in SETTINGS if any(p.setting == s for p in series)]
    return {s: trend(series, measure, setting=s, **kw) for s in found}
