"""Printing through rich without letting the text printed take over the terminal.

Anything that did not come from rtstyle's own source (a style name from a model file, a file name, an ffmpeg
version line, an error from a library) goes through :func:`safe` before it reaches a rich console or table: control
characters are stripped (``rtstyle.text.clean_text``) and rich's markup is escaped, so ``[/]`` stays two
characters and ``[link=...]`` is not a hyperlink.
"""

from __future__ import annotations

from rich.markup import escape

from rtstyle.text import clean_text

MAX_SHOWN = 4096  # characters of one untrusted value shown at most


def safe(value: object, limit: int = MAX_SHOWN) -> str:
    """``value`` as rich markup that shows exactly its (cleaned) text."""
    return escape(clean_text(value, limit))
