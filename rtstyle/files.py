"""Small file-system helpers shared by every writer of final outputs."""

from __future__ import annotations

import os


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
