#!/usr/bin/env python
"""Raw vs smoothed temporal consistency of a style model on video clips (the figures of docs/smoothing.md).

    python tools/smoothing_report.py MODEL CLIP [CLIP ...] [--max-frames 100] [--modes flow,ema] [--json]
                                     [--strip-dir docs/img] [--save-dir /tmp/smooth] [--max-side 0]

MODEL is a style name or an ONNX path (run through ``rtstyle.runtime.stylizer.Stylizer`` on the CPU), or
``synthetic:flicker`` (a stand-in "stylizer" that blurs the frame and adds per-frame low-frequency noise, to
check the tooling without a trained model). Each clip is stylized frame by frame (raw = smoothing off), then
smoothed with each mode; the table gives the warping error (Farneback flow, see tools/warp_error.py) of raw
and smoothed output, their ratio (target <= 0.5), the ghosting (mean squared difference from raw) and
ghost_ratio = ghosting / raw warping error (ceiling 0.5) and its moving-pixel version (ceiling 0.3), see docs/smoothing.md,
the sharpness (grey Laplacian variance against raw's: what the blend softens, flicker's speckle included) and the
smoother's cost in ms per frame (indicative only on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from warp_error import (  # noqa: E402
    consistency_flows,
    ghosting,
    ghosting_moving,
    make_strip,
    raw_warp_error_moving,
    read_frames,
    warp_error,
    write_png,
)

from rtstyle.pipeline.smoothing import Smoother  # noqa: E402
from rtstyle.runtime.stylizer import Stylizer  # noqa: E402

WARP_TARGET = 0.5  # smoothed warping error <= 0.5 x raw (issue 2)
GHOST_CEILING = 0.5  # whole frame: ghosting <= 0.5 x raw warping error (docs/smoothing.md)
GHOST_MOVING_CEILING = 0.3  # moving pixels: trails (docs/smoothing.md)

Stylize = Callable[[np.ndarray], np.ndarray]


def synthetic_flicker(sigma: float = 20.0, seed: int = 0) -> Stylize:
    """A fake stylizer with per-frame flicker: smoothed colours plus fresh low-frequency noise every frame."""
    rng = np.random.default_rng(seed)

    def stylize(frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        base = cv2.GaussianBlur(frame, (0, 0), 1.5).astype(np.float32)
        noise = rng.normal(0.0, sigma, (max(1, h // 16), max(1, w // 16), 3)).astype(np.float32)
        noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
        return np.clip(base + noise, 0, 255).astype(np.uint8)

    return stylize


def load_stylizer(model: str, device: str = "cpu", max_side: int = 0, tier: str | None = None) -> Stylize:
    """``synthetic:flicker``, or a catalogue style / ONNX path through ``rtstyle.runtime.stylizer.Stylizer``
    (``tier``: the catalogue's ``full`` or ``fast`` model of a style; default, the device's preferred one)."""
    if model.startswith("synthetic:"):
        return with_max_side(synthetic_flicker(), max_side)
    return Stylizer(model, device=device, tier=tier, max_side=max_side or None)


def with_max_side(stylize: Stylize, max_side: int) -> Stylize:
    """Stylize at a smaller size and resize back (what ``--max-side`` does in the CLI)."""
    if max_side <= 0:
        return stylize

    def run(frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        s = max_side / max(h, w)
        if s >= 1.0:
            return stylize(frame)
        small = cv2.resize(frame, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        return cv2.resize(stylize(small), (w, h), interpolation=cv2.INTER_LINEAR)

    return run


def smooth(frames: Sequence[np.ndarray], raw: Sequence[np.ndarray], mode: str, **kw: float) -> tuple[list, float]:
    """Run a fresh Smoother over (input, raw) pairs; returns the outputs and the mean ms per frame."""
    sm = Smoother(mode, **kw)
    out, t = [], 0.0
    for f, r in zip(frames, raw, strict=False):
        t0 = time.perf_counter()
        out.append(sm(f, r))
        t += time.perf_counter() - t0
    return out, 1000.0 * t / max(1, len(frames))


def sharpness(frames: Sequence[np.ndarray]) -> float:
    """Mean variance of the grey Laplacian: fine detail (texture, strokes, and flicker's speckle)."""
    grey = (cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames)
    return float(np.mean([cv2.Laplacian(g, cv2.CV_32F).var() for g in grey]))


def flicker_figures(
    frames: Sequence[np.ndarray],
    raw: Sequence[np.ndarray],
    out: Sequence[np.ndarray],
    flows: Sequence,
    raw_we: float,
    raw_we_moving: float,
) -> dict[str, float]:
    """Warping error and ghosting of the smoothed ``out`` and their ratios to the raw output's warping error
    (``raw_we``, and ``raw_we_moving`` on moving pixels: computed once per raw clip); NaN where raw's is 0."""
    we = warp_error(frames, out, flows)
    gh = ghosting(out, raw)
    ghm = ghosting_moving(out, raw, frames)
    return {
        "warp_error": we,
        "warp_ratio": we / raw_we if raw_we > 0 else float("nan"),
        "ghosting": gh,
        "ghost_ratio": gh / raw_we if raw_we > 0 else float("nan"),
        "ghosting_moving": ghm,
        "ghost_moving_ratio": ghm / raw_we_moving if raw_we_moving > 0 else float("nan"),
    }


def meets_limits(row: dict) -> bool:
    """The three limits of docs/smoothing.md; a NaN moving ratio (nothing moves) does not fail."""
    ok = row["warp_ratio"] <= WARP_TARGET and row["ghost_ratio"] <= GHOST_CEILING
    return bool(ok and not row["ghost_moving_ratio"] > GHOST_MOVING_CEILING)


def report_clip(
    frames: Sequence[np.ndarray],
    stylize: Stylize,
    modes: Sequence[str] = ("flow", "ema"),
    smoother_kwargs: dict | None = None,
    raw: Sequence[np.ndarray] | None = None,
) -> tuple[list[dict], dict[str, list[np.ndarray]]]:
    """Figures for one clip: one row for raw and one per mode; also returns the output sequences by name."""
    if raw is None:
        raw = [stylize(f) for f in frames]
    flows = consistency_flows(frames)
    raw_we = warp_error(frames, raw, flows)
    raw_we_moving = raw_warp_error_moving(frames, raw, flows)
    # The input's own warping error (grain, film flicker, flow error): stylization that follows the input
    # faithfully inherits part of it, and smoothing that removes it drifts from the input (ghosting).
    input_we = warp_error(frames, frames, flows)
    rows = [{"mode": "off (raw)", "frames": len(frames), "warp_error": raw_we, "warp_ratio": 1.0, "ghosting": 0.0,
             "ghost_ratio": 0.0, "ghosting_moving": 0.0, "ghost_moving_ratio": 0.0, "sharpness": 1.0,
             "ms_per_frame": 0.0}]  # fmt: skip
    raw_sharp = sharpness(raw[1:])
    outputs: dict[str, list[np.ndarray]] = {"raw": list(raw)}
    for mode in modes:
        out, ms = smooth(frames, raw, mode, **(smoother_kwargs or {}))
        rows.append(
            {
                "mode": mode,
                "frames": len(frames),
                **flicker_figures(frames, raw, out, flows, raw_we, raw_we_moving),
                "sharpness": sharpness(out[1:]) / raw_sharp if raw_sharp > 0 else float("nan"),
                "ms_per_frame": ms,
            }
        )
        outputs[mode] = out
    for r in rows:
        r["input_warp_error"] = input_we
        r["pass"] = meets_limits(r) if r["mode"] != "off (raw)" else None
    return rows, outputs


def _write_video(path: Path, frames: Sequence[np.ndarray], fps: float) -> None:
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()


def _parse_value(v: str) -> float | bool | str:
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    try:
        return float(v)
    except ValueError:
        return v


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="style name, ONNX path, or synthetic:flicker")
    ap.add_argument("clips", nargs="+", help="input video clips")
    ap.add_argument("--max-frames", type=int, default=100)
    ap.add_argument("--modes", default="flow,ema", help="comma-separated smoothing modes to compare with raw")
    ap.add_argument("--alpha", type=float, default=None, help="flow-mode blend weight (default: Smoother's)")
    ap.add_argument("--ema-alpha", type=float, default=None, help="ema-mode blend weight (default: Smoother's)")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="other Smoother parameters, e.g. --set photo_hi=32 --set forward_backward=0 (repeatable)",
    )
    ap.add_argument("--max-side", type=int, default=0, help="stylize at this long side and resize back (0 = full)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tier", choices=("full", "fast"), help="a style name's tier (default: the device's preferred)")
    ap.add_argument("--json", action="store_true", help="print a JSON list of rows")
    ap.add_argument("--strip-dir", help="write <clip>_strip.png (input / raw / each mode) here")
    ap.add_argument("--strip-count", type=int, default=4)
    ap.add_argument("--strip-format", choices=("png", "jpg"), default="png", help="jpg keeps docs/ small")
    ap.add_argument("--save-dir", help="also write raw and smoothed clips (mp4v) here for viewing")
    args = ap.parse_args(argv)

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    kw = {}
    if args.alpha is not None:
        kw["alpha"] = args.alpha
    if args.ema_alpha is not None:
        kw["ema_alpha"] = args.ema_alpha
    for item in args.set:
        key, _, value = item.partition("=")
        kw[key.strip()] = _parse_value(value.strip())
    stylize = load_stylizer(args.model, args.device, args.max_side, args.tier)

    all_rows = []
    for clip in args.clips:
        frames = read_frames(clip, args.max_frames)
        rows, outputs = report_clip(frames, stylize, modes, kw)
        name = Path(clip).stem
        for r in rows:
            r["clip"] = name
        all_rows += rows
        if args.strip_dir:
            start = max(0, len(frames) // 2 - args.strip_count // 2)
            strip = make_strip({"input": frames, **outputs}, start, args.strip_count)
            write_png(Path(args.strip_dir) / f"{name}_strip.{args.strip_format}", strip)
        if args.save_dir:
            d = Path(args.save_dir)
            d.mkdir(parents=True, exist_ok=True)
            fps = cv2.VideoCapture(clip).get(cv2.CAP_PROP_FPS) or 25.0
            for k, seq in outputs.items():
                _write_video(d / f"{name}_{k}.mp4", seq, fps)

    if args.json:
        print(json.dumps(all_rows))
        return 0
    head = f"{'clip':<40} {'mode':<10} {'frames':>6} {'warp_err':>10} {'ratio':>6} {'ghosting':>10} {'ghost/raw':>9} {'mov/raw':>8} {'input_we':>9} {'sharp':>6} {'ms':>6}  pass"
    print(
        f"model: {args.model}   targets: ratio <= {WARP_TARGET}, ghost/raw <= {GHOST_CEILING}, "
        f"mov/raw <= {GHOST_MOVING_CEILING}"
    )
    print(head)
    print("-" * len(head))
    for r in all_rows:
        ok = "" if r["pass"] is None else ("yes" if r["pass"] else "NO")
        print(
            f"{r['clip'][:40]:<40} {r['mode']:<10} {r['frames']:>6} {r['warp_error']:>10.6f} {r['warp_ratio']:>6.3f} "
            f"{r['ghosting']:>10.6f} {r['ghost_ratio']:>9.3f} {r['ghost_moving_ratio']:>8.3f} {r['input_warp_error']:>9.6f} {r['sharpness']:>6.3f} {r['ms_per_frame']:>6.2f}  {ok}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
