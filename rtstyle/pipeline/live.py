"""The live session behind ``rtstyle webcam``: a camera (or a file/URL played live) through the frame loop into a
window with a HUD and hotkeys, a recording and the streaming outputs.

The loop is :meth:`rtstyle.pipeline.Pipeline.frames` in live mode: the newest frame is read when the stylizer is
ready, each frame is finished (smoothed, written to the outputs without HUD) as soon as it is stylized, and the
finished frame comes back to this thread, which is where OpenCV's HighGUI needs ``imshow``/``waitKey``. The
hotkeys' changes (style, strength, colour, smoothing, mirror) reach the next frame through the loop's ``before``
hook; pause and snapshots are handled here, between two frames.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rtstyle import catalog
from rtstyle.errors import DeviceError, InputError, Interrupted, OutputError, RtstyleError, Stopped, notice
from rtstyle.io.sinks.base import Sink
from rtstyle.io.sinks.outputs import StreamOptions, describe, open_live_outputs
from rtstyle.io.sinks.video import VideoFileSink, check_video_output
from rtstyle.io.sources import Prepended, Source, camera_spec, is_camera, open_source
from rtstyle.pipeline.loop import Pipeline
from rtstyle.pipeline.smoothing import Smoother, check_mode
from rtstyle.runtime.stylizer import Stylizer
from rtstyle.ui.controls import HOTKEYS_HELP, Controls
from rtstyle.ui.display import WindowSink, has_display
from rtstyle.ui.hud import draw_hud

NO_DISPLAY = "no display found: use --no-window with --record/--serve/--virtual-cam/--push"
FPS_SMOOTHING = 0.9  # weight of the previous value in the HUD's fps/latency averages


@dataclass
class LiveOptions:
    """What a live session asks for (``rtstyle webcam``'s options)."""

    camera: str = "0"  # camera index, /dev/videoN, video file or URL
    loop: bool = False  # a file standing in for the camera starts again at its end
    styles: list[str] = field(default_factory=list)  # empty: every style of the tier
    device: str = "auto"
    tier: str | None = None
    max_side: int | None = None
    scale: float | None = None
    strength: float = 1.0
    preserve_color: bool = False
    smooth: str = "flow"
    width: int | None = None  # capture size and rate asked of a camera
    height: int | None = None
    fps: float | None = None
    mjpg: bool = False
    realtime: bool = True  # a file plays at its own pace (False: as fast as it stylizes)
    mirror: bool = False
    fullscreen: bool = False
    record: Path | None = None
    force: bool = False  # overwrite an existing recording
    crf: int = 18
    preset: str = "veryfast"
    window: bool = True
    max_frames: int | None = None
    snapshot_dir: Path | None = None  # default: the current folder
    stream: StreamOptions = field(default_factory=StreamOptions)
    as_json: bool = False  # the closing summary as JSON on stdout (``rtstyle webcam --json``)
    # frames stylized at once (``Stylizer(lanes=)``): "auto", two on a CPU with two or more cores (more frames per
    # second live, each taking longer: docs/performance.md)
    lanes: int | str = "auto"


@dataclass
class LoopStats:
    frames: int = 0
    fps: float = 0.0
    latency_ms: float = 0.0
    started: float = field(default_factory=time.monotonic)
    snapshots: list[Path] = field(default_factory=list)

    def tick(self, dt: float, latency: float) -> None:
        self.frames += 1
        if dt > 0:
            inst = 1.0 / dt
            self.fps = inst if self.fps == 0 else FPS_SMOOTHING * self.fps + (1 - FPS_SMOOTHING) * inst
        lat = latency * 1000.0
        self.latency_ms = lat if self.latency_ms == 0 else FPS_SMOOTHING * self.latency_ms + (1 - FPS_SMOOTHING) * lat

    def overall_fps(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.frames / elapsed if elapsed > 0 else 0.0


def snapshot_path(directory: Path) -> Path:
    """A new file name ``rtstyle-YYYYmmdd-HHMMSS-mmm.png`` in ``directory``."""
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"
    path = directory / f"rtstyle-{stamp}.png"
    n = 1
    while path.exists():
        path = directory / f"rtstyle-{stamp}-{n}.png"
        n += 1
    return path


def tier_styles(tier: str | None, device: str) -> tuple[str, list[str]]:
    """``(tier, names)``: all catalogue styles of the tier (default: the tier the default style resolves to)."""
    if tier is None:
        tier = catalog.default_style(tier=None, device=device).tier
    names = [s.name for s in catalog.list_styles() if s.tier == tier]
    return tier, list(dict.fromkeys(names))


def _short(provider: str) -> str:
    return provider.replace("ExecutionProvider", "")


class _Live:
    """The state a session changes between frames: the controls, the style shown, the HUD's averages."""

    def __init__(self, stylizer: Stylizer, smoother: Smoother, controls: Controls, snap_dir: Path) -> None:
        self.stylizer, self.smoother, self.controls, self.snap_dir = stylizer, smoother, controls, snap_dir
        self.stats = LoopStats()
        self.label = self._apply_style()
        self.applied = (controls.index, controls.blend)

    def _apply_style(self) -> str:
        """Select the controls' style (or its 50/50 blend with the next one); returns the HUD label."""
        c = self.controls
        if c.blend and len(c.styles) > 1:
            other = c.styles[(c.index + 1) % len(c.styles)]
            self.stylizer.set_style({c.style: 0.5, other: 0.5})
            return f"{c.style}+{other}"
        self.stylizer.set_style(c.style)
        return c.style

    def before(self, frame: np.ndarray) -> np.ndarray:
        """The loop's hook before each frame: the hotkeys' changes reach this frame."""
        c = self.controls
        if c.mirror:
            frame = np.ascontiguousarray(frame[:, ::-1])
        if (c.index, c.blend) != self.applied:
            self.label = self._apply_style()
            self.applied = (c.index, c.blend)
            self.smoother.reset()  # a clean cut to the new style, no cross-fade from the old one
        self.stylizer.strength = c.strength
        self.stylizer.preserve_color = c.preserve_color
        if self.smoother.mode != c.smooth:
            self.smoother.mode = c.smooth
        return frame

    def hud(self, frame: np.ndarray, status: dict[str, Any] | None = None) -> np.ndarray:
        c = self.controls
        pos = f" ({c.index + 1}/{len(c.styles)})" if len(c.styles) > 1 else ""
        return draw_hud(
            frame, self.stats.fps, self.stats.latency_ms, self.label + pos, self.stylizer.provider, c.status()
        )

    def hud_for_outputs(self, frame: np.ndarray, status: dict[str, Any]) -> np.ndarray:
        return self.hud(frame) if self.controls.show_hud else frame

    def react(self, key: int, window: Any, frame: np.ndarray) -> None:
        """Apply a key to the controls and do what cannot wait for the next frame (fullscreen, snapshot)."""
        c = self.controls
        if key < 0 or not c.handle_key(key):
            return
        window.set_fullscreen(c.fullscreen)
        while c.snapshots_requested > 0:
            c.snapshots_requested -= 1
            path = snapshot_path(self.snap_dir)
            if cv2.imwrite(str(path), frame):
                self.stats.snapshots.append(path)
                notice(f"snapshot: {path}")
            else:
                notice(f"snapshot failed: cannot write {path}")


def _open(open_fn: Callable[..., Source], spec: int | str, **kwargs: Any) -> Source:
    try:
        return open_fn(spec, **kwargs)
    except RtstyleError as exc:
        if is_camera(spec):
            msg = str(exc) if "camera" in str(exc) else f"camera {spec} cannot be opened ({exc})"
            raise DeviceError(f"{msg}; `rtstyle cameras` lists the cameras that can") from None
        raise


def run_live(
    opts: LiveOptions,
    *,
    open_source: Callable[..., Source] = open_source,
    window_factory: Callable[..., Any] = WindowSink,
    display: Callable[[], bool] = has_display,
    outputs: Callable[[StreamOptions, tuple[int, int], float], list[Sink]] = open_live_outputs,
) -> int:
    """Run a live session until quit, the end of a file, ``max_frames`` or Ctrl-C; returns the exit code (0).

    Prints a summary line. Raises ``RtstyleError`` for user errors, and a ``DeviceError`` after finalising the
    outputs when the camera or stream is lost mid-run. A live output that fails is reported once and dropped or
    retried (``outputs``: :func:`rtstyle.io.sinks.outputs.open_live_outputs`); the recording and the others go on.
    ``open_source``, ``window_factory``, ``display`` and ``outputs`` are there for tests (a fake camera, a fake
    window, failing outputs)."""
    check_mode(opts.smooth)
    if not 0.0 <= opts.strength <= 1.0:
        raise InputError(f"--strength must be between 0 and 1, not {opts.strength}")
    if opts.max_frames is not None and opts.max_frames < 1:
        raise InputError("--max-frames must be at least 1")
    any_output = opts.record is not None or opts.stream.any
    show_window = opts.window
    if show_window and not display():
        if not any_output:
            raise DeviceError(NO_DISPLAY)
        notice("no display found: running without a window")
        show_window = False
    record = None if opts.record is None else check_video_output(opts.record.expanduser(), (), opts.force)
    snap_dir = (opts.snapshot_dir or Path.cwd()).expanduser()
    if opts.snapshot_dir is not None:
        snap_dir.mkdir(parents=True, exist_ok=True)

    tier, names = opts.tier, opts.styles
    if not names:
        tier, names = tier_styles(tier, opts.device)
    if not names:
        raise InputError("no styles found: `rtstyle styles` lists them (set RTSTYLE_MODELS for your own)")
    stylizer = Stylizer(
        names[0],
        device=opts.device,
        tier=tier,
        max_side=opts.max_side,
        scale=opts.scale,
        strength=opts.strength,
        preserve_color=opts.preserve_color,
        lanes=opts.lanes,
    )
    stylizer.preload(names)  # every style loaded now: switching with n/p never stalls on a model load
    smoother = Smoother(mode=opts.smooth)
    controls = Controls(
        styles=names,
        smooth=opts.smooth,
        strength=opts.strength,
        preserve_color=opts.preserve_color,
        mirror=opts.mirror,
        fullscreen=opts.fullscreen,
    )
    camera = opts.camera
    spec = camera_spec(camera)
    source = _open(
        open_source,
        spec,
        realtime=opts.realtime,
        width=opts.width,
        height=opts.height,
        fps=opts.fps,
        mjpg=opts.mjpg,
        loop=opts.loop,
    )
    what = f"camera {camera}" if is_camera(spec) else f"stream {camera}"
    live = _Live(stylizer, smoother, controls, snap_dir)
    sinks: list[Sink] = []
    window = None
    pipeline: Pipeline | None = None
    lost_message = None
    stopped_by: KeyboardInterrupt | None = None
    recorder: VideoFileSink | None = None
    try:
        first = source.read()
        if first is None:
            if source.is_live:
                raise DeviceError(f"camera {camera} delivered no frame; `rtstyle cameras` lists the cameras that work")
            raise InputError(f"{camera}: no frames to read")
        size = (int(first[0].shape[1]), int(first[0].shape[0]))
        out_fps = float(source.fps or 0.0) or float(opts.fps or 0.0) or 30.0
        # streaming outputs first: when one cannot start, no empty recording is left behind
        sinks.extend(outputs(opts.stream, size, out_fps))  # each one guarded: its failure is its own
        if record is not None:
            # Live sources are recorded on the wall clock; a file keeps its own timing.
            stamps = "wallclock" if source.is_live else "source"
            input_path = None if source.is_live or is_camera(spec) else str(spec)
            recorder = VideoFileSink(
                record,
                out_fps,
                size,
                crf=opts.crf,
                preset=opts.preset,
                timestamps=stamps,
                input_path=input_path,
                force=opts.force,
            )
            sinks.insert(0, recorder)
        if show_window:
            window = window_factory(f"rtstyle - {camera}", fullscreen=opts.fullscreen)
        if not any_output and not show_window:
            notice("no output asked for: frames are stylized and dropped (add --record, --serve, ...)")
        source_desc = getattr(source, "description", "") or str(camera)
        where = ", ".join(describe(s) for s in sinks) or "no outputs"
        notice(f"{source_desc} -> {where}; provider {_short(stylizer.provider)}")
        if window is not None:
            notice(HOTKEYS_HELP)
        pipeline = Pipeline(
            Prepended(first, source),
            stylizer,
            smoother,
            sinks,
            hud=live.hud_for_outputs,
            live=True,
            keep_on_interrupt=True,
        )
        frames = pipeline.frames(max_frames=opts.max_frames, before=live.before)
        last_tick = time.monotonic()
        try:
            for done in frames:
                try:
                    now = time.monotonic()
                    live.stats.tick(now - last_tick, done.latency)
                    last_tick = now
                    if window is not None:
                        shown = (
                            (done.hud if done.hud is not None else live.hud(done.output))
                            if controls.show_hud
                            else done.output
                        )
                        live.react(window.show(shown), window, done.output)
                        while controls.paused and not controls.quit:
                            live.react(window.show(live.hud(done.output), wait_ms=30), window, done.output)
                            last_tick = time.monotonic()
                    if controls.quit:
                        pipeline.stop()
                except BaseException as exc:  # the loop winds down (outputs finalised or aborted) and re-raises
                    frames.throw(exc)
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: the outputs are finalised (recording kept)
            notice("interrupted: finishing the outputs")
            stopped_by = exc
        except RtstyleError as exc:
            if exc is not pipeline.source_error or not source.is_live:
                raise
            lost_message = f"{what} was lost: {exc}"
        if pipeline.end == "source" and source.is_live:
            lost_message = f"{what} stopped delivering frames (unplugged or ended?)"
    finally:
        smoother.close()
        if window is not None:
            window.close()
        if pipeline is None:  # the loop never ran: it closes what it runs on, this closes the rest
            for sink in sinks:
                sink.abort()
            source.close()
    errors = pipeline.close_errors if pipeline is not None else []
    stats = live.stats
    lanes = f" ({stylizer.lanes} frames at once)" if stylizer.lanes > 1 else ""
    summary = f"{stats.frames} frames, {stats.overall_fps():.1f} fps, provider {_short(stylizer.provider)}{lanes}"
    run = pipeline.stats if pipeline is not None and stats.frames else None  # capture to output, whole session
    if run is not None:
        summary += f", {run.latency_text()}"
    if recorder is not None:
        record = recorder.path  # OUT, or OUT-1.mp4 when a file appeared under OUT's name meanwhile
    if record is not None and not errors:
        summary += f"; recorded to {record}"
    if stats.snapshots:
        summary += f"; {len(stats.snapshots)} snapshot(s) in {snap_dir}"
    if opts.as_json:
        result = {
            "frames": stats.frames, "fps": round(stats.overall_fps(), 2), "provider": stylizer.provider,
            "lanes": stylizer.lanes, "styles": names, "recorded": str(record) if record is not None and not errors else None,
            "snapshots": [str(p) for p in stats.snapshots],
            "latency_p50_ms": round(run.latency_p50_ms, 2) if run else None,
            "latency_p95_ms": round(run.latency_p95_ms, 2) if run else None,
        }  # fmt: skip
        print(json.dumps(result, indent=2), flush=True)
    else:
        print(summary, flush=True)
    if errors:
        raise OutputError(errors[0])
    if lost_message is not None:
        kept = f"; the recording up to that point is in {record}" if record is not None else ""
        raise DeviceError(lost_message + kept)
    if isinstance(stopped_by, Stopped) and stopped_by.signum != signal.SIGINT:  # Ctrl-C is how a session ends: 0
        raise Interrupted.after(stopped_by, f"recorded to {record}" if record is not None else "outputs closed")
    return 0
