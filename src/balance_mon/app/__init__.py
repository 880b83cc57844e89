"""The desktop program (``balance-mon gui`` / ``balance-mon demo``); see docs/gui.md.

Modules: :mod:`.launch` (start-up, command-line options), :mod:`.main_window`
(pages, frame timer), :mod:`.worker` (the BLE thread and its asyncio loop),
:mod:`.live` (ring buffers, live sway, capture), :mod:`.runner` (protocols and
home sessions step by step), :mod:`.store_adapter` (the patient database),
:mod:`.simulated` (the simulated patient of the demo), the views and
:mod:`.theme`. Importing the package imports nothing heavy.
"""
