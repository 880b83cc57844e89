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


from .analysis.registry import ANALYSES as _REGISTRY  # noqa: E402
from .analysis.registry import AUTO_TESTS  # noqa: E402,F401  (used by tests)
from .analysis.registry import _reps, _sway  # noqa: E402,F401


def _auto(rec: Recording) -> dict[str, Any]:
    # register analyses added to this table (below) so that auto can use them
    for name, (_, fn) in _analyses().items():
        if fn is not None and name not in _REGISTRY and name != "auto":
            _REGISTRY[name] = fn
    return _REGISTRY["auto"](rec)


def _four_stage(rec: Recording) -> dict[str, Any]:
    from .analysis.balance import FourStageAnalyzer

    res = FourStageAnalyzer().analyze_recording(rec).result()
    return {"four_stage": res, "sway": dict(res["stances"][0]["sway"])}


def _analyses() -> dict[str, tuple[float, AnalysisFn | None]]:
    return {
        "sway": (5.0, _sway),
        "reps": (2.0, _reps),
        "sit-to-stand": (2.0, None),
        "chair-stand": (25.0, None),
        "tug": (3.0, None),
        "four-stage": (10.0, _four_stage),
        "auto": (2.0, _auto),
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
# live streaming: scan, record, replay (docs/streaming.md)
# ---------------------------------------------------------------------------


def _virtual_air(models: Sequence[str], args: argparse.Namespace) -> Any:
    """A simulated radio holding sensors of ``models`` (``--source``, ``--fault``, ``--seed``)."""
    from .devices.virtual import VirtualAir, load_source, make_peripheral, parse_faults

    source = load_source(args.source) if getattr(args, "source", None) else None
    faults = parse_faults(getattr(args, "fault", None) or [])
    seed = getattr(args, "seed", 0)
    return VirtualAir(
        [
            make_peripheral(m, source=source, faults=faults, seed=seed + i)
            for i, m in enumerate(models)
        ]
    )


def cmd_scan(args: argparse.Namespace) -> int:
    import asyncio

    from .devices.session import scan

    backend = _virtual_air(args.virtual, args).scanner_backend if args.virtual else None
    found = asyncio.run(scan(args.timeout, scanner_backend=backend))
    if args.json:
        rows = [
            {"name": f.name, "address": f.address, "model": f.model.key, "rssi_dbm": f.rssi}
            for f in found
        ]
        sys.stdout.write(json.dumps({"schema": "balance_mon.scan/1", "devices": rows}) + "\n")
        return 0
    if not found:
        print(
            f"no supported sensor found in {args.timeout:g} s (switched on, in range, "
            "not connected to a phone?)",
            file=sys.stderr,
        )
        return 0
    for f in found:
        print(f"{f.name or '(no name)':<24} {f.address:<20} {f.model.key:<10} {f.rssi:>4} dBm")
    return 0


class _Progress:
    """One status line on stderr (rewritten in place on a terminal, else every 5 s)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self._last = -math.inf
        self._width = 0

    def __call__(self, st: Any) -> None:
        if not self.tty and st.elapsed_s - self._last < 5.0:
            return
        self._last = st.elapsed_s
        batt = ""
        if "battery_pct" in st.battery:
            batt = f"  battery {st.battery['battery_pct']} %"
        elif "battery_v" in st.battery:
            batt = f"  battery {st.battery['battery_v']:.2f} V"
        line = (
            f"{st.elapsed_s:7.1f} s  {st.state:<12} {st.samples:>8} samples  "
            f"{st.rate_hz:6.1f} Hz  loss {100 * st.loss_fraction:5.2f} % "
            f"({st.lost_samples}){batt}"
        )
        if self.tty:
            sys.stderr.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty and self._width:
            sys.stderr.write("\n")


async def _stop_on_sigterm(coro: Any) -> Any:
    """Run ``coro``; SIGTERM cancels it like Ctrl-C does (the recording ends cleanly)."""
    import asyncio
    import contextlib
    import signal

    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError, ValueError):
        loop.add_signal_handler(signal.SIGTERM, task.cancel)  # type: ignore[union-attr]
    return await coro


def cmd_record(args: argparse.Namespace) -> int:
    import asyncio

    from .devices.clock import run_virtual
    from .devices.models import MODELS, StreamSettings
    from .devices.session import StreamSession

    out = Path(args.out)
    for path in (out, Path(args.capture) if args.capture else None):
        if path is not None and path.exists() and not args.force:
            raise BalanceMonError(f"{path}: already exists; use --force to overwrite it")
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise BalanceMonError(
            f"--duration must be a positive number of seconds, got {args.duration}"
        )
    device = args.device
    kwargs: dict[str, Any] = {}
    simulated = device.lower().startswith("virtual:")
    if simulated:
        model = device.split(":", 1)[1].strip().lower()
        air = _virtual_air([model], args)
        peripheral = next(iter(air.peripherals.values()))
        device = peripheral.name
        kwargs.update(
            scanner_backend=air.scanner_backend,
            client_backend=air.client_backend,
            simulated=f"virtual:{model} faults: {peripheral.faults.describe()}"
            + (f" source: {Path(args.source).name}" if args.source else ""),
        )
    elif args.source or args.fault or args.virtual_time:
        raise BalanceMonError(
            "--source, --fault and --virtual-time only apply to simulated sensors "
            f"(--device virtual:MODEL, MODEL one of {', '.join(MODELS)})"
        )
    progress = _Progress()
    session = StreamSession(
        device,
        out,
        model=args.model,
        settings=StreamSettings(rate_hz=args.rate, range_g=args.range),
        capture=args.capture,
        placement=args.placement,
        scan_timeout_s=args.scan_timeout,
        on_status=None if args.quiet else progress,
        **kwargs,
    )
    try:
        if args.virtual_time:
            result = run_virtual(_stop_on_sigterm(session.run(args.duration)))
        else:
            result = asyncio.run(_stop_on_sigterm(session.run(args.duration)))
    finally:
        progress.done()
    st = result.stats
    how = "stopped early (Ctrl-C or SIGTERM)" if result.interrupted else "done"
    print(
        f"{how}: wrote {result.out} ({st.samples} samples, {result.duration_s:.1f} s from "
        f"{result.device}; lost {st.lost_samples} samples ({100 * st.loss_fraction:.2f} %), "
        f"{st.reconnects} reconnection{'s' if st.reconnects != 1 else ''})"
        + (f"; capture {result.capture}" if result.capture else ""),
        file=sys.stderr,
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from .devices.session import replay_capture

    out = Path(args.out)
    if out.exists() and not args.force:
        raise BalanceMonError(f"{out}: already exists; use --force to overwrite it")
    if Path(args.capture).resolve() == out.resolve():
        raise BalanceMonError(f"{out}: output would overwrite the capture; choose another name")
    st = replay_capture(args.capture, out)
    print(
        f"wrote {out} ({st.samples} samples; lost {st.lost_samples}, "
        f"{st.reconnects} reconnection{'s' if st.reconnects != 1 else ''})",
        file=sys.stderr,
    )
    return 0


def _add_stream_commands(sub: Any) -> None:
    from .consts import PLACEMENTS

    models = "polar-h10, reference, witmotion"
    s = sub.add_parser("scan", help="list the supported Bluetooth sensors in range")
    s.add_argument("--timeout", type=float, default=5.0, metavar="S", help="scan time (default 5)")
    s.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    s.add_argument(
        "--virtual",
        action="append",
        default=[],
        metavar="MODEL",
        help=f"scan simulated sensors instead of the radio ({models}); repeatable",
    )
    s.set_defaults(func=cmd_scan)

    r = sub.add_parser("record", help="record a Bluetooth sensor (or a simulated one) to a file")
    r.add_argument(
        "--device",
        required=True,
        metavar="DEV",
        help=f"address, name or part of a name, or virtual:MODEL ({models})",
    )
    r.add_argument("--out", required=True, metavar="FILE", help="recording: .csv (CSV v1) or .bmr")
    r.add_argument(
        "--duration", type=float, metavar="S", help="seconds to record (default: until Ctrl-C)"
    )
    r.add_argument(
        "--capture", metavar="FILE", help="also keep every raw notification (for replay)"
    )
    r.add_argument("--rate", type=float, metavar="HZ", help="sampling rate (default: the model's)")
    r.add_argument("--range", type=float, metavar="G", help="accelerometer range in g")
    r.add_argument(
        "--model",
        choices=("polar-h10", "reference", "witmotion"),
        help="sensor model, if its name does not say",
    )
    r.add_argument(
        "--placement", choices=PLACEMENTS, default="other", help="where the sensor is worn"
    )
    r.add_argument(
        "--scan-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="time to find the sensor (default 10)",
    )
    r.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    r.add_argument("--quiet", action="store_true", help="no progress line")
    g = r.add_argument_group("simulated sensors (--device virtual:MODEL)")
    g.add_argument(
        "--source", metavar="FILE", help="recording to play (default: a synthetic standing subject)"
    )
    g.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="K=V",
        help="inject faults: loss=P, corrupt=P, disconnect=S[+S], down=S, "
        "burst=EVERY:STALL, late=MS, drift=PPM, seed=N (repeatable)",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of the simulated sensor")
    g.add_argument(
        "--virtual-time", action="store_true", help="run on simulated time, as fast as possible"
    )
    r.set_defaults(func=cmd_record)

    p = sub.add_parser("replay", help="decode a capture again into a recording")
    p.add_argument("capture", metavar="CAPTURE")
    p.add_argument("--out", required=True, metavar="FILE", help="recording: .csv (CSV v1) or .bmr")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=cmd_replay)
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

    _add_stream_commands(sub)
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
