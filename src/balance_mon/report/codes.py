"""Codes and units of exported measures (FHIR and CSV).

LOINC codes are used only where a LOINC term for exactly that measure was
confirmed (docs/reports.md lists the sources):

- ``89423-8`` "Time to rise from chair, walk 10 feet and back, and return to
  sitting [TUG]", unit s (loinc.org, panel 89422-0 "Timed Up and Go test and
  physical findings of gait panel CDC");
- ``66247-8`` "Sit to stand frequency in 30 seconds", example unit
  ``{#}/(30.s)`` (loinc.org/66247-8, citing the CDC STEADI 30-Second Chair
  Stand).

Every other measure (sway measures, four-stage hold times, repetitions...)
uses the local code system :data:`LOCAL_SYSTEM`, code = the measure's name in
balance_mon (e.g. ``rms_mps2``); protocols use :data:`PROTOCOL_SYSTEM`.
Those measures also carry their local code next to a LOINC one, so every
observation can be matched by the local system alone. No LOINC code is
invented: an unconfirmed one is simply not given.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LOCAL_SYSTEM",
    "LOINC",
    "PROTOCOL_SYSTEM",
    "UCUM",
    "Coding",
    "codings",
    "ucum",
]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
#: Local code system of balance_mon measures (documented in docs/reports.md).
LOCAL_SYSTEM = "https://balance-mon.example/CodeSystem/measures"
#: Local code system of balance_mon protocols.
PROTOCOL_SYSTEM = "https://balance-mon.example/CodeSystem/protocols"
#: Identifier system of pseudonymous patient ids.
PATIENT_ID_SYSTEM = "https://balance-mon.example/NamingSystem/patient-id"
#: Identifier system of de-identified (hashed) patient ids.
DEID_ID_SYSTEM = "https://balance-mon.example/NamingSystem/deidentified-patient-id"


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str


#: (protocol, metric) -> confirmed LOINC coding.
_LOINC: dict[tuple[str, str], Coding] = {
    ("tug", "tug_s"): Coding(
        LOINC,
        "89423-8",
        "Time to rise from chair, walk 10 feet and back, and return to sitting [TUG]",
    ),
    ("chair_stand_30s", "stands"): Coding(LOINC, "66247-8", "Sit to stand frequency in 30 seconds"),
}

#: LOINC's example unit per code (UCUM).
_LOINC_UNITS = {"89423-8": ("s", "s"), "66247-8": ("{#}/(30.s)", "stands in 30 s")}


def codings(protocol: str, metric: str, label: str) -> list[Coding]:
    """LOINC coding when confirmed, then the local coding (always)."""
    out = []
    if (protocol, metric) in _LOINC:
        out.append(_LOINC[(protocol, metric)])
    out.append(Coding(LOCAL_SYSTEM, metric, label))
    return out


def ucum(protocol: str, metric: str, unit: str) -> tuple[str, str]:
    """(UCUM code, human unit) of a stored value."""
    loinc = _LOINC.get((protocol, metric))
    if loinc is not None:
        return _LOINC_UNITS[loinc.code]
    if unit.startswith("{") or unit == "1":
        return unit, unit.strip("{}") if unit != "1" else ""
    return unit, unit  # the store's units are written in UCUM already (m/s2, m2/s4, Hz, s)
