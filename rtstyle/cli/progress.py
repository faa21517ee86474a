"""The progress bar every long-running command shows (frames, fps, ETA on stderr; nothing when not a terminal)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rtstyle.cli.console import quiet, safe


class _Bar:
    """A ``rtstyle.pipeline.jobs.Progress`` drawn with rich."""

    def __init__(self, bar: Any) -> None:
        self.bar, self.task = bar, None

    def start(self, label: str) -> None:
        self.task = self.bar.add_task(safe(label), total=None, fps=0.0)  # a file or style name is not markup

    def __call__(self, done: int, total: int | None, fps: float) -> None:
        if self.task is None:
            self.start("")
        self.bar.update(self.task, completed=done, total=total, fps=fps)


@contextmanager
def progress_bar() -> Iterator[_Bar]:
    """A progress bar on stderr for the duration of the ``with`` block (transient: gone when it ends)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[fps]:.1f} fps"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal or quiet(),
    ) as bar:
        yield _Bar(bar)
