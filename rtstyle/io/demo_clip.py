"""A sample clip made here, procedurally (no third-party media): a slow camera pan over a synthetic landscape.

Sky gradient, sun, three layers of hills with parallax, drifting clouds, a bouncing ball, a moving car-like box
and a text banner. Deterministic: frame ``i`` is always the same picture. Used by ``rtstyle demo``.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from rtstyle.io.sinks.video import VideoFileSink
from rtstyle.io.sources import Source

DEFAULT_SIZE = (640, 360)
DEFAULT_FPS = 25.0
DEFAULT_SECONDS = 4.0


def _hill_profile(width: int, seed: int, base: float, amp: float) -> np.ndarray:
    """A smooth periodic hill line (y per x) over ``width`` world pixels."""
    rng = np.random.default_rng(seed)
    x = np.arange(width) / width * 2 * math.pi
    y = np.full(width, base, np.float64)
    for k in range(1, 5):
        y += amp / k * np.sin(k * x + rng.uniform(0, 2 * math.pi))
    return y


class DemoScene:
    """Renders frame ``i`` of the sample clip at ``size`` = (width, height)."""

    def __init__(self, size: tuple[int, int] = DEFAULT_SIZE, fps: float = DEFAULT_FPS) -> None:
        self.w, self.h = size
        self.fps = fps
        w, h = self.w, self.h
        self.world = 4 * w  # the pan wraps around a world four frames wide
        self.layers = [
            (_hill_profile(self.world, 1, 0.55 * h, 0.10 * h), (150, 140, 110), 0.25),
            (_hill_profile(self.world, 2, 0.68 * h, 0.08 * h), (70, 120, 60), 0.55),
            (_hill_profile(self.world, 3, 0.82 * h, 0.06 * h), (40, 90, 35), 1.0),
        ]
        # Each hill layer pre-rendered over the whole world (rows below its highest point): frames take columns.
        ys = np.arange(h, dtype=np.float32)[:, None]
        self.ground = []
        for profile, color, _ in self.layers:
            top = max(0, int(profile.min()))
            depth = ys[top:] - profile.astype(np.float32)[None, :]
            shade = np.minimum(depth * 0.4, 40.0)[..., None]
            rgb = np.clip(np.asarray(color, np.float32)[None, None, :] - shade, 0, 255).astype(np.uint8)
            self.ground.append((top, rgb, depth >= 0))
        t = np.linspace(0.0, 1.0, h)[:, None]
        top, bottom = np.array([170, 90, 30], np.float64), np.array([235, 200, 160], np.float64)  # BGR
        self.sky = np.broadcast_to((top * (1 - t) + bottom * t)[:, None, :], (h, w, 3)).astype(np.uint8).copy()
        rng = np.random.default_rng(7)
        self.clouds = [
            (rng.uniform(0, self.world), rng.uniform(0.08, 0.3) * h, rng.uniform(0.6, 1.4)) for _ in range(6)
        ]
        # trees and houses standing on the middle hills (world x, kind, size factor)
        self.props = [(rng.uniform(0, self.world), int(rng.integers(0, 3)), rng.uniform(0.7, 1.3)) for _ in range(28)]

    def frame(self, i: int) -> np.ndarray:
        w, h = self.w, self.h
        t = i / self.fps
        pan = 60.0 * t * (w / 640)  # camera moves right at 60 px/s (at 640 wide)
        img = self.sky.copy()
        s = max(1, round(h / 360 * 28))
        cv2.circle(img, (int(0.78 * w - 0.1 * pan), int(0.22 * h)), s, (80, 220, 255), -1, cv2.LINE_AA)
        for cx, cy, k in self.clouds:
            x = int((cx - 0.4 * pan + 15 * t) % self.world) - w // 2
            for dx, r in ((0, 1.0), (int(25 * k), 0.8), (int(-25 * k), 0.7)):
                cv2.ellipse(
                    img,
                    (x + dx, int(cy)),
                    (int(40 * k * r), int(14 * k * r)),
                    0,
                    0,
                    360,
                    (245, 245, 245),
                    -1,
                    cv2.LINE_AA,
                )
        for li, (profile, _, parallax) in enumerate(self.layers):
            shift = int(pan * parallax)
            idx = (np.arange(w) + shift) % self.world
            top, rgb, inside = self.ground[li]
            np.copyto(img[top:], rgb[:, idx], where=inside[:, idx][..., None])
            if li == 1:
                self._draw_props(img, profile, shift)
        # a red ball bouncing on the front hills and a box "car" driving left
        bx = int((0.3 * w + 90 * t) % w)
        by = int(0.72 * h - abs(math.sin(t * 3.0)) * 0.25 * h)
        cv2.circle(img, (bx, by), max(1, s // 2), (40, 40, 220), -1, cv2.LINE_AA)
        cx = int(w - (140 * t * (w / 640)) % (w + 80))
        cy = int(0.9 * h)
        cv2.rectangle(img, (cx, cy - s), (cx + 2 * s, cy), (200, 120, 30), -1, cv2.LINE_AA)
        cv2.circle(img, (cx + s // 3, cy), max(1, s // 4), (30, 30, 30), -1, cv2.LINE_AA)
        cv2.circle(img, (cx + 5 * s // 3, cy), max(1, s // 4), (30, 30, 30), -1, cv2.LINE_AA)
        scale = h / 360
        cv2.putText(
            img,
            "rtstyle demo",
            (int(16 * scale), int(40 * scale)),
            cv2.FONT_HERSHEY_DUPLEX,
            1.1 * scale,
            (255, 255, 255),
            max(1, round(2 * scale)),
            cv2.LINE_AA,
        )
        return img

    def _draw_props(self, img: np.ndarray, profile: np.ndarray, shift: int) -> None:
        """Trees (triangles on trunks) and houses (box + roof + window) along a hill line."""
        w, h = self.w, self.h
        u = h / 360
        for wx, kind, k in self.props:
            x = int((wx - shift) % self.world)
            if x > w + 40:
                continue
            base = int(profile[int(wx) % self.world]) + int(4 * u)
            size = int(22 * k * u)
            if kind < 2:  # tree
                cv2.rectangle(
                    img, (x - max(1, size // 8), base - size // 2), (x + max(1, size // 8), base), (30, 60, 90), -1
                )
                pts = np.array(
                    [[x - size // 2, base - size // 3], [x + size // 2, base - size // 3], [x, base - 2 * size]]
                )
                cv2.fillPoly(img, [pts.astype(np.int32)], (40, 110 + 30 * kind, 50), cv2.LINE_AA)
            else:  # house
                cv2.rectangle(img, (x - size, base - size), (x + size, base), (170, 200, 230), -1)
                roof = np.array([[x - size - 3, base - size], [x + size + 3, base - size], [x, base - 2 * size]])
                cv2.fillPoly(img, [roof.astype(np.int32)], (50, 60, 170), cv2.LINE_AA)
                cv2.rectangle(img, (x - size // 2, base - 2 * size // 3), (x, base - size // 4), (120, 80, 40), -1)


class DemoClipSource(Source):
    """The sample clip as a :class:`Source` (in memory, no file needed)."""

    def __init__(
        self, seconds: float = DEFAULT_SECONDS, size: tuple[int, int] = DEFAULT_SIZE, fps: float = DEFAULT_FPS
    ) -> None:
        self.scene = DemoScene(size, fps)
        self.width, self.height = size
        self.fps = fps
        self.frame_count = max(1, round(seconds * fps))
        self.description = f"demo clip {size[0]}x{size[1]} {fps:g} fps"
        self._i = 0

    def read(self) -> tuple[np.ndarray, float] | None:
        if self._i >= (self.frame_count or 0):
            return None
        i = self._i
        self._i += 1
        return self.scene.frame(i), i / self.fps

    def close(self) -> None:
        self._i = self.frame_count or 0


def write_demo_clip(
    path: str | Path,
    seconds: float = DEFAULT_SECONDS,
    size: tuple[int, int] = DEFAULT_SIZE,
    fps: float = DEFAULT_FPS,
) -> Path:
    """Write the sample clip as an H.264 MP4 (through the video-file sink)."""
    path = Path(path)
    src = DemoClipSource(seconds, size, fps)
    sink = VideoFileSink(path, fps, size)
    try:
        while (item := src.read()) is not None:
            sink.write(*item)
    except BaseException:
        sink.abort()
        raise
    sink.close()
    return path
