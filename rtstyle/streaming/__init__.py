"""Live outputs for streamers and meetings: virtual camera, MJPEG over HTTP, RTMP/SRT push.

Each is a :class:`rtstyle.sinks.Sink`; :func:`make_output_sinks` builds the ones a command asked for.
"""

from __future__ import annotations

from rtstyle.sinks import Sink
from rtstyle.streaming.options import StreamOptions

__all__ = ["StreamOptions", "make_output_sinks"]

DEFAULT_FPS = 30.0


def make_output_sinks(options: StreamOptions, size: tuple[int, int], fps: float) -> list[Sink]:
    """Open the live outputs that ``options`` asks for, for a stream of ``size`` (width, height) at ``fps``.

    Raises an :class:`rtstyle.errors.RtstyleError` (and closes what it already opened) when one cannot start.
    """
    fps = float(fps) if fps and fps > 0 else DEFAULT_FPS
    sinks: list[Sink] = []
    try:
        if options.virtual_cam:
            from rtstyle.streaming.vcam import VirtualCamSink

            sinks.append(
                VirtualCamSink(
                    options.vcam_size or size,
                    options.vcam_fps or fps,
                    backend=options.vcam_backend,
                    device=options.vcam_device,
                    wants_hud=options.hud_on_output,
                )
            )
        if options.serve:
            from rtstyle.streaming.mjpeg import MjpegServerSink

            sinks.append(
                MjpegServerSink(
                    options.serve,
                    jpeg_quality=options.jpeg_quality,
                    serve_fps=options.serve_fps,
                    wants_hud=options.hud_on_output,
                )
            )
        if options.push:
            from rtstyle.streaming.push import PushSink

            sinks.append(
                PushSink(
                    options.push,
                    size,
                    fps,
                    audio=options.push_audio,
                    bitrate=options.push_bitrate,
                    fmt=options.push_format,
                    wants_hud=options.hud_on_output,
                )
            )
    except BaseException:
        for s in sinks:
            try:
                s.abort()
            except Exception:
                pass
        raise
    return sinks
