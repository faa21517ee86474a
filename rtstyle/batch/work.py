"""One unit of batch work, as a worker runs it: a picture, a whole video, or a chunk of a long video.

:func:`run_unit` is what a process-pool worker or a Ray task calls. It runs the library jobs
(:func:`rtstyle.pipeline.jobs.stylize_image`, :func:`~rtstyle.pipeline.jobs.stylize_video`) or, for a chunk, the
same :class:`~rtstyle.pipeline.loop.Pipeline` on a seeked decoder, and always returns a :class:`UnitResult`
(a bad file is a result, never an exception). The stylizer is built once per worker process and reused by every
unit it runs (the model is loaded once per worker, not once per file). What the library prints as notices is
collected into the result, so the driver can show it beside the file it belongs to.

:func:`join_chunks` (run by the driver) concatenates a video's chunk parts without re-encoding and adds the
input's audio.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rtstyle.batch import remote
from rtstyle.errors import InputError, OutputError, RtstyleError
from rtstyle.files import publish, remove_own_parts, remove_stale_parts, temp_path
from rtstyle.pipeline.jobs import StylizeOptions
from rtstyle.signals import forget_stop, quiet_swallowed_stops, stop_raised

# The stylizers this worker process has built, by their options: one model load per worker, not per unit.
_STYLIZERS: dict[str, Any] = {}
# SIGINT handling in pool workers: Ctrl-C stops the unit that runs (its output is discarded), never an idle worker,
# and only once per unit (a second SIGINT must not cut the discarding short).
_BUSY = False
_RAISED = False
# The local pool's progress queue ((unit key, frames done) while a video runs); None elsewhere.
_PROGRESS: Any = None
# The local pool's stop event (set on Ctrl-C): a unit that has not begun does not begin; None elsewhere.
_STOP: Any = None


@dataclass(frozen=True)
class Unit:
    """One piece of work. ``key`` names it in the manifest and the results (the output's relative path, plus
    ``#NNNN`` for a chunk)."""

    key: str
    kind: str  # "image", "video" or "chunk"
    input: str
    output: str  # the final output, or a chunk's part file
    start: float | None = None  # chunk: first time written (decoder timeline, seconds); None: from the start
    end: float | None = None  # chunk: first time not written; None: to the end
    seek: float = 0.0  # chunk: where decoding starts; frames before ``start`` only warm the smoother up
    fault: str | None = None  # tests only: "kill@N" kills the worker after N frames of the first attempt


@dataclass(frozen=True)
class Config:
    """What every unit of one batch shares."""

    how: StylizeOptions
    smooth: str = "flow"
    crf: int = 18
    preset: str = "veryfast"
    audio: bool = True
    threads: int | None = None  # onnxruntime intra-op threads per worker (None: onnxruntime's choice)
    state_dir: str = ""  # OUT_DIR/.rtstyle-batch (attempt counters)
    model: tuple[str, str, list[Any]] | None = None  # Ray: (digest, suffix, [ObjectRef of the model's bytes])
    progress: Any = None  # Ray: a ray.util.queue.Queue for (unit key, frames done); the pool passes its own queue
    lane: str = ""  # Ray: which kind of worker runs the unit ("gpu" or "cpu"), reported back in UnitResult.lane


@dataclass
class UnitResult:
    key: str
    status: str  # "done", "unreadable", "failed" or "interrupted"
    frames: int = 0
    seconds: float = 0.0
    message: str = ""
    notes: list[str] = field(default_factory=list)
    provider: str = ""
    style: str = ""
    first_t: float | None = None  # chunk: timestamp of the first frame written (decoder timeline)
    attempts: int = 1
    host: str = ""
    pid: int = 0
    lane: str = ""  # Ray: "gpu" or "cpu" worker
    node: str = ""  # Ray: the node id the unit ran on


@dataclass
class _WorkerOptions(StylizeOptions):
    """``StylizeOptions`` whose ``stylizer()`` is built once per worker process, with a set thread count and one
    frame at a time (the workers are the batch's parallelism: ``--workers`` x ``--threads``)."""

    threads: int | None = None

    def stylizer(self, **extra: Any) -> Any:
        key = repr((self, sorted(extra.items())))
        if key not in _STYLIZERS:
            _STYLIZERS[key] = super().stylizer(**{"threads": self.threads, "lanes": 1, **extra})
        return _STYLIZERS[key]


def _model_file(model: tuple[str, str, list[Any]]) -> str:
    """The shipped model as a local file (written once per machine, fetched from Ray's object store once)."""
    digest, suffix, ref = model
    folder = Path(tempfile.gettempdir()) / "rtstyle-batch-models"
    path = folder / f"{digest}{suffix}"
    if not path.is_file():
        import ray

        data = ray.get(ref[0])
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{digest}.", dir=folder)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return str(path)


def _options(cfg: Config) -> _WorkerOptions:
    fields = {k: getattr(cfg.how, k) for k in StylizeOptions.__dataclass_fields__}
    opts = _WorkerOptions(**fields, threads=cfg.threads)
    if cfg.model is not None:
        opts = replace(opts, style=_model_file(cfg.model))
    return opts


def _count_attempt(state_dir: str, key: str) -> int:
    """Record that ``key`` starts (again) and say how many times it has started in this batch."""
    if not state_dir:
        return 1
    if remote.is_url(state_dir):  # an --out-dir URL: one empty object per attempt, counted by listing them
        fs, path = remote.filesystem(f"{state_dir.rstrip('/')}/attempts")
        stem = hashlib.sha1(key.encode()).hexdigest()[:20]
        with contextlib.suppress(Exception):
            remote.makedirs(f"{state_dir.rstrip('/')}/attempts")
            fs.pipe_file(f"{path}/{stem}.{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}", b"")
            return max(1, len(fs.glob(f"{path}/{stem}.*")))
        return 1
    folder = Path(state_dir) / "attempts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / hashlib.sha1(key.encode()).hexdigest()[:20]
    with open(path, "a", encoding="ascii") as f:
        f.write(f"{os.getpid()}\n")
    with open(path, encoding="ascii") as f:
        return sum(1 for _ in f)


class _Watch:
    """The progress callback of the jobs: counts frames, tells the pool's driver how far the unit got (at most twice
    a second), and carries out the tests' fault ("kill@N")."""

    def __init__(self, key: str, kill_at: int | None, sink: Any = None) -> None:
        self.key, self.kill_at, self.sink = key, kill_at, sink
        self.frames = 0
        self._told = 0.0

    def start(self, label: str) -> None:
        pass

    def __call__(self, done: int, total: int | None, fps: float) -> None:
        self.frames = done
        if self.kill_at is not None and done >= self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        now = time.monotonic()
        if self.sink is not None and now - self._told >= 0.5:
            self._told = now
            try:
                self.sink.put_nowait((self.key, done))
            except Exception:  # noqa: BLE001 - progress is a nicety: never fail a unit for it
                self.sink = None


def run_unit(unit: Unit, cfg: Config) -> UnitResult:
    """Run one unit and say how it went; a bad input or a failing output is a result, not an exception."""
    global _BUSY, _RAISED
    if _STOP is not None and _STOP.is_set():
        return UnitResult(unit.key, "interrupted", message="interrupted", host=socket.gethostname(), pid=os.getpid())
    t0 = time.perf_counter()
    res = UnitResult(unit.key, "failed", host=socket.gethostname(), pid=os.getpid(), lane=cfg.lane)
    if cfg.lane:  # under Ray: say which node ran it
        with contextlib.suppress(Exception):
            import ray

            res.node = ray.get_runtime_context().get_node_id()
    res.attempts = _count_attempt(cfg.state_dir, unit.key)
    kill_at = None
    if unit.fault and unit.fault.startswith("kill@") and res.attempts == 1:
        kill_at = int(unit.fault[5:])
    watch = _Watch(unit.key, kill_at, cfg.progress if cfg.progress is not None else _PROGRESS)
    err = io.StringIO()
    forget_stop()
    _BUSY, _RAISED = True, False
    # a URL input is fetched to a local file, a URL output written locally and uploaded once it is complete
    staged = (
        remote.Staging(unit.input, unit.output) if remote.is_url(unit.input) or remote.is_url(unit.output) else None
    )
    try:
        with contextlib.redirect_stderr(err):
            how = _options(cfg)
            if staged is not None:
                unit = replace(unit, input=staged.local_input(), output=staged.local_output())
            if unit.kind == "image":
                from rtstyle.pipeline.jobs import stylize_image

                r = stylize_image(Path(unit.input), Path(unit.output), how, force=True)
                res.frames, res.provider, res.style = 1, r.provider, r.style
            elif unit.kind == "video":
                from rtstyle.pipeline.jobs import stylize_video

                v = stylize_video(
                    Path(unit.input), Path(unit.output), how, smooth=cfg.smooth, crf=cfg.crf, preset=cfg.preset,
                    audio=cfg.audio, progress=watch, force=True,
                )  # fmt: skip
                res.frames, res.provider, res.style = v.stats.frames, v.stats.provider, v.stats.style
            else:
                res.frames, res.first_t, res.provider, res.style = _stylize_chunk(unit, cfg, how, watch)
            if staged is not None:
                staged.publish()
        res.status = "done"
    except InputError as exc:
        res.status, res.message = "unreadable", str(exc)
    except RtstyleError as exc:
        res.message = str(exc)
    except KeyboardInterrupt:
        res.status, res.message = "interrupted", "interrupted"
        if not remote.is_url(unit.output):  # the guards remove the temporary file; this, one the raise beat to it
            remove_own_parts(Path(unit.output))
    except MemoryError:
        res.message = "out of memory: try a smaller --max-side or fewer --workers"
    except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen error: one line in the results, the batch goes on
        res.message = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    finally:
        _BUSY = False
        if staged is not None:
            staged.close()
            res.message = staged.message(res.message)
    res.notes = [ln.removeprefix("rtstyle: notice: ") for ln in err.getvalue().splitlines() if ln.strip()]
    if staged is not None:
        res.notes = [staged.message(n) for n in res.notes]
    res.seconds = time.perf_counter() - t0
    return res


def worker_init(progress: Any = None, stop: Any = None) -> None:
    """Process-pool worker start: Ctrl-C interrupts the unit that runs, and is ignored between units; ``progress``
    (a multiprocessing queue) receives how far each video unit got; ``stop`` (a multiprocessing event), once set,
    keeps units from beginning."""
    global _PROGRESS, _STOP
    _PROGRESS, _STOP = progress, stop

    def on_sigint(signum: int, frame: Any) -> None:
        global _RAISED
        if _BUSY and not _RAISED:
            _RAISED = True
            raise stop_raised(signum)  # raised again before the next frame if something swallows it

    signal.signal(signal.SIGINT, on_sigint)
    sys.unraisablehook = quiet_swallowed_stops  # one swallowed is no traceback among the unit's notes


# ------------------------------------------------------------------------------------------------------- chunks


def _io() -> Any:
    """The frame I/O the chunks need (one place to follow the library's modules if they move)."""
    from rtstyle.io import decode, encode, ffmpeg, probe, sources
    from rtstyle.io.sinks import base, video

    return decode, encode, ffmpeg, probe, sources, base, video


def _stylize_chunk(unit: Unit, cfg: Config, how: StylizeOptions, watch: _Watch) -> tuple[int, float | None, str, str]:
    """Stylize the frames of ``unit.start <= t < unit.end`` into the part file ``unit.output`` (no audio).

    The decoder seeks to ``unit.seek`` (exact: it decodes from the keyframe before and drops what precedes
    it); the frames before ``unit.start`` run through the stylizer and the smoother but are not written, so the
    smoother's state at the seam is close to the one an uninterrupted run has there."""
    decode, _, _, probe, sources, base, video = _io()
    from rtstyle.pipeline.loop import Pipeline
    from rtstyle.pipeline.smoothing import make_smoother

    smoother = make_smoother(cfg.smooth)
    info = probe.probe(unit.input, count_frames=False)

    class ChunkSource(sources.Source):
        def __init__(self) -> None:
            args = ("-ss", f"{unit.seek:.6f}") if unit.seek > 0 else ()  # exact: frames before it are dropped
            self._dec = decode.Decoder(unit.input, input_args=args, label=unit.input)
            self.width, self.height, self.fps = self._dec.width, self._dec.height, info.fps
            self.description = f"{Path(unit.input).name} from {unit.seek:.2f} s"

        def read(self) -> tuple[np.ndarray, float] | None:
            item = self._dec.read()
            if item is None:
                return None
            t = item[1] + unit.seek
            if unit.end is not None and t >= unit.end:
                return None
            return item[0], t

        def close(self) -> None:
            self._dec.close()

    class FromStart(base.Sink):
        """Writes the frames from ``unit.start`` on, with timestamps from the first one written."""

        name = "chunk"

        def __init__(self, sink: Any) -> None:
            self.sink, self.first_t, self.frames = sink, None, 0

        def write(self, frame: np.ndarray, timestamp: float) -> None:
            if unit.start is not None and timestamp < unit.start:
                return
            if self.first_t is None:
                self.first_t = timestamp
            self.frames += 1
            self.sink.write(frame, timestamp - self.first_t)

        def close(self) -> None:
            if self.frames:
                self.sink.close()
            else:
                self.sink.abort()

        def abort(self) -> None:
            self.sink.abort()

    stylizer = how.stylizer()
    source = ChunkSource()
    gate = None
    try:
        stylizer.check_size(source.width, source.height)
        sink = video.VideoFileSink(
            unit.output, info.fps or 25.0, (source.width, source.height), crf=cfg.crf, preset=cfg.preset,
            timescale=info.timescale, input_path=unit.input, force=True,
        )  # fmt: skip
        gate = FromStart(sink)
        pipeline = Pipeline(source, stylizer, smoother, [gate])
        watch.start(unit.key)
        pipeline.run(progress=watch)
    except BaseException:
        if gate is not None:
            gate.abort()
        raise
    finally:
        source.close()
    if gate.frames and (sink.failed or not Path(unit.output).exists()):
        raise OutputError(f"{unit.output}: {sink.failed or 'the encoder wrote nothing'}")
    return gate.frames, gate.first_t, stylizer.provider, stylizer.style


def join_chunks(parts: list[tuple[Path, float]], inp: Path, out: Path, audio: bool = True) -> str | None:
    """Concatenate chunk parts (``(file, timestamp of its first frame)``, in order) into ``out`` without
    re-encoding (PyAV remuxes their packets), with ``inp``'s audio (copied, or AAC when MP4 cannot take it); each
    part is placed at its first frame's time, so the timing is the input's. Written to a unique temporary file and
    renamed: a kill never leaves a half file under ``out``'s name. Returns the audio mode ("copy", "aac" or None)."""
    import av

    _, encode, ffmpeg, probe, _, _, _ = _io()
    info = probe.probe(inp, count_frames=False)
    remove_stale_parts(out, ".mp4")  # left by a join that was killed
    mode = None
    options = {"movflags": "+faststart", "video_track_timescale": str(info.timescale or 90000)}
    part = temp_path(out, ".mp4")
    try:  # straight after the temporary file exists: an interrupt anywhere from here on removes it
        tmp = str(part)
        container = av.open(tmp, "w", format="mp4", options=options)
        sound = None
        try:
            first = av.open(str(parts[0][0]))
            stream = container.add_stream_from_template(first.streams.video[0])
            first.close()
            if audio and info.has_audio:
                sound = encode._Audio(container, str(inp), encode.CONTAINERS[".mp4"], shortest=False)
                mode = "copy" if sound.mode == "copy" else "aac"
            container.start_encoding()
            t0 = parts[0][1]
            last_dts: int | None = None
            for path, first_t in parts:
                src = av.open(str(path))
                try:
                    vin = src.streams.video[0]
                    shift = int(round((first_t - t0) / vin.time_base))
                    for packet in src.demux(vin):
                        if packet.dts is None and not packet.size:
                            continue
                        packet.pts = None if packet.pts is None else packet.pts + shift
                        packet.dts = None if packet.dts is None else packet.dts + shift
                        packet.stream = stream
                        packet.time_base = vin.time_base
                        if packet.dts is not None:  # parts abut: keep the decoding order strictly increasing
                            dts = packet.dts * vin.time_base
                            if last_dts is not None and dts <= last_dts:
                                step = int(last_dts / vin.time_base) + 1 - packet.dts
                                packet.dts += step
                                if packet.pts is not None and packet.pts < packet.dts:
                                    packet.pts = packet.dts
                            last_dts = packet.dts * vin.time_base
                        if sound is not None and packet.pts is not None:
                            sound.until(float(packet.pts * vin.time_base))
                        container.mux(packet)
                finally:
                    src.close()
            if sound is not None:
                sound.until(None)
        finally:
            container.close()
            if sound is not None:
                sound.close()
        publish(part, out, force=True)
    except av.FFmpegError as exc:
        raise OutputError(f"{out}: joining the chunks failed ({ffmpeg.av_reason(exc, str(part))})") from None
    finally:
        part.unlink(missing_ok=True)
    return mode
