"""Retrain the whole style zoo from the shared assets with the recorded recipes.

    python tools/train_zoo.py --assets ../shared/assets --device cuda            # full tier, then the fast tier
    python tools/train_zoo.py --assets ../shared/assets --tier full --resume     # continue after an interruption

The full tier is ONE multi-style Johnson network holding all nine styles (conditional instance norm: ~7 MB in
fp32 instead of ~60 MB for nine single-style files). The fast tier is distilled from it (``--teacher``), again as
one multi-style file. Both land in ``--models-dir`` (default: the repository's ``models/``) with their model cards;
``--eval`` then writes contact sheets and the distance table into ``docs/styles/``.

Training needs a CUDA GPU to finish in reasonable time; on the 2-core CPU use ``--steps`` and ``--size`` to make a
short proof run (``--smoke``). Every step is resumable: checkpoints go to ``--out-dir`` every ``--checkpoint-every``
steps, and ``--resume`` continues from them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ZooStyle:
    file: str  # in ../shared/assets/styles/
    name: str  # CLI name
    display_name: str
    license: str


ZOO = [
    ZooStyle("mosaic.jpg", "mosaic", "Mosaic", "unknown provenance (classic fast-neural-style demo image)"),
    ZooStyle("candy.jpg", "candy", "Candy", "unknown provenance (classic fast-neural-style demo image)"),
    ZooStyle("starry_night.jpg", "starry-night", "The Starry Night (Van Gogh)", "public domain"),
    ZooStyle("the_scream.jpg", "scream", "The Scream (Munch)", "public domain"),
    ZooStyle("great_wave.jpg", "wave", "The Great Wave off Kanagawa (Hokusai)", "public domain"),
    ZooStyle("composition_vii.jpg", "kandinsky", "Composition VII (Kandinsky)", "public domain in most countries"),
    ZooStyle("shipwreck_of_the_minotaur.jpg", "shipwreck", "The Shipwreck of the Minotaur (Turner)", "public domain"),
    ZooStyle("udnie.jpg", "udnie", "Udnie (Picabia)", "public domain"),
    ZooStyle("woman_with_hat_matisse.jpg", "matisse", "Woman with a Hat (Matisse)", "public domain in the US and EU"),
]

# The recorded recipes (GPU). The fast tier starts from the full tier's output as a target.
RECIPES = {
    "full": {
        "arch": "johnson",
        "steps": 40000,
        "batch": 16,
        "size": 256,
        "style_size": 512,
        "lr": 1e-3,
        "content_weight": 1e5,
        "style_weight": 1e10,
        # 3e7 made the CPU-trained mosaic ignore its input (noise invariance beat the content term): 3e6
        "stability_weight": 3e6,
    },
    "fast": {
        "arch": "fast",
        "steps": 20000,
        "batch": 16,
        "size": 256,
        "style_size": 512,
        "lr": 2e-3,
        # twice the teacher's: on the CPU mosaic, a last phase with the student's content weight doubled (and a
        # higher lr: the two are not separated) took its content distance from 1.30x to 0.94x the teacher's and
        # its style distance from 1.13x to 1.05x (docs/performance.md, Quality)
        "content_weight": 2e5,
        "style_weight": 1e10,
        "stability_weight": 3e6,
        # the teacher MSE is ~0.1 at the start: 1e9 makes it the leading term (1e5 distils nothing)
        "teacher_weight": 1e9,
    },
}


def train_args(tier: str, a: argparse.Namespace, styles: list[ZooStyle]) -> list[str]:
    r = dict(RECIPES[tier])
    for key in ("steps", "batch", "size", "style_size"):
        if getattr(a, key) is not None:
            r[key] = getattr(a, key)
    if a.arch and tier == "full":
        r["arch"] = a.arch
    if a.fast_arch and tier == "fast":
        r["arch"] = a.fast_arch
    out_dir = Path(a.out_dir) / tier
    args = [
        "train",
        "--name",
        f"zoo-{tier}",
        "--data",
        str(Path(a.assets) / "photos"),
        "--holdout",
        str(ROOT / "tools" / "holdout_photos.txt"),
        "--device",
        a.device,
        "--out-dir",
        str(out_dir),
        "--export-dir",
        str(a.models_dir),
        "--checkpoint-every",
        str(a.checkpoint_every),
        "--preview-every",
        str(a.preview_every),
    ]
    for s in styles:
        args += [
            "--style-image",
            str(Path(a.assets) / "styles" / s.file),
            "--style-name",
            s.name,
            "--display-name",
            s.display_name,
            "--license",
            s.license,
        ]
    for key, value in r.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    args += [
        "--vgg-weights",
        a.vgg_weights or str(Path(a.assets) / "vgg16" / "vgg16_imagenet_features_to_relu4_3_fp16.pth"),
    ]
    if tier == "fast":
        args += ["--teacher", str(Path(a.out_dir) / "full" / "checkpoint.pt")]
    if a.resume and (out_dir / "checkpoint.pt").is_file():
        args.append("--resume")
    return args


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets"), help="the shared assets folder")
    p.add_argument("--models-dir", default=str(ROOT / "models"), help="where the zoo's model files go")
    p.add_argument("--out-dir", default=str(ROOT / "runs" / "zoo"), help="checkpoints and previews")
    p.add_argument("--tier", choices=["full", "fast", "both"], default="both")
    p.add_argument("--device", default="auto")
    p.add_argument("--styles", default=None, help="comma list of style names (default: all nine)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--style-size", type=int, default=None)
    p.add_argument("--arch", default=None, help="override the full tier's architecture")
    p.add_argument("--fast-arch", default=None, help="override the fast tier's architecture")
    p.add_argument("--vgg-weights", default=None)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--preview-every", type=int, default=2000)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--smoke", action="store_true", help="a short CPU proof run: 20 steps, batch 2, 64 px")
    p.add_argument("--eval", action="store_true", help="afterwards: contact sheets + distance table in docs/styles/")
    p.add_argument("--print", action="store_true", help="print the rtstyle commands instead of running them")
    a = p.parse_args(argv)
    if a.smoke:
        a.steps, a.batch, a.size, a.style_size = a.steps or 20, a.batch or 2, a.size or 64, a.style_size or 128
    styles = ZOO
    if a.styles:
        want = a.styles.split(",")
        unknown = [w for w in want if w not in {s.name for s in ZOO}]
        if unknown:
            print(
                f"train_zoo: unknown style {unknown[0]!r}; the zoo has {', '.join(s.name for s in ZOO)}",
                file=sys.stderr,
            )
            return 2
        styles = [s for s in ZOO if s.name in want]
    missing = [s.file for s in styles if not (Path(a.assets) / "styles" / s.file).is_file()]
    if missing:
        print(
            f"train_zoo: style images missing under {Path(a.assets) / 'styles'}: {', '.join(missing)}", file=sys.stderr
        )
        return 2
    tiers = ["full", "fast"] if a.tier == "both" else [a.tier]
    for tier in tiers:
        cmd = [sys.executable, "-m", "rtstyle", *train_args(tier, a, styles)]
        if a.print:
            print(" ".join(cmd))
            continue
        print(f"== {tier} tier: {len(styles)} styles", flush=True)
        rc = subprocess.call(cmd)
        if rc != 0:
            return rc
    if a.eval and not a.print:
        report = {}
        for s in styles:
            for tier in tiers:
                sheet = ROOT / "docs" / "styles" / f"{s.name}-{tier}.jpg"
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "rtstyle",
                        "eval",
                        str(Path(a.models_dir) / f"zoo-{tier}.onnx"),
                        "--style",
                        s.name,
                        "--style-image",
                        str(Path(a.assets) / "styles" / s.file),
                        "--photos",
                        str(Path(a.assets) / "photos"),
                        "--only",
                        str(ROOT / "tools" / "holdout_photos.txt"),
                        "--sheet",
                        str(sheet),
                        "--json",
                    ]
                    + (
                        ["--vgg-weights", a.vgg_weights]
                        if a.vgg_weights
                        else [
                            "--vgg-weights",
                            str(Path(a.assets) / "vgg16" / "vgg16_imagenet_features_to_relu4_3_fp16.pth"),
                        ]
                    ),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                report[f"{s.name}/{tier}"] = json.loads(out.stdout)
        (ROOT / "docs" / "styles" / "eval.json").write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
