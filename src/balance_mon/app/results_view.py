"""Results of a finished test: measures against norms, flags with their reasons, trials."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .theme import FLAG_STYLE

if TYPE_CHECKING:
    from .runner import RunResult

__all__ = ["ResultsView", "measure_rows"]

_SEVERITY = {"alert": "risk", "warning": "risk", "info": "info"}

_TRIAL_STATUS = {
    "completed": "✓ completed",
    "failed": "⚠ failed (not held)",
    "invalid": "✕ invalid",
}

_OUTCOME = {
    "held": "✓ held",
    "completed": "✓ completed",
    "balance_lost": "⚠ balance lost",
    "interrupted": "✕ interrupted (sensor), repeated",
    "stopped": "– stopped",
    "running": "…",
    "pending": "…",
}


def _fmt(v: float | None, unit: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    u = unit.strip("{}")
    if u in ("stands", "stances", "reps", "transfers"):
        return f"{v:.0f} {u}"
    if abs(v) >= 100:
        return f"{v:.0f} {unit}"
    if abs(v) >= 1:
        return f"{v:.1f} {unit}"
    return f"{v:.3g} {unit}"


_SCORE_LABELS = {
    "stages_held": ("Stances held", "stances"),
    "tandem_hold_s": ("Tandem stance held", "s"),
    "feet_together_hold_s": ("Feet together held", "s"),
    "semi_tandem_hold_s": ("Semi-tandem held", "s"),
    "tandem_10s": ("Tandem held 10 s", ""),
    "single_leg_hold_s": ("Single leg held", "s"),
    "stands": ("30-s chair stands", "stands"),
    "tug_s": ("Timed Up and Go", "s"),
    "total_s": ("CTSIB-M total", "s"),
}

_STATUS = {
    "passed": "✓ passed",
    "failed": "⚠ not held / failed",
    "invalid": "✕ invalid",
    "not_attempted": "– not attempted",
}


def _score_label(key: str) -> tuple[str, str]:
    if key in _SCORE_LABELS:
        return _SCORE_LABELS[key]
    from ..store import scoring

    info = scoring.measure_info(key)
    unit = info.unit.strip("{}")
    if key.endswith("_s"):
        unit = "s"
    return info.label[:1].upper() + info.label[1:], unit


def measure_rows(result: RunResult) -> list[dict[str, Any]]:
    """Rows of the results table: measure, value, norm, flag, reason.

    Clinical tests: the protocol's scores and their comparisons with the
    published norms (:class:`balance_mon.protocols.ProtocolResult`; each
    comparison carries its threshold, band, source and a sentence). Home
    sessions: the repetitions of every set as stored, against the target.
    """
    rows: list[dict[str, Any]] = []
    pr = result.protocol_result
    if pr is not None:
        normed = set()
        for n in pr.norms:
            label, unit = _score_label({"chair_stand_stands": "stands"}.get(n.measure, n.measure))
            normed.add({"chair_stand_stands": "stands"}.get(n.measure, n.measure))
            level = "info" if n.at_risk is None else "risk" if n.at_risk else "ok"
            norm = ""
            if n.threshold is not None:
                rel = {"below": "≥", "above": "<"}.get(n.rule, "")
                if n.measure == "tug_s":
                    rel = "<"
                norm = f"{rel} {n.threshold:g} {unit}".strip()
                if n.band:
                    norm += f" ({n.band})"
            rows.append(
                {
                    "trial": "",
                    "measure": label,
                    "metric": n.measure,
                    "value": n.value,
                    "unit": unit,
                    "text": _fmt(n.value, unit),
                    "norm": norm,
                    "level": level,
                    "reason": n.message,
                    "primary": True,
                }
            )
        for key, v in pr.scores.items():
            if key in normed or isinstance(v, bool) or (v is None and key.endswith("ratio")):
                continue
            label, unit = _score_label(key)
            rows.append(
                {
                    "trial": "",
                    "measure": label,
                    "metric": key,
                    "value": v,
                    "unit": unit,
                    "text": _fmt(v if not isinstance(v, bool) else float(v), unit),
                    "norm": _norm_text(pr.protocol, key),
                    "level": "",
                    "reason": "",
                    "primary": key in ("stages_held",),
                }
            )
        if pr.stopped_reason:
            rows.append(
                {
                    "trial": "",
                    "measure": "Test",
                    "metric": "stopped",
                    "value": None,
                    "unit": "",
                    "text": "stopped early",
                    "norm": "",
                    "level": "warn",
                    "reason": pr.stopped_reason,
                    "primary": True,
                }
            )
        rows.sort(key=lambda r: not r["primary"])
        return rows
    for st in result.saved:  # home sets, as stored
        target = next(
            (
                t.target_reps
                for t in result.trials
                if t.exercise == st.condition and t.attempt == st.attempt
            ),
            None,
        )
        v = st.value("reps")
        level = "" if not st.valid else ("ok" if target and v is not None and v >= target else "")
        rows.append(
            {
                "trial": f"{st.condition} #{st.attempt}",
                "measure": f"{st.condition.replace('_', ' ').capitalize()} (set {st.attempt})",
                "metric": "reps",
                "value": v,
                "unit": "reps",
                "text": _fmt(v, "reps"),
                "norm": "" if target is None else f"target {target}",
                "level": level if st.valid else "warn",
                "reason": "" if st.valid else st.invalid_reason,
                "primary": True,
            }
        )
    return rows


def _norm_text(protocol: str, metric: str) -> str:
    if protocol == "steadi_four_stage" and metric.endswith("_hold_s"):
        return "≥ 10 s"
    if protocol == "steadi_four_stage" and metric == "stages_held":
        return "4 of 4"
    return ""


class ResultsView(QWidget):
    """The results of the last run."""

    report_requested = Signal()
    export_requested = Signal()
    history_requested = Signal()
    again_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: RunResult | None = None
        lay = QVBoxLayout(self)
        self.title = QLabel("Results")
        self.title.setObjectName("h1")
        lay.addWidget(self.title)
        self.subtitle = QLabel("No test has been run yet.")
        self.subtitle.setWordWrap(True)
        lay.addWidget(self.subtitle)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setObjectName("banner")
        self.summary.hide()
        lay.addWidget(self.summary)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Measure", "Value", "Norm", "Flag", "Reason"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table.setAccessibleName("Measures with norms and flags")
        lay.addWidget(self.table, 3)
        self.stored_label = QLabel("")
        self.stored_label.setAccessibleName("Storage")
        lay.addWidget(self.stored_label)
        t2 = QLabel("Trials")
        t2.setObjectName("h2")
        lay.addWidget(t2)
        self.trials = QTableWidget(0, 4)
        self.trials.setHorizontalHeaderLabels(["Trial", "Outcome", "Time / count", "Notes"])
        self.trials.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.trials.verticalHeader().setVisible(False)
        self.trials.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.trials.setAccessibleName("Trials")
        lay.addWidget(self.trials, 2)
        row = QHBoxLayout()
        self.report_btn = QPushButton("Save &report (PDF)…")
        self.report_btn.clicked.connect(self.report_requested)
        self.export_btn = QPushButton("&Export data (CSV)…")
        self.export_btn.clicked.connect(self.export_requested)
        self.history_btn = QPushButton("Patient &history")
        self.history_btn.clicked.connect(self.history_requested)
        self.again_btn = QPushButton("Run &another test")
        self.again_btn.clicked.connect(self.again_requested)
        for b in (self.report_btn, self.export_btn, self.history_btn, self.again_btn):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        self._enable(False)

    def _enable(self, on: bool) -> None:
        self.report_btn.setEnabled(on)
        self.export_btn.setEnabled(on)

    def show_result(self, result: RunResult, patient_text: str = "") -> None:
        self.result = result
        self.title.setText(f"Results: {result.plan.title}")
        sub = f"{patient_text} · {result.started.replace('T', ' ')} · {result.duration_s:.0f} s"
        if result.message and result.session_id is None:
            sub += f"\n{result.message}"
        if result.error:
            sub += f"\n⚠ {result.error}"
        self.subtitle.setText(sub)
        rows = measure_rows(result)
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            sym, word, color = FLAG_STYLE.get(r["level"], ("", "", "#000000"))
            cells = [
                r["measure"] + (f" ({r['trial']})" if r["trial"] and len(result.saved) > 1 else ""),
                r["text"],
                r["norm"],
                f"{sym} {word}" if r["level"] else "",
                r["reason"],
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 3 and r["level"]:
                    item.setForeground(QColor(color))
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                self.table.setItem(i, c, item)
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        risks = [r for r in rows if r["level"] == "risk"]
        trend = result.trend_flags
        stored_flags = [f for s in result.saved for f in s.flags]
        if risks or trend:
            lines = [f"⚠ {r['reason']}" for r in risks] + [
                f"▲ Patient trend: {f['reason']}" for f in trend
            ]
            lines += [
                f"⚑ stored flag: {f.reason}"
                for f in stored_flags
                if all(f.reason != r["reason"] for r in risks)
            ][:3]
            self.summary.setText("\n".join(lines))
            self.summary.show()
        elif rows:
            self.summary.setObjectName("banner_ok")
            self.summary.style().unpolish(self.summary)
            self.summary.style().polish(self.summary)
            self.summary.setText("✓ No flags: the results are within the published norms.")
            self.summary.show()
        else:
            self.summary.hide()
        trial_rows = []
        pr = result.protocol_result
        by_key = {(t.condition, t.attempt): t for t in result.trials}
        if pr is not None:
            for tr in pr.trials:
                rec = by_key.get((tr.condition, tr.attempt))
                label = tr.condition.replace("_", " ") + (
                    f" #{tr.attempt}" if tr.attempt > 1 else ""
                )
                val = (
                    "–"
                    if tr.value is None
                    else _fmt(
                        tr.value,
                        _score_label(
                            "stands"
                            if pr.protocol == "chair_stand_30s"
                            else "tug_s"
                            if pr.protocol == "tug"
                            else "hold_s"
                        )[1],
                    )
                )
                if rec is not None and rec.live_count:
                    val += f" · {rec.live_count} counted live"
                notes = "; ".join(r.message for r in tr.reasons)
                if rec is not None and rec.loss_s is not None:
                    notes += f" (onset found in the signal at {rec.loss_s:.1f} s)"
                if rec is not None:
                    for intr in rec.interruptions:
                        notes += f" [sensor connection lost for {intr.get('outage_s', '?')} s]"
                trial_rows.append(
                    [label, _TRIAL_STATUS.get(tr.status, tr.status), val, notes.strip()]
                )
        else:
            for t in result.trials:
                name = t.exercise or t.condition or ""
                label = name.replace("_", " ") + (f" set {t.set_no}" if t.set_no else "")
                if t.attempt > 1:
                    label += f" (attempt {t.attempt})"
                stored = next(
                    (
                        x
                        for x in result.saved
                        if x.condition == (t.exercise or "")
                        and x.details.get("run", {}).get("key") == t.key
                    ),
                    None,
                )
                n = stored.value("reps") if stored is not None else None
                val = f"{t.live_count} counted live"
                if n is not None:
                    val = f"{n:.0f} stored · " + val
                notes = t.reason
                for intr in t.interruptions:
                    notes += f" [sensor connection lost for {intr.get('outage_s', '?')} s]"
                trial_rows.append([label, _OUTCOME.get(t.outcome, t.outcome), val, notes.strip()])
        self.trials.setRowCount(len(trial_rows))
        for i, cells in enumerate(trial_rows):
            for c, text in enumerate(cells):
                self.trials.setItem(i, c, QTableWidgetItem(text))
        self.trials.resizeColumnsToContents()
        self._enable(bool(result.saved))
        self.stored_label.setText(
            f"✓ {result.message}" if result.session_id is not None else (result.message or "")
        )
