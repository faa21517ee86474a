#!/usr/bin/env bash
# Commit-ready snapshot of the zoo campaign (issue 10), with the training stopped for the measurements:
# export runs/zoo/full/checkpoint.pt to models/zoo-full.onnx with its card, the full report (docs/styles: table,
# sheets, zoo.jpg, eval.json) and the flicker table per style on the plane and chaplin clips; the training is
# resumed at the end, even on error.
# Usage: bash tools/zoo_snapshot.sh [ASSETS_DIR]   (from the repository root, the venv active)
set -euo pipefail
A=${1:-../shared/assets}
step=$(python -c "import torch; print(torch.load('runs/zoo/full/checkpoint.pt', weights_only=False, map_location='cpu')['step'])")
echo "step $step"
mkdir -p runs/zoo-snap/full
cp runs/zoo/full/checkpoint.pt runs/zoo-snap/full/checkpoint.pt
cp runs/zoo/full/checkpoint.pt "runs/zoo-snap/step$step.pt"
pause() { for pid in $(pgrep -f "rtstyle train --name zoo-full" || true); do kill "-$1" "$pid"; done; }
pause STOP
trap 'pause CONT' EXIT
date -u +%T
python tools/train_zoo.py --tier full --export-now --out-dir runs/zoo-snap --models-dir models --assets "$A"
python tools/zoo_report.py models/zoo-full.onnx --assets "$A" --write-docs --json "runs/zoo-snap/full$step.json" \
    | tee "runs/zoo-snap/full$step.log"
date -u +%T
echo "clip style raw_warp_error flow_warp_error ratio ghost_ratio ghost_moving_ratio" | tee "runs/zoo-snap/flicker$step.txt"
for clip in moviepy_video_with_failing_audio moviepy_chaplin; do
  for s in mosaic candy starry-night scream wave kandinsky shipwreck udnie matisse; do
    python tools/smoothing_report.py "$s" "$A/videos/$clip.mp4" --tier full \
      --max-frames 40 --modes flow --json 2>/dev/null | python -c "
import json, sys
rows = json.load(sys.stdin); r = rows[1]
print('$clip', '$s', round(rows[0]['warp_error'], 6), round(r['warp_error'], 6), round(r['warp_ratio'], 3),
      round(r['ghost_ratio'], 3), round(r['ghost_moving_ratio'], 3))"
  done
done | tee -a "runs/zoo-snap/flicker$step.txt"
date -u +%T
