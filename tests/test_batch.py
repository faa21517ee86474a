"""``rtstyle batch`` on the local process pool: same frames as ``rtstyle video``, resumable and idempotent, bad
files skipped, long videos in chunks with steady seams, a killed worker retried, a killed batch resumed."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import decode_all, make_clip, write_frames
from conftest import make_contract_model

from rtstyle.batch import run
from rtstyle.batch.plan import STATE_DIR, plan_chunks
from rtstyle.cli.main import main
from rtstyle.errors import Stopped
from rtstyle.io.probe import probe
from rtstyle.pipeline.jobs import StylizeOptions, stylize_image, stylize_video
from rtstyle.signals import stop_signals

TOOLS = Path(__file__).resolve().parents[1] / "tools"
FAST = {"preset": "ultrafast"}


def make_panning_clip(path: Path, frames: int = 60, size: tuple[int, int] = (160, 96), rate: int = 10) -> Path:
    """A clip of a blurred noise texture panning 2 px per frame: the same motion everywhere, all the time, so
    every pair of frames has about the same warping error (a seam stands out)."""
    w, h = size
    rng = np.random.default_rng(1)
    tile = cv2.GaussianBlur(rng.integers(0, 256, (h, 64, 3), dtype=np.uint8), (0, 0), 4.0, borderType=cv2.BORDER_WRAP)
    tile = cv2.normalize(tile, None, 0, 255, cv2.NORM_MINMAX)
    big = np.tile(tile, (1, (w + 2 * frames) // 64 + 2, 1))  # periodic: every frame looks alike
    return write_frames(path, [big[:, 2 * t : 2 * t + w] for t in range(frames)], rate, crf=12)


def max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """The largest mean absolute difference of two frame lists (of equal length)."""
    assert len(a) == len(b)
    return max(float(np.abs(x.astype(np.int16) - y.astype(np.int16)).mean()) for x, y in zip(a, b, strict=True))


def leftovers(folder: Path) -> list[Path]:
    """Temporary files anywhere under ``folder`` (outside the batch's own state folder)."""
    return [p for p in folder.rglob("*.part*") if STATE_DIR not in p.parts]


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return make_contract_model(tmp_path / "m" / "solo.onnx", styles=("solo",))


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    make_clip(src / "a.mp4", frames=12, audio="aac")
    make_clip(src / "sub" / "b.mov", frames=16)
    src.mkdir(exist_ok=True)
    cv2.imwrite(
        str(src / "sub" / "p.png"),
        cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (40, 50, 3), np.uint8), (5, 5), 0),
    )
    (src / "notes.txt").write_text("not media: ignored in a folder")
    return src


def test_local_pool_matches_video_and_keeps_the_tree(tmp_path: Path, model: Path, library: Path) -> None:
    how = StylizeOptions(style=str(model), device="cpu")
    out = tmp_path / "out"
    r = run([library], out, how, workers=2, **FAST)
    assert r.ok and r.counts()["done"] == 3 and r.backend == "local" and r.workers == 2
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and STATE_DIR not in p.parts) == [
        "a.mp4", "sub/b.mp4", "sub/p.png",
    ]  # fmt: skip
    # the same frames as rtstyle video / rtstyle image on the same input with the same options
    ref = tmp_path / "ref"
    ref.mkdir()
    stylize_video(library / "a.mp4", ref / "a.mp4", how, **FAST)
    stylize_image(library / "sub" / "p.png", ref / "p.png", how)
    got, t_got = decode_all(out / "a.mp4")
    want, t_want = decode_all(ref / "a.mp4")
    assert len(got) == 12 and t_got == pytest.approx(t_want, abs=1e-3)
    assert max_diff(got, want) < 0.5
    assert np.array_equal(cv2.imread(str(out / "sub" / "p.png")), cv2.imread(str(ref / "p.png")))
    assert probe(out / "a.mp4").audio_codec == "aac"
    manifest = [json.loads(line) for line in (out / STATE_DIR / "manifest.jsonl").read_text().splitlines()]
    assert sorted(e["out"] for e in manifest if e["state"] == "done") == ["a.mp4", "sub/b.mp4", "sub/p.png"]
    assert [e["state"] for e in manifest[:3]] == ["started"] * 3  # claimed before any work
    assert not leftovers(out) and not leftovers(library)


def test_rerun_skips_what_is_done_and_redoes_on_change(tmp_path: Path, model: Path, library: Path) -> None:
    out = tmp_path / "out"
    how = StylizeOptions(style=str(model), device="cpu")
    assert run([library], out, how, workers=1, **FAST).counts()["done"] == 3
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")}
    again = run([library], out, how, workers=1, **FAST)
    assert again.counts()["up-to-date"] == 3 and again.counts()["done"] == 0
    assert before == {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")}
    # other options: the existing outputs are not this batch's, left alone without --force, redone with it
    other = StylizeOptions(style=str(model), device="cpu", strength=0.5)
    assert run([library], out, other, workers=1, **FAST).counts()["exists"] == 3
    assert run([library], out, other, workers=1, force=True, **FAST).counts()["done"] == 3
    assert run([library], out, other, workers=1, **FAST).counts()["up-to-date"] == 3
    # an input that changed is done again
    make_clip(library / "a.mp4", frames=8)
    r = run([library], out, other, workers=1, **FAST)
    assert r.counts()["done"] == 0 and r.counts()["exists"] == 1  # changed input: no longer recorded as up to date
    # killed between an output's rename and its line in the manifest: the "started" line says it is the batch's own
    from rtstyle.batch.manifest import Manifest

    with Manifest(out / STATE_DIR) as m:
        fp = m.entries["a.mp4"]["fingerprint"]
        m.claim([("a.mp4", out / "a.mp4", library / "a.mp4")], fp)
    r = run([library], out, other, workers=1, **FAST)
    assert {Path(f.output).name: f.status for f in r.files} == {
        "a.mp4": "done",
        "b.mp4": "up-to-date",
        "p.png": "up-to-date",
    }
    # an output folder inside the input folder: its files are never inputs
    inside = library / "styled"
    assert run([library], inside, how, workers=1, **FAST).counts()["done"] == 3
    assert run([library], inside, how, workers=1, **FAST).counts()["up-to-date"] == 3


def run_cli(args: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[object, str, str]:
    with pytest.raises(SystemExit) as ei:
        main([str(a) for a in args])
    cap = capsys.readouterr()
    return ei.value.code, cap.out, cap.err


def test_cli_reports_and_skips_bad_files(
    tmp_path: Path, model: Path, library: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (library / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    (library / "empty.mov").write_bytes(b"")
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        ["batch", library, tmp_path / "missing.mp4", "-o", out, "-s", model, "-d", "cpu", "--preset", "ultrafast", "--json"], capsys
    )  # fmt: skip
    assert code == 1 and "Traceback" not in err
    res = json.loads(stdout)
    status = {Path(f["input"]).name: f["status"] for f in res["files"]}
    assert status == {
        "a.mp4": "done", "b.mov": "done", "p.png": "done", "broken.mp4": "unreadable", "empty.mov": "unreadable",
        "missing.mp4": "unreadable",
    }  # fmt: skip
    assert "unreadable" in err and "broken.mp4" in err
    assert not (out / "broken.mp4").exists() and not leftovers(out)
    # the table
    code, stdout, _ = run_cli(["batch", library, "-o", out, "-s", model, "-d", "cpu", "--preset", "ultrafast"], capsys)
    assert code == 1 and "skipped: up to date" in stdout and "skipped: unreadable" in stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["--style", "no-such-style"], "unknown style"),
        (["--crf", "99"], "Invalid value"),
        (["--chunk-frames", "-1"], "Invalid value"),
        (["--ray", "local"], "pip install"),
    ],
)
def test_cli_bad_options_are_one_line(
    tmp_path: Path,
    model: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    words: str,
) -> None:
    clip = make_clip(tmp_path / "in" / "a.mp4", frames=4)
    if args[0] == "--ray":
        monkeypatch.setitem(sys.modules, "ray", None)  # as without the [ray] extra
    code, _, err = run_cli(["batch", clip, "-o", tmp_path / "out", "-d", "cpu", "-s", model, *args], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("rtstyle: notice:")]
    assert code not in (0, None) and len(lines) == 1 and lines[0].startswith("rtstyle: error: "), err
    assert words in lines[0]


def test_out_dir_that_is_a_file_or_no_media(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    code, _, err = run_cli(["batch", f, "-o", f, "-s", model], capsys)
    assert code not in (0, None) and err.count("\n") == 1 and "not a folder" in err
    code, _, err = run_cli(["batch", f, "-o", tmp_path / "new", "-s", "no-such-style"], capsys)
    assert code not in (0, None) and "unknown style" in err and not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["batch", tmp_path / "empty", "-o", tmp_path / "out", "-s", model], capsys)
    assert code not in (0, None) and "no images or videos" in err


def test_manifest_survives_a_cut_line_compacts_and_locks(tmp_path: Path) -> None:
    from rtstyle.batch.manifest import Manifest
    from rtstyle.errors import OutputError

    inp, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    inp.write_bytes(b"i")
    out.write_bytes(b"o")
    state = tmp_path / STATE_DIR
    with Manifest(state) as m:
        for i in range(100):
            m.record("out.mp4", out, "fp", inp, frames=i)
        with pytest.raises(OutputError, match="another rtstyle batch"):
            Manifest(state)  # one batch per output folder
    with open(state / "manifest.jsonl", "a", encoding="utf-8") as f:
        f.write('{"out": "cut sh')  # a kill in the middle of a line
    with Manifest(state) as m:
        assert m.finished("out.mp4", out, "fp", inp)["frames"] == 99
        assert m.finished("out.mp4", out, "other options", inp) is None
        out.write_bytes(b"replaced")
        assert m.finished("out.mp4", out, "fp", inp) is None  # not the output that was recorded
    assert (state / "manifest.jsonl").read_text().count("\n") == 1  # compacted to the last line of each output


def test_plan_chunks_cover_every_frame_once() -> None:
    chunks = plan_chunks(100, 25.0, 30, 5)
    assert len(chunks) == 3 and chunks[0].start is None and chunks[-1].end is None
    times = [i / 25.0 for i in range(100)]
    owners = [
        [c.index for c in chunks if (c.start is None or t >= c.start) and (c.end is None or t < c.end)] for t in times
    ]
    assert all(len(o) == 1 for o in owners)
    assert all(c.seek == pytest.approx(max(0.0, c.start - 5 / 25.0)) for c in chunks[1:])
    assert plan_chunks(30, 25.0, 30, 5) == [] and plan_chunks(100, 25.0, 0, 5) == []


def test_chunks_join_with_the_input_timing_and_steady_seams(tmp_path: Path, model: Path) -> None:
    """Three chunks of a panning clip: the joined video has the input's frames, timing and audio, and the warping
    error (tools/warp_error.py) at the two seams stays within 1.2x the clip's median thanks to the overlap (without
    it the smoother restarts cold at each seam and the seams stand out). Encoded near-lossless (--crf 0), so what
    is measured is stylization and smoothing, not the keyframe that starts each chunk (docs/batch.md)."""
    sys.path.insert(0, str(TOOLS))
    try:
        we = importlib.import_module("warp_error")
    finally:
        sys.path.remove(str(TOOLS))
    clip = make_panning_clip(tmp_path / "in" / "long.mp4", frames=60)
    make_clip(tmp_path / "in2" / "tone.mp4", frames=30, audio="aac")
    how = StylizeOptions(style=str(model), device="cpu")
    src, t_src = decode_all(clip)
    seam_ratio = {}
    for overlap in (6, 0):
        out = tmp_path / f"out{overlap}"
        r = run([clip], out, how, workers=2, chunk_frames=20, overlap=overlap, smooth="flow", crf=0, **FAST)
        assert r.ok and r.files[0].chunks == 3 and r.files[0].frames == 60
        got, t_got = decode_all(out / "long.mp4")
        assert len(got) == 60 and t_got == pytest.approx(t_src, abs=1e-3)
        errs = we.warp_errors(src, got)  # errs[t - 1]: frames t-1 -> t
        seam_ratio[overlap] = max(errs[19], errs[39]) / float(np.median(errs))  # frames 20 and 40 open chunks
        assert not list((out / STATE_DIR / "parts").rglob("*.mp4"))  # parts removed once joined
    assert seam_ratio[6] <= 1.2, seam_ratio
    assert seam_ratio[0] > seam_ratio[6], seam_ratio
    # audio: the input's track, added at the join
    r = run([tmp_path / "in2"], tmp_path / "out_tone", how, workers=2, chunk_frames=10, **FAST)
    assert r.files[0].chunks == 3
    info = probe(tmp_path / "out_tone" / "tone.mp4")
    assert info.audio_codec == "aac" and info.frame_count == 30


def test_chunks_keep_variable_frame_rate_timing(tmp_path: Path, model: Path) -> None:
    from test_media import decode_all, vfr_times
    from test_media import make_clip as make_media_clip

    (tmp_path / "in").mkdir()
    clip = make_media_clip(tmp_path / "in" / "vfr.mp4", frames=40, vfr=True, audio="aac")
    how = StylizeOptions(style=str(model), device="cpu")
    r = run([clip], tmp_path / "out", how, workers=2, chunk_frames=12, overlap=3, **FAST)
    assert r.ok and r.files[0].chunks == 3
    _, times = decode_all(tmp_path / "out" / "vfr.mp4")
    assert times == pytest.approx(vfr_times(40), abs=1e-3)


def test_killed_worker_is_retried(tmp_path: Path, model: Path, library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTSTYLE_BATCH_TEST_KILL", "b.mp4:4")  # the worker stylizing sub/b.mov dies at frame 4
    out = tmp_path / "out"
    how = StylizeOptions(style=str(model), device="cpu")
    r = run([library], out, how, workers=2, **FAST)
    by_name = {Path(f.input).name: f for f in r.files}
    assert r.ok and by_name["b.mov"].status == "done" and by_name["b.mov"].attempts == 2
    assert by_name["b.mov"].retried and r.counts()["retried"] >= 1
    assert len(decode_all(out / "sub" / "b.mp4")[0]) == 16


def test_restart_after_a_kill_skips_finished_files(tmp_path: Path, model: Path) -> None:
    src = tmp_path / "in"
    for i in range(4):
        make_clip(src / f"c{i}.mp4", frames=40, size=(160, 96))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rtstyle", "batch", str(src), "-o", str(out), "-s", str(model), "-d", "cpu",
           "--preset", "ultrafast", "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    manifest = out / STATE_DIR / "manifest.jsonl"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if manifest.exists() and '"state": "done"' in manifest.read_text():
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the batch and its workers
        proc.wait()
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    finished = {e["out"] for e in lines if e["state"] == "done"}
    assert 1 <= len(finished)
    # nothing half-written under a final name: every output there is a finished, recorded one
    # (temporary files end in .part.mp4 since the move to PyAV: pathlib's glob matches their leading dot, skip them)
    assert {p.name for p in out.glob("*.mp4") if not p.name.startswith(".")} <= finished
    how = StylizeOptions(style=str(model), device="cpu")
    r = run([src], out, how, workers=1, **FAST)
    status = {Path(f.output).name: f.status for f in r.files}
    assert {n for n, s in status.items() if s == "up-to-date"} == finished
    assert all(s in ("done", "up-to-date") for s in status.values())
    assert all(len(decode_all(out / f"c{i}.mp4")[0]) == 40 for i in range(4))
    assert not leftovers(out)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_batch_leaves_no_half_file_and_resumes(tmp_path: Path, model: Path, sig: signal.Signals) -> None:
    """Ctrl-C (to the whole process group, as a terminal sends it) or SIGTERM (to the batch only): the workers discard
    what they were writing, one line and 128 + the signal's number; the next run finishes the rest."""
    src = tmp_path / "in"
    for i in range(3):
        make_clip(src / f"c{i}.mp4", frames=60, size=(160, 96))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rtstyle", "batch", str(src), "-o", str(out), "-s", str(model), "-d", "cpu",
           "--preset", "ultrafast", "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and not list(out.glob(".c*.part*")):
        time.sleep(0.02)  # until a worker is writing
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the batch finished before the signal")  # a very fast machine
    assert proc.returncode == 128 + sig and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("rtstyle: error: ")
    assert not leftovers(out)
    finished = {p.name for p in out.glob("*.mp4") if not p.name.startswith(".")}
    r = run([src], out, StylizeOptions(style=str(model), device="cpu"), workers=2, **FAST)
    assert {Path(f.output).name for f in r.files if f.status == "up-to-date"} == finished
    assert r.ok and all(len(decode_all(out / f"c{i}.mp4")[0]) == 60 for i in range(3))


# ------------------------------------------------------------------------------------------------ fsspec URLs


def test_urls_in_and_out_resume_and_skip_unreadable(tmp_path: Path, model: Path, library: Path) -> None:
    """A ``file://`` folder in, a ``file://`` out-dir: the tree kept, a chunked video joined from uploaded parts, the
    manifest in the URL out-dir (a second run skips everything), bad URL inputs reported and skipped."""
    (library / "broken.png").write_bytes(b"not a picture")  # fails in the worker, after the fetch
    (library / "bad.mov").write_bytes(b"garbage" * 100)  # fails when the driver probes it
    out = tmp_path / "styled"
    src, dst = library.as_uri() + "/", out.as_uri() + "/"
    how = StylizeOptions(style=str(model), device="cpu")
    missing = (tmp_path / "nowhere.mp4").as_uri()
    r = run([src, missing], dst, how, workers=2, chunk_frames=8, overlap=2, **FAST)
    by_name = {Path(f.input).name: f for f in r.files}
    assert {n: f.status for n, f in by_name.items()} == {
        "a.mp4": "done", "b.mov": "done", "p.png": "done", "broken.png": "unreadable", "bad.mov": "unreadable",
        "nowhere.mp4": "unreadable",
    }  # fmt: skip
    assert by_name["b.mov"].chunks == 2 and by_name["b.mov"].output == dst + "sub/b.mp4"
    assert by_name["broken.png"].message.startswith((library / "broken.png").as_uri())  # the URL, not a temp copy
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and STATE_DIR not in p.parts) == [
        "a.mp4", "sub/b.mp4", "sub/p.png",
    ]  # fmt: skip
    assert len(decode_all(out / "sub" / "b.mp4")[0]) == 16 and len(decode_all(out / "a.mp4")[0]) == 12
    assert probe(out / "a.mp4").audio_codec == "aac"
    lines = [json.loads(x) for x in (out / STATE_DIR / "manifest.jsonl").read_text().splitlines()]
    done = {e["out"] for e in lines if e["state"] == "done"}
    assert {"a.mp4", "sub/b.mp4", "sub/p.png"} <= done and sum(
        k.startswith("parts/") for k in done
    ) == 4  # a and b in two chunks each
    assert not leftovers(out) and not list((out / STATE_DIR / "parts").rglob("*.mp4"))
    # again, as from another machine: the manifest in the URL out-dir says what is finished
    again = run([src], dst, how, workers=1, chunk_frames=8, overlap=2, **FAST)
    assert again.counts()["up-to-date"] == 3 and again.counts()["done"] == 0


def test_url_discovery_globs_and_single_files(tmp_path: Path) -> None:
    from rtstyle.batch.plan import discover

    src = tmp_path / "in"
    for rel in ("x/a.mp4", "x/deep/b.jpg", "y/c.mov", "y/.hidden/d.mp4", "y/e.txt", "top.png", "z/f.mp4"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(b"x")
    out = (tmp_path / "out").as_uri()
    inputs = [
        src.as_uri() + "/[xy]",
        src.as_uri() + "/top.png",
        (src / "y" / "c.mov").as_uri(),
        str(src / "x" / "a.mp4"),
    ]
    items = discover(inputs, out)  # a URL glob, a URL file, one already found (once), a local path
    got = [(str(i.input).removeprefix(src.as_uri()), str(i.output).removeprefix(out), i.status) for i in items]
    assert got == [
        ("/x/a.mp4", "/x/a.mp4", "todo"), ("/x/deep/b.jpg", "/x/deep/b.jpg", "todo"), ("/y/c.mov", "/y/c.mp4", "todo"),
        ("/top.png", "/top.png", "todo"), (str(src / "x" / "a.mp4"), "/a.mp4", "todo"),
    ]  # fmt: skip
    # a file:// out-dir inside a local input folder (the same folder written two ways): its files are no inputs
    inside = discover([str(src)], (src / "x").as_uri())
    assert sorted(i.rel for i in inside) == ["top.png", "y/c.mp4", "z/f.mp4"]


def test_url_without_its_package_is_one_line(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "in" / "a.mp4", frames=4)
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as on a machine without s3fs
    code, _, err = run_cli(["batch", clip, "-o", "s3://bucket/styled/", "-d", "cpu", "-s", model], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("rtstyle: notice:")]
    assert code not in (0, None) and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("rtstyle: error: ") and "pip install s3fs" in lines[0]
    monkeypatch.setitem(sys.modules, "fsspec", None)  # no fsspec at all (the core install)
    monkeypatch.setitem(sys.modules, "fsspec.core", None)
    code, _, err = run_cli(["batch", "gs://bucket/clips/", "-o", tmp_path / "out", "-d", "cpu", "-s", model], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("rtstyle: notice:")]
    assert code not in (0, None) and len(lines) == 1 and "[remote]" in lines[0], err
    assert not (tmp_path / "out").exists()


def test_an_interrupted_upload_leaves_no_final_file(
    tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload dies half-way (a put that writes half the file and fails, or a rename that fails): no file under
    the final name, no temporary file left, the unit is ``failed``; object stores get a single put."""
    from fsspec.implementations.local import LocalFileSystem
    from fsspec.implementations.memory import MemoryFileSystem

    from rtstyle.batch import remote
    from rtstyle.batch.work import Config, Unit, run_unit
    from rtstyle.errors import OutputError

    done = tmp_path / "done.bin"
    done.write_bytes(os.urandom(4096))
    out = tmp_path / "out"
    out.mkdir()

    def half_put(self: object, lpath: str, rpath: str, **kw: object) -> None:
        with open(rpath, "wb") as f:
            f.write(done.read_bytes()[:100])
        raise OSError("connection reset")

    with monkeypatch.context() as m:
        m.setattr(LocalFileSystem, "put_file", half_put)
        with pytest.raises(OutputError, match="connection reset"):
            remote.upload(done, (out / "a.bin").as_uri())
    with monkeypatch.context() as m:
        m.setattr(LocalFileSystem, "mv", lambda *a, **k: (_ for _ in ()).throw(OSError("rename refused")))
        with pytest.raises(OutputError, match="rename refused"):
            remote.upload(done, (out / "a.bin").as_uri())
    assert list(out.iterdir()) == []  # neither a final file nor a temporary one
    remote.upload(done, (out / "a.bin").as_uri())
    assert (out / "a.bin").read_bytes() == done.read_bytes() and len(list(out.iterdir())) == 1
    # an object store: one put of the finished file, no temporary object
    puts: list[str] = []
    monkeypatch.setattr(MemoryFileSystem, "mv", lambda *a, **k: pytest.fail("no rename on an object store"))
    real_put = MemoryFileSystem.put_file
    monkeypatch.setattr(
        MemoryFileSystem, "put_file", lambda self, lp, rp, **k: (puts.append(rp), real_put(self, lp, rp, **k))
    )
    remote.upload(done, "memory://bucket/x/a.bin")
    assert puts == ["/bucket/x/a.bin"] and MemoryFileSystem().cat_file("/bucket/x/a.bin") == done.read_bytes()
    # a whole unit whose upload fails: failed, nothing under the final name
    pic = tmp_path / "p.png"
    cv2.imwrite(str(pic), np.full((20, 30, 3), 80, np.uint8))
    monkeypatch.setattr(LocalFileSystem, "put_file", half_put)
    unit = Unit("p.png", "image", pic.as_uri(), (out / "p.png").as_uri())
    res = run_unit(unit, Config(StylizeOptions(style=str(model), device="cpu")))
    assert res.status == "failed" and "connection reset" in res.message and (out / "p.png").as_uri() in res.message
    assert sorted(p.name for p in out.iterdir()) == ["a.bin"]


def two_picture_units(tmp_path: Path) -> list:
    """Two picture units (``a.png``, ``b.png``) into ``tmp_path / "out"``, for the pool's own tests."""
    from rtstyle.batch.work import Unit

    units = []
    for name in ("a", "b"):
        pic = tmp_path / f"{name}.png"
        cv2.imwrite(str(pic), np.full((24, 32, 3), 90, np.uint8))
        units.append(Unit(f"{name}.png", "image", str(pic), str(tmp_path / "out" / f"{name}.png")))
    (tmp_path / "out").mkdir()
    return units


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_stop_never_lands_inside_the_pools_bookkeeping(
    tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in CI: a Ctrl-C'd ``rtstyle batch`` that never ended. The raise had landed inside ``concurrent.futures``'
    ``wait`` between two of its lock acquisitions, the lock stayed held, and the pool's shutdown waited on it
    forever. The driver now takes a stop only between its looks at the pool: here the signal comes while ``wait``
    runs, which carries on to its end, and the run stops right after with the workers shut down."""
    from concurrent.futures import wait as real_wait

    from rtstyle.batch import local
    from rtstyle.batch.work import Config

    units = two_picture_units(tmp_path)
    went_on: list[bool] = []

    def wait_with_a_signal_inside(*args: object, **kwargs: object) -> object:
        if not went_on:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # the handler has run by now: a raise would land here
            went_on.append(True)
        return real_wait(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(local, "wait", wait_with_a_signal_inside)
    t0 = time.monotonic()
    with pytest.raises(Stopped) as stop, stop_signals(say=lambda message: None):
        local.run_local(units, Config(StylizeOptions(style=str(model), device="cpu")), 2, 0, lambda r: None)
    assert went_on == [True] and stop.value.signum == signal.SIGTERM and time.monotonic() - t0 < 60
    assert not leftovers(tmp_path / "out")


def test_an_interrupt_still_records_units_that_had_finished(tmp_path: Path, model: Path) -> None:
    """The signal lands while the driver handles one result and another unit's output is already in place: that
    unit is still reported (and so recorded in the manifest), or the next run would do a complete file again."""
    from rtstyle.batch.local import run_local
    from rtstyle.batch.work import Config

    units = two_picture_units(tmp_path)
    seen: list[str] = []

    def on_result(r: object) -> None:
        seen.append(r.key)  # type: ignore[attr-defined]
        if len(seen) == 1:
            other = tmp_path / "out" / ("b.png" if r.key == "a.png" else "a.png")  # type: ignore[attr-defined]
            deadline = time.monotonic() + 60
            while not other.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # its worker returns its result
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_local(units, Config(StylizeOptions(style=str(model), device="cpu")), 2, 0, on_result)
    assert set(seen) == {"a.png", "b.png"}  # the one interrupted in its handling may come again: the driver skips it
