"""Push sink: settings, and real pushes to a PyAV listener on loopback (a process of its own) / to a local file."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import synthetic_frame

from rtstyle.errors import DeviceError, OutputError
from rtstyle.io.sinks import mjpeg
from rtstyle.io.sinks.outputs import StreamOptions, make_output_sinks
from rtstyle.io.sinks.push import PushSink, audio_source, container_for, failure_reason, redact, video_settings

# An RTMP server for one stream: what arrived, as JSON on stdout (a process of its own, as a real server is).
LISTENER = """
import json, sys, av
got = {"frames": 0}
c = av.open(sys.argv[1], options={"listen": "1"}, timeout=30)
for s in c.streams:
    cc = s.codec_context
    got[s.type] = {"codec": cc.codec.canonical_name, "width": getattr(cc, "width", 0),
                   "height": getattr(cc, "height", 0), "rate": getattr(cc, "sample_rate", 0),
                   "channels": cc.layout.nb_channels if s.type == "audio" else 0}
try:
    for f in c.decode(video=0):
        got["frames"] += 1
except av.FFmpegError:
    pass  # the publisher hung up
print(json.dumps(got))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 10.0) -> None:
    """Wait until something listens on ``port`` without connecting to it (ffmpeg -listen accepts only once)."""
    table = Path("/proc/net/tcp")
    if not table.exists():
        time.sleep(1.5)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def stream_for(sink: PushSink, seconds: float, fps: float, size: tuple[int, int]) -> None:
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < seconds:
        sink.write(synthetic_frame(size[1], size[0], i), i / fps)
        i += 1
        time.sleep(1 / fps)


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_settings_are_low_latency_h264_with_silent_audio() -> None:
    opts = video_settings((1280, 720), 30)
    assert opts["preset"] == "veryfast" and opts["tune"] == "zerolatency"
    assert opts["g"] == "60" and opts["bf"] == "0"
    assert opts["b"] == opts["maxrate"] == opts["bufsize"] == "2764800"
    assert video_settings((64, 64), 30, bitrate="2500k")["b"] == "2500000"
    assert audio_source(None) == ("silent", "") and audio_source("none") is None
    with pytest.raises(OutputError):
        video_settings((64, 64), 30, bitrate="fast")


def test_container_audio_and_redaction() -> None:
    assert container_for("rtmp://a/b/c") == "flv" and container_for("rtmps://a/b/c") == "flv"
    assert container_for("srt://127.0.0.1:9000?mode=caller") == "mpegts"
    assert container_for("udp://239.0.0.1:1234") == "mpegts"
    assert container_for("out.mkv") is None and container_for("out.mkv", "matroska") == "matroska"
    assert audio_source("pulse:default") == ("pulse", "default")
    assert audio_source("alsa:hw:0") == ("alsa", "hw:0")
    assert audio_source("dshow:audio=Microphone (USB)") == ("dshow", "audio=Microphone (USB)")
    assert audio_source("avfoundation::0") == ("avfoundation", ":0")
    assert audio_source("none") is None
    with pytest.raises(OutputError):
        audio_source("default")
    assert redact("rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl") == "rtmp://a.rtmp.youtube.com/live2/***"
    assert redact("srt://host:9000?streamid=secret&passphrase=x") == "srt://host:9000/***"
    assert redact("rtmp://host/live") == "rtmp://host/live"
    assert redact("/tmp/out.flv") == "/tmp/out.flv"
    log = [
        "[tcp @ 0x55b6] Connection to tcp://127.0.0.1:1?tcp_nodelay=0 failed: Connection refused",
        "Error opening output files: Connection refused",
    ]
    assert failure_reason(log) == "Connection to tcp://127.0.0.1:1 failed: Connection refused"
    assert failure_reason(["frame dropped"]) == "frame dropped" and failure_reason([]) is None


def test_push_to_rtmp_listener_on_loopback() -> None:
    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/test"
    listener = subprocess.Popen([sys.executable, "-c", LISTENER, url], stdout=subprocess.PIPE, text=True)
    try:
        wait_listening(port)
        sink = PushSink(url, (160, 96), 15)
        stream_for(sink, 2.0, 15, (160, 96))
        sink.close()
        out, _ = listener.communicate(timeout=30)
    finally:
        if listener.poll() is None:
            listener.kill()
    got = json.loads(out)
    assert got["video"]["codec"] == "h264" and (got["video"]["width"], got["video"]["height"]) == (160, 96)
    assert got["audio"] == {"codec": "aac", "width": 0, "height": 0, "rate": 44100, "channels": 2}
    assert got["frames"] >= 15  # about 2 s at 15 fps arrived and decoded
    assert sink.stats["sent"] >= 15 and sink.stats["frames"] >= 15


def test_paced_in_real_time_repeats_and_drops(tmp_path: Path) -> None:
    out = tmp_path / "live.ts"
    fps = 20
    sink = PushSink(str(out), (64, 48), fps)
    sink.write(synthetic_frame(48, 64, 0), 0.0)
    time.sleep(1.0)  # a stalled pipeline: the writer repeats the last frame
    for i in range(100):  # a burst far faster than 20 fps: most frames are skipped, write() never waits
        sink.write(synthetic_frame(48, 64, i), 1.0)
    time.sleep(0.5)
    sink.close()
    st = sink.stats
    assert st["frames"] == 101
    assert st["repeated"] >= fps // 2
    assert st["dropped"] >= 50
    n = decoded_frames(out)
    assert n == st["sent"]
    assert fps <= n <= 3 * fps  # frames follow the wall clock (~1.5 s), not the number of writes


def test_refused_connection_is_one_line_device_error() -> None:
    port = free_port()  # nobody listens there
    sink = PushSink(f"rtmp://127.0.0.1:{port}/live/streamkey123", (64, 48), 15, audio="none")
    with pytest.raises(DeviceError) as e:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            sink.write(synthetic_frame(48, 64, 0), 0.0)
            time.sleep(0.05)
    msg = str(e.value)
    assert "streamkey123" not in sink.description and "/live/***" in sink.description
    assert not any("streamkey123" in line for line in sink.log)
    assert "\n" not in msg and "streamkey123" not in msg
    assert msg.startswith(f"push to rtmp://127.0.0.1:{port}/live/*** failed")
    assert "refused" in msg.lower() or "error" in msg.lower()
    sink.close()  # the error was reported once; closing afterwards is quiet


def test_unknown_microphone_format_is_reported() -> None:
    sink = PushSink(os.devnull, (64, 48), 15, audio="nosuchformat:default", fmt="mpegts")
    with pytest.raises(DeviceError, match="nosuchformat"):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            sink.write(np.zeros((48, 64, 3), np.uint8), 0.0)
            time.sleep(0.05)
        sink.close()


def test_make_output_sinks_builds_push(tmp_path: Path) -> None:
    opts = StreamOptions(push=str(tmp_path / "o.flv"), push_audio="none", push_bitrate="800k")
    (sink,) = make_output_sinks(opts, (65, 49), 0)
    try:
        assert isinstance(sink, PushSink)
        assert sink.size == (64, 48) and sink.fps == 30 and "800000" in sink.command
    finally:
        sink.abort()


def test_push_to_a_file_is_h264_and_aac_mpegts(tmp_path: Path) -> None:
    """In process, no ffmpeg child: what is pushed is a playable MPEG-TS with H.264 and a silent AAC track."""
    out = tmp_path / "live.ts"
    sink = PushSink(str(out), (64, 48), 15)
    stream_for(sink, 1.0, 15, (64, 48))
    sink.close()
    with av.open(str(out)) as c:
        assert c.format.name == "mpegts"
        assert c.streams.video[0].codec_context.name == "h264" and c.streams.audio[0].codec_context.name == "aac"
    assert decoded_frames(out) == sink.stats["sent"]


def test_make_output_sinks_closes_what_it_opened_when_one_fails(monkeypatch: pytest.MonkeyPatch) -> None:

    closed = []
    original = mjpeg.MjpegServerSink.close

    def spy(self: mjpeg.MjpegServerSink) -> None:
        closed.append(self.port)
        original(self)

    monkeypatch.setattr(mjpeg.MjpegServerSink, "close", spy)
    opts = StreamOptions(serve="127.0.0.1:0", push="out.flv", push_audio="no-colon-here")
    with pytest.raises(OutputError, match="--push-audio"):
        make_output_sinks(opts, (64, 48), 30)
    assert len(closed) == 1
