"""Push sink: command line, and real pushes to an ffmpeg listening on loopback / to a local file."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from conftest import synthetic_frame

from rtstyle.errors import DeviceError, OutputError
from rtstyle.io.encode import Encoder
from rtstyle.io.sinks import mjpeg
from rtstyle.io.sinks.outputs import StreamOptions, make_output_sinks
from rtstyle.io.sinks.push import PushSink, audio_args, build_command, container_for, failure_reason, redact

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


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


def decoded_frames(stderr: str) -> int:
    counts = re.findall(r"frame=\s*(\d+)", stderr)
    return int(counts[-1]) if counts else 0


def test_command_is_low_latency_h264_with_silent_audio() -> None:
    cmd = build_command("ffmpeg", "rtmp://live.example/app/KEY", (1280, 720), 30)
    s = " ".join(cmd)
    for part in (
        "-f rawvideo -pix_fmt bgr24 -video_size 1280x720 -framerate 30",
        "-i pipe:0",
        "-c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p",
        "-g 60",
        "-bf 0",
        "-b:v 2764800 -maxrate 2764800 -bufsize 2764800",
        "-f lavfi -i anullsrc",
        "-c:a aac",
        "-f flv rtmp://live.example/app/KEY",
    ):
        assert part in s, part
    assert "-b:v 2500000" in " ".join(build_command("ffmpeg", "x.ts", (64, 64), 30, bitrate="2500k"))
    assert "anullsrc" not in " ".join(build_command("ffmpeg", "x.ts", (64, 64), 30, audio="none"))
    with pytest.raises(OutputError):
        build_command("ffmpeg", "x.ts", (64, 64), 30, bitrate="fast")


def test_container_audio_and_redaction() -> None:
    assert container_for("rtmp://a/b/c") == "flv" and container_for("rtmps://a/b/c") == "flv"
    assert container_for("srt://127.0.0.1:9000?mode=caller") == "mpegts"
    assert container_for("udp://239.0.0.1:1234") == "mpegts"
    assert container_for("out.mkv") is None and container_for("out.mkv", "matroska") == "matroska"
    assert audio_args("pulse:default") == ["-thread_queue_size", "1024", "-f", "pulse", "-i", "default"]
    assert audio_args("alsa:hw:0")[-4:] == ["-f", "alsa", "-i", "hw:0"]
    assert audio_args("dshow:audio=Microphone (USB)")[-4:] == ["-f", "dshow", "-i", "audio=Microphone (USB)"]
    assert audio_args("avfoundation::0")[-4:] == ["-f", "avfoundation", "-i", ":0"]
    assert audio_args("none") == []
    with pytest.raises(OutputError):
        audio_args("default")
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
    listener = subprocess.Popen(
        [
            FFMPEG,
            "-hide_banner",
            "-nostdin",
            "-listen",
            "1",
            "-i",
            f"rtmp://127.0.0.1:{port}/live/test",
            "-f",
            "null",
            "-",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_listening(port)
        sink = PushSink(f"rtmp://127.0.0.1:{port}/live/test", (160, 96), 15)
        stream_for(sink, 2.0, 15, (160, 96))
        sink.close()
        _, err = listener.communicate(timeout=20)
    finally:
        if listener.poll() is None:
            listener.kill()
    assert re.search(r"Stream #0:\d+.*Video: h264.*160x96", err), err[-2000:]
    assert re.search(r"Stream #0:\d+.*Audio: aac.*44100 Hz, stereo", err), err[-2000:]
    assert decoded_frames(err) >= 15  # about 2 s at 15 fps arrived and decoded
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
    r = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(out), "-map", "0:v", "-f", "null", "-"], capture_output=True, text=True
    )
    n = decoded_frames(r.stderr)
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


@pytest.mark.skipif(os.name != "posix", reason="process sessions are POSIX")
def test_ctrl_c_reaches_push_ffmpeg_as_it_reaches_the_encoder(tmp_path: Path) -> None:
    """A terminal's Ctrl-C goes to its foreground process group: push's ffmpeg, like the encoder's, runs in a
    session of its own, so only rtstyle gets the signal and finishes (or stops) each ffmpeg itself."""
    push = PushSink(str(tmp_path / "live.ts"), (64, 48), 15, audio="none")
    encoder = Encoder(tmp_path / "rec.mp4", 64, 48, 15)
    try:
        for proc in (push._proc, encoder._proc):
            assert os.getsid(proc.pid) == proc.pid != os.getsid(0)
    finally:
        push.abort()
        encoder.kill()


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
