"""The ``balance-mon`` command.

Every error a user can cause ends with exit status 2 and one plain-language
line on stderr that names the file and the problem; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .errors import BalanceMonError, RecordingError, UnitsError, UnsupportedTestError
from .recording import QualityReport, Recording, quality_report

SCHEMA = "balance_mon.analysis/1"
INFO_SCHEMA = "balance_mon.info/1"

#: Analyses of ``analyze --test``: minimum duration (s) and the function that
#: fills the JSON (None until the analysis exists in this version).
AnalysisFn = Callable[[Recording], dict[str, Any]]


def _sway(rec: Recording) -> dict[str, Any]:
    from .analysis.sway import SWAY_KEYS, SwayAnalyzer

    res = SwayAnalyzer().analyze_recording(rec).result()
    metrics = {k: res.pop(k) for k in SWAY_KEYS}
    return {"sway": metrics, "sway_info": res}


def _reps(rec: Recording) -> dict[str, Any]:
    from .analysis.reps import RepCounter

    return {"reps": RepCounter().count_recording(rec).result()}


def _analyses() -> dict[str, tuple[float, AnalysisFn | None]]:
    return {
        "sway": (5.0, _sway),
        "reps": (2.0, _reps),
        "sit-to-stand": (2.0, None),
        "chair-stand": (25.0, None),
        "tug": (3.0, None),
        "four-stage": (10.0, None),
        "auto": (2.0, None),
    }


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _json_safe(obj: Any) -> Any:
    """Replace non-finite floats by None so that the output is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _json_safe(obj.item())
    return obj


def _name_file(path: str, message: str) -> str:
    return message if message.startswith(path) else f"{path}: {message}"


# ---------------------------------------------------------------------------
# analyze
# ---------------------------------------------------------------------------


def cmd_analyze(args: argparse.Namespace) -> int:
    from .io import load_recording

    analyses = _analyses()
    test = args.test
    if test not in analyses:
        raise UnsupportedTestError(
            f"unknown test {test!r}; choose one of {', '.join(analyses)}"
        )
    min_s, fn = analyses[test]
    rec = load_recording(args.file)
    quality = quality_report(rec, min_duration_s=min_s, purpose=f"the {test} analysis")
    _raise_fatal(args.file, quality)
    if fn is None:
        raise UnsupportedTestError(
            f"{args.file}: the '{test}' analysis is not available in this version "
            f"({__version__}); the recording itself is readable "
            "(try 'balance-mon info FILE')"
        )
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "file": str(args.file),
        "fs_hz": rec.fs_hz,
        "duration_s": rec.duration_s,
        "quality": quality.as_dict(),
    }
    out.update(fn(rec))
    _print_result(out, as_json=args.json)
    return 0


def _raise_fatal(path: str, quality: QualityReport) -> None:
    """Raise the first fatal quality problem (wrong units, too short...) as an error."""
    for problem in quality.fatal:
        exc = UnitsError if problem.code.startswith(("units", "no_gravity")) else RecordingError
        raise exc(_name_file(path, problem.message))


def _print_result(out: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(_json_safe(out), allow_nan=False) + "\n")
        return
    for key, value in out.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k}: {_fmt(v)}")
        else:
            print(f"{key}: {_fmt(value)}")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list) and len(v) > 8:
        return f"[{', '.join(_fmt(x) for x in v[:8])}, ... ({len(v)} in all)]"
    return str(v)


# ---------------------------------------------------------------------------
# info and convert
# ---------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    from .io import detect_format, load_recording

    rec = load_recording(args.file)
    q = quality_report(rec)
    _raise_fatal(args.file, q)
    out = {
        "schema": INFO_SCHEMA,
        "file": str(args.file),
        "format": detect_format(args.file),
        "placement": rec.placement,
        "axes": rec.axes.format() if rec.axes else None,
        "gyroscope": rec.has_gyro,
        "metadata": dict(rec.metadata),
        "quality": q.as_dict(),
    }
    _print_result(out, as_json=args.json)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .io import load_recording, save_recording

    src, dst = Path(args.input), Path(args.output)
    if src.resolve() == dst.resolve():
        raise BalanceMonError(f"{dst}: output would overwrite the input; choose another name")
    if dst.exists() and not args.force:
        raise BalanceMonError(f"{dst}: already exists; use --force to overwrite it")
    rec = load_recording(src, fmt=args.from_format)
    save_recording(rec, dst, fmt=args.to_format)
    print(f"wrote {dst} ({rec.n_samples} samples, {rec.duration_s:.1f} s)", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="balance-mon",
        description="Balance and exercise lab from one Bluetooth LE motion sensor.",
    )
    p.add_argument("--version", action="version", version=f"balance-mon {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    a = sub.add_parser("analyze", help="analyse a recording for one test")
    a.add_argument("file", metavar="FILE", help="recording (CSV v1, binary .bmr or MetaBase CSV)")
    a.add_argument(
        "--test",
        required=True,
        metavar="TEST",
        help="sway, reps, sit-to-stand, chair-stand, tug, four-stage or auto",
    )
    a.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    a.set_defaults(func=cmd_analyze)

    i = sub.add_parser("info", help="describe a recording and its quality")
    i.add_argument("file", metavar="FILE")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    c = sub.add_parser("convert", help="convert a recording between formats")
    c.add_argument("input", metavar="IN")
    c.add_argument("output", metavar="OUT", help="output; .bmr writes binary, else CSV v1")
    c.add_argument("--from", dest="from_format", choices=("csv", "binary", "metabase"))
    c.add_argument("--to", dest="to_format", choices=("csv", "binary"))
    c.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    c.set_defaults(func=cmd_convert)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BalanceMonError as exc:
        msg = " ".join(str(exc).split())
        print(f"balance-mon: {msg}", file=sys.stderr)
        return 2
    except MemoryError:
        print("balance-mon: not enough memory for this file", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("balance-mon: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"balance-mon: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
