"""The committed sample recordings: readable, sane, traceable and reproducible.

Checks against the raw public data need ``shared/`` beside the repository
(``<repo>/../shared``, as CI lays it out); they are skipped without it.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from balance_mon.consts import GRAVITY_MPS2
from balance_mon.io import load_recording
from balance_mon.recording import quality_report

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO_ROOT / "sample_data"
REAL_DIR = SAMPLE_DIR / "real"
SHARED_DIR = REPO_ROOT.parent / "shared"
DATA_DIR = SHARED_DIR / "data"

ALL_CSV = sorted(SAMPLE_DIR.rglob("*.csv"))
REAL_CSV = sorted(REAL_DIR.rglob("*.csv"))

#: Every real recording the data sets hold, by the name the script gives it.
EXPECTED_REAL = {
    "bds/bds_s01_eyes_open_firm.csv",
    "bds/bds_s01_eyes_closed_firm.csv",
    "bds/bds_s01_eyes_open_foam.csv",
    "bds/bds_s01_eyes_closed_foam.csv",
    "bds/bds_s04_eyes_open_firm.csv",
    "bds/bds_s04_eyes_closed_firm.csv",
    "bds/bds_s04_eyes_open_foam.csv",
    "bds/bds_s04_eyes_closed_foam.csv",
    "mobgap/mobgap_ha001_test11_daily_living.csv",
    "mobgap/mobgap_ha001_test5_straight_walk.csv",
    "mobgap/mobgap_ms001_test5_straight_walk.csv",
    "sit2standpy/sit2standpy_sample.csv",
}

needs_shared = pytest.mark.skipif(
    not DATA_DIR.is_dir(), reason=f"raw data sets not found at {DATA_DIR}"
)


def _ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(SAMPLE_DIR).as_posix() for p in paths]


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_sample_data", REPO_ROOT / "scripts" / "make_sample_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_real_recording_is_there():
    assert {p.relative_to(REAL_DIR).as_posix() for p in REAL_CSV} == EXPECTED_REAL


@pytest.mark.parametrize("path", ALL_CSV, ids=_ids(ALL_CSV))
def test_loads_without_fatal_quality_problem(path):
    rec = load_recording(path)
    report = quality_report(rec)
    assert not report.fatal, [p.message for p in report.fatal]
    assert report.valid, report.reasons
    assert rec.duration_s > 10.0


@pytest.mark.parametrize("path", REAL_CSV, ids=_ids(REAL_CSV))
def test_real_recordings_carry_provenance(path):
    meta = load_recording(path).metadata
    for key in ("source", "licence", "licence_file", "changes", "device", "subject", "test"):
        assert meta.get(key), f"{path.name}: metadata {key!r} missing"
    assert (SAMPLE_DIR / meta["licence_file"]).is_file()


@pytest.mark.parametrize("path", REAL_CSV, ids=_ids(REAL_CSV))
def test_axis_mapping_puts_gravity_up(path):
    rec = load_recording(path)
    assert rec.axes is not None
    v = rec.acc_body_mps2()[:, 0]
    assert 0.9 * GRAVITY_MPS2 < float(np.median(v)) < 1.1 * GRAVITY_MPS2


# ---------------------------------------------------------------------------
# Consistency with the raw data
# ---------------------------------------------------------------------------


def _bds_info() -> dict[str, dict[str, str]]:
    with open(DATA_DIR / "bds" / "BDSinfo.txt", encoding="utf-8", newline="") as fh:
        return {row["Trial"]: row for row in csv.DictReader(fh, delimiter="\t")}


BDS_CSV = sorted((REAL_DIR / "bds").glob("*.csv"))


@needs_shared
@pytest.mark.parametrize("path", BDS_CSV, ids=_ids(BDS_CSV))
def test_bds_is_ground_reaction_force_over_mass(path):
    rec = load_recording(path)
    trial = rec.metadata["source_trial"]
    row = _bds_info()[trial]
    mass = float(row["Weight"])
    raw = np.loadtxt(DATA_DIR / "bds" / "trials" / f"{trial}.txt", skiprows=1)
    t, fx, fy, fz = raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3]
    assert rec.metadata["condition"] == f"eyes_{row['Vision'].lower()}_{row['Surface'].lower()}"
    np.testing.assert_array_equal(rec.time_s, t)
    # Values are rounded to 1e-6 m/s^2 and nothing else.
    np.testing.assert_allclose(rec.acc_mps2[:, 0], -fx / mass, rtol=0, atol=5.1e-7)
    np.testing.assert_allclose(rec.acc_mps2[:, 1], -fy / mass, rtol=0, atol=5.1e-7)
    np.testing.assert_allclose(rec.acc_mps2[:, 2], fz / mass, rtol=0, atol=5.1e-7)
    # Mean vertical specific force is Fz/m: 9.80665 x mean(Fz)/(m g), to 1e-6.
    v = rec.acc_body_mps2()[:, 0]
    expected = GRAVITY_MPS2 * fz.mean() / (mass * GRAVITY_MPS2)
    assert v.mean() == pytest.approx(expected, rel=1e-6)
    # ... and near g: the plate and the scale agree within 2 % (1.2 % at worst here).
    assert v.mean() == pytest.approx(GRAVITY_MPS2, rel=0.02)


@needs_shared
def test_bds_sign_makes_acceleration_oppose_cop_excursion():
    """Inverted pendulum: COM acceleration opposes the COP's lead over the COM."""
    from scipy import signal

    rec = load_recording(REAL_DIR / "bds" / "bds_s01_eyes_open_foam.csv")
    raw = np.loadtxt(DATA_DIR / "bds" / "trials" / "BDS00007.txt", skiprows=1)
    sos = signal.butter(2, [0.3, 3.0], btype="bandpass", fs=100.0, output="sos")
    for axis, cop in ((0, raw[:, 7]), (1, raw[:, 8])):
        a = signal.sosfiltfilt(sos, rec.acc_mps2[:, axis])
        c = signal.sosfiltfilt(sos, cop)
        assert np.corrcoef(a, c)[0, 1] < -0.8


MOBGAP_CSV = sorted((REAL_DIR / "mobgap").glob("*.csv"))


@needs_shared
@pytest.mark.parametrize("path", MOBGAP_CSV, ids=_ids(MOBGAP_CSV))
def test_mobgap_is_the_raw_data_in_si_units(path):
    rec = load_recording(path)
    raw_path = DATA_DIR / "mobgap" / rec.metadata["source_file"]
    raw = np.loadtxt(raw_path, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(rec.time_s, raw[:, 0] / 100.0)
    np.testing.assert_allclose(rec.acc_mps2, raw[:, 1:4] * GRAVITY_MPS2, rtol=0, atol=5.1e-7)
    np.testing.assert_array_equal(rec.gyr_dps, raw[:, 4:7])
    cohort, pid = rec.metadata["source_file"].split("/")[:2]
    meta = json.loads((DATA_DIR / "mobgap" / "participant_metadata.json").read_text())
    assert float(rec.metadata["height_m"]) == meta[cohort][pid]["height_m"]
    assert rec.fs_nominal_hz == 100.0


@needs_shared
def test_sit2standpy_is_the_raw_data():
    rec = load_recording(REAL_DIR / "sit2standpy" / "sit2standpy_sample.csv")
    raw = np.loadtxt(DATA_DIR / "sit2standpy" / "sample.csv", delimiter=",")
    np.testing.assert_array_equal(rec.acc_mps2, raw[:, 1:4])
    np.testing.assert_array_equal(rec.time_s, (raw[:, 0] - raw[0, 0]) / 1e6)
    assert float(rec.metadata["start_unix_s"]) == raw[0, 0] / 1e6
    assert rec.fs_nominal_hz is None  # the rate is not documented, only estimated
    assert rec.rate.fs_hz == pytest.approx(1e6 / 7812, rel=1e-9)
    assert not rec.rate.gaps


# ---------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------


@needs_shared
def test_regenerating_reproduces_the_committed_files(tmp_path):
    written = _script().make_real(tmp_path, SHARED_DIR)
    fresh = {p.relative_to(tmp_path).as_posix() for p in written}
    committed = {
        p.relative_to(SAMPLE_DIR).as_posix()
        for p in [*REAL_DIR.rglob("*"), *(SAMPLE_DIR / "LICENSES").rglob("*")]
        if p.is_file()
    }
    assert fresh == committed
    for rel in sorted(fresh):
        assert (tmp_path / rel).read_bytes() == (SAMPLE_DIR / rel).read_bytes(), rel
