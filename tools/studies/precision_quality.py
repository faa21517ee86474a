"""Does bf16 autocast cost quality? The zoo's first CPU phase for one style, fp32 against bf16 (issue 10, section 1).

Three runs of ``rtstyle train`` with the same photos and the zoo's phase-1 recipe for mosaic (128 px, batch 8,
identity warm start, content 5e5, style 1e10, output lr 1/255): fp32 seed 0, bf16 seed 0, and fp32 seed 1 for the
noise between two seeds. Each is then measured with ``rtstyle eval``'s definitions on the held-out scene photos of
``tools/holdout_photos.txt``. bf16 costs no quality when its distances differ from fp32's (same seed) by no more than
the two fp32 seeds differ from each other. Each run is resumable (``--resume``); a finished run is only measured.

    python tools/studies/precision_quality.py --steps 1000            # ~1 h on the 2-core reference machine
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from train_zoo import _CPU_PHASE  # noqa: E402
from zoo_report import VGG_FILE  # noqa: E402

RUNS = (("fp32-seed0", "fp32", 0), ("bf16-seed0", "bf16", 0), ("fp32-seed1", "fp32", 1))


def train_command(assets: Path, out: Path, precision: str, seed: int, steps: int) -> list[str]:
    p = _CPU_PHASE
    return [
        sys.executable, "-m", "rtstyle", "train", "--name", "mosaic",
        "--data", str(assets / "photos"), "--data", str(assets / "photos_more"),
        "--holdout", str(ROOT / "tools" / "holdout_photos.txt"),
        "--style-image", str(assets / "styles" / "mosaic.jpg"), "--style-weight", "1e10",
        "--arch", str(p["arch"]), "--batch", str(p["batch"]), "--size", str(p["size"]),
        "--style-size", str(p["style_size"]), "--lr", str(p["lr"]), "--output-lr-scale", str(p["output_lr_scale"]),
        "--content-weight", str(p["content_weight"]), "--identity-steps", str(p["identity_steps"]),
        "--precision", precision, "--seed", str(seed), "--steps", str(steps), "--device", "cpu",
        "--vgg-weights", str(assets / VGG_FILE), "--out-dir", str(out), "--export-dir", str(out / "export"),
        "--checkpoint-every", "100", "--preview-every", "0",
    ] + (["--resume"] if (out / "checkpoint.pt").is_file() else [])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets"))
    ap.add_argument("--out-dir", default=str(ROOT / "runs" / "precision"))
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--limit", type=int, default=None, help="at most N held-out photos (default: all 50)")
    a = ap.parse_args(argv)
    assets, root = Path(a.assets), Path(a.out_dir)

    from rtstyle.evaluate import eval_photos, evaluate

    scene = eval_photos(assets / "photos", ROOT / "tools" / "holdout_photos.txt", a.limit)
    rows = []
    for label, precision, seed in RUNS:
        out = root / label
        model = out / "export" / "mosaic.onnx"
        log = out / "train.log"
        if not model.is_file():
            out.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            with open(log, "a") as f:
                subprocess.run(train_command(assets, out, precision, seed, a.steps), stdout=f, stderr=f, check=True)
            print(f"{label}: trained in {time.perf_counter() - t0:.0f} s", flush=True)
        rates = [float(m) for m in re.findall(r"([\d.]+) img/s", log.read_text())] if log.is_file() else []
        r = evaluate(model, assets / "styles" / "mosaic.jpg", scene, vgg_weights=str(assets / VGG_FILE))
        row = {
            "run": label,
            "precision": precision,
            "seed": seed,
            "style": round(r.style_distance, 4),
            "content": round(r.content_distance, 4),
            "photos": r.photos,
            "img_per_s_median": sorted(rates)[len(rates) // 2] if rates else None,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    by = {r["run"]: r for r in rows}
    for key in ("style", "content"):
        noise = abs(by["fp32-seed0"][key] - by["fp32-seed1"][key])
        gap = abs(by["bf16-seed0"][key] - by["fp32-seed0"][key])
        verdict = "within" if gap <= noise else "OUTSIDE"
        print(f"{key}: bf16 - fp32 (seed 0) = {gap:.4f}; fp32 seed 0 - seed 1 = {noise:.4f}: {verdict} the noise")
    (root / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
