"""The contract wrapper's output end, three ways: a Round node (``round``, the first wrapper), +0.5 in the last
bias (``bias``), and for the designs whose output ends in a pointwise convolution the NHWC head on top of that
(``nhwc``: the 1x1 convolution as a matrix product into the frame's layout, no depth-to-space; the default).

Exports ``fast`` and ``fast-lean`` with random weights each way and times them round-robin in onnxruntime on the
CPU (2 threads, the runtime's settings); prints min / median ms per frame at 640x360, 1280x720 and 1920x1080.

    python tools/studies/round_bias.py [RUNS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

import rtstyle.export as ex
from rtstyle.contract import StyleEntry
from rtstyle.nets import build_net
from rtstyle.runtime.session import session_options


def _bias_init(self: Any, net: torch.nn.Module, half: bool = False) -> None:
    _REAL_INIT(self, net, half, nhwc_head=False)


def _round_node_init(self: Any, net: torch.nn.Module, half: bool = False) -> None:
    _bias_init(self, net, half)
    self.rounded = False


_REAL_FOLD, _REAL_INIT = ex.fold_frame_format, ex.ContractModule.__init__


def main(runs: int = 30) -> None:
    warnings.simplefilter("ignore")
    folder = tempfile.mkdtemp()
    sessions: dict[str, Any] = {}
    for arch in ("fast", "fast-lean"):
        torch.manual_seed(0)
        net = build_net(arch, 1)
        for kind in ("nhwc", "bias", "round") if arch == "fast-lean" else ("bias", "round"):
            if kind == "bias":
                ex.ContractModule.__init__ = _bias_init
            if kind == "round":  # the wrapper as it was: no offset in the bias, a Round node
                ex.fold_frame_format = lambda first, last, shuffle=1, offset=0.0: _REAL_FOLD(first, last, shuffle)
                ex.ContractModule.__init__ = _round_node_init
            try:
                path = ex.export_onnx(
                    net, f"{folder}/{arch}-{kind}.onnx", [StyleEntry("a", "A")], arch, "fast", {}, 512, check=False
                )
            finally:
                ex.fold_frame_format, ex.ContractModule.__init__ = _REAL_FOLD, _REAL_INIT
            opts = session_options("cpu", 2)
            sessions[f"{arch} {kind}"] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    for w, h in ((640, 360), (1280, 720), (1920, 1080)):
        feeds = {"frame": np.random.default_rng(0).integers(0, 256, (1, h, w, 3), dtype=np.uint8)}
        times: dict[str, list[float]] = {k: [] for k in sessions}
        for s in sessions.values():
            s.run(None, feeds)
        for _ in range(runs):
            for k, s in sessions.items():
                t0 = time.perf_counter()
                s.run(None, feeds)
                times[k].append((time.perf_counter() - t0) * 1e3)
        cells = "  ".join(f"{k} {min(v):.1f}/{statistics.median(v):.1f}" for k, v in times.items())
        print(f"{w}x{h} min/median ms: {cells}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
