"""Small vector charts drawn straight onto a ReportLab canvas.

Drawing the two chart kinds the reports need (a sway path with its 95 %
ellipse, a trend with its detectable-change band) with ReportLab's own
primitives keeps the PDFs small, sharp when printed, byte-reproducible and
free of a plotting library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from reportlab.lib import colors
from reportlab.pdfgen.canvas import Canvas

__all__ = ["Box", "Frame", "ellipse95", "nice_ticks", "sway_chart", "trend_chart"]

#: chi-square (2 degrees of freedom) 95 % quantile: the 95 % prediction ellipse.
CHI2_95_2DOF = 5.991464547107979

INK = colors.HexColor("#222222")
GRID = colors.HexColor("#DDDDDD")
BLUE = colors.HexColor("#2B6CB0")
RED = colors.HexColor("#C53030")
BAND = colors.HexColor("#E6F0FA")
GREY = colors.HexColor("#777777")


@dataclass(frozen=True)
class Box:
    """A rectangle on the page, points, origin bottom-left."""

    x: float
    y: float
    w: float
    h: float


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi <= lo:
        hi = lo + (abs(lo) * 0.1 or 1.0)
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    if ticks[0] > lo:
        ticks.insert(0, ticks[0] - step)
    if ticks[-1] < hi:
        ticks.append(ticks[-1] + step)
    return ticks


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000 or a < 0.01:
        return f"{v:.1e}"
    return f"{v:.3g}"


class Frame:
    """Axes in a box: data -> page mapping, ticks, grid and labels."""

    def __init__(
        self,
        c: Canvas,
        box: Box,
        xlim: tuple[float, float],
        ylim: tuple[float, float],
        *,
        xticks: Sequence[float] | None = None,
        yticks: Sequence[float] | None = None,
        xlabels: Sequence[str] | None = None,
        title: str = "",
        xlabel: str = "",
        ylabel: str = "",
    ):
        self.c = c
        # room for tick labels and titles
        self.px = box.x + 34
        self.py = box.y + 24
        self.pw = box.w - 40
        self.ph = box.h - 24 - (14 if title else 4)
        self.xlim = xlim
        self.ylim = ylim
        c.saveState()
        c.setStrokeColor(GRID)
        c.setLineWidth(0.4)
        c.setFont("Helvetica", 6.5)
        c.setFillColor(INK)
        for v in yticks or ():
            if not self.ylim[0] <= v <= self.ylim[1]:
                continue
            y = self.y(v)
            c.line(self.px, y, self.px + self.pw, y)
            c.drawRightString(self.px - 3, y - 2, _fmt(v))
        for i, v in enumerate(xticks or ()):
            if not self.xlim[0] <= v <= self.xlim[1]:
                continue
            x = self.x(v)
            c.line(x, self.py, x, self.py + self.ph)
            text = xlabels[i] if xlabels is not None else _fmt(v)
            c.drawCentredString(x, self.py - 9, text)
        c.setStrokeColor(INK)
        c.setLineWidth(0.6)
        c.rect(self.px, self.py, self.pw, self.ph)
        if title:
            c.setFont("Helvetica-Bold", 8)
            c.drawString(box.x + 2, box.y + box.h - 9, title)
        c.setFont("Helvetica", 6.5)
        if xlabel:
            c.drawCentredString(self.px + self.pw / 2, box.y + 2, xlabel)
        if ylabel:
            c.saveState()
            c.translate(box.x + 6, self.py + self.ph / 2)
            c.rotate(90)
            c.drawCentredString(0, 0, ylabel)
            c.restoreState()
        c.restoreState()

    def x(self, v: float) -> float:
        a, b = self.xlim
        return self.px + (v - a) / (b - a) * self.pw

    def y(self, v: float) -> float:
        a, b = self.ylim
        return self.py + (v - a) / (b - a) * self.ph

    def clip(self) -> None:
        p = self.c.beginPath()
        p.rect(self.px, self.py, self.pw, self.ph)
        self.c.clipPath(p, stroke=0, fill=0)


def ellipse95(ap: np.ndarray, ml: np.ndarray) -> tuple[float, float, float, float]:
    """(semi-axis major, semi-axis minor, angle of the major axis from the ML axis
    in radians, area) of the 95 % prediction ellipse (Schubert & Kirchner 2014)."""
    cov = np.cov(np.vstack([ml, ap]), ddof=1)
    w, v = np.linalg.eigh(cov)
    w = np.maximum(w, 0.0)
    a = math.sqrt(CHI2_95_2DOF * w[1])
    b = math.sqrt(CHI2_95_2DOF * w[0])
    ang = math.atan2(v[1, 1], v[0, 1])
    return a, b, ang, math.pi * a * b


def sway_chart(
    c: Canvas, box: Box, ap: np.ndarray, ml: np.ndarray, *, title: str = "", max_points: int = 1500
) -> float:
    """Sway path (ML across, AP up, equal scales) and its 95 % ellipse; returns the area."""
    a, b, ang, area = ellipse95(ap, ml)
    t = np.linspace(0, 2 * math.pi, 73)
    ex = a * np.cos(t) * math.cos(ang) - b * np.sin(t) * math.sin(ang)
    ey = a * np.cos(t) * math.sin(ang) + b * np.sin(t) * math.cos(ang)
    ext = max(float(np.abs(ml).max()), float(np.abs(ap).max()), a, 1e-6) * 1.08
    ticks = nice_ticks(-ext, ext, 5)
    lim = (ticks[0], ticks[-1])
    # square plot area
    side = min(box.w - 40, box.h - 24 - (14 if title else 4))
    sq = Box(box.x, box.y, side + 40, side + 24 + (14 if title else 4))
    f = Frame(
        c,
        sq,
        lim,
        lim,
        xticks=ticks,
        yticks=ticks,
        title=title,
        xlabel="medio-lateral (m/s2)",
        ylabel="antero-posterior (m/s2)",
    )
    step = max(1, ml.size // max_points)
    c.saveState()
    f.clip()
    c.setStrokeColor(BLUE)
    c.setLineWidth(0.35)
    p = c.beginPath()
    p.moveTo(f.x(float(ml[0])), f.y(float(ap[0])))
    for xv, yv in zip(ml[::step][1:], ap[::step][1:], strict=True):
        p.lineTo(f.x(float(xv)), f.y(float(yv)))
    c.drawPath(p, stroke=1, fill=0)
    c.setStrokeColor(RED)
    c.setLineWidth(1.0)
    p = c.beginPath()
    p.moveTo(f.x(float(ex[0])), f.y(float(ey[0])))
    for xv, yv in zip(ex[1:], ey[1:], strict=True):
        p.lineTo(f.x(float(xv)), f.y(float(yv)))
    p.close()
    c.drawPath(p, stroke=1, fill=0)
    c.restoreState()
    c.setFont("Helvetica", 6.5)
    c.setFillColor(RED)
    c.drawString(sq.x + sq.w + 4, sq.y + sq.h - 24, "95 % ellipse")
    c.setFillColor(INK)
    c.drawString(sq.x + sq.w + 4, sq.y + sq.h - 33, f"area {area:.3g} m2/s4")
    return area


def trend_chart(
    c: Canvas,
    box: Box,
    days: Sequence[float],
    values: Sequence[float],
    *,
    day_labels: Sequence[str],
    ewma: Sequence[float | None] = (),
    baseline: float | None = None,
    mdc: float | None = None,
    better: str | None = None,
    cutoff: float | None = None,
    flagged: Sequence[bool] = (),
    title: str = "",
    ylabel: str = "",
) -> None:
    """A measure over time: session values, EWMA, baseline, MDC95 band, cut-off.

    ``days`` are day numbers (e.g. ordinal dates); ``day_labels`` label them.
    The band is baseline +/- MDC95: values inside it are within measurement error.
    """
    vals = [float(v) for v in values]
    lo, hi = min(vals), max(vals)
    for extra in (baseline, cutoff):
        if extra is not None:
            lo, hi = min(lo, extra), max(hi, extra)
    if baseline is not None and mdc is not None:
        lo, hi = min(lo, baseline - mdc), max(hi, baseline + mdc)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 1.0
    yt = nice_ticks(lo - pad, hi + pad, 5)
    d0, d1 = float(min(days)), float(max(days))
    if d1 - d0 < 1:
        d0, d1 = d0 - 1, d1 + 1
    span = d1 - d0
    xlim = (d0 - 0.04 * span, d1 + 0.04 * span)
    n_lab = min(5, len(days))
    idx = sorted({round(i * (len(days) - 1) / max(n_lab - 1, 1)) for i in range(n_lab)})
    f = Frame(
        c,
        box,
        xlim,
        (yt[0], yt[-1]),
        xticks=[float(days[i]) for i in idx],
        xlabels=[day_labels[i] for i in idx],
        yticks=yt,
        title=title,
        ylabel=ylabel,
    )
    c.saveState()
    f.clip()
    if baseline is not None and mdc is not None:
        c.setFillColor(BAND)
        c.setStrokeColor(BAND)
        y0, y1 = f.y(baseline - mdc), f.y(baseline + mdc)
        c.rect(f.px, y0, f.pw, y1 - y0, stroke=0, fill=1)
    if baseline is not None:
        c.setStrokeColor(GREY)
        c.setLineWidth(0.6)
        c.line(f.px, f.y(baseline), f.px + f.pw, f.y(baseline))
    if cutoff is not None:
        c.setStrokeColor(RED)
        c.setLineWidth(0.7)
        c.setDash(3, 2)
        c.line(f.px, f.y(cutoff), f.px + f.pw, f.y(cutoff))
        c.setDash()
    if len(ewma) == len(vals) and len(vals) > 1:
        c.setStrokeColor(BLUE)
        c.setLineWidth(1.1)
        p = c.beginPath()
        pen_down = False
        for dv, ev in zip(days, ewma, strict=True):
            if ev is None:  # not computed (baseline or practice sessions)
                pen_down = False
                continue
            if pen_down:
                p.lineTo(f.x(float(dv)), f.y(float(ev)))
            else:
                p.moveTo(f.x(float(dv)), f.y(float(ev)))
                pen_down = True
        c.drawPath(p, stroke=1, fill=0)
    for i, (dv, v) in enumerate(zip(days, vals, strict=True)):
        bad = bool(flagged[i]) if i < len(flagged) else False
        c.setFillColor(RED if bad else INK)
        c.setStrokeColor(RED if bad else INK)
        c.circle(f.x(float(dv)), f.y(v), 2.2 if bad else 1.6, stroke=0, fill=1)
    c.restoreState()
    # legend, in the x-label slot under the axis
    c.saveState()
    c.setFont("Helvetica", 6)
    lx = box.x + box.w - 4
    ly = box.y + 2
    parts = []
    if baseline is not None and mdc is not None:
        parts.append(f"band: baseline +/- MDC95 ({mdc:.3g})")
    if cutoff is not None:
        parts.append(f"dashed: cut-off {cutoff:g}")
    if any(e is not None for e in ewma):
        parts.append("line: EWMA")
    if better:
        parts.append(f"{better} is better")
    c.setFillColor(GREY)
    c.drawRightString(lx, ly, "; ".join(parts))
    c.restoreState()
