"""``rtstyle image IN OUT``: stylize one picture (:func:`rtstyle.pipeline.jobs.stylize_image`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rtstyle.cli import options as o


def image(
    input: Annotated[
        Path, typer.Argument(help="Picture to stylize (PNG, JPEG, WebP, TIFF, BMP, ...).", show_default=False)
    ],
    output: Annotated[
        Path, typer.Argument(help="Where to write the result; its extension picks the format.", show_default=False)
    ],
    style: o.Style = None,
    device: o.DeviceOpt = o.DEFAULT_DEVICE,
    tier: o.Tier = None,
    max_side: o.MaxSide = None,
    scale: o.Scale = None,
    strength: o.Strength = 1.0,
    preserve_color: o.PreserveColor = False,
    blend: o.Blend = None,
    force: o.Force = False,
) -> None:
    """Stylize one picture (EXIF orientation respected, alpha kept, grayscale accepted)."""
    from rtstyle.errors import Interrupted
    from rtstyle.pipeline.jobs import stylize_image

    how = o.stylize_options(style, device, tier, max_side, scale, strength, preserve_color, blend)
    try:
        r = stylize_image(input, output, how, force=force)
    except KeyboardInterrupt as exc:
        raise Interrupted.after(exc, f"nothing written to {output}") from None
    print(f"wrote {output} ({r.width}x{r.height}, style {r.style}, {r.provider})")


def register(app: typer.Typer) -> None:
    app.command("image")(image)
