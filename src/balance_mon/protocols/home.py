"""Home exercise programmes: a therapist's plan, saved and shared as a TOML file.

A programme lists exercises, each with sets, target repetitions (or a hold
time for balance exercises), the rest between sets and a progression rule;
:func:`load_programme` reads and validates a file (every problem is reported
with the file, the exercise and the key), :func:`save_programme` writes one.
TOML is read with the standard library's :mod:`tomllib` and written by the
small writer here (the format is only tables, arrays of tables and scalars).
Why TOML rather than JSON: docs/protocols.md.

Example file::

    format = "balance_mon.home_programme/1"
    name = "Strength and balance, weeks 1-4"
    patient = "P0042"
    therapist = "J. Physio"
    created = 2025-01-06
    sessions_per_week = 3
    trunk_flexion_limit_deg = 30   # optional: live back-posture warning (10-90, default 30)

    [progression]          # default rule for every exercise
    kind = "reps"          # reps | sets | hold | none
    step = 2               # add 2 reps ...
    every_sessions = 3     # ... after 3 sessions that met the target
    max = 15               # never above 15 reps

    [[exercise]]
    name = "sit_to_stand"
    sets = 2
    reps = 8
    rest_s = 60
    notes = "Arms crossed, firm chair"

    [[exercise]]
    name = "tandem_stance"
    sets = 3
    hold_s = 20
    rest_s = 30
    progression = { kind = "hold", step = 5, every_sessions = 2, max = 30 }
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ProgrammeError

__all__ = [
    "DEFAULT_TRUNK_FLEXION_LIMIT_DEG",
    "EXERCISE_CATALOGUE",
    "PROGRAMME_FORMAT",
    "ExerciseInfo",
    "HomeProgramme",
    "PlannedExercise",
    "ProgrammeError",
    "Progression",
    "dump_programme",
    "load_programme",
    "loads_programme",
    "save_programme",
]

#: The ``format`` value of a programme file.
PROGRAMME_FORMAT = "balance_mon.home_programme/1"

#: Default and allowed range of ``trunk_flexion_limit_deg``: the trunk inclination
#: beyond which home mode and the live view warn (analysis.posture: 30 deg default).
DEFAULT_TRUNK_FLEXION_LIMIT_DEG = 30.0
TRUNK_FLEXION_LIMIT_RANGE_DEG = (10.0, 90.0)


@dataclass(frozen=True)
class ExerciseInfo:
    """A catalogue entry: ``kind`` ``reps`` (counted by the ``reps`` analysis) or
    ``hold`` (timed, scored by ``sway``); the sensor placement it is counted
    best from; its variants (the first is the default)."""

    kind: str
    title: str
    analysis: str
    placement: str
    variants: tuple[str, ...] = ("default",)


#: Exercises a programme may name. Rep exercises are those the repetition
#: counter and the simulator know; hold exercises are static balance stances.
EXERCISE_CATALOGUE: dict[str, ExerciseInfo] = {
    "sit_to_stand": ExerciseInfo("reps", "Sit to stand", "reps", "lower_back"),
    "squat": ExerciseInfo("reps", "Squat", "reps", "thigh"),
    "heel_raise": ExerciseInfo("reps", "Heel raise", "reps", "lower_back"),
    "lunge": ExerciseInfo("reps", "Lunge", "reps", "thigh", ("same", "alternating")),
    "arm_raise": ExerciseInfo("reps", "Arm raise", "reps", "wrist", ("front", "side")),
    "push_up": ExerciseInfo("reps", "Push-up", "reps", "sternum", ("wall", "floor")),
    "band_row": ExerciseInfo("reps", "Band row", "reps", "wrist"),
    "stair_climb": ExerciseInfo("reps", "Stair climb", "reps", "lower_back", ("up", "down")),
    "feet_together_stance": ExerciseInfo("hold", "Feet together stance", "sway", "lower_back"),
    "semi_tandem_stance": ExerciseInfo("hold", "Semi-tandem stance", "sway", "lower_back"),
    "tandem_stance": ExerciseInfo("hold", "Tandem stance", "sway", "lower_back"),
    "single_leg_stance": ExerciseInfo("hold", "Single-leg stance", "sway", "lower_back"),
}

_LIMITS = {
    "sets": (1, 20),
    "reps": (1, 100),
    "hold_s": (1.0, 600.0),
    "rest_s": (0.0, 600.0),
    "sessions_per_week": (1, 14),
    "every_sessions": (1, 52),
}

PROGRESSION_KINDS = ("none", "reps", "sets", "hold")


@dataclass(frozen=True)
class Progression:
    """Add ``step`` to ``kind`` (reps, sets or hold seconds) after every
    ``every_sessions`` sessions that met the target, never above ``max``.
    ``kind == "none"``: targets stay fixed."""

    kind: str = "none"
    step: float = 0.0
    every_sessions: int = 1
    max: float | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        if self.kind != "none":
            d["step"] = _num_out(self.step)
            d["every_sessions"] = self.every_sessions
            if self.max is not None:
                d["max"] = _num_out(self.max)
        return d


@dataclass(frozen=True)
class PlannedExercise:
    """One exercise of a programme (``reps`` for rep exercises, ``hold_s`` for holds)."""

    name: str
    sets: int
    reps: int | None = None
    hold_s: float | None = None
    rest_s: float = 60.0
    variant: str | None = None
    notes: str = ""
    progression: Progression | None = None  #: None: the programme's default

    @property
    def info(self) -> ExerciseInfo:
        return EXERCISE_CATALOGUE[self.name]

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        if self.variant is not None:
            d["variant"] = self.variant
        d["sets"] = self.sets
        if self.reps is not None:
            d["reps"] = self.reps
        if self.hold_s is not None:
            d["hold_s"] = _num_out(self.hold_s)
        d["rest_s"] = _num_out(self.rest_s)
        if self.notes:
            d["notes"] = self.notes
        if self.progression is not None:
            d["progression"] = self.progression.as_dict()
        return d


@dataclass(frozen=True)
class HomeProgramme:
    """A therapist's home exercise plan."""

    name: str
    exercises: tuple[PlannedExercise, ...]
    patient: str | None = None
    therapist: str | None = None
    created: dt.date | None = None
    sessions_per_week: int = 3
    notes: str = ""
    progression: Progression = field(default_factory=Progression)
    #: live trunk-flexion warning threshold, deg (None: the default, 30 deg)
    trunk_flexion_limit_deg: float | None = None

    @property
    def flexion_limit_deg(self) -> float:
        """The trunk flexion limit in force (the default when the file sets none)."""
        v = self.trunk_flexion_limit_deg
        return DEFAULT_TRUNK_FLEXION_LIMIT_DEG if v is None else float(v)

    def progression_of(self, exercise: PlannedExercise) -> Progression:
        return exercise.progression if exercise.progression is not None else self.progression

    def targets(self, index: int, sessions_met: int) -> dict[str, float | int | None]:
        """Sets, reps and hold time of exercise ``index`` after ``sessions_met``
        sessions that met the target (the progression rule applied)."""
        if isinstance(sessions_met, bool) or not isinstance(sessions_met, int) or sessions_met < 0:
            raise ProgrammeError(f"sessions_met must be a whole number >= 0, got {sessions_met!r}")
        ex = self.exercises[index]
        prog = self.progression_of(ex)
        out: dict[str, float | int | None] = {"sets": ex.sets, "reps": ex.reps, "hold_s": ex.hold_s}
        if prog.kind == "none":
            return out
        key = {"reps": "reps", "sets": "sets", "hold": "hold_s"}[prog.kind]
        base = out[key]
        if base is None:
            return out
        v = base + prog.step * (sessions_met // prog.every_sessions)
        if prog.max is not None:
            v = min(v, max(prog.max, base))
        out[key] = int(round(v)) if key in ("reps", "sets") else float(v)
        return out

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"format": PROGRAMME_FORMAT, "name": self.name}
        for k in ("patient", "therapist", "created"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        d["sessions_per_week"] = self.sessions_per_week
        if self.notes:
            d["notes"] = self.notes
        if self.trunk_flexion_limit_deg is not None:
            d["trunk_flexion_limit_deg"] = _num_out(self.trunk_flexion_limit_deg)
        d["progression"] = self.progression.as_dict()
        d["exercise"] = [e.as_dict() for e in self.exercises]
        return d


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _num_out(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


class _Ctx:
    def __init__(self, source: str):
        self.source = source

    def err(self, where: str, msg: str) -> ProgrammeError:
        loc = f"{self.source}: {where}: " if where else f"{self.source}: "
        return ProgrammeError(loc + msg)


def _check_keys(ctx: _Ctx, where: str, d: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for k in d:
        if k not in allowed:
            close = difflib.get_close_matches(k, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ctx.err(where, f"unknown key '{k}'{hint}; allowed: {', '.join(allowed)}")


def _int(ctx: _Ctx, where: str, d: Mapping[str, Any], key: str, default: Any = ...) -> Any:
    if key not in d:
        if default is ...:
            raise ctx.err(where, f"'{key}' is required")
        return default
    v = d[key]
    lo, hi = _LIMITS[key]
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ctx.err(where, f"{key} must be a whole number from {lo} to {hi}, got {v!r}")
    return v


def _float(
    ctx: _Ctx, where: str, d: Mapping[str, Any], key: str, lo: float, hi: float, default: Any = ...
) -> Any:
    if key not in d:
        if default is ...:
            raise ctx.err(where, f"'{key}' is required")
        return default
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ctx.err(where, f"{key} must be a number, got {v!r}")
    if not lo <= v <= hi:
        raise ctx.err(where, f"{key} must be from {lo:g} to {hi:g}, got {v!r}")
    return float(v)


def _text(ctx: _Ctx, where: str, d: Mapping[str, Any], key: str, default: Any = ...) -> Any:
    if key not in d:
        if default is ...:
            raise ctx.err(where, f"'{key}' is required")
        return default
    v = d[key]
    if not isinstance(v, str):
        raise ctx.err(where, f"{key} must be text, got {v!r}")
    return v


def _progression(ctx: _Ctx, where: str, d: Any) -> Progression:
    if not isinstance(d, Mapping):
        raise ctx.err(where, f"progression must be a table, got {d!r}")
    _check_keys(ctx, where, d, ("kind", "step", "every_sessions", "max"))
    kind = _text(ctx, where, d, "kind", "none")
    if kind not in PROGRESSION_KINDS:
        raise ctx.err(
            where, f"progression kind must be one of {', '.join(PROGRESSION_KINDS)}, got {kind!r}"
        )
    if kind == "none":
        extra = [k for k in ("step", "every_sessions", "max") if k in d]
        if extra:
            raise ctx.err(where, f"progression kind 'none' takes no {', '.join(extra)}")
        return Progression()
    step = _float(ctx, where, d, "step", -math.inf, 600.0)
    if step <= 0:
        raise ctx.err(where, f"progression step must be positive, got {d['step']!r}")
    if kind in ("reps", "sets") and not float(step).is_integer():
        raise ctx.err(
            where, f"progression step of {kind} must be a whole number, got {d['step']!r}"
        )
    every = _int(ctx, where, d, "every_sessions")
    mx = _float(ctx, where, d, "max", 0.0, 600.0, None)
    return Progression(kind=kind, step=step, every_sessions=every, max=mx)


def _exercise(ctx: _Ctx, i: int, d: Any) -> PlannedExercise:
    where = f"exercise {i}"
    if not isinstance(d, Mapping):
        raise ctx.err(where, "must be a table ([[exercise]])")
    name = _text(ctx, where, d, "name")
    if name not in EXERCISE_CATALOGUE:
        close = difflib.get_close_matches(name, list(EXERCISE_CATALOGUE), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ctx.err(
            where, f"unknown exercise '{name}'{hint}; known: {', '.join(EXERCISE_CATALOGUE)}"
        )
    where = f"exercise {i} ({name})"
    info = EXERCISE_CATALOGUE[name]
    _check_keys(
        ctx,
        where,
        d,
        ("name", "variant", "sets", "reps", "hold_s", "rest_s", "notes", "progression"),
    )
    variant = _text(ctx, where, d, "variant", None)
    if variant is not None and variant not in info.variants:
        raise ctx.err(where, f"variant must be one of {', '.join(info.variants)}, got {variant!r}")
    sets = _int(ctx, where, d, "sets")
    reps = hold = None
    if info.kind == "reps":
        if "hold_s" in d:
            raise ctx.err(where, "a repetition exercise takes 'reps', not 'hold_s'")
        reps = _int(ctx, where, d, "reps")
    else:
        if "reps" in d:
            raise ctx.err(where, "a balance hold takes 'hold_s', not 'reps'")
        hold = _float(ctx, where, d, "hold_s", *_LIMITS["hold_s"])
    rest = _float(ctx, where, d, "rest_s", *_LIMITS["rest_s"], 60.0)
    notes = _text(ctx, where, d, "notes", "")
    prog = None
    if "progression" in d:
        prog = _progression(ctx, f"{where} progression", d["progression"])
        if prog.kind == "hold" and info.kind != "hold":
            raise ctx.err(where, "progression kind 'hold' needs a balance hold exercise")
        if prog.kind == "reps" and info.kind != "reps":
            raise ctx.err(where, "progression kind 'reps' needs a repetition exercise")
    return PlannedExercise(
        name=name,
        sets=sets,
        reps=reps,
        hold_s=hold,
        rest_s=rest,
        variant=variant,
        notes=notes,
        progression=prog,
    )


def programme_from_dict(d: Mapping[str, Any], *, source: str = "programme") -> HomeProgramme:
    """Validate a parsed programme (the TOML document as a dict)."""
    ctx = _Ctx(source)
    _check_keys(
        ctx,
        "",
        d,
        (
            "format",
            "name",
            "patient",
            "therapist",
            "created",
            "sessions_per_week",
            "notes",
            "trunk_flexion_limit_deg",
            "progression",
            "exercise",
        ),
    )
    fmt = d.get("format", PROGRAMME_FORMAT)
    if fmt != PROGRAMME_FORMAT:
        raise ctx.err("", f"format must be '{PROGRAMME_FORMAT}', got {fmt!r}")
    name = _text(ctx, "", d, "name")
    if not name.strip():
        raise ctx.err("", "name must not be empty")
    created = d.get("created")
    if created is not None and (
        not isinstance(created, dt.date) or isinstance(created, dt.datetime)
    ):
        raise ctx.err("", f"created must be a date (YYYY-MM-DD, unquoted), got {created!r}")
    prog = _progression(ctx, "progression", d.get("progression", {"kind": "none"}))
    exs = d.get("exercise")
    if not isinstance(exs, list) or not exs:
        raise ctx.err("", "a programme needs at least one [[exercise]]")
    exercises = tuple(_exercise(ctx, i + 1, e) for i, e in enumerate(exs))
    return HomeProgramme(
        name=name,
        exercises=exercises,
        patient=_text(ctx, "", d, "patient", None),
        therapist=_text(ctx, "", d, "therapist", None),
        created=created,
        sessions_per_week=_int(ctx, "", d, "sessions_per_week", 3),
        notes=_text(ctx, "", d, "notes", ""),
        progression=prog,
        trunk_flexion_limit_deg=_float(
            ctx, "", d, "trunk_flexion_limit_deg", *TRUNK_FLEXION_LIMIT_RANGE_DEG, None
        ),
    )


def loads_programme(text: str, *, source: str = "programme") -> HomeProgramme:
    """Parse and validate programme TOML text (``source`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProgrammeError(f"{source}: not valid TOML: {e}") from None
    return programme_from_dict(data, source=source)


def load_programme(path: str | Path) -> HomeProgramme:
    """Read and validate a programme file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProgrammeError(f"{p}: no such programme file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ProgrammeError(f"{p}: cannot read the programme file: {e}") from None
    return loads_programme(text, source=str(p))


# ---------------------------------------------------------------------------
# Writing TOML
# ---------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(k: str) -> str:
    return k if _BARE_KEY.match(k) else _toml_str(k)


def _toml_str(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ProgrammeError(f"cannot write the non-finite number {v!r}")
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise ProgrammeError(f"cannot write {v!r} as TOML")


def _dumps(d: Mapping[str, Any]) -> str:
    """Scalars first, then tables, then arrays of tables (one level deep, as programmes need)."""
    lines: list[str] = []
    tables = {k: v for k, v in d.items() if isinstance(v, Mapping)}
    arrays = {
        k: v
        for k, v in d.items()
        if isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v)
    }
    for k, v in d.items():
        if k not in tables and k not in arrays:
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in tables.items():
        lines += ["", f"[{_toml_key(k)}]"]
        lines += [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in v.items()]
    for k, v in arrays.items():
        for item in v:
            lines += ["", f"[[{_toml_key(k)}]]"]
            lines += [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in item.items()]
    return "\n".join(lines) + "\n"


def dump_programme(programme: HomeProgramme) -> str:
    """The programme as TOML text (read back by :func:`loads_programme` unchanged)."""
    header = "# balance_mon home exercise programme (edit with care; checked on load)\n"
    return header + _dumps(programme.as_dict())


def save_programme(programme: HomeProgramme, path: str | Path) -> Path:
    """Write the programme to ``path`` (UTF-8 TOML); returns the path."""
    p = Path(path)
    text = dump_programme(programme)
    # never write a file we could not read back
    if loads_programme(text, source=str(p)) != programme:
        raise ProgrammeError(
            f"{p}: the programme does not survive a round trip"
        )  # pragma: no cover
    p.write_text(text, encoding="utf-8")
    return p
