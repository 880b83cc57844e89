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

AnalysisFn = Callable[[Recording], dict[str, Any]]


def _analyses() -> dict[str, tuple[float, AnalysisFn | None]]:
    """Analyses of ``analyze --test``: minimum duration (s) and the function."""
    from .analysis.registry import ANALYSES, MIN_DURATION_S

    return {name: (MIN_DURATION_S[name], ANALYSES.get(name)) for name in MIN_DURATION_S}


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

    seed = getattr(args, "seed", 0)
    source = load_source(args.source, seed=seed) if getattr(args, "source", None) else None
    faults = parse_faults(getattr(args, "fault", None) or [])
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
        "--source",
        metavar="FILE",
        help="recording to play, or sim:STANCE (e.g. sim:tandem) for the simulator's quiet "
        "standing (default: a synthetic standing signal)",
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
# patients, sessions, trends, reports, exports, recompute (docs/store.md, docs/reports.md)
# ---------------------------------------------------------------------------


def _store(args: argparse.Namespace, *, create: bool = False, check: bool = False) -> Any:
    from .store import Store

    return Store(args.db, create=create, check=check)


def _write_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(_json_safe(obj), allow_nan=False) + "\n")


def _patient_dict(p: Any) -> dict[str, Any]:
    return {
        "id": p.code,
        "birth_year": p.birth_year,
        "sex": p.sex,
        "height_m": p.height_m,
        "home_consent": p.home_consent,
        "notes": p.notes,
        "created_utc": p.created_utc,
    }


def cmd_patient_add(args: argparse.Namespace) -> int:
    from .store.db import validate_patient

    validate_patient(args.id, birth_year=args.birth_year, sex=args.sex, height_m=args.height)
    with _store(args, create=True) as st:
        p = st.add_patient(
            args.id,
            birth_year=args.birth_year,
            sex=args.sex,
            height_m=args.height,
            notes=args.notes or "",
            home_consent=args.home_consent,
        )
        print(f"added patient {p.code} to {st.path}", file=sys.stderr)
    return 0


def cmd_patient_list(args: argparse.Namespace) -> int:
    with _store(args) as st:
        rows = []
        for p in st.patients():
            sessions = st.sessions(p)
            d = _patient_dict(p)
            d.pop("notes")
            d["sessions"] = len(sessions)
            d["last_session"] = sessions[-1].started if sessions else None
            d["flags"] = len(st.flags(p))
            rows.append(d)
    if args.json:
        _write_json({"schema": "balance_mon.patients/1", "patients": rows})
        return 0
    if not rows:
        print("no patients yet; add one with 'balance-mon patient add ID'", file=sys.stderr)
    for r in rows:
        print(
            f"{r['id']:<16} {r['sex'] or '-':<7} {r['birth_year'] or '-':<5} "
            f"{r['sessions']:>3} sessions  last {(r['last_session'] or '-')[:10]:<10}  "
            f"{r['flags']} flags{'  home' if r['home_consent'] else ''}"
        )
    return 0


def cmd_patient_show(args: argparse.Namespace) -> int:
    with _store(args) as st:
        p = st.patient(args.id)
        out = _patient_dict(p)
        out["sessions"] = []
        for s in st.sessions(p):
            trials = st.trials(s)
            out["sessions"].append(
                {
                    "session": s.id,
                    "started": s.started,
                    "setting": s.setting,
                    "device": s.device,
                    "operator": s.operator,
                    "status": s.status,
                    "trials": [
                        {
                            "trial": t.id,
                            "protocol": t.protocol,
                            "condition": t.condition,
                            "attempt": t.attempt,
                            "valid": t.valid,
                            "invalid_reason": t.invalid_reason,
                            "results": {r.metric: r.value for r in st.results(t)},
                        }
                        for t in trials
                    ],
                }
            )
        from .store.trends import flag_dict

        out["flags"] = [flag_dict(f) for f in st.flags(p)]
    if args.json:
        _write_json({"schema": "balance_mon.patient/1", **out})
        return 0
    print(
        f"patient {out['id']}: sex {out['sex'] or '-'}, born {out['birth_year'] or '-'}, "
        f"height {out['height_m'] or '-'} m, home monitoring "
        f"{'consented' if out['home_consent'] else 'not consented'}"
    )
    if out["notes"]:
        print(f"notes: {out['notes']}")
    for s in out["sessions"]:
        valid = sum(t["valid"] for t in s["trials"])
        print(
            f"  session {s['session']:>4}  {s['started'].replace('T', ' '):<19} {s['setting']:<6} "
            f"{len(s['trials'])} trials ({valid} valid)"
            + ("" if s["status"] == "complete" else "  INCOMPLETE")
        )
    for f in out["flags"]:
        print(f"  FLAG [{f['kind']}] {f['reason']}")
    return 0


def _print_flags(flags: Sequence[dict[str, Any]]) -> None:
    for f in flags:
        print(f"  FLAG [{f['kind']}] {f['reason']}", file=sys.stderr)


def cmd_session_import(args: argparse.Namespace) -> int:
    from .store import plan_import, run_import
    from .store.importer import check_patient_input

    with _store(args, check=True) as st:
        patient = st.patient(args.patient)
        check_patient_input(patient, args.setting)
        items = plan_import(
            st,
            patient,
            args.files,
            protocol=args.protocol,
            condition=args.condition,
            date=args.date,
        )

        def progress(item: Any, trial: Any) -> None:
            if trial is None:
                print(
                    f"skipped {item.path.name}: already stored (trial {item.duplicate_of.id})",
                    file=sys.stderr,
                )
                return
            state = "valid" if trial.valid else f"INVALID ({trial.invalid_reason})"
            print(
                f"stored trial {trial.id}: {item.started[:10]} {trial.protocol} "
                f"{trial.condition} from {item.path.name}, {state}",
                file=sys.stderr,
            )

        summary = run_import(
            st,
            patient,
            items,
            setting=args.setting,
            device=args.device or "",
            operator=args.operator or "",
            on_trial=progress,
        )
        cutoffs = [
            f
            for f in st.flags(patient)
            if f.kind == "cutoff" and f.trial_id in {t.id for t in summary.trials}
        ]
    flags = [
        {"kind": f.kind, "reason": f.reason, "measure": f.measure, "session_id": f.session_id}
        for f in cutoffs
    ] + [{k: f.get(k) for k in ("kind", "reason", "measure", "session_id")} for f in summary.flags]
    if args.json:
        _write_json(
            {
                "schema": "balance_mon.import/1",
                "patient": patient.code,
                "sessions": sorted({s.id for s in summary.sessions}),
                "trials": [t.id for t in summary.trials],
                "invalid_trials": [t.id for t in summary.trials if not t.valid],
                "skipped": [str(p) for p, _ in summary.skipped],
                "flags": flags,
            }
        )
    print(
        f"imported {len(summary.trials)} trial{'s' if len(summary.trials) != 1 else ''} in "
        f"{len({s.id for s in summary.sessions})} session(s) for {patient.code}"
        + (f"; {len(summary.skipped)} already stored" if summary.skipped else "")
        + f"; {len(flags)} flag{'s' if len(flags) != 1 else ''}",
        file=sys.stderr,
    )
    _print_flags(flags)
    return 0


#: Recording time per trial of ``session run`` when the protocol does not say, s.
_RUN_SECONDS = {
    "steadi_four_stage": 12.0,
    "chair_stand_30s": 32.0,
    "tug": 30.0,
    "romberg": 32.0,
    "ctsib_m": 32.0,
    "single_leg_stance": 32.0,
    "sway": 32.0,
    "sit_to_stand": 30.0,
    "reps": 60.0,
}


def _run_steps(protocol: str, condition: str) -> list[tuple[str, str, float | None]]:
    """(kind, text, seconds) of one trial from balance_mon.protocols when it knows the
    protocol, else a generic position - countdown - perform sequence."""
    try:
        from .protocols.library import get_protocol as lib_protocol

        p = lib_protocol(protocol)
        cond = next((c for c in p.conditions if c.name == condition), p.conditions[0])
        return [
            (
                s.kind,
                s.instruction.replace("{instruction}", cond.instruction).replace(
                    "{title}", cond.title
                ),
                s.duration_s,
            )
            for s in p.trial_steps
        ]
    except Exception:  # the library is optional for the guided flow
        return [
            ("position", f"Get into position for {protocol} ({condition or 'standard'}).", None),
            ("countdown", "Ready...", 3.0),
            ("perform", "Go.", None),
        ]


def cmd_session_run(args: argparse.Namespace) -> int:
    import asyncio
    import tempfile
    import time

    from .devices.clock import run_virtual
    from .devices.models import MODELS, StreamSettings
    from .devices.session import StreamSession
    from .io import load_recording
    from .store import refresh_flags
    from .store import scoring as sc
    from .store.importer import check_patient_input, store_trial

    proto = sc.get_protocol(args.protocol)
    if args.condition:
        conditions = [sc.resolve_condition(proto, args.condition)]
    elif proto.conditions is None:
        conditions = [proto.default_condition]
    else:
        conditions = [c for c in proto.conditions if c != "whole"]
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise BalanceMonError(
            f"--duration must be a positive number of seconds, got {args.duration}"
        )
    seconds = args.duration or _RUN_SECONDS.get(proto.name, 30.0)
    device = args.device
    simulated = device.lower().startswith("virtual:")
    if not simulated and (args.source or args.virtual_time):
        raise BalanceMonError(
            "--source and --virtual-time only apply to simulated sensors "
            f"(--device virtual:MODEL, MODEL one of {', '.join(MODELS)})"
        )
    with _store(args, check=True) as st:
        patient = st.patient(args.patient)
        check_patient_input(patient, args.setting)
        session = None
        stored = []
        with tempfile.TemporaryDirectory(prefix="balance_mon_run_") as tmp:
            for k, cond in enumerate(conditions):
                print(f"\n== {proto.title}: {cond or 'standard'} ({k + 1}/{len(conditions)})")
                for kind, text, _secs in _run_steps(proto.name, cond):
                    if kind == "perform":
                        break
                    print(f"[{kind}] {text}")
                    if kind == "countdown":
                        for i in range(int(args.countdown), 0, -1):
                            print(f"  {i}...", flush=True)
                            if not args.virtual_time:
                                time.sleep(1.0)
                    elif not args.yes:
                        input("  press Enter when ready ")
                print(f"[perform] recording {seconds:g} s - GO", flush=True)
                out = Path(tmp) / f"trial{k}.bmr"
                kwargs: dict[str, Any] = {}
                target = device
                if simulated:
                    model = device.split(":", 1)[1].strip().lower()
                    air = _virtual_air([model], args)
                    peripheral = next(iter(air.peripherals.values()))
                    target = peripheral.name
                    kwargs.update(
                        scanner_backend=air.scanner_backend,
                        client_backend=air.client_backend,
                        simulated=f"virtual:{model}"
                        + (f" source: {Path(args.source).name}" if args.source else ""),
                    )
                rec_session = StreamSession(
                    target,
                    out,
                    settings=StreamSettings(),
                    placement=args.placement,
                    scan_timeout_s=args.scan_timeout,
                    **kwargs,
                )
                if args.virtual_time:
                    result = run_virtual(rec_session.run(seconds))
                else:
                    result = asyncio.run(rec_session.run(seconds))
                rec = load_recording(result.out)
                sc.check_duration(rec, proto)
                if session is None:
                    session = st.add_session(
                        patient,
                        setting=args.setting,
                        started=args.date,
                        device=str(rec.metadata.get("device", device)),
                        operator=args.operator or "",
                    )
                trial = store_trial(
                    st,
                    session,
                    rec,
                    protocol=proto.name,
                    condition=cond,
                    age=patient.age_in(session.date.year),
                    sex=patient.sex,
                    source=f"session run {device}",
                )
                stored.append(trial)
                values = ", ".join(
                    f"{r.metric} {r.value:.3g}"
                    for r in st.results(trial)
                    if r.metric in proto.primary and r.value is not None
                )
                state = "valid" if trial.valid else f"INVALID ({trial.invalid_reason})"
                print(f"stored trial {trial.id}: {values or 'no value'} - {state}", flush=True)
                if (
                    proto.name == "steadi_four_stage"
                    and trial.valid
                    and (
                        next((r.value for r in st.results(trial) if r.metric == "hold_s"), 10.0)
                        or 0.0
                    )
                    < 9.7
                ):
                    print("stance not held 10 s: the test stops here (STEADI)")
                    break
        if session is not None:
            st.complete_session(session.id)
            trend = refresh_flags(st, patient)
            cut = [
                {"kind": f.kind, "reason": f.reason}
                for f in st.flags(patient)
                if f.kind == "cutoff" and f.session_id == session.id
            ]
            _print_flags(cut + [f for f in trend if f.get("session_id") == session.id])
            print(f"session {session.id}: {len(stored)} trial(s) stored for {patient.code}")
    return 0


def cmd_trends(args: argparse.Namespace) -> int:
    from .store.trends import flag_dict, trends

    with _store(args) as st:
        p = st.patient(args.patient)
        items = trends(st, p, primary_only=not args.all)
        flags = [flag_dict(f) for f in st.flags(p)]
    if args.json:
        _write_json(
            {
                "schema": "balance_mon.trends/1",
                "patient": p.code,
                "measures": [t.as_dict() for t in items],
                "flags": flags,
            }
        )
        return 0
    for t in items:
        first, last = t.points[0], t.points[-1]
        mdc = f", MDC95 {t.mdc:g}" if t.mdc is not None else ""
        print(
            f"{t.label} [{t.setting} {t.protocol} {t.condition}]: {len(t.points)} sessions, "
            f"{first.value:.3g} ({first.date[:10]}) -> {last.value:.3g} ({last.date[:10]}) "
            f"{t.unit}{mdc}{'  FLAGGED' if t.flags else ''}"
        )
    for f in flags:
        print(f"FLAG [{f['kind']}] {f['reason']}")
    return 0


def _output_path(path: str, force: bool) -> Path:
    out = Path(path)
    if out.exists() and not force:
        raise BalanceMonError(f"{out}: already exists; use --force to overwrite it")
    if not out.parent.is_dir():
        raise BalanceMonError(f"{out.parent}: no such folder")
    return out


def cmd_report(args: argparse.Namespace) -> int:
    import os
    import tempfile

    from .report.pdf import longitudinal_report, session_report

    out = _output_path(args.out, args.force)
    with _store(args) as st:
        p = st.patient(args.patient)
        fd, tmp = tempfile.mkstemp(suffix=".pdf", dir=out.parent, prefix=".report-")
        os.close(fd)
        try:
            if args.session is not None:
                session_report(st, p, st.session(args.session), tmp)
            else:
                longitudinal_report(st, p, tmp)
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .report import fhir_bundle, result_rows, to_csv

    out = _output_path(args.out, args.force) if args.out else None
    with _store(args) as st:
        p = st.patient(args.patient)
        if args.session is not None and st.session(args.session).patient_id != p.id:
            raise BalanceMonError(f"session {args.session} is not a session of {p.code}")
        if args.format == "csv":
            text = to_csv(result_rows(st, p, deidentify=args.deidentify, session_id=args.session))
        else:
            bundle = fhir_bundle(st, p, deidentify=args.deidentify, session_id=args.session)
            text = json.dumps(bundle, indent=1, allow_nan=False) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_recompute(args: argparse.Namespace) -> int:
    from .store import recompute

    with _store(args, check=True) as st:
        patient = st.patient(args.patient) if args.patient else None
        changes = recompute(st, patient=patient, apply=not args.dry_run)
    changed = [c for c in changes if c.changed]
    if args.json:
        _write_json(
            {
                "schema": "balance_mon.recompute/1",
                "applied": not args.dry_run,
                "trials": len(changes),
                "changed": [
                    {
                        "trial": c.trial.id,
                        "patient": c.patient,
                        "protocol": c.trial.protocol,
                        "condition": c.trial.condition,
                        "validity": list(c.validity) if c.validity else None,
                        "changes": [x.as_dict() for x in c.changes],
                    }
                    for c in changed
                ],
            }
        )
        return 0
    for c in changed:
        print(f"trial {c.trial.id} ({c.patient} {c.trial.protocol} {c.trial.condition}):")
        if c.validity:
            print(f"  valid {c.validity[0]} -> {c.validity[1]}")
        for x in c.changes:
            old = "-" if x.old_value is None else f"{x.old_value:.6g}"
            new = "-" if x.new_value is None else f"{x.new_value:.6g}"
            alg = (
                ""
                if x.old_algorithm == x.new_algorithm
                else (f"  [{x.old_algorithm or '-'} -> {x.new_algorithm or '-'}]")
            )
            print(f"  {x.metric}: {old} -> {new}{alg}")
    what = "would change" if args.dry_run else "changed"
    print(f"{len(changes)} trials recomputed, {len(changed)} {what}", file=sys.stderr)
    return 0


def _add_store_commands(sub: Any) -> None:
    from .consts import PLACEMENTS

    db = argparse.ArgumentParser(add_help=False)
    db.add_argument(
        "--db",
        metavar="PATH",
        help="database file (default: $BALANCE_MON_DB, else balance_mon.sqlite3 in the "
        "user data folder)",
    )

    pa = sub.add_parser("patient", help="add, list and show patients")
    psub = pa.add_subparsers(dest="patient_command", metavar="ACTION", parser_class=_Parser)
    psub.required = True
    a = psub.add_parser("add", parents=[db], help="add a patient (pseudonymous id, no names)")
    a.add_argument("id", metavar="ID", help="pseudonymous id, e.g. P001")
    a.add_argument("--birth-year", type=int, metavar="YYYY")
    a.add_argument("--sex", choices=("female", "male", "other"))
    a.add_argument("--height", type=float, metavar="M", help="height in metres")
    a.add_argument("--notes", metavar="TEXT", help="free-text notes (never exported)")
    a.add_argument(
        "--home-consent", action="store_true", help="the patient consented to home monitoring"
    )
    a.set_defaults(func=cmd_patient_add)
    li = psub.add_parser("list", parents=[db], help="list patients")
    li.add_argument("--json", action="store_true")
    li.set_defaults(func=cmd_patient_list)
    sh = psub.add_parser("show", parents=[db], help="show a patient's sessions and flags")
    sh.add_argument("id", metavar="ID")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=cmd_patient_show)

    se = sub.add_parser("session", help="import or run test sessions")
    ssub = se.add_subparsers(dest="session_command", metavar="ACTION", parser_class=_Parser)
    ssub.required = True
    im = ssub.add_parser(
        "import", parents=[db], help="store recordings (files or folders) as scored trials"
    )
    im.add_argument("files", nargs="+", metavar="FILE", help="recordings or folders of them")
    im.add_argument("--patient", required=True, metavar="ID")
    im.add_argument(
        "--protocol",
        required=True,
        metavar="NAME",
        help="protocol (steadi_four_stage, chair_stand_30s, tug, romberg, ctsib_m, "
        "single_leg_stance, sway, sit_to_stand, reps), or auto: from each file's metadata",
    )
    im.add_argument("--condition", metavar="C", help="condition (default: from the metadata)")
    im.add_argument("--setting", choices=("clinic", "home"), default="clinic")
    im.add_argument(
        "--date", metavar="DATE", help="YYYY-MM-DD[THH:MM] (default: from the metadata or name)"
    )
    im.add_argument("--device", metavar="TEXT", help="device (default: from the metadata)")
    im.add_argument("--operator", metavar="NAME")
    im.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    im.set_defaults(func=cmd_session_import)

    ru = ssub.add_parser(
        "run", parents=[db], help="guided test: steps, countdowns, recording, scoring, storing"
    )
    ru.add_argument("--patient", required=True, metavar="ID")
    ru.add_argument("--protocol", required=True, metavar="NAME")
    ru.add_argument("--condition", metavar="C", help="one condition (default: all, in order)")
    ru.add_argument(
        "--device", required=True, metavar="DEV", help="sensor address or name, or virtual:MODEL"
    )
    ru.add_argument("--duration", type=float, metavar="S", help="seconds recorded per trial")
    ru.add_argument("--setting", choices=("clinic", "home"), default="clinic")
    ru.add_argument("--date", metavar="DATE", help="session date-time (default: now)")
    ru.add_argument("--operator", metavar="NAME")
    ru.add_argument("--placement", choices=PLACEMENTS, default="lower_back")
    ru.add_argument("--countdown", type=int, default=3, metavar="N", help="countdown seconds")
    ru.add_argument("--yes", action="store_true", help="do not wait for Enter between steps")
    ru.add_argument("--scan-timeout", type=float, default=10.0, metavar="S")
    g = ru.add_argument_group("simulated sensors (--device virtual:MODEL)")
    g.add_argument("--source", metavar="FILE", help="recording the simulated sensor plays")
    g.add_argument("--fault", action="append", default=[], metavar="K=V")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--virtual-time", action="store_true", help="run as fast as possible")
    ru.set_defaults(func=cmd_session_run)

    tr = sub.add_parser("trends", parents=[db], help="a patient's measures over time and flags")
    tr.add_argument("patient", metavar="PATIENT")
    tr.add_argument("--json", action="store_true")
    tr.add_argument("--all", action="store_true", help="every measure, not only the headline ones")
    tr.set_defaults(func=cmd_trends)

    rp = sub.add_parser("report", parents=[db], help="PDF report: a session or the whole history")
    rp.add_argument("patient", metavar="PATIENT")
    rp.add_argument("--session", type=int, metavar="ID", help="one session (default: longitudinal)")
    rp.add_argument("--out", required=True, metavar="FILE.pdf")
    rp.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    rp.set_defaults(func=cmd_report)

    ex = sub.add_parser("export", parents=[db], help="export results as CSV or FHIR R4 JSON")
    ex.add_argument("patient", metavar="PATIENT")
    ex.add_argument("--format", required=True, choices=("csv", "fhir"))
    ex.add_argument("--deidentify", action="store_true", help="hashed id, shifted dates, no notes")
    ex.add_argument("--session", type=int, metavar="ID", help="one session only")
    ex.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    ex.add_argument("--force", action="store_true")
    ex.set_defaults(func=cmd_export)

    rc = sub.add_parser(
        "recompute", parents=[db], help="re-run today's algorithms on the stored raw data"
    )
    rc.add_argument("--patient", metavar="ID")
    rc.add_argument("--dry-run", action="store_true", help="show what would change, store nothing")
    rc.add_argument("--json", action="store_true")
    rc.set_defaults(func=cmd_recompute)


# ---------------------------------------------------------------------------
# the desktop program: gui and demo (balance_mon.app, docs/gui.md)
# ---------------------------------------------------------------------------


def _launch_options(args: argparse.Namespace, *, demo: bool) -> Any:
    from .app.launch import LaunchOptions

    return LaunchOptions(
        demo=demo,
        mode=args.mode,
        quit_after_s=args.quit_after,
        screenshot=args.screenshot,
        db=getattr(args, "db", None),
        data_dir=args.data_dir,
        speed=getattr(args, "speed", 1.0),
        speech=not args.no_speech,
        device=getattr(args, "device", "polar-h10"),
        at_risk=getattr(args, "at_risk", False),
        show_fps=args.fps,
        page=args.page,
    )


def cmd_gui(args: argparse.Namespace) -> int:
    from .app.launch import run

    return run(_launch_options(args, demo=False))


def cmd_demo(args: argparse.Namespace) -> int:
    from .app.launch import run

    if not (math.isfinite(args.speed) and 0.1 <= args.speed <= 50):
        raise BalanceMonError(f"--speed must be between 0.1 and 50, got {args.speed}")
    return run(_launch_options(args, demo=True))


def _add_gui_commands(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--mode",
        choices=("therapist", "home"),
        default="therapist",
        help="start in the therapist's screens (default) or the patient's home mode",
    )
    common.add_argument(
        "--quit-after", type=float, metavar="S", help="quit after S seconds (automatic checks)"
    )
    common.add_argument(
        "--screenshot", metavar="FILE.png", help="save the window to FILE.png just before quitting"
    )
    common.add_argument(
        "--data-dir", metavar="DIR", help="folder for the database and the stream recordings"
    )
    common.add_argument("--no-speech", action="store_true", help="no spoken cues (text only)")
    common.add_argument(
        "--fps", action="store_true", help="show the frame-rate and latency readout (F12)"
    )
    common.add_argument(
        "--page",
        choices=("patients", "sensor", "live", "test", "results", "history"),
        help="therapist page to open first",
    )
    g = sub.add_parser(
        "gui", parents=[common], help="start the desktop program for Bluetooth sensors"
    )
    g.add_argument("--db", metavar="FILE", help="patient database (default: the user data folder)")
    g.set_defaults(func=cmd_gui)
    d = sub.add_parser(
        "demo",
        parents=[common],
        help="start the desktop program with a simulated sensor streaming sample sessions",
    )
    d.add_argument(
        "--device",
        choices=("polar-h10", "reference", "witmotion"),
        default="polar-h10",
        help="simulated sensor model (default polar-h10)",
    )
    d.add_argument(
        "--at-risk",
        action="store_true",
        help="the simulated patient loses balance in tandem stance",
    )
    d.add_argument(
        "--speed", type=float, default=1.0, metavar="X", help="run simulated time X times faster"
    )
    d.set_defaults(func=cmd_demo)


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
    _add_store_commands(sub)
    _add_gui_commands(sub)
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
