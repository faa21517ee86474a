"""The benchmark of issue 12: a new style from the zoo in minutes, distance against training time.

    python tools/new_style_bench.py                         # both paintings, ../shared/assets, models/zoo-full.onnx
    python tools/new_style_bench.py --paintings impression_sunrise.jpg --marks 1,2,5 --json out.json
    python tools/new_style_bench.py --train-only --work runs/nsb    # the timed part alone (nothing else running),
    python tools/new_style_bench.py --eval-only --work runs/nsb     # then the evaluation, at any time after

For each painting (outside the zoo: ``impression_sunrise.jpg`` and ``la_grande_jatte.jpg`` by default) it runs
``rtstyle styles add`` once for the longest mark (60 minutes), one tier (``--tier full``, the default, or
``fast``), on the CPU, keeping the best state at every minute mark (1, 2, 5, 10, 30, 60: checkpoints of the one
run), exports each and prints ``rtstyle eval``'s style and content distances on the held-out scene photos
(``tools/holdout_photos.txt`` in ASSETS/photos), plus the targets: style <= 0.25, content <= 1.3, and each within
1.15x of the 60-minute figure at 10 minutes (and at the tier's share of 10 against its share of 60, the split of
``styles add`` with both tiers, where those marks were taken).
Nothing is written into the user model folder (a temporary one is used). Needs the tier's zoo
(``models/zoo-full.onnx``; ``models/base/zoo-fast.onnx``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOLDOUT = ROOT / "tools" / "holdout_photos.txt"
VGG_FILE = Path("vgg16") / "vgg16_imagenet_features_to_relu4_3_fp16.pth"
PAINTINGS = ("impression_sunrise.jpg", "la_grande_jatte.jpg")
TARGET_STYLE, TARGET_CONTENT, TARGET_RATIO = 0.25, 1.3, 1.15


def fail(message: str) -> None:
    print(f"new_style_bench: error: {message}", file=sys.stderr)
    raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tier", choices=("full", "fast"), default="full", help="which tier's network is trained")
    ap.add_argument(
        "--zoo",
        type=Path,
        default=None,
        help="the tier's zoo (default: models/zoo-full.onnx, models/base/zoo-fast.onnx)",
    )
    ap.add_argument("--assets", type=Path, default=ROOT.parent / "shared" / "assets")
    ap.add_argument("--paintings", default=",".join(PAINTINGS), help="file names in ASSETS/styles, comma-separated")
    ap.add_argument("--marks", default="1,2,5,10,30,60", help="minute marks (the run lasts the longest)")
    ap.add_argument("--train", default=None, help="what is trained: norm, norm+last, all (default: styles add's)")
    ap.add_argument("--lr", type=float, default=None, help="Adam's rate (default: styles add's for the tier)")
    ap.add_argument("--init", default="mean", help="mean or nearest")
    ap.add_argument("--size", type=int, default=None, help="crop size (default: styles add's)")
    ap.add_argument("--batch", type=int, default=None, help="photos per step (default: styles add's)")
    ap.add_argument("--work", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    step = ap.add_mutually_exclusive_group()
    step.add_argument("--train-only", action="store_true", help="train and keep the checkpoints (needs --work)")
    step.add_argument(
        "--eval-only", action="store_true", help="evaluate the checkpoints of an earlier --train-only run in --work"
    )
    args = ap.parse_args(argv)

    if args.zoo is None:
        args.zoo = ROOT / "models" / ("zoo-full.onnx" if args.tier == "full" else "base/zoo-fast.onnx")
    if not args.zoo.is_file():
        fail(f"the zoo is not there: {args.zoo} (it ships with the zoo issue; pass --zoo FILE.onnx)")
    photos = args.assets / "photos"
    vgg = args.assets / VGG_FILE
    paintings = [args.assets / "styles" / p for p in args.paintings.split(",") if p]
    for need in (photos, vgg, *paintings):
        if not need.exists():
            fail(f"not found: {need} (pass --assets DIR)")
    if (args.train_only or args.eval_only) and args.work is None:
        fail("--train-only and --eval-only need --work DIR (where the checkpoints are kept)")
    try:
        marks = sorted({float(m) for m in args.marks.split(",") if m})
    except ValueError:
        fail(f"--marks {args.marks!r}: minutes, comma-separated")
    from rtstyle.evaluate import eval_photos, evaluate
    from rtstyle.export import export_checkpoint
    from rtstyle.train.newstyle import AddConfig, add_style, tier_shares, tier_stem

    tier = args.tier
    wall_file = tier_stem("wall_minutes", tier) + ".txt"  # the tier's files beside the other's in one --work
    share = tier_shares(["full", "fast"])[0 if tier == "full" else 1]
    extra: dict[str, Any] = {k: v for k, v in (("batch", args.batch), ("size", args.size)) if v}

    held = eval_photos([photos], HOLDOUT, None)
    work = Path(args.work or tempfile.mkdtemp(prefix="rtstyle-new-style-bench-"))
    os.environ["RTSTYLE_MODELS"] = str(work / "models")  # nothing lands in the user's model folder
    table: dict[str, dict[str, Any]] = {}
    for painting in paintings:
        name = painting.stem.replace("_", "-")
        run = work / name
        t0 = time.perf_counter()
        if args.eval_only:
            if not (run / tier).is_dir():
                fail(f"no run for {name} in {work} (train it first with --train-only --work {work})")
        else:
            add_style(
                AddConfig(
                    painting=str(painting),
                    name=name,
                    data=[str(photos)],
                    holdout=str(HOLDOUT),  # the photos it is measured on are never trained on
                    minutes=max(marks),
                    train_only=args.train,
                    lr=args.lr,
                    init_row=args.init,
                    base=str(args.zoo) if tier == "full" else None,
                    base_fast=str(args.zoo) if tier == "fast" else None,
                    full=tier == "full",
                    fast=tier == "fast",
                    force=True,
                    vgg_weights=str(vgg),
                    device="cpu",
                    work_dir=str(run),
                    mark_minutes=marks,
                    minutes_end_to_end=False,  # the marks count training minutes
                    **extra,
                ),
                say=lambda line: print(line, file=sys.stderr),
            )
            wall = (time.perf_counter() - t0) / 60
            (run / wall_file).write_text(f"{wall:.2f}\n")  # end to end: setup, training, export
            print(f"{name}: trained {max(marks):g} min in {wall:.1f} min wall", file=sys.stderr)
        if args.train_only:
            continue
        table[name] = {}
        if (run / wall_file).is_file():
            table[name]["wall_minutes"] = float((run / wall_file).read_text())
        for m in marks:
            ckpt = run / tier / f"minute_{m:g}.pt"
            if not ckpt.is_file():
                print(f"{name}: no checkpoint at {m:g} min", file=sys.stderr)
                continue
            stem = f"{tier_stem(name, tier)}-{m:g}min"
            model = export_checkpoint(ckpt, run / f"{stem}.onnx")
            r = evaluate(str(model), painting, held, vgg_weights=str(vgg), sheet=run / f"{stem}.jpg")
            table[name][f"{m:g}"] = {"style": r.style_distance, "content": r.content_distance}
            print(f"{name} {m:>4g} min: style {r.style_distance:.4f}  content {r.content_distance:.4f}", flush=True)
        # the targets as the bench runs (the tier alone: 10 minutes against 60), and as `styles add --minutes 10`
        # runs with both tiers (each its share of the minutes: against its share of the 60-minute command's)
        pairs = [
            ("10", "60", f"the {tier} tier alone"),
            (f"{10 * share:g}", f"{60 * share:g}", f"both tiers: the {tier} tier's share"),
        ]
        for short, long, how in pairs:
            got, ref = table[name].get(short), table[name].get(long)
            if not got:
                continue
            ok = got["style"] <= TARGET_STYLE and got["content"] <= TARGET_CONTENT
            if ref:
                ratios = [got[k] / ref[k] for k in ("style", "content")]
                ok = ok and all(r <= TARGET_RATIO for r in ratios)
                said = f"{short} min against {long} ({how}: {ratios[0]:.2f}x / {ratios[1]:.2f}x)"
            else:
                said = f"{short} min, the absolute targets only (no {long}-minute mark)"
            print(f"{name}: {said}: targets {'met' if ok else 'NOT met'}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))
    print(f"runs, models and contact sheets: {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
