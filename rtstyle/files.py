"""Small file-system helpers shared by every writer of final outputs."""

from __future__ import annotations

import os
from pathlib import Path


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
