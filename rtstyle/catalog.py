"""The style catalogue: shipped models (package ``rtstyle.models``) plus the user's model directory.

User directory: ``$RTSTYLE_MODELS`` (one or more folders separated by ``os.pathsep``; the first is where
``rtstyle train`` saves) or else the OS's user data folder by ``platformdirs``: ``$XDG_DATA_HOME/rtstyle/models``
(``~/.local/share/rtstyle/models``) on Linux, ``~/Library/Application Support/rtstyle/models`` on macOS,
``%LOCALAPPDATA%/rtstyle/models`` on Windows. Models in the folder earlier versions used on every OS
(``~/.local/share/rtstyle/models``) are still found, below the new folder, with a one-line notice.
Every ``*.onnx`` file (``*.fp16.onnx`` are siblings, not styles) is read for its contract metadata. A style is
keyed by (name, tier): a style may exist in both tiers, and a user style overrides a shipped one of the same
name and tier with a notice on stderr.
"""

from __future__ import annotations

import difflib
import os
import stat
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from rtstyle import contract, errors
from rtstyle.errors import ContractError, InputError, RtstyleError, StyleNotFound, notice
from rtstyle.runtime.hardware import ACCELERATORS, ORT_LOG_SEVERITY, onnxruntime_module, resolve_device
from rtstyle.runtime.session import describe_session, load_session

DEFAULT_STYLE = "mosaic"


@dataclass(frozen=True)
class Style:
    """One style of the catalogue."""

    name: str
    tier: str
    arch: str
    file: Path
    display_name: str
    license: str
    index: int  # position inside a multi-style file
    num_styles: int  # styles held by the file
    source: str  # "shipped" or "user"
    precision: str
    working_size: int
    fp16_file: Path | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "tier": self.tier,
            "arch": self.arch,
            "file": str(self.file),
            "display_name": self.display_name,
            "license": self.license,
            "index": self.index,
            "num_styles": self.num_styles,
            "source": self.source,
            "precision": self.precision,
            "working_size": self.working_size,
            "fp16_file": str(self.fp16_file) if self.fp16_file else None,
        }


def shipped_models_dir() -> Path | None:
    """The ``models/`` folder shipped in the package (``rtstyle.models``), or the repository's ``models/``."""
    try:
        p = Path(str(files("rtstyle.models")))
        if p.is_dir():
            return p
    except (ModuleNotFoundError, TypeError, ValueError):
        pass
    repo = Path(__file__).resolve().parent.parent / "models"
    return repo if repo.is_dir() else None


def platform_models_dir() -> Path:
    """This OS's user data folder for models (platformdirs): XDG on Linux, Application Support on macOS,
    LOCALAPPDATA on Windows."""
    import platformdirs

    return Path(platformdirs.user_data_dir("rtstyle", appauthor=False)) / "models"


def legacy_models_dir() -> Path:
    """The folder rtstyle used on every OS before it asked platformdirs: ``$XDG_DATA_HOME/rtstyle/models`` or
    ``~/.local/share/rtstyle/models``."""
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "rtstyle" / "models"


def _user_dirs() -> list[Path]:
    env = os.environ.get("RTSTYLE_MODELS")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [platform_models_dir()]


def _legacy_dir() -> Path | None:
    """The old folder when it differs from the new one and holds models (said once per process), else None."""
    if os.environ.get("RTSTYLE_MODELS"):
        return None
    old, new = legacy_models_dir(), platform_models_dir()
    try:
        if old.resolve() == new.resolve() or not old.is_dir() or not any(old.glob("*.onnx")):
            return None
    except OSError:
        return None
    _notice(f"models in {old} (the folder of earlier versions) are still read; move them to {new}")
    return old


def user_models_dir(create: bool = False) -> Path:
    """Where user models live (and where the trainer saves): first of ``$RTSTYLE_MODELS``, else this OS's user
    data folder (:func:`platform_models_dir`)."""
    d = _user_dirs()[0]
    if create:
        d.mkdir(parents=True, exist_ok=True)
    return d


def model_dirs() -> list[tuple[Path, str]]:
    """(folder, source) in increasing priority: shipped first, the old user folder (when it still holds models),
    user folders after (later wins)."""
    out: list[tuple[Path, str]] = []
    shipped = shipped_models_dir()
    if shipped is not None:
        out.append((shipped, "shipped"))
    legacy = _legacy_dir()
    if legacy is not None:
        out.append((legacy, "user"))
    for d in reversed(_user_dirs()):
        out.append((d, "user"))
    return out


_INFO_CACHE: dict[tuple[str, int, int], contract.ModelInfo] = {}

# ONNX TensorProto element types -> numpy-style names (only what the contract may meet).
_ELEM_TYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    """Decode one protobuf varint at ``i``; returns (value, index after it)."""
    value, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def _pb_fields(buf: memoryview):
    """Iterate (field number, wire type, value) over one protobuf message; value is int or memoryview."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
            yield field, wire, v
        elif wire == 2:
            ln, i = _varint(buf, i)
            if i + ln > n:
                raise ValueError("truncated")
            yield field, wire, buf[i : i + ln]
            i += ln
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    if i != n:
        raise ValueError("truncated")


def _pb_value_info(buf: memoryview) -> contract.TensorSpec:
    name, dtype, dims = "", "?", []
    for f, _, v in _pb_fields(buf):
        if f == 1:
            name = bytes(v).decode()
        elif f == 2:
            for tf, _, tv in _pb_fields(v):
                if tf != 1:  # tensor_type
                    continue
                for ef, _, ev in _pb_fields(tv):
                    if ef == 1:
                        dtype = _ELEM_TYPES.get(ev, f"type{ev}")
                    elif ef == 2:
                        for _, _, dim in (x for x in _pb_fields(ev) if x[0] == 1):
                            d: int | str | None = None
                            for df, _, dv in _pb_fields(dim):
                                d = dv if df == 1 else bytes(dv).decode() if df == 2 else d
                            dims.append(d)
    return contract.TensorSpec(name, dtype, tuple(dims))


def _read_info_fast(data: bytes) -> contract.ModelInfo:
    """Contract metadata straight from the ONNX protobuf (weights skipped, no onnx/onnxruntime needed)."""
    meta: dict[str, str] = {}
    inputs: list[contract.TensorSpec] = []
    outputs: list[contract.TensorSpec] = []
    inits: set[str] = set()
    for f, w, v in _pb_fields(memoryview(data)):
        if f == 14 and w == 2:
            kv = {kf: bytes(kvv).decode() for kf, _, kvv in _pb_fields(v) if kf in (1, 2)}
            meta[kv.get(1, "")] = kv.get(2, "")
        elif f == 7 and w == 2:
            for gf, _, gv in _pb_fields(v):
                if gf == 11:
                    inputs.append(_pb_value_info(gv))
                elif gf == 12:
                    outputs.append(_pb_value_info(gv))
                elif gf == 5:
                    inits.update(bytes(tv).decode() for tf, _, tv in _pb_fields(gv) if tf == 8)
    inputs = [t for t in inputs if t.name not in inits]
    return contract.validate(inputs, outputs, meta)


def is_regular_file(path: Path) -> bool:
    """True for a regular file (symlinks followed); False for folders, FIFOs, sockets, devices and dangling links."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def read_model_info(path: Path) -> contract.ModelInfo:
    """Validated contract metadata of a model file (cached by path, mtime and size)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read model {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path} is not a regular file (a folder, FIFO or device): not read as a model")
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key in _INFO_CACHE:
        return _INFO_CACHE[key]
    try:
        info = _read_info_fast(path.read_bytes())
    except (ValueError, IndexError, UnicodeDecodeError, ContractError, OSError):
        info = None  # let onnxruntime read it and word the error
    if info is not None:
        _INFO_CACHE[key] = info
        return info
    ort = onnxruntime_module()  # only for a file the fast reader cannot read: `rtstyle styles` stays light
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = ORT_LOG_SEVERITY
    opts.intra_op_num_threads = 1
    session = load_session(path, ["CPUExecutionProvider"], opts)
    info = describe_session(session)[3]
    _INFO_CACHE[key] = info
    return info


_NOTICED = errors._NOTICED  # the notices already given once (tests clear it)


def _notice(message: str) -> None:
    notice(message, once=True)


def _scan_dir(folder: Path, source: str) -> list[Style]:
    styles: list[Style] = []
    if not folder.is_dir():
        return styles
    for f in sorted(folder.glob("*.onnx")):
        if f.name.endswith(".fp16.onnx") or not is_regular_file(f):  # a FIFO or device would block the read
            continue
        try:
            info = read_model_info(f)
        except (ContractError, InputError) as exc:
            _notice(f"skipping {f}: {exc}")
            continue
        sib = f.with_name(f.name[: -len(".onnx")] + ".fp16.onnx")
        for i, entry in enumerate(info.styles):
            styles.append(
                Style(
                    entry.name,
                    info.tier,
                    info.arch,
                    f,
                    entry.display_name,
                    entry.license,
                    i,
                    info.num_styles,
                    source,
                    info.precision,
                    info.working_size,
                    sib if sib.is_file() else None,
                )
            )
    return styles


def list_styles() -> list[Style]:
    """All styles, one per (name, tier), user folders overriding shipped ones (with a notice)."""
    chosen: dict[tuple[str, str], Style] = {}
    for folder, source in model_dirs():
        seen_here: dict[tuple[str, str], Style] = {}
        for st in _scan_dir(folder, source):
            key = (st.name, st.tier)
            if key in seen_here:
                _notice(
                    f"style {st.name!r} ({st.tier}) is in both {seen_here[key].file.name} and {st.file.name}; "
                    f"using {seen_here[key].file.name}"
                )
                continue
            seen_here[key] = st
            prev = chosen.get(key)
            if prev is not None and prev.file != st.file:
                what = "shipped" if prev.source == "shipped" else "other"
                _notice(f"user style {st.name!r} ({st.tier}) in {st.file} overrides the {what} one in {prev.file}")
            chosen[key] = st
    return sorted(chosen.values(), key=lambda s: (s.name, s.tier))


def preferred_tier(device: str) -> str:
    """The tier a style resolves to by default on ``device``: ``full`` on an accelerator, ``fast`` on the CPU
    (``auto``: the device it resolves to; the CPU where none resolves)."""
    if device == "auto":
        try:
            device = resolve_device("auto")
        except RtstyleError:
            device = "cpu"
    return "full" if device in ACCELERATORS else "fast"


def resolve(name: str, tier: str | None = None, device: str = "cpu") -> Style:
    """Find a style by name. Default tier: ``fast`` on CPU, ``full`` on CUDA, else whichever exists."""
    if tier is not None and tier not in contract.TIERS:
        raise InputError(f"unknown tier {tier!r}: use one of {', '.join(contract.TIERS)}")
    styles = list_styles()
    matches = {s.tier: s for s in styles if s.name == name}
    if not matches:
        names = sorted({s.name for s in styles})
        if not names:
            raise StyleNotFound(
                f"unknown style {name!r}: no styles are installed (put .onnx models in {user_models_dir()} "
                "or set RTSTYLE_MODELS)"
            )
        near = difflib.get_close_matches(name, names, n=4, cutoff=0.5) or names[:6]
        label = "did you mean" if difflib.get_close_matches(name, names, n=1, cutoff=0.5) else "available"
        raise StyleNotFound(f"unknown style {name!r}; {label}: {', '.join(near)} (see `rtstyle styles`)")
    if tier is not None:
        if tier not in matches:
            raise StyleNotFound(f"style {name!r} has no {tier} tier (it has: {', '.join(sorted(matches))})")
        return matches[tier]
    pref = preferred_tier(device)
    return matches.get(pref) or next(iter(sorted(matches.values(), key=lambda s: s.tier)))


def default_style(tier: str | None = None, device: str = "cpu") -> Style:
    """The built-in default: ``mosaic`` when shipped, else the first shipped style, else the first style."""
    styles = list_styles()
    if not styles:
        raise StyleNotFound(
            f"no styles are installed: models/ in the package is empty and {user_models_dir()} has none "
            "(train one with `rtstyle train`, or pass a model path)"
        )
    names = [s.name for s in styles if s.source == "shipped"] or [s.name for s in styles]
    name = DEFAULT_STYLE if DEFAULT_STYLE in names else names[0]
    return resolve(name, tier=tier, device=device)
