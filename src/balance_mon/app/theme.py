"""Colours, fonts and style sheets: colour-blind-safe, high contrast in home mode.

Palette: Okabe & Ito (2008), "Color Universal Design" — eight colours that
stay distinguishable with every common colour-vision deficiency. Meaning is
never carried by colour alone: flags also carry a symbol and a word, curves
carry a legend.

Sizes are in points, never pixels, so the whole program follows the
desktop's scaling (150 % included) and the layouts grow with the text.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

__all__ = [
    "FLAG_STYLE",
    "OKABE_ITO",
    "TRACE_COLORS",
    "apply_home_style",
    "apply_therapist_style",
    "base_font_pt",
]

#: Okabe-Ito colours by name.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Acceleration traces x, y, z: blue, vermillion and black differ in hue and in
#: lightness, so they stay apart for every colour-vision deficiency and in grey.
TRACE_COLORS = (
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["black"],
)
SWAY_PATH_COLOR = OKABE_ITO["blue"]
ELLIPSE_COLOR = OKABE_ITO["orange"]
ACCENT = OKABE_ITO["blue"]

#: Flag level -> (symbol, word, colour). Symbol and word make it readable without colour.
FLAG_STYLE = {
    "ok": ("✓", "within norms", OKABE_ITO["bluish_green"]),
    "info": ("ℹ", "note", OKABE_ITO["blue"]),
    "warn": ("▲", "attention", OKABE_ITO["orange"]),
    "risk": ("⚠", "fall risk", OKABE_ITO["vermillion"]),
}

#: Device states -> (symbol, colour).
STATE_STYLE = {
    "streaming": ("●", OKABE_ITO["bluish_green"]),
    "connecting": ("◌", OKABE_ITO["sky_blue"]),
    "reconnecting": ("◐", OKABE_ITO["orange"]),
    "lost": ("✕", OKABE_ITO["vermillion"]),
    "error": ("✕", OKABE_ITO["vermillion"]),
    "stopped": ("○", "#555555"),
    "none": ("○", "#555555"),
}


def base_font_pt() -> float:
    app = QApplication.instance()
    if app is None:
        return 10.0
    return max(QApplication.font().pointSizeF(), 9.0)


_THERAPIST_QSS = """
QWidget {{ font-size: {pt}pt; }}
QLabel#h1 {{ font-size: {h1}pt; font-weight: 600; }}
QLabel#h2 {{ font-size: {h2}pt; font-weight: 600; }}
QLabel#big {{ font-size: {big}pt; font-weight: 700; }}
QLabel#huge {{ font-size: {huge}pt; font-weight: 700; }}
QLabel#muted {{ color: #444444; }}
QLabel#banner {{ background: #FFF3D6; color: #000000; border: 2px solid {orange};
                 padding: 6px; font-weight: 600; }}
QLabel#banner_ok {{ background: #E3F4EE; color: #000000; border: 2px solid {green};
                    padding: 6px; font-weight: 600; }}
QPushButton {{ padding: 6px 14px; }}
QPushButton:focus, QListWidget:focus, QTableWidget:focus, QLineEdit:focus,
QComboBox:focus, QSpinBox:focus {{ outline: none; border: 2px solid {blue}; }}
QPushButton#primary {{ background: {blue}; color: white; font-weight: 600; border-radius: 4px; }}
QPushButton#primary:disabled {{ background: #9DB8CC; }}
QPushButton#nav {{ text-align: left; padding: 8px 12px; border: none; }}
QPushButton#nav:checked {{ background: #DCEAF5; border-left: 4px solid {blue}; font-weight: 600; }}
QPushButton#nav:focus {{ border: 2px solid {blue}; }}
"""

_HOME_QSS = """
QWidget#home, QWidget#home QWidget {{ background: #000000; color: #FFFFFF; }}
QWidget#home QLabel {{ font-size: {home_text}pt; }}
QWidget#home QLabel#title {{ font-size: {home_title}pt; font-weight: 700; color: #FFFFFF; }}
QWidget#home QLabel#instruction {{ font-size: {home_text}pt; color: #FFFFFF; }}
QWidget#home QLabel#count {{ font-size: {giant}pt; font-weight: 800; color: {yellow}; }}
QWidget#home QLabel#sub {{ font-size: {home_text}pt; color: {sky}; }}
QWidget#home QPushButton {{ font-size: {home_title}pt; font-weight: 700; padding: 24px 40px;
    background: {yellow}; color: #000000; border: 4px solid {yellow}; border-radius: 12px; }}
QWidget#home QPushButton:focus {{ border: 6px solid #FFFFFF; }}
QWidget#home QPushButton:disabled {{ background: #444444; color: #DDDDDD; border-color: #444444; }}
QWidget#home QPushButton#secondary {{ font-size: {home_text}pt; background: #000000;
    color: #FFFFFF; border: 3px solid #FFFFFF; padding: 12px 24px; }}
"""


def _sizes() -> dict[str, float]:
    pt = base_font_pt()
    return {
        "pt": round(pt, 1),
        "h1": round(pt * 1.6, 1),
        "h2": round(pt * 1.25, 1),
        "big": round(pt * 2.6, 1),
        "huge": round(pt * 3.2, 1),
        "giant": round(pt * 10.0, 1),
        "home_text": round(pt * 2.0, 1),
        "home_title": round(pt * 3.4, 1),
        "blue": OKABE_ITO["blue"],
        "orange": OKABE_ITO["orange"],
        "green": OKABE_ITO["bluish_green"],
        "yellow": OKABE_ITO["yellow"],
        "sky": OKABE_ITO["sky_blue"],
    }


def therapist_qss() -> str:
    return _THERAPIST_QSS.format(**_sizes())


def home_qss() -> str:
    return _HOME_QSS.format(**_sizes())


def apply_therapist_style(app: QApplication) -> None:
    """Light palette with dark text (contrast ratio above 7:1 for body text)."""
    app.setStyle("Fusion")
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Window, QColor("#F7F7F7"))
    pal.setColor(QPalette.ColorRole.WindowText, QColor("#000000"))
    pal.setColor(QPalette.ColorRole.Base, QColor("#FFFFFF"))
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor("#EFEFEF"))
    pal.setColor(QPalette.ColorRole.Text, QColor("#000000"))
    pal.setColor(QPalette.ColorRole.Button, QColor("#E8E8E8"))
    pal.setColor(QPalette.ColorRole.ButtonText, QColor("#000000"))
    pal.setColor(QPalette.ColorRole.Highlight, QColor(OKABE_ITO["blue"]))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#FFFFFF"))
    app.setPalette(pal)
    app.setStyleSheet(therapist_qss() + home_qss())


def apply_home_style(app: QApplication) -> None:
    apply_therapist_style(app)


def bold(font: QFont, size_factor: float = 1.0) -> QFont:
    f = QFont(font)
    f.setBold(True)
    f.setPointSizeF(font.pointSizeF() * size_factor)
    return f
