"""The clinical tests as data: STEADI four-stage, 30 s chair stand, TUG, Romberg,
CTSIB-M and single-leg stance.

Procedures follow ``/work/shared/reference/clinical.md`` section 2; the
on-screen wording is balance_mon's own (not copied from the STEADI forms).
Look a protocol up with :func:`get_protocol`; :data:`PROTOCOLS` lists them.
"""

from __future__ import annotations

from typing import Any

from .model import Condition, Protocol, ProtocolError, Step, ValidityRule
from .norms import (
    CHAIR_STAND_SOURCE,
    FOUR_STAGE_SOURCE,
    SINGLE_LEG_STANCE_SOURCE,
    TUG_SOURCE,
    Source,
)

__all__ = ["PROTOCOLS", "SENSOR_SETUP", "get_protocol", "protocol_names"]

CTSIB_SOURCE = Source(
    "CTSIB-M: Cohen, Blatchly & Gombash 1993, Phys Ther 73:346 (from Shumway-Cook & Horak 1986)"
)
ROMBERG_SOURCE = Source("Romberg test (clinical.md section 2; no validated sway-ratio cut-off)")
PRACTICE_SOURCE = Source("Gill et al. 2022 (chair stand practice effect +0.5-0.8 stands)")

#: The setup step every protocol starts with.
SENSOR_SETUP = Step(
    name="sensor",
    kind="setup",
    instruction=(
        "Attach the sensor firmly at the lower back (over L5) or on the chest strap, "
        "check the live signal, then press Next."
    ),
    cue="",
)

# -- validity rules ----------------------------------------------------------------

GAP = ValidityRule(
    "sensor_gap",
    "invalid",
    "sensor data missing for longer than the limit during the trial; repeat it",
    limit=0.5,
)
TOO_SHORT = ValidityRule(
    "too_short",
    "invalid",
    "the trial recording ended before the required time without a recorded reason",
)
ANALYSIS_FAILED = ValidityRule(
    "analysis_failed", "invalid", "the analysis could not score the trial recording"
)
BALANCE_LOST = ValidityRule(
    "balance_lost",
    "fail",
    "the person stepped, moved the feet, or lost balance; the time held until then counts",
)
SUPPORT_USED = ValidityRule(
    "support_used",
    "fail",
    "the person needed support (grabbed something, was helped, or the arms left position)",
)
EYES_OPENED = ValidityRule("eyes_opened", "fail", "the eyes opened during an eyes-closed condition")
ARMS_USED = ValidityRule(
    "arms_used",
    "score_zero",
    "the arms were used to stand up; STEADI scores the chair stand 0",
    stops_trial=False,
    source=CHAIR_STAND_SOURCE,
)
STANCE_RULES = (GAP, TOO_SHORT, ANALYSIS_FAILED, BALANCE_LOST, SUPPORT_USED)


def _stance_steps(hold_s: float, rest_s: float | None, what: str) -> tuple[Step, ...]:
    steps = [
        Step(
            "position",
            "position",
            "{instruction} Stand still; the test starts when you are steady.",
            cue="{cue}",
            auto_start="still",
        ),
        Step(
            "countdown", "countdown", "Get ready: hold the position.", cue="Ready", duration_s=3.0
        ),
        Step(
            "hold",
            "perform",
            f"Hold {what} for {hold_s:g} seconds.",
            cue="Begin",
            duration_s=hold_s,
            auto_stop="duration",
            end_cue="Stop. Relax.",
        ),
    ]
    if rest_s:
        steps.append(
            Step("rest", "rest", "Rest. Sit down if you need to.", cue="", duration_s=rest_s)
        )
    return tuple(steps)


# -- STEADI four-stage ---------------------------------------------------------------

STEADI_FOUR_STAGE = Protocol(
    name="steadi_four_stage",
    title="STEADI Four-Stage Balance Test",
    description=(
        "Four stances of increasing difficulty, eyes open and without an aid, each held "
        "10 s; move on only after a 10 s hold without moving the feet or needing support, "
        "and stop at the first failure. Not holding tandem stance for 10 s means an "
        "increased risk of falling."
    ),
    value="hold_s",
    analysis="sway",
    whole_analysis="four-stage",
    conditions=(
        Condition(
            "feet_together",
            "Feet side by side",
            "Stand with your feet side by side, touching.",
            cue="Feet side by side",
            eyes="open",
            surface="firm",
            stance="feet_together",
        ),
        Condition(
            "semi_tandem",
            "Semi-tandem",
            "Place the instep of one foot against the big toe of the other foot.",
            cue="Instep to big toe",
            eyes="open",
            surface="firm",
            stance="semi_tandem",
        ),
        Condition(
            "tandem",
            "Tandem",
            "Place one foot directly in front of the other, heel touching toe.",
            cue="Heel to toe",
            eyes="open",
            surface="firm",
            stance="tandem",
        ),
        Condition(
            "single_leg",
            "Single leg",
            "Stand on one foot.",
            cue="Stand on one foot",
            eyes="open",
            surface="firm",
            stance="single_leg",
        ),
    ),
    setup=(SENSOR_SETUP,),
    trial_steps=_stance_steps(10.0, None, "this stance"),
    target_s=10.0,
    max_attempts=1,
    repeat="none",
    aggregate="single",
    stop_on_fail=True,
    rules=STANCE_RULES,
    norms=("tandem_hold_s",),
    sources=(FOUR_STAGE_SOURCE,),
    notes="Stand by the person for safety; stop at the first stance not held 10 s.",
)

# -- 30 s chair stand -----------------------------------------------------------------

CHAIR_STAND_30S = Protocol(
    name="chair_stand_30s",
    title="30-Second Chair Stand",
    description=(
        "From a straight-backed chair without arms (seat about 43 cm), arms crossed on the "
        "chest, count the full stands in 30 s; more than halfway up at 30 s counts as a "
        "stand; using the arms scores 0. Scores below the STEADI value for the person's age "
        "and sex are below average."
    ),
    value="stands",
    analysis="chair-stand",
    conditions=(
        Condition(
            "standard",
            "Chair stand",
            "Sit in the middle of the chair, back straight, feet flat on the floor, "
            "arms crossed on your chest.",
            cue="Arms crossed",
        ),
    ),
    setup=(
        SENSOR_SETUP,
        Step(
            "chair",
            "setup",
            "Place a straight-backed chair without arms (seat about 43 cm) against a wall.",
        ),
    ),
    trial_steps=(
        Step(
            "position",
            "position",
            "{instruction} When I say 'Go', stand up fully and sit down again, as many "
            "times as you can in 30 seconds.",
            cue="{cue}",
            auto_start="still",
        ),
        Step("countdown", "countdown", "Get ready.", cue="Ready", duration_s=3.0),
        Step(
            "stands",
            "perform",
            "Stand up fully and sit down, as many times as you can.",
            cue="Go",
            duration_s=30.0,
            auto_stop="duration",
            end_cue="Stop",
        ),
        Step("rest", "rest", "Rest.", duration_s=60.0),
    ),
    max_attempts=2,
    repeat="none",
    aggregate="last",
    rules=(GAP, TOO_SHORT, ANALYSIS_FAILED, ARMS_USED, BALANCE_LOST),
    norms=("chair_stand_below_average",),
    sources=(CHAIR_STAND_SOURCE, PRACTICE_SOURCE),
    notes=(
        "STEADI gives one attempt. With practice_attempts=1 a familiarisation attempt is "
        "recorded first and not scored; when two attempts are scored from recordings the "
        "last valid one counts, because the second attempt is 0.5-0.8 stands better "
        "(Gill et al. 2022)."
    ),
)

# -- Timed Up and Go ---------------------------------------------------------------------

TUG = Protocol(
    name="tug",
    title="Timed Up and Go",
    description=(
        "Rise from a chair, walk 3 m (10 ft) at a normal pace, turn, walk back and sit "
        "down; 12 s or more is at risk (STEADI). The cut-off rules in better than out "
        "(Barry et al. 2014): never use it alone."
    ),
    value="time_s",
    analysis="tug",
    conditions=(
        Condition(
            "standard",
            "Timed Up and Go",
            "Sit back in the chair with your back against it. When I say 'Go', stand up, "
            "walk to the line at your normal pace, turn, walk back and sit down.",
            cue="Sit back",
        ),
    ),
    setup=(
        SENSOR_SETUP,
        Step(
            "course",
            "setup",
            "Mark a line on the floor 3 m (10 ft) from the front of a chair with arms.",
        ),
    ),
    trial_steps=(
        Step("position", "position", "{instruction}", cue="{cue}", auto_start="still"),
        Step("countdown", "countdown", "Get ready.", cue="Ready", duration_s=3.0),
        Step(
            "walk",
            "perform",
            "Stand up, walk to the line, turn, walk back and sit down.",
            cue="Go",
            auto_stop="signal",
            max_duration_s=120.0,
        ),
    ),
    max_attempts=1,
    repeat="none",
    aggregate="single",
    rules=(GAP, TOO_SHORT, ANALYSIS_FAILED, BALANCE_LOST),
    norms=("tug_at_risk_s",),
    sources=(TUG_SOURCE, Source("Barry et al. 2014, BMC Geriatr (TUG accuracy)")),
    notes="Timing runs from 'Go' until seated; a walking aid may be used as usual.",
    extra={"min_duration_s": 3.0},
)

# -- Romberg -----------------------------------------------------------------------------

ROMBERG = Protocol(
    name="romberg",
    title="Romberg",
    description=(
        "Feet together, arms by the sides, 30 s eyes open then 30 s eyes closed. The "
        "Romberg ratio is a sway measure eyes closed / eyes open (no validated cut-off)."
    ),
    value="hold_s",
    analysis="sway",
    conditions=(
        Condition(
            "eyes_open",
            "Eyes open",
            "Stand with your feet together, arms by your sides, eyes open looking ahead.",
            cue="Eyes open",
            eyes="open",
            surface="firm",
            stance="feet_together",
        ),
        Condition(
            "eyes_closed",
            "Eyes closed",
            "Stand with your feet together, arms by your sides; close your eyes when I say.",
            cue="Close your eyes",
            eyes="closed",
            surface="firm",
            stance="feet_together",
        ),
    ),
    setup=(SENSOR_SETUP,),
    trial_steps=_stance_steps(30.0, 30.0, "still"),
    target_s=30.0,
    max_attempts=1,
    repeat="none",
    aggregate="single",
    rules=(*STANCE_RULES, EYES_OPENED),
    sources=(ROMBERG_SOURCE,),
)

# -- CTSIB-M -------------------------------------------------------------------------------

CTSIB_M = Protocol(
    name="ctsib_m",
    title="Modified Clinical Test of Sensory Interaction on Balance (CTSIB-M)",
    description=(
        "Four conditions of 30 s: firm/eyes open, firm/eyes closed, foam/eyes open, "
        "foam/eyes closed. A failed condition may be repeated up to twice and the attempts "
        "averaged. A trial stops when the arms leave position, the eyes open in an "
        "eyes-closed condition, or the person steps or needs help. Foam/eyes closed is the "
        "most useful vestibular screen, especially over 59."
    ),
    value="hold_s",
    analysis="sway",
    conditions=tuple(
        Condition(
            f"eyes_{eyes}_{surface}",
            f"{surface.capitalize()} surface, eyes {eyes}",
            (
                ("Stand on the foam pad" if surface == "foam" else "Stand on the floor")
                + ", feet together, arms crossed on your chest"
                + (", eyes closed." if eyes == "closed" else ", eyes open looking ahead.")
            ),
            cue=("On the foam" if surface == "foam" else "On the floor")
            + (", eyes closed" if eyes == "closed" else ", eyes open"),
            eyes=eyes,
            surface=surface,
            stance="feet_together",
        )
        for eyes, surface in (
            ("open", "firm"),
            ("closed", "firm"),
            ("open", "foam"),
            ("closed", "foam"),
        )
    ),
    setup=(SENSOR_SETUP,),
    trial_steps=_stance_steps(30.0, 30.0, "still"),
    target_s=30.0,
    max_attempts=3,
    repeat="on_fail",
    aggregate="mean",
    rules=(*STANCE_RULES, EYES_OPENED),
    sources=(CTSIB_SOURCE,),
    notes="Total score: sum of the four condition means (at most 120 s).",
)

# -- Single-leg stance -------------------------------------------------------------------

SINGLE_LEG_STANCE = Protocol(
    name="single_leg_stance",
    title="Single-leg stance",
    description=(
        "Stand on one leg as long as possible, up to 45 s, eyes open then eyes closed; best "
        "of up to 3 attempts per condition, compared with the age and sex means of Springer "
        "et al. 2007 (verify)."
    ),
    value="hold_s",
    analysis="sway",
    conditions=(
        Condition(
            "eyes_open",
            "Eyes open",
            "Cross your arms on your chest and lift one foot, eyes open looking ahead.",
            cue="Lift one foot",
            eyes="open",
            surface="firm",
            stance="single_leg",
        ),
        Condition(
            "eyes_closed",
            "Eyes closed",
            "Cross your arms on your chest, lift one foot, then close your eyes.",
            cue="Lift one foot, eyes closed",
            eyes="closed",
            surface="firm",
            stance="single_leg",
        ),
    ),
    setup=(SENSOR_SETUP,),
    trial_steps=_stance_steps(45.0, 20.0, "the position"),
    target_s=45.0,
    max_attempts=3,
    repeat="on_fail",
    aggregate="best",
    rules=(*STANCE_RULES, EYES_OPENED),
    norms=("single_leg_stance_mean_s",),
    sources=(SINGLE_LEG_STANCE_SOURCE,),
    notes=(
        "Timed up to 45 s and best of 3 as in Springer et al. 2007 (verify); a trial ends "
        "when the lifted foot touches down, the standing foot moves, the arms uncross or the "
        "eyes open."
    ),
)

#: Every protocol by name.
PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (STEADI_FOUR_STAGE, CHAIR_STAND_30S, TUG, ROMBERG, CTSIB_M, SINGLE_LEG_STANCE)
}


def protocol_names() -> list[str]:
    return list(PROTOCOLS)


def get_protocol(name: str, **options: Any) -> Protocol:
    """The protocol called ``name`` (``-`` and ``_`` alike), optionally with fields changed.

    ``options`` go to :meth:`Protocol.with_options`, e.g.
    ``get_protocol("chair_stand_30s", practice_attempts=1)``.
    """
    key = str(name).strip().lower().replace("-", "_")
    p = PROTOCOLS.get(key)
    if p is None:
        raise ProtocolError(f"unknown protocol {name!r}; use one of {', '.join(PROTOCOLS)}")
    return p.with_options(**options) if options else p
