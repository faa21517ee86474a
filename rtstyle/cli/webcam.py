"""``rtstyle webcam``: live stylization of a camera (or a file/URL played live) in a window with a HUD and hotkeys,
optionally recorded and streamed. The session is :func:`rtstyle.pipeline.live.run_live`; this is its options
(declared in ``rtstyle.cli.options``, checked there when the command line is parsed)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from rtstyle.cli import options as o


def webcam(
    camera: o.Camera = "0",
    loop: o.Loop = False,
    width: o.CaptureWidth = None,
    height: o.CaptureHeight = None,
    fps: o.CaptureFps = None,
    mjpg: Annotated[
        bool,
        typer.Option(
            "--mjpg", rich_help_panel=o.PANEL_INPUT, help="Ask the camera for MJPG (higher fps at large sizes)."
        ),
    ] = False,
    as_fast_as_possible: Annotated[
        bool,
        typer.Option(
            "--as-fast-as-possible",
            rich_help_panel=o.PANEL_INPUT,
            help="Play a file as fast as it stylizes instead of at its own pace.",
        ),
    ] = False,
    style: o.Styles = None,
    tier: o.Tier = None,
    max_side: o.MaxSide = None,
    scale: o.Scale = None,
    strength: o.Strength = 1.0,
    preserve_color: o.PreserveColor = False,
    smooth: o.Smooth = o.DEFAULT_SMOOTH,
    mirror: Annotated[
        bool, typer.Option("--mirror", rich_help_panel=o.PANEL_DISPLAY, help="Mirror the picture (hotkey m).")
    ] = False,
    fullscreen: Annotated[
        bool, typer.Option("--fullscreen", rich_help_panel=o.PANEL_DISPLAY, help="Start full screen (hotkey f).")
    ] = False,
    no_window: Annotated[
        bool, typer.Option("--no-window", rich_help_panel=o.PANEL_DISPLAY, help="Run without a window (headless).")
    ] = False,
    record: o.Record = None,
    force: o.Force = False,
    crf: o.Crf = o.DEFAULT_CRF,
    preset: o.Preset = o.DEFAULT_PRESET,
    snapshot_dir: Annotated[
        Path | None,
        typer.Option(
            "--snapshot-dir", rich_help_panel=o.PANEL_OUTPUT, help="Where snapshots go (default: current folder)."
        ),
    ] = None,
    virtual_cam: o.VirtualCam = False,
    vcam_size: o.VcamSize = None,
    vcam_fps: o.VcamFps = None,
    vcam_device: o.VcamDevice = None,
    vcam_backend: o.VcamBackend = None,
    serve: o.Serve = None,
    jpeg_quality: o.JpegQuality = 80,
    serve_fps: o.ServeFps = None,
    serve_max_clients: o.ServeMaxClients = 16,
    push: o.Push = None,
    push_audio: o.PushAudio = None,
    push_bitrate: o.PushBitrate = None,
    hud_on_output: o.HudOnOutput = False,
    device: o.DeviceOpt = o.DEFAULT_DEVICE,
    lanes: o.Lanes = None,
    max_frames: o.MaxFrames = None,
    as_json: o.AsJson = False,
    be_quiet: o.Quiet = False,
    be_verbose: o.Verbose = False,
) -> None:
    """Stylize a camera live: window with HUD and hotkeys, optional recording and streaming outputs.

    Hotkeys: n/p or arrows next/previous style, s smoothing, +/- strength, c colour, m mirror, f fullscreen,
    space pause, Enter/k snapshot, b blend with the next style, h HUD, q/Esc quit.
    """
    from rtstyle.adjust import parse_size
    from rtstyle.io.sinks.outputs import StreamOptions
    from rtstyle.pipeline.live import LiveOptions, run_live

    size = parse_size(vcam_size, "--vcam-size", lo=2, hi=8192) if vcam_size else None
    stream = StreamOptions(
        virtual_cam=virtual_cam, vcam_size=size, vcam_fps=vcam_fps, vcam_device=vcam_device,
        vcam_backend=vcam_backend, serve=serve, jpeg_quality=jpeg_quality, serve_fps=serve_fps,
        serve_max_clients=serve_max_clients, push=push, push_audio=push_audio, push_bitrate=push_bitrate,
        hud_on_output=hud_on_output,
    )  # fmt: skip
    opts = LiveOptions(
        camera=camera, loop=loop, styles=o.parse_styles(style), device=device.value, tier=tier and tier.value,
        max_side=max_side, scale=scale, strength=strength, preserve_color=preserve_color, smooth=smooth.value,
        width=width, height=height, fps=fps, mjpg=mjpg, realtime=not as_fast_as_possible, mirror=mirror,
        fullscreen=fullscreen, record=record, force=force, crf=crf, preset=preset.value, window=not no_window,
        max_frames=max_frames, snapshot_dir=snapshot_dir, stream=stream, as_json=as_json,
        lanes="auto" if lanes is None else lanes,
    )  # fmt: skip
    with _quiet_stdout(keep=as_json):
        code = run_live(opts)
    if code:
        raise typer.Exit(code)


@contextlib.contextmanager
def _quiet_stdout(keep: bool = False) -> Iterator[None]:
    """--quiet: the session's summary line is not printed (errors still are, on stderr); with ``keep``
    (``--json``) stdout stays, since it holds only the JSON result, as with ``rtstyle video --json -q``."""
    from rtstyle.cli.console import quiet

    if keep or not quiet():
        yield
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  rtstyle webcam -s mosaic                              a window with the HUD; n/p switch styles\n\n"
    "  rtstyle webcam --camera clip.mp4 --loop --record out.mp4   a file stands in for the camera\n\n"
    "  rtstyle webcam -s mosaic --no-window --serve 8080     headless: an OBS browser source at http://127.0.0.1:8080/\n\n"
    "  rtstyle webcam -s mosaic --virtual-cam --vcam-size 1280x720   a camera for Zoom, Meet, Teams\n\n"
    "  rtstyle webcam -s mosaic --push rtmp://live.twitch.tv/app/KEY   live to a streaming server"
)


def register(app: typer.Typer) -> None:
    app.command("webcam", epilog=EPILOG)(webcam)
