"""Untrusted text made safe to show: what a model file says about itself (style names, display names, licences,
architecture) reaches terminals, tables and HUDs only through :func:`clean_text`.

Control characters (escape sequences that clear the screen, set the title, switch to the alternate screen or make
hyperlinks; bidirectional overrides; zero-width characters) are removed, line breaks and tabs become spaces, and the
length is capped. Escaping for rich's markup is the CLI's job (``rtstyle.cli.console.safe``).
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, zero-width and bidirectional formatting characters, the byte-order mark.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_SPACES = re.compile(r"[\t\n\r ]+")

MAX_NAME = 64  # a style name, an architecture
MAX_TEXT = 200  # a display name, a licence


def clean_text(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as one line without control characters, at most ``limit`` characters (cut with "…")."""
    text = _CONTROL.sub("", str(value))
    text = _SPACES.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: max(0, limit - 1)].rstrip() + "…"
    return text
