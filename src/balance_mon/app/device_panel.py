"""The sensor panel: scan, connect, battery, signal quality, packet loss, reconnection."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .theme import STATE_STYLE
from .worker import DeviceStatus

__all__ = ["DevicePanel", "status_line"]

_QUALITY_TEXT = {
    "good": "▮▮▮ good",
    "fair": "▮▮▯ fair",
    "poor": "▮▯▯ poor",
    "none": "▯▯▯ no data",
}


def status_line(st: DeviceStatus | None) -> str:
    """One line about a sensor for the header bar."""
    if st is None:
        return "○ No sensor connected"
    sym, _ = STATE_STYLE.get(st.state, ("○", ""))
    parts = [f"{sym} {st.name}", st.state]
    if st.battery:
        parts.append(f"battery {st.battery_text}")
    if st.state == "streaming":
        parts.append(f"signal {st.quality}")
        parts.append(f"loss {100 * st.recent_loss:.1f} %")
    return " · ".join(parts)


class DevicePanel(QWidget):
    """Scan / connect / status of the sensors (the therapist's device page)."""

    scan_requested = Signal()
    connect_requested = Signal(object)  #: FoundDevice
    disconnect_requested = Signal(str)
    drop_requested = Signal(str)  #: simulated sensors: make the link drop

    def __init__(self, *, simulated: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.simulated = simulated
        self.found: list[Any] = []
        self.statuses: dict[str, DeviceStatus] = {}
        self.current_key: str | None = None
        lay = QVBoxLayout(self)
        title = QLabel("Sensor")
        title.setObjectName("h1")
        lay.addWidget(title)
        hint = QLabel(
            "Switch the sensor on and wear it at the lower back (or the chest strap), then "
            "scan and connect. Simulated sensors are listed in demo mode."
            if not simulated
            else "Demo mode: simulated sensors stream recorded sessions through the real "
            "Bluetooth pipeline."
        )
        hint.setWordWrap(True)
        hint.setObjectName("muted")
        lay.addWidget(hint)

        # -- scan -----------------------------------------------------------------------
        box = QGroupBox("Sensors in range")
        bl = QVBoxLayout(box)
        row = QHBoxLayout()
        self.scan_btn = QPushButton("&Scan")
        self.scan_btn.setToolTip("Look for sensors for a few seconds (Alt+S)")
        self.scan_btn.clicked.connect(self._scan)
        self.scan_state = QLabel("")
        row.addWidget(self.scan_btn)
        row.addWidget(self.scan_state, 1)
        bl.addLayout(row)
        self.list = QListWidget()
        self.list.setAccessibleName("Sensors found")
        self.list.itemActivated.connect(lambda _i: self._connect())
        bl.addWidget(self.list)
        row2 = QHBoxLayout()
        self.connect_btn = QPushButton("&Connect")
        self.connect_btn.setObjectName("primary")
        self.connect_btn.clicked.connect(self._connect)
        self.disconnect_btn = QPushButton("&Disconnect")
        self.disconnect_btn.clicked.connect(self._disconnect)
        row2.addWidget(self.connect_btn)
        row2.addWidget(self.disconnect_btn)
        row2.addStretch(1)
        bl.addLayout(row2)
        lay.addWidget(box)

        # -- status ------------------------------------------------------------------------
        sbox = QGroupBox("Connected sensor")
        form = QFormLayout(sbox)
        self.lbl_name = QLabel("–")
        self.lbl_state = QLabel("–")
        self.lbl_state.setObjectName("h2")
        self.lbl_battery = QLabel("–")
        self.lbl_quality = QLabel("–")
        self.lbl_loss = QLabel("–")
        self.lbl_rate = QLabel("–")
        self.lbl_reconnect = QLabel("–")
        self.lbl_message = QLabel("")
        self.lbl_message.setWordWrap(True)
        for label, w in (
            ("Sensor", self.lbl_name),
            ("State", self.lbl_state),
            ("Battery", self.lbl_battery),
            ("Signal quality", self.lbl_quality),
            ("Packet loss", self.lbl_loss),
            ("Data rate", self.lbl_rate),
            ("Reconnections", self.lbl_reconnect),
            ("", self.lbl_message),
        ):
            form.addRow(label, w)
        lay.addWidget(sbox)
        if simulated:
            self.drop_btn = QPushButton("Simulate signal &loss")
            self.drop_btn.setToolTip("Make the simulated sensor's radio link drop for a moment")
            self.drop_btn.clicked.connect(
                lambda: self.current_key and self.drop_requested.emit(self.current_key)
            )
            lay.addWidget(self.drop_btn, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addStretch(1)

    # -- actions ----------------------------------------------------------------------------

    def _scan(self) -> None:
        self.scan_btn.setEnabled(False)
        self.scan_state.setText("Scanning…")
        self.scan_requested.emit()

    def _connect(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.found):
            self.connect_requested.emit(self.found[row])

    def _disconnect(self) -> None:
        if self.current_key:
            self.disconnect_requested.emit(self.current_key)

    # -- updates ----------------------------------------------------------------------------

    def set_found(self, found: list[Any]) -> None:
        self.found = list(found)
        self.list.clear()
        for f in self.found:
            st = self.statuses.get(f.address)
            state = f"   ·   {st.state}" if st is not None and st.state != "stopped" else ""
            item = QListWidgetItem(
                f"{f.name or '(no name)'}   ·   {f.model.label}   ·   {f.rssi} dBm   ·   "
                f"{f.address}{state}"
            )
            self.list.addItem(item)
        if self.found:
            self.list.setCurrentRow(0)
        self.scan_btn.setEnabled(True)
        self.scan_state.setText(
            f"{len(self.found)} sensor(s) found" if self.found else "No sensor found: switch it on"
        )

    def set_status(self, st: DeviceStatus) -> None:
        self.statuses[st.key] = st
        if self.current_key is None or st.key == self.current_key or st.state == "streaming":
            self.current_key = st.key
        if st.key != self.current_key:
            return
        sym, _color = STATE_STYLE.get(st.state, ("○", "#000"))
        self.lbl_name.setText(f"{st.name} ({st.model}{', simulated' if st.simulated else ''})")
        self.lbl_state.setText(f"{sym} {st.state}")
        self.lbl_battery.setText(st.battery_text)
        rssi = f" (RSSI {st.rssi_dbm} dBm at scan)" if st.rssi_dbm is not None else ""
        self.lbl_quality.setText(_QUALITY_TEXT.get(st.quality, st.quality) + rssi)
        self.lbl_loss.setText(
            f"{100 * st.recent_loss:.2f} % (last 5 s) · {st.lost_samples} samples lost in all"
        )
        fs = f" of {st.fs_hz:g} Hz" if st.fs_hz else ""
        self.lbl_rate.setText(f"{st.rate_hz:.0f} Hz{fs}")
        self.lbl_reconnect.setText(
            f"{st.reconnects} (dropped {st.disconnects}×, {st.outage_s:.1f} s without data)"
        )
        self.lbl_message.setText(st.message)
