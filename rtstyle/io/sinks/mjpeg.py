"""MJPEG over HTTP for OBS Browser Sources and browsers: ``/`` (a full-window page), ``/stream.mjpg``, ``/snapshot.jpg``.

``write`` never blocks: when somebody is watching (and no more often than ``serve_fps``) it copies the frame into a
one-slot mailbox; an encoder thread JPEG-encodes it once and publishes it to a shared "latest frame" slot with a
sequence number. Each viewer has its own thread that waits for a sequence number newer than the one it sent last,
so every viewer gets the newest frame and holds at most one frame. A vanished viewer is dropped; a stalled viewer
blocks only its own thread until its send timeout drops it. Each viewer's kernel send buffer is capped
(``send_buffer``, 256 KiB by default) so a slow viewer is not several seconds of stale frames behind.
``close`` wakes and disconnects every viewer.

Nobody can pin the server's threads and descriptors: a connection whose request does not arrive within
``request_timeout`` seconds is closed; at most ``max_clients`` viewers are served at once (one more gets HTTP 503
"too many viewers"), and connections beyond ``max_clients + SPARE_CONNECTIONS`` get a 503 at once, without a
thread of their own. The default address stays 127.0.0.1 (this machine only).
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np

from rtstyle.errors import OutputError
from rtstyle.io.sinks.base import Sink
from rtstyle.io.sinks.common import Mailbox

BOUNDARY = "rtstyleframe"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_MAX_CLIENTS = 16
SPARE_CONNECTIONS = 8  # connections beyond the viewers: page loads, snapshots, requests still arriving
BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
    b"Retry-After: 5\r\n\r\nrtstyle: too many connections; try again later\n"
)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>rtstyle</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>html,body{margin:0;width:100%;height:100%;background:#000;overflow:hidden}
img{display:block;width:100vw;height:100vh;object-fit:contain}</style></head>
<body><img id="stream" src="/stream.mjpg" alt=""
onerror="setTimeout(()=>{this.src='/stream.mjpg?'+Date.now()},1000)"></body></html>
"""


def parse_address(text: str) -> tuple[str, int]:
    """``"8080"``, ``":8080"``, ``"0.0.0.0:8080"``, ``"[::1]:8080"`` -> (host, port); host defaults to 127.0.0.1."""
    text = str(text).strip()
    host, port = DEFAULT_HOST, text
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not text[end + 1 :].startswith(":"):
            raise OutputError(f"--serve expects [HOST:]PORT, got {text!r}")
        host, port = text[1:end], text[end + 2 :]
    elif ":" in text:
        host, port = text.rsplit(":", 1)
        host = host or DEFAULT_HOST
    try:
        p = int(port)
    except ValueError:
        raise OutputError(f"--serve expects [HOST:]PORT, got {text!r}") from None
    if not 0 <= p <= 65535:
        raise OutputError(f"--serve port out of range: {p}")
    return host, p


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    sink: MjpegServerSink

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread per connection, up to the cap; beyond it a 503 straight away and the connection closed."""
        if not self.sink._admit():
            try:
                request.settimeout(1.0)
                request.sendall(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.sink._release()


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "rtstyle"
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:  # quiet: the CLI owns the terminal
        pass

    def setup(self) -> None:
        self.timeout = self.server.sink.request_timeout  # the request must arrive within this (then: closed)
        super().setup()

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        sink = self.server.sink
        if path in ("/", "/index.html"):
            self._send_bytes(PAGE.encode(), "text/html; charset=utf-8")
        elif path == "/stream.mjpg":
            sink._serve_viewer(self)
        elif path == "/snapshot.jpg":
            data = sink._snapshot()
            if data is None:
                self.send_error(503, "no frame yet")
            else:
                self._send_bytes(data, "image/jpeg")
        else:
            self.send_error(404)

    def _send_bytes(self, data: bytes, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, no-store")
        self.end_headers()
        self.wfile.write(data)


class MjpegServerSink(Sink):
    """Serve the stream as MJPEG over HTTP to any number of viewers."""

    name = "mjpeg"

    def __init__(
        self,
        address: str | int = 8080,
        *,
        jpeg_quality: int = 80,
        serve_fps: float | None = None,
        wants_hud: bool = False,
        send_timeout: float = 5.0,
        send_buffer: int | None = 256 * 1024,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        request_timeout: float = 5.0,
    ) -> None:
        host, port = parse_address(str(address))
        if not 1 <= int(jpeg_quality) <= 100:
            raise OutputError(f"--jpeg-quality must be 1..100, got {jpeg_quality}")
        self.jpeg_quality = int(jpeg_quality)
        self.serve_fps = float(serve_fps) if serve_fps and serve_fps > 0 else None
        self.wants_hud = wants_hud
        self.send_timeout = send_timeout
        self.send_buffer = send_buffer
        if int(max_clients) < 1:
            raise OutputError(f"--serve-max-clients must be at least 1, got {max_clients}")
        self.max_clients = int(max_clients)
        self.request_timeout = float(request_timeout)
        self._connections = 0
        cls = _Server6 if ":" in host else _Server
        try:
            self._server = cls((host, port), _Handler)
        except OSError as e:
            raise OutputError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None
        self._server.sink = self
        self.host, self.port = self._server.server_address[:2]

        self._cond = threading.Condition()
        self._seq = 0
        self._jpeg: bytes | None = None
        self._jpeg_t = 0.0  # write() time of the published frame (monotonic)
        self._closed = False
        self._watchers = 0  # viewers plus pending snapshot requests
        self._viewers: dict[int, socket.socket] = {}
        self._viewer_threads: set[threading.Thread] = set()
        self._next_due = 0.0
        self._n = {"frames": 0, "published": 0, "idle": 0, "rate_skipped": 0, "viewers_total": 0}
        self._n.update({"dropped_viewers": 0, "stalled_viewers": 0, "sent": 0, "refused": 0})
        self._latency_sum = 0.0
        self._latency_n = 0
        self._box = Mailbox()
        self._encoder = threading.Thread(target=self._encode_loop, name="rtstyle-mjpeg-encode", daemon=True)
        self._encoder.start()
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="rtstyle-mjpeg-http", daemon=True
        )
        self._serve_thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "localhost"
        return f"http://{host}:{self.port}/"

    # producer side -------------------------------------------------------------------------------------------

    def write(self, frame: np.ndarray, timestamp: float) -> None:
        self._n["frames"] += 1
        if self._closed:
            return
        if self._watchers == 0:
            self._n["idle"] += 1
            return
        now = time.monotonic()
        if self.serve_fps:
            period = 1.0 / self.serve_fps
            if now < self._next_due - 0.25 * period:
                self._n["rate_skipped"] += 1
                return
            self._next_due = max(self._next_due + period, now)
        self._box.put((frame.copy(), now))

    def _encode_loop(self) -> None:
        params = [int(cv2.IMWRITE_JPEG_QUALITY), self.jpeg_quality]
        while True:
            item = self._box.take()
            if item is None:
                return
            frame, t_write = item
            ok, buf = cv2.imencode(".jpg", frame, params)
            if not ok:
                continue
            data = buf.tobytes()
            del frame, buf
            with self._cond:
                self._seq += 1
                self._jpeg = data
                self._jpeg_t = t_write
                self._n["published"] += 1
                self._cond.notify_all()

    def wait_published(self, n: int, timeout: float = 5.0) -> bool:
        """Wait until ``n`` frames have been published (tests and the benchmark pace themselves with this)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._n["published"] >= n or self._closed, timeout) and (
                self._n["published"] >= n
            )

    def wait_viewers(self, n: int, timeout: float = 5.0) -> bool:
        """Wait until ``n`` viewers are connected."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._viewers) >= n, timeout)

    # viewer side ---------------------------------------------------------------------------------------------

    def _admit(self) -> bool:
        with self._cond:
            if self._connections >= self.max_clients + SPARE_CONNECTIONS:
                self._n["refused"] += 1
                return False
            self._connections += 1
            return True

    def _release(self) -> None:
        with self._cond:
            self._connections -= 1

    def _serve_viewer(self, handler: _Handler) -> None:
        conn: socket.socket = handler.connection
        conn.settimeout(self.send_timeout)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.send_buffer:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        except OSError:
            pass
        key = id(handler)
        with self._cond:
            if self._closed:
                return
            full = len(self._viewers) >= self.max_clients
            if full:
                self._n["refused"] += 1
            else:
                self._viewers[key] = conn
                self._viewer_threads.add(threading.current_thread())
                self._watchers += 1
                self._n["viewers_total"] += 1
                self._cond.notify_all()
        if full:
            handler.send_error(503, f"too many viewers (at most {self.max_clients}); try again later")
            return
        last = 0
        reason = ""
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            handler.send_header("Cache-Control", "no-cache, no-store, must-revalidate")
            handler.send_header("Pragma", "no-cache")
            handler.send_header("Connection", "close")
            handler.end_headers()
            while True:
                with self._cond:
                    self._cond.wait_for(lambda last=last: self._seq > last or self._closed, 1.0)
                    if self._closed:
                        break
                    if self._seq <= last:
                        continue
                    data, last, t_write = self._jpeg, self._seq, self._jpeg_t
                assert data is not None
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                part = b"".join((head, data, b"\r\n"))
                del data
                conn.sendall(part)
                del part
                with self._cond:
                    self._latency_sum += time.monotonic() - t_write
                    self._latency_n += 1
                    self._n["sent"] += 1
        except TimeoutError:  # socket.timeout: the viewer stopped reading
            reason = "stalled"
        except OSError:  # BrokenPipe, ConnectionReset, ConnectionAborted, shut down by close()
            reason = "gone"
        finally:
            with self._cond:
                self._viewers.pop(key, None)
                self._viewer_threads.discard(threading.current_thread())
                self._watchers -= 1
                if reason and not self._closed:
                    self._n["dropped_viewers"] += 1
                    if reason == "stalled":
                        self._n["stalled_viewers"] += 1
                self._cond.notify_all()
            handler.close_connection = True

    def _snapshot(self, timeout: float = 2.0) -> bytes | None:
        with self._cond:
            if self._closed:
                return self._jpeg
            self._watchers += 1
            start = self._seq
            try:
                self._cond.wait_for(lambda: self._seq > start or self._closed, timeout)
                return self._jpeg
            finally:
                self._watchers -= 1

    # lifecycle -----------------------------------------------------------------------------------------------

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            conns = list(self._viewers.values())
            threads = list(self._viewer_threads)
            self._cond.notify_all()
        self._box.close()
        for conn in conns:  # wakes a viewer thread blocked in sendall on a stalled client
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.shutdown()
        self._server.server_close()
        self._encoder.join(timeout=2)
        for t in threads:
            t.join(timeout=1)

    @property
    def stats(self) -> dict[str, float]:
        with self._cond:
            out: dict[str, float] = dict(self._n)
            out["viewers"] = len(self._viewers)
            out["superseded"] = self._box.replaced
            out["latency_ms"] = 1000 * self._latency_sum / self._latency_n if self._latency_n else 0.0
            return out

    @property
    def description(self) -> str:
        """One line for the terminal: where to point a browser or an OBS Browser Source."""
        return f"MJPEG at {self.url} (stream {self.url}stream.mjpg)"

    def __repr__(self) -> str:
        return f"MjpegServerSink({self.url})"
