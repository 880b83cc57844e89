"""Run a clinical protocol or a home session step by step on a live sensor.

:class:`RunController` connects the live stream of one sensor to

- for clinical tests, :class:`balance_mon.protocols.ProtocolRunner`, the
  protocols package's state machine (steps, attempts, repeats, stop on
  failure, validity rules, norms). The controller feeds it time, the
  examiner's keys and what the signal says, and carries out its actions:

  * ``position`` steps with ``auto_start`` end when the person is steady
    (moving SD of ``|acc|`` below :data:`STILL_SD_MPS2` for :data:`STILL_S`),
    or on Enter;
  * during a hold, :class:`~balance_mon.analysis.balance.BalanceLossDetector`
    runs on the hold so far every :data:`CHECK_EVERY_S` and reports a loss of
    balance (``on_balance_lost``: the trial stops, STEADI stops the test);
  * chair stands are counted live for the screen
    (:class:`~balance_mon.analysis.transitions.TransitionDetector`);
  * ``start_recording`` / ``stop_recording`` cut the trial out of the
    captured stream; its analysis runs on a worker thread and the result goes
    back to the runner (``on_trial_result``);
  * a sensor that drops during a trial reports a sensor gap once the gap
    exceeds the rule's limit: the runner marks the trial invalid and repeats
    it (``max_invalid``); the run pauses with a message until the sensor is
    back;

- for the home programme, its own walk through the sets (introduction with
  a countdown, the set with every repetition counted by
  :class:`~balance_mon.analysis.reps.LiveRepCounter` and spoken, rests).

Every step starts and ends on the stream's own time axis (the shared
:class:`~balance_mon.app.clock.AppClock` mapped to the recording's seconds),
so trial boundaries are exact positions in the recording whatever the GUI's
latency, and countdowns follow accelerated time in tests. At the end each
trial's recording is stored and scored by the store (one transaction per
trial) on its thread; :attr:`RunController.finished` carries the
:class:`RunResult` with what the database holds.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ..analysis.balance import BalanceLossDetector
from ..analysis.transitions import TransitionDetector
from ..errors import BalanceMonError, UnsupportedTestError
from ..recording import Recording
from .clock import AppClock
from .live import LiveStream, TrialCapture
from .plans import RunPlan, RunStep, repeat_trial
from .speech import Speaker
from .store_adapter import AppStore, TrialToSave

__all__ = ["RunController", "RunResult", "TrialRecord", "chair_stand_fallback"]

log = logging.getLogger(__name__)

#: Real seconds a trial's recording waits for its last samples before it is cut
#: with what has arrived (BLE delivers a packet within about 0.1-0.5 s).
CUT_WAIT_REAL_S = 2.0

#: Seconds of stream between live analyses (balance loss, chair stands).
CHECK_EVERY_S = 0.5
#: "Still": SD of |acc| over STILL_S below this (quiet stance: 0.02-0.06 m/s^2).
STILL_SD_MPS2 = 0.15
STILL_S = 1.0
#: A position step lasts at least this long (time to read and hear the instruction).
MIN_POSITION_S = 2.0
#: A home set ends when the person, having moved, has been quiet for QUIET_S: the SD
#: of |acc| in every 1-s window below QUIET_SD_MPS2. Squats and heel raises at the
#: lower back keep it above 0.15 m/s^2, quiet standing stays below 0.03 m/s^2
#: (simulated home session of sample_data).
QUIET_S = 2.5
QUIET_SD_MPS2 = 0.08
MOVING_SD_MPS2 = 0.15
#: Seconds of data before "Go" and after the end kept with chair-stand and TUG trials.
#: Spoken (and shown) when the trunk flexes beyond the patient's limit in a set.
BACK_CUE = "Keep your back straight: bend at the hips and knees"
#: Spoken (and shown) on a quick trunk twist (gyroscope).
TWIST_CUE = "Turn slowly: move your feet to turn, not your back"

PAD_BEFORE_S = 1.0
PAD_AFTER_S = 3.0

_ANALYSIS_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="balance_mon analysis")


@dataclass
class TrialRecord:
    """What happened in one attempt of one condition (or one exercise set)."""

    key: str
    condition: str | None
    attempt: int
    exercise: str | None = None
    set_no: int | None = None
    start_s: float | None = None  #: perform start, stream time
    end_s: float | None = None
    outcome: str = "pending"  #: completed, failed, invalid, stopped, running
    reason: str = ""
    value: float | None = None
    loss_s: float | None = None  #: detected loss of balance onset, s into the trial
    live_count: int = 0
    target_reps: int | None = None
    interruptions: list[dict[str, Any]] = field(default_factory=list)
    recording: Recording | None = None
    #: home sets: peak trunk inclination of each counted repetition, deg (NaN: unknown)
    rep_peaks_deg: list[float] = field(default_factory=list)
    #: home sets: spoken alignment warnings (flexion or twist)
    alignment_warnings: int = 0

    @property
    def valid(self) -> bool:
        return self.outcome in ("completed", "failed")

    def as_dict(self, t0: float) -> dict[str, Any]:
        def rel(v: float | None) -> float | None:
            return None if v is None else round(v - t0, 3)

        return {
            "key": self.key,
            "condition": self.condition,
            "attempt": self.attempt,
            "exercise": self.exercise,
            "set": self.set_no,
            "start_s": rel(self.start_s),
            "end_s": rel(self.end_s),
            "outcome": self.outcome,
            "reason": self.reason,
            "value": self.value,
            "loss_of_balance_s": self.loss_s,
            "live_count": self.live_count,
            "target_reps": self.target_reps,
            "rep_peaks_deg": [
                round(v, 1) if math.isfinite(v) else None for v in self.rep_peaks_deg
            ],
            "alignment_warnings": self.alignment_warnings,
            "interruptions": [
                {k: (rel(v) if k in ("at_s", "reconnected_s") else v) for k, v in i.items()}
                for i in self.interruptions
            ],
        }


@dataclass
class RunResult:
    """A finished (or stopped) run and what the store made of it."""

    plan: RunPlan
    patient_code: str | None
    trials: list[TrialRecord]
    started: str
    duration_s: float
    completed: bool
    message: str = ""
    protocol_result: Any = None  #: protocols.ProtocolResult (clinical tests)
    session_id: int | None = None
    saved: list[Any] = field(default_factory=list)  #: store_adapter.SavedTrial
    trend_flags: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    interruptions: list[dict[str, Any]] = field(default_factory=list)

    def count_for(self, exercise: str) -> int:
        """Repetitions of ``exercise`` as stored (sum over its sets)."""
        return int(sum(s.value("reps") or 0 for s in self.saved if s.condition == exercise))


def chair_stand_fallback(rec: Recording, test_s: float = 30.0) -> dict[str, Any]:
    """A ``chair_stand`` block while the registry has no chair-stand analysis.

    Sit-to-stand transfers (TransitionDetector) whose velocity peak (about the
    halfway point, STEADI's "more than halfway up counts") lies within
    ``test_s`` of the first one's start: the rule of the store's built-in
    scorer. Marked with its provenance.
    """
    det = TransitionDetector().detect_recording(rec)
    ups = det.sit_to_stand_
    if not ups:
        return {"chair_stand": {"count": 0, "complete": True, "note": "no stand found"}}
    t0 = ups[0].start_s
    counted = [u for u in ups if u.peak_s <= t0 + test_s]
    end = float(rec.time_s[-1])
    return {
        "chair_stand": {
            "count": len(counted),
            "complete": end >= t0 + test_s - 0.5,
            "stand_times_s": [round(u.end_s, 3) for u in counted],
            "algorithm": {
                "name": "balance_mon.app.chair_stand_fallback",
                "version": "0.1",
                "rule": "sit-to-stand peaks within 30 s of the first start",
                "detector": {"name": "TransitionDetector", "version": det.version},
            },
        }
    }


def _analyse(name: str, rec: Recording) -> dict[str, Any]:
    from ..analysis.registry import run_analysis

    try:
        return run_analysis(name, rec)
    except UnsupportedTestError:
        if name == "chair-stand":
            return chair_stand_fallback(rec)
        raise


class RunController(QObject):
    """Walks a plan on a live sensor (see the module docstring)."""

    step_started = Signal(object)  #: RunStep
    progress = Signal(dict)  #: {"remaining_s", "elapsed_s", "count", "target", "tempo_s"}
    message = Signal(str, str)  #: (level: info/warn/ok/risk, text)
    trial_done = Signal(object)  #: TrialRecord
    finished = Signal(object)  #: RunResult
    paused = Signal(bool)

    def __init__(
        self,
        plan: RunPlan,
        *,
        clock: AppClock,
        connection: Any,
        live: LiveStream,
        speaker: Speaker,
        store: AppStore | None,
        patient: Any = None,
        auto_confirm_s: float | None = None,
        placement: str = "lower_back",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.plan = plan
        self.clock = clock
        self.conn = connection
        self.live = live
        self.speaker = speaker
        self.store = store
        self.patient = patient
        self.patient_code = getattr(patient, "code", None)
        self.auto_confirm_s = auto_confirm_s
        self.placement = placement
        self.fs_hz = float(getattr(connection, "fs_hz", None) or live.fs_hz)
        self.clinic = plan.setting == "clinic"
        self.pr: Any = None
        if self.clinic:
            from ..protocols import Patient as PPatient
            from ..protocols import ProtocolRunner

            age = sex = None
            if patient is not None:
                age = patient.age_in(dt.date.today().year)
                sex = patient.sex if patient.sex in ("female", "male") else None
            self.pr = ProtocolRunner(
                plan.protocol, PPatient(id=self.patient_code, age_years=age, sex=sex)
            )
        self.steps: list[RunStep] = list(plan.steps)  # home walk
        self.i = -1
        self.step: RunStep | None = None
        self.step_t0 = 0.0
        self._state_key: tuple[Any, ...] | None = None
        self.trials: dict[str, TrialRecord] = {}
        self.order: list[str] = []
        self.current: TrialRecord | None = None
        self.capture: TrialCapture | None = None
        self.t_run0 = 0.0
        self.running = False
        self.is_paused = False
        self.done = False
        self._interruption: dict[str, Any] | None = None
        self._gap_reported = False
        self.interruptions: list[dict[str, Any]] = []
        self._last_check = -math.inf
        self._last_spoken: int | None = None
        self._stands: list[Any] = []
        self._last_rep_s = -math.inf
        self._confirmed = False
        self._invalid_count: dict[str, int] = {}
        self._finishing_until: float | None = None
        self._end_s: float | None = None
        self._started_wall = ""
        self._analysis: tuple[Future[Any], TrialRecord] | None = None
        self._cuts: list[tuple[TrialRecord, float, float, Any]] = []
        self._now_s = -math.inf
        self._moved = False
        self._saving: tuple[Future[Any], RunResult] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self._tick)

    # -- control ------------------------------------------------------------------------------

    def now(self) -> float:
        """Stream time now (never decreasing: the protocol runner needs that)."""
        t = self.conn.stream_now_s(self.clock)
        t = self.live.last_time_s if t is None else float(t)
        self._now_s = max(t, self._now_s)
        return self._now_s

    def start(self) -> None:
        if self.running:
            return
        self.running = True
        self.t_run0 = self.now()
        self._started_wall = dt.datetime.now().isoformat(timespec="seconds")
        self.capture = self.live.start_capture(self.t_run0)
        self._timer.start()
        if self.clinic:
            self._handle(self.pr.start(self.t_run0))
            self._sync_state()
        else:
            self._next()

    def confirm(self) -> None:
        """The examiner's or patient's "Next" (Enter)."""
        if not self.running or self.is_paused:
            return
        if self.clinic:
            if self.pr.state.phase in ("setup", "position", "countdown", "rest", "perform"):
                self._handle(self.pr.confirm(self.now()))
                self._sync_state()
            return
        if self.step is not None and self.step.kind == "intro":
            self._confirmed = True
        elif self.step is not None and self.step.kind == "set":
            self._end_home_set("completed")
        elif self.step is not None and self.step.kind == "rest":
            self._next()

    def mark_failed(self) -> None:
        """The examiner saw a step, a grab or a loss of balance (key B)."""
        if self.running and self.clinic and self.pr.state.phase == "perform":
            self._handle(self.pr.on_balance_lost(self.now()))
            self._sync_state()

    def skip(self) -> None:
        self.confirm()

    def abort(self, reason: str = "stopped by the examiner") -> None:
        """Stop the whole run; nothing is stored."""
        if not self.running:
            return
        self._timer.stop()
        self.live.stop_reps()
        if self.capture is not None:
            self.live.stop_capture(self.capture)
        self.running = False
        self.done = True
        self.speaker.say("Stopped.")
        res = RunResult(
            plan=self.plan,
            patient_code=self.patient_code,
            trials=[self.trials[k] for k in self.order],
            started=self._started_wall,
            duration_s=self.now() - self.t_run0,
            completed=False,
            message=f"Test stopped: {reason}. Nothing was stored.",
            interruptions=self.interruptions,
        )
        if self.clinic:
            with _suppress():
                self.pr.abort(self.now(), reason)
                res.protocol_result = self.pr.result()
        self.message.emit("warn", res.message)
        self.finished.emit(res)

    # -- trials ----------------------------------------------------------------------------------

    def _trial(
        self,
        condition: str | None,
        attempt: int,
        *,
        exercise: str | None = None,
        set_no: int | None = None,
        target: int | None = None,
    ) -> TrialRecord:
        key = f"{exercise or condition}#{set_no or 0}@{attempt}"
        tr = self.trials.get(key)
        if tr is None:
            tr = TrialRecord(
                key=key,
                condition=condition,
                attempt=attempt,
                exercise=exercise,
                set_no=set_no,
                target_reps=target,
            )
            self.trials[key] = tr
            self.order.append(key)
        return tr

    # -- device events ----------------------------------------------------------------------------

    def on_device_status(self, st: Any) -> None:
        if not self.running or st.key != self.conn.key:
            return
        if st.state == "reconnecting" and self._interruption is None:
            self._interrupt(st)
        elif st.state == "streaming" and self._interruption is not None:
            self._resume(st)
        elif st.state in ("lost", "error", "stopped"):
            self.abort(f"the sensor was lost ({st.message or st.state})")

    def _interrupt(self, st: Any = None) -> None:
        now = self.now()
        last = self.live.last_time_s
        at = last if math.isfinite(last) else now
        drop = getattr(st, "last_drop_s", None)
        if drop is not None and drop >= self.t_run0:
            at = float(drop)  # the session's own record of the drop
        title = self.step.title if self.step else ""
        self._interruption = {"at_s": at, "step": self.step.key if self.step else ""}
        self.interruptions.append(self._interruption)
        self._gap_reported = False
        if self.current is not None and self.current.outcome == "running":
            self.current.interruptions.append(self._interruption)
        self.is_paused = True
        self.paused.emit(True)
        self.speaker.say("The sensor connection was lost. Please wait.")
        what = f" during “{title}”" if title else ""
        self.message.emit(
            "warn",
            f"Sensor connection lost at {at - self.t_run0:.1f} s{what}. Reconnecting… "
            "A trial that was running is marked invalid and repeated.",
        )

    def _resume(self, st: Any = None) -> None:
        now = self.now()
        intr = self._interruption or {}
        back = getattr(st, "last_reconnect_s", None)
        if back is not None and back >= float(intr.get("at_s", -math.inf)):
            now = min(now, float(back))
        intr["reconnected_s"] = now
        intr["outage_s"] = round(now - float(intr.get("at_s", now)), 3)
        self._interruption = None
        self.is_paused = False
        self.paused.emit(False)
        self.speaker.say("The sensor is back.")
        for tr in self.trials.values():  # the gap's length is known now: say it
            if intr in tr.interruptions and tr.outcome == "invalid":
                tr.reason = _gap_text(intr, self.t_run0)
        if self.clinic:
            if self.pr.state.phase == "perform" and not self._gap_reported:
                self._report_gap(now, force=True)
            text = f"Sensor reconnected after {intr['outage_s']:.1f} s."
            if intr.get("trial"):
                text += f" {intr['trial']} is repeated (the interrupted attempt is kept, invalid)."
            self.message.emit("ok", text)
            self._sync_state(force=True)
        else:
            step = self.step
            if step is not None and step.kind == "set":
                self._end_home_set("invalid", reason=_gap_text(intr, self.t_run0))
                self._repeat_home_set(step)
                self.message.emit(
                    "ok",
                    f"Sensor reconnected after {intr['outage_s']:.1f} s. This set is repeated.",
                )
            else:
                self.message.emit("ok", f"Sensor reconnected after {intr['outage_s']:.1f} s.")

    def _report_gap(self, now: float, *, force: bool = False) -> None:
        """Clinic: tell the protocol runner about the gap (the trial becomes invalid)."""
        intr = self._interruption or (self.interruptions[-1] if self.interruptions else None)
        if intr is None:
            return
        gap = float(intr.get("outage_s") or (now - float(intr["at_s"])))
        rule = self.plan.protocol.rule("sensor_gap") if self.plan.protocol else None
        limit = rule.limit if rule is not None and rule.limit is not None else 0.5
        if gap <= limit and not force:
            return
        self._gap_reported = True
        cur = self.current
        if cur is not None and cur.condition:
            intr["trial"] = f"{_title(cur.condition)} attempt {cur.attempt}"
        self._handle(self.pr.on_sensor_gap(self.now(), max(gap, limit + 1e-3)))

    # -- clinical: the protocol runner -----------------------------------------------------------

    def _handle(self, actions: list[Any]) -> None:
        for a in actions:
            if a.kind == "say":
                if a.text:
                    self.speaker.say(a.text)
            elif a.kind == "start_recording":
                tr = self._trial(a.condition, int(a.attempt or 1))
                tr.start_s = self.now()
                tr.outcome = "running"
                self.current = tr
                self._stands = []
                self._last_check = -math.inf
                self.speaker.beep()
            elif a.kind == "stop_recording":
                self._stop_recording(a)
            elif a.kind == "done":
                self._finish()

    def _stop_recording(self, a: Any) -> None:
        tr = self._trial(a.condition, int(a.attempt or 1))
        now = self.now()
        start = tr.start_s if tr.start_s is not None else now
        perform = self.plan.protocol.perform_step
        end = now
        if a.reason == "duration" and perform.duration_s is not None:
            end = min(now, start + perform.duration_s)
        if tr.interruptions and a.reason == "event":
            end = float(tr.interruptions[-1]["at_s"])
        tr.end_s = end
        if self.current is tr:
            self.current = None
        tr.live_count = len(self._stands)
        tr.outcome = "analysing" if a.analysis is not None else tr.outcome

        def cut_done(rec: Recording | None) -> None:
            tr.recording = rec
            if a.analysis is None or rec is None:
                tr.outcome = "invalid" if a.reason != "aborted" else "stopped"
                if tr.interruptions:
                    tr.reason = _gap_text(tr.interruptions[-1], self.t_run0)
                elif rec is None:
                    tr.reason = "no data were received during the trial"
                self.trial_done.emit(tr)
                if a.analysis is not None:  # no data at all: the runner still waits
                    self._handle(self.pr.on_analysis_failed(tr.reason, self.now()))
                return
            fut = _ANALYSIS_POOL.submit(_analyse, a.analysis, rec)
            self._analysis = (fut, tr)

        self._cut_later(tr, cut_done)

    def _cut_later(self, tr: TrialRecord, then: Any) -> None:
        """Cut ``tr``'s recording once the samples up to its end have arrived."""
        pad1 = self._pads()[1]
        need = (tr.end_s or self.now()) + pad1
        # samples travel in real time: on an accelerated clock (demo, tests) wait at
        # least CUT_WAIT_REAL_S of real time for the last ones, not 2 s of its time
        wait = max(2.0 + pad1, CUT_WAIT_REAL_S * self.clock.speed)
        self._cuts.append((tr, need, self.clock.now_s() + wait, then))
        self._poll_cuts()

    def _poll_cuts(self) -> bool:
        """Make the recordings whose data are complete; True while some wait."""
        if not self._cuts or self.capture is None:
            return False
        waiting = []
        for tr, need, deadline, then in self._cuts:
            if self.capture.last_s >= need - 0.02 or self.clock.now_s() >= deadline:
                then(self._trial_recording(tr))
            else:
                waiting.append((tr, need, deadline, then))
        self._cuts = waiting
        return bool(waiting)

    def _poll_analysis(self) -> bool:
        """True while a trial's analysis is still running."""
        if self._analysis is None:
            return False
        fut, tr = self._analysis
        if not fut.done():
            return True
        self._analysis = None
        now = self.now()
        try:
            blocks = fut.result()
            # a loss of balance found in the signal: the hold lasted until its onset
            # (the runner heard of it only when it was confirmed, up to ~1.5 s later)
            manual = tr.loss_s if tr.loss_s is not None else None
            actions = self.pr.on_trial_result(blocks, now, manual_value=manual)
        except BalanceMonError as exc:
            actions = self.pr.on_analysis_failed(str(exc), now)
        except Exception as exc:  # an analysis bug must not hang the test
            log.exception("trial analysis failed")
            actions = self.pr.on_analysis_failed(f"{type(exc).__name__}: {exc}", now)
        res = self.pr.trials[-1] if self.pr.trials else None
        if res is not None:
            tr.outcome = {"completed": "completed", "failed": "failed"}.get(res.status, "invalid")
            tr.value = res.value
            tr.reason = "; ".join(r.message for r in res.reasons)
            if res.status == "failed":
                self.speaker.say("Stop.")
                self.message.emit(
                    "risk", f"{_title(tr.condition)}: {tr.reason or 'not completed'}."
                )
        self.trial_done.emit(tr)
        self._handle(actions)
        return False

    def _sync_state(self, *, force: bool = False) -> None:
        """Announce a new step when the protocol runner moved on."""
        if not self.clinic or not self.running:
            return
        st = self.pr.state
        key = (st.phase, st.step, st.condition, st.attempt)
        if key == self._state_key and not force:
            return
        changed = key != self._state_key
        self._state_key = key
        if st.phase in ("done", "analysing", "idle"):
            return
        if not changed:
            return
        p = self.plan.protocol
        perform = p.perform_step
        kind = st.phase
        title = st.condition_title or p.title
        self.step = RunStep(
            index=0,
            kind=kind,
            name=st.step or kind,
            title=title,
            instruction=st.instruction,
            cue=st.cue,
            duration_s=_duration_of(p, st),
            auto_start=_auto_start_of(p, st),
            condition=st.condition,
            attempt=st.attempt or 1,
            monitor_balance=kind == "perform"
            and p.value == "hold_s"
            and p.rule("balance_lost") is not None,
            count="stands" if kind == "perform" and p.value == "stands" else None,
            max_duration_s=perform.max_duration_s if kind == "perform" else None,
        )
        self.step_t0 = self.now()
        self._last_spoken = None
        self._last_check = -math.inf
        self.step_started.emit(self.step)

    # -- home: the programme walk ------------------------------------------------------------------

    def _next(self) -> None:
        if not self.running:
            return
        self.i += 1
        if self.i >= len(self.steps):
            self._finish()
            return
        step = self.steps[self.i]
        self.step = step
        self.step_t0 = self.now()
        self._confirmed = False
        self._last_spoken = None
        if step.kind == "set":
            tr = self._trial(
                None,
                step.attempt,
                exercise=step.exercise,
                set_no=step.set_no,
                target=step.target_reps,
            )
            tr.start_s = self.step_t0
            tr.outcome = "running"
            self.current = tr
            self.live.start_reps()
            self.live.take_alignment_warnings()  # only this set's count
            self._last_rep_s = self.step_t0
            self._moved = False
            self._last_check = -math.inf
            self.speaker.beep()
        self.step_started.emit(step)
        if step.cue:
            self.speaker.say(step.cue)
        self._emit_progress()

    def _end_home_set(self, outcome: str, *, reason: str = "", end_s: float | None = None) -> None:
        step = self.step
        tr = self.current
        if step is None or step.kind != "set" or tr is None:
            return
        tr.end_s = end_s if end_s is not None else self.now()
        if tr.interruptions:
            tr.end_s = float(tr.interruptions[-1]["at_s"])
        tr.live_count = self.live.rep_count
        tr.rep_peaks_deg = list(self.live.rep_peaks_deg)
        self.live.stop_reps()
        tr.outcome = outcome
        tr.reason = reason
        tr.value = float(tr.live_count)
        self._cut_later(tr, lambda rec: setattr(tr, "recording", rec))
        self.current = None
        self.trial_done.emit(tr)
        if outcome == "completed":
            self.speaker.beep()
            if step.end_cue:
                self.speaker.say(step.end_cue)
        if outcome != "invalid":
            self._next()

    def _repeat_home_set(self, step: RunStep) -> None:
        key = f"{step.exercise}#{step.set_no}"
        n = self._invalid_count.get(key, 0) + 1
        self._invalid_count[key] = n
        if n <= self.plan.max_invalid:
            again = repeat_trial(self.plan, step, step.attempt + 1)
            self.steps[self.i + 1 : self.i + 1] = again
        self._next()

    # -- the tick -------------------------------------------------------------------------------

    def _tick(self) -> None:
        if self._saving is not None:
            self._poll_saved()
            return
        if not self.running:
            return
        if self._finishing_until is not None:
            self._try_finish()
            return
        waiting_cut = self._poll_cuts()
        if self.is_paused:
            now = self.now()
            if self.clinic and not self._gap_reported and self.pr.state.phase == "perform":
                self._report_gap(now)
                self._sync_state()
            return
        if self.clinic:
            if waiting_cut and self.pr.state.phase == "analysing":
                return
            if self._poll_analysis():
                return
            self._handle(self.pr.tick(self.now()))
            if self.running and self._end_s is None:
                self._sync_state()
                self._clinic_signals(self.now())
                self._sync_state()
            now = self.now()
        else:
            now = self.now()
            self._home_tick(now)
        if self.running and self._finishing_until is None:
            self._emit_progress()

    def _clinic_signals(self, now: float) -> None:
        st = self.pr.state
        step = self.step
        elapsed = now - self.step_t0
        if st.phase == "setup":
            if self.auto_confirm_s is not None and elapsed >= self.auto_confirm_s:
                self._handle(self.pr.confirm(now))
        elif st.phase == "position":
            if (
                step is not None
                and step.auto_start
                and elapsed >= MIN_POSITION_S
                and self._still(now)
            ):
                self._handle(self.pr.on_ready(now))
            elif self.auto_confirm_s is not None and elapsed >= max(self.auto_confirm_s, 10.0):
                self._handle(self.pr.confirm(now))
        elif st.phase == "countdown" and st.countdown_s is not None:
            whole = int(math.ceil(st.countdown_s))
            total = step.duration_s if step is not None and step.duration_s else 3.0
            if 0 < whole < total and whole != self._last_spoken:
                self._last_spoken = whole
                self.speaker.say(str(whole), kind="count")
        elif st.phase == "perform" and step is not None:
            tr = self.current
            start = tr.start_s if tr is not None and tr.start_s is not None else self.step_t0
            if now - self._last_check >= CHECK_EVERY_S:
                self._last_check = now
                if step.monitor_balance and now - start >= 1.0:
                    onset = self._balance_loss(start, now)
                    if onset is not None and tr is not None:
                        tr.loss_s = onset
                        self._handle(self.pr.on_balance_lost(now))
                        return
                if step.count == "stands":
                    self._count_stands(start, now, self.plan.protocol.perform_step.duration_s)
                if step.name == "walk" and self._tug_done(start, now):
                    self._handle(self.pr.on_trial_end(now))

    def _home_tick(self, now: float) -> None:
        step = self.step
        if step is None:
            return
        elapsed = now - self.step_t0
        if step.kind == "intro":
            auto = step.duration_s
            if self._confirmed or (auto is not None and elapsed >= auto):
                self._next()
                return
            if auto is not None:
                whole = int(math.ceil(auto - elapsed))
                if 0 < whole <= 3 and whole != self._last_spoken:
                    self._last_spoken = whole
                    self.speaker.say(str(whole), kind="count")
        elif step.kind == "set":
            new = self.live.take_new_reps()
            count = self.live.rep_count
            if new and count != self._last_spoken:
                self._last_rep_s = now
                self._last_spoken = count
                self.speaker.say(str(count), kind="count")
            self._alignment_cues()
            if now - self._last_check >= CHECK_EVERY_S:
                self._last_check = now
                if not self._moved and self._activity_sd(now - 1.0, now) > MOVING_SD_MPS2:
                    self._moved = True
                # the set is over when the person has moved and is now quiet
                if self._moved and elapsed >= 3.0 and self._quiet_for(now, QUIET_S):
                    self._end_home_set("completed", end_s=now - QUIET_S + 0.5)
                    return
            if step.max_duration_s is not None and elapsed >= step.max_duration_s:
                self._end_home_set("completed", reason="time limit reached")
        elif step.kind == "rest":
            remaining = (step.duration_s or 0) - elapsed
            if remaining <= 0:
                self._next()
                return
            if (
                int(math.ceil(remaining)) == 10
                and self._last_spoken != 10
                and (step.duration_s or 0) > 15
            ):
                self._last_spoken = 10
                self.speaker.say("Ten seconds.")

    def _alignment_cues(self) -> None:
        """Speak and show the live trunk warnings (the estimator already limits
        them to one per 5 s)."""
        for w in self.live.take_alignment_warnings():
            if self.current is not None:
                self.current.alignment_warnings += 1
            if w.kind == "flexion":
                self.speaker.say(BACK_CUE)
                self.message.emit("warn", f"⚠ {BACK_CUE} (back bent {w.value:.0f}°)")
            else:
                self.speaker.say(TWIST_CUE)
                self.message.emit("warn", f"⚠ {TWIST_CUE}")

    # -- signal checks --------------------------------------------------------------------------

    def _arrays(self, a: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        assert self.capture is not None
        return self.capture.arrays(a, b)

    def _still(self, now: float) -> bool:
        t, acc, _ = self._arrays(now - STILL_S - 0.3, now)
        if t.size < max(8, 0.6 * STILL_S * self.fs_hz):
            return False
        return float(np.linalg.norm(acc, axis=1).std()) < STILL_SD_MPS2

    def _activity_sd(self, a: float, b: float) -> float:
        t, acc, _ = self._arrays(a, b)
        if t.size < 4:
            return 0.0
        return float(np.linalg.norm(acc, axis=1).std())

    def _quiet_for(self, now: float, seconds: float) -> bool:
        """SD of |acc| under QUIET_SD_MPS2 in each 1-s window (0.5-s hop) of ``seconds``."""
        t, acc, _ = self._arrays(now - seconds, now)
        if t.size < 0.8 * seconds * self.fs_hz:
            return False
        mag = np.linalg.norm(acc, axis=1)
        w = max(int(self.fs_hz), 4)
        hop = max(w // 2, 1)
        sds = [mag[i : i + w].std() for i in range(0, max(mag.size - w, 0) + 1, hop)]
        return bool(sds) and max(sds) < QUIET_SD_MPS2

    def _balance_loss(self, start: float, now: float) -> float | None:
        t, acc, _ = self._arrays(start, now)
        if t.size < self.fs_hz * 1.0:
            return None
        try:
            det = BalanceLossDetector().detect(acc, self.fs_hz)
        except BalanceMonError:
            return None
        if det.lost_ and det.onset_s_ is not None:
            return float(det.onset_s_)
        return None

    def _count_stands(self, start: float, now: float, duration_s: float | None) -> None:
        t, acc, gyr = self._arrays(start - 1.0, now)
        if t.size < self.fs_hz * 2:
            return
        try:
            det = TransitionDetector().detect(acc, self.fs_hz, gyr_dps=gyr, t0_s=float(t[0]))
        except Exception:  # a partial window; the score comes from the trial's analysis
            return
        limit = start + (duration_s or math.inf)
        self._stands = [e for e in det.sit_to_stand_ if start - 0.5 <= e.peak_s <= limit]

    def _tug_done(self, start: float, now: float) -> bool:
        """TUG: seated again (a stand-to-sit after a sit-to-stand, then still)."""
        if now - start < 3.0:
            return False
        t, acc, gyr = self._arrays(start - 1.0, now)
        if t.size < self.fs_hz * 2:
            return False
        try:
            det = TransitionDetector().detect(acc, self.fs_hz, gyr_dps=gyr, t0_s=float(t[0]))
        except Exception:
            return False
        ups, downs = det.sit_to_stand_, det.stand_to_sit_
        if not ups or not downs or downs[-1].start_s < ups[0].end_s:
            return False
        return now - downs[-1].end_s >= 1.0 and self._still(now)

    def _emit_progress(self) -> None:
        step = self.step
        if step is None:
            return
        now = self.now()
        elapsed = now - self.step_t0
        info: dict[str, Any] = {"elapsed_s": elapsed, "step": step, "paused": self.is_paused}
        if self.clinic:
            st = self.pr.state
            if st.countdown_s is not None:
                info["remaining_s"] = st.countdown_s
            if st.phase == "analysing":
                info["analysing"] = True
        elif step.duration_s is not None:
            info["remaining_s"] = max(step.duration_s - elapsed, 0.0)
        if step.kind == "set":
            info["count"] = self.live.rep_count
            info["target"] = step.target_reps
            if self.live.rep_times:
                info["tempo_s"] = self.live.rep_times[-1].duration_s
        elif step.count == "stands":
            info["count"] = len(self._stands)
            if self._stands:
                info["tempo_s"] = self._stands[-1].duration_s
        self.progress.emit(info)

    # -- recordings -----------------------------------------------------------------------------

    def _pads(self) -> tuple[float, float]:
        """Seconds kept before and after a trial's perform step in its recording."""
        if self.plan.store_protocol in ("chair_stand_30s", "tug"):
            return PAD_BEFORE_S, PAD_AFTER_S
        if not self.clinic:
            return 1.0, 1.0
        return 0.0, 0.0

    def _trial_recording(self, tr: TrialRecord) -> Recording | None:
        if tr.start_s is None or tr.end_s is None or self.capture is None:
            return None
        pad0, pad1 = self._pads()
        a, b = tr.start_s - pad0, tr.end_s + pad1
        t, acc, gyr = self._arrays(a, b)
        if t.size < 4:
            return None
        st = self.conn.status
        meta = {
            "test": self.plan.store_protocol if self.clinic else "reps",
            "condition": (tr.condition or "") if self.clinic else (tr.exercise or ""),
            "attempt": str(tr.attempt),
            "device": str(getattr(st, "name", "")),
            "device_model": str(getattr(st, "model", "")),
            "recorder": "balance_mon app",
            "date": self._started_wall,
        }
        if tr.set_no is not None:
            meta["set"] = str(tr.set_no)
        if getattr(st, "simulated", False):
            meta["simulated"] = f"virtual:{getattr(st, 'model', '')}"
        if tr.loss_s is not None:
            meta["balance_lost_s"] = f"{tr.loss_s + pad0:.3f}"
        if pad0:
            meta["go_s"] = f"{pad0:.3f}"
        try:
            return Recording(
                time_s=np.round(t - a, 6),
                acc_mps2=acc,
                gyr_dps=gyr,
                fs_nominal_hz=self.fs_hz,
                placement=self.placement,
                metadata=meta,
            )
        except BalanceMonError:
            return None

    # -- the end --------------------------------------------------------------------------------

    def _finish(self) -> None:
        if self._end_s is not None:
            return
        self.step = None
        self._end_s = self.now()
        self._finishing_until = self.clock.now_s() + 2.0
        self._try_finish()

    def _try_finish(self) -> None:
        assert self.capture is not None and self._end_s is not None
        if self._poll_cuts():
            return
        if self.capture.last_s < self._end_s - 0.05 and self.clock.now_s() < (
            self._finishing_until or 0
        ):
            return
        self._finishing_until = None
        self.running = False
        self.done = True
        self.live.stop_capture(self.capture)
        trials = [self.trials[k] for k in self.order]
        result = RunResult(
            plan=self.plan,
            patient_code=self.patient_code,
            trials=trials,
            started=self._started_wall,
            duration_s=self._end_s - self.t_run0,
            completed=True,
            interruptions=self.interruptions,
        )
        if self.clinic:
            result.protocol_result = self.pr.result()
            self.speaker.say("The test is finished. Thank you.")
        else:
            self.speaker.say("Well done! You have finished today's exercises.")
        to_save = self._trials_to_save(trials)
        if self.store is None or self.patient_code is None or not to_save:
            self._timer.stop()
            result.message = (
                "Not stored: no patient selected."
                if self.patient_code is None
                else ("Nothing to store." if not to_save else "")
            )
            self.finished.emit(result)
            return
        self.message.emit("info", "Scoring and storing the results…")
        device = str(getattr(self.conn.status, "name", ""))
        store = self.store
        code = self.patient_code
        setting = self.plan.setting
        started = self._started_wall
        fut = store.submit(
            lambda: store.save_run(
                code, setting=setting, started=started, device=device, trials=to_save
            )
        )
        self._saving = (fut, result)

    def _poll_saved(self) -> None:
        assert self._saving is not None
        fut, result = self._saving
        if not fut.done():
            return
        self._saving = None
        self._timer.stop()
        try:
            sid, saved, trend = fut.result()
            result.session_id, result.saved, result.trend_flags = sid, saved, trend
            result.message = f"Stored as session {sid} ({len(saved)} trial(s)) in the database."
        except Exception as exc:
            log.exception("storing the run failed")
            result.error = f"could not store the results: {exc}"
        self.finished.emit(result)

    def _trials_to_save(self, trials: list[TrialRecord]) -> list[TrialToSave]:
        out = []
        t0 = self.t_run0
        for tr in trials:
            if tr.recording is None or tr.outcome in ("stopped", "pending", "running"):
                continue
            valid = tr.valid
            out.append(
                TrialToSave(
                    recording=tr.recording,
                    protocol=self.plan.store_protocol if self.clinic else "reps",
                    condition=(tr.condition or "") if self.clinic else (tr.exercise or ""),
                    attempt=tr.attempt if self.clinic else None,  # home: next free attempt
                    valid=valid,
                    invalid_reason="" if valid else (tr.reason or "invalid trial"),
                    details=tr.as_dict(t0),
                    source=f"{self.plan.name} (live)",
                    score=valid,
                )
            )
        return out


def _gap_text(intr: dict[str, Any], t0: float) -> str:
    outage = intr.get("outage_s")
    at = float(intr.get("at_s", t0)) - t0
    dur = f" for {outage:.1f} s" if isinstance(outage, int | float) else ""
    return f"sensor_gap: the sensor connection was lost{dur} at {at:.1f} s of the test"


def _title(condition: str | None) -> str:
    return (condition or "").replace("_", " ").capitalize()


def _duration_of(protocol: Any, st: Any) -> float | None:
    if st.phase == "perform":
        return protocol.perform_step.duration_s
    for s in (*protocol.setup, *protocol.trial_steps):
        if s.name == st.step:
            return s.duration_s
    return None


def _auto_start_of(protocol: Any, st: Any) -> str | None:
    for s in protocol.trial_steps:
        if s.name == st.step:
            return s.auto_start
    return None


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True
