"""The clinic and home workflow on the command line: patients, one-command import of
a simulated history whose decline is flagged, a stable history without flags, a
real SIGKILL during an import, guided runs, reports, exports, recompute, and bad
input that gives one line, exit 2 and changes nothing."""

from __future__ import annotations

import json
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

from balance_mon.cli import main
from balance_mon.store import Store

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "sample_data" / "simulated" / "history"
CLINIC = ROOT / "sample_data" / "simulated" / "clinic"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def add_patient(capsys, db: Path, code: str = "P1", *extra: str) -> None:
    rc, _, err = run(
        capsys,
        "patient",
        "add",
        code,
        "--birth-year",
        "1953",
        "--sex",
        "female",
        "--db",
        db,
        *extra,
    )
    assert rc == 0, err


def snapshot(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


# ---------------------------------------------------------------------------
# the acceptance workflows
# ---------------------------------------------------------------------------


def test_twelve_week_history_imports_in_one_command_and_its_decline_is_flagged(
    capsys, tmp_path: Path
) -> None:
    db = tmp_path / "bm.sqlite3"
    add_patient(capsys, db)
    rc, out, err = run(
        capsys,
        "session",
        "import",
        HISTORY,
        "--patient",
        "P1",
        "--protocol",
        "auto",
        "--db",
        db,
        "--json",
    )
    assert rc == 0, err
    summary = json.loads(out)
    assert len(summary["sessions"]) == 24 and len(summary["trials"]) == 72
    assert summary["invalid_trials"] == []
    rc, out, _ = run(capsys, "trends", "P1", "--json", "--db", db)
    trends = json.loads(out)
    by_metric = {m["metric"]: m for m in trends["measures"]}
    assert len(by_metric["tug_s"]["series"]) == 24
    assert len(by_metric["stands"]["series"]) == 24
    kinds = {(f["measure"], f["kind"]) for f in trends["flags"]}
    # the decline itself (beyond the detectable change), not only single bad days
    assert {("tug_s", "change"), ("tug_s", "trend")} & kinds, kinds
    assert any(f["kind"] == "cutoff" for f in trends["flags"])
    assert all(f["reason"] for f in trends["flags"])
    # flags come late in the twelve weeks, not at the start
    dates = {s["session_id"]: s["date"] for s in by_metric["tug_s"]["series"]}
    assert min(dates[f["session_id"]] for f in trends["flags"] if f["measure"] == "tug_s") > (
        "2025-02-01"
    )
    rc, out, _ = run(capsys, "patient", "show", "P1", "--json", "--db", db)
    shown = json.loads(out)
    assert len(shown["sessions"]) == 24 and shown["flags"]
    assert all(s["status"] == "complete" for s in shown["sessions"])


def _write_stable_history(folder: Path) -> None:
    """Like scripts/make_sample_data.py, but start == end values: no true change."""
    from balance_mon import sim

    subject = sim.Subject(
        subject_id="stable-01", age_years=70, sex="F", height_m=1.65, mass_kg=64.0
    )
    history = sim.simulate_history(
        weeks=4,
        sessions_per_week=2,
        chair_stand_start=14.0,
        chair_stand_end=14.0,
        tug_start_s=9.5,
        tug_end_s=9.5,
        sway_scale_start=1.0,
        sway_scale_end=1.0,
        subject=subject,
        seed=5,
    )
    spec = sim.SensorSpec(placement="lower_back", fs_hz=50.0, gyro=False)
    folder.mkdir(parents=True)
    for s in history:
        for test in ("chair_stand", "tug"):
            s.simulate(test, sensor=spec).write(folder / f"{s.date.isoformat()}_{test}.csv")


def test_stable_history_raises_no_flag(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "stable"
    _write_stable_history(folder)
    db = tmp_path / "bm.sqlite3"
    add_patient(capsys, db, "S1")
    rc, out, err = run(
        capsys,
        "session",
        "import",
        folder,
        "--patient",
        "S1",
        "--protocol",
        "auto",
        "--db",
        db,
        "--json",
    )
    assert rc == 0, err
    summary = json.loads(out)
    assert len(summary["trials"]) == 16 and summary["flags"] == []
    rc, out, _ = run(capsys, "trends", "S1", "--json", "--db", db)
    trends = json.loads(out)
    assert trends["flags"] == []
    assert {m["metric"] for m in trends["measures"]} >= {"tug_s", "stands"}


def _import_cmd(db: Path, folder: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "balance_mon.cli",
        "session",
        "import",
        str(folder),
        "--patient",
        "K1",
        "--protocol",
        "auto",
        "--db",
        str(db),
    ]


def test_sigkill_during_import_keeps_every_completed_trial(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "hist"
    folder.mkdir()
    files = sorted(HISTORY.glob("2025-0[12]-*_*.csv"))[:24]  # 8 sessions x 3 tests
    for f in files:
        shutil.copy(f, folder / f.name)
    db = tmp_path / "bm.sqlite3"
    add_patient(capsys, db, "K1")
    seed = int(time.time() * 1000) % 100_000
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    completed: set[int] = set()
    for attempt in range(2):
        # leave at least 8 trials to do after the break point, so the kill lands mid-import
        remaining = 24 - len(completed)
        stop_after = rng.randint(1, 7 if attempt == 0 else max(1, remaining - 8))
        delay = rng.uniform(0.0, 0.08)
        proc = subprocess.Popen(
            _import_cmd(db, folder),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        seen = 0
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("stored trial "):
                completed.add(int(line.split()[2].rstrip(":")))
                seen += 1
                if seen >= stop_after:
                    break
        time.sleep(delay)  # somewhere inside the next trial's scoring or transaction
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        where = f"(seed {seed}, attempt {attempt}, after {stop_after} trials + {delay:.3f} s)"
        assert proc.returncode == -signal.SIGKILL, where
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)], where
        assert con.execute("PRAGMA foreign_key_check").fetchall() == [], where
        ids = {r[0] for r in con.execute("SELECT id FROM trials")}
        assert completed <= ids, where
        # no half-written trial: each has its recording and results
        for tid, rid, n in con.execute(
            "SELECT t.id, t.recording_id, (SELECT count(*) FROM results r WHERE r.trial_id = t.id)"
            " FROM trials t"
        ):
            assert rid is not None and n > 0, (tid, where)
        orphans = con.execute(
            "SELECT count(*) FROM recordings WHERE id NOT IN (SELECT recording_id FROM trials)"
        ).fetchone()[0]
        assert orphans == 0, where
        con.close()
        with Store(db) as st:
            for tid in completed:
                st.load_recording(st.trial(tid).recording_id)  # checksum verified
    # importing again finishes the job without duplicates
    rc, _, err = run(
        capsys, "session", "import", folder, "--patient", "K1", "--protocol", "auto", "--db", db
    )
    assert rc == 0, err
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM trials").fetchone() == (24,)
    assert con.execute("SELECT count(DISTINCT sha256) FROM recordings").fetchone() == (24,)
    assert con.execute("SELECT count(*) FROM sessions").fetchone() == (8,)
    assert con.execute("SELECT count(*) FROM sessions WHERE status != 'complete'").fetchone() == (
        0,
    )
    con.close()


# ---------------------------------------------------------------------------
# bad input: one line, exit 2, nothing changed
# ---------------------------------------------------------------------------


@pytest.fixture
def filled_db(capsys, tmp_path: Path) -> Path:
    db = tmp_path / "bm.sqlite3"
    add_patient(capsys, db)
    rc, _, err = run(
        capsys,
        "session",
        "import",
        CLINIC / "tug.csv",
        "--patient",
        "P1",
        "--protocol",
        "tug",
        "--date",
        "2025-03-01",
        "--db",
        db,
    )
    assert rc == 0, err
    return db


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["session", "import", CLINIC / "tug.csv", "--patient", "NOPE", "--protocol", "tug"],
            "unknown patient 'NOPE'",
        ),
        (
            ["session", "import", CLINIC / "tug.csv", "--patient", "P1", "--protocol", "bogus"],
            "unknown protocol 'bogus'",
        ),
        (
            [
                "session",
                "import",
                CLINIC / "romberg_eyes_open.csv",
                "--patient",
                "P1",
                "--protocol",
                "romberg",
                "--condition",
                "eyes_half_shut",
            ],
            "unknown condition 'eyes_half_shut'",
        ),
        (
            [
                "session",
                "import",
                CLINIC / "tug.csv",
                "--patient",
                "P1",
                "--protocol",
                "chair_stand_30s",
            ],
            "too short for 30-second chair stand",
        ),
        (
            [
                "session",
                "import",
                CLINIC / "tug.csv",
                CLINIC / "nope.csv",
                "--patient",
                "P1",
                "--protocol",
                "auto",
            ],
            "no such file",
        ),
        (
            [
                "session",
                "import",
                CLINIC / "tug.csv",
                "--patient",
                "P1",
                "--protocol",
                "tug",
                "--setting",
                "home",
            ],
            "not consented to home monitoring",
        ),
        (
            [
                "session",
                "import",
                CLINIC / "tug.csv",
                "--patient",
                "P1",
                "--protocol",
                "tug",
                "--date",
                "01/02/2025",
            ],
            "not valid",
        ),
        (["patient", "add", "Jane Doe"], "is not valid"),
        (["patient", "add", "P1"], "already exists"),
        (["report", "P1", "--session", "999", "--out", "{tmp}/r.pdf"], "no session 999"),
        (["export", "NOPE", "--format", "csv"], "unknown patient"),
        (["recompute", "--patient", "NOPE"], "unknown patient"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_changed(
    capsys, filled_db: Path, tmp_path: Path, argv: list, message: str
) -> None:
    before = snapshot(filled_db)
    files_before = sorted(p.name for p in tmp_path.iterdir())
    argv = [str(a).replace("{tmp}", str(tmp_path)) for a in argv]
    rc, out, err = run(capsys, *argv, "--db", filled_db)
    assert rc == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("balance-mon: "), err
    assert message in lines[0]
    assert "Traceback" not in err
    assert snapshot(filled_db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files_before


def test_corrupt_database_one_line_exit_2_unchanged(capsys, filled_db: Path) -> None:
    con = sqlite3.connect(filled_db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(filled_db.read_bytes())
    for off in range(4096, len(data) - 64, 4096):  # scribble over every page but the first
        data[off + 16 : off + 64] = b"\xa5" * 48
    filled_db.write_bytes(bytes(data))
    garbage = filled_db.with_name("garbage.sqlite3")
    garbage.write_bytes(b"not a database at all\n" * 50)
    for db, argv in (
        (
            filled_db,
            ["session", "import", CLINIC / "tug.csv", "--patient", "P1", "--protocol", "tug"],
        ),
        (filled_db, ["recompute"]),
        (garbage, ["patient", "list"]),
        (
            garbage,
            ["session", "import", CLINIC / "tug.csv", "--patient", "P1", "--protocol", "tug"],
        ),
    ):
        before = db.read_bytes()
        rc, out, err = run(capsys, *argv, "--db", db)
        assert rc == 2 and out == "", (argv, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and ("damaged" in lines[0] or "not a balance_mon" in lines[0]), err
        assert db.read_bytes() == before


def test_invalid_patient_creates_no_database(capsys, tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite3"
    rc, _, err = run(capsys, "patient", "add", "x y", "--db", db)
    assert rc == 2 and "not valid" in err
    assert not db.exists()
    rc, _, err = run(capsys, "patient", "list", "--db", db)
    assert rc == 2 and "no database here" in err
    assert not db.exists()


# ---------------------------------------------------------------------------
# guided run, reports, exports, recompute
# ---------------------------------------------------------------------------


def test_session_run_with_a_simulated_sensor(capsys, tmp_path: Path) -> None:
    db = tmp_path / "bm.sqlite3"
    add_patient(capsys, db)
    rc, out, err = run(
        capsys,
        "session",
        "run",
        "--patient",
        "P1",
        "--protocol",
        "tug",
        "--device",
        "virtual:reference",
        "--source",
        CLINIC / "tug.csv",
        "--virtual-time",
        "--yes",
        "--countdown",
        "2",
        "--duration",
        "20",
        "--db",
        db,
    )
    assert rc == 0, err
    assert "[countdown]" in out and "  2..." in out and "GO" in out
    with Store(db) as st:
        p = st.patient("P1")
        [s] = st.sessions(p)
        [t] = st.trials(s)
        assert t.protocol == "tug" and t.valid
        tug = {r.metric: r.value for r in st.results(t)}["tug_s"]
        assert 8.0 < tug < 15.0  # the source recording's TUG (about 11.6 s)
        assert st.load_recording(t.recording_id).metadata["device_model"] == "reference"
    # a real device name with simulation options is refused before anything is stored
    rc, _, err = run(
        capsys,
        "session",
        "run",
        "--patient",
        "P1",
        "--protocol",
        "tug",
        "--device",
        "AA:BB",
        "--source",
        CLINIC / "tug.csv",
        "--db",
        db,
    )
    assert rc == 2 and "only apply to simulated sensors" in err


def test_report_export_and_recompute_commands(capsys, filled_db: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    rc, _, err = run(capsys, "report", "P1", "--out", pdf, "--db", filled_db)
    assert rc == 0, err
    assert pdf.read_bytes().startswith(b"%PDF-")
    before = pdf.read_bytes()
    rc, _, err = run(capsys, "report", "P1", "--session", "1", "--out", pdf, "--db", filled_db)
    assert rc == 2 and "already exists" in err and pdf.read_bytes() == before
    rc, _, err = run(
        capsys, "report", "P1", "--session", "1", "--out", pdf, "--force", "--db", filled_db
    )
    assert rc == 0 and pdf.read_bytes() != before
    rc, out, _ = run(capsys, "export", "P1", "--format", "csv", "--db", filled_db)
    assert rc == 0 and out.startswith("patient,") and "tug_s" in out
    fhir = tmp_path / "b.json"
    rc, _, _ = run(
        capsys,
        "export",
        "P1",
        "--format",
        "fhir",
        "--deidentify",
        "--out",
        fhir,
        "--db",
        filled_db,
    )
    bundle = json.loads(fhir.read_text())
    assert bundle["resourceType"] == "Bundle" and "P1" not in fhir.read_text()
    rc, out, _ = run(capsys, "recompute", "--dry-run", "--json", "--db", filled_db)
    assert rc == 0 and json.loads(out)["changed"] == [] and json.loads(out)["trials"] == 1
    rc, out, _ = run(capsys, "patient", "list", "--json", "--db", filled_db)
    [row] = json.loads(out)["patients"]
    assert row["id"] == "P1" and row["sessions"] == 1 and "notes" not in row
