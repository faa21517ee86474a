"""``rtstyle webcam``: live stylization of a camera (or a file/URL played live) in a window with a HUD and hotkeys.

The loop runs on the main thread, which is where OpenCV's HighGUI needs ``imshow``/``waitKey``: per frame it
reads the newest frame from the source (whose capture thread drops older ones), stylizes, smooths, hands the
frame to the outputs (recording, streaming; no HUD on them), then shows it with the HUD and applies the key.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

NO_DISPLAY = "no display found: use --no-window with --record/--serve/--virtual-cam/--push"
FPS_SMOOTHING = 0.9  # weight of the previous value in the HUD's fps/latency averages


def parse_styles(values: list[str] | None) -> list[str]:
    """``--style a --style b,c`` -> ``["a", "b", "c"]`` (order kept, duplicates dropped)."""
    out: list[str] = []
    for v in values or []:
        for name in v.split(","):
            name = name.strip()
            if name and name not in out:
                out.append(name)
    return out


def camera_spec(text: str) -> int | str:
    """``"0"`` -> camera index 0; anything else (file, URL, /dev/video2) stays a string."""
    text = text.strip()
    return int(text) if text.isdigit() else text


def _tier_styles(tier: str | None, device: str) -> tuple[str, list[str]]:
    """``(tier, names)``: all catalogue styles of the tier (default: the tier the default style resolves to)."""
    from rtstyle import catalog

    if tier is None:
        tier = catalog.default_style(tier=None, device=device).tier
    names = [s.name for s in catalog.list_styles() if s.tier == tier]
    return tier, list(dict.fromkeys(names))


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


def _notice(message: str) -> None:
    print(f"rtstyle: {message}", file=sys.stderr, flush=True)


def _is_camera(spec: int | str) -> bool:
    return isinstance(spec, int) or str(spec).startswith("/dev/video")


def _open_source(spec: int | str, **kwargs: Any) -> Any:
    from rtstyle.errors import DeviceError, RtstyleError
    from rtstyle.sources import open_source

    try:
        return open_source(spec, **kwargs)
    except RtstyleError as exc:
        if _is_camera(spec):
            msg = str(exc) if "camera" in str(exc) else f"camera {spec} cannot be opened ({exc})"
            raise DeviceError(f"{msg}; `rtstyle cameras` lists the cameras that can") from None
        raise


def _apply_style(stylizer: Any, controls: Any) -> str:
    """Select the controls' style (or its 50/50 blend with the next one); returns the HUD label."""
    name = controls.style
    if controls.blend and len(controls.styles) > 1:
        other = controls.styles[(controls.index + 1) % len(controls.styles)]
        stylizer.set_style({name: 0.5, other: 0.5})
        return f"{name}+{other}"
    stylizer.set_style(name)
    return name


def run_webcam(
    camera: str,
    styles: list[str],
    device: str,
    tier: str | None,
    max_side: int | None,
    scale: float | None,
    strength: float,
    preserve_color: bool,
    smooth: str,
    width: int | None,
    height: int | None,
    fps: float | None,
    mjpg: bool,
    as_fast_as_possible: bool,
    mirror: bool,
    fullscreen: bool,
    record: Path | None,
    crf: int,
    preset: str,
    no_window: bool,
    max_frames: int | None,
    snapshot_dir: Path | None,
    stream_options: Any,
) -> int:
    """Run the live loop; returns the exit code. Raises ``RtstyleError`` for user errors."""
    from rtstyle.errors import DeviceError, InputError, OutputError, RtstyleError
    from rtstyle.window import Controls, has_display

    if smooth not in ("flow", "ema", "off"):
        raise InputError(f"--smooth must be flow, ema or off, not {smooth!r}")
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"--strength must be between 0 and 1, not {strength}")
    if max_frames is not None and max_frames < 1:
        raise InputError("--max-frames must be at least 1")
    any_output = record is not None or stream_options.any
    show_window = not no_window
    if show_window and not has_display():
        if not any_output:
            raise DeviceError(NO_DISPLAY)
        _notice("no display found: running without a window")
        show_window = False
    if record is not None:
        record = record.expanduser()
        if not record.parent.exists():
            raise OutputError(f"cannot record to {record}: folder {record.parent} does not exist")
    snap_dir = (snapshot_dir or Path.cwd()).expanduser()
    if snapshot_dir is not None:
        snap_dir.mkdir(parents=True, exist_ok=True)

    import numpy as np

    from rtstyle.engine import Stylizer
    from rtstyle.smoothing import Smoother

    names = styles
    if not names:
        tier, names = _tier_styles(tier, device)
    if not names:
        raise InputError("no styles found: `rtstyle styles` lists them (set RTSTYLE_MODELS for your own)")
    stylizer = Stylizer(
        names[0],
        device=device,
        tier=tier,
        max_side=max_side,
        scale=scale,
        strength=strength,
        preserve_color=preserve_color,
    )
    stylizer.preload(names)  # every style loaded now: switching with n/p never stalls on a model load
    smoother = Smoother(mode=smooth)
    controls = Controls(
        styles=names,
        smooth=smooth,
        strength=strength,
        preserve_color=preserve_color,
        mirror=mirror,
        fullscreen=fullscreen,
    )

    spec = camera_spec(camera)
    source = _open_source(spec, realtime=not as_fast_as_possible, width=width, height=height, fps=fps, mjpg=mjpg)
    sinks: list[Any] = []
    window = None
    stats = LoopStats()
    exit_code = 0
    lost_message = None
    try:
        first = source.read()
        if first is None:
            if source.is_live:
                raise DeviceError(f"camera {camera} delivered no frame; `rtstyle cameras` lists the cameras that work")
            raise InputError(f"{camera}: no frames to read")
        frame0 = first[0]
        size = (int(frame0.shape[1]), int(frame0.shape[0]))
        out_fps = float(source.fps or 0.0) or float(fps or 0.0) or 30.0
        if stream_options.any:  # first: when one cannot start, no empty recording is left behind
            try:
                from rtstyle.streaming import make_output_sinks
            except ImportError:
                raise DeviceError(
                    "live outputs (--serve/--virtual-cam/--push) are not available in this build"
                ) from None
            sinks.extend(make_output_sinks(stream_options, size, out_fps))
        if record is not None:
            from rtstyle.sinks_video import VideoFileSink

            # Live sources are recorded on the wall clock; a file keeps its own timing.
            stamps = "wallclock" if source.is_live else "source"
            input_path = None if source.is_live or _is_camera(spec) else str(spec)
            sinks.insert(
                0,
                VideoFileSink(record, out_fps, size, crf=crf, preset=preset, timestamps=stamps, input_path=input_path),
            )
        if show_window:
            from rtstyle.window import WindowSink

            window = WindowSink(f"rtstyle - {camera}", fullscreen=fullscreen)
        if not any_output and not show_window:
            _notice("no output asked for: frames are stylized and dropped (add --record, --serve, ...)")

        source_desc = getattr(source, "description", "") or str(camera)
        _notice(
            f"{source_desc} -> {', '.join(_describe_sink(s) for s in sinks) or 'no outputs'}; provider {_short(stylizer.provider)}"
        )
        if window is not None:
            from rtstyle.window import HOTKEYS_HELP

            _notice(HOTKEYS_HELP)

        item: tuple[Any, float] | None = first
        label = _apply_style(stylizer, controls)
        applied = (controls.index, controls.blend)
        last_out = None
        last_tick = time.monotonic()
        t0: float | None = None
        try:
            while not controls.quit:
                if controls.paused and last_out is not None:
                    if window is None:
                        controls.paused = False
                    else:
                        key = window.show(_hud(last_out, stats, label, stylizer, controls), wait_ms=30)
                        _react(key, controls, window, last_out, snap_dir, stats)
                        last_tick = time.monotonic()
                        continue
                if item is None:
                    try:
                        item = source.read()
                    except RtstyleError as exc:
                        if not source.is_live:
                            raise
                        lost_message = f"{'camera' if _is_camera(spec) else 'stream'} {camera} was lost: {exc}"
                        break
                    if item is None:
                        if source.is_live:
                            what = f"camera {camera}" if _is_camera(spec) else f"stream {camera}"
                            lost_message = f"{what} stopped delivering frames (unplugged or ended?)"
                        break
                frame, media_ts = item
                item = None
                t_read = time.monotonic()
                if t0 is None:
                    t0 = t_read
                if controls.mirror:
                    frame = np.ascontiguousarray(frame[:, ::-1])
                if (controls.index, controls.blend) != applied:
                    label = _apply_style(stylizer, controls)
                    applied = (controls.index, controls.blend)
                    smoother.reset()  # a clean cut to the new style, no cross-fade from the old one
                stylizer.strength = controls.strength
                stylizer.preserve_color = controls.preserve_color
                if smoother.mode != controls.smooth:
                    smoother.mode = controls.smooth
                out = smoother.apply(frame, stylizer)  # motion analysis runs beside inference
                last_out = out
                hud_frame = None
                ts = t_read - t0 if source.is_live else float(media_ts)
                for sink in sinks:
                    if sink.wants_hud and controls.show_hud:
                        if hud_frame is None:
                            hud_frame = _hud(out, stats, label, stylizer, controls)
                        sink.write(hud_frame, ts)
                    else:
                        sink.write(out, ts)
                now = time.monotonic()
                stats.tick(now - last_tick, now - t_read)
                last_tick = now
                if window is not None:
                    shown = (
                        (hud_frame if hud_frame is not None else _hud(out, stats, label, stylizer, controls))
                        if controls.show_hud
                        else out
                    )
                    key = window.show(shown)
                    _react(key, controls, window, out, snap_dir, stats)
                if max_frames is not None and stats.frames >= max_frames:
                    break
        except KeyboardInterrupt:
            _notice("interrupted: finishing the outputs")
    finally:
        smoother.close()
        if window is not None:
            window.close()
        errors = []
        for sink in sinks:
            try:
                sink.close()
            except RtstyleError as exc:
                errors.append(str(exc))
        source.close()
    provider = _short(stylizer.provider)
    summary = f"{stats.frames} frames, {stats.overall_fps():.1f} fps, provider {provider}"
    if record is not None and not errors:
        summary += f"; recorded to {record}"
    if stats.snapshots:
        summary += f"; {len(stats.snapshots)} snapshot(s) in {snap_dir}"
    print(summary, flush=True)
    if errors:
        raise OutputError(errors[0])
    if lost_message is not None:
        kept = f"; the recording up to that point is in {record}" if record is not None else ""
        raise DeviceError(lost_message + kept)
    return exit_code


def _describe_sink(sink: Any) -> str:
    """``mjpeg http://127.0.0.1:8080/``: the sink's name and where it goes (stream keys redacted)."""
    for attr in ("safe_url", "url", "device", "path"):
        where = getattr(sink, attr, None)
        if isinstance(where, (str, Path)) and str(where):
            return f"{sink.name} {where}"
    return str(sink.name)


def _short(provider: str) -> str:
    return provider.replace("ExecutionProvider", "")


def _hud(frame: Any, stats: LoopStats, label: str, stylizer: Any, controls: Any) -> Any:
    from rtstyle.window import draw_hud

    pos = f" ({controls.index + 1}/{len(controls.styles)})" if len(controls.styles) > 1 else ""
    return draw_hud(frame, stats.fps, stats.latency_ms, label + pos, stylizer.provider, controls.status())


def _react(key: int, controls: Any, window: Any, frame: Any, snap_dir: Path, stats: LoopStats) -> None:
    """Apply a key to the controls and do what cannot wait for the next frame (fullscreen, snapshot)."""
    if key < 0 or not controls.handle_key(key):
        return
    window.set_fullscreen(controls.fullscreen)
    while controls.snapshots_requested > 0:
        controls.snapshots_requested -= 1
        import cv2

        path = snapshot_path(snap_dir)
        if cv2.imwrite(str(path), frame):
            stats.snapshots.append(path)
            _notice(f"snapshot: {path}")
        else:
            _notice(f"snapshot failed: cannot write {path}")


def _stream_options(
    virtual_cam: bool,
    vcam_size: str | None,
    vcam_fps: float | None,
    serve: str | None,
    jpeg_quality: int,
    serve_fps: float | None,
    push: str | None,
    push_audio: str | None,
    hud_on_output: bool,
    *,
    vcam_device: str | None = None,
    vcam_backend: str | None = None,
    push_bitrate: str | None = None,
) -> Any:
    from rtstyle.errors import InputError
    from rtstyle.streaming.options import StreamOptions

    size = None
    if vcam_size:
        try:
            from rtstyle.streaming.common import parse_size

            size = parse_size(vcam_size)
        except ValueError as exc:
            raise InputError(f"--vcam-size: {exc}") from None
    if not 1 <= jpeg_quality <= 100:
        raise InputError(f"--jpeg-quality must be 1..100, not {jpeg_quality}")
    return StreamOptions(
        virtual_cam=virtual_cam,
        vcam_size=size,
        vcam_fps=vcam_fps,
        serve=serve,
        jpeg_quality=jpeg_quality,
        serve_fps=serve_fps,
        push=push,
        push_audio=push_audio,
        hud_on_output=hud_on_output,
        vcam_device=vcam_device,
        vcam_backend=vcam_backend,
        push_bitrate=push_bitrate,
    )


def register(app: typer.Typer) -> None:
    @app.command("webcam")
    def webcam(
        camera: str = typer.Option("0", "--camera", help="Camera index (see `rtstyle cameras`), video file or URL."),
        style: list[str] = typer.Option(
            None, "--style", help="Style(s), repeatable or comma-separated; default: all styles of the tier."
        ),
        device: str = typer.Option("auto", "--device", help="auto, cuda or cpu."),
        tier: str = typer.Option(None, "--tier", help="full or fast (fast: the CPU-friendly models)."),
        max_side: int = typer.Option(
            None, "--max-side", help="Stylize at most this long side and resize back (smaller = larger strokes)."
        ),
        scale: float = typer.Option(None, "--scale", help="Stylize at this fraction of the size (sets stroke size)."),
        strength: float = typer.Option(1.0, "--strength", help="0..1, blend with the original (hotkeys +/-)."),
        preserve_color: bool = typer.Option(False, "--preserve-color", help="Keep the input's colours (hotkey c)."),
        smooth: str = typer.Option("flow", "--smooth", help="Temporal smoothing: flow, ema or off (hotkey s)."),
        width: int = typer.Option(None, "--width", help="Capture width to ask the camera for."),
        height: int = typer.Option(None, "--height", help="Capture height to ask the camera for."),
        fps: float = typer.Option(None, "--fps", help="Capture frame rate to ask the camera for."),
        mjpg: bool = typer.Option(False, "--mjpg", help="Ask the camera for MJPG (higher fps at large sizes)."),
        as_fast_as_possible: bool = typer.Option(
            False, "--as-fast-as-possible", help="Play a file as fast as it stylizes instead of at its own pace."
        ),
        mirror: bool = typer.Option(False, "--mirror", help="Mirror the picture (hotkey m)."),
        fullscreen: bool = typer.Option(False, "--fullscreen", help="Start full screen (hotkey f)."),
        record: Path = typer.Option(
            None, "--record", help="Also record to this MP4 (no HUD; a camera on wall-clock time)."
        ),
        crf: int = typer.Option(20, "--crf", help="H.264 quality of the recording (lower = better)."),
        preset: str = typer.Option("veryfast", "--preset", help="x264 preset of the recording."),
        no_window: bool = typer.Option(False, "--no-window", help="Run without a window (headless)."),
        max_frames: int = typer.Option(None, "--max-frames", help="Stop after this many frames."),
        snapshot_dir: Path = typer.Option(None, "--snapshot-dir", help="Where snapshots go (default: current folder)."),
        virtual_cam: bool = typer.Option(False, "--virtual-cam", help="Send the stream to a virtual camera."),
        vcam_size: str = typer.Option(None, "--vcam-size", help="Virtual camera size WxH (default: the stream's)."),
        vcam_fps: float = typer.Option(None, "--vcam-fps", help="Virtual camera frame rate (default: the stream's)."),
        vcam_device: str = typer.Option(None, "--vcam-device", help="Virtual camera device (e.g. /dev/video10)."),
        vcam_backend: str = typer.Option(
            None, "--vcam-backend", help="pyvirtualcam backend (v4l2loopback, obs, unitycapture); default: auto."
        ),
        serve: str = typer.Option(None, "--serve", help="[HOST:]PORT: MJPEG over HTTP (OBS browser source)."),
        jpeg_quality: int = typer.Option(80, "--jpeg-quality", help="JPEG quality for --serve."),
        serve_fps: float = typer.Option(None, "--serve-fps", help="Cap on frames per second sent to --serve viewers."),
        push: str = typer.Option(None, "--push", help="Push H.264 to an rtmp://, srt://, ... URL."),
        push_audio: str = typer.Option(
            None, "--push-audio", help="Audio for --push: FMT:INPUT microphone, 'none', default: silence."
        ),
        push_bitrate: str = typer.Option(None, "--push-bitrate", help="Video bitrate for --push, e.g. 2500k."),
        hud_on_output: bool = typer.Option(False, "--hud-on-output", help="Draw the HUD on the streaming outputs too."),
    ) -> None:
        """Stylize a camera live: window with HUD and hotkeys, optional recording and streaming outputs.

        Hotkeys: n/p or arrows next/previous style, s smoothing, +/- strength, c colour, m mirror.

        f fullscreen, space pause, Enter/k snapshot, b blend with the next style, h HUD, q/Esc quit.
        """
        opts = _stream_options(
            virtual_cam,
            vcam_size,
            vcam_fps,
            serve,
            jpeg_quality,
            serve_fps,
            push,
            push_audio,
            hud_on_output,
            vcam_device=vcam_device,
            vcam_backend=vcam_backend,
            push_bitrate=push_bitrate,
        )
        code = run_webcam(
            camera=camera,
            styles=parse_styles(style),
            device=device,
            tier=tier,
            max_side=max_side,
            scale=scale,
            strength=strength,
            preserve_color=preserve_color,
            smooth=smooth,
            width=width,
            height=height,
            fps=fps,
            mjpg=mjpg,
            as_fast_as_possible=as_fast_as_possible,
            mirror=mirror,
            fullscreen=fullscreen,
            record=record,
            crf=crf,
            preset=preset,
            no_window=no_window,
            max_frames=max_frames,
            snapshot_dir=snapshot_dir,
            stream_options=opts,
        )
        if code:
            raise typer.Exit(code)
