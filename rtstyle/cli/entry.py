"""The program's entry point (the ``rtstyle`` command and ``python -m rtstyle``): Ctrl-C while it starts is quiet.

Until :func:`rtstyle.cli.main.main` runs its commands inside ``stop_signals``, Python's own handler would answer a
Ctrl-C (or SIGTERM, SIGHUP) in the imports with a traceback. Nothing has been written yet at that point, so
:func:`run` first makes such a signal print the one line every stop prints and exit with 128 + its number. The
library never does this: it is the program's choice, made before anything else is imported.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def _quit_quietly(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"rtstyle: error: interrupted\n")
    os._exit(128 + signum)


def quiet_early_stops() -> None:
    """Until the CLI installs its own handlers, a stop signal exits at once with one line (nothing to wind down)."""
    for name in SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _quit_quietly)


def run() -> None:
    """``rtstyle``: the command line, with stop signals quiet from the first line on."""
    quiet_early_stops()
    from rtstyle.cli.main import main

    main()
