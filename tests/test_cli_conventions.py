"""The command-line conventions: install hints, exit codes, --version, --json, --quiet/--verbose, environment
defaults, ``-`` for stdin/stdout and folders in ``rtstyle image``, a missing extra in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_image import run_cli

from rtstyle import diagnostics
from rtstyle.cli import hints


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
