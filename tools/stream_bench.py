"""Benchmark the live outputs: pipeline fps and added latency per sink, and memory with a stalled HTTP viewer.

A file (or synthetic frames) stands in for the camera, a stylizer runs on every frame, and the result goes to one
sink configuration at a time:

  none      no output (the baseline)
  mjpeg1    MJPEG server with 1 viewer      (viewers are separate processes, like OBS or a browser)
  mjpeg3    MJPEG server with 3 viewers
  push      H.264 push to a PyAV RTMP listener on loopback (the listener demuxes, it does not decode)
  vcam      virtual camera with a fake pyvirtualcam backend (copies each frame, as a device write would)

For each: pipeline fps, stylize ms, ms spent inside ``write()`` (the cost the pipeline pays), and the sink's added
latency (write() to bytes on the socket / into the push encoder / into the device), plus the sink's counters.

Examples (the lead runs these; nothing here is asserted):

  python tools/stream_bench.py --input ../shared/assets/videos/moviepy_video_with_failing_audio.mp4 --seconds 20
  python tools/stream_bench.py --input VIDEO --realtime --seconds 20          # paced like a camera
  python tools/stream_bench.py --style NAME --device cpu --seconds 20         # a real style through rtstyle.runtime
  python tools/stream_bench.py --input VIDEO --realtime --duration 600 --stalled-client   # RSS every 30 s
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rtstyle.io.sinks.base import Sink  # noqa: E402
from rtstyle.io.sinks.mjpeg import MjpegServerSink  # noqa: E402
from rtstyle.io.sinks.outputs import StreamOptions, make_output_sinks  # noqa: E402
from rtstyle.io.sources import FileSource, Prepended  # noqa: E402
from rtstyle.pipeline import Pipeline  # noqa: E402
from rtstyle.runtime.stylizer import Stylizer  # noqa: E402

ALL_SINKS = ["none", "mjpeg1", "mjpeg3", "push", "vcam"]


# ---------------------------------------------------------------------------------------------------- frames in


class LoopingSource:
    """Frames from a video file (rtstyle.io.sources.FileSource), looped; or synthetic. A ``rtstyle.io.sources.Source``."""

    is_live = True  # paced like a camera with --realtime; never ends
    frame_count = None

    def __init__(self, path: str | None, size: tuple[int, int] | None, realtime: bool) -> None:
        self.path, self.size, self.realtime = path, size, realtime
        self.fps = 30.0
        self._src: Any = None
        self._synthetic: list[np.ndarray] = []
        self._i = 0
        self._t0 = time.monotonic()
        self._n = 0
        if path is None:
            w, h = size or (640, 360)
            y, x = np.mgrid[0:h, 0:w]
            for t in range(60):
                f = np.stack([(x + 4 * t) % 256, (y + 2 * t) % 256, np.full_like(x, 96)], -1).astype(np.uint8)
                f[h // 3 : h // 3 + h // 4, (8 * t) % (w - w // 4) :][:, : w // 4] = (30, 200, 240)
                self._synthetic.append(f)
            self.description = f"synthetic {w}x{h}"
        else:
            self._open()
            self.description = f"{Path(path).name} ({self.fps:g} fps)"

    def _open(self) -> None:
        self._src = FileSource(self.path)
        self.fps = float(self._src.fps or 30.0)

    def _read_file(self) -> np.ndarray:
        for _ in range(2):
            item = self._src.read()
            frame = None if item is None else item[0]
            if frame is not None:
                return frame
            self.close()
            self._open()  # loop the file
        raise SystemExit(f"{self.path}: no frames")

    def read(self) -> tuple[np.ndarray, float]:
        if self._synthetic:
            frame = self._synthetic[self._i % len(self._synthetic)]
            self._i += 1
        else:
            frame = self._read_file()
        if self.size is not None and (frame.shape[1], frame.shape[0]) != self.size:
            import cv2

            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self._n += 1
        if self.realtime:  # like a camera: one frame every 1/fps seconds
            due = self._t0 + self._n / self.fps
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        return frame, self._n / self.fps

    def close(self) -> None:
        if self._src is not None:
            self._src.close()
            self._src = None


def make_stylizer(spec: str, device: str) -> tuple[Any, str]:
    """``cheap``: an OpenCV filter standing in for a model (sink costs dominate); else a style name or .onnx path."""
    if spec == "cheap":

        def cheap(frame: np.ndarray) -> np.ndarray:
            out = cv2.GaussianBlur(frame, (5, 5), 0)
            return cv2.addWeighted(out, 0.8, np.full_like(out, (40, 0, 80)), 0.2, 0)

        return cheap, "cheap OpenCV filter"
    st = Stylizer(spec, device=device)
    return st, f"{spec} on {st.provider}"


# ---------------------------------------------------------------------------------------------------- helpers


class _Timed:
    """The stylizer, timed per call."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.seconds = fn, []
        self.provider = getattr(fn, "provider", "")
        self.style = getattr(fn, "style", "")

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        out = self.fn(frame)
        self.seconds.append(time.perf_counter() - t0)
        return out


class _TimedSink(Sink):
    """A sink whose ``write()`` time (the cost the loop pays) and closing time are measured."""

    def __init__(self, sink: Sink) -> None:
        self.sink, self.name, self.wants_hud = sink, sink.name, False
        self.write_s: list[float] = []
        self.close_s = 0.0
        self.stats_at_close: dict[str, float] = {}

    def write(self, frame: np.ndarray, timestamp: float) -> None:
        t0 = time.perf_counter()
        self.sink.write(frame, timestamp)
        self.write_s.append(time.perf_counter() - t0)

    def close(self) -> None:
        self.stats_at_close = dict(self.sink.stats)
        t0 = time.perf_counter()
        self.sink.close()
        self.close_s = time.perf_counter() - t0

    def abort(self) -> None:
        self.stats_at_close = dict(self.sink.stats)
        self.sink.abort()

    @property
    def stats(self) -> dict[str, float]:
        return self.sink.stats


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # POSIX only: imported where it is used

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 10.0) -> None:
    table = Path("/proc/net/tcp")
    if not table.exists():
        time.sleep(1.5)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in table.read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and int(f[1].split(":")[1], 16) == port:
                return
        time.sleep(0.05)
    raise SystemExit(f"the RTMP listener did not start on port {port}")


def start_viewer(port: int) -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--client", str(port)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def viewer_main(port: int) -> None:
    """A viewer process: read /stream.mjpg until the server closes, then print how many parts arrived."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: bench\r\n\r\n")
    parts = 0
    total = 0
    marker = b"Content-Type: image/jpeg"
    tail = b""
    try:
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            total += len(chunk)
            buf = tail + chunk
            parts += buf.count(marker)
            tail = buf[-(len(marker) - 1) :]
    except OSError:
        pass
    print(json.dumps({"parts": parts, "bytes": total}), flush=True)


class StalledViewer:
    """Connects, asks for the stream, never reads; reconnects whenever the server drops a viewer for stalling."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.connections = 0
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _connect(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.server.port))
        s.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: stalled\r\n\r\n")
        self._sock = s
        self.connections += 1

    def _run(self) -> None:
        self._connect()
        seen = 0
        while not self._stop.wait(0.5):
            stalled = self.server.stats.get("stalled_viewers", 0)
            if stalled > seen:  # we were dropped (a client that never reads cannot see EOF itself)
                seen = stalled
                try:
                    if self._sock is not None:
                        self._sock.close()
                    self._connect()
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        if self._sock is not None:
            self._sock.close()


def fake_vcam_backend() -> str:
    import pyvirtualcam

    class BenchDevice:
        def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any):
            self.buf = np.empty(width * height * 3, np.uint8)

        def send(self, frame: np.ndarray) -> None:
            self.buf[: frame.size] = frame  # the copy a device write costs

        def close(self) -> None:
            pass

        def device(self) -> str:
            return "bench-fake"

        def native_fourcc(self) -> None:
            return None

    pyvirtualcam.register_backend("bench-fake", BenchDevice)
    return "bench-fake"


LISTENER = """
import sys, av
c = av.open(sys.argv[1], options={"listen": "1"}, timeout=30)
try:
    for _ in c.demux():
        pass
except av.FFmpegError:
    pass  # the publisher hung up
"""


# ---------------------------------------------------------------------------------------------------- one run


def run_mode(mode: str, args: argparse.Namespace, source: LoopingSource, stylize: Any, seconds: float) -> dict:
    frame0, _ = source.read()
    size = (frame0.shape[1], frame0.shape[0])
    fps = source.fps
    viewers: list[subprocess.Popen] = []
    listener: subprocess.Popen | None = None
    stalled: StalledViewer | None = None
    opts = StreamOptions(jpeg_quality=args.jpeg_quality, serve_fps=args.serve_fps)
    if mode.startswith("mjpeg"):
        pass  # built below with the send timeout asked for
    elif mode == "push":
        port = free_port()
        url = f"rtmp://127.0.0.1:{port}/live/bench"
        listener = subprocess.Popen(  # a PyAV RTMP server in a process of its own: demuxes, does not decode
            [sys.executable, "-c", LISTENER, url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_listening(port)
        opts.push = url
    elif mode == "vcam":
        opts.virtual_cam = True
        opts.vcam_backend = fake_vcam_backend()
    elif mode != "none":
        raise SystemExit(f"unknown sink configuration {mode!r} (use {', '.join(ALL_SINKS)})")
    sinks = make_output_sinks(opts, size, fps)
    if mode.startswith("mjpeg"):
        kw = {} if args.stall_timeout is None else {"send_timeout": args.stall_timeout}
        sinks.append(MjpegServerSink(0, jpeg_quality=args.jpeg_quality, serve_fps=args.serve_fps, **kw))
        server = sinks[0]
        n_viewers = int(mode[len("mjpeg") :] or 1)
        viewers = [start_viewer(server.port) for _ in range(n_viewers)]
        if args.stalled_client:
            stalled = StalledViewer(server)
        server.wait_viewers(n_viewers + (1 if stalled else 0), timeout=10)

    timed = _Timed(stylize)
    timed_sinks = [_TimedSink(s) for s in sinks]
    # the frame loop every rtstyle command runs on, in live mode (newest frame, each finished at once)
    pipeline = Pipeline(Prepended((frame0, 0.0), source), timed, None, timed_sinks, live=True)
    rss0 = rss_mb()
    t_start = time.monotonic()
    t_end = t_start + seconds
    next_report = t_start + args.rss_every
    last_frames = 0
    last_t = t_start
    if args.duration:
        print(f"{'t_s':>6} {'rss_mb':>8} {'fps':>6} {'viewers':>7} {'dropped':>7} {'stalled_conns':>13}", flush=True)
    frames = 0
    for done in pipeline.frames():
        frames = done.frames
        now = time.monotonic()
        if now >= t_end:
            pipeline.stop()
            continue
        if args.duration and now >= next_report:
            st = sinks[0].stats if sinks else {}
            fps_now = (frames - last_frames) / (now - last_t)
            print(
                f"{now - t_start:6.0f} {rss_mb():8.1f} {fps_now:6.1f} {st.get('viewers', 0):7.0f} "
                f"{st.get('dropped_viewers', 0):7.0f} {stalled.connections if stalled else 0:13d}",
                flush=True,
            )
            next_report += args.rss_every
            last_frames, last_t = frames, now
    elapsed = time.monotonic() - t_start  # the loop closed the sinks: their stats are taken before closing
    sink_stats = {s.name: s.stats_at_close for s in timed_sinks}
    close_s = sum(s.close_s for s in timed_sinks)
    stylize_s, write_s = timed.seconds, [sum(w) for w in zip(*(s.write_s for s in timed_sinks), strict=True)]
    write_s = write_s or [0.0] * len(stylize_s)
    if stalled:
        stalled.close()
    received = []
    for v in viewers:
        try:
            out_text, _ = v.communicate(timeout=10)
            received.append(json.loads(out_text.strip().splitlines()[-1])["parts"])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            v.kill()
            received.append(-1)
    pushed = None
    if listener is not None:
        try:
            _, err = listener.communicate(timeout=15)
            counts = re.findall(r"frame=\s*(\d+)", err)
            pushed = int(counts[-1]) if counts else 0
        except subprocess.TimeoutExpired:
            listener.kill()
    lat = [st.get("latency_ms", 0.0) for st in sink_stats.values()]
    ws = sorted(write_s)
    return {
        "sinks": mode,
        "frames": frames,
        "fps": frames / elapsed,
        "stylize_ms": 1000 * statistics.mean(stylize_s),
        "write_ms": 1000 * statistics.mean(write_s),
        "write_p95_ms": 1000 * ws[int(0.95 * (len(ws) - 1))],
        "latency_ms": max(lat) if lat else 0.0,
        "close_s": close_s,
        "rss_start_mb": rss0,
        "rss_end_mb": rss_mb(),
        "viewer_frames": received,
        "listener_frames": pushed,
        "stats": sink_stats,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", help="video file standing in for the camera (default: synthetic frames)")
    ap.add_argument("--size", help="resize frames to WxH (default: the input's; synthetic: 640x360)")
    ap.add_argument("--realtime", action="store_true", help="pace the source at its frame rate, like a camera")
    ap.add_argument("--style", default="cheap", help="'cheap' (OpenCV filter), a style name or an .onnx path")
    ap.add_argument("--device", default="cpu", help="device for --style (cpu, cuda, auto)")
    ap.add_argument("--sinks", default=",".join(ALL_SINKS), help=f"comma list of {', '.join(ALL_SINKS)}")
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds per sink configuration")
    ap.add_argument("--jpeg-quality", type=int, default=80)
    ap.add_argument("--serve-fps", type=float, default=None)
    ap.add_argument("--duration", type=float, default=None, help="long run: MJPEG with 1 viewer, RSS over time")
    ap.add_argument("--stalled-client", action="store_true", help="add a viewer that never reads (reconnects)")
    ap.add_argument("--stall-timeout", type=float, default=None, help="server send timeout (default: the sink's)")
    ap.add_argument("--rss-every", type=float, default=30.0, help="seconds between RSS lines in a long run")
    ap.add_argument("--json", action="store_true", help="print one JSON object per configuration")
    ap.add_argument("--client", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        viewer_main(args.client)
        return
    size = None
    if args.size:
        w, h = args.size.lower().split("x")
        size = (int(w), int(h))
    stylize, label = make_stylizer(args.style, args.device)
    modes = ["mjpeg1"] if args.duration else [m.strip() for m in args.sinks.split(",") if m.strip()]
    print(f"# cores {os.cpu_count()}, stylizer: {label}, realtime: {args.realtime}", flush=True)
    results = []
    for mode in modes:
        source = LoopingSource(args.input, size, args.realtime)
        if mode == modes[0]:
            print(f"# source: {source.description}", flush=True)
        try:
            res = run_mode(mode, args, source, stylize, args.duration or args.seconds)
        finally:
            source.close()
        results.append(res)
        if args.json:
            print(json.dumps(res), flush=True)
    if args.json:
        return
    head = f"{'sinks':<8} {'fps':>7} {'stylize':>8} {'write':>7} {'w_p95':>7} {'latency':>8} {'close':>6}  notes"
    print(head)
    print("-" * len(head))
    for r in results:
        notes = []
        if r["viewer_frames"]:
            notes.append(f"viewers got {r['viewer_frames']}")
        if r["listener_frames"] is not None:
            notes.append(f"listener got {r['listener_frames']}")
        for name, st in r["stats"].items():
            keep = {k: round(v, 1) for k, v in st.items() if k in ("published", "sent", "dropped", "repeated")}
            if "dropped_viewers" in st:
                keep["dropped_viewers"] = st["dropped_viewers"]
            notes.append(f"{name} {keep}")
        notes.append(f"rss {r['rss_start_mb']:.0f}->{r['rss_end_mb']:.0f} MB")
        print(
            f"{r['sinks']:<8} {r['fps']:7.1f} {r['stylize_ms']:7.1f}ms {r['write_ms']:6.2f}ms {r['write_p95_ms']:6.2f}ms "
            f"{r['latency_ms']:7.1f}ms {r['close_s']:5.2f}s  {'; '.join(notes)}"
        )
    print("# write: time inside sink.write() per frame (the pipeline's cost); latency: write() to bytes out")


if __name__ == "__main__":
    main()
