"""A patient's history: sessions, and trend charts with detectable-change bands.

Each chart shows one headline measure over the sessions (clinic and home
kept apart), the baseline (mean of the first two sessions, as the store's
flags use it), the band baseline +/- MDC95 in which a change is not
detectable (the store's :func:`~balance_mon.store.scoring.measure_info`
gives each measure's MDC and its source), and the EWMA trend the store
judges. Measures without a published MDC are drawn without a band, and
the chart says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .store_adapter import SeriesView
from .theme import OKABE_ITO

__all__ = ["HistoryView", "TrendChart"]


def _days(dates: list[str]) -> list[float]:
    d0 = dt.date.fromisoformat(dates[0][:10])
    out = []
    for d in dates:
        try:
            t = dt.datetime.fromisoformat(d)
        except ValueError:
            t = dt.datetime.fromisoformat(d[:10])
        out.append((t.date() - d0).days + t.hour / 24.0 + t.minute / 1440.0)
    return out


class _DateAxis(pg.AxisItem):
    def __init__(self, d0: dt.date) -> None:
        super().__init__(orientation="bottom")
        self.d0 = d0

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [(self.d0 + dt.timedelta(days=round(v))).strftime("%d %b") for v in values]


class TrendChart(QWidget):
    """One measure's series with its baseline, MDC band and EWMA trend."""

    def __init__(self, s: SeriesView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series = s
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 6)
        where = "home" if s.setting == "home" else "clinic"
        cond = (
            f" ({s.condition})"
            if s.condition and s.condition not in ("30s", "3m", "steadi", "standard", "whole")
            else ""
        )
        status = {"worse": " · ▼ worsening", "better": " · ▲ improving", "stable": " · stable"}.get(
            s.status, ""
        )
        title = QLabel(f"{s.label}{cond} · {where}{status}")
        title.setObjectName("h2")
        lay.addWidget(title)
        x = _days(s.dates)
        d0 = dt.date.fromisoformat(s.dates[0][:10])
        self.plot = pg.PlotWidget(axisItems={"bottom": _DateAxis(d0)})
        self.plot.setMinimumHeight(200)
        self.plot.setAccessibleName(f"Trend of {s.label}")
        pi = self.plot.getPlotItem()
        pi.showGrid(x=True, y=True, alpha=0.25)
        pi.setLabel("left", s.label, units=None if s.unit.startswith("{") else s.unit)
        pi.setMouseEnabled(x=False, y=False)
        pi.hideButtons()
        pi.setMenuEnabled(False)
        pi.addLegend(offset=(8, 8))
        x0, x1 = min(x) - 1, max(x) + 1
        note = ""
        if s.baseline is not None and s.mdc is not None:
            lo = pi.plot([x0, x1], [s.baseline - s.mdc] * 2, pen=pg.mkPen(OKABE_ITO["sky_blue"]))
            hi = pi.plot([x0, x1], [s.baseline + s.mdc] * 2, pen=pg.mkPen(OKABE_ITO["sky_blue"]))
            band = pg.FillBetweenItem(lo, hi, brush=pg.mkBrush(86, 180, 233, 60))
            pi.addItem(band)
            # the legend cannot show a FillBetweenItem: an empty thick line stands for it
            pi.plot(
                [],
                [],
                pen=pg.mkPen(color=(86, 180, 233, 140), width=8),
                name=f"no detectable change (± MDC95 {s.mdc:g})",
            )
            note = f"MDC95 {s.mdc:g} {s.unit.strip('{}')}: {s.mdc_source}"
        elif s.baseline is not None:
            note = "No published minimal detectable change for this measure: no band drawn."
        if s.baseline is not None:
            pi.plot(
                [x0, x1],
                [s.baseline] * 2,
                pen=pg.mkPen(OKABE_ITO["blue"], style=Qt.PenStyle.DashLine),
                name="baseline (first two sessions)",
            )
        pi.plot(
            x,
            s.values,
            pen=pg.mkPen(OKABE_ITO["black"]),
            symbol="o",
            symbolSize=7,
            symbolBrush=OKABE_ITO["black"],
            name="session value",
        )
        if s.cutoff is not None:
            pi.plot(
                [x0, x1],
                [s.cutoff] * 2,
                pen=pg.mkPen(OKABE_ITO["vermillion"], width=1, style=Qt.PenStyle.DashDotLine),
                name=f"fall-risk cut-off ({s.cutoff:g})",
            )
        if len(s.ewma) == len(x):
            pi.plot(
                x,
                s.ewma,
                pen=pg.mkPen(OKABE_ITO["orange"], width=2, style=Qt.PenStyle.DotLine),
                name="EWMA trend",
                connect="finite",
            )
        lay.addWidget(self.plot)
        texts = [f"▲ {f['reason']}" for f in s.flags]
        if note:
            texts.append(note)
        if texts:
            lbl = QLabel("\n".join(texts))
            lbl.setWordWrap(True)
            lay.addWidget(lbl)


class HistoryView(QWidget):
    """Sessions table and trend charts of the current patient."""

    report_requested = Signal()
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        self.title = QLabel("History")
        self.title.setObjectName("h1")
        lay.addWidget(self.title)
        self.info = QLabel("Choose a patient to see their history.")
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        body = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Date", "Setting", "Test", "Result", "Flags"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Sessions")
        self.table.setWordWrap(True)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.charts = QWidget()
        self.charts_lay = QGridLayout(self.charts)
        self.scroll.setWidget(self.charts)
        body.addWidget(self.scroll)
        body.addWidget(self.table)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        body.setSizes([600, 300])
        body.setChildrenCollapsible(False)
        self.scroll.setMinimumHeight(260)
        self.table.setMinimumHeight(120)
        hh = self.table.horizontalHeader()
        for col in (0, 1, 2):
            hh.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)
        hh.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(3, 260)
        lay.addWidget(body, 1)
        row = QHBoxLayout()
        self.report_btn = QPushButton("Save history &report (PDF)…")
        self.report_btn.clicked.connect(self.report_requested)
        self.export_btn = QPushButton("E&xport history (CSV)…")
        self.export_btn.clicked.connect(self.export_requested)
        row.addWidget(self.report_btn)
        row.addWidget(self.export_btn)
        row.addStretch(1)
        lay.addLayout(row)

    def show_history(
        self, patient: Any, sessions: list[Any], series: list[SeriesView], flags: list[Any]
    ) -> None:
        self.title.setText(f"History: {patient.code}")
        n_trials = sum(len(t) for _, t in sessions)
        active = [f for f in flags if f.kind in ("change", "trend")]
        self.info.setText(
            f"{len(sessions)} sessions, {n_trials} trials."
            + (f" {len(active)} change/trend flag(s)." if active else "")
        )
        rows = []
        flags_by_session: dict[int, list[Any]] = {}
        for f in flags:
            if f.session_id is not None:
                flags_by_session.setdefault(f.session_id, []).append(f)
        for s, trials in reversed(sessions):
            for t, results in trials:
                headline = ""
                from ..store import scoring

                try:
                    primary = scoring.get_protocol(t.protocol).primary
                except Exception:
                    primary = ()
                vals = [r for r in results if r.metric in primary and r.value is not None]
                if vals:
                    r = vals[0]
                    info = scoring.measure_info(r.metric)
                    headline = f"{info.label}: {r.value:.3g} {info.unit.strip('{}')}"
                if not t.valid:
                    headline = f"invalid: {t.invalid_reason}"[:80]
                metrics = {r.metric for r in results}
                fl = [
                    f
                    for f in flags_by_session.get(s.id, [])
                    if f.trial_id == t.id or (f.trial_id is None and f.measure in metrics)
                ]
                rows.append(
                    [
                        s.started.replace("T", " ")[:16],
                        s.setting,
                        _test_title(t.protocol, t.condition, t.attempt),
                        headline,
                        "; ".join(("⚠ " if f.kind == "cutoff" else "▲ ") + f.reason for f in fl),
                    ]
                )
        self.table.setRowCount(len(rows))
        for i, cells in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(i, c, item)
        while self.charts_lay.count():
            item = self.charts_lay.takeAt(0)
            w = item.widget()
            if w is not None:
                w.deleteLater()
        if not series:
            self.charts_lay.addWidget(QLabel("Trend charts appear after two sessions."), 0, 0)
        for i, sv in enumerate(series):
            chart = TrendChart(sv)
            chart.setMinimumWidth(380)
            self.charts_lay.addWidget(chart, i // 2, i % 2)


def _test_title(protocol: str, condition: str, attempt: int) -> str:
    try:
        from ..protocols import get_protocol

        p = get_protocol(protocol)
        title = p.title
        try:
            cond = p.condition(condition).title
        except Exception:
            cond = ""
    except Exception:
        title, cond = protocol.replace("_", " ").capitalize(), condition.replace("_", " ")
    if protocol == "reps":
        title, cond = "Home exercise", condition.replace("_", " ")
    if cond and cond.lower() != title.lower() and condition not in ("standard", "whole"):
        title += f": {cond}"
    return title + (f" (attempt {attempt})" if attempt > 1 and protocol != "reps" else "")
