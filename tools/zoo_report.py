"""The zoo's quality report: every style against its bar, on held-out scene photos and on held-out faces.

    python tools/zoo_report.py models/zoo-full.onnx                      # table on stdout
    python tools/zoo_report.py runs/zoo/full/checkpoint.pt --limit 12    # a quick look at a training checkpoint
    python tools/zoo_report.py models/zoo-full.onnx --write-docs         # sheets + table in docs/styles/
    python tools/zoo_report.py models/*-fast.onnx --against models/zoo-full.onnx --write-docs   # the fast tier

Distances are ``rtstyle eval``'s (rtstyle.evaluate): the scene row on the photos of ``tools/holdout_photos.txt``
that lie in ``ASSETS/photos``, the faces row on those that lie in ``ASSETS/photos_more`` (selfies, faces, rooms).
The bar (issue 10): style and content distance each at most 1.10x a published feed-forward model of the same
painting measured the same way; for paintings with no published model, style <= 0.25 and content <= 1.3.
``--write-docs`` writes a contact sheet per style (the painting, four scene photos and two faces, stylized),
the zoo picture for the README (every style on three photos), ``docs/styles/eval.json`` and the table between
the markers in ``docs/styles/README.md``.

``--against FULL`` measures a fast tier against its full tier (issue 11): the bar of each style becomes 1.10x the
full tier's own distances on the same photos, and ``--write-docs`` writes side-by-side sheets (photo, full tier,
fast tier) into ``docs/styles/fast/``, ``docs/styles/eval-fast.json`` and the fast table between its own markers.

Several files make one zoo: each style is measured in the file that holds it (the fast tier ships one file per
style); a style in two of them is refused.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HOLDOUT = ROOT / "tools" / "holdout_photos.txt"
VGG_FILE = Path("vgg16") / "vgg16_imagenet_features_to_relu4_3_fp16.pth"
MARK_START, MARK_END = "<!-- zoo-table:start -->", "<!-- zoo-table:end -->"
FAST_MARKS = ("<!-- fast-table:start -->", "<!-- fast-table:end -->")
MARGIN = 1.10


@dataclass(frozen=True)
class Bar:
    style: float
    content: float
    source: str  # where the bar comes from


# Published feed-forward models measured with rtstyle eval's definitions on held-out scene photos (issue 10).
ANCHORS = {
    "mosaic": (0.207, 2.96, "pytorch/examples"),
    "candy": (0.157, 2.14, "pytorch/examples"),
    "udnie": (0.127, 1.03, "pytorch/examples"),
    "scream": (0.276, 0.91, "lengstrom/fast-style-transfer"),
    "wave": (0.238, 1.32, "lengstrom/fast-style-transfer"),
    "shipwreck": (0.273, 0.86, "lengstrom/fast-style-transfer"),
}
ABSOLUTE = Bar(0.25, 1.3, "no published model: absolute bar")


def bar_for(style: str) -> Bar:
    if style in ANCHORS:
        s, c, src = ANCHORS[style]
        return Bar(round(s * MARGIN, 4), round(c * MARGIN, 4), f"1.10x {src} ({s} / {c})")
    return ABSOLUTE


def bar_against(style: float, content: float) -> Bar:
    """A fast tier's bar: 1.10x its full tier's distances on the same photos (issue 11)."""
    return Bar(
        round(style * MARGIN, 4), round(content * MARGIN, 4), f"1.10x the full tier ({style:.3f} / {content:.3f})"
    )


def _zoo_styles() -> dict[str, str]:
    """Style name -> style image file name, from tools/train_zoo.py (the one list of the zoo)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_zoo", ROOT / "tools" / "train_zoo.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return {s.name: s.file for s in mod.ZOO}


def model_file(spec: str, work: Path) -> Path:
    """An .onnx file as it is; a training checkpoint (.pt) exported to a temporary file first."""
    path = Path(spec)
    if path.suffix != ".pt":
        return path
    from rtstyle.export import export_checkpoint

    return export_checkpoint(path, work / f"{path.parent.name or 'checkpoint'}.onnx")


def pick(files: list[Path], n: int) -> list[Path]:
    """``n`` evenly spaced photos (the same ones every time)."""
    if len(files) <= n:
        return files
    return [files[int(i)] for i in np.linspace(0, len(files) - 1, n).round().astype(int)]


def stylize_rgb(stylizer, rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(stylizer(np.ascontiguousarray(rgb[:, :, ::-1]))[:, :, ::-1])


def zoo_picture(model: Path, styles: list[str], style_files: dict[str, Path], photos: list[Path], out: Path) -> Path:
    """Rows: the photos, then one row per style (its painting, then the photos stylized)."""
    import cv2

    from rtstyle.evaluate import PHOTO_SHORT_SIDE
    from rtstyle.runtime.stylizer import Stylizer
    from rtstyle.train.data import load_rgb

    cell = 224

    def fit(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        s = cell / min(h, w)
        img = cv2.resize(img, (max(cell, round(w * s)), max(cell, round(h * s))), interpolation=cv2.INTER_AREA)
        y, x = (img.shape[0] - cell) // 2, (img.shape[1] - cell) // 2
        return img[y : y + cell, x : x + cell]

    rgbs = [load_rgb(p, short_side=PHOTO_SHORT_SIDE) for p in photos]
    blank = np.full((cell, cell, 3), 255, np.uint8)
    rows = [np.concatenate([blank, *[fit(r) for r in rgbs]], 1)]
    stylizer = Stylizer(str(model), device="cpu")
    for name in styles:
        stylizer.set_style(name)
        painting = load_rgb(style_files[name], max_side=512)
        rows.append(np.concatenate([fit(painting), *[fit(stylize_rgb(stylizer, r)) for r in rgbs]], 1))
    sheet = np.concatenate(rows, 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), sheet[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    return out


def style_sheet(
    model: Path, name: str, painting: Path, photos: list[Path], out: Path, against: Path | None = None
) -> Path:
    """The painting, then each photo above its stylized version; with ``against`` (a full tier), the photo
    above the full tier's version above ``model``'s."""
    from rtstyle.evaluate import PHOTO_SHORT_SIDE, STYLE_LONG_SIDE, contact_sheet
    from rtstyle.runtime.stylizer import Stylizer
    from rtstyle.train.data import load_rgb

    models = [Stylizer(str(m), device="cpu") for m in ([against] if against else []) + [model]]
    for stylizer in models:
        stylizer.set_style(name)
    columns = []
    for p in photos:
        rgb = load_rgb(p, short_side=PHOTO_SHORT_SIDE)
        columns.append((rgb, *[stylize_rgb(stylizer, rgb) for stylizer in models]))
    labels = ("full tier", "fast tier") if against else ()
    return contact_sheet(load_rgb(painting, max_side=STYLE_LONG_SIDE), columns, out, row_labels=labels)


def markdown(rows: list[dict], model_label: str, command: str, sheet_dir: str = "") -> str:
    grid = all("full_grid" in r for r in rows)  # a fast tier against its full tier: the 8-px pattern of each
    seams = all("full_seams" in r for r in rows)  # ... and the edges of its 4-px blocks
    lines = [
        f"Model: `{model_label}`. Measured with `{command}` (nothing else ran on the machine unless noted).",
        "",
        "| style | scene: style distance | bar | scene: content distance | bar | bars met | "
        "faces: style / content | bar from | "
        + ("8-px pattern: this / full | " if grid else "")
        + ("4-px block edges: this / full | " if seams else "")
        + "sheet |",
        "|---|---|---|---|---|---|---|---|" + ("---|" if grid else "") + ("---|" if seams else "") + "---|",
    ]
    for r in rows:
        ok = "yes" if r["style_ok"] and r["content_ok"] else "**no**"
        faces = f"{r['faces_style']:.3f} / {r['faces_content']:.3f}" if r.get("faces_style") is not None else "-"
        sheet = f"[{r['name']}.jpg]({sheet_dir}{r['name']}.jpg)" if r.get("sheet") else "-"
        lines.append(
            f"| {r['name']} | {r['style']:.3f} | {r['bar_style']:.3f} | {r['content']:.3f} | {r['bar_content']:.3f} "
            f"| {ok} | {faces} | {r['bar_source']} | "
            + (f"{r['grid']:.2f} / {r['full_grid']:.2f} | " if grid else "")
            + (f"{r['seams']:.2f} / {r['full_seams']:.2f} | " if seams else "")
            + f"{sheet} |"
        )
    met = sum(1 for r in rows if r["style_ok"] and r["content_ok"])
    lines += ["", f"Bars met: {met} of {len(rows)} styles."]
    return "\n".join(lines)


def write_table(
    readme: Path,
    table: str,
    marks: tuple[str, str] = (MARK_START, MARK_END),
    heading: str = "The zoo against its bars",
) -> None:
    start, end = marks
    text = readme.read_text() if readme.is_file() else "# Styles: quality figures\n"
    block = f"{start}\n{table}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n" + block + "\n"
    readme.write_text(text)


def recorded_full(path: Path, styles: list[str], scene: list[Path]) -> dict[str, dict]:
    """The full tier's figures per style from an earlier ``--against ... --json`` run: its style, content, 8-px
    pattern and 4-px block edges (the last two where the record has them). The run must have measured the same
    scene photos (by name, where it recorded them; by count otherwise) and every style in ``styles``."""
    from rtstyle.errors import RtstyleError

    try:
        record = json.loads(path.read_text())
        rows = {r["name"]: r for r in record["rows"] if "full_style" in r}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RtstyleError(f"{path}: not a zoo_report --against --json record ({exc})") from None
    names = [p.name for p in scene]
    if "scene" in record and record["scene"] != names:
        raise RtstyleError(f"{path} measured other photos than these {len(names)}: run with its --limit")
    lacking = [s for s in styles if s not in rows]
    if lacking:
        raise RtstyleError(f"{path} has no full-tier figures for {', '.join(lacking)}")
    if "scene" not in record and any(rows[s]["photos"] != len(names) for s in styles):
        raise RtstyleError(f"{path} measured another number of photos than these {len(names)}: run with its --limit")
    keys = ("full_style", "full_content", "full_grid", "full_seams")
    return {s: {k: rows[s][k] for k in keys if k in rows[s]} for s in styles}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "model", nargs="+", help="a multi-style .onnx file or a training checkpoint (.pt), or several (one zoo)"
    )
    ap.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets"))
    ap.add_argument("--styles", default=None, help="comma list (default: every zoo style the model holds)")
    ap.add_argument("--limit", type=int, default=None, help="at most N photos per row (a quick look)")
    ap.add_argument("--no-faces", action="store_true", help="the scene row only")
    ap.add_argument("--write-docs", action="store_true", help="sheets, zoo picture, eval.json, README table")
    ap.add_argument("--docs", default=str(ROOT / "docs" / "styles"))
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    ap.add_argument("--vgg-weights", default=None, help="VGG-16 weights (default: ASSETS/vgg16/...)")
    ap.add_argument(
        "--against",
        default=None,
        help="a full tier (.onnx or checkpoint): each style's bar becomes 1.10x its distances on the same photos",
    )
    ap.add_argument(
        "--against-json",
        default=None,
        help="as --against, with the full tier's figures read from an earlier --against run's --json on the same "
        "photos (a quick look every few thousand steps without evaluating the full tier again)",
    )
    a = ap.parse_args(argv)

    from rtstyle.catalog import read_model_info
    from rtstyle.errors import RtstyleError
    from rtstyle.evaluate import eval_photos, evaluate

    assets = Path(a.assets)
    vgg = Path(a.vgg_weights) if a.vgg_weights else assets / VGG_FILE
    zoo = _zoo_styles()
    try:
        if a.against_json and (a.against or a.write_docs):
            raise RtstyleError("--against-json stands in for --against, and the sheets of --write-docs need the model")
        if str(vgg) != "random-for-tests" and not vgg.is_file():
            raise RtstyleError(f"VGG-16 weights not found: {vgg} (pass --assets)")
        with tempfile.TemporaryDirectory(prefix="rtstyle-zoo-report-") as tmp:
            owner: dict[str, Path] = {}  # style -> the file that holds it
            for i, spec in enumerate(a.model):  # each in its own folder: a checkpoint is named after its folder
                (Path(tmp) / str(i)).mkdir()
                path = model_file(spec, Path(tmp) / str(i))
                for st in read_model_info(path).styles:
                    if st.name in owner:
                        raise RtstyleError(f"style {st.name} is in both {owner[st.name].name} and {Path(spec).name}")
                    owner[st.name] = path
            label = ", ".join(Path(m).name for m in a.model)
            if a.write_docs and not a.against and len(a.model) > 1:
                raise RtstyleError("the zoo picture of --write-docs needs one multi-style file (or --against)")
            against = None
            if a.against:  # its own folder: a checkpoint is exported under its parent folder's name
                (Path(tmp) / "against").mkdir()
                against = model_file(a.against, Path(tmp) / "against")
            held = list(owner)
            want = a.styles.split(",") if a.styles else [s for s in zoo if s in held]
            missing = [s for s in want if s not in held or s not in zoo]
            if missing or not want:
                raise RtstyleError(f"{label} has no zoo style {', '.join(missing) or '(none)'}; it holds {held}")
            if against is not None:
                lacking = [s for s in want if s not in [x.name for x in read_model_info(against).styles]]
                if lacking:
                    raise RtstyleError(f"{a.against} has no style {', '.join(lacking)}")
            scene = eval_photos(assets / "photos", HOLDOUT, a.limit)
            faces = [] if a.no_faces else eval_photos(assets / "photos_more", HOLDOUT, a.limit)
            recorded = recorded_full(Path(a.against_json), want, scene) if a.against_json else None
            rows = []
            t0 = time.perf_counter()
            for name in want:
                model = owner[name]
                painting = assets / "styles" / zoo[name]
                r = evaluate(model, painting, scene, vgg_weights=str(vgg), style=name)
                # blockiness: the fast tier's depth-to-space and strides can print a fixed 8-px pattern
                row: dict = {"name": name, "grid": round(r.grid, 2), "seams": round(r.seams, 3)}
                if against is not None:
                    full = evaluate(against, painting, scene, vgg_weights=str(vgg), style=name)
                    row.update(full_style=round(full.style_distance, 4), full_content=round(full.content_distance, 4))
                    # from the recorded (rounded) figures, so a later --against-json look gets the same bar
                    bar = bar_against(row["full_style"], row["full_content"])
                    row.update(full_grid=round(full.grid, 2), full_seams=round(full.seams, 3))
                elif recorded is not None:
                    row.update(recorded[name])
                    bar = bar_against(row["full_style"], row["full_content"])
                else:
                    bar = bar_for(name)
                row.update(
                    style=round(r.style_distance, 4),
                    content=round(r.content_distance, 4),
                    photos=r.photos,
                    bar_style=bar.style,
                    bar_content=bar.content,
                    bar_source=bar.source,
                    style_ok=r.style_distance <= bar.style,
                    content_ok=r.content_distance <= bar.content,
                )
                if faces:
                    f = evaluate(model, painting, faces, vgg_weights=str(vgg), style=name)
                    row.update(faces_style=round(f.style_distance, 4), faces_content=round(f.content_distance, 4))
                    row["faces_photos"] = f.photos
                    if against is not None:
                        ff = evaluate(against, painting, faces, vgg_weights=str(vgg), style=name)
                        row.update(
                            full_faces_style=round(ff.style_distance, 4),
                            full_faces_content=round(ff.content_distance, 4),
                        )
                if a.write_docs:
                    shown = pick(scene, 4) + pick(faces, 2)
                    sheet = Path(a.docs) / ("fast" if against is not None else "") / f"{name}.jpg"
                    row["sheet"] = str(style_sheet(model, name, painting, shown, sheet, against))
                rows.append(row)
                print(
                    f"{name:13s} scene style {row['style']:.3f} (bar {bar.style:.3f}) content {row['content']:.3f} "
                    f"(bar {bar.content:.3f})"
                    + (
                        f"  = {row['style'] / row['full_style']:.2f}x / {row['content'] / row['full_content']:.2f}x full"
                        + f"  grid {row['grid']:.2f} (full {row['full_grid']:.2f})"
                        + f"  seams {row['seams']:.2f}"
                        + (f" (full {row['full_seams']:.2f})" if "full_seams" in row else "")
                        if "full_style" in row
                        else f"  grid {row['grid']:.2f}  seams {row['seams']:.2f}"
                    )
                    + (f"  faces {row['faces_style']:.3f} / {row['faces_content']:.3f}" if faces else "")
                    + ("  MET" if row["style_ok"] and row["content_ok"] else ""),
                    flush=True,
                )
            if a.write_docs:
                command = "python tools/zoo_report.py " + " ".join(argv if argv is not None else sys.argv[1:])
                if against is None:
                    pics = pick(scene, 2) + pick(faces, 1)
                    styles_files = {n: assets / "styles" / zoo[n] for n in want}
                    zoo_picture(owner[want[0]], want, styles_files, pics, Path(a.docs) / "zoo.jpg")
                    write_table(Path(a.docs) / "README.md", markdown(rows, label, command))
                    eval_json = Path(a.docs) / "eval.json"
                else:
                    table = markdown(rows, f"{label}` against `{Path(a.against).name}", command, "fast/")
                    write_table(Path(a.docs) / "README.md", table, FAST_MARKS, "The fast tier against the full tier")
                    eval_json = Path(a.docs) / "eval-fast.json"
                meta = {"model": label} | ({"against": Path(a.against).name} if against else {})
                eval_json.write_text(json.dumps({**meta, "rows": rows}, indent=2))
            if a.json:
                record = {
                    "model": " ".join(a.model),
                    "against": a.against or a.against_json,
                    "scene": [p.name for p in scene],
                }
                Path(a.json).write_text(json.dumps({**record, "rows": rows}, indent=2))
            print(f"{len(rows)} styles in {time.perf_counter() - t0:.0f} s", flush=True)
    except RtstyleError as exc:
        print(f"zoo_report: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
