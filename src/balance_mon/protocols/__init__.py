"""Clinical test protocols as data, the runner that walks them, and their scoring.

- :mod:`.library`: the tests (``steadi_four_stage``, ``chair_stand_30s``,
  ``tug``, ``romberg``, ``ctsib_m``, ``single_leg_stance``) as
  :class:`~.model.Protocol` data; :func:`get_protocol`.
- :mod:`.norms`: published norms and cut-offs, each with its source.
- :mod:`.runner`: :class:`ProtocolRunner`, a pure state machine fed time and
  events, for the GUI and the command line.
- :mod:`.scoring`: :func:`score_session` (recorded trials ->
  :class:`ProtocolResult`), :func:`evaluate_trial`, :func:`compare_norms`.
- :mod:`.home`: home exercise programmes in TOML (:func:`load_programme`,
  :func:`save_programme`).

See docs/protocols.md.
"""

from .home import (
    EXERCISE_CATALOGUE,
    HomeProgramme,
    PlannedExercise,
    ProgrammeError,
    Progression,
    dump_programme,
    load_programme,
    loads_programme,
    save_programme,
)
from .library import PROTOCOLS, get_protocol, protocol_names
from .model import Condition, Patient, Protocol, ProtocolError, Step, ValidityRule
from .norms import Source
from .results import ConditionResult, NormComparison, ProtocolResult, Reason, TrialResult
from .runner import Action, ProtocolRunner, RunnerState
from .scoring import (
    TrialEvent,
    TrialObservation,
    compare_norms,
    evaluate_trial,
    score_session,
    summarise,
)

__all__ = [
    "EXERCISE_CATALOGUE",
    "PROTOCOLS",
    "Action",
    "Condition",
    "ConditionResult",
    "HomeProgramme",
    "NormComparison",
    "Patient",
    "PlannedExercise",
    "ProgrammeError",
    "Progression",
    "Protocol",
    "ProtocolError",
    "ProtocolResult",
    "ProtocolRunner",
    "Reason",
    "RunnerState",
    "Source",
    "Step",
    "TrialEvent",
    "TrialObservation",
    "TrialResult",
    "ValidityRule",
    "compare_norms",
    "dump_programme",
    "evaluate_trial",
    "get_protocol",
    "load_programme",
    "loads_programme",
    "protocol_names",
    "save_programme",
    "score_session",
    "summarise",
]
