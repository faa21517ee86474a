"""What ``rtstyle batch`` shows: a progress bar with a line per finished file, and the summary table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from rtstyle.text import clean_text


def _clean(text: object, limit: int = 300) -> str:
    """File names and messages as plain, printable text (no terminal control characters)."""
    return clean_text(text, limit)


class BatchProgress:
    """The batch's progress bar (files, frames/s, ETA) with one line per finished file above it, on stderr."""

    def __init__(self, bar: Any, console: Any) -> None:
        self.bar, self.console = bar, console
        self.task: Any = None
        self.frames = self.files = self.n_files = 0
        self.t0 = time.perf_counter()

    def start(self, files: int, frames: int) -> None:
        self.task = self.bar.add_task("batch", total=max(frames, 1), files=f"0/{files}", fps=0.0)
        self.n_files, self.t0 = files, time.perf_counter()

    def advance(self, frames: int) -> None:
        self.frames += frames
        elapsed = time.perf_counter() - self.t0
        self.bar.update(self.task, advance=frames, fps=self.frames / elapsed if elapsed > 0 else 0.0)

    def file_done(self, r: Any) -> None:
        self.files += 1
        if self.task is not None:
            self.bar.update(self.task, files=f"{self.files}/{self.n_files}")
        name = _clean(Path(r.input).name)
        line = f"{r.status:>11}  {name}"
        if r.status == "done":
            what = "picture" if r.kind == "image" else f"{r.frames} frames"
            line += f" -> {_clean(r.output)} ({what}, {r.seconds:.1f} s"
            line += f", {r.chunks} chunks" if r.chunks > 1 else ""
            line += f", {r.attempts} attempts" if r.retried else ""
            line += ")"
        elif r.message:  # the library's messages mostly name the file already
            line = f"{r.status:>11}  " + _clean(r.message if r.input in r.message else f"{name}: {r.message}")
        self.console.print(Text(line), highlight=False)
        for note in r.notes:
            self.console.print(Text(f"{'':>11}  notice: {_clean(note)}"), highlight=False)


def summary_table(result: Any) -> tuple[Table, Text]:
    """The result table (files per status) and the one-line summary under it."""
    c = result.counts()
    t = Table()
    t.add_column("status")
    t.add_column("files", justify="right")
    rows = [
        ("done", c["done"]),
        ("skipped: up to date", c["up-to-date"]),
        ("skipped: exists (--force redoes it)", c["exists"]),
        ("skipped: unreadable", c["unreadable"]),
        ("failed", c["failed"]),
        ("interrupted", c["interrupted"]),
        ("retried after a worker died", c["retried"]),
    ]
    for label, n in rows:
        if n or label in ("done", "failed"):
            t.add_row(label, str(n))
    fps = result.frames / result.seconds if result.seconds > 0 else 0.0
    where = f"Ray, {result.workers} CPU slots" if result.backend == "ray" else f"{result.workers} local workers"
    lanes = getattr(result, "lanes", None) or {}
    if lanes:  # a mixed cluster: GPU workers on the GPU nodes, CPU workers on the others
        where = f"Ray, {lanes.get('gpu', 0)} GPU + {lanes.get('cpu', 0)} CPU workers"
    threads = f"{result.threads} thread{'s' if result.threads != 1 else ''}"
    where = f"{where} x {threads}" if result.workers else "nothing to stylize"
    summary = Text(
        f"{result.frames} frames in {result.seconds:.1f} s ({fps:.1f} frames/s), style {_clean(result.style)}, "
        f"{where} -> {_clean(result.out_dir)}"
    )
    return t, summary
