"""Install hints that work where they are read: from a checkout or an installed package, in bash and in zsh.

``pip install rtstyle[cuda]`` fails in zsh (the brackets are a glob) and, when rtstyle runs from a git checkout,
installs something else than the checkout. :func:`pip_install` gives the command for this install, and
:func:`fix_install_hints` rewrites the hints in a message (the library words them one way) into it.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

_HINT = re.compile(r"""pip install (?:-e )?(?P<q>["']?)rtstyle\\?\[(?P<extra>[a-z0-9_,-]+)\](?P=q)""")


@functools.lru_cache(maxsize=1)
def checkout_root() -> Path | None:
    """The source checkout rtstyle runs from (an editable install or PYTHONPATH), or None for an installed
    package: the folder above the package when it holds rtstyle's pyproject.toml."""
    root = Path(__file__).resolve().parents[2]
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if re.search(r'(?m)^name\s*=\s*"rtstyle"', text) else None


def pip_install(extra: str) -> str:
    """The command that adds ``extra`` to this install, quoted for every shell:
    ``pip install "rtstyle[cuda]"``, or ``pip install -e ".[cuda]"`` run in the checkout (its path when the
    current folder is elsewhere)."""
    root = checkout_root()
    if root is None:
        return f'pip install "rtstyle[{extra}]"'
    try:
        here = Path.cwd().resolve() == root
    except OSError:
        here = False
    where = "." if here else os.fspath(root)
    return f'pip install -e "{where}[{extra}]"'


def fix_install_hints(message: str) -> str:
    """``message`` with every ``pip install rtstyle[EXTRA]`` (quoted or not) turned into :func:`pip_install`."""
    return _HINT.sub(lambda m: pip_install(m.group("extra")), message)
