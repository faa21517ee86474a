"""``rtstyle styles``: list the style catalogue (shipped models plus the user's model folder), and manage your own
styles: ``add`` (a new style fine-tuned from the zoo in minutes), ``remove``, ``export``, ``import``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from rtstyle.cli import options as o

app = typer.Typer(
    name="styles",
    invoke_without_command=True,
    no_args_is_help=False,
    help="List the installed styles; add, remove, export and import your own.",
)


@app.callback()
def styles(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the catalogue as JSON."),
) -> None:
    """List the installed styles: name, tier, architecture, file. Subcommands manage your own styles."""
    if ctx.invoked_subcommand is not None:
        return
    from rtstyle import catalog

    found = catalog.list_styles()
    if as_json:
        payload = {
            "shipped_dir": str(catalog.shipped_models_dir() or ""),
            "user_dir": str(catalog.user_models_dir()),
            "styles": [s.to_json() for s in found],
        }
        print(json.dumps(payload, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from rtstyle.cli.console import safe

    console = Console()
    if not found:
        console.print(
            f"No styles installed. Shipped folder: {safe(catalog.shipped_models_dir())}; user folder: "
            f"{safe(catalog.user_models_dir())} (set RTSTYLE_MODELS to use another)."
        )
        return
    table = Table(title="rtstyle styles")
    for col in ("name", "tier", "arch", "file", "display name", "license", "source"):
        table.add_column(col, overflow="fold")
    for s in found:
        file = s.file.name + (f" [{s.index + 1}/{s.num_styles}]" if s.num_styles > 1 else "")
        if s.fp16_file is not None:
            file += " (+fp16)"
        cells = (s.name, s.tier, s.arch, file, s.display_name, s.license, s.source)
        table.add_row(*(safe(c) for c in cells))
    console.print(table)
    console.print(
        f"shipped: {safe(catalog.shipped_models_dir())}  user: {safe(catalog.user_models_dir())}", style="dim"
    )


@app.command("add")
def add(
    painting: Path = typer.Argument(..., help="The painting (or any picture) whose style to learn."),
    name: str = typer.Option(..., "--name", help="The new style's name (and file name)."),
    data: list[Path] = typer.Option(
        [], "--data", help="A folder of photos (searched recursively) or a video file of your own; repeatable."
    ),
    minutes: float = typer.Option(
        10.0, "--minutes", min=0.0, help="Minutes for the whole command (both tiers, setup and export included)."
    ),
    train_only: str | None = typer.Option(
        None,
        "--train",
        help="What is trained: norm (instance-norm scales and shifts), norm+last (and the output "
        "convolution) or all (a full fine-tune). Default: norm in the full tier, norm+last in the fast tier.",
    ),
    lr: float | None = typer.Option(
        None, "--lr", help="Adam learning rate (default: 8e-2 in the full tier, 1e-1 in the fast tier; 1e-3 for all)."
    ),
    init_row: str = typer.Option(
        "mean",
        "--init",
        help="The new style's norm row starts from the mean of the zoo's, or the zoo style nearest the painting.",
    ),
    base: Path | None = typer.Option(None, "--base", help="The full-tier base network (default: zoo-full)."),
    base_fast: Path | None = typer.Option(None, "--base-fast", help="The fast-tier base (default: zoo-fast)."),
    no_fast: bool = typer.Option(False, "--no-fast", help="Write the full tier only."),
    display_name: str | None = typer.Option(None, "--display-name", help="Display name (default: from --name)."),
    license: str = typer.Option("unknown", "--license", help="Licence of the painting (shown by `rtstyle styles`)."),
    steps: int | None = typer.Option(None, "--steps", min=1, help="At most this many steps per tier."),
    size: int = typer.Option(192, "--size", min=16, help="Training crop size in pixels."),
    batch: int = typer.Option(2, "--batch", min=1, help="Photos per training step."),
    style_size: int = typer.Option(512, "--style-size", min=16, help="Long side of the painting (stroke scale)."),
    style_scale: float = typer.Option(
        1.0,
        "--style-scale",
        callback=o.number(above=0),
        help="x the style weight balanced for the painting: above 1 paints more, below 1 keeps more of the photo.",
    ),
    preview: Path | None = typer.Option(
        None, "--preview", help="The live preview picture (default: in the cache folder; the path is printed)."
    ),
    vgg_weights: str | None = typer.Option(
        None, "--vgg-weights", help="VGG-16 conv weights (state dict of features[:23])."
    ),
    download_vgg: bool = typer.Option(
        False, "--download-vgg", help="Download torchvision's VGG-16 weights if not cached."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cuda or cpu (where torch trains)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    no_window: bool = typer.Option(False, "--no-window", help="Do not show the preview in a window."),
    force: bool = typer.Option(
        False, "--force", "-f", help="Replace your style of that name, or let yours override a shipped one."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Make your own style in minutes: fine-tune the zoo network on PAINTING, on the CPU; Ctrl-C keeps the best."""
    import sys

    from rtstyle.cli.console import quiet
    from rtstyle.errors import InputError
    from rtstyle.train.loop import INIT_ROWS
    from rtstyle.train.newstyle import AddConfig, add_style

    if init_row not in INIT_ROWS:
        raise InputError(f"--init {init_row!r}: use one of {', '.join(INIT_ROWS)}")
    if minutes <= 0:
        raise InputError("--minutes must be more than 0")
    cfg = AddConfig(
        painting=str(painting),
        name=name,
        data=[str(d) for d in data],
        minutes=minutes,
        train_only=train_only,
        lr=lr,
        init_row=init_row,
        base=str(base) if base else None,
        base_fast=str(base_fast) if base_fast else None,
        fast=not no_fast,
        force=force,
        display_name=display_name,
        license=license,
        steps=steps,
        size=size,
        batch=batch,
        style_size=style_size,
        style_scale=style_scale,
        preview=str(preview) if preview else None,
        vgg_weights=vgg_weights,
        download_vgg=download_vgg,
        device=device,
        seed=seed,
    )

    def say(line: str) -> None:
        if not quiet():
            print(line, file=sys.stderr, flush=True)

    view = _PreviewView(not no_window and not as_json)
    with _AddProgress(minutes) as bar:
        announced: set[str] = set()

        def on_step(tier: str, status: object) -> None:
            if tier not in announced:
                announced.add(tier)
                every = f"rewritten every {cfg.preview_seconds:g} s"
                say(f"training the {tier} tier; preview ({every}): {cfg.preview_path(tier)}")
            bar.update(tier, status)
            if getattr(status, "preview", None) is not None:
                view.show(status.preview)  # type: ignore[attr-defined]

        result = add_style(cfg, on_step=on_step, say=say)
    view.close()
    payload = {
        "name": name,
        "files": [str(p) for p in result.files],
        "preview": str(result.preview),
        "interrupted": result.interrupted,
        "notes": result.notes,
        "tiers": {
            t: {
                "steps": r.steps,
                "best_step": r.best_step,
                "val_loss": r.best_val,
                "first_val_loss": r.first_val,
                "stopped_by": r.stopped_by,
            }
            for t, r in result.tiers.items()  # type: ignore[attr-defined]
        },
    }
    if as_json:
        print(json.dumps(payload, indent=2))
        return
    for tier, r in result.tiers.items():
        why = {"minutes": "time is up", "interrupt": "stopped by Ctrl-C", "steps": "steps done"}[r.stopped_by]  # type: ignore[attr-defined]
        say(
            f"{tier}: {r.steps} steps ({why}); exported the best state, step {r.best_step} "  # type: ignore[attr-defined]
            f"(validation loss {r.first_val:.4g} -> {r.best_val:.4g})"  # type: ignore[attr-defined]
        )
    model = next(p for p in result.files if p.suffix == ".onnx")
    print(f"added style {name}: {model}  (preview: {result.preview}); try: rtstyle webcam --style {name}")


class _PreviewView:
    """The preview in an OpenCV window, only where a display exists (rtstyle.ui.display.has_display)."""

    def __init__(self, wanted: bool) -> None:
        self.on: bool | None = None if wanted else False

    def show(self, path: Path) -> None:
        if self.on is None:
            from rtstyle.ui.display import has_display

            self.on = has_display()
        if not self.on:
            return
        import cv2

        img = cv2.imread(str(path))
        if img is not None:
            cv2.imshow("rtstyle styles add: preview", img)
            cv2.waitKey(1)

    def close(self) -> None:
        if self.on:
            import cv2

            cv2.destroyAllWindows()


class _AddProgress:
    """A progress bar over the time budget on stderr (none when stderr is not a terminal, or with --quiet)."""

    def __init__(self, minutes: float) -> None:
        self.minutes = minutes
        self.bar = None
        self.tasks: dict[str, object] = {}

    def __enter__(self) -> _AddProgress:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from rtstyle.cli.console import quiet

        console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("[bold]{task.description}[/]"),
            BarColumn(),
            TextColumn("step {task.fields[step]}"),
            TextColumn("loss {task.fields[val]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not console.is_terminal or quiet(),
        )
        self.bar.__enter__()
        return self

    def update(self, tier: str, status: object) -> None:
        assert self.bar is not None
        budget = getattr(status, "budget_seconds", None) or 1.0
        if tier not in self.tasks:
            self.tasks[tier] = self.bar.add_task(f"add ({tier})", total=budget, step=0, val="-")
        best = getattr(status, "best_val", None)
        self.bar.update(
            self.tasks[tier],  # type: ignore[arg-type]
            completed=min(budget, getattr(status, "seconds", 0.0)),
            step=getattr(status, "step", 0),
            val=f"{best:.4g}" if best is not None else "-",
        )

    def __exit__(self, *exc: object) -> None:
        assert self.bar is not None
        self.bar.__exit__(None, None, None)


@app.command("remove")
def remove(name: str = typer.Argument(..., help="Your style to delete (every tier, with its model card).")) -> None:
    """Delete one of your own styles (a shipped style cannot be removed)."""
    from rtstyle.userstyles import remove_style

    for p in remove_style(name):
        print(f"removed {p}")


@app.command("export")
def export(
    name: str = typer.Argument(..., help="The style to share (yours or any installed one)."),
    out: Path = typer.Argument(..., help="The one-style model file to write (.onnx)."),
    tier: o.Tier = None,
    force: o.Force = False,
) -> None:
    """Write a style as one model file (a style inside a multi-style file is written alone)."""
    from rtstyle.userstyles import export_style

    path = export_style(name, out, tier=tier.value if tier else None, force=force)
    print(f"exported {name}: {path}")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="A contract-v1 model file (.onnx), e.g. from `rtstyle styles export`."),
    force: bool = typer.Option(
        False, "--force", "-f", help="Replace a file of that name, or let its styles override shipped ones."
    ),
) -> None:
    """Check a model file against the contract and copy it into your model folder."""
    from rtstyle.userstyles import import_style

    dest, info = import_style(file, force=force)
    names = ", ".join(s.name for s in info.styles)
    print(f"imported {names} ({info.tier} tier): {dest}")


def register(parent: typer.Typer) -> None:
    from rtstyle.cli.main import _interruptible, _needs_extras

    for info in app.registered_commands:
        info.callback = _interruptible(_needs_extras(f"styles {info.name}", info.callback))
    parent.add_typer(app, name="styles")
