"""Spoken instructions and counts, with a silent fallback.

PySide6-Essentials has no QtTextToSpeech (it ships in PySide6-Addons), so
speech goes through whichever backend is present, tried in this order:

1. ``espeak-ng`` or ``espeak`` (Linux; ``apt install espeak-ng``), ``say``
   (macOS), ``spd-say`` (speech-dispatcher), run as a subprocess;
2. ``pyttsx3`` if installed (optional; Windows SAPI5);
3. silence.

Whatever the backend, every cue is also shown on screen: speech is an
addition, never the only channel. Utterances are spoken in order by a
background thread; a newer count replaces an older one still waiting (a
repetition counter must never lag behind), and beeps use the desktop's
bell (``QApplication.beep``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable

__all__ = ["RecordingSpeaker", "Speaker", "make_speaker"]

log = logging.getLogger(__name__)


class Speaker:
    """Base: records what was said (``history``) and speaks nothing."""

    backend = "silent"

    def __init__(self) -> None:
        self.history: list[tuple[str, str]] = []  #: (kind, text)
        self.enabled = True
        self.listeners: list[Callable[[str, str], None]] = []

    def say(self, text: str, *, kind: str = "instruction") -> None:
        """Speak ``text``; ``kind`` "count" utterances may replace each other."""
        self.history.append((kind, text))
        for fn in self.listeners:
            fn(kind, text)
        if self.enabled:
            self._speak(text, kind)

    def beep(self) -> None:
        self.history.append(("beep", ""))
        if self.enabled:
            with contextlib.suppress(Exception):
                from PySide6.QtWidgets import QApplication

                if QApplication.instance() is not None:  # no bell without an application
                    QApplication.beep()

    def _speak(self, text: str, kind: str) -> None:
        return None

    def close(self) -> None:
        return None

    def said(self, kind: str | None = None) -> list[str]:
        return [t for k, t in self.history if kind is None or k == kind]


class RecordingSpeaker(Speaker):
    """Silent speaker for tests: everything said is in :attr:`history`."""

    backend = "recording"


class _ThreadSpeaker(Speaker):
    """Speaks through a worker thread so that the GUI never waits."""

    def __init__(self) -> None:
        super().__init__()
        self._q: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="balance_mon speech", daemon=True)
        self._thread.start()

    def _speak(self, text: str, kind: str) -> None:
        if kind == "count":
            # drop counts still waiting: only the latest is worth saying
            kept = []
            with contextlib.suppress(queue.Empty):
                while True:
                    item = self._q.get_nowait()
                    if item is not None and item[1] != "count":
                        kept.append(item)
            for item in kept:
                self._q.put(item)
        self._q.put((text, kind))

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            try:
                self._utter(item[0])
            except Exception as exc:  # a broken speech backend must not break the program
                log.warning("speech failed: %s", exc)

    def _utter(self, text: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._q.put(None)


class CommandSpeaker(_ThreadSpeaker):
    """A command-line synthesizer (espeak-ng, espeak, say, spd-say)."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.backend = os.path.basename(argv[0])
        super().__init__()

    def _utter(self, text: str) -> None:
        subprocess.run(
            [*self.argv, text],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )


class Pyttsx3Speaker(_ThreadSpeaker):
    backend = "pyttsx3"

    def __init__(self) -> None:
        import pyttsx3  # noqa: F401  (checked by the caller)

        super().__init__()

    def _utter(self, text: str) -> None:
        import pyttsx3

        engine = pyttsx3.init()
        engine.setProperty("rate", 150)
        engine.say(text)
        engine.runAndWait()


def _command() -> list[str] | None:
    rate = "150"
    for name, argv in (
        ("espeak-ng", ["-s", rate]),
        ("espeak", ["-s", rate]),
        ("say", []),
        ("spd-say", ["-w"]),
    ):
        path = shutil.which(name)
        if path and (name != "say" or sys.platform == "darwin"):
            return [path, *argv]
    return None


def make_speaker(enabled: bool = True) -> Speaker:
    """The best available speaker (see the module docstring); silent when none or disabled."""
    if not enabled or os.environ.get("BALANCE_MON_SPEECH", "").lower() in ("0", "off", "no"):
        return Speaker()
    argv = _command()
    if argv is not None:
        return CommandSpeaker(argv)
    try:
        import pyttsx3  # noqa: F401
    except Exception:
        return Speaker()
    return Pyttsx3Speaker()
