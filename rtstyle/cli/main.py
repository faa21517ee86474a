"""Entry point: builds the typer app from one module per command and turns user errors into one line.

Each command module imports only typer, ``rtstyle.cli.options`` and the standard library at module level; the
library (numpy, cv2, onnxruntime, torch) is imported inside the command functions, so ``rtstyle --help`` stays
fast. Each module defines ``register(app: typer.Typer) -> None``. Shell completion: ``rtstyle --install-completion``.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

import typer

from rtstyle.errors import MAX_MESSAGE, Interrupted, RtstyleError
from rtstyle.signals import stop_signals
from rtstyle.text import clean_text

# Order here is the order in ``rtstyle --help``.
COMMAND_MODULES = (
    "demo",
    "image",
    "video",
    "batch",
    "webcam",
    "styles",
    "cameras",
    "doctor",
    "bench",
    "train",
    "export",
    "eval",
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="rtstyle",
        help="Real-time neural style transfer for video files, webcams and live streams.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name in COMMAND_MODULES:
        importlib.import_module(f"rtstyle.cli.{name}").register(app)
    for info in app.registered_commands:
        info.callback = _interruptible(info.callback)
    return app


def fail(message: str, code: int = 2) -> None:
    """Print one clear line on stderr and exit non-zero (control characters stripped: one line, nothing injected)."""
    print(f"rtstyle: error: {clean_text(message, MAX_MESSAGE)}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    app = build_app()
    try:
        with stop_signals():  # SIGTERM and SIGHUP wind down like Ctrl-C; "stopping…" is said at once
            code = app(args=argv, prog_name="rtstyle", standalone_mode=False)
    except RtstyleError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt as exc:
        stopped = Interrupted.after(exc)
        fail(str(stopped), stopped.exit_code)
    except MemoryError:
        fail("out of memory: try a smaller --max-side", 3)
    except Exception as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click's Abort: a stop while the command line was read
            stopped = Interrupted.after(exc.__cause__)
            fail(str(stopped), stopped.exit_code)
        if not _is_usage_error(exc):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `rtstyle`: the help, as before
            exc.show()  # type: ignore[attr-defined]
            raise SystemExit(exc.exit_code) from None  # type: ignore[attr-defined]
        # A bad option value (a choice not offered, a number out of range) is one line too, like every error.
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        fail(f"{exc.format_message()}{hint}", int(getattr(exc, "exit_code", 2)))  # type: ignore[attr-defined]
    raise SystemExit(code if isinstance(code, int) else 0)


def _is_usage_error(exc: BaseException) -> bool:
    """A typer/click command-line error (bad option value, unknown option, missing argument)."""
    return hasattr(exc, "format_message") and hasattr(exc, "exit_code")


def _interruptible(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Typer turns Ctrl-C inside a command into a silent exit; make it one clear line instead."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt as exc:
            raise Interrupted.after(exc) from None

    return wrapper


if __name__ == "__main__":  # pragma: no cover
    main()
