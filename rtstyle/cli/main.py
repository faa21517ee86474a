"""Entry point: builds the typer app from one module per command and turns user errors into one line.

Each command module imports only typer, ``rtstyle.cli.options`` and the standard library at module level; the
library (numpy, cv2, onnxruntime, torch) is imported inside the command functions, so ``rtstyle --help`` stays
fast. Each module defines ``register(app: typer.Typer) -> None``. Shell completion: ``rtstyle --install-completion``.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from typing import Annotated, Any

import typer

from rtstyle import __version__
from rtstyle.cli import options as o
from rtstyle.cli.console import error_line
from rtstyle.cli.hints import pip_install
from rtstyle.errors import Interrupted, RtstyleError
from rtstyle.signals import stop_signals

# Exit codes (the README's table): 0 done; 1 the run failed (bad input, a missing file or extra, a device that is not
# there, a batch file not done, no camera found); 2 the command line itself (click's usage errors); 3 out of memory;
# 128 + the signal's number when stopped (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_OUT_OF_MEMORY = 3

# Modules of an optional extra: a command that needs one says which extra to install, in one line.
EXTRA_OF = {"torch": "train", "torchvision": "train", "onnx": "train", "onnxscript": "train", "ray": "ray"}
EXTRA_FOR = {"train": "torch, torchvision, onnx, onnxscript", "ray": "Ray and Ray Client"}

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
    app.callback()(_global_options)
    for name in COMMAND_MODULES:
        importlib.import_module(f"rtstyle.cli.{name}").register(app)
    for info in app.registered_commands:
        info.callback = _interruptible(_needs_extras(info.name or "", info.callback))
    return app


def _show_version(value: bool) -> None:
    if value:
        print(f"rtstyle {__version__}")
        raise typer.Exit()


def _global_options(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", is_eager=True, callback=_show_version, help="Print the version and exit."),
    ] = False,
    be_quiet: o.Quiet = False,
    be_verbose: o.Verbose = False,
) -> None:
    """Real-time neural style transfer for video files, webcams and live streams."""


def fail(message: str, code: int = EXIT_FAILED) -> None:
    """Print one clear line on stderr and exit non-zero (control characters stripped: one line, nothing injected;
    install hints quoted and right for this install)."""
    error_line(message)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    saved = {k: os.environ.get(k) for k in o.VERBOSITY_VARS}  # --quiet/--verbose set them for this run only
    try:
        _main(argv)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _main(argv: list[str] | None) -> None:
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
        fail("out of memory: try a smaller --max-side", EXIT_OUT_OF_MEMORY)
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
        fail(f"{exc.format_message()}{hint}", EXIT_USAGE)  # type: ignore[attr-defined]
    raise SystemExit(code if isinstance(code, int) else 0)


def _is_usage_error(exc: BaseException) -> bool:
    """A typer/click command-line error (bad option value, unknown option, missing argument)."""
    return hasattr(exc, "format_message") and hasattr(exc, "exit_code")


def _needs_extras(command: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A command whose optional extra is not installed says so in one line (which extra, how to install it)
    instead of a 40-line ``ModuleNotFoundError``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ModuleNotFoundError as exc:
            module = (exc.name or "").split(".")[0]
            extra = EXTRA_OF.get(module)
            if extra is None:
                raise
            raise RtstyleError(
                f"`rtstyle {command}` needs the {extra} extra ({EXTRA_FOR[extra]}), and {module} is not installed: "
                f"{pip_install(extra)}"
            ) from None

    return wrapper


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
