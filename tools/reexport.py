"""Write a contract file again with this version's exporter: the same weights and metadata, the current graph.

For a change in how a design runs its frame that touches no weight (session 29: fast-margin's files run the frame
40 px from the top and left, 24 from the bottom and right, where they had 16 on every side), a shipped file need not
wait for its style's next training phase. Each FILE is read back (``import_onnx``), exported over itself with its
own styles, design, tier, recipe and working size (parity with PyTorch checked, written atomically), and its
metadata compared with the old file's; the model card beside it (FILE.md) gets the margin line a training export
writes, in place of an older one.

    python tools/reexport.py models/*-fast.onnx
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtstyle.catalog import read_model_info  # noqa: E402
from rtstyle.export import export_onnx, import_onnx  # noqa: E402
from rtstyle.train.loop import margin_line  # noqa: E402

MARGIN_PREFIX = "- runs each frame inside a margin"


def metadata(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def update_card(card: Path, line: list[str]) -> bool:
    """Put the margin line after the card's ``- file:`` line (replacing an older one); False without a card."""
    if not card.is_file():
        return False
    lines = [x for x in card.read_text().splitlines() if not x.startswith(MARGIN_PREFIX)]
    at = next((i + 1 for i, x in enumerate(lines) if x.startswith("- file:")), None)
    if at is None:
        raise SystemExit(f"reexport: {card} has no '- file:' line")
    card.write_text("\n".join(lines[:at] + line + lines[at:]) + "\n")
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="contract files (.onnx) to write again in place")
    a = ap.parse_args(argv)
    for path in a.files:
        before = metadata(path)
        info = read_model_info(path)
        _, net = import_onnx(path)
        export_onnx(net, path, list(info.styles), info.arch, info.tier, info.recipe, info.working_size)
        if metadata(path) != before:
            print(f"reexport: {path}: the metadata changed", file=sys.stderr)
            return 1
        card = update_card(path.with_suffix(".md"), margin_line(net))
        print(f"{path}: written again ({path.stat().st_size / 1e6:.2f} MB){'; card updated' if card else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
