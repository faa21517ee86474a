"""Where stylized frames go: ``base`` (the :class:`~rtstyle.io.sinks.base.Sink` interface), ``video`` (an MP4 file
with audio), the live outputs ``mjpeg``, ``push`` and ``vcam`` (with ``common``: mailbox, letterbox), and
``outputs`` (the live outputs a command asks for). The live window is a sink too: ``rtstyle.ui.display``.
"""
