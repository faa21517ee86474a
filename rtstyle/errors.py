"""Errors that the CLI turns into one clear line and a non-zero exit, and the notices printed on the way."""

from __future__ import annotations

import sys

from rtstyle.text import clean_text

MAX_MESSAGE = 2000  # characters of one notice or error line

_NOTICED: set[str] = set()


def notice(message: str, once: bool = False) -> None:
    """Tell the user something on stderr (``rtstyle: notice: ...``); ``once``: not again in this process."""
    if once:
        if message in _NOTICED:
            return
        _NOTICED.add(message)
    print(f"rtstyle: notice: {clean_text(message, MAX_MESSAGE)}", file=sys.stderr, flush=True)


class RtstyleError(Exception):
    """A problem the user can fix: bad input, missing file, unsupported model. Printed as one line."""

    exit_code = 2


class ContractError(RtstyleError):
    """A model file breaks model contract v1 (see ``rtstyle.contract``)."""


class InputError(RtstyleError):
    """Missing, unreadable, corrupt or empty input media."""


class OutputError(RtstyleError):
    """Output cannot be written (unwritable folder, same as input, ...)."""


class StyleNotFound(RtstyleError):
    """The style name is in no catalogue."""


class DeviceError(RtstyleError):
    """A device (CUDA, camera, display, virtual camera) that was asked for is not there."""


class Interrupted(RtstyleError):
    """Ctrl-C: the run stopped and left nothing half-written under the output's name."""

    exit_code = 130
