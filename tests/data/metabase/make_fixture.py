"""Write the MetaBase fixture pair of tests/test_metabase.py (run once; output committed).

The layout copies MetaBase's writer, mbientlab/MetaWear-Android-MetaBase-App
``DataHandler.java`` (``"%d,%s,%.3f,%.3f,%.3f,%.3f%n"``: epoch ms, local time
``YYYY-MM-DDTHH:MM:SS.mmm``, elapsed s, three values with three decimals; header
``epoch (ms),time (<UTC offset>),elapsed (s),x-axis (g),...``) and its file
naming in ``StreamMonitorFragment.java``
(``<session>_<device>_<YYYY-MM-DDTHH.MM.SS.mmm>_<MAC>_<Sensor>_<%.3f>Hz_<firmware>.csv``),
as seen in published exports such as
``A-bench-heavy_MetaWear_2019-01-14T14.22.49.165_C42732BE255C_Accelerometer_12.500Hz_1.4.4.csv``
whose first row is ``1547473786995,2019-01-14T14:49:46.995,0.000,-0.290,0.887,-0.102``.

Contents (what the tests rely on):

- Accelerometer, 12.5 Hz (80 ms), 40 samples from E0 = 2019-01-18T19:17:09.453Z.
  Sample k is due at E0 + 80 k ms; stamps carry a few ms of jitter except
  samples 9 to 15, and samples 10-12 and 13-15 are two packets of three, each
  stamped with its last sample's time (as MetaWear's packed streaming does).
- Gyroscope, 25 Hz (40 ms), 75 samples from E0 + 50 ms, no jitter; samples 20
  and 21 form one packet stamped at sample 21's time. Values are linear in
  the sample index: x = 2 k, y = 30 - 1.5 k, z = 0.125 deg/s.
- So the merged recording keeps accelerometer samples 1 to 37 (0, 38 and 39
  fall outside the gyroscope's span) and, at a time t ms after E0, the
  gyroscope reads x = (t - 50) / 20 deg/s.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
PREFIX = "balance-demo_MetaWear_2019-01-18T14.17.09.453_E4FB7B2E5A20"
E0 = int(datetime(2019, 1, 18, 19, 17, 9, 453000, tzinfo=UTC).timestamp() * 1000)
TZ = timedelta(hours=-5)
JITTER = [0, 1, -1, 2, 0, -2, 1, 0, -1]


def _local(epoch_ms: int) -> str:
    t = datetime.fromtimestamp(epoch_ms / 1000, UTC) + TZ
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def _write(name: str, unit: str, stamps: list[int], rows: list[tuple[float, float, float]]):
    lines = [
        f"epoch (ms),time (-05:00),elapsed (s),x-axis ({unit}),y-axis ({unit}),z-axis ({unit})"
    ]
    for e, (x, y, z) in zip(stamps, rows, strict=True):
        lines.append(f"{e},{_local(e)},{(e - stamps[0]) / 1000:.3f},{x:.3f},{y:.3f},{z:.3f}")
    (HERE / name).write_bytes(("\n".join(lines) + "\n").encode())


def main() -> None:
    acc_stamps = []
    for k in range(40):
        due = k
        if 10 <= k <= 12:
            due = 12
        elif 13 <= k <= 15:
            due = 15
        jitter = 0 if 9 <= k <= 16 else JITTER[k % len(JITTER)]
        acc_stamps.append(E0 + 80 * due + jitter)
    acc_rows = []
    for k in range(40):
        t = 0.08 * k
        acc_rows.append(
            (
                -0.290 + 0.010 * math.sin(2 * math.pi * 0.5 * t),
                0.952 + 0.004 * math.cos(2 * math.pi * 0.5 * t),
                -0.102 + 0.008 * math.sin(2 * math.pi * 1.0 * t),
            )
        )
    _write(f"{PREFIX}_Accelerometer_12.500Hz_1.4.5.csv", "g", acc_stamps, acc_rows)

    gyr_stamps = [E0 + 50 + 40 * (21 if k == 20 else k) for k in range(75)]
    gyr_rows = [(2.0 * k, 30.0 - 1.5 * k, 0.125) for k in range(75)]
    _write(f"{PREFIX}_Gyroscope_25.000Hz_1.4.5.csv", "deg/s", gyr_stamps, gyr_rows)


if __name__ == "__main__":
    main()
