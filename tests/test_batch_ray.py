"""``rtstyle batch --ray``: the same batch as Ray tasks on one module-scoped local Ray with 2 CPUs (the ``[ray]``
extra): the frames of ``rtstyle video``, a bad file skipped, a chunked video joined, a killed worker retried by Ray."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import decode_all, make_clip
from conftest import make_contract_model
from test_batch import max_diff

from rtstyle.batch import run
from rtstyle.pipeline.jobs import StylizeOptions, stylize_video

ray = pytest.importorskip("ray")

FAST = {"preset": "ultrafast"}


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray with 2 CPUs for the module; shut down at its end (the batches find it initialised and keep it)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return make_contract_model(tmp_path / "m" / "duo.onnx", styles=("red", "blue"))


def test_ray_batch_matches_video(tmp_path: Path, model: Path, local_ray) -> None:
    src = tmp_path / "in"
    make_clip(src / "a.mp4", frames=12, audio="aac")
    make_clip(src / "long.mp4", frames=30)
    cv2.imwrite(str(src / "p.jpg"), np.full((30, 40, 3), 90, np.uint8))
    (src / "bad.mov").write_bytes(b"garbage" * 100)
    how = StylizeOptions(style="blue", device="cpu", blend=None)
    how.style = str(model)  # a path: the model travels through Ray's object store
    how.blend = "blue=1"  # the second style of the two-style file
    out = tmp_path / "out"
    r = run([src], out, how, ray="local", chunk_frames=15, overlap=4, **FAST)
    status = {Path(f.input).name: f.status for f in r.files}
    assert status == {"a.mp4": "done", "long.mp4": "done", "p.jpg": "done", "bad.mov": "unreadable"}
    assert r.backend == "ray" and r.workers == 2
    assert {Path(f.input).name: f.chunks for f in r.files}["long.mp4"] == 2
    ref = tmp_path / "ref.mp4"
    stylize_video(src / "a.mp4", ref, how, **FAST)
    assert max_diff(decode_all(out / "a.mp4")[0], decode_all(ref)[0]) < 0.5
    assert len(decode_all(out / "long.mp4")[0]) == 30
    # again: everything finished is skipped, on Ray as well
    again = run([src], out, how, ray="local", chunk_frames=15, overlap=4, **FAST)
    assert again.counts()["up-to-date"] == 3


def test_ray_retries_a_killed_worker(tmp_path: Path, model: Path, local_ray, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in"
    make_clip(src / "a.mp4", frames=10)
    make_clip(src / "b.mp4", frames=10)
    monkeypatch.setenv("RTSTYLE_BATCH_TEST_KILL", "b.mp4:3")  # b's worker process dies at frame 3 (first attempt)
    how = StylizeOptions(style=str(model), device="cpu")
    r = run([src], tmp_path / "out", how, ray="local", retries=2, **FAST)
    by_name = {Path(f.input).name: f for f in r.files}
    assert r.ok and by_name["b.mp4"].attempts == 2 and by_name["a.mp4"].attempts == 1
    assert r.counts()["retried"] == 1
    assert len(decode_all(tmp_path / "out" / "b.mp4")[0]) == 10


def test_ray_batch_on_urls(tmp_path: Path, model: Path, local_ray) -> None:
    """``file://`` URLs in and out on Ray: each task fetches its input and uploads its output (a chunked video's
    parts into the URL out-dir, joined by the driver); the attempt counters and the manifest live there too."""
    src = tmp_path / "in"
    make_clip(src / "long.mp4", frames=12)
    (src / "sub").mkdir()
    cv2.imwrite(str(src / "sub" / "p.jpg"), np.full((30, 40, 3), 90, np.uint8))
    out = tmp_path / "out"
    how = StylizeOptions(style=str(model), device="cpu")
    r = run([src.as_uri()], out.as_uri(), how, ray="local", chunk_frames=6, overlap=2, **FAST)
    assert r.ok and r.backend == "ray" and r.counts()["done"] == 2, r.files
    assert {Path(f.input).name: f.chunks for f in r.files} == {"long.mp4": 2, "p.jpg": 1}
    assert len(decode_all(out / "long.mp4")[0]) == 12 and (out / "sub" / "p.jpg").is_file()
    assert (out / ".rtstyle-batch" / "manifest.jsonl").is_file() and len(
        list((out / ".rtstyle-batch" / "attempts").iterdir())
    ) == 3
