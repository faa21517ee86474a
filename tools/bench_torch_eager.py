"""The same Johnson-size network (random weights) in PyTorch eager fp32 and through onnxruntime, in one run.

PyTorch eager is how pytorch/examples ``fast_neural_style`` users run it: a float ``[1, 3, H, W]`` tensor through
the network under ``inference_mode``. The onnxruntime figure is ``rtstyle bench``'s (uint8 BGR frame in, uint8
frame out, normalisation and padding inside the graph), so the comparison does not flatter onnxruntime.
Both use the same thread count (physical cores unless ``--threads``) and the same weights; sizes are measured
alternately (eager, then onnxruntime) to share any drift from other load.

    python tools/bench_torch_eager.py --sizes 640x360,1280x720 --frames 10 [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def time_eager(net, num_styles: int, width: int, height: int, frames: int, warmup: int) -> list[float]:
    import torch

    m = int(getattr(net, "pad_multiple", 4))
    h, w = -(-height // m) * m, -(-width // m) * m
    x = torch.rand(1, 3, h, w)
    weights = torch.ones(1, num_styles) / num_styles
    times = []
    with torch.inference_mode():
        for i in range(warmup + frames):
            t0 = time.perf_counter()
            net(x, weights)
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000.0)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="johnson")
    ap.add_argument("--sizes", default="640x360,1280x720")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-onnx", action="store_true", help="time PyTorch eager only")
    args = ap.parse_args(argv)

    import torch

    from rtstyle.adjust import parse_sizes
    from rtstyle.bench import bench_model
    from rtstyle.contract import StyleEntry
    from rtstyle.export import export_onnx
    from rtstyle.nets import build_net
    from rtstyle.runtime.hardware import physical_cores

    threads = args.threads or physical_cores()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = build_net(args.arch).eval()
    params = sum(p.numel() for p in net.parameters())
    sizes = parse_sizes(args.sizes)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rtstyle-eager-") as tmp:
        onnx_path = None
        if not args.no_onnx:
            print(f"exporting random {args.arch} to ONNX ...", file=sys.stderr)
            onnx_path = export_onnx(
                net,
                Path(tmp) / f"random-{args.arch}.onnx",
                [StyleEntry(f"random-{args.arch}", f"Random {args.arch}", "none")],
                arch=args.arch,
                tier="full",
                recipe={"weights": "random", "seed": 0},
                working_size=512,
                check=False,
            )
            net = net.eval()
        for w, h in sizes:
            print(f"timing {w}x{h} ...", file=sys.stderr)
            eager = time_eager(net, 1, w, h, args.frames, args.warmup)
            row = {
                "size": f"{w}x{h}",
                "torch_eager_fp32_ms": round(statistics.median(eager), 2),
                "torch_eager_min_ms": round(min(eager), 2),
            }
            if onnx_path is not None:
                ort = bench_model(onnx_path, "cpu", [(w, h)], args.frames, args.warmup, threads)[0]
                row["onnxruntime_cpu_ms"] = ort.get("ms_median")
                row["onnxruntime_min_ms"] = ort.get("ms_min")
                if ort.get("ms_median"):
                    row["speedup_ort_vs_eager"] = round(row["torch_eager_fp32_ms"] / ort["ms_median"], 2)
            rows.append(row)
    result = {
        "arch": args.arch,
        "params": params,
        "threads": threads,
        "torch": torch.__version__,
        "frames": args.frames,
        "warmup": args.warmup,
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{args.arch} ({params / 1e6:.2f} M params), {threads} threads, torch {torch.__version__}, "
            f"median of {args.frames} after {args.warmup} warm-up"
        )
        for r in rows:
            line = f"{r['size']:>10}: torch eager fp32 {r['torch_eager_fp32_ms']:8.1f} ms"
            if "onnxruntime_cpu_ms" in r:
                line += f" | onnxruntime CPU {r['onnxruntime_cpu_ms']:8.1f} ms"
                if "speedup_ort_vs_eager" in r:
                    line += f" | ratio eager/ort {r['speedup_ort_vs_eager']:.2f}x"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
