"""Stylize a whole library of pictures and videos: ``rtstyle batch``, on a local process pool or on Ray.

``run(inputs, out_dir, how, ...)`` (:func:`rtstyle.batch.driver.run`) is the API; the CLI only maps options onto
it. ``plan`` finds the files and cuts long videos into chunks, ``manifest`` records what is finished, ``work`` runs
one unit in a worker, ``local`` and ``on_ray`` are the two backends.
"""

from rtstyle.batch.driver import (
    DEFAULT_CHUNK_FRAMES,
    DEFAULT_OVERLAP,
    DEFAULT_RETRIES,
    BatchProgress,
    BatchResult,
    FileResult,
    run,
)

__all__ = [
    "DEFAULT_CHUNK_FRAMES",
    "DEFAULT_OVERLAP",
    "DEFAULT_RETRIES",
    "BatchProgress",
    "BatchResult",
    "FileResult",
    "run",
]
