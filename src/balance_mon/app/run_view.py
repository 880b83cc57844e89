"""The therapist's test screen: choose a protocol, run it step by step with the live signal."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .live_view import LivePlots
from .plans import RunStep

__all__ = ["RunView"]

_KIND_TEXT = {
    "setup": "Set-up",
    "position": "Get into position",
    "countdown": "Get ready",
    "perform": "Test running",
    "rest": "Rest",
}


class RunView(QWidget):
    """Protocol chooser, step display (title, instruction, timer, count), live plots."""

    start_requested = Signal(str)  #: protocol name
    next_requested = Signal()
    fail_requested = Signal()
    skip_requested = Signal()
    stop_requested = Signal()

    def __init__(self, protocols: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.protocols = protocols
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        title = QLabel("Test")
        title.setObjectName("h1")
        top.addWidget(title)
        lbl = QLabel("&Protocol:")
        self.combo = QComboBox()
        lbl.setBuddy(self.combo)
        for name, p in protocols.items():
            self.combo.addItem(p.title, name)
        self.combo.currentIndexChanged.connect(self._describe)
        self.start_btn = QPushButton("Start test (F5)")
        self.start_btn.setObjectName("primary")
        self.start_btn.clicked.connect(self._start)
        top.addStretch(1)
        top.addWidget(lbl)
        top.addWidget(self.combo, 2)
        top.addWidget(self.start_btn)
        lay.addLayout(top)
        self.description = QLabel("")
        self.description.setWordWrap(True)
        self.description.setObjectName("muted")
        lay.addWidget(self.description)
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setAccessibleName("Message")
        self.banner.hide()
        lay.addWidget(self.banner)

        mid = QHBoxLayout()
        step_frame = QFrame()
        step_frame.setFrameShape(QFrame.Shape.StyledPanel)
        g = QGridLayout(step_frame)
        self.kind_label = QLabel("Choose a protocol and press Start (F5).")
        self.kind_label.setObjectName("h2")
        self.step_title = QLabel("")
        self.step_title.setObjectName("h1")
        self.instruction = QLabel("")
        self.instruction.setWordWrap(True)
        self.instruction.setAccessibleName("Instruction")
        self.instruction.setObjectName("h2")
        self.timer_label = QLabel("")
        self.timer_label.setObjectName("huge")
        self.timer_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.timer_label.setAccessibleName("Time")
        self.count_label = QLabel("")
        self.count_label.setObjectName("huge")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.count_label.setAccessibleName("Count")
        self.count_caption = QLabel("")
        self.count_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        g.addWidget(self.kind_label, 0, 0, 1, 2)
        g.addWidget(self.step_title, 1, 0, 1, 2)
        g.addWidget(self.instruction, 2, 0, 1, 2)
        g.addWidget(self.timer_label, 3, 0)
        g.addWidget(self.count_label, 3, 1)
        g.addWidget(self.count_caption, 4, 1)
        g.setRowStretch(2, 1)
        mid.addWidget(step_frame, 3)
        self.steps_list = QListWidget()
        self.steps_list.setAccessibleName("Steps of the test")
        self.steps_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.steps_list.setMaximumWidth(320)
        mid.addWidget(self.steps_list, 1)
        lay.addLayout(mid, 2)

        btns = QHBoxLayout()
        self.next_btn = QPushButton("&Next (Enter)")
        self.next_btn.clicked.connect(self.next_requested)
        self.fail_btn = QPushButton("Mark loss of &balance (B)")
        self.fail_btn.clicked.connect(self.fail_requested)
        self.skip_btn = QPushButton("S&kip step")
        self.skip_btn.clicked.connect(self.skip_requested)
        self.stop_btn = QPushButton("Stop test (Esc)")
        self.stop_btn.clicked.connect(self.stop_requested)
        for b in (self.next_btn, self.fail_btn, self.skip_btn, self.stop_btn):
            btns.addWidget(b)
        btns.addStretch(1)
        lay.addLayout(btns)
        self.plots = LivePlots(compact=True)
        self.plots.setMinimumHeight(200)
        lay.addWidget(self.plots, 2)

        for seq, slot in (
            ("F5", self._start),
            ("Return", self.next_requested.emit),
            ("Enter", self.next_requested.emit),
            ("B", self.fail_requested.emit),
            ("Escape", self.stop_requested.emit),
        ):
            sc = QShortcut(QKeySequence(seq), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)
        self.set_running(False)
        self._describe()

    # -- chooser --------------------------------------------------------------------------------

    def _describe(self) -> None:
        name = self.combo.currentData()
        p = self.protocols.get(name)
        if p is not None:
            self.description.setText(p.description)

    def _start(self) -> None:
        if self.start_btn.isEnabled():
            self.start_requested.emit(self.combo.currentData())

    def select(self, name: str) -> None:
        i = self.combo.findData(name)
        if i >= 0:
            self.combo.setCurrentIndex(i)

    def set_running(self, running: bool) -> None:
        self.start_btn.setEnabled(not running)
        self.combo.setEnabled(not running)
        for b in (self.next_btn, self.fail_btn, self.skip_btn, self.stop_btn):
            b.setEnabled(running)

    # -- run display ----------------------------------------------------------------------------

    def show_plan(self, steps: list[RunStep]) -> None:
        self.steps_list.clear()
        for s in steps:
            if s.kind in ("countdown",):
                continue
            label = f"{s.title}: {_KIND_TEXT.get(s.kind, s.kind).lower()}"
            if s.attempt > 1:
                label += f" (attempt {s.attempt})"
            item = QListWidgetItem("○ " + label)
            item.setData(Qt.ItemDataRole.UserRole, s.key)
            self.steps_list.addItem(item)

    def show_step(self, step: RunStep) -> None:
        self.kind_label.setText(_KIND_TEXT.get(step.kind, step.kind))
        self.step_title.setText(step.title)
        self.instruction.setText(step.instruction)
        self.timer_label.setText("")
        if step.kind == "perform" and step.count == "stands":
            self.count_label.setText("0")
            self.count_caption.setText("stands")
        else:
            self.count_label.setText("")
            self.count_caption.setText("")
        hint = {
            "setup": "Press Enter when ready.",
            "position": "Starts when the person is steady, or press Enter.",
        }.get(step.kind)
        if hint:
            self.instruction.setText(f"{step.instruction}\n\n{hint}")
        for i in range(self.steps_list.count()):
            item = self.steps_list.item(i)
            key = item.data(Qt.ItemDataRole.UserRole)
            text = item.text()[2:]
            if key == step.key:
                item.setText("▶ " + text)
                self.steps_list.setCurrentRow(i)
            elif item.text().startswith("▶"):
                item.setText("✓ " + text)

    def show_progress(self, info: dict[str, Any]) -> None:
        step: RunStep = info["step"]
        rem = info.get("remaining_s")
        if step.kind in ("countdown",) and rem is not None:
            self.timer_label.setText(f"{max(int(rem + 0.999), 0)}")
        elif rem is not None:
            self.timer_label.setText(f"{rem:4.1f} s")
        elif step.kind in ("perform", "position", "setup"):
            self.timer_label.setText(f"{info['elapsed_s']:4.1f} s")
        if "count" in info:
            self.count_label.setText(str(info["count"]))
            tempo = info.get("tempo_s")
            unit = "stands" if step.count == "stands" else "repetitions"
            self.count_caption.setText(unit + ("" if tempo is None else f" · last {tempo:.1f} s"))

    def show_message(self, level: str, text: str) -> None:
        self.banner.setObjectName("banner_ok" if level in ("ok", "info") else "banner")
        self.banner.setStyleSheet("")  # re-polish with the new object name
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        prefix = {"warn": "⚠ ", "risk": "⚠ ", "ok": "✓ ", "info": "ℹ "}.get(level, "")
        self.banner.setText(prefix + text)
        self.banner.show()

    def clear_message(self) -> None:
        self.banner.hide()
        self.banner.setText("")

    def finished(self) -> None:
        self.set_running(False)
        self.kind_label.setText("Finished")
        self.timer_label.setText("")
