"""Live notebook views over the drivers: ``StatusTable`` (a live table fed by watch
streams), ``ProgressView`` (builds, pushes, VM tasks, rollouts) and ``ControlPanel``
(start/stop/pause/resume/delete).

Importing this package imports ipywidgets and anywidget, never an engine SDK: the drivers
handed to these widgets have already imported theirs. ``%load_ext jupyter_virtwork`` does
not import it at all (the magics import it on first use).

    status_table.py  StatusTable + status_table.js (its anywidget front end)
    progress.py      ProgressView, ProgressLog
    controls.py      ControlPanel
    _rows.py         the table's rows and per-row changes, without a widget
    _display.py      an output that a live widget replaces by static HTML when it ends
"""

from .controls import ControlPanel
from .progress import ProgressView
from .status_table import StatusTable

__all__ = ["ControlPanel", "ProgressView", "StatusTable"]
