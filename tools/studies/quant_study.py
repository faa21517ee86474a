"""Does int8 quantization make a contract-v1 model faster on the CPU? Quantize it, time it, break the time down.

The model's convolutions are quantized statically with onnxruntime's quantization tool (per-channel int8
weights, uint8 activations, instance norms left in float: they are the sensitive part), calibrated on photos
that are not in the held-out evaluation list. Two graph formats are made: QDQ (Quantize/DequantizeLinear pairs
that onnxruntime fuses where it can) and QOperator (QLinearConv nodes). Each file, the float original included,
runs in an onnxruntime CPU session with the runtime's own settings (``rtstyle.runtime.session.StyleSession``: ORT_ENABLE_ALL,
sequential, ``--threads`` intra-op threads, no spinning); the median and minimum ms per frame are printed per
size, then onnxruntime's per-operator profile at the last size shows where the time goes.

    python tools/studies/quant_study.py models/mosaic-fast.onnx --photos ../shared/assets/photos \
        --holdout tools/holdout_photos.txt

The quantized files are written to a temporary folder and deleted (``--keep DIR`` keeps them). They still say
``rtstyle.precision: fp32`` (the metadata is copied as is), so they are study files, not models to ship.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rtstyle.adjust import parse_sizes
from rtstyle.contract import INPUT_FRAME
from rtstyle.errors import InputError
from rtstyle.runtime.session import session_options
from rtstyle.train.data import find_images, read_holdout


def calibration_frames(photos: Path, holdout: Path | None, n: int, size: tuple[int, int]) -> list[np.ndarray]:
    """``n`` training photos (never the held-out ones), resized to ``size``, as uint8 BGR frames."""
    files = find_images(photos, read_holdout(holdout))
    random.Random(0).shuffle(files)
    frames = []
    for p in files:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is not None:
            frames.append(cv2.resize(img, size, interpolation=cv2.INTER_AREA))
        if len(frames) == n:
            break
    if not frames:
        raise InputError(f"no readable photos under {photos}")
    return frames


def quantize(src: Path, dst: Path, frames: list[np.ndarray], fmt: str) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(frames)

        def get_next(self) -> dict[str, np.ndarray] | None:
            f = next(self.it, None)
            return None if f is None else {INPUT_FRAME: f[None]}

    quantize_static(
        str(src),
        str(dst),
        Reader(),
        quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["Conv"],
    )


def session(path: Path, threads: int, profile_dir: Path | None = None) -> Any:
    import onnxruntime as ort

    opts = session_options("cpu", threads)
    if profile_dir is not None:
        opts.enable_profiling = True
        opts.profile_file_prefix = str(profile_dir / f"{path.stem}-profile")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def time_model(path: Path, frame: np.ndarray, threads: int, runs: int) -> tuple[float, float]:
    sess = session(path, threads)
    feed = {INPUT_FRAME: frame[None]}
    for _ in range(3):
        sess.run(None, feed)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, feed)
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times), 1e3 * min(times)


def op_profile(path: Path, frame: np.ndarray, threads: int, runs: int, trace_dir: Path) -> dict[str, float]:
    """ms per frame spent in each operator type: onnxruntime's kernel times over the last ``runs`` runs (the
    trace is written to ``trace_dir`` and deleted)."""
    sess = session(path, threads, profile_dir=trace_dir)
    feed = {INPUT_FRAME: frame[None]}
    for _ in range(3 + runs):
        sess.run(None, feed)
    trace = Path(sess.end_profiling())
    events = json.loads(trace.read_text())
    trace.unlink(missing_ok=True)
    starts = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    cutoff = starts[-runs] if len(starts) >= runs else 0  # skip the warm-up runs
    per_op: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e["ts"] >= cutoff:
            per_op[e["args"]["op_name"]] += e["dur"]
    return {op: us / runs / 1e3 for op, us in per_op.most_common()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="a contract-v1 .onnx file (e.g. models/mosaic-fast.onnx)")
    p.add_argument("--photos", type=Path, required=True, help="folder of photos for calibration")
    p.add_argument("--holdout", type=Path, default=None, help="list of held-out photos never used to calibrate")
    p.add_argument("--calib", type=int, default=16, help="calibration photos")
    p.add_argument("--sizes", default="640x360,1280x720", help="WIDTHxHEIGHT list")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    p.add_argument("--runs", type=int, default=30, help="timed runs per model and size")
    p.add_argument("--keep", type=Path, default=None, help="keep the quantized files in this folder")
    args = p.parse_args(argv)
    try:
        return study(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def study(args: argparse.Namespace) -> int:
    if not args.model.is_file():
        raise InputError(f"model not found: {args.model}")
    sizes = parse_sizes(args.sizes)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        frames = calibration_frames(args.photos, args.holdout, args.calib, sizes[0])
        models = {"float": args.model}
        for fmt in ("qdq", "qoperator"):
            models[f"int8 {fmt}"] = out / f"{args.model.stem}-int8-{fmt}.onnx"
            quantize(args.model, models[f"int8 {fmt}"], frames, fmt)
        print(f"{'model':16s} " + " ".join(f"{w}x{h} median/min ms".rjust(26) for w, h in sizes))
        for name, path in models.items():
            cells = []
            for w, h in sizes:
                frame = cv2.resize(frames[0], (w, h), interpolation=cv2.INTER_LINEAR)
                med, best = time_model(path, frame, args.threads, args.runs)
                cells.append(f"{med:8.1f} / {best:6.1f}".rjust(26))
            print(f"{name:16s} " + " ".join(cells))
        w, h = sizes[-1]
        frame = cv2.resize(frames[0], (w, h), interpolation=cv2.INTER_LINEAR)
        for name, path in models.items():
            prof = op_profile(path, frame, args.threads, args.runs, Path(tmp))
            total = sum(prof.values())
            top = ", ".join(f"{op} {ms:.1f}" for op, ms in list(prof.items())[:6])
            print(f"profile {w}x{h} {name}: {total:.1f} ms in kernels; {top}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
