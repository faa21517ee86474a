"""The jobs the commands run, as library calls: stylize a picture, a video file, the generated demo clip.

Each checks its input and output before any work (one-line ``RtstyleError``s), runs, and returns what happened;
the CLI only maps options onto them and prints the result. A job that runs the frame loop reports progress to an
optional :class:`Progress` (the CLI's progress bar).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rtstyle.choices import X264_PRESETS, Device, SmoothMode, Tier
from rtstyle.errors import InputError, OutputError, notice
from rtstyle.files import check_output_path
from rtstyle.io.demo_clip import write_demo_clip
from rtstyle.io.images import check_image_format, read_image, write_image
from rtstyle.io.probe import check_readable
from rtstyle.io.sinks.video import VideoFileSink, check_video_output
from rtstyle.io.sources import FileSource
from rtstyle.pipeline.loop import Pipeline, RunStats
from rtstyle.pipeline.smoothing import make_smoother
from rtstyle.runtime.stylizer import Stylizer


class Progress(Protocol):
    """Told what runs (``start``) and then, after each frame, how far it got."""

    def start(self, label: str) -> None: ...

    def __call__(self, done: int, total: int | None, fps: float) -> None: ...


@dataclass
class StylizeOptions:
    """How to stylize: what :class:`rtstyle.Stylizer` takes, shared by every job."""

    style: str | None = None
    device: Device = "auto"
    tier: Tier | None = None
    max_side: int | None = None
    scale: float | None = None
    strength: float = 1.0
    preserve_color: bool = False
    blend: str | None = None
    # frames stylized at once in the frame loop (``Stylizer(lanes=)``): one for a file, whose decoder, smoother and
    # encoder keep the cores busy already (two measured no faster, docs/performance.md); a picture always takes 1
    lanes: int | str = 1

    def stylizer(self, **extra: Any) -> Stylizer:
        """A :class:`Stylizer` with these options; ``extra``: its other keyword arguments (``threads``,
        ``warm_up``) or a ``device``, ``tier`` or ``lanes`` in place of these."""
        kwargs: dict[str, Any] = {
            "device": self.device,
            "tier": self.tier,
            "max_side": self.max_side,
            "scale": self.scale,
            "strength": self.strength,
            "preserve_color": self.preserve_color,
            "blend": self.blend,
            "lanes": self.lanes,
        }
        return Stylizer(self.style, **{**kwargs, **extra})


@dataclass
class ImageResult:
    path: Path
    width: int
    height: int
    style: str
    provider: str


@dataclass
class VideoResult:
    stats: RunStats
    audio_mode: str | None  # "copy", "aac" (re-encoded) or None (no audio)
    path: Path | None = None  # where the video went (OUT, or OUT-1.mp4 when OUT appeared meanwhile)


def _run(pipeline: Pipeline, label: str, progress: Progress | None, max_frames: int | None = None) -> RunStats:
    if progress is not None:
        progress.start(label)
    return pipeline.run(progress=progress, max_frames=max_frames)


def stylize_image(
    inp: str | os.PathLike[str],
    out: str | os.PathLike[str],
    how: StylizeOptions | None = None,
    force: bool = False,
    stylizer: Stylizer | None = None,
) -> ImageResult:
    """Stylize one picture (EXIF orientation applied, alpha kept, grayscale accepted) into ``out``, whose extension
    picks the format; ``inp`` is never touched, an existing ``out`` only replaced with ``force``. Everything that can
    be checked is checked before the (possibly long) stylization. ``stylizer``: one already loaded (a folder of
    pictures loads the model once); else ``how`` makes one."""
    inp, out = Path(inp), Path(out)
    check_output_path(out, (inp,), example="out.png", force=force)
    check_image_format(out)
    img = read_image(inp)
    if stylizer is None:
        stylizer = (how or StylizeOptions()).stylizer(lanes=1)  # one frame: all the cores on it
    result = stylizer(img)
    write_image(out, result, force=force)
    h, w = result.shape[:2]
    return ImageResult(out, w, h, stylizer.style, stylizer.provider)


def stylize_video(
    inp: str | os.PathLike[str],
    out: str | os.PathLike[str],
    how: StylizeOptions | None = None,
    smooth: SmoothMode = "flow",
    crf: int = 18,
    preset: str = "veryfast",
    audio: bool = True,
    max_frames: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
    encoder: str | None = None,
) -> VideoResult:
    """Stylize a video file into ``out`` with the input's timing (VFR kept), size and audio; ``out``'s extension
    picks the container (MP4/MOV/MKV: H.264, WebM: VP9 + Opus, GIF), ``encoder`` the video encoder (e.g. ``nvenc``).

    Decoding (PyAV in a thread), inference, smoothing and encoding (PyAV in its own thread) overlap. The
    output is written to a temporary file unique to the run and renamed at the end: Ctrl-C or an error never leaves
    a half-written OUT; OUT == IN, an existing OUT (without ``force``) and an extension the writer does not produce
    are refused before any work."""
    inp, out = Path(inp), Path(out)
    smoother = make_smoother(smooth)
    if preset not in X264_PRESETS:
        raise InputError(f"--preset must be one of {', '.join(X264_PRESETS)}, not {preset!r}")
    if not 0 <= crf <= 51:
        raise InputError(f"--crf must be in 0..51 (lower = better), not {crf}")
    check_readable(inp)
    check_video_output(out, (inp,), force)
    stylizer = (how or StylizeOptions()).stylizer()
    source = FileSource(inp)
    sink = None
    try:
        stylizer.check_size(source.width, source.height)  # refuse frames too large before writing anything
        sink = VideoFileSink(
            out,
            source.fps,
            (source.width, source.height),
            audio_from=inp if audio else None,
            crf=crf,
            preset=preset,
            timescale=source.info.timescale,
            input_path=inp,
            shortest=max_frames is not None,
            force=force,
            encoder=encoder,
        )
        if source.info.rotation:
            notice(f"input is rotated {source.info.rotation} degrees: written upright")
        if source.info.sar != 1:
            notice(f"non-square pixels (SAR {source.info.sar}): written with square pixels")
        if audio and source.info.audio_tracks > 1:
            notice(f"{inp.name} has {source.info.audio_tracks} audio tracks: only the first is kept")
        for note in sink.notes:
            notice(note)
        pipeline = Pipeline(source, stylizer, smoother, [sink])
        stats = _run(pipeline, f"{inp.name} [{stylizer.style}]", progress, max_frames)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    finally:
        source.close()
    if sink.failed or not out.exists():
        raise OutputError(f"{out}: {sink.failed or 'the encoder wrote nothing'}")
    info = source.info
    # the video stream's own packets; for a cut file the header's duration (audio longer than the video is no damage)
    promised = info.frame_count or 0
    if info.damaged and info.duration and info.fps:
        promised = max(promised, round(info.duration * info.fps))
    if max_frames is None and stats.frames < 0.9 * promised - 1:
        notice(f"{inp.name}: only {stats.frames} of about {promised} frames could be read (truncated or damaged?)")
    return VideoResult(stats, sink.audio_mode, sink.path)


def stylize_demo(
    out: str | os.PathLike[str],
    how: StylizeOptions | None = None,
    seconds: float = 4.0,
    smooth: SmoothMode = "flow",
    keep_clip: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> tuple[RunStats, str]:
    """Generate the sample clip (no camera, download or third-party media), stylize it into ``out``; returns the
    run's stats and the style used."""
    out, keep_clip = Path(out), (Path(keep_clip) if keep_clip is not None else None)
    smoother = make_smoother(smooth)
    check_video_output(out, (), force)
    if keep_clip is not None:
        check_video_output(keep_clip, (out,), force)
    how = how or StylizeOptions()
    stylizer = how.stylizer()
    with tempfile.TemporaryDirectory(prefix="rtstyle-demo-") as tmp:
        clip = Path(tmp) / "sample.mp4"
        notice(f"generating a {seconds:g} s sample clip ...")
        write_demo_clip(clip, seconds=seconds)
        if keep_clip is not None:
            shutil.copyfile(clip, keep_clip)
        source = FileSource(clip)
        sink = VideoFileSink(out, source.fps or 25.0, (source.width, source.height), force=force)
        pipeline = Pipeline(source, stylizer, smoother, [sink])
        return _run(pipeline, f"stylizing with {stylizer.style}", progress), stylizer.style
