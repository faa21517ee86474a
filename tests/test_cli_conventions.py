"""The command-line conventions: install hints, exit codes, --version, --json, --quiet/--verbose, environment
defaults, ``-`` for stdin/stdout and folders in ``rtstyle image``, a missing extra in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import synthetic_frame
from test_cli_image import assert_one_line_error, run_cli

from rtstyle import __version__, diagnostics
from rtstyle.cli import cameras, hints
from rtstyle.cli.main import build_app
from rtstyle.io.demo_clip import write_demo_clip


@pytest.fixture()
def picture(tmp_path: Path) -> Path:
    p = tmp_path / "in.png"
    cv2.imwrite(str(p), synthetic_frame(48, 64))
    return p


def test_install_hints_are_quoted_and_fit_this_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = hints.checkout_root()
    assert root is not None and (root / "rtstyle" / "cli" / "hints.py").is_file()  # the tests run from a checkout
    monkeypatch.chdir(root)
    assert hints.pip_install("cuda") == 'pip install -e ".[cuda]"'
    monkeypatch.chdir(tmp_path)
    assert hints.pip_install("cuda") == f'pip install -e "{root}[cuda]"'
    monkeypatch.setattr(hints, "checkout_root", lambda: None)  # an installed package
    assert hints.pip_install("train") == 'pip install "rtstyle[train]"'
    for said in ("pip install rtstyle[vcam]", "pip install 'rtstyle[vcam]'", "pip install rtstyle\\[vcam]"):
        assert (
            hints.fix_install_hints(f"needs it: `{said}` (or not)")
            == 'needs it: `pip install "rtstyle[vcam]"` (or not)'
        )


def test_doctor_shows_the_cuda_extra(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """rich took ``[cuda]`` for markup and printed ``pip install rtstyle``."""
    real = diagnostics.gather()
    why = "CUDA/cuDNN libraries missing (libcublas.so.13): install them with `pip install rtstyle[cuda]` or a toolkit"
    fake = {**real, "providers": {**real["providers"], "CUDAExecutionProvider": {"runs": False, "why": why}}}
    monkeypatch.setattr(diagnostics, "gather", lambda: fake)
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.chdir(hints.checkout_root())
    code, out, _ = run_cli(["doctor"], capsys)
    assert code == 0 and 'install them with `pip install -e ".[cuda]"` or a toolkit' in out, out


# ---------------------------------------------------------------- exit codes, --version, a missing extra


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--version", "-V"):
        code, out, _ = run_cli([flag], capsys)
        assert code == 0 and out.strip() == f"rtstyle {__version__}"


def test_exit_codes_usage_2_failure_1(tmp_path: Path, picture: Path, test_model: Path, capsys) -> None:
    code, _, err = run_cli(["image", picture, tmp_path / "o.png", "--strength", "2"], capsys)  # the command line
    assert code == 2 and "Invalid value" in err
    code, _, err = run_cli(["image", picture], capsys)  # a missing argument
    assert code == 2
    code, _, err = run_cli(["image", tmp_path / "nope.png", tmp_path / "o.png", "-s", test_model], capsys)
    assert_one_line_error(code, err)
    assert code == 1 and "not found" in err  # bad input
    code, _, err = run_cli(["image", picture, tmp_path / "o.png", "-s", "no-such-style", "-d", "cpu"], capsys)
    assert code == 1  # an unknown style is bad input too


SHIM = "import sys\nsys.modules['torch'] = None  # `import torch` fails as if the [train] extra were not installed\n"


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--style-image", "p.jpg", "--data", "photos", "--name", "x"],
        ["export", "ckpt.pt", "out.onnx"],
        ["eval", "mosaic", "--style-image", "p.jpg", "--photos", "photos"],
    ],
    ids=["train", "export", "eval"],
)
def test_missing_train_extra_is_one_line(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "shim").mkdir()
    (tmp_path / "shim" / "sitecustomize.py").write_text(SHIM)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "shim"), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run(
        [sys.executable, "-m", "rtstyle", *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rtstyle: error: `rtstyle {args[0]}` needs the train extra")
    assert "torch is not installed" in lines[0] and f'pip install -e "{hints.checkout_root()}[train]"' in lines[0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(("signame", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_stop_while_the_program_starts_is_one_line(tmp_path: Path, signame: str, code: int) -> None:
    """Ctrl-C in the first half second (the imports, before the commands' own handlers) printed a traceback. The
    signal here comes from inside the import of typer (a stand-in on the path that sends it and waits)."""
    shim = tmp_path / "shim" / "typer"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        f"import os, signal, time\nos.kill(os.getpid(), signal.{signame})\ntime.sleep(30)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim.parent), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run(
        [sys.executable, "-m", "rtstyle", "--version"], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == code and r.stderr == "rtstyle: error: interrupted\n", r.stderr
    assert r.stdout == ""


def test_cameras_none_found_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cameras, "probe_cameras", lambda max_index: [])
    code, out, err = run_cli(["cameras"], capsys)
    assert_one_line_error(code, err)
    assert code == 1 and "no cameras found" in err and out == ""
    code, out, _ = run_cli(["cameras", "--json"], capsys)
    assert code == 1 and json.loads(out) == {"cameras": []}
    cam = cameras.CameraInfo("0", 640, 480, 30.0, "V4L2")
    monkeypatch.setattr(cameras, "probe_cameras", lambda max_index: [cam])
    code, out, _ = run_cli(["cameras", "--json"], capsys)
    assert code == 0 and json.loads(out)["cameras"] == [
        {"spec": "0", "width": 640, "height": 480, "fps": 30.0, "backend": "V4L2"}
    ]
    code, out, _ = run_cli(["cameras"], capsys)
    assert code == 0 and out == "0\t640x480\t30 fps\t(V4L2)\n"


# ---------------------------------------------------------------- --json, --quiet, --verbose, environment


def test_image_json_quiet_verbose(tmp_path: Path, picture: Path, test_model: Path, capsys) -> None:
    st = ["-s", test_model, "-d", "cpu"]
    code, out, _ = run_cli(["image", picture, tmp_path / "a.png", *st, "--json"], capsys)
    r = json.loads(out)
    assert code == 0 and r["status"] == "done" and (r["width"], r["height"]) == (64, 48)
    assert r["provider"] == "CPUExecutionProvider" and r["output"] == str(tmp_path / "a.png")
    # an alpha plane dropped into a JPEG is a notice: --quiet says nothing at all, before or after the command
    rgba = tmp_path / "rgba.png"
    cv2.imwrite(str(rgba), np.dstack([synthetic_frame(30, 50), np.full((30, 50), 128, np.uint8)]))
    code, out, err = run_cli(["image", rgba, tmp_path / "b.jpg", *st], capsys)
    assert code == 0 and "wrote" in out and "alpha" in err
    for args in (["-q", "image", rgba, tmp_path / "c.jpg", *st], ["image", rgba, tmp_path / "d.jpg", *st, "--quiet"]):
        code, out, err = run_cli(args, capsys)
        assert code == 0 and out == "" and err == "", (out, err)
    assert (tmp_path / "c.jpg").is_file() and (tmp_path / "d.jpg").is_file()
    assert "RTSTYLE_QUIET" not in os.environ  # for this run only
    code, out, err = run_cli(["image", picture, tmp_path / "e.png", *st, "-v"], capsys)
    assert code == 0 and "onnxruntime providers CPUExecutionProvider" in err and str(test_model) in err
    code, _, err = run_cli(["image", picture, tmp_path / "nope" / "f.png", *st, "-q"], capsys)
    assert_one_line_error(code, err)  # errors are still said


def test_video_and_demo_json(tmp_path: Path, models_dir: Path, capsys) -> None:
    clip = write_demo_clip(tmp_path / "clip.mp4", seconds=0.4, size=(64, 36))
    args = ["video", clip, tmp_path / "v.mp4", "-s", "alpha", "-d", "cpu", "--preset", "ultrafast", "--json"]
    code, out, _ = run_cli(args, capsys)
    r = json.loads(out)
    assert code == 0 and r["frames"] == 10 and r["output"] == str(tmp_path / "v.mp4") and r["style"] == "alpha"
    assert 0 < r["latency_p50_ms"] <= r["latency_p95_ms"]
    args = ["demo", "--out", tmp_path / "d.mp4", "--seconds", "0.4", "-d", "cpu", "--smooth", "off", "--json", "-q"]
    code, out, err = run_cli(args, capsys)
    r = json.loads(out)
    assert code == 0 and r["frames"] == 10 and r["output"] == str((tmp_path / "d.mp4").resolve()) and err == ""


def test_environment_defaults(
    tmp_path: Path, picture: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("RTSTYLE_STYLE", "red")
    monkeypatch.setenv("RTSTYLE_DEVICE", "cpu")
    code, out, _ = run_cli(["image", picture, tmp_path / "a.png", "--json"], capsys)
    assert code == 0 and json.loads(out)["style"] == "red"
    code, out, _ = run_cli(["image", picture, tmp_path / "b.png", "-s", "alpha", "--json"], capsys)
    assert code == 0 and json.loads(out)["style"] == "alpha"  # the command line wins
    code, out, err = run_cli(["image", picture, tmp_path / "c.png", "--blend", "red:blue:0.5", "--json"], capsys)
    assert code == 0 and "blue" in json.loads(out)["style"], err  # --blend chooses, RTSTYLE_STYLE is a default
    monkeypatch.setenv("RTSTYLE_DEVICE", "tpu")
    code, _, err = run_cli(["image", picture, tmp_path / "d.png"], capsys)
    assert code == 2 and "RTSTYLE_DEVICE" in err or "tpu" in err
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_cli(["image", "--help"], capsys)
    assert "env var: RTSTYLE_STYLE" in out and "env var: RTSTYLE_DEVICE" in out


# ---------------------------------------------------------------- rtstyle image: -, folders


def run_piped(args: list[object], data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "rtstyle", "image", *map(str, args)], input=data, capture_output=True, timeout=120
    )


def test_image_stdin_to_stdout(tmp_path: Path, picture: Path, test_model: Path) -> None:
    st = ["-s", test_model, "-d", "cpu"]
    r = run_piped(["-", "-", *st], picture.read_bytes())
    assert r.returncode == 0 and r.stdout.startswith(b"\x89PNG"), r.stderr
    assert cv2.imdecode(np.frombuffer(r.stdout, np.uint8), cv2.IMREAD_COLOR).shape == (48, 64, 3)
    assert b"wrote stdout" in r.stderr
    r = run_piped(["-", "-", *st, "--format", "jpg", "-q"], picture.read_bytes())
    assert r.returncode == 0 and r.stdout.startswith(b"\xff\xd8") and r.stderr == b""
    r = run_piped(["-", tmp_path / "from-stdin.webp", *st], picture.read_bytes())
    assert r.returncode == 0 and cv2.imread(str(tmp_path / "from-stdin.webp")).shape == (48, 64, 3)
    r = run_piped([picture, "-", *st, "--format", "webp"], b"")
    assert r.returncode == 0 and r.stdout[8:12] == b"WEBP"
    r = run_piped(["-", "-", *st], b"")
    assert (
        r.returncode == 1
        and r.stdout == b""
        and r.stderr.decode().strip() == "rtstyle: error: IN is - but stdin was empty"
    )
    r = run_piped(["-", "-", *st], b"not a picture")
    assert r.returncode == 1 and r.stdout == b"" and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith(b"rtstyle: error: stdin is not a readable picture"), r.stderr
    r = run_piped([picture, "-", *st, "--json"], b"")
    assert r.returncode == 2 and r.stdout == b""
    r = run_piped([picture, tmp_path / "x.png", *st, "--format", "jpg"], b"")
    assert r.returncode == 2 and not (tmp_path / "x.png").exists()


def test_image_folder(tmp_path: Path, test_model: Path, capsys) -> None:
    photos, styled = tmp_path / "photos", tmp_path / "styled"
    photos.mkdir()
    for i, ext in enumerate((".jpg", ".png", ".webp")):
        cv2.imwrite(str(photos / f"p{i}{ext}"), synthetic_frame(24 + i, 40))
    (photos / "notes.txt").write_text("not a picture")
    (photos / "sub").mkdir()
    cv2.imwrite(str(photos / "sub" / "deep.png"), synthetic_frame(8, 8))  # the top level only
    st = ["-s", test_model, "-d", "cpu"]
    code, out, _ = run_cli(["image", photos, styled, *st], capsys)
    assert code == 0 and "3 written" in out
    assert sorted(p.name for p in styled.iterdir()) == ["p0.jpg", "p1.png", "p2.webp"]
    assert cv2.imread(str(styled / "p1.png")).shape == (25, 40, 3)
    # again: every output exists and is skipped (untouched) unless --force
    before = {p.name: p.stat().st_mtime_ns for p in styled.iterdir()}
    (styled / "p1.png").unlink()
    code, out, _ = run_cli(["image", photos, styled, *st, "--json"], capsys)
    r = json.loads(out)
    assert code == 0 and r["counts"] == {"done": 1, "skipped": 2, "failed": 0}
    assert all(before[p.name] == p.stat().st_mtime_ns for p in styled.iterdir() if p.name != "p1.png")
    code, out, _ = run_cli(["image", photos, styled, *st, "--force", "--format", "png"], capsys)
    assert code == 0 and "3 written" in out and (styled / "p0.png").is_file() and (styled / "p2.png").is_file()
    # a bad picture is one error line and exit 1; the others are written; nothing half-written anywhere
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    code, out, err = run_cli(["image", photos, tmp_path / "again", *st], capsys)
    assert code == 1 and "3 written, 1 failed" in out
    assert [ln for ln in err.splitlines() if ln.startswith("rtstyle: error: broken.jpg: ")]
    assert len(list((tmp_path / "again").iterdir())) == 3
    assert not [p for p in tmp_path.rglob("*.part*")]
    # refused in one line: OUT is the input folder, a file, or -; an empty folder
    for out_arg in (photos, photos / "p0.jpg", "-"):
        code, _, err = run_cli(["image", photos, out_arg, *st], capsys)
        assert_one_line_error(code, err)
        assert code == 1
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["image", tmp_path / "empty", styled, *st], capsys)
    assert_one_line_error(code, err)
    assert "no pictures" in err


# ---------------------------------------------------------------- help


def test_every_option_has_help() -> None:
    import typer.main

    group = typer.main.get_command(build_app())
    missing = [
        f"{name} {p.opts[0]}"
        for name, cmd in group.commands.items()  # type: ignore[attr-defined]
        for p in cmd.params
        if not getattr(p, "help", None) and p.opts[0] not in ("--help",)
    ]
    assert missing == []


def test_webcam_help_is_grouped_with_an_example(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = run_cli(["webcam", "--help"], capsys)
    assert code == 0
    for panel in ("Input", "Style", "Smoothing", "Output", "Streaming", "Display", "Performance", "Run"):
        assert f"─ {panel} ─" in out, panel
    assert "─ Options ─" in out  # --help alone
    assert "rtstyle webcam --camera clip.mp4" in out  # the examples


def test_batch_quiet_says_nothing(tmp_path: Path, picture: Path, test_model: Path, capsys) -> None:
    out = tmp_path / "out"
    args = ["batch", picture, "-o", out, "-s", test_model, "-d", "cpu", "-j", "1"]
    code, stdout, err = run_cli([*args, "-q"], capsys)
    assert code == 0 and stdout == "" and err == "" and (out / "in.png").is_file()
    code, stdout, _ = run_cli([*args, "--json", "-q"], capsys)  # the JSON result is still printed
    assert code == 0 and json.loads(stdout)["files"][0]["status"] == "up-to-date"


def test_image_folder_heic_comes_out_as_jpeg(tmp_path: Path, test_model: Path, capsys) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    pillow_heif.register_heif_opener()
    photos = tmp_path / "phone"
    photos.mkdir()
    Image.fromarray(synthetic_frame(32, 48)[..., ::-1].copy()).save(photos / "IMG_0001.HEIC", quality=90)
    code, out, _ = run_cli(["image", photos, tmp_path / "styled", "-s", test_model, "-d", "cpu"], capsys)
    assert code == 0 and "1 written" in out
    assert cv2.imread(str(tmp_path / "styled" / "IMG_0001.jpg")).shape == (32, 48, 3)


def test_webcam_json_and_quiet(models_dir: Path, tmp_path: Path) -> None:
    from test_cli_webcam import run_cli as run_webcam

    clip = write_demo_clip(tmp_path / "clip.mp4", seconds=0.4, size=(96, 64))
    args = ["webcam", "--camera", str(clip), "--no-window", "--max-frames", "4", "--as-fast-as-possible", "-s", "alpha"]
    res = run_webcam(*args, "-d", "cpu", "--record", str(tmp_path / "rec.mp4"), "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["frames"] == 4 and r["styles"] == ["alpha"] and r["recorded"] == str(tmp_path / "rec.mp4")
    res = run_webcam(*args, "-d", "cpu", "-q", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res.stderr
