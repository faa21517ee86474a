"""Soak benchmark: a long live session, its memory, threads and open descriptors sampled each minute.

Runs ``rtstyle webcam --camera CLIP --loop --no-window --serve PORT --record OUT`` (a file standing in for the
camera, played at its own pace, looped), attaches three MJPEG viewers of which one stalls (it asks for the stream
and never reads), and samples the resident memory, thread count and open file descriptors of rtstyle and of its
ffmpeg children every ``--interval`` seconds for ``--minutes``. At the end it stops the session with Ctrl-C (SIGINT,
which finalises the recording), checks that the recording reads back, and prints start, end and max of each
figure (as a Markdown table with ``--markdown``; every sample as JSON with ``--json FILE``).

    python tools/soak.py ../shared/assets/videos/moviepy_video_with_failing_audio.mp4 --minutes 60

Linux only (it reads /proc). The figures in docs/reliability.md come from it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtstyle.errors import RtstyleError  # noqa: E402
from rtstyle.io.probe import probe  # noqa: E402

DEFAULT_CLIP = ROOT.parent / "shared" / "assets" / "videos" / "moviepy_video_with_failing_audio.mp4"  # 640x360


@dataclass
class Usage:
    """What one process (or a group of them) holds at one moment."""

    rss_mb: float = 0.0
    threads: int = 0
    fds: int = 0
    processes: int = 0

    def add(self, other: Usage) -> None:
        self.rss_mb += other.rss_mb
        self.threads += other.threads
        self.fds += other.fds
        self.processes += other.processes


def usage(pid: int) -> Usage:
    """RSS (MB), threads and open descriptors of ``pid`` from /proc (zeros when it is gone)."""
    out = Usage()
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out.rss_mb = int(line.split()[1]) / 1024
            elif line.startswith("Threads:"):
                out.threads = int(line.split()[1])
        out.fds = len(os.listdir(f"/proc/{pid}/fd"))
        out.processes = 1
    except (OSError, ValueError):
        return Usage()
    return out


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (rtstyle's ffmpeg processes: decoder and encoder)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except (OSError, ValueError):
            pass
    return kids


@dataclass
class Viewer:
    """An MJPEG viewer on its own socket: ``stall`` asks for the stream and never reads a byte."""

    port: int
    stall: bool = False
    received: int = 0
    error: str = ""
    sock: socket.socket = field(init=False)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: soak\r\n\r\n")
        if not self.stall:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        self.sock.settimeout(30)
        try:
            while chunk := self.sock.recv(1 << 16):
                self.received += len(chunk)
        except OSError as exc:
            self.error = str(exc)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"soak: rtstyle ended early (exit {proc.returncode}); see its log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"soak: nothing listens on {port} after {timeout:.0f} s")


def summary(samples: list[dict], key: str) -> tuple[float, float, float]:
    values = [s[key] for s in samples]
    return values[0], values[-1], max(values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clip", nargs="?", type=Path, default=DEFAULT_CLIP, help="the file standing in for a camera")
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    ap.add_argument("--style", default="mosaic")
    ap.add_argument("--tier", default="fast")
    ap.add_argument("--out", type=Path, default=None, help="folder for the recording and the log (default: temp)")
    ap.add_argument("--json", type=Path, default=None, help="write every sample here")
    ap.add_argument("--markdown", action="store_true", help="print the summary as a Markdown table")
    ap.add_argument("extra", nargs=argparse.REMAINDER, help="after --: more rtstyle webcam options")
    args = ap.parse_args()
    if not Path("/proc/self/status").exists():
        raise SystemExit("soak: needs Linux (/proc)")
    if not args.clip.is_file():
        raise SystemExit(f"soak: {args.clip}: no such file")

    out_dir = args.out or Path(tempfile.mkdtemp(prefix="rtstyle-soak-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    record, log_path = out_dir / "soak.mp4", out_dir / "soak.log"
    port = free_port()
    extra = [a for a in args.extra if a != "--"]
    cmd = [sys.executable, "-m", "rtstyle", "webcam", "--camera", str(args.clip), "--loop", "--no-window"]
    cmd += ["--serve", f"127.0.0.1:{port}", "--record", str(record), "--force", "--style", args.style]
    cmd += ["--tier", args.tier, "--device", "cpu", *extra]
    print("soak:", " ".join(cmd), flush=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    viewers: list[Viewer] = []
    samples: list[dict] = []
    try:
        wait_listening(port, proc)
        viewers = [Viewer(port), Viewer(port), Viewer(port, stall=True)]
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        next_sample = t0
        while True:
            now = time.monotonic()
            if now >= next_sample:
                own = usage(proc.pid)
                kids = Usage()
                for k in children(proc.pid):
                    kids.add(usage(k))
                sample = {
                    "minute": round((now - t0) / 60, 2),
                    "rss_mb": round(own.rss_mb, 1),
                    "threads": own.threads,
                    "fds": own.fds,
                    "ffmpeg_processes": kids.processes,
                    "ffmpeg_rss_mb": round(kids.rss_mb, 1),
                    "ffmpeg_threads": kids.threads,
                    "ffmpeg_fds": kids.fds,
                    "viewer_mb": [round(v.received / 1e6, 1) for v in viewers],
                }
                samples.append(sample)
                print(
                    f"{sample['minute']:6.2f} min  rtstyle {own.rss_mb:7.1f} MB {own.threads:3d} threads "
                    f"{own.fds:3d} fds | ffmpeg x{kids.processes} {kids.rss_mb:7.1f} MB {kids.threads:3d} threads "
                    f"{kids.fds:3d} fds | viewers {sample['viewer_mb']} MB",
                    flush=True,
                )
                next_sample += args.interval
            if now >= end or proc.poll() is not None:
                break
            time.sleep(min(1.0, max(0.05, min(next_sample, end) - now)))
    finally:
        for v in viewers:
            v.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C: the session finalises the recording
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    code = proc.returncode
    try:
        frames = probe(record).frame_count
    except RtstyleError as exc:
        frames = None
        print(f"soak: the recording does not read back: {exc}", flush=True)
    print(f"soak: rtstyle exit {code}; recording {record}: {frames} frames; log {log_path}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"command": cmd, "samples": samples, "exit": code, "frames": frames}, indent=2))
    if len(samples) < 2:
        print("soak: too short for a summary", flush=True)
        return 1
    rows = [
        ("rtstyle RSS (MB)", "rss_mb"),
        ("rtstyle threads", "threads"),
        ("rtstyle open descriptors", "fds"),
        ("ffmpeg RSS (MB, all)", "ffmpeg_rss_mb"),
        ("ffmpeg threads (all)", "ffmpeg_threads"),
        ("ffmpeg open descriptors (all)", "ffmpeg_fds"),
    ]
    minutes = samples[-1]["minute"]
    if args.markdown:
        print(f"\n| after {minutes:g} min | start | end | max |\n|---|---|---|---|")
        for label, key in rows:
            a, b, m = summary(samples, key)
            print(f"| {label} | {a:g} | {b:g} | {m:g} |")
    else:
        print(f"\n{'':32s} {'start':>8s} {'end':>8s} {'max':>8s}   ({minutes:g} min)")
        for label, key in rows:
            a, b, m = summary(samples, key)
            print(f"{label:32s} {a:8g} {b:8g} {m:8g}")
    return 0 if code == 0 and frames else 1


if __name__ == "__main__":
    raise SystemExit(main())
