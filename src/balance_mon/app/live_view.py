"""The live plots: acceleration traces, the sway path with its 95 % ellipse, the rep counter.

Drawn as devices.md recommends for pyqtgraph: the window's frame timer calls
:meth:`LivePlots.refresh` about 30 times a second; each refresh makes one
``setData`` per curve from the ring buffers of
:class:`~balance_mon.app.live.LiveStream`, with 1 px pens, ``clipToView``,
peak down-sampling, ``skipFiniteCheck`` and ranges that change only when
the data leave them (no auto-range on every frame).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .theme import ELLIPSE_COLOR, OKABE_ITO, SWAY_PATH_COLOR, TRACE_COLORS

if TYPE_CHECKING:
    from .live import LiveStream

__all__ = ["TRUNK_WARNING_TEXT", "LivePlots", "configure_pyqtgraph"]

#: On-screen trunk warning (the words carry the meaning; the colour only adds to it).
TRUNK_WARNING_TEXT = "⚠ BACK BENT {angle:.0f}° (limit {limit:.0f}°): bend at the hips and knees"
_TRUNK_OK_STYLE = "QLabel { padding: 4px; border: 2px solid #BBBBBB; }"
_TRUNK_WARN_STYLE = (
    "QLabel { padding: 4px; font-weight: bold; color: #000000; "
    f"background: {OKABE_ITO['orange']}; border: 3px dashed #000000; }}"
)


def configure_pyqtgraph() -> None:
    pg.setConfigOptions(antialias=False, background="w", foreground="k", useOpenGL=False)


def _pen(color: str, width: float = 1.0, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> object:
    return pg.mkPen(color=color, width=width, style=style)


class _Range:
    """A plot range that grows at once and shrinks only after a while (no jitter)."""

    def __init__(self, lo: float, hi: float, *, symmetric: bool = False) -> None:
        self.lo, self.hi = lo, hi
        self.min_lo, self.min_hi = lo, hi
        self.symmetric = symmetric
        self._shrink = 0

    def update(self, lo: float, hi: float) -> bool:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return False
        if self.symmetric:
            m = max(abs(lo), abs(hi))
            lo, hi = -m, m
        pad = 0.15 * max(hi - lo, 1e-6)
        want_lo = min(lo - pad, self.min_lo)
        want_hi = max(hi + pad, self.min_hi)
        if want_lo < self.lo or want_hi > self.hi:
            self.lo, self.hi = min(want_lo, self.lo), max(want_hi, self.hi)
            self._shrink = 0
            return True
        if (self.hi - self.lo) > 2.5 * (want_hi - want_lo):
            self._shrink += 1
            if self._shrink > 45:  # ~1.5 s of frames
                self.lo, self.hi = want_lo, want_hi
                self._shrink = 0
                return True
        return False


class LivePlots(QWidget):
    """Traces, sway path and repetition counter of one sensor.

    Parameters
    ----------
    compact : smaller fonts and no counter column (used inside the test screen).
    """

    upright_requested = Signal()  #: "Set upright": the current posture is the reference

    def __init__(self, *, compact: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.compact = compact
        self.setObjectName("livePlots")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)

        # -- traces ------------------------------------------------------------------
        self.traces = pg.PlotWidget()
        self.traces.setAccessibleName("Acceleration traces, last 10 seconds")
        pi = self.traces.getPlotItem()
        pi.setTitle("Acceleration (sensor axes)")
        pi.setLabel("left", "acceleration", units="m/s²")
        pi.setLabel("bottom", "time before now", units="s")
        # no grid: pyqtgraph draws grids through the axes with alpha blending, which
        # costs more than everything else in a frame (bench/bench_gui.py)
        pi.setMouseEnabled(x=False, y=False)
        pi.hideButtons()
        pi.setMenuEnabled(False)
        pi.addLegend(offset=(8, 8))
        self._zero = pg.InfiniteLine(pos=0.0, angle=90, pen=_pen("#BBBBBB"))
        pi.addItem(self._zero)
        self.curves = []
        for i, name in enumerate(("x", "y", "z")):
            c = pi.plot(name=name, pen=_pen(TRACE_COLORS[i]), skipFiniteCheck=True)
            c.setClipToView(True)
            c.setDownsampling(auto=True, method="peak")
            self.curves.append(c)
        pi.setXRange(-10.0, 0.0, padding=0)
        self._yr = _Range(-2.0, 12.0)
        pi.setYRange(self._yr.lo, self._yr.hi, padding=0)

        # -- sway ---------------------------------------------------------------------
        self.sway = pg.PlotWidget()
        self.sway.setAccessibleName("Sway path in the horizontal plane with its 95 % ellipse")
        si = self.sway.getPlotItem()
        si.setTitle("Sway path (horizontal plane)")
        si.setLabel("bottom", "ML", units="m/s²")
        si.setLabel("left", "AP", units="m/s²")
        si.setAspectLocked(True)
        for ang in (0, 90):
            si.addItem(pg.InfiniteLine(pos=0.0, angle=ang, pen=_pen("#BBBBBB")))
        si.setMouseEnabled(x=False, y=False)
        si.hideButtons()
        si.setMenuEnabled(False)
        si.addLegend(offset=(8, 8))
        self.path = si.plot(name="path", pen=_pen(SWAY_PATH_COLOR), skipFiniteCheck=True)
        self.ellipse = si.plot(
            name="95 % ellipse", pen=_pen(ELLIPSE_COLOR, 2.0), skipFiniteCheck=True
        )
        self._sr = _Range(-0.2, 0.2, symmetric=True)
        si.setXRange(self._sr.lo, self._sr.hi, padding=0)
        si.setYRange(self._sr.lo, self._sr.hi, padding=0)
        self.ellipse_label = QLabel("95 % ellipse: –")
        self.ellipse_label.setAccessibleName("Ellipse area")
        sway_box = QVBoxLayout()
        sway_box.addWidget(self.sway, 1)
        sway_box.addWidget(self.ellipse_label)

        # -- trunk alignment ---------------------------------------------------------------
        self.trunk_label = QLabel("Trunk: finding upright…")
        self.trunk_label.setAccessibleName("Trunk inclination from upright")
        self.trunk_label.setWordWrap(True)
        self.trunk_label.setStyleSheet(_TRUNK_OK_STYLE)
        self.upright_btn = QPushButton("Set upright")
        self.upright_btn.setObjectName("secondary")
        self.upright_btn.setAccessibleName("Set the current posture as upright")
        self.upright_btn.setToolTip("Take the person's current standing posture as upright")
        self.upright_btn.clicked.connect(self.upright_requested)
        trunk_row = QHBoxLayout()
        trunk_row.addWidget(self.trunk_label, 1)
        trunk_row.addWidget(self.upright_btn)
        sway_box.addLayout(trunk_row)
        self.trunk_warning_shown = False

        # -- counter ------------------------------------------------------------------------
        self.counter_frame = QFrame()
        self.counter_frame.setFrameShape(QFrame.Shape.StyledPanel)
        cl = QVBoxLayout(self.counter_frame)
        self.counter_title = QLabel("Repetitions")
        self.counter_title.setObjectName("h2")
        self.count_label = QLabel("0")
        self.count_label.setObjectName("huge" if not compact else "big")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.count_label.setAccessibleName("Repetition count")
        self.tempo_label = QLabel("last rep: –")
        self.tempo_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.tempo_label.setAccessibleName("Tempo of the last repetition")
        cl.addWidget(self.counter_title)
        cl.addStretch(1)
        cl.addWidget(self.count_label)
        cl.addWidget(self.tempo_label)
        self.rep_alignment_label = QLabel("")
        self.rep_alignment_label.setAccessibleName("Trunk flexion of the last repetitions")
        self.rep_alignment_label.setWordWrap(True)
        cl.addWidget(self.rep_alignment_label)
        cl.addStretch(1)

        grid = QGridLayout()
        grid.addWidget(self.traces, 0, 0)
        grid.addLayout(sway_box, 0, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        lay.addLayout(grid, 1)
        if not compact:
            lay.addWidget(self.counter_frame)
            self.counter_frame.setMinimumWidth(180)
        else:
            self.counter_frame.hide()
        self._last_samples = -1
        self._last_sway_n = -1
        self._frame = 0
        self.external_count: tuple[str, int | None, float | None] | None = None

    def set_axes_labels(self, ml: str, ap: str) -> None:
        if (ml, ap) == getattr(self, "_axes_labels", None):
            return
        self._axes_labels = (ml, ap)
        si = self.sway.getPlotItem()
        si.setLabel("bottom", ml, units="m/s²")
        si.setLabel("left", ap, units="m/s²")

    def clear(self) -> None:
        for c in self.curves:
            c.setData([], [])
        self.path.setData([], [])
        self.ellipse.setData([], [])
        self.count_label.setText("0")
        self.tempo_label.setText("last rep: –")
        self.rep_alignment_label.setText("")
        self._show_trunk(math.nan, False, 30.0)
        self._last_samples = -1

    def _show_trunk(self, angle: float, warning: bool, limit: float) -> None:
        if not math.isfinite(angle):
            text = "Trunk: finding upright… (stand still)"
        elif warning:
            text = TRUNK_WARNING_TEXT.format(angle=angle, limit=limit)
        else:
            text = f"✓ Trunk {angle:.0f}° from upright (limit {limit:.0f}°)"
        if text != self.trunk_label.text():
            self.trunk_label.setText(text)
        if warning != self.trunk_warning_shown:
            self.trunk_warning_shown = warning
            self.trunk_label.setStyleSheet(_TRUNK_WARN_STYLE if warning else _TRUNK_OK_STYLE)

    def refresh(self, live: LiveStream | None, now_s: float | None = None) -> bool:
        """Redraw from ``live`` (one setData per curve). Returns whether anything was drawn.

        ``now_s`` is the stream time of this frame: the traces scroll with it every
        frame, so they move smoothly although a sensor delivers its samples in
        batches (a Polar H10 about 5 per second); the newest samples appear at
        minus their delivery latency.
        """
        if live is None or live.samples == 0:
            return False
        new_data = live.samples != self._last_samples
        self._last_samples = live.samples
        t, acc = live.trace_window()
        if t.size:
            ref = float(t[-1]) if now_s is None else max(float(now_s), float(t[-1]))
            x = t - ref
            for i, c in enumerate(self.curves):
                c.setData(x, acc[:, i], skipFiniteCheck=True)
            # a range change only when the data leave it (every 8th frame is checked)
            self._frame += 1
            if self._frame % 8 == 1 and self._yr.update(float(acc.min()), float(acc.max())):
                self.traces.getPlotItem().setYRange(self._yr.lo, self._yr.hi, padding=0)
        if not new_data:
            return True
        self._show_trunk(live.trunk_angle_deg, live.trunk_warning, live.flexion_limit_deg)
        sw = live.sway
        if sw.n_points != self._last_sway_n:
            self._last_sway_n = sw.n_points
            p = sw.centred_path()
            if p.shape[0] > 1:
                self.path.setData(p[:, 0], p[:, 1], skipFiniteCheck=True)
                e = sw.ellipse()
                if e is not None:
                    mc = sw.mean_cov()
                    centre = mc[0] if mc else np.zeros(2)
                    self.ellipse.setData(e[:, 0] - centre[0], e[:, 1] - centre[1])
                    area = sw.ellipse_area_m2ps4()
                    self.ellipse_label.setText(
                        f"95 % ellipse: {area:.4f} m²/s⁴ · {sw.n_points / sw.plot_hz:.0f} s"
                    )
                lo = float(p.min())
                hi = float(p.max())
                if self._sr.update(lo, hi):
                    si = self.sway.getPlotItem()
                    si.setXRange(self._sr.lo, self._sr.hi, padding=0)
                    si.setYRange(self._sr.lo, self._sr.hi, padding=0)
            else:
                self.path.setData([], [])
                self.ellipse.setData([], [])
        if not self.compact:
            if self.external_count is not None:
                title, n, tempo = self.external_count
                self.counter_title.setText(title)
                self.count_label.setText("–" if n is None else str(n))
                self.tempo_label.setText("" if tempo is None else f"last: {tempo:.1f} s")
            else:
                self.counter_title.setText("Repetitions")
                self.count_label.setText(str(live.rep_count))
                if live.rep_times:
                    self.tempo_label.setText(f"last rep: {live.rep_times[-1].duration_s:.1f} s")
                self.rep_alignment_label.setText("\n".join(live.rep_alignment()[-5:]))
        return True

    def reset_sway(self, live: LiveStream | None) -> None:
        if live is not None:
            live.sway.reset()
        self._sr = _Range(-0.2, 0.2, symmetric=True)
        self.path.setData([], [])
        self.ellipse.setData([], [])
        self.ellipse_label.setText("95 % ellipse: –")
