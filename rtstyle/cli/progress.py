"""The progress bar every long-running command shows (frames, fps, ETA on stderr)."""

from __future__ import annotations

from typing import Any


def run_with_progress(pipeline: Any, label: str, max_frames: int | None = None) -> Any:
    """Run a pipeline under a rich progress bar (frames, fps, ETA) on stderr."""
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
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None, fps=0.0)

        def progress(done: int, total: int | None, fps: float) -> None:
            bar.update(task, completed=done, total=total, fps=fps)

        return pipeline.run(progress=progress, max_frames=max_frames)
