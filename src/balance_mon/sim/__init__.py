"""Simulated recordings with exact ground truth, for testing and validating analyses.

Every scenario is generated as a trajectory of the sensor's position and
orientation on a fine time grid (about 1 kHz), from which the ideal IMU
signals follow exactly (specific force ``R^T (a + g z)`` and body-frame
angular rate); a sensor model then adds filtering, bias, noise, saturation,
quantization, timing jitter and packet loss. Each ``simulate_*`` function
returns a :class:`SimResult` whose ``recording`` is a normal
:class:`~balance_mon.recording.Recording` and whose ``truth`` is a
JSON-serialisable dict of what really happened. Same seed, same data, bit for
bit. See docs/simulator.md for the models and their sources.

Example::

    from balance_mon.sim import SensorSpec, simulate_stance
    res = simulate_stance("tandem", eyes="closed", duration_s=30,
                          sensor=SensorSpec(placement="lower_back", fs_hz=100), seed=1)
    res.write("tandem_ec.csv")   # plus tandem_ec.truth.json
"""

from ._body import Subject
from ._bone import (
    IMPACT_ACTIVITIES,
    LIFT_STYLES,
    SPINE_STYLES,
    simulate_bends,
    simulate_impacts,
    simulate_lifts,
)
from ._exercise import EXERCISES, simulate_exercise_set, simulate_home_session
from ._history import HISTORY_TESTS, HistorySession, SimHistory, simulate_history
from ._result import SIM_VERSION, SimResult
from ._scenarios import (
    FOUR_STAGE,
    LOSS_DIRECTIONS,
    STANCES,
    simulate_chair_stand,
    simulate_ctsib,
    simulate_four_stage,
    simulate_romberg,
    simulate_sit_to_stand,
    simulate_stance,
    simulate_tug,
)
from ._sensor import DEFAULT_AXES, SIM_PLACEMENTS, SensorSpec

__all__ = [
    "DEFAULT_AXES",
    "EXERCISES",
    "FOUR_STAGE",
    "HISTORY_TESTS",
    "IMPACT_ACTIVITIES",
    "LIFT_STYLES",
    "LOSS_DIRECTIONS",
    "SIM_PLACEMENTS",
    "SIM_VERSION",
    "SPINE_STYLES",
    "STANCES",
    "HistorySession",
    "SensorSpec",
    "SimHistory",
    "SimResult",
    "Subject",
    "simulate_bends",
    "simulate_chair_stand",
    "simulate_ctsib",
    "simulate_exercise_set",
    "simulate_four_stage",
    "simulate_history",
    "simulate_home_session",
    "simulate_impacts",
    "simulate_lifts",
    "simulate_romberg",
    "simulate_sit_to_stand",
    "simulate_stance",
    "simulate_tug",
]
