"""rtstyle: real-time neural style transfer for video files, webcams and live streams.

    >>> from rtstyle import Stylizer
    >>> stylize = Stylizer("mosaic")          # device="auto": CUDA when it really runs, else CPU
    >>> out_bgr = stylize(frame_bgr)          # uint8 HxWx3 in, uint8 HxWx3 out

Heavy modules (numpy, cv2, onnxruntime, torch) are imported lazily so ``rtstyle --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Stylizer", "Smoother", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from rtstyle.pipeline.smoothing import Smoother
    from rtstyle.runtime.stylizer import Stylizer


def __getattr__(name: str) -> Any:
    if name == "Stylizer":
        from rtstyle.runtime.stylizer import Stylizer

        return Stylizer
    if name == "Smoother":
        from rtstyle.pipeline.smoothing import Smoother

        return Smoother
    raise AttributeError(f"module 'rtstyle' has no attribute {name!r}")
