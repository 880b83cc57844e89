"""Physical constants and unit conversions, defined once for the whole package.

Only device decoders and file readers deal in g or mG; everything past them is SI
(m/s^2 for acceleration, deg/s for angular rate as in the recording format).
"""

from typing import Final

#: Standard gravity (CGPM 1901, ISO 80000-3), m/s^2. Used for every g <-> m/s^2 conversion.
GRAVITY_MPS2: Final[float] = 9.80665

#: One milli-g in m/s^2.
MG_TO_MPS2: Final[float] = GRAVITY_MPS2 / 1000.0

#: Sensor placements known to the recording format (interfaces.md section 1).
PLACEMENTS: Final[tuple[str, ...]] = (
    "lower_back",
    "sternum",
    "wrist",
    "thigh",
    "shank",
    "other",
)

#: Body axes used in the ``axes`` metadata: vertical-up, medio-lateral, antero-posterior.
BODY_AXES: Final[tuple[str, ...]] = ("v", "ml", "ap")

#: Sensor axis names, in column order.
SENSOR_AXES: Final[tuple[str, ...]] = ("x", "y", "z")
