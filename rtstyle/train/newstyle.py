"""``rtstyle styles add``: a new style fine-tuned from the zoo (a multi-style network) on the CPU in minutes.

The zoo's network already knows how to paint; a new painting is mostly a new set of conditional instance-norm
scales and shifts (Dumoulin et al. 2017). So the new style's network is a one-style copy of the zoo's: every
convolution copied, its norm row started from the mean of the zoo's rows (``init_row="mean"``; ``"nearest"``: the
zoo style whose output has the Gram matrices nearest to the painting's), and only the norm parameters are
trained in the full tier by default (``train_only="norm"``; ``"norm+last"`` adds the output convolution, ``"all"``
is a full fine-tune); the fast tier trains ``"norm+last"`` at a higher rate (``DEFAULT_TRAIN``, ``DEFAULT_LR``).
Training stops at ``minutes``; the state with the lowest loss on fixed validation photos is exported (Ctrl-C
stops early and still exports it). How the defaults were chosen: ``docs/new-style.md``.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtstyle import catalog
from rtstyle.errors import InputError, InputNotFound

VIDEO_EXTS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".gif"}
ZOO_FILES = {"full": "zoo-full.onnx", "fast": "zoo-fast.onnx"}
BASE_DIR = "base"  # models/base/: a shipped base network that is not a style of the catalogue
DEFAULT_MINUTES = 10.0
# what a tier's export, card and last validation take after its loop stops (at most 5 % of the tier's share)
END_RESERVE_SECONDS = 15.0
# each tier's share of --minutes when both are trained: the fast network takes ~1.5-1.9x the steps per minute
# of the full one and needs fewer to settle, so the full tier gets more (measured: docs/new-style.md)
TIER_SHARE = {"full": 0.6, "fast": 0.4}
# What each tier trains by default, and its Adam learning rate per what is trained (docs/new-style.md). The norm
# scales and shifts are O(1) numbers that each move a whole channel, so they take a larger rate than convolution
# weights. The fast tier: its output convolution too, at 1e-1 (with its output lr scale, 1/255 of it): on the soft
# Monet its four minutes painted 0.120 where 3e-2 on the norm rows alone painted 0.143, and are where its 24 minutes
# end (3e-2 goes on to 0.109 in 24 minutes: --lr 0.03 for a long run). The full tier's norm rows: 8e-2 (its six
# minutes of the Monet painted 0.124 where 3e-2 painted 0.131, content 0.85 against 0.82; session 26); with
# 256 px crops (two or four a step) 1e-1 had lost the photo (content 1.01-1.04) for no gain
DEFAULT_TRAIN = {"full": "norm", "fast": "norm+last"}
DEFAULT_LR = {
    "full": {"norm": 8e-2, "norm+last": 3e-2, "all": 1e-3},
    "fast": {"norm": 1e-1, "norm+last": 1e-1, "all": 1e-3},
}
# The style weight a new painting gets, relative to the content weight: STYLE_BALANCE × content weight / the
# painting's Gram energy (losses.gram_energy at --style-size). 37 is the median over the zoo's nine styles of
# their tuned weight × Gram energy / content weight (10-95; table in docs/new-style.md). One weight for every
# painting measured badly: Monet's soft, dark Impression, Sunrise has 1/10 of La Grande Jatte's Gram energy, and
# at the zoo's median weight it kept the photo (content 0.50) and painted little (style 0.42).
STYLE_BALANCE = 37.0
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NO_DATA = "no training photos: pass --data DIR (a folder of photos or a video of your own); repeat it for several"


@dataclass
class AddConfig:
    painting: str
    name: str
    data: list[str] = field(default_factory=list)  # photo folders and video files
    holdout: str | None = None  # a list of photos never to train on (paths relative to a --data folder)
    minutes: float = DEFAULT_MINUTES  # both tiers together (each gets its share)
    train_only: str | None = None  # default: DEFAULT_TRAIN[tier]
    lr: float | None = None  # default: DEFAULT_LR[tier][what is trained]
    lr_decay: bool = False  # each tier's rate falls linearly to 0 at its deadline
    init_row: str = "mean"  # measured better than "nearest" on the tiny case (docs/new-style.md)
    base: str | None = None  # the full-tier base (default: zoo-full in the model folders)
    base_fast: str | None = None  # the fast-tier base (default: zoo-fast); none: the full tier only
    fast: bool = True  # fine-tune the fast tier too when a fast base exists
    full: bool = True  # False: the fast tier alone (the benchmark's --tier fast; a style needs its full tier)
    force: bool = False
    display_name: str | None = None
    license: str = "unknown"
    steps: int | None = None  # a cap on steps per tier (default: the minutes alone)
    # the fast tier also learns the full tier's output (the MSE to it, at this weight; 0: the perceptual loss
    # alone). Its teacher is the full tier just trained, or ``teacher`` (a full-tier file) when only the fast
    # tier is trained
    teacher_weight: float = 0.0
    teacher: str | None = None
    # two 192-px crops per step: more, cheaper steps than the zoo's four 256-px crops settle the norm rows faster
    # in the minutes given (measured: docs/new-style.md)
    batch: int = 2
    size: int = 192
    style_size: int = 512
    content_weight: float | None = None  # default: the base's recipe
    style_weight: float | None = None  # default: balanced for the painting (STYLE_BALANCE)
    style_scale: float = 1.0  # x the style weight: above 1 paints more, below 1 keeps more of the photo
    video_frames: int = 200  # frames sampled evenly from each video
    val_every: int = 20
    preview: str | None = None  # default: WORK_DIR/preview.jpg
    preview_seconds: float = 20.0
    vgg_weights: str | None = None
    download_vgg: bool = False
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    work_dir: str | None = None  # default: the user cache folder
    models_dir: str | None = None  # default: the user model folder
    mark_minutes: list[float] = field(default_factory=list)  # WORK_DIR/TIER/minute_M.pt at each (the benchmark)
    minutes_end_to_end: bool = True  # minutes bound the whole command (False: the training loops alone, as benched)

    def work_path(self) -> Path:
        """Where the run's checkpoints, sampled frames and (by default) the preview go: the user cache folder."""
        if self.work_dir:
            return Path(self.work_dir)
        import platformdirs

        return Path(platformdirs.user_cache_dir("rtstyle", appauthor=False)) / "styles-add" / self.name

    def preview_path(self, tier: str = "full") -> Path:
        """The live preview of ``tier`` (the fast tier's beside the full tier's, named as its model file is)."""
        path = Path(self.preview).expanduser() if self.preview else self.work_path() / "preview.jpg"
        return path.with_name(f"{tier_stem(path.stem, tier)}{path.suffix}")


@dataclass
class AddResult:
    files: list[Path]
    tiers: dict[str, object]  # tier -> TrainResult
    preview: Path
    notes: list[str]
    interrupted: bool = False


def tier_stem(name: str, tier: str) -> str:
    """A tier's file stem, as the catalogue names the tiers of one style: NAME (full) and NAME-fast (fast)."""
    return name if tier == "full" else f"{name}-fast"


def tier_shares(tiers: list[str]) -> list[float]:
    """The share of ``--minutes`` each of ``tiers`` gets (TIER_SHARE, scaled to sum to 1)."""
    total = sum(TIER_SHARE[t] for t in tiers)
    return [TIER_SHARE[t] / total for t in tiers]


def _tier_deadline(started: float, minutes: float, index: int, shares: list[float]) -> float:
    """When tier ``index`` must stop training so that the command ends ``minutes`` after ``started``, the tiers
    taking ``shares`` of the time in turn: the end of its share, less the reserve for its export."""
    share = minutes * 60.0 * shares[index]
    end = started + minutes * 60.0 * sum(shares[: index + 1])
    return end - min(END_RESERVE_SECONDS, 0.05 * share)


def check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise InputError(
            f"--name {name!r}: use letters, digits, '-', '_' and '.' (at most 64, starting with a letter or digit)"
        )


def shipped_names() -> dict[str, list[str]]:
    """Names of the shipped styles, with their tiers."""
    out: dict[str, list[str]] = {}
    shipped = catalog.shipped_models_dir()
    if shipped is None:
        return out
    for st in catalog._scan_dir(shipped, "shipped"):
        out.setdefault(st.name, []).append(st.tier)
    return out


def find_base(tier: str, given: str | None = None) -> Path | None:
    """The base network of ``tier``: ``given``, else ``zoo-TIER.onnx`` in the model folders (the user's first),
    else the shipped one in ``base/`` (a multi-style network shipped only as a base: the catalogue does not list
    it, since the tier's styles ship one file each), else any multi-style file of that tier in the folders."""
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise InputNotFound(f"--base {given}: file not found")
        info = catalog.read_model_info(path)
        if info.tier != tier:
            raise InputError(f"--base {given}: a {info.tier}-tier model, the {tier} tier is needed")
        return path
    folders = [d for d, _ in reversed(catalog.model_dirs())]
    shipped = catalog.shipped_models_dir()
    for d in folders + ([shipped / BASE_DIR] if shipped is not None else []):
        if (d / ZOO_FILES[tier]).is_file():
            return d / ZOO_FILES[tier]
    for d in folders:
        for f in sorted(d.glob("*.onnx")) if d.is_dir() else []:
            if f.name.endswith(".fp16.onnx") or not catalog.is_regular_file(f):
                continue
            try:
                info = catalog.read_model_info(f)
            except Exception:  # noqa: BLE001 - a broken file is not a base; `rtstyle styles` says why
                continue
            if info.tier == tier and info.num_styles > 1:
                return f
    return None


def sample_video(path: Path, out_dir: Path, count: int, short_side: int) -> int:
    """Write ``count`` frames sampled evenly over the video as JPEGs into ``out_dir`` (decoded with rtstyle's
    PyAV decoder); returns how many. The length need not be known: every ``stride``-th frame is kept, and when
    twice ``count`` are kept every other one is dropped and the stride doubles."""
    import cv2

    from rtstyle.io.decode import Decoder

    kept: list[np.ndarray] = []
    stride, index = 1, 0
    dec = Decoder(str(path), label=path.name)
    try:
        while True:
            item = dec.read()
            if item is None:
                break
            if index % stride == 0:
                frame = item[0]
                h, w = frame.shape[:2]
                k = short_side / min(h, w)
                if k < 1:
                    frame = cv2.resize(
                        frame, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA
                    )
                kept.append(frame)
                if len(kept) >= 2 * count:
                    kept, stride = kept[::2], stride * 2
            index += 1
    finally:
        dec.close()
    if len(kept) > count:
        kept = [kept[int(i)] for i in np.linspace(0, len(kept) - 1, count).round()]
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(kept):
        cv2.imwrite(str(out_dir / f"{path.stem}_{i:04d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return len(kept)


def _scalar(value: object, default: float) -> float:
    """One loss weight from a recipe value (a number, or one per style: their median)."""
    if isinstance(value, (int, float)) and value > 0:
        return float(value)
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return float(np.median(value))
    return default


def balanced_style_weight(energy: float, content_weight: float) -> float:
    """The style weight that gives a painting of Gram ``energy`` the zoo's median pull against ``content_weight``."""
    return STYLE_BALANCE * content_weight / max(energy, 1e-12)


def painting_energy(painting: Path, style_size: int, vgg_weights: str | None, download_vgg: bool) -> float:
    """``losses.gram_energy`` of the painting at its training size (long side ``style_size``), on the CPU."""
    from rtstyle.train.data import load_rgb, to_tensor
    from rtstyle.train.losses import gram_energy, load_vgg

    rgb = load_rgb(painting, max_side=style_size)
    if rgb is None:
        raise InputError(f"cannot read the painting {painting} as an image")
    return gram_energy(load_vgg(vgg_weights, download=download_vgg).eval(), to_tensor(rgb))


def add_style(
    cfg: AddConfig,
    on_step: Callable[[str, object], None] | None = None,
    say: Callable[[str], None] = print,
) -> AddResult:
    """Fine-tune a new style from the base network(s) and write ``NAME.onnx`` (and ``NAME-fast.onnx`` when a fast
    base exists) with model cards into the user model folder. ``on_step(tier, TrainStatus)`` after every step."""
    from rtstyle.nets.fast import framed_design
    from rtstyle.train.data import load_rgb
    from rtstyle.train.loop import TRAIN_ONLY, TrainConfig, train

    started = time.time()  # --minutes counts from here: setup, both tiers and their exports
    check_name(cfg.name)
    if cfg.train_only is not None and cfg.train_only not in TRAIN_ONLY:
        raise InputError(f"--train {cfg.train_only!r}: use one of {', '.join(TRAIN_ONLY)}")
    if not (cfg.minutes > 0):
        raise InputError(f"--minutes must be more than 0, not {cfg.minutes}")
    if not (cfg.style_scale > 0):
        raise InputError(f"--style-scale must be more than 0, not {cfg.style_scale}")
    painting = Path(cfg.painting).expanduser()
    if not painting.is_file():
        raise InputNotFound(f"painting not found: {painting}")
    if load_rgb(painting) is None:
        raise InputError(f"cannot read the painting {painting} as an image")
    models = Path(cfg.models_dir) if cfg.models_dir else catalog.user_models_dir(create=True)
    shipped = shipped_names()
    if cfg.name in shipped and not cfg.force:
        raise InputError(
            f"{cfg.name!r} is a shipped style's name: choose another --name, or add --force to make yours override it"
        )
    existing = [p for p in (models / f"{cfg.name}.onnx", models / f"{cfg.name}-fast.onnx") if p.exists()]
    if existing and not cfg.force:
        raise InputError(f"a style {cfg.name!r} is already in {existing[0]}: --force replaces it")
    if not cfg.data:
        raise InputError(NO_DATA)
    for d in cfg.data:
        p = Path(d).expanduser()
        if not p.exists():
            raise InputNotFound(f"--data {d}: not found ({NO_DATA.split(': ', 1)[1]})")
        if p.is_file() and p.suffix.lower() not in VIDEO_EXTS:
            raise InputError(f"--data {d}: neither a folder of photos nor a video file")
    base_full = find_base("full", cfg.base) if cfg.full else None
    if cfg.full and base_full is None:
        raise InputError(
            f"no base network is installed: `rtstyle styles add` fine-tunes the zoo ({ZOO_FILES['full']}, a "
            "multi-style full-tier model) and none is in the model folders; pass --base FILE.onnx"
        )
    notes: list[str] = []
    base_fast = find_base("fast", cfg.base_fast) if cfg.fast else None
    if not cfg.full and base_fast is None:
        raise InputError(f"no fast-tier base ({ZOO_FILES['fast']}) is installed: pass --base-fast FILE.onnx")
    if cfg.fast and base_fast is None:
        notes.append(f"no fast-tier zoo ({ZOO_FILES['fast']}) is installed: writing the full tier only")
        say(notes[-1])
    work = cfg.work_path()
    work.mkdir(parents=True, exist_ok=True)
    preview = cfg.preview_path()
    folders: list[str] = []
    frame_dirs: list[Path] = []
    for d in cfg.data:
        p = Path(d).expanduser()
        if p.is_dir():
            folders.append(str(p))
            continue
        out = work / f"frames-{p.stem}"
        shutil.rmtree(out, ignore_errors=True)
        n = sample_video(p, out, cfg.video_frames, 2 * cfg.size)
        say(f"{p.name}: {n} frames sampled for training")
        folders.append(str(out))
        frame_dirs.append(out)
    tiers = [(t, b) for t, b in (("full", base_full), ("fast", base_fast)) if b is not None]
    tier_names = [t for t, _ in tiers]
    shares = tier_shares(tier_names)
    energy = None if cfg.style_weight else painting_energy(painting, cfg.style_size, cfg.vgg_weights, cfg.download_vgg)
    files: list[Path] = []
    results: dict[str, object] = {}
    interrupted = False
    try:
        for i, (tier, base) in enumerate(tiers):
            assert base is not None
            info = catalog.read_model_info(base)
            if info.num_styles < 1:
                raise InputError(f"{base}: holds no style")
            recipe = info.recipe
            file_name = tier_stem(cfg.name, tier)
            content_weight = cfg.content_weight or _scalar(recipe.get("content_weight"), 1e5)
            if energy is None:
                style_weight = cfg.style_weight * cfg.style_scale  # type: ignore[operator]
                weight_note = f"style weight {style_weight:.3g} (given"
            else:
                style_weight = balanced_style_weight(energy, content_weight) * cfg.style_scale
                weight_note = (
                    f"style weight {style_weight:.3g} (balanced for this painting: {STYLE_BALANCE:g} x content "
                    f"weight {content_weight:.3g} / its Gram energy {energy:.3g}"
                )
            weight_note += f"; x{cfg.style_scale:g} by --style-scale)" if cfg.style_scale != 1 else ")"
            train_only = cfg.train_only or DEFAULT_TRAIN[tier]
            lr = cfg.lr if cfg.lr is not None else DEFAULT_LR[tier][train_only]
            teacher = None
            if tier == "fast" and cfg.teacher_weight > 0:
                full_done = results.get("full")
                teacher = cfg.teacher or (str(full_done.onnx) if full_done is not None else None)  # type: ignore[attr-defined]
            card_notes = [f"painting: `{painting.name}`; base: `{base.name}` ({info.num_styles} styles)", weight_note]
            if teacher is not None:
                card_notes.append(
                    f"distilled from `{Path(teacher).name}` (its output's MSE at {cfg.teacher_weight:.3g})"
                )
            tcfg = TrainConfig(
                style_images=[str(painting)],
                data=folders,
                holdout=cfg.holdout,
                name=file_name,
                style_names=[cfg.name],
                display_names=[cfg.display_name or cfg.name.replace("-", " ").replace("_", " ").title()],
                licenses=[cfg.license],
                # a fast base without a margin paints a frame of texture along the borders; the new style runs
                # inside one, as the shipped fast styles do (same weights, grown at the start)
                arch=(framed_design(info.arch) or info.arch) if tier == "fast" else info.arch,
                steps=cfg.steps or 10**9,
                batch=cfg.batch,
                size=cfg.size,
                style_size=cfg.style_size,
                lr=lr,
                lr_decay=cfg.lr_decay,
                content_weight=content_weight,
                style_weight=style_weight,
                init_from=str(base),
                init_row=cfg.init_row,
                train_only=train_only,
                max_minutes=cfg.minutes * shares[i],
                stop_at=_tier_deadline(started, cfg.minutes, i, shares) if cfg.minutes_end_to_end else None,
                val_every=cfg.val_every,
                keep_best_on_interrupt=True,
                preview_file=str(cfg.preview_path(tier)),
                preview_seconds=cfg.preview_seconds,
                vgg_weights=cfg.vgg_weights,
                download_vgg=cfg.download_vgg,
                device=cfg.device,
                precision=cfg.precision,
                seed=cfg.seed,
                out_dir=str(work / tier),
                export_dir=str(models),
                checkpoint_every=0,
                preview_every=0,
                progress=False,
                log_every=10**9,
                made_by="rtstyle styles add",
                mark_minutes=list(cfg.mark_minutes),
                card_notes=card_notes,
                teacher=teacher,
                teacher_weight=cfg.teacher_weight if teacher is not None else 0.0,
            )

            def step_hook(status: object, tier: str = tier) -> None:
                if on_step is not None:
                    on_step(tier, status)

            result = train(tcfg, on_step=step_hook)
            results[tier] = result
            assert result.onnx is not None and result.card is not None
            files += [result.onnx, result.card]
            if result.interrupted:
                interrupted = True
                if i + 1 < len(tiers):
                    notes.append("stopped: the fast tier was not trained (run add again for it)")
                    say(notes[-1])
                break
        if cfg.force and tier_names == ["full"]:  # a replaced style keeps no stale fast tier
            for stale in (models / f"{cfg.name}-fast.onnx", models / f"{cfg.name}-fast.md"):
                stale.unlink(missing_ok=True)
    finally:
        for d in frame_dirs:
            shutil.rmtree(d, ignore_errors=True)
    return AddResult(files, results, preview, notes, interrupted)
