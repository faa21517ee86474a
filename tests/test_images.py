"""Pictures read upright by Pillow: EXIF orientation on every plane (alpha included), HEIC through pillow-heif,
the modes Pillow gives (palette, 16-bit gray, gray + alpha). Every file is generated here."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from rtstyle.errors import InputError, InputNotFound
from rtstyle.io.images import is_heif, read_image

ORIENTATION = 0x0112


def exif_bytes(orientation: int) -> bytes:
    ex = Image.Exif()
    ex[ORIENTATION] = orientation
    return ex.tobytes()


def upright(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """What a viewer shows for ``rgb`` stored with EXIF ``orientation`` (the EXIF definition, by hand)."""
    return {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.swapaxes(np.rot90(a, 2), 0, 1),  # transverse
        8: lambda a: np.rot90(a, 1),
    }[orientation](rgb)


def landscape(h: int = 20, w: int = 40) -> np.ndarray:
    """An RGB picture no rotation or flip maps onto itself: a red left stripe and a green top-left square."""
    a = np.full((h, w, 3), 90, np.uint8)
    a[:, :8] = (255, 0, 0)
    a[:6, :6] = (0, 255, 0)
    return a


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation(tmp_path, orientation):
    rgb = landscape()
    p = tmp_path / "photo.jpg"
    Image.fromarray(rgb).save(p, quality=100, exif=exif_bytes(orientation))
    got = read_image(p)
    want = upright(rgb, orientation)[..., ::-1]
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 6


@pytest.mark.parametrize("orientation", range(1, 9))
def test_png_alpha_follows_the_orientation(tmp_path, orientation):
    """The alpha plane is turned with the colour planes, even where the colour alone cannot tell the rotation
    (a uniform colour: the old way of guessing it from the colour planes kept the alpha as stored)."""
    rgba = np.zeros((20, 40, 4), np.uint8)
    rgba[..., :3] = 128
    rgba[..., 3] = landscape()[..., 0]  # the asymmetric pattern lives in the alpha plane only
    p = tmp_path / "cutout.png"
    Image.fromarray(rgba).save(p, exif=exif_bytes(orientation))
    got = read_image(p)
    assert got.shape[2] == 4
    np.testing.assert_array_equal(got[..., 3], upright(rgba[..., 3], orientation))
    assert (got[..., :3] == 128).all()


def test_png_modes(tmp_path):
    gray16 = (np.arange(16 * 24, dtype=np.uint16).reshape(16, 24) * 150).astype(np.uint16)
    p16 = tmp_path / "g16.png"
    cv2.imwrite(str(p16), gray16)
    got = read_image(p16)
    assert got.dtype == np.uint8 and got.shape == (16, 24)
    np.testing.assert_array_equal(got, (gray16 >> 8).astype(np.uint8))

    pal = Image.new("P", (10, 6), 1)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.info["transparency"] = 0
    pal.putpixel((0, 0), 0)
    pp = tmp_path / "pal.png"
    pal.save(pp, transparency=0)
    got = read_image(pp)
    assert got.shape == (6, 10, 4) and got[0, 0, 3] == 0 and got[1, 1, 3] == 255
    assert tuple(got[1, 1, :3]) == (0, 0, 255)  # red, in BGR

    la = Image.fromarray(np.dstack([np.full((5, 7), 200, np.uint8), np.full((5, 7), 30, np.uint8)]), "LA")
    pla = tmp_path / "la.png"
    la.save(pla)
    got = read_image(str(pla))  # a str path works too
    assert got.shape == (5, 7, 4) and (got[..., :3] == 200).all() and (got[..., 3] == 30).all()


def test_missing_and_unreadable(tmp_path):
    with pytest.raises(InputNotFound) as ei:
        read_image(tmp_path / "nope.jpg")
    assert isinstance(ei.value, FileNotFoundError)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture at all")
    with pytest.raises(InputError, match="not a readable picture"):
        read_image(bad)


def fake_heic(tmp_path):
    p = tmp_path / "IMG_0001.HEIC"
    p.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    return p


def test_heic_without_pillow_heif_says_what_to_install(tmp_path, monkeypatch):
    p = fake_heic(tmp_path)
    assert is_heif(p.read_bytes())
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import fails
    with pytest.raises(InputError) as ei:
        read_image(p)
    msg = str(ei.value)
    assert "\n" not in msg and "pillow-heif" in msg and "rtstyle[heif]" in msg


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_heic_read_upright(tmp_path, orientation):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    rgb = landscape(32, 48)
    p = tmp_path / "IMG_0002.heic"
    Image.fromarray(rgb).save(p, quality=100, exif=exif_bytes(orientation))
    assert is_heif(p.read_bytes())
    got = read_image(p)
    want = upright(rgb, orientation)[..., ::-1]
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 12


def test_heic_alpha_and_corrupt(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    rgba = np.zeros((16, 24, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba[:, :12, 3] = 0
    p = tmp_path / "cut.heic"
    Image.fromarray(rgba).save(p, quality=100)
    got = read_image(p)
    assert got.shape == (16, 24, 4) and got[:, :10, 3].max() < 30 and got[:, 14:, 3].min() > 220
    with pytest.raises(InputError, match="HEIC"):
        read_image(fake_heic(tmp_path))


def test_cli_image_reads_heic(tmp_path, capsys):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    from conftest import make_contract_model
    from test_cli_image import run_cli

    model = make_contract_model(tmp_path / "m" / "solo.onnx", styles=("solo",))
    p = tmp_path / "IMG_0003.HEIC"
    Image.fromarray(landscape()).save(p, quality=100, exif=exif_bytes(6))
    out = tmp_path / "out.png"
    code, _, err = run_cli(["image", p, out, "--style", model, "--device", "cpu"], capsys)
    assert code == 0, err
    assert cv2.imread(str(out)).shape == (40, 20, 3)
