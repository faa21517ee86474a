"""Live outputs for streamers and meetings: virtual camera, MJPEG over HTTP, RTMP/SRT push.

Each is a :class:`rtstyle.sinks.Sink`; :func:`make_output_sinks` builds the ones a command asked for.
"""

from rtstyle.streaming.options import StreamOptions

__all__ = ["StreamOptions"]
