"""``rtstyle batch INPUTS... --out-dir DIR``: stylize many pictures and videos, resumably, on a local process pool
or on Ray (:func:`rtstyle.batch.run`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from rtstyle.cli import options as o

RAY_HELP = (
    "Run on Ray (the ray extra: pip install 'rtstyle\\[ray]'): local (start Ray on this machine), auto (the cluster this machine "
    "belongs to, or RAY_ADDRESS) or ray://HOST:PORT. Inputs and --out-dir must be paths every node reaches."
)


def _clean(text: object, limit: int = 300) -> str:
    """File names and messages as plain, printable text (no terminal control characters)."""
    from rtstyle.text import clean_text

    return clean_text(text, limit)


class _Progress:
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
        from rich.text import Text

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


def _table(result: Any) -> Any:
    from rich.table import Table
    from rich.text import Text

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
    threads = f"{result.threads} thread{'s' if result.threads != 1 else ''}"
    where = f"{where} x {threads}" if result.workers else "nothing to stylize"
    summary = Text(
        f"{result.frames} frames in {result.seconds:.1f} s ({fps:.1f} frames/s), style {_clean(result.style)}, "
        f"{where} -> {_clean(result.out_dir)}"
    )
    return t, summary


def batch(
    inputs: Annotated[
        list[str], typer.Argument(metavar="INPUTS...", help="Files, folders (searched recursively) or glob patterns.")
    ],
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="Where the outputs go (relative paths kept).")],
    style: o.Style = None,
    device: o.DeviceOpt = o.DEFAULT_DEVICE,
    tier: o.Tier = None,
    max_side: o.MaxSide = None,
    scale: o.Scale = None,
    strength: o.Strength = 1.0,
    preserve_color: o.PreserveColor = False,
    blend: o.Blend = None,
    smooth: o.Smooth = o.DEFAULT_SMOOTH,
    crf: o.Crf = o.DEFAULT_CRF,
    preset: o.Preset = o.DEFAULT_PRESET,
    no_audio: Annotated[bool, typer.Option("--no-audio", help="Leave the inputs' audio out.")] = False,
    force: o.Force = False,
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", min=1, help="Local worker processes (default: cores / --threads).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="onnxruntime threads per worker (default 1).")
    ] = None,
    ray: Annotated[str | None, typer.Option("--ray", metavar="ADDRESS", help=RAY_HELP)] = None,
    chunk_frames: Annotated[
        int,
        typer.Option(
            "--chunk-frames",
            min=0,
            help="Cut videos longer than this into chunks of about this many frames (0: never).",
        ),
    ] = 1800,
    overlap: Annotated[
        int, typer.Option("--overlap", min=0, help="Frames decoded before each chunk to warm the smoothing up.")
    ] = 8,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Times a unit whose worker died is run again.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of the table.")] = False,
) -> None:
    """Stylize many pictures and videos into a folder: resumable (a manifest in the folder), bad files skipped."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from rtstyle.batch import run

    how = o.stylize_options(style, device, tier, max_side, scale, strength, preserve_color, blend)
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.fields[files]} files"),
        BarColumn(),
        TextColumn("{task.fields[fps]:.1f} frames/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        result = run(
            inputs, out_dir, how, smooth=smooth.value, crf=crf, preset=preset.value, audio=not no_audio, force=force,
            workers=workers, threads=threads, ray=ray, chunk_frames=chunk_frames, overlap=overlap, retries=retries,
            progress=_Progress(bar, console),
        )  # fmt: skip
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        table, summary = _table(result)
        out = Console(highlight=False)
        out.print(table)
        out.print(summary)
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
