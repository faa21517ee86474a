"""Fine-tune one zoo style's norm row with every convolution frozen (issue 10: a lever for the last styles).

In the nine-style zoo every style shares the convolutions and owns one row of instance-norm scales and shifts.
Training a style's row alone (``rtstyle train --init-from ZOO --train-only norm``: the style's own row kept, the
convolutions frozen) cannot move any other style, so a style still over its bar can get all of the CPU without
the others drifting. This study starts each run from the same zoo model, trains the style's row for ``--steps``
steps on the zoo's photos (held-out list excluded) at each learning rate and style-weight factor given, exports
every checkpoint and measures it on the first ``--limit`` held-out scene photos (``rtstyle eval``'s distances).
Runs are resumable; a finished run is only measured.

    python tools/studies/row_tune.py --style udnie --lrs 1e-2 --factors 1 --steps 400   # ~30 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "studies"))

from style_loss_norm import measure, study_inputs, train_command, zoo_weight  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets"))
    ap.add_argument("--model", default=str(ROOT / "models" / "zoo-full.onnx"), help="the zoo model to start from")
    ap.add_argument("--style", default="udnie")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--every", type=int, default=100, help="measure a checkpoint every N steps")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--train-only", default="norm", help="norm or norm+last (all: the study's baseline)")
    ap.add_argument("--lrs", default="1e-2", help="learning rates, comma-separated")
    ap.add_argument("--factors", default="1", help="multiples of the zoo's style weight for the style")
    ap.add_argument("--limit", type=int, default=12, help="held-out scene photos to measure on")
    ap.add_argument("--out-dir", default=str(ROOT / "runs" / "row-tune"))
    a = ap.parse_args(argv)
    root, vgg, painting, photos = study_inputs(a)

    from rtstyle.export import export_checkpoint

    rows = [{"run": "init", "step": 0, **measure(Path(a.model), a.style, painting, photos, vgg)}]
    print(json.dumps(rows[0]), flush=True)
    for lr in (float(x) for x in a.lrs.split(",")):
        for factor in (float(f) for f in a.factors.split(",")):
            weight = zoo_weight(a.style) * factor
            label = f"{a.train_only}-lr{lr:g}-x{factor:g}"
            out = root / label
            out.mkdir(parents=True, exist_ok=True)
            for stop in range(a.every, a.steps + 1, a.every):
                model = out / f"step{stop}.onnx"
                if not model.is_file():
                    t0 = time.perf_counter()
                    cmd = train_command(a, out, painting, weight, ["--train-only", a.train_only], lr, a.every, stop)
                    with open(out / "train.log", "a") as f:
                        subprocess.run(cmd, stdout=f, stderr=f, check=True)
                    print(f"{label}: to step {stop} in {time.perf_counter() - t0:.0f} s", flush=True)
                    export_checkpoint(out / "checkpoint.pt", model)
                row = {"run": label, "step": stop, "lr": lr, "style_weight": float(f"{weight:.4g}")}
                rows.append({**row, **measure(model, None, painting, photos, vgg)})
                print(json.dumps(rows[-1]), flush=True)
    (root / "results.json").write_text(
        json.dumps({"size": a.size, "batch": a.batch, "photos": len(photos), "rows": rows}, indent=1) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
