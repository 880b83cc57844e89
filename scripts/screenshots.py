"""Regenerate the screenshots of every screen of the desktop program into docs/screenshots/.

Usage::

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Runs the demo program (simulated Polar H10 streaming the simulated sessions
of sample_data/ through the real Bluetooth pipeline, on a clock running
faster than real time) with a fresh database holding the demo patient and
part of their simulated history, walks through the screens, and saves:

- ``patients.png``, ``sensor.png``, ``live.png``: choosing a patient, the
  sensor panel, the live view (traces, sway path with its 95 % ellipse,
  repetition counter);
- ``test_running.png``: the four-stage test during the tandem stance;
  ``test_sensor_lost.png``: the message shown while a sensor that dropped
  mid-trial reconnects;
- ``results_four_stage.png``: the results of an at-risk four-stage test
  (loss of balance detected, flag with its reason); ``results_chair_stand.png``;
- ``history.png``: sessions, trend charts with the baseline and the MDC band;
- ``home_start.png``, ``home_exercise.png``, ``home_rest.png``, ``home_done.png``:
  home mode;
- ``live_150.png``, ``home_150.png``: the same program at 150 % scaling
  (``QT_SCALE_FACTOR=1.5``, separate processes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("BALANCE_MON_SPEECH", "off")

ROOT = Path(__file__).resolve().parents[1]
SPEED = 6.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QEventLoop, QTimer

    from balance_mon.app.launch import LaunchOptions, build_app, shutdown
    from balance_mon.app.plans import ExerciseItem

    data = tempfile.mkdtemp(prefix="bm_shots_")
    app, win = build_app(
        LaunchOptions(demo=True, speed=SPEED, data_dir=data, speech=False, rate_hz=100.0)
    )
    saved: list[str] = []

    def pump(cond=lambda: False, timeout: float = 1.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
            if cond():
                return True
        return False

    def shot(name: str) -> None:
        app.processEvents()
        path = out / name
        win.grab().save(str(path))
        saved.append(name)
        print(f"wrote {path}")

    def run_to_end(start, timeout: float = 120.0):
        res: list = []
        win.run_finished.connect(res.append)
        run = start()
        pump(lambda: bool(res), timeout)
        win.run_finished.disconnect()
        return run, res[0] if res else None

    pump(lambda: win.current_live() is not None and win.current_live().samples > 300, 20)
    fut = win.ctx.extra.get("history_import")
    pump(lambda: fut is None or fut.done(), 60)

    # -- patients, sensor, live ---------------------------------------------------------------
    win.refresh_patients()
    win.show_page(0)
    shot("patients.png")
    win.show_page(1)
    win.worker.request_scan(0.5)
    pump(timeout=1.0)
    shot("sensor.png")
    win.show_page(2)
    win.show_perf(True)
    from balance_mon.app.main_window import FrameStats

    pump(timeout=1.0)
    win.stats = FrameStats()  # the readout shows steady operation, not the start-up
    pump(timeout=2.5)
    shot("live.png")
    win.show_perf(False)

    # -- history (the imported simulated months; before the runs of today) ----------
    win.show_page(5)
    pump(timeout=0.5)
    shot("history.png")

    # -- four-stage test: running, sensor lost, results (at risk) -------------------------------
    win.ctx.sim_patient.at_risk = True
    marks: dict[str, bool] = {}

    def on_step(step) -> None:
        if step.kind == "perform" and step.condition == "feet_together" and not marks.get("drop"):
            marks["drop"] = True
            QTimer.singleShot(int(4000 / SPEED), lambda: win.worker.request_drop(win.current_key))
            QTimer.singleShot(int(4200 / SPEED), lambda: shot("test_sensor_lost.png"))
        if step.kind == "perform" and step.condition == "tandem":
            QTimer.singleShot(int(4000 / SPEED), lambda: shot("test_running.png"))

    def start_four_stage():
        run = win.start_test("steadi_four_stage")
        run.step_started.connect(on_step)
        return run

    _run, _res = run_to_end(start_four_stage)
    pump(timeout=0.3)
    shot("results_four_stage.png")

    # -- chair stand ----------------------------------------------------------------------------
    win.ctx.sim_patient.at_risk = False
    _run, _res = run_to_end(lambda: win.start_test("chair_stand_30s"))
    pump(timeout=0.3)
    shot("results_chair_stand.png")

    # -- home mode -----------------------------------------------------------------------------
    win.ctx.store.set_programme(
        win.patient,
        [ExerciseItem("squat", 1, 10, 15.0), ExerciseItem("heel_raise", 1, 10, 15.0)],
    )
    win.set_mode("home")
    pump(lambda: win.home_view.start_btn.isEnabled(), 10)
    shot("home_start.png")
    taken: dict[str, bool] = {}

    def on_progress(info) -> None:
        step = info["step"]
        if step.kind == "set" and info.get("count", 0) >= 4 and not taken.get("set"):
            taken["set"] = True
            shot("home_exercise.png")
        if step.kind == "rest" and info.get("remaining_s", 99) < 9 and not taken.get("rest"):
            taken["rest"] = True
            shot("home_rest.png")

    def start_home():
        run = win.start_home()
        run.progress.connect(on_progress)
        return run

    run_to_end(start_home)
    pump(timeout=0.3)
    shot("home_done.png")
    shutdown(win)

    # -- 150 % scaling (Qt reads the factor at start: separate processes) -----------------------
    env = {**os.environ, "QT_SCALE_FACTOR": "1.5", "QT_QPA_PLATFORM": "offscreen"}
    for name, extra in (("live_150.png", ["--page", "live"]), ("home_150.png", ["--mode", "home"])):
        cmd = [
            sys.executable,
            "-m",
            "balance_mon.cli",
            "demo",
            "--quit-after",
            "6",
            "--screenshot",
            str(out / name),
            "--data-dir",
            tempfile.mkdtemp(prefix="bm_s150_"),
            "--no-speech",
            *extra,
        ]
        subprocess.run(cmd, check=True, env=env, cwd=ROOT, capture_output=True)
        saved.append(name)
        print(f"wrote {out / name}")
    print(f"{len(saved)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
