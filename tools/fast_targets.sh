#!/usr/bin/env bash
# Issue 11's speed targets in one run, on a quiet machine (stop any training first: SIGSTOP).
# Usage: bash tools/fast_targets.sh [ASSETS_DIR] [FAST_MODEL] [FULL_MODEL] > LOG
#   the fast network at 640x360 / 1280x720 / 1920x1080 beside the full tier and PyTorch eager's Johnson,
#   the fast network's throughput with two frames at once (`--lanes 2`, one thread each),
#   `rtstyle video` end to end at 640x360 and 1280x720 (two runs each), the live path at 1280x720 (two runs at
#   its default of two lanes, two at one lane: the lowest latency).
# The models are copied first, so a training run that exports over them cannot change them mid-run.
set -euo pipefail
A=${1:-../shared/assets}
FAST=${2:-models/mosaic-fast.onnx}
FULL=${3:-models/zoo-full.onnx}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cp "$FAST" "$T/fast.onnx"
cp "$FULL" "$T/full.onnx"
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# fast: $FAST  full: $FULL"
rtstyle bench -m "$T/fast.onnx" -m "$T/full.onnx" --sizes 640x360,1280x720,1920x1080 --device cpu --frames 10 --threads 2
rtstyle bench -m "$T/fast.onnx" --sizes 640x360,1280x720,1920x1080 --device cpu --frames 10 --lanes 2
python tools/bench_torch_eager.py --sizes 640x360,1280x720 --frames 3 --threads 2
python tools/loop_clip.py "$A/videos/moviepy_video_with_failing_audio.mp4" 280 "$T/plane.mp4"
python tools/loop_clip.py "$A/videos/moviepy_fire2.mp4" 200 "$T/fire2x.mp4"
show='import json, sys; d = json.load(sys.stdin); print(sys.argv[1], {k: v for k, v in d.items() if k in ("frames", "seconds", "fps", "latency_p50_ms", "latency_p95_ms")})'
for run in 1 2; do
  rtstyle video "$T/plane.mp4" "$T/out.mp4" --style "$T/fast.onnx" --tier fast --device cpu -f --json -q \
    | python -c "$show" "video 640x360 run $run"
  rtstyle video "$T/fire2x.mp4" "$T/out.mp4" --style "$T/fast.onnx" --tier fast --device cpu -f --json -q \
    | python -c "$show" "video 1280x720 run $run"
  for lanes in 2 1; do
    rtstyle webcam --camera "$T/fire2x.mp4" --loop --as-fast-as-possible --no-window --style "$T/fast.onnx" \
      --tier fast --device cpu --max-frames 300 --json -q --lanes $lanes | python -c "$show" "live 1280x720 lanes $lanes run $run"
  done
done
echo "# end $(date -u +%FT%TZ)"
