"""``rtstyle video IN OUT``: stylize a video file into an H.264 MP4 with the input's timing, size and audio
(:func:`rtstyle.pipeline.jobs.stylize_video`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rtstyle.cli import options as o


def video(
    inp: Annotated[Path, typer.Argument(metavar="IN", help="Input video file.")],
    out: Annotated[
        Path,
        typer.Argument(metavar="OUT", help="Output .mp4/.mov/.mkv (H.264), .webm (VP9) or .gif; never the input file."),
    ],
    style: o.Style = None,
    device: o.DeviceOpt = o.DEFAULT_DEVICE,
    tier: o.Tier = None,
    max_side: o.MaxSide = None,
    scale: o.Scale = None,
    strength: o.Strength = 1.0,
    preserve_color: o.PreserveColor = False,
    blend: o.Blend = None,
    smooth: o.Smooth = o.DEFAULT_SMOOTH,
    crf: o.Crf = o.DEFAULT_CRF,
    preset: o.Preset = o.DEFAULT_PRESET,
    encoder: o.EncoderOpt = None,
    lanes: o.Lanes = None,
    no_audio: Annotated[
        bool, typer.Option("--no-audio", help="Leave the input's audio out.", rich_help_panel=o.PANEL_OUTPUT)
    ] = False,
    max_frames: o.MaxFrames = None,
    force: o.Force = False,
    as_json: o.AsJson = False,
    be_quiet: o.Quiet = False,
    be_verbose: o.Verbose = False,
) -> None:
    """Stylize a video file: same timing (variable frame rate kept), size and audio; the container by OUT's
    extension (MP4/MOV/MKV: H.264, WebM: VP9 + Opus, GIF: 15 fps, at most 480 px wide).

    Example: rtstyle video in.mp4 out.mp4 -s mosaic --crf 18
    """
    from rtstyle.cli.console import detail, say
    from rtstyle.cli.progress import progress_bar
    from rtstyle.errors import Interrupted
    from rtstyle.pipeline.jobs import stylize_video

    how = o.stylize_options(style, device, tier, max_side, scale, strength, preserve_color, blend, lanes)
    try:
        with progress_bar() as bar:
            r = stylize_video(
                inp, out, how, smooth=smooth.value, crf=crf, preset=preset.value, audio=not no_audio,
                max_frames=max_frames, progress=bar, force=force, encoder=encoder,
            )  # fmt: skip
    except KeyboardInterrupt as exc:
        raise Interrupted.after(exc, f"nothing written to {out}") from None
    st = r.stats
    if as_json:
        result = {
            "input": str(inp), "output": str(r.path or out), "frames": st.frames, "seconds": round(st.seconds, 3),
            "fps": round(st.fps, 2), "style": st.style, "provider": st.provider, "audio": r.audio_mode,
            "mean_latency_ms": round(st.mean_latency_ms, 2), "latency_p50_ms": round(st.latency_p50_ms, 2),
            "latency_p95_ms": round(st.latency_p95_ms, 2),
        }  # fmt: skip
        print(json.dumps(result, indent=2))
        return
    audio = {"copy": "audio copied", None: "no audio"}.get(r.audio_mode, f"audio re-encoded to {r.audio_mode}")
    say(f"{st.summary()}, style {st.style}, {audio} -> {r.path or out}")
    detail(f"mean latency {st.mean_latency_ms:.1f} ms per frame (read to stylized and smoothed)")
    for name, figures in st.sink_stats.items():
        detail(f"{name}: " + ", ".join(f"{k} {v:g}" for k, v in figures.items()))


def register(app: typer.Typer) -> None:
    app.command("video")(video)
