"""Trainer tests: tiny architecture, tiny generated images, random VGG through the explicit test-only path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from conftest import tiny_train_args, tiny_train_config  # noqa: E402

from rtstyle.errors import InputError, RtstyleError  # noqa: E402
from rtstyle.nets import build_net  # noqa: E402
from rtstyle.train.data import PhotoSet  # noqa: E402
from rtstyle.train.loop import TrainConfig, train  # noqa: E402
from rtstyle.train.losses import RANDOM_FOR_TESTS, PerceptualLoss, load_vgg  # noqa: E402


def _write_images(folder: Path, n: int, size: tuple[int, int] = (48, 40), seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = size
        y, x = np.mgrid[0:h, 0:w]
        img = np.stack([(x * (i + 3)) % 255, (y * (i + 5)) % 255, rng.integers(0, 255, (h, w))], -1)
        cv2.imwrite(str(folder / f"img_{i}.png"), img.astype(np.uint8))
    return folder


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return _write_images(tmp_path / "photos" / "nested", 6).parent


@pytest.fixture()
def style_images(tmp_path: Path) -> list[Path]:
    paths = []
    for i, color in enumerate([(0, 0, 255), (255, 128, 0)]):
        img = np.zeros((40, 40, 3), np.uint8)
        img[::4] = color
        img[:, ::5] = (255 - i * 200, 255, 0)
        p = tmp_path / f"style{i}.png"
        cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


def _cfg(tmp_path: Path, data_dir: Path, styles: list[Path], **kw: Any) -> TrainConfig:
    """The shared tiny run with this file's defaults: four steps, a checkpoint every two, a log line every step,
    the default precision."""
    return tiny_train_config(
        tmp_path, data_dir, styles, **{"steps": 4, "checkpoint_every": 2, "log_every": 1, "precision": "auto", **kw}
    )


def test_loss_falls_on_fixed_batch(data_dir, style_images):
    torch.manual_seed(0)
    vgg = load_vgg(RANDOM_FOR_TESTS)
    img = cv2.imread(str(style_images[0]))[:, :, ::-1].copy()
    style = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    loss_fn = PerceptualLoss(vgg, [style])
    net = build_net("tiny")
    photos = PhotoSet(data_dir, 32)
    x = photos.batch(2, torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    sidx = torch.zeros(2, dtype=torch.long)
    losses = []
    for _ in range(25):
        loss, _ = loss_fn(net(x, torch.ones(2, 1)), x, sidx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_tile_pattern_is_the_grid_figure_as_a_loss():
    """The loss is ~0 on a smooth picture and on noise that is not locked to the 8-px grid, the tile's energy when
    a fixed 8x8 tile is printed on every tile (the square of evaluate.grid_pattern's amplitude on one channel),
    and its gradient takes the printed tile away."""
    from rtstyle.evaluate import grid_pattern
    from rtstyle.train.losses import tile_pattern

    y, x = torch.meshgrid(torch.arange(128.0), torch.arange(160.0), indexing="ij")
    smooth = (x / 159 * 0.5 + y / 127 * 0.3)[None, None]
    tile = torch.from_numpy(np.random.default_rng(0).normal(0, 0.03, (8, 8)).astype(np.float32))
    tile -= tile.mean()
    printed = smooth + tile.repeat(16, 20)
    noise = smooth + torch.from_numpy(np.random.default_rng(1).normal(0, 0.03, (128, 160)).astype(np.float32))
    assert tile_pattern(smooth).item() < 1e-7
    assert tile_pattern(noise).item() < 0.05 * float((tile**2).mean())
    assert tile_pattern(printed).item() == pytest.approx(float((tile**2).mean()), rel=0.05)
    levels = (printed[0, 0] * 255).numpy()[..., None]
    assert grid_pattern(levels) ** 2 == pytest.approx(tile_pattern(printed * 255).item(), rel=0.05)
    p = printed.clone().requires_grad_(True)
    tile_pattern(p).backward()
    step = p - 0.5 * p.grad / p.grad.abs().max() * tile.abs().max()
    assert tile_pattern(step.detach()).item() < tile_pattern(printed).item()
    with pytest.raises(ValueError):
        tile_pattern(torch.zeros(1, 3, 12, 40))


def test_block_seams_measures_the_edges_of_4_px_blocks():
    """A smooth picture and noise step alike across and inside the 4-px blocks (~0, ratio ~1); the same picture
    pooled into 4-px blocks and blown up (what a depth-to-space from 1/4 draws when each block is flat) steps
    only across, and the loss's gradient lowers those steps without pushing the inside."""
    from rtstyle.train.losses import block_seams, seam_ratio

    y, x = torch.meshgrid(torch.arange(64.0), torch.arange(96.0), indexing="ij")
    smooth = torch.stack([torch.sin(x / 7) * 0.3 + 0.5, torch.cos(y / 5) * 0.3 + 0.5, x * 0 + 0.5])[None]
    noise = torch.from_numpy(np.random.default_rng(0).uniform(0, 1, (1, 3, 64, 96)).astype(np.float32))
    blocky = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(smooth, 4), scale_factor=4)
    assert block_seams(smooth).item() < 0.02 * block_seams(blocky).item()
    assert seam_ratio(smooth) == pytest.approx(1.0, abs=0.1)
    assert seam_ratio(noise) == pytest.approx(1.0, abs=0.05)
    assert block_seams(blocky).item() > 1e-3 and seam_ratio(blocky) > 100
    b = blocky.clone().requires_grad_(True)
    block_seams(b).backward()
    assert block_seams((blocky - 20 * b.grad).detach()).item() < block_seams(blocky).item()
    with pytest.raises(ValueError):
        block_seams(torch.zeros(1, 3, 6, 40))


def test_seam_weight_adds_its_term_and_is_recorded(tmp_path, data_dir, style_images):
    result = train(_cfg(tmp_path, data_dir, style_images[:1], steps=2, seam_weight=1e3))
    ckpt = torch.load(result.checkpoint, weights_only=False)
    assert ckpt["config"]["seam_weight"] == 1e3 and ckpt["recipe"]["seam_weight"] == 1e3
    assert "seam" in result.last_losses and all("seam" in h for h in ckpt["history"])


def test_tile_weight_adds_its_term_and_is_recorded(tmp_path, data_dir, style_images):
    result = train(_cfg(tmp_path, data_dir, style_images[:1], steps=2, tile_weight=1e3))
    ckpt = torch.load(result.checkpoint, weights_only=False)
    assert ckpt["config"]["tile_weight"] == 1e3
    assert result.last_losses["tile"] > 0
    assert all("tile" in h for h in ckpt["history"])
    plain = train(_cfg(tmp_path / "plain", data_dir, style_images[:1], steps=2))
    assert "tile" not in plain.last_losses


def test_resume_continues_the_same_run(tmp_path, data_dir, style_images):
    straight = train(_cfg(tmp_path / "a", data_dir, style_images[:1], steps=4, stability_weight=1e3))
    train(_cfg(tmp_path / "b", data_dir, style_images[:1], steps=2, stability_weight=1e3))
    resumed = train(_cfg(tmp_path / "b", data_dir, style_images[:1], steps=4, stability_weight=1e3, resume=True))
    a = torch.load(straight.checkpoint, weights_only=False)["net"]
    b = torch.load(resumed.checkpoint, weights_only=False)["net"]
    assert resumed.steps == 4
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_multistyle_export_selects_and_blends(tmp_path, data_dir, style_images):
    import onnxruntime as ort

    # the output conv at the full rate (the old default): three steps then part the styles by the margins below
    cfg = _cfg(tmp_path, data_dir, style_images, steps=3, export=True, style_names=["red", "blue"], output_lr_scale=1.0)
    result = train(cfg)
    assert result.onnx is not None and result.onnx.name == "t.onnx"
    assert "Recipe" in result.card.read_text()
    sess = ort.InferenceSession(str(result.onnx), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["frame", "style"]
    frame = np.random.default_rng(1).integers(0, 255, (1, 37, 29, 3), dtype=np.uint8)

    def run(w):
        return sess.run(None, {"frame": frame, "style": np.array(w, np.float32)})[0].astype(int)

    red, blue, mix = run([1, 0]), run([0, 1]), run([0.5, 0.5])
    assert red.shape == (1, 37, 29, 3)
    assert np.abs(red - blue).mean() > 0.5
    assert np.abs(mix - red).mean() > 0.1 and np.abs(mix - blue).mean() > 0.1
    # the blend lies between the two styles on average
    assert np.abs(mix - (red + blue) / 2).mean() < np.abs(red - blue).mean()


def test_export_parity_at_odd_and_tiny_sizes(tmp_path):
    from rtstyle.contract import StyleEntry
    from rtstyle.export import ContractModule, check_parity, export_onnx

    torch.manual_seed(0)
    net = build_net("tiny")
    path = export_onnx(net, tmp_path / "p.onnx", [StyleEntry("p", "P")], "tiny", "full", {}, 64)
    frames = [
        np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)
        for i, (h, w) in enumerate([(1, 1), (2, 3), (5, 7), (63, 65), (100, 4)])
    ]
    assert check_parity(ContractModule(net), path, 1, frames=frames) <= 1.0
    other = build_net("tiny")  # different weights: parity must fail loudly
    with pytest.raises(RtstyleError, match="parity"):
        check_parity(ContractModule(other), path, 1)


def test_fp16_export_keeps_instance_norm_in_fp32(tmp_path, data_dir, style_images):
    import onnx

    from rtstyle.export import export_checkpoint

    result = train(_cfg(tmp_path, data_dir, style_images[:1], steps=2))
    out = export_checkpoint(result.checkpoint, tmp_path / "half.onnx", fp16=True)
    assert out.name == "half.fp16.onnx"
    model = onnx.load(str(out))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["rtstyle.precision"] == "fp16"
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer)


def test_exported_model_runs_through_stylizer(tmp_path, data_dir, style_images):
    from rtstyle.runtime.stylizer import Stylizer

    result = train(_cfg(tmp_path, data_dir, style_images[:1], steps=2, export=True))
    stylize = Stylizer(str(result.onnx), device="cpu")
    for shape in [(1, 1, 3), (45, 67, 3), (8, 9, 3)]:
        out = stylize(np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8))
        assert out.shape == shape and out.dtype == np.uint8


def test_bad_inputs(tmp_path, data_dir, style_images):
    with pytest.raises(InputError, match="style image not found"):
        train(_cfg(tmp_path, data_dir, [tmp_path / "nope.jpg"]))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no images"):
        train(_cfg(tmp_path, empty, style_images[:1]))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match="could be read"):
        train(_cfg(tmp_path, broken, style_images[:1]))
    _write_images(broken, 2)
    assert len(PhotoSet(broken, 32).skipped) == 1  # broken files are skipped and counted
    with pytest.raises(RtstyleError, match="unknown architecture 'nope'"):
        train(_cfg(tmp_path, data_dir, style_images[:1], arch="nope"))


def _cli(args: list[str], env_extra: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "rtstyle", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_cli_missing_vgg_weights_is_one_line(tmp_path, data_dir, style_images):
    args = tiny_train_args(tmp_path, data_dir, style_images[0], steps=1, vgg_weights=None, out_dir=tmp_path / "r")
    r = _cli(args, {"TORCH_HOME": str(tmp_path / "torch_home")})
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "--vgg-weights" in r.stderr


def test_cli_unknown_arch_is_one_line(tmp_path, data_dir, style_images):
    r = _cli(tiny_train_args(tmp_path, data_dir, style_images[0], arch="resnet9000"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "unknown architecture" in r.stderr


def test_cli_train_only_norm_freezes_the_convolutions(tmp_path, data_dir, style_images):
    """``--train-only norm`` (a zoo style's row fine-tuned alone): the convolutions keep their first state."""
    first = _cli(tiny_train_args(tmp_path, data_dir, style_images[0], steps=1, checkpoint_every=1))
    assert first.returncode == 0
    assert first.stdout.startswith("training t on cpu, fp32 (as asked)\n")  # the run's first line: its precision
    before = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["net"]
    r = _cli(tiny_train_args(tmp_path, data_dir, style_images[0], steps=3, resume=True, train_only="norm"))
    assert r.returncode == 0, r.stderr[-2000:]
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 3 and ckpt["recipe"]["train_only"] == "norm"
    assert all(torch.equal(v, before[k]) for k, v in ckpt["net"].items() if ".norm." not in k)
    assert any(not torch.equal(v, before[k]) for k, v in ckpt["net"].items() if ".norm." in k)
    bad = _cli(tiny_train_args(tmp_path, data_dir, style_images[0], steps=1, train_only="convs"))
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "train_only must be one of" in bad.stderr


def test_cli_end_line_names_a_style_of_the_model(tmp_path, data_dir, style_images):
    """The closing hint names a style the exported file holds (a multi-style run's first, with the others)."""
    one = _cli(tiny_train_args(tmp_path, data_dir, style_images[0], steps=1))
    assert one.returncode == 0 and "try: rtstyle image IN.jpg OUT.jpg --style t\n" in one.stdout
    args = tiny_train_args(tmp_path / "two", data_dir, style_images[0], steps=1, style_name="a")
    args += ["--style-image", str(style_images[1]), "--style-name", "b"]
    two = _cli(args)
    assert two.returncode == 0, two.stderr[-2000:]
    assert "try: rtstyle image IN.jpg OUT.jpg --style a (its styles: a, b)\n" in two.stdout


def test_ddp_on_gloo_two_processes(tmp_path, data_dir, style_images):
    args = tiny_train_args(tmp_path, data_dir, style_images[0], name="ddp", steps=3, checkpoint_every=2)
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd = [sys.executable, *launcher, "-m", "rtstyle", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 3 and len(ckpt["gen"]) == 2  # both ranks' data streams saved
    assert (tmp_path / "models" / "ddp.onnx").is_file()


def test_resume_with_new_weights_records_a_phase(tmp_path, data_dir, style_images):
    train(_cfg(tmp_path, data_dir, style_images[:1], steps=2))
    result = train(_cfg(tmp_path, data_dir, style_images[:1], steps=3, style_weight=1e9, resume=True, export=True))
    ckpt = torch.load(result.checkpoint, weights_only=False)
    assert ckpt["phases"] == [{**ckpt["phases"][0], "from_step": 0, "to_step": 2, "style_weight": 1e10}]
    assert "phase: steps 0-2" in result.card.read_text()


def test_a_loss_added_on_resume_to_a_run_recorded_before_it_existed_starts_a_phase(tmp_path, data_dir, style_images):
    """A checkpoint written before --seam-weight existed trained without it: resuming with it records the earlier
    steps as a phase at 0, not as steps trained with the new weight."""
    first = train(_cfg(tmp_path, data_dir, style_images[:1], steps=2))
    ckpt = torch.load(first.checkpoint, weights_only=False)
    for key in ("seam_weight", "tile_weight"):
        del ckpt["config"][key]
    torch.save(ckpt, first.checkpoint)
    result = train(_cfg(tmp_path, data_dir, style_images[:1], steps=3, seam_weight=1e3, resume=True))
    (phase,) = torch.load(result.checkpoint, weights_only=False)["phases"]
    assert (phase["from_step"], phase["to_step"], phase["seam_weight"], phase["tile_weight"]) == (0, 2, 0.0, 0.0)


def test_resume_with_a_new_learning_rate_uses_it(tmp_path, data_dir, style_images):
    train(_cfg(tmp_path, data_dir, style_images[:1], steps=2, lr=1e-3))
    result = train(_cfg(tmp_path, data_dir, style_images[:1], steps=3, lr=2e-4, resume=True))
    ckpt = torch.load(result.checkpoint, weights_only=False)
    assert [g["lr"] for g in ckpt["opt"]["param_groups"]] == [2e-4, pytest.approx(2e-4 / 255)]  # output conv: 1/255
    assert ckpt["phases"][0]["lr"] == 1e-3


def test_re_export_writes_the_same_recipe_as_the_training_run(tmp_path, data_dir, style_images):
    import onnx

    from rtstyle.export import export_checkpoint

    result = train(_cfg(tmp_path, data_dir, style_images[:1], steps=2, export=True))
    again = export_checkpoint(result.checkpoint, tmp_path / "again.onnx")

    def recipe(path):
        meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        return json.loads(meta["rtstyle.recipe"])

    first = recipe(result.onnx)
    assert first == recipe(again)
    assert first["steps_done"] == 2 and first["device"] == "cpu" and "train_seconds" in first


def test_resume_keeps_the_style_names_unless_given_again(tmp_path, data_dir, style_images):
    first = _cfg(tmp_path, data_dir, style_images[:1], steps=2, style_names=["ink"], display_names=["Ink"])
    train(first)
    resumed = train(_cfg(tmp_path, data_dir, style_images[:1], steps=3, resume=True))
    ckpt = torch.load(resumed.checkpoint, weights_only=False)
    assert [s["name"] for s in ckpt["styles"]] == ["ink"] and ckpt["styles"][0]["display_name"] == "Ink"
    renamed = train(_cfg(tmp_path, data_dir, style_images[:1], steps=4, resume=True, style_names=["wash"]))
    assert torch.load(renamed.checkpoint, weights_only=False)["styles"][0]["name"] == "wash"
