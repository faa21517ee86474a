"""What a batch will do: the files it finds, where each output goes, how long videos are cut into chunks, and the
fingerprint of the model and options that the manifest records.

Nothing here stylizes; the driver (:mod:`rtstyle.batch.driver`) turns the plan into units of work.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from rtstyle.batch import remote
from rtstyle.batch.remote import Loc

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".flv", ".wmv", ".3gp"}
)
STATE_DIR = ".rtstyle-batch"  # inside the output folder: manifest, lock, chunk parts, attempt counters


@dataclass
class Chunk:
    """Consecutive frames of one video, in the decoder's timeline (seconds from the first frame).

    Frames with ``start <= t < end`` are written (``None``: from the beginning / to the end); decoding starts at
    ``seek`` (before ``start`` by the overlap), and the frames before ``start`` only warm the smoother up."""

    index: int
    start: float | None
    end: float | None
    seek: float


@dataclass
class Item:
    """One input file and what becomes of it."""

    input: Loc  # a local path or a URL (rtstyle.batch.remote)
    rel: str  # the output's path relative to the output folder (POSIX separators)
    output: Loc
    kind: str  # "image" or "video"
    status: str = "todo"  # todo, done, up-to-date, exists, unreadable, failed, interrupted
    message: str = ""
    frames: int = 0  # expected (videos: from the probe; images: 1), then done
    fps: float = 0.0
    chunks: list[Chunk] = field(default_factory=list)  # empty: the whole file is one unit
    local: Path | None = None  # the driver's local copy of a URL video (probed; kept for the join when chunked)


def _has_magic(text: str) -> bool:
    return any(c in text for c in "*?[")


def _inside(path: Loc, folder: Loc) -> bool:
    if isinstance(path, str) or isinstance(folder, str):
        return isinstance(path, str) and isinstance(folder, str) and path.startswith(folder.rstrip("/") + "/")
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _inside_on_disk(path: Loc, folder: Loc) -> bool:
    """``_inside`` across a local path and a ``file://`` URL (the same folder, written two ways)."""
    if isinstance(path, Path) and isinstance(folder, Path):
        return False  # _inside says it
    p, f = remote.local_path(path), remote.local_path(folder)
    return p is not None and f is not None and _inside(p.resolve(), f.resolve())


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _suffix(path: Loc) -> str:
    return (path if isinstance(path, Path) else PurePosixPath(remote.name(path))).suffix.lower()


def _kind(path: Loc) -> str:
    return "image" if _suffix(path) in IMAGE_SUFFIXES else "video"


def _media(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES


def output_rel(rel: Path) -> str:
    """The output's relative path: a video becomes an H.264 ``.mp4`` of the same name, a picture keeps its format."""
    if _kind(rel) == "video":
        rel = rel.with_suffix(".mp4")
    return rel.as_posix()


def _discover_url(url: str) -> tuple[list[tuple[str, Path]], str | None]:
    """The files of one URL input (a folder, a glob pattern or one file) as ``(URL, relative path)``, or why there
    are none (an ``unreadable`` item). Relative paths as for local inputs: to the folder, or to the pattern's part
    before its first wildcard."""
    fs, path = remote.filesystem(url)
    found: list[tuple[str, Path]] = []

    def add(f: str, base: str, only_media: bool = True) -> None:
        rel = Path(f[len(base) + 1 :]) if base and f.startswith(base + "/") else Path(PurePosixPath(f).name)
        if not only_media or (not _hidden(rel) and _media(f)):
            found.append((remote.url_of(fs, f), rel))

    try:
        if _has_magic(path):
            base_parts = []
            for part in path.split("/"):
                if _has_magic(part):
                    break
                base_parts.append(part)
            base = "/".join(base_parts).rstrip("/")
            for m in sorted(fs.glob(path)):
                if fs.isdir(m):
                    for f in sorted(fs.find(m)):
                        add(f, base)
                else:
                    add(m, base, only_media=False)
            return found, None
        if fs.isdir(path):
            for f in sorted(fs.find(path)):
                add(f, path.rstrip("/"))
            return found, None
        if fs.isfile(path):
            add(path, "", only_media=False)
            return found, None
    except Exception as exc:  # noqa: BLE001 - every store has its own errors: the input is unreadable
        return [], f"cannot list it ({' '.join(str(exc).split()) or type(exc).__name__})"
    return [], "no such file or folder"


def discover(inputs: list[str | os.PathLike[str]], out_dir: Loc) -> list[Item]:
    """Files, folders (recursive; images and videos by extension; hidden names skipped) and glob patterns, in
    the order given (a folder's files sorted). Outputs keep each file's path relative to the folder or pattern
    it came from. Nothing inside ``out_dir`` is an input. A path that does not exist is an ``unreadable`` item;
    two inputs that would write one output make the second ``failed``. Inputs and ``out_dir`` may be fsspec URLs
    (:mod:`rtstyle.batch.remote`): a URL folder, glob pattern or file; the outputs then are URLs too."""
    if isinstance(out_dir, Path):
        out_dir = out_dir.resolve()
    found: list[tuple[Loc, Path]] = []  # (absolute file or URL, relative path)
    missing: list[Item] = []
    for raw in inputs:
        text = os.fspath(raw)
        if remote.is_url(text):
            urls, why = _discover_url(text)
            found += urls
            if why is not None:
                rel = remote.name(text) or "input"
                missing.append(Item(text, rel, remote.join(out_dir, rel), _kind(text), "unreadable", why))
            continue
        p = Path(text).expanduser()
        if p.is_dir():
            root = p.resolve()
            for f in sorted(root.rglob("*")):
                rel = f.relative_to(root)
                if f.is_file() and not _hidden(rel) and f.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                    found.append((f, rel))
        elif p.exists():
            found.append((p.resolve(), Path(p.name)))
        elif _has_magic(text):
            parts = Path(text).expanduser().parts
            base_parts = []
            for part in parts:
                if _has_magic(part):
                    break
                base_parts.append(part)
            base = Path(*base_parts).resolve() if base_parts else Path.cwd()
            for m in sorted(glob.glob(os.path.expanduser(text), recursive=True)):
                mp = Path(m).resolve()
                if mp.is_dir():
                    for f in sorted(mp.rglob("*")):
                        rel = f.relative_to(base) if _inside(f, base) else Path(f.name)
                        if f.is_file() and not _hidden(rel) and f.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                            found.append((f, rel))
                elif mp.is_file():
                    found.append((mp, mp.relative_to(base) if _inside(mp, base) else Path(mp.name)))
        else:
            missing.append(
                Item(
                    p,
                    Path(p.name).as_posix(),
                    remote.join(out_dir, p.name),
                    _kind(p),
                    "unreadable",
                    "no such file or folder",
                )
            )
    items: list[Item] = []
    seen_in: set[Loc] = set()
    taken: dict[str, Loc] = {}
    for f, rel in found:
        if f in seen_in or _inside(f, out_dir) or _inside_on_disk(f, out_dir):
            continue
        seen_in.add(f)
        orel = output_rel(rel)
        item = Item(f, orel, remote.join(out_dir, orel), _kind(f))
        if orel in taken:
            item.status, item.message = "failed", f"its output {orel} is already the output of {taken[orel]}"
        else:
            taken[orel] = f
        items.append(item)
    return items + missing


def plan_chunks(frames: int, fps: float, chunk_frames: int | None, overlap: int) -> list[Chunk]:
    """Cut a video of ``frames`` frames at ``fps`` into chunks of about ``chunk_frames`` (none when it is short
    or chunking is off). Boundaries fall half a frame before a frame's nominal time, so a frame belongs to exactly
    one chunk even when timestamps are slightly off; each chunk but the first starts decoding ``overlap`` frames
    early."""
    if not chunk_frames or chunk_frames <= 0 or fps <= 0 or frames <= chunk_frames:
        return []
    n = max(1, round(frames / chunk_frames))
    if n == 1:
        return []
    bounds = [(round(i * frames / n) - 0.5) / fps for i in range(1, n)]
    chunks = []
    for i in range(n):
        start = bounds[i - 1] if i > 0 else None
        end = bounds[i] if i < n - 1 else None
        seek = max(0.0, start - overlap / fps) if start is not None else 0.0
        chunks.append(Chunk(i, start, end, seek))
    return chunks


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of a file (cached by path, size and modification time)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def fingerprint(models: list[str], settings: dict[str, Any]) -> str:
    """One string for "the same model and options": the model files' digests and every setting that changes the
    pixels (style, strength, colours, working size, smoothing, quality, audio)."""
    blob = json.dumps({"models": sorted(models), **settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def chunk_dir_name(rel: str, key: str, chunk_frames: int | None, overlap: int) -> str:
    return hashlib.sha1(f"{rel}\0{key}\0{chunk_frames}\0{overlap}".encode()).hexdigest()[:16]
