"""Compatibility names: the runtime lives in ``rtstyle.runtime`` (``hardware``, ``session``, ``stylizer``).

Kept so that ``from rtstyle.engine import Stylizer`` (rtstyle.evaluate, the training tests, user code) still works;
new code imports from ``rtstyle.runtime``.
"""

from __future__ import annotations

from rtstyle.choices import DEVICES
from rtstyle.runtime.hardware import CPU_EP, CUDA_EP, cuda_unavailable_reason, physical_cores, resolve_device
from rtstyle.runtime.session import StyleSession, describe_session, load_session, session_options
from rtstyle.runtime.stylizer import MAX_PIXELS, Stylizer

__all__ = [
    "CPU_EP",
    "CUDA_EP",
    "DEVICES",
    "MAX_PIXELS",
    "StyleSession",
    "Stylizer",
    "cuda_unavailable_reason",
    "describe_session",
    "load_session",
    "physical_cores",
    "resolve_device",
    "session_options",
]
