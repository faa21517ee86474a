"""``rtstyle batch INPUTS... --out-dir DIR``: stylize many pictures and videos, resumably, on a local process pool
or on Ray (:func:`rtstyle.batch.run`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from rtstyle.cli import options as o

RAY_HELP = (
    "Run on Ray (the ray extra: pip install 'rtstyle\\[ray]'): local (start Ray on this machine), auto (the cluster this machine "
    "belongs to, or RAY_ADDRESS) or ray://HOST:PORT. Inputs and --out-dir must be paths every node reaches, or fsspec URLs."
)


def batch(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUTS...", help="Files, folders (searched recursively) or glob patterns; fsspec URLs too."
        ),
    ],
    out_dir: Annotated[
        str,
        typer.Option(
            "--out-dir",
            "-o",
            rich_help_panel=o.PANEL_OUTPUT,
            help="Where the outputs go (relative paths kept): a folder or an fsspec URL (s3://bucket/styled/).",
        ),
    ],
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
    no_audio: Annotated[
        bool, typer.Option("--no-audio", rich_help_panel=o.PANEL_OUTPUT, help="Leave the inputs' audio out.")
    ] = False,
    force: o.Force = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-j",
            min=1,
            rich_help_panel=o.PANEL_PERFORMANCE,
            help="Local worker processes (default: cores / --threads).",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads", min=1, rich_help_panel=o.PANEL_PERFORMANCE, help="onnxruntime threads per worker (default 1)."
        ),
    ] = None,
    ray: Annotated[
        str | None, typer.Option("--ray", metavar="ADDRESS", rich_help_panel=o.PANEL_PERFORMANCE, help=RAY_HELP)
    ] = None,
    chunk_frames: Annotated[
        int,
        typer.Option(
            "--chunk-frames",
            min=0,
            rich_help_panel=o.PANEL_PERFORMANCE,
            help="Cut videos longer than this into chunks of about this many frames (0: never).",
        ),
    ] = 1800,
    overlap: Annotated[
        int,
        typer.Option(
            "--overlap",
            min=0,
            rich_help_panel=o.PANEL_PERFORMANCE,
            help="Frames decoded before each chunk to warm the smoothing up.",
        ),
    ] = 8,
    retries: Annotated[
        int,
        typer.Option(
            "--retries", min=0, rich_help_panel=o.PANEL_RUN, help="Times a unit whose worker died is run again."
        ),
    ] = 2,
    as_json: Annotated[
        bool, typer.Option("--json", rich_help_panel=o.PANEL_RUN, help="Print the result as JSON instead of the table.")
    ] = False,
    be_quiet: o.Quiet = False,
    be_verbose: o.Verbose = False,
) -> None:
    """Stylize many pictures and videos into a folder: resumable (a manifest in the folder), bad files skipped.

    Example: rtstyle batch footage/ stills/*.jpg -o styled/ -s mosaic
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from rtstyle.batch import run
    from rtstyle.batch.report import BatchProgress, summary_table
    from rtstyle.cli.console import quiet

    how = o.stylize_options(style, device, tier, max_side, scale, strength, preserve_color, blend)
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.fields[files]} files"),
        BarColumn(),
        TextColumn("{task.fields[fps]:.1f} frames/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal or quiet(),
    ) as bar:
        result = run(
            inputs, out_dir, how, smooth=smooth.value, crf=crf, preset=preset.value, audio=not no_audio, force=force,
            workers=workers, threads=threads, ray=ray, chunk_frames=chunk_frames, overlap=overlap, retries=retries,
            progress=(_quiet_progress_class() if quiet() else BatchProgress)(bar, console),
        )  # fmt: skip
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    elif not quiet():  # --quiet: the exit code says whether every file was done
        table, summary = summary_table(result)
        out = Console(highlight=False)
        out.print(table)
        out.print(summary)
    if not result.ok:
        raise typer.Exit(1)


def _quiet_progress_class() -> type:
    from rtstyle.batch.report import BatchProgress

    class QuietProgress(BatchProgress):
        """--quiet: a line only for a file that was not done (unreadable, failed), none for the others."""

        def file_done(self, r: Any) -> None:
            if r.status in ("done", "up-to-date", "exists"):
                self.files += 1
                return
            super().file_done(r)

    return QuietProgress


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
