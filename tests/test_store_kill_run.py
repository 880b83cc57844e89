"""A real SIGKILL while `session run` is recording: the database stays consistent."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from balance_mon.store import Store

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "sample_data" / "simulated" / "clinic" / "romberg_eyes_open.csv"


def _cli() -> list[str]:
    exe = shutil.which("balance-mon", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "balance_mon.cli"]


@pytest.mark.slow
def test_sigkill_while_recording_a_trial_keeps_the_completed_one(tmp_path: Path) -> None:
    db = tmp_path / "bm.sqlite3"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    add = subprocess.run(
        [
            *_cli(),
            "patient",
            "add",
            "K1",
            "--birth-year",
            "1950",
            "--sex",
            "female",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert add.returncode == 0, add.stderr
    cmd = [
        *_cli(), "session", "run", "--patient", "K1", "--protocol", "romberg",
        "--device", "virtual:polar-h10", "--source", str(SOURCE),
        "--yes", "--countdown", "0", "--duration", "6", "--db", str(db),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    stored = None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if line.startswith("stored trial "):
            stored = int(line.split()[2].rstrip(":"))
            break
        assert time.monotonic() < deadline, "the first trial was never stored"
    assert stored is not None
    delay = random.Random(int(time.time())).uniform(0.5, 4.5)
    time.sleep(delay)  # inside the second trial's 6 s recording
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.stderr is not None
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"finished before the kill ({delay:.2f} s)"
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        ids = {r[0] for r in con.execute("SELECT id FROM trials")}
        assert ids == {stored}, f"killed {delay:.2f} s into trial 2"
        orphans = con.execute(
            "SELECT count(*) FROM recordings WHERE id NOT IN (SELECT recording_id FROM trials)"
        ).fetchone()[0]
        assert orphans == 0
    finally:
        con.close()
    with Store(db) as st:
        rec = st.load_recording(st.trial(stored).recording_id)  # checksum verified
        assert rec.n_samples > 0
