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
python tools/arch_speed.py --designs johnson,fast,fast-hq,fast-guided --sizes 640x360,1280x720 --seconds 3
echo "## 4. rtstyle video end to end (decode, stylize, flow smoothing, H.264 + audio)"
for tier in fast full; do
  rtstyle video "$V" "$T/out_$tier.mp4" --style mosaic --tier "$tier" --device cpu
  python - "$T/out_$tier.mp4" <<'PY'
import sys
from rtstyle.media import probe
m = probe(sys.argv[1])
print(f"   proof: {m.video_codec} {m.width}x{m.height} frames={m.frame_count} audio={m.audio_codec}")
PY
done
rtstyle video "$V720" "$T/out720_fast.mp4" --style mosaic --tier fast --device cpu || true
echo "## 5. smoother cost per 640x360 frame (one OpenCV thread)"
python -c "import sys,time,cv2; sys.path.insert(0,'tools'); from warp_error import read_frames; from rtstyle.smoothing import Smoother; cv2.setNumThreads(1); fr=read_frames('$V',150); s=Smoother(); s(fr[0],fr[0]); t=time.perf_counter(); [s(f,f) for f in fr[1:]]; print(round((time.perf_counter()-t)/(len(fr)-1)*1e3,2),'ms/frame flow smoothing')"
echo "## 6. live outputs: pipeline fps and added latency per sink (file source standing in for the camera)"
python tools/stream_bench.py --input "$V" --realtime --seconds 10 --style mosaic --device cpu
echo "## 7. training speed, Johnson at 256x256, batch 8, CPU"
rtstyle train --style-image "$A/styles/mosaic.jpg" --data "$A/photos" --name speedprobe --steps 4 --batch 8 \
  --size 256 --style-size 512 --vgg-weights "$A/vgg16/vgg16_imagenet_features_to_relu4_3_fp16.pth" --device cpu \
  --out-dir "$T/train" --export-dir "$T/models" --checkpoint-every 0 --preview-every 0 2>&1 | tail -3
