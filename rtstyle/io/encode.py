"""Encoding with PyAV: BGR frames with their timestamps into a video file chosen by its extension, plus audio.

=============================  ==========================================  ==========================================
extension                      video                                       audio (from the input)
=============================  ==========================================  ==========================================
``.mp4`` ``.m4v`` ``.mov``     H.264 (libx264, or ``--encoder``), yuv420p   copied when MP4 takes it, else AAC
``.mkv``                       H.264 (libx264, or ``--encoder``), yuv420p   copied (nearly anything), else AAC
``.webm``                      VP9 (libvpx-vp9, constant quality)          Opus/Vorbis copied, else Opus
``.gif``                       GIF, a palette per frame, ``--gif-fps``     none (GIF has no sound)
=============================  ==========================================  ==========================================

Every frame is encoded with its own timestamp (microseconds, strictly increasing), so variable frame rate survives;
BGR goes to BT.709 limited-range yuv420p in one swscale pass, tagged as such. Audio is demuxed (and re-encoded when
the container cannot take the codec) in the same process and interleaved with the video as it is written.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np

from rtstyle.errors import OutputError
from rtstyle.io.ffmpeg import av_reason

# Audio codecs that go into MP4 as they are; anything else is re-encoded to AAC.
MP4_AUDIO_COPY = frozenset({"aac", "mp3", "ac3", "eac3", "alac"})
MKV_AUDIO_COPY = frozenset(
    {"aac", "mp3", "mp2", "ac3", "eac3", "dts", "truehd", "alac", "flac", "opus", "vorbis", "pcm_s16le", "pcm_s24le"}
)
WEBM_AUDIO_COPY = frozenset({"opus", "vorbis"})
US = Fraction(1, 1_000_000)
GIF_FPS = 15.0  # default frame rate of a GIF (frames in between are dropped)
GIF_MAX_WIDTH = 480  # default largest GIF width (larger frames are scaled down)


@dataclass(frozen=True)
class Container:
    """An output container: FFmpeg muxer, default video codec, audio handling."""

    muxer: str
    video: str  # default software encoder
    audio: str | None  # audio encoder when the input's codec cannot be copied; None: no audio
    audio_copy: frozenset[str]
    h264: bool  # takes H.264 (so the hardware H.264 encoders)
    label: str


CONTAINERS: dict[str, Container] = {
    ".mp4": Container("mp4", "libx264", "aac", MP4_AUDIO_COPY, True, "H.264 MP4"),
    ".m4v": Container("mp4", "libx264", "aac", MP4_AUDIO_COPY, True, "H.264 MP4"),
    ".mov": Container("mov", "libx264", "aac", MP4_AUDIO_COPY, True, "H.264 QuickTime"),
    ".mkv": Container("matroska", "libx264", "aac", MKV_AUDIO_COPY, True, "H.264 Matroska"),
    ".webm": Container("webm", "libvpx-vp9", "libopus", WEBM_AUDIO_COPY, False, "VP9 + Opus WebM"),
    ".gif": Container("gif", "gif", None, frozenset(), False, "GIF"),
}
VIDEO_SUFFIXES = tuple(CONTAINERS)

# --encoder names: an alias, or any FFmpeg encoder name of the build
ENCODER_ALIASES = {
    "x264": "libx264",
    "software": "libx264",
    "nvenc": "h264_nvenc",
    "qsv": "h264_qsv",
    "videotoolbox": "h264_videotoolbox",
    "vt": "h264_videotoolbox",
}
HARDWARE_ENCODERS = ("h264_nvenc", "h264_qsv", "h264_videotoolbox")


def container_for(path: str | os.PathLike) -> Container:
    """The container OUT's extension names; OutputError in one line for an extension rtstyle does not write."""
    suffix = Path(path).suffix.lower()
    found = CONTAINERS.get(suffix)
    if found is None:
        raise OutputError(
            f"{path}: rtstyle writes {', '.join(VIDEO_SUFFIXES)} videos, not {suffix or 'a name without extension'}"
        )
    return found


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even dimensions: the encoder pads odd sizes with one black row/column."""
    return width + (width & 1), height + (height & 1)


def gif_size(width: int, height: int, max_width: int = GIF_MAX_WIDTH) -> tuple[int, int]:
    """A GIF's size: ``width`` x ``height`` scaled down (aspect kept) to at most ``max_width`` wide."""
    if max_width <= 0 or width <= max_width:
        return width, height
    return max_width, max(1, round(height * max_width / width))


def _pixel_format(codec: av.Codec) -> str:
    formats = [f.name for f in (codec.video_formats or ())]
    if not formats or "yuv420p" in formats:
        return "yuv420p"
    return "nv12" if "nv12" in formats else formats[0]


@cache
def encoder_available(name: str) -> str | None:
    """None when FFmpeg's encoder ``name`` opens on this machine (a tiny trial), else why not (one line)."""
    try:
        codec = av.Codec(name, "w")
    except Exception:  # noqa: BLE001 - av raises several kinds for an unknown codec
        return "not in this FFmpeg build"
    if codec.type != "video":
        return "not a video encoder"
    try:
        ctx = av.CodecContext.create(codec)
        ctx.width, ctx.height = 256, 144
        ctx.pix_fmt = _pixel_format(codec)
        ctx.time_base = Fraction(1, 30)
        ctx.framerate = Fraction(30)
        ctx.open()
        frame = av.VideoFrame(256, 144, ctx.pix_fmt)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts = 0
        ctx.encode(frame)
        ctx.encode(None)
    except Exception as exc:  # noqa: BLE001 - whatever the driver says, the encoder does not run here
        return av_reason(exc) if isinstance(exc, av.FFmpegError) else (str(exc) or type(exc).__name__)
    return None


def encoder_report() -> dict[str, dict[str, object]]:
    """Each video encoder ``--encoder`` can name (software and hardware): whether it opens here, and why not."""
    report: dict[str, dict[str, object]] = {}
    for name in ("libx264", "libvpx-vp9", "gif", *HARDWARE_ENCODERS):
        why = encoder_available(name)
        alias = next((a for a, c in ENCODER_ALIASES.items() if c == name), None)
        report[name] = {"runs": why is None, "why": why, "alias": alias}
    return report


def resolve_encoder(name: str | None, container: Container, out: str | os.PathLike = "") -> str:
    """The FFmpeg encoder to use for ``container``: its default for None/``auto``, else ``name`` (or its alias),
    checked to exist, to suit the container and to open here; OutputError in one line otherwise."""
    if not name or name.lower() == "auto":
        return container.video
    codec = ENCODER_ALIASES.get(name.lower(), name)
    if codec not in av.codecs_available:
        raise OutputError(f"--encoder {name}: {codec} is not available here (not in this FFmpeg build)")
    if codec != container.video and not (container.h264 and codec.startswith(("libx264", "h264_"))):
        takes = f"H.264 ({', '.join(('libx264', *HARDWARE_ENCODERS))})" if container.h264 else container.video
        raise OutputError(f"--encoder {name}: {Path(out).suffix or 'these'} files take {takes} only")
    why = encoder_available(codec)
    if why is not None:
        raise OutputError(f"--encoder {name}: {codec} is not available here ({why})")
    return codec


def _video_options(codec: str, crf: int, preset: str) -> dict[str, str]:
    if codec == "libx264":
        return {"preset": preset, "crf": str(crf)}
    if codec == "libvpx-vp9":  # constant quality; realtime speed (the CPU tier must keep up)
        return {"crf": str(min(63, crf + 13)), "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}
    if codec == "h264_nvenc":
        return {"preset": "p4", "rc": "vbr", "cq": str(crf), "b": "0"}
    if codec == "h264_qsv":
        return {"global_quality": str(crf), "preset": "veryfast"}
    if codec == "h264_videotoolbox":
        return {"q:v": str(max(1, min(100, 100 - 2 * crf)))}
    return {}


class _Audio:
    """The first audio stream of ``source``, copied or re-encoded into ``out`` as the video is written."""

    def __init__(self, out: av.container.OutputContainer, source: str, container: Container, shortest: bool) -> None:
        self.input = av.open(source, "r", metadata_errors="replace")
        self.stream_in = self.input.streams.audio[0]
        self.codec = self.stream_in.codec_context.codec.canonical_name
        self.shortest = shortest
        start = self.input.start_time
        self.origin = start / 1_000_000 if start is not None else 0.0
        self.mode = "copy" if self.codec in container.audio_copy else "encode"
        self.encoder_name = container.audio or "aac"
        if self.mode == "copy":
            self.stream_out = out.add_stream_from_template(self.stream_in)
        else:
            rate = self.stream_in.codec_context.sample_rate or 48000
            if self.encoder_name == "libopus":
                rate = 48000
            self.stream_out = out.add_stream(self.encoder_name, rate=rate)
            layout = self.stream_in.codec_context.layout
            channels = min(2, layout.nb_channels if layout else 2)
            self.stream_out.layout = "mono" if channels == 1 else "stereo"
            self.stream_out.bit_rate = 192_000 if self.encoder_name == "aac" else 128_000
            self.resampler: av.AudioResampler | None = None
        self.out = out
        self.packets = self.input.demux(self.stream_in)
        self.done = False
        self.samples = 0
        self.pending: av.Packet | None = None

    def _shift(self, packet: av.Packet) -> None:
        tb = packet.time_base or self.stream_in.time_base
        offset = int(round(self.origin / tb)) if tb else 0
        if packet.pts is not None:
            packet.pts -= offset
        if packet.dts is not None:
            packet.dts -= offset

    def _encode(self, frame: av.AudioFrame | None) -> None:
        if frame is None:
            frames: list[av.AudioFrame | None] = [None]
        else:
            if self.resampler is None:
                fmt = self.stream_out.codec_context.codec.audio_formats[0].name
                self.resampler = av.AudioResampler(
                    format=fmt, layout=self.stream_out.layout.name, rate=self.stream_out.rate
                )
            frame.pts = None
            frames = list(self.resampler.resample(frame))
        for f in frames:
            if f is not None:  # timestamps in samples from 0 (the video starts at 0 too)
                f.pts = self.samples
                f.time_base = Fraction(1, self.stream_out.rate)
                self.samples += f.samples
            for packet in self.stream_out.encode(f):
                self.out.mux(packet)

    def until(self, t: float | None) -> None:
        """Write the audio up to ``t`` seconds (everything when None, or up to the video's end with shortest)."""
        while not self.done:
            packet = self.pending
            self.pending = None
            if packet is None:
                try:
                    packet = next(self.packets)
                except (StopIteration, av.FFmpegError):
                    packet = None
                if packet is None or packet.size == 0 and packet.dts is None:
                    self._end()
                    return
            when = float(packet.pts * packet.time_base) - self.origin if packet.pts is not None else None
            if t is not None and when is not None and when > t:
                self.pending = packet
                return
            if self.mode == "copy":
                self._shift(packet)
                if packet.pts is not None and packet.pts < 0:
                    continue
                packet.stream = self.stream_out
                self.out.mux(packet)
            else:
                try:
                    for frame in self.stream_in.codec_context.decode(packet):
                        self._encode(frame)
                except av.FFmpegError:  # a damaged audio packet: skip it
                    continue

    def _end(self) -> None:
        self.done = True
        if self.mode == "encode":
            try:
                for frame in self.stream_in.codec_context.decode(None):
                    self._encode(frame)
            except av.FFmpegError:
                pass
            self._encode(None)

    def close(self) -> None:
        self.input.close()


class Encoder:
    """PyAV encoding BGR frames with their timestamps (microsecond precision) into ``out_path``.

    The container follows the extension (:data:`CONTAINERS`; ``muxer`` overrides it for a temporary name).
    ``write`` encodes one frame in the calling thread (:class:`rtstyle.io.sinks.video.VideoFileSink` calls it from
    its own); ``finish`` flushes and writes the file's index; ``kill`` stops at once (safe from another thread).
    """

    def __init__(
        self,
        out_path: str | os.PathLike,
        width: int,
        height: int,
        fps: float = 0.0,
        *,
        audio_from: str | None = None,
        audio_codec: str | None = None,
        crf: int = 18,
        preset: str = "veryfast",
        timescale: int | None = None,
        shortest: bool = False,
        container: Container | None = None,
        encoder: str | None = None,
        gif_fps: float = GIF_FPS,
        gif_width: int = GIF_MAX_WIDTH,
    ) -> None:
        self.out_path = str(out_path)
        self.container = container or container_for(out_path)
        self.codec = resolve_encoder(encoder, self.container, out_path)
        self.width, self.height = width, height
        self.gif = self.container.muxer == "gif"
        if self.gif:
            ew, eh = gif_size(width, height, gif_width)
            self.gif_period = 1.0 / gif_fps if gif_fps and gif_fps > 0 else 0.0
        else:
            ew, eh = even_size(width, height)
        self.size = (ew, eh)
        self.padded = not self.gif and (ew, eh) != (width, height)
        self._lock = threading.Lock()
        self._killed = False
        self._finished = False
        self._last_us = -1
        self._next_gif = 0.0
        self._last_t = 0.0
        self.audio_mode: str | None = None
        self._audio: _Audio | None = None
        options: dict[str, str] = {}
        if self.container.muxer in ("mp4", "mov"):
            options = {"movflags": "+faststart", "video_track_timescale": str(timescale or 90000)}
        try:
            self._out = av.open(self.out_path, "w", format=self.container.muxer, options=options)
        except (av.FFmpegError, OSError) as exc:
            reason = av_reason(exc, self.out_path) if isinstance(exc, av.FFmpegError) else exc.strerror or str(exc)
            raise OutputError(f"{self.out_path}: cannot write it ({reason})") from None
        try:
            self._open_video(fps, crf, preset)
            if audio_from and self.container.audio is not None:
                self._audio = _Audio(self._out, str(audio_from), self.container, shortest)
                self.audio_mode = "copy" if self._audio.mode == "copy" else self._audio.encoder_name.removeprefix("lib")
            self._out.start_encoding()  # the header: the muxer's time base for the video is known from here on
            mux_tb = self._stream.time_base or self._tb
            self._step = max(1, math.ceil(mux_tb / self._tb))  # frames at least one muxer tick apart
        except av.FFmpegError as exc:
            self._out.close()
            raise OutputError(f"{self.out_path}: cannot encode ({av_reason(exc, self.out_path)})") from None
        except BaseException:
            self._out.close()
            raise

    def _open_video(self, fps: float, crf: int, preset: str) -> None:
        rate = Fraction(fps).limit_denominator(1001) if fps and fps > 0 else None
        if self.gif and self.gif_period:
            rate = Fraction(1 / self.gif_period).limit_denominator(1000)
        stream = self._out.add_stream(self.codec, rate=rate, options=_video_options(self.codec, crf, preset))
        ctx = stream.codec_context
        ctx.thread_type = "AUTO"  # frame threads, as the ffmpeg command line has them (PyAV's default is slices)
        stream.width, stream.height = self.size
        if self.gif:
            stream.pix_fmt = "pal8"
            ctx.time_base = Fraction(1, 100)  # GIF delays are in hundredths of a second
            self._graph = self._palette_graph()
        else:
            stream.pix_fmt = _pixel_format(ctx.codec)
            ctx.time_base = US
            ctx.color_range = 1  # limited ("tv")
            ctx.color_primaries = 1  # BT.709
            ctx.color_trc = 1
            ctx.colorspace = 1
        self._stream = stream
        self._tb = ctx.time_base

    def _palette_graph(self) -> av.filter.Graph:
        """BGR in, pal8 out: a palette made for each frame (``palettegen`` + ``paletteuse``)."""
        graph = av.filter.Graph()
        src = graph.add_buffer(width=self.size[0], height=self.size[1], format="bgr24", time_base=Fraction(1, 100))
        split = graph.add("split")
        gen = graph.add("palettegen", "stats_mode=single:reserve_transparent=0")
        use = graph.add("paletteuse", "new=1:dither=bayer:bayer_scale=3")
        sink = graph.add("buffersink")
        src.link_to(split)
        split.link_to(use, 0, 0)
        split.link_to(gen, 1, 0)
        gen.link_to(use, 0, 1)
        use.link_to(sink)
        graph.configure()
        return graph

    # writing -------------------------------------------------------------------------------------------------

    def _mux(self, frame: av.VideoFrame | None) -> None:
        for packet in self._stream.encode(frame):
            self._out.mux(packet)

    def _gif_pull(self) -> None:
        while True:
            try:
                out = self._graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            out.time_base = self._tb
            self._mux(out)

    def _video_frame(self, frame: np.ndarray) -> av.VideoFrame:
        h, w = frame.shape[:2]
        if self.gif:
            if (w, h) != self.size:
                frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
            return av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
        if self.padded:
            frame = cv2.copyMakeBorder(frame, 0, self.size[1] - h, 0, self.size[0] - w, cv2.BORDER_CONSTANT, value=0)
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
        return vf.reformat(
            format=self._stream.pix_fmt,
            dst_colorspace="ITU709",
            dst_color_range="MPEG",
            interpolation="BICUBIC",
        )

    def write(self, frame: np.ndarray, timestamp: float) -> None:
        """Encode one frame (uint8 BGR, the encoder's size) at ``timestamp`` seconds (made strictly increasing)."""
        if self.gif:  # a frame per GIF period at most
            if self._last_us >= 0 and timestamp + 1e-6 < self._next_gif:
                return
            self._next_gif = max(timestamp, self._next_gif) + self.gif_period
        with self._lock:
            if self._killed:
                raise OutputError(f"{self.out_path}: the encoder was stopped")
            try:
                ticks = int(round(timestamp / self._tb))
                ticks = max(ticks, self._last_us + self._step if self._last_us >= 0 else 0, 0)
                self._last_us = ticks
                self._last_t = float(ticks * self._tb)
                vf = self._video_frame(frame)
                vf.pts = ticks
                vf.time_base = self._tb
                if self.gif:
                    self._graph.push(vf)
                    self._gif_pull()
                else:
                    self._mux(vf)
                if self._audio is not None:
                    self._audio.until(self._last_t)
            except av.FFmpegError as exc:
                raise OutputError(f"{self.out_path}: the encoder stopped ({av_reason(exc, self.out_path)})") from None
            except OSError as exc:  # the disk filled up, the folder went away
                raise OutputError(f"{self.out_path}: writing failed ({exc.strerror or exc})") from None

    def finish(self, timeout: float | None = None) -> None:
        """Flush the encoder, write the rest of the audio and the file's index; OutputError when it fails."""
        with self._lock:
            if self._killed:
                raise OutputError(f"{self.out_path}: the encoder was stopped")
            if self._finished:
                return
            self._finished = True
            try:
                if self.gif:
                    self._graph.push(None)
                    self._gif_pull()
                self._mux(None)
                if self._audio is not None:
                    end = None
                    if self._audio.shortest:
                        end = self._last_t
                    self._audio.until(end)
                    if not self._audio.done:
                        self._audio._end()
                self._out.close()
            except av.FFmpegError as exc:
                raise OutputError(f"{self.out_path}: encoding failed ({av_reason(exc, self.out_path)})") from None
            except OSError as exc:
                raise OutputError(f"{self.out_path}: writing failed ({exc.strerror or exc})") from None
            finally:
                self._close_quietly()

    def _close_quietly(self) -> None:
        for closer in (self._out.close, self._audio.close if self._audio else None):
            if closer is None:
                continue
            try:
                closer()
            except Exception:  # noqa: BLE001 - stopping: the file is deleted anyway
                pass

    def kill(self) -> None:
        """Stop now (from any thread): nothing more is encoded; the file left behind is incomplete."""
        with self._lock:
            self._killed = True
            self._close_quietly()
