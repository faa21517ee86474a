"""The user's own styles: remove one, export any style as a one-style file, import a model file.

Behind ``rtstyle styles remove|export|import``. Only exporting a style that shares a multi-style file needs torch
(the network is read back with :func:`rtstyle.export.import_onnx` and written again with one style).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from rtstyle import catalog, contract
from rtstyle.errors import ContractError, InputError, InputNotFound, StyleNotFound
from rtstyle.files import publish, same_file, temp_path


def _siblings(model: Path) -> list[Path]:
    """A model file, its fp16 sibling and its model card (those that exist)."""
    stem = model.name[: -len(".onnx")]
    return [p for p in (model, model.with_name(f"{stem}.fp16.onnx"), model.with_name(f"{stem}.md")) if p.exists()]


def remove_style(name: str) -> list[Path]:
    """Delete the user's style ``name`` (every tier): its model files and cards. A shipped style is refused, and
    so is a style that shares a file with others (the file would take them along)."""
    styles = [s for s in catalog.list_styles() if s.name == name]
    mine = [s for s in styles if s.source == "user"]
    if not styles:
        catalog.resolve(name)  # the unknown-style error, with the nearest names
    if not mine:
        raise InputError(f"{name!r} is a shipped style: it cannot be removed (only your own styles can)")
    for s in mine:
        if s.num_styles > 1:
            raise InputError(
                f"{name!r} is one of {s.num_styles} styles in {s.file}: removing it would remove them all; "
                "delete that file yourself if you mean it"
            )
    removed: list[Path] = []
    for s in mine:
        for p in _siblings(s.file):
            p.unlink()
            removed.append(p)
    return removed


def export_style(name: str, out: str | Path, tier: str | None = None, force: bool = False) -> Path:
    """Write style ``name`` as a one-style model file ``out``: a copy when its file holds it alone, else the
    network read back and written again with its norm parameters alone."""
    out = Path(out).expanduser()
    if out.suffix.lower() != ".onnx":
        raise InputError(f"{out}: the output must be an .onnx file")
    st = catalog.resolve(name, tier=tier) if tier else _any_tier(name)
    if out.exists() and same_file(out, st.file):
        raise InputError(f"{out} is the style's own model file")
    if out.exists() and not force:
        raise InputError(f"{out} exists: add --force to overwrite it")
    if out.parent and not out.parent.is_dir():
        raise InputNotFound(f"folder not found: {out.parent}")
    if st.num_styles == 1:
        tmp = temp_path(out)
        try:
            shutil.copyfile(st.file, tmp)
            return publish(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    return _extract_style(st, out)


def _any_tier(name: str) -> catalog.Style:
    """The full tier when it exists, else whichever tier the style has."""
    found = {s.tier: s for s in catalog.list_styles() if s.name == name}
    if not found:
        return catalog.resolve(name)
    return found.get("full") or next(iter(found.values()))


def _extract_style(st: catalog.Style, out: Path) -> Path:
    import torch

    from rtstyle.export import export_onnx, import_onnx
    from rtstyle.nets import build_net

    info, net = import_onnx(st.file)
    one = build_net(info["arch"], 1)
    state = {}
    for key, value in net.state_dict().items():
        if key.endswith(("norm.weight", "norm.bias")) and value.dim() == 2:
            value = value[st.index : st.index + 1]
        state[key] = value
    with torch.no_grad():
        one.load_state_dict(state)
    entry = info["styles"][st.index]
    recipe = {**info["recipe"], "extracted_from": f"{st.file.name} (style {st.index + 1} of {st.num_styles})"}
    return export_onnx(one, out, [entry], info["arch"], info["tier"], recipe, st.working_size)


def check_model(path: Path) -> contract.ModelInfo:
    """Validate a model file against the contract: its metadata and signature, and one tiny frame through it."""
    from rtstyle.runtime.session import StyleSession

    try:
        info = catalog.read_model_info(path)
        sess = StyleSession(path, "cpu", threads=1)
        vec = np.asarray(contract.style_weights(sess.info, None), np.float32) if sess.info.has_style_input else None
        y = sess.run(np.full((20, 24, 3), 128, np.uint8), vec)
    except ContractError as exc:
        raise InputError(f"{path}: not an rtstyle model: {exc}") from None
    if getattr(y, "shape", None) != (20, 24, 3):
        raise InputError(f"{path}: not an rtstyle model: a 24x20 frame came back as {getattr(y, 'shape', '?')}")
    return info


def import_style(path: str | Path, force: bool = False) -> tuple[Path, contract.ModelInfo]:
    """Copy a model file into the user model folder after checking it against the contract. A style name of a
    shipped style, or a file name already in the folder, is refused without ``force``."""
    from rtstyle.train.newstyle import shipped_names

    src = Path(path).expanduser()
    if not src.is_file():
        raise InputNotFound(f"model file not found: {src}")
    if src.suffix.lower() != ".onnx" or src.name.endswith(".fp16.onnx"):
        raise InputError(f"{src}: import an .onnx model file (not an .fp16.onnx sibling)")
    info = check_model(src)
    shipped = shipped_names()
    clash = [s.name for s in info.styles if info.tier in shipped.get(s.name, [])]
    if clash and not force:
        raise InputError(
            f"{src.name} holds {clash[0]!r}, a shipped style's name: add --force to make it override the shipped one"
        )
    dest_dir = catalog.user_models_dir(create=True)
    dest = dest_dir / src.name
    if dest.exists() and same_file(dest, src):
        raise InputError(f"{src} is already in your model folder")
    if dest.exists() and not force:
        raise InputError(f"{dest} exists: add --force to replace it")
    tmp = temp_path(dest)
    try:
        shutil.copyfile(src, tmp)
        publish(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest, info


__all__ = ["StyleNotFound", "check_model", "export_style", "import_style", "remove_style"]
