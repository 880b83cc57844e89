"""A simulated patient wearing a simulated sensor, for the demo, the tests and the benchmark.

The simulated Bluetooth sensors of :mod:`balance_mon.devices.virtual` play a
:class:`~balance_mon.devices.virtual.SignalSource`. :class:`ScriptedSource`
is one whose content can be switched while it streams: the
:class:`SimulatedPatient` listens to the protocol runner and, at each step,
plays the matching part of a simulated session from ``sample_data/simulated``
(their ground truth says where each stance, stand or exercise set lies): the
repositioning before a stance while the examiner waits for the patient to be
steady, the stance itself when the hold starts (a tandem stance that ends in
a loss of balance for the at-risk patient), the 30 s of stands after "Go",
each exercise set when its set starts, quiet standing during rests. Between
runs it plays the demo recording (a home exercise session) so that the live
view always has something to show.

Everything goes through the real streaming path (bleak API, device
protocol, decoder, clock alignment, session); only the signal is scripted.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import load_recording
from ..recording import Recording

__all__ = [
    "DEMO_SOURCE",
    "ScriptedSource",
    "SimulatedPatient",
    "make_virtual_air",
    "sample_dir",
]

log = logging.getLogger(__name__)

#: The recording the demo streams between runs (visible activity: squats, heel raises).
DEMO_SOURCE = "simulated/home/home_session_lower_back.csv"


def sample_dir() -> Path | None:
    """``sample_data/`` of the source tree (or of the current folder), if present."""
    here = Path(__file__).resolve()
    for cand in (here.parents[3] / "sample_data", Path.cwd() / "sample_data"):
        if (cand / "simulated").is_dir():
            return cand
    return None


@dataclass
class _Script:
    rec: Recording
    start_s: float
    then: Recording  # looped after the end of ``rec``
    then_t0: float
    then_t1: float
    end_s: float | None = None  # play ``rec`` up to here (default: its end)


class ScriptedSource:
    """A switchable signal source for a simulated peripheral (see the module docstring).

    ``block(k0, n, fs_hz)`` is called from the BLE worker thread; :meth:`play`
    from the GUI thread sets the next script, taken up at the next block.
    """

    def __init__(self, idle: Recording, *, idle_window: tuple[float, float] | None = None) -> None:
        t0 = float(idle.time_s[0])
        t1 = float(idle.time_s[-1])
        if idle_window is not None:
            t0, t1 = idle_window
        self.idle = idle
        self._idle_win = (t0, t1)
        self._lock = threading.Lock()
        self._pending: _Script | None = None
        self._script: _Script | None = None
        self._k_start = 0
        self.switches = 0
        self.loop = False  #: loop the whole script (demo ambient) instead of idling after it

    def play(
        self,
        rec: Recording,
        start_s: float = 0.0,
        *,
        then: Recording | None = None,
        then_window: tuple[float, float] | None = None,
        loop: bool = False,
        end_s: float | None = None,
    ) -> None:
        """Play ``rec`` from ``start_s`` (to ``end_s``), then loop ``then`` (default: idle);
        with ``loop`` the played part itself repeats."""
        idle = then if then is not None else self.idle
        win = then_window or (
            self._idle_win if then is None else (float(idle.time_s[0]), float(idle.time_s[-1]))
        )
        with self._lock:
            self._pending = _Script(rec, float(start_s), idle, win[0], win[1], end_s)
            self.loop = loop

    def play_idle(self) -> None:
        """Quiet standing (the idle window, looped)."""
        self.play(self.idle, self._idle_win[0], end_s=self._idle_win[1], loop=True)

    @staticmethod
    def _sample(rec: Recording, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acc = np.column_stack([np.interp(t, rec.time_s, rec.acc_mps2[:, i]) for i in range(3)])
        if rec.gyr_dps is not None:
            gyr = np.column_stack([np.interp(t, rec.time_s, rec.gyr_dps[:, i]) for i in range(3)])
        else:
            gyr = np.zeros_like(acc)
        return acc, gyr

    def block(self, k0: int, n: int, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._pending is not None:
                self._script, self._pending = self._pending, None
                self._k_start = k0
                self.switches += 1
            sc = self._script
            loop = self.loop
        if sc is None:
            sc = _Script(
                self.idle, self._idle_win[0], self.idle, *self._idle_win, end_s=self._idle_win[1]
            )
            self._script = sc
            self._k_start = k0
            loop = True
        t = sc.start_s + (k0 - self._k_start + np.arange(n, dtype=np.float64)) / fs_hz
        end = (
            float(sc.rec.time_s[-1])
            if sc.end_s is None
            else min(sc.end_s, float(sc.rec.time_s[-1]))
        )
        if loop:
            span = end - sc.start_s
            t = sc.start_s + np.mod(t - sc.start_s, span)
            return self._sample(sc.rec, t)
        inside = t <= end
        acc = np.zeros((n, 3))
        gyr = np.zeros((n, 3))
        if inside.any():
            acc[inside], gyr[inside] = self._sample(sc.rec, t[inside])
        if not inside.all():
            span = max(sc.then_t1 - sc.then_t0, 1e-3)
            tt = sc.then_t0 + np.mod(t[~inside] - end, span)
            acc[~inside], gyr[~inside] = self._sample(sc.then, tt)
        return acc, gyr


def _truth(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.with_suffix(".truth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class SimulatedPatient:
    """Plays the right part of a simulated session at each step of a run.

    Parameters
    ----------
    source : ScriptedSource
        The simulated sensor's signal.
    at_risk : bool
        Lose balance in tandem stance (four-stage test) instead of holding it.
    ambient : path, optional
        Recording played (looped) between runs; default :data:`DEMO_SOURCE`.
    """

    def __init__(
        self,
        source: ScriptedSource,
        *,
        at_risk: bool = False,
        ambient: str | Path | None = None,
        ambient_start_s: float = 3.0,
    ) -> None:
        self.source = source
        self.at_risk = at_risk
        self._cache: dict[str, tuple[Recording, dict[str, Any]]] = {}
        self.ambient_path = ambient
        self.ambient_start_s = ambient_start_s
        self.log: list[tuple[str, str, float]] = []  #: (step key, file, start_s)
        self.plan_name = ""
        self.reset()

    def start_run(self, plan: Any) -> None:
        """A run of ``plan`` (a RunPlan) begins."""
        self.plan_name = getattr(plan, "name", "")
        self.reset()

    # -- recordings ----------------------------------------------------------------------

    def _load(self, rel: str) -> tuple[Recording, dict[str, Any]]:
        if rel not in self._cache:
            base = sample_dir()
            path = Path(rel) if Path(rel).is_absolute() else (base / rel if base else None)
            if path is not None and path.exists():
                self._cache[rel] = (load_recording(path), _truth(path))
            else:
                self._cache[rel] = _generate(rel)
        return self._cache[rel]

    def ambient(self) -> None:
        """Play the demo recording, looped."""
        rel = str(self.ambient_path or DEMO_SOURCE)
        rec, _ = self._load(rel)
        self.source.play(rec, self.ambient_start_s, loop=True)

    def idle(self) -> None:
        self.source.play_idle()

    # -- the runner's steps -------------------------------------------------------------

    def on_step(self, step: Any) -> None:
        try:
            self._on_step(step)
        except Exception:  # the simulation must never break a run
            log.exception("simulated patient: no script for %s", getattr(step, "key", step))

    def on_finished(self, *_: Any) -> None:
        self.idle()

    def _play(self, step: Any, rel: str, start_s: float, **kw: Any) -> None:
        rec, _ = self._load(rel)
        self.source.play(rec, start_s, **kw)
        self.log.append((step.key, rel, start_s))

    def _on_step(self, step: Any) -> None:
        kind = step.kind
        cond = step.condition
        plan = self.plan_name
        if step.exercise is not None:  # home programme
            if kind == "set":
                rel, t = self._home_set(step.exercise, step.set_no or 1)
                self._play(step, rel, t)
            elif kind in ("intro", "rest"):
                self.idle()
            return
        if plan == "steadi_four_stage":
            rel = (
                "simulated/clinic/four_stage_tandem_lost.csv"
                if self.at_risk
                else "simulated/clinic/four_stage_all_held.csv"
            )
            _rec, truth = self._load(rel)
            phases = truth.get("phases", [])
            if kind == "position":
                tr = next(
                    (p for p in phases if p["name"] == "transition" and p.get("to") == cond), None
                )
                if tr is not None:
                    self._play(step, rel, float(tr["start_s"]))
                else:
                    self.idle()
            elif kind == "perform":
                st = next(
                    (p for p in phases if p["name"] == "stance" and p.get("stance") == cond), None
                )
                if st is None:  # the at-risk file stops after tandem: single leg is not reached
                    self.idle()
                else:
                    self._play(step, rel, float(st["start_s"]))
            return
        if plan == "chair_stand_30s":
            self._chair(step)
            return
        if plan == "tug":
            self._tug(step)
            return
        if kind == "perform":
            rel = _STANCE_FILES.get(cond or "", "simulated/clinic/romberg_eyes_open.csv")
            self._play(step, rel, 0.0)
        elif kind == "position":
            self.idle()

    def _chair(self, step: Any) -> None:
        rel = "simulated/clinic/chair_stand_30s.csv"
        rec, truth = self._load(rel)
        start = float(truth.get("test_start_s", 3.0))
        if step.kind == "position":
            self._play(step, rel, 0.0, then=rec, then_window=(0.3, max(start - 0.3, 0.6)))
        elif step.kind == "perform":
            end = float(rec.time_s[-1])
            self._play(step, rel, start, then=rec, then_window=(end - 2.0, end))

    def _tug(self, step: Any) -> None:
        rel = "simulated/clinic/tug.csv"
        rec, truth = self._load(rel)
        start = next(
            (e["time_s"] for e in truth.get("events", []) if e["name"] == "test_start"), 3.0
        )
        if step.kind == "position":
            self._play(step, rel, 0.0, then=rec, then_window=(0.3, float(start) - 0.3))
        elif step.kind == "perform":
            end = float(rec.time_s[-1])
            self._play(step, rel, float(start), then=rec, then_window=(end - 2.0, end))

    def _home_set(self, exercise: str, set_no: int) -> tuple[str, float]:
        rel = "simulated/home/home_session_lower_back.csv"
        _rec, truth = self._load(rel)
        sets = [p for p in truth.get("phases", []) if p["name"] == "set"]
        mine = [p for p in sets if p.get("exercise") == exercise]
        if mine:
            # the n-th set of this exercise in the whole programme (cycling through the file)
            k = self._set_counter.get(exercise, 0)
            self._set_counter[exercise] = k + 1
            return rel, float(mine[k % len(mine)]["start_s"]) - 0.5
        gen = f"generated/set/{exercise}"
        self._load(gen)
        return gen, 0.0

    _set_counter: dict[str, int]

    def reset(self) -> None:
        self._set_counter = {}


_STANCE_FILES = {
    "eyes_open": "simulated/clinic/romberg_eyes_open.csv",
    "eyes_closed": "simulated/clinic/romberg_eyes_closed.csv",
    "eyes_open_firm": "simulated/clinic/ctsib_firm_eyes_open.csv",
    "eyes_closed_firm": "simulated/clinic/ctsib_firm_eyes_closed.csv",
    "eyes_open_foam": "simulated/clinic/ctsib_foam_eyes_open.csv",
    "eyes_closed_foam": "simulated/clinic/ctsib_foam_eyes_closed.csv",
}


def _generate(rel: str) -> tuple[Recording, dict[str, Any]]:
    """Sessions made with balance_mon.sim when sample_data/ is not at hand (installed package)."""
    from .. import sim

    if rel.startswith("generated/set/"):
        ex = rel.rsplit("/", 1)[1]
        res = sim.simulate_exercise_set(ex, reps=10, seed=5)
        return res.recording, res.truth
    name = Path(rel).stem
    if name.startswith("four_stage"):
        res = sim.simulate_four_stage(
            fail_stance="tandem" if "lost" in name else None, fail_at_s=6.5, seed=11
        )
    elif name.startswith("chair_stand"):
        res = sim.simulate_chair_stand(10, partial=0.6, seed=13)
    elif name == "tug":
        res = sim.simulate_tug(seed=14)
    elif name.startswith("home_session"):
        res = sim.simulate_home_session(exercises=["squat", "heel_raise", "arm_raise"], seed=21)
    elif name.startswith(("romberg", "ctsib", "stance")):
        eyes = "closed" if "closed" in name else "open"
        res = sim.simulate_stance("feet_together", eyes=eyes, duration_s=30.0, seed=3)
    else:
        res = sim.simulate_stance("feet_apart", duration_s=30.0, seed=1)
    return res.recording, res.truth


def make_virtual_air(
    models: list[str],
    *,
    patient: bool = True,
    seed: int = 0,
    faults: Any = None,
) -> tuple[Any, list[ScriptedSource]]:
    """A VirtualAir with one simulated sensor per model, each playing a ScriptedSource."""
    from ..devices.virtual import VirtualAir, make_peripheral

    sources = []
    peripherals = []
    idle_rec = _idle_recording()
    for i, m in enumerate(models):
        p = make_peripheral(m, seed=seed + i, faults=faults)
        src = ScriptedSource(idle_rec[0], idle_window=idle_rec[1])
        p.signal = src  # the peripheral samples its `signal` attribute
        sources.append(src)
        peripherals.append(p)
    return VirtualAir(peripherals), sources


def _idle_recording() -> tuple[Recording, tuple[float, float]]:
    """Quiet standing (the first seconds of the demo session, before the first exercise)."""
    base = sample_dir()
    path = base / DEMO_SOURCE if base else None
    if path is not None and path.exists():
        rec = load_recording(path)
        return rec, (0.3, 4.6)
    from .. import sim

    res = sim.simulate_stance("feet_apart", duration_s=10.0, seed=1)
    return res.recording, (0.3, 9.5)
