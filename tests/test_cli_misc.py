from __future__ import annotations

import inspect
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import make_contract_model
from test_cli_image import assert_one_line_error, run_cli

from rtstyle import catalog
from rtstyle.adjust import parse_sizes
from rtstyle.bench import bench_model, export_random_johnson
from rtstyle.io.demo_clip import DemoClipSource, DemoScene, write_demo_clip
from rtstyle.runtime import hardware
from rtstyle.runtime.stylizer import Stylizer


@pytest.fixture()
def no_shipped(monkeypatch):
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: None)


def test_help_imports_nothing_heavy():
    code = (
        "import sys, runpy\n"
        "sys.argv = ['rtstyle', '--help']\n"
        "try:\n"
        "    runpy.run_module('rtstyle', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('torch', 'onnxruntime', 'cv2', 'numpy', 'onnx') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY=\n" in r.stdout or r.stdout.rstrip().endswith("HEAVY="), r.stdout + r.stderr
    assert "image" in r.stdout and "bench" in r.stdout


def test_styles_import_and_remove_need_no_torch():
    """`rtstyle styles import/remove` read the shipped names from rtstyle.train.newstyle: a runtime-only install
    (no torch) must be able to import it; only `add` trains."""
    code = "import sys, rtstyle.train.newstyle, rtstyle.userstyles\nprint('TORCH=' + str('torch' in sys.modules))\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "TORCH=False" in r.stdout, r.stdout + r.stderr


def test_styles_json_and_table(models_dir, no_shipped, capsys):
    code, out, _ = run_cli(["styles", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    got = {(s["name"], s["tier"], s["arch"]) for s in data["styles"]}
    assert ("beta", "fast", "test-fast") in got and ("red", "full", "test-conv") in got
    assert data["user_dir"] == str(models_dir)
    code, out, _ = run_cli(["styles"], capsys)
    assert code == 0 and "alpha" in out and "duo.onnx" in out


def test_doctor_json(models_dir, no_shipped, capsys):
    code, out, _ = run_cli(["doctor", "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["providers"]["CPUExecutionProvider"]["runs"] is True
    assert "CPUExecutionProvider" in info["providers_running"]
    cuda = info["providers"].get("CUDAExecutionProvider")
    if cuda is not None and not cuda["runs"]:
        assert cuda["why"]  # says why
    assert info["models_user_dir"] == str(models_dir) and info["styles"] == 4
    code, out, _ = run_cli(["doctor"], capsys)
    assert code == 0 and "CPUExecutionProvider" in out


def test_bench_json(test_model, capsys):
    assert parse_sizes("64x36, 20x10") == [(64, 36), (20, 10)]
    args = ["bench", "--model", test_model, "--sizes", "64x36,5x3", "--device", "cpu", "--frames", "3"]
    code, out, _ = run_cli([*args, "--warmup", "1", "--json"], capsys)
    assert code == 0
    res = json.loads(out)["results"]
    assert [r["size"] for r in res] == ["64x36", "5x3"]
    assert all(r["provider"] == "CPUExecutionProvider" and r["ms_median"] > 0 and r["frames"] == 3 for r in res)
    code, out, _ = run_cli([*args, "--warmup", "0"], capsys)
    assert code == 0 and "solo.onnx" in out
    # --lanes 2: two frames per timed run, ms/frame is the run's time over its frames, each frame's own time beside
    code, out, _ = run_cli([*args, "--warmup", "0", "--lanes", "2", "--json"], capsys)
    res = json.loads(out)["results"]
    assert code == 0 and all(r["lanes"] == 2 and r["threads"] >= 1 and r["ms_frame_latency"] > 0 for r in res)
    code, out, _ = run_cli([*args, "--warmup", "0", "--lanes", "2"], capsys)
    assert code == 0 and "2 frames at once" in out and "1 frame" in out


def test_eval_reports_distances_and_the_block_figures(test_model, tmp_path, capsys):
    """``rtstyle eval`` gives the style and content distances and the two blockiness figures (the 8-px pattern
    and the 4-px block edges), as text and as JSON; a missing photo folder is one line."""
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(photos / f"p{i}.png"), cv2.GaussianBlur(rng.integers(0, 255, (72, 96, 3), np.uint8), (5, 5), 2))
    painting = tmp_path / "painting.png"
    cv2.imwrite(str(painting), rng.integers(0, 255, (64, 64, 3), np.uint8))
    args = ["eval", str(test_model), "--style-image", str(painting), "--photos", str(photos)]
    code, out, _ = run_cli([*args, "--vgg-weights", "random-for-tests", "--json"], capsys)
    assert code == 0
    r = json.loads(out)
    assert r["photos"] == 2 and r["style_distance"] > 0 and r["content_distance"] > 0
    assert r["grid"] >= 0 and r["seams"] > 0
    code, out, _ = run_cli([*args, "--vgg-weights", "random-for-tests"], capsys)
    assert code == 0 and "style distance" in out and "4-px block edges" in out
    code, _, err = run_cli(
        ["eval", str(test_model), "--style-image", str(painting), "--photos", str(tmp_path / "none")], capsys
    )
    assert_one_line_error(code, err)


def test_bench_bad_args(test_model, capsys):
    code, _, err = run_cli(["bench", "--model", test_model, "--sizes", "big"], capsys)
    assert_one_line_error(code, err)
    code, _, err = run_cli(["bench", "--model", test_model, "--device", "tpu"], capsys)
    assert_one_line_error(code, err)


def test_bench_video(tmp_path, test_model, capsys):
    clip = write_demo_clip(tmp_path / "clip.mp4", seconds=0.4, size=(96, 54))
    args = ["bench", "--model", test_model, "--sizes", "32x18", "--device", "cpu", "--frames", "1"]
    code, out, _ = run_cli([*args, "--video", clip, "--smooth", "off", "--json"], capsys)
    assert code == 0
    v = json.loads(out)["video"][0]
    assert v["frames"] == 10 and v["fps"] > 0, v


def test_demo_writes_clip(tmp_path, models_dir, no_shipped, capsys):
    out = tmp_path / "demo.mp4"
    code, stdout, _ = run_cli(["demo", "--out", out, "--seconds", "0.4", "--device", "cpu", "--smooth", "off"], capsys)
    assert code == 0 and str(out) in stdout
    cap = cv2.VideoCapture(str(out))
    n = 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        n += 1
        assert f.shape == (360, 640, 3)
    assert n == 10


def test_demo_on_a_cpu_runs_the_default_styles_fast_tier(tmp_path, monkeypatch, capsys):
    """The fast tier shipped (issue 11): on a CPU the demo runs the default style's fast file, as every command
    does (it ran the full tier at 384 px while the fast tier was the provisional mosaic)."""
    shipped = tmp_path / "shipped"
    # mosaic is style 2 of the full file (red +80) and style 1 of the fast one (red +40): the outputs differ
    make_contract_model(shipped / "zoo-full.onnx", styles=("candy", "mosaic"), tier="full")
    make_contract_model(shipped / "mosaic-fast.onnx", styles=("mosaic",), tier="fast", arch="test-fast")
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: shipped)
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "none"))
    args = ["demo", "--seconds", "0.2", "--device", "cpu", "--smooth", "off", "--json"]
    first = {}
    for name, extra in (("default", []), ("fast", ["--tier", "fast"]), ("full", ["--tier", "full"])):
        code, out, err = run_cli([*args, "--out", tmp_path / f"{name}.mp4", *extra], capsys)
        assert code == 0 and json.loads(out)["style"] == "mosaic" and "384 px" not in err
        cap = cv2.VideoCapture(str(tmp_path / f"{name}.mp4"))
        ok, first[name] = cap.read()
        cap.release()
        assert ok
    assert np.array_equal(first["default"], first["fast"])
    assert first["full"][:, :, 2].mean() > first["fast"][:, :, 2].mean() + 20  # the full file's +80 red


def test_demo_without_styles(tmp_path, no_shipped, monkeypatch, capsys):
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "empty"))
    code, _, err = run_cli(["demo", "--out", tmp_path / "d.mp4"], capsys)
    assert_one_line_error(code, err)
    assert "no styles" in err and not (tmp_path / "d.mp4").exists()


def test_demo_clip_deterministic():
    a, b = DemoScene((160, 90)), DemoScene((160, 90))
    assert np.array_equal(a.frame(7), b.frame(7)) and not np.array_equal(a.frame(0), a.frame(12))
    src = DemoClipSource(seconds=0.2, size=(32, 18))
    frames = []
    while (item := src.read()) is not None:
        frames.append(item)
    assert len(frames) == 5 and frames[1][1] == pytest.approx(0.04) and frames[0][0].shape == (18, 32, 3)


def test_random_johnson_export(tmp_path, monkeypatch):
    """The bench builds a Johnson-size net and calls the exporter with a signature it accepts (export faked)."""
    pytest.importorskip("torch")  # the training extra
    from rtstyle import export

    real_sig = inspect.signature(export.export_onnx)
    seen = {}

    def fake_export(*args, **kwargs):
        bound = real_sig.bind(*args, **kwargs)
        seen.update(bound.arguments)
        return make_contract_model(bound.arguments["path"], styles=("random-johnson",), arch="johnson")

    monkeypatch.setattr(export, "export_onnx", fake_export)
    path = export_random_johnson(tmp_path)
    params = sum(p.numel() for p in seen["net"].parameters())
    assert seen["arch"] == "johnson" and 1.5e6 < params < 2.0e6  # 32/64/128 channels, 5 residual blocks
    rows = bench_model(path, "cpu", [(40, 24)], frames=1, warmup=0)
    assert rows[0]["arch"] == "johnson" and rows[0]["ms_median"] > 0


def test_multi_style_in_catalogue_lists_both(tmp_path, monkeypatch, no_shipped, capsys):
    d = tmp_path / "m"
    make_contract_model(d / "trio.onnx", styles=("a", "b", "c"))
    monkeypatch.setenv("RTSTYLE_MODELS", str(d))
    code, out, _ = run_cli(["styles", "--json"], capsys)
    assert [s["index"] for s in json.loads(out)["styles"]] == [0, 1, 2]


def test_bench_skips_cuda_with_reason(test_model, monkeypatch, capsys):
    monkeypatch.setattr(hardware, "cuda_unavailable_reason", lambda: "libcudnn.so.9 missing")
    args = ["bench", "--model", test_model, "--sizes", "8x8", "--frames", "1", "--warmup", "0"]
    code, out, _ = run_cli([*args, "--device", "cpu,cuda", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert "libcudnn" in data["skipped_devices"]["cuda"] and {r["device"] for r in data["results"]} == {"cpu"}
    code, _, err = run_cli([*args, "--device", "cuda"], capsys)
    assert_one_line_error(code, err)
    assert "libcudnn" in err


def test_demo_ctrl_c_leaves_nothing(tmp_path, models_dir, no_shipped, monkeypatch, capsys):
    real_call = Stylizer.__call__
    calls = {"n": 0}

    def interrupted(self, frame):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_call(self, frame)

    monkeypatch.setattr(Stylizer, "__call__", interrupted)
    out = tmp_path / "demo.mp4"
    code, _, err = run_cli(["demo", "--out", out, "--seconds", "0.4", "--device", "cpu", "--smooth", "off"], capsys)
    assert code == 130 and "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith("rtstyle: error:")]
    assert len(errors) == 1 and "interrupted" in errors[0]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if "demo" in p.name]
