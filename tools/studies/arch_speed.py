"""Speed table for the stylization architectures: ms/frame per design x resolution in onnxruntime on the CPU.

Each design is built with random (seeded) weights, exported through ``rtstyle.export.export_onnx`` (so the
contract wrapper's uint8 BGR in/out, padding and cropping are timed too) with ``check=False``, and run in one
onnxruntime CPU session (graph optimisation ORT_ENABLE_ALL, ORT_SEQUENTIAL, ``--threads`` intra-op threads, the
same settings as ``rtstyle.runtime.session.StyleSession``). Per cell: a few warm-up runs, then runs for ``--seconds``;
the median and the minimum are printed (the minimum is the steadier figure on a shared machine).

    python tools/studies/arch_speed.py                              # the default designs at 640x360 and 1280x720
    python tools/studies/arch_speed.py --designs fast,johnson --sizes 640x360 --json speed.json
    python tools/studies/arch_speed.py --designs fast --ort-study   # onnxruntime settings compared on one design
    python tools/studies/arch_speed.py --list                       # every design it knows

MACs count every convolution's multiply-accumulates at each size (norms and element-wise ops not counted).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rtstyle.adjust import parse_sizes
from rtstyle.contract import StyleEntry
from rtstyle.export import export_onnx
from rtstyle.nets import build_net
from rtstyle.nets.fast import FastNet, build_fast, count_macs
from rtstyle.nets.layers import IOLayers
from rtstyle.runtime.session import session_options


def _johnson(channels: tuple[int, int, int], blocks: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from rtstyle.nets.johnson import JohnsonNet

        return JohnsonNet(1, channels=channels, blocks=blocks)

    return build


def _fast(name: str, **kw: Any) -> Callable[[], nn.Module]:
    return lambda: build_fast(name, 1, **kw)


class _Identity(nn.Module):
    """No network at all: times the contract wrapper alone (uint8 BGR -> float RGB -> pad -> crop -> uint8)."""

    pad_multiple, min_size, num_styles = 8, 16, 1

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        return x * self.scale


class _DepthToSpaceHead(FastNet):
    """A fast design exported with the depth-to-space output end (no NHWC head in the contract wrapper)."""

    def io_layers(self) -> IOLayers | None:
        io = super().io_layers()
        return None if io is None else dataclasses.replace(io, features=None)


def _d2s_head(build: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def wrapped() -> nn.Module:
        net = build()
        net.__class__ = _DepthToSpaceHead
        return net

    return wrapped


# name -> (builder, what it is). Registered architectures first, then experiments around "fast".
DESIGNS: dict[str, tuple[Callable[[], nn.Module], str]] = {
    "wrapper-only": (_Identity, "no network: the contract wrapper's own cost (colour order, scaling, pad, crop)"),
    "johnson": (lambda: build_net("johnson"), "full tier: 32/64/128, 5 residual blocks, 9x9 convs at full res"),
    "johnson-half": (_johnson((16, 32, 64), 3), "Johnson at half width, 3 blocks"),
    "fast": (lambda: build_net("fast"), "registered: patch stem, 4 sep. blocks at 1/8, depth-to-space out from 1/4"),
    "fast-hq": (lambda: build_net("fast-hq"), "registered: strided stem via 1/2, nearest up, out from 1/2, reflect"),
    "fast-guided": (lambda: build_net("fast-guided"), "registered: fast-hq at 1/2 input size + fast guided filter"),
    "fast-lean": (lambda: build_net("fast-lean"), "registered: fast with sep. down and output convs, 3 blocks"),
    "fast-wide": (_fast("fast", channels=(24, 48, 96), blocks=5), "fast at 48/96 channels, 5 blocks"),
    "fast-2blocks": (_fast("fast", blocks=2), "fast with 2 residual blocks"),
    "fast-reflect": (_fast("fast", pad="reflect"), "fast with reflection pads instead of the convs' zero padding"),
    "hq-zeropad": (_fast("fast-hq", pad="zeros"), "fast-hq with the convs' own zero padding"),
    "guided-bilinear": (_fast("fast-guided", guided=False), "fast-guided with plain bilinear upsampling"),
    "fast-convstem": (
        _fast("fast", stem="conv"),
        "fast with two strided 3x3 convs (via 1/2) instead of the patch stem",
    ),
    "hq-patch": (_fast("fast-hq", stem="patch"), "fast-hq with the 4x4 patch stem"),
    "fast-sepout": (_fast("fast", out="sep"), "fast with a depthwise-separable output conv"),
    "fast-skip": (_fast("fast", skip=True), "fast plus a 1x1 colour skip from the full-resolution frame"),
    "fast-nearest": (_fast("fast", up="nearest"), "fast with nearest + sep. conv upsampling to 1/4"),
    "fast-3blocks": (_fast("fast", blocks=3), "fast with 3 residual blocks"),
    "lean-shuffle": (_fast("fast-lean", up="shuffle"), "fast-lean as piloted: pointwise conv + depth-to-space to 1/4"),
    "lean-piloted": (
        _d2s_head(_fast("fast-lean", up="shuffle")),
        "fast-lean as piloted, exported as before the NHWC head (depth-to-space out)",
    ),
    "lean-nearest": (_fast("fast-lean", up="nearest"), "fast-lean with nearest + sep. conv upsampling to 1/4"),
    "lean-2blocks": (_fast("fast-lean", blocks=2), "fast-lean with 2 residual blocks"),
    "lean-c48": (_fast("fast-lean", channels=(16, 32, 48)), "fast-lean with 48 channels at 1/8"),
    "lean-narrow": (_fast("fast-lean", channels=(16, 16, 64)), "fast-lean with 16 channels at 1/4"),
    "lean-slim": (lambda: build_net("fast-slim"), "registered as fast-slim: fast-lean at 16/48 channels"),
    "lean-c96": (_fast("fast-lean", channels=(16, 32, 96)), "fast-lean with 96 channels at 1/8"),
    "lean-5blocks": (_fast("fast-lean", blocks=5), "fast-lean with 5 residual blocks"),
    "lean-c96-4blocks": (_fast("fast-lean", channels=(16, 32, 96), blocks=4), "fast-lean, 96 at 1/8, 4 blocks"),
    "lean-c128": (_fast("fast-lean", channels=(16, 32, 128)), "fast-lean with 128 channels at 1/8"),
    "lean-c48at4": (_fast("fast-lean", channels=(16, 48, 64)), "fast-lean with 48 channels at 1/4 (fast-broad)"),
    "lean-c48-96": (_fast("fast-lean", channels=(16, 48, 96)), "fast-lean with 48 channels at 1/4, 96 at 1/8"),
    "fast-bridge": (lambda: build_net("fast-bridge"), "registered: fast-broad + the stem's features into the decoder"),
    "fast-margin": (lambda: build_net("fast-margin"), "registered: fast-broad on the frame with a 16-px margin"),
    "fast-margin-deep": (lambda: build_net("fast-margin-deep"), "registered: fast-margin with 5 residual blocks"),
    "fast-reach": (lambda: build_net("fast-reach"), "registered: fast-margin-deep, its 2 added blocks dilated by 2"),
}
DEFAULT_DESIGNS = "wrapper-only,johnson,fast,fast-lean,fast-sepout,fast-3blocks,fast-hq,fast-guided"


def make_session(path: Path, threads: int, opt_level: str = "all", spinning: bool = False) -> Any:
    """A CPU session with the runtime's settings (as ``rtstyle.runtime.session.StyleSession``), unless the study varies them."""
    import onnxruntime as ort

    opts = session_options("cpu", threads)
    opts.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[opt_level]
    if spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1")  # replaces the runtime's "0"
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def time_sessions(
    sessions: dict[str, Any], width: int, height: int, seconds: float, warmup: int = 2
) -> dict[str, dict[str, float]]:
    """ms per frame for each session on one random uint8 BGR frame, interleaved round-robin so that every design
    sees the same background load: min and median wall time, and median process CPU time per frame."""
    frame = np.random.default_rng(0).integers(0, 256, (1, height, width, 3), dtype=np.uint8)
    feeds = {"frame": frame}
    walls: dict[str, list[float]] = {k: [] for k in sessions}
    cpus: dict[str, list[float]] = {k: [] for k in sessions}
    for s in sessions.values():
        for _ in range(warmup):
            s.run(None, feeds)
    end = time.perf_counter() + seconds * len(sessions)
    while time.perf_counter() < end or min(len(v) for v in walls.values()) < 5:
        for name, s in sessions.items():
            t0, c0 = time.perf_counter(), time.process_time()
            s.run(None, feeds)
            walls[name].append((time.perf_counter() - t0) * 1000)
            cpus[name].append((time.process_time() - c0) * 1000)
    return {
        k: {
            "min_ms": min(walls[k]),
            "median_ms": statistics.median(walls[k]),
            "cpu_ms": statistics.median(cpus[k]),
            "runs": len(walls[k]),
        }
        for k in sessions
    }


def export_design(name: str, folder: Path) -> tuple[Path, nn.Module]:
    torch.manual_seed(0)
    net = DESIGNS[name][0]().eval()
    path = folder / f"{name}.onnx"
    export_onnx(net, path, [StyleEntry("random", "Random")], name, "fast", {"random": True}, 256, check=False)
    return path, net


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--designs", default=DEFAULT_DESIGNS, help="comma-separated design names (see --list)")
    p.add_argument("--sizes", default="640x360,1280x720", help="WIDTHxHEIGHT list")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    p.add_argument("--seconds", type=float, default=2.0, help="timed seconds per cell (after warm-up)")
    p.add_argument("--ort-study", action="store_true", help="also compare onnxruntime settings at the first size")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON to this file")
    p.add_argument("--list", action="store_true", help="list the designs and exit")
    args = p.parse_args(argv)
    if args.list:
        for name, (_, desc) in DESIGNS.items():
            print(f"{name:18s} {desc}")
        return 0
    names = [n.strip() for n in args.designs.split(",") if n.strip()]
    unknown = [n for n in names if n not in DESIGNS]
    if unknown:
        print(f"arch_speed: unknown design(s) {unknown}; known: {', '.join(DESIGNS)}", file=sys.stderr)
        return 2
    sizes = parse_sizes(args.sizes)
    torch.set_num_threads(max(1, args.threads))
    import onnxruntime as ort

    rows: list[dict[str, Any]] = []
    study: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sessions, paths = {}, {}
        for name in names:
            path, net = export_design(name, Path(tmp))
            rows.append(
                {
                    "design": name,
                    "params": sum(p.numel() for p in net.parameters()),
                    "gmac": {f"{w}x{h}": round(count_macs(net, h, w) / 1e9, 3) for w, h in sizes},
                    "ms": {},
                }
            )
            sessions[name], paths[name] = make_session(path, args.threads), path
        for w, h in sizes:
            timed = time_sessions(sessions, w, h, args.seconds)
            for row in rows:
                row["ms"][f"{w}x{h}"] = timed[row["design"]]
            print(f"  timed {w}x{h}", file=sys.stderr)
        if args.ort_study:
            w, h = sizes[0]
            for name in names:
                variants = {}
                for level in ("basic", "extended", "all"):
                    for spin in (True, False):
                        for threads in sorted({1, args.threads}):
                            variants[(level, spin, threads)] = make_session(paths[name], threads, level, spin)
                timed = time_sessions(variants, w, h, args.seconds / 2)  # type: ignore[arg-type]
                for (level, spin, threads), r in timed.items():  # type: ignore[misc]
                    study.append({"design": name, "opt": level, "spinning": spin, "threads": threads, **r})
    ref = next((r for r in rows if r["design"] == "johnson"), None)
    print(
        f"\nonnxruntime {ort.__version__} CPU, {args.threads} threads, ORT_ENABLE_ALL, sequential, no spinning; ms = min / median wall; cpu = median process CPU"
    )
    keys = [f"{w}x{h}" for w, h in sizes]
    header = (
        f"| design | params | {' | '.join(f'GMAC {k}' for k in keys)} | {' | '.join(f'ms {k}' for k in keys)} "
        f"| {' | '.join(f'cpu ms {k}' for k in keys)} |"
    )
    if ref:
        header += f" x faster than johnson ({keys[0]}) |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        gm = " | ".join(f"{r['gmac'][k]:.2f}" for k in keys)
        ms = " | ".join(f"{r['ms'][k]['min_ms']:.1f} / {r['ms'][k]['median_ms']:.1f}" for k in keys)
        cpu = " | ".join(f"{r['ms'][k]['cpu_ms']:.1f}" for k in keys)
        line = f"| {r['design']} | {r['params'] / 1e3:.0f}k | {gm} | {ms} | {cpu} |"
        if ref:
            line += f" {ref['ms'][keys[0]]['min_ms'] / r['ms'][keys[0]]['min_ms']:.1f} |"
        print(line)
    if study:
        print(f"\nonnxruntime settings at {keys[0]} (ms = min / median)")
        print("| design | graph optimisation | allow_spinning | threads | ms | cpu ms |")
        print("|---|---|---|---|---|---|")
        for s in study:
            print(
                f"| {s['design']} | {s['opt']} | {s['spinning']} | {s['threads']} "
                f"| {s['min_ms']:.1f} / {s['median_ms']:.1f} | {s['cpu_ms']:.1f} |"
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"onnxruntime": ort.__version__, "threads": args.threads, "rows": rows, "ort_study": study}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
