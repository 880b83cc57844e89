"""Home mode: one big button, large high-contrast text, spoken cues, nothing to configure."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from .plans import RunStep

__all__ = ["HomeView"]


class HomeView(QWidget):
    """Start screen, exercise screen and "well done" summary for the patient."""

    start_requested = Signal()
    done_requested = Signal()  #: "I have finished this set" (Enter / the button)
    finish_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("home")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        outer = QVBoxLayout(self)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack)

        # -- start ----------------------------------------------------------------------
        start = QWidget()
        sl = QVBoxLayout(start)
        sl.setContentsMargins(40, 40, 40, 40)
        self.greeting = QLabel("Hello!")
        self.greeting.setObjectName("title")
        self.greeting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.programme_label = QLabel("")
        self.programme_label.setObjectName("instruction")
        self.programme_label.setWordWrap(True)
        self.programme_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.start_btn = QPushButton("Start today's exercises")
        self.start_btn.setAccessibleName("Start today's exercises")
        self.start_btn.clicked.connect(self.start_requested)
        self.start_btn.setDefault(True)
        self.sensor_label = QLabel("Looking for your sensor…")
        self.sensor_label.setObjectName("sub")
        self.sensor_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sensor_label.setWordWrap(True)
        sl.addStretch(1)
        sl.addWidget(self.greeting)
        sl.addWidget(self.programme_label)
        sl.addSpacing(30)
        sl.addWidget(self.start_btn, 0, Qt.AlignmentFlag.AlignCenter)
        sl.addSpacing(20)
        sl.addWidget(self.sensor_label)
        sl.addStretch(1)
        self.stack.addWidget(start)

        # -- exercise -------------------------------------------------------------------------
        ex = QWidget()
        el = QVBoxLayout(ex)
        el.setContentsMargins(40, 30, 40, 30)
        self.ex_title = QLabel("")
        self.ex_title.setObjectName("title")
        self.ex_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.ex_sub = QLabel("")
        self.ex_sub.setObjectName("sub")
        self.ex_sub.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.ex_instruction = QLabel("")
        self.ex_instruction.setObjectName("instruction")
        self.ex_instruction.setWordWrap(True)
        self.ex_instruction.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.big = QLabel("")
        self.big.setObjectName("count")
        self.big.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.big.setAccessibleName("Count")
        self.big_caption = QLabel("")
        self.big_caption.setObjectName("sub")
        self.big_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message = QLabel("")
        self.message.setObjectName("sub")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.done_btn = QPushButton("I have finished")
        self.done_btn.setObjectName("secondary")
        self.done_btn.clicked.connect(self.done_requested)
        el.addWidget(self.ex_title)
        el.addWidget(self.ex_sub)
        el.addWidget(self.ex_instruction)
        el.addStretch(1)
        el.addWidget(self.big)
        el.addWidget(self.big_caption)
        el.addStretch(1)
        el.addWidget(self.message)
        el.addWidget(self.done_btn, 0, Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(ex)

        # -- well done ------------------------------------------------------------------------
        done = QWidget()
        dl = QVBoxLayout(done)
        dl.setContentsMargins(40, 40, 40, 40)
        self.done_title = QLabel("Well done!")
        self.done_title.setObjectName("title")
        self.done_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.done_summary = QLabel("")
        self.done_summary.setObjectName("instruction")
        self.done_summary.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.done_summary.setWordWrap(True)
        self.done_note = QLabel("")
        self.done_note.setObjectName("sub")
        self.done_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.done_note.setWordWrap(True)
        self.finish_btn = QPushButton("Finish")
        self.finish_btn.clicked.connect(self.finish_requested)
        dl.addStretch(1)
        dl.addWidget(self.done_title)
        dl.addSpacing(20)
        dl.addWidget(self.done_summary)
        dl.addSpacing(20)
        dl.addWidget(self.done_note)
        dl.addSpacing(30)
        dl.addWidget(self.finish_btn, 0, Qt.AlignmentFlag.AlignCenter)
        dl.addStretch(1)
        self.stack.addWidget(done)

    # -- states ------------------------------------------------------------------------------

    def show_start(
        self, patient_code: str | None, programme: list[Any], sensor_text: str, ready: bool
    ) -> None:
        self.stack.setCurrentIndex(0)
        self.greeting.setText("Hello!" if not patient_code else f"Hello, {patient_code}!")
        if programme:
            items = ", ".join(f"{i.label} ({i.sets} × {i.reps})" for i in programme)
            self.programme_label.setText(f"Today: {items}")
        self.set_sensor(sensor_text, ready)
        self.start_btn.setFocus()

    def set_sensor(self, text: str, ready: bool) -> None:
        self.sensor_label.setText(text)
        self.start_btn.setEnabled(ready)
        if ready and self.stack.currentIndex() == 0:
            self.start_btn.setFocus()

    def show_step(self, step: RunStep) -> None:
        self.stack.setCurrentIndex(1)
        self.ex_title.setText(step.title)
        sets = f"Set {self._set_in_exercise(step)} of {step.sets}" if step.sets else ""
        self.message.setText("")
        if step.kind == "intro":
            self.ex_sub.setText(sets)
            self.ex_instruction.setText(step.instruction)
            self.big.setText("")
            self.big_caption.setText("Get ready")
            self.done_btn.hide()
        elif step.kind == "set":
            self.ex_sub.setText(sets)
            self.ex_instruction.setText(f"Do {step.target_reps} repetitions at your own pace.")
            self.big.setText("0")
            self.big_caption.setText(f"of {step.target_reps}")
            self.done_btn.show()
            self.done_btn.setFocus()
        elif step.kind == "rest":
            self.ex_title.setText("Rest")
            self.ex_sub.setText("")
            self.ex_instruction.setText(step.instruction)
            self.big_caption.setText("seconds")
            self.done_btn.hide()

    def _set_in_exercise(self, step: RunStep) -> int:
        return getattr(self, "_set_index", {}).get((step.exercise, step.set_no), 1)

    def set_plan(self, steps: list[RunStep]) -> None:
        idx: dict[tuple[Any, Any], int] = {}
        per: dict[Any, int] = {}
        for s in steps:
            if s.kind == "set":
                per[s.exercise] = per.get(s.exercise, 0) + 1
                idx[(s.exercise, s.set_no)] = per[s.exercise]
        self._set_index = idx

    def show_progress(self, info: dict[str, Any]) -> None:
        step: RunStep = info["step"]
        if step.kind == "set":
            self.big.setText(str(info.get("count", 0)))
            tempo = info.get("tempo_s")
            cap = f"of {step.target_reps}"
            if tempo is not None:
                cap += f"  ·  last one {tempo:.1f} s"
            self.big_caption.setText(cap)
        elif step.kind in ("rest", "intro") and "remaining_s" in info:
            self.big.setText(f"{max(int(info['remaining_s'] + 0.999), 0)}")

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    def show_done(self, lines: list[str], note: str) -> None:
        self.stack.setCurrentIndex(2)
        self.done_summary.setText("\n".join(lines))
        self.done_note.setText(note)
        self.finish_btn.setFocus()
