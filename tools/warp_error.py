#!/usr/bin/env python
"""Warping error (temporal consistency) of a stylized video against its input, plus a ghosting figure.

    python tools/warp_error.py INPUT_VIDEO OUTPUT_VIDEO [--raw RAW_OUTPUT_VIDEO] [--max-frames N] [--json]
                               [--strip strip.png]

Warping error
    Optical flow between consecutive INPUT frames, computed with OpenCV's Farneback method (deliberately not
    DIS, which the smoother uses, so the smoother is not graded by its own flow). Pixels failing the
    forward-backward consistency check, or whose source lies outside the frame, are occlusions and are left
    out. Output frame t-1 is warped onto frame t; the figure is the mean squared RGB difference (values in
    [0, 1]) over the non-occluded pixels, averaged over frames. A perfectly temporally consistent output
    scores ~0; a flickering one scores high.
Ghosting (with ``--raw``)
    Mean squared RGB difference ([0, 1]) between the smoothed output and the unsmoothed per-frame output of
    the same model: how far smoothing moved away from the stylization. Trails (old content dragged along)
    show up here. ``ghost_ratio`` = ghosting / raw warping error; see docs/smoothing.md for the ceiling.

Importable: ``warp_error(frames_in, frames_out)``, ``warp_errors(...)`` (per frame), ``ghosting(smoothed, raw)``,
``consistency_flows(frames_in)`` (compute once, reuse for several outputs), ``read_frames(path)``,
``make_strip(rows)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FLOW_METHOD = "farneback"  # the smoother uses DIS; the metric must not
DEFAULT_FLOW_SIDE = 640


@dataclass
class PairFlow:
    """Backward flow (frame t -> t-1, at frame size) and the validity mask of frame t (True = not occluded)."""

    back: np.ndarray  # HxWx2 float32: frame_t(x) ~ frame_{t-1}(x + back(x))
    valid: np.ndarray  # HxW bool


def farneback(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow f (grey uint8 images) with a(x) ~ b(x + f(x)), by Farneback's polynomial-expansion method."""
    return cv2.calcOpticalFlowFarneback(
        a, b, None, pyr_scale=0.5, levels=4, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0
    )


def dis_fine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow f with a(x) ~ b(x + f(x)) by OpenCV DIS, medium preset refined down to full size: a second
    grader, unrelated to Farneback, to tell a smoother's real gain from agreement with one grader's flow."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(0)
    return dis.calc(a, b, None)


FLOW_METHODS = {"farneback": farneback, "dis": dis_fine}


def _grey(img: np.ndarray, side: int) -> tuple[np.ndarray, float, float]:
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    h, w = g.shape
    s = min(1.0, side / max(h, w)) if side > 0 else 1.0
    if s < 1.0:
        g = cv2.resize(g, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
    return g, w / g.shape[1], h / g.shape[0]


def pair_flow(
    prev: np.ndarray, cur: np.ndarray, flow_side: int = DEFAULT_FLOW_SIDE, method: str = FLOW_METHOD
) -> PairFlow:
    """Flow between two input frames (BGR uint8) with a forward-backward occlusion mask; ``method`` is
    ``farneback`` (the figures' grader) or ``dis`` (a second grader, :func:`dis_fine`)."""
    flow = FLOW_METHODS[method]
    gp, sx, sy = _grey(prev, flow_side)
    gc, _, _ = _grey(cur, flow_side)
    back = flow(gc, gp)
    fwd = flow(gp, gc)
    h, w = gc.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + back[..., 0], gy + back[..., 1]
    fwd_at = cv2.remap(fwd, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    err = np.sum((back + fwd_at) ** 2, axis=-1)
    mag = np.sum(back**2, axis=-1) + np.sum(fwd_at**2, axis=-1)
    valid = (err <= 0.01 * mag + 0.5) & (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    H, W = cur.shape[:2]
    if (h, w) != (H, W):
        back = cv2.resize(back * np.array([sx, sy], np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
        valid = cv2.resize(valid.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST).astype(bool)
    return PairFlow(back=back, valid=valid)


def consistency_flows(
    frames_in: Sequence[np.ndarray], flow_side: int = DEFAULT_FLOW_SIDE, method: str = FLOW_METHOD
) -> list[PairFlow]:
    """Flows for pairs (0,1), (1,2), ...: compute once, score several outputs of the same input with them."""
    return [pair_flow(frames_in[t - 1], frames_in[t], flow_side, method) for t in range(1, len(frames_in))]


def _warp(img: np.ndarray, back: np.ndarray) -> np.ndarray:
    h, w = back.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + back[..., 0], gy + back[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _check_lengths(a: Sequence[np.ndarray], b: Sequence[np.ndarray], what: str) -> int:
    n = min(len(a), len(b))
    if n < 2:
        raise ValueError(f"{what}: need at least 2 frames, got {len(a)} and {len(b)}")
    return n


def _fit(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if img.shape[:2] == shape[:2]:
        return img
    return cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def warp_errors(
    frames_in: Sequence[np.ndarray],
    frames_out: Sequence[np.ndarray],
    flows: Sequence[PairFlow] | None = None,
    flow_side: int = DEFAULT_FLOW_SIDE,
) -> np.ndarray:
    """Per-pair warping error (mean squared RGB difference in [0, 1] over non-occluded pixels), length n-1."""
    n = _check_lengths(frames_in, frames_out, "warp_error")
    if flows is None:
        flows = consistency_flows([_fit(f, frames_out[0].shape) for f in frames_in[:n]], flow_side)
    errs = []
    for t in range(1, n):
        pf = flows[t - 1]
        prev = _fit(frames_out[t - 1], pf.back.shape).astype(np.float32) / 255.0
        cur = _fit(frames_out[t], pf.back.shape).astype(np.float32) / 255.0
        d = (cur - _warp(prev, pf.back)) ** 2
        m = pf.valid
        errs.append(float(d[m].mean()) if m.any() else 0.0)
    return np.asarray(errs, np.float64)


def warp_error(
    frames_in: Sequence[np.ndarray],
    frames_out: Sequence[np.ndarray],
    flows: Sequence[PairFlow] | None = None,
    flow_side: int = DEFAULT_FLOW_SIDE,
) -> float:
    """Mean warping error of ``frames_out`` (stylized) with motion taken from ``frames_in``; lower = steadier."""
    return float(warp_errors(frames_in, frames_out, flows, flow_side).mean())


def ghosting(smoothed: Sequence[np.ndarray], raw: Sequence[np.ndarray]) -> float:
    """Mean squared RGB difference ([0, 1]) between smoothed and unsmoothed per-frame outputs."""
    n = min(len(smoothed), len(raw))
    if n < 1:
        raise ValueError("ghosting: no frames")
    tot = 0.0
    for s, r in zip(smoothed[:n], raw[:n], strict=False):
        d = _fit(s, r.shape).astype(np.float32) / 255.0 - r.astype(np.float32) / 255.0
        tot += float(np.mean(d * d))
    return tot / n


def moving_mask(prev: np.ndarray, cur: np.ndarray, threshold: float = 0.08) -> np.ndarray:
    """Pixels where the input changed (grey difference > threshold in [0, 1], grown by 2 px): where trails show."""
    d = cv2.absdiff(cv2.cvtColor(cur, cv2.COLOR_BGR2GRAY), cv2.cvtColor(prev, cv2.COLOR_BGR2GRAY))
    m = (d > threshold * 255).astype(np.uint8)
    return cv2.dilate(m, np.ones((5, 5), np.uint8)).astype(bool)


def ghosting_moving(
    smoothed: Sequence[np.ndarray], raw: Sequence[np.ndarray], frames_in: Sequence[np.ndarray], threshold: float = 0.08
) -> float:
    """Ghosting restricted to moving pixels of the input (frames 1..n-1); NaN when nothing moves.

    Flicker removal changes the output about equally everywhere; trails concentrate on moving edges, so a
    ghosting here well above the overall ghosting is the signature of trails.
    """
    n = min(len(smoothed), len(raw), len(frames_in))
    tot, cnt = 0.0, 0
    for t in range(1, n):
        r = raw[t]
        m = moving_mask(_fit(frames_in[t - 1], r.shape), _fit(frames_in[t], r.shape), threshold)
        if not m.any():
            continue
        d = _fit(smoothed[t], r.shape).astype(np.float32) / 255.0 - r.astype(np.float32) / 255.0
        tot += float(np.sum(d[m] ** 2)) / 3.0
        cnt += int(m.sum())
    return tot / cnt if cnt else float("nan")


def raw_warp_error_moving(
    frames_in: Sequence[np.ndarray],
    frames_raw: Sequence[np.ndarray],
    flows: Sequence[PairFlow] | None = None,
    threshold: float = 0.08,
) -> float:
    """Warping error of the raw output on the moving, non-occluded pixels: the local flicker level that
    ``ghosting_moving`` is compared with. NaN when no such pixel exists."""
    n = _check_lengths(frames_in, frames_raw, "raw_warp_error_moving")
    if flows is None:
        flows = consistency_flows([_fit(f, frames_raw[0].shape) for f in frames_in[:n]])
    tot, cnt = 0.0, 0
    for t in range(1, n):
        pf = flows[t - 1]
        shape = pf.back.shape
        m = moving_mask(_fit(frames_in[t - 1], shape), _fit(frames_in[t], shape), threshold) & pf.valid
        if not m.any():
            continue
        prev = _fit(frames_raw[t - 1], shape).astype(np.float32) / 255.0
        cur = _fit(frames_raw[t], shape).astype(np.float32) / 255.0
        d = (cur - _warp(prev, pf.back)) ** 2
        tot += float(np.sum(d[m])) / 3.0
        cnt += int(m.sum())
    return tot / cnt if cnt else float("nan")


def ghost_moving_ratio(
    frames_in: Sequence[np.ndarray],
    smoothed: Sequence[np.ndarray],
    raw: Sequence[np.ndarray],
    flows: Sequence[PairFlow] | None = None,
    threshold: float = 0.08,
) -> float:
    """``ghosting_moving / raw_warp_error_moving``: the trail figure, normalised by the flicker of the same
    region (flicker is far from uniform: it concentrates around objects, which are also what moves)."""
    den = raw_warp_error_moving(frames_in, raw, flows, threshold)
    num = ghosting_moving(smoothed, raw, frames_in, threshold)
    if not den > 0 or np.isnan(num):
        return float("nan")
    return num / den


def frame_change(frames: Sequence[np.ndarray]) -> float:
    """Mean squared RGB difference ([0, 1]) between consecutive frames, no motion compensation."""
    n = len(frames)
    if n < 2:
        raise ValueError("frame_change: need at least 2 frames")
    tot = 0.0
    for t in range(1, n):
        d = frames[t].astype(np.float32) / 255.0 - _fit(frames[t - 1], frames[t].shape).astype(np.float32) / 255.0
        tot += float(np.mean(d * d))
    return tot / (n - 1)


def read_frames(path: str | Path, max_frames: int | None = None) -> list[np.ndarray]:
    """Decode a video (OpenCV, upright as OpenCV applies the rotation flag) into BGR uint8 frames."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    frames: list[np.ndarray] = []
    try:
        while max_frames is None or len(frames) < max_frames:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
    finally:
        cap.release()
    if not frames:
        raise ValueError(f"no frames could be decoded from {path}")
    return frames


def make_strip(
    rows: dict[str, Sequence[np.ndarray]], start: int = 0, count: int = 4, tile_width: int = 320
) -> np.ndarray:
    """One row per labelled sequence (e.g. input / raw / smoothed), ``count`` consecutive frames from ``start``."""
    if not rows:
        raise ValueError("make_strip: no rows")
    n = min(len(v) for v in rows.values())
    start = max(0, min(start, n - 1))
    count = max(1, min(count, n - start))
    label_w = 110
    lines = []
    for label, frames in rows.items():
        tiles = []
        for f in frames[start : start + count]:
            h, w = f.shape[:2]
            th = max(1, round(h * tile_width / w))
            tiles.append(cv2.resize(f, (tile_width, th), interpolation=cv2.INTER_AREA))
        th = tiles[0].shape[0]
        tiles = [_fit(t, (th, tile_width)) for t in tiles]
        pad = np.full((th, label_w, 3), 32, np.uint8)
        cv2.putText(pad, label, (6, th // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        sep = [np.full((th, 2, 3), 32, np.uint8)]
        line = np.hstack([pad] + [x for t in tiles for x in (t, sep[0])])
        lines.append(line)
        lines.append(np.full((2, line.shape[1], 3), 32, np.uint8))
    return np.vstack(lines[:-1])


def write_png(path: str | Path, img: np.ndarray) -> None:
    """Write an image atomically; the extension picks the format (.png, or .jpg/.jpeg at quality 92)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix.lower() if path.suffix.lower() in (".png", ".jpg", ".jpeg") else ".png"
    ok, buf = cv2.imencode(ext, img, [cv2.IMWRITE_JPEG_QUALITY, 92] if ext != ".png" else [])
    if not ok:
        raise OSError(f"cannot encode {path}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.tobytes())
    tmp.replace(path)


def evaluate(
    frames_in: Sequence[np.ndarray],
    frames_out: Sequence[np.ndarray],
    frames_raw: Sequence[np.ndarray] | None = None,
    flow_side: int = DEFAULT_FLOW_SIDE,
) -> dict[str, float]:
    """All figures for one output: warp_error, and with ``frames_raw`` also raw_warp_error, ghosting, ratios."""
    n = min(len(frames_in), len(frames_out), *(() if frames_raw is None else (len(frames_raw),)))
    frames_in, frames_out = list(frames_in[:n]), list(frames_out[:n])
    flows = consistency_flows([_fit(f, frames_out[0].shape) for f in frames_in], flow_side)
    res: dict[str, float] = {"frames": float(n), "warp_error": warp_error(frames_in, frames_out, flows)}
    res["valid_fraction"] = float(np.mean([pf.valid.mean() for pf in flows]))
    if frames_raw is not None:
        frames_raw = list(frames_raw[:n])
        raw_we = warp_error(frames_in, frames_raw, flows)
        res["raw_warp_error"] = raw_we
        res["warp_ratio"] = res["warp_error"] / raw_we if raw_we > 0 else float("nan")
        res["ghosting"] = ghosting(frames_out, frames_raw)
        res["ghost_ratio"] = res["ghosting"] / raw_we if raw_we > 0 else float("nan")
        res["ghosting_moving"] = ghosting_moving(frames_out, frames_raw, frames_in)
        res["ghost_moving_ratio"] = ghost_moving_ratio(frames_in, frames_out, frames_raw, flows)
    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="the input video the output was made from")
    ap.add_argument("output", help="the stylized (e.g. smoothed) video")
    ap.add_argument("--raw", help="the unsmoothed per-frame stylized video (enables the ghosting figure)")
    ap.add_argument("--max-frames", type=int, default=None, help="use only the first N frames")
    ap.add_argument("--flow-side", type=int, default=DEFAULT_FLOW_SIDE, help="long side for the flow (0 = full)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--strip", help="write a PNG frame strip (input / raw / output) here")
    ap.add_argument("--strip-start", type=int, default=None, help="first frame of the strip (default: middle)")
    ap.add_argument("--strip-count", type=int, default=4, help="frames in the strip")
    args = ap.parse_args(argv)
    try:
        fin = read_frames(args.input, args.max_frames)
        fout = read_frames(args.output, args.max_frames)
        fraw = read_frames(args.raw, args.max_frames) if args.raw else None
        if len(fin) != len(fout):
            print(f"warning: {len(fin)} input frames vs {len(fout)} output frames; using the common prefix",
                  file=sys.stderr)  # fmt: skip
        res = evaluate(fin, fout, fraw, args.flow_side)
    except (OSError, ValueError) as e:
        print(f"warp_error: error: {e}", file=sys.stderr)
        return 2
    res = {"input": args.input, "output": args.output, "raw": args.raw, "flow": FLOW_METHOD, **res}
    if args.strip:
        rows = {"input": fin}
        if fraw is not None:
            rows["raw"] = fraw
        rows["output"] = fout
        n = min(len(v) for v in rows.values())
        start = args.strip_start if args.strip_start is not None else max(0, n // 2 - args.strip_count // 2)
        write_png(args.strip, make_strip(rows, start, args.strip_count))
        res["strip"] = args.strip
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            if v is None:
                continue
            print(f"{k:>15}: {v:.6g}" if isinstance(v, float) else f"{k:>15}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
