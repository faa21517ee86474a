#!/usr/bin/env bash
# Every speed figure reported in docs/performance.md and the closing notes, in one run on a quiet machine.
# Usage: bash tools/measure_figures.sh [ASSETS_DIR] > docs/figures.log   (needs the [train] extra for the torch rows)
set -euo pipefail
A=${1:-../shared/assets}
V=$A/videos/moviepy_video_with_failing_audio.mp4   # 640x360, 25 fps, 280 frames, MP3 audio
V720=$A/videos/moviepy_fire2.mp4                   # 1280x720, VFR, rotation flag, AAC audio
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(python -c 'import onnxruntime as o; print("onnxruntime", o.__version__)')"
echo "## pload: $(cat /proc/loadavg)"

echo "## 1. Johnson-size contract model (random weights), onnxruntime CPU vs PyTorch eager fp32, one run"
python tools/bench_torch_eager.py --sizes 640x360,1280x720 --frames 5
echo "## 2. rtstyle bench: shipped styles, both tiers, CPU"
rtstyle bench --style mosaic --tier full --sizes 640x360,1280x720 --device cpu --frames 5
rtstyle bench --style mosaic --tier fast --sizes 640x360,1280x720 --device cpu --frames 30 || true
echo "## 3. architecture table (random weights, one run)"
python tools/studies/arch_speed.py --designs johnson,fast,fast-hq,fast-guided --sizes 640x360,1280x720 --seconds 3
echo "## 4. rtstyle video end to end (decode, stylize, flow smoothing, H.264 veryfast + audio)"
# fire2 has 25 frames: looped 8 times (stream copy, 200 frames) so that start-up does not dominate the 720p figure
python tools/loop_clip.py "$V720" 200 "$T/fire2x8.mp4"
e2e() {  # e2e IN TAG [rtstyle video options...]: the command's own fps line, plus the whole command's wall time
  local inp=$1 tag=$2; shift 2
  local t0 t1
  t0=$(date +%s.%N)
  rtstyle video "$inp" "$T/out_$tag.mp4" --style mosaic --device cpu "$@"
  t1=$(date +%s.%N)
  python - "$T/out_$tag.mp4" "$t0" "$t1" <<'PY'
import sys
from rtstyle.io.probe import probe
m = probe(sys.argv[1])
wall = float(sys.argv[3]) - float(sys.argv[2])
print(f"   proof: {m.video_codec} {m.width}x{m.height} frames={m.frame_count} audio={m.audio_codec}; "
      f"whole command {wall:.1f} s = {m.frame_count / wall:.1f} fps with start-up")
PY
}
for tier in fast full; do e2e "$V" "$tier" --tier "$tier"; done
e2e "$T/fire2x8.mp4" 720_fast --tier fast
echo "## 4b. diagnostics: the same runs without smoothing, and with x264 medium"
e2e "$V" fast_nosmooth --tier fast --smooth off
e2e "$T/fire2x8.mp4" 720_fast_nosmooth --tier fast --smooth off
e2e "$V" fast_medium --tier fast --preset medium
echo "## 5. smoother cost per frame (one OpenCV thread): prepare (flow, mask, maps) and blend"
for clip in "$V" "$T/fire2x8.mp4"; do
python - "$clip" <<'PY'
import sys, time
import cv2
sys.path.insert(0, "tools")
from warp_error import read_frames
from rtstyle.pipeline.smoothing import Smoother
cv2.setNumThreads(1)
fr = read_frames(sys.argv[1], 120)
s = Smoother()
s(fr[0], fr[0])
tp = tb = 0.0
for f in fr[1:]:
    t0 = time.perf_counter(); m = s.prepare(f); t1 = time.perf_counter(); s.blend(m, f); tb += time.perf_counter() - t1; tp += t1 - t0
n = len(fr) - 1
print(f"   {fr[0].shape[1]}x{fr[0].shape[0]}: prepare {tp / n * 1e3:.2f} ms + blend {tb / n * 1e3:.2f} ms per frame")
PY
done
echo "## 6. live outputs: pipeline fps and added latency per sink (file source standing in for the camera)"
python tools/stream_bench.py --input "$V" --realtime --seconds 10 --style mosaic --device cpu
echo "## 7. training speed, Johnson at 256x256, batch 8, CPU"
rtstyle train --style-image "$A/styles/mosaic.jpg" --data "$A/photos" --name speedprobe --steps 4 --batch 8 \
  --size 256 --style-size 512 --vgg-weights "$A/vgg16/vgg16_imagenet_features_to_relu4_3_fp16.pth" --device cpu \
  --out-dir "$T/train" --export-dir "$T/models" --checkpoint-every 0 --preview-every 0 2>&1 | tail -3
