"""MJPEG HTTP sink over real loopback sockets: structural checks, no timing assertions."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
from conftest import synthetic_frame

from rtstyle.errors import OutputError
from rtstyle.io.sinks.mjpeg import BOUNDARY, MjpegServerSink, parse_address
from rtstyle.io.sinks.outputs import StreamOptions, make_output_sinks


class Viewer:
    """A raw-socket MJPEG client that parses multipart parts and keeps only counters and the last image."""

    def __init__(self, port: int, *, read: bool = True, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        self.parts = 0
        self.bad = 0
        self.content_type = ""
        self.last: np.ndarray | None = None
        self.eof = threading.Event()
        self.cond = threading.Condition()
        if read:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                buf += self._recv()
            head, buf = buf.split(b"\r\n\r\n", 1)
            for line in head.decode().split("\r\n"):
                if line.lower().startswith("content-type:"):
                    self.content_type = line.split(":", 1)[1].strip()
            while True:
                while b"\r\n\r\n" not in buf:
                    buf += self._recv()
                part_head, buf = buf.split(b"\r\n\r\n", 1)
                lines = part_head.decode().split("\r\n")
                assert lines[0] == f"--{BOUNDARY}", lines
                fields = dict(line.split(": ", 1) for line in lines[1:])
                n = int(fields["Content-Length"])
                while len(buf) < n + 2:
                    buf += self._recv()
                data, buf = buf[:n], buf[n + 2 :]
                img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                ok = fields["Content-Type"] == "image/jpeg" and data[:2] == b"\xff\xd8" and img is not None
                with self.cond:
                    if ok:
                        self.parts += 1
                        self.last = img
                    else:
                        self.bad += 1
                    self.cond.notify_all()
        except (EOFError, OSError):
            pass
        finally:
            self.eof.set()
            with self.cond:
                self.cond.notify_all()

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        return chunk

    def wait_parts(self, n: int, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.parts >= n or self.eof.is_set(), timeout) and self.parts >= n

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def wait_for(pred, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def close_in_thread(sink: MjpegServerSink) -> threading.Thread:
    t = threading.Thread(target=sink.close, daemon=True)
    t.start()
    t.join(timeout=10)
    return t


def noise(i: int, h: int = 240, w: int = 320) -> np.ndarray:
    return np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_parse_address() -> None:
    assert parse_address("8080") == ("127.0.0.1", 8080)
    assert parse_address(":9000") == ("127.0.0.1", 9000)
    assert parse_address("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_address("[::1]:8080") == ("::1", 8080)
    for bad in ("abc", "host:", "70000", "[::1]8080"):
        with pytest.raises(OutputError):
            parse_address(bad)


def test_page_and_404() -> None:
    sink = MjpegServerSink("127.0.0.1:0")
    try:
        assert sink.port > 0 and sink.url == f"http://127.0.0.1:{sink.port}/"
        assert sink.url in sink.description
        with urllib.request.urlopen(sink.url, timeout=5) as r:
            assert r.headers["Content-Type"].startswith("text/html")
            page = r.read().decode()
        assert 'src="/stream.mjpg"' in page and "object-fit:contain" in page and "background:#000" in page
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(sink.url + "nope", timeout=5)
        assert e.value.code == 404
    finally:
        sink.close()


def test_port_in_use_is_one_line() -> None:
    first = MjpegServerSink(0)
    try:
        with pytest.raises(OutputError, match="cannot serve on 127.0.0.1"):
            MjpegServerSink(f"127.0.0.1:{first.port}")
    finally:
        first.close()


def test_several_clients_receive_every_frame_as_valid_jpeg() -> None:
    sink = MjpegServerSink(0, jpeg_quality=90)
    viewers = [Viewer(sink.port) for _ in range(3)]
    try:
        assert sink.wait_viewers(3)
        n = 12
        frames = [synthetic_frame(72, 128, t) for t in range(n)]
        for i, f in enumerate(frames):
            sink.write(f, i / 30)
            for v in viewers:  # pace on delivery so every viewer sees every frame
                assert v.wait_parts(i + 1)
        # a viewer can hold the last part before its sender thread has counted it: let the counter catch up
        assert wait_for(lambda: sink.stats["sent"] == 3 * n, 5.0), sink.stats
        st = sink.stats
        assert st["frames"] == n and st["published"] == n and st["viewers"] == 3 and st["sent"] == 3 * n
        for v in viewers:
            assert v.content_type == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
            assert v.parts == n and v.bad == 0
            assert v.last is not None and v.last.shape == (72, 128, 3)
            assert np.abs(v.last.astype(int) - frames[-1].astype(int)).mean() < 8
    finally:
        t = close_in_thread(sink)
        for v in viewers:
            v.close()
    assert not t.is_alive()
    assert all(v.eof.wait(5) for v in viewers)  # close() disconnects viewers


def test_no_viewers_no_encoding() -> None:
    sink = MjpegServerSink(0)
    try:
        for i in range(10):
            sink.write(synthetic_frame(t=i), i / 30)
        st = sink.stats
        assert st["frames"] == 10 and st["idle"] == 10 and st["published"] == 0
    finally:
        sink.close()


def test_stalled_client_blocks_nobody_and_memory_stays_bounded() -> None:
    sink = MjpegServerSink(0, send_timeout=60, send_buffer=8192)  # the stalled viewer stays attached
    stalled = Viewer(sink.port, read=False, rcvbuf=4096)
    good = [Viewer(sink.port) for _ in range(2)]
    try:
        assert sink.wait_viewers(3)
        jpeg_size = len(cv2.imencode(".jpg", noise(0), [cv2.IMWRITE_JPEG_QUALITY, 80])[1])
        frame_bytes = noise(0).nbytes
        # warm up: the stalled viewer's first send fills its socket buffers and blocks its thread
        sink.write(noise(0), 0.0)
        assert all(v.wait_parts(1) for v in good)
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            n = 100
            for i in range(1, n + 1):
                sink.write(noise(i), i / 30)  # must return even though one viewer reads nothing
                for v in good:
                    assert v.wait_parts(i + 1)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        st = sink.stats
        assert st["frames"] == n + 1 and st["published"] == n + 1
        assert st["viewers"] == 3 and st["dropped_viewers"] == 0  # still attached, still stalled
        assert st["sent"] <= 2 * (n + 1) + 1  # the stalled viewer finished at most one send
        assert all(v.parts == n + 1 and v.bad == 0 for v in good)
        # nothing queues per viewer: growth is a handful of frames, far below the n frames sent
        bound = 8 * jpeg_size + 8 * frame_bytes
        assert peak < bound, (peak, jpeg_size, frame_bytes)
        assert bound < n * jpeg_size / 2  # so a queue of the frames sent would have failed the check
    finally:
        t = close_in_thread(sink)
        for v in [stalled, *good]:
            v.close()
    assert not t.is_alive()  # close() returns with a stalled client attached


def test_stalled_client_is_dropped_after_send_timeout() -> None:
    sink = MjpegServerSink(0, send_timeout=0.3, send_buffer=8192)
    stalled = Viewer(sink.port, read=False, rcvbuf=4096)
    good = Viewer(sink.port)
    try:
        assert sink.wait_viewers(2)
        i = 0

        def step() -> bool:
            nonlocal i
            i += 1
            sink.write(noise(i % 4), i / 30)
            return sink.stats["dropped_viewers"] >= 1

        assert wait_for(step)
        st = sink.stats
        assert st["stalled_viewers"] == 1 and st["viewers"] == 1
        n0 = good.parts
        for j in range(3):  # the good viewer keeps receiving
            sink.write(noise(j), 0.0)
            assert good.wait_parts(n0 + j + 1)
    finally:
        sink.close()
        stalled.close()
        good.close()


def test_vanished_client_is_dropped() -> None:
    sink = MjpegServerSink(0)
    v = Viewer(sink.port)
    try:
        assert sink.wait_viewers(1)
        sink.write(noise(1), 0.0)
        assert v.wait_parts(1)
        v.close()

        def step() -> bool:
            sink.write(noise(2), 0.0)
            return sink.stats["viewers"] == 0

        assert wait_for(step)
        assert sink.stats["dropped_viewers"] == 1
    finally:
        sink.close()


def test_serve_fps_caps_encoding() -> None:
    sink = MjpegServerSink(0, serve_fps=2)
    v = Viewer(sink.port)
    try:
        assert sink.wait_viewers(1)
        for i in range(20):  # a burst far faster than 2 fps
            sink.write(synthetic_frame(t=i), i / 1000)
        st = sink.stats
        assert st["rate_skipped"] >= 10 and st["rate_skipped"] + sink._box.put_count == 20
    finally:
        sink.close()
        v.close()


def test_snapshot() -> None:
    sink = MjpegServerSink(0)
    result: dict[str, bytes] = {}

    def get() -> None:
        with urllib.request.urlopen(sink.url + "snapshot.jpg", timeout=10) as r:
            result["ctype"] = r.headers["Content-Type"].encode()
            result["data"] = r.read()

    t = threading.Thread(target=get)
    t.start()
    try:
        assert wait_for(lambda: sink._watchers >= 1)
        sink.write(synthetic_frame(), 0.0)
        t.join(10)
        assert result["ctype"] == b"image/jpeg"
        img = cv2.imdecode(np.frombuffer(result["data"], np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (72, 128, 3)
    finally:
        sink.close()


def test_make_output_sinks_builds_server() -> None:
    sinks = make_output_sinks(StreamOptions(serve="127.0.0.1:0", jpeg_quality=55, serve_fps=10), (128, 72), 30)
    try:
        (s,) = sinks
        assert isinstance(s, MjpegServerSink) and s.jpeg_quality == 55 and s.serve_fps == 10 and not s.wants_hud
    finally:
        for s in sinks:
            s.close()
