"""What the runner walks: the clinical protocols and the home programme as flat step lists.

Clinical tests come from :mod:`balance_mon.protocols.library` (their steps,
conditions, validity rules, stop-on-fail and target times are data there);
:func:`plan_from_protocol` turns one into :class:`RunStep` objects, one per
screen, and says under which name and condition the store scores it
(:data:`STORE_PROTOCOL`). The home programme is a list of
:class:`ExerciseItem` (exercise, sets, repetitions, rest) that
:func:`home_plan` expands the same way. Keeping the runner on this small
adapter means the protocol definitions can change without touching the GUI.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "CLINIC_PROTOCOLS",
    "DEFAULT_PROGRAMME",
    "EXERCISE_TEXT",
    "ExerciseItem",
    "RunPlan",
    "RunStep",
    "clinic_protocols",
    "home_plan",
    "plan_from_protocol",
]

#: Protocols of protocols.library offered in the therapist's test screen, in menu order.
CLINIC_PROTOCOLS = (
    "steadi_four_stage",
    "chair_stand_30s",
    "tug",
    "romberg",
    "ctsib_m",
    "single_leg_stance",
)


@dataclass(frozen=True)
class RunStep:
    """One screen of a run (see the module docstring)."""

    index: int
    kind: str  #: setup, position, countdown, perform, rest (home: intro, set, rest)
    name: str
    title: str
    instruction: str
    cue: str = ""
    duration_s: float | None = None
    auto_start: str | None = None
    auto_stop: str | None = None
    max_duration_s: float | None = None
    end_cue: str = ""
    condition: str | None = None
    attempt: int = 1
    monitor_balance: bool = False
    count: str | None = None  #: "stands", "reps" or None
    target_reps: int | None = None
    exercise: str | None = None
    set_no: int | None = None
    sets: int | None = None

    @property
    def key(self) -> str:
        cond = self.exercise or self.condition or "-"
        return f"{cond}#{self.set_no or self.attempt}:{self.name}"

    @property
    def trial_key(self) -> str:
        return f"{self.exercise or self.condition}#{self.set_no or self.attempt}"


@dataclass
class RunPlan:
    """A protocol or programme ready to run."""

    name: str
    title: str
    setting: str  #: "clinic" or "home"
    steps: list[RunStep]
    store_protocol: str
    stop_on_fail: bool = False
    target_s: float | None = None
    tolerance_s: float = 0.3
    max_invalid: int = 2
    repeat: str = "none"
    max_attempts: int = 1
    description: str = ""
    protocol: Any = None  #: the protocols.model.Protocol, when clinical
    programme: list[ExerciseItem] = field(default_factory=list)

    def trial_steps(self, condition: str | None, attempt: int) -> list[RunStep]:
        return [
            s
            for s in self.steps
            if s.condition == condition and s.attempt == attempt and s.kind != "setup"
        ]


def clinic_protocols() -> dict[str, Any]:
    """Protocols the therapist can run, by name (protocols.library)."""
    from ..protocols.library import PROTOCOLS

    return {k: PROTOCOLS[k] for k in CLINIC_PROTOCOLS if k in PROTOCOLS}


def _fill(text: str, cond: Any) -> str:
    return (
        text.replace("{instruction}", getattr(cond, "instruction", ""))
        .replace("{title}", getattr(cond, "title", ""))
        .replace("{cue}", getattr(cond, "cue", ""))
    ).strip()


def plan_from_protocol(protocol: Any, *, include_setup: bool = True) -> RunPlan:
    """Flatten a :class:`balance_mon.protocols.model.Protocol` into run steps."""
    rules = {getattr(r, "code", "") for r in getattr(protocol, "rules", ())}
    value = getattr(protocol, "value", "")
    steps: list[RunStep] = []
    if include_setup:
        for st in getattr(protocol, "setup", ()):
            steps.append(
                RunStep(
                    index=len(steps),
                    kind="setup",
                    name=st.name,
                    title=protocol.title,
                    instruction=st.instruction,
                    cue=st.cue,
                    duration_s=st.duration_s,
                )
            )
    for cond in protocol.conditions:
        steps += _trial_steps(protocol, cond, 1, len(steps), rules, value)
    return RunPlan(
        name=protocol.name,
        title=protocol.title,
        setting="clinic",
        steps=steps,
        store_protocol=protocol.name,
        stop_on_fail=bool(getattr(protocol, "stop_on_fail", False)),
        target_s=getattr(protocol, "target_s", None),
        tolerance_s=float(getattr(protocol, "tolerance_s", 0.3)),
        max_invalid=int(getattr(protocol, "max_invalid", 2)),
        repeat=str(getattr(protocol, "repeat", "none")),
        max_attempts=int(getattr(protocol, "max_attempts", 1)),
        description=getattr(protocol, "description", ""),
        protocol=protocol,
    )


def _trial_steps(
    protocol: Any, cond: Any, attempt: int, first_index: int, rules: set[str], value: str
) -> list[RunStep]:
    out = []
    for st in protocol.trial_steps:
        perform = st.kind == "perform"
        count = None
        if perform and value == "stands":
            count = "stands"
        out.append(
            RunStep(
                index=first_index + len(out),
                kind=st.kind,
                name=st.name,
                title=cond.title,
                instruction=_fill(st.instruction, cond),
                cue=_fill(st.cue, cond),
                duration_s=st.duration_s,
                auto_start=st.auto_start,
                auto_stop=st.auto_stop,
                max_duration_s=st.max_duration_s,
                end_cue=st.end_cue,
                condition=cond.name,
                attempt=attempt,
                monitor_balance=perform and value == "hold_s" and "balance_lost" in rules,
                count=count,
            )
        )
    return out


def repeat_trial(plan: RunPlan, step: RunStep, attempt: int) -> list[RunStep]:
    """The trial steps of ``step``'s condition again, as attempt ``attempt``."""
    if plan.protocol is not None:
        cond = plan.protocol.condition(step.condition)
        rules = {r.code for r in plan.protocol.rules}
        return _trial_steps(plan.protocol, cond, attempt, 0, rules, plan.protocol.value)
    # home: the set again (intro, set)
    same = [
        s
        for s in plan.steps
        if s.exercise == step.exercise and s.set_no == step.set_no and s.kind in ("intro", "set")
    ]
    return [replace(s, attempt=attempt) for s in same]


# ---------------------------------------------------------------------------
# Home programme
# ---------------------------------------------------------------------------

#: Exercises a trunk (lower-back) sensor counts well, with the patient's instructions.
EXERCISE_TEXT: dict[str, tuple[str, str]] = {
    "squat": (
        "Squats",
        "Stand with your feet hip-width apart, holding on to a stable chair if you need to. "
        "Bend your knees as if to sit down, then stand up straight again.",
    ),
    "heel_raise": (
        "Heel raises",
        "Stand tall holding the back of a chair. Rise up onto your toes, then lower your "
        "heels slowly to the floor.",
    ),
    "sit_to_stand": (
        "Sit to stand",
        "Sit near the front of a firm chair, feet flat. Stand up fully, then sit down "
        "again slowly.",
    ),
    "lunge": (
        "Lunges",
        "Hold on to a chair. Step forward with one foot and bend both knees, then step back.",
    ),
    "stair_climb": ("Step-ups", "Step up onto the bottom stair and down again, holding the rail."),
}


@dataclass(frozen=True)
class ExerciseItem:
    """One exercise of the home programme."""

    exercise: str
    sets: int = 2
    reps: int = 10
    rest_s: float = 30.0

    @property
    def label(self) -> str:
        if self.exercise in EXERCISE_TEXT:
            return EXERCISE_TEXT[self.exercise][0]
        from ..protocols import EXERCISE_CATALOGUE

        info = EXERCISE_CATALOGUE.get(self.exercise)
        return info.title if info is not None else self.exercise.replace("_", " ").capitalize()

    @property
    def instruction(self) -> str:
        return EXERCISE_TEXT.get(self.exercise, ("", "Do the exercise as you were shown."))[1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise,
            "sets": self.sets,
            "reps": self.reps,
            "rest_s": self.rest_s,
        }


#: The programme used when the therapist has not set one (exercises a lower-back
#: sensor counts; the Otago programme's strength part has both).
DEFAULT_PROGRAMME = (
    ExerciseItem("squat", sets=2, reps=10, rest_s=30.0),
    ExerciseItem("heel_raise", sets=2, reps=10, rest_s=30.0),
)


def home_plan(
    programme: list[ExerciseItem] | tuple[ExerciseItem, ...], *, intro_s: float = 6.0
) -> RunPlan:
    """Steps of a home session: per set an introduction with countdown, the set, a rest."""
    steps: list[RunStep] = []
    set_no = 0
    items = list(programme)
    for k, item in enumerate(items):
        for s in range(1, item.sets + 1):
            set_no += 1
            first = s == 1
            intro = f"{item.label}. {item.instruction}" if first else f"{item.label}, set {s}."
            steps.append(
                RunStep(
                    index=len(steps),
                    kind="intro",
                    name="intro",
                    title=item.label,
                    instruction=intro + f" Do {item.reps} repetitions.",
                    cue=(intro if first else f"Set {s} of {item.sets}.")
                    + f" {item.reps} repetitions. Get ready.",
                    duration_s=intro_s,
                    exercise=item.exercise,
                    set_no=set_no,
                    sets=item.sets,
                    target_reps=item.reps,
                )
            )
            steps.append(
                RunStep(
                    index=len(steps),
                    kind="set",
                    name="set",
                    title=item.label,
                    instruction=f"{item.label}: set {s} of {item.sets}",
                    cue="Go",
                    max_duration_s=item.reps * 8.0 + 30.0,
                    end_cue="Well done.",
                    count="reps",
                    target_reps=item.reps,
                    exercise=item.exercise,
                    set_no=set_no,
                    sets=item.sets,
                )
            )
            last = k == len(items) - 1 and s == item.sets
            if not last:
                nxt = item.label if s < item.sets else items[k + 1].label
                steps.append(
                    RunStep(
                        index=len(steps),
                        kind="rest",
                        name="rest",
                        title="Rest",
                        instruction=f"Rest. Next: {nxt}.",
                        cue=f"Rest for {item.rest_s:.0f} seconds.",
                        duration_s=item.rest_s,
                        exercise=item.exercise,
                        set_no=set_no,
                    )
                )
    return RunPlan(
        name="home_programme",
        title="Today's exercises",
        setting="home",
        steps=steps,
        store_protocol="reps",
        programme=items,
    )
