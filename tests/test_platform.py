"""Platform portability: no POSIX-only calls on the output path, model folders by platformdirs, cores and memory
by psutil, onnxruntime execution providers beyond CUDA (provider lists monkeypatched: no GPU here)."""

from __future__ import annotations

import os
import tempfile

import cv2
import pytest
from conftest import synthetic_frame

from rtstyle import files


def test_publish_mode_without_fchmod(tmp_path, monkeypatch):
    """Windows before Python 3.13 has no os.fchmod (nor os.chmod on descriptors): publishing still works."""
    monkeypatch.delattr(os, "fchmod", raising=False)
    monkeypatch.setattr(os, "supports_fd", set(), raising=False)
    fd, name = tempfile.mkstemp(dir=tmp_path)
    try:
        files.publish_mode(fd)  # no AttributeError
    finally:
        os.close(fd)
    files.publish_mode(name)
    assert os.stat(name).st_mode & 0o777 == files.default_mode()


def test_publish_mode_fd_chmod_fallback(tmp_path, monkeypatch):
    """Without os.fchmod but with os.chmod taking descriptors, the descriptor's file gets the ordinary mode."""
    if os.chmod not in os.supports_fd:
        pytest.skip("os.chmod takes no descriptors here")
    monkeypatch.delattr(os, "fchmod", raising=False)
    fd, name = tempfile.mkstemp(dir=tmp_path)
    try:
        files.publish_mode(fd)
    finally:
        os.close(fd)
    assert os.stat(name).st_mode & 0o777 == files.default_mode()


def test_image_write_without_fchmod(tmp_path, test_model, monkeypatch):
    """`rtstyle image`'s read, stylize and write steps run with os.fchmod gone (Windows, Python 3.10-3.12)."""
    from rtstyle.io.images import read_image, write_image
    from rtstyle.runtime.stylizer import Stylizer

    monkeypatch.delattr(os, "fchmod", raising=False)
    monkeypatch.setattr(os, "supports_fd", set(), raising=False)
    inp, out = tmp_path / "in.png", tmp_path / "out.png"
    cv2.imwrite(str(inp), synthetic_frame(24, 32))
    write_image(out, Stylizer(test_model, device="cpu")(read_image(inp)), force=False)
    assert cv2.imread(str(out)).shape == (24, 32, 3)
    assert os.stat(out).st_mode & 0o777 == files.default_mode()
