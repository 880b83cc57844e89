"""Regenerate the sample recordings in ``sample_data/`` as CSV v1 files.

Two parts, each regenerated on its own:

- **real** (:func:`make_real`): every recording of the public data sets in
  ``shared/data`` (BDS force-plate balance trials, mobgap lower-back IMU,
  sit2standpy lumbar accelerometer), converted to CSV v1 under
  ``<out>/real/`` with their provenance in the metadata, and the data sets'
  licence files copied to ``<out>/LICENSES/``. Deterministic: running it again
  reproduces the committed files byte for byte (``tests/test_sample_data.py``
  checks this).
- **simulated** (:func:`make_simulated`): simulated sessions from
  ``balance_mon.sim`` (not written yet; see that function).

What is derived from each data set, and how the axis conventions were
verified, is documented in ``sample_data/README.md``.

Usage::

    python scripts/make_sample_data.py [--shared PATH] [--out DIR] [--only real|simulated]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]

try:
    import balance_mon  # noqa: F401
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(REPO_ROOT / "src"))

from balance_mon.consts import GRAVITY_MPS2  # noqa: E402
from balance_mon.io.csv_v1 import write_csv_v1  # noqa: E402
from balance_mon.recording import AxisMap, Recording  # noqa: E402

#: Derived accelerations (force / mass, g -> m/s^2) are rounded to this many
#: decimals of m/s^2 (1e-6 m/s^2, far below any accelerometer's resolution) to
#: keep the files small; original values in m/s^2 and deg/s are kept as they are.
ACC_DECIMALS = 6

#: Licence files copied into ``<out>/LICENSES/``: (data set folder, file in it, copy's name).
LICENCE_FILES = (
    ("bds", "LICENSE-CC-BY-4.0.txt", "bds-LICENSE-CC-BY-4.0.txt"),
    ("mobgap", "LICENSE-Apache-2.0.txt", "mobgap-LICENSE-Apache-2.0.txt"),
    ("sit2standpy", "LICENSE-MIT.md", "sit2standpy-LICENSE-MIT.md"),
)


def _round_acc(acc: np.ndarray) -> np.ndarray:
    # "+ 0.0" turns -0.0 into 0.0 so that the text never shows "-0.0".
    return np.round(acc, ACC_DECIMALS) + 0.0


def _write(rec: Recording, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv_v1(rec, path)
    return path


# ---------------------------------------------------------------------------
# BDS: force-plate balance trials (Santos & Duarte 2016), CC BY 4.0
# ---------------------------------------------------------------------------

BDS_SOURCE = (
    "Santos DA, Duarte M (2016) A public data set of human balance evaluations, "
    "PeerJ 4:e2648, doi:10.7717/peerj.2648; data doi:10.13026/C2WW2W (PhysioNet hbedb)"
)
BDS_DERIVED = (
    "acc_x = -Fx/m, acc_y = -Fy/m, acc_z = Fz/m (ground reaction force on the body over "
    "body mass m = BDSinfo Weight; the file's forces are those the subject applies to "
    "the plate), rounded to 1e-6 m/s^2; time_s = Time[s] as recorded"
)
BDS_AXES_NOTE = (
    "z = up (sign from Fz); x = plate x = AP and y = plate y = ML (from the data: COP sway "
    "larger along x, mean COP y near 0); whether the subject faced plate +x is not "
    "documented: if not, x and y are both negated (x=-ap y=-ml). See sample_data/README.md"
)


def bds_subject_table(info_path: Path) -> dict[str, dict[str, str]]:
    """Rows of ``BDSinfo.txt`` keyed by trial id (``BDS00001``)."""
    with open(info_path, encoding="utf-8", newline="") as fh:
        return {row["Trial"]: row for row in csv.DictReader(fh, delimiter="\t")}


def bds_condition(row: dict[str, str]) -> str:
    """``eyes_open_firm`` etc. from the ``Vision`` and ``Surface`` columns."""
    return f"eyes_{row['Vision'].strip().lower()}_{row['Surface'].strip().lower()}"


def load_bds_trial(path: Path) -> dict[str, np.ndarray]:
    """A BDS trial file as columns ``t, Fx, Fy, Fz, Mx, My, Mz, COPx, COPy``."""
    data = np.loadtxt(path, delimiter="\t", skiprows=1, dtype=np.float64, ndmin=2)
    names = ("t", "Fx", "Fy", "Fz", "Mx", "My", "Mz", "COPx", "COPy")
    return {n: data[:, i] for i, n in enumerate(names)}


def bds_recording(trial_path: Path, row: dict[str, str]) -> Recording:
    """One BDS trial as a Recording of the specific force at the centre of mass."""
    cols = load_bds_trial(trial_path)
    mass_kg = float(row["Weight"])
    # The plate reports the force the subject applies to it (AMTI convention,
    # z down); the ground reaction force on the body is its negative. Specific
    # force = GRF / m, written in (plate x, plate y, up).
    acc = np.column_stack([-cols["Fx"] / mass_kg, -cols["Fy"] / mass_kg, cols["Fz"] / mass_kg])
    trial = trial_path.stem
    meta = {
        "device": "AMTI force platform; specific force derived from ground reaction force",
        "subject": f"BDS subject {int(row['Subject'])}",
        "test": "sway",
        "condition": bds_condition(row),
        "task": "quiet standing, 60 s",
        "source": BDS_SOURCE,
        "source_trial": trial,
        "licence": "CC BY 4.0",
        "licence_file": "LICENSES/bds-LICENSE-CC-BY-4.0.txt",
        "changes": BDS_DERIVED,
        "axes_note": BDS_AXES_NOTE,
        "age_years": row["Age"],
        "sex": row["Gender"],
        "height_cm": row["Height"],
        "mass_kg": row["Weight"],
        "falls_12m": row["Falls12m"],
    }
    return Recording(
        time_s=cols["t"],
        acc_mps2=_round_acc(acc),
        fs_nominal_hz=100.0,
        placement="other",
        axes=AxisMap.parse("x=ap y=ml z=v"),
        metadata=meta,
    )


def make_bds(out_dir: Path, bds_dir: Path) -> list[Path]:
    table = bds_subject_table(bds_dir / "BDSinfo.txt")
    written = []
    for trial_path in sorted((bds_dir / "trials").glob("BDS*.txt")):
        row = table[trial_path.stem]
        rec = bds_recording(trial_path, row)
        name = f"bds_s{int(row['Subject']):02d}_{bds_condition(row)}.csv"
        written.append(_write(rec, out_dir / name))
    return written


# ---------------------------------------------------------------------------
# mobgap: lower-back IMU example data (Mobilise-D), Apache-2.0
# ---------------------------------------------------------------------------

MOBGAP_SOURCE = (
    "mobgap (Mobilise-D) example data, example_data/data_csv, https://github.com/mobilise-d/mobgap"
)
MOBGAP_CHANGES = (
    "modified from the original: acc_* (g) x 9.80665 -> m/s^2 rounded to 1e-6; "
    "time_s = samples / 100; gyr_* (deg/s) unchanged; rewritten as balance_mon CSV v1"
)
#: Mobilise-D lab test numbers of the example files (data README).
MOBGAP_TESTS = {
    "Test5": ("walk", "straight_walk", "straight walking at comfortable speed"),
    "Test11": ("daily_living", "daily_living", "simulated daily living"),
}
MOBGAP_COHORTS = {"HA": "healthy adult", "MS": "multiple sclerosis"}


def load_mobgap_csv(path: Path) -> dict[str, np.ndarray]:
    """A mobgap example CSV as columns by name (``samples``, ``acc_x`` ... ``gyr_z``)."""
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    return {name: data[:, i] for i, name in enumerate(header)}


def mobgap_recording(
    path: Path, participant: dict[str, object], cohort: str, pid: str
) -> Recording:
    cols = load_mobgap_csv(path)
    test_no = next((p for p in path.stem.split("_") if p.startswith("Test")), "")
    test, _, task = MOBGAP_TESTS.get(test_no, (test_no.lower(), "", ""))
    acc_g = np.column_stack([cols["acc_x"], cols["acc_y"], cols["acc_z"]])
    gyr = np.column_stack([cols["gyr_x"], cols["gyr_y"], cols["gyr_z"]])
    meta = {
        "device": f"McRoberts MoveMonitor+ ({participant.get('sensor_type_su', 'MM+')})",
        "subject": f"mobgap {cohort}/{pid}",
        "test": test,
        "condition": task,
        "cohort": f"{cohort} ({MOBGAP_COHORTS.get(cohort, 'unknown')})",
        "source": MOBGAP_SOURCE,
        "source_file": f"{cohort}/{pid}/{path.name}",
        "licence": "Apache-2.0",
        "licence_file": "LICENSES/mobgap-LICENSE-Apache-2.0.txt",
        "changes": MOBGAP_CHANGES,
        "axes_note": (
            "Mobilise-D sensor frame per mobgap docs (x up, y right, z forward); "
            "x up and z forward checked in the data; ml positive = right"
        ),
    }
    for key in ("sensor_height_m", "height_m", "weight_kg", "handedness", "walking_aid_used"):
        if key in participant:
            value = participant[key]
            meta[key] = repr(value) if isinstance(value, float) else str(value).lower()
    return Recording(
        time_s=cols["samples"] / 100.0,
        acc_mps2=_round_acc(acc_g * GRAVITY_MPS2),
        gyr_dps=gyr,
        fs_nominal_hz=100.0,
        placement="lower_back",
        axes=AxisMap.parse("x=v y=ml z=ap"),
        metadata=meta,
    )


def make_mobgap(out_dir: Path, mobgap_dir: Path) -> list[Path]:
    participants = json.loads((mobgap_dir / "participant_metadata.json").read_text("utf-8"))
    written = []
    for path in sorted(mobgap_dir.glob("*/*/*.csv")):
        cohort, pid = path.parent.parent.name, path.parent.name
        rec = mobgap_recording(path, participants.get(cohort, {}).get(pid, {}), cohort, pid)
        test_no = next((p for p in path.stem.split("_") if p.startswith("Test")), "test")
        label = MOBGAP_TESTS.get(test_no, ("", test_no.lower(), ""))[1]
        name = f"mobgap_{cohort.lower()}{pid}_{test_no.lower()}_{label}.csv"
        written.append(_write(rec, out_dir / name))
    return written


# ---------------------------------------------------------------------------
# sit2standpy: lumbar accelerometer sample (sit2standpy 1.1.3), MIT
# ---------------------------------------------------------------------------

S2S_SOURCE = "sit2standpy 1.1.3 (PyPI), sit2standpy/data/sample.csv, Pfizer R&D"


def load_sit2standpy(path: Path) -> np.ndarray:
    """``(N, 4)``: timestamp in microseconds since 1970, then x, y, z in m/s^2."""
    return np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)


def sit2standpy_recording(path: Path) -> Recording:
    data = load_sit2standpy(path)
    ts_us = data[:, 0]
    meta = {
        "device": "lumbar accelerometer (model not stated in the sit2standpy package)",
        "subject": "sit2standpy sample",
        "test": "sit-to-stand",
        "condition": "sitting, standing, walking and sit-to-stand transfers (no labels)",
        "source": S2S_SOURCE,
        "source_file": "sample.csv",
        "start_unix_s": repr(float(ts_us[0]) / 1e6),
        "licence": "MIT (Copyright (c) 2019 Pfizer R&D)",
        "licence_file": "LICENSES/sit2standpy-LICENSE-MIT.md",
        "changes": "time_s = (timestamp - first timestamp) / 1e6; acceleration unchanged",
        "axes_note": (
            "x down (rest about -9.8) and z backward (trunk flexion in transfers) seen in "
            "the data; y = right assumes a right-handed sensor frame (no gyroscope to check)"
        ),
        "timing_note": (
            "timestamps on an exact 7812 us grid (128.008 Hz), no jitter or gaps; "
            "nominal rate not documented"
        ),
    }
    return Recording(
        time_s=(ts_us - ts_us[0]) / 1e6,
        acc_mps2=data[:, 1:4],
        placement="lower_back",
        axes=AxisMap.parse("x=-v y=ml z=-ap"),
        metadata=meta,
    )


def make_sit2standpy(out_dir: Path, s2s_dir: Path) -> list[Path]:
    path = s2s_dir / "sample.csv"
    return [_write(sit2standpy_recording(path), out_dir / "sit2standpy_sample.csv")]


# ---------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------


def make_real(out_dir: str | Path, shared_dir: str | Path) -> list[Path]:
    """Convert every real recording of ``shared_dir/data`` into ``out_dir/real/``.

    Also copies the data sets' licence files into ``out_dir/LICENSES/``.
    Returns the paths written (recordings, then licence files).
    """
    out_dir, data_dir = Path(out_dir), Path(shared_dir) / "data"
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir}: no such folder (expected shared/data)")
    real = out_dir / "real"
    written = make_bds(real / "bds", data_dir / "bds")
    written += make_mobgap(real / "mobgap", data_dir / "mobgap")
    written += make_sit2standpy(real / "sit2standpy", data_dir / "sit2standpy")
    licences = out_dir / "LICENSES"
    licences.mkdir(parents=True, exist_ok=True)
    for folder, name, copy_name in LICENCE_FILES:
        written.append(Path(shutil.copyfile(data_dir / folder / name, licences / copy_name)))
    return written


# ---------------------------------------------------------------------------
# Simulated sessions (balance_mon.sim; models in docs/simulator.md)
# ---------------------------------------------------------------------------

#: Decimals kept in simulated files: 0.1 mm/s^2 and 0.001 deg/s, below the
#: resolution of the simulated 16-bit sensor (about 4.8 mm/s^2 at +/-16 g), so
#: rounding changes nothing measurable and keeps the files small.
SIM_ACC_DECIMALS, SIM_GYR_DECIMALS, SIM_TIME_DECIMALS = 4, 3, 6


def _rounded(rec):
    return rec.replace(
        time_s=np.round(rec.time_s, SIM_TIME_DECIMALS),
        acc_mps2=np.round(rec.acc_mps2, SIM_ACC_DECIMALS),
        gyr_dps=None if rec.gyr_dps is None else np.round(rec.gyr_dps, SIM_GYR_DECIMALS),
    )


def _write_sim(res, path: Path) -> list[Path]:
    from balance_mon.sim import SimResult

    path.parent.mkdir(parents=True, exist_ok=True)
    rounded = SimResult(recording=_rounded(res.recording), truth=res.truth)
    return list(rounded.write(path))


def make_simulated(out_dir: str | Path) -> list[Path]:
    """Write simulated sessions for every use case into ``out_dir/simulated/``.

    Each recording comes with ``<stem>.truth.json`` (events, counts, conditions,
    seed and every parameter). Fixed seeds: the output is the same on every run.
    """
    from balance_mon import sim

    root = Path(out_dir) / "simulated"
    if root.exists():
        shutil.rmtree(root)
    clinic, home, hist = root / "clinic", root / "home", root / "history"
    trunk = sim.SensorSpec(placement="lower_back", fs_hz=100.0)
    chest = sim.SensorSpec(placement="sternum", fs_hz=100.0)  # e.g. a Polar H10 strap
    older = sim.Subject(
        subject_id="sim-patient-01", age_years=72, sex="F", height_m=1.62, mass_kg=66.0
    )
    out: list[Path] = []

    # In-clinic tests
    out += _write_sim(
        sim.simulate_four_stage(sensor=trunk, subject=older, seed=11),
        clinic / "four_stage_all_held.csv",
    )
    out += _write_sim(
        sim.simulate_four_stage(
            fail_stance="tandem", fail_at_s=6.5, sensor=trunk, subject=older, seed=12
        ),
        clinic / "four_stage_tandem_lost.csv",
    )
    out += _write_sim(
        sim.simulate_chair_stand(10, partial=0.6, sensor=trunk, subject=older, seed=13),
        clinic / "chair_stand_30s.csv",
    )
    out += _write_sim(sim.simulate_tug(sensor=trunk, subject=older, seed=14), clinic / "tug.csv")
    out += _write_sim(
        sim.simulate_sit_to_stand(sensor=chest, subject=older, seed=15),
        clinic / "sit_to_stand_sternum.csv",
    )
    for res in sim.simulate_romberg(separate=True, sensor=trunk, subject=older, seed=16):
        out += _write_sim(res, clinic / f"romberg_{res.recording.metadata['condition']}.csv")
    for res in sim.simulate_ctsib(separate=True, sensor=trunk, subject=older, seed=17):
        out += _write_sim(res, clinic / f"ctsib_{res.recording.metadata['condition']}.csv")
    for stance in sim.STANCES:
        res = sim.simulate_stance(stance, duration_s=30.0, sensor=trunk, subject=older, seed=18)
        out += _write_sim(res, clinic / f"stance_{stance}.csv")

    # Home exercise: a session of several sets of four exercises, and one set of
    # each exercise at its usual placement
    out += _write_sim(
        sim.simulate_home_session(
            exercises=("squat", "heel_raise", "arm_raise"),
            sets=2,
            reps=10,
            sensor=sim.SensorSpec(placement="lower_back", fs_hz=50.0),
            subject=older,
            seed=21,
        ),
        home / "home_session_lower_back.csv",
    )
    for i, (name, info) in enumerate(sim.EXERCISES.items()):
        spec = sim.SensorSpec(placement=info.placement, fs_hz=50.0)
        res = sim.simulate_exercise_set(name, reps=8, sensor=spec, subject=older, seed=30 + i)
        out += _write_sim(res, home / f"set_{name}_{info.placement}.csv")

    # Twelve weeks of one patient whose balance slowly worsens
    history = sim.simulate_history(weeks=12, subject=older, seed=41)
    hist_sensor = sim.SensorSpec(placement="lower_back", fs_hz=50.0, gyro=False)
    for session in history:
        for test in ("chair_stand", "tug", "stance"):
            res = session.simulate(test, sensor=hist_sensor)
            out += _write_sim(res, hist / f"{session.date.isoformat()}_{test}.csv")
    hist.mkdir(parents=True, exist_ok=True)
    truth = hist / "history.truth.json"
    truth.write_text(json.dumps(history.truth, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    out.append(truth)
    return out


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shared",
        type=Path,
        default=REPO_ROOT.parent / "shared",
        help="the shared/ folder holding data/ (default: ../shared beside the repository)",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "sample_data", help="output folder")
    parser.add_argument("--only", choices=("real", "simulated"), help="regenerate only this part")
    args = parser.parse_args(argv)
    makers = {
        "real": lambda: make_real(args.out, args.shared),
        "simulated": lambda: make_simulated(args.out),
    }
    status = 0
    for part in [args.only] if args.only else list(makers):
        try:
            files = makers[part]()
        except NotImplementedError as exc:
            print(f"{part}: skipped ({exc})", file=sys.stderr)
            status = status or (1 if args.only else 0)
            continue
        except FileNotFoundError as exc:
            print(f"{part}: {exc}", file=sys.stderr)
            status = 2
            continue
        size = sum(f.stat().st_size for f in files)
        print(f"{part}: {len(files)} files, {size / 1e6:.2f} MB in {args.out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
