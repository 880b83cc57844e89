"""The protocol runner: a pure state machine that the GUI and the command line drive.

The runner has no timers, threads or I/O. It is fed the time and what happened
(the examiner pressed Next, the signal says the patient is still, a sensor gap,
a loss of balance, the analysis result of a trial) and answers each call with
a list of :class:`Action` for the caller to carry out: say a cue, start or stop
recording (and which analysis to run on the trial's recording), or finish. At
any moment :attr:`ProtocolRunner.state` tells what to show: the current step,
its instruction and cue, the condition, the attempt, the countdown.

Typical loop (GUI timer every 100 ms)::

    runner = ProtocolRunner(get_protocol("steadi_four_stage"), patient)
    handle(runner.start(now()))
    ...                                   # on each timer tick
    handle(runner.tick(now()))
    ...                                   # when the examiner presses Next
    handle(runner.confirm(now()))
    ...                                   # an action asked to stop recording:
    blocks = run_analysis(action.analysis, trial_recording)
    handle(runner.on_trial_result(blocks, now()))
    ...
    result = runner.result()              # a ProtocolResult once runner.done

Per trial the steps are: ``position`` (wait for the examiner, or for the
signal when the step allows ``auto_start``), ``countdown`` (timed),
``perform`` (recording; ends after its duration, on the signal for
``auto_stop == "signal"`` steps, on a stopping event such as a loss of
balance, by the examiner, or at ``max_duration_s``), then ``analysing``
(waiting for :meth:`on_trial_result`) and, when another trial follows, the
``rest`` step. Which trial follows is decided by the protocol's data: practice
attempts, repeats of invalid trials (``max_invalid``), repeats of failed
conditions (``repeat == "on_fail"`` up to ``max_attempts``) and stopping at
the first failure (``stop_on_fail``). The trial rules are those of
:func:`~.scoring.evaluate_trial`, shared with :func:`~.scoring.score_session`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .model import Condition, Patient, Protocol, ProtocolError, Step
from .results import ProtocolResult, TrialResult
from .scoring import TrialEvent, TrialObservation, evaluate_trial, summarise

__all__ = ["PHASES", "Action", "ProtocolRunner", "RunnerState"]

#: Runner phases.
PHASES = (
    "idle",
    "setup",
    "position",
    "countdown",
    "perform",
    "analysing",
    "rest",
    "done",
)


@dataclass(frozen=True)
class Action:
    """Something the caller must do.

    ``kind``: ``say`` (speak ``text``), ``start_recording`` (of trial
    ``condition``/``attempt``), ``stop_recording`` (then, if ``analysis`` is
    not None, run that registry analysis on the trial's recording and pass
    the blocks to :meth:`ProtocolRunner.on_trial_result`; ``reason`` says why
    it stopped), ``done`` (the test is over; read
    :meth:`ProtocolRunner.result`).
    """

    kind: str
    text: str = ""
    condition: str | None = None
    attempt: int | None = None
    analysis: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RunnerState:
    """What to show now.

    ``phase`` is one of :data:`PHASES`; ``step`` the current step's name;
    ``instruction`` the on-screen text; ``cue`` the step's spoken cue;
    ``countdown_s`` the time left in a timed step (None otherwise);
    ``elapsed_s`` the time since the perform step started (None outside it);
    ``trials_done`` the number of trials evaluated so far.
    """

    phase: str
    step: str | None
    instruction: str
    cue: str
    condition: str | None
    condition_title: str | None
    condition_index: int | None
    n_conditions: int
    attempt: int | None
    countdown_s: float | None
    elapsed_s: float | None
    trials_done: int
    done: bool


def _fill(text: str, cond: Condition | None) -> str:
    if cond is None:
        return text
    return (
        text.replace("{instruction}", cond.instruction)
        .replace("{title}", cond.title)
        .replace("{cue}", cond.cue)
    )


class ProtocolRunner:
    """Walk one protocol with one patient (see the module docstring).

    Parameters
    ----------
    protocol : the protocol to run.
    patient : age and sex for the norm comparison of the result.

    Every input takes the time ``now_s`` (first, except in :meth:`on_trial_result`
    and :meth:`on_analysis_failed`, where it follows the result); times must not
    decrease (any origin, seconds). Calls that do not apply in the current phase are ignored and
    return no action (a late event after the trial stopped, a second
    confirm...), except :meth:`on_trial_result` outside the analysing phase,
    which raises :class:`~.model.ProtocolError`.
    """

    def __init__(self, protocol: Protocol, patient: Patient | None = None):
        self.protocol = protocol
        self.patient = patient
        self._phase = "idle"
        self._now: float | None = None
        self._setup_i = 0
        self._cond_i = 0
        self._step_i = 0
        self._step_start = 0.0
        self._attempt = 0
        self._practice = False
        self._perform_start = 0.0
        self._perform_end = 0.0
        self._ended_by = "duration"
        self._events: list[TrialEvent] = []
        self._trials: list[TrialResult] = []
        self._aborted: str | None = None
        self._stopped = False
        pre = []
        post = []
        seen_perform = False
        for s in protocol.trial_steps:
            if s.kind == "perform":
                seen_perform = True
                self._perform = s
            elif s.kind == "setup":
                raise ProtocolError(f"protocol {protocol.name}: setup steps go in 'setup'")
            elif seen_perform:
                post.append(s)
            else:
                pre.append(s)
        self._pre: list[Step] = pre
        self._post: list[Step] = post

    # -- read-only views ---------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._phase == "done"

    @property
    def trials(self) -> tuple[TrialResult, ...]:
        return tuple(self._trials)

    @property
    def condition(self) -> Condition | None:
        if self._phase in ("idle", "setup", "done"):
            return None
        return self.protocol.conditions[self._cond_i]

    def _current_step(self) -> Step | None:
        if self._phase == "setup":
            return self.protocol.setup[self._setup_i]
        if self._phase in ("position", "countdown"):
            return self._pre[self._step_i]
        if self._phase == "perform":
            return self._perform
        if self._phase == "rest":
            return self._post[self._step_i]
        return None

    @property
    def state(self) -> RunnerState:
        step = self._current_step()
        cond = self.condition
        now = self._now
        countdown = elapsed = None
        if step is not None and step.duration_s is not None and now is not None:
            countdown = max(step.duration_s - (now - self._step_start), 0.0)
        if self._phase == "perform" and now is not None:
            elapsed = now - self._perform_start
        if self._phase == "analysing":
            instruction = "Scoring the trial..."
        elif self._phase == "done":
            instruction = "The test is finished."
        elif self._phase == "idle":
            instruction = self.protocol.description
        else:
            instruction = _fill(step.instruction, cond) if step else ""
        return RunnerState(
            phase=self._phase,
            step=None if step is None else step.name,
            instruction=instruction,
            cue=_fill(step.cue, cond) if step else "",
            condition=None if cond is None else cond.name,
            condition_title=None if cond is None else cond.title,
            condition_index=None if cond is None else self._cond_i,
            n_conditions=len(self.protocol.conditions),
            attempt=None if cond is None else self._attempt,
            countdown_s=countdown,
            elapsed_s=elapsed,
            trials_done=len(self._trials),
            done=self.done,
        )

    def result(self) -> ProtocolResult:
        """The :class:`ProtocolResult` of the trials so far (final once :attr:`done`)."""
        aborted = self._aborted
        if aborted is None and not self.done:
            aborted = "the test is still running"
        return summarise(self.protocol, self._trials, self.patient, aborted=aborted)

    # -- time --------------------------------------------------------------------------

    def _time(self, now_s: float) -> float:
        now = float(now_s)
        if now != now:  # NaN
            raise ProtocolError("time must be a number of seconds")
        if self._now is not None and now < self._now - 1e-9:
            raise ProtocolError(f"time went backwards: {now:g} s after {self._now:g} s")
        self._now = max(now, self._now if self._now is not None else now)
        return self._now

    # -- transitions ---------------------------------------------------------------------

    def _say(self, text: str) -> list[Action]:
        return [Action("say", text)] if text else []

    def _enter_step(self, now: float) -> list[Action]:
        step = self._current_step()
        self._step_start = now
        return self._say(_fill(step.cue, self.condition)) if step else []

    def start(self, now_s: float) -> list[Action]:
        """Begin: the first setup step, or the first trial."""
        now = self._time(now_s)
        if self._phase != "idle":
            raise ProtocolError("the runner has already started")
        if self.protocol.setup:
            self._phase = "setup"
            self._setup_i = 0
            return self._enter_step(now)
        return self._begin_condition(now, 0)

    def _begin_condition(self, now: float, i: int) -> list[Action]:
        self._cond_i = i
        self._attempt = 0
        return self._begin_trial(now)

    def _begin_trial(self, now: float) -> list[Action]:
        name = self.protocol.conditions[self._cond_i].name
        mine = [t for t in self._trials if t.condition == name]
        self._attempt = len(mine) + 1
        practice_done = sum(1 for t in mine if t.practice and t.valid)
        self._practice = practice_done < self.protocol.practice_attempts
        self._events = []
        self._step_i = 0
        if self._pre:
            self._phase = (
                self._pre[0].kind if self._pre[0].kind in ("position", "countdown") else "position"
            )
            return self._enter_step(now)
        return self._begin_perform(now)

    def _next_pre(self, now: float) -> list[Action]:
        self._step_i += 1
        if self._step_i < len(self._pre):
            kind = self._pre[self._step_i].kind
            self._phase = "countdown" if kind == "countdown" else "position"
            return self._enter_step(now)
        return self._begin_perform(now)

    def _begin_perform(self, now: float) -> list[Action]:
        self._phase = "perform"
        self._perform_start = now
        self._step_start = now
        cond = self.protocol.conditions[self._cond_i]
        return [
            *self._say(_fill(self._perform.cue, cond)),
            Action("start_recording", condition=cond.name, attempt=self._attempt),
        ]

    def _stop_perform(self, now: float, ended_by: str, *, analyse: bool = True) -> list[Action]:
        step = self._perform
        end = now
        if ended_by == "duration" and step.duration_s is not None:
            end = min(now, self._perform_start + step.duration_s)
        if ended_by == "timeout" and step.max_duration_s is not None:
            end = min(now, self._perform_start + step.max_duration_s)
        self._perform_end = end
        self._ended_by = ended_by
        cond = self.protocol.conditions[self._cond_i]
        actions = self._say(step.end_cue) if ended_by == "duration" else []
        actions.append(
            Action(
                "stop_recording",
                condition=cond.name,
                attempt=self._attempt,
                analysis=self.protocol.analysis if analyse else None,
                reason=ended_by,
            )
        )
        if analyse:
            self._phase = "analysing"
            return actions
        # no analysis needed (e.g. a sensor gap made the trial invalid): evaluate now
        return actions + self._record_trial(now, blocks=None, error=None, manual=None)

    def _observation(
        self, blocks: Mapping[str, Any] | None, error: str | None, manual: float | None
    ) -> TrialObservation:
        return TrialObservation(
            condition=self.protocol.conditions[self._cond_i].name,
            attempt=self._attempt,
            duration_s=self._perform_end - self._perform_start,
            events=tuple(self._events),
            blocks=blocks,
            analysis_error=error,
            manual_value=manual,
            practice=self._practice,
            ended_by=self._ended_by,
        )

    def _record_trial(
        self,
        now: float,
        *,
        blocks: Mapping[str, Any] | None,
        error: str | None,
        manual: float | None,
    ) -> list[Action]:
        trial = evaluate_trial(self.protocol, self._observation(blocks, error, manual))
        self._trials.append(trial)
        return self._after_trial(now, trial)

    def _condition_status(self, name: str) -> str:
        res = summarise(self.protocol, self._trials, self.patient)
        return res.conditions[name].status

    def _after_trial(self, now: float, trial: TrialResult) -> list[Action]:
        p = self.protocol
        name = trial.condition
        mine = [t for t in self._trials if t.condition == name]
        n_invalid = sum(1 for t in mine if not t.valid)
        counted = [t for t in mine if t.valid and not t.practice]
        again = False
        if not trial.valid:
            again = n_invalid <= p.max_invalid
        elif trial.practice:
            again = True
        elif p.repeat == "on_fail":
            again = trial.status == "failed" and len(counted) < p.max_attempts
        if again:
            return self._rest_then(now, self._begin_trial)
        status = self._condition_status(name)
        if p.stop_on_fail and status in ("failed", "invalid"):
            self._stopped = True
            return self._finish(now)
        if self._cond_i + 1 < len(p.conditions):
            nxt = self._cond_i + 1
            return self._rest_then(now, lambda t: self._begin_condition(t, nxt))
        return self._finish(now)

    def _rest_then(self, now: float, then: Any) -> list[Action]:
        self._then = then
        if self._post:
            self._phase = "rest"
            self._step_i = 0
            return self._enter_step(now)
        return then(now)

    def _next_post(self, now: float) -> list[Action]:
        self._step_i += 1
        if self._step_i < len(self._post):
            return self._enter_step(now)
        return self._then(now)

    def _finish(self, now: float) -> list[Action]:
        self._phase = "done"
        return [Action("say", "The test is finished."), Action("done")]

    # -- inputs --------------------------------------------------------------------------

    def tick(self, now_s: float) -> list[Action]:
        """Advance timed steps (countdown, perform duration or time limit, rest)."""
        now = self._time(now_s)
        out: list[Action] = []
        for _ in range(64):  # a long jump in time may end several timed steps
            step = self._current_step()
            if step is None or self._phase in ("setup", "position"):
                break
            if self._phase == "perform":
                lim = step.duration_s if step.auto_stop == "duration" else step.max_duration_s
                if lim is not None and now - self._perform_start >= lim - 1e-9:
                    out += self._stop_perform(
                        now, "duration" if step.auto_stop == "duration" else "timeout"
                    )
                    continue
                break
            if step.duration_s is not None and now - self._step_start >= step.duration_s - 1e-9:
                if self._phase == "countdown":
                    out += self._next_pre(now)
                elif self._phase == "rest":
                    out += self._next_post(now)
                continue
            break
        return out

    def confirm(self, now_s: float) -> list[Action]:
        """The examiner pressed Next: end a setup or position step, skip a countdown
        or rest, or stop an open-ended perform step."""
        now = self._time(now_s)
        if self._phase == "setup":
            self._setup_i += 1
            if self._setup_i < len(self.protocol.setup):
                return self._enter_step(now)
            return self._begin_condition(now, 0)
        if self._phase in ("position", "countdown"):
            return self._next_pre(now)
        if self._phase == "rest":
            return self._next_post(now)
        if self._phase == "perform":
            return self._stop_perform(now, "examiner")
        return []

    def on_ready(self, now_s: float) -> list[Action]:
        """The signal reports the patient in position and still: ends a position
        step that allows ``auto_start``."""
        now = self._time(now_s)
        step = self._current_step()
        if self._phase == "position" and step is not None and step.auto_start:
            return self._next_pre(now)
        return []

    def on_trial_end(self, now_s: float) -> list[Action]:
        """The signal reports the task done (e.g. seated again after the TUG): ends a
        perform step with ``auto_stop == "signal"``."""
        now = self._time(now_s)
        if self._phase == "perform" and self._perform.auto_stop == "signal":
            return self._stop_perform(now, "signal")
        return []

    def _event(self, code: str, now: float, duration_s: float | None = None) -> list[Action]:
        if self._phase != "perform":
            return []
        rule = self.protocol.rule(code)
        cond = self.protocol.conditions[self._cond_i]
        if rule is None or (code == "eyes_opened" and cond.eyes != "closed"):
            return []
        t = now - self._perform_start
        if code == "sensor_gap":
            t = max(t - (duration_s or 0.0), 0.0)
        self._events.append(TrialEvent(code, t, duration_s))
        if code == "sensor_gap":
            if duration_s is not None and rule.limit is not None and duration_s <= rule.limit:
                return []
            return self._stop_perform(now, "event", analyse=False)
        target = self.protocol.target_s
        if (
            self.protocol.value == "hold_s"
            and target is not None
            and t >= target - self.protocol.tolerance_s
        ):
            return []
        if rule.stops_trial:
            return self._stop_perform(now, "event")
        return []

    def on_sensor_gap(self, now_s: float, duration_s: float) -> list[Action]:
        """No sensor data for ``duration_s`` up to ``now_s``; longer than the rule's
        limit makes the trial invalid at once (it is repeated if allowed)."""
        now = self._time(now_s)
        d = float(duration_s)
        if not d >= 0:
            raise ProtocolError(f"gap duration must be >= 0 s, got {duration_s!r}")
        return self._event("sensor_gap", now, d)

    def on_balance_lost(self, now_s: float) -> list[Action]:
        """A step, a moved foot or a loss of balance (examiner or detector)."""
        return self._event("balance_lost", self._time(now_s))

    def on_support_used(self, now_s: float) -> list[Action]:
        """The patient grabbed support, was helped, or the arms left position."""
        return self._event("support_used", self._time(now_s))

    def on_eyes_opened(self, now_s: float) -> list[Action]:
        """The eyes opened (counts only in eyes-closed conditions)."""
        return self._event("eyes_opened", self._time(now_s))

    def on_arms_used(self, now_s: float) -> list[Action]:
        """The arms were used to push up (chair stand: scores 0)."""
        return self._event("arms_used", self._time(now_s))

    def on_trial_result(
        self,
        blocks: Mapping[str, Any] | None,
        now_s: float,
        *,
        manual_value: float | None = None,
    ) -> list[Action]:
        """The analysis result of the trial just recorded (the registry's JSON
        blocks), optionally with an examiner's manual value (stopwatch time,
        counted stands) that overrides the analysis."""
        now = self._time(now_s)
        if self._phase != "analysing":
            raise ProtocolError(f"no trial is waiting for its result (phase {self._phase})")
        return self._record_trial(now, blocks=blocks, error=None, manual=manual_value)

    def on_analysis_failed(self, message: str, now_s: float) -> list[Action]:
        """The analysis of the trial just recorded failed (``message`` says why)."""
        now = self._time(now_s)
        if self._phase != "analysing":
            raise ProtocolError(f"no trial is waiting for its result (phase {self._phase})")
        return self._record_trial(now, blocks=None, error=str(message), manual=None)

    def abort(self, now_s: float, reason: str = "stopped by the examiner") -> list[Action]:
        """End the test now; the result is marked incomplete with ``reason``."""
        now = self._time(now_s)
        if self.done:
            return []
        actions: list[Action] = []
        if self._phase == "perform":
            cond = self.protocol.conditions[self._cond_i]
            actions.append(
                Action(
                    "stop_recording",
                    condition=cond.name,
                    attempt=self._attempt,
                    analysis=None,
                    reason="aborted",
                )
            )
        self._aborted = reason
        return actions + self._finish(now)
