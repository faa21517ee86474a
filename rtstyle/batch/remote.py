"""fsspec URLs for ``rtstyle batch``: inputs and ``--out-dir`` as ``s3://``, ``gs://``, ``az://``, ``file://`` ...

A location is either a local :class:`~pathlib.Path` or a URL string (``PROTOCOL://...``); the helpers here take
both, so the planner, the manifest, the driver and the workers use one set of calls. fsspec (the ``remote`` and
``ray`` extras) is imported only when a URL is used; a URL without it, or whose protocol's package (``s3fs``,
``gcsfs``, ``adlfs`` ...) is missing, is one :class:`~rtstyle.errors.RtstyleError` line naming what to install.

Workers fetch a URL input to a local temporary file, stylize it with the ordinary jobs into a local temporary
output, and upload the finished output with :func:`upload`: on object stores one ``put`` of the whole file (an
object appears only when its upload completes), elsewhere a put to a unique temporary name beside the output and a
rename (``mv``), so a killed batch never leaves a half file under a final name.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import secrets
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from rtstyle.errors import InputError, OutputError, RtstyleError

Loc = Path | str  # a local path, or a URL string
INSTALL = "pip install 'rtstyle[remote]'"
# Protocols whose writes become visible only when complete (one put is atomic); the others get a temp name + mv.
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oci", "oss", "tos", "memory"})
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://|::")


def is_url(loc: object) -> bool:
    """True for ``PROTOCOL://...`` (and fsspec's chained ``a::b://...``); a Windows drive (``C:\\``) is a path."""
    return isinstance(loc, str) and bool(_URL.search(loc))


def protocol(url: str) -> str:
    return url.split("::")[0].split("://")[0].lower() if "://" in url else url.split("::")[0].lower()


def filesystem(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path inside it)`` for ``url``; one line naming what to install when it cannot be had."""
    try:
        import fsspec
        import fsspec.core
    except ImportError:
        raise RtstyleError(f"{url}: URLs need fsspec: {INSTALL}") from None
    proto = protocol(url)
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        from fsspec.registry import known_implementations

        known = known_implementations.get(proto, {})
        package = str(known.get("class", "")).split(".")[0]
        if package and package != "fsspec":
            raise RtstyleError(f"{url}: {proto}:// URLs need the {package} package: pip install {package}") from None
        why = known.get("err") or " ".join(str(exc).split())
        raise RtstyleError(f"{url}: {proto}:// URLs need a package that is not installed ({why})") from None
    except ValueError as exc:
        raise RtstyleError(f"{url}: cannot use this URL ({' '.join(str(exc).split())})") from None


def check(locs: list[Any]) -> None:
    """Fail in one line now (before any work) when a URL among ``locs`` cannot be used on this machine."""
    for loc in locs:
        if is_url(loc):
            filesystem(loc)


def url_of(fs: Any, path: str) -> str:
    """The URL of ``path`` inside ``fs`` (with its protocol)."""
    return str(fs.unstrip_protocol(path))


def local_path(loc: Loc) -> Path | None:
    """The local path a location names: itself, or a ``file://`` URL's path; None for other URLs."""
    if isinstance(loc, Path):
        return loc
    if protocol(loc) in ("file", "local") and "::" not in loc:
        return Path(filesystem(loc)[1])
    return None


def join(base: Loc, rel: str) -> Loc:
    """``base / rel`` for a path, ``base/rel`` for a URL (``rel`` in POSIX form)."""
    if isinstance(base, str):
        return f"{base.rstrip('/')}/{rel}"
    return base / rel


def name(loc: Loc) -> str:
    return loc.name if isinstance(loc, Path) else PurePosixPath(loc.split("://", 1)[-1]).name


def parent(loc: Loc) -> Loc:
    return loc.parent if isinstance(loc, Path) else loc.rstrip("/").rsplit("/", 1)[0]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return " ".join(str(exc).split()) or type(exc).__name__


def stat(loc: Loc) -> list[Any] | None:
    """What tells one version of a file from another: ``[size, modification time]`` (a URL: its size and the
    first of its modification time, ETag or generation that the store reports); None when it does not exist."""
    if isinstance(loc, Path):
        try:
            st = loc.stat()
        except OSError:
            return None
        return [st.st_size, st.st_mtime_ns]
    fs, path = filesystem(loc)
    try:
        info = fs.info(path)
    except Exception:  # noqa: BLE001 - missing, or unreachable: not the recorded file either way
        return None
    if info.get("type") == "directory":
        return None
    for key in ("mtime", "LastModified", "last_modified", "updated", "ETag", "etag", "generation", "created"):
        if info.get(key) is not None:
            return [int(info.get("size") or 0), str(info[key])]
    return [int(info.get("size") or 0), None]


def exists(loc: Loc) -> bool:
    if isinstance(loc, Path):
        return loc.exists()
    fs, path = filesystem(loc)
    try:
        return bool(fs.exists(path))
    except Exception:  # noqa: BLE001 - unreachable counts as absent; writing it then says why
        return False


def isdir(loc: Loc) -> bool:
    if isinstance(loc, Path):
        return loc.is_dir()
    fs, path = filesystem(loc)
    try:
        return bool(fs.isdir(path))
    except Exception:  # noqa: BLE001
        return False


def makedirs(loc: Loc) -> None:
    """Create a folder (and its parents); a no-op on object stores (no folders there, and a store may take it for
    a new bucket). OSError when it cannot be made."""
    if isinstance(loc, Path):
        loc.mkdir(parents=True, exist_ok=True)
        return
    fs, path = filesystem(loc)
    if protocol(loc) in OBJECT_STORES:
        return
    try:
        fs.makedirs(path, exist_ok=True)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - stores raise their own types
        raise OSError(_reason(exc)) from None


def rmtree(loc: Loc) -> None:
    """Remove a folder and everything in it, if it is there (best effort)."""
    if isinstance(loc, Path):
        shutil.rmtree(loc, ignore_errors=True)
        return
    fs, path = filesystem(loc)
    with contextlib.suppress(Exception):
        if fs.exists(path):
            fs.rm(path, recursive=True)


def fetch(url: str, local: Path) -> Path:
    """Download ``url`` to ``local``; InputError (one line, naming the URL) when it cannot be read."""
    fs, path = filesystem(url)
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fs.isdir(path):
            raise InputError(f"{url}: is a folder, not a file")
        fs.get_file(path, str(local))
    except RtstyleError:
        raise
    except Exception as exc:  # noqa: BLE001 - every store has its own errors
        with contextlib.suppress(OSError):
            local.unlink()
        raise InputError(f"{url}: cannot read it ({_reason(exc)})") from None
    return local


def _temp_name(url: str) -> str:
    """A unique temporary name beside ``url`` (``.NAME.<host>-<pid>-<random>.part<suffix>``, as local outputs)."""
    from rtstyle.files import PART, part_prefix

    n = name(url)
    return str(join(parent(url), f"{part_prefix(Path(n))}{secrets.token_hex(4)}{PART}{PurePosixPath(n).suffix}"))


def upload(local: Path, url: str) -> None:
    """Put the finished file ``local`` at ``url`` so that no reader ever sees half of it: one put on object stores,
    a put to a unique temporary name beside it and a rename elsewhere. OutputError (one line) when it fails; a
    temporary file is removed."""
    fs, path = filesystem(url)
    try:
        if protocol(url) in OBJECT_STORES:
            fs.put_file(str(local), path)
            return
        fs.makedirs(posixpath.dirname(path), exist_ok=True)
        tmp_url = _temp_name(url)
        _, tmp = filesystem(tmp_url)
        try:
            fs.put_file(str(local), tmp)
            fs.mv(tmp, path)
        except BaseException:
            with contextlib.suppress(Exception):
                fs.rm(tmp)
            raise
    except RtstyleError:
        raise
    except Exception as exc:  # noqa: BLE001 - every store has its own errors
        raise OutputError(f"{url}: cannot write it ({_reason(exc)})") from None


class Staging:
    """A worker's local side of one unit whose input or output is a URL: :meth:`local_input` fetches the input
    into a private temporary folder, :meth:`local_output` is where the job writes, :meth:`publish` uploads the
    finished output; :meth:`close` removes the folder whatever happened."""

    def __init__(self, inp: str, out: str) -> None:
        self.inp, self.out = inp, out
        self.folder = Path(tempfile.mkdtemp(prefix="rtstyle-unit-"))

    def local_input(self) -> str:
        if not is_url(self.inp):
            return self.inp
        return str(fetch(self.inp, self.folder / "in" / name(self.inp)))

    def local_output(self) -> str:
        if not is_url(self.out):
            return self.out
        (self.folder / "out").mkdir(exist_ok=True)
        return str(self.folder / "out" / name(self.out))

    def publish(self) -> None:
        if is_url(self.out):
            local = Path(self.local_output())
            if local.exists():  # a chunk with no frames writes nothing
                upload(local, self.out)

    def message(self, text: str) -> str:
        """A job's message with the local copies' paths replaced by the URLs they stand for."""
        for url, sub in ((self.inp, "in"), (self.out, "out")):
            local = self.folder / sub / name(url)
            if is_url(url):
                text = text.replace(str(local), url)
        return text

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
