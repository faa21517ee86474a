from __future__ import annotations

import cv2
import numpy as np
import pytest

from rtstyle import adjust
from rtstyle.errors import InputError


def test_apply_strength():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 200, np.uint8)
    assert adjust.apply_strength(a, b, 1.0) is b
    assert np.array_equal(adjust.apply_strength(a, b, 0.0), a)
    assert np.all(adjust.apply_strength(a, b, 0.25) == 50)
    assert np.array_equal(adjust.apply_strength(a, b, 7.0), b)  # clamped


def test_preserve_color_keeps_chroma_takes_luma():
    orig = np.zeros((8, 8, 3), np.uint8)
    orig[..., 2] = 180  # reddish
    orig[..., 1] = 60
    styl = np.full((8, 8, 3), 90, np.uint8)  # neutral gray
    out = adjust.preserve_color(orig, styl)
    y_out, y_st, y_or = (cv2.cvtColor(x, cv2.COLOR_BGR2YCrCb).astype(int) for x in (out, styl, orig))
    assert np.abs(y_out[..., 0] - y_st[..., 0]).max() <= 2
    assert np.abs(y_out[..., 1:] - y_or[..., 1:]).max() <= 3


def test_working_size():
    assert adjust.working_size(1920, 1080) == (1920, 1080)
    assert adjust.working_size(1920, 1080, max_side=960) == (960, 540)
    assert adjust.working_size(100, 50, max_side=960) == (100, 50)  # max_side never enlarges
    assert adjust.working_size(100, 50, scale=2.0) == (200, 100)
    assert adjust.working_size(3, 1, max_side=1) == (1, 1)
    with pytest.raises(InputError):
        adjust.working_size(10, 10, max_side=0)
    with pytest.raises(InputError):
        adjust.working_size(10, 10, scale=-1)


def test_resize_and_channels():
    x = np.random.default_rng(0).integers(0, 255, (10, 20, 3), dtype=np.uint8)
    assert adjust.resize(x, 20, 10) is x
    assert adjust.resize(x, 5, 3).shape == (3, 5, 3)
    assert adjust.resize(x, 40, 21).shape == (21, 40, 3)
    bgr, alpha = adjust.to_bgr(x[..., 0])
    assert bgr.shape == (10, 20, 3) and alpha is None
    bgr, alpha = adjust.to_bgr(np.dstack([x, x[..., :1]]))
    assert alpha is not None and alpha.shape == (10, 20)
    assert adjust.with_alpha(bgr, alpha).shape == (10, 20, 4)
    bgr, _ = adjust.to_bgr(x.astype(np.uint16) << 8)
    assert np.array_equal(bgr, x)
    with pytest.raises(InputError):
        adjust.to_bgr(np.zeros((0, 4, 3), np.uint8))


def test_parse_blend():
    assert adjust.parse_blend("a:b:0.25") == {"a": 0.75, "b": 0.25}
    assert adjust.parse_blend("a=1,b=3") == {"a": 1.0, "b": 3.0}
    for bad in ("a:b", "a:b:2", "a=-1", "=1", "a:b:x"):
        with pytest.raises(InputError):
            adjust.parse_blend(bad)
