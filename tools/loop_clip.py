"""Loop a short clip into a longer one without re-encoding (PyAV remux), for the end-to-end benchmarks:

    python tools/loop_clip.py ../shared/assets/videos/moviepy_fire2.mp4 200 /tmp/fire2x8.mp4

Every stream (video, audio) is copied packet for packet, shifted by the clip's duration on each pass, until the
video holds at least N frames. The rotation flag (display matrix) goes with the video stream.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import av


def loop_clip(src: str | Path, frames: int, out: str | Path) -> Path:
    """Write ``src`` looped (stream copy) to ``out`` so that its video has at least ``frames`` frames."""
    src, out = Path(src), Path(out)
    with av.open(str(src)) as probe:
        video = probe.streams.video[0]
        n = video.frames or sum(1 for p in probe.demux(video) if p.size)
    passes = max(1, math.ceil(frames / max(n, 1)))
    with av.open(str(src)) as inp, av.open(str(out), "w") as dst:
        streams = [s for s in inp.streams if s.type in ("video", "audio")]
        outs = {s.index: dst.add_stream_from_template(s) for s in streams}
        ends = {s.index: 0 for s in streams}  # end of each stream's last packet (pts + duration), its time base
        offset = {s.index: 0 for s in streams}
        for _ in range(passes):
            inp.seek(0)
            for packet in inp.demux(streams):
                if packet.dts is None or packet.pts is None:
                    continue
                i = packet.stream.index
                packet.pts += offset[i]
                packet.dts += offset[i]
                ends[i] = max(ends[i], packet.pts + (packet.duration or 0))
                packet.stream = outs[i]
                dst.mux(packet)
            # the next pass starts where the longest stream ended, in every stream's own time base
            end_s = max(float(ends[s.index] * s.time_base) for s in streams)
            offset = {s.index: round(end_s / s.time_base) for s in streams}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("frames", type=int)
    ap.add_argument("out", type=Path)
    a = ap.parse_args()
    loop_clip(a.src, a.frames, a.out)


if __name__ == "__main__":
    main()
