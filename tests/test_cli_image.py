from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest
from conftest import make_contract_model, synthetic_frame

from rtstyle.cli.main import main

# EXIF (TIFF) block with one entry: Orientation = 6 (rotate 90 degrees clockwise to display).
EXIF_ROT90 = (
    b"II*\x00"
    + struct.pack("<I", 8)
    + struct.pack("<H", 1)
    + struct.pack("<HHII", 0x0112, 3, 1, 6)
    + struct.pack("<I", 0)
)


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as ei:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return ei.value.code, out.out, out.err


def assert_one_line_error(code, err):
    assert code not in (0, None)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("rtstyle: notice:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("rtstyle: error: ") and "Traceback" not in err


def jpeg_with_exif(img):
    b = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 100])[1].tobytes()
    app1 = b"Exif\x00\x00" + EXIF_ROT90
    return b[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + b[2:]


def png_with_exif(img):
    b = cv2.imencode(".png", img)[1].tobytes()
    chunk = b"eXIf" + EXIF_ROT90
    c = struct.pack(">I", len(EXIF_ROT90)) + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF)
    return b[:33] + c + b[33:]  # after the signature and IHDR


@pytest.fixture()
def png(tmp_path):
    p = tmp_path / "in.png"
    cv2.imwrite(str(p), synthetic_frame(48, 64))
    return p


def test_image_basic(tmp_path, png, test_model, capsys):
    out = tmp_path / "out.png"
    code, stdout, _ = run_cli(["image", png, out, "--style", test_model, "--device", "cpu"], capsys)
    assert code == 0 and "wrote" in stdout
    y = cv2.imread(str(out))
    assert y.shape == (48, 64, 3) and not np.array_equal(y, cv2.imread(str(png)))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_image_options(tmp_path, png, test_model, capsys):
    out = tmp_path / "o.jpg"
    args = ["image", png, out, "--style", test_model, "--device", "cpu", "--max-side", "20", "--strength", "0.5"]
    code, _, _ = run_cli([*args, "--preserve-color"], capsys)
    assert code == 0 and cv2.imread(str(out)).shape == (48, 64, 3)


def test_image_catalogue_style_and_blend(tmp_path, png, models_dir, capsys):
    out = tmp_path / "b.png"
    code, _, _ = run_cli(["image", png, out, "--blend", "red:blue:0.5", "--device", "cpu"], capsys)
    assert code == 0
    code, _, err = run_cli(["image", png, out, "--style", "alpah", "--device", "cpu", "--force"], capsys)
    assert_one_line_error(code, err)
    assert "did you mean" in err and "alpha" in err


def test_exif_orientation_jpeg(tmp_path, test_model, capsys):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :10] = 255  # white band on the left; rotated 90 cw it is at the top
    src = tmp_path / "rot.jpg"
    src.write_bytes(jpeg_with_exif(img))
    out = tmp_path / "rot_out.png"
    code, _, _ = run_cli(["image", src, out, "--style", test_model, "--device", "cpu", "--strength", "0"], capsys)
    assert code == 0
    y = cv2.imread(str(out))
    assert y.shape == (40, 20, 3)
    assert y[:8].mean() > 200 and y[-8:].mean() < 50


def test_alpha_kept_and_oriented(tmp_path, test_model, capsys):
    img = np.zeros((20, 40, 4), np.uint8)
    img[:, :10, :3] = 255
    img[..., 3] = 60
    img[:, :10, 3] = 250  # alpha follows the white band
    src = tmp_path / "a.png"
    src.write_bytes(png_with_exif(img))
    out = tmp_path / "a_out.png"
    code, _, _ = run_cli(["image", src, out, "--style", test_model, "--device", "cpu"], capsys)
    assert code == 0
    y = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert y.shape == (40, 20, 4)
    assert (y[:10, :, 3] == 250).all() and (y[-10:, :, 3] == 60).all()


def test_alpha_plain_png_and_jpeg_drop_notice(tmp_path, test_model, capsys):
    img = np.dstack([synthetic_frame(30, 50), np.tile(np.arange(50, dtype=np.uint8) * 5, (30, 1))])
    src = tmp_path / "plain.png"
    cv2.imwrite(str(src), img)
    out = tmp_path / "plain_out.png"
    assert run_cli(["image", src, out, "--style", test_model, "--device", "cpu"], capsys)[0] == 0
    assert np.array_equal(cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., 3], img[..., 3])
    code, _, err = run_cli(["image", src, tmp_path / "x.jpg", "--style", test_model, "--device", "cpu"], capsys)
    assert code == 0 and "alpha" in err


def test_grayscale_input(tmp_path, test_model, capsys):
    src = tmp_path / "g.png"
    cv2.imwrite(str(src), synthetic_frame(30, 50)[..., 1])
    out = tmp_path / "g_out.png"
    assert run_cli(["image", src, out, "--style", test_model, "--device", "cpu"], capsys)[0] == 0
    assert cv2.imread(str(out), cv2.IMREAD_UNCHANGED).shape == (30, 50, 3)


def test_bad_inputs_one_line(tmp_path, png, test_model, capsys):
    st = ["--style", test_model, "--device", "cpu"]
    # missing input
    code, _, err = run_cli(["image", tmp_path / "nope.png", tmp_path / "o.png", *st], capsys)
    assert_one_line_error(code, err)
    assert "not found" in err
    # corrupt input
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    code, _, err = run_cli(["image", bad, tmp_path / "o.png", *st], capsys)
    assert_one_line_error(code, err)
    # empty input
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    code, _, err = run_cli(["image", empty, tmp_path / "o.png", *st], capsys)
    assert_one_line_error(code, err)
    # OUT == IN: refused, input untouched
    before = png.read_bytes()
    code, _, err = run_cli(["image", png, png, *st], capsys)
    assert_one_line_error(code, err)
    assert "same file" in err and png.read_bytes() == before
    # unwritable output: folder missing, or a file in the way
    code, _, err = run_cli(["image", png, tmp_path / "no" / "dir" / "o.png", *st], capsys)
    assert_one_line_error(code, err)
    code, _, err = run_cli(["image", png, png / "o.png", *st], capsys)
    assert_one_line_error(code, err)
    # unknown format
    code, _, err = run_cli(["image", png, tmp_path / "o.xyz", *st], capsys)
    assert_one_line_error(code, err)
    assert not (tmp_path / "o.xyz").exists()


def test_bad_models_one_line(tmp_path, png, test_model, capsys):
    trunc = tmp_path / "trunc.onnx"
    trunc.write_bytes(test_model.read_bytes()[:300])
    code, _, err = run_cli(["image", png, tmp_path / "o.png", "--style", trunc, "--device", "cpu"], capsys)
    assert_one_line_error(code, err)
    broken = make_contract_model(tmp_path / "broken.onnx", meta_override={"rtstyle.styles": "[]"})
    code, _, err = run_cli(["image", png, tmp_path / "o.png", "--style", broken, "--device", "cpu"], capsys)
    assert_one_line_error(code, err)
    assert "no style" in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write anywhere")
def test_readonly_folder(tmp_path, png, test_model, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, _, err = run_cli(["image", png, ro / "o.png", "--style", test_model, "--device", "cpu"], capsys)
        assert_one_line_error(code, err)
    finally:
        ro.chmod(0o700)


def test_subprocess_error_has_no_traceback(tmp_path, png):
    r = subprocess.run(
        [sys.executable, "-m", "rtstyle", "image", str(png), str(png), "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("rtstyle: error:") and len(r.stderr.strip().splitlines()) == 1
