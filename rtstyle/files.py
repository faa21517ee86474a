"""Small file-system helpers shared by every writer of final outputs."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from rtstyle.errors import OutputError


def default_mode() -> int:
    """The mode a normally created file gets (0666 less the umask); temporary files start at 0600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def publish_mode(fd_or_path: int | str | os.PathLike[str]) -> None:
    """Give a temporary file (made by ``tempfile.mkstemp``) the ordinary mode before it is renamed into place."""
    if isinstance(fd_or_path, int):
        os.fchmod(fd_or_path, default_mode())
    else:
        os.chmod(fd_or_path, default_mode())


def same_file(a: Path, b: Path) -> bool:
    """True when two paths name the same file (hard links and symlinks included), existing or not."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output_path(
    out: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None] = (), example: str = "out.mp4"
) -> Path:
    """``out`` as a Path when it can be written and is none of ``inputs``; else one-line ``OutputError``.

    The one check every command makes before any work (so OUT == IN is refused and the input never touched)."""
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
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputError(f"{p}: exists and is not writable")
    return p
