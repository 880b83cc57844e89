"""Choose or add a patient (pseudonymous codes only: the store never holds names)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = ["PatientsView"]


class PatientsView(QWidget):
    """Patient list with a filter, and a form to add one."""

    patient_chosen = Signal(object)  #: store Patient
    add_requested = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.patients: list[Any] = []
        lay = QVBoxLayout(self)
        title = QLabel("Patients")
        title.setObjectName("h1")
        lay.addWidget(title)
        row = QHBoxLayout()
        lbl = QLabel("&Find:")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("patient code")
        self.filter.setClearButtonEnabled(True)
        lbl.setBuddy(self.filter)
        self.filter.textChanged.connect(self._apply_filter)
        self.filter.returnPressed.connect(self._choose)
        row.addWidget(lbl)
        row.addWidget(self.filter, 1)
        lay.addLayout(row)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Code", "Age", "Sex", "Home programme", "Notes"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setAccessibleName("Patients")
        self.table.itemActivated.connect(lambda _i: self._choose())
        lay.addWidget(self.table, 1)
        self.choose_btn = QPushButton("&Open patient")
        self.choose_btn.setObjectName("primary")
        self.choose_btn.clicked.connect(self._choose)
        lay.addWidget(self.choose_btn, 0, Qt.AlignmentFlag.AlignLeft)

        box = QGroupBox("Add a patient")
        form = QFormLayout(box)
        self.code = QLineEdit()
        self.code.setPlaceholderText("pseudonymous code, e.g. P014 (never a name)")
        self.birth = QSpinBox()
        self.birth.setRange(1900, dt.date.today().year)
        self.birth.setValue(1950)
        self.sex = QComboBox()
        self.sex.addItems(["female", "male", "other", "not recorded"])
        self.height = QSpinBox()
        self.height.setRange(0, 250)
        self.height.setSuffix(" cm")
        self.height.setSpecialValueText("not recorded")
        self.consent = QCheckBox("Consents to home monitoring")
        self.consent.setChecked(True)
        self.notes = QLineEdit()
        form.addRow("&Code", self.code)
        form.addRow("&Birth year", self.birth)
        form.addRow("Se&x", self.sex)
        form.addRow("&Height", self.height)
        form.addRow("", self.consent)
        form.addRow("No&tes", self.notes)
        self.add_btn = QPushButton("&Add patient")
        self.add_btn.clicked.connect(self._add)
        self.code.returnPressed.connect(self._add)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        form.addRow(self.add_btn, self.error)
        lay.addWidget(box)

    def set_patients(self, patients: list[Any], programmes: dict[str, str] | None = None) -> None:
        self.patients = list(patients)
        year = dt.date.today().year
        self.table.setRowCount(len(self.patients))
        for r, p in enumerate(self.patients):
            age = p.age_in(year)
            cells = [
                p.code,
                "" if age is None else str(age),
                p.sex or "",
                (programmes or {}).get(p.code, ""),
                p.notes,
            ]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        if self.patients:
            self.table.selectRow(0)
        self._apply_filter(self.filter.text())

    def _apply_filter(self, text: str) -> None:
        t = text.strip().lower()
        first = None
        for r, p in enumerate(self.patients):
            hide = bool(t) and t not in p.code.lower()
            self.table.setRowHidden(r, hide)
            if not hide and first is None:
                first = r
        if first is not None:
            self.table.selectRow(first)

    def _choose(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            r = rows[0].row()
            if not self.table.isRowHidden(r):
                self.patient_chosen.emit(self.patients[r])

    def _add(self) -> None:
        sex = self.sex.currentText()
        self.add_requested.emit(
            {
                "code": self.code.text().strip(),
                "birth_year": self.birth.value(),
                "sex": None if sex == "not recorded" else sex,
                "height_m": self.height.value() / 100 if self.height.value() else None,
                "home_consent": self.consent.isChecked(),
                "notes": self.notes.text().strip(),
            }
        )

    def show_error(self, text: str) -> None:
        self.error.setText(text)

    def added(self) -> None:
        self.error.setText("")
        self.code.clear()
        self.notes.clear()
