"""The patient database: one SQLite file, embedded, private to its owner.

Design (docs/store.md has the reasons at length):

- **One file** in the platform's user data folder (``platformdirs``), or the
  path given with ``--db`` / ``BALANCE_MON_DB``. Created with mode 0600 in a
  folder of mode 0700; the ``-wal`` and ``-shm`` files SQLite adds are
  tightened to 0600 as well (SQLite gives them the database file's mode).
- **Crash safety.** ``journal_mode=WAL`` with ``synchronous=FULL``: a
  transaction is on disk before ``COMMIT`` returns, a killed process or a
  power cut loses at most the transaction in progress and never corrupts
  the file. (``NORMAL`` would also survive a killed process but may drop the
  last commits on power loss; at a few commits per session the extra fsync
  costs nothing noticeable.) ``foreign_keys=ON`` on every connection.
- **Transactions** are explicit (``BEGIN IMMEDIATE`` ... ``COMMIT``):
  a session import writes each trial (raw recording, trial row, results,
  flags) in one transaction, so every trial is either complete or absent.
- **Versioned schema** (:mod:`.schema`): ``PRAGMA user_version`` plus ordered
  migrations; ``PRAGMA application_id`` marks the file as balance_mon's.
- **Raw data kept whole**: each recording is stored as its ``.bmr`` bytes,
  LZMA-compressed, with the SHA-256 of the uncompressed bytes; loading checks
  the checksum, so a result can always be recomputed from exactly the data
  that produced it.

Every SQLite error is turned into a :class:`StoreError` whose message names
the database file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import lzma
import os
import re
import secrets
import sqlite3
import stat
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..recording import Recording
from .schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "DB_ENV",
    "Flag",
    "MetricValue",
    "Patient",
    "Result",
    "Session",
    "Store",
    "StoreError",
    "Trial",
    "default_db_path",
]

#: Environment variable naming the database file (``--db`` wins over it).
DB_ENV = "BALANCE_MON_DB"

#: File name of the default database in the user data folder.
DB_NAME = "balance_mon.sqlite3"

SQLITE_MAGIC = b"SQLite format 3\x00"

#: Pseudonymous patient ids: letters, digits and ``. _ -``, 1-64 characters.
PATIENT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

SEXES = ("female", "male", "other")
SETTINGS = ("clinic", "home")

#: LZMA preset of stored recordings: 1 compresses float64 sensor data about a
#: third better than zlib at about the same speed (docs/store.md).
LZMA_PRESET = 1


def default_db_path() -> Path:
    """``$BALANCE_MON_DB`` if set, else ``balance_mon.sqlite3`` in the user data folder."""
    env = os.environ.get(DB_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("balance-mon", appauthor=False)) / DB_NAME


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Patient:
    id: int
    code: str
    birth_year: int | None
    sex: str | None
    height_m: float | None
    notes: str
    home_consent: bool
    created_utc: str

    def age_in(self, year: int) -> int | None:
        """Age in whole years during ``year`` (the birth year is all that is stored,
        so this is the age reached that year; it may be one too high)."""
        return None if self.birth_year is None else year - self.birth_year


@dataclass(frozen=True)
class Session:
    id: int
    patient_id: int
    setting: str
    started: str  # ISO 8601 date or date-time, local time as entered
    device: str
    operator: str
    status: str
    created_utc: str

    @property
    def date(self) -> dt.date:
        return dt.date.fromisoformat(self.started[:10])


@dataclass(frozen=True)
class Trial:
    id: int
    session_id: int
    recording_id: int | None
    protocol: str
    condition: str
    attempt: int
    valid: bool
    invalid_reason: str
    details: dict[str, Any]
    created_utc: str


@dataclass(frozen=True)
class MetricValue:
    """One measure to store: its value and the algorithm that made it."""

    metric: str
    value: float | None
    unit: str
    algorithm: str
    algorithm_version: str
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    id: int
    trial_id: int
    metric: str
    value: float | None
    unit: str
    algorithm: str
    algorithm_version: str
    parameters: dict[str, Any]
    computed_utc: str
    superseded_utc: str | None


@dataclass(frozen=True)
class Flag:
    id: int
    patient_id: int
    session_id: int | None
    trial_id: int | None
    measure: str
    kind: str  # cutoff | change | trend
    severity: str  # info | warning | alert
    reason: str
    value: float | None
    threshold: float | None
    source: str
    created_utc: str


# ---------------------------------------------------------------------------
# Raw recordings as compressed .bmr bytes
# ---------------------------------------------------------------------------


def recording_to_bytes(rec: Recording) -> bytes:
    """``rec`` as the bytes of a ``.bmr`` file (lossless, float64)."""
    from ..io.binary import write_binary

    with tempfile.TemporaryDirectory(prefix="balance_mon_") as tmp:
        path = Path(tmp) / "recording.bmr"
        write_binary(rec, path)
        return path.read_bytes()


def recording_from_bytes(data: bytes, *, source: str | None = None) -> Recording:
    """Inverse of :func:`recording_to_bytes`."""
    from ..io.binary import read_binary

    with tempfile.TemporaryDirectory(prefix="balance_mon_") as tmp:
        path = Path(tmp) / "recording.bmr"
        path.write_bytes(data)
        rec = read_binary(path)
    return rec.replace(source=source) if source is not None else rec


def _compress(raw: bytes) -> tuple[str, bytes]:
    return "lzma", lzma.compress(raw, format=lzma.FORMAT_XZ, preset=LZMA_PRESET)


def _decompress(codec: str, data: bytes) -> bytes:
    if codec == "lzma":
        return lzma.decompress(data, format=lzma.FORMAT_XZ)
    if codec == "zlib":
        return zlib.decompress(data)
    raise ValueError(f"unknown codec {codec!r}")


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------


def _private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (its folder 0700 when we create it)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)  # whatever the umask


def _tighten(path: Path) -> None:
    """Make the database and its -wal / -shm files readable by the owner only."""
    if os.name != "posix":  # pragma: no cover - Windows ACLs are per-user already
        return
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(p.stat().st_mode)
            if mode & 0o077:
                os.chmod(p, mode & 0o700)


class Store:
    """An open balance_mon database.

    Parameters
    ----------
    path : the database file (default :func:`default_db_path`).
    create : create the file (and apply the schema) if it does not exist;
        when False a missing file is an error.
    check : run ``PRAGMA quick_check`` on opening (done before imports, so
        that nothing is written into a damaged file).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self, path: str | Path | None = None, *, create: bool = False, check: bool = False
    ):
        self.path = Path(path) if path is not None else default_db_path()
        self._db: sqlite3.Connection | None = None
        where = str(self.path)
        if self.path.is_dir():
            raise StoreError(f"{where}: is a folder, not a database file")
        exists = self.path.exists()
        if not exists and not create:
            raise StoreError(
                f"{where}: no database here; add a patient first "
                "('balance-mon patient add ID'), or name another one with --db"
            )
        if exists:
            self._check_header()
        else:
            try:
                _private_file(self.path)
            except OSError as exc:
                raise StoreError(f"{where}: cannot create the database ({exc.strerror})") from None
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            self._db.row_factory = sqlite3.Row
            self._configure()
            if check:
                self._quick_check()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._error(exc) from None
        except BaseException:
            self.close()
            raise
        _tighten(self.path)

    # -- opening ------------------------------------------------------------------

    def _check_header(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(100)
        except PermissionError:
            raise StoreError(f"{self.path}: permission denied") from None
        if head and not head.startswith(SQLITE_MAGIC):
            raise StoreError(
                f"{self.path}: not a balance_mon database (not an SQLite file, or damaged); "
                "restore it from a backup or name another file with --db"
            )
        if head and len(head) < 100:
            raise StoreError(f"{self.path}: the database file is truncated (damaged)")

    def _configure(self) -> None:
        db = self._conn
        db.execute("PRAGMA busy_timeout = 10000")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. a network file system
            raise StoreError(f"{self.path}: cannot switch the database to WAL mode ({mode})")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA secure_delete = ON")  # deleted patient data is overwritten

    def _quick_check(self) -> None:
        rows = [r[0] for r in self._conn.execute("PRAGMA quick_check(5)")]
        if rows != ["ok"]:
            raise StoreError(
                f"{self.path}: the database is damaged ({'; '.join(rows)[:200]}); "
                "restore it from a backup"
            )

    def _migrate(self) -> None:
        db = self._conn
        version = db.execute("PRAGMA user_version").fetchone()[0]
        app = db.execute("PRAGMA application_id").fetchone()[0]
        if app not in (0, APPLICATION_ID):
            raise StoreError(f"{self.path}: not a balance_mon database (another program's file)")
        if app == 0:
            tables = db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
            if tables:
                raise StoreError(
                    f"{self.path}: not a balance_mon database (an SQLite file of another program)"
                )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer balance_mon (schema {version}, this version "
                f"reads up to {SCHEMA_VERSION}); update balance_mon"
            )
        migrate_to(db, SCHEMA_VERSION)

    # -- basics -----------------------------------------------------------------

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"{self.path}: the database is closed")
        return self._db

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if isinstance(exc, sqlite3.DatabaseError) and (
            "malformed" in text or "not a database" in text or "corrupt" in text
        ):
            return StoreError(f"{self.path}: the database is damaged ({text}); restore a backup")
        if "locked" in text or "busy" in text:
            return StoreError(f"{self.path}: the database is in use by another program; try again")
        return StoreError(f"{self.path}: database error: {text}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; ROLLBACK on any exception."""
        db = self._conn
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            yield db
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise self._error(exc) from None

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _exec(self, db: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return db.execute(sql, params)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    @property
    def schema_version(self) -> int:
        return int(self._query("PRAGMA user_version")[0][0])

    def integrity_check(self) -> list[str]:
        """Rows of ``PRAGMA integrity_check`` (``["ok"]`` when sound)."""
        return [r[0] for r in self._query("PRAGMA integrity_check")]

    def secret(self) -> bytes:
        """This database's random key for pseudonyms and date shifts of
        de-identified exports (created on first use, never exported)."""
        rows = self._query("SELECT value FROM settings WHERE key = 'deid_key'")
        if rows:
            return bytes.fromhex(rows[0][0])
        key = secrets.token_bytes(32)
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO settings (key, value) VALUES ('deid_key', ?)", (key.hex(),)
            )
        return bytes.fromhex(self._query("SELECT value FROM settings WHERE key = 'deid_key'")[0][0])

    # -- patients -----------------------------------------------------------------

    def add_patient(
        self,
        code: str,
        *,
        birth_year: int | None = None,
        sex: str | None = None,
        height_m: float | None = None,
        notes: str = "",
        home_consent: bool = False,
    ) -> Patient:
        """Add a patient under the pseudonymous id ``code`` (no names: see docs/store.md)."""
        validate_patient(code, birth_year=birth_year, sex=sex, height_m=height_m)
        try:
            with self.transaction() as db:
                cur = db.execute(
                    "INSERT INTO patients (code, birth_year, sex, height_m, notes, home_consent,"
                    " created_utc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (code, birth_year, sex, height_m, notes, int(home_consent), utc_now()),
                )
                pid = cur.lastrowid
        except sqlite3.IntegrityError:
            raise StoreError(f"patient {code} already exists in {self.path}") from None
        assert pid is not None
        return self.patient_by_id(pid)

    @staticmethod
    def _patient(row: sqlite3.Row) -> Patient:
        return Patient(
            id=row["id"],
            code=row["code"],
            birth_year=row["birth_year"],
            sex=row["sex"],
            height_m=row["height_m"],
            notes=row["notes"],
            home_consent=bool(row["home_consent"]),
            created_utc=row["created_utc"],
        )

    def patient(self, code: str) -> Patient:
        rows = self._query("SELECT * FROM patients WHERE code = ?", (code,))
        if not rows:
            known = [r[0] for r in self._query("SELECT code FROM patients ORDER BY code LIMIT 6")]
            hint = f" (known: {', '.join(known[:5])}{', ...' if len(known) > 5 else ''})"
            raise StoreError(
                f"unknown patient {code!r} in {self.path}"
                + (hint if known else "; add one with 'balance-mon patient add ID'")
            )
        return self._patient(rows[0])

    def patient_by_id(self, pid: int) -> Patient:
        rows = self._query("SELECT * FROM patients WHERE id = ?", (pid,))
        if not rows:
            raise StoreError(f"no patient with internal id {pid} in {self.path}")
        return self._patient(rows[0])

    def patients(self) -> list[Patient]:
        return [self._patient(r) for r in self._query("SELECT * FROM patients ORDER BY code")]

    # -- sessions -----------------------------------------------------------------

    @staticmethod
    def _session(row: sqlite3.Row) -> Session:
        return Session(**{k: row[k] for k in row.keys()})  # noqa: SIM118

    def add_session(
        self,
        patient: Patient,
        *,
        setting: str = "clinic",
        started: str | None = None,
        device: str = "",
        operator: str = "",
    ) -> Session:
        if setting not in SETTINGS:
            raise StoreError(f"setting {setting!r} is not one of {', '.join(SETTINGS)}")
        if setting == "home" and not patient.home_consent:
            raise StoreError(
                f"patient {patient.code} has not consented to home monitoring; record the "
                "consent first ('balance-mon patient add ... --home-consent')"
            )
        started = (
            normalize_datetime(started)
            if started
            else dt.datetime.now().isoformat(timespec="seconds")
        )
        with self.transaction() as db:
            cur = self._exec(
                db,
                "INSERT INTO sessions (patient_id, setting, started, device, operator, status,"
                " created_utc) VALUES (?, ?, ?, ?, ?, 'open', ?)",
                (patient.id, setting, started, device, operator, utc_now()),
            )
            sid = cur.lastrowid
        assert sid is not None
        return self.session(sid)

    def complete_session(self, session_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE sessions SET status = 'complete' WHERE id = ?", (session_id,))

    def session(self, session_id: int) -> Session:
        rows = self._query("SELECT * FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise StoreError(f"no session {session_id} in {self.path}")
        return self._session(rows[0])

    def sessions(self, patient: Patient) -> list[Session]:
        return [
            self._session(r)
            for r in self._query(
                "SELECT * FROM sessions WHERE patient_id = ? ORDER BY started, id", (patient.id,)
            )
        ]

    def find_session(self, patient: Patient, started: str, setting: str) -> Session | None:
        """An existing session of ``patient`` on the same date-time and setting."""
        rows = self._query(
            "SELECT * FROM sessions WHERE patient_id = ? AND started = ? AND setting = ? "
            "ORDER BY id LIMIT 1",
            (patient.id, normalize_datetime(started), setting),
        )
        return self._session(rows[0]) if rows else None

    # -- recordings -----------------------------------------------------------------

    def find_recording(self, patient: Patient, sha256: str) -> Trial | None:
        """The trial of ``patient`` that already holds a recording with this checksum."""
        rows = self._query(
            "SELECT t.* FROM trials t JOIN recordings r ON r.id = t.recording_id "
            "JOIN sessions s ON s.id = t.session_id WHERE s.patient_id = ? AND r.sha256 = ? "
            "ORDER BY t.id LIMIT 1",
            (patient.id, sha256),
        )
        return self._trial(rows[0]) if rows else None

    def load_recording(self, recording_id: int) -> Recording:
        """The stored recording, checked against its SHA-256."""
        rows = self._query(
            "SELECT codec, data, sha256, source FROM recordings WHERE id = ?", (recording_id,)
        )
        if not rows:
            raise StoreError(f"no recording {recording_id} in {self.path}")
        codec, data, sha, source = rows[0]
        try:
            raw = _decompress(codec, bytes(data))
        except (lzma.LZMAError, zlib.error, ValueError) as exc:
            raise StoreError(
                f"{self.path}: stored recording {recording_id} is damaged ({exc})"
            ) from None
        if hashlib.sha256(raw).hexdigest() != sha:
            raise StoreError(
                f"{self.path}: stored recording {recording_id} does not match its checksum "
                "(damaged)"
            )
        return recording_from_bytes(raw, source=source or f"recording {recording_id}")

    # -- trials and results ------------------------------------------------------------

    @staticmethod
    def _trial(row: sqlite3.Row) -> Trial:
        return Trial(
            id=row["id"],
            session_id=row["session_id"],
            recording_id=row["recording_id"],
            protocol=row["protocol"],
            condition=row["condition"],
            attempt=row["attempt"],
            valid=bool(row["valid"]),
            invalid_reason=row["invalid_reason"],
            details=json.loads(row["details"] or "{}"),
            created_utc=row["created_utc"],
        )

    def next_attempt(self, session_id: int, protocol: str, condition: str) -> int:
        rows = self._query(
            "SELECT max(attempt) FROM trials WHERE session_id = ? AND protocol = ? "
            "AND condition = ?",
            (session_id, protocol, condition),
        )
        return int(rows[0][0] or 0) + 1

    def add_trial(
        self,
        session: Session,
        *,
        protocol: str,
        condition: str = "",
        attempt: int | None = None,
        valid: bool,
        invalid_reason: str = "",
        details: dict[str, Any] | None = None,
        results: Sequence[MetricValue] = (),
        recording: Recording | None = None,
        raw: bytes | None = None,
        source: str = "",
        flags: Sequence[dict[str, Any]] = (),
    ) -> Trial:
        """Store one trial with its raw recording, results and flags in ONE transaction.

        ``raw`` are the recording's ``.bmr`` bytes when already computed (the
        checksum used for duplicate detection), else they are made from ``recording``.
        ``flags`` are dicts with the :class:`Flag` fields measure, kind,
        severity, reason, value, threshold, source.
        """
        if raw is None and recording is not None:
            raw = recording_to_bytes(recording)
        blob = None
        if raw is not None:
            codec, packed = _compress(raw)
            sha = hashlib.sha256(raw).hexdigest()
            rec = recording if recording is not None else recording_from_bytes(raw)
            blob = (sha, codec, len(raw), packed, source, rec.n_samples, rec.duration_s, rec.fs_hz)
        now = utc_now()
        details_json = json.dumps(_jsonable(details or {}), allow_nan=False, sort_keys=True)
        with self.transaction() as db:
            rec_id = None
            if blob is not None:
                cur = db.execute(
                    "INSERT INTO recordings (sha256, codec, raw_size, data, source, n_samples,"
                    " duration_s, fs_hz, created_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*blob, now),
                )
                rec_id = cur.lastrowid
            if attempt is None:
                row = db.execute(
                    "SELECT max(attempt) FROM trials WHERE session_id = ? AND protocol = ? "
                    "AND condition = ?",
                    (session.id, protocol, condition),
                ).fetchone()
                attempt = int(row[0] or 0) + 1
            try:
                cur = db.execute(
                    "INSERT INTO trials (session_id, recording_id, protocol, condition, attempt,"
                    " valid, invalid_reason, details, created_utc)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        session.id,
                        rec_id,
                        protocol,
                        condition,
                        attempt,
                        int(valid),
                        invalid_reason,
                        details_json,
                        now,
                    ),
                )
            except sqlite3.IntegrityError:
                raise StoreError(
                    f"session {session.id} already has attempt {attempt} of {protocol} "
                    f"{condition}".rstrip()
                ) from None
            tid = cur.lastrowid
            assert tid is not None
            self._insert_results(db, tid, results, now)
            for f in flags:
                self._insert_flag(db, session.patient_id, session.id, tid, f, now)
        return self.trial(tid)

    @staticmethod
    def _insert_results(
        db: sqlite3.Connection, trial_id: int, results: Sequence[MetricValue], now: str
    ) -> None:
        for r in results:
            db.execute(
                "INSERT INTO results (trial_id, metric, value, unit, algorithm, algorithm_version,"
                " parameters, computed_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    trial_id,
                    r.metric,
                    _finite_or_none(r.value),
                    r.unit,
                    r.algorithm,
                    r.algorithm_version,
                    json.dumps(_jsonable(r.parameters), allow_nan=False, sort_keys=True),
                    now,
                ),
            )

    def trial(self, trial_id: int) -> Trial:
        rows = self._query("SELECT * FROM trials WHERE id = ?", (trial_id,))
        if not rows:
            raise StoreError(f"no trial {trial_id} in {self.path}")
        return self._trial(rows[0])

    def trials(self, session: Session) -> list[Trial]:
        return [
            self._trial(r)
            for r in self._query(
                "SELECT * FROM trials WHERE session_id = ? ORDER BY id", (session.id,)
            )
        ]

    def all_trials(self, patient: Patient | None = None) -> list[Trial]:
        if patient is None:
            rows = self._query("SELECT * FROM trials ORDER BY id")
        else:
            rows = self._query(
                "SELECT t.* FROM trials t JOIN sessions s ON s.id = t.session_id "
                "WHERE s.patient_id = ? ORDER BY t.id",
                (patient.id,),
            )
        return [self._trial(r) for r in rows]

    @staticmethod
    def _result(row: sqlite3.Row) -> Result:
        return Result(
            id=row["id"],
            trial_id=row["trial_id"],
            metric=row["metric"],
            value=row["value"],
            unit=row["unit"],
            algorithm=row["algorithm"],
            algorithm_version=row["algorithm_version"],
            parameters=json.loads(row["parameters"] or "{}"),
            computed_utc=row["computed_utc"],
            superseded_utc=row["superseded_utc"],
        )

    def results(self, trial: Trial, *, history: bool = False) -> list[Result]:
        """Current results of ``trial`` (with ``history``, superseded ones too)."""
        where = "" if history else " AND superseded_utc IS NULL"
        return [
            self._result(r)
            for r in self._query(
                f"SELECT * FROM results WHERE trial_id = ?{where} ORDER BY id", (trial.id,)
            )
        ]

    def replace_results(
        self,
        trial: Trial,
        results: Sequence[MetricValue],
        *,
        valid: bool,
        invalid_reason: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Supersede ``trial``'s current results by ``results`` (kept as history)."""
        now = utc_now()
        with self.transaction() as db:
            db.execute(
                "UPDATE results SET superseded_utc = ? WHERE trial_id = ? "
                "AND superseded_utc IS NULL",
                (now, trial.id),
            )
            self._insert_results(db, trial.id, results, now)
            db.execute(
                "UPDATE trials SET valid = ?, invalid_reason = ?, details = ? WHERE id = ?",
                (
                    int(valid),
                    invalid_reason,
                    json.dumps(
                        _jsonable(details if details is not None else trial.details),
                        allow_nan=False,
                        sort_keys=True,
                    ),
                    trial.id,
                ),
            )

    # -- flags --------------------------------------------------------------------

    @staticmethod
    def _insert_flag(
        db: sqlite3.Connection,
        patient_id: int,
        session_id: int | None,
        trial_id: int | None,
        f: dict[str, Any],
        now: str,
    ) -> None:
        db.execute(
            "INSERT INTO flags (patient_id, session_id, trial_id, measure, kind, severity, reason,"
            " value, threshold, source, created_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                patient_id,
                session_id,
                trial_id,
                f["measure"],
                f["kind"],
                f.get("severity", "warning"),
                f["reason"],
                _finite_or_none(f.get("value")),
                _finite_or_none(f.get("threshold")),
                f.get("source", ""),
                now,
            ),
        )

    def set_patient_flags(
        self, patient: Patient, kinds: Sequence[str], flags: Sequence[dict[str, Any]]
    ) -> None:
        """Replace ``patient``'s flags of ``kinds`` by ``flags`` (one transaction).

        ``flags`` dicts may carry ``session_id`` and ``trial_id``.
        """
        now = utc_now()
        with self.transaction() as db:
            marks = ",".join("?" * len(kinds))
            db.execute(
                f"DELETE FROM flags WHERE patient_id = ? AND kind IN ({marks})",
                (patient.id, *kinds),
            )
            for f in flags:
                self._insert_flag(db, patient.id, f.get("session_id"), f.get("trial_id"), f, now)

    def replace_trial_flags(
        self, trial: Trial, session: Session, flags: Sequence[dict[str, Any]]
    ) -> None:
        """Replace the cut-off flags of one trial (after a recompute)."""
        now = utc_now()
        with self.transaction() as db:
            db.execute("DELETE FROM flags WHERE trial_id = ? AND kind = 'cutoff'", (trial.id,))
            for f in flags:
                self._insert_flag(db, session.patient_id, session.id, trial.id, f, now)

    def flags(self, patient: Patient) -> list[Flag]:
        return [
            Flag(**{k: r[k] for k in r.keys()})  # noqa: SIM118
            for r in self._query(
                "SELECT * FROM flags WHERE patient_id = ? ORDER BY id", (patient.id,)
            )
        ]


def validate_patient(
    code: str,
    *,
    birth_year: int | None = None,
    sex: str | None = None,
    height_m: float | None = None,
) -> None:
    """Raise StoreError when a patient's fields are not acceptable."""
    if not PATIENT_CODE.match(code or ""):
        raise StoreError(
            f"patient id {code!r} is not valid: use 1-64 letters, digits, '.', '_' or '-' "
            "(a pseudonymous code such as P001, never a name)"
        )
    this_year = dt.date.today().year
    if birth_year is not None and not 1880 <= birth_year <= this_year:
        raise StoreError(f"birth year {birth_year} is not plausible (1880-{this_year})")
    if sex is not None and sex not in SEXES:
        raise StoreError(f"sex {sex!r} is not one of {', '.join(SEXES)}")
    if height_m is not None and not 0.3 < height_m < 2.8:
        raise StoreError(f"height {height_m} m is not plausible; give it in metres (e.g. 1.65)")


def migrate_to(db: sqlite3.Connection, target: int) -> int:
    """Apply the migrations that take ``db`` from its version to ``target``.

    Each migration runs in its own transaction together with the
    ``user_version`` update, so a crash mid-upgrade leaves a consistent
    database at the previous version. Returns the resulting version.
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    while version < target:
        db.execute("BEGIN IMMEDIATE")
        try:
            # re-read inside the write lock: another process may have migrated meanwhile
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version >= target:
                db.execute("COMMIT")
                break
            MIGRATIONS[version](db)
            if version == 0:
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        version += 1
    return version


def normalize_datetime(text: str) -> str:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]`` (a space instead of T is fine),
    checked and returned in ISO form; raises StoreError otherwise."""
    s = str(text).strip().replace(" ", "T", 1)
    try:
        if len(s) == 10:
            return dt.date.fromisoformat(s).isoformat()
        value = dt.datetime.fromisoformat(s)
    except ValueError:
        raise StoreError(
            f"date {text!r} is not valid: use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone().replace(tzinfo=None)
    return value.isoformat(timespec="seconds")


def _finite_or_none(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and abs(f) != float("inf") else None


def _jsonable(obj: Any) -> Any:
    """Make analysis output strict JSON (non-finite floats -> None, numpy -> Python)."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str | int):
        return obj
    if isinstance(obj, float):
        return _finite_or_none(obj)
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        return _jsonable(obj.item())
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    return str(obj)
