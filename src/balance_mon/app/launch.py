"""Start the desktop program: ``balance-mon gui`` (real sensors) and ``balance-mon demo``.

``demo`` connects to a simulated Polar H10 (``virtual:polar-h10``) that
streams the simulated home exercise session of ``sample_data/simulated``
through the real Bluetooth pipeline; tests run on it play the matching
simulated sessions (:mod:`.simulated`). Its database lives in its own
folder (the user data folder's ``demo/``, or ``--data-dir``) with a demo
patient whose simulated three-month history is imported on first use, so
the real patient database is never touched.

Both accept ``--quit-after SECONDS`` and ``--screenshot FILE.png`` (the
window as it is just before quitting) so that the program can be checked
automatically, e.g. ``QT_QPA_PLATFORM=offscreen balance-mon demo
--quit-after 10 --screenshot shot.png``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEMO_PATIENT", "LaunchOptions", "build_app", "run"]

log = logging.getLogger(__name__)

#: The demo patient (a 72-year-old woman, the subject of the simulated sessions).
DEMO_PATIENT = {"code": "DEMO01", "birth_year": 1953, "sex": "female", "height_m": 1.62}
#: The demo patient's history: every other simulated clinic session (keeps the
#: first start quick); the others can be imported with ``balance-mon session import``.
DEMO_HISTORY_GLOB = ("*_chair_stand.csv", "*_tug.csv")


@dataclass
class LaunchOptions:
    demo: bool = False
    mode: str = "therapist"
    quit_after_s: float | None = None
    screenshot: str | None = None
    db: str | None = None
    data_dir: str | None = None
    speed: float = 1.0
    speech: bool = True
    device: str = "polar-h10"
    rate_hz: float | None = None
    at_risk: bool = False
    show_fps: bool = False
    page: str | None = None
    history: bool = True
    auto_confirm_s: float | None = None
    sensors: int = 1


def _data_dir(opts: LaunchOptions) -> Path:
    if opts.data_dir:
        return Path(opts.data_dir).expanduser()
    import platformdirs

    base = Path(platformdirs.user_data_dir("balance-mon", appauthor=False))
    return base / "demo" if opts.demo else base


def _db_path(opts: LaunchOptions, data_dir: Path) -> Path:
    if opts.db:
        return Path(opts.db).expanduser()
    if opts.demo:
        return data_dir / "demo.sqlite3"
    from ..store import default_db_path

    return default_db_path() if not opts.data_dir else data_dir / "balance_mon.sqlite3"


def _seed_demo(store: Any) -> None:
    """The demo patient and (in the background) their simulated history."""
    from ..store import StoreError

    try:
        patient = store.patient(DEMO_PATIENT["code"])
    except StoreError:
        patient = store.add_patient(
            DEMO_PATIENT["code"],
            birth_year=DEMO_PATIENT["birth_year"],
            sex=DEMO_PATIENT["sex"],
            height_m=DEMO_PATIENT["height_m"],
            notes="Simulated patient of the demo",
            home_consent=True,
        )
    return patient


def _import_history(db: Path, code: str, stop: threading.Event) -> int:
    """Import the simulated history into the demo database (store thread; stops on ``stop``)."""
    from ..store import Store, plan_import, run_import
    from .simulated import sample_dir

    base = sample_dir()
    if base is None:
        return 0
    folder = base / "simulated" / "history"
    files = [f for pat in DEMO_HISTORY_GLOB for f in sorted(folder.glob(pat))[::2]]
    marker = db.with_name(db.name + ".history-imported")
    if marker.exists():
        return 0
    n = 0
    with Store(db) as st:
        patient = st.patient(code)
        by_date: dict[str, list[Path]] = {}
        for f in files:
            by_date.setdefault(f.name[:10], []).append(f)
        for _day, group in sorted(by_date.items()):
            if stop.is_set():
                return n  # an interrupted import goes on next time (duplicates are skipped)
            items = plan_import(st, patient, group, protocol="auto")
            n += len(run_import(st, patient, items, device="balance_mon.sim").trials)
    marker.write_text("sample_data/simulated/history imported\n", encoding="utf-8")
    return n


def _auto_confirm(opts: LaunchOptions) -> float | None:
    """Seconds after which set-up steps go on by themselves: 2 s in the demo (a simulated
    patient needs no examiner), never with real sensors or a negative value."""
    v = opts.auto_confirm_s
    if v is None:
        return 2.0 if opts.demo else None
    return None if v < 0 else float(v)


def build_app(opts: LaunchOptions, argv: list[str] | None = None) -> tuple[Any, Any]:
    """The QApplication and the main window (shown), ready for ``exec``."""
    t_start = time.perf_counter()
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    app.setApplicationName("balance_mon")
    from . import theme
    from .clock import AppClock
    from .main_window import AppContext, MainWindow
    from .speech import make_speaker
    from .store_adapter import AppStore
    from .worker import DeviceWorker

    theme.apply_therapist_style(app)
    data_dir = _data_dir(opts)
    data_dir.mkdir(parents=True, exist_ok=True)
    clock = AppClock(opts.speed)
    air = None
    sim_patient = None
    sources: list[Any] = []
    if opts.demo:
        from .simulated import SimulatedPatient, make_virtual_air

        air, sources = make_virtual_air([opts.device] * max(opts.sensors, 1))
        sim_patient = SimulatedPatient(sources[0], at_risk=opts.at_risk)
        for src in sources:
            SimulatedPatient(src).ambient()
    from ..devices.models import StreamSettings

    worker = DeviceWorker(
        clock,
        data_dir,
        air=air,
        settings=StreamSettings(rate_hz=opts.rate_hz),
    )
    store = AppStore(_db_path(opts, data_dir))
    patient = None
    if opts.demo:
        patient = _seed_demo(store)
    speaker = make_speaker(opts.speech)
    ctx = AppContext(
        clock=clock,
        worker=worker,
        store=store,
        speaker=speaker,
        data_dir=data_dir,
        simulated=air is not None,
        sim_patient=sim_patient,
        auto_connect=opts.demo,
        auto_confirm_s=_auto_confirm(opts),
        demo=opts.demo,
        extra={"sources": sources, "t_start": t_start},
    )
    worker.start()
    win = MainWindow(ctx, mode=opts.mode)
    if patient is not None:
        win.choose_patient(patient, go=False)
    if opts.demo and opts.history and patient is not None:
        stop = threading.Event()
        fut = store.submit(lambda: _import_history(store.path, patient.code, stop))
        ctx.extra["history_import"] = fut
        ctx.extra["history_stop"] = stop
    if opts.show_fps:
        win.show_perf(True)
    if opts.page:
        names = [p.lower() for p in ("Patients", "Sensor", "Live", "Test", "Results", "History")]
        if opts.page.lower() in names:
            win.show_page(names.index(opts.page.lower()))
    win.resize(1280, 800)
    win.show()
    from .main_window import warm_up

    threading.Thread(target=warm_up, name="balance_mon warm-up", daemon=True).start()
    win.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
    ctx.extra["t_shown"] = time.perf_counter()
    return app, win


def shutdown(win: Any) -> None:
    """Stop the BLE worker (files finalized), the store and speech."""
    ctx = win.ctx
    win.frame_timer.stop()
    win.scan_timer.stop()
    if win.run is not None and win.run.running:
        win.run.abort("the program was closed")
    ctx.worker.shutdown(timeout_s=10.0)
    fut = ctx.extra.get("history_import")
    if ctx.extra.get("history_stop") is not None:
        ctx.extra["history_stop"].set()
    if fut is not None and not fut.done():
        try:
            fut.result(timeout=30)
        except Exception:  # the demo history is a convenience
            log.exception("demo history import")
    if ctx.store is not None:
        ctx.store.close()
    ctx.speaker.close()


def run(opts: LaunchOptions) -> int:
    """Build, run until closed (or ``quit_after_s``), clean up; the exit status."""
    if opts.quit_after_s is not None and not opts.quit_after_s >= 0:
        from ..errors import BalanceMonError

        raise BalanceMonError(
            f"--quit-after must be a number of seconds >= 0, got {opts.quit_after_s}"
        )
    if opts.screenshot and not opts.screenshot.lower().endswith(".png"):
        from ..errors import BalanceMonError

        raise BalanceMonError(f"{opts.screenshot}: the screenshot must be a .png file")
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        os.environ.setdefault("BALANCE_MON_SPEECH", "off")
    app, win = build_app(opts)
    from PySide6.QtCore import QTimer

    status = {"code": 0}

    def finish() -> None:
        if opts.screenshot:
            path = Path(opts.screenshot)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not win.grab().save(str(path)):
                print(f"balance-mon: {path}: could not write the screenshot", file=sys.stderr)
                status["code"] = 2
        win.close()
        app.quit()

    if opts.quit_after_s is not None:
        QTimer.singleShot(int(opts.quit_after_s * 1000), finish)
    elif opts.screenshot:
        app.aboutToQuit.connect(lambda: win.grab().save(str(opts.screenshot)))
    app.exec()
    shutdown(win)
    return status["code"]
