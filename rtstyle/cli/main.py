"""Entry point: builds the typer app from one module per command and turns user errors into one line.

Each command module imports only typer (and the standard library) at module level; numpy, cv2,
onnxruntime and torch are imported inside the command functions, so ``rtstyle --help`` stays fast.
Each module defines ``register(app: typer.Typer) -> None``.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

import typer

# Order here is the order in ``rtstyle --help``.
COMMAND_MODULES = (
    "demo",
    "image",
    "video",
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
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"rtstyle.cli.{name}")
        except ModuleNotFoundError as exc:  # a command whose module is absent from this build
            if exc.name != f"rtstyle.cli.{name}":
                raise
            continue
        module.register(app)
    for info in app.registered_commands:
        info.callback = _interruptible(info.callback)
    return app


def fail(message: str, code: int = 2) -> None:
    """Print one clear line on stderr and exit non-zero."""
    print(f"rtstyle: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    from rtstyle.errors import RtstyleError

    app = build_app()
    try:
        app(args=argv, prog_name="rtstyle", standalone_mode=True)
    except RtstyleError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except MemoryError:
        fail("out of memory: try a smaller --max-side", 3)


def _interruptible(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Typer turns Ctrl-C inside a command into a silent exit; make it one clear line instead."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from rtstyle.errors import Interrupted

        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None

    return wrapper


if __name__ == "__main__":  # pragma: no cover
    main()
