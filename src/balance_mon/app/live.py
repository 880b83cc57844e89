"""Live signal processing for the screens: ring buffers, sway path, repetitions, capture.

Nothing here touches Qt. The GUI drains the worker's sample blocks once per
frame and calls :meth:`LiveStream.push`; the plots then read contiguous views
of preallocated ring buffers (no per-sample Python work, no allocation per
frame), as devices.md recommends for pyqtgraph.

Live sway path
--------------
The offline pipeline of :class:`balance_mon.analysis.sway.SwayAnalyzer` made
causal: the vertical is the mean acceleration direction over the first
``settle_s`` after a reset (the Moe-Nilssen tilt correction with the trial's
mean gravity, taken over its start); the horizontal components are the
projections on the two sensor axes least aligned with it, made orthogonal
(the axis convention of the offline analysis when the axes are not known);
both are low-passed by a causal 4th-order Butterworth at 3.5 Hz (offline:
zero phase, same cut-off, Mancini et al. 2012). The 95 % prediction ellipse
comes from running sums (mean and covariance of every point since the
reset), so it grows with the trial at constant cost per sample; its area uses
the same chi-square(2) scale as :func:`balance_mon.analysis.sway.sway_metrics`.

Live trunk alignment
--------------------
:class:`balance_mon.analysis.posture.LiveTrunkInclination` follows the
inclination of the sensor's segment from its upright (the first quiet
seconds, or :meth:`LiveStream.set_upright`) and raises flexion and quick-twist
warnings (hysteresis, at most one per 5 s); the peak inclination of every
counted repetition is kept (``rep_peaks_deg``) for the rep panel and the home
summary ("rep 4: trunk flexed 52 degrees").
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from ..analysis.alignment import BendTracker, pair_bends
from ..analysis.posture import AlignmentWarning, LiveTrunkInclination, rep_alignment_text
from ..analysis.reps import LiveRepCounter, Rep
from ..analysis.sway import CHI2_95_2DOF
from ..devices.session import SampleBlock
from ..recording import Recording

__all__ = ["LiveStream", "RingBuffer", "SwayTracker", "TrialCapture", "ellipse_points"]

FloatArray = NDArray[np.float64]


class RingBuffer:
    """Fixed-capacity ring of rows, readable as one contiguous view (no copy).

    Every row is written twice (at ``i`` and ``i + capacity``), so the last
    ``capacity`` rows are always ``buf[head : head + capacity]``.
    """

    def __init__(self, capacity: int, width: int = 1, dtype: type = np.float64) -> None:
        self.capacity = int(capacity)
        self.width = int(width)
        self._buf = np.zeros((2 * self.capacity, self.width), dtype=dtype)
        self._head = 0  # index of the oldest row in the first half
        self.count = 0  # rows written in total

    def clear(self) -> None:
        self._head = 0
        self.count = 0

    def extend(self, rows: NDArray) -> None:
        rows = np.asarray(rows).reshape(-1, self.width)
        total = rows.shape[0]
        if total == 0:
            return
        cap = self.capacity
        if total > cap:
            rows = rows[-cap:]
        n = rows.shape[0]
        size = len(self)
        idx = (self._head + size + np.arange(n)) % cap
        self._buf[idx] = rows
        self._buf[idx + cap] = rows
        new_size = min(size + n, cap)
        self._head = (self._head + size + n - new_size) % cap
        self.count += total

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    def view(self) -> NDArray:
        """The stored rows, oldest first (a view into the buffer: do not keep it)."""
        n = len(self)
        return self._buf[self._head : self._head + n]

    def last(self) -> NDArray | None:
        n = len(self)
        return None if n == 0 else self._buf[self._head + n - 1]


def ellipse_points(
    mean: FloatArray, cov: FloatArray, scale: float = CHI2_95_2DOF, n: int = 73
) -> FloatArray:
    """(n, 2) outline of the ellipse ``(x-m)^T C^-1 (x-m) = scale``."""
    w, v = np.linalg.eigh(cov)
    w = np.clip(w, 0.0, None)
    th = np.linspace(0.0, 2 * np.pi, n)
    circle = np.column_stack([np.cos(th), np.sin(th)])
    return mean + (circle * np.sqrt(scale * w)) @ v.T


class SwayTracker:
    """Live horizontal sway path and its growing 95 % ellipse (see the module docstring).

    Parameters
    ----------
    fs_hz : sampling rate of the pushed samples.
    settle_s : seconds averaged for the vertical direction after a reset.
    cutoff_hz : causal low-pass cut-off (3.5 Hz, as offline).
    keep_s : seconds of path kept for drawing.
    plot_hz : rate at which path points are stored for drawing (decimated).
    """

    def __init__(
        self,
        fs_hz: float,
        *,
        settle_s: float = 1.0,
        cutoff_hz: float = 3.5,
        keep_s: float = 120.0,
        plot_hz: float = 50.0,
    ) -> None:
        self.fs_hz = float(fs_hz)
        self.settle_s = settle_s
        self.cutoff_hz = cutoff_hz
        self.keep_s = keep_s
        self.plot_hz = plot_hz
        self._sos = signal.butter(4, min(cutoff_hz, 0.45 * self.fs_hz), fs=self.fs_hz, output="sos")
        self._step = max(int(round(self.fs_hz / plot_hz)), 1)
        self.path = RingBuffer(int(keep_s * plot_hz) + 8, 2)
        self.reset()

    def reset(self) -> None:
        self._settle: list[FloatArray] = []
        self._settle_n = 0
        self._basis: FloatArray | None = None  # (3, 2): horizontal unit vectors
        self._zi: FloatArray | None = None
        self._phase = 0
        self.path.clear()
        self._n = 0
        self._s = np.zeros(2)
        self._ss = np.zeros((2, 2))
        self.axes_labels = ("ML", "AP")

    @property
    def ready(self) -> bool:
        return self._basis is not None

    def _make_basis(self, g: FloatArray) -> None:
        up = g / np.linalg.norm(g)
        order = np.argsort(np.abs(up))  # least aligned with vertical first
        others = sorted(order[:2])
        vecs = []
        for i in others:
            e = np.zeros(3)
            e[i] = 1.0
            e = e - (e @ up) * up
            for prev in vecs:
                e = e - (e @ prev) * prev
            vecs.append(e / np.linalg.norm(e))
        self._basis = np.column_stack(vecs)
        names = "xyz"
        self.axes_labels = (f"ML (sensor {names[others[0]]})", f"AP (sensor {names[others[1]]})")

    def push(self, acc_mps2: FloatArray) -> None:
        acc = np.asarray(acc_mps2, dtype=np.float64).reshape(-1, 3)
        if acc.shape[0] == 0:
            return
        if self._basis is None:
            self._settle.append(acc)
            self._settle_n += acc.shape[0]
            if self._settle_n < self.settle_s * self.fs_hz:
                return
            allacc = np.concatenate(self._settle)
            self._settle = []
            self._make_basis(allacc.mean(axis=0))
            acc = allacc
        assert self._basis is not None
        h = acc @ self._basis  # (n, 2)
        if self._zi is None:
            zi = signal.sosfilt_zi(self._sos)
            self._zi = np.stack([zi * h[0, 0], zi * h[0, 1]], axis=-1)
        y, self._zi = signal.sosfilt(self._sos, h, axis=0, zi=self._zi)
        # keep every k-th point for drawing and statistics (the ellipse of a 3.5 Hz
        # low-passed signal is the same from 50 Hz points)
        start = (-self._phase) % self._step
        pts = y[start :: self._step]
        self._phase = (self._phase + y.shape[0]) % self._step
        if pts.shape[0] == 0:
            return
        self.path.extend(pts)
        self._n += pts.shape[0]
        self._s += pts.sum(axis=0)
        self._ss += pts.T @ pts

    @property
    def n_points(self) -> int:
        return self._n

    def mean_cov(self) -> tuple[FloatArray, FloatArray] | None:
        if self._n < 3:
            return None
        m = self._s / self._n
        cov = (self._ss - self._n * np.outer(m, m)) / (self._n - 1)
        return m, cov

    def ellipse_area_m2ps4(self) -> float:
        mc = self.mean_cov()
        if mc is None:
            return math.nan
        det = max(float(np.linalg.det(mc[1])), 0.0)
        return math.pi * CHI2_95_2DOF * math.sqrt(det)

    def ellipse(self) -> FloatArray | None:
        mc = self.mean_cov()
        return None if mc is None else ellipse_points(*mc)

    def centred_path(self) -> FloatArray:
        """Path points minus their mean (the plot is centred on the ellipse)."""
        mc = self.mean_cov()
        v = self.path.view()
        return v - mc[0] if mc is not None else v.copy()


@dataclass
class TrialCapture:
    """Samples of one test or exercise session, kept in memory while it runs."""

    start_s: float
    time: list[FloatArray] = field(default_factory=list)
    acc: list[FloatArray] = field(default_factory=list)
    gyr: list[FloatArray] = field(default_factory=list)
    has_gyro: bool = False
    last_s: float = -math.inf

    def add(self, block: SampleBlock) -> None:
        t = block.time_s
        keep = t >= self.start_s
        if not keep.any():
            return
        self.time.append(t[keep])
        self.acc.append(block.acc_mps2[keep])
        if self.has_gyro:
            g = block.gyr_dps if block.gyr_dps is not None else np.zeros_like(block.acc_mps2)
            self.gyr.append(g[keep])
        self.last_s = float(t[-1])

    def arrays(
        self, start_s: float | None = None, end_s: float | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        if not self.time:
            return np.zeros(0), np.zeros((0, 3)), None
        t = np.concatenate(self.time)
        a = np.concatenate(self.acc)
        g = np.concatenate(self.gyr) if self.has_gyro and self.gyr else None
        self.time, self.acc = [t], [a]
        if g is not None:
            self.gyr = [g]
        lo = 0 if start_s is None else int(np.searchsorted(t, start_s, side="left"))
        hi = t.size if end_s is None else int(np.searchsorted(t, end_s, side="left"))
        return t[lo:hi], a[lo:hi], None if g is None else g[lo:hi]

    def recording(
        self,
        *,
        fs_hz: float | None,
        placement: str,
        metadata: dict[str, str],
        end_s: float | None = None,
    ) -> Recording:
        """The samples from ``start_s`` (time 0) to ``end_s`` as a Recording."""
        t, a, g = self.arrays(self.start_s, end_s)
        return Recording(
            time_s=np.round(t - self.start_s, 6),
            acc_mps2=a,
            gyr_dps=g,
            fs_nominal_hz=fs_hz,
            placement=placement,
            metadata=metadata,
        )


class LiveStream:
    """Everything the screens show about one connected sensor.

    Parameters
    ----------
    fs_hz : nominal rate of the stream.
    has_gyro : whether blocks carry angular rate.
    trace_s : seconds of acceleration traces kept for the plots.
    """

    def __init__(
        self,
        fs_hz: float,
        *,
        has_gyro: bool = False,
        trace_s: float = 10.0,
        flexion_limit_deg: float = 30.0,
    ) -> None:
        self.fs_hz = float(fs_hz)
        self.has_gyro = has_gyro
        self.trace_s = trace_s
        cap = int(math.ceil(trace_s * fs_hz * 1.1)) + 64
        self.t = RingBuffer(cap, 1)
        self.acc = RingBuffer(cap, 3)
        self.sway = SwayTracker(self.fs_hz)
        self.reps: LiveRepCounter | None = None
        self.rep_times: list[Rep] = []
        self.captures: list[TrialCapture] = []
        self.samples = 0
        self.last_time_s = -math.inf
        self.last_rx_ns: int | None = None
        self.new_reps: list[Rep] = []
        # trunk alignment
        self.trunk = LiveTrunkInclination(self.fs_hz, flexion_threshold_deg=flexion_limit_deg)
        tcap = int(math.ceil(60.0 * self.fs_hz)) + 64
        self.trunk_t = RingBuffer(tcap, 1)
        self.trunk_angle = RingBuffer(tcap, 1)
        self.new_alignment: list[AlignmentWarning] = []
        self.bends = BendTracker()
        self._window_peaks: list[float] = []

    def push(self, blocks: Iterable[SampleBlock]) -> int:
        """Add blocks (oldest first); returns the samples added."""
        n = 0
        for b in blocks:
            if b.time_s.size == 0:
                continue
            self.t.extend(b.time_s)
            self.acc.extend(b.acc_mps2)
            self.sway.push(b.acc_mps2)
            gyr = b.gyr_dps if self.has_gyro else None
            tt, ang, warn = self.trunk.push(b.acc_mps2, gyr, time_s=b.time_s)
            self.trunk_t.extend(tt)
            self.trunk_angle.extend(ang)
            self.bends.push(tt, ang)
            self.new_alignment += warn
            if self.reps is not None:
                new = self.reps.push(b.acc_mps2, gyr)
                if new:
                    self.rep_times += new
                    self.new_reps += new
                    self._window_peaks += [self.peak_angle(r.start_s, r.end_s) for r in new]
            for c in self.captures:
                c.add(b)
            n += b.time_s.size
            self.last_time_s = float(b.time_s[-1])
            self.last_rx_ns = b.rx_ns
        self.samples += n
        return n

    # -- repetitions -------------------------------------------------------------------

    def start_reps(self) -> None:
        """Count repetitions from now on (a fresh counter)."""
        self.reps = LiveRepCounter(self.fs_hz, t0_s=max(self.last_time_s, 0.0))
        self.rep_times = []
        self.new_reps = []
        self._window_peaks = []
        self.bends.reset()

    def stop_reps(self) -> int:
        """Close the counter; returns its final count (after its own corrections)."""
        if self.reps is None:
            return 0
        self.reps.close()
        n = self.reps.count_
        self.reps = None
        return n

    @property
    def rep_count(self) -> int:
        return 0 if self.reps is None else self.reps.count_

    def take_new_reps(self) -> list[Rep]:
        out, self.new_reps = self.new_reps, []
        return out

    # -- trunk alignment -----------------------------------------------------------------

    @property
    def flexion_limit_deg(self) -> float:
        return self.trunk.flexion_threshold_deg

    def set_flexion_limit(self, deg: float) -> None:
        """The patient's trunk flexion limit (home programme ``trunk_flexion_limit_deg``)."""
        self.trunk.flexion_threshold_deg = float(deg)

    def set_upright(self) -> None:
        """Take the current posture as upright (the "Set upright" button)."""
        self.trunk.set_upright()

    @property
    def trunk_angle_deg(self) -> float:
        return self.trunk.angle_deg_

    @property
    def trunk_warning(self) -> bool:
        return self.trunk.warning_

    def take_alignment_warnings(self) -> list[AlignmentWarning]:
        out, self.new_alignment = self.new_alignment, []
        return out

    def peak_angle(self, start_s: float, end_s: float) -> float:
        """Largest inclination between two stream times (NaN if unknown)."""
        t = self.trunk_t.view()[:, 0]
        a = self.trunk_angle.view()[:, 0]
        lo = int(np.searchsorted(t, start_s, side="left"))
        hi = int(np.searchsorted(t, end_s, side="right"))
        seg = a[lo:hi]
        seg = seg[np.isfinite(seg)]
        return float(seg.max()) if seg.size else math.nan

    @property
    def rep_peaks_deg(self) -> list[float]:
        """Trunk inclination of each counted repetition: its own bend (paired by
        :func:`~balance_mon.analysis.alignment.pair_bends`), else the largest
        inclination inside its window."""
        windows = [(r.start_s, r.end_s) for r in self.rep_times]
        pairs = pair_bends(windows, self.bends.all_bends())
        return [
            b.peak_deg if b is not None else w
            for b, w in zip(pairs, self._window_peaks, strict=True)
        ]

    def rep_alignment(self) -> list[str]:
        """``"rep 4: trunk flexed 52 degrees"`` for every counted repetition with an angle."""
        return [
            rep_alignment_text(i + 1, p)
            for i, p in enumerate(self.rep_peaks_deg)
            if math.isfinite(p)
        ]

    # -- capture -------------------------------------------------------------------------

    def start_capture(self, start_s: float) -> TrialCapture:
        c = TrialCapture(start_s=start_s, has_gyro=self.has_gyro)
        self.captures.append(c)
        return c

    def stop_capture(self, c: TrialCapture) -> None:
        if c in self.captures:
            self.captures.remove(c)

    def trace_window(self) -> tuple[FloatArray, FloatArray]:
        """Times and (n, 3) acceleration of the last ``trace_s`` (views)."""
        t = self.t.view()[:, 0]
        a = self.acc.view()
        if t.size and t[-1] - t[0] > self.trace_s:
            i = int(np.searchsorted(t, t[-1] - self.trace_s))
            t, a = t[i:], a[i:]
        return t, a
