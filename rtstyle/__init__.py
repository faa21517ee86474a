"""rtstyle: real-time neural style transfer for video files, webcams and live streams.

    >>> import rtstyle
    >>> with rtstyle.Stylizer("mosaic") as stylize:  # device="auto": CUDA when it really runs, else CPU
    ...     out_bgr = stylize(frame_bgr)               # uint8 HxWx3 in, uint8 HxWx3 out (channels="rgb", PIL too)
    >>> rtstyle.stylize_image("photo.jpg", "out.png", rtstyle.StylizeOptions(style="mosaic"))
    >>> for frame in rtstyle.open_source("clip.mp4"): ...

Everything here is imported on first use (numpy, cv2, onnxruntime and torch are heavy), so ``import rtstyle``
and ``rtstyle --help`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it (imported when the name is first used)
_LAZY = {
    "Stylizer": "rtstyle.runtime.stylizer",
    "Smoother": "rtstyle.pipeline.smoothing",
    "StylizeOptions": "rtstyle.pipeline.jobs",
    "stylize_image": "rtstyle.pipeline.jobs",
    "stylize_video": "rtstyle.pipeline.jobs",
    "stylize_demo": "rtstyle.pipeline.jobs",
    "ImageResult": "rtstyle.pipeline.jobs",
    "VideoResult": "rtstyle.pipeline.jobs",
    "open_source": "rtstyle.io.sources",
    "read_image": "rtstyle.io.images",
    "write_image": "rtstyle.io.images",
    "list_styles": "rtstyle.catalog",
    "RtstyleError": "rtstyle.errors",
    "InputError": "rtstyle.errors",
    "InputNotFound": "rtstyle.errors",
    "OutputError": "rtstyle.errors",
    "StyleNotFound": "rtstyle.errors",
    "DeviceError": "rtstyle.errors",
    "ContractError": "rtstyle.errors",
}

__all__ = [
    "__version__",
    "ContractError",
    "DeviceError",
    "ImageResult",
    "InputError",
    "InputNotFound",
    "OutputError",
    "RtstyleError",
    "StyleNotFound",
    "Smoother",
    "StylizeOptions",
    "Stylizer",
    "VideoResult",
    "list_styles",
    "open_source",
    "read_image",
    "stylize_demo",
    "stylize_image",
    "stylize_video",
    "write_image",
]  # the names of _LAZY (tests/test_api.py checks)

if TYPE_CHECKING:  # pragma: no cover
    from rtstyle.catalog import list_styles
    from rtstyle.errors import (
        ContractError,
        DeviceError,
        InputError,
        InputNotFound,
        OutputError,
        RtstyleError,
        StyleNotFound,
    )
    from rtstyle.io.images import read_image, write_image
    from rtstyle.io.sources import open_source
    from rtstyle.pipeline.jobs import (
        ImageResult,
        StylizeOptions,
        VideoResult,
        stylize_demo,
        stylize_image,
        stylize_video,
    )
    from rtstyle.pipeline.smoothing import Smoother
    from rtstyle.runtime.stylizer import Stylizer


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rtstyle' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
