"""Impact loading of the skeleton from one hip or lower-back accelerometer.

Bone responds to the magnitude and rate of the loads it sees, not to energy
expenditure: hip-worn accelerometry in premenopausal women tied bone gains at
the hip to impacts above about 4 g (or a slope above 100 g/s), about 60 a
day, while walking alone did not reach them (Vainionpaa et al. 2006,
Osteoporos Int 17:455; Jamsa et al. 2006, Bone 39:411; review: Jamsa,
Vainionpaa, Korpelainen et al., Front Physiol 2011, 2:73, doi
10.3389/fphys.2011.00073; clinical.md section 5). This module counts those
impacts, the steps and stair bouts they come from, and summarises the
peak-acceleration histogram with published osteogenic indices.

:class:`StepDetector` finds foot contacts and gait bouts (also used by
:mod:`.posture` to find upright walking); :class:`ImpactLoading` does the
whole analysis (``balance-mon analyze FILE --test loading``).

Definitions (all accelerations are the resultant specific force in g,
gravity included: 1 g standing still):

- **Peak**: a local maximum of the resultant above ``min_peak_g`` that is the
  largest within ``min_interval_s`` (0.25 s: the shortest interval between
  foot contacts, a sprint's 4 steps/s) on either side; one peak per impact.
  Peaks are read from the recorded samples, never from resampled ones.
- **Saturated peak**: the quality report's clipping detection
  (:func:`balance_mon.recording.detect_clipping`) finds samples stuck at an
  axis's extreme within ``clip_window_s`` of the peak. Its value is then
  unknown, only "at least the range": the clipped level, rounded up to the
  common full-scale range it matches (:data:`balance_mon.recording.FULL_SCALES_G`,
  within 3 %), and it counts at that value. ``saturated_peaks`` says how many.
- **Impacts over 2 g / 4 g**: peaks at or above the threshold.
- **Osteogenic index** (OI) of the peak histogram (bins of ``bin_g``, 0.1 g):
  ``OI = sum_i a_i ln(1 + n_i)``, a_i the bin's centre (g), n_i its count.
  This is Turner & Robling's osteogenic index, "load magnitude x ln(1 +
  number of loading cycles)" summed over loading types (Turner & Robling
  2003, Exerc Sport Sci Rev 31:45), applied to accelerometer peak histograms
  as in the Oulu hip-accelerometry studies and PMC9716299 (OI from all peaks;
  "HOI" from peaks >= 5.2 g) (verify the bin width and whether a_i is the
  bin centre or its lower edge in those papers).
- **Daily impact score** (DIS): Turner's daily stress stimulus form
  ``(sum_j a_j^m)^(1/m)`` over every peak j, m = 4 (Turner 1998, Bone 23:399,
  after Carter et al. 1987; Ahola et al. 2010, J Biomech 43:1960 built their
  "DIS_Exp" from it on waist-worn accelerometer peaks) (verify their bins
  and exponent). It grows with the fourth power of peak size and only the
  fourth root of their number, so a few hard impacts outweigh many soft ones:
  60 landings at 4.5 g give 12.5, as do 5000 walking steps at 1.5 g.
  Within one recording it is the recording's score; a day's score is
  ``(sum over recordings of score^4)^(1/4)``.
- **Steps**: vertical acceleration (along the low-passed gravity direction,
  5 Hz low-pass, 0.25 Hz high-pass) peaks above ``step_min_mps2`` at least
  ``min_interval_s`` apart are contacts. A step is a contact within a bout of
  periodic, alternating contacts; three things are not steps:

  * **Whole-body impacts.** A landing after a flight -- the resultant
    specific force, averaged over 0.1 s, below 0.3 g (free fall reads 0 g;
    any jump of 1.2 cm or more is airborne 0.1 s) -- with no other landing
    within two contacts, unless the contacts around it keep a steady rhythm
    at running cadence (running lands after a flight at every step, a jump
    once); the contacts of its countermovement and push-off (up to 1 s
    before take-off: unweighting, braking and propulsion of a countermovement
    jump take about 0.7-1 s, McMahon et al. 2018, Strength Cond J 40(4):96,
    verify) and of its absorption (0.4 s after) go with it. And a contact
    whose vertical peak is 2.5 times that of each neighbour: a heel drop,
    sitting down hard, a stamp. Steps of one bout load the body alike (Gu et
    al.'s step counter keeps only peaks similar in size to the one two
    contacts away, IEEE Sensors J 2017, 17:3453, verify pages); in the real
    mobgap and sit2standpy recordings, contacts of walking bouts reached at
    most 1.9 times both neighbours, hard sit-downs 4-12 times, rising from a
    chair 2.2-3.4 times. Jumping on both feet and heel drops are impacts,
    counted in the impact histogram, never steps.
  * **Contacts off the rhythm.** Runs of the remaining contacts no more than
    ``max_step_s`` apart are split where the movement changes character
    (alternation, cadence: :meth:`StepDetector._split`). A piece of at least
    ``min_bout_steps`` contacts, trimmed of a first or last step outside 0.5-1.5
    times its median step time, is a bout's core and decides its kind;
    contacts of shorter pieces (the first step after rising from a chair, the
    quicker steps of a turn) join the core beside them while their step time
    stays within that range. A longer gap is a pause or another movement
    (rising, the seat contact); a much shorter one is a second peak of one
    contact.
  * **Non-alternating bouts.** A bout is gait only if the horizontal
    acceleration alternates from one contact to the next (the medio-lateral
    sway reverses with every step: its step-lag autocorrelation is negative,
    Moe-Nilssen & Helbostad 2004, J Biomech 37:121); repeated jumps or heel
    drops land on both feet and do not alternate, and are reported as
    ``hops`` (their impacts still count).

  Brajdic & Harle 2013 (UbiComp '13, 225-234) compare step counters and
  their errors on unconstrained, not only walking, movement (verify).
- **Stairs**: a gait bout with rest on both sides is integrated twice along
  gravity with zero velocity at both rests (drift removed linearly); a mean
  rise of at least ``stair_rise_m`` (0.08 m, half a 0.15-0.18 m riser) per
  step makes it a stair bout (up or down). Bouts without rest on both sides
  have no known elevation (``elevation_m`` None) and count as level walking.
- **Running**: gait bouts at ``run_cadence_spm`` (145 steps/min) or more;
  comfortable walking is 100-120, brisk walking up to about 140.

Limitations: a resultant peak is not a ground-reaction force (soft tissue
and sensor mounting change it, and a lower-back sensor reads less than one
on the hip bone); sitting down hard on a chair or a car bump counts as an
impact; stairs need a pause before and after the flight. A single step far
harder than its neighbours (jumping down a kerb) or a hop over an obstacle
mid-walk counts as an impact, and the contacts within 0.4 s of it (a hop:
from 1 s before its take-off) are not steps either; a slow last step (more
than 1.5 step times after the previous one) is not counted. Continuous
two-footed hopping whose horizontal acceleration carries no clear pattern
can pass the alternation test and count as steps.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import signal

from ..consts import GRAVITY_MPS2
from ..dsp.filters import (
    block_mean,
    highpass_zero_phase,
    lowpass_zero_phase,
    moving_mean,
    moving_sd,
    snap_half,
    working_factor,
)
from ..dsp.gaps import uniform_segments
from ..dsp.runs import index_runs
from ..errors import RecordingError, TooShortError
from ..recording import FULL_SCALES_G, Recording, detect_clipping

__all__ = [
    "GAIT_KINDS",
    "LOADING_KEYS",
    "GaitBout",
    "ImpactLoading",
    "StepDetector",
    "daily_impact_score",
    "osteogenic_index",
]

FloatArray = NDArray[np.float64]

#: A single sample within this fraction of a standard full-scale range
#: (:data:`~balance_mon.recording.FULL_SCALES_G`) is taken as clipped: a 16-bit
#: sensor's largest code is the range x (1 - 2^-15); an unclipped peak lands
#: that close to exactly 2, 4, 8 or 16 g about once in 500 peaks near it.
SINGLE_SAMPLE_TOLERANCE = 0.001

#: Axis values below this are never clipping (detect_clipping's own floor: no
#: body-worn sensor has a range below 2 g), m/s^2.
CLIP_MIN_LEVEL_MPS2 = 1.5 * GRAVITY_MPS2

#: Steps are looked for only within :data:`ACTIVE_PAD_S` of two neighbouring
#: seconds over which the acceleration vector ranges at least this much (the
#: axes' ranges summed in quadrature, which bounds any change of the vector),
#: m/s^2. A contact is a peak of at least ``step_min_mps2`` (0.6 m/s^2) in
#: the high-passed vertical acceleration, a projection of the vector, which
#: rises that far from its trough within a fraction of a second; 0.5 leaves
#: room for the trough to sit above the high-pass's zero. Quiet sitting, lying
#: and standing (sway 0.02-0.1 m/s^2, sensor noise) and slow posture changes
#: stay below it and cost nothing.
ACTIVE_SPAN_MPS2 = 0.5

#: Seconds of signal kept on each side of an active second: more than the
#: rest search before and after a stair bout (3 step times of at most 1.6 s,
#: plus half the 1 s window of its moving SD) and a jump's take-off (1 s).
#: The stretch then starts and ends at rest, where the filters (0.25 Hz
#: high-pass, 0.5 Hz gravity low-pass) see a nearly constant signal and give
#: the same values as on the whole recording.
ACTIVE_PAD_S = 6.0

#: Contacts are found on block means of the samples at this rate or just above,
#: Hz: ten times the 5 Hz low-pass of the vertical acceleration, so a contact's
#: peak keeps its height (the block mean of 2 samples at 100 Hz attenuates 5 Hz
#: by 1 %) and its time to half a working sample (10 ms). On the simulated
#: walking, jogging, stairs, jumps and heel drops of ``bench/validate_bone.py``
#: the step counts at 50 Hz differ from those at the native 100-200 Hz by at
#: most one step per recording, in both directions.
STEP_WORK_RATE_HZ = 50.0

#: Stretches this close are searched as one (quiet seconds cost little; each
#: search has a fixed cost), s.
ACTIVE_JOIN_S = 30.0

#: Bout kinds that are gait (their contacts are steps).
GAIT_KINDS = ("walk", "run", "stairs_up", "stairs_down")

#: The keys of the ``loading`` JSON block that interfaces rely on.
LOADING_KEYS = ("steps", "impacts_over_2g", "impacts_over_4g", "osteogenic_index", "peak_g")


def osteogenic_index(peaks_g: ArrayLike, *, bin_g: float = 0.1, min_g: float = 0.0) -> float:
    """Turner & Robling's osteogenic index of a peak histogram: sum of a_i ln(1 + n_i).

    ``peaks_g`` are peak accelerations in g; bins of ``bin_g`` start at 0;
    a_i is the centre of bin i. Peaks below ``min_g`` are left out (e.g.
    5.2 for the "high" OI of PMC9716299).
    """
    p = np.asarray(peaks_g, dtype=np.float64)
    p = p[p >= min_g]
    if p.size == 0:
        return 0.0
    idx = np.floor(p / bin_g + 1e-9).astype(np.int64)
    bins, counts = np.unique(idx, return_counts=True)
    centres = (bins + 0.5) * bin_g
    return float(np.sum(centres * np.log1p(counts)))


def daily_impact_score(peaks_g: ArrayLike, *, exponent: float = 4.0) -> float:
    """Daily-stress-stimulus form ``(sum a_j^m)^(1/m)`` of peak accelerations (g)."""
    p = np.asarray(peaks_g, dtype=np.float64)
    if p.size == 0:
        return 0.0
    return float(np.sum(p**exponent) ** (1.0 / exponent))


@dataclass(frozen=True)
class GaitBout:
    """A bout of foot contacts.

    ``kind``: ``walk``, ``run``, ``stairs_up``, ``stairs_down`` (gait),
    ``hops`` (regular contacts that do not alternate between the feet: jumps,
    heel drops) or ``irregular`` (contact-like peaks that do not repeat:
    getting up, bending, a stumble).
    ``contacts_s``: contact times (with the transition contacts that joined
    the bout's core, :meth:`StepDetector._assemble`); ``elevation_m``: height
    gained over the bout (None when unknown: no rest on both sides);
    ``alternation``: the most negative normalised step-lag autocorrelation of
    the horizontal acceleration (below -``alternation_min`` means alternating
    feet); ``regularity``: the vertical acceleration's step-lag
    autocorrelation. Cadence, alternation, regularity and elevation are those
    of the core.
    """

    kind: str
    start_s: float
    end_s: float
    contacts_s: tuple[float, ...]
    cadence_spm: float
    elevation_m: float | None
    alternation: float
    regularity: float

    @property
    def gait(self) -> bool:
        """Walking, running or stairs (contacts alternating between the feet)."""
        return self.kind in GAIT_KINDS

    @property
    def steps(self) -> int:
        return len(self.contacts_s) if self.gait else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "steps": self.steps,
            "contacts": len(self.contacts_s),
            "cadence_spm": self.cadence_spm,
            "elevation_m": self.elevation_m,
            "alternation": self.alternation,
            "regularity": self.regularity,
        }


def _unit(x: FloatArray) -> FloatArray:
    n = np.sqrt(np.einsum("ij,ij->i", x, x))
    n[n == 0] = 1.0
    return x / n[:, None]


class StepDetector:
    """Foot contacts and gait bouts from a trunk accelerometer (module docstring).

    Parameters
    ----------
    step_min_mps2 : least vertical acceleration peak of a contact (default
        0.6 m/s^2: the lower back's vertical acceleration peaks at 1-3 m/s^2
        per step in comfortable walking and about 1 m/s^2 in slow walking of
        older adults; sway and breathing stay below 0.1).
    min_interval_s : shortest time between contacts (default 0.25 s).
    max_step_s : longest step time inside a bout (default 1.6 s: cadence
        37 steps/min, below the slowest walking speeds measured).
    min_bout_steps : contacts that make a bout (default 4: two strides).
    alternation_min : step-lag autocorrelation of the horizontal acceleration
        below minus this is alternating (default 0.1).
    regularity_min : least step-lag autocorrelation of the vertical
        acceleration of non-alternating contacts to count as ``hops``
        (default 0.3); below it they are ``irregular`` (the crouch, push,
        landing and recovery of one jump, or getting up, do not repeat).
        Gait is recognised by alternation alone: real walking bouts with
        turns and speed changes reach step regularities of only 0.1-0.4
        over a whole bout (mobgap daily-living recording).
    cadence_change : a step time this many times longer or shorter than the
        preceding ones (for two steps) starts a new bout (default 1.5: within
        a bout of walking, step times vary by 2-5 %; walking onto stairs or
        breaking into a jog changes them by half or more).
    max_cadence_spm : fastest gait (default 200 steps/min: jogging is
        150-180, older adults do not sprint); faster bursts of contacts are the
        ringing of a hard landing or a stumble, not steps.
    stair_rise_m : mean rise per step of a stair bout (default 0.08 m).
    run_cadence_spm : cadence of running (default 145 steps/min).
    rest_sd_mps2 : moving SD (1 s) of the acceleration below which the trunk
        is at rest, for the stair integration (default 0.2 m/s^2).
    flight_g : resultant specific force below which the body is airborne
        (default 0.3 g: free fall reads 0 g, plus room for sensor bias, soft
        tissue and trunk rotation; walking in the real recordings here stays
        above 0.6 g sample by sample).
    flight_window_s : the specific force is averaged over this before the
        comparison, so a flight must last about this long (default 0.1 s:
        the flight of a 1.2 cm jump, t = 2 sqrt(2h/g); a sensor spike or
        a run's brief flight need not count).
    impact_ratio : a contact whose vertical peak is this many times that of
        each adjacent contact is an impact, not a step (default 2.5: walking
        contacts of the real recordings reach at most 1.9 times, hard
        sit-downs 4-12 times; module docstring).
    impact_window_s : contacts this close to an impact belong to it
        (default 0.4 s: the absorption after a landing, and the ringing of
        the 5 Hz low-pass, whose impulse response lasts about two of its
        periods).
    takeoff_s : contacts this long before a jump's take-off are its
        countermovement and push-off (default 1 s, module docstring).
    edge_step_range : step times, as fractions of a bout's median step time,
        that belong to the bout at its edges and join transition contacts to
        it (default 0.5-1.5: turning and gait-initiation steps are quicker,
        down to about 0.65 of the bout in the simulated TUG turns and 0.71 in
        the real MS001 walk; 1.5 as ``cadence_change``: a longer step is a
        pause or another movement, a step under half is a second peak of one
        contact).
    active_span_mps2 : contacts are looked for only around pairs of seconds
        over which the acceleration ranges at least this (default
        :data:`ACTIVE_SPAN_MPS2`); None looks everywhere (same contacts, slower
        on long quiet recordings).
    work_rate_hz : contacts are found on block means of the samples at this
        rate or just above (default :data:`STEP_WORK_RATE_HZ`).

    Attributes
    ----------
    bouts_ : list of :class:`GaitBout`.
    contacts_s_ : every contact time (in bouts or not).
    impacts_s_ : contacts that are whole-body impacts or belong to one (the
        countermovement, push-off and absorption of a jump), never steps.
    """

    version = "1.2"

    def __init__(
        self,
        *,
        step_min_mps2: float = 0.6,
        min_interval_s: float = 0.25,
        max_step_s: float = 1.6,
        min_bout_steps: int = 4,
        alternation_min: float = 0.1,
        regularity_min: float = 0.3,
        cadence_change: float = 1.5,
        max_cadence_spm: float = 200.0,
        stair_rise_m: float = 0.08,
        run_cadence_spm: float = 145.0,
        rest_sd_mps2: float = 0.2,
        flight_g: float = 0.3,
        flight_window_s: float = 0.1,
        impact_ratio: float = 2.5,
        impact_window_s: float = 0.4,
        takeoff_s: float = 1.0,
        edge_step_range: tuple[float, float] = (0.5, 1.5),
        active_span_mps2: float | None = ACTIVE_SPAN_MPS2,
        work_rate_hz: float = STEP_WORK_RATE_HZ,
    ) -> None:
        self.step_min_mps2 = step_min_mps2
        self.min_interval_s = min_interval_s
        self.max_step_s = max_step_s
        self.min_bout_steps = min_bout_steps
        self.alternation_min = alternation_min
        self.regularity_min = regularity_min
        self.cadence_change = cadence_change
        self.max_cadence_spm = max_cadence_spm
        self.stair_rise_m = stair_rise_m
        self.run_cadence_spm = run_cadence_spm
        self.rest_sd_mps2 = rest_sd_mps2
        self.flight_g = flight_g
        self.flight_window_s = flight_window_s
        self.impact_ratio = impact_ratio
        self.impact_window_s = impact_window_s
        self.takeoff_s = takeoff_s
        self.edge_step_range = edge_step_range
        self.active_span_mps2 = active_span_mps2
        self.work_rate_hz = work_rate_hz

    def get_params(self) -> dict[str, Any]:
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in vars(self).items()
            if not k.endswith("_") and not k.startswith("_")
        }

    def detect(self, acc_mps2: ArrayLike, fs_hz: float, *, t0_s: float = 0.0) -> StepDetector:
        """Find contacts and bouts in evenly sampled (N, 3) acceleration at ``fs_hz``."""
        acc = _checked(acc_mps2, fs_hz)
        fs = float(fs_hz)
        self.contacts_s_: list[float] = []
        self.impacts_s_: list[float] = []
        self.bouts_: list[GaitBout] = []
        if acc.shape[0] < max(int(2 * fs), 8):
            return self
        k = working_factor(fs, self.work_rate_hz)
        for a, b in self._active_spans(acc, fs):
            # block means are centred between their first and last sample
            self._detect_span(block_mean(acc[a:b], k), fs / k, t0_s + (a + 0.5 * (k - 1)) / fs)
        return self

    def _active_spans(self, acc: FloatArray, fs: float) -> list[tuple[int, int]]:
        """Sample ranges within ``ACTIVE_PAD_S`` of two neighbouring seconds over
        which the acceleration ranges ``active_span_mps2`` or more (module
        constants); the whole signal when that is None or the spans would cover
        most of it anyway."""
        n = acc.shape[0]
        blk = max(int(round(fs)), 1)
        nb = n // blk
        if self.active_span_mps2 is None or nb < 2:
            return [(0, n)]
        starts = np.arange(0, n, blk)  # the last second may be partial
        hi = np.maximum.reduceat(acc, starts, axis=0)
        lo = np.minimum.reduceat(acc, starts, axis=0)
        # each second with the next (a contact's rise may straddle their boundary)
        hi[:-1] = np.maximum(hi[:-1], hi[1:])
        lo[:-1] = np.minimum(lo[:-1], lo[1:])
        rng = hi - lo
        active = np.sqrt(np.einsum("ij,ij->i", rng, rng)) >= self.active_span_mps2
        active[1:] |= active[:-1]  # the pair's second second too
        pad = int(math.ceil(ACTIVE_PAD_S * fs / blk))
        join = int(ACTIVE_JOIN_S * fs)
        out: list[tuple[int, int]] = []
        for j in np.flatnonzero(active).tolist():
            a, b = max((j - pad) * blk, 0), min((j + 1 + pad) * blk, n)
            if out and a <= out[-1][1] + join:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
        if sum(b - a for a, b in out) >= 0.8 * n:
            return [(0, n)]
        return [(a, b) for a, b in out if b - a >= max(int(2 * fs), 8)]

    def _detect_span(self, acc: FloatArray, fs: float, t0_s: float) -> None:
        """Contacts and bouts of one stretch, appended to the attributes."""
        g_hat = _unit(lowpass_zero_phase(acc, fs, cutoff_hz=min(0.5, 0.2 * fs)))
        acc_f = lowpass_zero_phase(acc, fs, cutoff_hz=min(5.0, 0.4 * fs))
        a_v = np.einsum("ij,ij->i", acc_f, g_hat) - GRAVITY_MPS2
        a_h = acc_f - (a_v + GRAVITY_MPS2)[:, None] * g_hat
        a_vf = highpass_zero_phase(a_v, fs, cutoff_hz=min(0.25, 0.1 * fs), order=2)
        dist = _min_distance(self.min_interval_s, fs)
        pk, _ = signal.find_peaks(a_vf, height=self.step_min_mps2, distance=dist)
        self.contacts_s_ += (t0_s + pk / fs).tolist()
        if pk.size < self.min_bout_steps:
            return
        gap = self.max_step_s * fs
        linked = np.diff(pk) <= gap  # contact j and j + 1 belong to one run of contacts
        impact = self._impacts(pk, linked, a_vf, acc, fs)
        self.impacts_s_ += (t0_s + pk[impact] / fs).tolist()
        # runs of contacts: cut at long gaps and at impacts (which are not steps)
        runs: list[list[int]] = [[]]
        for j in range(pk.size):
            if j and not linked[j - 1]:
                runs.append([])
            if impact[j]:
                runs.append([])
            else:
                runs[-1].append(j)
        for run in runs:
            if len(run) < self.min_bout_steps:
                continue
            for core, idx in self._assemble(pk[run], self._split(pk[run], a_h, g_hat)):
                bout = self._bout(core, a_vf, a_v, a_h, g_hat, acc, fs, t0_s)
                if idx.size > core.size:
                    half = 30.0 / bout.cadence_spm
                    bout = replace(
                        bout,
                        start_s=t0_s + float(idx[0]) / fs - half,
                        end_s=t0_s + float(idx[-1]) / fs + half,
                        contacts_s=tuple((t0_s + idx / fs).tolist()),
                    )
                self.bouts_.append(bout)

    def _assemble(
        self, seq: NDArray[np.intp], pieces: list[NDArray[np.intp]]
    ) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
        """Bouts of one run of contacts ``seq``: (core, all contacts) pairs.

        A core is a piece of at least ``min_bout_steps`` contacts, without a
        first or last contact off its rhythm (:meth:`_in_rhythm`); it alone
        decides the bout's kind. Contacts of shorter pieces (a transition: the
        first step after rising from a chair, the quicker steps of a turn)
        join the core beside them, one after the other, while in its rhythm.
        """
        free = np.zeros(seq.size, dtype=bool)
        cores = []
        for p in pieces:
            if p.size < self.min_bout_steps:
                free[np.searchsorted(seq, p)] = True
                continue
            while p.size >= self.min_bout_steps:
                d = np.diff(p)
                med = float(np.median(d))
                if not self._in_rhythm(d[0], med):
                    p = p[1:]
                elif not self._in_rhythm(d[-1], med):
                    p = p[:-1]
                else:
                    cores.append(p)
                    break
        out = []
        for core in cores:
            med = float(np.median(np.diff(core)))
            first = i0 = int(np.searchsorted(seq, core[0]))
            last = i1 = int(np.searchsorted(seq, core[-1]))
            while i0 > 0 and free[i0 - 1] and self._in_rhythm(seq[i0] - seq[i0 - 1], med):
                i0 -= 1
            while (
                i1 < seq.size - 1 and free[i1 + 1] and self._in_rhythm(seq[i1 + 1] - seq[i1], med)
            ):
                i1 += 1
            free[i0 : i1 + 1] = False
            out.append((core, np.concatenate((seq[i0:first], core, seq[last + 1 : i1 + 1]))))
        return out

    def _running(self, idx: NDArray[np.intp], fs: float) -> bool:
        """Whether contacts (at least four) keep a steady rhythm at running cadence."""
        if idx.size < 4:
            return False
        d = np.diff(idx) / fs
        med = float(np.median(d))
        return 60.0 / med >= self.run_cadence_spm and all(self._in_rhythm(x, med) for x in d)

    def _in_rhythm(self, step: float, median: float) -> bool:
        """Whether a step time fits a bout with this median step time (``edge_step_range``)."""
        lo, hi = self.edge_step_range
        return lo * median <= step <= hi * median

    def _impacts(
        self,
        pk: NDArray[np.intp],
        linked: NDArray[np.bool_],
        a_vf: FloatArray,
        acc: FloatArray,
        fs: float,
    ) -> NDArray[np.bool_]:
        """Contacts that belong to an impact of the whole body, not to a step.

        An impact is

        - a landing after a flight (the resultant specific force, averaged over
          ``flight_window_s``, below ``flight_g`` since the previous contact) with
          no other landing within two contacts either side, unless those
          contacts keep a steady rhythm at running cadence: running lands after
          a flight at every step (its short flight can be missed at some), a
          jump or a hop over an obstacle once;
        - or a vertical peak at least ``impact_ratio`` times that of each
          adjacent contact of its run (a heel drop, sitting down hard).

        Contacts within ``impact_window_s`` of an impact belong to it (the
        landing's absorption and the filter's ringing), and so do those of a
        jump's countermovement and push-off, from ``takeoff_s`` before the
        flight.
        """
        n = pk.size
        amp = a_vf[pk]
        w = max(int(round(self.flight_window_s * fs)), 1)
        mag = np.sqrt(np.einsum("ij,ij->i", acc, acc)) / GRAVITY_MPS2
        flying = moving_mean(mag, w) < self.flight_g
        reach = int(round(self.max_step_s * fs))
        # each contact's run of linked contacts, and its place in it
        run = np.concatenate(([0], np.cumsum(~linked)))
        first = np.flatnonzero(np.concatenate(([True], ~linked)))  # first contact of each run
        last = np.concatenate((first[1:] - 1, [n - 1]))
        rs, re = first[run], last[run]
        j = np.arange(n)
        # the take-off: the first flying sample since the previous contact of the run
        # (or max_step_s before a run's first), up to the contact itself
        lo = np.where(j > rs, pk[np.maximum(j - 1, 0)], np.maximum(pk - reach, 0))
        pos = np.where(flying, np.arange(flying.size), flying.size)
        next_flying = np.minimum.accumulate(pos[::-1])[::-1]
        takeoff = np.where(next_flying[lo] <= pk, next_flying[lo], -1)
        landing = takeoff >= 0
        span = np.zeros((n, 2))
        impact = np.zeros(n, dtype=bool)
        win = self.impact_window_s * fs
        # within two contacts either side, inside the run
        lo2, hi2 = np.maximum(j - 2, rs), np.minimum(j + 2, re)
        count = np.concatenate(([0], np.cumsum(landing)))
        alone = landing & (count[hi2 + 1] - count[lo2] == 1)  # no other landing near
        for i in np.flatnonzero(alone).tolist():
            r0, r1 = max(i - 3, int(rs[i])), min(i + 3, int(re[i]))
            if not self._running(pk[r0 : r1 + 1], fs):
                impact[i] = True
                span[i] = (min(takeoff[i] - self.takeoff_s * fs, pk[i] - win), pk[i] + win)
        # or a vertical peak impact_ratio times each adjacent contact's of its run
        has_prev, has_next = j > rs, j < re
        big_prev = ~has_prev | (amp >= self.impact_ratio * amp[np.maximum(j - 1, 0)])
        big_next = ~has_next | (amp >= self.impact_ratio * amp[np.minimum(j + 1, n - 1)])
        peak = ~impact & (has_prev | has_next) & big_prev & big_next
        impact |= peak
        span[peak] = np.column_stack((pk[peak] - win, pk[peak] + win))
        out = impact.copy()
        for j in np.flatnonzero(impact):
            out |= (pk >= span[j, 0]) & (pk <= span[j, 1])
        return out

    def _split(
        self, idx: NDArray[np.intp], a_h: FloatArray, g_hat: FloatArray
    ) -> list[NDArray[np.intp]]:
        """Split a run of contacts where the movement changes character.

        Each contact is judged on its neighbourhood (two contacts either
        side): alternating feet or not (:func:`_alternation`; a judgement
        that holds for fewer than ``min_bout_steps`` contacts is the window
        straddling a transition and takes its neighbours' value,
        :func:`_persistent`); a bout is cut where that changes and where the
        step time jumps by more than ``cadence_change`` times (walking onto a
        flight of stairs, breaking into a jog), so every piece is one kind of
        movement.
        """
        n = idx.size
        if n < self.min_bout_steps:
            return [idx]
        pos = idx.tolist()
        d = [float(b - a) for a, b in zip(pos[:-1], pos[1:], strict=True)]  # step times
        win = np.zeros((n, 3), dtype=np.intp)  # each contact's window and lag
        for j in range(n):
            lo, hi = max(j - 2, 0), min(j + 2, n - 1)
            if hi - lo < 2:
                lo, hi = max(hi - 2, 0), min(lo + 2, n - 1)
            lag = int(round(statistics.median(d[lo:hi])))
            half = lag // 2
            win[j] = (max(pos[lo] - half, 0), min(pos[hi] + half, a_h.shape[0] - 1), lag)
        alt = _alternations(a_h, g_hat, win[:, 0], win[:, 1], win[:, 2]) < -self.alternation_min
        alt = _persistent(alt, self.min_bout_steps)
        cuts = [0]
        for j in range(1, n):
            change = alt[j] != alt[j - 1]
            if j >= 2 and j < n - 1:
                prev = statistics.median(d[max(j - 4, 0) : j - 1])
                ratio = d[j - 1] / prev
                nxt = d[j] / prev if j < len(d) else ratio
                if (
                    min(ratio, nxt) > self.cadence_change
                    or max(ratio, nxt) < 1.0 / self.cadence_change
                ):
                    change = True
            if change and j - cuts[-1] >= 1:
                cuts.append(j)
        cuts.append(n)
        return [idx[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]

    def _bout(
        self,
        idx: NDArray[np.intp],
        a_vf: FloatArray,
        a_v: FloatArray,
        a_h: FloatArray,
        g_hat: FloatArray,
        acc: FloatArray,
        fs: float,
        t0: float,
    ) -> GaitBout:
        period = float(np.median(np.diff(idx)))
        cadence = 60.0 * fs / period
        lag = int(round(period))
        i0 = max(int(idx[0]) - lag // 2, 0)
        i1 = min(int(idx[-1]) + lag // 2, a_v.size - 1)
        alt = _alternation(a_h, g_hat, i0, i1, lag)
        reg = _regularity(a_vf, i0, i1, lag)
        elevation = None
        if alt < -self.alternation_min and cadence <= self.max_cadence_spm:
            elevation = self._elevation(a_v, acc, int(idx[0]), int(idx[-1]), period, fs)
            rise = elevation / idx.size if elevation is not None else 0.0
            if rise >= self.stair_rise_m:
                kind = "stairs_up"
            elif rise <= -self.stair_rise_m:
                kind = "stairs_down"
            elif cadence >= self.run_cadence_spm:
                kind = "run"
            else:
                kind = "walk"
        elif reg >= self.regularity_min:
            kind = "hops"
        else:
            kind = "irregular"
        half = 0.5 * period / fs
        return GaitBout(
            kind=kind,
            start_s=t0 + float(idx[0]) / fs - half,
            end_s=t0 + float(idx[-1]) / fs + half,
            contacts_s=tuple((t0 + idx / fs).tolist()),
            cadence_spm=cadence,
            elevation_m=elevation,
            alternation=alt,
            regularity=reg,
        )

    def _elevation(
        self, a_v: FloatArray, acc: FloatArray, i0: int, i1: int, period: float, fs: float
    ) -> float | None:
        """Height gained between the rests before and after the bout, or None.

        Rest: the moving SD (1 s) of the acceleration under ``rest_sd_mps2``,
        looked for within three step times of the bout's first and last contact.
        """
        reach = int(round(3.0 * period))
        win = max(int(round(fs)), 2)

        def rest(a: int, b: int) -> NDArray[np.bool_]:
            lo, hi = max(a - win, 0), min(b + win, acc.shape[0])
            sd = moving_sd(acc[lo:hi], win)[a - lo : b - lo]
            return sd < self.rest_sd_mps2

        before = np.flatnonzero(rest(max(i0 - reach, 0), i0))
        after = np.flatnonzero(rest(i1, min(i1 + reach, acc.shape[0])))
        if not before.size or not after.size:
            return None
        r0 = max(i0 - reach, 0) + int(before[-1])
        r1 = i1 + int(after[0])
        w = max(int(round(0.3 * fs)), 1)
        offset = float(
            np.mean(np.concatenate([a_v[max(r0 - w, 0) : r0 + 1], a_v[r1 : r1 + w + 1]]))
        )
        a = a_v[r0 : r1 + 1] - offset
        v = np.concatenate(([0.0], np.cumsum(0.5 * (a[1:] + a[:-1])) / fs))
        v -= v[-1] * np.arange(v.size) / max(v.size - 1, 1)  # zero velocity at both rests
        z = np.concatenate(([0.0], np.cumsum(0.5 * (v[1:] + v[:-1])) / fs))
        return float(z[-1])


def _min_distance(interval_s: float, fs: float) -> int:
    """Samples that make at least ``interval_s`` at ``fs`` (a whole number, never
    fewer: 0.25 s at 50 Hz is 13 samples, not the 12 that rounding gives)."""
    return max(int(math.ceil(snap_half(interval_s * fs))), 1)


def _resultant_peaks(
    acc: FloatArray, min_g: float, dist: int, chunk: int = 1 << 18
) -> tuple[NDArray[np.intp], FloatArray]:
    """Peaks of the resultant (g) of at least ``min_g``, one per ``dist`` samples:
    ``scipy.signal.find_peaks(|a| / g, height=min_g, distance=dist)`` and the
    peaks' values, the same peaks.

    Only the stretches above ``min_g``, widened by ``dist`` on each side and
    merged where they touch, are searched (peaks ``dist`` or more apart do not
    compete), all in one search; the resultant is computed in chunks and only
    there, so a day of data needs no day-long temporary.
    """
    n = acc.shape[0]
    above = np.empty(n, dtype=bool)
    lim = (min_g * GRAVITY_MPS2) ** 2
    for c in range(0, n, chunk):
        a = acc[c : c + chunk]
        np.greater_equal(np.einsum("ij,ij->i", a, a), lim, out=above[c : c + chunk])
    starts, stops = index_runs(np.flatnonzero(above))  # the runs of samples above
    lo_all = np.maximum(starts - dist, 0)
    hi_all = np.minimum(stops + dist, n)
    regions: list[tuple[int, int]] = []
    j = 0
    while j < starts.size:
        lo, hi = int(lo_all[j]), int(hi_all[j])
        # (merged also across short gaps: fewer, longer searches, the same peaks)
        while j + 1 < starts.size and lo_all[j + 1] <= hi + 8 * dist:
            j += 1
            hi = int(hi_all[j])
        regions.append((lo, hi))
        j += 1
    if not regions:
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    # one search over the regions' resultants laid end to end, dist samples of -inf
    # between them: no peak is nearer than dist to another region's, so none competes
    # with another region's; a region's first and last samples are never peaks (as
    # at the ends of a search of its own)
    lens = np.array([hi - lo for lo, hi in regions])
    offs = np.concatenate(([0], np.cumsum(lens + dist)[:-1]))
    mag = np.full(int(offs[-1] + lens[-1]), -np.inf)
    for (lo, hi), o in zip(regions, offs.tolist(), strict=True):
        a = acc[lo:hi]
        seg = mag[o : o + hi - lo]
        np.sqrt(np.einsum("ij,ij->i", a, a, out=seg), out=seg)
        seg /= GRAVITY_MPS2
    pk, _ = signal.find_peaks(mag, height=min_g, distance=dist)
    r = np.searchsorted(offs, pk, "right") - 1
    local = pk - offs[r]
    keep = (local > 0) & (local < lens[r] - 1)
    pk, r, local = pk[keep], r[keep], local[keep]
    lo_r = np.array([lo for lo, _hi in regions])[r]
    return local + lo_r, mag[pk]


def _persistent(flags: NDArray[np.bool_], min_run: int) -> NDArray[np.bool_]:
    """``flags`` with runs shorter than ``min_run`` given the value of the longer run beside them.

    A change of movement (walking to hopping) lasts at least a bout; a flag
    that flips for a contact or two is the judgement's window straddling a
    transition, not another movement.
    """
    out = flags.copy()
    while True:
        edges = np.flatnonzero(np.diff(out.astype(np.int8))) + 1
        starts = np.concatenate(([0], edges))
        ends = np.concatenate((edges, [out.size]))
        lengths = ends - starts
        if starts.size < 2 or lengths.min() >= min_run:
            return out
        k = int(np.argmin(lengths))
        left = lengths[k - 1] if k > 0 else -1
        right = lengths[k + 1] if k + 1 < lengths.size else -1
        src = k - 1 if left >= right else k + 1
        out[starts[k] : ends[k]] = out[starts[src]]


def _alternation(a_h: FloatArray, g_hat: FloatArray, i0: int, i1: int, lag: int) -> float:
    """Smallest normalised step-lag autocorrelation of the horizontal acceleration, over directions.

    The 2 x 2 lagged covariance of the horizontal acceleration (in a basis
    perpendicular to the bout's mean gravity direction) is compared with its
    zero-lag covariance (generalised eigenvalues): the result is the
    autocorrelation at one step of the direction that alternates most, -1
    for a perfectly alternating sway, about +1 for a movement repeated the
    same way at every contact.
    """
    if lag < 1 or i1 - i0 <= lag + 2:
        return 0.0
    ux, uy, uz = (float(v) for v in g_hat[i0 : i1 + 1].mean(axis=0))
    nu = math.sqrt(ux * ux + uy * uy + uz * uz)
    ux, uy, uz = ux / nu, uy / nu, uz / nu
    # e1 = u x (1, 0, 0), or u x (0, 1, 0) when u is near the x axis; e2 = u x e1
    e1 = (0.0, uz, -uy) if uz * uz + uy * uy >= 0.01 else (-uz, 0.0, ux)
    n1 = math.sqrt(e1[0] ** 2 + e1[1] ** 2 + e1[2] ** 2)
    e1 = (e1[0] / n1, e1[1] / n1, e1[2] / n1)
    e2 = (uy * e1[2] - uz * e1[1], uz * e1[0] - ux * e1[2], ux * e1[1] - uy * e1[0])
    h = a_h[i0 : i1 + 1] @ np.array([e1, e2]).T
    h -= h.mean(axis=0)
    c0 = h.T @ h / h.shape[0]
    tr0 = float(c0[0, 0] + c0[1, 1])
    if tr0 <= 1e-12:
        return 0.0
    c1 = h[:-lag].T @ h[lag:] / (h.shape[0] - lag)
    c1 = 0.5 * (c1 + c1.T)
    c0 = c0 + 1e-6 * tr0 * np.eye(2)
    # generalised eigenvalues of (c1, c0), both symmetric, c0 positive definite: real,
    # the roots of det(c1 - w c0) = 0
    a = float(c0[0, 0] * c0[1, 1] - c0[0, 1] * c0[1, 0])
    b = -float(
        c1[0, 0] * c0[1, 1] + c1[1, 1] * c0[0, 0] - c1[0, 1] * c0[1, 0] - c1[1, 0] * c0[0, 1]
    )
    c = float(c1[0, 0] * c1[1, 1] - c1[0, 1] * c1[1, 0])
    w_min = (-b - math.sqrt(max(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)
    return float(min(max(w_min, -1.0), 1.0))


def _alternations(
    a_h: FloatArray,
    g_hat: FloatArray,
    i0: NDArray[np.intp],
    i1: NDArray[np.intp],
    lag: NDArray[np.intp],
) -> FloatArray:
    """:func:`_alternation` of many windows ``[i0, i1]`` with lags ``lag`` at once.

    The windows' sums (of the gravity direction, of the horizontal
    acceleration and of its products at lag 0) come from running sums over
    the stretch the windows cover, the products at each window's lag from
    its pairs gathered and summed together, so a run of contacts costs a
    fixed number of array operations; the covariances are then those
    :func:`_alternation` forms from the projected, mean-removed samples
    (equal to rounding: tested).
    """
    out = np.zeros(i0.size)
    ok = (lag >= 1) & (i1 - i0 > lag + 2)
    if not ok.any():
        return out
    i0, i1, lag = i0[ok], i1[ok], lag[ok]
    base, stop = int(i0.min()), int(i1.max()) + 1
    a = a_h[base:stop]
    j0, j1 = i0 - base, i1 - base + 1  # half-open, relative to the stretch
    m = (j1 - j0).astype(np.float64)

    def running(x: FloatArray) -> FloatArray:
        c = np.zeros((x.shape[0] + 1, *x.shape[1:]))
        np.cumsum(x, axis=0, out=c[1:])
        return c

    gsum = running(g_hat[base:stop])
    u = gsum[j1] - gsum[j0]
    u /= m[:, None]  # the windows' mean gravity direction
    u /= np.sqrt(np.einsum("ij,ij->i", u, u))[:, None]
    ux, uy, uz = u.T
    # e1 = u x (1, 0, 0), or u x (0, 1, 0) when u is near the x axis; e2 = u x e1
    near_x = uz * uz + uy * uy < 0.01
    basis = np.empty((u.shape[0], 2, 3))
    e1 = basis[:, 0]
    e1[:, 0] = np.where(near_x, -uz, 0.0)
    e1[:, 1] = np.where(near_x, 0.0, uz)
    e1[:, 2] = np.where(near_x, ux, -uy)
    e1 /= np.sqrt(np.einsum("ij,ij->i", e1, e1))[:, None]
    ex, ey, ez = e1.T
    basis[:, 1, 0] = uy * ez - uz * ey
    basis[:, 1, 1] = uz * ex - ux * ez
    basis[:, 1, 2] = ux * ey - uy * ex
    s1 = running(a)
    s2 = running(np.einsum("ti,tj->tij", a, a))
    mu = (s1[j1] - s1[j0]) / m[:, None]
    cov0 = (s2[j1] - s2[j0]) / m[:, None, None] - np.einsum("wi,wj->wij", mu, mu)
    # the lagged products of every window: its pairs (t, t + lag) gathered, summed per window
    n_pairs = j1 - j0 - lag
    starts = np.concatenate(([0], np.cumsum(n_pairs)[:-1]))
    t = np.arange(int(n_pairs.sum())) - np.repeat(starts - j0, n_pairs)
    prod = np.einsum("ti,tj->tij", a[t], a[t + np.repeat(lag, n_pairs)])
    p = np.add.reduceat(prod, starts, axis=0)
    first = s1[j1 - lag] - s1[j0]  # samples t of the pairs
    second = s1[j1] - s1[j0 + lag]  # samples t + lag
    cov1 = (p - np.einsum("wi,wj->wij", first, mu) - np.einsum("wi,wj->wij", mu, second)) / n_pairs[
        :, None, None
    ] + np.einsum("wi,wj->wij", mu, mu)
    c0 = np.einsum("wai,wij,wbj->wab", basis, cov0, basis)
    c1 = np.einsum("wai,wij,wbj->wab", basis, cov1, basis)
    c1 = 0.5 * (c1 + np.swapaxes(c1, 1, 2))
    tr0 = c0[:, 0, 0] + c0[:, 1, 1]
    c0[:, 0, 0] += 1e-6 * tr0
    c0[:, 1, 1] += 1e-6 * tr0
    qa = c0[:, 0, 0] * c0[:, 1, 1] - c0[:, 0, 1] * c0[:, 1, 0]
    qb = -(
        c1[:, 0, 0] * c0[:, 1, 1]
        + c1[:, 1, 1] * c0[:, 0, 0]
        - c1[:, 0, 1] * c0[:, 1, 0]
        - c1[:, 1, 0] * c0[:, 0, 1]
    )
    qc = c1[:, 0, 0] * c1[:, 1, 1] - c1[:, 0, 1] * c1[:, 1, 0]
    live = tr0 > 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        w_min = (-qb - np.sqrt(np.maximum(qb * qb - 4.0 * qa * qc, 0.0))) / (2.0 * qa)
    res = np.where(live, np.clip(w_min, -1.0, 1.0), 0.0)
    out[np.flatnonzero(ok)] = res
    return out


def _regularity(a_v: FloatArray, i0: int, i1: int, lag: int) -> float:
    """Normalised autocorrelation of the vertical acceleration at one step (step regularity)."""
    x = a_v[i0 : i1 + 1]
    if lag < 1 or x.size <= lag + 2:
        return 0.0
    x = x - x.mean()
    a, b = x[:-lag], x[lag:]
    den = math.sqrt(float(np.sum(a * a)) * float(np.sum(b * b)))
    return float(np.sum(a * b) / den) if den > 0 else 0.0


def _checked(acc_mps2: ArrayLike, fs_hz: float) -> FloatArray:
    acc = np.asarray(acc_mps2, dtype=np.float64)
    if acc.ndim != 2 or acc.shape[1] != 3:
        raise RecordingError(f"impact loading needs (N, 3) acceleration, got shape {acc.shape}")
    if not np.all(np.isfinite(acc)):
        raise RecordingError("acceleration contains NaN or infinite values")
    fs = float(fs_hz)
    if not (math.isfinite(fs) and fs > 0):
        raise RecordingError(f"impact loading needs a positive sampling rate, got {fs_hz!r}")
    return acc


class ImpactLoading:
    """Steps, stairs, impacts over 2 g and 4 g, osteogenic index and daily impact score.

    Parameters
    ----------
    thresholds_g : impact thresholds counted (default 2 and 4 g; 4 g is the
        osteogenic threshold of the hip-accelerometry studies, clinical.md
        section 5).
    min_peak_g : least peak entering the histogram (default 1.1 g: walking
        gives 1.2-1.8 g at the lower back; lower peaks are sway, turning and
        noise).
    min_interval_s : one peak per this interval (default 0.25 s, module docstring).
    bin_g : histogram bin width (default 0.1 g).
    dis_exponent : exponent m of the daily impact score (default 4).
    clip_window_s : half-width of the window searched for clipped samples
        around a peak (default 0.05 s).
    steps : a :class:`StepDetector` (default parameters when None).

    Attributes
    ----------
    peaks_s_, peaks_g_ : every peak's time and value (g; saturated peaks at
        their lower bound).
    saturated_ : per peak, whether it was clipped.
    bouts_ : :class:`GaitBout` list; ``steps_``: steps in gait bouts.
    clipped_samples_ : clipped samples in the whole recording.
    """

    version = "1.2"

    def __init__(
        self,
        *,
        thresholds_g: tuple[float, ...] = (2.0, 4.0),
        min_peak_g: float = 1.1,
        min_interval_s: float = 0.25,
        bin_g: float = 0.1,
        dis_exponent: float = 4.0,
        clip_window_s: float = 0.05,
        steps: StepDetector | None = None,
    ) -> None:
        self.thresholds_g = thresholds_g
        self.min_peak_g = min_peak_g
        self.min_interval_s = min_interval_s
        self.bin_g = bin_g
        self.dis_exponent = dis_exponent
        self.clip_window_s = clip_window_s
        self.steps = steps

    def get_params(self) -> dict[str, Any]:
        out = {
            k: v
            for k, v in vars(self).items()
            if not k.endswith("_") and not k.startswith("_") and k != "steps"
        }
        out["thresholds_g"] = list(self.thresholds_g)
        out["steps"] = (self.steps or StepDetector()).get_params()
        return out

    # -- actions ------------------------------------------------------------------

    def analyze(
        self, acc_mps2: ArrayLike, fs_hz: float, *, time_s: ArrayLike | None = None
    ) -> ImpactLoading:
        """Analyse (N, 3) acceleration at ``fs_hz`` (``time_s``: the sample times, if
        not ``arange(N) / fs_hz``; peaks are read from these samples, steps are
        found on a uniform grid)."""
        acc = _checked(acc_mps2, fs_hz)
        if not acc.shape[0]:
            raise TooShortError("impact loading needs at least one acceleration sample; got none")
        fs = float(fs_hz)
        t = np.arange(acc.shape[0]) / fs if time_s is None else np.asarray(time_s, float)
        if t.shape != (acc.shape[0],):
            raise RecordingError("time_s must have one value per acceleration sample")
        self._peaks(acc, t, fs)
        det = self._detector()
        det.detect(acc, fs, t0_s=float(t[0]))
        self.bouts_ = list(det.bouts_)
        self._finish(float(t[-1] - t[0]) + 1.0 / fs)
        return self

    def analyze_recording(self, rec: Recording) -> ImpactLoading:
        """Peaks from the recorded samples; steps on each gap-free stretch."""
        fs = rec.fs_est_hz
        self._peaks(np.asarray(rec.acc_mps2), np.asarray(rec.time_s), fs)
        bouts: list[GaitBout] = []
        for seg in uniform_segments(rec):
            det = self._detector()
            det.detect(seg.acc_mps2, seg.fs_hz, t0_s=seg.t0_s)
            bouts += det.bouts_
        self.bouts_ = bouts
        self._finish(rec.duration_s)
        return self

    # -- steps of the analysis -----------------------------------------------------

    def _detector(self) -> StepDetector:
        """A fresh step detector with this analysis's step parameters (never the given one)."""
        return StepDetector(**self.steps.get_params()) if self.steps else StepDetector()

    def _peaks(self, acc: FloatArray, t: FloatArray, fs: float) -> None:
        dist = _min_distance(self.min_interval_s, fs)
        pk, values = _resultant_peaks(acc, self.min_peak_g, dist)
        self.clipped_samples_ = detect_clipping(acc)
        w = max(int(round(self.clip_window_s * fs)), 2)
        sat = np.zeros(pk.size, dtype=bool)
        scales = np.asarray(FULL_SCALES_G)
        for j in self._clip_candidates(acc, pk, w).tolist():
            i = int(pk[j])
            win = acc[max(i - w, 0) : i + w + 1]
            if float(np.abs(win).max()) < CLIP_MIN_LEVEL_MPS2:
                continue  # no axis high enough to be a sensor's range
            if not (
                detect_clipping(win)
                or detect_clipping(
                    win, min_run_at_full_scale=1, full_scale_tolerance=SINGLE_SAMPLE_TOLERANCE
                )
            ):
                continue
            sat[j] = True
            level = float(np.abs(win).max()) / GRAVITY_MPS2
            near = scales[np.abs(level / scales - 1.0) <= 0.03]
            values[j] = max(values[j], float(near[0]) if near.size else level)
        self.peaks_s_ = t[pk]
        self.peaks_g_ = values
        self.saturated_ = sat

    @staticmethod
    def _clip_candidates(acc: FloatArray, pk: NDArray[np.intp], w: int) -> NDArray[np.intp]:
        """Peaks whose window (``w`` samples either side) may hold clipping.

        A necessary condition of :func:`detect_clipping` (either way it is
        called in :meth:`_peaks`): an axis's extreme in the window reaches
        :data:`CLIP_MIN_LEVEL_MPS2` and is held for two samples or lies within
        3 % of a full-scale range. Checked for all peaks at once; only these go
        through the exact test.
        """
        if not pk.size:
            return pk
        idx = np.clip(pk[:, None] + np.arange(-w, w + 1)[None, :], 0, acc.shape[0] - 1)
        win = acc[idx]  # (peaks, 2w + 1, 3); edge samples repeated: a superset, as wanted
        scales = np.asarray(FULL_SCALES_G) * GRAVITY_MPS2
        ok = np.zeros(pk.size, dtype=bool)
        for ext in (win.max(axis=1), win.min(axis=1)):  # (peaks, 3)
            held = (win == ext[:, None, :]).sum(axis=1) >= 2
            lvl = np.abs(ext)
            near = (np.abs(lvl[..., None] / scales - 1.0) <= 0.03).any(axis=-1)
            ok |= ((lvl >= CLIP_MIN_LEVEL_MPS2) & (held | near)).any(axis=1)
        return np.flatnonzero(ok)

    def _finish(self, duration_s: float) -> None:
        self.duration_s_ = duration_s
        self.steps_ = int(sum(b.steps for b in self.bouts_))
        self.stair_steps_ = int(sum(b.steps for b in self.bouts_ if b.kind.startswith("stairs")))
        p = self.peaks_g_
        self.counts_ = {f"{th:g}": int(np.sum(p >= th)) for th in self.thresholds_g}
        self.osteogenic_index_ = osteogenic_index(p, bin_g=self.bin_g)
        self.daily_impact_score_ = daily_impact_score(p, exponent=self.dis_exponent)
        self.peak_g_ = float(p.max()) if p.size else None

    def result(self) -> dict[str, Any]:
        """The ``loading`` JSON block."""
        p, sat = self.peaks_g_, self.saturated_
        over = {f"impacts_over_{k}g": v for k, v in self.counts_.items()}
        bins: dict[str, int] = {}
        if p.size:
            idx = np.floor(p / self.bin_g + 1e-9).astype(int)
            for b, c in zip(*np.unique(idx, return_counts=True), strict=True):
                bins[f"{b * self.bin_g:.1f}"] = int(c)
        gait = [b for b in self.bouts_ if b.gait]
        walk_s = sum(b.end_s - b.start_s for b in gait)
        sat_levels = p[sat]
        return {
            "steps": self.steps_,
            **over,
            "osteogenic_index": self.osteogenic_index_,
            "peak_g": self.peak_g_,
            "peak_g_is_lower_bound": bool(sat.any() and p.size and p[sat].max() >= p.max()),
            "saturated_peaks": int(sat.sum()),
            "saturated_range_g": float(sat_levels.min()) if sat_levels.size else None,
            "clipped_samples": int(self.clipped_samples_),
            "daily_impact_score": self.daily_impact_score_,
            "peaks": int(p.size),
            "stair_steps": self.stair_steps_,
            "stair_bouts": sum(1 for b in self.bouts_ if b.kind.startswith("stairs")),
            "run_steps": int(sum(b.steps for b in self.bouts_ if b.kind == "run")),
            "hops": int(sum(len(b.contacts_s) for b in self.bouts_ if b.kind == "hops")),
            "gait_s": walk_s,
            "cadence_spm": (float(np.median([b.cadence_spm for b in gait])) if gait else None),
            "bouts": [b.as_dict() for b in self.bouts_],
            "histogram_g": bins,
            "analysed_s": self.duration_s_,
            "algorithm": {"name": "ImpactLoading", "version": self.version, **self.get_params()},
        }
