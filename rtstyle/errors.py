"""Errors that the CLI turns into one clear line and a non-zero exit, and the notices printed on the way."""

from __future__ import annotations

import os
import sys

from rtstyle.text import clean_text

MAX_MESSAGE = 2000  # characters of one notice or error line

_NOTICED: set[str] = set()


def notice(message: str, once: bool = False) -> None:
    """Tell the user something on stderr (``rtstyle: notice: ...``); ``once``: not again in this process.
    Nothing while ``RTSTYLE_QUIET`` is set (``rtstyle --quiet``; inherited by worker processes)."""
    if os.environ.get("RTSTYLE_QUIET", "") not in ("", "0"):
        return
    if once:
        if message in _NOTICED:
            return
        _NOTICED.add(message)
    print(f"rtstyle: notice: {clean_text(message, MAX_MESSAGE)}", file=sys.stderr, flush=True)


class RtstyleError(Exception):
    """A problem the user can fix: bad input, missing file, unsupported model. Printed as one line.

    Exit code 1, like every failure of a run; 2 is the command line itself (click's usage errors)."""

    exit_code = 1


# Each error is also the Python exception a caller expects for its kind of problem (``ValueError`` for a bad
# argument or bad media, ``FileNotFoundError`` for a missing input, ``LookupError`` for an unknown style,
# ``RuntimeError`` for a device that does not run), so library callers can catch either; the CLI catches
# ``RtstyleError`` and prints one line.


class ContractError(RtstyleError, ValueError):
    """A model file breaks model contract v1 (see ``rtstyle.contract``)."""


class InputError(RtstyleError, ValueError):
    """Missing, unreadable, corrupt or empty input media, or a bad argument (a ``ValueError`` too)."""


class InputNotFound(InputError, FileNotFoundError):
    """An input file (picture, video, model file) that does not exist (a ``FileNotFoundError`` too)."""


class OutputError(RtstyleError):
    """Output cannot be written (unwritable folder, same as input, ...)."""


class StyleNotFound(RtstyleError, LookupError):
    """The style name is in no catalogue (a ``LookupError`` too)."""


class DeviceError(RtstyleError, RuntimeError):
    """A device (CUDA or another execution provider, camera, display, virtual camera) that was asked for is not
    there or does not run (a ``RuntimeError`` too)."""


class UnknownDevice(DeviceError, ValueError):
    """A device name that is none of ``rtstyle.choices.DEVICES`` (a bad argument: a ``ValueError`` too)."""


class Stopped(KeyboardInterrupt):
    """A stop signal (Ctrl-C's SIGINT, SIGTERM, SIGHUP) raised where the program is, like Ctrl-C
    (``rtstyle.signals.stop_signals`` raises it): everything that winds down on Ctrl-C winds down on it."""

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.signum = signum
        self.name = name


class Interrupted(RtstyleError):
    """Ctrl-C or a stop signal: the run stopped and left nothing half-written under the output's name.
    Exit code 128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""

    exit_code = 130

    def __init__(self, message: str, signum: int = 2) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum

    @classmethod
    def after(cls, exc: BaseException, detail: str = "") -> Interrupted:
        """The one-line error for a run that ``exc`` (KeyboardInterrupt or :class:`Stopped`) ended."""
        signum = exc.signum if isinstance(exc, Stopped) else 2
        what = f"stopped by {exc.name}" if isinstance(exc, Stopped) and signum != 2 else "interrupted"
        return cls(f"{what}: {detail}" if detail else what, signum)
