"""Frames in and out.

``ffmpeg`` (the one ffmpeg, started the same way everywhere), ``probe`` (what a video file holds), ``decode``
(frames and timestamps out of ffmpeg), ``matroska`` + ``encode`` (frames and timestamps into an H.264 MP4),
``images`` (pictures), ``sources`` (camera, file, URL), ``demo_clip`` (the generated sample clip) and ``sinks/``
(a video file, MJPEG over HTTP, push, virtual camera).
"""
