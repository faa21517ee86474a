"""Training on the CPU: precision, several photo folders with relative held-out paths, per-style weights,
the identity warm start, and starting from a shipped model file (the ONNX importer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from conftest import perturbed_net, same_weights, tiny_train_args, tiny_train_config  # noqa: E402

from rtstyle.contract import StyleEntry  # noqa: E402
from rtstyle.errors import InputError, RtstyleError  # noqa: E402
from rtstyle.evaluate import eval_photos  # noqa: E402
from rtstyle.export import export_onnx, import_onnx  # noqa: E402
from rtstyle.nets import build_net  # noqa: E402
from rtstyle.train.data import PhotoSet, find_images, read_holdout  # noqa: E402
from rtstyle.train.loop import TrainConfig, init_weights, per_style, train  # noqa: E402
from rtstyle.train.losses import RANDOM_FOR_TESTS, PerceptualLoss, load_vgg  # noqa: E402
from rtstyle.train.precision import autocast, native_bf16, resolve_precision  # noqa: E402


def _img(path: Path, seed: int, size: tuple[int, int] = (40, 48)) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    return path


@pytest.fixture()
def two_folders(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "photos", tmp_path / "photos_more"
    for i in range(4):
        _img(a / f"scene_{i}.jpg", i)
        _img(b / "selfies" / f"scene_{i}.jpg", 10 + i)  # same file names as in a, in a subfolder
    _img(b / "rooms" / "room_0.jpg", 20)
    return a, b


@pytest.fixture()
def styles(tmp_path: Path) -> list[Path]:
    return [_img(tmp_path / f"style{i}.png", 100 + i) for i in range(2)]


def _cfg(tmp_path: Path, data: list[Path], styles: list[Path], **kw: Any) -> TrainConfig:
    return tiny_train_config(tmp_path, data, styles, **kw)


def test_precision_auto_follows_the_hardware():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", cpu) == ("bf16" if native_bf16(cpu) else "fp32")
    with pytest.raises(RtstyleError, match="unknown precision"):
        resolve_precision("fp8", cpu)


def test_the_run_says_its_precision_and_why(monkeypatch):
    """The first line of ``rtstyle train`` names the precision ``auto`` picked on this machine, and why."""
    import rtstyle.train.precision as precision

    cpu = torch.device("cpu")
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    assert precision.describe_precision("auto", cpu).startswith("bf16 autocast (auto: this CPU does bf16 natively")
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    assert precision.describe_precision("auto", cpu).startswith("fp32 (auto: this CPU has no native bf16")
    assert precision.describe_precision("bf16", cpu) == "bf16 autocast (as asked)"
    assert precision.describe_precision("fp32", cpu) == "fp32 (as asked)"


def test_bf16_autocast_runs_convolutions_in_bf16_and_keeps_losses_fp32(styles):
    cpu = torch.device("cpu")
    vgg = load_vgg(RANDOM_FOR_TESTS)
    style = torch.rand(1, 3, 40, 40)
    loss_fn = PerceptualLoss(vgg, [style])
    net = build_net("tiny")
    x = torch.rand(2, 3, 32, 32)
    with autocast(cpu, "bf16"):
        feats = vgg(x, ("relu1_2",))
        y = net(x, torch.ones(2, 1))
        loss, terms = loss_fn(y.float(), x, torch.zeros(2, dtype=torch.long))
    assert feats["relu1_2"].dtype == torch.bfloat16
    assert loss.dtype == torch.float32 and all(t.dtype == torch.float32 for t in terms.values())
    with autocast(cpu, "fp32"):
        assert vgg(x, ("relu1_2",))["relu1_2"].dtype == torch.float32


def test_bf16_training_step_runs_and_records_its_precision(tmp_path, two_folders, styles):
    result = train(_cfg(tmp_path, list(two_folders), styles[:1], precision="bf16", steps=2))
    ckpt = torch.load(result.checkpoint, weights_only=False)
    assert ckpt["recipe"]["precision"] == "bf16"
    assert all(torch.isfinite(v).all() for v in ckpt["net"].values())


def test_several_folders_and_held_out_paths_relative_to_each(tmp_path, two_folders):
    a, b = two_folders
    listing = tmp_path / "holdout.txt"
    listing.write_text("# comment\nscene_0.jpg\nselfies/scene_1.jpg  # a face\n./rooms/room_0.jpg\n")
    held = read_holdout(listing)
    assert held == {"scene_0.jpg", "selfies/scene_1.jpg", "rooms/room_0.jpg"}
    found = find_images([a, b], held)
    names = {p.relative_to(tmp_path).as_posix() for p in found}
    # photos/scene_0 is held out, photos_more/selfies/scene_0 (same file name, other folder) is not
    assert "photos/scene_0.jpg" not in names and "photos_more/selfies/scene_0.jpg" in names
    assert "photos_more/selfies/scene_1.jpg" not in names and "photos/scene_1.jpg" in names
    assert "photos_more/rooms/room_0.jpg" not in names
    assert len(found) == 4 + 5 - 3
    # eval takes several folders and picks exactly the held-out photos
    picked = eval_photos([a, b], listing)
    assert {p.relative_to(tmp_path).as_posix() for p in picked} == {
        "photos/scene_0.jpg",
        "photos_more/selfies/scene_1.jpg",
        "photos_more/rooms/room_0.jpg",
    }
    photos = PhotoSet([a, b], 32, held)
    assert photos.subsets() == {"photos/scene": 3, "photos_more/selfies": 3}
    with pytest.raises(InputError, match="not found"):
        find_images([a, tmp_path / "missing"])


def test_card_lists_the_photo_subsets(tmp_path, two_folders, styles):
    result = train(_cfg(tmp_path, list(two_folders), styles[:1], export=True, card_notes=["terms: research only"]))
    card = result.card.read_text()
    assert "`photos_more/selfies`: 4 photos" in card and "`photos/scene`: 4 photos" in card
    assert "terms: research only" in card
    assert "convolution kernels stored in float16, computed in fp32" in card


def test_per_style_weights_and_sizes(tmp_path, two_folders, styles):
    assert per_style(3.0, 2, "--x") == [3.0, 3.0]
    assert per_style([1.0, 2.0], 2, "--x") == [1.0, 2.0]
    with pytest.raises(RtstyleError, match="one per style image"):
        per_style([1.0, 2.0, 3.0], 2, "--x")
    vgg = load_vgg(RANDOM_FOR_TESTS)
    imgs = [torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40)]
    y, x = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    sidx = torch.tensor([0, 1])
    _, one = PerceptualLoss(vgg, imgs, style_weight=1.0)(y, x, sidx)
    _, tens = PerceptualLoss(vgg, imgs, style_weight=[10.0, 10.0])(y, x, sidx)
    _, first = PerceptualLoss(vgg, imgs, style_weight=[1.0, 0.0])(y, x, torch.tensor([0, 0]))
    _, zero = PerceptualLoss(vgg, imgs, style_weight=[1.0, 0.0])(y, x, torch.tensor([1, 1]))
    assert torch.allclose(tens["style"], 10 * one["style"])
    assert first["style"] > 0 and zero["style"] == 0
    result = train(_cfg(tmp_path, list(two_folders), styles, style_weight=[1e10, 1e9], style_size=[40, 24]))
    assert result.steps == 3
    with pytest.raises(RtstyleError, match="one per style image"):
        train(_cfg(tmp_path / "x", list(two_folders), styles, style_weight=[1.0, 2.0, 3.0]))


def test_identity_warm_start_learns_to_reproduce_the_input(tmp_path, two_folders, styles):
    result = train(_cfg(tmp_path, list(two_folders), styles[:1], steps=4, identity_steps=3, log_every=1, lr=1e-2))
    ckpt = torch.load(result.checkpoint, weights_only=False)
    hist = ckpt["history"]
    assert set(hist[0]) >= {"identity"} and "style" not in hist[0]
    assert "style" in hist[-1] and "identity" not in hist[-1]  # step 4 is past the warm start
    assert ckpt["recipe"]["identity_steps"] == 3


@pytest.mark.parametrize("num_styles", [1, 3])
def test_onnx_import_gives_back_the_trained_weights(tmp_path, num_styles):
    net = perturbed_net("tiny", num_styles, seed=num_styles)
    entries = [StyleEntry(f"s{i}", f"S{i}") for i in range(num_styles)]
    path = export_onnx(net, tmp_path / "m.onnx", entries, "tiny", "full", {}, 64)
    info, back = import_onnx(path)
    assert info["arch"] == "tiny" and [s.name for s in info["styles"]] == [e.name for e in entries]
    for (k, a), b in zip(net.state_dict().items(), back.state_dict().values(), strict=True):
        assert same_weights(a, b), k
    import onnx

    assert "Round" not in {n.op_type for n in onnx.load(str(path)).graph.node}  # the +0.5 bias rounds


@pytest.mark.parametrize(("arch", "num_styles"), [("fast", 1), ("fast-lean", 1), ("fast-lean", 3), ("tiny", 2)])
def test_onnx_import_traces_norms_the_file_folded_or_shared(tmp_path, arch, num_styles):
    """Untrained nets: every norm's parameters are equal, so the exporter keeps one initializer for all of them,
    and a single-style fast net's norms are constants folded into its InstanceNormalization nodes; the importer
    finds each norm's parameters from its convolution in the graph."""
    torch.manual_seed(0)
    net = build_net(arch, num_styles)
    entries = [StyleEntry(f"s{i}", f"S{i}") for i in range(num_styles)]
    path = export_onnx(net, tmp_path / "m.onnx", entries, arch, "fast", {}, 64, check=False)
    _, back = import_onnx(path)
    for (k, a), b in zip(net.state_dict().items(), back.state_dict().values(), strict=True):
        assert same_weights(a, b), k


@pytest.mark.parametrize("arch", ["tiny", "fast-lean"])
def test_export_stores_kernels_half_behind_a_cast_with_the_same_output(tmp_path, arch):
    """An fp32 file keeps its convolution kernels in float16 (half the bytes), each behind a Cast that
    onnxruntime folds at load; biases and norm rows stay fp32, and the output is that of the fp32-kernel file
    within a level or so."""
    import onnx
    import onnxruntime as ort

    net = perturbed_net(arch, 2, seed=7)
    entries = [StyleEntry("a", "A"), StyleEntry("b", "B")]
    half = export_onnx(net, tmp_path / "half.onnx", entries, arch, "full", {}, 64)
    full = export_onnx(net, tmp_path / "full.onnx", entries, arch, "full", {}, 64, half_kernels=False)
    model = onnx.load(str(half))
    kernels = {n.input[1] for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")}
    halves = [i for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    assert halves and {i.name.removesuffix("__fp16") for i in halves} == kernels  # every kernel, nothing else
    casts = [n for n in model.graph.node if n.op_type == "Cast" and n.input[0].endswith("__fp16")]
    assert {n.output[0] for n in casts} == kernels
    kernel_values = sum(int(np.prod(i.dims)) for i in halves)
    assert full.stat().st_size - half.stat().st_size >= 0.95 * 2 * kernel_values  # two bytes saved per value
    frame = np.random.default_rng(0).integers(0, 256, (1, 37, 53, 3), dtype=np.uint8)
    feeds = {"frame": frame, "style": np.array([0.3, 0.7], np.float32)}
    a = ort.InferenceSession(str(half), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    b = ort.InferenceSession(str(full), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    diff = np.abs(a.astype(int) - b.astype(int))  # a random net on noise: the worst case for rounding
    assert diff.mean() <= 0.25 and diff.max() <= 4  # the trained zoo: mean 0.01, max 1 level


def test_onnx_import_reads_files_exported_before_the_rounding_bias(tmp_path, monkeypatch):
    """Files from before the +0.5 in the last bias (a Round node in the graph, as models/zoo-full.onnx at step
    4,300, which a new machine resumes the zoo from) import exactly too."""
    import onnx

    import rtstyle.export as ex

    real_fold, real_init = ex.fold_frame_format, ex.ContractModule.__init__

    def old_init(self, net, half=False):  # noqa: ANN001, ANN202 - the wrapper as it was
        real_init(self, net, half)
        self.rounded = False

    monkeypatch.setattr(
        ex, "fold_frame_format", lambda first, last, shuffle=1, offset=0.0: real_fold(first, last, shuffle)
    )
    monkeypatch.setattr(ex.ContractModule, "__init__", old_init)
    net = perturbed_net("tiny", 2, seed=5)
    path = export_onnx(net, tmp_path / "old.onnx", [StyleEntry("a", "A"), StyleEntry("b", "B")], "tiny", "full", {}, 64)
    assert "Round" in {n.op_type for n in onnx.load(str(path)).graph.node}
    monkeypatch.undo()
    _, back = import_onnx(path)
    for (k, a), b in zip(net.state_dict().items(), back.state_dict().values(), strict=True):
        assert same_weights(a, b), k


def test_init_from_model_file_maps_styles_by_name(tmp_path, two_folders, styles):
    src = perturbed_net("tiny", 3, seed=0)
    path = export_onnx(src, tmp_path / "zoo.onnx", [StyleEntry(n, n) for n in "abc"], "tiny", "full", {}, 64)
    net = build_net("tiny", 2)
    note, _ = init_weights(net, str(path), "tiny", ["c", "new"])
    assert "c" in note
    s, d = src.state_dict(), net.state_dict()
    assert same_weights(d["down.0.conv.weight"], s["down.0.conv.weight"])
    assert torch.allclose(d["down.1.norm.weight"][0], s["down.1.norm.weight"][2], atol=1e-6)  # "c" kept
    assert torch.allclose(d["down.1.norm.weight"][1], s["down.1.norm.weight"].mean(0), atol=1e-6)  # new: mean
    # a run started from it records where it came from, and refuses another architecture
    result = train(_cfg(tmp_path, list(two_folders), styles, style_names=["c", "new"], init_from=str(path)))
    assert "initialised from" in torch.load(result.checkpoint, weights_only=False)["init"]
    with pytest.raises(InputError, match="johnson"):
        init_weights(build_net("johnson"), str(path), "johnson", ["c"])


def test_import_refuses_a_file_that_is_not_a_model(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(InputError):
        import_onnx(bad)
    with pytest.raises(InputError, match="not found"):
        import_onnx(tmp_path / "missing.onnx")


def test_every_style_gets_equal_turns():
    from rtstyle.train.loop import style_indices

    gen = torch.Generator().manual_seed(0)
    full = style_indices(9, 9, gen)
    assert sorted(full.tolist()) == list(range(9))  # a batch of the zoo's size holds each style once
    counts = torch.bincount(torch.cat([style_indices(9, 8, gen) for _ in range(900)]), minlength=9)
    assert counts.min() > 0.9 * counts.float().mean()
    assert style_indices(1, 4, gen).tolist() == [0, 0, 0, 0]


def test_a_campaign_continues_from_its_exported_model(tmp_path, two_folders, styles):
    """A new machine has no checkpoint: the run goes on from the committed model, step count and phases kept."""
    first = train(_cfg(tmp_path / "a", list(two_folders), styles, steps=3, export=True, lr=1e-3))
    train(_cfg(tmp_path / "a", list(two_folders), styles, steps=5, export=True, lr=5e-4, resume=True))
    model = tmp_path / "a" / "models" / "t.onnx"
    assert first.onnx == model
    cont = train(
        _cfg(tmp_path / "b", list(two_folders), styles, steps=7, lr=5e-4, init_from=str(model), continue_run=True)
    )
    ckpt = torch.load(cont.checkpoint, weights_only=False)
    assert cont.steps == 7 and ckpt["step"] == 7
    assert [(p["from_step"], p["to_step"], p["lr"]) for p in ckpt["phases"]] == [(0, 3, 1e-3), (3, 5, 5e-4)]
    assert "continuing its run at step 5" in ckpt["init"]


def test_single_style_batches_take_turns_and_resume_the_same():
    from rtstyle.train.loop import batch_style

    seen = [int(batch_style(9, 4, step, seed=0)[0]) for step in range(18)]
    assert sorted(seen[:9]) == list(range(9)) and sorted(seen[9:]) == list(range(9))  # each style once per cycle
    assert batch_style(9, 4, 5, seed=0).tolist() == [seen[5]] * 4  # one style for the whole batch
    assert [int(batch_style(9, 4, s, seed=0)[0]) for s in range(9, 18)] == seen[9:]  # the same after a resume
    assert [int(batch_style(9, 4, s, seed=0, turns=[1] * 9)[0]) for s in range(18)] == seen  # turns 1: unchanged


def test_style_turns_give_a_style_more_batches_per_cycle(tmp_path, two_folders, styles):
    from rtstyle.train.loop import batch_style

    turns = [1, 1, 3]  # style 2 three batches in each cycle of five
    seen = [int(batch_style(3, 2, step, seed=1, turns=turns)[0]) for step in range(10)]
    for cycle in (seen[:5], seen[5:]):
        assert sorted(cycle) == [0, 1, 2, 2, 2]
    assert [int(batch_style(3, 2, s, seed=1, turns=turns)[0]) for s in range(5, 10)] == seen[5:]  # resumes the same
    result = train(_cfg(tmp_path, list(two_folders), styles, style_batches="single", style_turns=[1, 2]))
    assert torch.load(result.checkpoint, weights_only=False)["recipe"]["style_turns"] == [1, 2]
    with pytest.raises(RtstyleError, match="needs --style-batches single"):
        train(_cfg(tmp_path / "x", list(two_folders), styles, style_turns=[1, 2]))
    with pytest.raises(RtstyleError, match="1 or more"):
        train(_cfg(tmp_path / "y", list(two_folders), styles, style_batches="single", style_turns=[0, 2]))
    with pytest.raises(RtstyleError, match="one --style-turns for all styles or one per style image"):
        train(_cfg(tmp_path / "z", list(two_folders), styles, style_batches="single", style_turns=[1, 2, 3]))


def test_single_style_batches_train(tmp_path, two_folders, styles):
    result = train(_cfg(tmp_path, list(two_folders), styles, steps=3, style_batches="single"))
    assert torch.load(result.checkpoint, weights_only=False)["recipe"]["style_batches"] == "single"
    with pytest.raises(RtstyleError, match="style-batches"):
        train(_cfg(tmp_path / "x", list(two_folders), styles, style_batches="bogus"))


def test_style_ramp_grows_the_style_weight_after_the_warm_start(tmp_path, two_folders, styles):
    from rtstyle.train.loop import style_scale

    assert [style_scale(s, 2, 4) for s in range(7)] == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert style_scale(0, 0, 0) == 1.0  # no ramp: full weight from the start
    result = train(_cfg(tmp_path, list(two_folders), styles[:1], steps=4, style_ramp=4, log_every=1))
    ckpt = torch.load(result.checkpoint, weights_only=False)
    style = [h["style"] for h in ckpt["history"]]
    flat = train(_cfg(tmp_path / "flat", list(two_folders), styles[:1], steps=1, log_every=1))
    flat_style = torch.load(flat.checkpoint, weights_only=False)["history"][0]["style"]
    assert style[0] == pytest.approx(flat_style / 4, rel=1e-3)  # same first batch, a quarter of the weight
    assert ckpt["recipe"]["style_ramp"] == 4


def test_output_lr_scale_slows_only_the_output_convolution(tmp_path, two_folders, styles):
    from rtstyle.train.loop import param_groups

    net = build_net("tiny", 1)
    groups = param_groups(net, 1e-3, 1 / 255)
    last = net.io_layers().last
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-3 / 255)]
    assert {id(p) for p in groups[1]["params"]} == {id(last.weight), id(last.bias)}
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))
    assert len(param_groups(net, 1e-3)) == 1
    cfg = _cfg(tmp_path, list(two_folders), styles[:1], steps=2, output_lr_scale=1 / 255, checkpoint_every=1)
    train(cfg)
    ckpt = torch.load(Path(cfg.out_dir) / "checkpoint.pt", weights_only=False)
    assert ckpt["recipe"]["output_lr_scale"] == pytest.approx(1 / 255)
    resumed = train(_cfg(tmp_path, list(two_folders), styles[:1], steps=3, resume=True, output_lr_scale=1.0))
    assert resumed.steps == 3  # back to one group: Adam's moments restart with it
    assert len(torch.load(resumed.checkpoint, weights_only=False)["opt"]["param_groups"]) == 1


def test_the_output_lr_scale_defaults_to_1_255(tmp_path, two_folders, styles):
    """The net writes RGB in [0, 1]: at 1.0 Adam moved the output conv 255x the reference's and runs painted blobs
    (docs/styles/README.md). The library's and the CLI's default is 1/255."""
    from rtstyle.train.loop import OUTPUT_LR_SCALE, TrainConfig

    assert OUTPUT_LR_SCALE == pytest.approx(1 / 255)
    assert TrainConfig(style_images=[], data=[], name="t").output_lr_scale == pytest.approx(1 / 255)
    result = train(_cfg(tmp_path, list(two_folders), styles[:1], steps=1))
    ckpt = torch.load(result.checkpoint, weights_only=False)
    assert ckpt["recipe"]["output_lr_scale"] == pytest.approx(1 / 255)
    assert [g["lr"] for g in ckpt["opt"]["param_groups"]] == [1e-3, pytest.approx(1e-3 / 255)]


def _train_cli(tmp_path: Path, two_folders, styles, *extra: str) -> list[str]:
    return [*tiny_train_args(tmp_path, two_folders[0], styles[0]), *extra]


def _cli_configs(monkeypatch, argv: list[str]) -> TrainConfig:
    """The TrainConfig ``rtstyle train`` builds from ``argv`` (the training itself not run)."""
    import rtstyle.train.loop as loop
    from rtstyle.cli.main import main

    seen: list[TrainConfig] = []

    def fake_train(cfg: TrainConfig, **kw: Any) -> Any:
        seen.append(cfg)
        raise SystemExit(0)

    monkeypatch.setattr(loop, "train", fake_train)
    with pytest.raises(SystemExit):
        main(argv)
    return seen[0]


def test_the_cli_defaults_to_1_255_and_a_resume_keeps_the_checkpoint_s(tmp_path, two_folders, styles, monkeypatch):
    run = tmp_path / "run"
    assert _cli_configs(monkeypatch, _train_cli(tmp_path, two_folders, styles)).output_lr_scale == pytest.approx(
        1 / 255
    )
    given = _cli_configs(monkeypatch, _train_cli(tmp_path, two_folders, styles, "--output-lr-scale", "1"))
    assert given.output_lr_scale == 1.0
    run.mkdir()
    # a resume without a checkpoint (train() says so) and with one from before the key existed (trained at 1.0)
    assert _cli_configs(monkeypatch, _train_cli(tmp_path, two_folders, styles, "--resume")).output_lr_scale == (
        pytest.approx(1 / 255)
    )
    torch.save({"step": 2, "recipe": {"lr": 1e-3}, "config": {"lr": 1e-3}}, run / "checkpoint.pt")
    assert _cli_configs(monkeypatch, _train_cli(tmp_path, two_folders, styles, "--resume")).output_lr_scale == 1.0
    torch.save({"step": 2, "recipe": {"output_lr_scale": 0.5}}, run / "checkpoint.pt")
    assert _cli_configs(monkeypatch, _train_cli(tmp_path, two_folders, styles, "--resume")).output_lr_scale == 0.5
    again = _train_cli(tmp_path, two_folders, styles, "--resume", "--output-lr-scale", "0.25")
    assert _cli_configs(monkeypatch, again).output_lr_scale == 0.25  # given again: it wins


def test_resuming_an_old_checkpoint_keeps_its_output_lr_scale_of_1(tmp_path, two_folders, styles, capsys):
    """A checkpoint from before 1/255 became the default has no output_lr_scale in its recipe or config and one
    Adam group: ``rtstyle train --resume`` with the command line it was started with goes on at 1.0, its Adam
    state kept; an export of its config (tools/train_zoo.py --export-now) reads 1.0 too."""
    from rtstyle.cli.main import main
    from rtstyle.train.loop import TrainConfig

    old = train(_cfg(tmp_path, [two_folders[0]], styles[:1], steps=2, output_lr_scale=1.0, checkpoint_every=1))
    ckpt = torch.load(old.checkpoint, weights_only=False)
    del ckpt["recipe"]["output_lr_scale"], ckpt["config"]["output_lr_scale"]  # as an old run wrote it
    torch.save(ckpt, old.checkpoint)
    assert TrainConfig.from_record(ckpt["config"]).output_lr_scale == 1.0
    assert TrainConfig.from_record({**ckpt["config"], "output_lr_scale": 0.5, "gone": 1}).output_lr_scale == 0.5
    with pytest.raises(SystemExit) as ei:
        main(_train_cli(tmp_path, two_folders, styles, "--steps", "3", "--resume"))
    assert ei.value.code in (0, None), capsys.readouterr().err
    resumed = torch.load(old.checkpoint, weights_only=False)
    assert resumed["step"] == 3 and resumed["recipe"]["output_lr_scale"] == 1.0
    assert [g["lr"] for g in resumed["opt"]["param_groups"]] == [1e-3]
    assert resumed["opt"]["state"][0]["step"] == 3  # the old Adam state went on (it restarts on a group change)


def test_an_onnx_teacher_is_read_into_torch_and_gives_the_file_s_frames(tmp_path, two_folders, styles):
    """Distilling from an exported model: the importer puts it back in torch (batched, under the run's
    precision); its targets are the ONNX file's own output up to the uint8 rounding."""
    import onnxruntime as ort

    from rtstyle.train.loop import _Teacher

    src = perturbed_net("tiny", 2, seed=3)
    path = export_onnx(
        src, tmp_path / "teacher.onnx", [StyleEntry("a", "A"), StyleEntry("b", "B")], "tiny", "full", {}, 64
    )
    teacher = _Teacher(str(path), torch.device("cpu"), 2)
    assert teacher.torch_net is not None and teacher.session is None
    x = torch.randint(0, 256, (2, 3, 32, 40)) / 255.0  # on the uint8 grid: the file sees the same input
    style = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    got = teacher(x, style)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for i in range(2):
        frame = (x[i].permute(1, 2, 0).flip(2) * 255).round().to(torch.uint8).numpy()[None]
        want = session.run(None, {"frame": frame, "style": style[i].numpy()})[0][0][:, :, ::-1] / 255.0
        assert np.abs(got[i].permute(1, 2, 0).numpy() - want).max() <= 1.01 / 255  # the output's rounding
    with pytest.raises(RtstyleError, match="teacher holds 2 style"):
        _Teacher(str(path), torch.device("cpu"), 3)
    # a student of fewer (or reordered) styles is taught each style's own row, picked by name
    one = _Teacher(str(path), torch.device("cpu"), 1, ["b"])
    assert torch.equal(one(x, torch.ones(2, 1)), teacher(x, torch.tensor([[0.0, 1.0]] * 2)))
    swapped = _Teacher(str(path), torch.device("cpu"), 2, ["b", "a"])
    assert torch.equal(swapped(x, style), teacher(x, style.flip(1)))
    with pytest.raises(RtstyleError, match="it has no c"):
        _Teacher(str(path), torch.device("cpu"), 1, ["c"])
    result = train(
        _cfg(tmp_path, list(two_folders), styles[:1] * 2, style_names=["a", "b"], teacher=str(path), steps=2)
    )
    assert "teacher" in torch.load(result.checkpoint, weights_only=False)["history"][-1]
    off = train(_cfg(tmp_path / "off", list(two_folders), styles[:1] * 2, style_names=["a", "b"], teacher=str(path),
                     teacher_weight=0.0, steps=2))  # fmt: skip
    assert "teacher" not in torch.load(off.checkpoint, weights_only=False)["history"][-1]  # no teacher pass at 0


def test_relative_style_loss_is_the_eval_style_distance_of_the_output(tmp_path, two_folders, styles):
    """``--style-loss relative``: per sample, the mean over the style layers of |G(y) - G(painting)|^2 /
    |G(painting)|^2, which is how ``rtstyle eval`` measures a style distance; ``absolute`` is unchanged."""
    from rtstyle.train.losses import STYLE_LAYERS, gram

    vgg = load_vgg(RANDOM_FOR_TESTS)
    imgs = [torch.rand(1, 3, 40, 40), torch.rand(1, 3, 48, 32)]
    y, x = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    sidx = torch.tensor([1, 0])
    _, rel = PerceptualLoss(vgg, imgs, style_weight=[2.0, 3.0], style_loss="relative")(y, x, sidx)
    _, ab = PerceptualLoss(vgg, imgs, style_weight=[2.0, 3.0])(y, x, sidx)
    with torch.no_grad():
        fy = vgg(y, STYLE_LAYERS)
        target = [vgg(i, STYLE_LAYERS) for i in imgs]
        dist, sq = [], []
        for b, s in enumerate(sidx.tolist()):
            errors = [((gram(fy[n][b : b + 1]) - gram(target[s][n])) ** 2) for n in STYLE_LAYERS]
            norms = [(gram(target[s][n]) ** 2).sum() for n in STYLE_LAYERS]
            dist.append(float(np.mean([float(e.sum() / t) for e, t in zip(errors, norms, strict=True)])))
            sq.append(float(sum(e.mean() for e in errors)))
    weights = [3.0, 2.0]  # style 1's weight for sample 0, style 0's for sample 1
    assert float(rel["style"]) == pytest.approx(np.mean([w * d for w, d in zip(weights, dist, strict=True)]), rel=1e-4)
    assert float(ab["style"]) == pytest.approx(np.mean([w * d for w, d in zip(weights, sq, strict=True)]), rel=1e-4)
    assert float(rel["style"]) != pytest.approx(float(ab["style"]), rel=1e-2)
    with pytest.raises(RtstyleError, match="unknown style loss"):
        PerceptualLoss(vgg, imgs, style_loss="log")
    result = train(_cfg(tmp_path, list(two_folders), styles, style_loss="relative", style_weight=1e3))
    assert result.steps == 3
    assert torch.load(result.checkpoint, weights_only=False)["config"]["style_loss"] == "relative"
    with pytest.raises(RtstyleError, match="--style-loss must be one of"):
        train(_cfg(tmp_path / "x", list(two_folders), styles, style_loss="log"))


def test_a_checkpoint_recorded_before_style_loss_existed_resumes_as_absolute():
    cfg = TrainConfig.from_record({"style_images": ["a.png"], "data": ["d"], "name": "n"})
    assert cfg.style_loss == "absolute"
    assert cfg.style_layer_weights == [1.0, 1.0, 1.0, 1.0]


def test_style_layer_weights_scale_each_layers_term(tmp_path, two_folders, styles):
    """``--style-layer-weights``: one factor per style layer on its term (either loss); 1,1,1,1 is the loss as
    it was, and 0,0,0,k is k times relu4_3's term alone. Recorded in the config; a change starts a new phase."""
    from rtstyle.cli.train import layer_weights
    from rtstyle.train.losses import STYLE_LAYERS, gram

    vgg = load_vgg(RANDOM_FOR_TESTS)
    imgs = [torch.rand(1, 3, 40, 40)]
    y, x, sidx = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32), torch.tensor([0, 0])
    _, plain = PerceptualLoss(vgg, imgs, style_weight=2.0)(y, x, sidx)
    _, ones = PerceptualLoss(vgg, imgs, style_weight=2.0, layer_weights=(1, 1, 1, 1))(y, x, sidx)
    _, deep = PerceptualLoss(vgg, imgs, style_weight=2.0, layer_weights=(0, 0, 0, 30))(y, x, sidx)
    with torch.no_grad():
        last = STYLE_LAYERS[-1]
        err = ((gram(vgg(y, (last,))[last]) - gram(vgg(imgs[0], (last,))[last])) ** 2).mean(dim=(1, 2))
    assert float(ones["style"]) == float(plain["style"])
    assert float(deep["style"]) == pytest.approx(float(2.0 * 30 * err.mean()), rel=1e-4)
    with pytest.raises(RtstyleError, match="one per style layer"):
        PerceptualLoss(vgg, imgs, layer_weights=(1, 1, 1))
    assert layer_weights("1,1,1,30") == [1.0, 1.0, 1.0, 30.0]
    for bad in ("1,1,1", "a,b,c,d", "1,1,1,-1"):
        with pytest.raises(RtstyleError, match="four factors"):
            layer_weights(bad)
    first = train(_cfg(tmp_path, list(two_folders), styles, steps=2))
    again = train(_cfg(tmp_path, list(two_folders), styles, steps=4, resume=True, style_layer_weights=[1, 1, 1, 30]))
    ckpt = torch.load(again.checkpoint, weights_only=False)
    assert first.steps == 2 and ckpt["config"]["style_layer_weights"] == [1.0, 1.0, 1.0, 30.0]
    assert ckpt["phases"][-1]["style_layer_weights"] == [1.0, 1.0, 1.0, 1.0]  # the phase before it, recorded


def test_a_resume_at_another_content_layer_starts_a_new_phase(tmp_path, two_folders, styles):
    """The content layer is a phase's setting like its weight: a resume that changes only ``--content-layer`` starts
    a new phase, the one before it recorded at its own layer (a card shows where each layer was trained)."""
    train(_cfg(tmp_path, list(two_folders), styles, steps=2))
    again = train(_cfg(tmp_path, list(two_folders), styles, steps=4, resume=True, content_layer="relu3_3"))
    ckpt = torch.load(again.checkpoint, weights_only=False)
    assert ckpt["config"]["content_layer"] == "relu3_3"
    assert [(p["from_step"], p["to_step"], p["content_layer"]) for p in ckpt["phases"]] == [(0, 2, "relu2_2")]


def test_training_on_the_cpu_keeps_freed_memory_for_the_next_step(tmp_path, two_folders, styles, monkeypatch):
    """glibc serves large blocks with mmap and gives them back when freed, so every training step faulted its
    activations in again (~23 % of the CPU in the kernel at 256-px crops). keep_freed_memory (called by train on
    the CPU) keeps them in the heap: a block allocated again after it is freed costs no page faults; a MALLOC_*
    variable set by the user stands instead. Measured in a fresh interpreter, so this process keeps its settings."""
    import os
    import subprocess
    import sys

    import rtstyle.train.loop as loop

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's mallopt: Linux only")
    code = (
        "import resource, sys, numpy as np\n"
        "from rtstyle.train.memory import keep_freed_memory\n"
        "def faults():\n"
        "    r = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "    for _ in range(10):\n"
        "        a = np.ones(8 << 20); del a\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r\n"
        "before = faults(); kept = keep_freed_memory(); faults()\n"
        "print(before, kept, faults())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    before, kept, after = out.stdout.split()
    assert kept == "True" and int(before) > 100 and int(after) * 10 < int(before)
    mine = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, "MALLOC_ARENA_MAX": "2"}, check=True
    )
    assert mine.stdout.split()[1] == "False"
    calls = []
    monkeypatch.setattr(loop, "keep_freed_memory", lambda: calls.append(1) or True)
    train(_cfg(tmp_path, list(two_folders), styles[:1]))
    assert calls == [1]
