"""One exception hierarchy for balance_mon.

Every error a user can cause (a bad file, a lost sensor, wrong units) is a
:class:`BalanceMonError` whose message names the problem and what to do about it.
The command line prints that message on one line and exits with status 2;
anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


class BalanceMonError(Exception):
    """Base class of every error balance_mon raises on purpose."""


class RecordingError(BalanceMonError, ValueError):
    """A recording's content is unusable (bad values, time going backwards, too short...)."""


class FileFormatError(RecordingError):
    """A file cannot be read as a recording (wrong layout, columns, encoding, numbers)."""


class UnitsError(RecordingError):
    """Acceleration values are implausible for the declared unit (e.g. g read as m/s^2)."""


class TooShortError(RecordingError):
    """A recording holds too few samples or too little time for the requested use."""


class UnsupportedTestError(BalanceMonError):
    """The requested analysis is unknown or not available in this version."""


class DecodeError(BalanceMonError, ValueError):
    """A device packet is malformed (wrong length, unknown frame type, bad header)."""


class DeviceError(BalanceMonError):
    """A sensor could not be found, connected or configured, or the connection was lost."""


class SimulationError(BalanceMonError, ValueError):
    """Simulator parameters are inconsistent (e.g. more repetitions than fit in the time)."""


class HandshakeError(DeviceError):
    """The sensor answered but refused or failed the configuration (not worth retrying)."""


class ProtocolError(BalanceMonError, ValueError):
    """A protocol, programme or trial list is inconsistent (unknown name, bad value...)."""


class ProgrammeError(ProtocolError):
    """A home programme file is unreadable or its content is invalid."""


class RiskError(BalanceMonError, ValueError):
    """Risk or trend input is unusable (unknown measure, mixed settings, bad values)."""


class StoreError(BalanceMonError):
    """The database cannot be used (missing, damaged, too new) or a request is
    inconsistent with it (unknown patient, duplicate id...)."""
