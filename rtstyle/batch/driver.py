"""``rtstyle.batch.run``: stylize many files, resumably, on a local process pool or on Ray.

The driver (this module, on the caller's machine) finds the files, checks the manifest, probes the videos, cuts
long ones into chunks, hands units to a backend (:mod:`rtstyle.batch.local` or :mod:`rtstyle.batch.on_ray`),
records each finished output in the manifest as it comes back, and joins a chunked video when its last chunk is
in. Workers only stylize; the manifest has one writer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from rtstyle.batch import plan, remote
from rtstyle.batch.manifest import Manifest
from rtstyle.batch.remote import Loc
from rtstyle.batch.work import Config, Unit, UnitResult, join_chunks
from rtstyle.choices import X264_PRESETS
from rtstyle.errors import InputError, Interrupted, OutputError, RtstyleError, StyleNotFound
from rtstyle.pipeline.jobs import StylizeOptions

DEFAULT_CHUNK_FRAMES = 1800  # a minute at 30 fps: long enough that seams are rare, short enough to spread a film
DEFAULT_OVERLAP = 8  # frames decoded and smoothed before a chunk's first frame (the smoother's warm-up)
DEFAULT_RETRIES = 2  # a unit whose worker dies is run again at most this many times
TEST_KILL_ENV = "RTSTYLE_BATCH_TEST_KILL"  # tests only: "SUBSTRING:N" kills the worker of a matching unit once

STATUSES = ("done", "up-to-date", "exists", "unreadable", "failed", "interrupted")


@dataclass
class FileResult:
    """What became of one input file."""

    input: str
    output: str
    kind: str  # "image" or "video"
    status: str  # one of STATUSES
    frames: int = 0
    seconds: float = 0.0  # worker time, all chunks together
    attempts: int = 1  # the most starts any of its units needed (2 or more: retried after a worker died)
    chunks: int = 1
    message: str = ""
    notes: list[str] = field(default_factory=list)
    lanes: list[str] = field(default_factory=list)  # Ray: the kinds of worker that ran its units ("gpu", "cpu")

    @property
    def retried(self) -> bool:
        return self.attempts > 1


@dataclass
class BatchResult:
    out_dir: str
    backend: str  # "local" or "ray"
    workers: int
    threads: int
    style: str
    provider: str
    seconds: float
    files: list[FileResult]
    lanes: dict[str, int] = field(default_factory=dict)  # Ray with GPU and CPU workers: how many of each

    def counts(self) -> dict[str, int]:
        c = dict.fromkeys(STATUSES, 0)
        for f in self.files:
            c[f.status] = c.get(f.status, 0) + 1
        c["retried"] = sum(1 for f in self.files if f.retried)
        return c

    @property
    def frames(self) -> int:
        return sum(f.frames for f in self.files if f.status == "done")

    @property
    def ok(self) -> bool:
        """True when no file failed, was unreadable or was interrupted."""
        return not any(f.status in ("unreadable", "failed", "interrupted") for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["counts"] = self.counts()
        d["frames"] = self.frames
        for f, fr in zip(d["files"], self.files, strict=True):
            f["retried"] = fr.retried
        return d


class BatchProgress(Protocol):
    """Told the size of the batch, then each unit's frames and each file's result as they finish."""

    def start(self, files: int, frames: int) -> None: ...

    def advance(self, frames: int) -> None: ...

    def file_done(self, result: FileResult) -> None: ...


def _model_files(stylizer: Any) -> list[Path]:
    """The model files a stylizer loaded (several for a blend across files): what the fingerprint digests."""
    sessions = getattr(stylizer, "_sessions", None)
    if sessions:
        return sorted({Path(s.path) for s in sessions.values()})
    return [Path(stylizer.model_path)]


def _cores() -> int:
    from rtstyle.runtime.hardware import physical_cores

    return physical_cores()


def default_workers(threads: int, device: str) -> int:
    """Local pool size: as many workers as the cores hold at ``threads`` each (two on CUDA: while one worker's
    frames are on the GPU, the other decodes, smooths and encodes; the same on the other accelerators)."""
    from rtstyle.runtime.hardware import ACCELERATORS

    if device in ACCELERATORS:
        return 2
    return max(1, _cores() // max(1, threads))


class _Run:
    """The state of one batch run (used by :func:`run`): items by their output's relative path."""

    def __init__(
        self, manifest: Manifest, fp: str, audio: bool, progress: BatchProgress | None, scratch: Path | None = None
    ) -> None:
        self.manifest, self.fp, self.audio, self.progress = manifest, fp, audio, progress
        self.scratch = scratch  # the driver's local folder for URL inputs, parts and outputs
        self.results: dict[str, FileResult] = {}
        self.items: dict[str, plan.Item] = {}
        self.unit_item: dict[str, str] = {}  # unit key -> item rel
        self.outstanding: dict[str, set[str]] = {}  # item rel -> unit keys not reported yet
        self.parts: dict[str, dict[int, tuple[Loc, float | None, int]]] = {}  # rel -> chunk -> (part, first t, frames)
        self.part_keys: dict[str, tuple[str, int, Loc]] = {}  # unit key -> (manifest key, chunk, part)
        self.parts_dir: dict[str, Loc] = {}
        self.live: dict[str, int] = {}  # unit key -> frames already counted in the progress while it ran
        self.providers: list[str] = []  # the providers the workers really ran on

    def on_progress(self, key: str, done: int) -> None:
        """A running unit got ``done`` frames far (local pool)."""
        if self.progress is not None and done > self.live.get(key, 0):
            self.progress.advance(done - self.live.get(key, 0))
            self.live[key] = done

    def on_result(self, r: UnitResult) -> None:
        rel = self.unit_item[r.key]
        if r.key not in self.outstanding[rel]:  # reported already (a result passed on again after an interrupt)
            return
        item, fr = self.items[rel], self.results[rel]
        fr.frames += r.frames
        fr.seconds += r.seconds
        fr.attempts = max(fr.attempts, r.attempts)
        fr.notes += [n for n in r.notes if n not in fr.notes]
        if r.lane and r.lane not in fr.lanes:
            fr.lanes.append(r.lane)
        if r.provider and r.provider not in self.providers:
            self.providers.append(r.provider)
        if r.status != "done":
            if fr.status == "todo":
                fr.status, fr.message = r.status, r.message
        elif r.key in self.part_keys:
            mkey, index, part = self.part_keys[r.key]
            self.manifest.record(mkey, part, self.fp, item.input, kind="chunk", frames=r.frames, first_t=r.first_t)
            self.parts[rel][index] = (part, r.first_t, r.frames)
        if self.progress is not None:
            self.progress.advance(max(0, r.frames - self.live.pop(r.key, 0)))
        self.outstanding[rel].discard(r.key)
        if not self.outstanding[rel]:
            self.finish(item, fr)

    def finish(self, item: plan.Item, fr: FileResult) -> None:
        if fr.status == "todo":
            try:
                if item.chunks:
                    done = [v for _, v in sorted(self.parts[item.rel].items())]
                    parts = [(p, float(t)) for p, t, _ in done if t is not None]
                    if not parts:
                        raise InputError(f"{item.input}: no video frames could be decoded")
                    self.join(item, parts)
                    fr.frames = sum(n for _, _, n in done)
                self.manifest.record(
                    item.rel, item.output, self.fp, item.input, kind=item.kind, frames=fr.frames,
                    chunks=max(1, len(item.chunks)),
                )  # fmt: skip
                fr.status = "done"
                if item.chunks:
                    remote.rmtree(self.parts_dir[item.rel])
            except RtstyleError as exc:
                fr.status = "unreadable" if isinstance(exc, InputError) else "failed"
                fr.message = str(exc)
        if self.progress is not None:
            self.progress.file_done(fr)

    def join(self, item: plan.Item, parts: list[tuple[Loc, float]]) -> None:
        """Join a chunked video's parts into its output; URL parts, input and output go through local copies in
        the scratch folder (the output uploaded once it is complete)."""
        if not any(isinstance(loc, str) for loc in (item.input, item.output, *(p for p, _ in parts))):
            join_chunks([(Path(p), t) for p, t in parts], Path(item.input), Path(item.output), self.audio)
            return
        assert self.scratch is not None
        work = Path(tempfile.mkdtemp(prefix="join-", dir=self.scratch))
        try:
            local_parts = []
            for i, (p, t) in enumerate(parts):
                if isinstance(p, str):
                    try:
                        p = remote.fetch(p, work / f"{i:04d}.mp4")
                    except InputError as exc:  # a part is the batch's own file: losing it is a failure
                        raise OutputError(str(exc)) from None
                local_parts.append((p, t))
            inp = item.input if isinstance(item.input, Path) else item.local
            if inp is None:
                inp = remote.fetch(str(item.input), work / "in" / remote.name(item.input))
            out = work / "out" / remote.name(item.output) if isinstance(item.output, str) else item.output
            out.parent.mkdir(parents=True, exist_ok=True)
            join_chunks(local_parts, inp, out, self.audio)
            if isinstance(item.output, str):
                remote.upload(out, item.output)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if item.local is not None:
                with contextlib.suppress(OSError):
                    item.local.unlink()


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """The driver's local folder for URL inputs (to probe), chunk parts and outputs (to join), removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="rtstyle-batch-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _probe_video(item: plan.Item, chunk_frames: int | None, overlap: int, scratch: Path) -> None:
    """Frames, rate and chunks of a video; a URL video is downloaded to probe it (and kept when it is chunked: the
    join takes its audio)."""
    from rtstyle.io.probe import probe

    local = item.input
    try:
        if isinstance(item.input, str):
            local = remote.fetch(item.input, Path(tempfile.mkdtemp(dir=scratch)) / remote.name(item.input))
        info = probe(local, count_frames=False)
    except InputError as exc:
        item.status, item.message = "unreadable", str(exc).replace(str(local), str(item.input))
        return
    finally:
        if isinstance(item.input, str) and isinstance(local, Path) and item.status != "todo":
            with contextlib.suppress(OSError):
                local.unlink()
    item.frames, item.fps = int(info.frame_count or 0), float(info.fps or 0.0)
    item.chunks = plan.plan_chunks(item.frames, item.fps, chunk_frames, overlap)
    if isinstance(item.input, str) and isinstance(local, Path):
        if item.chunks:
            item.local = local
        else:
            with contextlib.suppress(OSError):
                local.unlink()


def run(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    how: StylizeOptions | None = None,
    *,
    smooth: str = "flow",
    crf: int = 18,
    preset: str = "veryfast",
    audio: bool = True,
    force: bool = False,
    workers: int | None = None,
    threads: int | None = None,
    ray: str | None = None,
    chunk_frames: int | None = DEFAULT_CHUNK_FRAMES,
    overlap: int = DEFAULT_OVERLAP,
    retries: int = DEFAULT_RETRIES,
    progress: BatchProgress | None = None,
) -> BatchResult:
    """Stylize every image and video of ``inputs`` (files, folders, glob patterns) into ``out_dir``, keeping
    their relative paths (videos become ``.mp4``).

    Resumable and idempotent: an output recorded in ``out_dir/.rtstyle-batch/manifest.jsonl`` as made from the
    same input with the same model and options is skipped (``up-to-date``); an output that exists otherwise is
    left alone (``exists``) unless ``force``. Outputs are written to temporary files and renamed. A bad file is a
    result (``unreadable``/``failed``), never an exception; bad options, an unknown style, an unwritable
    ``out_dir`` or Ray that cannot be reached raise a one-line :class:`~rtstyle.errors.RtstyleError` before any
    work. Videos longer than ``chunk_frames`` frames are cut into chunks (``None`` or 0: never) that overlap by
    ``overlap`` frames and are joined without re-encoding.

    ``ray``: None runs a local process pool of ``workers`` processes with ``threads`` onnxruntime threads each;
    ``"local"``, ``"auto"`` or ``"ray://HOST:PORT"`` runs the units as Ray tasks (see :mod:`rtstyle.batch.on_ray`).
    """
    from rtstyle.pipeline.smoothing import check_mode

    t0 = time.perf_counter()
    check_mode(smooth)
    if preset not in X264_PRESETS:
        raise InputError(f"--preset must be one of {', '.join(X264_PRESETS)}, not {preset!r}")
    if not 0 <= crf <= 51:
        raise InputError(f"--crf must be in 0..51 (lower = better), not {crf}")
    for name, value, lo in (("--workers", workers, 1), ("--threads", threads, 1), ("--chunk-frames", chunk_frames, 0)):
        if value is not None and value < lo:
            raise InputError(f"{name} must be at least {lo}, not {value}")
    if overlap < 0 or retries < 0:
        raise InputError("--overlap and --retries must be at least 0")
    if not inputs:
        raise InputError("no inputs: give files, folders or glob patterns")
    remote.check([os.fspath(i) for i in inputs] + [os.fspath(out_dir)])  # fsspec and each URL's package
    out: Loc = os.fspath(out_dir).rstrip("/") if remote.is_url(os.fspath(out_dir)) else Path(out_dir).expanduser()
    if remote.exists(out) and not remote.isdir(out):
        raise OutputError(f"{out}: --out-dir is a file, not a folder")
    how = how or StylizeOptions()

    # The model and options, resolved once here (an unknown style is one line before any work).
    from rtstyle.runtime.stylizer import Stylizer

    def resolve(device: str, tier: str | None) -> Stylizer:
        return how.stylizer(device=device, tier=tier, warm_up=False, threads=1, lanes=1)

    if ray and how.device == "cuda":  # the machine that starts a batch need not have the workers' GPU
        try:
            probe_stylizer = resolve("cpu", how.tier or "full")  # the tier CUDA prefers
        except StyleNotFound:
            probe_stylizer = resolve("cpu", how.tier)
    else:
        probe_stylizer = resolve(how.device, how.tier)
    models = _model_files(probe_stylizer)
    label, provider, device = probe_stylizer.style, probe_stylizer.provider, probe_stylizer.device
    n_styles = len(probe_stylizer.style_names)
    del probe_stylizer
    settings = {
        "style": label, "strength": how.strength, "preserve_color": how.preserve_color, "max_side": how.max_side,
        "scale": how.scale, "smooth": smooth, "crf": crf, "preset": preset, "audio": audio,
    }  # fmt: skip
    fp = plan.fingerprint([plan.file_digest(m) for m in models], settings)

    try:
        remote.makedirs(out)
    except OSError as exc:
        raise OutputError(f"cannot create {out}: {exc.strerror or exc}") from None
    if isinstance(out, Path):
        if not os.access(out, os.W_OK | os.X_OK):
            raise OutputError(f"{out}: folder is not writable")
        out = out.resolve()
    threads = threads or 1
    backend = "ray" if ray else "local"
    state = remote.join(out, plan.STATE_DIR)
    with (
        _scratch() as scratch,
        Manifest(
            scratch / "state" if isinstance(state, str) else state, remote_dir=state if isinstance(state, str) else None
        ) as manifest,
    ):
        remote.rmtree(remote.join(state, "attempts"))
        items = plan.discover(list(inputs), out)
        if not items:
            raise InputError(f"no images or videos found in {', '.join(os.fspath(i) for i in inputs)}")
        st = _Run(manifest, fp, audio, progress, scratch)
        for item in items:
            if item.status != "todo":
                continue
            entry = None if force else manifest.finished(item.rel, item.output, fp, item.input)
            if entry is not None:
                item.status, item.frames = "up-to-date", int(entry.get("frames") or 0)
            elif remote.exists(item.output) and not force and not manifest.claimed(item.rel, fp):
                item.status = "exists"
                item.message = "exists and is not recorded as made from this input with this model and options"
        videos = [i for i in items if i.status == "todo" and i.kind == "video"]
        with ThreadPoolExecutor(max_workers=4) as ex:
            list(ex.map(lambda i: _probe_video(i, chunk_frames, overlap, scratch), videos))
        from rtstyle.files import check_output_path

        for item in items:
            if item.status != "todo":
                continue
            try:
                remote.makedirs(remote.parent(item.output))
                if isinstance(item.output, Path):
                    check_output_path(item.output, (item.input,), example=item.output.name)
                elif item.output == item.input:
                    raise OutputError(f"{item.output}: OUT is the same file as IN (the input is untouched)")
            except OSError as exc:
                where = remote.parent(item.output)
                item.status, item.message = "failed", f"cannot create {where}: {exc.strerror or exc}"
            except OutputError as exc:
                item.status, item.message = "failed", str(exc)
            if item.kind == "image":
                item.frames = 1

        fault = os.environ.get(TEST_KILL_ENV, "")
        units: list[Unit] = []
        files: list[FileResult] = []
        for item in items:
            fr = FileResult(
                str(item.input), str(item.output), item.kind, item.status,
                frames=item.frames if item.status == "up-to-date" else 0, chunks=max(1, len(item.chunks)), message=item.message,
            )  # fmt: skip
            files.append(fr)
            if item.status != "todo":
                continue
            fr.frames = 0
            st.results[item.rel], st.items[item.rel] = fr, item
            keys: set[str] = set()
            if not item.chunks:
                u = Unit(item.rel, item.kind, str(item.input), str(item.output))
                units.append(u)
                keys.add(u.key)
            else:
                pname = plan.chunk_dir_name(item.rel, fp, chunk_frames, overlap)
                pdir = remote.join(state, f"parts/{pname}")
                remote.makedirs(pdir)
                st.parts_dir[item.rel] = pdir
                st.parts[item.rel] = {}
                for c in item.chunks:
                    part = remote.join(pdir, f"{c.index:04d}.mp4")
                    key = f"{item.rel}#{c.index:04d}"
                    mkey = f"parts/{pname}/{c.index:04d}.mp4"
                    st.part_keys[key] = (mkey, c.index, part)
                    st.unit_item[key] = item.rel
                    done = None if force else manifest.finished(mkey, part, fp, item.input)
                    if done is not None:
                        st.parts[item.rel][c.index] = (part, done.get("first_t"), int(done.get("frames") or 0))
                        continue
                    units.append(Unit(key, "chunk", str(item.input), str(part), c.start, c.end, c.seek))
                    keys.add(key)
            for k in keys:
                st.unit_item[k] = item.rel
            st.outstanding[item.rel] = keys
        if fault:
            sub, _, at = fault.rpartition(":")
            units = [replace(u, fault=f"kill@{at}") if sub and sub in u.key else u for u in units]

        manifest.claim([(i.rel, i.output, i.input) for i in items if i.status == "todo"], fp)
        todo_frames = sum(i.frames for i in items if i.status == "todo")
        cfg = Config(how, smooth, crf, preset, audio, threads, str(state))
        n_workers = 0
        started_ray = False
        lanes: list[Any] = []
        try:
            if units and ray:  # reach the cluster before anything is reported (a bad address is one line)
                from rtstyle.batch import on_ray

                started_ray = on_ray.connect(ray, num_cpus=(workers * threads) if workers else None)
                gpus = on_ray.cluster_gpus()
                if how.device == "cuda" and gpus <= 0:
                    raise RtstyleError("--device cuda: the Ray cluster has no GPU")
                # GPU workers on GPU nodes, CPU workers on the others (auto); each lane sets its own device
                lanes = on_ray.cluster_lanes(how.device if how.device in ("cuda", "auto") else "cpu", threads)
                if len(models) == 1:  # ship the model file through the object store, once
                    shipped = replace(cfg.how, style=None)
                    if how.blend is None and n_styles > 1:
                        shipped = replace(shipped, blend=f"{label}=1")
                    cfg = replace(
                        cfg, how=shipped,
                        model=(plan.file_digest(models[0]), models[0].suffix, on_ray.put_model(models[0].read_bytes())),
                    )  # fmt: skip
                n_workers = sum(lane.slots or 0 for lane in lanes) or int(
                    on_ray.import_ray().cluster_resources().get("CPU", 0) // threads
                )
            elif units:
                n_workers = min(workers or default_workers(threads, device), len(units))
            if progress is not None:
                progress.start(len(items), todo_frames)
                for fr in files:
                    if fr.status != "todo":
                        progress.file_done(fr)
            for rel, keys in st.outstanding.items():  # every chunk already done in an earlier run: join now
                if not keys:
                    st.finish(st.items[rel], st.results[rel])
            if units and ray:
                from rtstyle.batch import on_ray

                on_ray.run_ray(units, cfg, threads, lanes, retries, st.on_result, st.on_progress)
            elif units:
                from rtstyle.batch.local import run_local

                run_local(units, cfg, n_workers, retries, st.on_result, st.on_progress)
        except KeyboardInterrupt as exc:
            done = sum(1 for f in files if f.status in ("done", "up-to-date"))
            signum = int(getattr(exc, "signum", 2) or 2)
            what = "interrupted" if signum == 2 else f"stopped by {getattr(exc, 'name', signum)}"
            stopped = Interrupted(
                f"{what}: {done} of {len(items)} files finished (recorded in {manifest.shown}); "
                "run the same command again to go on"
            )
            stopped.exit_code = 128 + signum
            raise stopped from None
        finally:
            if started_ray:
                with contextlib.suppress(Exception):
                    from rtstyle.batch import on_ray

                    on_ray.shutdown()
    for f in files:
        if f.status == "todo":  # pragma: no cover - every unit reports; kept as a guard
            f.status, f.message = "failed", "no result came back"
    provider = "+".join(st.providers) or provider  # what the workers ran on (the driver's guess when none ran)
    mixed: dict[str, int] = {}
    if len(lanes) > 1:
        for lane in lanes:
            mixed[lane.name] = mixed.get(lane.name, 0) + (lane.slots or 0)
    return BatchResult(
        str(out), backend, n_workers, threads, label, provider, time.perf_counter() - t0, files, lanes=mixed
    )
