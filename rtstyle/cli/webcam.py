"""``rtstyle webcam``: live stylization of a camera (or a file/URL played live) in a window with a HUD and hotkeys,
optionally recorded and streamed. The session is :func:`rtstyle.pipeline.live.run_live`; this is its options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rtstyle.cli import options as o


def stream_options(
    virtual_cam: bool = False,
    vcam_size: str | None = None,
    vcam_fps: float | None = None,
    serve: str | None = None,
    jpeg_quality: int = 80,
    serve_fps: float | None = None,
    push: str | None = None,
    push_audio: str | None = None,
    hud_on_output: bool = False,
    vcam_device: str | None = None,
    vcam_backend: str | None = None,
    push_bitrate: str | None = None,
) -> Any:
    """The streaming flags as ``rtstyle.io.sinks.outputs.StreamOptions`` (``--vcam-size`` parsed: one line when bad)."""
    from rtstyle.adjust import parse_size
    from rtstyle.io.sinks.outputs import StreamOptions

    size = parse_size(vcam_size, "--vcam-size", lo=2, hi=8192) if vcam_size else None
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


def webcam(
    camera: Annotated[
        str, typer.Option("--camera", help="Camera index (see `rtstyle cameras`), video file or URL.")
    ] = "0",
    style: o.Styles = None,
    device: o.DeviceOpt = o.DEFAULT_DEVICE,
    tier: o.Tier = None,
    max_side: o.MaxSide = None,
    scale: o.Scale = None,
    strength: o.Strength = 1.0,
    preserve_color: o.PreserveColor = False,
    smooth: o.Smooth = o.DEFAULT_SMOOTH,
    width: Annotated[int | None, typer.Option("--width", help="Capture width to ask the camera for.")] = None,
    height: Annotated[int | None, typer.Option("--height", help="Capture height to ask the camera for.")] = None,
    fps: Annotated[float | None, typer.Option("--fps", help="Capture frame rate to ask the camera for.")] = None,
    mjpg: Annotated[bool, typer.Option("--mjpg", help="Ask the camera for MJPG (higher fps at large sizes).")] = False,
    as_fast_as_possible: Annotated[
        bool,
        typer.Option("--as-fast-as-possible", help="Play a file as fast as it stylizes instead of at its own pace."),
    ] = False,
    mirror: Annotated[bool, typer.Option("--mirror", help="Mirror the picture (hotkey m).")] = False,
    fullscreen: Annotated[bool, typer.Option("--fullscreen", help="Start full screen (hotkey f).")] = False,
    record: Annotated[
        Path | None, typer.Option("--record", help="Also record to this MP4 (no HUD; a camera on wall-clock time).")
    ] = None,
    force: o.Force = False,
    crf: o.Crf = o.DEFAULT_CRF,
    preset: o.Preset = o.DEFAULT_PRESET,
    no_window: Annotated[bool, typer.Option("--no-window", help="Run without a window (headless).")] = False,
    max_frames: o.MaxFrames = None,
    snapshot_dir: Annotated[
        Path | None, typer.Option("--snapshot-dir", help="Where snapshots go (default: current folder).")
    ] = None,
    virtual_cam: Annotated[bool, typer.Option("--virtual-cam", help="Send the stream to a virtual camera.")] = False,
    vcam_size: Annotated[
        str | None, typer.Option("--vcam-size", help="Virtual camera size WxH (default: the stream's).")
    ] = None,
    vcam_fps: Annotated[
        float | None, typer.Option("--vcam-fps", help="Virtual camera frame rate (default: the stream's).")
    ] = None,
    vcam_device: Annotated[
        str | None, typer.Option("--vcam-device", help="Virtual camera device (e.g. /dev/video10).")
    ] = None,
    vcam_backend: Annotated[
        str | None,
        typer.Option("--vcam-backend", help="pyvirtualcam backend (v4l2loopback, obs, unitycapture); default: auto."),
    ] = None,
    serve: Annotated[
        str | None, typer.Option("--serve", help="[HOST:]PORT: MJPEG over HTTP (OBS browser source).")
    ] = None,
    jpeg_quality: Annotated[int, typer.Option("--jpeg-quality", min=1, max=100, help="JPEG quality for --serve.")] = 80,
    serve_fps: Annotated[
        float | None, typer.Option("--serve-fps", help="Cap on frames per second sent to --serve viewers.")
    ] = None,
    push: Annotated[str | None, typer.Option("--push", help="Push H.264 to an rtmp://, srt://, ... URL.")] = None,
    push_audio: Annotated[
        str | None,
        typer.Option("--push-audio", help="Audio for --push: FMT:INPUT microphone, 'none', default: silence."),
    ] = None,
    push_bitrate: Annotated[
        str | None, typer.Option("--push-bitrate", help="Video bitrate for --push, e.g. 2500k.")
    ] = None,
    hud_on_output: Annotated[
        bool, typer.Option("--hud-on-output", help="Draw the HUD on the streaming outputs too.")
    ] = False,
) -> None:
    """Stylize a camera live: window with HUD and hotkeys, optional recording and streaming outputs.

    Hotkeys: n/p or arrows next/previous style, s smoothing, +/- strength, c colour, m mirror.

    f fullscreen, space pause, Enter/k snapshot, b blend with the next style, h HUD, q/Esc quit.
    """
    from rtstyle.pipeline.live import LiveOptions, run_live

    stream = stream_options(
        virtual_cam, vcam_size, vcam_fps, serve, jpeg_quality, serve_fps, push, push_audio, hud_on_output,
        vcam_device, vcam_backend, push_bitrate,
    )  # fmt: skip
    opts = LiveOptions(
        camera=camera, styles=o.parse_styles(style), device=device.value, tier=tier and tier.value,
        max_side=max_side, scale=scale, strength=strength, preserve_color=preserve_color, smooth=smooth.value,
        width=width, height=height, fps=fps, mjpg=mjpg, realtime=not as_fast_as_possible, mirror=mirror,
        fullscreen=fullscreen, record=record, force=force, crf=crf, preset=preset.value, window=not no_window,
        max_frames=max_frames, snapshot_dir=snapshot_dir, stream=stream,
    )  # fmt: skip
    code = run_live(opts)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("webcam")(webcam)
