"""SimResult and the shared machinery that turns a timeline into one."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SimulationError
from ..io import save_recording
from ..recording import AxisMap, Recording
from ._body import Body, Subject
from ._core import rotation_angle_deg
from ._imu import fine_factor, ideal_imu, sensor_pose
from ._sensor import SensorSpec, measure
from ._timeline import Timeline

__all__ = ["SIM_VERSION", "SimResult"]

#: Version of the simulator's models; written into every truth file. Bump it
#: whenever the same seed and parameters would give different data.
SIM_VERSION = "1.0.0"

TIME_AXIS_NOTE = (
    "times in seconds on the recording's time axis: true sample instants, 0 = first "
    "sample (timestamp jitter, if simulated, is not included in event times)"
)


@dataclass(frozen=True, eq=False)
class SimResult:
    """One simulated recording and its ground truth.

    Attributes
    ----------
    recording : the :class:`~balance_mon.recording.Recording` (placement, axes
        and ``test``/``condition``/``subject`` metadata set).
    truth : JSON-serialisable dict: simulator version, seed, every parameter,
        events/phases/reps with times in seconds on the recording's axis,
        counts, conditions and the gaps left by dropped packets.
    signals : noise-free arrays at every nominal sample (before dropouts), for
        validation: ``time_s``, ``acc_mps2`` and ``gyr_dps`` (band-limited
        ideal IMU, sensor frame), ``position_m`` (sensor, world frame, z up),
        ``orientation`` ((N, 3, 3) sensor -> world), ``pelvis_position_m``
        (hip-joint centre, world), ``kept`` (bool mask of the samples that
        reached the recording).
    """

    recording: Recording
    truth: dict[str, Any]
    signals: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)

    def truth_json(self) -> str:
        return json.dumps(self.truth, indent=2, allow_nan=False)

    def write(self, path: str | Path) -> tuple[Path, Path]:
        """Write the recording (``.bmr`` binary, otherwise CSV v1) and ``<stem>.truth.json``.

        Returns the two paths.
        """
        path = Path(path)
        save_recording(self.recording, path)
        truth_path = path.with_name(path.stem + ".truth.json")
        tmp = truth_path.with_name(truth_path.name + ".part")
        tmp.write_text(self.truth_json() + "\n", encoding="utf-8")
        tmp.replace(truth_path)
        return path, truth_path

    def __repr__(self) -> str:
        return (
            f"SimResult(scenario={self.truth.get('scenario')!r}, seed={self.truth.get('seed')}, "
            f"recording={self.recording!r})"
        )


def jsonable(obj: Any) -> Any:
    """Plain Python types (floats rounded to 1e-9 s-ish precision are left exact)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        v = float(obj)
        if not math.isfinite(v):
            raise SimulationError(f"non-finite value {v} in the ground truth")
        return v
    return obj


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SimulationError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


@dataclass
class Context:
    """Everything a scenario needs: resolved sensor, subject, body and random streams."""

    scenario: str
    seed: int
    sensor: SensorSpec
    subject: Subject
    body: Body
    rng_motion: np.random.Generator
    rng_sway: np.random.Generator
    rng_sensor: np.random.Generator
    k: int
    fs_fine: float

    @classmethod
    def make(
        cls,
        scenario: str,
        seed: int,
        sensor: SensorSpec | None,
        subject: Subject | None,
        default_placement: str,
    ) -> Context:
        seed = check_seed(seed)
        if sensor is not None and not isinstance(sensor, SensorSpec):
            raise SimulationError("sensor must be a balance_mon.sim.SensorSpec")
        sensor = (sensor or SensorSpec()).with_placement(default_placement)
        subject = subject or Subject()
        if not isinstance(subject, Subject):
            raise SimulationError("subject must be a balance_mon.sim.Subject")
        # Independent streams: changing the sensor never changes the movement.
        motion, sway, meas = np.random.default_rng(seed).spawn(3)
        k = fine_factor(sensor.fs_hz)
        fs_true = sensor.fs_hz * (1.0 + sensor.drift_ppm * 1e-6)
        return cls(
            scenario=scenario,
            seed=seed,
            sensor=sensor,
            subject=subject,
            body=Body.of(subject),
            rng_motion=motion,
            rng_sway=sway,
            rng_sensor=meas,
            k=k,
            fs_fine=k * fs_true,
        )

    def timeline(self, state: dict[str, float]) -> Timeline:
        return Timeline(body=self.body, fs=self.fs_fine, state=state)

    def vary(self, cv: float, lo: float = 0.6, hi: float = 1.4) -> float:
        """A multiplicative factor around 1 with coefficient of variation ``cv``."""
        return float(np.clip(1.0 + cv * self.rng_motion.standard_normal(), lo, hi))


TRANSITIONS = ("sit_to_stand", "stand_to_sit")


def finish(
    ctx: Context,
    tl: Timeline,
    *,
    test: str,
    condition: str,
    parameters: dict[str, Any],
    counts: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
) -> SimResult:
    """Build the timeline, simulate the sensor, assemble recording and truth."""
    spec = ctx.sensor
    kin = tl.build(ctx.rng_sway)
    mount = spec.mount()
    imu = ideal_imu(kin, ctx.body, spec.placement or "lower_back", spec.side, mount, ctx.k)
    meas = measure(imu.t, imu.acc, imu.gyr, spec, ctx.rng_sensor)
    meta = {
        "test": test,
        "condition": condition,
        "subject": ctx.subject.subject_id,
        "device": spec.device,
        "sim_scenario": ctx.scenario,
        "sim_seed": str(ctx.seed),
        "sim_version": SIM_VERSION,
    }
    meta.update(metadata or {})
    rec = Recording(
        time_s=meas.time_s,
        acc_mps2=meas.acc_mps2,
        gyr_dps=meas.gyr_dps,
        fs_nominal_hz=spec.fs_hz,
        placement=spec.placement or "lower_back",
        axes=AxisMap.parse(spec.axes_text),
        metadata=meta,
    )
    duration = kin.duration_s

    def sensor_window(t0: float, t1: float) -> dict[str, float]:
        i0, i1 = np.searchsorted(kin.t, [t0, t1])
        i0 = max(int(i0) - 1, 1)
        i1 = min(int(i1) + 1, kin.t.size - 1)
        pos, rot = sensor_pose(
            kin.ch, slice(i0 - 1, i1 + 1), ctx.body, spec.placement or "", spec.side
        )
        vz = (pos[2:, 2] - pos[:-2, 2]) * (kin.fs / 2.0)
        pos, rot = pos[1:-1], rot[1:-1]
        j = int(np.argmax(np.abs(vz)))
        disp = np.linalg.norm(pos - pos[0], axis=1)
        return {
            "sensor_vertical_change_m": float(pos[-1, 2] - pos[0, 2]),
            "sensor_vertical_range_m": float(pos[:, 2].max() - pos[:, 2].min()),
            "sensor_max_displacement_m": float(disp.max()),
            "sensor_max_rotation_deg": float(rotation_angle_deg(rot[0], rot).max()),
            "sensor_peak_vertical_velocity_mps": float(vz[j]),
            "sensor_peak_vertical_velocity_s": float(kin.t[i0 + j]),
        }

    reps = []
    for i, r in enumerate(tl.reps):
        r = {"index": i + 1, **r}
        r.setdefault("duration_s", r["end_s"] - r["start_s"])
        r.update(sensor_window(r["start_s"], r["end_s"]))
        reps.append(r)
    phases = []
    for p in sorted(tl.phases, key=lambda p: (p["start_s"], p["end_s"])):
        p = dict(p)
        if p["name"] in TRANSITIONS:
            p.update(sensor_window(p["start_s"], p["end_s"]))
        phases.append(p)
    events = sorted(tl.events, key=lambda e: e["time_s"])
    for e in events:
        if not (0.0 <= e["time_s"] <= duration):
            raise AssertionError(f"simulator bug: event {e} outside the recording")
    sensor_truth = spec.as_dict()
    sensor_truth.update(
        bias_mps2_used=list(meas.bias_mps2),
        gyro_bias_dps_used=None if meas.gyro_bias_dps is None else list(meas.gyro_bias_dps),
        true_rate_hz=spec.fs_hz * (1.0 + spec.drift_ppm * 1e-6),
        internal_rate_hz=kin.fs,
        oversampling=ctx.k,
    )
    truth: dict[str, Any] = {
        "simulator": {"name": "balance_mon.sim", "version": SIM_VERSION},
        "scenario": ctx.scenario,
        "seed": ctx.seed,
        "test": test,
        "condition": condition,
        "time_axis": TIME_AXIS_NOTE,
        "parameters": parameters,
        "subject": ctx.subject.as_dict(),
        "sensor": sensor_truth,
        "duration_s": duration,
        "n_samples": rec.n_samples,
        "n_samples_nominal": int(imu.t.size),
        "events": events,
        "phases": phases,
        "reps": reps,
        "counts": counts or {},
        "conditions": conditions or [],
        "gaps": meas.gaps,
        "dropped_samples": int((~meas.kept).sum()),
    }
    truth.update(extra or {})
    signals = {
        "time_s": imu.t,
        "acc_mps2": imu.acc,
        "gyr_dps": imu.gyr,
        "position_m": imu.pos,
        "orientation": imu.rot,
        "pelvis_position_m": imu.pelvis,
        "kept": meas.kept,
    }
    for v in signals.values():
        v.flags.writeable = False
    return SimResult(recording=rec, truth=jsonable(truth), signals=signals)
