"""PDF reports: one page per session, and a longitudinal report of a patient.

Made with ReportLab (BSD licence; docs/reports.md says why) using only the
PDF base-14 fonts (nothing embedded) and vector charts (:mod:`.charts`), so
a report is a few tens of kilobytes. ``invariant=True`` output is
byte-reproducible (used for the committed example and in tests).

- :func:`session_report`: patient and session header, every trial's headline
  results against the published norm or cut-off, validity with its reason,
  the sway path with its 95 % ellipse for quiet-standing trials, the flags
  with their reasons, and the algorithms (name, version) that made the
  numbers. Overflowing rows continue on a second page.
- :func:`longitudinal_report`: summary table (baseline, latest, change, MDC),
  all flags with reasons, and a trend chart per headline measure with the
  baseline +/- MDC95 band, the EWMA line and the cut-off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from .. import __version__
from ..store import Patient, Session, Store, Trial, scoring
from ..store.trends import MeasureTrend, trends
from .charts import GREY, INK, RED, Box, sway_chart, trend_chart

__all__ = ["longitudinal_report", "session_report"]

PAGE_W, PAGE_H = A4
MARGIN = 42.0
SWAY_PROTOCOLS = ("sway", "romberg", "ctsib_m", "single_leg_stance", "steadi_four_stage")
DISCLAIMER = (
    "Decision support only: results must be interpreted by a clinician with the whole "
    "clinical picture. The patient is identified by a pseudonymous id only."
)


class _Doc:
    """A canvas with a text cursor, page header/footer and page breaks."""

    def __init__(self, path: Path, title: str, subject: str, *, invariant: bool, now: str):
        self.c = Canvas(str(path), pagesize=A4, invariant=int(invariant), pageCompression=1)
        self.c.setTitle(title)
        self.c.setAuthor("balance_mon")
        self.c.setCreator(f"balance_mon {__version__}")
        self.c.setSubject(subject)
        self.title = title
        self.subject = subject
        self.now = now
        self.page = 0
        self.y = 0.0
        self.new_page()

    def new_page(self) -> None:
        if self.page:
            self._footer()
            self.c.showPage()
        self.page += 1
        c = self.c
        c.setFillColor(colors.HexColor("#1A365D"))
        c.rect(0, PAGE_H - 34, PAGE_W, 34, stroke=0, fill=1)
        c.setFillColor(colors.white)
        c.setFont("Helvetica-Bold", 13)
        c.drawString(MARGIN, PAGE_H - 22, self.title)
        c.setFont("Helvetica", 9)
        c.drawRightString(PAGE_W - MARGIN, PAGE_H - 22, self.subject)
        c.setFillColor(INK)
        self.y = PAGE_H - 50

    def _footer(self) -> None:
        c = self.c
        c.setFont("Helvetica", 6.5)
        c.setFillColor(GREY)
        c.drawString(MARGIN, 24, DISCLAIMER)
        c.drawString(
            MARGIN, 15, f"balance_mon {__version__} - generated {self.now} - page {self.page}"
        )
        c.setFillColor(INK)

    def need(self, height: float) -> None:
        if self.y - height < 40:
            self.new_page()

    def heading(self, text: str) -> None:
        self.need(30)
        self.y -= 6
        self.c.setFont("Helvetica-Bold", 10)
        self.c.setFillColor(colors.HexColor("#1A365D"))
        self.c.drawString(MARGIN, self.y, text)
        self.c.setFillColor(INK)
        self.y -= 12

    def para(self, text: str, *, size: float = 8, color: Any = INK, indent: float = 0) -> None:
        lines = simpleSplit(text, "Helvetica", size, PAGE_W - 2 * MARGIN - indent)
        for line in lines:
            self.need(size + 3)
            self.c.setFont("Helvetica", size)
            self.c.setFillColor(color)
            self.c.drawString(MARGIN + indent, self.y, line)
            self.y -= size + 2.5
        self.c.setFillColor(INK)

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        *,
        red_rows: Sequence[bool] = (),
    ) -> None:
        size = 7.2
        total = sum(widths)
        scale = (PAGE_W - 2 * MARGIN) / total
        ws = [w * scale for w in widths]

        def draw_row(cells: Sequence[str], bold: bool, red: bool) -> None:
            font = "Helvetica-Bold" if bold else "Helvetica"
            wrapped = [
                simpleSplit(str(t), font, size, w - 4) or [""]
                for t, w in zip(cells, ws, strict=True)
            ]
            h = max(len(w) for w in wrapped) * (size + 1.5) + 3
            self.need(h + (0 if bold else 12))
            if bold:
                self.c.setFillColor(colors.HexColor("#EDF2F7"))
                self.c.rect(MARGIN, self.y - h + size, PAGE_W - 2 * MARGIN, h, stroke=0, fill=1)
            self.c.setFillColor(RED if red else INK)
            self.c.setFont(font, size)
            x = MARGIN
            for lines, w in zip(wrapped, ws, strict=True):
                for k, line in enumerate(lines):
                    self.c.drawString(x + 2, self.y - k * (size + 1.5), line)
                x += w
            self.c.setFillColor(INK)
            self.y -= h
            self.c.setStrokeColor(colors.HexColor("#E2E8F0"))
            self.c.setLineWidth(0.3)
            self.c.line(MARGIN, self.y + size - 1, PAGE_W - MARGIN, self.y + size - 1)

        draw_row(header, True, False)
        for i, r in enumerate(rows):
            if self.y - 20 < 40:
                self.new_page()
                draw_row(header, True, False)
            draw_row(r, False, bool(red_rows[i]) if i < len(red_rows) else False)
        self.y -= 4

    def save(self) -> None:
        self._footer()
        self.c.save()


def _now(now: dt.datetime | None) -> str:
    return (now or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")


def _fmt_value(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    shown = f"{v:.0f}" if unit.startswith("{") else f"{v:.3g}"
    u = "" if unit in ("1", "") else (unit.strip("{}") if unit.startswith("{") else unit)
    return f"{shown} {u}".strip()


def reference_text(protocol: str, metric: str, patient: Patient, year: int) -> str:
    """The norm or cut-off a value is read against, in words."""
    age = patient.age_in(year)
    if protocol == "tug" and metric == "tug_s":
        return f">= {scoring.TUG_AT_RISK_S:g} s: fall risk (CDC STEADI)"
    if protocol == "chair_stand_30s" and metric == "stands":
        thr = scoring.chair_stand_threshold(age, patient.sex)
        if thr is None:
            return "STEADI table needs age 60-94 and sex"
        return f"below {thr}: below average for {patient.sex}s aged {age} (CDC STEADI)"
    if metric in ("tandem_hold_s", "stages_held"):
        return "tandem held < 10 s: fall risk (CDC STEADI)"
    if metric in ("rms_mps2", "ellipse_area_m2ps4", "path_mps2", "norm_path_mps3", "jerk_m2ps5"):
        return "no published norm: compare with own baseline"
    return ""


def _patient_line(patient: Patient, year: int | None = None) -> str:
    bits = [f"Patient {patient.code}"]
    if patient.sex:
        bits.append(patient.sex)
    if patient.birth_year:
        age = f", about {patient.age_in(year)} y" if year else ""
        bits.append(f"born {patient.birth_year}{age}")
    if patient.height_m:
        bits.append(f"{patient.height_m:.2f} m")
    bits.append("home monitoring consented" if patient.home_consent else "no home monitoring")
    return " - ".join(bits)


def _sway_signals(store: Store, trial: Trial) -> tuple[Any, Any] | None:
    """The processed horizontal sway signals of a quiet-standing trial, from its raw data."""
    if trial.recording_id is None or trial.protocol not in SWAY_PROTOCOLS:
        return None
    if trial.protocol == "steadi_four_stage" and trial.condition == "whole":
        return None
    from ..analysis.sway import SwayAnalyzer

    params: dict[str, Any] = {}
    for r in store.results(trial):
        if r.algorithm == "SwayAnalyzer":
            params = {
                k: r.parameters[k]
                for k in ("cutoff_hz", "filter_order", "trim_s")
                if k in r.parameters
            }
            break
    try:
        sw = SwayAnalyzer(**params).analyze_recording(store.load_recording(trial.recording_id))
    except Exception:
        return None
    return sw.acc_ap_mps2_, sw.acc_ml_mps2_


def session_report(
    store: Store,
    patient: Patient,
    session: Session,
    out: str | Path,
    *,
    invariant: bool = False,
    now: dt.datetime | None = None,
) -> Path:
    """Write the one-page report of ``session`` to ``out`` (PDF)."""
    out = Path(out)
    if session.patient_id != patient.id:
        from ..store import StoreError

        raise StoreError(f"session {session.id} is not a session of patient {patient.code}")
    doc = _Doc(
        out,
        "Session report",
        f"{patient.code} - session {session.id}",
        invariant=invariant,
        now=_now(now),
    )
    year = session.date.year
    doc.para(_patient_line(patient, year), size=9)
    doc.para(
        f"Session {session.id}: {session.started.replace('T', ' ')} - {session.setting}"
        + (f" - device {session.device}" if session.device else "")
        + (f" - operator {session.operator}" if session.operator else "")
        + ("" if session.status == "complete" else " - INCOMPLETE (import interrupted)"),
        size=9,
    )
    trials = store.trials(session)
    flags = [f for f in store.flags(patient) if f.session_id == session.id]
    flagged = {(f.trial_id, f.measure) for f in flags}
    flagged_measures = {f.measure for f in flags}

    doc.heading("Results")
    rows, reds, algorithms = [], [], {}
    for t in trials:
        p = scoring.get_protocol(t.protocol)
        results = {r.metric: r for r in store.results(t)}
        shown = [m for m in p.primary if m in results] or list(results)[:2]
        status = "valid" if t.valid else f"invalid: {t.invalid_reason}"
        if not shown:
            rows.append([p.title, t.condition, str(t.attempt), "-", "-", "", status])
            reds.append(not t.valid)
        for k, m in enumerate(shown):
            r = results[m]
            algorithms[f"{r.algorithm} {r.algorithm_version}"] = None
            is_flag = (t.id, m) in flagged or (m in flagged_measures and t.valid)
            rows.append(
                [
                    p.title if k == 0 else "",
                    t.condition.replace("/", " / ") if k == 0 else "",
                    str(t.attempt) if k == 0 else "",
                    scoring.measure_info(m).label,
                    _fmt_value(r.value, r.unit) + ("  FLAG" if is_flag else ""),
                    reference_text(t.protocol, m, patient, year),
                    status if k == 0 else "",
                ]
            )
            reds.append(is_flag or not t.valid)
    if not rows:
        doc.para("No trials stored in this session.")
    else:
        doc.table(
            ["Test", "Condition", "Try", "Measure", "Value", "Norm / cut-off", "Validity"],
            rows,
            [70, 62, 18, 72, 52, 120, 80],
            red_rows=reds,
        )

    sway = []
    for t in trials:
        if len(sway) == 2:
            break
        sig = _sway_signals(store, t)
        if sig is not None:
            sway.append((t, sig))
    if sway:
        doc.heading("Sway path (tilt-corrected, low-passed trunk acceleration)")
        h = 190.0
        doc.need(h)
        w = (PAGE_W - 2 * MARGIN) / 2
        for i, (t, (ap, ml)) in enumerate(sway):
            title = f"{scoring.get_protocol(t.protocol).title}: {t.condition} (try {t.attempt})"
            sway_chart(doc.c, Box(MARGIN + i * w, doc.y - h, w - 60, h), ap, ml, title=title)
        doc.y -= h + 6

    doc.heading("Flags")
    if not flags:
        doc.para("No flag raised in this session.")
    for f in flags:
        doc.para(f"[{f.kind}, {f.severity}] {f.reason}", color=RED)

    if algorithms:
        doc.heading("How the numbers were made")
        doc.para(
            "Algorithms (name and version; parameters are stored with every result and the "
            "raw recording is kept, so each number can be recomputed): " + "; ".join(algorithms),
            size=7,
            color=GREY,
        )
    doc.save()
    return out


def _days(points: Sequence[scoring.Point]) -> tuple[list[float], list[str]]:
    ds = [dt.date.fromisoformat(p.date[:10]) for p in points]
    return [float(d.toordinal()) for d in ds], [d.strftime("%d %b %y") for d in ds]


def longitudinal_report(
    store: Store,
    patient: Patient,
    out: str | Path,
    *,
    invariant: bool = False,
    now: dt.datetime | None = None,
    max_charts: int = 12,
) -> Path:
    """Write the longitudinal report of ``patient`` to ``out`` (PDF)."""
    out = Path(out)
    sessions = store.sessions(patient)
    doc = _Doc(out, "Longitudinal report", patient.code, invariant=invariant, now=_now(now))
    last_year = sessions[-1].date.year if sessions else None
    doc.para(_patient_line(patient, last_year), size=9)
    if sessions:
        by = {s: sum(1 for x in sessions if x.setting == s) for s in ("clinic", "home")}
        doc.para(
            f"{len(sessions)} sessions from {sessions[0].started[:10]} to "
            f"{sessions[-1].started[:10]} ({by['clinic']} in clinic, {by['home']} at home; "
            "the two settings are kept as separate series)",
            size=9,
        )
    else:
        doc.para("No session stored yet.", size=9)
    all_trends = trends(store, patient)
    main = [t for t in all_trends if t.primary]

    flags = store.flags(patient)
    doc.heading("Flags")
    if not flags:
        doc.para("No flag raised.")
    sdate = {s.id: s.started[:10] for s in sessions}
    for f in flags:
        when = sdate.get(f.session_id or -1, "")
        doc.para(f"{when} [{f.kind}, {f.severity}] {f.reason}", color=RED)

    doc.heading("Summary")
    rows, reds = [], []
    for t in main:
        if not t.points:
            continue
        first, last = t.points[0].value, t.points[-1].value
        change = last - (t.baseline if t.baseline is not None else first)
        worse = None
        if t.status in ("worse", "better", "stable"):  # balance_mon.risk's judgement
            worse = t.status == "worse"
        elif t.better and t.mdc is not None and t.baseline is not None:
            sign = -1 if t.better == "higher" else 1
            worse = sign * change > t.mdc
        rows.append(
            [
                f"{t.label} ({t.setting})",
                scoring.get_protocol(t.protocol).title
                + (f" {t.condition.replace('/', ' / ')}" if t.condition else ""),
                str(len(t.points)),
                _fmt_value(t.baseline, t.unit) if t.baseline is not None else "-",
                _fmt_value(last, t.unit),
                f"{change:+.3g}",
                "-" if t.mdc is None else f"{t.mdc:.3g}",
                {"better": "better beyond MDC", "insufficient": "too few sessions"}.get(
                    t.status,
                    "worse beyond MDC" if worse else ("within MDC" if worse is False else "no MDC"),
                ),
            ]
        )
        reds.append(bool(worse) or bool(t.flags))
    if rows:
        doc.table(
            ["Measure", "Test", "n", "Baseline", "Latest", "Change", "MDC95", "Change status"],
            rows,
            [90, 100, 16, 50, 50, 40, 36, 70],
            red_rows=reds,
        )
    doc.para(
        "Baseline: the patient's first sessions; MDC95: the smallest change beyond "
        "measurement error (TUG 2.08 s, Donoghue et al. 2019; 30-s chair stand 2.5 stands, "
        "Gill et al. 2022; sway: from the patient's own session-to-session spread). "
        "A change is flagged when it exceeds the MDC95 and its confidence interval excludes "
        "zero; the line is an EWMA (exponentially weighted moving average). "
        "Computed by balance_mon.risk where it knows the measure (docs/risk.md).",
        size=7,
        color=GREY,
    )

    _weekly_dose_section(doc, store, patient)

    charts = [t for t in main if len(t.points) >= 2][:max_charts]
    if charts:
        doc.heading("Trends")
        w = (PAGE_W - 2 * MARGIN) / 2
        h = 150.0
        for i, t in enumerate(charts):
            col = i % 2
            if col == 0:
                doc.need(h + 4)
            _trend(doc, t, Box(MARGIN + col * w, doc.y - h, w - 8, h))
            if col == 1 or i == len(charts) - 1:
                doc.y -= h + 8
    doc.save()
    return out


def _weekly_dose_section(doc: _Doc, store: Store, patient: Patient) -> None:
    """The latest week's exercise dose against the osteoporosis guidelines (docs/bone.md)."""
    from ..store.dose import patient_weekly_dose

    week = patient_weekly_dose(store, patient)
    if week is None:
        return
    doc.heading(
        f"Weekly exercise dose ({week.week_start.isoformat()} to {week.week_end.isoformat()})"
    )
    rows = [
        [
            c.title,
            c.amount_text,
            str(c.sessions),
            c.target_text,
            "met" if c.met else f"{100 * c.fraction:.0f} % of the dose",
        ]
        for c in week.categories
    ]
    doc.table(
        ["Activity", "This week", "Sessions", "Guideline", "Status"],
        rows,
        [90, 60, 40, 150, 70],
        red_rows=[not c.met for c in week.categories],
    )
    doc.para(week.therapist_text, size=7.5)
    doc.para("For the patient: " + week.patient_text, size=7.5)
    doc.para(
        "Guidelines: Too Fit To Fracture (Giangregorio et al. 2014) and Osteoporosis Canada "
        "2023; Strong, Steady and Straight (Brooke-Wavell et al. 2022). Only exercise "
        "recorded with the sensor is counted.",
        size=7,
        color=GREY,
    )


def _trend(doc: _Doc, t: MeasureTrend, box: Box) -> None:
    days, labels = _days(t.points)
    flagged_sessions = {f.session_id for f in t.flags}
    unit = t.unit.strip("{}") if t.unit.startswith("{") else t.unit
    trend_chart(
        doc.c,
        box,
        days,
        [p.value for p in t.points],
        day_labels=labels,
        ewma=t.ewma,
        baseline=t.baseline,
        mdc=t.mdc,
        better=t.better,
        cutoff=t.cutoff,
        flagged=[p.session_id in flagged_sessions for p in t.points],
        title=f"{t.label} ({t.setting}"
        + (f", {t.condition.replace('/', ' / ')})" if t.condition not in ("", "standard") else ")"),
        ylabel=unit,
    )
