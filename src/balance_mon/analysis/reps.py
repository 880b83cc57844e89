"""Repetition counting for strength exercises, whatever the sensor's orientation.

One counter serves squats, sit-to-stands, push-ups, heel raises, lunges, band
rows, arm raises and stair climbing from a trunk, thigh or wrist sensor:

1. **Bouts.** Movement intensity is the moving standard deviation (window
   ``activity_window_s``) of the acceleration (and angular rate) summed over
   axes; samples above an absolute threshold are active, and active stretches
   separated by less than ``max_pause_s`` are one bout (one set). The
   thresholds are absolute (m/s^2, deg/s), so a bout is decided from local data
   only and the live counter finds the same bouts as the offline one.
2. **Period.** In each bout the low-passed 3-axis acceleration (plus the
   angular rate, scaled to comparable units, when a gyroscope is present) is
   centred and its multichannel autocorrelation computed; the repetition period
   is the lag of its highest peak between ``min_rep_s`` and ``max_rep_s``,
   with a check for its half (the autocorrelation of a rep also peaks at two
   periods). Multichannel autocorrelation needs no orientation: gravity's
   projection (segment tilt) and the linear acceleration all repeat with the
   rep.
3. **Cycles.** Every channel is band-passed around the repetition frequency
   f0 (``band_low`` x f0 to ``band_high`` x f0, zero phase), which turns any
   rep waveform (two humps, pauses at the top) into one oscillation per rep;
   the first principal component of the band-passed channels is counted with
   hysteresis: one rep per excursion above +h following one below -h, with h
   a fraction ``hysteresis`` of the bout's robust amplitude. Half-cycles at the
   bout's edges and excursions shorter than ``min_rep_s`` do not count.

The thresholds were set from the physics of the movements (resting noise of
body-worn MEMS sensors is 0.01-0.05 m/s^2; the slowest exercise modelled,
heel raises at the trunk, moves about 0.1 m/s^2) and checked on simulated sets
across exercises, placements, rates 12.5 Hz-1 kHz and tempos; they were not fit
to any single recording. ``bench/validate.py`` reports the accuracy.

Published comparison: RecoFit (Morris et al. CHI 2014) counts within +/- 1 in
93 % of sets; Soro et al. 2019 (Sensors 19:714) in 91 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import signal

from ..dsp.filters import lowpass_zero_phase
from ..dsp.gaps import uniform_segments
from ..errors import RecordingError
from ..recording import Recording

__all__ = ["Rep", "RepCounter", "RepSet"]


@dataclass(frozen=True)
class Rep:
    """One repetition: its start and end (s), peak time, duration and amplitude."""

    start_s: float
    end_s: float
    time_s: float  #: when the rep was completed (counted)
    amplitude: float  #: peak-to-peak of the counted component, m/s^2-equivalent
    range_deg: float | None  #: angular range of motion from the gyroscope, if present

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "time_s": self.time_s,
            "duration_s": self.duration_s,
            "amplitude": self.amplitude,
            "range_deg": self.range_deg,
        }


@dataclass(frozen=True)
class RepSet:
    """A bout of repetitions (one set)."""

    start_s: float
    end_s: float
    period_s: float
    reps: tuple[Rep, ...]

    @property
    def count(self) -> int:
        return len(self.reps)

    def pauses_s(self, factor: float = 2.0) -> list[float]:
        """Intervals between reps longer than ``factor`` x the median interval."""
        t = [r.time_s for r in self.reps]
        if len(t) < 3:
            return []
        d = np.diff(t)
        med = float(np.median(d))
        return [float(x) for x in d if x > factor * med]

    def as_dict(self) -> dict[str, Any]:
        durations = [r.duration_s for r in self.reps]
        amps = [r.amplitude for r in self.reps]
        cv = lambda v: float(np.std(v) / np.mean(v)) if len(v) > 1 and np.mean(v) > 0 else None  # noqa: E731
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "count": self.count,
            "period_s": self.period_s,
            "tempo_s_per_rep": float(np.median(durations)) if durations else None,
            "pauses_s": self.pauses_s(),
            "duration_cv": cv(durations),
            "amplitude_cv": cv(amps),
            "reps": [r.as_dict() for r in self.reps],
        }


def _moving_std(x: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """Centred moving standard deviation of each column, summed in quadrature over columns."""
    m = _moving_mean(x, n)
    m2 = _moving_mean(x * x, n)
    return np.sqrt(np.maximum(m2 - m * m, 0.0).sum(axis=1))


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Half-open [start, stop) index ranges where ``mask`` is true."""
    edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


class RepCounter:
    """Count repetitions in a recording of strength exercises.

    Parameters
    ----------
    lowpass_hz : low-pass applied before everything (default 5 Hz, capped at
        0.4 x the rate).
    min_rep_s, max_rep_s : shortest and longest repetition period considered
        (default 0.45 s, stair steps; and 10 s, slow sit-to-stands).
    activity_window_s : window of the movement-intensity measure (default 1 s).
    active_acc_mps2 : summed moving SD of acceleration above which a sample is
        active (default 0.06 m/s^2: about 3 x the resting noise of MEMS sensors).
    active_gyr_dps : the same for angular rate (default 6 deg/s).
    max_pause_s : rests shorter than this stay inside one set (default 8 s).
    min_bout_s : shortest bout analysed (default 1.5 s).
    band_low, band_high : band-pass edges as multiples of the repetition
        frequency (default 0.5 and 1.6: tempo may vary by tens of percent).
    hysteresis : counting threshold as a fraction of the bout's robust
        amplitude (default 0.3).
    gyro_weight : m/s^2 per deg/s when angular rate joins the autocorrelation
        (default 0.02: 50 deg/s weighs like 1 m/s^2).

    Attributes
    ----------
    sets_ : list of :class:`RepSet`.
    count_ : total repetitions.
    times_s_ : completion time of every repetition.
    """

    version = "1.0"

    def __init__(
        self,
        *,
        lowpass_hz: float = 5.0,
        min_rep_s: float = 0.45,
        max_rep_s: float = 10.0,
        activity_window_s: float = 1.0,
        active_acc_mps2: float = 0.06,
        active_gyr_dps: float = 6.0,
        max_pause_s: float = 8.0,
        min_bout_s: float = 1.5,
        band_low: float = 0.5,
        band_high: float = 1.6,
        hysteresis: float = 0.3,
        gyro_weight: float = 0.02,
        integrate_acf: bool = False,
        prefer_shorter: float = 0.0,
    ) -> None:
        self.lowpass_hz = lowpass_hz
        self.min_rep_s = min_rep_s
        self.max_rep_s = max_rep_s
        self.activity_window_s = activity_window_s
        self.active_acc_mps2 = active_acc_mps2
        self.active_gyr_dps = active_gyr_dps
        self.max_pause_s = max_pause_s
        self.min_bout_s = min_bout_s
        self.band_low = band_low
        self.band_high = band_high
        self.hysteresis = hysteresis
        self.gyro_weight = gyro_weight
        self.integrate_acf = integrate_acf
        self.prefer_shorter = prefer_shorter

    def get_params(self) -> dict[str, float]:
        return {
            k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")
        }

    # -- public actions -------------------------------------------------------

    def count(
        self,
        acc_mps2: ArrayLike,
        fs_hz: float,
        *,
        gyr_dps: ArrayLike | None = None,
        t0_s: float = 0.0,
    ) -> RepCounter:
        """Count repetitions in evenly sampled (N, 3) acceleration at ``fs_hz``."""
        acc = np.asarray(acc_mps2, dtype=np.float64)
        if acc.ndim != 2 or acc.shape[1] != 3:
            raise RecordingError("repetition counting needs (N, 3) acceleration")
        gyr = None if gyr_dps is None else np.asarray(gyr_dps, dtype=np.float64)
        self.sets_ = self._count_segment(acc, gyr, float(fs_hz), t0_s)
        self._finish()
        return self

    def count_recording(self, rec: Recording) -> RepCounter:
        """Count repetitions in every gap-free stretch of a recording."""
        sets: list[RepSet] = []
        for seg in uniform_segments(rec):
            sets += self._count_segment(seg.acc_mps2, seg.gyr_dps, seg.fs_hz, float(seg.time_s[0]))
        self.sets_ = sets
        self._finish()
        return self

    def _finish(self) -> None:
        self.count_ = int(sum(s.count for s in self.sets_))
        self.times_s_ = [r.time_s for s in self.sets_ for r in s.reps]

    def result(self) -> dict[str, Any]:
        return {
            "count": self.count_,
            "times_s": self.times_s_,
            "sets": [s.as_dict() for s in self.sets_],
            "algorithm": {"name": "RepCounter", "version": self.version, **self.get_params()},
        }

    # -- internals --------------------------------------------------------------

    def activity(self, acc: NDArray[np.float64], gyr: NDArray[np.float64] | None, fs: float):
        """Per-sample movement flag from finite windows only (same result live and offline).

        Acceleration (and angular rate) is smoothed by a 0.2 s moving average,
        then its moving standard deviation over ``activity_window_s``, summed
        over axes, is compared with the absolute thresholds. Edges are padded
        with the edge value.
        """
        smooth = max(int(round(0.2 * fs)), 1)
        win = max(int(round(self.activity_window_s * fs)), 2)
        active = _moving_std(_moving_mean(acc, smooth), win) > self.active_acc_mps2
        if gyr is not None:
            active |= _moving_std(_moving_mean(gyr, smooth), win) > self.active_gyr_dps
        return active

    def bouts_from_activity(self, active: NDArray[np.bool_], fs: float) -> list[tuple[int, int]]:
        """Active stretches merged across pauses shorter than ``max_pause_s``."""
        merged: list[list[int]] = []
        gap = int(round(self.max_pause_s * fs))
        for a, b in _runs(active):
            if merged and a - merged[-1][1] <= gap:
                merged[-1][1] = b
            else:
                merged.append([a, b])
        min_n = int(round(self.min_bout_s * fs))
        return [(a, b) for a, b in merged if b - a >= min_n]

    def margin_samples(self, fs: float) -> int:
        """Samples taken on each side of a bout when counting it."""
        return int(round(self.activity_window_s * fs))

    def _count_segment(self, acc, gyr, fs, t0) -> list[RepSet]:
        n = acc.shape[0]
        if n < max(16, int(self.min_bout_s * fs)):
            return []
        out = []
        for a, b in self.bouts_from_activity(self.activity(acc, gyr, fs), fs):
            rs = self.count_bout(acc, gyr, fs, a, b, t0)
            if rs is not None:
                out.append(rs)
        return out

    def count_bout(self, acc, gyr, fs, a, b, t0, *, period_s: float | None = None) -> RepSet | None:
        """Count one bout ``[a, b)`` of ``acc`` using ``margin_samples`` either side.

        ``period_s`` overrides the autocorrelation estimate (used by the live
        counter before a bout holds two repetitions).
        """
        m = self.margin_samples(fs)
        lo_i, hi_i = max(a - m, 0), min(b + m, acc.shape[0])
        seg = acc[lo_i:hi_i]
        gseg = None if gyr is None else gyr[lo_i:hi_i]
        if seg.shape[0] < 16:
            return None
        # work at 50 Hz or less (reps are slower than 5 Hz): block averages of k
        # samples first (first null at 50 Hz: no aliasing into the rep band), then
        # the zero-phase low-pass at the working rate
        k = max(1, int(fs // 50))
        fs_w = fs / k
        seg, gseg = _block_mean(seg, k), None if gseg is None else _block_mean(gseg, k)
        if seg.shape[0] < 16:
            return None
        cut = min(self.lowpass_hz, 0.4 * fs_w)
        acc_f = lowpass_zero_phase(seg, fs_w, cutoff_hz=cut)
        gyr_f = None if gseg is None else lowpass_zero_phase(gseg, fs_w, cutoff_hz=cut)
        chans = acc_f - acc_f.mean(axis=0)
        if gyr_f is not None:
            chans = np.column_stack([chans, self.gyro_weight * (gyr_f - gyr_f.mean(axis=0))])
        period = self._period(chans, fs_w) if period_s is None else period_s
        if period is None:
            return None
        reps = self._cycles(chans, fs_w, period, t0 + (lo_i + (k - 1) / 2) / fs, gyr_f)
        # reps belong to the bout: drop counts made in the margins
        t_a, t_b = t0 + a / fs, t0 + b / fs
        reps = [r for r in reps if t_a - 0.5 * period <= r.time_s <= t_b + 0.5 * period]
        if not reps:
            return None
        return RepSet(start_s=t_a, end_s=t_b, period_s=period, reps=tuple(reps))

    def _period(self, chans: NDArray[np.float64], fs: float) -> float | None:
        """Repetition period from the multichannel autocorrelation."""
        n = chans.shape[0]
        lo = max(int(round(self.min_rep_s * fs)), 1)
        hi = min(int(round(self.max_rep_s * fs)), n // 2)
        if hi <= lo + 1:
            return None
        nfft = 1 << int(math.ceil(math.log2(2 * n)))
        spec = np.fft.rfft(chans, nfft, axis=0)
        power = (spec * spec.conj()).real.sum(axis=1)
        if self.integrate_acf:
            # weight the power by 1 / (f^2 + f_lo^2): the autocorrelation of the
            # once-integrated signal, where harmonics (two humps, holds at the ends
            # of a movement) count 1/k^2 less than the repetition's fundamental
            f = np.fft.rfftfreq(nfft, 1.0 / fs)
            f_lo = 1.0 / self.max_rep_s
            power = power / (f**2 + f_lo**2)
        ac = np.fft.irfft(power, nfft)[:n]
        if ac[0] <= 0:
            return None
        # biased estimate: its natural taper towards long lags keeps a multiple of
        # the period (or a slow drift across the bout) from beating the period itself
        ac_u = ac / ac[0]
        seg = ac_u[lo : hi + 1]
        peaks, _ = signal.find_peaks(seg)
        if peaks.size == 0:
            return None
        best = peaks[np.argmax(seg[peaks])]
        lag = lo + int(best)
        # prefer a shorter period if the autocorrelation has a true peak there nearly
        # as high (a peak at 2T or 3T can win by noise)
        peak_lags = lo + peaks
        for div in (3, 2):
            cand = lag / div
            near = peak_lags[np.abs(peak_lags - cand) <= max(1.0, 0.15 * cand)]
            if near.size == 0:
                continue
            j = int(near[np.argmax(ac_u[near])])
            if self.prefer_shorter and ac_u[j] > self.prefer_shorter * ac_u[lag] and ac_u[j] > 0.3:
                lag = j
                break
        if ac_u[lag] < 0.1:
            return None
        return lag / fs

    def _cycles(self, chans, fs, period, t_start, gyr) -> list[Rep]:
        f0 = 1.0 / period
        lo = self.band_low * f0
        hi = min(self.band_high * f0, 0.45 * fs)
        n = chans.shape[0]
        if n < 16 or hi <= lo:
            return []
        sos = signal.butter(2, [lo, hi], btype="bandpass", fs=fs, output="sos")
        padlen = min(n - 1, int(3 * fs / lo))
        bp = signal.sosfiltfilt(sos, chans, axis=0, padlen=padlen)
        _, v = np.linalg.eigh(bp.T @ bp)
        pc = bp @ v[:, -1]
        env = np.abs(signal.hilbert(pc))
        amp = float(np.percentile(env, 75))
        if amp <= 0:
            return []
        h = self.hysteresis * amp
        label = np.where(pc > h, 1, np.where(pc < -h, -1, 0))
        idx = np.flatnonzero(label)
        if idx.size == 0:
            return []
        lab = label[idx]
        change = np.concatenate(([True], lab[1:] != lab[:-1]))
        ev_i, ev_l = idx[change], lab[change]  # alternating excursions
        reps: list[Rep] = []
        min_gap = self.min_rep_s * fs
        prev_count = None
        first_low = None
        for j in range(1, ev_i.size):
            if ev_l[j] == 1 and ev_l[j - 1] == -1:
                i = int(ev_i[j])
                if prev_count is not None and i - prev_count < min_gap:
                    continue
                s0 = prev_count if prev_count is not None else int(ev_i[j - 1])
                if first_low is None:
                    first_low = s0
                p2p = float(np.ptp(pc[s0 : i + 1]))
                rng = None
                if gyr is not None and i > s0:
                    g = gyr[s0 : i + 1]
                    ang = np.cumsum(g - g.mean(axis=0), axis=0) / fs
                    rng = float(np.max(np.ptp(ang, axis=0)))
                reps.append(
                    Rep(
                        start_s=t_start + s0 / fs,
                        end_s=t_start + i / fs,
                        time_s=t_start + i / fs,
                        amplitude=p2p,
                        range_deg=rng,
                    )
                )
                prev_count = i
        return reps


def _block_mean(x: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """Means of consecutive blocks of ``k`` rows (a trailing partial block is dropped)."""
    if k <= 1:
        return x
    m = x.shape[0] // k
    return x[: m * k].reshape(m, k, x.shape[1]).mean(axis=1)


def _moving_mean(x: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """Centred moving average of each column, edges padded with the edge value."""
    if n <= 1:
        return x
    left, right = n // 2, n - 1 - n // 2
    xp = np.pad(x, ((left, right), (0, 0)), mode="edge")
    c = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), xp]), axis=0)
    return (c[n:] - c[:-n]) / n


class LiveRepCounter:
    """Incremental repetition counting for a live stream, agreeing with :class:`RepCounter`.

    Samples arrive in chunks at a fixed rate. Every ``update_s`` of new data the
    current (open) bout is counted provisionally and reps completed at least
    ``confirm_s`` ago are reported; a bout is final once it is followed by a
    pause of ``max_pause_s`` (or the stream ends), and its final count is the
    offline counter's on exactly the same samples. The final total therefore
    equals the offline count of the same recording; a provisional count can be
    corrected by one when the bout closes (``corrections_`` counts that).

    Parameters
    ----------
    fs_hz : the stream's sampling rate (required).
    counter : the offline counter whose parameters are used.
    update_s : how often the open bout is re-counted (default 0.25 s).
    confirm_s : a provisional rep is reported once this old (default 0.2 s).

    Attributes
    ----------
    count_ : reps so far (final bouts plus reported provisional reps).
    sets_ : closed bouts as :class:`RepSet`.
    """

    def __init__(
        self,
        fs_hz: float,
        *,
        counter: RepCounter | None = None,
        update_s: float = 0.25,
        confirm_s: float = 0.2,
        t0_s: float = 0.0,
    ) -> None:
        self.fs_hz = float(fs_hz)
        self.counter = counter or RepCounter()
        self.update_s = update_s
        self.confirm_s = confirm_s
        self.t0_s = t0_s
        self._acc: list[np.ndarray] = []
        self._gyr: list[np.ndarray] | None = None
        self._base = 0  # absolute index of the buffer's first sample
        self._n = 0  # samples in the buffer
        self._since_update = 0
        self._open_reported = 0  # provisional reps reported for the open bout
        self.sets_: list[RepSet] = []
        self.corrections_ = 0

    @property
    def count_(self) -> int:
        return sum(s.count for s in self.sets_) + self._open_reported

    def _buffer(self) -> tuple[np.ndarray, np.ndarray | None]:
        if len(self._acc) > 1:
            self._acc = [np.concatenate(self._acc)]
            if self._gyr is not None:
                self._gyr = [np.concatenate(self._gyr)]
        acc = self._acc[0] if self._acc else np.zeros((0, 3))
        gyr = self._gyr[0] if self._gyr else None
        return acc, gyr

    def push(self, acc_mps2: ArrayLike, gyr_dps: ArrayLike | None = None) -> list[Rep]:
        """Add evenly sampled samples; returns the reps newly reported."""
        a = np.asarray(acc_mps2, dtype=np.float64).reshape(-1, 3)
        self._acc.append(a)
        if gyr_dps is not None:
            if self._gyr is None:
                if self._n:
                    raise RecordingError("gyroscope data must be present from the start")
                self._gyr = []
            self._gyr.append(np.asarray(gyr_dps, dtype=np.float64).reshape(-1, 3))
        self._n += a.shape[0]
        self._since_update += a.shape[0]
        if self._since_update < self.update_s * self.fs_hz:
            return []
        self._since_update = 0
        return self._update(final=False)

    def close(self) -> list[Rep]:
        """End of stream: finalise the open bout; returns reps newly reported."""
        return self._update(final=True)

    def _update(self, *, final: bool) -> list[Rep]:
        c, fs = self.counter, self.fs_hz
        acc, gyr = self._buffer()
        n = acc.shape[0]
        if n < 16:
            return []
        bouts = c.bouts_from_activity(c.activity(acc, gyr, fs), fs)
        gap = int(round(c.max_pause_s * fs))
        half = int(round(c.activity_window_s * fs))
        new: list[Rep] = []
        t0 = self.t0_s + self._base / fs
        trim_to = None
        for a, b in bouts:
            closed = final or (n - b > gap + half)
            if not closed:
                rs = c.count_bout(acc, gyr, fs, a, n, t0)
                if rs is None and self._open_reported == 0:
                    # too early for a period: take the bout so far as one repetition
                    hint = min(max((n - a) / fs, c.min_rep_s), c.max_rep_s)
                    rs = c.count_bout(acc, gyr, fs, a, n, t0, period_s=hint)
                now = t0 + n / fs
                ready = [r for r in (rs.reps if rs else ()) if r.time_s <= now - self.confirm_s]
                if len(ready) > self._open_reported:
                    new += ready[self._open_reported :]
                    self._open_reported = len(ready)
                break
            rs = c.count_bout(acc, gyr, fs, a, b, t0)
            final_reps = list(rs.reps) if rs else []
            if len(final_reps) > self._open_reported:
                new += final_reps[self._open_reported :]
            elif len(final_reps) < self._open_reported:
                self.corrections_ += self._open_reported - len(final_reps)
            self._open_reported = 0
            if rs is not None:
                self.sets_.append(rs)
            trim_to = b + gap // 2
        if trim_to is not None and not final:
            self._trim(min(trim_to, n))
        elif not bouts and not final:
            # nothing happening: keep only what a bout starting now could need
            keep = gap + 2 * half
            if n > 2 * keep:
                self._trim(n - keep)
        return new

    def _trim(self, k: int) -> None:
        acc, gyr = self._buffer()
        self._acc = [acc[k:]]
        if gyr is not None and self._gyr is not None:
            self._gyr = [gyr[k:]]
        self._base += k
        self._n -= k
