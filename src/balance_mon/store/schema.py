"""The database schema as an ordered list of migrations.

``PRAGMA user_version`` holds the number of migrations applied; opening a
database applies the missing ones in order, each in its own transaction, so
a database created by any earlier build is brought up to date and an
interrupted upgrade resumes where it stopped. A database whose version is
newer than :data:`SCHEMA_VERSION` was written by a newer balance_mon and is
refused (it may hold data this build would misread).

Never edit a released migration: add a new one at the end.

- 1: patients, sessions, recordings (raw data, compressed), trials, results.
- 2: flags (cut-off, change and trend alerts with their reasons) and settings
  (this database's random key for de-identified exports).
- 3: result history for ``recompute``: results get ``computed_utc`` and
  ``superseded_utc`` (NULL while current) and only *current* results are
  unique per trial and metric (the table is rebuilt: SQLite cannot drop a
  table constraint in place).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION"]

#: ``PRAGMA application_id`` of balance_mon databases: "BMON" in ASCII.
APPLICATION_ID = 0x424D4F4E


def _run(db: sqlite3.Connection, script: str) -> None:
    """Execute ``script`` statement by statement inside the caller's transaction.

    (``executescript`` would COMMIT first, breaking the one-transaction-per-
    migration rule.)
    """
    stmt = ""
    for line in script.splitlines(keepends=True):
        stmt += line
        if sqlite3.complete_statement(stmt):
            db.execute(stmt)
            stmt = ""
    if stmt.strip():
        raise ValueError(f"incomplete SQL statement in migration: {stmt.strip()[:60]}")


def _v1(db: sqlite3.Connection) -> None:
    _run(
        db,
        """
        CREATE TABLE patients (
            id            INTEGER PRIMARY KEY,
            code          TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 64),
            birth_year    INTEGER CHECK (birth_year IS NULL OR birth_year BETWEEN 1880 AND 2200),
            sex           TEXT CHECK (sex IS NULL OR sex IN ('female', 'male', 'other')),
            height_m      REAL CHECK (height_m IS NULL OR (height_m > 0.3 AND height_m < 2.8)),
            notes         TEXT NOT NULL DEFAULT '',
            home_consent  INTEGER NOT NULL DEFAULT 0 CHECK (home_consent IN (0, 1)),
            created_utc   TEXT NOT NULL
        );
        CREATE TABLE sessions (
            id            INTEGER PRIMARY KEY,
            patient_id    INTEGER NOT NULL REFERENCES patients(id) ON DELETE RESTRICT,
            setting       TEXT NOT NULL CHECK (setting IN ('clinic', 'home')),
            started       TEXT NOT NULL,
            device        TEXT NOT NULL DEFAULT '',
            operator      TEXT NOT NULL DEFAULT '',
            status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'complete')),
            created_utc   TEXT NOT NULL
        );
        CREATE INDEX sessions_by_patient ON sessions(patient_id, started);
        CREATE TABLE recordings (
            id            INTEGER PRIMARY KEY,
            sha256        TEXT NOT NULL CHECK (length(sha256) = 64),
            codec         TEXT NOT NULL CHECK (codec IN ('lzma', 'zlib')),
            raw_size      INTEGER NOT NULL CHECK (raw_size > 0),
            data          BLOB NOT NULL,
            source        TEXT NOT NULL DEFAULT '',
            n_samples     INTEGER NOT NULL,
            duration_s    REAL NOT NULL,
            fs_hz         REAL NOT NULL,
            created_utc   TEXT NOT NULL
        );
        CREATE INDEX recordings_by_sha ON recordings(sha256);
        CREATE TABLE trials (
            id             INTEGER PRIMARY KEY,
            session_id     INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            recording_id   INTEGER REFERENCES recordings(id) ON DELETE RESTRICT,
            protocol       TEXT NOT NULL,
            condition      TEXT NOT NULL DEFAULT '',
            attempt        INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
            valid          INTEGER NOT NULL CHECK (valid IN (0, 1)),
            invalid_reason TEXT NOT NULL DEFAULT '',
            details        TEXT NOT NULL DEFAULT '{}',
            created_utc    TEXT NOT NULL,
            UNIQUE (session_id, protocol, condition, attempt)
        );
        CREATE INDEX trials_by_recording ON trials(recording_id);
        CREATE TABLE results (
            id                INTEGER PRIMARY KEY,
            trial_id          INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
            metric            TEXT NOT NULL,
            value             REAL,
            unit              TEXT NOT NULL DEFAULT '',
            algorithm         TEXT NOT NULL,
            algorithm_version TEXT NOT NULL,
            parameters        TEXT NOT NULL DEFAULT '{}',
            UNIQUE (trial_id, metric)
        );
        """,
    )


def _v2(db: sqlite3.Connection) -> None:
    _run(
        db,
        """
        CREATE TABLE flags (
            id           INTEGER PRIMARY KEY,
            patient_id   INTEGER NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
            session_id   INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
            trial_id     INTEGER REFERENCES trials(id) ON DELETE CASCADE,
            measure      TEXT NOT NULL,
            kind         TEXT NOT NULL CHECK (kind IN ('cutoff', 'change', 'trend')),
            severity     TEXT NOT NULL DEFAULT 'warning'
                         CHECK (severity IN ('info', 'warning', 'alert')),
            reason       TEXT NOT NULL,
            value        REAL,
            threshold    REAL,
            source       TEXT NOT NULL DEFAULT '',
            created_utc  TEXT NOT NULL
        );
        CREATE INDEX flags_by_patient ON flags(patient_id, session_id);
        CREATE TABLE settings (
            key    TEXT PRIMARY KEY,
            value  TEXT NOT NULL
        );
        """,
    )


def _v3(db: sqlite3.Connection) -> None:
    # Rebuild results without UNIQUE (trial_id, metric): superseded rows are kept.
    _run(
        db,
        """
        CREATE TABLE results_new (
            id                INTEGER PRIMARY KEY,
            trial_id          INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
            metric            TEXT NOT NULL,
            value             REAL,
            unit              TEXT NOT NULL DEFAULT '',
            algorithm         TEXT NOT NULL,
            algorithm_version TEXT NOT NULL,
            parameters        TEXT NOT NULL DEFAULT '{}',
            computed_utc      TEXT NOT NULL DEFAULT '',
            superseded_utc    TEXT
        );
        INSERT INTO results_new (id, trial_id, metric, value, unit, algorithm,
                                 algorithm_version, parameters, computed_utc)
            SELECT r.id, r.trial_id, r.metric, r.value, r.unit, r.algorithm,
                   r.algorithm_version, r.parameters, t.created_utc
            FROM results r JOIN trials t ON t.id = r.trial_id;
        DROP TABLE results;
        ALTER TABLE results_new RENAME TO results;
        CREATE UNIQUE INDEX results_current ON results(trial_id, metric)
            WHERE superseded_utc IS NULL;
        """,
    )


#: Migration ``i`` (0-based) takes a database from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3)

#: The schema version this build writes.
SCHEMA_VERSION = len(MIGRATIONS)
