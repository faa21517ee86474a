"""The examples/ scripts run as a user runs them (a subprocess, the built-in default style on the CPU, no camera,
no download), on tiny generated inputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import synthetic_frame

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: object, cwd: Path) -> str:
    env = {**os.environ, "RTSTYLE_MODELS": str(cwd / "no-user-models"), "RTSTYLE_QUIET": "1"}
    env.pop("DISPLAY", None)
    r = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args), "--device", "cpu"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    return r.stdout


def frames_of(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_examples_folder_has_the_three():
    assert {p.name for p in EXAMPLES.glob("*.py")} >= {"stylize_image.py", "stylize_video.py", "opencv_loop.py"}


def test_image_example(tmp_path):
    inp = tmp_path / "photo.jpg"
    cv2.imwrite(str(inp), synthetic_frame(36, 48))
    out = run_example("stylize_image.py", inp, tmp_path / "out.png", cwd=tmp_path)
    assert "out.png: 48x36" in out and "CPUExecutionProvider" in out and "float32" in out
    assert cv2.imread(str(tmp_path / "out.png")).shape == (36, 48, 3)
    assert cv2.imread(str(tmp_path / "out-pil.png")).shape == (36, 48, 3)
    # without a picture it paints its own sample
    run_example("stylize_image.py", cwd=tmp_path)
    assert (tmp_path / "sample.png").is_file() and (tmp_path / "stylized.png").is_file()


def test_video_example(tmp_path):
    run_example("stylize_video.py", "--seconds", "0.4", cwd=tmp_path)  # the generated sample clip
    out = tmp_path / "stylized.mp4"
    assert out.is_file() and frames_of(out) == frames_of(tmp_path / "sample.mp4") > 0


def test_opencv_loop_example(tmp_path):
    clip = tmp_path / "tiny.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    if not writer.isOpened():
        pytest.skip("OpenCV cannot write MJPG here")
    for t in range(6):
        writer.write(synthetic_frame(48, 64, t))
    writer.release()
    out = run_example("opencv_loop.py", clip, tmp_path / "loop.mp4", cwd=tmp_path)
    assert "6 frames" in out
    cap = cv2.VideoCapture(str(tmp_path / "loop.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (48, 64, 3) and not np.all(frame == 0)
