"""The frame loop and the jobs built on it.

``loop``: :class:`Pipeline` (source -> stylize -> smooth -> sinks, one loop for every command);
``smoothing``: :class:`~rtstyle.pipeline.smoothing.Smoother` (temporal smoothing; ``from rtstyle import Smoother``);
``jobs``: stylize a picture, a video file, the demo clip;
``live``: the live session behind ``rtstyle webcam`` (window, hotkeys, recording, streaming outputs).
"""

from __future__ import annotations

from rtstyle.pipeline.loop import Finished, Pipeline, RunStats

__all__ = ["Finished", "Pipeline", "RunStats"]
