"""Small file-system helpers shared by every writer of final outputs.

Every output is written to a temporary file beside it (:func:`temp_path`: a unique name per run, holding the
writer's machine and process id) and published under its real name only at the end (:func:`publish`), so an interrupted or
failed run never leaves a half-written file under OUT's name, and two runs writing the same OUT never share a
temporary file. :func:`remove_stale_parts` deletes the temporary files that runs which died (SIGKILL, a crash)
left behind, never one whose run is still alive.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path

from rtstyle.errors import OutputError


def default_mode() -> int:
    """The mode a normally created file gets (0666 less the umask); temporary files start at 0600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def publish_mode(fd_or_path: int | str | os.PathLike[str]) -> None:
    """Give a temporary file (made by ``tempfile.mkstemp``) the ordinary mode before it is renamed into place.

    An open file descriptor is changed with ``os.fchmod`` where it exists (POSIX; Windows only from Python 3.13),
    else with ``os.chmod`` when it takes descriptors there; where neither does (Windows before 3.13) nothing is
    changed: a Windows file mode holds only the read-only flag, and ``mkstemp``'s file is already writable."""
    mode = default_mode()
    if not isinstance(fd_or_path, int):
        os.chmod(fd_or_path, mode)
        return
    fchmod = getattr(os, "fchmod", None)
    if fchmod is not None:
        fchmod(fd_or_path, mode)
    elif os.chmod in os.supports_fd:
        os.chmod(fd_or_path, mode)


def same_file(a: Path, b: Path) -> bool:
    """True when two paths name the same file (hard links and symlinks included), existing or not."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output_path(
    out: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    example: str = "out.mp4",
    force: bool = True,
) -> Path:
    """``out`` as a Path when it can be written and is none of ``inputs``; else one-line ``OutputError``.

    The one check every command makes before any work (so OUT == IN is refused and the input never touched).
    ``force=False``: an existing OUT is refused too (the commands' default; ``--force`` overwrites)."""
    p = Path(out)
    for inp in inputs:
        if inp is not None and same_file(p, Path(inp)):
            raise OutputError(f"{p}: OUT is the same file as IN; choose another output name (the input is untouched)")
    if p.is_dir():
        raise OutputError(f"{p}: is a folder; give a file name such as {p / example}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{p}: folder {parent} is not writable")
    if p.exists() and not force:
        raise OutputError(f"{p}: exists; add --force (-f) to overwrite it")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputError(f"{p}: exists and is not writable")
    return p


PART = ".part"


@functools.lru_cache(maxsize=1)
def _host() -> str:
    """A short token for this machine: a process id means something only on the machine that wrote it (a shared
    folder may hold the parts of runs on other machines)."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def part_prefix(out: Path, pid: int | None = None) -> str:
    """How the temporary files of a run (``pid``, default this one) on this machine writing ``out`` begin."""
    return f".{out.name}.{_host()}-{os.getpid() if pid is None else pid}-"


def temp_path(out: Path, suffix: str = "") -> Path:
    """A new, unique temporary file beside ``out`` for this run: ``.OUT.<host>-<pid>-<random>.part<suffix>``
    (created empty, mode 0600 until :func:`publish`). An interrupt before the caller holds the path removes it:
    the caller's own guard (``try: ... finally: unlink``) starts right after the call."""
    folder = out.parent if str(out.parent) else Path(".")
    try:
        fd, name = tempfile.mkstemp(prefix=part_prefix(out), suffix=PART + suffix, dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    try:
        os.close(fd)
        return Path(name)
    except BaseException:  # Ctrl-C landed in here: the file is nobody's yet
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise


def _part_pattern(out: Path, suffix: str) -> re.Pattern[str]:
    return re.compile(re.escape(f".{out.name}.") + r"([0-9a-f]{8})-(\d+)-[^/]*" + re.escape(PART + suffix) + "$")


def part_files(out: Path, suffix: str = "") -> list[Path]:
    """The temporary files of every run (live or dead, on any machine) writing ``out``."""
    folder = out.parent if str(out.parent) else Path(".")
    pattern = _part_pattern(out, suffix)
    try:
        return sorted(p for p in folder.iterdir() if pattern.match(p.name))
    except OSError:
        return []


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that has died but was not reaped yet (a killed worker whose parent died too, where nothing reaps
    orphans): ``kill(pid, 0)`` still finds it. Linux only; elsewhere False."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def remove_own_parts(out: Path) -> list[Path]:
    """Delete this process's temporary files for ``out``, whatever their suffix: after an interrupt, which may land
    between a temporary file's creation and the guard that would remove it (inside ``tempfile`` itself, even).
    Only for a process that writes ``out`` once at a time (a batch worker). Returns what was deleted."""
    folder = out.parent if str(out.parent) else Path(".")
    prefix = part_prefix(out)
    removed = []
    try:
        names = [p for p in folder.iterdir() if p.name.startswith(prefix) and PART in p.name[len(prefix) :]]
    except OSError:
        return []
    for p in names:
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


def remove_stale_parts(out: Path, suffix: str = "") -> list[Path]:
    """Delete the temporary files for ``out`` that dead runs on this machine left behind; a live run's file, and
    any file of another machine's run, is never touched (POSIX only: elsewhere nothing is deleted). Returns what
    was deleted."""
    if os.name != "posix":
        return []
    pattern = _part_pattern(out, suffix)
    removed = []
    for p in part_files(out, suffix):
        m = pattern.match(p.name)
        if m is None or m.group(1) != _host() or _alive(int(m.group(2))):
            continue
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def _link_new(tmp: Path, out: Path) -> bool:
    """Move ``tmp`` to ``out`` unless ``out`` exists (atomic with hard links); False when it exists."""
    try:
        os.link(tmp, out)  # atomic and never overwrites
    except FileExistsError:
        return False
    except OSError:  # no hard links on this file system: check, then rename
        if out.exists():
            return False
        os.replace(tmp, out)
        return True
    os.unlink(tmp)
    return True


def publish(tmp: Path, out: Path, force: bool = True, or_beside: bool = False) -> Path:
    """Give ``tmp`` the ordinary mode and move it to ``out``; returns where it went.

    ``force=False`` never replaces a file that appeared under OUT's name meanwhile (another run, another program):
    then ``or_beside`` keeps the result next to it as ``OUT-1.ext``, ``OUT-2.ext``, ... (a long recording is never
    lost), else OutputError and ``tmp`` is left to the caller."""
    publish_mode(tmp)
    if force:
        os.replace(tmp, out)
        return out
    if _link_new(tmp, out):
        return out
    if or_beside:
        for n in range(1, 1000):
            beside = out.with_name(f"{out.stem}-{n}{out.suffix}")
            if _link_new(tmp, beside):
                return beside
    raise OutputError(f"{out}: appeared while this run was writing it; left as it is (add --force)")
