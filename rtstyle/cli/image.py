"""``rtstyle image IN OUT``: stylize one picture, a picture piped through (``-`` for stdin and stdout), or every
picture of a folder into another folder (:func:`rtstyle.pipeline.jobs.stylize_image` for each)."""

from __future__ import annotations

import json
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from rtstyle.cli import options as o
from rtstyle.cli.console import detail, error_line, quiet, say, verbose

STDIO = "-"
# What a folder is searched for (its top level; hidden files left alone).
PICTURE_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".jp2", ".ppm", ".pgm", ".pbm", ".heic", ".heif",
)  # fmt: skip
# Read but not written (OpenCV writes no HEIC): a folder's iPhone photos come out as JPEG unless --format.
WRITTEN_AS = {".heic": ".jpg", ".heif": ".jpg"}


class ImageFormat(str, Enum):
    png = "png"
    jpg = "jpg"
    webp = "webp"
    bmp = "bmp"
    tiff = "tiff"


IN_HELP = (
    "Picture to stylize (PNG, JPEG, WebP, TIFF, BMP, ...), a folder (its pictures, into the folder OUT), "
    "or - for stdin."
)
OUT_HELP = (
    "Where to write the result: a file (its extension picks the format), a folder when IN is one "
    "(same names; existing outputs skipped unless --force), or - for stdout (PNG unless --format)."
)
FORMAT_HELP = (
    "Picture format for OUT = - (default png) and for a folder's outputs (default: each input's own; HEIC as JPEG)."
)


def image(
    input: Annotated[Path, typer.Argument(metavar="IN", help=IN_HELP, show_default=False)],
    output: Annotated[Path, typer.Argument(metavar="OUT", help=OUT_HELP, show_default=False)],
    style: o.Style = None,
    device: o.DeviceOpt = o.DEFAULT_DEVICE,
    tier: o.Tier = None,
    max_side: o.MaxSide = None,
    scale: o.Scale = None,
    strength: o.Strength = 1.0,
    preserve_color: o.PreserveColor = False,
    blend: o.Blend = None,
    fmt: Annotated[
        ImageFormat | None, typer.Option("--format", help=FORMAT_HELP, rich_help_panel=o.PANEL_OUTPUT)
    ] = None,
    force: o.Force = False,
    as_json: o.AsJson = False,
    be_quiet: o.Quiet = False,
    be_verbose: o.Verbose = False,
) -> None:
    """Stylize a picture (EXIF orientation respected, alpha kept, grayscale accepted), stdin to stdout, or a folder.

    Examples: rtstyle image photo.jpg out.png -s mosaic;  cat in.jpg | rtstyle image - - > out.png;
    rtstyle image photos/ styled/
    """
    from rtstyle.errors import Interrupted

    how = o.stylize_options(style, device, tier, max_side, scale, strength, preserve_color, blend)
    if str(output) == STDIO and as_json:
        raise typer.BadParameter("--json prints on stdout, where OUT = - writes the picture: give one of them")
    if str(input) != STDIO and input.is_dir():
        _folder(input, output, how, fmt, force, as_json)
        return
    if fmt is not None and str(output) != STDIO and output.suffix.lower().lstrip(".") not in _names(fmt):
        raise typer.BadParameter(f"OUT's extension picks the format; name it {output.with_suffix('.' + fmt.value)}")
    try:
        r = _one(input, output, how, fmt, force)
    except KeyboardInterrupt as exc:
        raise Interrupted.after(exc, f"nothing written to {output}") from None
    if as_json:
        print(json.dumps(r, indent=2))
        return
    line = f"wrote {r['output']} ({r['width']}x{r['height']}, style {r['style']}, {r['provider']})"
    if str(output) == STDIO:
        if not quiet():  # stdout holds the picture
            print(line, file=sys.stderr, flush=True)
    else:
        say(line)


def _names(fmt: ImageFormat) -> tuple[str, ...]:
    return {"jpg": ("jpg", "jpeg"), "tiff": ("tif", "tiff")}.get(fmt.value, (fmt.value,))


def _describe(stylizer: Any) -> str:
    try:
        providers = ", ".join(stylizer.session.session.get_providers())  # what onnxruntime was given, in order
    except AttributeError:
        providers = stylizer.provider
    return (
        f"style {stylizer.style} from {stylizer.model_path} (tier {stylizer.tier}); "
        f"onnxruntime providers {providers}; running on {stylizer.provider}"
    )


def _one(inp: Path, out: Path, how: Any, fmt: ImageFormat | None, force: bool) -> dict[str, Any]:
    """One picture, either end possibly ``-``: stdin is kept in a temporary file, stdout is written from one."""
    import tempfile

    from rtstyle.errors import InputError, OutputError, RtstyleError
    from rtstyle.pipeline.jobs import stylize_image

    with tempfile.TemporaryDirectory(prefix="rtstyle-image-") as tmp:
        src, dst = inp, out
        if str(out) == STDIO:
            if sys.stdout.isatty():
                raise OutputError("OUT is - but stdout is a terminal: redirect it (> out.png) or give a file name")
            dst = Path(tmp) / f"stdout.{(fmt or ImageFormat.png).value}"
        if str(inp) == STDIO:
            if sys.stdin.isatty():
                raise InputError(
                    "IN is - but stdin is a terminal: pipe a picture in (cat in.jpg | rtstyle image - out.png)"
                )
            data = sys.stdin.buffer.read()
            if not data:
                raise InputError("IN is - but stdin was empty")
            src = Path(tmp) / "stdin"
            src.write_bytes(data)
        stylizer = how.stylizer(lanes=1) if verbose() else None
        if stylizer is not None:
            detail(_describe(stylizer))
        start = time.perf_counter()
        try:
            r = stylize_image(src, dst, how, force=force, stylizer=stylizer)
        except RtstyleError as exc:  # the temporary files' names mean nothing to the user
            message = str(exc).replace(str(src), "stdin" if src != inp else str(src))
            raise type(exc)(message.replace(str(dst), "stdout" if dst != out else str(dst))) from None
        detail(f"stylized {inp} in {time.perf_counter() - start:.2f} s")
        if str(out) == STDIO:
            sys.stdout.buffer.write(dst.read_bytes())
            sys.stdout.buffer.flush()
    return {
        "input": "stdin" if str(inp) == STDIO else str(inp),
        "output": "stdout" if str(out) == STDIO else str(out),
        "status": "done",
        "width": r.width,
        "height": r.height,
        "style": r.style,
        "provider": r.provider,
    }


def _folder(folder: Path, out_dir: Path, how: Any, fmt: ImageFormat | None, force: bool, as_json: bool) -> None:
    """Every picture of ``folder`` (top level) into ``out_dir`` under the same name (``--format``: its extension);
    existing outputs skipped unless ``force``; a bad picture reported and skipped (exit 1 at the end)."""
    from rtstyle.errors import InputError, Interrupted, OutputError, RtstyleError
    from rtstyle.files import same_file
    from rtstyle.pipeline.jobs import stylize_image

    if str(out_dir) == STDIO:
        raise OutputError(f"{folder} is a folder: give a folder for OUT, not -")
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: IN is a folder, so OUT must be a folder too (it is a file)")
    if same_file(folder, out_dir):
        raise OutputError(f"{out_dir}: OUT is the input folder; choose another (the inputs are untouched)")
    pictures = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in PICTURE_SUFFIXES
    )
    if not pictures:
        raise InputError(f"no pictures in {folder} ({', '.join(PICTURE_SUFFIXES)}; for videos use `rtstyle batch`)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot make {out_dir}: {exc.strerror or exc}") from None

    files: list[dict[str, Any]] = []
    stylizer = None
    try:
        for inp in pictures:
            if fmt is not None:
                out = out_dir / f"{inp.stem}.{fmt.value}"
            else:
                out = out_dir / (
                    inp.stem + WRITTEN_AS[inp.suffix.lower()] if inp.suffix.lower() in WRITTEN_AS else inp.name
                )
            entry: dict[str, Any] = {"input": str(inp), "output": str(out)}
            files.append(entry)
            if out.exists() and not force:
                entry["status"] = "skipped"
                if not as_json:
                    say(f"skipped {out}: exists (--force to overwrite)")
                continue
            if stylizer is None:  # loaded once, and only when there is something to do
                stylizer = how.stylizer(lanes=1)
                detail(_describe(stylizer))
            start = time.perf_counter()
            try:
                r = stylize_image(inp, out, how, force=force, stylizer=stylizer)
            except RtstyleError as exc:
                entry.update(status="failed", error=str(exc))
                error_line(f"{inp.name}: {exc}")
                continue
            entry.update(status="done", width=r.width, height=r.height)
            if not as_json:
                say(f"wrote {out} ({r.width}x{r.height})")
            detail(f"stylized {inp.name} in {time.perf_counter() - start:.2f} s")
    except KeyboardInterrupt as exc:
        done = sum(1 for f in files if f.get("status") == "done")
        raise Interrupted.after(exc, f"{done} pictures written to {out_dir}; run again for the rest") from None
    counts = {k: sum(1 for f in files if f["status"] == k) for k in ("done", "skipped", "failed")}
    style = stylizer.style if stylizer is not None else None
    provider = stylizer.provider if stylizer is not None else None
    if as_json:
        result = {"input": str(folder), "out_dir": str(out_dir), "style": style, "provider": provider}
        print(json.dumps({**result, "counts": counts, "files": files}, indent=2))
    else:
        tail = f", style {style}, {provider}" if stylizer is not None else ""
        skipped = f", {counts['skipped']} skipped (exist; --force to overwrite)" if counts["skipped"] else ""
        failed = f", {counts['failed']} failed" if counts["failed"] else ""
        say(f"{counts['done']} written{skipped}{failed} -> {out_dir}{tail}")
    if counts["failed"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("image")(image)
