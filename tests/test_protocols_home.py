"""Home exercise programmes: TOML round trip and validation errors."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from balance_mon.protocols import home
from balance_mon.protocols.home import (
    EXERCISE_CATALOGUE,
    HomeProgramme,
    PlannedExercise,
    ProgrammeError,
    Progression,
    dump_programme,
    load_programme,
    loads_programme,
    save_programme,
)
from balance_mon.sim import EXERCISES

GOOD = """\
format = "balance_mon.home_programme/1"
name = "Strength and balance, weeks 1-4"
patient = "P0042"
created = 2025-01-06
sessions_per_week = 3

[progression]
kind = "reps"
step = 2
every_sessions = 3
max = 15

[[exercise]]
name = "sit_to_stand"
sets = 2
reps = 8
rest_s = 60

[[exercise]]
name = "tandem_stance"
sets = 3
hold_s = 20
rest_s = 30
progression = { kind = "hold", step = 5, every_sessions = 2, max = 30 }
"""


def programme() -> HomeProgramme:
    return HomeProgramme(
        name='Post-fracture plan "A" \\ week 1',
        patient="P0042",
        therapist="Jo Physio",
        created=dt.date(2025, 1, 6),
        sessions_per_week=4,
        notes="Spine-sparing: hinge at the hips.\nStop if dizzy.",
        progression=Progression("reps", 2.0, 3, 15.0),
        exercises=(
            PlannedExercise("sit_to_stand", sets=2, reps=8, rest_s=60.0, notes="firm chair"),
            PlannedExercise("push_up", sets=3, reps=10, rest_s=45.5, variant="wall"),
            PlannedExercise(
                "single_leg_stance",
                sets=3,
                hold_s=12.5,
                rest_s=30.0,
                progression=Progression("hold", 2.5, 2, 30.0),
            ),
            PlannedExercise("heel_raise", sets=1, reps=15, progression=Progression()),
        ),
    )


def test_round_trip_through_a_file(tmp_path):
    p = programme()
    path = save_programme(p, tmp_path / "plan.toml")
    text = path.read_text(encoding="utf-8")
    assert "[[exercise]]" in text and 'name = "sit_to_stand"' in text  # human-readable
    assert tomllib.loads(text)["exercise"][1]["variant"] == "wall"  # plain TOML
    back = load_programme(path)
    assert back == p
    assert dump_programme(back) == text


def test_reads_a_hand_written_file_with_comments():
    p = loads_programme("# therapist's notes\n" + GOOD, source="plan.toml")
    assert [e.name for e in p.exercises] == ["sit_to_stand", "tandem_stance"]
    assert p.created == dt.date(2025, 1, 6) and p.exercises[1].hold_s == 20.0
    assert p.exercises[0].progression is None and p.progression.kind == "reps"
    assert loads_programme(dump_programme(p)) == p


def test_the_module_example_is_valid():
    doc = home.__doc__
    example = doc[doc.index("Example file::") + len("Example file::") :]
    text = "\n".join(line[4:] for line in example.splitlines() if line.startswith("    "))
    p = loads_programme(text)
    assert len(p.exercises) == 2


def test_progression_targets():
    p = loads_programme(GOOD)
    assert p.targets(0, 0) == {"sets": 2, "reps": 8, "hold_s": None}
    assert p.targets(0, 2)["reps"] == 8
    assert p.targets(0, 3)["reps"] == 10
    assert p.targets(0, 9)["reps"] == 14
    assert p.targets(0, 300)["reps"] == 15  # capped
    assert p.targets(1, 5)["hold_s"] == 30.0  # own rule: 20 + 5 * 2
    assert p.targets(1, 50)["hold_s"] == 30.0
    q = programme()
    assert q.targets(3, 100)["reps"] == 15  # "none" overrides the default rule
    with pytest.raises(ProgrammeError):
        p.targets(0, -1)


def test_catalogue_rep_exercises_are_known_to_the_simulator():
    reps = {k for k, v in EXERCISE_CATALOGUE.items() if v.kind == "reps"}
    assert reps <= set(EXERCISES)
    assert {v.kind for v in EXERCISE_CATALOGUE.values()} == {"reps", "hold"}


def edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


BAD = [
    (
        edit('name = "sit_to_stand"', 'name = "sit_to_stnad"'),
        r"exercise 1: unknown exercise 'sit_to_stnad' \(did you mean 'sit_to_stand'\?\)",
    ),
    (
        edit("reps = 8", "reps = -5"),
        r"exercise 1 \(sit_to_stand\): reps must be a whole number from 1 to 100, got -5",
    ),
    (edit("reps = 8", "reps = 8.5"), r"reps must be a whole number"),
    (edit("reps = 8", "reps = true"), r"reps must be a whole number"),
    (edit("sets = 2", "sets = 0"), r"sets must be a whole number from 1 to 20, got 0"),
    (edit("reps = 8", "rep = 8"), r"unknown key 'rep' \(did you mean 'reps'\?\)"),
    (edit("reps = 8", "hold_s = 8"), r"takes 'reps', not 'hold_s'"),
    (
        edit("hold_s = 20", "reps = 20"),
        r"exercise 2 \(tandem_stance\): a balance hold takes 'hold_s'",
    ),
    (edit("hold_s = 20", "hold_s = -1"), r"hold_s must be from 1 to 600, got -1"),
    (edit("rest_s = 60", 'rest_s = "1 min"'), r"rest_s must be a number"),
    (edit('kind = "reps"', 'kind = "weight"'), r"progression: progression kind must be one of"),
    (edit("step = 2", "step = -2"), r"progression step must be positive"),
    (edit("step = 2", "step = 1.5"), r"step of reps must be a whole number"),
    (edit("every_sessions = 3", "every_sessions = 0"), r"every_sessions must be a whole number"),
    (edit("created = 2025-01-06", 'created = "6 Jan"'), r"created must be a date"),
    (edit("sessions_per_week = 3", "sessions_per_week = 30"), r"sessions_per_week must be"),
    (edit('format = "balance_mon.home_programme/1"', 'format = "v2"'), r"format must be"),
    (edit('name = "Strength', 'nmae = "Strength'), r"unknown key 'nmae'"),
    (GOOD.split("[[exercise]]")[0], r"at least one \[\[exercise\]\]"),
    (edit("sets = 2", 'sets = 2\nvariant = "floor"'), r"variant must be one of default"),
    (edit("[progression]", "[progression"), r"not valid TOML"),
    (
        edit(
            "step = 5, every_sessions = 2, max = 30",
            "step = 5, every_sessions = 2, max = 30, x = 1",
        ),
        r"unknown key 'x'",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_validation_errors_name_the_file_and_the_problem(text, message):
    with pytest.raises(ProgrammeError, match=message) as e:
        loads_programme(text, source="plan.toml")
    assert str(e.value).startswith("plan.toml: ")


def test_hold_progression_on_a_rep_exercise_is_rejected():
    text = edit(
        "rest_s = 60\n",
        'rest_s = 60\nprogression = { kind = "hold", step = 5, every_sessions = 2 }\n',
    )
    with pytest.raises(ProgrammeError, match="needs a balance hold exercise"):
        loads_programme(text)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ProgrammeError, match="no such programme file"):
        load_programme(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe name")
    with pytest.raises(ProgrammeError, match=r"bad\.toml: cannot read"):
        load_programme(bad)
