"""``rtstyle cameras``: list the cameras OpenCV can open, with their default size and frame rate."""

from __future__ import annotations

import glob
import json
import os
import re
import sys
from dataclasses import asdict, dataclass

import typer

from rtstyle.cli import options as o
from rtstyle.cli.console import error_line

OPEN_TIMEOUT_MS = 1500
MAX_INDEX = 10


@dataclass
class CameraInfo:
    spec: str  # what to pass to ``rtstyle webcam --camera``
    width: int
    height: int
    fps: float
    backend: str


def _candidates(max_index: int = MAX_INDEX) -> list[int | str]:
    """Indices 0..max_index-1, plus /dev/videoN nodes on Linux that those indices do not already cover."""
    specs: list[int | str] = list(range(max_index))
    if sys.platform.startswith("linux"):
        for path in sorted(glob.glob("/dev/video*"), key=lambda p: (len(p), p)):
            m = re.fullmatch(r"/dev/video(\d+)", path)
            if m and int(m.group(1)) < max_index:
                continue
            specs.append(path)
    return specs


def _probe(spec: int | str) -> CameraInfo | None:
    import cv2

    if isinstance(spec, int) and sys.platform.startswith("linux") and not os.path.exists(f"/dev/video{spec}"):
        return None  # V4L2 maps index N to /dev/videoN: nothing to open, skip the driver round trip
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, OPEN_TIMEOUT_MS]
    try:
        cap = cv2.VideoCapture(spec, cv2.CAP_ANY, params)
    except (cv2.error, TypeError):
        cap = cv2.VideoCapture(spec)
    try:
        if not cap.isOpened():
            return None
        ok, frame = cap.read()
        if not ok or frame is None:
            return None
        h, w = frame.shape[:2]
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        try:
            backend = cap.getBackendName()
        except cv2.error:
            backend = "?"
        return CameraInfo(str(spec), int(w), int(h), fps, backend)
    finally:
        cap.release()


def probe_cameras(max_index: int = MAX_INDEX) -> list[CameraInfo]:
    """Every camera that opens and delivers a frame."""
    from rtstyle.io import quiet_opencv

    quiet_opencv()
    found = []
    for spec in _candidates(max_index):
        info = _probe(spec)
        if info is not None:
            found.append(info)
    return found


def register(app: typer.Typer) -> None:
    @app.command("cameras")
    def cameras(
        max_index: int = typer.Option(MAX_INDEX, "--max-index", min=1, max=64, help="Probe camera indices 0..N-1."),
        as_json: o.AsJson = False,
    ) -> None:
        """List the cameras that can be opened (use the first column with `rtstyle webcam --camera`).

        Exits 1 when none is found (after saying so), so scripts can test for a camera.
        """
        found = probe_cameras(max_index)
        if as_json:
            print(json.dumps({"cameras": [asdict(cam) for cam in found]}, indent=2))
        elif not found:
            error_line(
                "no cameras found (none of indices 0.."
                f"{max_index - 1}{' or /dev/video*' if sys.platform.startswith('linux') else ''} delivers a frame)"
            )
        for cam in [] if as_json else found:
            fps = f"{cam.fps:g} fps" if cam.fps > 0 else "fps unknown"
            typer.echo(f"{cam.spec}\t{cam.width}x{cam.height}\t{fps}\t({cam.backend})")
        if not found:
            raise typer.Exit(1)
