"""The main window: therapist pages, home mode, the frame timer that feeds the plots."""

from __future__ import annotations

import logging
import math
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .clock import AppClock
from .device_panel import DevicePanel, status_line
from .history_view import HistoryView
from .home_view import HomeView
from .live_view import LivePlots, configure_pyqtgraph
from .patients_view import PatientsView
from .plans import clinic_protocols, home_plan, plan_from_protocol
from .results_view import ResultsView
from .run_view import RunView
from .speech import Speaker
from .store_adapter import AppStore
from .worker import DeviceStatus, DeviceWorker

if TYPE_CHECKING:
    from .live import LiveStream
    from .runner import RunController, RunResult

__all__ = ["AppContext", "FrameStats", "MainWindow", "warm_up"]

log = logging.getLogger(__name__)

#: Set once the signal-processing modules (scipy) are imported: the window shows
#: first and :func:`warm_up` imports them in a background thread (about 1.5 s).
HEAVY_READY = threading.Event()


def warm_up() -> None:
    """Import the live analysis modules (run in a thread right after the window shows)."""
    try:
        from . import live, runner  # noqa: F401
    finally:
        HEAVY_READY.set()


PAGES = ("Patients", "Sensor", "Live", "Test", "Results", "History")
FRAME_MS = 30  #: ~33 Hz redraw (at least 30 fps with some slack)


@dataclass
class AppContext:
    """Everything the window works with (built by :mod:`balance_mon.app.launch`)."""

    clock: AppClock
    worker: DeviceWorker
    store: AppStore | None
    speaker: Speaker
    data_dir: Path
    simulated: bool = False
    sim_patient: Any = None  #: simulated.SimulatedPatient in demo mode
    auto_connect: bool = False
    auto_confirm_s: float | None = None
    demo: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class FrameStats:
    """Frame rate and notification-to-screen latency of the live plots."""

    def __init__(self) -> None:
        self.frames: deque[float] = deque(maxlen=240)  # perf_counter of redrawing frames
        self.frame_ms: deque[float] = deque(maxlen=240)
        self.latency_ms: deque[float] = deque(maxlen=2000)

    def frame(self, t: float, cost_ms: float) -> None:
        self.frames.append(t)
        self.frame_ms.append(cost_ms)

    def fps(self) -> float:
        if len(self.frames) < 2:
            return 0.0
        now = time.perf_counter()
        recent = [f for f in self.frames if now - f <= 1.0]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / (recent[-1] - recent[0])

    def latency(self) -> tuple[float, float]:
        if not self.latency_ms:
            return math.nan, math.nan
        v = sorted(self.latency_ms)
        return statistics.median(v), v[min(int(0.99 * len(v)), len(v) - 1)]


class MainWindow(QMainWindow):
    """See the module docstring."""

    run_finished = Signal(object)  #: RunResult (tests wait on it)

    def __init__(self, ctx: AppContext, *, mode: str = "therapist") -> None:
        super().__init__()
        configure_pyqtgraph()
        self.ctx = ctx
        self.worker = ctx.worker
        self.clock = ctx.clock
        self.lives: dict[str, LiveStream] = {}
        self.statuses: dict[str, DeviceStatus] = {}
        self.current_key: str | None = None
        self.patient: Any = None
        self.run: RunController | None = None
        self.last_result: RunResult | None = None
        self.stats = FrameStats()
        self.sync_paint = False  #: paint inside the frame (the benchmark times it)
        self._perf_shown = 0.0
        self.protocols = clinic_protocols()
        self.setWindowTitle("balance_mon" + (" — demo (simulated sensor)" if ctx.demo else ""))

        # -- header ---------------------------------------------------------------------
        root = QWidget()
        rl = QVBoxLayout(root)
        rl.setContentsMargins(0, 0, 0, 0)
        self.header = QWidget()
        hl = QHBoxLayout(self.header)
        brand = QLabel("balance_mon")
        brand.setObjectName("h2")
        self.patient_label = QLabel("No patient chosen")
        self.patient_label.setAccessibleName("Current patient")
        self.device_label = QLabel(status_line(None))
        self.device_label.setAccessibleName("Sensor status")
        self.mode_btn = QPushButton("Home mode (Ctrl+H)")
        self.mode_btn.clicked.connect(lambda: self.set_mode("home"))
        hl.addWidget(brand)
        hl.addSpacing(16)
        hl.addWidget(self.patient_label)
        hl.addStretch(1)
        hl.addWidget(self.device_label)
        hl.addSpacing(16)
        hl.addWidget(self.mode_btn)
        rl.addWidget(self.header)

        self.modes = QStackedWidget()
        rl.addWidget(self.modes, 1)

        # -- therapist ------------------------------------------------------------------------
        ther = QWidget()
        tl = QHBoxLayout(ther)
        nav = QVBoxLayout()
        self.nav_group = QButtonGroup(self)
        self.nav_group.setExclusive(True)
        self.nav_buttons: list[QPushButton] = []
        for i, name in enumerate(PAGES):
            b = QPushButton(f"{name}\tCtrl+{i + 1}")
            b.setObjectName("nav")
            b.setCheckable(True)
            b.clicked.connect(lambda _=False, k=i: self.show_page(k))
            self.nav_group.addButton(b, i)
            nav.addWidget(b)
            self.nav_buttons.append(b)
            sc = QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self)
            sc.activated.connect(lambda k=i: self.show_page(k))
        nav.addStretch(1)
        from .theme import base_font_pt

        bold = QFont(self.font())
        bold.setPointSizeF(base_font_pt())
        bold.setBold(True)
        fm = QFontMetrics(bold)
        width = max(fm.horizontalAdvance(b.text().replace("\t", "    ")) for b in self.nav_buttons)
        for b in self.nav_buttons:
            b.setMinimumWidth(width + fm.horizontalAdvance("M") * 3)
        tl.addLayout(nav)
        self.pages = QStackedWidget()
        tl.addWidget(self.pages, 1)

        self.patients_view = PatientsView()
        self.patients_view.patient_chosen.connect(self.choose_patient)
        self.patients_view.add_requested.connect(self._add_patient)
        self.device_panel = DevicePanel(simulated=ctx.simulated)
        self.device_panel.scan_requested.connect(lambda: self.worker.request_scan(3.0))
        self.device_panel.connect_requested.connect(self._connect)
        self.device_panel.disconnect_requested.connect(self.worker.request_disconnect)
        self.device_panel.drop_requested.connect(self.worker.request_drop)
        live_page = QWidget()
        ll = QVBoxLayout(live_page)
        lt = QHBoxLayout()
        t = QLabel("Live signal")
        t.setObjectName("h1")
        lt.addWidget(t)
        lt.addStretch(1)
        self.reset_btn = QPushButton("&Reset sway path")
        self.reset_btn.clicked.connect(self._reset_live)
        lt.addWidget(self.reset_btn)
        self.speak_cues = QCheckBox("&Speak alignment warnings")
        self.speak_cues.setChecked(True)
        self.speak_cues.setAccessibleName("Speak trunk alignment warnings aloud")
        self.speak_cues.setToolTip(
            "While exercising on this page, say the warning aloud when the back bends "
            "beyond the patient's limit or twists quickly"
        )
        lt.addWidget(self.speak_cues)
        limit_label = QLabel("Back &limit:")
        self.limit_box = QSpinBox()
        self.limit_box.setRange(10, 90)
        self.limit_box.setSuffix("°")
        self.limit_box.setAccessibleName("Trunk flexion limit for this patient, degrees")
        self.limit_box.setToolTip(
            "Warn when the trunk bends forward more than this from the patient's upright "
            "(kept with the patient's programme; default 30°)"
        )
        limit_label.setBuddy(self.limit_box)
        self.limit_box.setValue(int(round(self.flexion_limit_deg)))
        self.limit_box.editingFinished.connect(self._limit_edited)
        lt.addWidget(limit_label)
        lt.addWidget(self.limit_box)
        ll.addLayout(lt)
        self.live_hint = QLabel("No sensor streaming: connect one on the Sensor page (Ctrl+2).")
        self.live_hint.setObjectName("muted")
        ll.addWidget(self.live_hint)
        self.live_plots = LivePlots()
        self.live_plots.upright_requested.connect(self._set_upright)
        ll.addWidget(self.live_plots, 1)
        self.run_view = RunView(self.protocols)
        self.run_view.plots.upright_requested.connect(self._set_upright)
        self.run_view.start_requested.connect(self.start_test)
        self.run_view.next_requested.connect(lambda: self.run and self.run.confirm())
        self.run_view.fail_requested.connect(lambda: self.run and self.run.mark_failed())
        self.run_view.skip_requested.connect(lambda: self.run and self.run.skip())
        self.run_view.stop_requested.connect(lambda: self.run and self.run.abort())
        self.results_view = ResultsView()
        self.results_view.report_requested.connect(self._report_dialog)
        self.results_view.export_requested.connect(self._export_dialog)
        self.results_view.history_requested.connect(lambda: self.show_page(5))
        self.results_view.again_requested.connect(lambda: self.show_page(3))
        self.history_view = HistoryView()
        self.history_view.report_requested.connect(self._history_report_dialog)
        self.history_view.export_requested.connect(self._history_export_dialog)
        for w in (
            self.patients_view,
            self.device_panel,
            live_page,
            self.run_view,
            self.results_view,
            self.history_view,
        ):
            self.pages.addWidget(w)
        self.modes.addWidget(ther)

        # -- home ---------------------------------------------------------------------------------
        self.home_view = HomeView()
        self.home_view.start_requested.connect(self.start_home)
        self.home_view.done_requested.connect(lambda: self.run and self.run.confirm())
        self.home_view.finish_requested.connect(self._home_finish)
        self.modes.addWidget(self.home_view)
        self.setCentralWidget(root)

        # -- status bar: frame rate and latency readout -----------------------------------------
        self.perf_label = QLabel("")
        self.perf_label.setAccessibleName("Frame rate and latency")
        self.statusBar().addPermanentWidget(self.perf_label)
        self.perf_label.setVisible(False)
        self._menus()

        # -- worker -----------------------------------------------------------------------------
        self.worker.scanned.connect(self._on_scanned)
        self.worker.status.connect(self._on_status)
        self.worker.error.connect(self._on_error)
        self.frame_timer = QTimer(self)
        self.frame_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.frame_timer.setInterval(FRAME_MS)
        self.frame_timer.timeout.connect(self._frame)
        self.frame_timer.start()
        self.scan_timer = QTimer(self)
        self.scan_timer.setInterval(6000)
        self.scan_timer.timeout.connect(self._auto_scan)
        self._scanning = False
        self.refresh_patients()
        self.show_page(2 if ctx.auto_connect else 0)
        self.set_mode(mode)
        if ctx.auto_connect:
            QTimer.singleShot(0, self._auto_scan)
            self.scan_timer.start()

    # -- menus ----------------------------------------------------------------------------------

    def _menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        a = QAction("Save session &report…", self)
        a.triggered.connect(self._report_dialog)
        f.addAction(a)
        a = QAction("&Export results (CSV)…", self)
        a.triggered.connect(self._export_dialog)
        f.addAction(a)
        f.addSeparator()
        a = QAction("&Quit", self)
        a.setShortcut(QKeySequence("Ctrl+Q"))
        a.triggered.connect(self.close)
        f.addAction(a)
        v = mb.addMenu("&View")
        a = QAction("&Therapist mode", self)
        a.setShortcut(QKeySequence("Ctrl+T"))
        a.triggered.connect(lambda: self.set_mode("therapist"))
        v.addAction(a)
        a = QAction("&Home mode", self)
        a.setShortcut(QKeySequence("Ctrl+H"))
        a.triggered.connect(lambda: self.set_mode("home"))
        v.addAction(a)
        v.addSeparator()
        self.perf_action = QAction("Show &frame rate and latency", self)
        self.perf_action.setCheckable(True)
        self.perf_action.setShortcut(QKeySequence("F12"))
        self.perf_action.toggled.connect(self.show_perf)
        v.addAction(self.perf_action)
        self.addAction(self.perf_action)

    def show_perf(self, on: bool) -> None:
        self.perf_label.setVisible(on)
        if self.perf_action.isChecked() != on:
            self.perf_action.setChecked(on)

    # -- navigation -----------------------------------------------------------------------------

    def show_page(self, i: int) -> None:
        if self.modes.currentIndex() != 0:
            self.set_mode("therapist")
        self.pages.setCurrentIndex(i)
        self.nav_buttons[i].setChecked(True)
        if i == 5:
            self.refresh_history()
        w = self.pages.currentWidget()
        if i == 3:
            self.run_view.start_btn.setFocus()
        elif i == 0:
            self.patients_view.filter.setFocus()
        elif i == 1:
            self.device_panel.scan_btn.setFocus()
        else:
            w.setFocus()

    def set_mode(self, mode: str) -> None:
        home = mode == "home"
        self.modes.setCurrentIndex(1 if home else 0)
        self.header.setVisible(not home)
        self.menuBar().setVisible(not home)
        self.statusBar().setVisible(not home)
        if home:
            self._home_start_screen()
            if not self.scan_timer.isActive():
                self.scan_timer.start()
                QTimer.singleShot(0, self._auto_scan)

    # -- patients -------------------------------------------------------------------------------

    def refresh_patients(self) -> None:
        if self.ctx.store is None:
            return
        pats = self.ctx.store.patients()
        progs = {
            p.code: ", ".join(f"{i.label} {i.sets}×{i.reps}" for i in self.ctx.store.programme(p))
            for p in pats
        }
        self.patients_view.set_patients(pats, progs)
        if self.patient is None and len(pats) == 1:
            self.choose_patient(pats[0], go=False)

    def choose_patient(self, patient: Any, *, go: bool = True) -> None:
        self.patient = patient
        self._apply_flexion_limit()
        age = patient.age_in(time.localtime().tm_year)
        bits = [patient.code]
        if age is not None:
            bits.append(f"{age} y")
        if patient.sex:
            bits.append(patient.sex)
        self.patient_label.setText("Patient: " + ", ".join(bits))
        if go:
            self.show_page(3 if self.current_key else 1)

    def _add_patient(self, d: dict[str, Any]) -> None:
        if self.ctx.store is None:
            return
        try:
            p = self.ctx.store.add_patient(
                d["code"],
                birth_year=d["birth_year"],
                sex=d["sex"],
                height_m=d["height_m"],
                notes=d["notes"],
                home_consent=d["home_consent"],
            )
        except Exception as exc:
            self.patients_view.show_error(f"⚠ {exc}")
            return
        self.patients_view.added()
        self.refresh_patients()
        self.choose_patient(p, go=False)

    # -- sensor ---------------------------------------------------------------------------------

    def _auto_scan(self) -> None:
        streaming = any(
            s.state in ("streaming", "connecting", "reconnecting") for s in self.statuses.values()
        )
        if streaming or self._scanning:
            return
        self._scanning = True
        self.worker.request_scan(2.0)

    def _on_scanned(self, found: list[Any]) -> None:
        self._scanning = False
        self.device_panel.set_found(found)
        auto = self.ctx.auto_connect or self.modes.currentIndex() == 1
        if (
            auto
            and found
            and not any(
                s.state in ("streaming", "connecting", "reconnecting")
                for s in self.statuses.values()
            )
        ):
            self._connect(found[0])
        if not found and self.modes.currentIndex() == 1:
            self.home_view.set_sensor(
                "Looking for your sensor… Please switch it on and keep it near.", False
            )

    def _connect(self, found: Any) -> None:
        key = self.worker.request_connect(found)
        self.current_key = key

    def _on_status(self, st: DeviceStatus) -> None:
        self.statuses[st.key] = st
        if self.current_key is None or st.key == self.current_key:
            self.current_key = st.key
            self.device_label.setText(status_line(st))
        self.device_panel.set_status(st)
        if self.run is not None and self.run.running:
            self.run.on_device_status(st)
        if st.state == "reconnecting" and (self.run is None or not self.run.running):
            self.run_view.show_message("warn", f"{st.name}: {st.message}")
        if self.modes.currentIndex() == 1:
            self._home_sensor_text()
        if st.state == "streaming":
            self.live_hint.hide()

    def _on_error(self, text: str) -> None:
        self.statusBar().showMessage(f"⚠ {text}", 15000)
        self.device_panel.scan_state.setText(f"⚠ {text}")
        self.device_panel.scan_btn.setEnabled(True)
        self._scanning = False

    def current_live(self) -> LiveStream | None:
        return None if self.current_key is None else self.lives.get(self.current_key)

    def current_connection(self) -> Any:
        return None if self.current_key is None else self.worker.connections.get(self.current_key)

    @property
    def flexion_limit_deg(self) -> float:
        """The current patient's trunk flexion limit (home programme), else 30 deg."""
        if self.ctx.store is None or self.patient is None:
            from ..protocols.home import DEFAULT_TRUNK_FLEXION_LIMIT_DEG

            return DEFAULT_TRUNK_FLEXION_LIMIT_DEG
        return self.ctx.store.trunk_flexion_limit(self.patient)

    def _apply_flexion_limit(self) -> None:
        limit = self.flexion_limit_deg
        for live in self.lives.values():
            live.set_flexion_limit(limit)
        if hasattr(self, "limit_box"):
            self.limit_box.blockSignals(True)
            self.limit_box.setValue(int(round(limit)))
            self.limit_box.blockSignals(False)

    def set_flexion_limit(self, deg: float) -> None:
        """The therapist's trunk flexion limit for the current patient (10-90 deg):
        kept with the patient's programme and applied to the live streams now."""
        if self.ctx.store is not None and self.patient is not None:
            self.ctx.store.set_trunk_flexion_limit(self.patient, float(deg))
            self._apply_flexion_limit()
        else:  # no patient: this session only
            for live in self.lives.values():
                live.set_flexion_limit(float(deg))

    def _limit_edited(self) -> None:
        deg = self.limit_box.value()
        if abs(deg - self.flexion_limit_deg) >= 0.5 or self.patient is None:
            self.set_flexion_limit(deg)
            who = f" for {self.patient.code}" if self.patient is not None else ""
            self.statusBar().showMessage(f"Back limit set to {deg}°{who}", 5000)

    def _set_upright(self) -> None:
        live = self.current_live()
        if live is not None:
            live.set_upright()

    def _reset_live(self) -> None:
        live = self.current_live()
        self.live_plots.reset_sway(live)
        if live is not None and (self.run is None or not self.run.running):
            live.start_reps()

    # -- the frame ------------------------------------------------------------------------------

    def _frame(self) -> None:
        if not HEAVY_READY.is_set():
            return  # samples wait in the connections' queues
        from .live import LiveStream

        t0 = time.perf_counter()
        current_rx: list[int] = []
        for key, conn in list(self.worker.connections.items()):
            if conn.fs_hz is None:
                continue
            live = self.lives.get(key)
            if live is None:
                live = LiveStream(
                    conn.fs_hz, has_gyro=conn.has_gyro, flexion_limit_deg=self.flexion_limit_deg
                )
                live.start_reps()
                self.lives[key] = live
            blocks = conn.drain()
            if not blocks:
                continue
            live.push(blocks)
            if key == self.current_key:
                current_rx = [b.rx_ns for b in blocks]
        if self.run is None or not self.run.running:
            live = self.current_live()
            if live is not None and live.reps is None:
                live.start_reps()
        self._live_alignment_cues()
        drew = False
        live = self.current_live()
        conn = self.current_connection()
        now_s = conn.stream_now_s(self.clock) if conn is not None else None
        plots = None
        if self.modes.currentIndex() == 0:
            page = self.pages.currentIndex()
            if page == 2:
                plots = self.live_plots
                if live is not None:
                    plots.set_axes_labels(*live.sway.axes_labels)
            elif page == 3:
                plots = self.run_view.plots
            if plots is not None:
                drew = plots.refresh(live, now_s)
                if drew and self.sync_paint:  # benchmark: paint now, to time it
                    plots.traces.viewport().repaint()
                    plots.sway.viewport().repaint()
        t1 = time.perf_counter()
        if drew:
            self.stats.frame(t1, (t1 - t0) * 1000)
            if current_rx:
                now_ns = self.clock.now_ns()
                for rx in current_rx:
                    self.stats.latency_ms.append((now_ns - rx) / self.clock.speed / 1e6)
        if self.perf_label.isVisible() and t1 - self._perf_shown >= 0.5:
            self._perf_shown = t1
            med, p99 = self.stats.latency()
            cost = statistics.fmean(self.stats.frame_ms) if self.stats.frame_ms else 0.0
            self.perf_label.setText(
                f"{self.stats.fps():4.1f} fps · frame {cost:4.1f} ms · "
                f"notification→screen median {med:4.0f} ms, p99 {p99:4.0f} ms"
            )

    def _live_alignment_cues(self) -> None:
        """Trunk warnings outside a run: spoken on the therapist's Live page (when
        "Speak alignment warnings" is on) and shown in the status bar. During a
        home set the run speaks them itself; during a clinic test they are not
        spoken (standardised instructions) and are dropped here."""
        if self.run is not None and self.run.running and not self.run.clinic:
            return
        live = self.current_live()
        if live is None:
            return
        warnings = live.take_alignment_warnings()
        on_live_page = self.modes.currentIndex() == 0 and self.pages.currentIndex() == 2
        if not warnings or not on_live_page or (self.run is not None and self.run.running):
            return
        from .runner import BACK_CUE, TWIST_CUE

        w = warnings[-1]
        text = BACK_CUE if w.kind == "flexion" else TWIST_CUE
        if self.speak_cues.isChecked():
            self.ctx.speaker.say(text)
        detail = f" (back bent {w.value:.0f}°)" if w.kind == "flexion" else ""
        self.statusBar().showMessage(f"⚠ {text}{detail}", 5000)

    # -- tests (therapist) ----------------------------------------------------------------------

    def _ready_to_run(self) -> tuple[Any, LiveStream] | None:
        conn = self.current_connection()
        live = self.current_live()
        if conn is None or live is None or conn.status.state != "streaming":
            self.run_view.show_message(
                "warn", "No sensor is streaming: connect one on the Sensor page (Ctrl+2)."
            )
            return None
        return conn, live

    def start_test(self, name: str) -> RunController | None:
        if self.run is not None and self.run.running:
            return None
        ready = self._ready_to_run()
        if ready is None:
            return None
        if self.patient is None:
            self.run_view.show_message(
                "warn", "Choose a patient first (Ctrl+1) so that the results can be stored."
            )
            return None
        conn, live = ready
        protocol = self.protocols[name]
        plan = plan_from_protocol(protocol)
        self.run_view.clear_message()
        self.run_view.show_plan(plan.steps)
        self.run_view.set_running(True)
        live.stop_reps()
        self.live_plots.reset_sway(live)
        run = self._make_run(plan, conn, live)
        run.step_started.connect(self.run_view.show_step)
        run.progress.connect(self.run_view.show_progress)
        run.message.connect(self.run_view.show_message)
        run.step_started.connect(
            lambda s: self.run_view.plots.reset_sway(live) if s.kind == "perform" else None
        )
        self.show_page(3)
        run.start()
        return run

    def _make_run(self, plan: Any, conn: Any, live: LiveStream) -> RunController:
        from .runner import RunController

        run = RunController(
            plan,
            clock=self.clock,
            connection=conn,
            live=live,
            speaker=self.ctx.speaker,
            store=self.ctx.store,
            patient=self.patient,
            auto_confirm_s=self.ctx.auto_confirm_s,
            parent=self,
        )
        sim = self.ctx.sim_patient
        if sim is not None:
            sim.start_run(plan)
            run.step_started.connect(sim.on_step)
        run.finished.connect(self._on_run_finished)
        self.run = run
        return run

    def _on_run_finished(self, result: RunResult) -> None:
        self.last_result = result
        sim = self.ctx.sim_patient
        if sim is not None:
            sim.ambient()
        if result.plan.setting == "home":
            self._home_done(result)
        else:
            self.run_view.finished()
            if result.completed:
                self.results_view.show_result(result, self.patient_label.text())
                self.show_page(4)
            if result.error:
                self.run_view.show_message("warn", result.error)
        self.run_finished.emit(result)

    # -- home mode ------------------------------------------------------------------------------

    def _programme(self) -> list[Any]:
        if self.ctx.store is None or self.patient is None:
            from .plans import DEFAULT_PROGRAMME

            return list(DEFAULT_PROGRAMME)
        return self.ctx.store.programme(self.patient)

    def _home_sensor_text(self) -> None:
        st = self.statuses.get(self.current_key) if self.current_key else None
        if st is None or st.state in ("lost", "stopped", "error"):
            self.home_view.set_sensor(
                "Looking for your sensor… Please switch it on and keep it near.", False
            )
        elif st.state == "streaming":
            batt = f" Battery {st.battery_text}." if st.battery else ""
            self.home_view.set_sensor(f"✓ Your sensor is ready.{batt}", True)
        elif st.state == "reconnecting":
            self.home_view.set_sensor("The sensor connection was lost. Reconnecting…", False)
            self.home_view.show_message("The sensor connection was lost. Please wait…")
        else:
            self.home_view.set_sensor("Connecting to your sensor…", False)

    def _home_start_screen(self) -> None:
        if self.run is not None and self.run.running:
            return
        self.home_view.show_start(
            self.patient.code if self.patient else None,
            self._programme(),
            "",
            False,
        )
        self._home_sensor_text()

    def start_home(self) -> RunController | None:
        if self.run is not None and self.run.running:
            return None
        conn = self.current_connection()
        live = self.current_live()
        if conn is None or live is None or conn.status.state != "streaming":
            self._home_sensor_text()
            return None
        plan = home_plan(self._programme())
        self._apply_flexion_limit()
        self.home_view.set_plan(plan.steps)
        run = self._make_run(plan, conn, live)
        run.step_started.connect(self.home_view.show_step)
        run.progress.connect(self.home_view.show_progress)
        run.message.connect(lambda _lvl, text: self.home_view.show_message(text))
        run.start()
        return run

    def _home_done(self, result: RunResult) -> None:
        lines = []
        per: dict[str, tuple[str, int, int]] = {}
        for item in result.plan.programme:
            per[item.exercise] = (item.label, 0, item.sets * item.reps)
        stored = {s.condition for s in result.saved}
        for ex, (label, _n, target) in per.items():
            n = (
                result.count_for(ex)
                if ex in stored
                else sum(t.live_count for t in result.trials if t.exercise == ex and t.valid)
            )
            per[ex] = (label, n, target)
            lines.append(f"{label}: {n} of {target}")
        if not result.completed:
            self.home_view.show_done(["The session was stopped."], result.message)
            return
        note = (
            "Your therapist will see today's results."
            if result.session_id is not None
            else "The results could not be saved: please tell your therapist."
        )
        self.home_view.show_done(lines + self._alignment_lines(result), note)

    def _alignment_lines(self, result: RunResult, most: int = 6) -> list[str]:
        """Repetitions whose trunk flexion passed the patient's limit, one line each
        ("Sit to stand, set 1, rep 4: trunk flexed 52 degrees")."""
        from ..analysis.posture import rep_alignment_text

        labels = {i.exercise: i.label for i in result.plan.programme}
        limit = self.flexion_limit_deg
        over: list[str] = []
        measured = False
        for t in result.trials:
            if not t.valid:
                continue
            for k, peak in enumerate(t.rep_peaks_deg):
                if not math.isfinite(peak):
                    continue
                measured = True
                if peak > limit:
                    label = labels.get(t.exercise or "", t.exercise or "")
                    over.append(f"{label}, set {t.set_no}, {rep_alignment_text(k + 1, peak)}")
        if not measured:
            return []
        if not over:
            return [f"Back straight in every repetition (within {limit:.0f}°)."]
        head = f"Back bent more than {limit:.0f}° in {len(over)} repetition(s):"
        more = [f"… and {len(over) - most} more"] if len(over) > most else []
        return ["", head, *over[:most], *more]

    def _home_finish(self) -> None:
        self._home_start_screen()

    # -- history, reports, exports --------------------------------------------------------------

    def refresh_history(self) -> None:
        if self.ctx.store is None or self.patient is None:
            return
        st = self.ctx.store
        try:
            self.history_view.show_history(
                self.patient,
                st.sessions(self.patient),
                st.series(self.patient),
                st.flags(self.patient),
            )
        except Exception as exc:
            log.exception("history")
            self.history_view.info.setText(f"⚠ could not read the history: {exc}")

    def save_session_report(self, path: str | Path, session_id: int | None = None) -> Path:
        """PDF report of a session (the last run's by default) via balance_mon.report."""
        from ..report.pdf import session_report

        assert self.ctx.store is not None and self.patient is not None
        sid = session_id if session_id is not None else self.last_result.session_id  # type: ignore[union-attr]
        store = self.ctx.store.store
        return session_report(store, self.patient, store.session(int(sid)), path)

    def save_history_report(self, path: str | Path) -> Path:
        from ..report.pdf import longitudinal_report

        assert self.ctx.store is not None and self.patient is not None
        return longitudinal_report(self.ctx.store.store, self.patient, path)

    def export_csv(self, path: str | Path, session_id: int | None = None) -> Path:
        from ..report import result_rows, to_csv

        assert self.ctx.store is not None and self.patient is not None
        rows = result_rows(self.ctx.store.store, self.patient, session_id=session_id)
        p = Path(path)
        p.write_text(to_csv(rows), encoding="utf-8")
        return p

    def _ask_path(self, title: str, name: str, filt: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path.home() / name), filt)
        return path or None

    def _report_dialog(self) -> None:
        if self.last_result is None or self.last_result.session_id is None:
            self.statusBar().showMessage("No stored session to report yet.", 8000)
            return
        path = self._ask_path(
            "Save session report",
            f"{self.patient.code}_session{self.last_result.session_id}.pdf",
            "PDF (*.pdf)",
        )
        if path:
            self._try(lambda: self.save_session_report(path), "report saved")

    def _export_dialog(self) -> None:
        if self.patient is None or self.last_result is None:
            self.statusBar().showMessage("No results to export yet.", 8000)
            return
        path = self._ask_path("Export results", f"{self.patient.code}_session.csv", "CSV (*.csv)")
        if path:
            self._try(lambda: self.export_csv(path, self.last_result.session_id), "exported")

    def _history_report_dialog(self) -> None:
        if self.patient is None:
            return
        path = self._ask_path(
            "Save history report", f"{self.patient.code}_history.pdf", "PDF (*.pdf)"
        )
        if path:
            self._try(lambda: self.save_history_report(path), "report saved")

    def _history_export_dialog(self) -> None:
        if self.patient is None:
            return
        path = self._ask_path("Export history", f"{self.patient.code}_history.csv", "CSV (*.csv)")
        if path:
            self._try(lambda: self.export_csv(path), "exported")

    def _try(self, fn: Any, done: str) -> None:
        try:
            out = fn()
        except Exception as exc:
            log.exception(done)
            self.statusBar().showMessage(f"⚠ {exc}", 15000)
            return
        self.statusBar().showMessage(f"✓ {done}: {out}", 15000)

    # -- closing --------------------------------------------------------------------------------

    def closeEvent(self, event: Any) -> None:
        self.frame_timer.stop()
        self.scan_timer.stop()
        if self.run is not None and self.run.running:
            self.run.abort("the program was closed")
        super().closeEvent(event)
