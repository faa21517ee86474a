"""Which recipe settles a new style fastest in the full tier's share of `rtstyle styles add --minutes 10`.

    python tools/studies/new_style_recipe.py impression_sunrise \\
        'b4={"batch": 4, "size": 256}' 'b2-192={"batch": 2, "size": 192}' 'lr0.1={"lr": 0.1}' --minutes 5

Each NAME=JSON is one run of `styles add` (the full tier alone, ``--minutes`` end to end, setup and export
included; the JSON holds AddConfig fields over the defaults) on ASSETS/photos less the held-out list, on the CPU,
one after the other; then each file is measured with `rtstyle eval` on the 50 held-out scene photos. Run it on a
free CPU (the minutes are wall time). docs/new-style.md, *A recipe for the minutes*, says what it measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from new_style_bench import HOLDOUT, VGG_FILE  # noqa: E402  (the bench's held-out list and loss network)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("painting", help="a file name in ASSETS/styles, without .jpg")
    ap.add_argument("runs", nargs="+", help="NAME=JSON: AddConfig fields, e.g. b2='{\"batch\": 2}'")
    ap.add_argument("--minutes", type=float, default=5.0, help="each run, end to end")
    ap.add_argument("--tier", choices=("full", "fast"), default="full", help="the tier trained (alone)")
    ap.add_argument("--assets", type=Path, default=ROOT.parent / "shared" / "assets")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "recipe")
    args = ap.parse_args(argv)
    painting = args.assets / "styles" / f"{args.painting}.jpg"
    vgg = args.assets / VGG_FILE
    for need in (painting, vgg, args.assets / "photos"):
        if not need.exists():
            raise SystemExit(f"new_style_recipe: error: not found: {need} (pass --assets DIR)")
    try:
        runs = {name: json.loads(spec) for name, spec in (r.split("=", 1) for r in args.runs)}
    except ValueError as e:
        raise SystemExit(f"new_style_recipe: error: runs are NAME=JSON ({e})") from None

    from rtstyle.evaluate import eval_photos, evaluate
    from rtstyle.train.newstyle import AddConfig, add_style, tier_stem

    models = args.work / "models"
    trained: dict[str, tuple[int, float]] = {}
    for name, fields in runs.items():
        t0 = time.perf_counter()
        cfg = AddConfig(
            painting=str(painting),
            name=name,
            data=[str(args.assets / "photos")],
            holdout=str(HOLDOUT),
            minutes=args.minutes,
            full=args.tier == "full",
            fast=args.tier == "fast",
            force=True,
            vgg_weights=str(vgg),
            device="cpu",
            work_dir=str(args.work / f"work-{name}"),
            models_dir=str(models),
            **fields,
        )
        result = add_style(cfg, say=lambda line: print(line, file=sys.stderr)).tiers[args.tier]
        trained[name] = (result.steps, time.perf_counter() - t0)  # type: ignore[attr-defined]
        print(f"{name}: {trained[name][0]} steps, {trained[name][1]:.0f} s end to end", file=sys.stderr, flush=True)
    held = eval_photos([args.assets / "photos"], HOLDOUT, None)
    for name, (steps, wall) in trained.items():
        r = evaluate(str(models / f"{tier_stem(name, args.tier)}.onnx"), painting, held, vgg_weights=str(vgg))
        print(f"{name:>12} {json.dumps(runs[name])}: {steps} steps in {wall:.0f} s, style {r.style_distance:.4f}, "
              f"content {r.content_distance:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
