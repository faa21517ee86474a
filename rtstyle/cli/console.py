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


def quiet() -> bool:
    """``--quiet`` (or ``RTSTYLE_QUIET``): only errors (and a ``--json`` result) are printed."""
    import os

    return os.environ.get("RTSTYLE_QUIET", "") not in ("", "0")


def verbose() -> bool:
    """``--verbose`` (or ``RTSTYLE_VERBOSE``): more detail, on stderr."""
    import os

    return not quiet() and os.environ.get("RTSTYLE_VERBOSE", "") not in ("", "0")


def say(line: str) -> None:
    """A command's result line on stdout (not with --quiet)."""
    if not quiet():
        print(line, flush=True)


def detail(line: str) -> None:
    """A --verbose line on stderr (``rtstyle: ...``; control characters stripped)."""
    if verbose():
        import sys

        print(f"rtstyle: {clean_text(line, MAX_SHOWN)}", file=sys.stderr, flush=True)


def error_line(message: str) -> None:
    """``rtstyle: error: MESSAGE`` on stderr: one line (control characters stripped), install hints right for this
    install. The command goes on (a folder's next picture) or exits, as its caller decides."""
    import sys

    from rtstyle.cli.hints import fix_install_hints
    from rtstyle.errors import MAX_MESSAGE

    print(f"rtstyle: error: {clean_text(fix_install_hints(message), MAX_MESSAGE)}", file=sys.stderr, flush=True)
