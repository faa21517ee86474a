"""``rtstyle eval``: style and content distances of a model on held-out photos, plus a contact sheet."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def eval_command(
    model: str = typer.Argument(..., help="Style name or .onnx file"),
    style_image: Path = typer.Option(..., "--style-image", help="The painting the style was trained on."),
    photos: list[Path] = typer.Option(..., "--photos", help="Folder of photos to evaluate on (repeatable)."),
    only: Path | None = typer.Option(
        None, "--only", help="List file: evaluate only these photos (e.g. tools/holdout_photos.txt)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="At most this many photos."),
    style: str | None = typer.Option(None, "--style", help="Which style of a multi-style file."),
    tier: str | None = typer.Option(None, "--tier", help="full or fast, when MODEL is a name."),
    sheet: Path | None = typer.Option(None, "--sheet", help="Write a contact sheet (JPEG) here."),
    vgg_weights: str | None = typer.Option(None, "--vgg-weights", help="VGG-16 conv weights (state dict)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Measure how close a model's outputs are to its painting (style) and to the photos (content)."""
    from rtstyle.evaluate import eval_photos, evaluate

    files = eval_photos(photos, only, limit)
    r = evaluate(model, style_image, files, vgg_weights=vgg_weights, style=style, sheet=sheet, tier=tier)
    if as_json:
        print(
            json.dumps(
                {
                    "model": model,
                    "style_distance": r.style_distance,
                    "content_distance": r.content_distance,
                    "photos": r.photos,
                    "grid": r.grid,
                    "seams": r.seams,
                    "sheet": str(r.sheet) if r.sheet else None,
                }
            )
        )
    else:
        print(
            f"{model}: style distance {r.style_distance:.4f}, content distance {r.content_distance:.4f} "
            f"over {r.photos} photos; blocks: 8-px pattern {r.grid:.2f} levels, 4-px block edges {r.seams:.2f} "
            "(a photo: ~0.3 and ~1.0)" + (f"; sheet {r.sheet}" if r.sheet else "")
        )


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
