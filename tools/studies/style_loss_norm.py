"""Absolute or relative style loss? The same fine-tune of one zoo style with each (issue 10, the reserve lever).

The training's style loss (``--style-loss absolute``) sums each VGG layer's mean squared Gram error, so relu4_3
(Gram entries ~100x smaller than relu1_2's) weighs at most 2 % of it, while it is 58-72 % of ``rtstyle eval``'s
style distance (docs/styles/README.md, "Where the style distance sits"). ``--style-loss relative`` divides each
layer's error by the painting's Gram norm, as the eval does. This study starts every run from the same zoo model
(``--init-from``, the style's own norm row kept), trains that style alone for ``--steps`` steps on the zoo's
photos, and measures each run on the first ``--limit`` held-out scene photos:

- ``absolute``: the zoo's loss at the zoo's current weight for the style (``CPU_SCHEDULE``'s last phase);
- ``relative xF``: the relative loss at F times the weight whose style term equals the absolute one's on the
  starting model (so x1 moves the same loss magnitude from relu1_2 towards relu4_3).

Every run is resumable and a finished run is only measured; ``init`` is the starting model itself.

    python tools/studies/style_loss_norm.py --style udnie --steps 300 --factors 1,4   # ~40 min on 2 cores
    python tools/studies/style_loss_norm.py --model models/wave-fast.onnx --style wave --calibrate-only   # the ratios
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from style_layers import layer_split  # noqa: E402
from train_zoo import CPU_SCHEDULE, ZOO  # noqa: E402
from zoo_report import VGG_FILE  # noqa: E402


def zoo_weight(style: str) -> float:
    """The style weight the zoo's last CPU phase trains ``style`` at (its base weight x the phase's scale)."""
    entry = next(z for z in ZOO if z.name == style)
    scale = CPU_SCHEDULE["full"][-1].get("style_scale", 1.0)
    return entry.cpu_style_weight * (scale.get(style, 1.0) if isinstance(scale, dict) else scale)


def file_outputs(model: Path, assets: Path, size: int, vgg_weights: Path, style: str) -> tuple[Any, Any, Any]:
    """The loss network, 8 fixed training crops and ``model``'s outputs for ``style`` on them: what both
    calibrations read."""
    import torch

    from rtstyle.export import import_onnx
    from rtstyle.train.data import PhotoSet, read_holdout
    from rtstyle.train.losses import load_vgg

    info, net = import_onnx(model)
    row = [s.name for s in info["styles"]].index(style)
    vgg = load_vgg(str(vgg_weights)).eval()
    holdout = read_holdout(ROOT / "tools" / "holdout_photos.txt")
    x = PhotoSet([assets / "photos", assets / "photos_more"], size, holdout).fixed(8)
    onehot = torch.nn.functional.one_hot(torch.full((8,), row), int(getattr(net, "num_styles", 1))).float()
    with torch.no_grad():
        y = net.eval()(x, onehot).clamp(0, 1)
    return vgg, x, y


def calibrate(painting: Path, vgg: Any, x: Any, y: Any) -> float:
    """absolute style term / relative style term of the outputs ``y`` of crops ``x`` (:func:`file_outputs`,
    weight 1)."""
    import torch

    from rtstyle.train.data import load_rgb, to_tensor
    from rtstyle.train.losses import PerceptualLoss

    target = [to_tensor(load_rgb(painting, max_side=512))]
    sidx = torch.zeros(x.shape[0], dtype=torch.long)
    with torch.no_grad():
        _, ab = PerceptualLoss(vgg, target, style_weight=1.0)(y, x, sidx)
        _, rel = PerceptualLoss(vgg, target, style_weight=1.0, style_loss="relative")(y, x, sidx)
    return float(ab["style"] / rel["style"])


def content_ratio(vgg: Any, x: Any, y: Any) -> float:
    """The content term at relu2_2 / the same at relu3_3 (the eval's layer) of the outputs ``y`` of crops ``x``
    (:func:`file_outputs`): the factor that moves ``--content-weight`` to ``--content-layer relu3_3`` at the same
    term."""
    import torch

    with torch.no_grad():
        fy, fx = vgg(y, ("relu2_2", "relu3_3")), vgg(x, ("relu2_2", "relu3_3"))
        mse = {k: float(((fy[k].float() - fx[k].float()) ** 2).mean()) for k in fy}
    return mse["relu2_2"] / mse["relu3_3"]


def train_command(
    a: argparse.Namespace,
    out: Path,
    painting: Path,
    weight: float,
    extra: list[str],
    lr: float | None = None,
    every: int = 100,
    steps: int | None = None,
) -> list[str]:
    """``rtstyle train`` for a one-style study: ``a.style`` alone from the zoo ``a.model`` (its own norm row kept) at
    the zoo's last phase's settings, ``weight`` as its style weight, ``lr`` (default: the phase's), ``steps``
    (default: ``a.steps``) and ``extra`` options; resumes where ``out`` holds a checkpoint."""
    assets = Path(a.assets)
    phase = CPU_SCHEDULE["full"][-1]
    return [
        sys.executable, "-m", "rtstyle", "train", "--name", a.style, "--style-image", str(painting),
        "--data", str(assets / "photos"), "--data", str(assets / "photos_more"),
        "--holdout", str(ROOT / "tools" / "holdout_photos.txt"), "--init-from", str(a.model),
        *extra, "--style-weight", f"{weight:.4g}", "--lr", f"{lr if lr is not None else phase['lr']:g}",
        "--arch", "johnson", "--batch", str(a.batch), "--size", str(a.size), "--style-size", "512",
        "--output-lr-scale", str(phase["output_lr_scale"]), "--content-weight", str(phase["content_weight"]),
        "--precision", "auto", "--seed", "0", "--steps", str(steps or a.steps), "--device", "cpu",
        "--vgg-weights", str(assets / VGG_FILE), "--out-dir", str(out), "--export-dir", str(out / "export"),
        "--checkpoint-every", str(every), "--preview-every", "0",
    ] + (["--resume"] if (out / "checkpoint.pt").is_file() else [])  # fmt: skip


def measure(model: Path, style: str | None, painting: Path, photos: list[Path], vgg_weights: Path) -> dict:
    """``rtstyle eval``'s distances of ``model`` and its style distance per VGG layer (relu1_2 ... relu4_3)."""
    from rtstyle.evaluate import evaluate
    from rtstyle.runtime.stylizer import Stylizer
    from rtstyle.train.losses import STYLE_LAYERS, load_vgg

    r = evaluate(model, painting, photos, vgg_weights=str(vgg_weights), style=style)
    stylize = Stylizer(str(model), device="cpu")
    if style is not None:
        stylize.set_style(style)
    rel, _, _ = layer_split(load_vgg(str(vgg_weights)).eval(), stylize, painting, photos)
    layers = {n: round(v, 4) for n, v in zip(STYLE_LAYERS, rel, strict=True)}
    return {"style": round(r.style_distance, 4), "content": round(r.content_distance, 4), "layers": layers}


def study_inputs(a: argparse.Namespace) -> tuple[Path, Path, Path, list[Path]]:
    """A one-style study's run folder (OUT_DIR/STYLE), VGG weights, painting and first ``a.limit`` held-out photos."""
    from rtstyle.evaluate import eval_photos

    assets = Path(a.assets)
    painting = assets / "styles" / next(z.file for z in ZOO if z.name == a.style)
    photos = eval_photos(assets / "photos", ROOT / "tools" / "holdout_photos.txt", a.limit)
    return Path(a.out_dir) / a.style, assets / VGG_FILE, painting, photos


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets"))
    ap.add_argument("--model", default=str(ROOT / "models" / "zoo-full.onnx"), help="the zoo model to start from")
    ap.add_argument("--style", default="udnie")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--factors", default="1,4", help="relative runs: these multiples of the matched weight")
    ap.add_argument("--limit", type=int, default=12, help="held-out scene photos to measure on")
    ap.add_argument("--out-dir", default=str(ROOT / "runs" / "style-loss"))
    ap.add_argument(
        "--calibrate-only",
        action="store_true",
        help="print the two ratios on --model (style: absolute / relative term; content: relu2_2 / relu3_3 term) "
        "and stop",
    )
    a = ap.parse_args(argv)
    assets = Path(a.assets)
    root, vgg, painting, photos = study_inputs(a)
    w_abs = zoo_weight(a.style)
    loss_net, crops, outputs = file_outputs(Path(a.model), assets, a.size, vgg, a.style)
    ratio = calibrate(painting, loss_net, crops, outputs)
    print(f"{a.style}: absolute weight {w_abs:.4g}; absolute/relative style term on the start model {ratio:.4g}")
    if a.calibrate_only:
        content = content_ratio(loss_net, crops, outputs)
        print(f"{a.style}: relu2_2/relu3_3 content term on the start model {content:.4g}")
        return 0
    runs = [("absolute", "absolute", w_abs)] + [
        (f"relative x{f}", "relative", w_abs * ratio * float(f)) for f in a.factors.split(",")
    ]
    rows = [{"run": "init", **measure(Path(a.model), a.style, painting, photos, vgg)}]
    print(json.dumps(rows[0]), flush=True)
    for label, loss, weight in runs:
        out = root / label.replace(" ", "-")
        model = out / "export" / f"{a.style}.onnx"
        if not model.is_file():
            out.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            with open(out / "train.log", "a") as f:
                subprocess.run(
                    train_command(a, out, painting, weight, ["--style-loss", loss]), stdout=f, stderr=f, check=True
                )
            print(f"{label}: trained in {time.perf_counter() - t0:.0f} s", flush=True)
        rows.append(
            {
                "run": label,
                "style_loss": loss,
                "style_weight": float(f"{weight:.4g}"),
                **measure(model, None, painting, photos, vgg),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    (root / "results.json").write_text(
        json.dumps({"steps": a.steps, "size": a.size, "batch": a.batch, "photos": len(photos), "rows": rows}, indent=1)
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
