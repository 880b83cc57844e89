"""The patient database: schema and migrations, privacy of the file, transactions,
raw recordings, duplicate handling, recompute."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest

from balance_mon.io import load_recording
from balance_mon.recording import Recording
from balance_mon.store import Store, StoreError, plan_import, recompute, run_import, scoring, series
from balance_mon.store.db import (
    MetricValue,
    migrate_to,
    recording_from_bytes,
    recording_to_bytes,
)
from balance_mon.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "sample_data" / "simulated" / "history"
CLINIC = ROOT / "sample_data" / "simulated" / "clinic"


def _schema(db: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = db.execute(
        "SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name"
    ).fetchall()
    return [(n, " ".join(s.split())) for n, s in rows]


def _rec(n: int = 500, fs: float = 50.0, seed: int = 0) -> Recording:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    acc = np.column_stack(
        [
            9.81 + 0.05 * rng.standard_normal(n),
            0.05 * rng.standard_normal(n),
            0.05 * rng.standard_normal(n),
        ]
    )
    return Recording(
        time_s=t,
        acc_mps2=acc,
        fs_nominal_hz=fs,
        placement="lower_back",
        metadata={"test": "sway", "subject": "someone"},
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = Store(tmp_path / "db" / "bm.sqlite3", create=True)
    yield st
    st.close()


# ---------------------------------------------------------------------------
# schema and migrations
# ---------------------------------------------------------------------------


def test_new_database_has_latest_schema_and_our_application_id(store: Store) -> None:
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    names = {n for n, _ in _schema(db)}
    assert {"patients", "sessions", "trials", "results", "recordings", "flags", "settings"} <= names
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert store.integrity_check() == ["ok"]


def _fill(db: sqlite3.Connection, version: int) -> None:
    """Rows as a database of ``version`` would hold them."""
    now = "2025-01-01T00:00:00Z"
    db.execute(
        "INSERT INTO patients (code, birth_year, sex, height_m, notes, home_consent, created_utc)"
        " VALUES ('P9', 1950, 'female', 1.6, 'n', 1, ?)",
        (now,),
    )
    db.execute(
        "INSERT INTO sessions (patient_id, setting, started, device, operator, status,"
        " created_utc) VALUES (1, 'clinic', '2025-01-02', 'dev', 'op', 'complete', ?)",
        (now,),
    )
    raw = recording_to_bytes(_rec())
    import lzma

    db.execute(
        "INSERT INTO recordings (sha256, codec, raw_size, data, source, n_samples, duration_s,"
        " fs_hz, created_utc) VALUES (?, 'lzma', ?, ?, 'x.csv', 500, 10.0, 50.0, ?)",
        (hashlib.sha256(raw).hexdigest(), len(raw), lzma.compress(raw, format=lzma.FORMAT_XZ), now),
    )
    db.execute(
        "INSERT INTO trials (session_id, recording_id, protocol, condition, attempt, valid,"
        " invalid_reason, details, created_utc) VALUES (1, 1, 'sway', 'eo', 1, 1, '', '{}', ?)",
        (now,),
    )
    db.execute(
        "INSERT INTO results (trial_id, metric, value, unit, algorithm, algorithm_version,"
        " parameters) VALUES (1, 'rms_mps2', 0.05, 'm/s2', 'SwayAnalyzer', '1.0', '{}')"
    )
    if version >= 2:
        db.execute(
            "INSERT INTO flags (patient_id, session_id, trial_id, measure, kind, severity, reason,"
            " created_utc) VALUES (1, 1, 1, 'rms_mps2', 'cutoff', 'warning', 'why', ?)",
            (now,),
        )


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_migration_from_each_older_version_keeps_the_data(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    assert migrate_to(db, version) == version
    _fill(db, version)
    db.close()
    with Store(path) as st:
        assert st.schema_version == SCHEMA_VERSION
        p = st.patient("P9")
        assert (p.birth_year, p.sex, p.notes, p.home_consent) == (1950, "female", "n", True)
        [s] = st.sessions(p)
        [t] = st.trials(s)
        [r] = st.results(t)
        assert (r.metric, r.value, r.algorithm_version) == ("rms_mps2", 0.05, "1.0")
        assert r.computed_utc == "2025-01-01T00:00:00Z" and r.superseded_utc is None
        assert st.load_recording(t.recording_id).n_samples == 500
        assert len(st.flags(p)) == (1 if version >= 2 else 0)
        assert st.integrity_check() == ["ok"]
    # same schema as a database created new
    fresh = tmp_path / "new.sqlite3"
    Store(fresh, create=True).close()
    a, b = sqlite3.connect(path), sqlite3.connect(fresh)
    assert _schema(a) == _schema(b)
    a.close()
    b.close()


def test_failed_migration_leaves_the_previous_version(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    migrate_to(db, 2)
    _fill(db, 2)
    db.close()

    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("power cut")

    import balance_mon.store.db as dbmod

    monkeypatch.setattr(dbmod, "MIGRATIONS", (*MIGRATIONS[:2], broken))
    with pytest.raises(RuntimeError, match="power cut"):
        Store(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM sqlite_schema WHERE name='half_done'").fetchone() == (
        0,
    )
    assert db.execute("SELECT count(*) FROM results").fetchone() == (1,)
    db.close()
    monkeypatch.undo()
    with Store(path) as st:  # the real migration then completes
        assert st.schema_version == SCHEMA_VERSION


def test_newer_foreign_and_damaged_databases_are_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite3"
    Store(newer, create=True).close()
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer balance_mon"):
        Store(newer)

    foreign = tmp_path / "foreign.sqlite3"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a balance_mon database"):
        Store(foreign)

    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"hello, I am not a database" * 100)
    with pytest.raises(StoreError, match="not a balance_mon database"):
        Store(garbage)
    assert garbage.read_bytes() == b"hello, I am not a database" * 100

    with pytest.raises(StoreError, match="no database here"):
        Store(tmp_path / "missing.sqlite3")
    assert not (tmp_path / "missing.sqlite3").exists()


def test_damaged_pages_are_found_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "bm.sqlite3"
    with Store(path, create=True) as st:
        p = st.add_patient("P1")
        s = st.add_session(p, started="2025-01-01")
        for i in range(20):
            st.add_trial(s, protocol="sway", condition="c", valid=True, recording=_rec(seed=i))
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for off in range(2 * page, len(data) - page, 3 * page):  # scribble over some pages
        data[off + 8 : off + 200] = os.urandom(192)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"):
        Store(path, check=True)


# ---------------------------------------------------------------------------
# privacy of the file
# ---------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_database_wal_and_shm_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "new" / "folder" / "bm.sqlite3"
        with Store(path, create=True) as st:
            st.add_patient("P1")
            for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                assert p.exists(), p
                assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        # an existing database made readable by others is tightened on opening
        os.chmod(path, 0o644)
        with Store(path) as st:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_default_path_is_in_the_user_data_folder(monkeypatch, tmp_path: Path) -> None:
    from balance_mon.store import default_db_path

    monkeypatch.delenv("BALANCE_MON_DB", raising=False)
    import platformdirs

    assert default_db_path().parent == Path(
        platformdirs.user_data_dir("balance-mon", appauthor=False)
    )
    monkeypatch.setenv("BALANCE_MON_DB", str(tmp_path / "x.sqlite3"))
    assert default_db_path() == tmp_path / "x.sqlite3"


# ---------------------------------------------------------------------------
# patients, sessions, trials
# ---------------------------------------------------------------------------


def test_patient_ids_must_be_pseudonymous_codes(store: Store) -> None:
    p = store.add_patient("P-001", birth_year=1950, sex="female", height_m=1.6)
    assert store.patient("P-001") == p
    for bad in ("Jane Doe", "", "a/b", "x" * 65):
        with pytest.raises(StoreError, match="not valid"):
            store.add_patient(bad)
    with pytest.raises(StoreError, match="already exists"):
        store.add_patient("P-001")
    with pytest.raises(StoreError, match="birth year"):
        store.add_patient("P2", birth_year=1700)
    with pytest.raises(StoreError, match="height"):
        store.add_patient("P2", height_m=165)
    with pytest.raises(StoreError, match="unknown patient 'P3'"):
        store.patient("P3")
    assert [x.code for x in store.patients()] == ["P-001"]


def test_home_sessions_need_consent(store: Store) -> None:
    p = store.add_patient("P1")
    with pytest.raises(StoreError, match="consented to home monitoring"):
        store.add_session(p, setting="home")
    q = store.add_patient("P2", home_consent=True)
    assert store.add_session(q, setting="home", started="2025-02-03 10:30").started == (
        "2025-02-03T10:30:00"
    )


def test_recording_is_stored_whole_compressed_and_checked(store: Store) -> None:
    rec = _rec(n=3000, seed=3)
    p = store.add_patient("P1")
    s = store.add_session(p, started="2025-01-01")
    t = store.add_trial(
        s,
        protocol="sway",
        condition="eyes_open",
        valid=True,
        recording=rec,
        results=[MetricValue("rms_mps2", 0.1, "m/s2", "SwayAnalyzer", "1.0", {"cutoff_hz": 3.5})],
    )
    back = store.load_recording(t.recording_id)
    np.testing.assert_array_equal(back.time_s, rec.time_s)
    np.testing.assert_array_equal(back.acc_mps2, rec.acc_mps2)
    assert dict(back.metadata) == dict(rec.metadata)
    raw = recording_to_bytes(rec)
    row = (
        sqlite3.connect(store.path)
        .execute("SELECT sha256, codec, raw_size, length(data) FROM recordings")
        .fetchone()
    )
    assert row[0] == hashlib.sha256(raw).hexdigest()
    assert row[1] == "lzma" and row[2] == len(raw) and row[3] < len(raw)
    [r] = store.results(t)
    assert (r.algorithm, r.algorithm_version, r.parameters) == (
        "SwayAnalyzer",
        "1.0",
        {"cutoff_hz": 3.5},
    )
    # a flipped byte is caught by the checksum
    db = sqlite3.connect(store.path)
    import lzma

    bad = bytearray(raw)
    bad[-5] ^= 0xFF
    db.execute("UPDATE recordings SET data = ?", (lzma.compress(bytes(bad)),))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="checksum"):
        store.load_recording(t.recording_id)


def test_bytes_round_trip() -> None:
    rec = _rec()
    assert recording_from_bytes(recording_to_bytes(rec)).n_samples == rec.n_samples


def test_a_failing_trial_write_leaves_nothing_behind(store: Store) -> None:
    p = store.add_patient("P1")
    s = store.add_session(p, started="2025-01-01")
    ok = [MetricValue("x", 1.0, "", "A", "1", {})]
    bad_flag = {"measure": "x", "kind": "cutoff"}  # no reason: fails after the other inserts
    with pytest.raises(KeyError):
        store.add_trial(
            s, protocol="sway", valid=True, recording=_rec(), results=ok, flags=[bad_flag]
        )
    db = sqlite3.connect(store.path)
    for table in ("trials", "results", "recordings", "flags"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
    db.close()


# ---------------------------------------------------------------------------
# importing, duplicates, recompute
# ---------------------------------------------------------------------------


def test_import_groups_by_date_and_skips_what_is_stored(store: Store) -> None:
    p = store.add_patient("P1", birth_year=1953, sex="female")
    files = sorted(HISTORY.glob("2025-01-1[03]_*.csv"))  # 2 dates x 3 tests
    items = plan_import(store, p, files, protocol="auto")
    assert {(i.protocol, i.condition) for i in items} == {
        ("chair_stand_30s", "standard"),
        ("tug", "standard"),
        ("sway", "feet_together/eyes_open/firm"),
    }
    summary = run_import(store, p, items)
    assert len(summary.trials) == 6
    assert [s.started for s in store.sessions(p)] == ["2025-01-10", "2025-01-13"]
    # again: everything is already stored
    again = run_import(store, p, plan_import(store, p, files, protocol="auto"))
    assert again.trials == [] and len(again.skipped) == 6
    keyed = series(store, p)
    assert len(keyed[("clinic", "tug", "standard", "tug_s")]) == 2


def test_plan_rejects_bad_input_before_writing(store: Store, tmp_path: Path) -> None:
    p = store.add_patient("P1")
    tug = CLINIC / "tug.csv"
    from balance_mon.errors import BalanceMonError

    with pytest.raises(BalanceMonError, match="unknown protocol"):
        plan_import(store, p, [tug], protocol="nonsense")
    with pytest.raises(BalanceMonError, match="unknown condition"):
        plan_import(store, p, [tug], protocol="tug", condition="5m")
    with pytest.raises(BalanceMonError, match="too short"):
        plan_import(store, p, [tug], protocol="chair_stand_30s")
    with pytest.raises(StoreError, match="no such file"):
        plan_import(store, p, [tmp_path / "nope.csv"], protocol="auto")
    assert store.sessions(p) == []


def test_recompute_shows_old_and_new_values_and_keeps_history(store: Store) -> None:
    p = store.add_patient("P1", birth_year=1953, sex="female")
    run_import(store, p, plan_import(store, p, [CLINIC / "tug.csv"], protocol="auto"))
    assert all(not c.changed for c in recompute(store, apply=False))
    # pretend an older algorithm made a different number
    db = sqlite3.connect(store.path)
    db.execute(
        "UPDATE results SET value = value + 3, algorithm_version = 'old' WHERE metric = 'tug_s'"
    )
    db.commit()
    db.close()
    [t] = store.all_trials(p)
    [old] = [r for r in store.results(t) if r.metric == "tug_s"]
    changes = recompute(store, apply=False)
    [c] = [c for c in changes if c.changed]
    [ch] = [x for x in c.changes if x.metric == "tug_s"]
    assert ch.old_value == pytest.approx(old.value)
    assert ch.new_value == pytest.approx(old.value - 3)
    assert ch.old_algorithm.endswith(" old") and not ch.new_algorithm.endswith(" old")
    assert store.results(t)[0].value == old.value  # dry run stored nothing
    recompute(store)
    [new] = [r for r in store.results(t) if r.metric == "tug_s"]
    assert new.value == pytest.approx(old.value - 3)
    hist = [r for r in store.results(t, history=True) if r.metric == "tug_s"]
    assert len(hist) == 2 and hist[0].superseded_utc is not None
    assert all(not c.changed for c in recompute(store, apply=False))


def test_trend_flags_follow_the_mdc() -> None:
    pts = [scoring.Point(f"2025-01-{i + 1:02d}", v, i) for i, v in enumerate([10, 10, 10.5, 10])]
    flags, summary = scoring.trend_flags("tug_s", pts)
    assert flags == [] and summary["baseline"] == 10
    worse = [*pts, *(scoring.Point(f"2025-02-{i:02d}", 13.5, 10 + i) for i in range(1, 6))]
    flags, _ = scoring.trend_flags("tug_s", worse)
    assert {f["kind"] for f in flags} == {"change", "trend"}
    assert all("MDC95 2.08" in f["reason"] for f in flags)
    better = [*pts, *(scoring.Point(f"2025-02-{i:02d}", 6.0, 10 + i) for i in range(1, 6))]
    assert scoring.trend_flags("tug_s", better)[0] == []  # faster is not a decline


def test_chair_stand_norm_table() -> None:
    assert scoring.chair_stand_threshold(72, "female") == 10
    assert scoring.chair_stand_threshold(66, "male") == 12
    assert scoring.chair_stand_threshold(50, "female") is None
    assert scoring.chair_stand_threshold(72, None) is None


def test_details_and_parameters_are_strict_json(store: Store) -> None:
    p = store.add_patient("P1")
    run_import(store, p, plan_import(store, p, [CLINIC / "romberg_eyes_open.csv"], protocol="auto"))
    db = sqlite3.connect(store.path)
    for (text,) in db.execute(
        "SELECT details FROM trials UNION ALL SELECT parameters FROM results"
    ):
        json.loads(text)  # strict: no NaN
    db.close()
    rec = load_recording(CLINIC / "romberg_eyes_open.csv")
    assert rec.metadata["test"] == "romberg"


# ---------------------------------------------------------------------------
# per-repetition trunk alignment kept with the repetitions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("spine", ["neutral", "flexed"])
def test_rep_trials_keep_each_reps_trunk_flexion(spine: str) -> None:
    from balance_mon import sim

    res = sim.simulate_lifts(
        "stoop", spine=spine, lifts=6, sensor=sim.SensorSpec(placement="sternum"), seed=3
    )
    sc = scoring.score(res.recording, "reps", "stoop_lift")
    assert sc.valid
    reps = sc.details["rep_alignment"]["reps"]
    assert sc.details["rep_alignment"]["algorithm"]["name"] == "TrunkPosture"
    truth = [b["peak_inclination_deg"] for b in res.truth["bends"]]
    assert len(reps) == len(truth) == 6
    for r, want in zip(reps, truth, strict=True):
        assert abs(r["peak_flexion_deg"] - want) < 5.0
        assert r["text"].startswith(f"rep {r['index']}: trunk flexed ")
    peak = {m.metric: m for m in sc.metrics}["rep_peak_flexion_deg"]
    assert peak.value == max(r["peak_flexion_deg"] for r in reps)
    assert peak.algorithm == "TrunkPosture" and peak.unit == "deg"


def test_rep_alignment_only_for_a_trunk_sensor() -> None:
    from balance_mon import sim

    res = sim.simulate_exercise_set(
        "lunge", reps=6, sensor=sim.SensorSpec(placement="thigh"), seed=2
    )
    sc = scoring.score(res.recording, "reps", "lunge")
    assert sc.valid and "rep_alignment" not in sc.details
    assert "rep_peak_flexion_deg" not in {m.metric for m in sc.metrics}
